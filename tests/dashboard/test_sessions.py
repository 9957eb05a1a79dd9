"""Sessions end when they should: a copied cookie stops working after logout, after a
password change and after the account is disabled; a cookie replayed from another browser
is dropped; bearer tokens expire, record their last use and can be revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway import jobs
from gateway.cli import main as ikhtiyar
from gateway.passwords import new_token
from storage.audit import AuditEntry
from storage.db import transaction
from storage.models import User, utcnow
from tests.conftest import TEST_KEY, TEST_SECRET

from .conftest import PASSWORD, csrf, login

NEW_PASSWORD = "a different passphrase"


def cli(rt, *args: str, stdin: str | None = None):
    """`ikhtiyar ...` in this process, on the test database."""
    env = {"IKHTIYAR_DATABASE_URL": rt.settings.effective_database_url, "IKHTIYAR_DATA_KEY": TEST_KEY,
           "IKHTIYAR_SECRET_KEY": TEST_SECRET, "IKHTIYAR_VAR_DIR": str(rt.settings.var_dir),
           "IKHTIYAR_REDIS_URL": ""}
    try:
        result = CliRunner().invoke(ikhtiyar, list(args), env=env, input=stdin, catch_exceptions=False)
    finally:
        jobs.install(rt)  # the command installed its own runtime for jobs
    return result


def copied(app, client):
    """Another client holding a copy of ``client``'s session cookie (same browser)."""
    other = app.test_client()
    for cookie in client._cookies.values():
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    return other


def signed_in(client) -> bool:
    return client.get("/dashboard/").status_code == 200


def test_a_copied_cookie_stops_working_after_logout(rt, app, staff):
    client = login(app, "officer_psw")
    stolen = copied(app, client)
    assert signed_in(stolen)
    assert client.post("/auth/logout", data={"csrf_token": csrf(client)}).status_code == 302
    assert not signed_in(stolen)
    assert not signed_in(client)


def test_a_cookie_stops_working_after_a_password_change(rt, app, staff):
    client = login(app, "officer_psw")
    assert signed_in(client)
    result = cli(rt, "users", "passwd", "officer_psw", stdin=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "signed out" in result.output
    assert not signed_in(client)
    login_with_new = app.test_client()
    from tests.staff import sign_in

    sign_in(app, "officer_psw", NEW_PASSWORD)  # the new password works (asserts the redirect)
    assert login_with_new.get("/dashboard/").status_code == 302  # and nobody else is signed in


def test_a_cookie_and_a_token_stop_working_when_the_account_is_disabled(rt, app, staff):
    client = login(app, "officer_psw")
    token, digest = new_token()
    with transaction(rt.sessions) as s:
        user = s.get(User, staff["officer_psw"])
        user.token_hash, user.token_expires_at = digest, utcnow() + timedelta(days=1)
    api = app.test_client()
    assert api.get("/dashboard/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    result = cli(rt, "users", "disable", "officer_psw")
    assert result.exit_code == 0, result.output
    assert not signed_in(client)
    assert api.get("/dashboard/", headers={"Authorization": f"Bearer {token}"}).status_code == 302
    refused = app.test_client().post("/auth/login", data={
        "username": "officer_psw", "password": PASSWORD,
        "csrf_token": csrf(app.test_client(), "/auth/login")})
    assert refused.status_code in (400, 401)


def test_a_cookie_replayed_from_another_browser_is_dropped(rt, app, staff):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Firefox/128.0"
    from tests.staff import csrf_token

    token = csrf_token(client, "/auth/login")
    assert client.post("/auth/login", data={"username": "viewer", "password": PASSWORD,
                                            "csrf_token": token}).status_code == 302
    assert signed_in(client)
    elsewhere = copied(app, client)
    elsewhere.environ_base["HTTP_USER_AGENT"] = "curl/8.5.0"
    assert not signed_in(elsewhere)


def test_an_expired_token_is_refused_and_a_used_one_says_when(rt, app, staff):
    token, digest = new_token()
    with transaction(rt.sessions) as s:
        user = s.get(User, staff["viewer"])
        user.token_hash, user.token_expires_at, user.token_last_used_at = (
            digest, utcnow() + timedelta(days=1), None)
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/dashboard/", headers=bearer).status_code == 200
    with rt.sessions() as s:
        assert s.get(User, staff["viewer"]).token_last_used_at is not None
    with transaction(rt.sessions) as s:
        s.get(User, staff["viewer"]).token_expires_at = utcnow() - timedelta(seconds=1)
    assert api.get("/dashboard/", headers=bearer).status_code == 302


def test_users_token_sets_an_expiry_and_revoke_token_ends_it(rt, app, staff):
    made = cli(rt, "users", "token", "viewer")
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[0]
    with rt.sessions() as s:
        user = s.get(User, staff["viewer"])
        days = (user.token_expires_at - utcnow()).days
    assert 88 <= days <= 90  # IKHTIYAR_TOKEN_DAYS: 90 by default
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/dashboard/", headers=bearer).status_code == 200
    revoked = cli(rt, "users", "revoke-token", "viewer")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert app.test_client().get("/dashboard/", headers=bearer).status_code == 302


@pytest.mark.parametrize("command", [("passwd", "nobody", "--password", "long enough pw"),
                                     ("disable", "nobody"), ("revoke-token", "nobody")])
def test_user_commands_name_an_unknown_user(rt, command):
    result = cli(rt, "users", *command)
    assert result.exit_code != 0 and "no user named nobody" in result.output


def test_the_first_admin_is_told_how_to_change_the_password(tmp_path):
    from gateway import runtime as rt_module
    from gateway.settings import load_settings

    said: list[str] = []
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/first.db", data_key=TEST_KEY,
                             secret_key=TEST_SECRET, var_dir=tmp_path, redis_url=None)
    rt_module.prepare(rt_module.build(settings), say=said.append)
    assert "ikhtiyar users passwd admin" in said[0]


def test_logout_is_in_the_audit_log(rt, app, staff):
    client = login(app, "head_phed")
    client.post("/auth/logout", data={"csrf_token": csrf(client)})
    with rt.sessions() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "logout")).first() is not None
