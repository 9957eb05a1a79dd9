"""What an officer's reply draws on: the canned replies of config/canned_replies.yaml (per
department, in en/ur/ps and Roman Urdu where given), the script check that warns an officer
writing in another language than the citizen's, and which actions the case's state allows
(the case page shows only those; the actions refuse the others)."""

from __future__ import annotations

import re
from functools import lru_cache

import yaml

from config import CONFIG_DIR
from storage.models import Complaint

LANGUAGES = ("en", "ur", "ps")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN = re.compile(r"[A-Za-z]")
# Letters Pashto writes and Urdu does not, and the other way round.
_PASHTO = re.compile(r"[ټځڅډړږښګڼۍې]")
_URDU = re.compile(r"[ٹڈڑںےھ]")

# action -> the states in which the case page offers it and the action accepts it
ACTIONS: dict[str, frozenset[str]] = {
    "reply": frozenset({"submitted", "assigned", "in_progress", "awaiting_info", "resolved", "reopened"}),
    "start": frozenset({"submitted", "assigned", "reopened", "awaiting_info"}),
    "ask": frozenset({"submitted", "assigned", "in_progress"}),
    "resolve": frozenset({"submitted", "assigned", "in_progress", "reopened", "awaiting_info"}),
    "assign": frozenset({"submitted", "assigned", "in_progress", "awaiting_info", "reopened"}),
    "categorise": frozenset({"submitted", "assigned", "in_progress", "awaiting_info", "reopened"}),
}


def allowed(action: str, complaint: Complaint) -> bool:
    return complaint.state in ACTIONS.get(action, frozenset())


def available(complaint: Complaint) -> set[str]:
    """The actions the case page shows for this case's state."""
    return {name for name in ACTIONS if allowed(name, complaint)}


@lru_cache(maxsize=2)
def _load(path: str) -> dict[str, list[dict]]:
    data = yaml.safe_load(open(path, encoding="utf-8").read()) or {}
    for department, replies in data.items():
        for entry in replies:
            missing = [lang for lang in ("key", "title", *LANGUAGES) if not entry.get(lang)]
            if missing:
                raise ValueError(f"canned_replies.yaml: {department}/{entry.get('key')} lacks {missing}")
    return data


def canned(department: str | None, path: str | None = None) -> list[dict]:
    """The department's canned replies, then those for every department."""
    data = _load(path or str(CONFIG_DIR / "canned_replies.yaml"))
    return [*data.get(department or "", []), *data.get("ALL", [])]


def canned_text(department: str | None, key: str, lang: str) -> str | None:
    for entry in canned(department):
        if entry["key"] == key:
            return entry.get(lang) or entry.get("ur" if lang == "ur-rm" else "en") or entry["en"]
    return None


def written_in(text: str) -> str | None:
    """Which of the citizen languages ``text`` looks written in: "latin" (English or Roman
    Urdu), "ur", "ps", "arabic" (Urdu or Pashto, cannot tell), or None (no letters)."""
    arabic, latin = len(_ARABIC.findall(text)), len(_LATIN.findall(text))
    if not arabic and not latin:
        return None
    if latin > arabic:
        return "latin"
    pashto, urdu = bool(_PASHTO.search(text)), bool(_URDU.search(text))
    if pashto and not urdu:
        return "ps"
    if urdu and not pashto:
        return "ur"
    return "arabic"


def language_mismatch(text: str, citizen_lang: str) -> bool:
    """Whether the officer wrote in another language than the citizen reads (English and
    Roman Urdu both count as Latin script; they cannot be told apart reliably)."""
    found = written_in(text)
    if found is None:
        return False
    if citizen_lang in ("en", "ur-rm"):
        return found != "latin"
    if found == "latin":
        return True
    return found in ("ur", "ps") and found != citizen_lang
