"""The weekly report: `ikhtiyar reports build` and the dashboards' download write a PDF, in
English and in Urdu, whose figures (read back with pdftotext) are the week's."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from storage import clusters, lifecycle, tracking
from storage.db import transaction
from storage.messages import contact_for
from storage.models import Category, Complaint, ComplaintEvent
from tests.conftest import TEST_KEY
from tests.dashboard.conftest import login

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext") or not os.path.exists(
    "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf"),
    reason="needs poppler-utils and fonts-noto-core (scripts/test installs them)")
_n = itertools.count(1)
START, END = date(2026, 11, 16), date(2026, 11, 22)  # Monday to Sunday


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _complaint(s, day: date, *, state: str = "submitted", resolved: int | None = None,
               closed: int | None = None, department: str = "PHED", category: str = "PHED_NO_WATER",
               officer: int | None = None) -> Complaint:
    """A complaint of the past, as the lifecycle left it (its dates set to when it happened)."""
    contact = contact_for(s, "whatsapp", f"+92301{next(_n):07d}")
    c = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id, contact_id=contact.id,
                  channel="whatsapp", language="en", description="No water", district_code="PSW",
                  department_code=department, category_code=category)
    lifecycle.submit(s, c, None, lifecycle.Actor("citizen", channel="whatsapp"), sla_days=3)
    c.created_at, c.due_at, c.state, c.assigned_user_id = _at(day), _at(day + timedelta(days=3)), state, officer
    if resolved is not None:
        c.resolved_at = _at(day + timedelta(days=resolved))
    if closed is not None:
        c.closed_at = _at(day + timedelta(days=closed))
    return c


def _seed(rt, staff) -> str:
    with transaction(rt.sessions) as s:
        done = [_complaint(s, START + timedelta(days=i), state="closed", resolved=1, closed=2) for i in range(2)]
        s.add(ComplaintEvent(complaint_id=done[0].id, kind="confirmed_by_proxy", actor_kind="clerk",
                             to_state="closed", data={}))
        _complaint(s, START + timedelta(days=2), state="resolved", resolved=5)  # late
        late = [_complaint(s, START, officer=staff["officer_psw"]) for _ in range(3)]  # overdue
        for c in late[1:]:
            clusters.join(s, c, late[0], 0.9, {}, "test")
        for i in range(4):  # the week before: four, all closed
            _complaint(s, START - timedelta(days=7 - i), state="closed", resolved=1, closed=2)
        _complaint(s, date(2026, 10, 1))  # long open: the backlog's 30+
        _complaint(s, START + timedelta(days=1), department="POLICE", category="POLICE_INACTION")
        water = s.get(Category, "PHED_NO_WATER").name_en
        clusters.record_spike(s, START + timedelta(days=2), "PSW", "PHED_NO_WATER", count=41, baseline=9.0,
                              ratio=41 / 9, explanation=f"Peshawar · {water}: 41 today vs 9 usual, 4.6×",
                              model_version="test")
    return water


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return re.sub(r"[ \t]+", " ", out.stdout)


def _cli(rt, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "IKHTIYAR_VAR_DIR": str(tmp_path), "IKHTIYAR_DATA_KEY": TEST_KEY,
           "IKHTIYAR_DATABASE_URL": rt.settings.effective_database_url}
    env.pop("IKHTIYAR_REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "gateway.cli", "reports", "build", *args], env=env,
                          capture_output=True, text=True, timeout=180)


def test_the_weekly_report_in_english_carries_the_weeks_figures(rt, staff, tmp_path):
    _seed(rt, staff)
    out = tmp_path / "phed.pdf"
    done = _cli(rt, tmp_path, "--department", "PHED", "--from", START.isoformat(), "--to", END.isoformat(),
                "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = _text(out.read_bytes(), tmp_path)
    assert "2026-11-16 – 2026-11-22" in text and "2026-11-09 – 2026-11-15" in text
    assert re.search(r"Received 6 4 \+50%", text)          # this week, the week before, change
    # the backlog as of now: this week's four still open and one from October; four overdue
    assert re.search(r"Open now 5\n", text) and re.search(r"Overdue now 4\n", text)
    assert re.search(r"Closed \(citizen confirmed\) 2 4 -50%", text)
    assert re.search(r"SLA compliance 33% 100%", text)      # 2 of 6 resolved in time
    assert re.search(r"Satisfaction 100% 100%", text) and re.search(r"Confirmed by proxy 1", text)
    assert re.search(r"0-7 8-30 30\+\s+4 0 1", text)         # the backlog by age
    assert "41 today vs 9 usual, 4.6×" in text             # the week's spike
    assert re.search(r"Peshawar .* 3", text)                # the top cluster
    assert "Officer Psw 3 3" in text                        # most overdue
    assert "Complaints received per day" in text
    province = tmp_path / "kp.pdf"
    assert _cli(rt, tmp_path, "--from", START.isoformat(), "--to", END.isoformat(), "--out",
                str(province)).returncode == 0
    assert re.search(r"Received 7 4", _text(province.read_bytes(), tmp_path))  # the police one too


def test_the_weekly_report_in_urdu_downloaded_from_the_dashboard(rt, app, staff, tmp_path):
    _seed(rt, staff)
    head = login(app, "head_phed")
    page = head.get("/dashboard/department").get_data(as_text=True)
    assert 'id="weekly-report"' in page
    response = head.get(f"/dashboard/reports/weekly.pdf?from={START}&to={END}&lang=ur")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _text(response.data, tmp_path)
    assert re.search("[\u0600-\u06ff]", text)                # set in Urdu
    for figure in ("2026-11-16", "2026-11-22", "+50%", "33%", "41"):
        assert figure in text, figure
    # An officer reads the dashboards but not the department's report; nor another head.
    assert login(app, "officer_psw").get("/dashboard/reports/weekly.pdf").status_code == 403
    police = login(app, "head_police").get(f"/dashboard/reports/weekly.pdf?from={START}&to={END}")
    assert "+50%" not in _text(police.data, tmp_path)       # their own department's figures only


def test_the_scheduler_mails_last_weeks_figures_once_to_each_subscriber(rt, staff):
    from gateway import analytics_jobs

    _seed(rt, staff)
    with transaction(rt.sessions) as s:
        clusters.subscribe(s, staff["head_phed"], "head.phed@kp.gov.pk")
        clusters.subscribe(s, staff["viewer"], "monitoring@kp.gov.pk")
        clusters.subscribe(s, staff["officer_psw"], "officer@kp.gov.pk")  # officers get no report
    tuesday = END + timedelta(days=2)
    assert analytics_jobs.weekly_reports(tuesday) == 2
    assert analytics_jobs.weekly_reports(tuesday) == 0  # once a week
    from sqlalchemy import select

    from storage.models import Contact, Message
    with rt.sessions() as s:
        mails = {a: m.body for a, m in s.execute(select(Contact.address, Message).join(
            Contact, Contact.id == Message.contact_id).where(Message.kind == "staff_weekly_report"))}
    assert set(mails) == {"head.phed@kp.gov.pk", "monitoring@kp.gov.pk"}
    assert ("Received 6 (+50% on the week before), closed 2; open now 5, overdue now 4."
            in mails["head.phed@kp.gov.pk"])
    assert "Received 7 (+75% on the week before)" in mails["monitoring@kp.gov.pk"]
    assert f"/dashboard/reports/weekly.pdf?from={START}&to={END}" in mails["head.phed@kp.gov.pk"]
