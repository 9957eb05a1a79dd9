"""WhatsApp's 24-hour customer-service window: when did this citizen last write to us?

Free-form WhatsApp messages are allowed only within 24 hours of the citizen's last
message; outside it only an approved template may be sent. The delivery job hands the
sender an address, not a database session, so the sender reads the time here on a small
read-only engine of its own (plain reads: on SQLite they never wait for the delivery
job's write lock).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url

from storage.messages import address_hash
from storage.models import Contact, Message, utcnow

WINDOW = timedelta(hours=24)
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _engine(url: str) -> Engine:
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if make_url(url).get_backend_name() == "sqlite":
                engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            else:
                engine = create_engine(url, pool_size=2, max_overflow=2, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def last_inbound_at(database_url: str, channel: str, address: str) -> datetime | None:
    """When the contact's latest message arrived, or None if it never wrote."""
    with _engine(database_url).connect() as conn:
        contact_id = conn.scalar(select(Contact.id).where(
            Contact.channel == channel, Contact.address_hash == address_hash(address)))
        if contact_id is None:
            return None
        return conn.scalar(select(Message.received_at).where(
            Message.contact_id == contact_id, Message.direction == "in")
            .order_by(Message.received_at.desc()).limit(1))


def is_open(last: datetime | None, now: datetime | None = None) -> bool:
    return last is not None and (now or utcnow()) - last < WINDOW
