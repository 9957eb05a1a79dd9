"""The scheduled SLA job: overdue cases climb the escalation ladder, citizens who have not
answered "are you satisfied?" are reminded, and nothing is ever closed here.

Escalation levels: 0 the officer, 1 the department head, 2 the province's monitoring cell.
A case past its due time (while the department owes the citizen work) goes to level 1; if
it is still overdue ``PROVINCE_AFTER`` after that, to level 2. A resolved case whose
citizen stays silent gets up to ``MAX_REMINDERS`` reminders ``REMINDER_EVERY`` apart; then
it is escalated so that a supervisor calls the citizen. It stays resolved and open.

Safe to run in several processes at once: each case is locked and re-checked before it is
changed, so a second scheduler finds nothing left to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversation import casework
from gateway import jobs
from storage import lifecycle
from storage.db import transaction
from storage.models import Complaint, ComplaintEvent, State, utcnow

log = logging.getLogger("ikhtiyar.scheduler")

WORKING_STATES = (State.SUBMITTED.value, State.ASSIGNED.value, State.IN_PROGRESS.value,
                  State.REOPENED.value)
PROVINCE_AFTER = timedelta(days=2)
REMINDER_EVERY = timedelta(days=2)
MAX_REMINDERS = 2
BATCH = 500
TIMER = lifecycle.Actor("timer")
REMINDER, ESCALATED = "satisfaction_reminder", "escalated"


@dataclass
class SweepResult:
    to_department_head: int = 0
    to_province: int = 0
    reminders: int = 0
    unanswered_escalations: int = 0


def _last(session: Session, complaint_id: int, kind: str, since: datetime | None = None):
    query = select(func.max(ComplaintEvent.created_at)).where(
        ComplaintEvent.complaint_id == complaint_id, ComplaintEvent.kind == kind)
    if since is not None:
        query = query.where(ComplaintEvent.created_at >= since)
    return session.scalar(query)


def _count(session: Session, complaint_id: int, kind: str, since: datetime) -> int:
    return session.scalar(select(func.count(ComplaintEvent.id)).where(
        ComplaintEvent.complaint_id == complaint_id, ComplaintEvent.kind == kind,
        ComplaintEvent.created_at >= since)) or 0


def _locked(session: Session, complaint_id: int) -> Complaint | None:
    return session.scalars(select(Complaint).where(Complaint.id == complaint_id).with_for_update()).first()


def _overdue_step(session: Session, complaint: Complaint, now: datetime) -> str | None:
    """Escalate one level if the case is overdue and due for it; returns which step."""
    if complaint.state not in WORKING_STATES or complaint.due_at is None or complaint.due_at >= now:
        return None
    if complaint.escalation_level == 0:
        lifecycle.escalate(session, complaint, TIMER,
                           "overdue: past its due time, escalated to the department head")
        return "head"
    if complaint.escalation_level == 1:
        last = _last(session, complaint.id, ESCALATED)
        if last is None or last <= now - PROVINCE_AFTER:
            lifecycle.escalate(session, complaint, TIMER,
                               "still overdue after the department head's escalation: "
                               "escalated to the province")
            return "province"
    return None


def _silence_step(session: Session, complaint: Complaint, now: datetime, prefix: str):
    """Remind a silent citizen, or after the last reminder escalate (a supervisor calls)."""
    if complaint.state != State.RESOLVED.value or complaint.resolved_at is None:
        return None
    since = complaint.resolved_at
    sent = _count(session, complaint.id, REMINDER, since)
    last = _last(session, complaint.id, REMINDER, since) or since
    if last > now - REMINDER_EVERY:
        return None
    if sent < MAX_REMINDERS:
        return casework.remind_satisfaction(session, complaint, TIMER, prefix=prefix)
    if _last(session, complaint.id, ESCALATED, since) is None:
        lifecycle.escalate(session, complaint, TIMER,
                           "the citizen has not answered whether they are satisfied: "
                           "a supervisor should call them")
        return "escalated"
    return None


def sla_sweep(now: datetime | None = None) -> SweepResult:
    """One pass of the SLA job over every open case that may need it."""
    rt = jobs.runtime()
    now = now or utcnow()
    result = SweepResult()
    prefix = rt.settings.tracking_prefix
    with rt.sessions() as session:
        overdue = list(session.scalars(
            select(Complaint.id).where(Complaint.due_at < now, Complaint.state.in_(WORKING_STATES),
                                       Complaint.escalation_level < 2)
            .order_by(Complaint.due_at).limit(BATCH)))
        silent = list(session.scalars(
            select(Complaint.id).where(Complaint.state == State.RESOLVED.value,
                                       Complaint.resolved_at <= now - REMINDER_EVERY)
            .order_by(Complaint.resolved_at).limit(BATCH)))
    for complaint_id in overdue:
        with transaction(rt.sessions) as session:
            complaint = _locked(session, complaint_id)
            step = _overdue_step(session, complaint, now) if complaint else None
        if step == "head":
            result.to_department_head += 1
        elif step == "province":
            result.to_province += 1
    outbound = []
    for complaint_id in silent:
        with transaction(rt.sessions) as session:
            complaint = _locked(session, complaint_id)
            step = _silence_step(session, complaint, now, prefix) if complaint else None
            if step is not None and not isinstance(step, str):
                session.flush()
                outbound.append(step.id)
                result.reminders += 1
            elif step == "escalated":
                result.unanswered_escalations += 1
    for message_id in outbound:
        rt.queue.enqueue(jobs.deliver, message_id)
    if any(vars(result).values()):
        log.info("SLA sweep: %s", result)
    analytics_round(now)
    return result


SPIKES_EVERY = timedelta(hours=1)
_last_spikes: datetime | None = None


def analytics_round(now: datetime | None = None) -> list[int] | None:
    """Today's spike alerts, scored again at most once per ``SPIKES_EVERY`` (a spike is
    noticed the day it happens, not the morning after; an alert is stored once per day,
    district and category and refreshed with the day's count). Runs in the leader's sweep."""
    global _last_spikes
    from gateway import analytics_jobs

    now = now or utcnow()
    if _last_spikes is not None and now - _last_spikes < SPIKES_EVERY:
        return None
    _last_spikes = now
    try:
        alerts = analytics_jobs.daily_spikes()
    except Exception:  # logged, tried again next hour; the SLA job must not stop for it
        log.exception("spike detection failed")
        return None
    try:
        analytics_jobs.weekly_reports()  # once a week per subscriber (it checks)
    except Exception:
        log.exception("weekly reports failed")
    return alerts
