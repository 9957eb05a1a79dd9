"""Finding and hiding personal data inside free text: phone numbers, CNIC numbers, email
addresses and the values we know belong to a complainant (their name, their addresses).

``mask`` keeps enough to tell two values apart (``+92300•••••67``, ``a•••@example.org``,
``•••••-•••••••-1``) and is what staff see until they reveal; ``redact`` keeps nothing and
is what is written to the database or a log in place of a value. ``seal``/``unseal`` keep
a value encrypted inside a JSON column (the data key of storage.crypto).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from storage.crypto import DecryptionError, vault

# Pakistani mobile numbers as people write them (+92 300 1234567, 0092-300-1234567,
# 923001234567, 0300-1234567, 0300 123 4567) and any other international number
# (+44 20 7946 0958): a "+" and 9 to 15 digits with spaces or dashes between.
_PK_MOBILE = r"(?:(?:\+|00)?92[\s.-]?|0)3\d{2}[\s.-]?\d{3}[\s.-]?\d{4}"
_INTERNATIONAL = r"\+\d(?:[\s.-]?\d){8,14}"
PHONE = re.compile(rf"(?<![\w+])(?:{_PK_MOBILE}|{_INTERNATIONAL})(?!\d)")
# CNIC: 12345-1234567-1, with or without the dashes.
CNIC = re.compile(r"(?<!\d)\d{5}[\s-]?\d{7}[\s-]?\d(?!\d)")
EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A WhatsApp or simulator address: "whatsapp:+923001234567", "sim:+923001234567".
_ADDRESS_PREFIX = re.compile(r"^(?:whatsapp|sim|tel|sms):", re.IGNORECASE)

REDACTED = "[redacted]"
DOT = "•"


def mask_address(address: str) -> str:
    """+923001234567 -> +92300•••••67; amina@example.org -> a•••@example.org."""
    shown = _ADDRESS_PREFIX.sub("", address.strip())
    if "@" in shown:
        local, _, domain = shown.partition("@")
        return (local[:1] + "•••@" + domain) if local else "•••@" + domain
    keep_head = 6 if shown.startswith("+") else 4
    if len(shown) <= keep_head + 2:
        return DOT * len(shown)
    return shown[:keep_head] + DOT * (len(shown) - keep_head - 2) + shown[-2:]


def mask_cnic(cnic: str) -> str:
    digits = [c for c in cnic if c.isdigit()]
    return "•••••-•••••••-" + digits[-1] if digits else "•••"


def mask_name(name: str) -> str:
    return name[:1] + "•••" if name else ""


def _phone_mask(match: re.Match) -> str:
    compact = re.sub(r"[\s.-]", "", match.group(0))
    return mask_address(compact)


_Patterns = list[tuple[re.Pattern, Callable[[str], str]]]


def _known_patterns(known: Iterable[str | None]) -> tuple[_Patterns, _Patterns]:
    """Patterns for the complainant's own values: (addresses, with and without their
    channel prefix; a name and each of its words of three letters or more)."""
    out: _Patterns = []
    names: _Patterns = []
    for value in known:
        value = (value or "").strip()
        if not value:
            continue
        bare = _ADDRESS_PREFIX.sub("", value)
        if CNIC.fullmatch(bare):
            digits = "".join(ch for ch in bare if ch.isdigit())
            out.append((re.compile(r"(?<!\d)" + r"[\s-]?".join(
                (digits[:5], digits[5:12], digits[12:])) + r"(?!\d)"), mask_cnic))
            continue
        if "@" in bare or any(ch.isdigit() for ch in bare):
            out.append((re.compile(re.escape(bare), re.IGNORECASE), mask_address))
            digits = "".join(ch for ch in bare if ch.isdigit())
            if len(digits) >= 9:  # the same number written 0300... or 300...
                tail = digits[-10:]
                out.append((re.compile(r"(?<!\d)(?:\+?92|0)?" + re.escape(tail) + r"(?!\d)"), mask_address))
            continue
        words = [w for w in re.split(r"\W+", bare) if len(w) >= 3]
        for part in sorted({bare, *words}, key=len, reverse=True):
            names.append((re.compile(r"(?<!\w)" + re.escape(part) + r"(?!\w)", re.IGNORECASE), mask_name))
    return out, names


def _apply(text: str, known: Iterable[str | None], replace: Callable[[str, Callable[[str], str]], str]) -> str:
    addresses, names = _known_patterns(known)
    for pattern, masker in addresses:
        text = pattern.sub(lambda m, k=masker: replace(m.group(0), k), text)
    text = EMAIL.sub(lambda m: replace(m.group(0), mask_address), text)
    text = CNIC.sub(lambda m: replace(m.group(0), mask_cnic), text)
    text = PHONE.sub(lambda m: replace(m.group(0), lambda _s: _phone_mask(m)), text)
    for pattern, masker in names:  # last: a name inside an email address goes with it
        text = pattern.sub(lambda m, k=masker: replace(m.group(0), k), text)
    return text


def mask(text: str | None, known: Iterable[str | None] = ()) -> str:
    """The text with every phone number, CNIC, email address and known value masked."""
    if not text:
        return text or ""
    return _apply(text, known, lambda value, masker: masker(value))


def redact(text: str | None, known: Iterable[str | None] = ()) -> str:
    """The text with every phone number, CNIC, email address and known value removed."""
    if not text:
        return text or ""
    return _apply(text, known, lambda _value, _masker: REDACTED)


def has_personal_data(text: str | None, known: Iterable[str | None] = ()) -> bool:
    return bool(text) and redact(text, known) != text


def seal(value: str | None) -> str | None:
    """A value encrypted for a JSON column (``v1:...``)."""
    return None if value is None else vault().encrypt(value)


def unseal(value: str | None) -> str | None:
    """The value ``seal`` wrote; a value written in clear before sealing began is returned
    as it is (written before sealing began)."""
    if not value:
        return value
    try:
        return vault().decrypt(value)
    except DecryptionError:
        if value.startswith("v1:"):
            raise
        return value
