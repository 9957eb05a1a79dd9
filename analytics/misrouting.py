"""Misrouting: per department, the complaints it transferred out to another department in a
period, and to whom. Counted from the lifecycle's events (a transfer of recategorise(), or a
reassignment to another department), not from where the complaints are now: a complaint that
left a department is no longer among its cases, so ``storage.scope.visible`` cannot scope
these figures; the sending department does. Officers and department heads see their own
department's rows only; admins and viewers the province (or the department they picked).
Simulator practice never counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from analytics.performance import Filters, Period
from storage.models import Complaint, ComplaintEvent

TRANSFER_KINDS = ("transferred", "reassign", "assign")  # events that may move a department


@dataclass
class TransfersOut:
    department: str
    total: int = 0
    to: list[tuple[str, int]] = field(default_factory=list)  # receiving department, count; most first


def transfers_out(session: Session, user, period: Period, filters: Filters | None = None) -> list[TransfersOut]:
    """The departments that sent complaints to another department in ``period``, most first."""
    filters = filters or Filters()
    if user.role in ("admin", "viewer"):
        department = filters.department
    elif user.role in ("officer", "department_head") and user.department_code:
        department = user.department_code
    else:
        return []
    query = (select(ComplaintEvent.data).join(Complaint, Complaint.id == ComplaintEvent.complaint_id)
             .where(ComplaintEvent.kind.in_(TRANSFER_KINDS), Complaint.simulated.is_(False),
                    and_(ComplaintEvent.created_at >= period.since, ComplaintEvent.created_at < period.until)))
    if user.role == "officer":  # an officer's figures are their district's, as everywhere else
        query = query.where(Complaint.district_code == user.district_code)
    if filters.district:
        query = query.where(Complaint.district_code == filters.district)
    # The departments are inside the event's JSON data, read here rather than in SQL (JSON
    # paths differ between SQLite and PostgreSQL); transfers are few beside complaints.
    moves: dict[str, Counter] = {}
    for data in session.scalars(query):
        source, target = (data or {}).get("from_department"), (data or {}).get("to_department")
        if not source or not target or source == target or (department and source != department):
            continue
        moves.setdefault(source, Counter())[target] += 1
    rows = [TransfersOut(dep, sum(c.values()), sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
            for dep, c in moves.items()]
    return sorted(rows, key=lambda r: (-r.total, r.department))
