"""Issue clusters (complaints that report the same problem) and spike alerts.

Written by analytics only. They hold tracking numbers, ids, codes and counts: no names,
addresses or message text, so any reader allowed to see the complaints may see them.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from storage.crypto import EncryptedText
from storage.models import Base, Complaint, UTCDateTime, utcnow


class IssueCluster(Base):
    """Likely duplicates: complaints of one district and category about one place."""

    __tablename__ = "issue_clusters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str | None] = mapped_column(ForeignKey("districts.code"), index=True)
    category_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    # "open" while it gathers complaints; an officer may later confirm or split it.
    status: Mapped[str] = mapped_column(String(16), default="open")
    model_version: Mapped[str] = mapped_column(String(40))
    # Why: the best similarity seen and the character n-grams the complaints share.
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    members: Mapped[list[ClusterMember]] = relationship(
        back_populates="cluster", order_by="ClusterMember.id", cascade="all, delete-orphan")

    @property
    def tracking_numbers(self) -> list[str]:
        return [m.tracking_number for m in self.members]


class ClusterMember(Base):
    __tablename__ = "cluster_members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("issue_clusters.id"), index=True)
    # A complaint belongs to at most one cluster.
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), unique=True)
    tracking_number: Mapped[str] = mapped_column(String(16))
    # Similarity to the member it matched when it joined (1.0 for the first one).
    similarity: Mapped[float] = mapped_column(Float, default=1.0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cluster: Mapped[IssueCluster] = relationship(back_populates="members")


class SpikeAlert(Base):
    """Complaints of one district and category on one day far above their usual count."""

    __tablename__ = "spike_alerts"
    __table_args__ = (UniqueConstraint("day", "district_code", "category_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    ratio: Mapped[float] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text)
    model_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the subscribed staff were mailed about it (once per alert; migration 0021).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StaffSubscription(Base):
    """A member of staff's work address for spike alerts and the weekly report. Their
    scope decides what they receive: a department head their department's, a province
    viewer or admin the province's."""

    __tablename__ = "staff_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    email: Mapped[str] = mapped_column(EncryptedText)
    spike_alerts: Mapped[bool] = mapped_column(Boolean, default=True)
    weekly_report: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- writing (analytics decides, this module writes) ----------------------------------------

CONFIRMED, OPEN = "confirmed", "open"


def lock_series(session: Session, district_code: str | None, category_code: str | None) -> None:
    """Serialize clustering within one district and category (two complaints filed at once
    must not each start a cluster with the same earlier complaint). SQLite's writers are
    serialized already."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"cluster:{district_code}:{category_code}".encode()) - 2**31
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def cluster_of(session: Session, complaint_id: int) -> IssueCluster | None:
    member = session.scalar(select(ClusterMember).where(ClusterMember.complaint_id == complaint_id))
    return member.cluster if member is not None else None


def join(session: Session, complaint: Complaint, match, score: float,
         reason: dict, model_version: str) -> IssueCluster:
    """Put ``complaint`` in the cluster of ``match`` (a complaint, or a row with its id and
    tracking number), starting one with ``match`` when it has none; the best score seen and
    its explanation stay on the cluster."""
    cluster = cluster_of(session, match.id)
    if cluster is None:
        cluster = IssueCluster(district_code=complaint.district_code,
                               category_code=complaint.category_code, model_version=model_version,
                               score=0.0, reason={})
        session.add(cluster)
        cluster.members.append(ClusterMember(complaint_id=match.id,
                                             tracking_number=match.tracking_number, similarity=1.0))
    cluster.members.append(ClusterMember(complaint_id=complaint.id,
                                         tracking_number=complaint.tracking_number,
                                         similarity=round(score, 3)))
    if score >= cluster.score:
        cluster.score = round(score, 3)
        cluster.reason = reason
    cluster.model_version = model_version
    session.flush()
    return cluster


def confirm(session: Session, cluster: IssueCluster, user_id: int) -> None:
    """An officer says these complaints are one problem: later complaints still join it."""
    cluster.status = CONFIRMED
    cluster.reason = {**(cluster.reason or {}), "confirmed_by": user_id}


def split(session: Session, cluster: IssueCluster, complaint_ids: list[int], user_id: int) -> int:
    """Take complaints out of a cluster (an officer says they are another problem); a
    cluster left with one complaint is dissolved. Returns how many left."""
    leaving = [m for m in cluster.members if m.complaint_id in set(complaint_ids)]
    for member in leaving:
        cluster.members.remove(member)
    cluster.reason = {**(cluster.reason or {}), "split_by": user_id}
    session.flush()
    if len(cluster.members) < 2:
        for member in list(cluster.members):
            cluster.members.remove(member)
        session.delete(cluster)
        session.flush()
    return len(leaving)


def record_spike(session: Session, day: date, district_code: str, category_code: str, *,
                 count: int, baseline: float, ratio: float, explanation: str,
                 model_version: str) -> tuple[SpikeAlert, bool]:
    """Store (or refresh) the day's alert for a district and category; True when new."""
    alert = session.scalar(select(SpikeAlert).where(
        SpikeAlert.day == day, SpikeAlert.district_code == district_code,
        SpikeAlert.category_code == category_code))
    new = alert is None
    if new:
        alert = SpikeAlert(day=day, district_code=district_code, category_code=category_code)
        session.add(alert)
    alert.count, alert.baseline, alert.ratio = count, baseline, round(ratio, 2)
    alert.explanation, alert.model_version = explanation, model_version
    session.flush()
    return alert, new


def subscribe(session: Session, user_id: int, email: str, *, spike_alerts: bool = True,
              weekly_report: bool = True) -> StaffSubscription:
    sub = session.scalar(select(StaffSubscription).where(StaffSubscription.user_id == user_id))
    if sub is None:
        sub = StaffSubscription(user_id=user_id)
        session.add(sub)
    sub.email, sub.spike_alerts, sub.weekly_report = email.strip(), spike_alerts, weekly_report
    session.flush()
    return sub


def mark_notified(alert: SpikeAlert) -> None:
    alert.notified_at = utcnow()
