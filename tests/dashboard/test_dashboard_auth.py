"""Signing in: argon2 passwords (old scrypt hashes still work and are upgraded), throttling
after repeated failures, logout, and where each role lands."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.passwords import _scrypt_hash, check_password
from storage.audit import AuditEntry
from storage.db import transaction
from storage.models import User

from .conftest import PASSWORD, login


def attempt(client, username: str, password: str):
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/auth/login").get_data(as_text=True)).group(1)
    return client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": token})


def test_new_passwords_are_argon2(rt, staff):
    with rt.sessions() as s:
        stored = s.get(User, staff["officer_psw"]).password_hash
    assert stored.startswith("$argon2id$") and check_password(PASSWORD, stored)


def test_an_old_scrypt_password_still_signs_in_and_is_upgraded(rt, app, staff):
    with transaction(rt.sessions) as s:
        s.get(User, staff["viewer"]).password_hash = _scrypt_hash(PASSWORD)
    assert attempt(app.test_client(), "viewer", PASSWORD).status_code == 302
    with rt.sessions() as s:
        assert s.get(User, staff["viewer"]).password_hash.startswith("$argon2id$")


def test_five_wrong_passwords_lock_the_name_even_for_the_right_one(rt, app, staff):
    client = app.test_client()
    for _ in range(5):
        assert attempt(client, "officer2_psw", "wrong password").status_code == 401
    locked = attempt(client, "officer2_psw", PASSWORD)
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert attempt(app.test_client(), "officer_psw", PASSWORD).status_code == 302  # others unaffected
    with rt.sessions() as s:
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed")).all()) == 5


def test_logout_ends_the_session(rt, app, staff):
    client = login(app, "officer_psw")
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/dashboard/").get_data(as_text=True)).group(1)
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard/").status_code == 302


def test_logout_without_the_csrf_token_is_refused(rt, app, staff):
    client = login(app, "officer_psw")
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/dashboard/").status_code == 200


def test_staff_land_on_their_own_area(rt, app, staff):
    assert attempt(app.test_client(), "officer_psw", PASSWORD).headers["Location"] == "/dashboard/"
    assert attempt(app.test_client(), "clerk", PASSWORD).headers["Location"] == "/letters/"


def test_the_first_admin_must_change_the_password_shown_at_set_up(tmp_path):
    """Issue 10: the first administrator's password is not in any log, and it opens nothing
    until it is changed."""
    from gateway import runtime as rt_module
    from gateway.app import create_app as make_app
    from gateway.settings import load_settings
    from storage.models import User
    from tests.conftest import TEST_KEY, TEST_SECRET
    from tests.staff import csrf_token, sign_in

    var = tmp_path / "var"
    rt = rt_module.build(load_settings(var_dir=var, data_key=TEST_KEY, redis_url=None,
                                       database_url=f"sqlite:///{var}/ikhtiyar.db", secret_key=TEST_SECRET))
    said: list[str] = []
    rt_module.prepare(rt, say=said.append)
    first = (var / rt_module.FIRST_PASSWORD_FILE).read_text().strip()
    assert first not in " ".join(said)
    app = make_app(rt)
    app.config["TESTING"] = True
    client = sign_in(app, "admin", first)
    for path in ("/dashboard/", "/dashboard/province", "/letters/"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/password" in response.headers["Location"], path
    token = csrf_token(client, "/auth/password")
    short = client.post("/auth/password", data={"csrf_token": token, "current": first, "new": "short",
                                                "again": "short"})
    assert short.status_code == 422
    changed = client.post("/auth/password?next=/dashboard/", data={
        "csrf_token": token, "current": first, "new": "a long new passphrase", "again": "a long new passphrase"})
    assert changed.status_code == 303 and changed.headers["Location"].endswith("/dashboard/")
    assert client.get("/dashboard/").status_code == 200
    with rt.sessions() as s:
        admin = s.scalars(select(User).where(User.username == "admin")).one()
        assert not admin.password_change_required
    rt.engine.dispose()
