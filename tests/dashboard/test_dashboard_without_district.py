"""Complaints nobody has placed yet (an anonymous mail with no district, a phone call with no
district or department) never break a dashboard page, for any role."""

from __future__ import annotations

import pytest

from .conftest import STAFF, file_complaint, login

PAGES = ["/dashboard/", "/dashboard/?status=any", "/dashboard/?view=unassigned",
         "/dashboard/?status=any&simulated=1", "/dashboard/department", "/dashboard/province",
         "/dashboard/department.csv", "/dashboard/province.csv", "/dashboard/?partial=1"]


@pytest.fixture
def unplaced(rt):
    return [
        file_complaint(rt, channel="email", address="someone@example.org", district=None,
                       department=None, category=None, text="Anonymous: the clinic is closed"),
        file_complaint(rt, channel="email", address="other@example.org", district=None,
                       text="No district given, water department"),
        file_complaint(rt, channel="voice", district=None, department=None, category=None,
                       text="(recording)"),
        file_complaint(rt, channel="voice", district=None, text="(recording) no water"),
        file_complaint(rt),  # and one placed, so codes and None meet in the same lists
    ]


@pytest.mark.parametrize("role", [name for name in STAFF if name != "clerk"])
def test_every_dashboard_page_answers_for_every_role(rt, app, staff, unplaced, role):
    client = login(app, role)
    for page in PAGES:
        answer = client.get(page)
        assert answer.status_code in (200, 403), (page, answer.status_code)
        assert answer.status_code == 200 or page.startswith(("/dashboard/department", "/dashboard/province"))
    for case in unplaced:
        assert client.get(f"/dashboard/cases/{case.number}").status_code in (200, 404)


def _levels(role: str) -> list[str]:
    return ["/dashboard/department"] + (["/dashboard/province"] if STAFF[role][0] in ("admin", "viewer") else [])


@pytest.mark.parametrize("role", [name for name in STAFF if name != "clerk"])
def test_every_figure_page_and_every_link_on_it_answers_200(rt, app, staff, unplaced, role):
    """Each dashboard of the role's level, narrowed every way (a district, a category, a
    department, another map, a long period) and every link on it (drill-downs, queue
    filters, CSV) answer 200 with cases nobody has placed among the figures."""
    import html
    import re

    from .test_dashboard_figures import kpi
    client = login(app, role)
    seen: set[str] = set()
    for level in _levels(role):
        for query in ("", "?district=PSW", "?category=PHED_NO_WATER", "?district=PSW&category=PHED_NO_WATER",
                      "?department=PHED", "?map=received", "?map=overdue", "?map=satisfaction",
                      "?from=2020-01-01", "?district=NOWHERE"):
            answer = client.get(level + query)
            assert answer.status_code == 200, (level + query, answer.status_code)
            page = answer.get_data(as_text=True)
            assert kpi(page, "Open").isdigit()
            for href in re.findall(r'href="(/dashboard/[^"#]*)', page):
                href = html.unescape(href)
                if href not in seen and not href.startswith("/dashboard/cases/"):
                    seen.add(href)
                    assert client.get(href).status_code == 200, (level + query, href)
    assert any("district=" in h for h in seen) and any(".csv" in h for h in seen)
