"""The data model: citizens and their addresses, conversations, messages, complaints and
their timeline, attachments, reference data and users.

Personal data (phone numbers, email addresses, names, CNIC numbers) is stored encrypted,
with an HMAC column beside what is looked up by exact value.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from storage.crypto import EncryptedText


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware on every backend: SQLite keeps no zone, so values are stored as UTC
    and given their zone back when read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Channel(enum.StrEnum):
    WEB = "web"
    WHATSAPP = "whatsapp"
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    LETTER = "letter"


class State(enum.StrEnum):
    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    AWAITING_INFO = "awaiting_info"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"
    # The complainant withdrew it before it was resolved: ended, but not "closed" (nobody
    # confirmed a resolution).
    WITHDRAWN = "withdrawn"


ENDED_STATES = (State.CLOSED.value, State.WITHDRAWN.value)
OPEN_STATES = tuple(s.value for s in State if s.value not in ENDED_STATES)


class Role(enum.StrEnum):
    OFFICER = "officer"
    DEPARTMENT_HEAD = "department_head"
    CLERK = "clerk"
    ADMIN = "admin"
    VIEWER = "viewer"


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


# --- reference data -----------------------------------------------------------------


class District(Base):
    __tablename__ = "districts"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    keypad: Mapped[int] = mapped_column(Integer, unique=True)
    division: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(80))
    name_ur: Mapped[str] = mapped_column(String(80))
    name_ps: Mapped[str] = mapped_column(String(80))
    aliases: Mapped[list] = mapped_column(JSON, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class Department(Base):
    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_ur: Mapped[str] = mapped_column(String(120))
    name_ps: Mapped[str] = mapped_column(String(120))
    keywords: Mapped[dict] = mapped_column(JSON, default=dict)
    categories: Mapped[list[Category]] = relationship(back_populates="department", order_by="Category.code")


class Category(Base):
    __tablename__ = "categories"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    name_en: Mapped[str] = mapped_column(String(160))
    name_ur: Mapped[str] = mapped_column(String(160))
    name_ps: Mapped[str] = mapped_column(String(160))
    sla_days: Mapped[int] = mapped_column(Integer)
    keywords: Mapped[dict] = mapped_column(JSON, default=dict)
    department: Mapped[Department] = relationship(back_populates="categories")


# --- people ---------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    district_code: Mapped[str | None] = mapped_column(ForeignKey("districts.code"))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Citizen(Base):
    __tablename__ = "citizens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(EncryptedText)
    cnic: Mapped[str | None] = mapped_column(EncryptedText)
    cnic_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    contacts: Mapped[list[Contact]] = relationship(back_populates="citizen")


class Contact(Base):
    """One address of a citizen on one channel: a phone number, a WhatsApp id, an email."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "address_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(EncryptedText)
    address_hash: Mapped[str] = mapped_column(String(64))
    # Simulator personas are answered in the browser, never through a real provider.
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    citizen: Mapped[Citizen] = relationship(back_populates="contacts")


# --- conversations and messages ------------------------------------------------------


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    language: Mapped[str | None] = mapped_column(String(5))
    # The engine's state: active form, requested slot, slots, pending confirmation ...
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    contact: Mapped[Contact] = relationship()


class Message(Base):
    """Every message in or out, on any channel. Inbound rows are written before the
    provider is acknowledged; outbound rows are the outbox."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        Index("ix_messages_outbox_due", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(255))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(5))
    kind: Mapped[str | None] = mapped_column(String(40))  # outbound: reply, status_update, satisfaction_request ...
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # media, location, outbound extras
    # The provider's payload as received: it holds addresses, so it is encrypted like them.
    raw: Mapped[str | None] = mapped_column(EncryptedText)
    # inbound: received -> processed | failed; outbound: queued -> sent -> delivered | failed
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    contact: Mapped[Contact] = relationship()


# --- complaints -----------------------------------------------------------------------


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_scope", "department_code", "district_code", "state"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(16), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(5), default="en")
    state: Mapped[str] = mapped_column(String(16), default=State.SUBMITTED.value)
    description: Mapped[str] = mapped_column(Text)
    district_code: Mapped[str | None] = mapped_column(ForeignKey("districts.code"))
    location_detail: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    category_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    incomplete: Mapped[bool] = mapped_column(Boolean, default=False)
    # Against a named officer or the department itself: the complainant's identity is hidden
    # from that department (migration 0006).
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    # When staff first answered the citizen (reply, question or resolution; migration 0006).
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    citizen: Mapped[Citizen] = relationship()
    contact: Mapped[Contact] = relationship()
    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id"
    )


class ComplaintEvent(Base):
    """One entry of a complaint's timeline: who did what, when, from which channel."""

    __tablename__ = "complaint_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))  # citizen | officer | admin | system | timer
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    complaint: Mapped[Complaint] = relationship(back_populates="events")


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))  # relative to the attachments folder
    filename: Mapped[str | None] = mapped_column(String(255))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
