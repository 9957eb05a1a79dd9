"""Which language a citizen writes: Urdu or Pashto in Arabic script, English or Roman Urdu."""

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


def is_roman_urdu(text: str) -> bool:
    words = _WORD.findall(text.lower())
    return bool(words) and sum(w in ROMAN_URDU for w in words) * 3 >= len(words)
