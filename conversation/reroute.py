"""Triage, recategorisation and transfer as the citizen hears of them: the change goes
through ``storage.lifecycle.recategorise`` (department, category, due date and the officer
who takes it, in one change) and the citizen is told, on their channel and in their
language, who now handles the complaint."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation import casework
from storage import lifecycle
from storage.models import Category, Complaint, Contact, Conversation, Department, Message, User


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


class RerouteRefused(ValueError):
    """An assignment or transfer that cannot be made, with the form field at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def category_in(knowledge, complaint: Complaint, department: str, chosen: str | None = None) -> str:
    """The category a transfer to ``department`` files the complaint under: the one chosen if
    it is the department's, else the classifier's likeliest of the department's, else its
    first."""
    codes = knowledge.by_department.get(department, [])
    if chosen in codes:
        return chosen
    if not codes:
        raise RerouteRefused(f"department {department} has no categories", "department")
    models = getattr(knowledge, "models", None)
    if models is not None and (complaint.description or "").strip():
        ranked = models.categories.top(complaint.description, 1, among=set(codes))
        if ranked:
            return ranked[0][0]
    return codes[0]


def assign_or_transfer(session: Session, complaint: Complaint, actor: lifecycle.Actor, *,
                       department: str | None, user_id: int | None, reason: str | None,
                       knowledge, category: str | None = None, prefix: str = "KP") -> Message | None:
    """Give the case to an officer of its department, or transfer it to another department
    (a reason required): department, category and due date change together, an officer there
    takes it, and the citizen is told who handles it now. The dashboard and the staff API
    both come here; who may transfer at all is theirs to check (storage.scope.can_triage)."""
    if department == complaint.department_code:
        department = None
    if department:
        if session.get(Department, department) is None:
            raise RerouteRefused(f"no department with code {department}", "department")
        if not reason:
            raise RerouteRefused("a transfer to another department needs a reason", "reason")
    target = None
    if user_id is not None:
        target = session.get(User, user_id)
        in_department = department or complaint.department_code
        if (target is None or not target.active or target.role not in ("officer", "department_head")
                or target.department_code != in_department
                or (target.role == "officer" and complaint.district_code
                    and target.district_code != complaint.district_code)):
            raise RerouteRefused("choose an officer of the case's department and district", "user_id")
    if target is None and not department:
        raise RerouteRefused("choose an officer or another department", "user_id")
    if department:
        code = category_in(knowledge, complaint, department, category)
        return recategorise(session, complaint, actor, code, user_id=target.id if target else None,
                            reason=reason, prefix=prefix)
    lifecycle.assign(session, complaint, actor, user_id=target.id, note=reason)
    return None
