"""Twilio's webhooks for WhatsApp and SMS: inbound messages and delivery status callbacks.

Each route is three steps: the request validates itself (signature: 403, nothing stored;
then the form: 400), the message is persisted, and Twilio gets 200 with empty TwiML at
once. The conversation turn and the media download run as jobs.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from channels import sms, whatsapp
from channels.addresses import AddressError, phone_e164
from channels.twilio.client import OUTSIDE_WINDOW, PERMANENT_REASONS
from channels.twilio.inbound import opt_change
from channels.twilio.request import TwilioRequest, WebhookError
from channels.twilio.sender import template_for
from conversation.messages import InboundMessage
from gateway import jobs, media
from gateway import spool as spooling
from gateway.pipeline import receive
from gateway.runtime import Runtime
from storage.db import transaction
from storage.messages import advance_status, contact_for, note_undelivered, queue_outbound
from storage.models import Contact, Message, OutboxStatus

log = logging.getLogger("ikhtiyar.twilio")
bp = Blueprint("twilio_webhooks", __name__, url_prefix="/webhooks/twilio")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'

# Twilio's MessageStatus -> the outbox's status (None: nothing to record).
STATUSES = {"accepted": None, "scheduled": None, "queued": None, "sending": None,
            "sent": OutboxStatus.SENT, "delivered": OutboxStatus.DELIVERED,
            "read": OutboxStatus.READ, "undelivered": OutboxStatus.FAILED,
            "failed": OutboxStatus.FAILED, "canceled": OutboxStatus.FAILED}


@bp.errorhandler(WebhookError)
def _refused(exc: WebhookError):
    return Response(str(exc) + "\n", status=exc.status, mimetype="text/plain")


def _runtime() -> Runtime:
    return current_app.extensions["ikhtiyar"]


def _twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


@bp.post("/whatsapp")
def whatsapp_inbound():
    rt = _runtime()
    form = TwilioRequest.from_flask(request, rt.settings).validate()
    accept_inbound(rt, whatsapp.parse(form, request.headers.get("I-Twilio-Idempotency-Token")))
    return _twiml()


@bp.post("/sms")
def sms_inbound():
    rt = _runtime()
    form = TwilioRequest.from_flask(request, rt.settings).validate()
    accept_inbound(rt, sms.parse(form, request.headers.get("I-Twilio-Idempotency-Token")))
    return _twiml()


def accept_inbound(rt: Runtime, inbound: InboundMessage, spool: bool = True) -> tuple[int | None, bool]:
    """Persist the message and queue its turn (and its media download). A STOP or START
    is applied to the contact first, so the turn already sees it. When the database cannot
    be reached the message goes to the spool (on disk before Twilio hears 200) and
    (None, True) comes back; the spool's replayer stores it later."""
    try:
        return _accept_inbound(rt, inbound)
    except Exception as exc:
        if not (spool and spooling.database_down(exc)):
            raise
        spooling.append(rt.settings, spooling.inbound_record(inbound))  # SpoolError: 500, Twilio retries
        return None, True


def _accept_inbound(rt: Runtime, inbound: InboundMessage) -> tuple[int, bool]:
    change = opt_change(inbound.raw, inbound.text)
    if change:
        with transaction(rt.sessions) as session:
            contact = contact_for(session, inbound.channel, inbound.sender, simulated=inbound.simulated)
            contact.opted_out = change == "stop"
    message_id, new = receive(rt, inbound)
    if new and inbound.media and not inbound.simulated:
        try:
            rt.queue.enqueue(media.fetch_message_media, message_id)
        except Exception:  # the message is stored; its media can be fetched again later
            log.exception("could not queue the media download of message %s", message_id)
    return message_id, new


@bp.post("/status")
def delivery_status():
    rt = _runtime()
    form = TwilioRequest.from_flask(request, rt.settings).validate()
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise WebhookError(400, "MessageSid is missing")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if status not in STATUSES:
        raise WebhookError(400, "MessageStatus is missing or unknown")
    try:
        retry_ids = record_status(rt, sid, status, form)
    except Exception as exc:
        if not spooling.database_down(exc):
            raise
        spooling.append(rt.settings, {"kind": "status", "sid": sid, "status": status, "form": dict(form)})
        return Response("", status=204)
    for message_id in retry_ids:
        rt.queue.enqueue(jobs.deliver, message_id)
    return Response("", status=204)


def record_status(rt: Runtime, sid: str, status: str, form: dict) -> list[int]:
    """Move the outbox row forward (callbacks arrive out of order); returns the ids of
    fallback messages queued for a WhatsApp message refused outside the 24-hour window."""
    new = STATUSES[status]
    code = _error_code(form)
    with transaction(rt.sessions) as session:
        message = session.scalars(select(Message).where(
            Message.channel.in_(("whatsapp", "sms")), Message.direction == "out",
            Message.provider_id == sid)).first()
        if message is None:
            log.info("status %s for unknown message %s", status, sid)
            return []
        changed = advance_status(message, new) if new else False
        extra, to = dict(message.payload or {}), form.get("To") or ""
        if code is not None:
            extra["error_code"] = code
        if message.channel == "whatsapp" and to and not to.startswith("whatsapp:"):
            extra["sent_by"] = "sms"  # the sender's SMS fallback carried it
        if extra != message.payload:
            message.payload = extra
        if code is not None and new == OutboxStatus.FAILED:
            reason = (form.get("ErrorMessage") or PERMANENT_REASONS.get(code) or "").strip()
            message.error = f"Twilio {code}: {reason}" if reason else f"Twilio {code}"
        if not (changed and new == OutboxStatus.FAILED):
            return []
        note_undelivered(session, message)
        if code == OUTSIDE_WINDOW:
            fallback = _fallback(rt, session, message)
            if fallback is not None:
                session.flush()
                return [fallback.id]
    return []


def _error_code(form: dict) -> int | None:
    try:
        return int(form["ErrorCode"]) if form.get("ErrorCode") else None
    except ValueError:
        return None


def _fallback(rt: Runtime, session, message: Message) -> Message | None:
    """WhatsApp refused a free-form message outside the window: the template, else SMS."""
    extras = dict(message.payload or {})
    if extras.get("fallback_of"):
        return None  # one fallback per message
    contact = session.get(Contact, message.contact_id)
    base = {k: v for k, v in extras.items() if k in ("key",)} | {"fallback_of": message.id}
    template = template_for(rt.settings, message.kind or "reply", message.language)
    if template and not extras.get("use_template"):
        return queue_outbound(session, contact, message.text, kind=message.kind or "reply",
                              conversation_id=message.conversation_id, complaint_id=message.complaint_id,
                              language=message.language, extras=base | {"use_template": True})
    if not (rt.settings.twilio_sms_from or rt.settings.twilio_messaging_service_sid):
        return None
    try:
        number = phone_e164(contact.address)
    except AddressError:
        return None
    sms_contact = contact_for(session, "sms", number, simulated=contact.simulated)
    if sms_contact.opted_out:
        return None
    return queue_outbound(session, sms_contact, message.text, kind=message.kind or "reply",
                          complaint_id=message.complaint_id, language=message.language,
                          extras=base, channel="sms")
