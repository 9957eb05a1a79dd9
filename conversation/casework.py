"""What officers do to a case that the citizen must hear about.

Each operation changes the complaint through ``storage.lifecycle`` and puts the message
for the citizen in the outbox, on the channel and in the language the citizen uses.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation import catalog, language
from storage import lifecycle, tracking
from storage.messages import queue_outbound
from storage.models import Complaint, Contact, Conversation, Message, State, utcnow


def _answered(complaint: Complaint, actor: lifecycle.Actor | None) -> None:
    """Stamp the time to first response the first time staff answer the citizen (a reply, a
    question or a resolution), whichever tool they use; a timer's reminder is no answer."""
    if actor is not None and actor.kind in lifecycle.STAFF and complaint.first_response_at is None:
        complaint.first_response_at = utcnow()


def _tell(session: Session, complaint: Complaint, key: str, kind: str, prefix: str,
          state_update: dict | None = None, *, actor: lifecycle.Actor | None = None,
          **values: object) -> Message:
    _answered(complaint, actor)
    contact = session.get(Contact, complaint.contact_id)
    conversation = session.scalars(
        select(Conversation).where(Conversation.contact_id == contact.id)).first()
    lang = (conversation.language if conversation else None) or complaint.language or "en"
    if key == "officer_message":
        key, values = _officer_framing(lang, values)
    if conversation is not None and state_update:
        conversation.state = {**(conversation.state or {}), **state_update}
    text = catalog.text(key, lang, short=contact.channel == "sms",
                        tracking=tracking.display(complaint.tracking_number, prefix), **values)
    return queue_outbound(session, contact, text, kind=kind, complaint_id=complaint.id,
                          conversation_id=conversation.id if conversation else None,
                          language=lang, extras={"key": key})


# Unicode's first-strong isolate and its pop: the officer's words keep their own direction
# inside a sentence of the other direction (an English reply in an Urdu frame).
FSI, PDI = "\u2068", "\u2069"


def _officer_framing(lang: str, values: dict) -> tuple[str, dict]:
    """The officer's text as they wrote it; in another language than the citizen's, the
    frame says so in the citizen's language and the text is isolated (never translated)."""
    text = str(values.get("text", ""))
    written = language.classify(text)
    if written is None or written == lang:
        return "officer_message", values
    return "officer_message_other", {**values, "text": f"{FSI}{text.strip()}{PDI}"}

def tell(session: Session, complaint: Complaint, key: str, kind: str, prefix: str,
         **values: object) -> Message:
    """Queue catalog text ``key`` for the complainant (their channel, their language); not an
    answer for the time to first response."""
    return _tell(session, complaint, key, kind, prefix, **values)


def resolve(session: Session, complaint: Complaint, actor: lifecycle.Actor, note: str,
            outcome: str = "relief_granted", prefix: str = "KP") -> Message:
    """Mark the complaint resolved and ask the complainant whether they are satisfied.

    A case not yet being worked on is first taken up (assigned, in progress), each step on
    the timeline, so the officer need not click through states to say it is done.
    """
    if complaint.state == State.SUBMITTED:
        lifecycle.assign(session, complaint, actor, user_id=actor.user_id)
    if complaint.state in (State.REOPENED, State.AWAITING_INFO):
        lifecycle.start_work(session, complaint, actor)
    lifecycle.resolve(session, complaint, actor, note, outcome)
    # The citizen's next message is read first as the answer to this question.
    return _tell(session, complaint, "satisfaction_request", "satisfaction_request", prefix,
                 state_update={"satisfaction": complaint.id}, actor=actor, note=note.strip())


def ask_for_information(session: Session, complaint: Complaint, actor: lifecycle.Actor,
                        question: str, prefix: str = "KP") -> Message:
    """Put the case on hold for the citizen's answer; their next message lands on the case."""
    if complaint.state == State.SUBMITTED:
        lifecycle.assign(session, complaint, actor, user_id=actor.user_id)
    lifecycle.request_info(session, complaint, actor, question)
    return _tell(session, complaint, "info_request", "info_request", prefix,
                 state_update={"info_for": complaint.id}, actor=actor, question=question)


def message_citizen(session: Session, complaint: Complaint, actor: lifecycle.Actor, text: str,
                    prefix: str = "KP") -> Message:
    """An officer's free-text answer to the citizen, recorded on the timeline."""
    lifecycle.note(session, complaint, actor, text, kind="officer_message")
    return _tell(session, complaint, "officer_message", "officer_message", prefix, actor=actor,
                 text=text)


def remind_satisfaction(session: Session, complaint: Complaint, actor: lifecycle.Actor,
                        prefix: str = "KP") -> Message:
    """Ask again whether the citizen is satisfied (they have not answered); the case stays
    resolved: only the citizen's own answer closes or reopens it."""
    lifecycle.note(session, complaint, actor, "reminder: are you satisfied?",
                   kind="satisfaction_reminder")
    return _tell(session, complaint, "satisfaction_reminder", "satisfaction_reminder", prefix,
                 state_update={"satisfaction": complaint.id}, actor=actor)
