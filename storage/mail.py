"""What email needs beyond the messages table: the IMAP poller's place in each mailbox,
the one-click answer links already used, and the thread of every outbound email.

Threads: an inbound mail's provider id is ``in:`` + its Message-ID (so it can never clash
with the Message-ID we put on our own mail, which becomes the outbound row's provider id
once sent). Every outbound email row gets, when it is queued (whoever queues it: the
engine, an officer's action, a status update), the headers that keep it in the citizen's
thread: In-Reply-To, References, the subject and the tracking number. A before-flush hook
does it, so no caller can forget it, and a retry sends the very same headers.

Turns: the hook also stamps every outbound email row with its turn, shared by all rows
queued in one transaction (a conversation turn, an officer's action). The outbox sends a
turn's rows of one case as one mail (channels.email.outbox), so a citizen gets one mail
per turn, not one per reply.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, event, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage import lifecycle, pii
from storage.models import Base, Complaint, Contact, Message, OutboxStatus, UTCDateTime, utcnow

REFERENCES_CAP = 10  # References grows with every reply; long chains only cost header bytes
_MID_MAX = 200


class ImapState(Base):
    """How far the poller got in one mailbox; a new UIDVALIDITY starts it over."""

    __tablename__ = "mail_imap_state"
    mailbox: Mapped[str] = mapped_column(String(255), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class UsedLink(Base):
    """A satisfaction request's one-click links, once one of them has been used."""

    __tablename__ = "mail_used_links"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    answer: Mapped[str] = mapped_column(String(8))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- Message-IDs ----------------------------------------------------------------------------


def clean_message_id(value: str | None) -> str | None:
    """``<id@host>`` from a header value, or None when there is nothing usable."""
    if not value:
        return None
    text = "".join(str(value).split())
    if not text:
        return None
    if not text.startswith("<"):
        text = "<" + text
    if not text.endswith(">"):
        text += ">"
    return text if len(text) > 2 else None


def inbound_provider_id(message_id: str | None, data: bytes = b"") -> str:
    """The provider id of an inbound mail: its Message-ID, else a digest of its bytes."""
    mid = clean_message_id(message_id)
    if mid and len(mid) <= _MID_MAX:
        return "in:" + mid
    source = mid.encode() if mid else data
    return "in-sha256:" + hashlib.sha256(source).hexdigest()


def mail_info(message: Message) -> dict:
    """The email part of a stored message's raw payload ({} when it is not a real mail)."""
    if not message.raw:
        return {}
    try:
        data = json.loads(message.raw)
    except (TypeError, ValueError):
        return {}
    info = data.get("email") if isinstance(data, dict) else None
    return info if isinstance(info, dict) else {}


@dataclass(frozen=True)
class Thread:
    """What an inbound mail answers: ``known`` when it replies to a mail we know of."""

    known: bool
    complaint: Complaint | None = None


def find_thread(session: Session, contact: Contact, info: dict, tagged: str | None) -> Thread:
    """Match a mail to its thread: our Message-IDs first, then the citizen's earlier mails
    in References/In-Reply-To, then the subject tag, trusted only from the complainant."""
    refs = [r for r in (info.get("in_reply_to"), *reversed(info.get("references") or [])) if r]
    refs = list(dict.fromkeys(clean_message_id(r) for r in refs if clean_message_id(r)))[:50]
    if refs:
        ours = session.scalars(select(Message).where(
            Message.channel == "email", Message.direction == "out",
            Message.provider_id.in_(refs))).all()
        theirs = session.scalars(select(Message).where(
            Message.channel == "email", Message.direction == "in",
            Message.contact_id == contact.id,
            Message.provider_id.in_([inbound_provider_id(r) for r in refs]))).all()
        for found in (ours, theirs):
            if found:
                with_case = [m for m in found if m.complaint_id]
                if with_case:
                    latest = max(with_case, key=lambda m: m.id)
                    return Thread(True, session.get(Complaint, latest.complaint_id))
                return Thread(True, None)
    if tagged:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == tagged,
            Complaint.citizen_id == contact.citizen_id)).first()
        if complaint is not None:
            return Thread(True, complaint)
    return Thread(False, None)


def thread_headers(session: Session, message: Message) -> dict:
    """The thread of one outbound email: what it answers, its subject, its tracking number."""
    inbound = select(Message).where(Message.contact_id == message.contact_id,
                                    Message.channel == "email", Message.direction == "in",
                                    Message.provider_id.like("in%"))
    parent = None
    if message.complaint_id:
        parent = session.scalars(inbound.where(Message.complaint_id == message.complaint_id)
                                 .order_by(Message.id.desc()).limit(1)).first()
    if parent is None:
        parent = session.scalars(inbound.order_by(Message.id.desc()).limit(1)).first()
    headers: dict = {"token": secrets.token_hex(12)}
    info = mail_info(parent) if parent is not None else {}
    mid = clean_message_id(info.get("message_id"))
    if mid:
        refs = [r for r in (clean_message_id(x) for x in info.get("references") or []) if r]
        headers["in_reply_to"] = mid
        headers["references"] = [*refs, mid][-REFERENCES_CAP:]
    if info.get("subject"):
        headers["subject"] = str(info["subject"])[:200]
    complaint = session.get(Complaint, message.complaint_id) if message.complaint_id else None
    if complaint is not None:
        headers["tracking"] = complaint.tracking_number
        if message.kind == "satisfaction_request" and complaint.resolved_at is not None:
            headers["answer"] = {"nonce": secrets.token_hex(16),
                                 "resolved_at": int(complaint.resolved_at.timestamp())}
    return headers


