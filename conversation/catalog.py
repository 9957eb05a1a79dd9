"""The message catalog: every citizen-facing text, per language, from config/messages.yaml."""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import yaml

from config import CONFIG_DIR

LANGUAGES = ("en", "ur", "ps")
ROMAN_URDU = "ur-rm"  # Urdu in Latin letters (five characters: the language columns' width)
# Spoken prompts and printed letters have no Roman Urdu: nobody hears or posts in it.
_NO_ROMAN = ("voice_", "letter_")
_FALLBACK = {ROMAN_URDU: "ur"}
# Where the public /track/<number> page is served: IKHTIYAR_PUBLIC_URL, else the web
# listen address (the runtime sets it once at start; see configure_site).
_site = {"url": "http://127.0.0.1:8080"}


def configure_site(url: str) -> None:
    """Set the address every tracking link in a citizen's message points at."""
    _site["url"] = url.rstrip("/")


def tracking_link(number: str) -> str:
    """The public page of tracking number ``number`` (as shown to the citizen)."""
    return f"{_site['url']}/track/{quote(number, safe='')}"


class CatalogError(Exception):
    """The catalog file is missing a language or a placeholder; names the key."""


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _check(key: str, entry: dict, where: str, *, roman: bool = True) -> None:
    wanted = LANGUAGES if not roman or key.startswith(_NO_ROMAN) else (*LANGUAGES, ROMAN_URDU)
    missing = [lang for lang in wanted if not isinstance(entry.get(lang), str)]
    if missing:
        raise CatalogError(f"{where}: '{key}' has no text for {', '.join(missing)}")
    expected = _placeholders(entry["en"])
    for lang in wanted[1:]:
        if _placeholders(entry[lang]) - expected:
            raise CatalogError(f"{where}: '{key}' ({lang}) uses a placeholder English does not")


@lru_cache(maxsize=4)
def load(path: Path = CONFIG_DIR / "messages.yaml", *, roman: bool = True) -> dict[str, dict]:
    """The catalog at ``path``, checked: every key in every language (Roman Urdu too unless
    ``roman`` is false: pages in Urdu script serve a Roman Urdu reader as well)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a mapping of message keys")
    for key, entry in data.items():
        _check(key, entry, str(path), roman=roman)
        if "sms" in entry:
            _check(f"{key}.sms", entry["sms"], str(path), roman=roman)
    return data


def text(key: str, lang: str, *, short: bool = False, **values: object) -> str:
    """The text for ``key`` in ``lang`` (falling back to English), placeholders filled.

    ``short`` picks the SMS variant where the catalog has one.
    """
    entry = load()[key]
    if short and "sms" in entry:
        entry = entry["sms"]
    template = entry.get(lang) or entry.get(_FALLBACK.get(lang, "en")) or entry["en"]
    if "tracking" in values and "link" not in values:
        # Every text that gives a tracking number may give its page too: one place builds it.
        values["link"] = tracking_link(str(values["tracking"]))
    return template.format(**values) if values else template
