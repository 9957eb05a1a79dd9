"""SMS (and MMS) through Twilio: the inbound form -> InboundMessage; Outgoing -> create kwargs.

Inbound fields beyond the common ones: ``From``/``To`` as E.164 numbers, ``NumSegments``,
``FromCountry``/``FromCity``..., ``OptOutType`` (STOP, START, HELP) when Twilio's opt-out
handling acted on the message, and MMS media like WhatsApp's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from channels.addresses import AddressError, phone_e164
from channels.delivery import Outgoing
from channels.twilio import inbound as common
from channels.twilio import outbound, segments
from channels.twilio.request import WebhookError
from conversation.messages import InboundMessage

log = logging.getLogger("ikhtiyar.sms")
TARGET_SEGMENTS = 2


def sender_address(form: Mapping[str, str]) -> str:
    raw = (form.get("From") or "").strip()
    if not raw:
        raise WebhookError(400, "From is missing")
    try:
        return phone_e164(raw, region="PK")
    except AddressError as exc:
        raise WebhookError(400, f"From: {exc}") from None


def parse(form: Mapping[str, str], idempotency_token: str | None = None) -> InboundMessage:
    """The InboundMessage for one SMS Twilio posted (400 if malformed)."""
    sid = common.message_sid(form)
    return InboundMessage(channel="sms", provider_id=sid, sender=sender_address(form),
                          text=common.clean_text(form.get("Body") or ""), media=common.media(form),
                          raw=common.raw_payload(form, idempotency_token))


def create_kwargs(outgoing: Outgoing, settings) -> dict:
    """``client.messages.create`` arguments for one SMS.

    Texts come from the catalog's short ``sms:`` variants, which keep to two segments;
    a longer one is still sent whole (Twilio joins up to 1,600 characters) and logged.
    """
    text = outbound.body(outgoing.text)
    parts = segments.count(text)
    if parts > TARGET_SEGMENTS:
        log.info("SMS %s (%s) takes %d segments (%s)", outgoing.key or outgoing.kind,
                 outgoing.language, parts, segments.encoding(text))
    kwargs: dict = {"to": outgoing.to, "body": text}
    if settings.twilio_messaging_service_sid:
        kwargs["messaging_service_sid"] = settings.twilio_messaging_service_sid
    if settings.twilio_sms_from:
        kwargs["from_"] = settings.twilio_sms_from
    return outbound.with_callback(kwargs, outgoing, settings)
