"""How urgent each open complaint is, as analytics/urgency.py assessed it.

One row per complaint, kept apart from the complaints table (written by a background sweep,
read by the queue and the case page). The words are the complaint's own words that drove
the score, shown only where the complaint itself may be seen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import ENDED_STATES, Base, Complaint, ComplaintEvent, UTCDateTime, utcnow


class ComplaintUrgency(Base):
    __tablename__ = "complaint_urgency"
    __table_args__ = (Index("ix_complaint_urgency_rank", "urgent", "score"),)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    urgent: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    words: Mapped[list] = mapped_column(JSON, default=list)
    signals: Mapped[list] = mapped_column(JSON, default=list)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    # How many times the citizen had sent the case back when it was assessed: a new
    # rejection makes the row stale and the sweep assesses again.
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    model_version: Mapped[str] = mapped_column(String(80))
    # The tone of the citizen's latest not-satisfied reason ("upset" or "calm"), if any.
    tone: Mapped[str | None] = mapped_column(String(8))
    tone_words: Mapped[list] = mapped_column(JSON, default=list)
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def _rejections():
    return (select(ComplaintEvent.complaint_id, func.count().label("n"))
            .where(ComplaintEvent.kind == "reject_resolution")
            .group_by(ComplaintEvent.complaint_id).subquery())


def pending(session: Session, limit: int = 200) -> list[tuple[int, str, int, str | None]]:
    """(complaint id, description, times sent back, the latest not-satisfied reason) of open
    complaints never assessed or sent back since they were, oldest first."""
    rejected = _rejections()
    times = func.coalesce(rejected.c.n, 0)
    rows = session.execute(
        select(Complaint.id, Complaint.description, times)
        .outerjoin(rejected, rejected.c.complaint_id == Complaint.id)
        .outerjoin(ComplaintUrgency, ComplaintUrgency.complaint_id == Complaint.id)
        .where(Complaint.state.not_in(ENDED_STATES),
               (ComplaintUrgency.complaint_id.is_(None)) | (ComplaintUrgency.reopened < times))
        .order_by(Complaint.id).limit(limit))
    found = [(i, d or "", int(n)) for i, d, n in rows]
    reasons = {}
    sent_back = [i for i, _, n in found if n]
    if sent_back:
        for complaint_id, note in session.execute(
                select(ComplaintEvent.complaint_id, ComplaintEvent.note)
                .where(ComplaintEvent.kind == "reject_resolution",
                       ComplaintEvent.complaint_id.in_(sent_back))
                .order_by(ComplaintEvent.id)):
            reasons[complaint_id] = note or reasons.get(complaint_id)
    return [(i, d, n, reasons.get(i)) for i, d, n in found]


def record(session: Session, complaint_id: int, *, urgent: bool, score: float, words, signals,
           reasons, reopened: int, model_version: str, tone: str | None = None,
           tone_words=()) -> None:
    row = session.get(ComplaintUrgency, complaint_id) or ComplaintUrgency(complaint_id=complaint_id)
    row.tone, row.tone_words = tone, list(tone_words)
    row.urgent, row.score, row.reopened = urgent, score, reopened
    row.words, row.signals, row.reasons = list(words), list(signals), list(reasons)
    row.model_version, row.assessed_at = model_version[:80], utcnow()
    session.add(row)


def of(session: Session, complaint_ids) -> dict[int, ComplaintUrgency]:
    ids = list(complaint_ids)
    if not ids:
        return {}
    rows = session.scalars(select(ComplaintUrgency).where(ComplaintUrgency.complaint_id.in_(ids)))
    return {r.complaint_id: r for r in rows}
