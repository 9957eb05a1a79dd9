"""The threading headers of a mail: Message-ID, In-Reply-To, References and the
``[KP-1234567]`` tag in the subject, read from what citizens' mail programs send."""

from __future__ import annotations

import re

from storage import tracking
from storage.mail import REFERENCES_CAP, clean_message_id

_ID = re.compile(r"<[^<>]{1,250}>")
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr|jav|رد|جواب)\s*(\[\d+\])?\s*[:：]\s*)+",
                           re.IGNORECASE)


def message_ids(value: str | None, limit: int = 50) -> list[str]:
    """The Message-IDs in a References / In-Reply-To value, in order, at most ``limit``."""
    if not value:
        return []
    found = _ID.findall(value)
    if not found:  # some clients drop the angle brackets
        found = [w for w in value.split() if "@" in w]
    ids = [i for i in (clean_message_id(x) for x in found) if i]
    return list(dict.fromkeys(ids))[-limit:]


def subject_tag(subject: str, prefix: str = "KP") -> str | None:
    """The tracking number in a ``[KP-1234567]`` tag of the subject, if valid."""
    for match in re.finditer(r"\[([^\[\]]{1,24})\]", subject or ""):
        found = tracking.find(match.group(1), prefix)
        if found.number:
            return found.number
    return None


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
