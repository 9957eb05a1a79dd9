"""Written applications as complaints: what a clerk does for a letter's writer.

A letter a clerk has reviewed becomes a complaint through the same steps as a complaint
from any channel (the writer's contact and citizen, the inbound message that carried it,
``storage.lifecycle.submit``, the tracking number every channel draws), with the clerk as
the person who entered it. A writer's answer to "are you satisfied?", given on paper or by
phone, is entered by a clerk as what it is, a confirmation by proxy with the scan of the
answer as evidence (``storage.lifecycle.confirm_by_proxy`` decides whether the clerk may);
it is never made into a message in the writer's name. Everything here runs inside the
caller's transaction; the caller queues the delivery of the outbox row it gets back.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation import catalog
from conversation.actions import category_of
from conversation.knowledge import Knowledge
from storage import lifecycle, tracking
from storage.complaints import create_complaint
from storage.crypto import lookup_hash
from storage.letters import (
    ACKNOWLEDGEMENT_POSTED,
    ACKNOWLEDGEMENT_TO_POST,
    Letter,
    LetterState,
    LetterStateError,
    mark_submitted,
)
from storage.messages import advance_status, contact_for, insert_inbound, queue_outbound
from storage.models import (
    Attachment,
    Citizen,
    Complaint,
    Contact,
    Message,
    OutboxStatus,
    User,
)

CHANNEL = "letter"


@dataclass(frozen=True)
class Entry:
    """What the clerk confirmed on the review screen, already checked field by field."""

    description: str
    language: str  # en | ur | ps
    name: str | None
    phone: str | None  # E.164
    cnic: str | None  # 12345-1234567-1
    address: str | None
    district: str  # a district code
    category: str  # a category code
    # The writer complains against an officer or the department itself: their identity is
    # hidden from that department (issue 10).
    confidential: bool = False


@dataclass(frozen=True)
class Evidence:
    """A scan of the writer's answer, its type already checked from its bytes."""

    filename: str
    data: bytes
    kind: str  # file extension: jpeg | png | tiff | pdf
    content_type: str


@dataclass(frozen=True)
class Filed:
    complaint_id: int
    tracking: str  # with its prefix
    acknowledgement_id: int | None  # the SMS to deliver; None: a letter to print and post


