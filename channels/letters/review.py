"""The clerk's review form: what they confirmed about a letter, checked field by field.

Like a channel's parser, it turns the wire form (here a browser form) into the value the
engine takes (``conversation.letters.Entry``); every error names its field and says why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from channels.addresses import AddressError, phone_e164
from conversation import catalog
from conversation.knowledge import Knowledge
from conversation.letters import Entry
from conversation.numbers import to_latin_digits

_CNIC = re.compile(r"^(\d{5})-?(\d{7})-?(\d)$")
TEXT_MAX = 5000


def check_entry(form: Mapping[str, str], knowledge: Knowledge) -> tuple[Entry | None, dict[str, str]]:
    """The review form checked; ``(entry, {})`` or ``(None, {field: reason})``."""
    errors: dict[str, str] = {}
    description = " ".join((form.get("text") or "").split())
    if sum(ch.isalpha() for ch in description) < 10:
        errors["text"] = "the complaint text is too short: correct what OCR read or type it in"
    elif len(description) > TEXT_MAX:
        errors["text"] = "the complaint text is longer than 5,000 characters: shorten it"
    language = form.get("language") or "en"
    if language not in catalog.LANGUAGES:
        errors["language"] = "choose English, Urdu or Pashto"
    phone = None
    if (raw := (form.get("phone") or "").strip()):
        try:
            phone = phone_e164(raw)
        except AddressError as exc:
            errors["phone"] = str(exc)
    cnic = None
    if (raw := (form.get("cnic") or "").strip()):
        match = _CNIC.match(to_latin_digits(raw).replace(" ", ""))
        if match:
            cnic = "-".join(match.groups())
        else:
            errors["cnic"] = "a CNIC is 13 digits: 12345-1234567-1"
    district = form.get("district") or ""
    if district not in knowledge.districts:
        errors["district"] = "choose the district"
    category = form.get("category") or ""
    if category not in knowledge.categories:
        errors["category"] = "choose the department and category"
    name = " ".join((form.get("name") or "").split())[:80] or None
    address = " ".join((form.get("address") or "").split())[:300] or None
    if errors:
        return None, errors
    # A checkbox: present ("1") only when ticked.
    confidential = form.get("confidential") == "1"
    return Entry(description, language, name, phone, cnic, address, district, category, confidential), {}
