"""What an officer does on a case reaches the citizen on their channel, in their language;
the complainant's details are masked until revealed (audited); confidential complaints hide
the complainant from their department; the interface switches to Urdu."""

from __future__ import annotations

from sqlalchemy import select

from storage.audit import AuditEntry
from storage.db import transaction
from storage.models import Citizen, Complaint, Conversation, Message

from .conftest import csrf, file_complaint, login


def post(client, path: str, **form):
    return client.post(path, data={**form, "csrf_token": csrf(client)})


def outbox(rt, case_id: int) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).where(Message.complaint_id == case_id,
                                                    Message.direction == "out").order_by(Message.id)))


def test_reply_goes_out_on_the_citizens_channel_in_their_language(rt, app, staff):
    case = file_complaint(rt, channel="sms")
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, case.id)
        s.add(Conversation(contact_id=complaint.contact_id, language="ur", state={}))
    client = login(app, "officer_psw")
    response = post(client, f"/dashboard/cases/{case.number}/reply", text="کل ٹیم آئے گی")
    assert response.status_code == 303
    rt.queue.run_due()
    [reply] = outbox(rt, case.id)
    assert reply.channel == "sms" and reply.language == "ur" and "کل ٹیم آئے گی" in reply.text
    assert reply.status in ("sent", "delivered")
    with rt.sessions() as s:
        assert s.get(Complaint, case.id).first_response_at is not None


def test_resolve_asks_the_citizen_to_confirm_and_does_not_close(rt, app, staff):
    case = file_complaint(rt)
    client = login(app, "officer_psw")
    post(client, f"/dashboard/cases/{case.number}/resolve", outcome="partial_relief", note="Pipe patched")
    with rt.sessions() as s:
        assert s.get(Complaint, case.id).state == "resolved"
    assert outbox(rt, case.id)[-1].kind == "satisfaction_request"


def test_resolve_without_a_note_is_refused_with_a_reason(rt, app, staff):
    case = file_complaint(rt)
    client = login(app, "officer_psw")
    response = post(client, f"/dashboard/cases/{case.number}/resolve", outcome="relief_granted", note=" ")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is empty" in page
    with rt.sessions() as s:
        assert s.get(Complaint, case.id).state == "submitted"


def test_asking_for_information_waits_for_the_citizen(rt, app, staff):
    case = file_complaint(rt)
    client = login(app, "officer_psw")
    post(client, f"/dashboard/cases/{case.number}/ask", question="Which house number?")
    with rt.sessions() as s:
        assert s.get(Complaint, case.id).state == "awaiting_info"
    assert "Which house number?" in outbox(rt, case.id)[-1].text


def test_transfer_to_another_department_needs_a_reason_and_leaves_the_scope(rt, app, staff):
    case = file_complaint(rt)
    client = login(app, "officer_psw")
    post(client, f"/dashboard/cases/{case.number}/assign", department="POLICE")
    with rt.sessions() as s:
        assert s.get(Complaint, case.id).department_code == "PHED"
    response = post(client, f"/dashboard/cases/{case.number}/assign", department="POLICE",
                    reason="This is a theft, not a water problem")
    assert response.headers["Location"].endswith("/dashboard/")
    with rt.sessions() as s:
        assert s.get(Complaint, case.id).department_code == "POLICE"
    assert client.get(f"/dashboard/cases/{case.number}").status_code == 404


def test_assigning_to_an_officer_of_another_district_is_refused(rt, app, staff):
    case = file_complaint(rt)
    client = login(app, "head_phed")
    post(client, f"/dashboard/cases/{case.number}/assign", user_id=str(staff["officer_mdn"]))
    with rt.sessions() as s:
        assert s.get(Complaint, case.id).assigned_user_id is None
    post(client, f"/dashboard/cases/{case.number}/assign", user_id=str(staff["officer2_psw"]))
    with rt.sessions() as s:
        assert s.get(Complaint, case.id).assigned_user_id == staff["officer2_psw"]


def test_phone_is_masked_until_revealed_and_the_reveal_is_audited(rt, app, staff):
    case = file_complaint(rt, address="+923001234567")
    client = login(app, "officer_psw")
    page = client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert "+923001234567" not in page and "+92300•••••67" in page
    revealed = post(client, f"/dashboard/cases/{case.number}/reveal").get_data(as_text=True)
    assert "+923001234567" in revealed
    with rt.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "reveal")).one()
        assert entry.user_id == staff["officer_psw"] and entry.complaint_id == case.id


def test_confidential_complaint_hides_the_complainant_from_the_department(rt, app, staff):
    case = file_complaint(rt, address="+923009998877")
    with transaction(rt.sessions) as s:
        s.get(Citizen, s.get(Complaint, case.id).citizen_id).name = "Amina Khan"
    officer = login(app, "officer_psw")
    post(officer, f"/dashboard/cases/{case.number}/confidential", value="1")
    page = officer.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert "identity-hidden" in page and "•••••77" not in page and "A•••" not in page
    assert post(officer, f"/dashboard/cases/{case.number}/reveal").status_code == 403
    assert post(officer, f"/dashboard/cases/{case.number}/confidential", value="0").status_code == 403
    with rt.sessions() as s:  # still confidential, and no reveal on the officer's record
        assert s.get(Complaint, case.id).confidential
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "reveal",
                                                  AuditEntry.user_id == staff["officer_psw"])).all() == []
    admin = login(app, "admin2")
    assert "Amina Khan" in post(admin, f"/dashboard/cases/{case.number}/reveal").get_data(as_text=True)


def test_interface_switches_to_urdu_right_to_left(rt, app, staff):
    client = login(app, "officer_psw")
    post(client, "/dashboard/language", lang="ur", next="/dashboard/")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert 'dir="rtl"' in page and "مجھے سونپے گئے" in page


def test_queue_filters_count_and_find_by_tracking_number(rt, app, staff):
    water = file_complaint(rt, channel="sms")
    file_complaint(rt, channel="whatsapp")
    client = login(app, "officer_psw")
    page = client.get("/dashboard/?channel=sms").get_data(as_text=True)
    assert f'data-tracking="{water.number}"' in page and page.count("data-tracking=") == 1
    assert "SMS (1)" in page and "WhatsApp (1)" in page
    found = client.get(f"/dashboard/?q=KP-{water.number}").get_data(as_text=True)
    assert found.count("data-tracking=") == 1


def test_province_dashboard_and_csv_show_the_figures(rt, app, staff):
    file_complaint(rt)
    file_complaint(rt, district="MDN")
    client = login(app, "viewer")
    page = client.get("/dashboard/province").get_data(as_text=True)
    assert "<svg" in page and "Peshawar" in page
    csv = client.get("/dashboard/province.csv?table=district").get_data(as_text=True)
    assert csv.splitlines()[0].lstrip("\ufeff").startswith("key,name,received")
    assert any(line.startswith("PSW,Peshawar,1,1") for line in csv.splitlines())
    assert client.get("/dashboard/province?from=yesterday").status_code == 400
