"""Spike alerts: a district and category receiving far more complaints today than on the same
weekday of past weeks is noticed by the scheduler, stored with the numbers behind it, shown
to the department head and the province's viewers, and mailed once to those who subscribed."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import select

from gateway import scheduler
from storage import clusters, lifecycle, tracking
from storage.clusters import SpikeAlert
from storage.db import transaction
from storage.messages import contact_for
from storage.models import Category, Complaint, Contact, Message, utcnow
from tests.dashboard.conftest import login

_n = itertools.count(1)
SUBSCRIBED = {"head_phed": "head.phed@kp.gov.pk", "viewer": "monitoring@kp.gov.pk",
              "head_police": "head.police@kp.gov.pk", "officer_psw": "officer.psw@kp.gov.pk"}


def _complaints(rt, count: int, days_ago: int, district: str = "PSW", category: str = "PHED_NO_WATER") -> None:
    with transaction(rt.sessions) as s:
        for _ in range(count):
            contact = contact_for(s, "whatsapp", f"+92300{next(_n):07d}")
            complaint = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id,
                                  contact_id=contact.id, channel="whatsapp", language="en",
                                  description=f"No water in street {next(_n)}", district_code=district,
                                  department_code="PHED", category_code=category)
            lifecycle.submit(s, complaint, None, lifecycle.Actor("citizen", channel="whatsapp"), sla_days=3)
            complaint.created_at = utcnow() - timedelta(days=days_ago)


def _mails(rt) -> dict[str, list[str]]:
    with rt.sessions() as s:
        rows = [(address, m.body) for address, m in s.execute(
            select(Contact.address, Message).join(Contact, Contact.id == Message.contact_id)
            .where(Message.kind == "staff_spike_alert")).all()]
    out: dict[str, list[str]] = {}
    for address, body in rows:
        out.setdefault(address, []).append(body)
    return out


def test_a_spike_is_stored_explained_shown_and_mailed_once(rt, app, staff):
    for weeks in range(1, 9):  # the same weekday of the last eight weeks: 2 complaints each
        _complaints(rt, 2, 7 * weeks)
    _complaints(rt, 12, 0)
    _complaints(rt, 2, 0, district="MDN")  # an ordinary day elsewhere
    with transaction(rt.sessions) as s:
        for name, email in SUBSCRIBED.items():
            clusters.subscribe(s, staff[name], email)
        water = s.get(Category, "PHED_NO_WATER").name_en
    scheduler._last_spikes = None
    scheduler.sla_sweep()  # the leader's round scores today's spikes
    with rt.sessions() as s:
        [alert] = s.scalars(select(SpikeAlert)).all()
        assert (alert.district_code, alert.count, alert.baseline, alert.ratio) == ("PSW", 12, 2.0, 6.0)
        explanation = alert.explanation
    assert explanation == f"Peshawar · {water}: 12 today vs 2 usual, 6.0×"
    # Mailed to the department's head and the province's monitoring, with the numbers.
    mails = _mails(rt)
    assert set(mails) == {"head.phed@kp.gov.pk", "monitoring@kp.gov.pk"}
    assert all(explanation in body[0] and "12 complaints today against a usual 2" in body[0]
               for body in mails.values())
    rt.queue.run_due()  # their deliveries were queued with the mails
    with rt.sessions() as s:
        assert {m.status for m in s.scalars(select(Message).where(Message.kind == "staff_spike_alert"))} \
            <= {"sent", "delivered"}
    # On the dashboards of those who watch the department or the province.
    for name in ("head_phed", "viewer"):
        page = login(app, name).get("/dashboard/").get_data(as_text=True)
        assert 'id="spike-alerts"' in page and explanation in page, name
    for name in ("head_police", "officer_psw"):
        page = login(app, name).get("/dashboard/").get_data(as_text=True)
        assert 'id="spike-alerts"' not in page and explanation not in page, name
    # The next round refreshes the alert but mails nobody again.
    _complaints(rt, 3, 0)
    scheduler._last_spikes = None
    scheduler.sla_sweep()
    with rt.sessions() as s:
        [alert] = s.scalars(select(SpikeAlert)).all()
        assert alert.count == 15
    assert {k: len(v) for k, v in _mails(rt).items()} == {"head.phed@kp.gov.pk": 1, "monitoring@kp.gov.pk": 1}


def test_an_ordinary_day_raises_no_alert(rt, staff):
    for weeks in range(1, 9):
        _complaints(rt, 3, 7 * weeks)
    _complaints(rt, 4, 0)
    scheduler._last_spikes = None
    scheduler.sla_sweep()
    with rt.sessions() as s:
        assert s.scalars(select(SpikeAlert)).all() == []
