"""Contacts, the inbox and the outbox.

Inbound rows are unique on (channel, provider id): a provider's retry finds the row that is
already there. Outbound rows are the outbox: queued -> sent -> delivered | read | failed,
and a status only ever moves forward, since provider callbacks arrive out of order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Text, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from storage import lifecycle, pii
from storage.crypto import lookup_hash, vault
from storage.models import Citizen, Complaint, Contact, Conversation, Message, OutboxStatus, utcnow

# Channels whose address is a phone number: one citizen behind the same number on each.
PHONE_CHANNELS = ("whatsapp", "sms", "voice")

# Built once: the webhook path runs them for every message.
_CONTACT_ID = select(Contact.id).where(Contact.channel == bindparam("channel"),
                                       Contact.address_hash == bindparam("digest"))
_PHONE_CITIZEN = (select(Contact.citizen_id)
                  .where(Contact.channel.in_(PHONE_CHANNELS), Contact.address_hash == bindparam("digest"),
                         Contact.simulated == bindparam("simulated")).limit(1))
_NEW_CITIZEN = insert(Citizen.__table__).returning(Citizen.__table__.c.id)
_NEW_CONTACT = insert(Contact.__table__).returning(Contact.__table__.c.id)
_CONVERSATION = select(Conversation).where(Conversation.contact_id == bindparam("contact_id"))
_MESSAGE_ID = select(Message.id).where(Message.channel == bindparam("channel"),
                                       Message.provider_id == bindparam("provider_id"))
_OUTBOX_INSERT = insert(Message.__table__).returning(Message.__table__.c.id, sort_by_parameter_order=True)
_TURN_DONE = (update(Message.__table__).where(Message.__table__.c.id == bindparam("m_id"))
              .values(conversation_id=bindparam("m_conversation"), language=bindparam("m_language"),
                      status=bindparam("m_status"), complaint_id=bindparam("m_complaint"),
                      updated_at=bindparam("m_updated")))
_CONVERSATION_SAVE = (update(Conversation.__table__).where(Conversation.__table__.c.id == bindparam("c_id"))
                      .values(state=bindparam("c_state"), language=bindparam("c_language"),
                              last_inbound_at=bindparam("c_last_inbound"), updated_at=bindparam("c_updated")))
# ``raw`` is bound as sealed text (see seal_raw): it is encrypted before the statement runs,
# so a caller can do it before taking SQLite's write lock.
_INSERT_ONCE = {
    name: insert(Message.__table__).values(raw=bindparam("raw", type_=Text()))
    .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
    .returning(Message.__table__.c.id)
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}


def _insert_for_known_contact(dialect_insert):
    """INSERT ... SELECT: the message under the contact of (channel, address hash), in one
    statement; no row when the contact is not known yet, or the message is a repeat."""
    m, c = Message.__table__, Contact.__table__
    fields = ("direction", "channel", "provider_id", "text", "language", "payload", "status",
              "attempts", "received_at", "created_at", "updated_at")
    columns = [bindparam(name, type_=m.c[name].type) for name in fields]
    source = select(*columns, c.c.id, bindparam("raw", type_=Text())).where(
        c.c.channel == bindparam("channel"), c.c.address_hash == bindparam("digest"))
    return (dialect_insert(m).from_select([*fields, "contact_id", "raw"], source)
            .on_conflict_do_nothing(index_elements=["channel", "provider_id"]).returning(m.c.id))


_INSERT_FOR_KNOWN_CONTACT = {name: _insert_for_known_contact(insert)
                             for name, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))}

_RANK = {OutboxStatus.QUEUED: 0, OutboxStatus.SENDING: 0.5, OutboxStatus.SENT: 1,
         OutboxStatus.DELIVERED: 2, OutboxStatus.READ: 3, OutboxStatus.FAILED: 4}
_M = Message.__table__
# The delivery job's claim: only one job can move a row from queued to sending.
_CLAIM = (update(_M).where(_M.c.id == bindparam("m_id"), _M.c.direction == "out",
                           _M.c.status == OutboxStatus.QUEUED.value)
          .values(status=OutboxStatus.SENDING.value, updated_at=bindparam("m_now"),
                  idempotency_key=func.coalesce(_M.c.idempotency_key, bindparam("m_key"))))
# Recovery of a row left in sending (its worker died): only one job takes it over.
_RECLAIM = (update(_M).where(_M.c.id == bindparam("m_id"), _M.c.status == OutboxStatus.SENDING.value,
                             _M.c.updated_at < bindparam("m_stale"))
            .values(updated_at=bindparam("m_now")))


def address_hash(address: str) -> str:
    return lookup_hash(address.strip().lower())


def find_contact(session: Session, channel: str, address: str) -> Contact | None:
    return session.scalars(
        select(Contact).where(Contact.channel == channel, Contact.address_hash == address_hash(address))
    ).first()


def contact_id_for(session: Session | Connection, channel: str, address: str, *,
                   simulated: bool = False, digest: str | None = None) -> int:
    """The id of the contact for this address on this channel, created with its citizen if
    new. The webhook's hot path: one indexed look-up, nothing decrypted; Core statements
    built once, so it runs on a Session's connection or on a bare Connection alike.

    A phone number already known on another phone channel keeps its citizen, so a complaint
    filed by WhatsApp can be confirmed by SMS from the same number. ``digest`` is
    ``address_hash(address)`` when the caller has it already.
    """
    connection = session.connection() if isinstance(session, Session) else session
    digest = digest or address_hash(address)
    found = connection.execute(_CONTACT_ID, {"channel": channel, "digest": digest}).scalar()
    if found is not None:
        return found
    citizen_id = None
    if channel in PHONE_CHANNELS:
        citizen_id = connection.execute(_PHONE_CITIZEN, {"digest": digest, "simulated": simulated}).scalar()
    if citizen_id is None:
        citizen_id = connection.execute(_NEW_CITIZEN, {"created_at": utcnow()}).scalar_one()
    try:
        with connection.begin_nested():
            return connection.execute(_NEW_CONTACT, {
                "citizen_id": citizen_id, "channel": channel, "address": address.strip(),
                "address_hash": digest, "simulated": simulated, "opted_out": False,
                "created_at": utcnow()}).scalar_one()
    except IntegrityError:  # another process created it a moment ago
        return connection.execute(_CONTACT_ID, {"channel": channel, "digest": digest}).scalar_one()


def contact_for(session: Session, channel: str, address: str, *, simulated: bool = False) -> Contact:
    """The contact for this address on this channel (see ``contact_id_for``)."""
    return session.get(Contact, contact_id_for(session, channel, address, simulated=simulated))


class Sealed(str):
    """Text already encrypted for an EncryptedText column."""


def seal_raw(raw: str | None) -> Sealed | None:
    """A provider payload encrypted for the messages table's ``raw`` column (what
    EncryptedText would do, done early: outside the transaction, on the webhook's path)."""
    return None if raw is None else Sealed(vault().encrypt(raw))


