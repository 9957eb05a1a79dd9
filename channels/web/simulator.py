"""The simulator persona: a browser posts what a citizen would send on a channel.

Messages are marked simulated, so their replies are shown in the browser and never go to a
real provider.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime

from channels.addresses import AddressError, email_address, phone_e164
from channels.voice.inbound import call_input
from conversation.call import Ask, CallInput, CallReply, RecordVoice, Transfer
from conversation.messages import InboundMessage
from conversation.numbers import groups

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
    if persona == "voice":  # a phone caller presses keys and speaks: see the call endpoints
        raise SimulatorError("the phone persona makes calls: POST /simulator/call/start")
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

    mail = EmailMessage()
    mail["From"] = address
    mail["To"] = to
    mail["Date"] = format_datetime(datetime.now(UTC))
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


# --- Phone: a simulated call through the IVR dialogue, as Twilio Voice's webhooks drive it --

SIMULATED_LINE = "+15005550006"  # the number the simulated caller dials
# Where a typed stand-in "recording" would be: never fetched (there is no audio in a browser).
STANDIN_RECORDING = "simulator:recording/"
KEYPAD = frozenset("0123456789*#")
MAX_KEYS = 32


def new_call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def check_call_sid(sid: object) -> str:
    text = str(sid or "")
    if not re.fullmatch(r"CA[0-9a-f]{32}", text):
        raise SimulatorError("call must be the id the simulator gave when the call started")
    return text


def check_keys(keys: object) -> str:
    text = str(keys or "")
    if len(text) > MAX_KEYS or not set(text) <= KEYPAD:
        raise SimulatorError(f"keys must be up to {MAX_KEYS} of 0-9, * and #")
    return text


def call_form(sender: str, sid: str, **fields: str) -> dict[str, str]:
    """The form Twilio Voice would post for one step of the call (``fields``: Digits,
    Recording*, CallStatus, DialCallStatus ...). ``sender`` is the persona's "sim:" address;
    the form carries the bare number, as Twilio's does."""
    number = sender.removeprefix("sim:")
    form = {"AccountSid": SIMULATED_ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": sid,
            "CallStatus": "in-progress", "Direction": "inbound", "From": number, "Caller": number,
            "FromCountry": "PK", "To": SIMULATED_LINE, "Called": SIMULATED_LINE}
    form.update(fields)
    return form


def recording_fields(text: str, hung_up: bool = False) -> dict[str, str]:
    """A <Record> action's fields for the typed stand-in; no text is an empty recording,
    which Twilio reports as an answer without one."""
    if not text.strip():
        return {"Digits": ""}
    sid = "RE" + uuid.uuid4().hex
    # About how long saying it would take (2.5 words a second), as RecordingDuration.
    seconds = max(1, round(len(text.split()) / 2.5))
    return {"Digits": "hangup" if hung_up else "#", "RecordingSid": sid,
            "RecordingDuration": str(seconds), "RecordingUrl": STANDIN_RECORDING + sid}


def call_input_for(form: dict[str, str], sender: str) -> CallInput:
    """The dialogue's input, through the voice channel's own translation; the caller stays
    the persona's "sim:" address, so the call keys a simulated contact, never a real one."""
    return dataclasses.replace(call_input(form), caller=sender)


def _prompt_text(name: str, lang: str) -> str:
    from conversation import catalog
    from conversation.voice_prompts import texts

    known = texts().get(name)
    return known[lang] if known else catalog.text(name, lang)


def _said(names: tuple[str, ...], lang: str) -> str:
    """The prompts' texts; a run of digits (a tracking number read out) shows as the number."""
    parts: list[str] = []
    number = ""
    for name in (*names, ""):
        if name.startswith("voice_digit_"):
            number += name.removeprefix("voice_digit_")
            continue
        if number:
            parts.append("-".join(groups(number)))  # as printed: 123-456-7890
            number = ""
        if name:
            parts.append(_prompt_text(name, lang))
    return " ".join(parts)


def render_call_reply(reply: CallReply) -> str:
    """A CallReply as JSON for the browser (what the call says as text and what it waits
    for): the simulator's stand-in for TwiML, kept on the call like TwiML for replays."""
    speech = list(reply.speech)
    then = reply.then
    expects: dict = {"kind": "nothing"}
    if isinstance(then, Ask):
        speech += list(then.speech)
        expects = {"kind": "keys", "digits": then.digits, "finish_on_key": then.finish_on_key}
    elif isinstance(then, RecordVoice):
        expects = {"kind": "recording", "max_seconds": then.max_seconds}
    elif isinstance(then, Transfer):
        expects = {"kind": "transfer"}
    said = [{"lang": s.lang, "names": list(s.names), "text": _said(s.names, s.lang)} for s in speech]
    return json.dumps({"step": reply.step, "seq": reply.seq, "lang": reply.lang, "said": said,
                       "expects": expects, "hang_up": reply.hang_up}, ensure_ascii=False)
