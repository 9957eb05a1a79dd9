"""The officer's queue: the complaints in scope, overdue unassigned ones first (nobody is on
them and they are late), then mine, then unassigned, overdue first,
with the filters and the number of cases behind each filter value (faceted: each count
applies every other filter)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from analytics.performance import NOT_SATISFIED, WORKING_STATES
from storage import tracking
from storage.models import OPEN_STATES, Complaint, ComplaintEvent, utcnow
from storage.scope import visible
from storage.urgency import ComplaintUrgency

VIEWS = ("all", "mine", "unassigned")
STATUSES = ("open", *OPEN_STATES, "closed", "any")
PAGE_SIZE = 50
# Sortable columns (``sort`` in the query string; ``-`` before it for descending). Without
# one the queue is in its working order (see queue_query).
SORTS = {"received": Complaint.created_at, "due": Complaint.due_at, "status": Complaint.state,
         "category": Complaint.category_code, "district": Complaint.district_code,
         "channel": Complaint.channel, "tracking": Complaint.tracking_number,
         # ascending is the most urgent first (the score negated); never assessed counts as 0
         "urgency": -func.coalesce(select(ComplaintUrgency.score)
                                   .where(ComplaintUrgency.complaint_id == Complaint.id)
                                   .scalar_subquery(), 0.0)}


@dataclass(frozen=True)
class QueueFilter:
    view: str = "all"
    status: str = "open"
    district: str | None = None
    category: str | None = None
    channel: str | None = None
    overdue: bool = False
    reopened: bool = False
    escalated: bool = False
    simulated: bool = False  # complaints filed from the simulator: hidden unless asked for
    search: str = ""
    page: int = 1
    sort: str = ""

    @classmethod
    def from_args(cls, args) -> QueueFilter:
        """From the query string; unknown values fall back to the default (never an error:
        a stale bookmark still opens the queue)."""
        def flag(name: str) -> bool:
            return args.get(name, "") in ("1", "true", "on", "yes")

        view = args.get("view", "all")
        sort = args.get("sort", "")
        status = args.get("status", "open")
        try:
            page = max(1, min(int(args.get("page", "1")), 10_000))
        except ValueError:
            page = 1
        return cls(view=view if view in VIEWS else "all",
                   status=status if status in STATUSES else "open",
                   district=(args.get("district") or None), category=(args.get("category") or None),
                   channel=(args.get("channel") or None), overdue=flag("overdue"),
                   reopened=flag("reopened"), escalated=flag("escalated"), simulated=flag("simulated"),
                   search=args.get("q", "").strip()[:40], page=page,
                   sort=sort if sort.lstrip("-") in SORTS else "")


def _overdue(now: datetime):
    return and_(Complaint.due_at < now, Complaint.state.in_(WORKING_STATES))


def _reopened():
    return Complaint.id.in_(select(ComplaintEvent.complaint_id)
                            .where(ComplaintEvent.kind == NOT_SATISFIED))


def _filtered(query, user, f: QueueFilter, now: datetime, prefix: str, skip: str = ""):
    query = visible(query, user)
    if not f.simulated:
        query = query.where(Complaint.simulated.is_(False))
    if skip != "view":
        if f.view == "mine":
            query = query.where(Complaint.assigned_user_id == user.id)
        elif f.view == "unassigned":
            query = query.where(Complaint.assigned_user_id.is_(None))
    if skip != "status":
        if f.status == "open":
            # Open as the dashboards count it: a withdrawn complaint is not open.
            query = query.where(Complaint.state.in_(OPEN_STATES))
        elif f.status != "any":
            query = query.where(Complaint.state == f.status)
    if f.district and skip != "district":
        query = query.where(Complaint.district_code == f.district)
    if f.category and skip != "category":
        query = query.where(Complaint.category_code == f.category)
    if f.channel and skip != "channel":
        query = query.where(Complaint.channel == f.channel)
    if f.overdue and skip != "overdue":
        query = query.where(_overdue(now))
    if f.reopened and skip != "reopened":
        query = query.where(_reopened())
    if f.escalated and skip != "escalated":
        query = query.where(Complaint.escalation_level > 0)
    if f.search:
        found = tracking.find(f.search, prefix)
        digits = "".join(ch for ch in tracking.to_latin_digits(f.search) if ch.isdigit())
        # A valid number matches exactly; a partial one matches as a prefix while typing.
        query = query.where(Complaint.tracking_number == found.number if found.number
                            else Complaint.tracking_number.startswith(digits or "-"))
    return query


def queue_query(user, f: QueueFilter, now: datetime | None = None, prefix: str = "KP"):
    """The page of complaints for ``f``: overdue cases nobody is assigned to, then mine, then
    unassigned, then others; overdue first, then by due time. A sortable column chosen
    (``f.sort``) comes first."""
    now = now or utcnow()
    order = [
        case((and_(_overdue(now), Complaint.assigned_user_id.is_(None)), 0), else_=1),
        case((Complaint.assigned_user_id == user.id, 0),
             (Complaint.assigned_user_id.is_(None), 1), else_=2),
        case((_overdue(now), 0), else_=1),
        Complaint.escalation_level.desc(),
        Complaint.due_at.is_(None), Complaint.due_at, Complaint.id,
    ]
    if f.sort:
        column = SORTS[f.sort.lstrip("-")]
        order = [column.desc().nulls_last() if f.sort.startswith("-") else column.asc().nulls_last(),
                 *order]
    query = _filtered(select(Complaint), user, f, now, prefix).order_by(*order)
    return query.limit(PAGE_SIZE + 1).offset((f.page - 1) * PAGE_SIZE)


def queue(session: Session, user, f: QueueFilter, prefix: str = "KP") -> tuple[list[Complaint], bool]:
    """The complaints on page ``f.page`` and whether there is a next page."""
    rows = list(session.scalars(queue_query(user, f, prefix=prefix)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def facet_queries(user, f: QueueFilter, now: datetime | None = None, prefix: str = "KP") -> dict:
    """One query per filter giving the number of cases behind each of its values."""
    now = now or utcnow()
    views = select(func.count(Complaint.id),
                   func.sum(case((Complaint.assigned_user_id == user.id, 1), else_=0)),
                   func.sum(case((Complaint.assigned_user_id.is_(None), 1), else_=0)))
    flags = select(func.sum(case((_overdue(now), 1), else_=0)),
                   func.sum(case((Complaint.escalation_level > 0, 1), else_=0)))
    queries = {
        "view": _filtered(views, user, f, now, prefix, skip="view"),
        "flags": _filtered(flags, user, replace(f, overdue=False, escalated=False), now, prefix),
        "reopened": _filtered(select(func.count(Complaint.id)).where(_reopened()), user, f, now,
                              prefix, skip="reopened"),
    }
    for name, col in (("status", Complaint.state), ("district", Complaint.district_code),
                      ("category", Complaint.category_code), ("channel", Complaint.channel)):
        queries[name] = _filtered(select(col, func.count(Complaint.id)).group_by(col),
                                  user, f, now, prefix, skip=name)
    return queries


def facets(session: Session, user, f: QueueFilter, prefix: str = "KP") -> dict:
    """Counts per filter value: {"status": {"assigned": 4, ...}, "district": {...}, ...,
    "view": {"all": n, "mine": n, "unassigned": n}, "overdue": n, "escalated": n,
    "reopened": n}."""
    queries = facet_queries(user, f, prefix=prefix)
    total, mine, unassigned = session.execute(queries.pop("view")).one()
    overdue, escalated = session.execute(queries.pop("flags")).one()
    out: dict = {"view": {"all": total or 0, "mine": mine or 0, "unassigned": unassigned or 0},
                 "overdue": overdue or 0, "escalated": escalated or 0,
                 "reopened": session.scalar(queries.pop("reopened")) or 0}
    for name, query in queries.items():
        # No district or category yet (an anonymous mail, a phone call) is not a value to
        # filter by, and None would not sort among the codes.
        counts = {value: n for value, n in session.execute(query).all() if value is not None}
        if name == "status":
            total = sum(counts.values())
            counts["open"] = sum(counts.get(state, 0) for state in OPEN_STATES)
            counts["any"] = total
        out[name] = counts
    return out
