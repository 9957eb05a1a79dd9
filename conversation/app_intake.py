"""Complaints from the app and from Open311 clients: a form filled at once, not a dialogue.

The citizen's submission is stored first as their inbound message (channel ``app`` or
``open311``, provider id = the client's idempotency key, so a draft sent twice after a
lost connection files one complaint). The complaint is then filed by the complaint
factory every channel uses (``storage.complaints.create_complaint``), and every later
change goes through ``storage.lifecycle``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import CONFIG_DIR
from conversation import actions, catalog
from conversation.engine import nearest_district
from conversation.knowledge import Knowledge
from storage import lifecycle
from storage.complaints import create_complaint
from storage.messages import store_inbound
from storage.models import Complaint, ComplaintEvent, Contact, Message, State

DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 2000
LOCATION_MAX = 300
REASON_MAX = 2000
# Timeline entries a complainant (and, without their notes, the public) may see; internal
# notes, confidentiality marks and delivery failures stay with the officers.
PUBLIC_EVENTS = ("submitted", "assign", "reassign", "start_work", "request_info", "info_received",
                 "resolve", "confirm_satisfied", "reject_resolution", "escalated")
CITIZEN_EVENTS = (*PUBLIC_EVENTS, "citizen_comment", "citizen_details")
# The notes the complainant reads on events: what they said. What officers said to them
# (a reply, a question, the resolution) is on the timeline as the message they were sent.
_NOTES_FOR_CITIZEN = ("reject_resolution", "citizen_comment", "citizen_details")


@lru_cache(maxsize=1)
def _catalog() -> dict:
    return catalog.load(CONFIG_DIR / "app_messages.yaml", roman=False)


def app_text(key: str, lang: str, **values: object) -> str:
    """A text of the app, the front door or the tracking page (config/app_messages.yaml)."""
    entry = _catalog()[key]
    template = entry.get(lang) or entry["en"]
    return template.format(**values) if values else template


def app_texts(lang: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """Every text whose key starts with one of ``prefixes``, in ``lang`` (the app's strings)."""
    return {key: app_text(key, lang) for key in _catalog() if key.startswith(prefixes)}


class Refused(Exception):
    """The submission cannot be filed; ``field`` names what to fix."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class Submission:
    description: str
    district: str | None = None
    location_detail: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    category: str | None = None
    confidential: bool = False
    language: str = "en"


def check(submission: Submission, knowledge: Knowledge, session: Session) -> Submission:
    """The submission with its district found (from the picker or the location), or Refused."""
    text = " ".join(submission.description.split())
    if len(text) > DESCRIPTION_MAX:
        raise Refused("description", f"at most {DESCRIPTION_MAX} characters")
    if sum(ch.isalpha() for ch in text) < DESCRIPTION_MIN or len(text.split()) < 2:
        raise Refused("description", "describe the problem in a few words")
    district = submission.district
    if district is not None and district not in knowledge.districts:
        raise Refused("district", f"no district with code {district}")
    has_point = submission.latitude is not None and submission.longitude is not None
    if has_point and not (-90 <= submission.latitude <= 90 and -180 <= submission.longitude <= 180):
        raise Refused("location", "latitude or longitude out of range")
    if district is None and has_point:
        district = nearest_district(session, submission.latitude, submission.longitude)
    if district is None:
        raise Refused("district", "choose a district or share the location")
    if submission.category is not None and submission.category not in knowledge.categories:
        raise Refused("category", f"no category with code {submission.category}")
    detail = " ".join((submission.location_detail or "").split())[:LOCATION_MAX] or None
    return Submission(text, district, detail, submission.latitude, submission.longitude,
                      submission.category, submission.confidential,
                      submission.language if submission.language in catalog.LANGUAGES else "en")


def store_submission(session: Session, contact: Contact, provider_id: str, submission: Submission,
                     *, channel: str, raw: str | None = None) -> tuple[Message, bool]:
    """The citizen's message carrying the submission, stored once per provider id."""
    payload = {"form": {"district": submission.district, "category": submission.category,
                        "location_detail": submission.location_detail,
                        "confidential": submission.confidential}}
    if submission.latitude is not None and submission.longitude is not None:
        payload["location"] = [submission.latitude, submission.longitude]
    message_id, new = store_inbound(session, contact.id, channel=channel, provider_id=provider_id,
                                    text=submission.description, payload=payload, raw=raw,
                                    language=submission.language)
    return session.get(Message, message_id), new


def file(session: Session, knowledge: Knowledge, prefix: str, contact: Contact, message: Message,
         submission: Submission) -> Complaint:
    """File the complaint the stored ``message`` carries (already filed: that complaint).

    The department and category are the citizen's choice, else the classifier's suggestion
    (as in chat); a complaint neither could place waits in the triage queue."""
    if message.complaint_id is not None:
        return session.get(Complaint, message.complaint_id)
    code = submission.category or knowledge.suggest_category(submission.description)
    location = None
    if submission.latitude is not None and submission.longitude is not None:
        location = (submission.latitude, submission.longitude)
    complaint = create_complaint(
        session, contact=contact, message=message,
        actor=lifecycle.Actor("citizen", channel=contact.channel),
        channel=message.channel,  # an Open311 request may be answered by SMS
        language=submission.language, description=submission.description,
        category=actions.category_of(knowledge.categories[code]) if code else None,
        district_code=submission.district, location_detail=submission.location_detail,
        location=location, confidential=submission.confidential, needs_triage=not code)
    message.status = "processed"
    session.flush()
    return complaint


def store_citizen_message(session: Session, contact: Contact, provider_id: str, text: str,
                          complaint: Complaint, payload: dict | None = None) -> tuple[Message, bool]:
    """An inbound message on the app from the signed-in citizen, about one complaint."""
    message_id, new = store_inbound(session, contact.id, channel=contact.channel, provider_id=provider_id,
                                    text=text, payload=payload or {})
    message = session.get(Message, message_id)
    if new:
        message.complaint_id = complaint.id
        message.status = "processed"
    return message, new


def add_information(session: Session, complaint: Complaint, message: Message) -> ComplaintEvent:
    """The complainant adds to the case: the answer to the officer's question when one is
    waiting (the case goes back to work), else a comment on the timeline."""
    actor = lifecycle.Actor("citizen", channel=message.channel)
    event = lifecycle.note(session, complaint, actor, message.text, kind="citizen_comment",
                           message=message)
    if complaint.state == State.AWAITING_INFO:
        return lifecycle.info_received(session, complaint, message)
    return event


def answer_satisfaction(session: Session, complaint: Complaint, message: Message, satisfied: bool,
                        reason: str | None) -> None:
    """The complainant's own answer: closes, or reopens and escalates (as on every channel)."""
    actions.answer_resolution(session, complaint, message, satisfied, reason)


def citizen_timeline(session: Session, complaint: Complaint, citizen_id: int) -> list[dict]:
    """What the complainant sees: public events (with what was said to or by them) and the
    messages between them and the officers about this complaint, oldest first."""
    entries = []
    for e in session.scalars(select(ComplaintEvent).where(
            ComplaintEvent.complaint_id == complaint.id,
            ComplaintEvent.kind.in_(CITIZEN_EVENTS)).order_by(ComplaintEvent.id)):
        entries.append({"at": e.created_at, "type": "event", "kind": e.kind, "state": e.to_state,
                        "text": e.note if e.kind in _NOTES_FOR_CITIZEN else None,
                        "by": "citizen" if e.actor_kind == "citizen" else "staff"})
    mine = select(Contact.id).where(Contact.citizen_id == citizen_id)
    for m in session.scalars(select(Message).where(
            Message.complaint_id == complaint.id, Message.contact_id.in_(mine),
            Message.direction == "out", Message.kind != "one_time_code").order_by(Message.id)):
        entries.append({"at": m.created_at, "type": "message", "kind": m.kind or "reply",
                        "state": None, "text": m.body, "by": "staff", "channel": m.channel})
    entries.sort(key=lambda item: item["at"])
    return entries


def public_timeline(session: Session, complaint: Complaint) -> list[ComplaintEvent]:
    """The events anyone with the tracking number may see (shown without their notes)."""
    return list(session.scalars(select(ComplaintEvent).where(
        ComplaintEvent.complaint_id == complaint.id,
        ComplaintEvent.kind.in_(PUBLIC_EVENTS)).order_by(ComplaintEvent.id)))
