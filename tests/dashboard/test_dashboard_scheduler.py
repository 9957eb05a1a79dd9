"""The SLA job: overdue cases go to the department head, then to the province; silent
citizens are reminded, then a supervisor is asked to call; nothing is ever closed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gateway import scheduler
from storage.db import transaction
from storage.models import Complaint, ComplaintEvent, Message, utcnow

from .conftest import file_complaint


def state(rt, case_id):
    with rt.sessions() as s:
        c = s.get(Complaint, case_id)
        return c.state, c.escalation_level


def test_overdue_case_goes_to_the_department_head_then_the_province(rt):
    case = file_complaint(rt, sla_days=1)
    now = utcnow()
    assert scheduler.sla_sweep(now).to_department_head == 0
    later = now + timedelta(days=1, hours=1)
    assert scheduler.sla_sweep(later).to_department_head == 1
    assert state(rt, case.id) == ("submitted", 1)
    assert scheduler.sla_sweep(later).to_province == 0  # not again at once
    with transaction(rt.sessions) as s:  # the head's escalation happened two days ago
        for event in s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "escalated")):
            event.created_at = now - timedelta(days=3)
    assert scheduler.sla_sweep(later).to_province == 1
    assert state(rt, case.id) == ("submitted", 2)
    assert scheduler.sla_sweep(later + timedelta(days=30)).to_province == 0


def age(rt, days: float) -> None:
    """Let ``days`` pass: every timestamp the job looks at moves back in time."""
    delta = timedelta(days=days)
    with transaction(rt.sessions) as s:
        for c in s.scalars(select(Complaint)):
            c.created_at -= delta
            c.due_at = c.due_at - delta if c.due_at else None
            c.resolved_at = c.resolved_at - delta if c.resolved_at else None
        for e in s.scalars(select(ComplaintEvent)):
            e.created_at -= delta


def test_silent_citizen_is_reminded_then_a_supervisor_is_asked_and_the_case_stays_open(rt):
    from conversation import casework
    from storage import lifecycle

    case = file_complaint(rt)
    with transaction(rt.sessions) as s:
        casework.resolve(s, s.get(Complaint, case.id), lifecycle.Actor("officer"), "Repaired")
    results = []
    for days in (1, 2, 0, 2, 2, 2, 30):
        age(rt, days)
        results.append(scheduler.sla_sweep())
    assert [r.reminders for r in results] == [0, 1, 0, 1, 0, 0, 0]
    assert [r.unanswered_escalations for r in results] == [0, 0, 0, 0, 1, 0, 0]
    assert state(rt, case.id) == ("resolved", 1)
    rt.queue.run_due()
    with rt.sessions() as s:
        reminders = s.scalars(select(Message).where(Message.kind == "satisfaction_reminder")).all()
        assert len(reminders) == 2 and all(m.status != "queued" for m in reminders)


def test_the_scheduler_never_closes_anything(rt):
    cases = [file_complaint(rt, sla_days=1) for _ in range(3)]
    for days in (2, 5, 10, 40):
        scheduler.sla_sweep(utcnow() + timedelta(days=days))
    with rt.sessions() as s:
        assert all(s.get(Complaint, c.id).state != "closed" for c in cases)
