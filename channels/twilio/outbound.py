"""What WhatsApp and SMS share when building ``client.messages.create`` arguments."""

from __future__ import annotations

from channels.delivery import Outgoing

MAX_BODY = 1600  # Twilio refuses longer bodies (error 21617)
STATUS_PATH = "/webhooks/twilio/status"


def status_callback(outgoing: Outgoing, settings) -> str | None:
    """The absolute URL Twilio reports delivery to; Twilio needs the public address."""
    if outgoing.status_callback:
        return outgoing.status_callback
    if settings.public_url:
        return settings.public_url.rstrip("/") + STATUS_PATH
    return None


def body(text: str) -> str:
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 1] + "…"


def with_callback(kwargs: dict, outgoing: Outgoing, settings) -> dict:
    callback = status_callback(outgoing, settings)
    if callback:
        kwargs["status_callback"] = callback
    return kwargs
