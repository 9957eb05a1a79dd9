"""Issue 15, item 2: working a case. A confirmation after each action; only the actions the
state allows are offered (and the others refused); canned replies in the citizen's language;
a warning when the officer writes in another language; the assistant's filing dialogue is
one card; the queue has a summary column, sortable columns and bulk assignment, and puts
overdue cases nobody is assigned to first."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from storage import lifecycle
from storage.db import transaction
from storage.messages import insert_inbound, queue_outbound
from storage.models import Complaint, Contact, Conversation, Message, utcnow

from .conftest import csrf, file_complaint, login


def post(client, path: str, **form):
    return client.post(path, data={**form, "csrf_token": csrf(client)})


def speaks(rt, case, lang: str) -> None:
    with transaction(rt.sessions) as s:
        c = s.get(Complaint, case.id)
        s.add(Conversation(contact_id=c.contact_id, language=lang, state={}))


def replies(rt, case_id: int) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).where(Message.complaint_id == case_id, Message.direction == "out",
                                                    Message.kind == "officer_message").order_by(Message.id)))


def forms(html: str) -> set[str]:
    return set(re.findall(r'<form [^>]*id="([a-z-]+-form)"', html))


def test_each_action_is_confirmed(rt, app, staff):
    case = file_complaint(rt)
    client = login(app, "officer_psw")
    for path, form, confirmation in [
        ("note", {"text": "Called the XEN"}, "Note added."),
        ("start", {}, "Work started."),
        ("reply", {"text": "A team is on its way"}, "Reply queued for the citizen."),
        ("ask", {"question": "Which street?"}, "Question sent"),
    ]:
        response = post(client, f"/dashboard/cases/{case.number}/{path}", **form)
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert confirmation in page, path


def test_only_the_actions_the_state_allows_are_shown_and_the_others_refused(rt, app, staff):
    case = file_complaint(rt)
    client = login(app, "officer_psw")
    html = client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert {"start-form", "resolve-form", "ask-form", "reply-form"} <= forms(html)
    post(client, f"/dashboard/cases/{case.number}/start")
    html = client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert "start-form" not in forms(html) and "ask-form" in forms(html)
    # Started already: "start" again is refused, with the reason.
    response = post(client, f"/dashboard/cases/{case.number}/start")
    assert "Not possible for a case that is in progress" in client.get(response.headers["Location"]).get_data(as_text=True)
    post(client, f"/dashboard/cases/{case.number}/resolve", outcome="relief_granted", note="Fixed")
    html = client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert forms(html) & {"start-form", "resolve-form", "ask-form", "assign-form"} == set()
    before = len(replies(rt, case.id))
    response = post(client, f"/dashboard/cases/{case.number}/ask", question="Still no water?")
    assert "Not possible for a case that is resolved" in client.get(response.headers["Location"]).get_data(as_text=True)
    with rt.sessions() as s:
        assert s.get(Complaint, case.id).state == "resolved"
    assert len(replies(rt, case.id)) == before


def test_a_canned_reply_goes_out_in_the_citizens_language(rt, app, staff):
    case = file_complaint(rt)
    speaks(rt, case, "ps")
    client = login(app, "officer_psw")
    html = client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert 'value="water_restored"' in html and 'value="visit_station"' not in html  # PHED's, not the police's
    post(client, f"/dashboard/cases/{case.number}/reply", canned="water_restored", text="")
    [reply] = replies(rt, case.id)
    assert reply.language == "ps" and "د اوبو رسونه بیا پیل شوې" in reply.text


def test_writing_in_another_language_than_the_citizens_is_held_back_with_a_warning(rt, app, staff):
    case = file_complaint(rt)
    speaks(rt, case, "ur")
    client = login(app, "officer_psw")
    response = post(client, f"/dashboard/cases/{case.number}/reply", text="The pipe will be fixed tomorrow")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "looks written in another language" in page
    assert "The pipe will be fixed tomorrow</textarea>" in page  # the draft is kept
    assert replies(rt, case.id) == []
    post(client, f"/dashboard/cases/{case.number}/reply", text="The pipe will be fixed tomorrow", any_language="1")
    assert len(replies(rt, case.id)) == 1
    post(client, f"/dashboard/cases/{case.number}/reply", text="پائپ کل ٹھیک ہو جائے گا")  # Urdu: no warning
    assert len(replies(rt, case.id)) == 2


def test_the_assistants_filing_dialogue_is_one_card_with_the_complaint(rt, app, staff):
    case = file_complaint(rt, text="Nalkay mein pani nahi")
    with transaction(rt.sessions) as s:
        c = s.get(Complaint, case.id)
        contact = s.get(Contact, c.contact_id)
        at = c.created_at - timedelta(minutes=2)
        for n, (direction, text) in enumerate([("out", "Reply 1 New complaint"), ("in", "1"),
                                               ("out", "Which district?"), ("in", "پشاور"),
                                               ("out", "Shall I file it?"), ("in", "ہاں")]):
            if direction == "in":
                m, _ = insert_inbound(s, contact, channel="whatsapp", provider_id=f"bot-{case.id}-{n}",
                                      text=text, payload={})
            else:
                m = queue_outbound(s, contact, text, kind="reply", complaint_id=c.id)
            m.complaint_id, m.created_at = c.id, at + timedelta(seconds=n)
        s.flush()
        lifecycle.note(s, c, lifecycle.Actor("officer", staff["officer_psw"], "dashboard"), "Visited")
    html = login(app, "officer_psw").get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    timeline = html[html.index('id="timeline"'):]
    assert timeline.count('id="filing-summary"') == 1
    assert 'data-steps="7"' in timeline  # six steps and the message that filed it
    # No step is a card of its own; the officer's note still is.
    assert not re.search(r'<li class="(in|out)" data-message=', timeline)
    assert 'data-event="note"' in timeline
    assert timeline.count("data-step=") == 7 and "پشاور" in timeline  # readable inside it


def test_the_queue_has_a_masked_summary_column(rt, app, staff):
    file_complaint(rt, text="Water line broken near house 12, call me on 03001234567")
    html = login(app, "officer_psw").get("/dashboard/").get_data(as_text=True)
    assert 'class="summary"' in html and "Water line broken near house 12" in html
    assert "03001234567" not in html


def test_overdue_unassigned_cases_come_first_and_columns_sort(rt, app, staff):
    mine = file_complaint(rt, text="mine")
    late = file_complaint(rt, text="late and nobody on it")
    with transaction(rt.sessions) as s:
        c = s.get(Complaint, mine.id)
        lifecycle.assign(s, c, lifecycle.Actor("officer", staff["officer_psw"]), user_id=staff["officer_psw"])
        s.get(Complaint, late.id).due_at = utcnow() - timedelta(days=2)
    client = login(app, "officer_psw")
    html = client.get("/dashboard/").get_data(as_text=True)
    assert html.index(f'data-tracking="{late.number}"') < html.index(f'data-tracking="{mine.number}"')
    newest_first = client.get("/dashboard/?sort=-received").get_data(as_text=True)
    assert newest_first.index(f'data-tracking="{late.number}"') < newest_first.index(f'data-tracking="{mine.number}"')
    oldest_first = client.get("/dashboard/?sort=received").get_data(as_text=True)
    assert oldest_first.index(f'data-tracking="{mine.number}"') < oldest_first.index(f'data-tracking="{late.number}"')
    assert 'aria-sort="ascending"' in oldest_first


def test_bulk_assign_hands_the_ticked_cases_in_scope_only(rt, app, staff):
    a, b = file_complaint(rt), file_complaint(rt)
    police = file_complaint(rt, department="POLICE", category="POLICE_FIR")
    client = login(app, "officer_psw")
    response = post(client, "/dashboard/bulk-assign", user_id=str(staff["officer2_psw"]),
                    numbers=[a.number, b.number, police.number])
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Assigned 2 of 3" in page
    with rt.sessions() as s:
        assert s.get(Complaint, a.id).assigned_user_id == staff["officer2_psw"]
        assert s.get(Complaint, b.id).assigned_user_id == staff["officer2_psw"]
        assert s.get(Complaint, police.id).assigned_user_id is None
    # A viewer may not.
    viewer = login(app, "viewer")
    assert post(viewer, "/dashboard/bulk-assign", user_id=str(staff["officer_psw"]),
                numbers=[police.number]).status_code == 403


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def test_a_reply_carries_a_checked_photo_as_media_on_whatsapp_and_in_the_email(rt, app, staff, monkeypatch):
    from io import BytesIO

    from channels.delivery import Delivered
    from channels.email.sender import SmtpSender
    from channels.whatsapp.adapter import create_kwargs

    monkeypatch.setattr(rt, "settings", rt.settings.model_copy(update={"public_url": "https://ikhtiyar.test"}))
    sent = []
    monkeypatch.setattr(rt, "sender_for", lambda channel, simulated=False: lambda out: (
        sent.append(out), Delivered(provider_id=f"SM{len(sent):032d}"))[1])
    case = file_complaint(rt)  # by WhatsApp
    client = login(app, "officer_psw")
    # A program renamed to .png is refused, whatever the browser says it is.
    response = client.post(f"/dashboard/cases/{case.number}/reply", content_type="multipart/form-data", data={
        "csrf_token": csrf(client), "text": "See the photo",
        "file": (BytesIO(b"MZ\x90\x00" + b"\x00" * 64), "repair.png", "image/png")})
    assert "attach a JPEG or PNG photo or a PDF" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert replies(rt, case.id) == []
    client.post(f"/dashboard/cases/{case.number}/reply", content_type="multipart/form-data", data={
        "csrf_token": csrf(client), "text": "The repaired pipe",
        "file": (BytesIO(PNG), "repair.png", "application/octet-stream")})
    rt.queue.run_due()
    [out] = sent
    kwargs = create_kwargs(out, rt.settings)
    [url] = kwargs["media_url"]
    assert kwargs["body"].endswith("The repaired pipe") and url.startswith("https://ikhtiyar.test/dashboard/media/")
    fetched = app.test_client().get(url.removeprefix("https://ikhtiyar.test"))  # as Twilio, no session
    assert fetched.status_code == 200 and fetched.data == PNG and fetched.mimetype == "image/png"
    forged = url.removeprefix("https://ikhtiyar.test")[:-3] + "abc"
    assert app.test_client().get(forged).status_code == 404
    # The same files travel inside an email.
    mail = SmtpSender("smtp://127.0.0.1:1", "complaints@ikhtiyar.test", secret=b"s" * 32,
                      base_url="https://ikhtiyar.test").compose(out)
    [part] = list(mail.iter_attachments())
    assert part.get_content_type() == "image/png" and part.get_content() == PNG
    # The officer sees the file on the case's timeline.
    assert 'class="photo"' in client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)


def test_saved_filters_are_each_users_own(rt, app, staff):
    file_complaint(rt)
    client = login(app, "officer_psw")
    response = post(client, "/dashboard/filters", name="Late in Peshawar",
                    query="view=unassigned&overdue=1&sort=-due&page=3&evil=<x>")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Filter saved." in page
    link = re.search(r'href="(/dashboard/\?[^"]*)" data-filter="(\d+)">Late in Peshawar<', page)
    assert link and "overdue=1" in link.group(1) and "sort=-due" in link.group(1)
    assert "page=" not in link.group(1) and "evil" not in link.group(1)
    other = login(app, "officer2_psw")
    assert "Late in Peshawar" not in other.get("/dashboard/").get_data(as_text=True)
    assert post(other, f"/dashboard/filters/{link.group(2)}/delete").status_code == 404
    assert "Late in Peshawar" in client.get("/dashboard/").get_data(as_text=True)
    post(client, f"/dashboard/filters/{link.group(2)}/delete")
    assert "Late in Peshawar" not in client.get("/dashboard/").get_data(as_text=True)
