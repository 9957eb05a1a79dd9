"""Triage, recategorisation and transfer as the citizen hears of them: the change goes
through ``storage.lifecycle.recategorise`` (department, category, due date and the officer
who takes it, in one change) and the citizen is told, on their channel and in their
language, who now handles the complaint."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation import casework
from storage import lifecycle
from storage.models import Category, Complaint, Contact, Conversation, Department, Message


def _lang(session: Session, complaint: Complaint) -> str:
    conversation = session.scalars(
        select(Conversation).where(Conversation.contact_id == complaint.contact_id)).first()
    return (conversation.language if conversation else None) or complaint.language or "en"


def _name(row, lang: str) -> str:
    # Roman Urdu readers get the Latin (English) names of offices, as elsewhere.
    return {"ur": row.name_ur, "ps": row.name_ps}.get(lang) or row.name_en


def recategorise(session: Session, complaint: Complaint, actor: lifecycle.Actor, category_code: str, *,
                 user_id: int | None = None, reason: str | None = None,
                 prefix: str = "KP") -> Message | None:
    """Change the complaint's category (and with it department and due date) and queue the
    message telling the citizen who handles it now; None when the citizen has no contact to
    tell (an anonymous letter)."""
    lifecycle.recategorise(session, complaint, actor, category_code, user_id=user_id, reason=reason)
    if session.get(Contact, complaint.contact_id) is None:
        return None
    lang = _lang(session, complaint)
    category = session.get(Category, complaint.category_code)
    department = session.get(Department, complaint.department_code)
    return casework.tell(session, complaint, "case_handled_by", "case_handled_by", prefix,
                         department=_name(department, lang), category=_name(category, lang),
                         due=complaint.due_at.strftime("%Y-%m-%d"))
