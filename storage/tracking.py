"""Tracking numbers: nine random digits and a Damm check digit, shown with a prefix and in
groups (``KP-123-456-7890``). The first wave's seven-digit numbers (``KP-1234567``) are still
found.

The Damm check digit catches every single mistyped digit and every swap of two
neighbouring digits, the two errors people make on a keypad. Citizens may write the
number with or without the prefix, with dashes or spaces, in Latin, Urdu (۱۲۳) or
Arabic-Indic (١٢٣) digits.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

DIGITS = 10  # nine random digits and the check digit
OLD_DIGITS = 7  # the first wave's numbers: six random digits and the check digit
LENGTHS = (DIGITS, OLD_DIGITS)
GROUPS = (3, 3, 4)  # how a ten-digit number is shown and spoken: 123-456-7890
DRAWS = 20  # a billion numbers: twenty collisions in a row mean something else is wrong
_DIGIT_MAP = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
# A run of digits possibly broken by dashes/spaces/dots, optionally after a Latin prefix.
_CANDIDATE = re.compile(r"(?<![\w])(?:([A-Za-z]{1,5})\s*[-–—:#.]?\s*)?(\d(?:[\s\-–—.]?\d){2,14})(?!\w)")


def damm_digit(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def is_valid(number: str) -> bool:
    return len(number) in LENGTHS and number.isdigit() and damm_digit(number) == 0


def new_number() -> str:
    """A random tracking number (digits only, check digit last); not guessable in sequence.
    Never starts with 0, so it keeps its ten digits wherever it is read as a number."""
    body = str(secrets.randbelow(9 * 10 ** (DIGITS - 2)) + 10 ** (DIGITS - 2))
    return body + str(damm_digit(body))


def groups(number: str) -> list[str]:
    """A ten-digit number in the groups it is shown and spoken in; older numbers whole."""
    if len(number) != DIGITS:
        return [number]
    parts, start = [], 0
    for size in GROUPS:
        parts.append(number[start:start + size])
        start += size
    return parts


def display(number: str, prefix: str = "KP") -> str:
    return "-".join([prefix, *groups(number)])


def insert_numbered(session, record) -> None:
    """Insert ``record`` (a complaint) with a fresh random tracking number, drawing again
    when the unique index says the number is taken: no SELECT before, no race between two
    processes drawing the same number, no slowdown as the table fills."""
    for _ in range(DRAWS):
        if not record.tracking_number:
            record.tracking_number = new_number()
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
            return
        except IntegrityError as exc:
            if "tracking_number" not in str(exc.orig):
                raise
            record.tracking_number = None
    raise RuntimeError(f"no free tracking number after {DRAWS} draws")


def to_latin_digits(text: str) -> str:
    return text.translate(_DIGIT_MAP)


@dataclass(frozen=True)
class Found:
    """What a message said about a tracking number."""

    number: str | None  # a valid number, digits only
    mistyped: str | None = None  # digits that looked like a tracking number but fail the check


def find(text: str, prefix: str = "KP") -> Found:
    """Find a tracking number in free text.

    Runs of exactly ten digits (or the first wave's seven) count; other runs are phone or
    CNIC numbers and are ignored unless they carry our prefix.
    """
    mistyped = None
    for match in _CANDIDATE.finditer(to_latin_digits(text)):
        word, raw = match.group(1), match.group(2)
        digits = re.sub(r"\D", "", raw)
        prefixed = word is not None and word.upper() == prefix.upper()
        if len(digits) not in LENGTHS:
            if prefixed and mistyped is None:
                mistyped = digits
            continue
        if damm_digit(digits) == 0:
            return Found(digits)
        if mistyped is None:
            mistyped = digits
    return Found(None, mistyped)