def store_inbound(session: Session | Connection, contact_id: int, *, channel: str, provider_id: str,
                  text: str, payload: dict, raw: str | Sealed | None = None,
                  received_at: datetime | None = None,
                  language: str | None = None) -> tuple[int, bool]:
    """Store an inbound message once; a repeat of the same provider id returns the first
    row's id and False.

    One INSERT ... ON CONFLICT DO NOTHING: the webhook's hot path, safe under concurrent
    deliveries of the same message on SQLite and PostgreSQL alike. ``raw`` is encrypted
    here unless it comes sealed already (``seal_raw``).
    """
    now = utcnow()
    values = dict(direction="in", channel=channel, provider_id=provider_id, contact_id=contact_id,
                  text=text, payload=payload, raw=raw if raw is None or isinstance(raw, Sealed) else seal_raw(raw),
                  status="received", attempts=0, received_at=received_at or now, language=language,
                  created_at=now, updated_at=now)
    # Core, not the ORM: this is the hot path
    connection = session.connection() if isinstance(session, Session) else session
    new_id = connection.execute(_INSERT_ONCE[connection.dialect.name], values).scalar()
    if new_id is not None:
        return new_id, True
    return connection.execute(_MESSAGE_ID, {"channel": channel, "provider_id": provider_id}).scalar(), False


def store_from_known_contact(session: Session | Connection, digest: str, *, channel: str,
                             provider_id: str, text: str, payload: dict, raw: Sealed | None = None,
                             received_at: datetime | None = None,
                             language: str | None = None) -> int | None:
    """The webhook's common case in one statement: a new message from a contact we know.
    Returns the new row's id, or None when the contact is not known yet or the message is
    a repeat (``contact_id_for`` and ``store_inbound`` then settle it)."""
    now = utcnow()
    connection = session.connection() if isinstance(session, Session) else session
    return connection.execute(_INSERT_FOR_KNOWN_CONTACT[connection.dialect.name], {
        "direction": "in", "channel": channel, "provider_id": provider_id, "text": text,
        "language": language, "payload": payload, "status": "received", "attempts": 0,
        "received_at": received_at or now, "created_at": now, "updated_at": now,
        "digest": digest, "raw": raw}).scalar()


