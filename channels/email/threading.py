"""The threading headers of a mail: Message-ID, In-Reply-To and References, read from what
citizens' mail programs send and written on our replies; the provider id of an inbound mail.

An inbound mail's provider id is ``in:`` + its Message-ID + ``#`` + a digest of its sender
and body: a sending server's retry is stored once, but another mail that reuses a
Message-ID is its own message (and ``in:`` never clashes with the Message-ID we put on our
own mail, which becomes the outbound row's provider id once sent).
"""

from __future__ import annotations

import hashlib
import re

REFERENCES_CAP = 10  # References grows with every reply; long chains only cost header bytes
_MID_MAX = 200
_ID = re.compile(r"<[^<>]{1,250}>")
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr|jav|رد|جواب)\s*(\[\d+\])?\s*[:：]\s*)+",
                           re.IGNORECASE)


def clean_message_id(value: str | None) -> str | None:
    """``<id@host>`` from a header value, or None when there is nothing usable."""
    if not value:
        return None
    text = "".join(str(value).split())
    if not text:
        return None
    if not text.startswith("<"):
        text = "<" + text
    if not text.endswith(">"):
        text += ">"
    return text if len(text) > 2 else None


def body_digest(data: bytes) -> str:
    """SHA-256 of a mail's body (after the header block), line ends normalized: the same
    for a sending server's retry, different for another mail that reuses a Message-ID."""
    normalized = data.replace(b"\r\n", b"\n")
    _head, found, body = normalized.partition(b"\n\n")
    return hashlib.sha256(body.rstrip() if found else normalized).hexdigest()


def inbound_provider_id(message_id: str | None, data: bytes = b"", sender: str = "") -> str:
    """The provider id of an inbound mail: its Message-ID with a digest of its sender and
    body, else a digest of its bytes."""
    mid = clean_message_id(message_id)
    if mid and len(mid) <= _MID_MAX:
        key = hashlib.sha256(f"{sender.strip().lower()}\n{body_digest(data)}".encode()).hexdigest()
        return f"in:{mid}#{key[:16]}"
    return "in-sha256:" + hashlib.sha256(data).hexdigest()


def message_ids(value: str | None, limit: int = 50) -> list[str]:
    """The Message-IDs in a References / In-Reply-To value, in order, at most ``limit``."""
    if not value:
        return []
    found = _ID.findall(value)
    if not found:  # some clients drop the angle brackets
        found = [w for w in value.split() if "@" in w]
    ids = [i for i in (clean_message_id(x) for x in found) if i]
    return list(dict.fromkeys(ids))[-limit:]


def bare_subject(subject: str) -> str:
    """The subject without Re:/Fwd: prefixes and our tracking tag."""
    text = _REPLY_PREFIX.sub("", subject or "")
    text = re.sub(r"\s*\[[A-Za-z]{1,5}-?\d[\d\- ]{5,12}\]\s*", " ", text)
    return " ".join(text.split())


def reply_subject(original: str | None, tracking_shown: str | None, fallback: str) -> str:
    """``Re: <original> [KP-1234567]``; the fallback stands in for a missing subject."""
    base = bare_subject(original or "") or fallback
    subject = f"Re: {base}" if original and bare_subject(original) else base
    if tracking_shown and f"[{tracking_shown}]" not in subject:
        subject = f"{subject} [{tracking_shown}]"
    return subject[:250]


def references(parent_refs: list[str], parent_id: str | None) -> list[str]:
    """The References of a reply: the parent's, then the parent itself, capped."""
    chain = [*parent_refs, *([parent_id] if parent_id else [])]
    return list(dict.fromkeys(chain))[-REFERENCES_CAP:]
