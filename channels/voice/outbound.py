"""The outbox's sender for the voice channel: a phone complainant is asked "are you
satisfied?" by a call the gateway places (Twilio's Calls API, through the twilio library).

Twilio fetches the call's TwiML from ``/webhooks/twilio/voice/outbound?key=K`` once the
complainant answers, and reports how the call ended to ``.../outbound/status?key=K``; K is
the outbox row's idempotency key, so both webhooks find the row, and the row's provider id
(the CallSid this sender returns) must match the call's. A call nobody answers comes back
as no-answer/busy/failed, and the same question goes out by SMS (the registry's fallback).
"""

from __future__ import annotations

from urllib.parse import urlencode

from channels.addresses import AddressError, phone_e164
from channels.delivery import Delivered, Outgoing, PermanentError, Rerouted
from channels.twilio.client import classify, client_for

OUTBOUND_PATH = "/webhooks/twilio/voice/outbound"
STATUS_PATH = "/webhooks/twilio/voice/outbound/status"
RING_SECONDS = 40  # how long the phone rings before Twilio reports no-answer
# Twilio's final statuses of a call that nobody took: the question goes by SMS instead.
NOT_ANSWERED = ("no-answer", "busy", "failed", "canceled")
# What a call asks; anything else for a phone complainant (a status update, an officer's
# message, a question) is text, and goes by the registry's fallback: SMS.
CALL_KINDS = ("satisfaction_request", "satisfaction_reminder")


def urls(public_url: str, key: str) -> tuple[str, str]:
    """The call's TwiML URL and its status callback, naming the outbox row by its key."""
    query = urlencode({"key": key})
    base = public_url.rstrip("/")
    return f"{base}{OUTBOUND_PATH}?{query}", f"{base}{STATUS_PATH}?{query}"


class VoiceCallSender:
    """Places one call per outbox row; returns the CallSid as the row's provider id."""

    def __init__(self, settings, client=None) -> None:
        self.settings = settings
        self.client = client or client_for(settings)

    @property
    def caller_id(self) -> str | None:
        return self.settings.twilio_voice_from or self.settings.twilio_sms_from

    def __call__(self, outgoing: Outgoing) -> Delivered:
        key = outgoing.extras.get("idempotency_key")
        if outgoing.kind not in CALL_KINDS:
            raise Rerouted(f"the phone line calls only to ask about satisfaction, not for a {outgoing.kind}")
        if not self.settings.public_url:
            raise PermanentError("placing a call needs IKHTIYAR_PUBLIC_URL (Twilio fetches the call's TwiML there)")
        if not self.caller_id:
            raise PermanentError("placing a call needs IKHTIYAR_TWILIO_VOICE_FROM (or an SMS number)")
        if not key:
            raise PermanentError("an outbox row without an idempotency key cannot be matched to its call")
        try:
            to = phone_e164(outgoing.to)
        except AddressError as exc:
            raise PermanentError(f"not a phone number: {exc}") from None
        url, status = urls(self.settings.public_url, key)
        try:
            call = self.client.calls.create(
                to=to, from_=self.caller_id, url=url, method="POST", status_callback=status,
                status_callback_method="POST", timeout=RING_SECONDS)  # no event named: "completed" only
        except Exception as exc:
            raise classify(exc) from exc
        return Delivered(provider_id=call.sid, status="sent")
