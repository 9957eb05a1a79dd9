"""The weekly report's figures, for one department or the whole province: complaints
received, open, overdue and closed, SLA compliance, satisfaction and proxy confirmations,
the backlog's age, the top issue clusters and spike alerts, the worst districts and
officers, and the same figures for the period before, to compare.

Counts cover the complaints received in the period (a cohort, as on the dashboards), except
the backlog, which is every complaint open at the end of the period. Simulator complaints
are practice and are left out. No personal data: codes, names of places and officers, counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from analytics.performance import Figures, Period, figures
from storage.clusters import ClusterMember, IssueCluster, SpikeAlert
from storage.models import (
    OPEN_STATES,
    Category,
    Complaint,
    ComplaintEvent,
    Department,
    District,
    User,
    utcnow,
)
from storage.scope import visible

PROXY_EVENT = "confirmed_by_proxy"
AGES = (("0-7", 0, 7), ("8-30", 8, 30), ("30+", 31, None))
TOP = 5


@dataclass
class Report:
    department: str | None  # a code, or None for the province
    title: str
    period: Period
    previous: Period
    now: Figures
    before: Figures
    sla_compliance: float | None
    sla_compliance_before: float | None
    proxy_confirmations: int
    backlog: dict[str, int]
    daily: list[tuple[date, int]]
    clusters: list[dict] = field(default_factory=list)
    spikes: list[str] = field(default_factory=list)
    worst_districts: list[dict] = field(default_factory=list)
    worst_officers: list[dict] = field(default_factory=list)

    @staticmethod
    def change(now: float | int | None, before: float | int | None) -> str:
        if now is None or before is None:
            return "—"
        if before == 0:
            return "—" if now == 0 else "new"
        return f"{(now - before) / before * 100:+.0f}%"


def last_week(today: date) -> Period:
    """The seven days before ``today``'s week (Monday to Sunday)."""
    monday = today - timedelta(days=today.weekday())
    return Period(monday - timedelta(days=7), monday - timedelta(days=1))


def summary(report: Report) -> str:
    """The report's headline figures in a few lines (the weekly mail)."""
    now, before = report.now, report.before
    pct = (lambda v: "—" if v is None else f"{v * 100:.0f}%")  # noqa: E731
    lines = [f"{report.title}: {report.period.start.isoformat()} – {report.period.end.isoformat()}",
             f"Received {now.received} ({Report.change(now.received, before.received)} on the week before), "
             f"closed {now.closed}; open now {now.open}, overdue now {now.overdue}.",
             f"SLA compliance {pct(report.sla_compliance)}, satisfaction {pct(now.satisfaction_rate)}, "
             f"confirmed by proxy {report.proxy_confirmations}.",
             "Backlog by age (days): " + ", ".join(f"{k}: {v}" for k, v in report.backlog.items()) + "."]
    lines += [f"Spike: {s}" for s in report.spikes]
    return "\n".join(lines)


def reader(department: str | None) -> SimpleNamespace:
    """Who the report is read as: the department's head, or a province viewer."""
    if department:
        return SimpleNamespace(role="department_head", department_code=department, district_code=None, id=None)
    return SimpleNamespace(role="viewer", department_code=None, district_code=None, id=None)


def _scoped(query, department: str | None, period: Period | None = None):
    query = visible(query, reader(department)).where(Complaint.simulated.is_(False))
    if period is not None:
        query = query.where(Complaint.created_at >= period.since, Complaint.created_at < period.until)
    return query


def sla_compliance(session: Session, department: str | None, period: Period,
                   now: datetime) -> float | None:
    """Of the complaints received in the period whose answer was due by ``now``, the share
    resolved (or closed) by their due time."""
    resolved_in_time = and_(Complaint.resolved_at.is_not(None), Complaint.resolved_at <= Complaint.due_at)
    due = _scoped(select(func.count(Complaint.id), func.sum(case((resolved_in_time, 1), else_=0))),
                  department, period).where(
        Complaint.due_at.is_not(None),
        (Complaint.due_at <= now) | Complaint.resolved_at.is_not(None))
    total, in_time = session.execute(due).one()
    return (in_time or 0) / total if total else None


