"""Performance figures for the department and province dashboards.

Every figure is about the complaints *received* in a period (a cohort), within what the
viewing user may see (``storage.scope``): received, open, overdue, resolved (waiting for the
citizen), closed (citizen-confirmed), reopened (the citizen said "not satisfied" at least
once), median hours to the first response and to closure, and the satisfaction rate (the
share of the citizens' answers to "are you satisfied?" that were yes).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, distinct, func, literal, select
from sqlalchemy.orm import Session

from storage.models import Complaint, ComplaintEvent, State, UTCDateTime, utcnow
from storage.scope import visible

DIMENSIONS = {
    "district": Complaint.district_code,
    "department": Complaint.department_code,
    "category": Complaint.category_code,
    "channel": Complaint.channel,
    "officer": Complaint.assigned_user_id,
}
# States in which the department owes the citizen work: the clock runs.
WORKING_STATES = (State.SUBMITTED.value, State.ASSIGNED.value, State.IN_PROGRESS.value,
                  State.REOPENED.value)
NOT_SATISFIED = "reject_resolution"


class PeriodError(ValueError):
    """A period given in the address is not a date range; says which part."""


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end`` inclusive, in UTC."""

    start: date
    end: date

    @classmethod
    def last_days(cls, days: int, today: date | None = None) -> Period:
        today = today or utcnow().date()
        return cls(today - timedelta(days=days - 1), today)

    @classmethod
    def parse(cls, start: str | None, end: str | None, default_days: int = 30) -> Period:
        default = cls.last_days(default_days)
        try:
            first = date.fromisoformat(start) if start else default.start
        except ValueError:
            raise PeriodError(f"from: {start!r} is not a date (YYYY-MM-DD)") from None
        try:
            last = date.fromisoformat(end) if end else default.end
        except ValueError:
            raise PeriodError(f"to: {end!r} is not a date (YYYY-MM-DD)") from None
        if last < first:
            raise PeriodError("to: the end is before the start")
        if (last - first).days > 3660:
            raise PeriodError("from: a period can be at most ten years")
        return cls(first, last)

    @property
    def since(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        nxt = self.end + timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=UTC)


@dataclass
class Figures:
    """The figures for one row of a table (a district, a category ...) or for the whole scope."""

    key: str | None
    received: int = 0
    open: int = 0
    overdue: int = 0
    resolved: int = 0
    closed: int = 0
    reopened: int = 0
    satisfied: int = 0
    not_satisfied: int = 0
    first_response_hours: float | None = None
    closure_hours: float | None = None
    label: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def satisfaction_rate(self) -> float | None:
        answers = self.satisfied + self.not_satisfied
        return self.satisfied / answers if answers else None


def _inline(value, type_=None):
    """A value written into the SQL text rather than bound. PostgreSQL plans a statement that
    the driver has prepared (psycopg does after 5 runs) once for any parameters, guessing that
    a date range holds 0.5% of the rows; for a year's cohort, 100%, that generic plan probes
    the events index 100,000 times (160 ms instead of 25). Seeing the real dates and event
    kind, the planner picks the plan that fits them, prepared or not."""
    return literal(value, type_, literal_execute=True)


def _cohort(query, user, period: Period, department: str | None):
    # Simulator complaints are practice, not performance.
    query = visible(query, user).where(Complaint.simulated.is_(False),
                                       Complaint.created_at >= _inline(period.since, UTCDateTime()),
                                       Complaint.created_at < _inline(period.until, UTCDateTime()))
    if department:
        query = query.where(Complaint.department_code == department)
    return query


def counts_query(user, period: Period, dim: str | None, department: str | None = None,
                 now: datetime | None = None):
    """received/open/overdue/resolved/closed per ``dim`` (or in total when ``dim`` is None)."""
    now = now or utcnow()
    key = DIMENSIONS[dim] if dim else None
    overdue = and_(Complaint.due_at < now, Complaint.state.in_(WORKING_STATES))
    cols = [
        func.count(Complaint.id),
        func.sum(case((Complaint.state != State.CLOSED.value, 1), else_=0)),
        func.sum(case((overdue, 1), else_=0)),
        func.sum(case((Complaint.state == State.RESOLVED.value, 1), else_=0)),
        func.sum(case((Complaint.state == State.CLOSED.value, 1), else_=0)),
    ]
    query = select(key, *cols).group_by(key) if key is not None else select(*cols)
    return _cohort(query, user, period, department)


