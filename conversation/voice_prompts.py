"""What the phone line can say: every prompt by name, with its text in en, ur and ps.

A prompt name is a catalog key (``voice_main_menu``, ``status_resolved``) or a piece of
reference data from config/districts.yaml (``district_PSW``, and ``districts_1`` for the
district codes that start with 1, read out as a group). The voice channel speaks a name
with ``<Play>`` of its audio file (Urdu, Pashto) or ``<Say>`` of its text (English).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from config import CONFIG_DIR
from conversation import catalog
from storage.models import State
from storage.tracking import DIGITS, GROUPS, to_latin_digits


def _placeholders(text: str) -> bool:
    return bool(re.search(r"\{[a-z_]*\}", text))


def digit_words(digits: str, lang: str) -> list[str]:
    return [catalog.text(f"voice_digit_{d}", lang) for d in digits]


def digits(number: str) -> list[str]:
    """The prompts that read a number digit by digit."""
    return [f"voice_digit_{d}" for d in number if d.isdigit()]


PHONE_DEPARTMENTS = 9  # keys 1-9; 0 is "other"
OTHER_DEPARTMENT = "OTHER"


@dataclass(frozen=True)
class PhoneDepartment:
    """A department on the phone line's keypad menu, and the category a phone complaint
    about it is filed under until an officer chooses another (its first listed one)."""

    key: str
    code: str
    names: dict[str, str]
    category: str | None


@lru_cache(maxsize=2)
def phone_departments(path: Path = CONFIG_DIR / "departments.yaml") -> tuple[PhoneDepartment, ...]:
    """The keypad's department menu: the first nine departments of config/departments.yaml
    (the file lists the most frequent first; an operator reorders it to change the menu),
    then "other" on 0."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))["departments"]

    def entry(key: str, d: dict) -> PhoneDepartment:
        first = (d.get("categories") or [{}])[0].get("code")
        return PhoneDepartment(key, d["code"], {lang: d[f"name_{lang}"] for lang in catalog.LANGUAGES}, first)

    listed = [d for d in data if d["code"] != OTHER_DEPARTMENT][:PHONE_DEPARTMENTS]
    menu = [entry(str(n), d) for n, d in enumerate(listed, start=1)]
    menu += [entry("0", d) for d in data if d["code"] == OTHER_DEPARTMENT]
    return tuple(menu)


def _districts(path: Path) -> list[dict]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return sorted(data["districts"], key=lambda d: int(d["keypad"]))


@lru_cache(maxsize=2)
def texts(districts_path: Path = CONFIG_DIR / "districts.yaml") -> dict[str, dict[str, str]]:
    """Every prompt the line can say: name -> {lang: text} for en, ur and ps."""
    found: dict[str, dict[str, str]] = {}
    for key, entry in catalog.load().items():
        spoken = key.startswith("voice_") or key in {f"status_{s.value}" for s in State}
        if spoken and not _placeholders(entry["en"]):
            found[key] = {lang: entry[lang] for lang in catalog.LANGUAGES}
    stop = {"en": ".", "ur": "۔", "ps": "."}
    comma = {"en": ",", "ur": "،", "ps": "،"}
    groups: dict[str, dict[str, list[str]]] = {}
    for d in _districts(districts_path):
        code, keypad = d["code"], str(d["keypad"])
        found[f"district_{code}"] = {lang: d[f"name_{lang}"] for lang in catalog.LANGUAGES}
        group = groups.setdefault(f"districts_{keypad[0]}", {lang: [] for lang in catalog.LANGUAGES})
        for lang in catalog.LANGUAGES:
            group[lang].append(f"{d[f'name_{lang}']}{comma[lang]} {' '.join(digit_words(keypad, lang))}")
    for name, parts in groups.items():
        found[name] = {lang: (stop[lang] + " ").join(items) + stop[lang] for lang, items in parts.items()}
    # The department menu: each department's name, then its key ("Police, one.").
    menu = phone_departments()
    for d in menu:
        found[f"department_{d.code}"] = dict(d.names)
    found["departments_menu"] = {
        lang: (stop[lang] + " ").join(f"{d.names[lang]}{comma[lang]} {' '.join(digit_words(d.key, lang))}"
                                      for d in menu) + stop[lang]
        for lang in catalog.LANGUAGES}
    return found


def district_groups() -> list[str]:
    return sorted(name for name in texts() if name.startswith("districts_"))


@lru_cache(maxsize=1)
def _digit_index() -> dict[str, str]:
    return {catalog.text(f"voice_digit_{d}", lang).lower(): str(d)
            for d in range(10) for lang in catalog.LANGUAGES}


def spoken_digits(speech: str) -> str:
    """The digits an utterance says ("one", "ایک", "3"), in order; other words are ignored."""
    words = to_latin_digits(speech).lower()
    for mark in (",", ".", "۔", "،"):
        words = words.replace(mark, " ")
    index = _digit_index()
    return "".join(word if word.isdigit() else index.get(word, "") for word in words.split())


def grouped(names: list[str]) -> list[str | None]:
    """The prompts, with None between the groups of a ten-digit tracking number read out
    digit by digit (3, 3 and 4 digits: as it is printed, KP-123-456-7890)."""
    out: list[str | None] = []
    i = 0
    while i < len(names):
        if not names[i].startswith("voice_digit_"):
            out.append(names[i])
            i += 1
            continue
        end = i
        while end < len(names) and names[end].startswith("voice_digit_"):
            end += 1
        sizes = GROUPS if end - i == DIGITS else (end - i,)
        for n, size in enumerate(sizes):
            if n:
                out.append(None)
            out.extend(names[i:i + size])
            i += size
    return out
