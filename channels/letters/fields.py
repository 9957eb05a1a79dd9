"""The fields a clerk fills in, suggested from what OCR read: phone number, CNIC, name,
address, district, department and category.

Numbers in right-to-left text need care: Tesseract reads "0300-1234567" inside an Urdu
line as "1234567-0300" (the groups in visual order) and often turns the dashes into bars
or brackets. Digit groups are therefore taken with whatever separators OCR made of the
dashes, and in Arabic-script text also tried in reverse order.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Protocol

import phonenumbers

from conversation.numbers import to_latin_digits

# Digit groups joined by what OCR makes of a dash or a space: - – — _ | [ ] . ۔ / and spaces.
_RUN = re.compile(r"(\+|00)?\d+(?:[ \t\-–—_|\[\]\.۔/]{1,3}\d+)*")
_ARABIC = re.compile(r"[\u0600-\u06FF]")
_NAME_MAX = 80

_NAME_AFTER = re.compile(
    r"(?:^|\n)\s*(?:name|applicant|نام|درخواست گزار|سائل|العارض|نوم|غوښتونکی)\s*[:：\-،]?\s*(.+)",
    re.IGNORECASE)
_CLOSING = re.compile(
    r"(?:yours (?:faithfully|sincerely|truly|obediently)|sincerely|regards|العارض|آپ کا خادم|"
    r"فدوی|ستاسو خدمتګار|عرض گزار)\s*[,،:]?\s*\n?\s*([^\n]+)", re.IGNORECASE)
_ADDRESS = re.compile(r"(?:^|\n)\s*(?:address|resident of|r/o|پتہ|سکنہ|ساکن|پته|اوسېدونکی)\s*[:：\-،]?\s*(.+)",
                      re.IGNORECASE)


class Reference(Protocol):
    """What the engine's reference data offers (conversation.knowledge.Knowledge)."""

    categories: dict

    def district_in_text(self, text: str) -> str | None: ...

    def suggest_category(self, text: str) -> str | None: ...


@dataclass
class Suggested:
    name: str = ""
    phone: str = ""  # E.164
    phones: tuple[str, ...] = ()
    cnic: str = ""  # 12345-1234567-1
    address: str = ""
    district: str = ""  # district code
    department: str = ""
    category: str = ""
    language: str = ""

    def as_dict(self) -> dict:
        data = asdict(self)
        data["phones"] = list(self.phones)
        return data


def suggest(text: str, reference: Reference | None, language: str | None = None) -> Suggested:
    """Everything the text gives away; empty strings for what it does not."""
    latin = to_latin_digits(text)
    cnic, phones = numbers_in(latin, rtl=bool(_ARABIC.search(text)))
    found = Suggested(cnic=cnic, phones=tuple(phones), phone=phones[0] if phones else "",
                      name=_first(_NAME_AFTER, text) or _first(_CLOSING, text),
                      address=_first(_ADDRESS, text, 200), language=language or "")
    if reference is not None:
        found.district = reference.district_in_text(text) or ""
        category = reference.suggest_category(text)
        if category:
            found.category = category
            found.department = reference.categories[category].department
    return found


def numbers_in(text: str, rtl: bool = False) -> tuple[str, list[str]]:
    """(the first CNIC, phone numbers in E.164) in text whose digits are Latin already."""
    cnic = ""
    phones: list[str] = []
    for match in _RUN.finditer(text):
        groups = re.findall(r"\d+", match.group(0))
        orders = _readings(groups[::-1]) + _readings(groups) if rtl else _readings(groups)
        as_cnic = next((_cnic(g) for g in orders if _cnic(g)), "")
        if as_cnic:
            cnic = cnic or as_cnic
            continue
        plus = "+" if match.group(1) == "+" else ""
        for order in orders:
            phone = _phone(plus + "".join(order))
            if phone:
                if phone not in phones:
                    phones.append(phone)
                break
    return cnic, phones


def _readings(groups: list[str]) -> list[list[str]]:
    """The groups as read, then without one inner single digit: OCR often reads a dash or a
    bar between digits as a "1"."""
    variants = [groups]
    for i in range(1, len(groups) - 1):
        if len(groups[i]) == 1:
            variants.append(groups[:i] + groups[i + 1:])
    return variants


def _cnic(groups: list[str]) -> str:
    lengths = [len(g) for g in groups]
    if lengths == [5, 7, 1]:
        return "-".join(groups)
    if lengths == [13]:
        digits = groups[0]
        return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"
    return ""


def _phone(candidate: str) -> str:
    digits = candidate.lstrip("+")
    if not 7 <= len(digits) <= 15:
        return ""
    try:
        number = phonenumbers.parse(candidate, "PK")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _first(pattern: re.Pattern, text: str, limit: int = _NAME_MAX) -> str:
    match = pattern.search(text)
    if not match:
        return ""
    value = re.split(r"[.\n]| s/o | d/o | w/o | ولد | بنت ", match.group(1))[0]
    value = " ".join(value.split()).strip(" ,،:-")
    return value[:limit] if any(ch.isalpha() for ch in value) else ""


# --- how sure OCR was of each suggested field -------------------------------------------------

_DIGITS = re.compile(r"\d+")


def doubtful_fields(fields: dict, words: list[tuple[int, str, float]], low: float) -> set[str]:
    """The suggested fields the clerk must check against the scan: those made of a word OCR
    was unsure of (confidence below ``low``), and numbers that were pieced together (an
    inner digit dropped) rather than read as they stand on one line.

    ``words`` are (line, text, confidence) of the page's words in reading order, lines
    numbered across all pages."""
    doubtful: set[str] = set()
    numbers = _number_runs(words)
    for key, digits in (("phone", _national(fields.get("phone") or "")),
                        ("cnic", "".join(_DIGITS.findall(fields.get("cnic") or "")))):
        if not digits:
            continue
        sources = [confs for readings, confs in numbers if any(digits in r for r in readings)]
        if not sources or all(min(confs) < low for confs in sources):
            doubtful.add(key)
    for key in ("name", "address"):
        tokens = set((fields.get(key) or "").split())
        if tokens and any(conf < low for _, text, conf in words if text.strip(" ,،:.-") in tokens):
            doubtful.add(key)
    return doubtful


def _number_runs(words: list[tuple[int, str, float]]) -> list[tuple[tuple[str, str], list[float]]]:
    """Each run of digit-bearing words on a line: (its digits in reading order and with the
    groups turned round, as Tesseract gives numbers in right-to-left lines; the words'
    confidences)."""
    runs: list[tuple[tuple[str, str], list[float]]] = []
    groups: list[str] = []
    confs: list[float] = []
    last_line = None

    def close() -> None:
        if groups:
            runs.append((("".join(groups), "".join(reversed(groups))), list(confs)))
        groups.clear()
        confs.clear()

    for line, text, conf in words:
        found = _DIGITS.findall(to_latin_digits(text))
        if line != last_line or not found:
            close()
        last_line = line
        if found:
            groups.extend(found)
            confs.append(conf)
    close()
    return runs


def _national(e164: str) -> str:
    """The digits a Pakistani writes after the leading 0: +923001234567 -> 3001234567."""
    digits = e164.lstrip("+")
    return digits[2:] if digits.startswith("92") else digits
