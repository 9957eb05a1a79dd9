"""A citizen filing by mail can ask for confidentiality (issue 10, "What to build" 4): the
acknowledgement offers it, and "confidential" (or خفیہ, پټ, khufia) in a reply from the
complainant's own, authenticated address hides their identity from the department the
complaint is about. A forged From: changes nothing and gets no answer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage import tracking
from storage.models import Complaint, ComplaintEvent, Message
from tests.mail.conftest import fixture_bytes
from tests.mail.test_auth import VICTIM, answer
from tests.mail.test_smtp import send
from tests.staff import case_page_of_the_accused


@pytest.fixture
def acknowledged(mail_rt, listener, sink):
    """The victim's mail complaint and our acknowledgement of it."""
    assert send(listener, fixture_bytes("plain"))[0] == 250
    mail_rt.queue.run_due()
    [ack] = sink.messages
    sink.clear()
    return ack


def the_complaint(rt) -> Complaint:
    with rt.sessions() as s:
        return s.scalars(select(Complaint)).one()


def marks(rt) -> list[ComplaintEvent]:
    with rt.sessions() as s:
        return list(s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "marked_confidential")))


def test_the_acknowledgement_offers_confidentiality(acknowledged):
    text = acknowledged.get_body(("plain",)).get_content()
    assert "against an officer or against this department" in text and "CONFIDENTIAL" in text


@pytest.mark.parametrize("word", ["Confidential", "خفیہ", "پټ", "khufia rakhein"])
def test_an_authenticated_reply_makes_the_complaint_confidential(mail_rt, listener, sink, acknowledged,
                                                                 dkim_key, dns, word):
    number = the_complaint(mail_rt).tracking_number
    before = case_page_of_the_accused(mail_rt, number)
    assert 'id="identity-hidden"' not in before
    assert send(listener, dkim_key.sign(answer(acknowledged, word)))[0] == 250
    mail_rt.queue.run_due()
    complaint = the_complaint(mail_rt)
    assert complaint.confidential and complaint.state == "submitted"
    [event] = marks(mail_rt)
    assert event.actor_kind == "citizen" and event.channel == "email"
    [confirmation] = sink.messages
    told = confirmation.get_body(("plain",)).get_content()
    assert confirmation["To"] == VICTIM and tracking.display(number) in told
    assert "is now confidential" in told or "خفیہ" in told or "پټ" in told or "khufia" in told
    page = case_page_of_the_accused(mail_rt, number)
    assert 'id="identity-hidden"' in page
    for personal in ("Asad Khan", "asad.khan", "Asad"):
        assert personal not in page


def test_a_forged_sender_cannot_make_it_confidential(mail_rt, listener, sink, acknowledged):
    with mail_rt.sessions() as s:
        events_before = len(s.scalars(select(ComplaintEvent)).all())
    forged = answer(acknowledged, "confidential")  # From: the victim, sent by someone else, unsigned
    assert send(listener, forged, sender="attacker@evil.test")[0] == 250
    mail_rt.queue.run_due()
    complaint = the_complaint(mail_rt)
    assert complaint.confidential is False and marks(mail_rt) == []
    assert sink.messages == []  # no mail to the victim on a forger's say
    with mail_rt.sessions() as s:
        assert len(s.scalars(select(ComplaintEvent)).all()) == events_before
        last = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id.desc())).first()
        assert last.text.strip() == "confidential" and last.complaint_id is None  # stored, not on the case
    assert 'id="identity-hidden"' not in case_page_of_the_accused(mail_rt, complaint.tracking_number)
