"""WhatsApp through Twilio: the inbound form -> InboundMessage; Outgoing -> create kwargs.

Inbound fields beyond the common ones: ``From``/``To`` as ``whatsapp:+92...``, ``WaId``,
``ProfileName``, ``MessageType`` (text, image, audio, document, location, button,
interactive ...), ``Latitude``/``Longitude``/``Address``/``Label`` for a location pin,
``ButtonText``/``ButtonPayload`` for a quick-reply tap, ``OriginalRepliedMessageSid``,
and ``ExternalUserId`` (a business-scoped id for a user who does not share a number).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from channels.addresses import AddressError, phone_e164
from channels.delivery import Outgoing
from channels.twilio import inbound as common
from channels.twilio import outbound
from channels.twilio.request import WebhookError
from conversation.messages import InboundMessage

PREFIX = "whatsapp:"
# Quick-reply ids our templates use; a tap sends the id, whatever the button's language.
BUTTON_IDS = frozenset({"yes", "no", "1", "2", "3"})
_USER_ID = re.compile(r"^[A-Za-z0-9._:-]{3,80}$")
MAX_TEMPLATE_VARIABLE = 900


def sender_address(form: Mapping[str, str]) -> str:
    """``+923001234567`` from ``whatsapp:+923001234567``; a business-scoped user id when
    the citizen does not share a number (``From`` is then that id, or ExternalUserId)."""
    raw = (form.get("From") or "").strip()
    if not raw:
        raise WebhookError(400, "From is missing")
    value = raw.removeprefix(PREFIX)
    try:
        return phone_e164(value, region="PK")
    except AddressError:
        pass
    user_id = (form.get("ExternalUserId") or value).strip()
    if not _USER_ID.match(user_id):
        raise WebhookError(400, "From is neither a phone number nor a WhatsApp user id")
    return user_id


def _location(form: Mapping[str, str]) -> tuple[float, float] | None:
    try:
        lat, lon = float(form["Latitude"]), float(form["Longitude"])
    except (KeyError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return (lat, lon)


def _text(form: Mapping[str, str]) -> str:
    payload = (form.get("ButtonPayload") or "").strip()
    if payload.lower() in BUTTON_IDS:
        return payload.lower()
    return common.clean_text(form.get("Body") or form.get("ButtonText") or "")


def parse(form: Mapping[str, str], idempotency_token: str | None = None) -> InboundMessage:
    """The InboundMessage for one WhatsApp message Twilio posted (400 if malformed)."""
    sid = common.message_sid(form)
    profile = common.clean_text(form.get("ProfileName") or "").strip()[:80] or None
    return InboundMessage(channel="whatsapp", provider_id=sid, sender=sender_address(form),
                          text=_text(form), media=common.media(form), location=_location(form),
                          profile_name=profile,
                          raw=common.raw_payload(form, idempotency_token))


def to_address(address: str) -> str:
    return address if address.startswith(PREFIX) else PREFIX + address


def _from(settings, kwargs: dict) -> dict:
    if settings.twilio_whatsapp_from:
        kwargs["from_"] = to_address(settings.twilio_whatsapp_from)
    if settings.twilio_messaging_service_sid:
        kwargs["messaging_service_sid"] = settings.twilio_messaging_service_sid
    return kwargs


def template_variables(text: str) -> str:
    """ContentVariables for our templates: {{1}} is the message in one line (WhatsApp
    refuses line breaks and long runs of spaces inside a template variable)."""
    flat = " ".join(text.split())
    if len(flat) > MAX_TEMPLATE_VARIABLE:
        flat = flat[: MAX_TEMPLATE_VARIABLE - 1] + "…"
    return json.dumps({"1": flat}, ensure_ascii=False)


def create_kwargs(outgoing: Outgoing, settings, *, content_sid: str | None = None) -> dict:
    """``client.messages.create`` arguments: free-form text, or an approved template
    (``content_sid``) when the citizen's 24-hour window is closed."""
    kwargs = _from(settings, {"to": to_address(outgoing.to)})
    if content_sid:
        kwargs["content_sid"] = content_sid
        kwargs["content_variables"] = template_variables(outgoing.text)
    else:
        kwargs["body"] = outbound.body(outgoing.text)
        if outgoing.extras.get("media_urls"):  # an officer's files: Twilio fetches them
            kwargs["media_url"] = list(outgoing.extras["media_urls"])[:10]
    return outbound.with_callback(kwargs, outgoing, settings)
