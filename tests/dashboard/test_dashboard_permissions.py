"""Every dashboard route and action, tried by staff who may not: out of scope is 404 and
nothing changes; a viewer reads but cannot change anything; a clerk sees only letters."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.audit import AuditEntry
from storage.db import transaction
from storage.models import Attachment, Complaint, ComplaintEvent, Message

from .conftest import csrf, file_complaint, login

ACTIONS = {
    "reply": {"text": "We are on it"},
    "note": {"text": "internal"},
    "assign": {"department": "POLICE", "reason": "wrong department"},
    "start": {},
    "ask": {"question": "Which street?"},
    "resolve": {"outcome": "relief_granted", "note": "Fixed"},
    "reveal": {},
    "confidential": {"value": "1"},
}


def snapshot(rt, case_id: int) -> tuple:
    with rt.sessions() as s:
        c = s.get(Complaint, case_id)
        return (c.state, c.department_code, c.assigned_user_id, c.confidential, c.escalation_level,
                c.first_response_at,
                s.scalar(select(func.count()).select_from(ComplaintEvent).where(ComplaintEvent.complaint_id == case_id)),
                s.scalar(select(func.count()).select_from(Message)),
                # Reading writes its own audit entries (sign-ins, file downloads): not a change.
                s.scalar(select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.action.not_in(("login", "download")))))


@pytest.fixture
def case_with_file(rt):
    case = file_complaint(rt)
    folder = rt.attachments_dir / "t"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n fake")
    with transaction(rt.sessions) as s:
        a = Attachment(complaint_id=case.id, content_type="image/png", size=14, sha256="0" * 64,
                       path="t/photo.png", filename="photo.png")
        s.add(a)
        s.flush()
        attachment_id = a.id
    return case, attachment_id


def reads(number: str, attachment_id: int) -> list[str]:
    return [f"/dashboard/cases/{number}", f"/dashboard/cases/{number}/attachments/{attachment_id}",
            f"/dashboard/stream?case={number}"]


@pytest.mark.parametrize("who", ["officer_mdn", "officer_police", "head_police"])
def test_staff_out_of_scope_get_404_on_every_route_and_nothing_changes(rt, app, staff, case_with_file, who):
    case, attachment_id = case_with_file
    client = login(app, who)
    token = csrf(client)
    before = snapshot(rt, case.id)
    for path in reads(case.number, attachment_id):
        assert client.get(path).status_code == 404, path
    for action, form in ACTIONS.items():
        response = client.post(f"/dashboard/cases/{case.number}/{action}", data={**form, "csrf_token": token})
        assert response.status_code == 404, action
    assert snapshot(rt, case.id) == before
    queue = client.get("/dashboard/?status=any&q=" + case.number).get_data(as_text=True)
    assert f'data-tracking="{case.number}"' not in queue


def test_officer_in_scope_sees_the_case_its_photo_and_its_live_stream(rt, app, staff, case_with_file):
    case, attachment_id = case_with_file
    client = login(app, "officer_psw")
    assert f'data-tracking="{case.number}"' in client.get("/dashboard/").get_data(as_text=True)
    page = client.get(f"/dashboard/cases/{case.number}")
    assert page.status_code == 200 and "No water in our street" in page.get_data(as_text=True)
    photo = client.get(f"/dashboard/cases/{case.number}/attachments/{attachment_id}")
    assert photo.status_code == 200 and photo.mimetype == "image/png"
    stream = client.get(f"/dashboard/stream?case={case.number}", buffered=False)
    assert stream.status_code == 200 and stream.mimetype == "text/event-stream"
    assert "event: ready" in next(stream.response).decode()
    stream.close()


def test_an_attachment_of_another_case_is_not_found_through_a_visible_case(rt, app, staff, case_with_file):
    _other, attachment_id = case_with_file
    mine = file_complaint(rt)
    client = login(app, "officer_psw")
    assert client.get(f"/dashboard/cases/{mine.number}/attachments/{attachment_id}").status_code == 404


def test_viewer_reads_everything_but_every_action_is_refused(rt, app, staff, case_with_file):
    case, attachment_id = case_with_file
    client = login(app, "viewer")
    token = csrf(client)
    before = snapshot(rt, case.id)
    for path in reads(case.number, attachment_id):
        response = client.get(path, buffered=False)
        assert response.status_code == 200, path
        response.close()
    for action, form in ACTIONS.items():
        response = client.post(f"/dashboard/cases/{case.number}/{action}", data={**form, "csrf_token": token})
        assert response.status_code == 403, action
    assert snapshot(rt, case.id) == before
    assert client.get("/dashboard/province").status_code == 200


def test_clerk_is_refused_every_dashboard_route(rt, app, staff, case_with_file):
    case, attachment_id = case_with_file
    client = login(app, "clerk")
    token = csrf(client, "/auth/login")
    before = snapshot(rt, case.id)
    for path in [*reads(case.number, attachment_id), "/dashboard/", "/dashboard/department",
                 "/dashboard/department.csv", "/dashboard/province", "/dashboard/province.csv",
                 "/dashboard/stream"]:
        assert client.get(path).status_code in (403, 404), path
    for action, form in ACTIONS.items():
        response = client.post(f"/dashboard/cases/{case.number}/{action}", data={**form, "csrf_token": token})
        assert response.status_code in (403, 404), action
    assert snapshot(rt, case.id) == before


def test_province_dashboard_is_for_the_province_level_only(rt, app, staff):
    for who in ("officer_psw", "head_phed"):
        client = login(app, who)
        assert client.get("/dashboard/province").status_code == 403
        assert client.get("/dashboard/province.csv").status_code == 403
        assert client.get("/dashboard/department").status_code == 200


def test_department_dashboard_counts_only_the_scope(rt, app, staff):
    file_complaint(rt)
    file_complaint(rt, department="POLICE", category="POLICE_FIR")
    body = login(app, "head_police").get("/dashboard/department.csv?table=category").get_data(as_text=True)
    assert "POLICE_FIR" in body and "PHED_NO_WATER" not in body


def test_signed_out_visitors_are_sent_to_the_login_page(rt, app, staff, case_with_file):
    case, _ = case_with_file
    client = app.test_client()
    response = client.get(f"/dashboard/cases/{case.number}")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert client.post(f"/dashboard/cases/{case.number}/reply", data={"text": "x"}).status_code in (400, 302)
