"""The outbox: every outbound message is a row, delivered by a job with retries and
backoff; statuses only move forward."""

from __future__ import annotations

from sqlalchemy import select

from channels import registry
from channels.delivery import Delivered, PermanentError, TransientError
from gateway import jobs
from storage.messages import advance_status, contact_for, queue_outbound
from storage.models import Message


def _queue(rt, channel="sms", address="+923001234567") -> int:
    with rt.sessions() as s, s.begin():
        contact = contact_for(s, channel, address)
        message = queue_outbound(s, contact, "Your complaint is registered")
        s.flush()
        return message.id


def _get(rt, message_id) -> Message:
    with rt.sessions() as s:
        return s.get(Message, message_id)


def test_without_credentials_the_log_sender_delivers(rt):
    message_id = _queue(rt)
    assert jobs.deliver(message_id) == "delivered"
    sent = _get(rt, message_id)
    assert sent.provider_id.startswith("log-") and sent.attempts == 1


def test_a_transient_failure_is_retried_with_growing_delays(rt, monkeypatch):
    calls = []

    def flaky(outgoing):
        calls.append(outgoing)
        if len(calls) < 3:
            raise TransientError("20429 Too Many Requests")
        return Delivered("SM123", "sent")

    monkeypatch.setattr(registry, "sender_for", lambda channel, settings: flaky)
    message_id = _queue(rt)
    assert jobs.deliver(message_id) == "queued"
    first = _get(rt, message_id)
    assert first.attempts == 1 and first.error == "20429 Too Many Requests"
    delay1 = (first.next_attempt_at - first.updated_at).total_seconds()
    assert jobs.deliver(message_id) == "queued"
    second = _get(rt, message_id)
    delay2 = (second.next_attempt_at - second.updated_at).total_seconds()
    assert delay2 > delay1 > 0
    assert jobs.deliver(message_id) == "sent"
    assert _get(rt, message_id).provider_id == "SM123"


def test_a_permanent_failure_fails_at_once_with_the_reason(rt, monkeypatch):
    def refuse(outgoing):
        raise PermanentError("21211 invalid 'To' phone number")

    monkeypatch.setattr(registry, "sender_for", lambda channel, settings: refuse)
    message_id = _queue(rt)
    assert jobs.deliver(message_id) == "failed"
    assert _get(rt, message_id).error == "21211 invalid 'To' phone number"


def test_it_gives_up_after_the_maximum_attempts(rt, monkeypatch):
    def down(outgoing):
        raise TransientError("503 from provider")

    monkeypatch.setattr(registry, "sender_for", lambda channel, settings: down)
    message_id = _queue(rt)
    for _ in range(rt.settings.outbox_max_attempts):
        jobs.deliver(message_id)
    failed = _get(rt, message_id)
    assert failed.status == "failed" and failed.attempts == rt.settings.outbox_max_attempts


def test_statuses_only_move_forward():
    message = Message(direction="out", status="queued")
    assert advance_status(message, "delivered")
    assert not advance_status(message, "sent")  # a late "sent" callback after "delivered"
    assert message.status == "delivered"
    assert advance_status(message, "read")


def test_the_sweeper_requeues_stored_messages_a_lost_job_left_behind(rt):
    from datetime import timedelta

    from conversation.inbox import accept
    from conversation.messages import InboundMessage
    from storage.db import transaction
    from storage.models import utcnow

    with transaction(rt.sessions) as s:  # stored, but its job never queued (Redis was down)
        message_id, _ = accept(s, InboundMessage("sms", "SMlost", "+923001234567", "hi"))
        s.get(Message, message_id).created_at = utcnow() - timedelta(minutes=5)
    assert jobs.sweep() == 1
    rt.queue.run_due()
    assert _get(rt, message_id).status == "processed"
    with rt.sessions() as s:
        assert s.scalars(select(Message).where(Message.direction == "out")).first() is not None


def test_a_satisfaction_request_that_cannot_be_sent_shows_on_the_case(rt, monkeypatch):
    from sqlalchemy import select as select_

    from conversation import casework
    from storage import lifecycle
    from storage.db import transaction
    from storage.models import Complaint, ComplaintEvent
    from tests.citizen import Citizen

    c = Citizen(rt, channel="sms")
    c.file("The tube well in our village in Lower Chitral has been dry for a month", place="Drosh")

    def refuse(outgoing):
        raise PermanentError("21610 the number has opted out")

    monkeypatch.setattr(registry, "sender_for", lambda channel, settings: refuse)
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select_(Complaint)).one()
        request = casework.resolve(s, complaint, lifecycle.Actor("officer"), "New pump installed")
        s.flush()
        request_id = request.id
    assert jobs.deliver(request_id) == "failed"
    with rt.sessions() as s:
        event = s.scalars(select_(ComplaintEvent).where(ComplaintEvent.kind == "delivery_failed")).one()
        assert "satisfaction request did not reach the citizen by sms" in event.note
        assert "21610" in event.note and event.message_id == request_id
