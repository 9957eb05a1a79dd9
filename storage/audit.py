"""The audit log: who saw or did something sensitive, and when.

Revealing a complainant's phone, email or CNIC, downloading one of their files, marking a complaint confidential, signing
in (and failing to) are written here. Failed sign-ins are also what login throttling
counts, so the limit holds across every web process.

The module also declares the indexes the dashboards need on tables defined elsewhere
(created by migration 0006), so the metadata and the migrated schema agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, Complaint, ComplaintEvent, UTCDateTime, utcnow

REVEAL = "reveal"
DOWNLOAD = "download"  # a complainant's file: an attachment, a letter's page or original
CONFIDENTIAL = "confidential"
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an audit action)


class AuditEntry(Base):
    """One sensitive action. ``subject`` is what it was about when no complaint is (e.g. the
    user name a sign-in was tried with)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_subject", "action", "subject", "created_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    subject: Mapped[str | None] = mapped_column(String(120))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# Dashboard indexes on tables owned by storage.models (see migration 0006).
Index("ix_complaint_events_kind", ComplaintEvent.kind, ComplaintEvent.complaint_id)
Index("ix_complaints_due_at", Complaint.due_at)
Index("ix_complaints_department_created", Complaint.department_code, Complaint.created_at)
Index("ix_complaints_district_created", Complaint.district_code, Complaint.created_at)
Index("ix_complaints_updated_at", Complaint.updated_at)


def record(session: Session, action: str, *, user_id: int | None = None,
           complaint_id: int | None = None, subject: str | None = None,
           remote_addr: str | None = None, **detail: object) -> AuditEntry:
    """Write one audit entry in the caller's transaction."""
    entry = AuditEntry(action=action, user_id=user_id, complaint_id=complaint_id,
                       subject=subject[:120] if subject else None,
                       remote_addr=remote_addr[:64] if remote_addr else None, detail=detail)
    session.add(entry)
    return entry


def recent_failures(session: Session, username: str, window: timedelta) -> int:
    """Failed sign-ins for ``username`` within ``window`` (for login throttling)."""
    since = utcnow() - window
    return session.scalar(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.action == LOGIN_FAILED, AuditEntry.subject == username.lower()[:120],
            AuditEntry.created_at >= since)) or 0


def reveals(session: Session, complaint_id: int) -> list[AuditEntry]:
    """Who revealed this complainant's details, newest first."""
    return list(session.scalars(
        select(AuditEntry).where(AuditEntry.complaint_id == complaint_id,
                                 AuditEntry.action == REVEAL).order_by(AuditEntry.id.desc())))
