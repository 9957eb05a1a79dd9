"""SMS webhooks: real-format fixtures, signed; opt-out; short texts."""

from __future__ import annotations

from sqlalchemy import select

from channels.twilio import segments
from conversation import catalog
from storage.models import Contact, Message
from tests.channels.conftest import load_form
from tests.channels.test_whatsapp import inbound, replies

PATH = "/webhooks/twilio/sms"


def send(twilio, name: str, **changes):
    response = twilio.post(PATH, {**load_form("sms", name), **changes})
    assert response.status_code == 200, response.get_data(as_text=True)
    twilio.rt.queue.run_due()
    return response


def opted_out(rt) -> bool:
    with rt.sessions() as s:
        return s.scalars(select(Contact.opted_out).where(Contact.channel == "sms")).one()


def test_a_text_is_answered_with_the_short_sms_variant(twilio):
    send(twilio, "inbound_text")
    [message] = inbound(twilio.rt)
    assert message.channel == "sms" and message.text == "Hi"
    assert replies(twilio.rt) == [catalog.text("welcome", "en", short=True)]
    assert segments.count(replies(twilio.rt)[0]) == 1


def test_stop_then_a_message_gets_no_reply(twilio):
    send(twilio, "stop")
    assert opted_out(twilio.rt)
    send(twilio, "inbound_text")
    assert replies(twilio.rt) == []
    assert [m.text for m in inbound(twilio.rt)] == ["STOP", "Hi"]  # kept, just not answered


def test_start_opts_back_in_and_is_welcomed(twilio):
    send(twilio, "stop")
    send(twilio, "start")
    assert not opted_out(twilio.rt)
    assert replies(twilio.rt) == [catalog.text("welcome", "en", short=True)]


def test_help_is_answered_with_help(twilio):
    send(twilio, "help")
    assert replies(twilio.rt) == [catalog.text("help", "en", short=True)]


def test_an_opted_out_citizen_gets_no_officer_message_either(twilio):
    send(twilio, "inbound_text")
    send(twilio, "stop")
    from storage.db import transaction
    from storage.messages import queue_outbound

    with transaction(twilio.rt.sessions) as s:
        contact = s.scalars(select(Contact)).one()
        message = queue_outbound(s, contact, "An update", kind="status_update")
        s.flush()
        message_id = message.id
    from gateway import jobs

    jobs.deliver(message_id)
    with twilio.rt.sessions() as s:
        assert s.get(Message, message_id).status == "failed"


def test_mms_media_is_recorded_for_download(twilio):
    send(twilio, "mms_media")
    [message] = inbound(twilio.rt)
    assert message.text == "Photo of the garbage"
    assert message.payload["media"][0]["content_type"] == "image/png"


def test_a_number_that_is_not_a_phone_number_gets_400(twilio):
    response = twilio.post(PATH, {**load_form("sms", "inbound_text"), "From": "not-a-number"})
    assert response.status_code == 400 and inbound(twilio.rt) == []