def conversation_for(session: Session, contact_id: int) -> Conversation:
    """The contact's conversation (its state carries the dialogue), started if new."""
    conversation = session.scalars(_CONVERSATION, {"contact_id": contact_id}).first()
    if conversation is None:
        conversation = Conversation(contact_id=contact_id, state={})
        session.add(conversation)
        session.flush()
    return conversation


def insert_inbound(session: Session, contact: Contact, **fields) -> tuple[Message, bool]:
    """``store_inbound`` for callers that want the row itself."""
    message_id, new = store_inbound(session, contact.id, **fields)
    return session.get(Message, message_id), new


def queue_outbound(session: Session, contact: Contact, text: str, *, kind: str = "reply",
                   conversation_id: int | None = None, complaint_id: int | None = None,
                   language: str | None = None, extras: dict | None = None,
                   channel: str | None = None, full_text: str | None = None) -> Message:
    """Put a message in the outbox; a delivery job picks it up. A text that carries the
    citizen's personal data comes twice: ``text`` redacted (kept in clear) and
    ``full_text``, what is sent (kept only encrypted, see ``Message.body``)."""
    message = Message(direction="out", channel=channel or contact.channel, contact_id=contact.id,
                      conversation_id=conversation_id, complaint_id=complaint_id, text=text,
                      kind=kind, language=language, payload=extras or {}, raw=full_text,
                      status=OutboxStatus.QUEUED.value, next_attempt_at=utcnow())
    session.add(message)
    return message


def queue_outbound_ids(session: Session, contact: Contact, replies: list[dict], *,
                       conversation_id: int | None = None, complaint_id: int | None = None,
                       language: str | None = None, turn_of: int | None = None) -> list[int]:
    """``queue_outbound`` for a turn's replies (each a dict of ``text``, ``kind``,
    ``extras``): the outbox row ids, in order, from one multi-row INSERT.

    Email rows go through the ORM instead: storage.mail's before-flush hook stamps their
    thread headers and turn, and it sees only ORM objects.
    """
    # The turn that produced them (``finish_turn`` notes it): its replies' idempotency keys,
    # unique, so a turn that somehow ran twice cannot put a second set in the outbox.
    turn_of = turn_of or session.info.pop("turn_of", None)
    keys = [f"turn:{turn_of}:{n}" if turn_of else None for n in range(len(replies))]
    if not replies:
        return []
    if contact.channel == "email":
        rows = [queue_outbound(session, contact, r["text"], kind=r["kind"], conversation_id=conversation_id,
                               complaint_id=complaint_id, language=language, extras=r.get("extras"),
                               full_text=r.get("full_text"))
                for r in replies]
        for row, key in zip(rows, keys, strict=True):
            row.idempotency_key = key
        session.flush()
        return [m.id for m in rows]
    now = utcnow()
    values = [{"direction": "out", "channel": contact.channel, "provider_id": None,
               "contact_id": contact.id, "conversation_id": conversation_id,
               "complaint_id": complaint_id, "text": r["text"], "language": language,
               "kind": r["kind"], "payload": r.get("extras") or {}, "raw": r.get("full_text"),
               "status": OutboxStatus.QUEUED.value, "attempts": 0, "next_attempt_at": now,
               "error": None, "received_at": None, "created_at": now, "updated_at": now,
               "idempotency_key": key}
              for r, key in zip(replies, keys, strict=True)]
    return list(session.connection().execute(_OUTBOX_INSERT, values).scalars())


def finish_turn(session: Session, conversation: Conversation, message: Message, *, state: dict,
                language: str, last_inbound_at: datetime) -> None:
    """Write what a turn changed in its conversation and inbound message: two UPDATEs on
    Core (built once), and the loaded objects told the new values, so the session neither
    writes them again nor serves stale ones to the next turn in the same transaction.

    Whatever else the turn changed through the ORM is flushed first (a complaint filed
    the row points at must exist before it)."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    session.info["turn_of"] = message.id  # the replies' keys (queue_outbound_ids)
    connection = session.connection()
    now = utcnow()
    connection.execute(_CONVERSATION_SAVE, {"c_id": conversation.id, "c_state": state, "c_language": language,
                                            "c_last_inbound": last_inbound_at, "c_updated": now})
    connection.execute(_TURN_DONE, {"m_id": message.id, "m_conversation": conversation.id,
                                    "m_language": language, "m_status": "processed",
                                    "m_complaint": message.complaint_id, "m_updated": now})
    for obj, values in ((conversation, {"state": state, "language": language,
                                        "last_inbound_at": last_inbound_at, "updated_at": now}),
                        (message, {"conversation_id": conversation.id, "language": language,
                                   "status": "processed", "updated_at": now})):
        for key, value in values.items():
            set_committed_value(obj, key, value)


def advance_status(message: Message, status: str, *, provider_id: str | None = None,
                   error: str | None = None) -> bool:
    """Move an outbound message's status forward only; returns whether it changed."""
    new = OutboxStatus(status)
    if _RANK[new] <= _RANK[OutboxStatus(message.status)]:
        return False
    message.status = new.value
    if provider_id:
        message.provider_id = provider_id
    if error:
        message.error = pii.redact(error)  # a provider's error may name the address
    message.next_attempt_at = None
    return True


