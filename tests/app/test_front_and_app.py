"""The front door (/), the public tracking page, and the installable app's files."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from PIL import Image
from sqlalchemy import select

from conversation import catalog
from gateway.app import create_app
from storage.models import Complaint
from tests.citizen import Citizen

FIRST_LOAD = ("/app/", "/app/app.js", "/app/manifest.webmanifest", "/app/icon-192.png")


@pytest.fixture
def client(rt):
    app = create_app(rt)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.mark.parametrize(("lang", "direction", "words"), [
    ("en", "ltr", "Track a complaint"), ("ur", "rtl", "شکایت کی صورتحال دیکھیں"), ("ps", "rtl", "د شکایت حالت وګورئ")])
def test_the_front_door_speaks_three_languages(client, lang, direction, words):
    page = client.get(f"/?lang={lang}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert f'lang="{lang}" dir="{direction}"' in html and words in html
    assert '"Noto Nastaliq Urdu"' in html and '"Noto Naskh Arabic"' in html
    assert 'rel="manifest" href="/app/manifest.webmanifest"' in html
    assert 'action="/track/"' in html and "complaints@ikhtiyar.localhost" in html and "/app/" in html


def test_the_front_door_follows_the_browsers_language(client):
    html = client.get("/", headers={"Accept-Language": "ur-PK,ur;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert 'lang="ur" dir="rtl"' in html


def test_the_tracking_search_leads_to_the_complaints_page(client):
    r = client.get("/track/?number=KP-123 456 7890&lang=ur")
    assert r.status_code == 303 and r.headers["Location"].startswith("/track/KP-123%20456%207890")
    assert client.get("/track/").status_code == 303


def _chat_complaint(rt) -> str:
    c = Citizen(rt, address="+923001234567")
    for text in ("1", "Garbage has not been collected for a week here", "Swat", "Mingora", "yes",
                 "Gul Bibi", "yes"):
        c.send(text)
    with rt.sessions() as s:
        return s.scalars(select(Complaint.tracking_number)).one()


def test_the_tracking_page_shows_due_date_next_step_and_timeline_in_urdu(client, rt):
    number = _chat_complaint(rt)
    html = client.get(f"/track/KP-{number}?lang=ur").get_data(as_text=True)
    for key in ("label_status", "label_next", "label_due", "label_timeline", "next_submitted", "event_submitted"):
        from conversation.app_intake import app_text
        assert app_text(key, "ur") in html, key
    assert catalog.text("status_submitted", "ur") in html and "Status" not in html
    assert "Gul Bibi" not in html and "3001234567" not in html and "Mingora" not in html
    assert "Garbage" not in html  # the citizen's words are not public


def test_the_manifest_makes_the_app_installable(client):
    r = client.get("/app/manifest.webmanifest")
    manifest = json.loads(r.data)
    assert r.mimetype == "application/manifest+json"
    assert manifest["start_url"] == "/app/" and manifest["scope"] == "/app/" and manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"]
    sizes = set()
    for icon in manifest["icons"]:
        image = Image.open(io.BytesIO(client.get(icon["src"]).data))
        assert image.format == "PNG" and f"{image.width}x{image.height}" == icon["sizes"]
        sizes.add(image.width)
    assert {192, 512} <= sizes


def test_the_app_shell_links_the_manifest_and_registers_a_service_worker(client):
    html = client.get("/app/?lang=ps").get_data(as_text=True)
    assert 'rel="manifest"' in html and 'lang="ps" dir="rtl"' in html
    assert "/app/app.js" in html and "https://" not in html
    script = client.get("/app/app.js").get_data(as_text=True)
    assert 'serviceWorker.register("/app/sw.js"' in script and "/api/v1" in script
    sw = client.get("/app/sw.js")
    assert sw.mimetype == "text/javascript" and b"caches.open" in sw.data


def test_the_first_load_is_under_100_kb_compressed(client):
    total = sum(len(gzip.compress(client.get(path).data, 6)) for path in FIRST_LOAD)
    assert total < 100 * 1024, total
