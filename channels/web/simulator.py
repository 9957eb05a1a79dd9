"""The simulator persona: a browser posts what a citizen would send on a channel.

Messages are marked simulated, so their replies are shown in the browser and never go to a
real provider.
"""

from __future__ import annotations

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
    return InboundMessage(channel=persona, provider_id=f"sim-{client_id}", sender=sender,
                          text=clean_text(text), simulated=True,
                          raw={"persona": persona, "text": text, "client_id": client_id})
