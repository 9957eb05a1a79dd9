"""Fixtures for the API tests: the app, citizens signed in through the real one-time code
(read from the outbox as the SMS would carry it), staff with bearer tokens."""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import select

from gateway.app import create_app
from gateway.passwords import hash_password, new_token
from storage.db import transaction
from storage.models import Message, User
from tests.staff import ensure_user

_numbers = itertools.count(1)
_drafts = itertools.count(1)
STAFF = {
    "api_officer_psw": ("officer", "PHED", "PSW"),
    "api_officer_mdn": ("officer", "PHED", "MDN"),
    "api_viewer": ("viewer", None, None),
    "api_admin": ("admin", None, None),
}


@pytest.fixture
def app(rt):
    app = create_app(rt)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def draft_id() -> str:
    return f"draft-{next(_drafts):06d}"


def last_code(rt, channel: str = "sms") -> str:
    """The code in the newest one-time-code message, as the citizen's phone shows it."""
    with rt.sessions() as s:
        text = s.scalars(select(Message.text).where(Message.kind == "one_time_code",
                                                    Message.channel == channel)
                         .order_by(Message.id.desc())).first()
    return re.search(r"\b(\d{6})\b", text).group(1)


def sign_in(client, rt, phone: str | None = None, channel: str = "sms") -> dict:
    """Headers of a citizen signed in with the code sent to ``phone``."""
    phone = phone or f"+9230055{next(_numbers):05d}"
    r = client.post("/api/v1/auth/code", json={"channel": channel, "address": phone})
    assert r.status_code == 202, r.get_data(as_text=True)
    r = client.post("/api/v1/auth/verify", json={"channel": channel, "address": phone,
                                                 "code": last_code(rt, channel)})
    assert r.status_code == 200, r.get_data(as_text=True)
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


@pytest.fixture
def staff_headers(rt) -> dict[str, dict]:
    """username -> Authorization header with a fresh bearer token."""
    headers = {}
    with transaction(rt.sessions) as s:
        for name, (role, dept, district) in STAFF.items():
            user = ensure_user(s, name, role, dept, district, hash_password("not used here"))
            token, digest = new_token()
            user.token_hash = digest
            headers[name] = {"Authorization": f"Bearer {token}"}
    return headers


def staff_id(rt, name: str) -> int:
    with rt.sessions() as s:
        return s.scalars(select(User.id).where(User.username == name)).one()
