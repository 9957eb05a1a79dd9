"""The dashboards tell the truth: the backlog is every open case now, whatever period is
chosen; the period's flow is what happened in it, compared with the period before; a row
drills down to its cases; times are in days."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage import lifecycle, tracking
from storage.db import transaction
from storage.messages import contact_for, insert_inbound
from storage.models import OPEN_STATES, Complaint, ComplaintEvent, utcnow

from .conftest import csrf, file_complaint, login

WORKING = ("submitted", "assigned", "in_progress", "reopened")


def kpi(page: str, label: str) -> str:
    """The figure of the box labelled ``label`` as the page shows it."""
    found = re.search(r'class="kpi[^"]*"[^>]*>\s*' + re.escape(label) + r'\s*<b[^>]*>([^<]+)</b>', page)
    assert found, f"no figure {label!r} on the page"
    return found.group(1).strip()


def age(rt, case, days: float, due_in: float | None = None) -> None:
    """Make ``case`` come in ``days`` ago (its events too), due ``due_in`` days after that."""
    now = utcnow()
    created = now - timedelta(days=days)
    with transaction(rt.sessions) as s:
        values = {"created_at": created}
        if due_in is not None:
            values["due_at"] = created + timedelta(days=due_in)
        s.execute(update(Complaint).where(Complaint.id == case.id).values(**values))
        s.execute(update(ComplaintEvent).where(ComplaintEvent.complaint_id == case.id)
                  .values(created_at=created))


def resolve(rt, case, officer_id: int, *, days_ago: float = 0) -> None:
    actor = lifecycle.Actor("officer", user_id=officer_id)
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, case.id)
        lifecycle.assign(s, complaint, actor, user_id=officer_id)
        lifecycle.resolve(s, complaint, actor, "Pipe repaired")
    if days_ago:
        when = utcnow() - timedelta(days=days_ago)
        with transaction(rt.sessions) as s:
            s.execute(update(Complaint).where(Complaint.id == case.id).values(resolved_at=when))
            s.execute(update(ComplaintEvent).where(ComplaintEvent.complaint_id == case.id,
                                                   ComplaintEvent.kind.in_(("assign", "resolve")))
                      .values(created_at=when))


def answer(rt, case, address: str, *, satisfied: bool) -> None:
    """The complainant answers "are you satisfied?" from their own number."""
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, case.id)
        message, _ = insert_inbound(s, contact_for(s, "whatsapp", address), channel="whatsapp",
                                    provider_id=f"answer-{tracking.new_number()}",
                                    text="yes" if satisfied else "no", payload={})
        if satisfied:
            lifecycle.confirm_satisfied(s, complaint, message)
        else:
            lifecycle.reject_resolution(s, complaint, message)


def truth(rt) -> dict[str, int]:
    """The backlog counted straight from the rows, in Python."""
    now = utcnow()
    with rt.sessions() as s:
        rows = s.execute(select(Complaint.state, Complaint.due_at, Complaint.created_at)
                         .where(Complaint.simulated.is_(False))).all()
    open_rows = [r for r in rows if r.state in OPEN_STATES]

    def aged(r) -> int:
        created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=now.tzinfo)
        return (now - created).days

    def late(r) -> bool:
        due = r.due_at if r.due_at is None or r.due_at.tzinfo else r.due_at.replace(tzinfo=now.tzinfo)
        return r.state in WORKING and due is not None and due < now

    return {"open": len(open_rows), "overdue": sum(late(r) for r in open_rows),
            "week": sum(aged(r) <= 7 for r in open_rows),
            "month": sum(8 <= aged(r) <= 30 for r in open_rows),
            "older": sum(aged(r) > 30 for r in open_rows)}


@pytest.fixture
def backlog(rt, staff):
    """Old open cases (most overdue), a few new ones, one closed and one reopened this week,
    one received the week before."""
    officer = staff["officer_psw"]
    for _ in range(6):
        age(rt, file_complaint(rt), days=60, due_in=3)          # open two months, overdue
    for _ in range(2):
        age(rt, file_complaint(rt), days=20, due_in=30)         # open 20 days, not yet due
    for _ in range(3):
        file_complaint(rt)                                       # this week
    closed = file_complaint(rt, address="+923001110001")
    age(rt, closed, days=40, due_in=3)
    resolve(rt, closed, officer)
    answer(rt, closed, "+923001110001", satisfied=True)          # closed this week, 37 days late
    reopened = file_complaint(rt, address="+923001110002")
    resolve(rt, reopened, officer)
    answer(rt, reopened, "+923001110002", satisfied=False)       # reopened this week
    on_time = file_complaint(rt)
    age(rt, on_time, days=5, due_in=3)
    resolve(rt, on_time, officer, days_ago=4)                    # due this week, resolved in time
    age(rt, file_complaint(rt), days=6, due_in=5)                # due yesterday, still open
    age(rt, file_complaint(rt), days=10, due_in=30)              # received the week before
    return officer


def test_open_and_overdue_are_the_whole_backlog_not_the_periods_cohort(rt, app, staff, backlog):
    today = utcnow().date()
    week = f"from={today - timedelta(days=6)}&to={today}"
    expected = truth(rt)
    assert expected["open"] == 15 and expected["overdue"] == 7  # the mix is what it says
    for user, path in (("viewer", "/dashboard/province"), ("head_phed", "/dashboard/department"),
                       ("officer_psw", "/dashboard/department")):
        page = login(app, user).get(f"{path}?{week}").get_data(as_text=True)
        assert kpi(page, "Open") == str(expected["open"]), user
        assert kpi(page, "Overdue") == str(expected["overdue"]), user
        assert kpi(page, "Open 0–7 days") == str(expected["week"]) == "6"
        assert kpi(page, "Open 8–30 days") == str(expected["month"]) == "3"
        assert kpi(page, "Open over 30 days") == str(expected["older"]) == "6"
        # The period's flow: 6 received this week (1 the week before), 2 resolved (a third
        # was, but the citizen rejected it), 1 closed, 1 reopened; of the 2 cases due this
        # week, 1 resolved by its due time.
        assert kpi(page, "Received") == "6"
        assert kpi(page, "Resolved in the period") == "2"
        assert kpi(page, "Closed (citizen confirmed)") == "1"
        assert kpi(page, "Reopened") == "1"
        assert kpi(page, "Resolved by due date") == "50%"
        assert "+5 (+500%) vs previous period" in page
    # The same figures whatever the period: the backlog is now.
    year = login(app, "viewer").get("/dashboard/province?from=2020-01-01").get_data(as_text=True)
    assert kpi(year, "Open") == "15" and kpi(year, "Overdue") == "7"


def test_csv_gives_the_backlog_and_days(rt, app, staff, backlog):
    body = login(app, "viewer").get("/dashboard/province.csv?table=district").get_data(as_text=True)
    header, psw = body.lstrip("\ufeff").splitlines()[0].split(","), None
    for line in body.splitlines()[1:]:
        if line.startswith("PSW,"):
            psw = dict(zip(header, line.split(","), strict=True))
    assert psw and psw["open"] == "15" and psw["overdue"] == "7" and psw["open_over_30_days"] == "6"
    assert "median_days_to_closure" in header and not any("hours" in h for h in header)


def test_times_are_in_days(rt, app, staff, backlog):
    since = utcnow().date() - timedelta(days=90)
    page = login(app, "viewer").get(f"/dashboard/province?from={since}").get_data(as_text=True)
    # The case closed this week had come in 40 days before.
    assert re.search(r"Median time to closure<b>40\.0 days</b>", page)
    assert " h<" not in page and " h</" not in page


def test_province_drills_down_to_district_category_and_cases(rt, app, staff, backlog):
    file_complaint(rt, department="POLICE", category="POLICE_FIR", district="MDN")
    client = login(app, "viewer")
    page = client.get("/dashboard/province").get_data(as_text=True)
    assert 'href="/dashboard/province?district=PSW"' in page
    district = client.get("/dashboard/province?district=PSW").get_data(as_text=True)
    assert kpi(district, "Open") == "15"  # the MDN case is not in Peshawar
    assert 'id="table-district"' not in district and 'id="table-category"' in district
    link = html.unescape(re.search(r'<th scope="row"><a href="([^"]+)">', district.split('id="table-category"')[1]).group(1))
    assert link == "/dashboard/?district=PSW&category=PHED_NO_WATER"
    cases = client.get(link).get_data(as_text=True)
    assert cases.count("data-tracking=") == 15
    overdue = client.get(link + "&overdue=1").get_data(as_text=True)
    assert overdue.count("data-tracking=") == 7
    # The path back up.
    assert re.search(r'class="crumbs"><a href="/dashboard/province">All</a> › Peshawar', district)


def test_worst_rows_against_target_are_listed(rt, app, staff, backlog):
    page = login(app, "viewer").get("/dashboard/province").get_data(as_text=True)
    behind = re.sub(r"<[^>]+>", "", page.split('id="behind"')[1].split("</section>")[0])
    assert "Peshawar" in behind and "7 overdue" in behind and "target 90%" in behind


def test_long_tables_show_ten_rows_and_fold_the_rest(rt, app, staff):
    codes = ["PSW", "MDN", "ABT", "SWT", "DIK", "KHT", "NSR", "CSD", "BNU", "KRK", "HNG", "LKM"]
    for n, code in enumerate(codes):
        for _ in range(len(codes) - n):
            file_complaint(rt, district=code)
    page = login(app, "viewer").get("/dashboard/province").get_data(as_text=True)
    section = page.split('id="table-district"')[1].split("</section>")[0]
    shown, folded = section.split("<details>")
    assert shown.count('<th scope="row">') == 10 and folded.count('<th scope="row">') == 2
    assert "<summary>2 more</summary>" in folded
    # The bars are the backlog, largest first.
    bars = re.search(r'<svg[^>]*class="chart"[^>]*>.*?</svg>', section, re.S).group(0)
    titles = re.findall(r"<title>([^<:]+): (\d+)", bars)
    assert [int(n) for _, n in titles] == sorted((int(n) for _, n in titles), reverse=True)
    assert titles[0][1] == "12" and len(titles) == 10


def _luminance(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_map_is_darker_where_more_is_open_and_its_legend_says_so(rt, app, staff):
    for code, n in (("PSW", 9), ("MDN", 4), ("ABT", 1)):
        for _ in range(n):
            file_complaint(rt, district=code)
    page = login(app, "viewer").get("/dashboard/province").get_data(as_text=True)
    svg = re.search(r'<svg[^>]*class="chart map".*?</svg>', page, re.S).group(0)
    fill = {code: re.search(rf'data-district="{code}".*?<rect [^>]*fill="(#[0-9a-f]{{6}})"', svg, re.S).group(1)
            for code in ("PSW", "MDN", "ABT")}
    assert _luminance(fill["PSW"]) < _luminance(fill["MDN"]) < _luminance(fill["ABT"])
    legend = re.findall(r'class="legend-class" data-fill="(#[0-9a-f]{6})"', svg)
    assert len(legend) == 3 and legend == sorted(legend, key=_luminance, reverse=True)
    assert re.search(r">fewer</text>.*legend-class.*>more</text>", svg, re.S)


def test_urdu_charts_keep_their_title_and_labels_laid_out_left_to_right(rt, app, staff):
    file_complaint(rt)
    client = login(app, "viewer")
    client.post("/dashboard/language", data={"lang": "ur", "next": "/dashboard/province",
                                             "csrf_token": csrf(client)})
    page = client.get("/dashboard/province").get_data(as_text=True)
    svgs = re.findall(r"<svg[^>]*>", page)
    assert svgs and all('direction="ltr"' in tag for tag in svgs)
    bars = re.search(r'<svg[^>]*aria-label="اس وقت زیر التوا — ضلع" class="chart">.*?</svg>', page, re.S)
    assert bars, "the Urdu bar chart lost its title"
    assert re.search(r'<text x="0" y="16"[^>]*>اس وقت زیر التوا — ضلع</text>', bars.group(0))
    label = re.search(r'<text x="(\d+)"[^>]*class="label">([^<]+)</text>', bars.group(0))
    assert label.group(2) == "پشاور"
    from analytics.charts import _text_width
    assert _text_width(label.group(2), 12) <= int(label.group(1))  # the name fits left of its bar


def test_narrowing_never_widens_the_scope(rt, app, staff):
    """A head naming another department, an officer naming another district: the figures
    stay theirs (the address narrows, it never grants)."""
    file_complaint(rt, department="POLICE", category="POLICE_FIR", district="MDN")
    file_complaint(rt, department="POLICE", category="POLICE_FIR", district="PSW")
    file_complaint(rt, district="MDN")
    head = login(app, "head_phed")
    page = head.get("/dashboard/department?department=POLICE").get_data(as_text=True)
    assert kpi(page, "Open") == "1" and "POLICE_FIR" not in page
    csv = head.get("/dashboard/department.csv?table=category&department=POLICE").get_data(as_text=True)
    assert "POLICE_FIR" not in csv
    officer = login(app, "officer_psw")
    assert kpi(officer.get("/dashboard/department?district=MDN").get_data(as_text=True), "Open") == "0"
    assert kpi(officer.get("/dashboard/department").get_data(as_text=True), "Open") == "0"
    assert login(app, "officer_police").get("/dashboard/province?department=POLICE").status_code == 403
