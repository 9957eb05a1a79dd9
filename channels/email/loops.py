"""Mail that must never be answered automatically, and delivery status notifications.

An answer to an auto-reply, a mailing list or a bounce can start a mail loop between two
robots; such mail is stored (nothing is lost) but gets no reply and opens no complaint.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage

LOOP_HEADER = "X-Ikhtiyar-Loop"
_ROBOTS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|no-?reply|do-?not-?reply)@",
                     re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s@]{1,200}@[^<>\s@]{1,200}>")


@dataclass(frozen=True)
class Bounce:
    """A delivery status notification: which of our Message-IDs failed, and why."""

    message_ids: tuple[str, ...]
    recipients: tuple[str, ...] = ()
    status: str = ""
    diagnostic: str = ""
    failed: bool = True
    extra: dict = field(default_factory=dict)


def automatic(headers: dict[str, str], sender: str | None, envelope_from: str | None,
              our_addresses: frozenset[str] = frozenset()) -> str | None:
    """Why this mail must get no automatic answer, or None for a person's mail.

    ``headers`` maps lower-case header names to their (decoded) values.
    """
    auto_submitted = headers.get("auto-submitted", "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"auto-submitted: {auto_submitted[:40]}"
    if headers.get(LOOP_HEADER.lower()):
        return "our own mail came back"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"):
        if name in headers:
            return name
    if headers.get("list-id") or headers.get("list-unsubscribe"):
        return "mailing list"
    if "return-path" in headers and headers["return-path"].strip() in ("<>", ""):
        return "empty return path"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "empty envelope sender"
    if sender and _ROBOTS.match(sender):
        return "sent by a mail system"
    if sender and sender.lower() in our_addresses:
        return "sent from our own address"
    return None


def parse_dsn(msg: EmailMessage) -> Bounce | None:
    """The bounce in a multipart/report (RFC 3464) or, failing that, in a plain-text
    notice that quotes one of our Message-IDs; None when the mail is no bounce."""
    try:
        ctype = msg.get_content_type()
        report_type = (msg.get_param("report-type") or "").lower() if ctype == "multipart/report" else ""
    except Exception:
        ctype, report_type = "", ""
    if ctype == "multipart/report" and report_type == "delivery-status":
        return _rfc3464(msg)
    return None


def _rfc3464(msg: EmailMessage) -> Bounce:
    recipients: list[str] = []
    statuses: list[str] = []
    diagnostics: list[str] = []
    actions: list[str] = []
    message_ids: list[str] = []
    try:
        parts = msg.get_payload()
    except Exception:
        parts = []
    for part in parts if isinstance(parts, list) else []:
        ctype = ""
        with contextlib.suppress(Exception):  # a part too broken to have a type is skipped
            ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in _status_blocks(part):
                if block.get("final-recipient"):
                    recipients.append(block["final-recipient"].split(";", 1)[-1].strip())
                if block.get("action"):
                    actions.append(block["action"].lower())
                if block.get("status"):
                    statuses.append(block["status"])
                if block.get("diagnostic-code"):
                    diagnostics.append(block["diagnostic-code"].split(";", 1)[-1].strip())
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            message_ids += _original_ids(part)
    failed = not actions or any(a == "failed" for a in actions)
    return Bounce(tuple(dict.fromkeys(message_ids)), tuple(recipients),
                  ", ".join(dict.fromkeys(statuses)),
                  " ".join(dict.fromkeys(diagnostics))[:300] or ", ".join(statuses), failed)


def _status_blocks(part) -> list[dict[str, str]]:
    """The per-message and per-recipient field blocks of a message/delivery-status part."""
    blocks: list[dict[str, str]] = []
    try:
        payload = part.get_payload()
    except Exception:
        return blocks
    if isinstance(payload, list):  # the stdlib parses each block as a header-only message
        for block in payload:
            with contextlib.suppress(Exception):  # an unreadable block is skipped
                blocks.append({k.lower(): str(v) for k, v in block.items()})
        return blocks
    text = payload if isinstance(payload, str) else ""
    for chunk in re.split(r"\r?\n\s*\r?\n", text):
        fields = {}
        for line in chunk.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip():
                fields[name.strip().lower()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _original_ids(part) -> list[str]:
    """The Message-ID of the returned original (a message/rfc822 part or its headers)."""
    try:
        payload = part.get_payload()
    except Exception:
        return []
    if isinstance(payload, list) and payload:
        try:
            raw = payload[0].get("Message-ID")
        except Exception:
            raw = None
        if raw:
            return _MESSAGE_ID.findall(str(raw)) or [str(raw).strip()]
        return []
    text = payload if isinstance(payload, str) else ""
    match = re.search(r"^message-id:\s*(.+)$", text, re.IGNORECASE | re.MULTILINE)
    return _MESSAGE_ID.findall(match.group(1)) if match else []


def quoted_message_ids(text: str) -> list[str]:
    """Message-IDs quoted anywhere in a text (bounces that are not RFC 3464 reports)."""
    return list(dict.fromkeys(_MESSAGE_ID.findall(text)))[:20]
