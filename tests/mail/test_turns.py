"""One mail per turn: when a turn (the citizen's mail, an officer's action) has several
replies for an email contact, the citizen gets them in one mail, in order, a blank line
apart, in the thread and with the satisfaction links; each outbox row follows that mail."""

from __future__ import annotations

import re

from sqlalchemy import select

from conversation import casework
from gateway import jobs
from gateway.app import create_app
from storage import lifecycle, tracking
from storage.models import Complaint, ComplaintEvent, Message
from tests.mail.conftest import PUBLIC_URL, fixture_bytes
from tests.mail.test_smtp import send

OFFICER = lifecycle.Actor("officer", channel="dashboard")

CHOOSE_URDU = """\
From: Asad Khan <{sender}>
To: complaints@ikhtiyar.localhost
Subject: language
Date: Sat, 08 Mar 2025 10:00:00 +0500
Message-ID: <choose-urdu.1@example.org>
Content-Type: text/plain; charset=utf-8

urdu
"""


def outbound(rt) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)))


def deliver_all(ids: list[int]) -> None:
    """What the dashboard does after an officer's action: a delivery job for each row, run
    here last row first: whichever job runs first, the turn's first row carries the others."""
    for message_id in reversed(ids):
        jobs.deliver(message_id)


def plain(mail) -> str:
    return mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # as sent: CRLF


def test_a_turn_with_two_replies_is_one_mail(mail_rt, listener, sink):
    send(listener, CHOOSE_URDU.format(sender="asad.khan@example.org").encode(), "asad.khan@example.org")
    mail_rt.queue.run_due()
    rows = outbound(mail_rt)
    assert [r.payload.get("key") for r in rows] == ["language_set", "welcome"]  # two replies ...
    [mail] = sink.messages  # ... one mail
    assert plain(mail).startswith(f"{rows[0].text}\n\n{rows[1].text}\n\n-- \n")
    assert mail["In-Reply-To"] == "<choose-urdu.1@example.org>" and mail["Subject"].startswith("Re: language")
    assert mail["Content-Language"] == "ur" and 'dir="rtl"' in mail.get_body(("html",)).get_content()
    # Each row keeps its own text and shows the mail that carried it.
    assert [(r.status, r.provider_id, r.attempts) for r in rows] == [
        ("sent", mail["Message-ID"], 1), ("sent", mail["Message-ID"] + "#1", 1)]


def test_an_officer_message_and_the_resolution_arrive_as_one_mail_with_the_links(mail_rt, listener, sink):
    send(listener, fixture_bytes("plain"))
    mail_rt.queue.run_due()
    [registered] = sink.messages
    with mail_rt.sessions() as s, s.begin():  # one action: a word to the citizen, then resolve
        complaint = s.scalars(select(Complaint)).one()
        number = complaint.tracking_number
        queued = [casework.message_citizen(s, complaint, OFFICER, "A new motor was fitted this morning."),
                  casework.resolve(s, complaint, OFFICER, "The pump was repaired")]
        s.flush()
        ids = [m.id for m in queued]
    deliver_all(ids)
    assert len(sink.messages) == 2
    mail = sink.messages[1]
    first, second = outbound(mail_rt)[1:]
    assert (first.kind, second.kind) == ("officer_message", "satisfaction_request")
    body = plain(mail)
    assert body.startswith(f"{first.text}\n\n{second.text}\n\n")
    assert body.index("A new motor was fitted") < body.index("The pump was repaired")
    # In the thread, with the tracking number, answering the citizen's mail.
    # Unfolded: Python folds a subject this long right after "Subject:" and reads the fold's
    # space back as part of the value.
    assert " ".join(mail["Subject"].split()) == \
        f"Re: No water supply in Hayatabad Phase 3 for ten days [{tracking.display(number)}]"
    assert mail["In-Reply-To"] == registered["In-Reply-To"]
    assert registered["Message-ID"] not in (mail["Message-ID"],)
    # The satisfaction request's links are there, and they work.
    found = re.findall(rf"{re.escape(PUBLIC_URL)}(/mail/answer/\S+)", body)
    assert len(found) == 2 and len(re.findall(r"/mail/answer/", mail.get_body(("html",)).get_content())) == 2
    assert create_app(mail_rt).test_client().get(found[0]).status_code == 200
    assert [(r.status, r.provider_id) for r in (first, second)] == [
        ("sent", mail["Message-ID"]), ("sent", mail["Message-ID"] + "#1")]


def test_a_refused_mail_fails_every_reply_it_carried(mail_rt, listener, sink):
    address = "refuse-asad@example.org"
    send(listener, CHOOSE_URDU.format(sender=address).encode(), address)
    mail_rt.queue.run_due()
    rows = outbound(mail_rt)
    assert len(rows) == 2 and sink.messages == []
    assert {(r.status, r.attempts) for r in rows} == {("failed", 1)}
    assert all("550" in r.error for r in rows)


def test_a_deferred_mail_keeps_its_replies_together_for_the_retry(mail_rt, listener, sink):
    address = "later-asad@example.org"
    send(listener, CHOOSE_URDU.format(sender=address).encode(), address)
    mail_rt.queue.run_due()  # both delivery jobs ran: one tried, the other waits with it
    rows = outbound(mail_rt)
    assert {(r.status, r.attempts, r.next_attempt_at) for r in rows} == {
        ("queued", 1, rows[0].next_attempt_at)}
    assert all("451" in r.error for r in rows) and sink.messages == []


def test_replies_of_different_turns_are_different_mails(mail_rt, listener, sink):
    send(listener, fixture_bytes("plain"))
    mail_rt.queue.run_due()
    send(listener, fixture_bytes("html_only"))
    mail_rt.queue.run_due()
    assert len(sink.messages) == 2
    assert sink.messages[0]["Subject"] != sink.messages[1]["Subject"]


def test_a_bounce_of_a_turns_mail_fails_every_reply_it_carried_with_one_note(mail_rt, listener, sink):
    send(listener, fixture_bytes("plain"))
    mail_rt.queue.run_due()
    with mail_rt.sessions() as s, s.begin():
        complaint = s.scalars(select(Complaint)).one()
        queued = [casework.message_citizen(s, complaint, OFFICER, "A new motor was fitted this morning."),
                  casework.ask_for_information(s, complaint, OFFICER, "Is the water back?")]
        s.flush()
        ids = [m.id for m in queued]
    deliver_all(ids)
    ours = sink.messages[-1]
    bounce = fixture_bytes("bounce").replace(
        b"<5f2c9e0a1b3d4c6e8f7a9b0c.ikhtiyar@ikhtiyar.localhost>", ours["Message-ID"].encode())
    assert send(listener, bounce, sender="")[0] == 250
    mail_rt.queue.run_due()
    with mail_rt.sessions() as s:
        rows = outbound(mail_rt)
        assert [r.status for r in rows] == ["sent", "failed", "failed"]  # the first answer arrived
        notes = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "delivery_failed")).all()
        assert len(notes) == 1 and "could not be delivered" in notes[0].note