def answers_query(user, period: Period, dim: str | None, department: str | None = None):
    """The citizens' "not satisfied" answers, and how many complaints had one, per ``dim``.

    The "satisfied" answers need no query: only the complainant's "yes" closes a complaint,
    and a closed complaint stays closed, so they are exactly the closed count. Rejections are
    few, so this join stays small even over a province-wide year.
    """
    key = DIMENSIONS[dim] if dim else None
    # count(*): the events side is then read from ix_complaint_events_kind alone.
    cols = [func.count(), func.count(distinct(Complaint.id))]
    query = (select(key, *cols) if key is not None else select(*cols)).select_from(Complaint).join(
        ComplaintEvent, ComplaintEvent.complaint_id == Complaint.id).where(
        ComplaintEvent.kind == _inline(NOT_SATISFIED))
    if key is not None:
        query = query.group_by(key)
    return _cohort(query, user, period, department)


def _hours(session: Session, end_col):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end_col - Complaint.created_at) / 3600.0
    return (func.julianday(end_col) - func.julianday(Complaint.created_at)) * 24.0


def median_query(session: Session, user, period: Period, dim: str | None, end_col,
                 department: str | None = None):
    """Median hours from receipt to ``end_col`` per ``dim``; PostgreSQL computes it in SQL,
    SQLite (no percentile function) returns the durations for Python to take the median."""
    key = DIMENSIONS[dim] if dim else None
    hours = _hours(session, end_col)
    if session.get_bind().dialect.name != "postgresql":
        query = select(key, hours) if key is not None else select(hours)
        return _cohort(query.where(end_col.is_not(None)), user, period, department)
    if key is None:
        return _cohort(select(func.percentile_cont(0.5).within_group(hours))
                       .where(end_col.is_not(None)), user, period, department)
    # Grouped, percentile_cont needs its input sorted by the key: a year of the province is
    # 90,000 rows sorted on disk, or read through a (key, created_at) index one heap page at a
    # time. Gathering each group's durations into an array needs neither (a hash aggregate);
    # the median is then taken over each small array.
    groups = _cohort(select(key.label("key"), func.array_agg(hours).label("hours"))
                     .where(end_col.is_not(None)).group_by(key), user, period, department).subquery()
    each = func.unnest(groups.c.hours).table_valued("h").render_derived()
    median = select(func.percentile_cont(0.5).within_group(each.c.h)).select_from(each)
    return select(groups.c.key, median.scalar_subquery())


def _medians(session: Session, user, period: Period, dim: str | None, end_col,
             department: str | None) -> dict:
    rows = session.execute(median_query(session, user, period, dim, end_col, department)).all()
    if dim is None:
        rows = [(None, *r) for r in rows]
    if session.get_bind().dialect.name == "postgresql":
        return {k: (float(v) if v is not None else None) for k, v in rows}
    grouped: dict = defaultdict(list)
    for k, v in rows:
        grouped[k].append(float(v))
    return {k: statistics.median(v) for k, v in grouped.items()}


def figures(session: Session, user, period: Period, dim: str | None = None,
            department: str | None = None) -> list[Figures]:
    """One ``Figures`` per value of ``dim`` (most complaints first), or one for everything."""
    rows = session.execute(counts_query(user, period, dim, department)).all()
    if dim is None:
        rows = [(None, *r) for r in rows]
    table = {r[0]: Figures(key=r[0], received=r[1] or 0, open=r[2] or 0, overdue=r[3] or 0,
                           resolved=r[4] or 0, closed=r[5] or 0) for r in rows if r[1]}
    if dim is None and not table:
        table[None] = Figures(key=None)
    for item in table.values():
        item.satisfied = item.closed
    for row in session.execute(answers_query(user, period, dim, department)).all():
        k, count, complaints = (None, *row) if dim is None else row
        if k in table:
            table[k].not_satisfied, table[k].reopened = count, complaints
    for k, value in _medians(session, user, period, dim, Complaint.first_response_at, department).items():
        if k in table:
            table[k].first_response_hours = value
    for k, value in _medians(session, user, period, dim, Complaint.closed_at, department).items():
        if k in table:
            table[k].closure_hours = value
    return sorted(table.values(), key=lambda f: (-f.received, str(f.key)))


def daily_received(session: Session, user, period: Period, department: str | None = None) -> list[tuple[date, int]]:
    """Complaints received per day of the period (days without any included as 0)."""
    day = func.date(Complaint.created_at)
    rows = session.execute(_cohort(select(day, func.count(Complaint.id)).group_by(day),
                                   user, period, department)).all()
    counts = {(d if isinstance(d, date) else date.fromisoformat(str(d)[:10])): n for d, n in rows}
    days = (period.end - period.start).days + 1
    return [(period.start + timedelta(days=i), counts.get(period.start + timedelta(days=i), 0))
            for i in range(days)]
