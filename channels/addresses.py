"""Normalizing the addresses citizens write from: phone numbers and email addresses."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


class AddressError(ValueError):
    """Not a usable phone number or email address; the message says why."""


def phone_e164(raw: str, region: str = "PK") -> str:
    """+923001234567 from 0300-1234567, 923001234567, +92 300 1234567, whatsapp:+92..."""
    return _phone_e164(raw, region)


# Every webhook parses its sender's number, and citizens write again and again from the
# same few numbers: parsing (phonenumbers' metadata, a tenth of a millisecond) is cached.
# A bad number raises, and exceptions are not cached.
@lru_cache(maxsize=8192)
def _phone_e164(raw: str, region: str) -> str:
    text = raw.strip().removeprefix("whatsapp:").removeprefix("tel:")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise AddressError(f"'{raw[:40]}' is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise AddressError(f"'{raw[:40]}' is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(raw: str) -> str:
    text = raw.strip()
    if not _EMAIL.match(text):
        raise AddressError(f"'{raw[:60]}' is not an email address")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"
