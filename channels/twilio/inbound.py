"""What WhatsApp and SMS share when reading Twilio's inbound message form.

Twilio posts ``application/x-www-form-urlencoded`` fields: MessageSid, AccountSid, From,
To, Body, NumMedia, MediaUrlN/MediaContentTypeN, and per channel more (see the adapters).
The whole form is kept as the message's raw payload (stored encrypted: it holds numbers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from channels.twilio.request import WebhookError
from conversation.messages import Media

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
MAX_MEDIA = 10  # Twilio sends at most 10 media per message

# Words that stop or restart messages when Twilio did not already say so (OptOutType).
# CANCEL, END and QUIT are left out on purpose: they mean "stop filing" in a conversation.
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe"})
START_WORDS = frozenset({"start", "unstop"})


def clean_text(text: str) -> str:
    """NUL and other control characters out; line breaks and tabs stay."""
    return _CONTROL.sub("", text)


def message_sid(form: Mapping[str, str]) -> str:
    """The message's id; a form without a well-formed MessageSid is refused (400)."""
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sid:
        raise WebhookError(400, "MessageSid is missing")
    if not _SID.match(sid):
        raise WebhookError(400, "MessageSid is not a Twilio message id")
    return sid


def media(form: Mapping[str, str]) -> tuple[Media, ...]:
    """MediaUrl0..N with their content types, as many as NumMedia says (at most 10)."""
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        raise WebhookError(400, "NumMedia is not a number") from None
    found = []
    for i in range(min(max(count, 0), MAX_MEDIA)):
        url = (form.get(f"MediaUrl{i}") or "").strip()
        if not url.startswith(("https://", "http://")):
            raise WebhookError(400, f"MediaUrl{i} is missing or not a URL")
        content_type = (form.get(f"MediaContentType{i}") or "application/octet-stream").strip().lower()
        found.append(Media(url=url, content_type=content_type[:120]))
    return tuple(found)


def raw_payload(form: Mapping[str, str], idempotency_token: str | None) -> dict:
    raw = dict(form)
    if idempotency_token:
        raw["I-Twilio-Idempotency-Token"] = idempotency_token[:200]
    return raw


def opt_change(raw: Mapping[str, str], text: str) -> str | None:
    """``stop`` or ``start`` when the citizen opts out or back in, else None.

    Twilio's ``OptOutType`` (STOP, START, HELP) is the truth when present: Twilio has
    already blocked or unblocked the number. Otherwise only unambiguous words count.
    """
    kind = (raw.get("OptOutType") or "").strip().upper()
    if kind == "STOP":
        return "stop"
    if kind == "START":
        return "start"
    if kind:
        return None
    word = text.strip().strip(".!").lower()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None
