"""Sign-in limits: wrong passwords slow down the address that sends them (per user name and
in total), never the officer at another address; unknown names cost a password check too;
after sign-in only same-site paths are followed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway import passwords
from storage.audit import AuditEntry
from tests.staff import csrf_token

from .conftest import PASSWORD


def attempt(app, username: str, password: str, address: str = "203.0.113.7", next_: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_token(client, "/auth/login")
    path = "/auth/login" + (f"?next={next_}" if next_ is not None else "")
    return client.post(path, data={"username": username, "password": password, "csrf_token": token})


def failures(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "login_failed"))


def test_guessing_from_one_address_cannot_lock_the_admin_out_of_another(rt, app, staff):
    for _ in range(5):
        assert attempt(app, "admin2", "guess", address="198.51.100.66").status_code == 401
    slowed = attempt(app, "admin2", PASSWORD, address="198.51.100.66")  # even the right one waits
    assert slowed.status_code == 429 and "Too many failed sign-ins" in slowed.get_data(as_text=True)
    assert 0 < int(slowed.headers["Retry-After"]) <= 60  # a wait, not a lock
    assert attempt(app, "admin2", PASSWORD, address="203.0.113.10").status_code == 302
    assert failures(rt) == 5  # the refused attempt was never checked, nor logged as a failure


def test_password_spraying_across_user_names_is_limited_per_address(rt, app, staff):
    codes = [attempt(app, f"name{i}", "Winter2026!", address="192.0.2.99").status_code
             for i in range(25)]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    assert attempt(app, "viewer", PASSWORD, address="192.0.2.100").status_code == 302


def test_successful_sign_ins_from_one_office_do_not_count(rt, app, staff):
    for _ in range(30):
        assert attempt(app, "viewer", PASSWORD, address="192.0.2.5").status_code == 302


def test_unknown_and_known_names_both_cost_one_password_check(rt, app, staff, monkeypatch):
    calls: list[str] = []

    class Counting:
        def __init__(self, hasher):
            self.hasher = hasher

        def verify(self, stored, password):
            calls.append(stored)
            return self.hasher.verify(stored, password)

        def __getattr__(self, name):
            return getattr(self.hasher, name)

    monkeypatch.setattr(passwords, "_argon2", Counting(passwords._argon2))
    assert attempt(app, "officer_psw", "wrong").status_code == 401
    assert attempt(app, "no_such_officer", "wrong").status_code == 401
    assert len(calls) == 2 and calls[0] != calls[1]  # a real hash, then the dummy one


@pytest.mark.parametrize("target", [
    "/%09/evil.example", "//evil.example", "\\\\evil.example", "/\\evil.example", "/\\/evil.example",
    "%2F%2Fevil.example", "/%0a/evil.example", "/%0d/evil.example", " //evil.example",
    "https://evil.example/", "javascript:alert(1)", "http:evil.example", "///evil.example",
    "%09//evil.example", "/%00/evil.example", "evil.example"])
def test_after_sign_in_a_redirect_elsewhere_falls_back_to_the_dashboard(rt, app, staff, target):
    response = attempt(app, "viewer", PASSWORD, next_=target)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"


def test_after_sign_in_a_same_site_path_is_followed(rt, app, staff):
    response = attempt(app, "viewer", PASSWORD, next_="/dashboard/stats%3Fperiod%3D7")
    assert response.headers["Location"] == "/dashboard/stats?period=7"


def test_with_redis_every_web_process_shares_the_counts(rt, staff, redis_url):
    import dataclasses
    import random

    from gateway.app import create_app

    shared = dataclasses.replace(rt, settings=rt.settings.model_copy(update={"redis_url": redis_url}))
    first, second = create_app(shared), create_app(shared)  # two web processes
    address = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"
    for _ in range(5):
        assert attempt(first, "officer_mdn", "guess", address=address).status_code == 401
    assert attempt(second, "officer_mdn", PASSWORD, address=address).status_code == 429
