"""Delivery status callbacks: forward only, errors kept, failures shown to the officer."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import ComplaintEvent, Message
from tests.channels.conftest import load_form, reconfigure
from tests.channels.test_outbound import file_and_resolve, greet, outbox

STATUS = "/webhooks/twilio/status"


def post_status(twilio, channel: str, name: str, sid: str, **changes):
    form = {**load_form(channel, name), "MessageSid": sid, "SmsSid": sid, **changes}
    return twilio.post(STATUS, form)


def test_statuses_only_move_forward_whatever_order_they_arrive_in(twilio, twilio_errors):
    rt = reconfigure(twilio.rt, twilio_api_url=twilio_errors.url)
    greet(rt)
    [reply] = outbox(rt)
    assert reply.status == "sent"
    for name, expected in (("status_delivered", "delivered"), ("status_sent", "delivered"),
                           ("status_read", "read"), ("status_delivered", "read")):
        assert post_status(twilio, "whatsapp", name, reply.provider_id).status_code == 204
        assert outbox(rt)[0].status == expected


def test_an_unsigned_status_callback_is_refused_and_changes_nothing(twilio, twilio_errors):
    rt = reconfigure(twilio.rt, twilio_api_url=twilio_errors.url)
    greet(rt)
    [reply] = outbox(rt)
    form = {**load_form("whatsapp", "status_read"), "MessageSid": reply.provider_id,
            "SmsSid": reply.provider_id}
    response = twilio.post(STATUS, form, signature="")
    assert response.status_code == 403
    assert outbox(rt)[0].status == "sent"


def test_a_status_without_message_sid_gets_400_and_changes_nothing(twilio, twilio_errors):
    rt = reconfigure(twilio.rt, twilio_api_url=twilio_errors.url)
    greet(rt)
    form = {k: v for k, v in load_form("whatsapp", "status_read").items() if k not in ("MessageSid", "SmsSid")}
    assert twilio.post(STATUS, form).status_code == 400
    assert outbox(rt)[0].status == "sent"


def test_an_undelivered_sms_keeps_twilios_error(twilio, twilio_errors):
    rt = reconfigure(twilio.rt, twilio_api_url=twilio_errors.url)
    greet(rt, "sms")
    [reply] = outbox(rt)
    post_status(twilio, "sms", "status_undelivered", reply.provider_id)
    row = outbox(rt)[0]
    assert row.status == "failed" and row.payload["error_code"] == 30003
    assert row.error == "Twilio 30003: Unreachable destination handset"


def test_a_satisfaction_request_refused_outside_the_window_is_shown_to_the_officer_and_sent_by_sms(twilio, twilio_errors):
    rt = reconfigure(twilio.rt, twilio_api_url=twilio_errors.url)
    request_id = file_and_resolve(rt)
    from gateway import jobs

    jobs.deliver(request_id)
    with rt.sessions() as s:
        sid = s.get(Message, request_id).provider_id
    twilio_errors.requests.clear()
    post_status(twilio, "whatsapp", "status_failed_63016", sid)
    rt.queue.run_due()  # the fallback's delivery
    with rt.sessions() as s:
        failed = s.get(Message, request_id)
        assert failed.status == "failed" and failed.error.startswith("Twilio 63016: Failed to send freeform")
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "delivery_failed")).one()
        assert "satisfaction request" in event.note and event.complaint_id == failed.complaint_id
        fallback = s.scalars(select(Message).where(Message.direction == "out", Message.channel == "sms")).one()
        assert fallback.payload["fallback_of"] == request_id and fallback.status == "sent"
        assert fallback.text == failed.text
    [sent] = twilio_errors.requests
    assert sent["To"] == "+923001234567" and sent["From"] == "+14155550123"
    # A second callback for the same failure queues nothing more.
    post_status(twilio, "whatsapp", "status_failed_63016", sid)
    with rt.sessions() as s:
        assert len(s.scalars(select(Message).where(Message.channel == "sms")).all()) == 1
