"""End to end in headless Chromium: a citizen files a complaint in the simulator, an officer
answers it on the dashboard, resolves it, the citizen says "no" (reopened and escalated, seen
live on the case page), the officer resolves again, the citizen says "yes" (closed).

Playwright drives Debian's chromium (never a downloaded browser). Screenshots of the queue,
the case page and the province dashboard are saved under artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from storage.db import transaction
from storage.models import Complaint, User
from tests.browser import chromium, served

from .conftest import PASSWORD

playwright_sync = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SENDER = "+923331112233"
TIMEOUT = 15_000


@pytest.fixture
def server(rt):
    with served(rt) as url:
        yield url


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


class SimulatedCitizen:
    """The citizen, typing into the /simulator page."""

    def __init__(self, page, base: str) -> None:
        self.page = page
        page.goto(base + "/simulator")
        page.select_option("#persona", "whatsapp")
        page.fill("#sender", SENDER)
        page.dispatch_event("#sender", "change")

    def replies(self) -> int:
        return self.page.locator("#thread .bubble.out").count()

    def says(self, text: str) -> str:
        """Send ``text``; wait for the reply and return its text."""
        before = self.replies()
        self.page.fill("#text", text)
        self.page.click("#send button[type=submit]")
        self.wait_for_replies(before + 1)
        return self.page.locator("#thread .bubble.out").last.inner_text()

    def wait_for_replies(self, count: int) -> None:
        self.page.wait_for_function(
            "n => document.querySelectorAll('#thread .bubble.out').length >= n", arg=count,
            timeout=TIMEOUT)


@pytest.mark.parametrize("rt", ["postgresql"], indirect=True)
def test_officer_works_a_simulator_case_to_citizen_confirmed_closure(rt, server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    citizen = SimulatedCitizen(context.new_page(), server)

    # The citizen files a complaint in the simulator.
    citizen.says("hi")
    citizen.says("1")
    citizen.says("There is no water supply in our street since Monday, the pipe is broken")
    citizen.says("Peshawar")
    citizen.says("Gulbahar, street 5 near the mosque")
    for _ in range(4):  # confirm the suggested department, skip the name, confirm the summary
        with rt.sessions() as s:
            if s.scalar(select(Complaint.id)) is not None:
                break
        citizen.says("yes" if _ != 1 else "skip")
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        number, department, district = complaint.tracking_number, complaint.department_code, complaint.district_code
    assert district == "PSW"

    # An officer of that department and district signs in.
    from gateway.passwords import hash_password
    with transaction(rt.sessions) as s:
        officer = s.scalars(select(User).where(User.username == "e2e_officer")).first() or User(username="e2e_officer")
        officer.display_name, officer.role, officer.active = "Officer Bibi", "officer", True
        officer.department_code, officer.district_code = department, district
        officer.password_hash = hash_password(PASSWORD)
        s.add(officer)
    page = context.new_page()
    # The case came from the simulator: officers see such cases only with "Show simulated".
    page.goto(server + "/dashboard/?simulated=1")
    page.fill("input[name=username]", "e2e_officer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(f'tr[data-tracking="{number}"]', timeout=TIMEOUT)
    page.screenshot(path=str(ARTIFACTS / "dashboard-queue.png"), full_page=True)

    # Open the case, reply; the reply reaches the simulator.
    page.click(f'tr[data-tracking="{number}"] a')
    page.wait_for_selector("#timeline")
    assert "no water supply" in page.inner_text("#case-header")
    before = citizen.replies()
    page.fill("#reply-form textarea[name=text]", "A team will visit your street tomorrow morning.")
    page.click("#reply-form button[type=submit]")
    citizen.wait_for_replies(before + 1)
    assert "A team will visit your street" in citizen.page.locator("#thread .bubble.out").last.inner_text()
    page.wait_for_selector('#timeline li[data-kind=officer_message] .delivery[data-status=delivered], '
                           '#timeline li[data-kind=officer_message] .delivery[data-status=sent]', timeout=TIMEOUT)

    # Resolve; the citizen is asked and says no: reopened and escalated, live on the case page.
    resolve(page, "The pipe has been repaired.")
    citizen.wait_for_replies(before + 2)
    assert "satisfied" in citizen.page.locator("#thread .bubble.out").last.inner_text().lower()
    citizen.says("no")
    page.wait_for_selector("#case-state[data-state=reopened]", timeout=TIMEOUT)
    assert page.locator("#case-escalation").get_attribute("data-level") == "1"
    page.screenshot(path=str(ARTIFACTS / "dashboard-case.png"), full_page=True)

    # Resolve again; the citizen says yes: closed, again without a reload.
    replies = citizen.replies()
    resolve(page, "The pipe was replaced and water pressure checked.")
    citizen.wait_for_replies(replies + 1)
    citizen.says("yes")
    page.wait_for_selector("#case-state[data-state=closed]", timeout=TIMEOUT)
    with rt.sessions() as s:
        assert s.scalars(select(Complaint)).one().state == "closed"

    # The province dashboard, as the monitoring cell sees it.
    page.click("form[action='/auth/logout'] button")
    page.fill("input[name=username]", "admin_e2e")
    with transaction(rt.sessions) as s:
        admin = s.scalars(select(User).where(User.username == "admin_e2e")).first() or User(username="admin_e2e")
        admin.role, admin.active, admin.password_hash = "admin", True, hash_password(PASSWORD)
        s.add(admin)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    # The dashboards count real cases only: the case worked above, filed from the simulator,
    # is taken as a real one from here on so that its figures show.
    with transaction(rt.sessions) as s:
        s.execute(update(Complaint).values(simulated=False))
    page.goto(server + "/dashboard/province")
    page.wait_for_selector("#kpis")
    # Each figure as the page shows it (label -> number) equals the database's count.
    shown = dict(page.eval_on_selector_all(
        "#kpis .kpi", "boxes => boxes.map(b => [b.firstChild.textContent.trim(), b.querySelector('b').textContent.trim()])"))
    with rt.sessions() as s:
        states = s.scalars(select(Complaint.state)).all()
    assert (shown["Received"], shown["Open"], shown["Closed (citizen confirmed)"],
            shown["Resolved (awaiting citizen)"]) == (
        str(len(states)), str(sum(state != "closed" for state in states)),
        str(states.count("closed")), str(states.count("resolved")))
    assert states == ["closed"]  # the figures above are 1, 0, 1, 0: the one complaint, closed
    page.screenshot(path=str(ARTIFACTS / "dashboard-province.png"), full_page=True)
    context.close()


def resolve(page, note: str) -> None:
    page.fill("#resolve-form textarea[name=note]", note)
    page.click("#resolve-form button[type=submit]")
    page.wait_for_selector("#case-state[data-state=resolved]", timeout=TIMEOUT)