def retry_later(message: Message, error: str, max_attempts: int,
                base_seconds: float = 5.0, cap_seconds: float = 3600.0) -> datetime | None:
    """Count a failed attempt; schedule the next with growing delays, or fail for good."""
    message.attempts += 1
    message.error = pii.redact(error)
    if message.attempts >= max_attempts:
        message.status = OutboxStatus.FAILED.value
        message.next_attempt_at = None
        return None
    delay = min(cap_seconds, base_seconds * 2 ** (message.attempts - 1))
    message.status = OutboxStatus.QUEUED.value  # from sending: the next attempt claims it again
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    return message.next_attempt_at


def due_outbound(session: Session, limit: int = 500, before: datetime | None = None) -> list[int]:
    """Outbox rows whose next attempt was due before ``before`` (default now)."""
    return list(session.scalars(
        select(Message.id).where(Message.direction == "out",
                                 Message.status == OutboxStatus.QUEUED.value,
                                 Message.next_attempt_at <= (before or utcnow()))
        .order_by(Message.next_attempt_at).limit(limit)))


def claim_outbound(session: Session, message_id: int) -> str | None:
    """Move a queued outbox row to sending, and return its idempotency key; None when
    another job has it (or it is no longer queued). Committed before the provider is
    called, so no transaction is held across the HTTP request."""
    done = session.connection().execute(_CLAIM, {"m_id": message_id, "m_now": utcnow(),
                                                 "m_key": f"out:{message_id}"})
    if done.rowcount != 1:
        return None
    return session.connection().execute(select(_M.c.idempotency_key).where(_M.c.id == message_id)).scalar()


def reclaim_stuck(session: Session, message_id: int, stale_before: datetime) -> bool:
    """Take over a row left in sending since before ``stale_before``; one job wins."""
    done = session.connection().execute(_RECLAIM, {"m_id": message_id, "m_stale": stale_before,
                                                   "m_now": utcnow()})
    return done.rowcount == 1


def stuck_sending(session: Session, before: datetime, limit: int = 500) -> list[int]:
    """Outbox rows claimed for sending before ``before`` and never settled (a worker died
    between the provider's answer and recording it)."""
    return list(session.scalars(
        select(Message.id).where(Message.direction == "out", Message.status == OutboxStatus.SENDING.value,
                                 Message.updated_at < before).order_by(Message.id).limit(limit)))


def dead_letters(session: Session, complaint_id: int | None = None, limit: int = 200) -> list[Message]:
    """Outbound messages that failed their last attempt, newest first (an operator's list,
    or one case's)."""
    query = select(Message).where(Message.direction == "out", Message.status == OutboxStatus.FAILED.value)
    if complaint_id is not None:
        query = query.where(Message.complaint_id == complaint_id)
    return list(session.scalars(query.order_by(Message.id.desc()).limit(limit)))


def requeue_failed(session: Session, message: Message) -> bool:
    """Give a dead letter another round of attempts (an operator's retry)."""
    if message.direction != "out" or message.status != OutboxStatus.FAILED.value:
        return False
    message.status = OutboxStatus.QUEUED.value
    message.attempts, message.error, message.next_attempt_at = 0, None, utcnow()
    return True


def note_undelivered(session: Session, message: Message, detail: str | None = None) -> None:
    """A message about a case that did not reach the citizen is shown on the case's timeline,
    so an officer can reach them another way (replies in a chat are not case events)."""
    if message.complaint_id is None or message.kind in (None, "reply"):
        return
    complaint = session.get(Complaint, message.complaint_id)
    lifecycle.note(session, complaint, lifecycle.SYSTEM,
                   f"The {message.kind.replace('_', ' ')} did not reach the citizen by "
                   f"{message.channel}: {detail or message.error or 'failed'}",
                   kind="delivery_failed", message=message)
