"""Written applications: a scanned letter and its pages, from upload to complaint.

    uploaded -> ocr_done -> submitted
        |          ^
        v          | (read again)
      failed ------+

A letter is stored as soon as its upload passes the checks (nothing accepted is lost);
the OCR job fills in its pages; the clerk's review turns it into a complaint. The text
read from a letter and the fields found in it hold personal data, so they are encrypted.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    exists,
    select,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column, relationship

from storage.crypto import EncryptedText
from storage.models import (
    Base,
    Complaint,
    ComplaintEvent,
    Message,
    OutboxStatus,
    UTCDateTime,
    utcnow,
)

# Timeline events of a complaint whose writer has no phone: its acknowledgement is to be
# printed and posted, then a clerk says it was.
ACKNOWLEDGEMENT_TO_POST = "acknowledgement_letter"
ACKNOWLEDGEMENT_POSTED = "acknowledgement_posted"


class LetterState(enum.StrEnum):
    UPLOADED = "uploaded"
    OCR_DONE = "ocr_done"
    SUBMITTED = "submitted"
    FAILED = "failed"


class LetterStateError(Exception):
    """A letter is not in the state the operation needs; says which it is in."""


class Letter(Base):
    __tablename__ = "letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=LetterState.UPLOADED.value, index=True)
    clerk_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    batch: Mapped[str | None] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))  # as the clerk's computer named it
    kind: Mapped[str] = mapped_column(String(8))  # jpeg | png | tiff | pdf, from the bytes
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))  # the original, relative to var/letters
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    script: Mapped[str | None] = mapped_column(String(16))  # Latin | Arabic
    language: Mapped[str | None] = mapped_column(String(5))  # en | ur | ps
    confidence: Mapped[float | None] = mapped_column(Float)  # 0-100, over all pages
    low_confidence: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str | None] = mapped_column(EncryptedText)  # OCR text, pages joined
    suggested: Mapped[str | None] = mapped_column(EncryptedText)  # JSON: fields found in it
    error: Mapped[str | None] = mapped_column(Text)
    ocr_seconds: Mapped[float | None] = mapped_column(Float)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pages: Mapped[list[LetterPage]] = relationship(
        back_populates="letter", order_by="LetterPage.number", cascade="all, delete-orphan")

    @property
    def fields(self) -> dict:
        return json.loads(self.suggested) if self.suggested else {}


class LetterPage(Base):
    __tablename__ = "letter_pages"
    __table_args__ = (UniqueConstraint("letter_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # from 1
    image_path: Mapped[str] = mapped_column(String(500))  # cleaned page, relative to var/letters
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    skew_degrees: Mapped[float] = mapped_column(Float, default=0.0)
    script: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(5))
    confidence: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(EncryptedText)
    words: Mapped[str | None] = mapped_column(EncryptedText)  # JSON: [[line, word, conf], ...]
    letter: Mapped[Letter] = relationship(back_populates="pages")


# --- operations -----------------------------------------------------------------------


def _require(letter: Letter, *states: LetterState) -> None:
    if LetterState(letter.state) not in states:
        raise LetterStateError(f"letter {letter.id} is {letter.state}")


def add_letter(session: Session, *, clerk_id: int, filename: str, kind: str, content_type: str,
               size: int, sha256: str, path: str, page_count: int,
               batch: str | None = None) -> Letter:
    """Record an uploaded letter whose file is already stored (state ``uploaded``)."""
    letter = Letter(clerk_id=clerk_id, filename=filename[:255], kind=kind, content_type=content_type,
                    size=size, sha256=sha256, path=path, page_count=page_count, batch=batch,
                    state=LetterState.UPLOADED.value)
    session.add(letter)
    session.flush()
    return letter


def record_reading(session: Session, letter: Letter, pages: list[dict], *, text: str,
                   script: str | None, language: str | None, confidence: float | None,
                   low_confidence: bool, suggested: dict, seconds: float) -> None:
    """Store what OCR read (``uploaded -> ocr_done``); pages replace any earlier reading."""
    _require(letter, LetterState.UPLOADED)
    for old in list(letter.pages):
        session.delete(old)
    session.flush()
    for page in pages:
        session.add(LetterPage(letter_id=letter.id, number=page["number"],
                               image_path=page["image_path"], width=page["width"],
                               height=page["height"], skew_degrees=page.get("skew_degrees", 0.0),
                               script=page.get("script"), language=page.get("language"),
                               confidence=page.get("confidence"), text=page.get("text", ""),
                               words=json.dumps(page.get("words", []), ensure_ascii=False)))
    letter.page_count = len(pages)
    letter.text = text
    letter.script, letter.language = script, language
    letter.confidence, letter.low_confidence = confidence, low_confidence
    letter.suggested = json.dumps(suggested, ensure_ascii=False)
    letter.ocr_seconds = seconds
    letter.error = None
    letter.state = LetterState.OCR_DONE.value


def record_failure(letter: Letter, error: str) -> None:
    """OCR could not read the letter: keep it, with the reason, for the clerk to see."""
    _require(letter, LetterState.UPLOADED)
    letter.state = LetterState.FAILED.value
    letter.error = error[:2000]


def read_again(letter: Letter) -> None:
    """Queue a failed (or already read) letter for another OCR run."""
    _require(letter, LetterState.FAILED, LetterState.OCR_DONE)
    letter.state = LetterState.UPLOADED.value
    letter.error = None


def mark_submitted(letter: Letter, complaint_id: int, message_id: int) -> None:
    """The clerk submitted the letter: it is a complaint now (``ocr_done -> submitted``)."""
    _require(letter, LetterState.OCR_DONE)
    letter.state = LetterState.SUBMITTED.value
    letter.complaint_id, letter.message_id = complaint_id, message_id
    letter.submitted_at = utcnow()


def letters_for(session: Session, clerk_id: int | None, limit: int = 200) -> list[Letter]:
    """The newest letters a clerk uploaded (all clerks' when ``clerk_id`` is None)."""
    query = select(Letter).order_by(Letter.id.desc()).limit(limit)
    if clerk_id is not None:
        query = query.where(Letter.clerk_id == clerk_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class ToPost:
    """A letter waiting to be printed and posted: a complaint's acknowledgement
    (``message_id`` None) or an outbox row the letter sender rendered as a PDF."""

    complaint_id: int | None
    tracking_number: str | None
    letter_id: int | None  # the scanned letter the complaint came from
    message_id: int | None
    kind: str  # acknowledgement, satisfaction_request, officer_message ...
    language: str | None
    since: datetime
    pdf: str | None  # the rendered PDF of an outbox row (provider id), None: rendered on demand


def letters_to_post(session: Session, clerk_id: int | None, limit: int = 200) -> list[ToPost]:
    """What waits for a clerk to print and post, oldest first: letters from complaints the
    clerk entered (every clerk's when ``clerk_id`` is None)."""
    outbox = (select(Message, Complaint.tracking_number, Letter.id)
              .outerjoin(Complaint, Complaint.id == Message.complaint_id)
              .outerjoin(Letter, Letter.complaint_id == Message.complaint_id)
              .where(Message.direction == "out", Message.channel == "letter",
                     Message.status == OutboxStatus.SENT.value)
              .order_by(Message.id).limit(limit))
    posted = aliased(ComplaintEvent)
    acks = (select(Complaint, Letter.id, ComplaintEvent.created_at)
            .join(Letter, Letter.complaint_id == Complaint.id)
            .join(ComplaintEvent, (ComplaintEvent.complaint_id == Complaint.id)
                  & (ComplaintEvent.kind == ACKNOWLEDGEMENT_TO_POST))
            .where(~exists().where(posted.complaint_id == Complaint.id,
                                   posted.kind == ACKNOWLEDGEMENT_POSTED))
            .order_by(Complaint.id).limit(limit))
    if clerk_id is not None:
        outbox = outbox.where(Letter.clerk_id == clerk_id)
        acks = acks.where(Letter.clerk_id == clerk_id)
    items = [ToPost(c.id, c.tracking_number, letter_id, None, "acknowledgement", c.language, at, None)
             for c, letter_id, at in session.execute(acks)]
    items += [ToPost(m.complaint_id, number, letter_id, m.id, m.kind or "reply", m.language,
                     m.updated_at or m.created_at, m.provider_id)
              for m, number, letter_id in session.execute(outbox)]
    return sorted(items, key=lambda item: item.since)[:limit]
