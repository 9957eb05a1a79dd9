"""The simulator persona: a browser posts what a citizen would send on a channel.

Messages are marked simulated, so their replies are shown in the browser and never go to a
real provider.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid

from channels.addresses import AddressError, email_address, phone_e164
from conversation.messages import InboundMessage

PERSONAS = ("whatsapp", "sms", "email", "voice")
MAX_TEXT = 20_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class SimulatorError(ValueError):
    """The simulator form was filled in wrongly; the message says what to fix."""


def clean_text(text: str) -> str:
    """Control characters (NUL and friends) out; line breaks and tabs stay."""
    return _CONTROL.sub("", text)


def normalize_sender(persona: str, sender: str) -> str:
    """The persona's address, in a namespace of its own ("sim:"): a simulator user can
    never reach, or read, a real citizen's conversation by typing their number."""
    if persona not in PERSONAS:
        raise SimulatorError(f"persona must be one of {', '.join(PERSONAS)}")
    try:
        address = email_address(sender) if persona == "email" else phone_e164(sender)
    except AddressError as exc:
        raise SimulatorError(str(exc)) from None
    return "sim:" + address


def parse(form: dict) -> InboundMessage:
    """Build the InboundMessage for one message typed in the simulator."""
    persona = str(form.get("persona") or "")
    sender = normalize_sender(persona, str(form.get("sender") or ""))
    text = form.get("text")
    if not isinstance(text, str):
        raise SimulatorError("text is missing")
    if len(text) > MAX_TEXT:
        raise SimulatorError(f"text is longer than {MAX_TEXT} characters")
    client_id = str(form.get("client_id") or uuid.uuid4().hex)[:64]
    if persona in TWILIO_PERSONAS:
        return _through_twilio(persona, sender, text, client_id, form)
    if persona == "email":
        return _through_email(sender, text, client_id, form.get("thread") or {})
    return InboundMessage(channel=persona, provider_id=f"sim-{client_id}", sender=sender,
                          text=clean_text(text), simulated=True,
                          raw={"persona": persona, "text": text, "client_id": client_id})


# --- WhatsApp and SMS: the same form fields Twilio posts, through the same adapters ------

TWILIO_PERSONAS = ("whatsapp", "sms")
SIMULATED_ACCOUNT = "AC" + "0" * 32
SIMULATED_NUMBER = "+15005550006"  # Twilio's magic test number


def twilio_form(persona: str, number: str, text: str, client_id: str,
                location: tuple[float, float] | None = None) -> dict[str, str]:
    """The form Twilio would post for this message (MessageSid derived from client_id)."""
    sid = "SM" + hashlib.sha256(client_id.encode()).hexdigest()[:32]
    form = {"SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
            "Body": text, "NumSegments": "1", "MessageSid": sid, "AccountSid": SIMULATED_ACCOUNT,
            "ApiVersion": "2010-04-01"}
    if persona == "whatsapp":
        form.update(From=f"whatsapp:{number}", To=f"whatsapp:{SIMULATED_NUMBER}",
                    WaId=number.lstrip("+"), ProfileName="Simulator", ReferralNumMedia="0",
                    MessageType="text")
        if location:
            form.update(Latitude=str(location[0]), Longitude=str(location[1]), MessageType="location")
    else:
        form.update(From=number, To=SIMULATED_NUMBER, FromCountry="PK", ToCountry="US")
    return form


def _location(form: dict) -> tuple[float, float] | None:
    if form.get("latitude") in (None, "") or form.get("longitude") in (None, ""):
        return None
    try:
        return float(form["latitude"]), float(form["longitude"])
    except (TypeError, ValueError):
        raise SimulatorError("latitude and longitude must be numbers") from None


def _through_twilio(persona: str, sender: str, text: str, client_id: str, form: dict) -> InboundMessage:
    from channels import sms, whatsapp
    from channels.twilio.request import WebhookError

    fields = twilio_form(persona, sender.removeprefix("sim:"), text, client_id,
                         _location(form) if persona == "whatsapp" else None)
    try:
        inbound = (whatsapp if persona == "whatsapp" else sms).parse(fields)
    except WebhookError as exc:
        raise SimulatorError(str(exc)) from None
    # The sandbox stays: a "sim:" address and a simulator id, never a real citizen's.
    return dataclasses.replace(inbound, provider_id=f"sim-{client_id}", sender=sender, simulated=True,
                               raw={"persona": persona, "text": text, "client_id": client_id,
                                    "form": fields})


# --- Email: a real RFC 5322 message, through the same parser as SMTP and IMAP mail ---------

SIMULATED_MAIL_DOMAIN = "simulator.invalid"


def mail_bytes(address: str, text: str, client_id: str, to: str,
               thread: dict | None = None) -> bytes:
    """The mail a citizen's mail program would send: a reply when ``thread`` names the
    earlier mail (its ``message_id`` and ``subject``), else a new mail whose subject is the
    first line of the text."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    from storage.models import utcnow

    mail = EmailMessage()
    mail["From"] = address
    mail["To"] = to
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = make_msgid(idstring=hashlib.sha256(client_id.encode()).hexdigest()[:16],
                                    domain=SIMULATED_MAIL_DOMAIN)
    parent = (thread or {}).get("message_id")
    if parent:
        subject = str(thread.get("subject") or "")
        mail["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        mail["In-Reply-To"] = parent
        mail["References"] = parent
    else:
        first = text.strip().splitlines()[0] if text.strip() else ""
        mail["Subject"] = first[:78]
    mail.set_content(text)
    return bytes(mail)


def _through_email(sender: str, text: str, client_id: str, thread: dict) -> InboundMessage:
    from channels.email import parser

    address = sender.removeprefix("sim:")
    to = str(thread.get("to") or f"complaints@{SIMULATED_MAIL_DOMAIN}")
    try:
        parsed = parser.parse(mail_bytes(address, clean_text(text), client_id, to, thread))
    except parser.MailRejected as exc:
        raise SimulatorError(str(exc)) from None
    # The sandbox stays: a "sim:" address, never a real citizen's.
    return dataclasses.replace(parsed.inbound(), sender=sender, simulated=True)
