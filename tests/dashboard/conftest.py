"""Fixtures for the dashboard tests: staff of every role and complaints in and out of scope."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from gateway.app import create_app
from gateway.passwords import hash_password
from storage import lifecycle, tracking
from storage.db import transaction
from storage.messages import contact_for, insert_inbound
from storage.models import Complaint
from tests.staff import csrf_token, ensure_user, sign_in

PASSWORD = "correct horse battery"
_HASH: list[str] = []
_numbers = itertools.count(1)

# username -> (role, department, district)
STAFF = {
    "officer_psw": ("officer", "PHED", "PSW"),
    "officer2_psw": ("officer", "PHED", "PSW"),
    "officer_mdn": ("officer", "PHED", "MDN"),
    "officer_police": ("officer", "POLICE", "PSW"),
    "head_phed": ("department_head", "PHED", None),
    "head_police": ("department_head", "POLICE", None),
    "viewer": ("viewer", None, None),
    "clerk": ("clerk", None, None),
    "admin2": ("admin", None, None),
}


@pytest.fixture
def staff(rt) -> dict[str, int]:
    """The staff accounts (the users table survives between tests, so get-or-create)."""
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    ids = {}
    with transaction(rt.sessions) as s:
        for name, (role, dept, district) in STAFF.items():
            ids[name] = ensure_user(s, name, role, dept, district, _HASH[0]).id
    return ids


@dataclass
class Case:
    id: int
    number: str


def file_complaint(rt, *, department="PHED", district="PSW", category="PHED_NO_WATER",
                   channel="whatsapp", address=None, sla_days=3, text="No water in our street") -> Case:
    """A complaint as the conversation would file it: inbound message, contact, submit event."""
    n = next(_numbers)
    address = address or f"+9230012{n:05d}"
    with transaction(rt.sessions) as s:
        contact = contact_for(s, channel, address)
        message, _ = insert_inbound(s, contact, channel=channel, provider_id=f"dash-{n}-{tracking.new_number()}",
                                    text=text, payload={})
        message.status = "processed"
        number = tracking.new_number()
        complaint = Complaint(tracking_number=number, citizen_id=contact.citizen_id,
                              contact_id=contact.id, channel=channel, language="en",
                              description=text, district_code=district,
                              department_code=department, category_code=category)
        lifecycle.submit(s, complaint, message, lifecycle.Actor("citizen", channel=channel),
                         sla_days=sla_days)
        message.complaint_id = complaint.id
        return Case(complaint.id, number)


@pytest.fixture
def app(rt):
    app = create_app(rt)
    app.config["TESTING"] = True
    return app


def login(app, username: str):
    """A test client signed in as ``username`` through the real login form (with CSRF)."""
    return sign_in(app, username, PASSWORD)


def csrf(client, path: str = "/dashboard/") -> str:
    # Pages without forms for this role: take a token from the login page of the same session.
    return csrf_token(client, path) or csrf_token(client, "/auth/login")
