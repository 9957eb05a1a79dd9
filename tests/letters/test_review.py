"""From a stored scan to a complaint: the API, the review screen, submission with its
acknowledgement, and a confirmation given on paper."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from conversation import casework
from storage import lifecycle
from storage.db import transaction
from storage.letters import Letter
from storage.models import Attachment, Complaint, ComplaintEvent, Contact, Message
from tests.letters import scans
from tests.letters.conftest import sign_in
from tests.letters.scans import needs_ocr_tools


def english_scan() -> bytes:
    return scans.jpeg(scans.degrade(scans.render(scans.ENGLISH, "latin", size=26, width=1200)))


def api_upload(rt, client, token: str, data: bytes, name: str = "scan.jpg") -> int:
    answer = client.post("/api/v1/letters", data={"file": (io.BytesIO(data), name)},
                         headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_json()
    rt.queue.run_due()
    return answer.get_json()["id"]


def submit_form(client, letter_id: int, csrf: str, **changes) -> object:
    form = {"csrf_token": csrf, "text": "The water supply in our street has been broken for three weeks.",
            "language": "en", "name": "Muhammad Ali", "phone": "0300-1234567",
            "cnic": "17301-1234567-1", "address": "Gulbahar, Peshawar", "district": "PSW",
            "category": "PHED_NO_WATER"}
    form.update(changes)
    return client.post(f"/letters/{letter_id}/submit", data=form)


@needs_ocr_tools
def test_a_scanning_station_posts_a_scan_and_reads_back_text_and_fields(rt, app, staff):
    client, token = app.test_client(), staff["clerk_letters"]["token"]
    answer = client.post("/api/v1/letters", data={"file": (io.BytesIO(english_scan()), "a.jpg")},
                         headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")
    assert answer.status_code == 201
    letter_id = answer.get_json()["id"]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/letters/{letter_id}", headers=auth).get_json()["state"] == "uploaded"
    rt.queue.run_due()
    body = client.get(f"/api/v1/letters/{letter_id}", headers=auth).get_json()
    assert body["state"] == "ocr_done" and body["language"] == "en"
    assert "water supply in our street" in body["text"] and body["confidence"] > 80
    assert body["suggested"]["phone"] == "+923001234567"
    assert body["suggested"]["cnic"] == "17301-1234567-1"
    assert body["suggested"]["district"] == "MDN"
    other = {"Authorization": f"Bearer {staff['clerk_other']['token']}"}
    assert client.get(f"/api/v1/letters/{letter_id}", headers=other).status_code == 404
    assert client.get(f"/api/v1/letters/{letter_id}").status_code == 401


def test_the_api_refuses_a_bad_file_with_its_reason(rt, app, staff):
    answer = app.test_client().post(
        "/api/v1/letters", data={"file": (io.BytesIO(scans.huge_png()), "big.png")},
        headers={"Authorization": f"Bearer {staff['clerk_letters']['token']}"},
        content_type="multipart/form-data")
    assert answer.status_code == 422 and "pixels" in answer.get_json()["error"]


@needs_ocr_tools
def test_the_review_screen_shows_the_scan_beside_the_text_with_fields_filled_in(rt, app, staff, clerk):
    client, _csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert f'src="/letters/{letter_id}/pages/1"' in page
    assert 'value="+923001234567"' in page and 'value="17301-1234567-1"' in page
    assert '<option value="MDN" selected' in page
    assert "water supply in our street" in page
    image = client.get(f"/letters/{letter_id}/pages/1")
    assert image.status_code == 200 and image.mimetype == "image/png"
    from tests.letters.conftest import sign_in

    other_clerk = sign_in(app, "clerk_other")
    assert other_clerk.get(f"/letters/{letter_id}/pages/1").status_code == 404
    assert other_clerk.get(f"/letters/{letter_id}").status_code == 404


@needs_ocr_tools
def test_a_nastaliq_letter_is_flagged_to_the_clerk_as_low_confidence(rt, app, staff, clerk):
    client, _csrf = clerk
    scan = scans.png(scans.render(scans.URDU[:2], "awami_nastaliq", rtl=True, size=26, width=1200))
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], scan)
    body = client.get(f"/api/v1/letters/{letter_id}",
                      headers={"Authorization": f"Bearer {staff['clerk_letters']['token']}"}).get_json()
    assert body["low_confidence"] is True
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert "Low OCR confidence" in page and '<mark class="doubt"' in page


@needs_ocr_tools
def test_submitting_makes_a_complaint_entered_by_the_clerk_and_acknowledges_it_by_sms(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    assert submit_form(client, letter_id, csrf).status_code == 302
    rt.queue.run_due()  # the SMS delivery job
    with rt.sessions() as s:
        letter = s.get(Letter, letter_id)
        complaint = s.get(Complaint, letter.complaint_id)
        assert letter.state == "submitted"
        assert (complaint.channel, complaint.district_code, complaint.category_code) == ("letter", "PSW", "PHED_NO_WATER")
        [event] = complaint.events
        assert (event.kind, event.actor_kind, event.actor_user_id, event.channel) == (
            "submitted", "clerk", staff["clerk_letters"]["id"], "letter")
        message = s.get(Message, event.message_id)
        assert (message.direction, message.channel, message.status) == ("in", "letter", "processed")
        assert s.get(Contact, complaint.contact_id).channel == "sms"
        attachments = s.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)).all()
        assert sorted(a.content_type for a in attachments) == ["image/jpeg", "image/png"]
        assert all((rt.attachments_dir / a.path).is_file() for a in attachments)
        [sms] = s.scalars(select(Message).where(Message.direction == "out")).all()
        assert sms.channel == "sms" and complaint.tracking_number in sms.text
        assert sms.status == "delivered"  # the deliver job ran (log sender offline)
        citizen = complaint.citizen
        assert citizen.name == "Muhammad Ali" and citizen.cnic == "17301-1234567-1"
    # A second submit (double click, back button) makes no second complaint.
    submit_form(client, letter_id, csrf)
    with rt.sessions() as s:
        assert len(s.scalars(select(Complaint)).all()) == 1


@needs_ocr_tools
def test_the_scan_is_shown_to_officers_whose_scope_has_the_case_only(rt, app, staff, clerk):
    from tests.letters.conftest import sign_in

    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    submit_form(client, letter_id, csrf)
    assert sign_in(app, "officer_phed_psw").get(f"/letters/{letter_id}/pages/1").status_code == 200
    assert sign_in(app, "officer_police_mdn").get(f"/letters/{letter_id}/pages/1").status_code == 404


@needs_ocr_tools
def test_a_wrong_field_is_named_and_nothing_is_filed(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    answer = submit_form(client, letter_id, csrf, cnic="1234", district="")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "a CNIC is 13 digits" in page and "choose the district" in page
    with rt.sessions() as s:
        assert s.scalars(select(Complaint)).first() is None


@needs_ocr_tools
def test_without_a_phone_number_the_writer_gets_a_printable_acknowledgement(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    submit_form(client, letter_id, csrf, phone="", language="ur")
    with rt.sessions() as s:
        complaint = s.get(Complaint, s.get(Letter, letter_id).complaint_id)
        assert s.get(Contact, complaint.contact_id).channel == "letter"
        assert s.scalars(select(Message).where(Message.direction == "out")).first() is None
        assert "acknowledgement_letter" in [e.kind for e in complaint.events]
    pdf = client.get(f"/letters/{letter_id}/acknowledgement.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF-")


def resolved_letter_complaint(rt, client, csrf, staff) -> str:
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    submit_form(client, letter_id, csrf)
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, s.get(Letter, letter_id).complaint_id)
        officer = lifecycle.Actor("officer", user_id=staff["officer_phed_psw"]["id"])
        casework.resolve(s, complaint, officer, "The pipe was repaired")
        return complaint.tracking_number


@needs_ocr_tools
def test_a_confirmation_on_paper_entered_by_a_clerk_closes_the_complaint_by_proxy(rt, app, staff, clerk):
    client, csrf = clerk
    number = resolved_letter_complaint(rt, client, csrf, staff)
    with rt.sessions() as s:
        messages_before = s.scalar(select(func.count(Message.id)).where(Message.direction == "in"))
    reply = scans.png(scans.render(["Yes, the water is back. Thank you."], "latin", size=20, width=600))
    answer = client.post("/letters/confirm", content_type="multipart/form-data", data={
        "csrf_token": csrf, "tracking": f"KP-{number}", "answer": "satisfied", "via": "paper",
        "note": "", "evidence": (io.BytesIO(reply), "reply.png")})
    assert answer.status_code == 200 and "is now closed" in answer.get_data(as_text=True)
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint).where(Complaint.tracking_number == number)).one()
        assert complaint.state == "closed"
        events = {e.kind: e for e in s.scalars(select(ComplaintEvent).where(
            ComplaintEvent.complaint_id == complaint.id))}
        assert "confirm_satisfied" not in events  # nobody wrote in the complainant's name
        proxy = events["confirmed_by_proxy"]
        assert (proxy.actor_kind, proxy.actor_user_id) == ("clerk", staff["clerk_letters"]["id"])
        assert (proxy.from_state, proxy.to_state, proxy.message_id) == ("resolved", "closed", None)
        assert proxy.data["satisfied"] is True and proxy.data["via"] == "paper"
        evidence = s.get(Attachment, proxy.data["evidence"])
        assert evidence.content_type == "image/png" and evidence.complaint_id == complaint.id
        assert (rt.attachments_dir / evidence.path).read_bytes() == reply
        # No inbound message was made up for the complainant.
        assert s.scalar(select(func.count(Message.id)).where(Message.direction == "in")) == messages_before
    case = sign_in(app, "officer_phed_psw").get(f"/dashboard/cases/KP-{number}").get_data(as_text=True)
    assert "confirmed by proxy" in case


@needs_ocr_tools
def test_a_confirmation_needs_the_scan_of_the_answer_and_a_resolved_complaint(rt, app, staff, clerk):
    client, csrf = clerk
    number = resolved_letter_complaint(rt, client, csrf, staff)
    for note in ("", "Citizen called: still no water"):
        answer = client.post("/letters/confirm", data={"csrf_token": csrf, "tracking": number,
                                                       "answer": "not_satisfied", "via": "phone", "note": note})
        assert answer.status_code == 422 and "a note alone is no evidence" in answer.get_data(as_text=True)
    with rt.sessions() as s:
        assert s.scalars(select(Complaint.state).where(Complaint.tracking_number == number)).one() == "resolved"
    reply = scans.png(scans.render(["Still no water."], "latin", size=20, width=600))
    client.post("/letters/confirm", content_type="multipart/form-data", data={
        "csrf_token": csrf, "tracking": number, "answer": "not_satisfied", "via": "paper",
        "note": "still no water", "evidence": (io.BytesIO(reply), "reply.png")})
    again = client.post("/letters/confirm", content_type="multipart/form-data", data={
        "csrf_token": csrf, "tracking": number, "answer": "satisfied", "via": "paper", "note": "ok",
        "evidence": (io.BytesIO(reply), "reply.png")})
    assert again.status_code == 422
    assert re.search(r"is not waiting for the citizen(&#39;|')s confirmation", again.get_data(as_text=True))
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint).where(Complaint.tracking_number == number)).one()
        assert complaint.state == "reopened" and complaint.escalation_level == 1
        proxy = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "confirmed_by_proxy")).one()
        assert proxy.data["satisfied"] is False and proxy.note == "still no water"
