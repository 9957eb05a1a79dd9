"""Outbound WhatsApp and SMS: every request checked against Twilio's published API (Prism),
and Twilio's refusals (a local server answering with Twilio's error JSON)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, update

from conversation import casework
from gateway import jobs
from storage import lifecycle
from storage.db import transaction
from storage.models import Complaint, Conversation, Message, utcnow
from tests.channels.conftest import SMS_FROM, WHATSAPP_FROM, Twilio, load_form, reconfigure

TEMPLATE = "HX" + "0123456789abcdef" * 2


def outbox(rt) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)))


def greet(rt, channel: str = "whatsapp", body: str = "hi", sid: str = "SM" + "a" * 32) -> None:
    """The citizen writes; the turn runs and its reply is delivered."""
    form = {**load_form(channel, "inbound_text"), "Body": body, "MessageSid": sid, "SmsMessageSid": sid}
    assert Twilio(rt).post(f"/webhooks/twilio/{channel}", form).status_code == 200
    rt.queue.run_due()


def file_and_resolve(rt, channel: str = "whatsapp") -> int:
    """A complaint filed by this citizen, resolved by an officer; returns the outbox id of
    the satisfaction request (not yet delivered)."""
    for i, text in enumerate(("The street light near the mosque is broken since a week",
                              "Peshawar", "Street 4, University Town near the bank", "yes", "skip", "yes")):
        greet(rt, channel, text, sid=f"SM{i + 1:032x}")
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        message = casework.resolve(s, complaint, lifecycle.Actor("officer", None, "web"), "Light fixed")
        s.flush()
        return message.id


def test_a_whatsapp_reply_passes_twilios_schema_and_records_the_sid(trt, prism_url):
    rt = reconfigure(trt, twilio_api_url=prism_url)
    greet(rt)
    [reply] = outbox(rt)
    assert reply.status == "sent", reply.error
    assert reply.provider_id.startswith(("SM", "MM")) and reply.attempts == 1


def test_an_sms_reply_passes_twilios_schema(trt, prism_url):
    rt = reconfigure(trt, twilio_api_url=prism_url)
    greet(rt, "sms")
    [reply] = outbox(rt)
    assert reply.status == "sent", reply.error


def test_a_template_outside_the_window_passes_twilios_schema(trt, prism_url):
    rt = reconfigure(trt, twilio_api_url=prism_url, twilio_templates={"satisfaction_request": TEMPLATE})
    request_id = file_and_resolve(rt)
    with transaction(rt.sessions) as s:
        s.execute(update(Message).where(Message.direction == "in")
                  .values(received_at=utcnow() - timedelta(hours=30)))
    jobs.deliver(request_id)
    with rt.sessions() as s:
        assert s.get(Message, request_id).status == "sent"


def test_inside_the_window_the_message_is_free_form_with_a_status_callback(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url, twilio_templates={"satisfaction_request": TEMPLATE})
    request_id = file_and_resolve(rt)
    twilio_errors.requests.clear()
    jobs.deliver(request_id)
    [sent] = twilio_errors.requests
    assert sent["To"] == "whatsapp:+923001234567" and sent["From"] == f"whatsapp:{WHATSAPP_FROM}"
    assert "Light fixed" in sent["Body"] and "ContentSid" not in sent
    # The callback names the row's idempotency key: a status that arrives before the row
    # recorded Twilio's sid (a worker killed in between) still finds its message.
    callback = urlsplit(sent["StatusCallback"])
    assert callback._replace(query="").geturl() == "https://complaints.example.gov.pk/webhooks/twilio/status"
    with rt.sessions() as s:
        key = s.get(Message, request_id).idempotency_key
    assert key and parse_qs(callback.query) == {"key": [key]}


def test_outside_the_window_the_kinds_template_is_sent_with_the_text_as_variable(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url,
                     twilio_templates={"satisfaction_request.en": TEMPLATE})
    request_id = file_and_resolve(rt)
    with transaction(rt.sessions) as s:
        s.execute(update(Message).where(Message.direction == "in")
                  .values(received_at=utcnow() - timedelta(hours=25)))
        s.execute(update(Conversation).values(last_inbound_at=utcnow() - timedelta(hours=25)))
    twilio_errors.requests.clear()
    jobs.deliver(request_id)
    [sent] = twilio_errors.requests
    assert sent["ContentSid"] == TEMPLATE and "Body" not in sent
    variable = json.loads(sent["ContentVariables"])["1"]
    assert "Light fixed" in variable and "\n" not in variable


def test_throttling_and_server_errors_are_retried_with_growing_delays(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    twilio_errors.plan = [20429, 20429, 20500]
    greet(rt)
    [reply] = outbox(rt)
    delays = []
    for _ in range(3):
        with rt.sessions() as s:
            row = s.get(Message, reply.id)
            assert row.status == "queued"
            delays.append(row.next_attempt_at - row.updated_at)
        if len(delays) < 3:
            jobs.deliver(reply.id)
    assert delays[0] < delays[1] < delays[2]
    assert "throttled" in outbox(rt)[0].error or "500" in outbox(rt)[0].error
    jobs.deliver(reply.id)  # Twilio takes it now
    row = outbox(rt)[0]
    assert row.status == "sent" and row.attempts == 4


def test_a_network_error_is_retried(trt):
    greet(trt)  # the API URL is a closed port
    [reply] = outbox(trt)
    assert reply.status == "queued" and "network error" in reply.error


def test_an_invalid_number_fails_at_once_with_the_reason(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    twilio_errors.plan = [21211]
    greet(rt)
    [reply] = outbox(rt)
    assert reply.status == "failed" and reply.attempts == 1
    assert reply.error == "Twilio 21211: invalid 'To' phone number"


def test_an_opted_out_number_fails_at_once(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    twilio_errors.plan = [21610]
    greet(rt, "sms")
    [reply] = outbox(rt)
    assert reply.status == "failed" and "opted out" in reply.error


def test_63016_falls_back_to_the_template(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url, twilio_templates={"satisfaction_request": TEMPLATE})
    request_id = file_and_resolve(rt)
    twilio_errors.requests.clear()
    twilio_errors.plan = [63016, "ok"]
    jobs.deliver(request_id)
    first, second = twilio_errors.requests
    assert "Body" in first and second["ContentSid"] == TEMPLATE
    with rt.sessions() as s:
        assert s.get(Message, request_id).status == "sent"


def test_63016_without_a_template_falls_back_to_sms(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    request_id = file_and_resolve(rt)
    twilio_errors.requests.clear()
    twilio_errors.plan = [63016, "ok"]
    jobs.deliver(request_id)
    first, second = twilio_errors.requests
    assert first["To"] == "whatsapp:+923001234567"
    assert second["To"] == "+923001234567" and second["From"] == SMS_FROM
    with rt.sessions() as s:
        assert s.get(Message, request_id).status == "sent"


def test_63016_without_template_or_sms_sender_fails_with_the_reason(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url, twilio_sms_from=None)
    request_id = file_and_resolve(rt)
    twilio_errors.plan = [63016]
    jobs.deliver(request_id)
    with rt.sessions() as s:
        row = s.get(Message, request_id)
        assert row.status == "failed" and row.error.startswith("Twilio 63016")
