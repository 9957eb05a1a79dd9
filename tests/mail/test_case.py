"""A whole case by email: mail in, tracking number out, a reply answers the question, the
officer resolves, the satisfaction mail arrives, "not satisfied" reopens, the "satisfied"
link closes. Mail travels over real SMTP both ways."""

from __future__ import annotations

import email
import re
from email import policy

from sqlalchemy import select

from conversation import casework
from gateway import jobs
from gateway.app import create_app
from storage import lifecycle
from storage.models import Complaint, ComplaintEvent, Message
from tests.mail.conftest import PUBLIC_URL, fixture_bytes
from tests.mail.test_smtp import send

OFFICER = lifecycle.Actor("officer", channel="dashboard")


def reply(fixture: str, to, tracking: str) -> bytes:
    """A citizen's reply (a real Gmail/Outlook mail) to the mail ``to`` we sent."""
    msg = email.message_from_bytes(fixture_bytes(fixture), policy=policy.default)
    msg.replace_header("In-Reply-To", to["Message-ID"])
    msg.replace_header("References", f"{to['References'] or ''} {to['Message-ID']}".strip())
    return msg.as_bytes().replace(b"KP-1234567", f"KP-{tracking}".encode())


def the_complaint(rt) -> Complaint:
    with rt.sessions() as s:
        return s.scalars(select(Complaint)).one()


def resolve(rt, note: str) -> None:
    with rt.sessions() as s, s.begin():
        message = casework.resolve(s, s.scalars(select(Complaint)).one(), OFFICER, note)
        s.flush()
        message_id = message.id
    jobs.deliver(message_id)


def links_in(mail) -> dict[str, str]:
    text = mail.get_body(("plain",)).get_content()
    found = re.findall(rf"({re.escape(PUBLIC_URL)}/mail/answer/\S+)", text)
    assert len(found) == 2, text
    return {"yes": found[0].removeprefix(PUBLIC_URL), "no": found[1].removeprefix(PUBLIC_URL)}


def test_a_whole_case_by_email(mail_rt, listener, sink, dkim_key):
    # Mail in: filed at once; the district is missing, so the answer asks for it (only it).
    assert send(listener, fixture_bytes("no_district"))[0] == 250
    mail_rt.queue.run_due()
    complaint = the_complaint(mail_rt)
    number = complaint.tracking_number
    assert complaint.district_code is None and complaint.category_code is not None
    [first] = sink.messages
    first_text = first.get_body(("plain",)).get_content()
    assert f"KP-{number}" in first_text and "the district" in first_text
    assert "which service" not in first_text  # the department was found in the text
    assert first["Subject"] == f"Re: No water for ten days [KP-{number}]"

    # A reply (Outlook, quoting our mail) answers the question.
    assert send(listener, reply("outlook_reply", first, number))[0] == 250
    mail_rt.queue.run_due()
    complaint = the_complaint(mail_rt)
    assert complaint.district_code == "PSW"
    assert complaint.location_detail.startswith("It is in Peshawar") and not complaint.incomplete
    second = sink.messages[1]
    # It answers the citizen's reply, and the chain still holds our first mail.
    assert second["In-Reply-To"] == "<DB9PR10MB5881A1B2C3D4E5F6A7B8C9D0E1F2A3B4@DB9PR10MB5881.EURPRD10.PROD.OUTLOOK.COM>"
    assert first["Message-ID"] in second["References"]

    # The officer resolves: the satisfaction mail arrives in the thread, with two links.
    resolve(mail_rt, "The pump was repaired")
    satisfaction = sink.messages[2]
    assert f"[KP-{number}]" in satisfaction["Subject"]
    assert "The pump was repaired" in satisfaction.get_body(("plain",)).get_content()
    links_in(satisfaction)

    # "Not satisfied" by a Gmail reply (DKIM-signed, as Gmail signs): reopened and escalated.
    assert send(listener, dkim_key.sign(reply("gmail_reply", satisfaction, number)))[0] == 250
    mail_rt.queue.run_due()
    complaint = the_complaint(mail_rt)
    assert complaint.state == "reopened" and complaint.escalation_level == 1
    with mail_rt.sessions() as s:
        rejected = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "reject_resolution")).one()
        assert rejected.note.startswith("the water is still not coming")

    # Resolved again; the "satisfied" link: GET only shows a page, POST closes.
    resolve(mail_rt, "New pump installed")
    links = links_in(sink.messages[-1])
    client = create_app(mail_rt).test_client()
    page = client.get(links["yes"])
    assert page.status_code == 200 and "Confirm" in page.get_data(as_text=True)
    client.get(links["yes"])  # a mail scanner opening it again changes nothing
    assert the_complaint(mail_rt).state == "resolved"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    done = client.post(links["yes"], data={"csrf_token": token})
    assert done.status_code == 200 and "has been recorded" in done.get_data(as_text=True)
    mail_rt.queue.run_due()
    complaint = the_complaint(mail_rt)
    assert complaint.state == "closed"
    with mail_rt.sessions() as s:
        closing = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "confirm_satisfied")).one()
        carrier = s.get(Message, closing.message_id)
        assert carrier.direction == "in" and carrier.channel == "email"
        assert carrier.contact_id == complaint.contact_id  # the complainant's own message
    assert f"KP-{number}" in sink.messages[-1].get_body(("plain",)).get_content()  # thanks mail

    # Both links of that request are used up.
    for answer in ("yes", "no"):
        assert client.get(links[answer]).status_code == 410


def test_a_tampered_link_changes_nothing(mail_rt, listener, sink):
    send(listener, fixture_bytes("plain"))
    mail_rt.queue.run_due()
    resolve(mail_rt, "Pump repaired")
    link = links_in(sink.messages[-1])["yes"]
    client = create_app(mail_rt).test_client()
    assert client.get(link[:-3] + "abc").status_code == 404
    page = client.get(link)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert client.post(link[:-3] + "abc", data={"csrf_token": token}).status_code == 404
    assert client.post(link, data={}).status_code == 400  # no CSRF token: not a form we served
    assert the_complaint(mail_rt).state == "resolved"


def test_a_reply_by_subject_tag_from_a_stranger_is_a_new_complaint(mail_rt, listener, sink):
    send(listener, fixture_bytes("plain"))
    mail_rt.queue.run_due()
    number = the_complaint(mail_rt).tracking_number
    stranger = (fixture_bytes("unlisted_recipients")
                .replace(b"Subject: Garbage not collected in Abbottabad",
                         f"Subject: Garbage not collected in Abbottabad [KP-{number}]".encode()))
    send(listener, stranger, "bilal@example.com")
    mail_rt.queue.run_due()
    with mail_rt.sessions() as s:
        assert len(s.scalars(select(Complaint)).all()) == 2  # the tag is trusted only from the complainant


def test_a_comment_in_the_thread_lands_on_the_case(mail_rt, listener, sink):
    send(listener, fixture_bytes("plain"))
    mail_rt.queue.run_due()
    later = reply("outlook_reply", sink.messages[0], the_complaint(mail_rt).tracking_number).replace(
        b"It is in Peshawar, Hayatabad Phase 3, Street 7 near the Jamia Masjid.",
        b"The tanker also stopped coming since yesterday.")
    send(listener, later)
    mail_rt.queue.run_due()
    with mail_rt.sessions() as s:
        assert len(s.scalars(select(Complaint)).all()) == 1
        note = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "citizen_comment")).one()
        assert note.note == "The tanker also stopped coming since yesterday."
