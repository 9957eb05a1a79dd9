"""Live updates for the queue and the case page: has anything the page shows changed since
the page's marks (the newest message id and the newest change time it has seen)?

One statement per check, answered from indexes only (messages' primary key,
``ix_complaints_updated_at``, ``messages.complaint_id``) and only over rows newer than the
marks, so a page with nothing new costs one tiny query a tick however large the tables are.
The marks travel to the browser as the server-sent event id and come back on reconnection
(``Last-Event-ID``), so nothing that happened while the page was disconnected is missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Complaint, Message, utcnow
from storage.scope import visible

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Marks:
    """Where a live page is: the newest message id and the newest change time it has seen."""

    message_id: int
    changed_at: datetime

    def token(self) -> str:
        """As the event id the browser sends back on reconnection: ``<message id>-<µs>``."""
        micros = (self.changed_at - _EPOCH) // _MICROSECOND
        return f"{self.message_id}-{micros}"

    @classmethod
    def from_token(cls, token: str | None) -> Marks | None:
        """The marks in ``token``, or None when it is missing or not one of ours (an old
        page, a hand-made address): the caller then starts from now."""
        if not token:
            return None
        message_id, _, micros = token.strip().partition("-")
        if not (message_id.isdigit() and micros.isdigit()) or len(token) > 40:
            return None
        try:
            changed_at = _EPOCH + int(micros) * _MICROSECOND
        except OverflowError:
            return None
        return cls(int(message_id), changed_at)

    @classmethod
    def now(cls, session: Session) -> Marks:
        """The marks of a page rendered now."""
        return cls(session.scalar(select(func.max(Message.id))) or 0, utcnow())



def activity_query(user, marks: Marks, complaint_id: int | None = None):
    """One statement giving the newest message id and the newest change time after ``marks``
    in ``user``'s scope, or on one complaint (NULL for each where nothing is newer).

    Changes counted: a new message on a complaint, any change to a complaint (its
    ``updated_at`` moves with every state change, escalation or stamp) and, on a case page,
    a delivery status update of one of its messages.
    """
    # A case page may be an unsorted complaint's (triage): it is in scope there.
    one = complaint_id is not None
    messages = visible(select(func.max(Message.id)).join(Complaint, Complaint.id == Message.complaint_id),
                       user, unsorted=one).where(Message.id > marks.message_id)
    updates = visible(select(func.max(Complaint.updated_at)), user, unsorted=one).where(
        Complaint.updated_at > marks.changed_at)
    if complaint_id is None:
        return select(messages.scalar_subquery(), updates.scalar_subquery())
    statuses = select(func.max(Message.updated_at)).where(Message.complaint_id == complaint_id,
                                                          Message.updated_at > marks.changed_at)
    return select(messages.where(Complaint.id == complaint_id).scalar_subquery(),
                  updates.where(Complaint.id == complaint_id).scalar_subquery(),
                  statuses.scalar_subquery())


def activity(session: Session, user, marks: Marks, complaint_id: int | None = None) -> tuple[Marks, bool]:
    """The page's new marks, and whether anything it shows changed since ``marks``."""
    newest_message, *changes = session.execute(activity_query(user, marks, complaint_id)).one()
    changed_at = [c for c in changes if c is not None]
    if newest_message is None and not changed_at:
        return marks, False
    return Marks(newest_message or marks.message_id, max([marks.changed_at, *changed_at])), True