def build(session: Session, period: Period, department: str | None = None,
          now: datetime | None = None, lang: str = "en") -> Report:
    now = now or min(utcnow(), period.until)
    days = (period.end - period.start).days + 1
    previous = Period(period.start - timedelta(days=days), period.start - timedelta(days=1))
    user = reader(department)
    fig_now = figures(session, user, period)[0]
    fig_before = figures(session, user, previous)[0]
    proxies = session.scalar(_scoped(select(func.count(ComplaintEvent.id)).select_from(Complaint).join(
        ComplaintEvent, ComplaintEvent.complaint_id == Complaint.id), department, period).where(
        ComplaintEvent.kind == PROXY_EVENT)) or 0
    backlog = {}
    end = period.until
    for label, low, high in AGES:
        query = _scoped(select(func.count(Complaint.id)), department).where(
            Complaint.state.in_(OPEN_STATES), Complaint.created_at < end - timedelta(days=low))
        if high is not None:
            query = query.where(Complaint.created_at >= end - timedelta(days=high + 1))
        backlog[label] = session.scalar(query) or 0
    col = "name_ur" if lang == "ur" else "name_en"
    names = {"district": {d.code: getattr(d, col) for d in session.scalars(select(District))},
             "category": {c.code: getattr(c, col) for c in session.scalars(select(Category))}}
    if department:
        dept = session.get(Department, department)
        title = getattr(dept, col) if dept else department
    else:
        title = "خیبر پختونخوا" if lang == "ur" else "Khyber Pakhtunkhwa"
    from analytics.performance import daily_received

    report = Report(department=department, title=title, period=period, previous=previous,
                    now=fig_now, before=fig_before,
                    sla_compliance=sla_compliance(session, department, period, now),
                    sla_compliance_before=sla_compliance(session, department, previous, previous.until),
                    proxy_confirmations=proxies, backlog=backlog,
                    daily=daily_received(session, user, period))
    report.clusters = _top_clusters(session, department, period, names)
    report.spikes = _spikes(session, department, period)
    report.worst_districts = _worst(session, department, period, Complaint.district_code, now,
                                    names["district"])
    officers = {u.id: u.display_name or u.username for u in session.scalars(select(User))}
    report.worst_officers = _worst(session, department, period, Complaint.assigned_user_id, now, officers)
    return report


def _top_clusters(session: Session, department: str | None, period: Period, names: dict) -> list[dict]:
    rows = session.execute(_scoped(
        select(ClusterMember.cluster_id, func.count(Complaint.id)).join(
            ClusterMember, ClusterMember.complaint_id == Complaint.id), department, period)
        .where(Complaint.confidential.is_(False))
        .group_by(ClusterMember.cluster_id).order_by(func.count(Complaint.id).desc()).limit(TOP)).all()
    out = []
    for cluster_id, count in rows:
        cluster = session.get(IssueCluster, cluster_id)
        out.append({"id": cluster_id, "complaints": count,
                    "district": names["district"].get(cluster.district_code, cluster.district_code),
                    "category": names["category"].get(cluster.category_code, cluster.category_code)})
    return out


def _spikes(session: Session, department: str | None, period: Period) -> list[str]:
    query = select(SpikeAlert).where(SpikeAlert.day >= period.start, SpikeAlert.day <= period.end)
    if department:
        query = query.join(Category, Category.code == SpikeAlert.category_code).where(
            Category.department_code == department)
    return [f"{a.day.isoformat()} {a.explanation}"
            for a in session.scalars(query.order_by(SpikeAlert.ratio.desc()).limit(TOP))]


def _worst(session: Session, department: str | None, period: Period, key, now: datetime,
           names: dict) -> list[dict]:
    """Most overdue complaints first (then most received): who needs help."""
    overdue = and_(Complaint.due_at < now, Complaint.state.in_(("submitted", "assigned", "in_progress",
                                                                 "reopened")))
    rows = session.execute(_scoped(
        select(key, func.count(Complaint.id), func.sum(case((overdue, 1), else_=0))), department, period)
        .where(key.is_not(None)).group_by(key)).all()
    rows = sorted(rows, key=lambda r: (-(r[2] or 0), -r[1], str(r[0])))[:TOP]
    return [{"name": names.get(k, str(k)), "received": n, "overdue": o or 0} for k, n, o in rows]
