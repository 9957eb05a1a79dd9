"""How many SMS segments a text costs: GSM-7 (160 characters alone, 153 per part) or,
as soon as one character is outside GSM-7 (Urdu, Pashto, emoji), UCS-2 (70 alone, 67 per
part, counted in UTF-16 units).

A concatenated message never splits a GSM escape pair or a UTF-16 surrogate pair across
parts, which is why the parts are counted one character at a time.
"""

from __future__ import annotations

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # two septets each (escape + character)

SINGLE = {"GSM-7": 160, "UCS-2": 70}
PART = {"GSM-7": 153, "UCS-2": 67}


def encoding(text: str) -> str:
    """``GSM-7`` when every character is in the GSM 03.38 alphabet, else ``UCS-2``."""
    return "GSM-7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text) else "UCS-2"


def _units(ch: str, enc: str) -> int:
    if enc == "GSM-7":
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def count(text: str) -> int:
    """The number of segments the text is sent in (an empty text is one segment)."""
    enc = encoding(text)
    units = [_units(ch, enc) for ch in text]
    if sum(units) <= SINGLE[enc]:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > PART[enc]:
            parts, used = parts + 1, 0
        used += size
    return parts


def fits(text: str, segments: int = 2) -> bool:
    return count(text) <= segments
