"""Every HTML page carries the security headers (a CSP with a nonce and no inline script,
no framing, no caching of personal data, HSTS on https) and no page has a script that runs
without the nonce; CSRF is skipped only for requests a valid bearer token authenticates."""

from __future__ import annotations

import dataclasses
import re

import pytest

from gateway.app import create_app
from gateway.passwords import new_token
from storage.db import transaction
from storage.models import User

from .conftest import csrf, file_complaint, login

SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_\-]+)'")


def html_pages(app, number: str) -> list[str]:
    """Every page the app serves by GET without further arguments, and the case pages."""
    paths = {rule.rule for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/static")}
    return sorted(paths | {f"/track/KP-{number}", f"/dashboard/cases/{number}", "/track/KP-1234567"})


def check_page(path: str, response, *, private: bool) -> str | None:
    """The problems of one HTML answer, or None."""
    if response.mimetype != "text/html":
        return None
    html = response.get_data(as_text=True)
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    nonce = NONCE.search(csp)
    assert nonce, f"{path}: no CSP with a nonce"
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy") == "same-origin", path
    if private:
        assert headers.get("Cache-Control") == "no-store", path
    for attributes in SCRIPT.findall(html):
        assert f'nonce="{nonce.group(1)}"' in attributes and "src=" in attributes, \
            f"{path}: a script without the nonce or inline: <script{attributes}>"
    assert not HANDLER.search(html), f"{path}: an inline event handler"
    return html


@pytest.mark.parametrize("role", ["admin2", "clerk", "viewer", "officer_psw"])
def test_every_html_page_has_the_headers_and_no_inline_script(rt, app, staff, role):
    case = file_complaint(rt)
    client = login(app, role)
    seen = 0
    for path in html_pages(app, case.number):
        response = client.get(path)
        if check_page(path, response, private=path.startswith(("/dashboard", "/letters", "/api"))):
            seen += 1
    assert seen >= 3


def test_pages_of_a_signed_out_visitor_have_the_headers_too(rt, app):
    client = app.test_client()
    for path in ("/auth/login", "/simulator", "/track/KP-1234567"):
        check_page(path, client.get(path), private=path.startswith("/auth"))


def test_the_nonce_changes_on_every_page(rt, app):
    client = app.test_client()
    first = client.get("/auth/login").headers["Content-Security-Policy"]
    second = client.get("/auth/login").headers["Content-Security-Policy"]
    assert NONCE.search(first).group(1) != NONCE.search(second).group(1)


def test_the_pages_scripts_are_served_from_static_files(rt, app):
    html = app.test_client().get("/simulator").get_data(as_text=True)
    src = re.search(r'<script[^>]+src="([^"]+)"', html).group(1)
    script = app.test_client().get(src)
    assert script.status_code == 200 and "thread" in script.get_data(as_text=True)


def test_hsts_only_when_the_public_url_is_https(rt):
    https = dataclasses.replace(rt, settings=rt.settings.model_copy(
        update={"public_url": "https://complaints.example.gov.pk"}))
    answer = create_app(https).test_client().get("/auth/login")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in create_app(rt).test_client().get("/auth/login").headers


def test_api_answers_are_not_cached(rt, app, staff):
    client = login(app, "viewer")
    for path in ("/api/v1/letters", "/dashboard/", "/letters/"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path


def test_an_invalid_bearer_token_beside_a_session_cookie_still_needs_the_csrf_token(rt, app, staff):
    client = login(app, "officer_psw")
    case = file_complaint(rt)
    forged = client.post(f"/dashboard/cases/{case.number}/note", data={"note": "forged"},
                         headers={"Authorization": "Bearer not-a-real-token"})
    assert forged.status_code == 400
    with rt.sessions() as s:
        from storage.models import ComplaintEvent

        assert not [e for e in s.query(ComplaintEvent).filter_by(complaint_id=case.id) if e.note == "forged"]
    ok = client.post(f"/dashboard/cases/{case.number}/note", data={"note": "real", "csrf_token": csrf(client)})
    assert ok.status_code in (200, 302, 303)


def test_a_valid_bearer_token_needs_no_csrf_token(rt, app, staff):
    token, digest = new_token()
    with transaction(rt.sessions) as s:
        s.get(User, staff["officer_psw"]).token_hash = digest
    case = file_complaint(rt)
    answer = app.test_client().post(f"/dashboard/cases/{case.number}/note", data={"note": "from a script"},
                                    headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 302, 303)
