"""Understanding a message: intent and entities, in English, Urdu, Pashto and Roman Urdu.

Two layers: a table of exact short answers ("yes", "ہاں", "1", "status") read first,
because a one-word answer is unambiguous and a table is explainable; then the trained
intent model (conversation.classifier) for everything else, with its confidence, so a
sentence like "what is the status of my complaint?" or "mujhe apni shikayat wapas leni
hai" is understood wherever the words stand.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage import tracking

if TYPE_CHECKING:
    from conversation.classifier import TextModel

# Below this probability the model's intent is not taken (the engine asks instead).
INTENT_CONFIDENT = 0.5
# What the model may read a "yes, ..." or "no, ..." with a reason as, and it stays a yes or no.
_SAME_ANSWER = {"affirm": ("affirm", "satisfied", "thanks", "describe", "add_info"),
                "deny": ("deny", "not_satisfied", "describe", "add_info")}

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
               "theek hai", "sahi", "mutmain", "bilkul", "kha", "bale", "بالکل", "ہاں", "جی", "جی ہاں", "ہاں جی", "ٹھیک", "ٹھیک ہے",
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
    "roman urdu": "ur-rm", "roman": "ur-rm",
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
# "am", "is", "are" after a yes or no ("mutmain nahi hun", "مطمئن نه یم"): no reason given.
_COPULAS = frozenset({"hun", "hoon", "hu", "hon", "hai", "hain", "ہوں", "ہے", "ہیں", "yam", "yum", "یم",
                      "de", "da", "دی", "ده", "am", "i am", "it is", "is", "i am not", "it is not",
                      "its not", "not", "sir", "ji", "جی", "janab", "جناب"})
_NOTHING = tracking.Found(None)
_EMOJI_ONLY = re.compile(r"^[\W_]*$", re.UNICODE)


@dataclass(frozen=True)
class Understanding:
    text: str  # the message as sent, stripped
    normalized: str
    # greet, new_complaint, describe, status, help, affirm, deny, cancel, change_language, skip,
    # withdraw, satisfied, not_satisfied, add_info, thanks
    intent: str | None
    number: int | None = None  # a bare number: a menu choice
    language: str | None = None  # the name of a language ("urdu", "پښتو")
    tracking: tracking.Found = _NOTHING
    rest: str = ""  # what follows a leading yes/no: "no, still no water" -> "still no water"
    source: str = "rule"  # "rule": the table of short answers; "model": the trained model
    ranked: tuple[tuple[str, float], ...] = ()  # the model's best intents, with probabilities

    @property
    def confidence(self) -> float:
        return 1.0 if self.source == "rule" else (self.ranked[0][1] if self.ranked else 0.0)

    @property
    def empty(self) -> bool:
        return not self.text

    @property
    def has_words(self) -> bool:
        return bool(self.normalized) and not _EMOJI_ONLY.match(self.text)


def understand(text: str, prefix: str = "KP", model: TextModel | None = None) -> Understanding:
    """What the message says; ``model`` (the trained intent model) reads what the table of
    short answers does not know."""
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
                if intent == "affirm" and _INDEX.get(words[size]) == "deny":
                    # "ji nahi", "مطمئن نه یم", "satisfied? no": the word after a polite "ji"
                    # or after "satisfied" negates it; it is a no.
                    intent, size = "deny", size + 1
                rest = _after_words(stripped, size)
                tail = normalize(rest)
                if tail in _COPULAS:
                    rest = ""  # "mutmain nahi hun": the "hun" is no reason
                elif _INDEX.get(tail) not in (None, "affirm", "deny"):
                    intent, rest = _INDEX[tail], ""  # "جی سلام", "ji status": the polite "ji" and a word
                break
    if rest and len(rest.split()) >= 3 and model is not None:
        # "no, the water still does not come" stays a no with its reason; but when the model
        # reads the whole as a command or as the opposite answer ("no, what is the status?"),
        # the model's reading is taken (the reason stays in ``rest``).
        ranked = model.top(stripped, 3)
        if ranked and ranked[0][1] >= INTENT_CONFIDENT and ranked[0][0] not in _SAME_ANSWER[intent]:
            intent = None
    if intent is None and model is not None and number is None and any(ch.isalpha() for ch in norm):
        ranked = tuple(model.top(stripped, 3))
        if ranked:
            best, p = ranked[0]
            intent = best if p >= INTENT_CONFIDENT else None
            if (found.number or found.mistyped) and len(words) <= 6 and intent in (None, "describe"):
                intent = "status"  # "KP-1234567 ?" asks about that complaint
            return Understanding(stripped, norm, intent, number, language, found, rest, "model", ranked)
    if intent is None and (found.number or found.mistyped) and len(words) <= 6:
        intent = "status"
    return Understanding(stripped, norm, intent, number, language, found, rest)


def _after_words(text: str, count: int) -> str:
    """The original text after its first ``count`` words, punctuation trimmed."""
    parts = re.split(r"[\s,.;:!،۔]+", text, maxsplit=count)
    return parts[count].strip(" ,.;:!،۔-") if len(parts) > count else ""


# The word a citizen replies to keep a complaint against an officer or the department
# confidential (English, Urdu, Pashto, Roman Urdu, as the mail acknowledgement offers it).
_CONFIDENTIAL = frozenset(normalize(w) for w in (
    "confidential", "confidentially", "khufia", "khufiya", "khufya", "razdari", "raazdari",
    "خفیہ", "رازداری", "پټ", "محرمانه"))
_CONFIDENTIAL_WORDS_MAX = 8  # longer is a comment that happens to use the word, not the answer


def asks_confidential(u: Understanding) -> bool:
    """A short answer carrying the confidentiality word ("Confidential", "خفیہ رکھیں", "پټ")."""
    words = u.normalized.split()
    return 0 < len(words) <= _CONFIDENTIAL_WORDS_MAX and any(w in _CONFIDENTIAL for w in words)


def is_yes(u: Understanding) -> bool:
    return u.intent == "affirm" or u.number == 1


def is_no(u: Understanding) -> bool:
    return u.intent == "deny" or u.number == 2
