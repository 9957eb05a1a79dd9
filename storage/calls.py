"""Phone calls to the IVR line: one row per call, keyed by Twilio's CallSid.

The call's state lives here, not in a web process, so any process can answer any step of
any call; the TwiML given for each step is kept so that a repeated webhook (Twilio retries
on a timeout) gets the very same answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, Complaint, State, UTCDateTime, utcnow

# How many answered steps a call keeps for replays; Twilio only ever retries the last one.
KEEP_ANSWERS = 4
ENDED = ("completed", "busy", "failed", "no-answer", "canceled")


class Call(Base):
    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(5))
    step: Mapped[str] = mapped_column(String(32), default="start")
    # The sequence number of the next step expected (each TwiML's URLs carry it as ?n=).
    seq: Mapped[int] = mapped_column(Integer, default=0)
    # Step data: chosen district, missed inputs, complaints waiting for a confirmation ...
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)  # str(seq) -> TwiML
    status: Mapped[str] = mapped_column(String(16), default="in-progress")  # Twilio's CallStatus
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    recording_url: Mapped[str | None] = mapped_column(Text)
    recording_duration: Mapped[int | None] = mapped_column(Integer)
    # What the recording is: "complaint" (the caller's description) or "voicemail".
    recording_purpose: Mapped[str | None] = mapped_column(String(16))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def ended(self) -> bool:
        return self.status in ENDED


def find_call(session: Session, call_sid: str, *, lock: bool = False) -> Call | None:
    """The call with this CallSid; ``lock`` holds its row until the transaction ends, so two
    webhooks of one call (a retry racing the original) never interleave."""
    query = select(Call).where(Call.call_sid == call_sid)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def start_call(session: Session, call_sid: str, contact_id: int, language: str | None) -> Call:
    """The row for a new call, or the existing one when the first webhook is repeated."""
    call = find_call(session, call_sid, lock=True)
    if call is not None:
        return call
    call = Call(call_sid=call_sid, contact_id=contact_id, language=language, data={}, answers={})
    try:
        with session.begin_nested():
            session.add(call)
    except IntegrityError:  # the same first webhook raced in on another process
        return find_call(session, call_sid, lock=True)
    return call


def remember_answer(call: Call, seq: int, twiml: str) -> None:
    """Keep the TwiML given for step ``seq`` (and a few before it) for replays."""
    answers = {k: v for k, v in (call.answers or {}).items() if int(k) > seq - KEEP_ANSWERS}
    answers[str(seq)] = twiml
    call.answers = answers


def triage_queue(session: Session, limit: int = 200) -> list[Complaint]:
    """Open complaints nobody has categorised yet (phone recordings, voicemails): a person
    listens and chooses the department and category."""
    return list(session.scalars(
        select(Complaint).where(Complaint.category_code.is_(None),
                                Complaint.state != State.CLOSED.value)
        .order_by(Complaint.created_at).limit(limit)))
