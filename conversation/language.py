"""Which language a citizen writes: Urdu or Pashto in Arabic script, English or Roman Urdu.

A conversation's language is chosen from all the citizen's messages so far (``vote``):
each message adds its letters to its language's tally, older messages weigh a little less,
and the language with the most wins. One English word in a Pashto conversation, or a
tracking number typed in Urdu digits in an English one, does not switch it.
"""

from __future__ import annotations

import re

# Letters Pashto has and Urdu does not.
_PASHTO_LETTERS = set("ټډړږښګڼېۍځڅ")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[a-z']+")

# Frequent Roman Urdu words that are not English words.
ROMAN_URDU = frozenset("""
aap ap apka apki apne hai hain hay hy ha nahi nahin nai nhi kya kia kyun kab kahan mera meri mere
hamara hamari humara hum main mein mai mujhe mujhay ko ka ki ke se sy tak par pe aur ya bhi
shikayat shikait shikayit masla maslah paani pani bijli gali sarak sadak thana thanay kuch
raha rahi rahe gaya gayi gaye hua hui huay karo karein kar kardo chahiye chahye abhi tak
jee ji haan han hanji shukriya meherbani mehrbani bohat bahut bht wala wali wale walay
""".split())


def detect(text: str) -> str | None:
    """'ur', 'ps' or 'en' for text that says enough; None for digits, emoji and the like."""
    arabic = _ARABIC.findall(text)
    latin = _LATIN.findall(text)
    if not arabic and not latin:
        return None
    if len(arabic) >= len(latin):
        return "ps" if any(ch in _PASHTO_LETTERS for ch in text) else "ur"
    words = _WORD.findall(text.lower())
    if words and sum(w in ROMAN_URDU for w in words) * 3 >= len(words):
        return "ur"
    return "en"


# Frequent Roman Pashto words: a Pashto writer in Latin letters is answered in Pashto.
ROMAN_PASHTO = frozenset("""
za zama zamung ta ye de da di dai ke kay pa la sara nishta shta na ho kha wror wrora wrorah
kawam kawi kawe ghwaram ghwari razi na razi oba bijli sarak wakhlai wakai krai kegi shwe sho
tsa tsanga cherta manana starey staray mashoman kor kali ghar
""".split())
ROMAN_URDU_CODE = "ur-rm"  # conversation.catalog.ROMAN_URDU
_DECAY = 0.85  # how much an earlier message still counts against the latest
# Frequent Pashto words without a letter Urdu lacks (written with the Arabic heh, ه, where
# Urdu writes ہ).
_PASHTO_WORDS = frozenset("نشته شته زما ستاسو زموږ کې دی ده دي په هو اوبه مننه ورور څه ولې راځي".split())


def classify(text: str) -> str | None:
    """'en', 'ur', 'ps' or 'ur-rm' (Roman Urdu) for a chat message; None when it has no
    letters (digits, Urdu digits, emoji). Roman Pashto counts as Pashto."""
    arabic = sum(1 for ch in _ARABIC.findall(text) if ch.isalpha())
    latin = len(_LATIN.findall(text))
    if not arabic and not latin:
        return None
    if arabic >= latin:
        if any(ch in _PASHTO_LETTERS for ch in text) or _PASHTO_WORDS.intersection(text.split()):
            return "ps"
        return "ur"
    words = [w for w in _WORD.findall(text.lower()) if w != "kp"]
    if not words:
        return None
    urdu = sum(w in ROMAN_URDU for w in words)
    pashto = sum(w in ROMAN_PASHTO and w not in ROMAN_URDU for w in words)
    if pashto * 3 >= len(words) and pashto > urdu:
        return "ps"
    if urdu * 3 >= len(words):
        return ROMAN_URDU_CODE
    return "en"


def vote(tally: dict[str, float] | None, text: str) -> tuple[str | None, dict[str, float]]:
    """Add one message to the conversation's tally; returns (the leading language, tally)."""
    tally = {lang: round(weight * _DECAY, 3) for lang, weight in (tally or {}).items()}
    lang = classify(text)
    if lang is not None:
        # A long message counts more than a "yes", but not without bound.
        tally[lang] = tally.get(lang, 0.0) + min(sum(ch.isalpha() for ch in text), 60)
    leader = max(tally.items(), key=lambda item: item[1])[0] if tally else None
    return leader, tally


def is_roman_urdu(text: str) -> bool:
    words = _WORD.findall(text.lower())
    return bool(words) and sum(w in ROMAN_URDU for w in words) * 3 >= len(words)
