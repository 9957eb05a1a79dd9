"""The channel registry: every channel a contact can be on has an outbound path in a
production set-up (its own provider, or a fallback channel that has one); the log sender is
never one. A channel without its provider, or a message it cannot deliver, goes out on the
fallback channel."""

from __future__ import annotations

from sqlalchemy import select

from channels import log_sender, registry
from channels.letters import post
from conversation import letters
from conversation.action_server import CHANNELS as RASA_CHANNELS
from gateway import jobs
from storage import lifecycle
from storage.db import transaction
from storage.messages import PHONE_CHANNELS, contact_for, queue_outbound
from storage.models import Message
from tests.channels.conftest import reconfigure

# Every channel a contact is created on somewhere in the gateway.
CONTACT_CHANNELS = {*PHONE_CHANNELS, *lifecycle.ANSWERING_CHANNELS, *lifecycle.DIGITAL_CHANNELS,
                    *RASA_CHANNELS, letters.CHANNEL, "open311"}


def production(rt):
    """Every provider configured, as a deployment has them."""
    return rt.settings.model_copy(update={
        "twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "0" * 32,
        "twilio_sms_from": "+14155550123", "twilio_whatsapp_from": "+14155238886",
        "public_url": "https://complaints.example.gov.pk", "smtp_url": "smtp://relay.example.gov.pk:25"})


def test_every_channel_a_contact_can_be_on_is_registered():
    assert CONTACT_CHANNELS <= set(registry.BY_CODE), CONTACT_CHANNELS - set(registry.BY_CODE)
    assert len(registry.BY_CODE) == len(registry.CHANNELS)
    for channel in registry.CHANNELS:
        assert channel.capabilities, channel.code
        assert channel.fallback is None or channel.fallback in registry.BY_CODE


def test_no_channel_is_without_an_outbound_path_in_production(rt):
    settings = production(rt)
    for channel in registry.CHANNELS:
        sender = registry.sender_for(channel.code, settings)
        assert sender is not log_sender.send, f"{channel.code} would only be written to the log"
        real = registry.real_sender(channel.code, settings)
        fallback = registry.fallback_for(channel.code, settings)
        # Its own provider, or a fallback whose provider is there: never neither.
        assert real is not None or fallback is not None, f"{channel.code} has no outbound path"
        if real is None:
            assert isinstance(sender, registry.NoProvider)
            assert registry.real_sender(fallback, settings) is not None
    assert isinstance(registry.sender_for("letter", settings), post.PostSender)


def test_without_any_provider_only_the_development_log_sender_is_left(rt):
    bare = rt.settings.model_copy(update={"twilio_account_sid": None, "twilio_auth_token": None,
                                          "smtp_url": None})
    assert registry.sender_for("voice", bare) is log_sender.send  # no SMS either: nothing to fall to
    assert registry.fallback_for("voice", bare) is None


def _outbox(rt, channel: str) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).where(Message.direction == "out", Message.channel == channel)))


def test_a_channel_without_its_provider_hands_the_message_to_its_fallback(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    with transaction(rt.sessions) as s:
        contact = contact_for(s, "web", "+923001234567")  # a Rasa web chat's sender id
        row = queue_outbound(s, contact, "Your complaint is being worked on.", kind="status_update")
        s.flush()
        row_id = row.id
    jobs.deliver(row_id)
    rt.queue.run_due()
    [web] = _outbox(rt, "web")
    assert web.id == row_id and web.status == "failed" and "no configured provider" in web.error
    [sms] = _outbox(rt, "sms")
    assert sms.status == "sent" and sms.payload["fallback_of"] == row_id
    assert twilio_errors.requests[-1]["To"] == "+923001234567"


def test_a_call_that_cannot_be_placed_goes_by_sms(trt, twilio_errors):
    """Twilio is configured but the gateway has no public URL for the call's TwiML: the
    voice channel fails permanently, and its fallback (SMS) carries the message."""
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url, public_url=None, twilio_hosts="localhost")
    with transaction(rt.sessions) as s:
        contact = contact_for(s, "voice", "+923001234567")
        row = queue_outbound(s, contact, "Are you satisfied?", kind="satisfaction_request")
        s.flush()
        row_id = row.id
    jobs.deliver(row_id)
    rt.queue.run_due()
    [voice] = _outbox(rt, "voice")
    assert voice.status == "failed" and "IKHTIYAR_PUBLIC_URL" in voice.error
    [sms] = _outbox(rt, "sms")
    assert sms.status == "sent" and sms.text == "Are you satisfied?"
    assert not [r for r in twilio_errors.requests if "Url" in r]  # no call was placed


def test_a_phone_complainants_status_update_goes_by_sms_not_a_call(trt, twilio_errors):
    rt = reconfigure(trt, twilio_api_url=twilio_errors.url)
    with transaction(rt.sessions) as s:
        contact = contact_for(s, "voice", "+923001234567")
        row = queue_outbound(s, contact, "Your complaint is being worked on.", kind="status_update")
        s.flush()
        row_id = row.id
    jobs.deliver(row_id)
    rt.queue.run_due()
    [voice] = _outbox(rt, "voice")
    assert voice.status == "failed" and "only to ask about satisfaction" in voice.error
    [sms] = _outbox(rt, "sms")
    assert sms.status == "sent" and twilio_errors.requests[-1]["Body"].endswith("worked on.")
    assert not [r for r in twilio_errors.requests if "Url" in r]
