"""A confidential complaint hides its complainant from the department it accuses, on every
view that department has: the officer and the head of the accused department walk every
route of the app for the case and find no name, number, CNIC, address or email; the
complainant's files are refused to them. Issue 10, finding 5."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from storage.audit import AuditEntry
from storage.models import Message

from . import privacy
from .conftest import csrf, login


def fill(rule: str, seeded: privacy.Seeded, number: str) -> str:
    """A rule of the URL map with its parameters taken from the seeded case."""
    values = {"number": number, "attachment_id": seeded.attachment_id, "letter_id": seeded.scan_id,
              "message_id": seeded.outbound_id, "complaint_id": seeded.letter_id,
              "path": number, "token": "x", "lang": "en", "filename": "x", "step": "x"}

    def value(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        if name == "number" and converter == "int":
            return "1"
        return str(values.get(name, "1"))

    return re.sub(r"<(?:(\w+):)?(\w+)>", value, rule)


def every_get(app, seeded: privacy.Seeded) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        for number in (seeded.chat, seeded.letter):
            path = fill(rule.rule, seeded, number)
            paths.append(path)
    paths += [f"/dashboard/?q={n}&status=any" for n in (seeded.chat, seeded.letter)]
    paths += [f"/dashboard/cases/{n}?partial=1" for n in (seeded.chat, seeded.letter)]
    return sorted(set(paths))


@pytest.fixture
def confidential_case(rt, staff):
    return privacy.seed(rt, confidential=True)


@pytest.mark.parametrize("who", ["officer_psw", "head_phed"])
def test_the_accused_department_finds_no_personal_data_on_any_route(rt, app, staff, confidential_case, who):
    seeded = confidential_case
    client = login(app, who)
    for path in every_get(app, seeded):
        response = client.get(path, buffered=False)
        if path.startswith("/dashboard/stream"):  # endless: its first event is enough
            body = next(iter(response.response), b"")
        else:
            body = b"".join(response.response)
        response.close()
        assert privacy.leaks(body.decode("utf-8", "replace")) == [], path
    for number in (seeded.chat, seeded.letter):
        page = client.get(f"/dashboard/cases/{number}").get_data(as_text=True)
        assert 'id="identity-hidden"' in page and "No water" in page  # the case itself is there
        token = csrf(client, f"/dashboard/cases/{number}")
        before = _counts(rt)
        revealed = client.post(f"/dashboard/cases/{number}/reveal", data={"csrf_token": token})
        assert revealed.status_code == 403 and privacy.leaks(revealed.get_data(as_text=True)) == []
        assert _counts(rt) == before


@pytest.mark.parametrize("who", ["officer_psw", "head_phed"])
def test_the_staff_api_shows_the_accused_department_no_personal_data(rt, app, staff, confidential_case, who):
    from gateway.passwords import new_token
    from storage.db import transaction
    from storage.models import User

    with transaction(rt.sessions) as s:
        token, s.get(User, staff[who]).token_hash = new_token()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ["/api/v1/staff/complaints", *(f"/api/v1/staff/complaints/{n}"
                                               for n in (confidential_case.chat, confidential_case.letter))]:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert privacy.leaks(response.get_data(as_text=True)) == [], path


@pytest.mark.parametrize("who", ["officer_psw", "head_phed"])
def test_the_complainants_files_are_refused_to_the_accused_department(rt, app, staff, confidential_case, who):
    seeded = confidential_case
    client = login(app, who)
    before = _counts(rt)
    for path in (f"/dashboard/cases/{seeded.chat}/attachments/{seeded.attachment_id}",
                 f"/letters/{seeded.scan_id}/pages/1", f"/letters/{seeded.scan_id}/original"):
        assert client.get(path).status_code in (403, 404), path
    assert _counts(rt) == before


def test_another_department_and_the_province_still_see_who_complained(rt, app, staff, confidential_case):
    seeded = confidential_case
    admin = login(app, "admin2")
    page = admin.post(f"/dashboard/cases/{seeded.chat}/reveal",
                      data={"csrf_token": csrf(admin, f"/dashboard/cases/{seeded.chat}")}).get_data(as_text=True)
    assert privacy.PHONE.removeprefix("+") in page.replace("+", "") and privacy.NAME in page
    assert admin.get(f"/dashboard/cases/{seeded.chat}/attachments/{seeded.attachment_id}").status_code == 200


def _counts(rt) -> tuple:
    with rt.sessions() as s:
        return (s.scalar(select(func.count()).select_from(Message)),
                s.scalar(select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.action.not_in(("login",)))))