class ConfirmationError(ValueError):
    """The confirmation cannot be recorded; ``field`` names the form field to correct."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def file_letter(session: Session, letter_id: int, entry: Entry, *, clerk_id: int,
                knowledge: Knowledge, prefix: str, letters_root: Path,
                attachments_dir: Path) -> Filed:
    """Make the letter a complaint (channel ``letter``, entered by the clerk, the scans as
    attachments) and acknowledge it: an SMS when the letter gives a phone number, else a
    printable letter (a timeline event the clerks' "to post" list shows). Later messages go
    to the same contact, so they follow the same rule. Filing twice raises
    ``LetterStateError``: a double click makes no second complaint."""
    letter = session.scalars(select(Letter).where(Letter.id == letter_id).with_for_update()).one()
    if letter.state != LetterState.OCR_DONE:
        raise LetterStateError(f"letter {letter.id} is {letter.state}")
    kind = knowledge.categories[entry.category]
    contact = _writer_contact(session, letter, entry)
    message, _new = insert_inbound(
        session, contact, channel=CHANNEL, provider_id=f"letter-{letter.id}",
        text=entry.description, language=entry.language, received_at=letter.created_at,
        payload={"letter_id": letter.id, "entered_by": clerk_id, "pages": letter.page_count,
                 "ocr_confidence": letter.confidence})
    message.status = "processed"  # entered by a clerk: no conversation turn to take
    clerk = lifecycle.Actor("clerk", user_id=clerk_id, channel=CHANNEL)
    complaint = create_complaint(
        session, contact=contact, message=message, actor=clerk, channel=CHANNEL,
        language=entry.language, description=entry.description, category=category_of(kind),
        district_code=entry.district, location_detail=entry.address, confidential=entry.confidential)
    _attach_scans(session, letter, message, complaint, letters_root, attachments_dir)
    mark_submitted(letter, complaint.id, message.id)
    shown = tracking.display(complaint.tracking_number, prefix)
    if entry.phone:
        text = catalog.text("complaint_registered", entry.language, short=True, tracking=shown,
                            sla_days=kind.sla_days)
        sms = queue_outbound(session, contact, text, kind="acknowledgement",
                             complaint_id=complaint.id, language=entry.language,
                             extras={"key": "complaint_registered"})
        session.flush()
        return Filed(complaint.id, shown, sms.id)
    lifecycle.note(session, complaint, clerk, "acknowledgement to be printed and posted",
                   kind=ACKNOWLEDGEMENT_TO_POST)
    return Filed(complaint.id, shown, None)


def _writer_contact(session: Session, letter: Letter, entry: Entry) -> Contact:
    """The writer's phone (SMS) when the letter gives one, else a postal contact whose
    address is the mailing label; the citizen gets the name and CNIC from the letter."""
    if entry.phone:
        contact = contact_for(session, "sms", entry.phone)
    else:
        label = "\n".join(p for p in (entry.name, entry.address) if p) or f"letter-{letter.id}"
        contact = contact_for(session, CHANNEL, label)
    citizen = session.get(Citizen, contact.citizen_id)
    if entry.name and not citizen.name:
        citizen.name = entry.name
    if entry.cnic and not citizen.cnic:
        citizen.cnic = entry.cnic
        citizen.cnic_hash = lookup_hash(entry.cnic.replace("-", ""))
    citizen.language = citizen.language or entry.language
    return contact


def _attach_scans(session: Session, letter: Letter, message: Message, complaint: Complaint,
                  letters_root: Path, attachments_dir: Path) -> None:
    """The original and the cleaned page images become the complaint's attachments."""
    target = attachments_dir / "letters" / str(letter.id)
    target.mkdir(parents=True, exist_ok=True)
    files = [(letters_root / letter.path, letter.content_type, letter.filename)]
    files += [(letters_root / p.image_path, "image/png", f"page-{p.number}.png") for p in letter.pages]
    for source, content_type, filename in files:
        if not source.is_file():
            continue
        destination = target / source.name
        try:
            os.link(source, destination)  # same disk: no second copy of a big scan
        except FileExistsError:
            pass
        except OSError:
            shutil.copyfile(source, destination)
        data = destination.read_bytes()
        session.add(Attachment(message_id=message.id, complaint_id=complaint.id,
                               content_type=content_type, size=len(data),
                               sha256=hashlib.sha256(data).hexdigest(),
                               path=str(destination.relative_to(attachments_dir)),
                               filename=filename[:255]))


def record_confirmation(session: Session, *, clerk_id: int, number: str, satisfied: bool,
                        via: str, note: str, evidence: Evidence | None, prefix: str,
                        attachments_dir: Path) -> tuple[dict, int]:
    """The complainant's answer to "are you satisfied?", given on paper or by phone and
    entered by a clerk: a confirmation *by proxy* (``lifecycle.confirm_by_proxy``), never a
    message in the complainant's name. Only with the scan of the answer, only for a
    complaint in the clerk's scope that came by letter or whose complainant has no digital
    channel; an admin never records one. Returns a summary for the clerk and the id of the
    reply queued to the complainant."""
    if via not in ("paper", "phone"):
        raise ConfirmationError("via", "choose how the answer was given: on paper or by phone")
    note = " ".join(note.split())[:2000]
    if evidence is None:
        raise ConfirmationError("evidence", "attach the scan of the complainant's answer: a note alone is no evidence")
    found = tracking.find(number, prefix)
    if not found.number:
        raise ConfirmationError("tracking", "that tracking number has a mistyped digit" if found.mistyped
                                else f"enter the tracking number, e.g. {prefix}-123-456-7890")
    complaint = session.scalars(select(Complaint).where(Complaint.tracking_number == found.number)
                                .with_for_update()).first()
    clerk = session.get(User, clerk_id)
    try:
        if complaint is None:
            raise lifecycle.OutOfScope("no such complaint")
        lifecycle.check_proxy(session, complaint, clerk)
    except lifecycle.OutOfScope:
        # Out of scope reads as missing: a clerk learns nothing of other complaints.
        raise ConfirmationError("tracking", f"no complaint {tracking.display(found.number, prefix)}") from None
    except lifecycle.IllegalTransition:
        raise ConfirmationError("tracking", f"{tracking.display(found.number, prefix)} is not waiting for the "
                                f"citizen's confirmation (it is {complaint.state.replace('_', ' ')})") from None
    except lifecycle.TransitionError as exc:
        raise ConfirmationError("tracking", str(exc)) from None
    scan = _attach_evidence(session, evidence, complaint, attachments_dir)
    try:
        lifecycle.confirm_by_proxy(session, complaint, clerk, satisfied=satisfied, evidence=scan,
                                   via=via, note=note or None)
        key = "closed_thanks" if satisfied else "reopened_with_reason"
        contact = session.get(Contact, complaint.contact_id)
        shown = tracking.display(complaint.tracking_number, prefix)
        text = catalog.text(key, complaint.language or "en", short=contact.channel == "sms", tracking=shown)
        reply = queue_outbound(session, contact, text, kind="confirmation_reply", complaint_id=complaint.id,
                               language=complaint.language, extras={"key": key})
        session.flush()
    except Exception:
        (attachments_dir / scan.path).unlink(missing_ok=True)  # nothing recorded: no orphan scan
        raise
    return {"tracking": shown, "state": complaint.state, "date": date.today().isoformat()}, reply.id


def _attach_evidence(session: Session, evidence: Evidence, complaint: Complaint,
                     attachments_dir: Path) -> Attachment:
    """The scan of the answer, kept as the complaint's attachment (the proxy's evidence)."""
    folder = attachments_dir / "letters" / "confirmations"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{complaint.id}-{uuid.uuid4().hex}.{evidence.kind}"
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(evidence.data)
    partial.replace(path)  # whole or not at all
    scan = Attachment(complaint_id=complaint.id, content_type=evidence.content_type,
                      size=len(evidence.data), sha256=hashlib.sha256(evidence.data).hexdigest(),
                      path=str(path.relative_to(attachments_dir)),
                      filename=os.path.basename(evidence.filename)[:255])
    session.add(scan)
    session.flush()
    return scan


# --- letters to print and post ---------------------------------------------------------------


class NotToPost(LookupError):
    """Nothing waits to be posted under that id (or not for this clerk)."""


def mark_posted(session: Session, message_id: int, clerk_id: int) -> Message:
    """A clerk printed the letter an outbox row became and put it in the post: the row is
    delivered (as far as anyone can know for paper), and the timeline says who posted it."""
    message = session.scalars(select(Message).where(
        Message.id == message_id, Message.direction == "out", Message.channel == CHANNEL)
        .with_for_update()).first()
    if message is None:
        raise NotToPost(f"no letter {message_id} to post")
    if advance_status(message, OutboxStatus.DELIVERED) and message.complaint_id is not None:
        complaint = session.get(Complaint, message.complaint_id)
        lifecycle.note(session, complaint, lifecycle.Actor("clerk", user_id=clerk_id, channel=CHANNEL),
                       f"the {(message.kind or 'letter').replace('_', ' ')} was printed and posted",
                       kind="letter_posted", message=message)
    return message


def mark_acknowledgement_posted(session: Session, complaint_id: int, clerk_id: int) -> bool:
    """The printed acknowledgement of a letter without a phone number went in the post;
    returns False when it was already marked (a second click changes nothing)."""
    complaint = session.scalars(select(Complaint).where(Complaint.id == complaint_id)
                                .with_for_update()).first()
    if complaint is None:
        raise NotToPost(f"no complaint {complaint_id}")
    kinds = {e.kind for e in complaint.events}
    if ACKNOWLEDGEMENT_TO_POST not in kinds:
        raise NotToPost(f"complaint {complaint_id} has no acknowledgement to post")
    if ACKNOWLEDGEMENT_POSTED in kinds:
        return False
    lifecycle.note(session, complaint, lifecycle.Actor("clerk", user_id=clerk_id, channel=CHANNEL),
                   "the acknowledgement letter was printed and posted", kind=ACKNOWLEDGEMENT_POSTED)
    return True
