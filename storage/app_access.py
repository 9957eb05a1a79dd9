"""Who may use the open APIs: citizens' one-time codes and app sessions, Open311 client keys.

Secrets (codes, session tokens, API keys) are never stored: only their HMAC (the data key's
``lookup_hash``), so a copy of the database signs no one in.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.crypto import lookup_hash
from storage.models import Base, Contact, UTCDateTime, utcnow

CODE_LIFETIME = timedelta(minutes=10)
CODE_WINDOW = timedelta(minutes=15)
CODES_PER_WINDOW = 3  # codes sent to one address per window: a phone is not an SMS cannon
CODES_PER_REQUESTER = 10  # codes asked from one network address per window, to any numbers
ATTEMPTS_PER_CODE = 5
SESSION_LIFETIME = timedelta(days=30)
SESSION_PREFIX = "cit_"
KEY_PREFIX = "o311_"


class OneTimeCode(Base):
    """A sign-in code sent to one address (a phone number or email) on one channel."""

    __tablename__ = "one_time_codes"
    __table_args__ = (Index("ix_one_time_codes_address", "address_hash", "created_at"),
                      Index("ix_one_time_codes_requester", "requester_hash", "created_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address_hash: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    # Who asked (the HMAC of their network address): one client cannot send codes to
    # thousands of numbers.
    requester_hash: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AppSession(Base):
    """A citizen signed in to the app: the bearer token's hash, and the citizen's app contact
    (channel ``app``) that the app's messages are stored under."""

    __tablename__ = "app_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    # The address the code went to: where one-time messages (and a lost app) reach them.
    code_contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Open311Key(Base):
    """An Open311 client (a civic-tech app) allowed to file requests."""

    __tablename__ = "open311_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def secret_hash(secret: str) -> str:
    return lookup_hash("secret:" + secret.strip())


# --- one-time codes -------------------------------------------------------------------------


class TooManyCodes(Exception):
    """Too many codes were sent to this address lately; ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many codes for this address; try again later")
        self.retry_after = retry_after


def issue_code(session: Session, channel: str, address_hash: str, contact_id: int,
               requester: str | None = None) -> str:
    """A new six-digit code for the address (its hash stored), or TooManyCodes when the
    address, or whoever asks, had enough codes lately."""
    since = utcnow() - CODE_WINDOW
    requester_hash = secret_hash("requester:" + requester) if requester else None
    limits = [(OneTimeCode.address_hash == address_hash, CODES_PER_WINDOW)]
    if requester_hash:
        limits.append((OneTimeCode.requester_hash == requester_hash, CODES_PER_REQUESTER))
    for condition, most in limits:
        recent = list(session.scalars(select(OneTimeCode.created_at).where(
            condition, OneTimeCode.created_at >= since).order_by(OneTimeCode.created_at)))
        if len(recent) >= most:
            wait = (recent[-most] + CODE_WINDOW - utcnow()).total_seconds()
            raise TooManyCodes(max(1, int(wait) + 1))
    code = f"{secrets.randbelow(10**6):06d}"
    now = utcnow()
    session.add(OneTimeCode(channel=channel, address_hash=address_hash, contact_id=contact_id,
                            code_hash=secret_hash(f"{address_hash}:{code}"), attempts=0,
                            requester_hash=requester_hash, created_at=now, expires_at=now + CODE_LIFETIME))
    session.flush()
    return code


def check_code(session: Session, address_hash: str, code: str) -> OneTimeCode | None:
    """The unused, unexpired code row the citizen typed, marked used; None when wrong.

    Every wrong try counts against the address's live codes, so guessing six digits
    stops after a few tries."""
    now = utcnow()
    live = list(session.scalars(select(OneTimeCode).where(
        OneTimeCode.address_hash == address_hash, OneTimeCode.used_at.is_(None),
        OneTimeCode.expires_at > now, OneTimeCode.attempts < ATTEMPTS_PER_CODE)
        .order_by(OneTimeCode.id.desc()).with_for_update()))
    wanted = secret_hash(f"{address_hash}:{code.strip()}")
    for row in live:
        if secrets.compare_digest(row.code_hash, wanted):
            row.used_at = now
            return row
    for row in live:
        row.attempts += 1
    return None


# --- app sessions ---------------------------------------------------------------------------


def open_session(session: Session, citizen_id: int, contact_id: int, code_contact_id: int) -> str:
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session.add(AppSession(token_hash=secret_hash(token), citizen_id=citizen_id, contact_id=contact_id,
                           code_contact_id=code_contact_id, created_at=now,
                           expires_at=now + SESSION_LIFETIME, revoked=False))
    return token


def find_session(session: Session, token: str) -> AppSession | None:
    if not token.startswith(SESSION_PREFIX):
        return None
    row = session.scalars(select(AppSession).where(AppSession.token_hash == secret_hash(token))).first()
    if row is None or row.revoked or row.expires_at <= utcnow():
        return None
    return row


def end_session(session: Session, token: str) -> bool:
    """Sign the app out: the token stops working at once (False if it already had)."""
    row = find_session(session, token)
    if row is None:
        return False
    row.revoked = True
    return True


# --- Open311 keys ---------------------------------------------------------------------------


def create_key(session: Session, name: str) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    session.add(Open311Key(name=name, key_hash=secret_hash(key), active=True))
    return key


def find_key(session: Session, key: str) -> Open311Key | None:
    if not key:
        return None
    row = session.scalars(select(Open311Key).where(Open311Key.key_hash == secret_hash(key))).first()
    return row if row is not None and row.active else None


def codes_sent(session: Session, address_hash: str) -> int:
    """How many codes this address was sent (tests and the rate limit's report)."""
    return session.scalar(select(func.count(OneTimeCode.id)).where(
        OneTimeCode.address_hash == address_hash)) or 0


def app_contact(session: Session, citizen_id: int) -> Contact:
    """The citizen's contact on channel ``app``: what they send from the app is stored under
    it, and what officers write to a complaint filed in the app is read there."""
    address = f"app:{citizen_id}"
    digest = lookup_hash(address)
    contact = session.scalars(select(Contact).where(Contact.channel == "app",
                                                    Contact.address_hash == digest)).first()
    if contact is None:
        contact = Contact(citizen_id=citizen_id, channel="app", address=address, address_hash=digest,
                          simulated=False, opted_out=False)
        session.add(contact)
        session.flush()
    return contact
