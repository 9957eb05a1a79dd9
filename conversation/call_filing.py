"""Filing what a phone call recorded: the complaint (with the department the caller chose
on the keypad, a category and an SLA due date, so it lands in an officer's queue), the
recording's inbound message, and the tracking number's SMS.

A complaint the caller could not place in a category (a voicemail, a hang-up before the
department menu, a department without categories) is filed *for triage*: no category, a
"needs triage" note, and a due date all the same (the shortest SLA of its department, or
``TRIAGE_SLA_DAYS``), so the SLA job escalates it if nobody categorises it in time.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversation import catalog
from conversation.call_types import Answered
from conversation.voice_prompts import phone_departments
from storage import lifecycle, tracking
from storage.calls import Call
from storage.complaints import Category as Filed
from storage.complaints import create_complaint
from storage.messages import contact_for, insert_inbound, queue_outbound
from storage.models import Category, Complaint, Contact, Message

TRIAGE_SLA_DAYS = 3  # a phone complaint nobody has categorised: listened to within this
# What officers read on the case until someone has listened (not citizen-facing).
DESCRIPTIONS = {
    "complaint": "Complaint recorded by phone ({seconds} s): listen to the recording.",
    "voicemail": "Voicemail for the call centre ({seconds} s): listen to the recording.",
}


def category_for(session: Session, department: str | None) -> Category | None:
    """The category a phone complaint about ``department`` is filed under until an officer
    (or a transcript, see ``categorise_from_transcript``) says otherwise: the department's
    first listed category; None without a department."""
    if department is None:
        return None
    listed = next((d.category for d in phone_departments() if d.code == department), None)
    found = session.get(Category, listed) if listed else None
    if found is None:  # a department not on the menu: its first category by code
        found = session.scalars(select(Category).where(Category.department_code == department)
                                .order_by(Category.code)).first()
    return found


def _triage_days(session: Session, department: str | None) -> int:
    if department is None:
        return TRIAGE_SLA_DAYS
    shortest = session.scalar(select(func.min(Category.sla_days)).where(Category.department_code == department))
    return min(shortest or TRIAGE_SLA_DAYS, TRIAGE_SLA_DAYS)


def file_recorded(session: Session, call: Call, raw: dict, done: Answered, *, prefix: str,
                  incomplete: bool) -> Complaint:
    """File the call's recording once (whichever request comes first), queue the recording's
    download and the tracking number's SMS."""
    if call.complaint_id is not None:
        return session.get(Complaint, call.complaint_id)
    contact = session.get(Contact, call.contact_id)
    lang = call.language or "ur"
    purpose = call.recording_purpose or "complaint"
    data = call.data or {}
    message, _new = insert_inbound(
        session, contact, channel="voice", provider_id=f"{call.call_sid}:{call.recording_sid or 'recording'}",
        text="", language=lang, raw=json.dumps(raw, ensure_ascii=False),
        payload={"media": [{"url": call.recording_url, "content_type": "audio/wav"}],
                 "call_sid": call.call_sid, "recording_sid": call.recording_sid,
                 "duration": call.recording_duration, "step": purpose})
    message.status = "processed"  # the call has answered it; no conversation turn to run
    department = data.get("department") if purpose == "complaint" else None
    category = category_for(session, department)
    complaint = create_complaint(
        session, contact=contact, message=message,
        actor=lifecycle.Actor("citizen", channel=contact.channel), channel=contact.channel,
        language=lang, description=DESCRIPTIONS[purpose].format(seconds=call.recording_duration or 0),
        category=Filed(category.code, category.department_code, category.sla_days) if category else None,
        department_code=department,
        district_code=data.get("district") if purpose == "complaint" else None,
        incomplete=incomplete, needs_triage=category is None,
        sla_days=None if category else _triage_days(session, department))
    call.complaint_id = complaint.id
    done.fetch.append(message.id)
    number = None if data.get("anonymous") else contact.address
    if number:
        sms_contact = contact_for(session, "sms", number)
        shown = tracking.display(complaint.tracking_number, prefix)
        text = catalog.text("voice_sms_tracking", lang, short=True, tracking=shown)
        out = queue_outbound(session, sms_contact, text, kind="tracking_number",
                             complaint_id=complaint.id, language=lang,
                             extras={"key": "voice_sms_tracking"})
        session.flush()
        done.deliver.append(out.id)
    return complaint


def categorise_from_transcript(session: Session, complaint: Complaint, transcript: str,
                               knowledge) -> str | None:
    """A transcript of the recording exists (the simulator's typed stand-in): the classifier's
    confident suggestion (conversation.classifier, through ``knowledge.suggest_category``)
    replaces the department's first category when it is one of the department the caller
    chose (the caller's keypad choice decides the queue), and the due date follows its SLA.
    Returns the new category code, or None when nothing changed."""
    if (complaint.department_code is None or not transcript.strip() or knowledge is None
            or complaint.state != "submitted"):  # an officer has taken it up: theirs to choose
        return None
    code = knowledge.suggest_category(transcript)
    category = session.get(Category, code) if code else None
    if category is None or category.department_code != complaint.department_code or code == complaint.category_code:
        return None
    complaint.category_code = category.code
    complaint.due_at = complaint.created_at + timedelta(days=category.sla_days)
    lifecycle.note(session, complaint, lifecycle.SYSTEM,
                   f"Category suggested from the recording's transcript: {category.name_en}.",
                   kind="category_suggested")
    return category.code


def recording_message(session: Session, call: Call) -> int | None:
    """The inbound message that carried the call's filed recording."""
    return session.scalar(select(Message.id).where(
        Message.channel == "voice",
        Message.provider_id == f"{call.call_sid}:{call.recording_sid or 'recording'}"))
