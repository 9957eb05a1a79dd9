"""Issue clusters (complaints that report the same problem) and spike alerts.

Written by analytics only. They hold tracking numbers, ids, codes and counts: no names,
addresses or message text, so any reader allowed to see the complaints may see them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models import Base, UTCDateTime, utcnow


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
