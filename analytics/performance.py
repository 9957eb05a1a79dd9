"""Performance figures for the department and province dashboards, within what the viewing
user may see (``storage.scope``) and never counting simulator practice.

Two kinds of figures, never mixed, because mixing them hid the backlog (an "Open" that
counted only the complaints received in the chosen month showed 44 where 375 were open):

- the backlog *as of now*, whatever the period: open, overdue, waiting for the citizen's
  answer, and the open ones by age (0-7, 8-30, over 30 days since receipt);
- the flow *in the period*: received (filed in it); resolved (and not reopened since) and
  closed in it; reopened (the citizens' rejections in it); SLA compliance (of the complaints due in the period, the share resolved by
  their due time); median days to the first response and to closure of those received in it.
  The same flow for the previous period of equal length gives the change.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from storage.models import OPEN_STATES, Complaint, ComplaintEvent, State, UTCDateTime, utcnow
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
AGE_LIMITS = (8, 31)  # days since receipt: 0-7, 8-30, and older
SLA_TARGET = 0.9  # the share of complaints to resolve by their due time


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
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    @property
    def since(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        nxt = self.end + timedelta(days=1)
        return datetime(nxt.year, nxt.month, nxt.day, tzinfo=UTC)




@dataclass(frozen=True)
class Filters:
    """What the page narrows to (a drill-down): a department, a district, a category."""

    department: str | None = None
    district: str | None = None
    category: str | None = None


@dataclass
class Figures:
    """The figures for one row of a table (a district, a category ...) or for the whole scope."""

    key: str | int | None
    # The backlog, now.
    open: int = 0
    overdue: int = 0
    awaiting: int = 0  # resolved, waiting for the citizen's answer
    age_week: int = 0
    age_month: int = 0
    age_older: int = 0
    # The flow in the period.
    received: int = 0
    resolved: int = 0
    closed: int = 0
    reopened: int = 0
    sla_due: int = 0
    sla_met: int = 0
    first_response_days: float | None = None
    closure_days: float | None = None
    label: str = ""
    previous: Figures | None = None
    extra: dict = field(default_factory=dict)

    @property
    def satisfied(self) -> int:
        # Only a "yes" (the citizen's, or a clerk's for them) closes a complaint.
        return self.closed

    @property
    def not_satisfied(self) -> int:
        return self.reopened

    @property
    def satisfaction_rate(self) -> float | None:
        answers = self.closed + self.reopened
        return self.closed / answers if answers else None

    @property
    def sla_rate(self) -> float | None:
        return self.sla_met / self.sla_due if self.sla_due else None

    @property
    def overdue_share(self) -> float | None:
        return self.overdue / self.open if self.open else None

    @property
    def below_target(self) -> bool:
        return self.sla_rate is not None and self.sla_rate < SLA_TARGET


def _inline(value, type_=None):
    """A value written into the SQL text rather than bound. PostgreSQL plans a statement that
    the driver has prepared (psycopg does after 5 runs) once for any parameters, guessing that
    a date range holds 0.5% of the rows; for a year, 100%, that generic plan is the wrong one.
    Seeing the real dates, the planner picks the plan that fits them, prepared or not."""
    return literal(value, type_, literal_execute=True)


def _when(value: datetime):
    return _inline(value, UTCDateTime())


def _scoped(query, user, filters: Filters):
    query = visible(query, user).where(Complaint.simulated.is_(False))
    for col, value in ((Complaint.department_code, filters.department),
                       (Complaint.district_code, filters.district),
                       (Complaint.category_code, filters.category)):
        if value:
            query = query.where(col == value)
    return query


def _grouped(dim: str | None, *cols):
    key = DIMENSIONS[dim] if dim else None
    return (select(key, *cols).group_by(key) if key is not None else select(*cols)), key


def _in(col, period: Period):
    return and_(col >= _when(period.since), col < _when(period.until))


def backlog_query(user, dim: str | None, filters: Filters = Filters(), now: datetime | None = None):
    """Open / overdue / awaiting the citizen / by age, now, per ``dim``: every open complaint
    counts, however long ago it came in."""
    now = now or utcnow()
    week, month = (now - timedelta(days=d) for d in AGE_LIMITS)

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    query, _ = _grouped(dim, func.count(),
                        count(and_(Complaint.due_at < _when(now), Complaint.state.in_(WORKING_STATES))),
                        count(Complaint.state == State.RESOLVED.value),
                        count(Complaint.created_at > _when(week)),
                        count(and_(Complaint.created_at <= _when(week), Complaint.created_at > _when(month))))
    return _scoped(query.where(Complaint.state.in_(OPEN_STATES)), user, filters)


def received_query(user, period: Period, dim: str | None, filters: Filters = Filters()):
    query, _ = _grouped(dim, func.count())
    return _scoped(query.where(_in(Complaint.created_at, period)), user, filters)


def done_query(user, period: Period, dim: str | None, column, filters: Filters = Filters()):
    """Complaints whose ``column`` (resolved_at, closed_at) falls in the period: resolved in
    it (and not reopened since: a rejected resolution is no resolution), closed in it."""
    query, _ = _grouped(dim, func.count())
    return _scoped(query.where(_in(column, period)), user, filters)


def reopened_query(user, period: Period, dim: str | None, filters: Filters = Filters()):
    """How many times citizens (or clerks for them) rejected a resolution in the period."""
    key = DIMENSIONS[dim] if dim else None
    query = (select(*([key] if key is not None else []), func.count()).select_from(ComplaintEvent)
             .join(Complaint, Complaint.id == ComplaintEvent.complaint_id)
             .where(ComplaintEvent.to_state == _inline(State.REOPENED.value),
                    _in(ComplaintEvent.created_at, period)))
    if key is not None:
        query = query.group_by(key)
    return _scoped(query, user, filters)


def sla_query(user, period: Period, dim: str | None, filters: Filters = Filters()):
    """Of the complaints due in the period (not withdrawn), how many, and how many were
    resolved by their due time (a reopened one is not resolved until resolved again)."""
    met = and_(Complaint.resolved_at.is_not(None), Complaint.resolved_at <= Complaint.due_at)
    query, _ = _grouped(dim, func.count(), func.sum(case((met, 1), else_=0)))
    return _scoped(query.where(_in(Complaint.due_at, period), Complaint.state != State.WITHDRAWN.value),
                   user, filters)


def _days(session: Session, end_col):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end_col - Complaint.created_at) / 86400.0
    return func.julianday(end_col) - func.julianday(Complaint.created_at)


def median_query(session: Session, user, period: Period, dim: str | None, end_col,
                 filters: Filters = Filters()):
    """Median days from receipt to ``end_col`` of the complaints received in the period, per
    ``dim``; PostgreSQL computes it in SQL, SQLite (no percentile function) returns the
    durations for Python to take the median."""
    key = DIMENSIONS[dim] if dim else None
    days = _days(session, end_col)

    def cohort(query):
        return _scoped(query.where(end_col.is_not(None), _in(Complaint.created_at, period)), user, filters)

    if session.get_bind().dialect.name != "postgresql":
        return cohort(select(key, days) if key is not None else select(days))
    if key is None:
        return cohort(select(func.percentile_cont(0.5).within_group(days)))
    # Grouped, percentile_cont needs its input sorted by the key; gathering each group's
    # durations into an array needs only a hash aggregate, the median is then taken per array.
    groups = cohort(select(key.label("key"), func.array_agg(days).label("d")).group_by(key)).subquery()
    each = func.unnest(groups.c.d).table_valued("h").render_derived()
    median = select(func.percentile_cont(0.5).within_group(each.c.h)).select_from(each)
    return select(groups.c.key, median.scalar_subquery())


def _rows(session: Session, query, dim: str | None) -> list[tuple]:
    rows = session.execute(query).all()
    return [(None, *r) for r in rows] if dim is None else [tuple(r) for r in rows]


def _medians(session: Session, query, dim: str | None) -> dict:
    rows = _rows(session, query, dim)
    if session.get_bind().dialect.name == "postgresql":
        return {k: (float(v) if v is not None else None) for k, v in rows}
    grouped: dict = defaultdict(list)
    for k, v in rows:
        grouped[k].append(float(v))
    return {k: statistics.median(v) for k, v in grouped.items()}


def _flow(session: Session, user, period: Period, dim: str | None, filters: Filters,
          table: dict, medians: bool = True) -> None:
    def row(k):
        return table.setdefault(k, Figures(key=k))

    for k, n in _rows(session, received_query(user, period, dim, filters), dim):
        row(k).received = n
    for name, column in (("resolved", Complaint.resolved_at), ("closed", Complaint.closed_at)):
        for k, n in _rows(session, done_query(user, period, dim, column, filters), dim):
            setattr(row(k), name, n)
    for k, n in _rows(session, reopened_query(user, period, dim, filters), dim):
        row(k).reopened = n
    for k, due, met in _rows(session, sla_query(user, period, dim, filters), dim):
        row(k).sla_due, row(k).sla_met = due, met or 0
    if medians:
        for col, name in ((Complaint.first_response_at, "first_response_days"),
                          (Complaint.closed_at, "closure_days")):
            for k, value in _medians(session, median_query(session, user, period, dim, col, filters), dim).items():
                setattr(row(k), name, value)


def figures(session: Session, user, period: Period, dim: str | None = None,
            filters: Filters = Filters(), now: datetime | None = None) -> list[Figures]:
    """One ``Figures`` per value of ``dim`` (largest backlog first), or one for everything
    (then with ``previous``: the flow of the period before)."""
    table: dict = {}
    for k, n, overdue, awaiting, week, month in _rows(session, backlog_query(user, dim, filters, now), dim):
        if n:
            table[k] = Figures(key=k, open=n, overdue=overdue or 0, awaiting=awaiting or 0,
                               age_week=week or 0, age_month=month or 0,
                               age_older=n - (week or 0) - (month or 0))
    _flow(session, user, period, dim, filters, table)
    if dim is None:
        total = table.setdefault(None, Figures(key=None))
        before: dict = {}
        _flow(session, user, period.previous(), None, filters, before, medians=False)
        total.previous = before.get(None, Figures(key=None))
        return [total]
    return sorted(table.values(), key=lambda f: (-f.open, -f.overdue, -f.received, str(f.key)))


def worst(rows: list[Figures], limit: int = 5) -> list[Figures]:
    """The rows furthest behind: most overdue cases now, then lowest SLA compliance."""
    behind = [r for r in rows if r.overdue or r.below_target]
    return sorted(behind, key=lambda r: (-r.overdue, r.sla_rate if r.sla_rate is not None else 1,
                                         str(r.key)))[:limit]


def daily_received(session: Session, user, period: Period, filters: Filters = Filters()) -> list[tuple[date, int]]:
    """Complaints received per day of the period (days without any included as 0)."""
    day = func.date(Complaint.created_at)
    query = _scoped(select(day, func.count()).where(_in(Complaint.created_at, period)).group_by(day),
                    user, filters)
    counts = {(d if isinstance(d, date) else date.fromisoformat(str(d)[:10])): n
              for d, n in session.execute(query).all()}
    return [(period.start + timedelta(days=i), counts.get(period.start + timedelta(days=i), 0))
            for i in range(period.days)]

