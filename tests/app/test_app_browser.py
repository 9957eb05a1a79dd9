"""End to end in headless Chromium on a 390-pixel phone: open the front door, the app is
installable (its manifest has no errors), sign in with the code that arrives in the
simulator's SMS persona, file a complaint with a photo and the phone's location while the
connection drops and returns, see the tracking number, watch the officer's message arrive on
the timeline, answer "not satisfied" with a reason and see the case reopened. In English,
then in Urdu. Screenshots under artifacts/.

Playwright drives Debian's chromium (never a downloaded browser)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import select

from conversation.app_intake import app_text
from gateway.passwords import hash_password, new_token
from storage.db import transaction
from storage.models import Attachment, Complaint, ComplaintEvent
from tests.browser import chromium, served
from tests.staff import ensure_user

playwright_sync = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TIMEOUT = 20_000
PESHAWAR = {"latitude": 34.0151, "longitude": 71.5249}
DESCRIPTION = {"en": "No water in our street since Monday, the tube well pump is broken",
               "ur": "ہماری گلی میں پیر سے پانی نہیں آ رہا، ٹیوب ویل کا پمپ خراب ہے"}


@pytest.fixture
def server(rt):
    with served(rt) as url:
        yield url


@pytest.fixture
def browser():
    # a microphone that plays a tone, allowed without asking: the voice note
    with chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream") as launched:
        yield launched


@pytest.fixture
def officer(rt) -> dict:
    with transaction(rt.sessions) as s:
        # The classifier picks the department: an administrator answers whichever it is.
        user = ensure_user(s, "app_e2e_admin", "admin", None, None, hash_password("unused password"))
        token, digest = new_token()
        user.token_hash = digest
    return {"Authorization": f"Bearer {token}"}


def _photo() -> bytes:
    """A 3000x2000 phone photo; the app must shrink it before upload."""
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((3000, 2000)).convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _code_in_the_simulator(page, base: str, sender: str) -> str:
    page.goto(base + "/simulator")
    page.select_option("#persona", "sms")
    page.fill("#sender", sender)
    page.dispatch_event("#sender", "change")
    bubble = page.locator("#thread .bubble.out").last
    bubble.wait_for(timeout=TIMEOUT)
    return re.search(r"(\d{6})", bubble.inner_text()).group(1)


@pytest.mark.slow
# One backend is enough for the browser; the API tests run on both.
@pytest.mark.parametrize("rt", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", ["en", "ur"])
def test_a_citizen_files_offline_and_answers_not_satisfied_in_the_app(server, browser, rt, officer, lang):
    ARTIFACTS.mkdir(exist_ok=True)
    sender = "+92333444555" + ("1" if lang == "en" else "2")
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, geolocation=PESHAWAR,
                                  permissions=["geolocation", "microphone"], locale="ur-PK" if lang == "ur" else "en-GB")
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    shot = lambda name: page.screenshot(path=str(ARTIFACTS / f"app-{lang}-{name}.png"), full_page=True)  # noqa: E731

    # The front door, and the app it links to is installable.
    page.goto(f"{server}/?lang={lang}")
    assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ur" else "ltr")
    shot("1-front-door")
    page.goto(f"{server}/app/?lang={lang}")
    # Functions, not expression strings: Playwright would eval a string, which the page's CSP forbids.
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== undefined")
    page.evaluate("navigator.serviceWorker.ready")
    cdp = context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [] and manifest["url"].endswith("/app/manifest.webmanifest?lang=" + lang)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito, where Chrome offers no install; nothing else may stop it.
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling

    # Sign in with the code the simulator's SMS persona receives.
    page.select_option("#channel", "sms")
    page.fill("#address", sender)
    page.check("#simulated")
    page.click("#send-code")
    page.locator("#code").wait_for()
    shot("2-sign-in")
    simulator = context.new_page()
    code = _code_in_the_simulator(simulator, server, sender)
    simulator.close()
    page.fill("#code", code)
    page.click("#verify")

    # File with a photo and the location; the connection drops before sending.
    page.locator("#description").fill(DESCRIPTION[lang])
    page.click("#locate")
    page.wait_for_function("() => document.getElementById('located').textContent.includes('34.01')")
    assert page.input_value("#district") == "PSW"
    page.set_input_files("#photo", files=[{"name": "street.jpg", "mimeType": "image/jpeg", "buffer": _photo()}])
    page.locator("img.preview").wait_for()
    page.click("#voice")
    page.wait_for_timeout(1500)
    page.click("#voice")
    page.get_by_text(app_text("ui_voice_ready", lang)).wait_for()
    context.set_offline(True)
    page.click("#submit")
    page.get_by_text(app_text("ui_saved_offline", lang)).wait_for()
    assert page.locator("#net").is_visible()
    shot("3-saved-offline")
    with rt.sessions() as s:
        assert s.scalars(select(Complaint)).all() == []  # nothing left the phone yet
    context.set_offline(False)
    number = page.locator("#tracking").inner_text(timeout=TIMEOUT)
    assert number.startswith("KP-")
    shot("4-tracking-number")
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        assert complaint.channel == "app" and complaint.latitude == pytest.approx(34.0151)
        files = {a.content_type: a for a in s.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id))}
        assert set(files) == {"image/jpeg", "audio/webm"}
        photo = files["image/jpeg"]
        stored = Image.open(rt.attachments_dir / photo.path)
        assert max(stored.size) <= 1280 and photo.size < len(_photo())

    # The officer writes; the message appears on the open timeline.
    page.click("#tab-mine")
    page.click(f"li[data-number='{number}']")
    page.locator("#timeline").wait_for()
    r = requests.post(f"{server}/api/v1/staff/complaints/{number}/reply", headers=officer,
                      json={"text": "A team will visit tomorrow morning."}, timeout=10)
    assert r.status_code == 200, r.text
    page.locator("#timeline .msg", has_text="A team will visit tomorrow morning.").wait_for()
    shot("5-officer-message")

    # Resolved; the citizen is not satisfied, says why, rates; the case reopens.
    r = requests.post(f"{server}/api/v1/staff/complaints/{number}/resolve", headers=officer,
                      json={"note": "The pump was repaired."}, timeout=10)
    assert r.status_code == 200, r.text
    page.locator("#satisfaction").wait_for()
    page.check("input[name=satisfied][value=no]")
    page.fill("#reason", "Still no water in the evening")
    page.select_option("#rating", "2")
    shot("6-not-satisfied")
    page.click("#answer")
    page.locator("#state[data-state=reopened]").wait_for()
    shot("7-reopened")
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        assert complaint.state == "reopened" and complaint.escalation_level == 1
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "reject_resolution")).one()
        assert event.note == "Still no water in the evening" and event.channel == "app"
    # Signing out ends the session on the server: the token the phone held stops working.
    token = page.evaluate("() => localStorage.getItem('ik.token')")
    page.click("#signout")
    page.wait_for_function("() => localStorage.getItem('ik.token') === null")
    mine = f"{server}/api/v1/me/complaints"
    answer = lambda: page.request.get(mine, headers={"Authorization": "Bearer " + token}).status  # noqa: E731
    for _ in range(50):  # the sign-out request is sent as the app forgets the token
        if answer() == 401:
            break
        page.wait_for_timeout(100)
    assert answer() == 401
    context.close()
