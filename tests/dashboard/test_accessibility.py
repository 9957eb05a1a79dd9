"""Every staff page (and the tracking page and the sign-in page), in English and in Urdu, in
headless Chromium: axe-core finds no violation, and at a phone's 390 px the page does not
scroll sideways. Screenshots at 1366 px and 390 px are saved under artifacts/a11y/.

axe-core comes from npm (scripts/test installs it next to Prism, IKHTIYAR_PRISM_DIR); it is
injected with Playwright's add_script_tag, in a context that bypasses the page's CSP (which
rightly refuses a script it did not name).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.passwords import new_token
from storage.db import transaction
from storage.models import Complaint, Conversation, User
from tests.browser import chromium, served
from tests.conftest import _unavailable

from .conftest import PASSWORD, file_complaint

playwright_sync = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "a11y"
PHONE, DESKTOP = 390, 1366
SLACK = 2  # px: sub-pixel rounding of the scroll width
# The WCAG 2.1 A/AA rules and axe's best practices; label-content-name-mismatch (a visible
# label the accessible name does not contain) is still marked experimental, so asked for.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                     "best-practice", "experimental"]},
               "rules": {"label-content-name-mismatch": {"enabled": True}}}


def axe_path() -> Path:
    base = os.environ.get("IKHTIYAR_PRISM_DIR") or str(Path.home() / ".cache" / "ikhtiyar-prism")
    path = Path(base) / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists():
        _unavailable("axe-core", f"npm install --prefix {base} axe-core@4 (bash scripts/test does it)")
    return path


@pytest.fixture
def server(rt):
    with served(rt) as url:
        yield url


def seed(rt) -> dict:
    """An Urdu complaint and an English one (the case page shows the Urdu one), and a scanned
    letter waiting for review."""
    urdu = file_complaint(rt, channel="sms", text="ہماری گلی میں تین دن سے پانی نہیں آ رہا، نمبر 0300 1234567")
    file_complaint(rt, text="The transformer in our street burnt out yesterday")
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, urdu.id)
        complaint.language = "ur"
        s.add(Conversation(contact_id=complaint.contact_id, language="ur", state={}))
        admin = s.scalars(select(User).where(User.username == "admin2")).one()
        token, admin.token_hash = new_token()
    letter = _upload_letter(rt, token)
    return {"case": urdu.number, "letter": letter}


def _upload_letter(rt, token: str) -> int | None:
    from gateway.app import create_app
    from tests.letters import scans

    if scans.MISSING:
        return None  # no OCR tools: the review page is not checked (tests/letters says why)
    data = scans.jpeg(scans.render(scans.ENGLISH, "latin", size=26, width=1200))
    answer = create_app(rt).test_client().post(
        "/api/v1/letters", data={"file": (io.BytesIO(data), "a.jpg")},
        headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_json()
    rt.queue.run_due()
    return answer.get_json()["id"]


def check(page, name: str, problems: list[str]) -> None:
    """axe on the page as it is, screenshots at both widths, sideways scroll at 390 px."""
    page.set_viewport_size({"width": DESKTOP, "height": 900})
    page.add_script_tag(path=str(axe_path()))
    violations = page.evaluate(
        """async options => (await axe.run(document, options)).violations.map(v =>
             `${v.id} (${v.nodes.length}): ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)""",
        AXE_OPTIONS)
    problems.extend(f"{name}: {v}" for v in violations)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{DESKTOP}.png"), full_page=True)
    page.set_viewport_size({"width": PHONE, "height": 844})
    page.wait_for_timeout(100)
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    if width > PHONE + SLACK:
        wide = page.evaluate("""limit => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > limit + 2 && getComputedStyle(e).position !== 'fixed')
            .slice(-3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))""",
                             PHONE)
        problems.append(f"{name}: {width} px wide at {PHONE} px ({', '.join(wide)})")
    page.screenshot(path=str(ARTIFACTS / f"{name}-{PHONE}.png"), full_page=True)


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.parametrize("rt", ["postgresql"], indirect=True)
def test_every_page_passes_axe_and_fits_a_phone_in_english_and_urdu(rt, staff, server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seeded = seed(rt)
    problems: list[str] = []
    pages = [("queue", "/dashboard/"), ("case", f"/dashboard/cases/{seeded['case']}"),
             ("department", "/dashboard/department"), ("province", "/dashboard/province"),
             ("letters", "/letters/"), ("letters-confirm", "/letters/confirm"),
             ("simulator", "/simulator")]
    if seeded["letter"]:
        pages.append(("letter-review", f"/letters/{seeded['letter']}"))
    with chromium() as browser:
        anonymous = browser.new_context(bypass_csp=True).new_page()
        for lang in ("en", "ur"):
            anonymous.goto(f"{server}/track/KP-{seeded['case']}?lang={lang}")
            check(anonymous, f"track-{lang}", problems)
        anonymous.goto(f"{server}/auth/login")
        check(anonymous, "login", problems)

        page = browser.new_context(bypass_csp=True).new_page()
        sign_in(page, server, "admin2")
        for lang in ("en", "ur"):
            if lang == "ur":
                page.goto(server + "/dashboard/")
                page.click("#switch-language")
                page.wait_for_load_state()
            for name, path in pages:
                page.goto(server + path)
                page.wait_for_load_state()
                check(page, f"{name}-{lang}", problems)
    assert problems == [], "\n".join(problems)
