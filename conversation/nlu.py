"""Understanding a message: intent and entities, in English, Urdu, Pashto and Roman Urdu.

Rule-based on purpose: the vocabulary of a complaint line is small, and rules are fast,
explainable and testable. Commands count only in short messages, so a long description
that happens to contain "help" or "no" stays a description.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from storage import tracking

_TASHKEEL = re.compile(r"[\u064B-\u065F\u0670\u06D6-\u06ED]")
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")
_ARABIC_FOLD = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ہ", "ۀ": "ہ", "أ": "ا", "إ": "ا", "آ": "آ"})

_WORDS: dict[str, tuple[str, ...]] = {
    "greet": ("hi", "hello", "hey", "salam", "salaam", "assalam", "assalamualaikum", "aoa", "menu",
              "start", "سلام", "السلام علیکم", "اسلام علیکم", "ہیلو", "مینو", "شروع"),
    "new_complaint": ("complaint", "new complaint", "new", "file complaint", "register complaint",
                      "shikayat", "shikayat darj", "nayi shikayat", "naya", "شکایت", "نئی شکایت",
                      "شکایت درج", "نوې شکایت", "نوی شکایت"),
    "status": ("status", "track", "tracking", "check status", "where is my complaint", "progress",
               "kya bana", "surat e hal", "صورتحال", "صورت حال", "سٹیٹس", "حالت", "شکایت کا کیا بنا"),
    "help": ("help", "madad", "?", "مدد", "مرسته", "info"),
    "affirm": ("yes", "y", "yeah", "yep", "ok", "okay", "sure", "correct", "right", "satisfied",
               "haan", "han", "ha", "ji", "jee", "haanji", "hanji", "haan ji", "han ji", "ji haan", "theek", "thik",
               "theek hai", "sahi", "mutmain", "ہاں", "جی", "جی ہاں", "ہاں جی", "ٹھیک", "ٹھیک ہے",
               "درست", "صحیح", "مطمئن", "هو", "ښه", "بلې", "سمه ده", "سم دی"),
    "deny": ("no", "n", "nope", "not", "not satisfied", "unsatisfied", "wrong", "nahi", "nahin",
             "nai", "nhi", "na", "ghalat", "galat", "nahi mutmain", "نہیں", "نہ", "نا", "غلط",
             "مطمئن نہیں", "نه", "نا مطمئن", "نه یم مطمئن"),
    "cancel": ("cancel", "quit", "exit", "end", "khatam", "band karo", "mansookh", "منسوخ", "ختم",
               "بس", "لغوه", "بند"),
    "change_language": ("language", "lang", "zuban", "zaban", "زبان", "ژبه"),
    "skip": ("skip", "none", "-", "chodo", "chhodo", "chorein", "چھوڑیں", "چھوڑو", "پرېږده", "هیڅ"),
}
_LANGUAGE_NAMES = {
    "english": "en", "angrezi": "en", "انگریزی": "en", "انګلیسي": "en",
    "urdu": "ur", "اردو": "ur",
    "pashto": "ps", "pushto": "ps", "pakhto": "ps", "پښتو": "ps", "پشتو": "ps",
}


def normalize(text: str) -> str:
    """Lower case, Arabic letter forms folded, diacritics and punctuation dropped."""
    text = unicodedata.normalize("NFKC", text).translate(_ARABIC_FOLD)
    text = _TASHKEEL.sub("", text).lower()
    text = tracking.to_latin_digits(text)
    text = _PUNCT.sub(" ", text).replace("_", " ")
    return _SPACES.sub(" ", text).strip()


def _build_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for intent, words in _WORDS.items():
        for word in words:
            index.setdefault(normalize(word) or word, intent)
    return index


_INDEX = _build_index()
_NOTHING = tracking.Found(None)
_EMOJI_ONLY = re.compile(r"^[\W_]*$", re.UNICODE)


@dataclass(frozen=True)
class Understanding:
    text: str  # the message as sent, stripped
    normalized: str
    intent: str | None  # greet, new_complaint, status, help, affirm, deny, cancel, change_language, skip
    number: int | None = None  # a bare number: a menu choice
    language: str | None = None  # the name of a language ("urdu", "پښتو")
    tracking: tracking.Found = _NOTHING
    rest: str = ""  # what follows a leading yes/no: "no, still no water" -> "still no water"

    @property
    def empty(self) -> bool:
        return not self.text

    @property
    def has_words(self) -> bool:
        return bool(self.normalized) and not _EMOJI_ONLY.match(self.text)


def understand(text: str, prefix: str = "KP") -> Understanding:
    stripped = text.strip()
    norm = normalize(stripped)
    found = tracking.find(stripped, prefix)
    number = int(norm) if norm.isdigit() and len(norm) <= 2 else None
    language = _LANGUAGE_NAMES.get(norm)
    intent = _INDEX.get(norm)
    rest = ""
    words = norm.split()
    if intent is None and words:
        # "no, the water still does not come": a leading yes/no with a reason behind it.
        for size in (3, 2, 1):
            head = " ".join(words[:size])
            if len(words) > size and _INDEX.get(head) in ("affirm", "deny"):
                intent = _INDEX[head]
                rest = _after_words(stripped, size)
                break
    if intent is None and (found.number or found.mistyped) and len(words) <= 6:
        intent = "status"
    return Understanding(stripped, norm, intent, number, language, found, rest)


def _after_words(text: str, count: int) -> str:
    """The original text after its first ``count`` words, punctuation trimmed."""
    parts = re.split(r"[\s,.;:!،۔]+", text, maxsplit=count)
    return parts[count].strip(" ,.;:!،۔-") if len(parts) > count else ""


def is_yes(u: Understanding) -> bool:
    return u.intent == "affirm" or u.number == 1


def is_no(u: Understanding) -> bool:
    return u.intent == "deny" or u.number == 2
