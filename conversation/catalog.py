"""The message catalog: every citizen-facing text, per language, from config/messages.yaml."""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import yaml

from config import CONFIG_DIR

LANGUAGES = ("en", "ur", "ps")
ROMAN_URDU = "ur-rm"  # Urdu in Latin letters (five characters: the language columns' width)
# Spoken prompts and printed letters have no Roman Urdu: nobody hears or posts in it.
_NO_ROMAN = ("voice_", "letter_")
_FALLBACK = {ROMAN_URDU: "ur"}


class CatalogError(Exception):
    """The catalog file is missing a language or a placeholder; names the key."""


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _check(key: str, entry: dict, where: str) -> None:
    wanted = LANGUAGES if key.startswith(_NO_ROMAN) else (*LANGUAGES, ROMAN_URDU)
    missing = [lang for lang in wanted if not isinstance(entry.get(lang), str)]
    if missing:
        raise CatalogError(f"{where}: '{key}' has no text for {', '.join(missing)}")
    expected = _placeholders(entry["en"])
    for lang in wanted[1:]:
        if _placeholders(entry[lang]) - expected:
            raise CatalogError(f"{where}: '{key}' ({lang}) uses a placeholder English does not")


@lru_cache(maxsize=4)
def load(path: Path = CONFIG_DIR / "messages.yaml") -> dict[str, dict]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a mapping of message keys")
    for key, entry in data.items():
        _check(key, entry, str(path))
        if "sms" in entry:
            _check(f"{key}.sms", entry["sms"], str(path))
    return data


def text(key: str, lang: str, *, short: bool = False, **values: object) -> str:
    """The text for ``key`` in ``lang`` (falling back to English), placeholders filled.

    ``short`` picks the SMS variant where the catalog has one.
    """
    entry = load()[key]
    if short and "sms" in entry:
        entry = entry["sms"]
    template = entry.get(lang) or entry.get(_FALLBACK.get(lang, "en")) or entry["en"]
    return template.format(**values) if values else template
