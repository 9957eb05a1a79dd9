"""Contacts, the inbox and the outbox.

Inbound rows are unique on (channel, provider id): a provider's retry finds the row that is
already there. Outbound rows are the outbox: queued -> sent -> delivered | read | failed,
and a status only ever moves forward, since provider callbacks arrive out of order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import lifecycle
from storage.crypto import lookup_hash
from storage.models import Citizen, Complaint, Contact, Conversation, Message, OutboxStatus, utcnow

# Channels whose address is a phone number: one citizen behind the same number on each.
PHONE_CHANNELS = ("whatsapp", "sms", "voice")

# Built once: the webhook path runs them for every message.
_CONTACT_ID = select(Contact.id).where(Contact.channel == bindparam("channel"),
                                       Contact.address_hash == bindparam("digest"))
_INSERT_ONCE = {
    name: insert(Message.__table__).on_conflict_do_nothing(index_elements=["channel", "provider_id"])
    .returning(Message.__table__.c.id)
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}

_RANK = {OutboxStatus.QUEUED: 0, OutboxStatus.SENT: 1, OutboxStatus.DELIVERED: 2,
         OutboxStatus.READ: 3, OutboxStatus.FAILED: 4}


def address_hash(address: str) -> str:
    return lookup_hash(address.strip().lower())


def find_contact(session: Session, channel: str, address: str) -> Contact | None:
    return session.scalars(
        select(Contact).where(Contact.channel == channel, Contact.address_hash == address_hash(address))
    ).first()


def contact_id_for(session: Session, channel: str, address: str, *, simulated: bool = False) -> int:
    """The id of the contact for this address on this channel, created with its citizen if
    new. The webhook's hot path: one indexed look-up, nothing decrypted.

    A phone number already known on another phone channel keeps its citizen, so a complaint
    filed by WhatsApp can be confirmed by SMS from the same number.
    """
    digest = address_hash(address)
    found = session.connection().execute(_CONTACT_ID, {"channel": channel, "digest": digest}).scalar()
    if found is not None:
        return found
    citizen_id = None
    if channel in PHONE_CHANNELS:
        citizen_id = session.scalars(
            select(Contact.citizen_id).where(
                Contact.channel.in_(PHONE_CHANNELS), Contact.address_hash == digest,
                Contact.simulated == simulated)
        ).first()
    if citizen_id is None:
        citizen = Citizen()
        session.add(citizen)
        session.flush()
        citizen_id = citizen.id
    contact = Contact(citizen_id=citizen_id, channel=channel, address=address.strip(),
                      address_hash=digest, simulated=simulated)
    try:
        with session.begin_nested():
            session.add(contact)
    except IntegrityError:  # another process created it a moment ago
        return session.scalar(
            select(Contact.id).where(Contact.channel == channel, Contact.address_hash == digest))
    return contact.id


def contact_for(session: Session, channel: str, address: str, *, simulated: bool = False) -> Contact:
    """The contact for this address on this channel (see ``contact_id_for``)."""
    return session.get(Contact, contact_id_for(session, channel, address, simulated=simulated))


def store_inbound(session: Session, contact_id: int, *, channel: str, provider_id: str,
                  text: str, payload: dict, raw: str | None = None,
                  received_at: datetime | None = None,
                  language: str | None = None) -> tuple[int, bool]:
    """Store an inbound message once; a repeat of the same provider id returns the first
    row's id and False.

    One INSERT ... ON CONFLICT DO NOTHING: the webhook's hot path, safe under concurrent
    deliveries of the same message on SQLite and PostgreSQL alike.
    """
    now = utcnow()
    values = dict(direction="in", channel=channel, provider_id=provider_id, contact_id=contact_id,
                  text=text, payload=payload, raw=raw, status="received", attempts=0,
                  received_at=received_at or now, language=language, created_at=now, updated_at=now)
    connection = session.connection()  # Core, not the ORM: this is the hot path
    new_id = connection.execute(_INSERT_ONCE[connection.dialect.name], values).scalar()
    if new_id is not None:
        return new_id, True
    return session.scalar(select(Message.id).where(
        Message.channel == channel, Message.provider_id == provider_id)), False


def conversation_for(session: Session, contact_id: int) -> Conversation:
    """The contact's conversation (its state carries the dialogue), started if new."""
    conversation = session.scalars(
        select(Conversation).where(Conversation.contact_id == contact_id)).first()
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
                   channel: str | None = None) -> Message:
    """Put a message in the outbox; a delivery job picks it up."""
    message = Message(direction="out", channel=channel or contact.channel, contact_id=contact.id,
                      conversation_id=conversation_id, complaint_id=complaint_id, text=text,
                      kind=kind, language=language, payload=extras or {},
                      status=OutboxStatus.QUEUED.value, next_attempt_at=utcnow())
    session.add(message)
    return message


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
        message.error = error
    message.next_attempt_at = None
    return True


def retry_later(message: Message, error: str, max_attempts: int,
                base_seconds: float = 5.0, cap_seconds: float = 3600.0) -> datetime | None:
    """Count a failed attempt; schedule the next with growing delays, or fail for good."""
    message.attempts += 1
    message.error = error
    if message.attempts >= max_attempts:
        message.status = OutboxStatus.FAILED.value
        message.next_attempt_at = None
        return None
    delay = min(cap_seconds, base_seconds * 2 ** (message.attempts - 1))
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    return message.next_attempt_at


def due_outbound(session: Session, limit: int = 500, before: datetime | None = None) -> list[int]:
    """Outbox rows whose next attempt was due before ``before`` (default now)."""
    return list(session.scalars(
        select(Message.id).where(Message.direction == "out",
                                 Message.status == OutboxStatus.QUEUED.value,
                                 Message.next_attempt_at <= (before or utcnow()))
        .order_by(Message.next_attempt_at).limit(limit)))


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
