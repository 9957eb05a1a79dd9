"""Issue 15, item 1: triage. Complaints without a department or category (a phone recording,
an anonymous email) wait in a triage queue per district with the classifier's likeliest
categories and the recording playable; one click categorises them. Recategorising and
transfer set department, category and due date together, hand the case to an officer of
the new department, and tell the citizen in their language who handles it now. Another
department's officer, an officer of another district, a clerk, a viewer and a citizen try
and fail."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage import tracking
from storage.db import transaction
from storage.models import (
    Attachment,
    Category,
    Complaint,
    ComplaintEvent,
    Conversation,
    Department,
    Message,
)

from .conftest import csrf, file_complaint, login

RECORDING = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64  # an MP3's first bytes


def post(client, path: str, **form):
    return client.post(path, data={**form, "csrf_token": csrf(client)})


def phone_complaint(rt, *, district="PSW", text="Hamare mohalle mein teen din se pani nahi aa raha, nalka khushk hai",
                    language="ur") -> tuple:
    """A phone recording filed without department or category, as the call flow files it,
    with its recording on the case."""
    case = file_complaint(rt, department=None, category=None, district=district, channel="voice",
                          text=text, sla_days=None)
    folder = rt.attachments_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"rec-{case.id}.mp3").write_bytes(RECORDING)
    with transaction(rt.sessions) as s:
        c = s.get(Complaint, case.id)
        c.language = language
        s.add(Conversation(contact_id=c.contact_id, language=language, state={}))
        s.add(Attachment(complaint_id=c.id, content_type="audio/mpeg", size=len(RECORDING),
                         sha256="0" * 64, path=f"rec-{case.id}.mp3", filename="recording.mp3",
                         duration_seconds=12.0))
        s.add(ComplaintEvent(complaint_id=c.id, kind="needs_triage", actor_kind="system",
                             note="Needs triage: listen to the recording, then choose the department and category.",
                             data={}))
    return case


def complaint(rt, case_id: int) -> Complaint:
    with rt.sessions() as s:
        c = s.get(Complaint, case_id)
        s.expunge(c)
        return c


def told(rt, case_id: int) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).where(
            Message.complaint_id == case_id, Message.direction == "out",
            Message.kind == "case_handled_by").order_by(Message.id)))


def test_the_triage_queue_lists_the_districts_unsorted_complaints_with_suggestions_and_the_recording(
        rt, app, staff):
    case = phone_complaint(rt)
    elsewhere = phone_complaint(rt, district="MDN")
    client = login(app, "officer_psw")
    page = client.get("/dashboard/triage")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-tracking="{case.number}"' in html
    assert f'data-tracking="{elsewhere.number}"' not in html  # another district's
    assert "<audio controls" in html  # the recording plays on the page
    # The classifier's likeliest category first, each a one-click button.
    assert html.index('data-category="WSSC_WATER_SUPPLY"') < html.index('data-category="LOCAL_GOVT_WATER_SUPPLY"')
    # The queue links to it, with the number waiting.
    assert 'id="triage-link"' in client.get("/dashboard/").get_data(as_text=True)


def test_the_case_page_of_an_unsorted_complaint_offers_the_category(rt, app, staff):
    case = phone_complaint(rt)
    html = login(app, "officer_psw").get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert "choose the department and category" in html
    assert 'id="categorise-form"' in html and 'value="PHED_NO_WATER"' in html


def test_one_click_categorises_sets_department_and_due_date_and_tells_the_citizen_in_urdu(
        rt, app, staff):
    case = phone_complaint(rt)
    client = login(app, "officer_psw")
    response = post(client, f"/dashboard/cases/{case.number}/categorise", category="WSSC_WATER_SUPPLY",
                    **{"from": "triage"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/dashboard/triage")
    page = client.get("/dashboard/triage").get_data(as_text=True)
    assert "Category saved" in page and f'data-tracking="{case.number}"' not in page
    c = complaint(rt, case.id)
    with rt.sessions() as s:
        category = s.get(Category, "WSSC_WATER_SUPPLY")
        department = s.get(Department, category.department_code)
        sla = category.sla_days
    assert (c.department_code, c.category_code) == (category.department_code, "WSSC_WATER_SUPPLY")
    assert c.due_at is not None and abs(c.due_at - (c.created_at + timedelta(days=sla))) < timedelta(seconds=5)
    with rt.sessions() as s:
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == case.id,
                                                       ComplaintEvent.kind == "categorised")).one()
        assert event.actor_user_id == staff["officer_psw"] and event.data["to_category"] == "WSSC_WATER_SUPPLY"
    [message] = told(rt, case.id)
    assert message.language == "ur" and department.name_ur in message.text  # Urdu, naming who
    assert tracking.display(c.tracking_number, rt.settings.tracking_prefix) in message.text


def test_a_transfer_sets_the_new_departments_category_and_due_date_and_hands_it_to_an_officer(
        rt, app, staff):
    case = file_complaint(rt, text="Someone stole my motorcycle outside the market")
    with transaction(rt.sessions) as s:
        c = s.get(Complaint, case.id)
        s.add(Conversation(contact_id=c.contact_id, language="ps", state={}))
    client = login(app, "officer_psw")
    post(client, f"/dashboard/cases/{case.number}/start")
    response = post(client, f"/dashboard/cases/{case.number}/assign", department="POLICE",
                    reason="A theft is for the police")
    assert response.headers["Location"].endswith("/dashboard/")
    c = complaint(rt, case.id)
    assert c.department_code == "POLICE"
    assert c.category_code.startswith("POLICE_")  # not the old department's category
    assert c.assigned_user_id == staff["officer_police"]  # not left to nobody
    assert c.due_at > c.created_at + timedelta(days=1) - timedelta(seconds=5)
    with rt.sessions() as s:
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == case.id,
                                                       ComplaintEvent.kind == "transferred")).one()
        assert event.note == "A theft is for the police" and event.actor_user_id == staff["officer_psw"]
    [message] = told(rt, case.id)
    assert message.language == "ps" and "پولیس" in message.text  # Pashto, naming the police


def test_recategorising_to_another_departments_category_is_a_transfer_in_roman_urdu(rt, app, staff):
    case = file_complaint(rt)
    with transaction(rt.sessions) as s:
        c = s.get(Complaint, case.id)
        s.add(Conversation(contact_id=c.contact_id, language="ur-rm", state={}))
    client = login(app, "head_phed")
    refused = post(client, f"/dashboard/cases/{case.number}/categorise", category="POLICE_FIR")
    assert refused.status_code == 303
    assert complaint(rt, case.id).category_code == "PHED_NO_WATER"  # a transfer needs a reason
    post(client, f"/dashboard/cases/{case.number}/categorise", category="POLICE_FIR",
         reason="An FIR is not registered")
    c = complaint(rt, case.id)
    assert (c.department_code, c.category_code, c.assigned_user_id) == ("POLICE", "POLICE_FIR",
                                                                        staff["officer_police"])
    [message] = told(rt, case.id)
    assert message.language == "ur-rm" and "ab" in message.text and "ke paas" in message.text


def test_who_may_not_triage_changes_nothing(rt, app, staff):
    unsorted = phone_complaint(rt)  # no department yet, Peshawar
    no_category = file_complaint(rt, category=None)  # PHED, Peshawar, no category
    attempts = [("officer_mdn", unsorted, (404,)), ("officer_police", no_category, (404,)),
                ("clerk", unsorted, (403,)), ("viewer", unsorted, (403,))]
    for who, case, statuses in attempts:
        client = login(app, who)
        response = post(client, f"/dashboard/cases/{case.number}/categorise", category="PHED_NO_WATER")
        assert response.status_code in statuses, who
    # A citizen (no staff session) is sent to sign in; a forged form without a token is refused.
    anonymous = app.test_client()
    assert anonymous.post(f"/dashboard/cases/{unsorted.number}/categorise",
                          data={"category": "PHED_NO_WATER"}).status_code in (302, 400)
    assert anonymous.get("/dashboard/triage").status_code == 302
    for case in (unsorted, no_category):
        c = complaint(rt, case.id)
        assert c.category_code is None and c.assigned_user_id is None
        assert told(rt, case.id) == []
    # The other department's officer does not even see it in their triage queue.
    html = login(app, "officer_police").get("/dashboard/triage").get_data(as_text=True)
    assert f'data-tracking="{no_category.number}"' not in html
    assert f'data-tracking="{unsorted.number}"' in html  # the district's unsorted one: yes
