"""The outbox's sender for WhatsApp and SMS: ``client.messages.create`` with a status
callback, WhatsApp's 24-hour window and templates, and Twilio's errors turned into the
outbox's retry decision.

WhatsApp, in order: free-form text inside the window; outside it the approved template
for the message's kind (``IKHTIYAR_TWILIO_TEMPLATES``); when WhatsApp still refuses with
63016 (outside the window), the template, then an SMS to the same number if an SMS sender
is configured; else the message fails with the reason.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlencode

from channels.addresses import AddressError, phone_e164
from channels.delivery import Delivered, Outgoing
from channels.sms import adapter as sms
from channels.twilio import window
from channels.twilio.client import OUTSIDE_WINDOW, TwilioPermanentError, classify, client_for
from channels.whatsapp import adapter as whatsapp

log = logging.getLogger("ikhtiyar.twilio")


def template_for(settings, kind: str, language: str | None) -> str | None:
    """The Content SID for this kind of message, in the citizen's language if one is set."""
    templates = settings.twilio_templates or {}
    return templates.get(f"{kind}.{language}") or templates.get(kind)


class TwilioSender:
    """Sends one outbox message on ``channel`` (whatsapp or sms)."""

    def __init__(self, channel: str, settings, client=None) -> None:
        self.channel = channel
        self.settings = settings
        self.client = client or client_for(settings)

    def __call__(self, outgoing: Outgoing) -> Delivered:
        if self.channel == "sms":
            return self._create(sms.create_kwargs(outgoing, self.settings), outgoing)
        return self._whatsapp(outgoing)

    def _whatsapp(self, outgoing: Outgoing) -> Delivered:
        template = template_for(self.settings, outgoing.kind, outgoing.language)
        use_template = bool(outgoing.extras.get("use_template"))
        if template and not use_template:
            # Only worth a look when there is a template to choose instead.
            use_template = not window.is_open(outgoing.last_inbound_at)
        if use_template and not template:
            return self._sms_fallback(outgoing, TwilioPermanentError(OUTSIDE_WINDOW, "outside WhatsApp's 24-hour window and no template for '" + outgoing.kind + "'"))
        try:
            return self._create(whatsapp.create_kwargs(
                outgoing, self.settings, content_sid=template if use_template else None), outgoing)
        except TwilioPermanentError as exc:
            if exc.code != OUTSIDE_WINDOW:
                raise
            if template and not use_template:
                log.info("WhatsApp window closed for a %s; sending template %s", outgoing.kind, template)
                try:
                    return self._create(whatsapp.create_kwargs(outgoing, self.settings,
                                                               content_sid=template), outgoing)
                except TwilioPermanentError as again:
                    if again.code != OUTSIDE_WINDOW:
                        raise
                    exc = again
            return self._sms_fallback(outgoing, exc)

    def _sms_fallback(self, outgoing: Outgoing, reason: TwilioPermanentError) -> Delivered:
        """WhatsApp cannot take it: send the same text by SMS if the citizen has a number."""
        if not (self.settings.twilio_sms_from or self.settings.twilio_messaging_service_sid):
            raise reason
        try:
            number = phone_e164(outgoing.to)
        except AddressError:
            raise reason from None
        log.info("WhatsApp refused a %s (%s); sending it by SMS", outgoing.kind, reason)
        sms_outgoing = Outgoing(channel="sms", to=number, text=outgoing.text, kind=outgoing.kind,
                                key=outgoing.key, language=outgoing.language,
                                extras=outgoing.extras, status_callback=outgoing.status_callback)
        return self._create(sms.create_kwargs(sms_outgoing, self.settings), outgoing)

    def _create(self, kwargs: dict, outgoing: Outgoing) -> Delivered:
        key = outgoing.extras.get("idempotency_key")
        if key and kwargs.get("status_callback"):
            # Twilio has no idempotency key for sending; the key rides on the callback URL,
            # so the callbacks (and anyone auditing Twilio's logs) can tell copies apart.
            sep = "&" if "?" in kwargs["status_callback"] else "?"
            kwargs["status_callback"] += sep + urlencode({"key": key})
        try:
            message = self.client.messages.create(**kwargs)
        except Exception as exc:
            raise classify(exc) from exc
        return Delivered(provider_id=message.sid, status="sent")

    def find_sent(self, outgoing: Outgoing, since: datetime) -> list[Delivered]:
        """What Twilio may already have for this outbox row, if its worker died before
        recording the answer: Twilio's messages to the recipient since the claim, with the
        same body (the caller sets aside those another row already owns: a citizen can get
        the same text twice). Asked through the twilio library; a failure to ask is transient."""
        kwargs = (sms.create_kwargs(outgoing, self.settings) if self.channel == "sms"
                  else whatsapp.create_kwargs(outgoing, self.settings))
        body, to = kwargs.get("body"), kwargs["to"]
        after = since - timedelta(seconds=60)  # clocks differ a little
        try:
            sent = list(self.client.messages.list(to=to, date_sent_after=after, limit=50))
            # A message still queued at Twilio has no date_sent yet: the latest few as well.
            sent += [m for m in self.client.messages.list(to=to, limit=20)
                     if m.date_created is None or m.date_created >= after]
        except Exception as exc:
            raise classify(exc) from exc
        found = {m.sid: Delivered(provider_id=m.sid, status="sent") for m in sent
                 if body is None or (m.body or "").strip() == body.strip()}
        return list(found.values())
