"""Staff endpoints (bearer tokens, the dashboards' scope) and the whole round trip with the
citizen's app: officer's message on the timeline, information, satisfaction."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import Category, Complaint, ComplaintEvent, Message
from tests.api.conftest import draft_id, sign_in, staff_id
from tests.api.test_citizen_api import WATER


def _file(client, headers, district="PSW") -> str:
    r = client.post("/api/v1/me/complaints", headers=headers,
                    json={"client_id": draft_id(), **WATER, "district": district,
                                          "category": "PHED_NO_WATER"})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["tracking_number"]


def _counts(rt) -> tuple[int, int]:
    with rt.sessions() as s:
        return (s.scalar(select(func.count()).select_from(Message)),
                s.scalar(select(func.count()).select_from(ComplaintEvent)))


def test_the_queue_shows_only_the_officers_scope(client, rt, staff_headers):
    citizen = sign_in(client, rt)
    here, there = _file(client, citizen, "PSW"), _file(client, citizen, "MDN")
    queue = client.get("/api/v1/staff/complaints", headers=staff_headers["api_officer_psw"]).get_json()
    assert [c["tracking_number"] for c in queue["items"]] == [here]
    assert client.get(f"/api/v1/staff/complaints/{there}", headers=staff_headers["api_officer_psw"]).status_code == 404
    everything = client.get("/api/v1/staff/complaints", headers=staff_headers["api_admin"]).get_json()
    assert {c["tracking_number"] for c in everything["items"]} == {here, there}


def test_the_queue_filters_by_state_and_assignment(client, rt, staff_headers):
    citizen = sign_in(client, rt)
    number = _file(client, citizen)
    officer = staff_headers["api_officer_psw"]
    r = client.post(f"/api/v1/staff/complaints/{number}/assign", headers=officer,
                    json={"user_id": staff_id(rt, "api_officer_psw")})
    assert r.status_code == 200 and r.get_json()["state"] == "assigned"
    mine = client.get("/api/v1/staff/complaints?assigned=me&state=assigned", headers=officer).get_json()
    assert [c["tracking_number"] for c in mine["items"]] == [number]
    assert client.get("/api/v1/staff/complaints?assigned=none", headers=officer).get_json()["items"] == []


def test_a_cookie_session_is_not_a_staff_token(client, rt, staff_headers):
    r = client.get("/api/v1/staff/complaints")
    assert r.status_code == 401 and r.mimetype == "application/problem+json"


def test_a_citizens_token_opens_no_staff_endpoint(client, rt, staff_headers):
    citizen = sign_in(client, rt)
    number = _file(client, citizen)
    before = _counts(rt)
    r = client.post(f"/api/v1/staff/complaints/{number}/resolve", headers=citizen, json={"note": "done"})
    assert r.status_code == 401
    assert _counts(rt) == before


def test_a_viewer_may_look_but_not_act(client, rt, staff_headers):
    number = _file(client, sign_in(client, rt))
    viewer = staff_headers["api_viewer"]
    assert client.get(f"/api/v1/staff/complaints/{number}", headers=viewer).status_code == 200
    before = _counts(rt)
    r = client.post(f"/api/v1/staff/complaints/{number}/reply", headers=viewer, json={"text": "hello"})
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert _counts(rt) == before


def test_an_officer_out_of_scope_cannot_act_and_changes_nothing(client, rt, staff_headers):
    number = _file(client, sign_in(client, rt), "PSW")
    before = _counts(rt)
    r = client.post(f"/api/v1/staff/complaints/{number}/resolve", headers=staff_headers["api_officer_mdn"],
                    json={"note": "done"})
    assert r.status_code == 404
    assert _counts(rt) == before
    with rt.sessions() as s:
        assert s.scalars(select(Complaint.state)).one() == "submitted"


def test_a_confidential_complaint_hides_its_complainant_from_the_department(client, rt, staff_headers):
    citizen = sign_in(client, rt)
    r = client.post("/api/v1/me/complaints", headers=citizen,
                    json={"client_id": draft_id(), **WATER, "confidential": True,
                          "category": "PHED_NO_WATER"})
    number = r.get_json()["tracking_number"]
    case = client.get(f"/api/v1/staff/complaints/{number}", headers=staff_headers["api_officer_psw"]).get_json()
    assert case["complainant"] == {"hidden": True}


def test_the_officers_reply_and_question_reach_the_apps_timeline_and_the_answer_resumes_work(
        client, rt, staff_headers):
    citizen = sign_in(client, rt)
    number = _file(client, citizen)
    officer = staff_headers["api_officer_psw"]
    assert client.post(f"/api/v1/staff/complaints/{number}/reply", headers=officer,
                       json={"text": "A team will visit tomorrow."}).status_code == 200
    r = client.post(f"/api/v1/staff/complaints/{number}/request-information", headers=officer,
                    json={"question": "Which street exactly?"})
    assert r.status_code == 200 and r.get_json()["state"] == "awaiting_info"
    rt.queue.run_due()
    timeline = client.get(f"/api/v1/me/complaints/{number}", headers=citizen).get_json()["timeline"]
    texts = [e["text"] for e in timeline if e["type"] == "message"]
    assert any("A team will visit tomorrow." in t for t in texts)
    assert any("Which street exactly?" in t for t in texts)
    with rt.sessions() as s:
        statuses = set(s.scalars(select(Message.status).where(Message.channel == "app", Message.direction == "out")))
        assert statuses == {"delivered"}  # read in the app: the app is its own outbound
    r = client.post(f"/api/v1/me/complaints/{number}/information", headers=citizen,
                    json={"client_id": draft_id(), "text": "Street 7, behind the school"})
    assert r.status_code == 201 and r.get_json()["state"] == "in_progress"


def test_not_satisfied_from_the_app_reopens_and_escalates_with_the_reason(client, rt, staff_headers):
    citizen = sign_in(client, rt)
    number = _file(client, citizen)
    officer = staff_headers["api_officer_psw"]
    r = client.post(f"/api/v1/staff/complaints/{number}/resolve", headers=officer,
                    json={"note": "The pipe was repaired."})
    assert r.status_code == 200 and r.get_json()["state"] == "resolved"
    detail = client.get(f"/api/v1/me/complaints/{number}", headers=citizen).get_json()
    assert detail["awaiting_your_answer"] is True
    r = client.post(f"/api/v1/me/complaints/{number}/satisfaction", headers=citizen,
                    json={"client_id": draft_id(), "satisfied": False, "reason": "Still no water", "rating": 1})
    assert r.status_code == 200 and r.get_json()["state"] == "reopened"
    with rt.sessions() as s:
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "reject_resolution")).one()
        message = s.get(Message, event.message_id)
        assert event.note == "Still no water" and message.channel == "app" and message.direction == "in"
        assert message.payload["rating"] == 1
        assert s.scalars(select(Complaint.escalation_level)).one() == 1


def test_satisfied_from_the_app_closes(client, rt, staff_headers):
    citizen = sign_in(client, rt)
    number = _file(client, citizen)
    client.post(f"/api/v1/staff/complaints/{number}/resolve", headers=staff_headers["api_officer_psw"],
                json={"note": "The pipe was repaired."})
    answer = {"client_id": draft_id(), "satisfied": True, "rating": 5}
    r = client.post(f"/api/v1/me/complaints/{number}/satisfaction", headers=citizen, json=answer)
    assert r.status_code == 200 and r.get_json()["state"] == "closed"
    # The app sends an answer again when it never heard back: the same answer, nothing new.
    before = _counts(rt)
    again = client.post(f"/api/v1/me/complaints/{number}/satisfaction", headers=citizen, json=answer)
    assert again.status_code == 200 and again.get_json()["state"] == "closed"
    assert _counts(rt) == before


def test_an_answer_before_the_resolution_is_refused_and_nothing_is_stored(client, rt, staff_headers):
    citizen = sign_in(client, rt)
    number = _file(client, citizen)
    before = _counts(rt)
    r = client.post(f"/api/v1/me/complaints/{number}/satisfaction", headers=citizen,
                    json={"client_id": draft_id(), "satisfied": True})
    assert r.status_code == 409
    assert _counts(rt) == before


def test_a_transfer_needs_a_reason(client, rt, staff_headers):
    number = _file(client, sign_in(client, rt))
    before = _counts(rt)
    r = client.post(f"/api/v1/staff/complaints/{number}/assign", headers=staff_headers["api_admin"],
                    json={"department": "POLICE"})
    assert r.status_code == 422 and r.get_json()["field"] == "reason"
    assert _counts(rt) == before
    r = client.post(f"/api/v1/staff/complaints/{number}/assign", headers=staff_headers["api_admin"],
                    json={"department": "POLICE", "reason": "a theft, not a water problem"})
    assert r.status_code == 200 and r.get_json()["department"] == "POLICE"


def test_a_transfer_through_the_api_moves_category_and_due_date_and_tells_the_citizen(client, rt, staff_headers):
    """As on the dashboard: the new department's category (not the old department's), a new
    due date, and the citizen told who handles the case now."""
    citizen = sign_in(client, rt)
    number = _file(client, citizen)
    with rt.sessions() as s:
        before = s.scalars(select(Complaint)).one()
        old_due = before.due_at
    r = client.post(f"/api/v1/staff/complaints/{number}/assign", headers=staff_headers["api_admin"],
                    json={"department": "POLICE", "reason": "a theft, not a water problem"})
    assert r.status_code == 200, r.get_data(as_text=True)
    with rt.sessions() as s:
        moved = s.scalars(select(Complaint)).one()
        told = s.scalars(select(Message).where(Message.complaint_id == moved.id,
                                               Message.kind == "case_handled_by")).all()
        category_department = s.scalar(select(Category.department_code)
                                       .where(Category.code == moved.category_code))
    assert moved.department_code == "POLICE" and category_department == "POLICE"
    assert moved.due_at != old_due and len(told) == 1
    # a category of another department is not taken: the police's likeliest is used instead
    r = client.post(f"/api/v1/staff/complaints/{number}/assign", headers=staff_headers["api_admin"],
                    json={"department": "PHED", "category": "POLICE_FIR", "reason": "water after all"})
    assert r.status_code == 200
    with rt.sessions() as s:
        back = s.scalars(select(Complaint)).one()
        assert back.department_code == "PHED" and back.category_code.startswith("PHED")


def test_an_officer_cannot_move_a_case_out_of_sight_nor_a_viewer_move_it_at_all(client, rt, staff_headers):
    number = _file(client, sign_in(client, rt))
    before = _counts(rt)
    r = client.post(f"/api/v1/staff/complaints/{number}/assign", headers=staff_headers["api_viewer"],
                    json={"department": "POLICE", "reason": "not ours"})
    assert r.status_code == 403
    r = client.post(f"/api/v1/staff/complaints/{number}/assign", headers=staff_headers["api_officer_mdn"],
                    json={"department": "POLICE", "reason": "not ours"})
    assert r.status_code == 404
    assert _counts(rt) == before
    with rt.sessions() as s:
        assert s.scalars(select(Complaint.department_code)).one() == "PHED"
