"""What email needs beyond the messages table: the IMAP poller's place in each mailbox,
the one-click answer links already used, and the thread of every outbound email.

Threads: an inbound mail's provider id starts ``in:`` + its Message-ID + ``#`` (see
channels.email.threading). Every outbound email row gets, when it is queued (whoever queues it: the
engine, an officer's action, a status update), the headers that keep it in the citizen's
thread: In-Reply-To, References, the subject and the tracking number. A before-flush hook
does it, so no caller can forget it, and a retry sends the very same headers.

Inbound mail is kept as it came, as encrypted bytes (``mail_raw``): a mail need not be
valid text in any charset.

Answer budgets: how many automatic answers went lately to one sender address and to one
connecting IP (keyed by HMAC, never in clear), so the listener cannot be made to send mail
to a forged address at will.

Turns: the hook also stamps every outbound email row with its turn, shared by all rows
queued in one transaction (a conversation turn, an officer's action). The outbox sends a
turn's rows of one case as one mail (gateway.mail_outbox), so a citizen gets one mail
per turn, not one per reply.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    bindparam,
    delete,
    event,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage import lifecycle
from storage.crypto import EncryptedBytes, lookup_hash
from storage.models import Base, Complaint, Contact, Message, OutboxStatus, UTCDateTime, utcnow

REFERENCES_CAP = 10  # the thread kept for a reply (the mail renders its own cap too)


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


class RawMail(Base):
    """An inbound mail exactly as it came (RFC 5322 bytes, 8-bit headers and all), encrypted."""

    __tablename__ = "mail_raw"
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    data: Mapped[bytes] = mapped_column(EncryptedBytes)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))


class AnswerBudget(Base):
    """Automatic answers sent for one key (a sender address, a connecting IP) in a window."""

    __tablename__ = "mail_answer_budget"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # kind:window:HMAC
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=0)


# --- Message-IDs ----------------------------------------------------------------------------


def _ids(values) -> list[str]:
    """The Message-IDs among ``values`` (the email channel stores them as ``<id@host>``)."""
    return [v for v in values if isinstance(v, str) and 2 < len(v) <= 250
            and v.startswith("<") and v.endswith(">")]


def _inbound_with_id(message_ids: list[str]):
    """A condition: an inbound mail row carries one of these Message-IDs."""
    return or_(Message.provider_id.in_([f"in:{m}" for m in message_ids]),  # stored before the digest
               *(Message.provider_id.startswith(f"in:{m}#", autoescape=True) for m in message_ids))


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
    in References/In-Reply-To, then the subject tag. A case is found only for its own
    complainant: a stranger who quotes our Message-ID (or the tag) starts a thread of their own."""
    refs = [r for r in (info.get("in_reply_to"), *reversed(info.get("references") or [])) if r]
    refs = list(dict.fromkeys(_ids(refs)))[:50]
    if refs:
        ours = session.scalars(select(Message).where(
            Message.channel == "email", Message.direction == "out",
            Message.provider_id.in_(refs))).all()
        theirs = session.scalars(select(Message).where(
            Message.channel == "email", Message.direction == "in",
            Message.contact_id == contact.id,
            _inbound_with_id(refs))).all()
        ours = [m for m in ours if m.contact_id == contact.id]  # not our mail to someone else
        for found in (ours, theirs):
            if found:
                with_case = [m for m in found if m.complaint_id]
                if with_case:
                    complaint = session.get(Complaint, max(with_case, key=lambda m: m.id).complaint_id)
                    if complaint.citizen_id != contact.citizen_id:
                        return Thread(False, None)
                    return Thread(True, complaint)
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
    mid = next(iter(_ids([info.get("message_id")])), None)
    if mid:
        headers["in_reply_to"] = mid
        headers["references"] = [*_ids(info.get("references") or []), mid][-REFERENCES_CAP:]
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
    ids = _ids(message_ids)[:20]
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


# --- the mail as it came -----------------------------------------------------------------------


def save_raw(session: Session, message_id: int, data: bytes) -> None:
    session.add(RawMail(message_id=message_id, data=data, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest()))


def raw_mail(session: Session, message_id: int) -> bytes | None:
    row = session.get(RawMail, message_id)
    return None if row is None else row.data


# --- answer budgets ---------------------------------------------------------------------------


def _budget_upsert(dialect_insert):
    table = AnswerBudget.__table__
    stmt = dialect_insert(table).values(key=bindparam("key"), window_start=bindparam("start"), count=1)
    return stmt.on_conflict_do_update(index_elements=["key"], set_={"count": table.c.count + 1}) \
        .returning(table.c.count)


_BUDGET_UPSERT = {"postgresql": _budget_upsert(pg_insert), "sqlite": _budget_upsert(sqlite_insert)}


def take_answer(session: Session, limits: list[tuple[str, str, int]], window_seconds: int,
                now: datetime | None = None) -> bool:
    """Spend one automatic answer on every (kind, value, limit) key; False when any key has
    used its limit in the current window (fixed windows of ``window_seconds``). One upsert
    per key, safe under concurrent mails of one sender."""
    now = now or utcnow()
    bucket = int(now.timestamp()) // window_seconds
    start = datetime.fromtimestamp(bucket * window_seconds, tz=UTC)
    statement = _BUDGET_UPSERT[session.get_bind().dialect.name]
    allowed, opened = True, False
    for kind, value, limit in limits:
        key = f"{kind}:{bucket}:{lookup_hash(value.strip().lower())}"[:80]
        count = session.execute(statement, {"key": key, "start": start}).scalar_one()
        allowed = allowed and count <= limit
        opened = opened or count == 1
    if opened:  # a new window: forget the ones before the last
        session.execute(delete(AnswerBudget).where(
            AnswerBudget.window_start < start - timedelta(seconds=window_seconds)))
    return allowed


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