_TURN_KEY = "ikhtiyar.mail_turn"


def _turn(session: Session) -> str:
    """The turn of the session's current transaction: the same for every flush in it."""
    transaction = session.get_transaction()
    held = session.info.get(_TURN_KEY)
    if held is None or held[0] is not transaction:
        held = (transaction, secrets.token_hex(8))
        session.info[_TURN_KEY] = held
    return held[1]


@event.listens_for(Session, "before_flush")
def _thread_new_mail(session: Session, _context, _instances) -> None:
    pending = [m for m in session.new if isinstance(m, Message) and m.direction == "out"
               and m.channel == "email" and "email" not in (m.payload or {})]
    if not pending:
        return
    with session.no_autoflush:
        turn = _turn(session)
        for message in pending:
            headers = {**thread_headers(session, message), "turn": turn}
            message.payload = {**(message.payload or {}), "email": headers}


def turn_mail(session: Session, message: Message) -> list[Message] | None:
    """The queued outbound email rows that go out in one mail with ``message``: its turn's
    rows for the same case, oldest first, locked (PostgreSQL) so that two delivery jobs never
    send them twice. None when an older queued row of the turn carries ``message``."""
    turn = (message.payload or {}).get("email", {}).get("turn")
    if not turn:
        return [message]
    rows = session.scalars(
        select(Message).where(Message.contact_id == message.contact_id, Message.channel == "email",
                              Message.direction == "out", Message.status == OutboxStatus.QUEUED.value)
        .order_by(Message.id).with_for_update().execution_options(populate_existing=True)).all()
    group = [m for m in rows if m.complaint_id == message.complaint_id
             and (m.payload or {}).get("email", {}).get("turn") == turn]
    if not group or group[0].id != message.id:
        return None
    return group


# --- bounces --------------------------------------------------------------------------------


def carried_provider_id(mail_id: str, position: int) -> str:
    """The provider id of a row that went out inside the mail ``mail_id`` (the carrying
    row's own id is the Message-ID; provider ids are unique per channel)."""
    return f"{mail_id}#{position}"


def our_mail(session: Session, message_ids: list[str]) -> list[Message]:
    """Our outbound emails with these Message-IDs, and the rows each of them carried."""
    ids = [m for m in (clean_message_id(x) for x in message_ids) if m][:20]
    if not ids:
        return []
    return list(session.scalars(select(Message).where(
        Message.channel == "email", Message.direction == "out",
        or_(Message.provider_id.in_(ids),
            *(Message.provider_id.startswith(carried_provider_id(m, ""), autoescape=True) for m in ids)))
        .order_by(Message.id)))


def record_bounce(session: Session, bounced: Message, notice: Message, diagnostic: str,
                  note: bool = True) -> None:
    """A delivery status notification says our mail did not arrive: the outbound row fails
    and the case's timeline shows it, so an officer can reach the citizen another way
    (``note=False`` for the other rows of a mail that carried several)."""
    # A diagnostic names the address that failed ("550 5.1.1 <amina@...>: no such user"):
    # the error and the timeline keep it without the address.
    diagnostic = pii.redact(diagnostic)
    error = f"bounced: {diagnostic}"[:500]
    if bounced.status != OutboxStatus.FAILED:
        bounced.status = OutboxStatus.FAILED.value  # a bounce overrides "sent": it did not arrive
        bounced.next_attempt_at = None
    bounced.error = error
    notice.complaint_id = bounced.complaint_id
    if bounced.complaint_id and note:
        complaint = session.get(Complaint, bounced.complaint_id)
        lifecycle.note(session, complaint, lifecycle.SYSTEM,
                       f"Email to the citizen could not be delivered ({diagnostic[:200]})",
                       kind="delivery_failed", message=notice)


# --- IMAP ------------------------------------------------------------------------------------


def imap_position(session: Session, mailbox: str, uidvalidity: int) -> int:
    """The last UID already stored from this mailbox (0 after a UIDVALIDITY change)."""
    row = session.get(ImapState, mailbox)
    if row is None or row.uidvalidity != uidvalidity:
        return 0
    return row.last_uid


def save_imap_position(session: Session, mailbox: str, uidvalidity: int, last_uid: int) -> None:
    row = session.get(ImapState, mailbox)
    if row is None:
        session.add(ImapState(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=last_uid))
    else:
        row.uidvalidity, row.last_uid = uidvalidity, last_uid


# --- one-click answers -------------------------------------------------------------------------


def link_used(session: Session, nonce: str) -> bool:
    return session.get(UsedLink, nonce) is not None


def use_link(session: Session, nonce: str, complaint: Complaint, answer: str,
             message: Message | None) -> bool:
    """Mark a satisfaction request's links used; False when one was used already."""
    try:
        with session.begin_nested():
            session.add(UsedLink(nonce=nonce, complaint_id=complaint.id, answer=answer,
                                 message_id=message.id if message is not None else None))
    except IntegrityError:
        return False
    return True
