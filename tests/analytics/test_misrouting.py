"""Misrouting on the dashboards: per department, the complaints it transferred out in the
period and to which departments; a department sees its own rows only."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from sqlalchemy import update

from analytics import misrouting
from analytics.performance import Filters, Period
from storage import lifecycle, tracking
from storage.db import transaction
from storage.messages import contact_for
from storage.models import Category, Complaint, ComplaintEvent, User, utcnow
from tests.dashboard.conftest import login

_n = itertools.count(1)


def _transfer(s, head: int, first: str, final: str, *, simulated: bool = False, days_ago: int = 0,
              district: str = "PSW") -> None:
    contact = contact_for(s, "whatsapp", f"+92303{next(_n):07d}")
    c = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id, contact_id=contact.id,
                  channel="whatsapp", language="en", description="Handpump broken since a week",
                  district_code=district, department_code=s.get(Category, first).department_code,
                  category_code=first, simulated=simulated)
    lifecycle.submit(s, c, None, lifecycle.Actor("citizen", channel="whatsapp"), sla_days=3)
    s.flush()
    event = lifecycle.recategorise(s, c, lifecycle.Actor("department_head", user_id=head), final,
                                   reason="not ours")
    if days_ago:
        s.flush()
        s.execute(update(ComplaintEvent).where(ComplaintEvent.id == event.id)
                  .values(created_at=utcnow() - timedelta(days=days_ago)))


def _seed(rt, staff) -> None:
    with transaction(rt.sessions) as s:
        for _ in range(2):
            _transfer(s, staff["head_phed"], "PHED_NO_WATER", "POLICE_INACTION")
        _transfer(s, staff["head_phed"], "PHED_NO_WATER", "EDUCATION_TEACHER_ABSENT")
        _transfer(s, staff["head_phed"], "PHED_PUMP_MOTOR", "PHED_NO_WATER")  # within PHED: no transfer
        _transfer(s, staff["head_phed"], "PHED_NO_WATER", "POLICE_FIR", simulated=True)  # practice
        _transfer(s, staff["head_phed"], "PHED_NO_WATER", "POLICE_FIR", days_ago=90)  # before the period
        _transfer(s, staff["head_police"], "POLICE_INACTION", "PHED_NO_WATER")


def _rows(page: str) -> dict[str, str]:
    section = page.split('<section id="misrouting">')[1].split("</section>")[0]
    return dict(re.findall(r'<tr data-department="(\w+)">(.*?)</tr>', section, re.S))


def test_transfers_out_are_counted_per_department_and_receiving_department(rt, staff):
    _seed(rt, staff)
    period = Period.parse(None, None)
    with rt.sessions() as s:
        viewer = s.get(User, staff["viewer"])
        rows = misrouting.transfers_out(s, viewer, period)
        assert [(r.department, r.total, r.to) for r in rows] == [
            ("PHED", 3, [("POLICE", 2), ("EDUCATION", 1)]), ("POLICE", 1, [("PHED", 1)])]
        picked = misrouting.transfers_out(s, viewer, period, Filters(department="POLICE"))
        assert [r.department for r in picked] == ["POLICE"]
        earlier = Period.parse((utcnow() - timedelta(days=100)).date().isoformat(),
                               (utcnow() - timedelta(days=60)).date().isoformat())
        assert [(r.department, r.total, r.to) for r in misrouting.transfers_out(s, viewer, earlier)] == [
            ("PHED", 1, [("POLICE", 1)])]
        # A department head asking for another department still gets only their own.
        head = s.get(User, staff["head_police"])
        assert [r.department for r in misrouting.transfers_out(s, head, period, Filters(department="PHED"))] == ["POLICE"]


def test_the_dashboards_show_each_department_only_its_own_transfers(rt, app, staff):
    _seed(rt, staff)
    phed = _rows(login(app, "head_phed").get("/dashboard/department").get_data(as_text=True))
    assert list(phed) == ["PHED"]
    assert re.search(r'<td class="num">3</td>', phed["PHED"])
    assert re.search(r'data-to="POLICE">[^<]+\(2\)', phed["PHED"])
    assert re.search(r'data-to="EDUCATION">[^<]+\(1\)', phed["PHED"])
    police = _rows(login(app, "head_police").get("/dashboard/department").get_data(as_text=True))
    assert list(police) == ["POLICE"]  # PHED's transfers are not another head's business
    assert re.search(r'data-to="PHED">[^<]+\(1\)', police["POLICE"])
    officer = _rows(login(app, "officer_police").get("/dashboard/department").get_data(as_text=True))
    assert list(officer) == ["POLICE"]
    elsewhere = login(app, "officer_mdn").get("/dashboard/department").get_data(as_text=True)
    assert _rows(elsewhere) == {} and "No complaint was transferred out in this period." in elsewhere
    province = _rows(login(app, "viewer").get("/dashboard/province").get_data(as_text=True))
    assert list(province) == ["PHED", "POLICE"]
