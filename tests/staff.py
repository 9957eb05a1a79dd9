"""Signing staff in through the real login form, as a browser does (CSRF token included)."""

from __future__ import annotations

import re

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str) -> str | None:
    """The CSRF token of the form on ``path``, or None when the page has no form."""
    match = _TOKEN.search(client.get(path).get_data(as_text=True))
    return match.group(1) if match else None


def sign_in(app, username: str, password: str):
    """A test client signed in as ``username``."""
    client = app.test_client()
    response = client.post("/auth/login", data={"username": username, "password": password,
                                                "csrf_token": csrf_token(client, "/auth/login")})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def ensure_user(session, username: str, role: str, department: str | None, district: str | None,
                password_hash: str):
    """The staff account, created or reset to this role and scope (the users table survives
    between tests)."""
    from sqlalchemy import select

    from storage.models import User

    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, display_name=username.replace("_", " ").title(),
                    password_hash=password_hash, role=role)
        session.add(user)
    user.role, user.department_code, user.district_code = role, department, district
    user.active, user.password_hash = True, password_hash
    session.flush()
    return user


def case_page_of_the_accused(rt, number: str, username: str = "accused_officer") -> str:
    """The case page as an officer of the department and district the complaint is about
    (the department a confidential complaint hides its complainant from)."""
    from sqlalchemy import select

    from gateway.app import create_app
    from gateway.passwords import hash_password
    from storage.db import transaction
    from storage.models import Complaint

    password = "correct horse battery"
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint).where(Complaint.tracking_number == number)).one()
        # The case must be in the officer's scope for the page to show at all.
        complaint.department_code = complaint.department_code or "PHED"
        complaint.district_code = complaint.district_code or "PSW"
        ensure_user(s, username, "officer", complaint.department_code, complaint.district_code,
                    hash_password(password))
    client = sign_in(create_app(rt), username, password)
    response = client.get(f"/dashboard/cases/{number}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)
