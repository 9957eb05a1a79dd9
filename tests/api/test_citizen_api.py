"""The citizens' API: sign in with a one-time code, file, follow and answer complaints."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import func, select

from storage import app_access
from storage.models import Complaint, ComplaintEvent, Message
from tests.api.conftest import draft_id, last_code, sign_in
from tests.citizen import Citizen

WATER = {"description": "No water in our street since Monday, the tube well is broken",
         "district": "PSW", "location_detail": "Hayatabad phase 3"}


def _count(rt, model) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def _file(client, headers, **extra) -> dict:
    r = client.post("/api/v1/me/complaints", headers=headers,
                    json={"client_id": draft_id(), **WATER, **extra})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def test_the_code_goes_out_by_sms_and_signs_the_citizen_in(client, rt):
    r = client.post("/api/v1/auth/code", json={"channel": "sms", "address": "0300 1112233"})
    assert r.status_code == 202
    with rt.sessions() as s:
        sms = s.scalars(select(Message).where(Message.kind == "one_time_code")).one()
        assert sms.channel == "sms" and sms.direction == "out" and sms.status == "queued"
    rt.queue.run_due()
    r = client.post("/api/v1/auth/verify", json={"channel": "sms", "address": "+923001112233",
                                                 "code": last_code(rt)})
    assert r.status_code == 200 and r.get_json()["token_type"] == "Bearer"
    headers = {"Authorization": "Bearer " + r.get_json()["token"]}
    assert client.get("/api/v1/me/complaints", headers=headers).get_json() == {"items": [], "next_cursor": None}


def test_codes_are_kept_only_as_hashes(client, rt):
    client.post("/api/v1/auth/code", json={"channel": "sms", "address": "+923001112234"})
    code = last_code(rt)
    with rt.sessions() as s:
        row = s.scalars(select(app_access.OneTimeCode)).one()
        assert code not in row.code_hash and len(row.code_hash) == 64


def test_a_wrong_code_signs_no_one_in_and_opens_no_session(client, rt):
    client.post("/api/v1/auth/code", json={"channel": "sms", "address": "+923001112235"})
    wrong = f"{(int(last_code(rt)) + 1) % 10**6:06d}"
    r = client.post("/api/v1/auth/verify", json={"channel": "sms", "address": "+923001112235", "code": wrong})
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
    assert r.get_json()["status"] == 401
    assert _count(rt, app_access.AppSession) == 0


def test_a_code_works_once(client, rt):
    client.post("/api/v1/auth/code", json={"channel": "sms", "address": "+923001112236"})
    body = {"channel": "sms", "address": "+923001112236", "code": last_code(rt)}
    assert client.post("/api/v1/auth/verify", json=body).status_code == 200
    assert client.post("/api/v1/auth/verify", json=body).status_code == 401
    assert _count(rt, app_access.AppSession) == 1


def test_guessing_stops_after_five_wrong_codes(client, rt):
    client.post("/api/v1/auth/code", json={"channel": "sms", "address": "+923001112237"})
    code = last_code(rt)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(app_access.ATTEMPTS_PER_CODE):
        client.post("/api/v1/auth/verify", json={"channel": "sms", "address": "+923001112237", "code": wrong})
    r = client.post("/api/v1/auth/verify", json={"channel": "sms", "address": "+923001112237", "code": code})
    assert r.status_code == 401
    assert _count(rt, app_access.AppSession) == 0


def test_a_fourth_code_within_fifteen_minutes_is_refused_and_nothing_is_sent(client, rt):
    for _ in range(3):
        assert client.post("/api/v1/auth/code", json={"channel": "sms", "address": "+923001112238"}).status_code == 202
    before = _count(rt, Message)
    r = client.post("/api/v1/auth/code", json={"channel": "sms", "address": "+923001112238"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.mimetype == "application/problem+json"
    assert _count(rt, Message) == before


def test_a_bad_phone_number_is_refused_naming_the_field(client, rt):
    r = client.post("/api/v1/auth/code", json={"channel": "sms", "address": "call me"})
    assert r.status_code == 422 and r.get_json()["field"] == "address"
    assert _count(rt, Message) == 0


def test_filing_a_complaint_gives_the_tracking_number_and_the_suggested_department(client, rt):
    headers = sign_in(client, rt)
    complaint = _file(client, headers)
    assert complaint["tracking_number"].startswith("KP-") and complaint["state"] == "submitted"
    # Not chosen by the citizen: suggested from the text, as in chat (Peshawar's water company).
    assert complaint["department"] == "WSSC" and complaint["category"] and complaint["channel"] == "app"
    assert complaint["due_at"] and complaint["track_url"].endswith(complaint["tracking_number"])
    with rt.sessions() as s:
        c = s.scalars(select(Complaint)).one()
        message = s.scalars(select(Message).where(Message.direction == "in", Message.channel == "app")).one()
        assert message.complaint_id == c.id and message.text.startswith("No water")
        submitted = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "submitted")).one()
        assert submitted.message_id == message.id and submitted.channel == "app"


def test_a_location_without_a_district_finds_the_nearest_district(client, rt):
    headers = sign_in(client, rt)
    body = {k: v for k, v in WATER.items() if k != "district"}
    complaint = _file(client, headers, **body, latitude=34.0151, longitude=71.5249)
    assert complaint["district"] == "PSW" and complaint["latitude"] == 34.0151


def test_a_complaint_without_district_or_location_is_refused_and_not_stored(client, rt):
    headers = sign_in(client, rt)
    r = client.post("/api/v1/me/complaints", headers=headers,
                    json={"client_id": draft_id(), "description": WATER["description"]})
    assert r.status_code == 422 and r.get_json()["field"] == "district"
    assert _count(rt, Complaint) == 0
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 0


def test_the_same_draft_sent_twice_files_one_complaint(client, rt):
    headers = sign_in(client, rt)
    body = {"client_id": "offline-draft-1", **WATER}
    first = client.post("/api/v1/me/complaints", headers=headers, json=body)
    again = client.post("/api/v1/me/complaints", headers=headers, json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["tracking_number"] == again.get_json()["tracking_number"]
    assert _count(rt, Complaint) == 1


def test_a_confidential_complaint_is_marked_so(client, rt):
    headers = sign_in(client, rt)
    complaint = _file(client, headers, confidential=True)
    assert complaint["confidential"] is True


def test_without_a_session_nothing_is_filed(client, rt):
    r = client.post("/api/v1/me/complaints", json={"client_id": draft_id(), **WATER})
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
    assert "Bearer" in r.headers["WWW-Authenticate"]
    assert _count(rt, Complaint) == 0


def test_my_complaints_include_those_i_filed_by_whatsapp_from_the_same_number(client, rt):
    whatsapp = Citizen(rt, "whatsapp", "+923009998877")
    for text in ("hi", "1", "The water supply in our street is broken since Monday", "Peshawar",
                 "Hayatabad phase 3", "yes", "skip", "yes"):
        whatsapp.send(text)
    assert len(whatsapp.complaints()) == 1
    headers = sign_in(client, rt, phone="+923009998877")
    items = client.get("/api/v1/me/complaints", headers=headers).get_json()["items"]
    assert [c["channel"] for c in items] == ["whatsapp"]


def test_another_citizen_can_neither_read_nor_answer_my_complaint(client, rt):
    mine = _file(client, sign_in(client, rt))
    other = sign_in(client, rt)
    number = mine["tracking_number"]
    assert client.get(f"/api/v1/me/complaints/{number}", headers=other).status_code == 404
    with rt.sessions() as s:
        c = s.scalars(select(Complaint)).one()
        c.state = "resolved"  # as if resolved; see the lifecycle tests for the real path
        s.commit()
    before = _count(rt, Message), _count(rt, ComplaintEvent)
    r = client.post(f"/api/v1/me/complaints/{number}/satisfaction", headers=other,
                    json={"client_id": draft_id(), "satisfied": True})
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    r = client.post(f"/api/v1/me/complaints/{number}/information", headers=other,
                    json={"client_id": draft_id(), "text": "not my complaint"})
    assert r.status_code == 404
    assert (_count(rt, Message), _count(rt, ComplaintEvent)) == before
    with rt.sessions() as s:
        assert s.scalars(select(Complaint.state)).one() == "resolved"


def test_my_complaints_are_paged_by_cursor(client, rt):
    headers = sign_in(client, rt)
    numbers = [_file(client, headers)["tracking_number"] for _ in range(3)]
    first = client.get("/api/v1/me/complaints?limit=2", headers=headers).get_json()
    assert [c["tracking_number"] for c in first["items"]] == numbers[:0:-1]
    second = client.get(f"/api/v1/me/complaints?limit=2&cursor={first['next_cursor']}", headers=headers).get_json()
    assert [c["tracking_number"] for c in second["items"]] == numbers[:1] and second["next_cursor"] is None
    r = client.get("/api/v1/me/complaints?cursor=nonsense", headers=headers)
    assert r.status_code == 400 and r.mimetype == "application/problem+json"


def test_a_photo_is_attached_to_the_complaint(client, rt):
    headers = sign_in(client, rt)
    number = _file(client, headers)["tracking_number"]
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "navy").save(buffer, "JPEG")
    r = client.post(f"/api/v1/me/complaints/{number}/attachments", headers=headers,
                    data={"file": (io.BytesIO(buffer.getvalue()), "photo.jpg", "image/jpeg")})
    assert r.status_code == 201 and r.get_json()["content_type"] == "image/jpeg"
    detail = client.get(f"/api/v1/me/complaints/{number}", headers=headers).get_json()
    assert [a["content_type"] for a in detail["attachments"]] == ["image/jpeg"]
    assert (rt.attachments_dir / "app").exists()


def test_a_program_posing_as_a_photo_is_refused_and_not_kept(client, rt):
    headers = sign_in(client, rt)
    number = _file(client, headers)["tracking_number"]
    r = client.post(f"/api/v1/me/complaints/{number}/attachments", headers=headers,
                    data={"file": (io.BytesIO(b"MZ\x90\x00 this is an exe"), "photo.jpg", "image/jpeg")})
    assert r.status_code == 415
    with rt.sessions() as s:
        from storage.models import Attachment
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0


def test_a_page_of_my_complaints_costs_a_fixed_number_of_queries(client, rt):
    from tests.test_query_counts import max_statements

    headers = sign_in(client, rt)
    for _ in range(5):
        _file(client, headers)
    with max_statements(rt, 5) as seen:
        r = client.get("/api/v1/me/complaints?limit=20", headers=headers)
    assert r.status_code == 200 and len(r.get_json()["items"]) == 5
    # the session, the page, district and department names: not one query per complaint
    assert len(seen) <= 5, seen


def test_one_client_cannot_send_codes_to_many_numbers(client, rt):
    for n in range(app_access.CODES_PER_REQUESTER):
        r = client.post("/api/v1/auth/code", json={"channel": "sms", "address": f"+9230011{n:05d}"})
        assert r.status_code == 202
    before = _count(rt, Message)
    r = client.post("/api/v1/auth/code", json={"channel": "sms", "address": "+923001199999"})
    assert r.status_code == 429 and r.mimetype == "application/problem+json"
    assert _count(rt, Message) == before
    other = client.post("/api/v1/auth/code", json={"channel": "sms", "address": "+923001199999"},
                        environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 202  # someone else, elsewhere, is not held up


def test_signing_out_ends_the_session_on_the_server_and_only_that_one(client, rt):
    mine, other = sign_in(client, rt), sign_in(client, rt)
    assert client.get("/api/v1/me/complaints", headers=mine).status_code == 200
    r = client.post("/api/v1/auth/signout", headers=mine)
    assert r.status_code == 204
    # a copy of the token (a shared or lost phone) no longer works, nor signs out again
    assert client.get("/api/v1/me/complaints", headers=mine).status_code == 401
    assert client.post("/api/v1/me/complaints", headers=mine,
                       json={"client_id": draft_id(), **WATER}).status_code == 401
    assert client.post("/api/v1/auth/signout", headers=mine).status_code == 401
    assert _count(rt, Complaint) == 0
    # another citizen's session is untouched
    assert client.get("/api/v1/me/complaints", headers=other).status_code == 200


def test_signing_out_without_a_token_is_refused(client, rt):
    r = client.post("/api/v1/auth/signout")
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
