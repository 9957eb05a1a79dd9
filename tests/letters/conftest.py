"""Fixtures for the letters tests: a clerk (session and bearer token), officers in and out
of scope, and a Flask test client signed in as the clerk."""

from __future__ import annotations

import pytest

from gateway.app import create_app
from gateway.passwords import hash_password, new_token
from storage.db import transaction
from tests.staff import csrf_token, ensure_user
from tests.staff import sign_in as staff_sign_in

PASSWORD = "letters are read here"
_HASH: list[str] = []

STAFF = {  # username -> (role, department, district)
    "clerk_letters": ("clerk", None, None),
    "clerk_other": ("clerk", None, None),
    "officer_phed_psw": ("officer", "PHED", "PSW"),
    "officer_police_mdn": ("officer", "POLICE", "MDN"),
    "admin_letters": ("admin", None, None),
}


@pytest.fixture
def staff(rt) -> dict[str, dict]:
    """Accounts with a bearer token each (users survive between tests: get or create)."""
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    accounts = {}
    with transaction(rt.sessions) as s:
        for name, (role, department, district) in STAFF.items():
            user = ensure_user(s, name, role, department, district, _HASH[0])
            token, user.token_hash = new_token()
            accounts[name] = {"id": user.id, "token": token}
    return accounts


def sign_in(app, username: str):
    return staff_sign_in(app, username, PASSWORD)


def csrf_from(client, path: str = "/letters/") -> str:
    return csrf_token(client, path)


@pytest.fixture
def app(rt):
    return create_app(rt)


@pytest.fixture
def clerk(app, staff):
    """A test client signed in as the clerk, and the clerk's CSRF token."""
    client = sign_in(app, "clerk_letters")
    return client, csrf_from(client)


@pytest.fixture(scope="session")
def knowledge():
    """The engine's reference data (districts in English and Urdu, department keywords),
    loaded from config/ into a throwaway SQLite database: for tests that need no other table."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from config import CONFIG_DIR
    from conversation.knowledge import Knowledge
    from storage.models import Category, Department, District
    from storage.reference import load_reference

    engine = create_engine("sqlite://")
    for table in (Department.__table__, District.__table__, Category.__table__):
        table.create(engine)
    with Session(engine) as session:
        load_reference(session, CONFIG_DIR)
        session.flush()
        return Knowledge.load(session)
