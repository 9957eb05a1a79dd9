"""Saved queue filters: a member of staff names the queue's current filter and finds it again
later, on any device. Each belongs to one user; nobody sees or deletes another's."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, UTCDateTime, utcnow

MAX_PER_USER = 20
# Only the queue's own filter parameters are kept (never ``page`` or ``partial``).
KEYS = ("view", "status", "district", "category", "channel", "overdue", "reopened", "escalated",
        "simulated", "q", "sort")


class SavedFilter(Base):
    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def clean_query(query: str) -> str:
    return urlencode([(k, v[:60]) for k, v in parse_qsl(query) if k in KEYS and v])[:500]


def mine(session: Session, user_id: int) -> list[SavedFilter]:
    return list(session.scalars(select(SavedFilter).where(SavedFilter.user_id == user_id)
                                .order_by(SavedFilter.name)))


def save(session: Session, user_id: int, name: str, query: str) -> SavedFilter:
    """Save (or replace, by name) one of the user's filters; raises ValueError when the name
    is empty or the user has MAX_PER_USER already."""
    name = " ".join(name.split())[:60]
    if not name:
        raise ValueError("give the filter a name")
    found = session.scalar(select(SavedFilter).where(SavedFilter.user_id == user_id,
                                                     SavedFilter.name == name))
    if found is None:
        if len(mine(session, user_id)) >= MAX_PER_USER:
            raise ValueError(f"at most {MAX_PER_USER} saved filters; delete one first")
        found = SavedFilter(user_id=user_id, name=name, query="")
        session.add(found)
    found.query = clean_query(query)
    return found


def delete(session: Session, user_id: int, filter_id: int) -> bool:
    """Delete the user's own filter; False when it is not theirs (or does not exist)."""
    found = session.get(SavedFilter, filter_id)
    if found is None or found.user_id != user_id:
        return False
    session.delete(found)
    return True
