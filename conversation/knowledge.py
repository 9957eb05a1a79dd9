"""Reference data the engine matches against, held in memory (read once per process)."""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation import classifier
from conversation.nlu import normalize
from storage.models import Category, Department, District

# A category at least this likely is taken without asking; below it the citizen chooses
# among the three likeliest.
CATEGORY_CONFIDENT = 0.6
# At least this likely: good enough to file a one-shot mail under it (an officer can move it).
CATEGORY_LIKELY = 0.3
# Place names that are also everyday words ("tank", "dera" a camp, "دیر" late, "talash"
# search): found when they are the whole answer, never inside a sentence.
_EVERYDAY_WORDS = frozenset({
    "tank", "bara", "tal", "dera", "wari", "topi", "talash", "swari", "munda", "ghazi", "khar",
    "dir", "regi", "kabal", "prang", "puran", "lahor", "rustam", "doaba", "ladha", "matta",
    "دیر", "ٹل", "خار", "غازی", "باڑہ", "ٹانک",
})


def _title(phrase: str) -> str:
    return phrase.title() if phrase.isascii() else phrase


@dataclass(frozen=True)
class Place:
    code: str
    keypad: int
    names: dict[str, str]  # en, ur, ps


@dataclass(frozen=True)
class Kind:
    """A category of complaint, with its department."""

    code: str
    department: str
    names: dict[str, str]
    sla_days: int


@dataclass
class Knowledge:
    districts: dict[str, Place] = field(default_factory=dict)
    departments: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> names
    categories: dict[str, Kind] = field(default_factory=dict)
    by_department: dict[str, list[str]] = field(default_factory=dict)
    models: classifier.Models | None = None
    category_examples: list = field(default_factory=list, repr=False)  # names and keywords
    _district_index: dict[str, str] = field(default_factory=dict)
    _latin_names: list[str] = field(default_factory=list)
    _in_text_names: dict[str, str] = field(default_factory=dict)  # names found inside sentences
    _one_word_names: list[str] = field(default_factory=list)
    _category_codes: set[str] = field(default_factory=set)
    _district_names: set[str] = field(default_factory=set)  # the districts' own names, spelt any way

    @classmethod
    def load(cls, session: Session, cache_dir: Path | None = None, *, trained: bool = True) -> Knowledge:
        """Reference data from the database, and the trained models (from ``cache_dir`` when
        trained before; none when not ``trained``)."""
        k = cls()
        for d in session.scalars(select(District).order_by(District.name_en)):
            k.districts[d.code] = Place(d.code, d.keypad, {"en": d.name_en, "ur": d.name_ur, "ps": d.name_ps})
            for name in (d.code, d.name_en, d.name_ur, d.name_ps, *(d.aliases or [])):
                k._district_index.setdefault(normalize(str(name)), d.code)
            for name in (d.name_en, d.name_ur, d.name_ps):
                k._district_names.add(normalize(name))
            k._district_index.setdefault(str(d.keypad), d.code)
        k._latin_names = [n for n in k._district_index if n.isascii() and not n.isdigit()]
        k._in_text_names = {n: c for n, c in k._district_index.items()
                            if not n.isdigit() and len(n) >= 3 and n not in _EVERYDAY_WORDS}
        k._one_word_names = [n for n in k._in_text_names if " " not in n and len(n) >= 5]
        # The categories' own names and keywords are training examples too: an operator who
        # adds a category with keywords gets it understood without writing a corpus.
        extra: list[classifier.Example] = []
        for c in session.scalars(select(Category).order_by(Category.code)):
            k.categories[c.code] = Kind(c.code, c.department_code,
                                        {"en": c.name_en, "ur": c.name_ur, "ps": c.name_ps}, c.sla_days)
            k.by_department.setdefault(c.department_code, []).append(c.code)
            extra += [classifier.Example(name, c.code, "names") for name in (c.name_en, c.name_ur, c.name_ps)]
            for words in (c.keywords or {}).values():
                extra += [classifier.Example(str(w), c.code, "keywords") for w in words]
        for dep in session.scalars(select(Department).order_by(Department.code)):
            k.departments[dep.code] = {"en": dep.name_en, "ur": dep.name_ur, "ps": dep.name_ps}
        k._category_codes = set(k.categories)
        k.category_examples = extra
        if k.categories and trained:
            k.models = classifier.models(extra, cache_dir)
        return k

    # --- districts -----------------------------------------------------------------------

    def find_district(self, text: str) -> tuple[str | None, list[str]]:
        """A district code for the name or keypad code given, else close candidates."""
        norm = normalize(text)
        for candidate in (norm, norm.removesuffix(" district"), norm.removeprefix("district ")):
            if candidate in self._district_index:
                return self._district_index[candidate], []
        if code := self.district_in_text(text):  # "in Mingora near the chowk"
            return code, []
        close = difflib.get_close_matches(norm, self._latin_names, n=3, cutoff=0.75)
        codes = list(dict.fromkeys(self._district_index[c] for c in close))
        if len(codes) == 1 and difflib.SequenceMatcher(None, norm, close[0]).ratio() >= 0.85:
            return codes[0], []
        return None, codes

    def district_in_text(self, text: str) -> str | None:
        """The district of a district, tehsil or town named anywhere in a sentence, spelt
        right or a little wrong, in Latin or Arabic script; the longest name found wins
        ("Hayatabad" -> Peshawar, "Mingora" -> Swat, "nathiagali" -> Abbottabad)."""
        found = self.place_in_text(text)
        return found[0] if found else None

    def place_in_text(self, text: str) -> tuple[str, str | None] | None:
        """(district code, the town as written when the sentence names a town or tehsil
        rather than the district itself), or None when no place is named."""
        words = normalize(text).split()
        best: tuple[int, str, str] | None = None
        for size in (3, 2, 1):
            for i in range(len(words) - size + 1):
                phrase = " ".join(words[i:i + size])
                code = self._in_text_names.get(phrase)
                if code and (best is None or len(phrase) > best[0]):
                    best = (len(phrase), code, phrase)
        if best is None:
            best = self._fuzzy_in_text(words)
        if best is None:
            return None
        _, code, phrase = best
        return code, (None if phrase in self._district_names else _title(phrase))

    def _fuzzy_in_text(self, words: list[str]) -> tuple[int, str, str] | None:
        """A misspelt name: the closest one-word name to a word (or to two words written
        together: "nathia gali" / "nathiagali"), when close enough. Short words are never
        guessed at: too many everyday words are a letter away from a place."""
        best: tuple[float, str, str] | None = None
        candidates = [*words, *(a + b for a, b in itertools.pairwise(words))]
        for word in candidates:
            if len(word) < 6 or word in _EVERYDAY_WORDS:
                continue
            found = process.extractOne(word, self._one_word_names, scorer=fuzz.ratio,
                                        score_cutoff=88 if len(word) >= 7 else 90)
            if found and (best is None or found[1] > best[0]):
                best = (found[1], self._in_text_names[found[0]], found[0])
        return (0, best[1], best[2]) if best else None

    # --- departments and categories -------------------------------------------------------

    def rank_categories(self, text: str, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` likeliest categories of a description, with the model's probabilities."""
        if self.models is None or not text.strip():
            return []
        return self.models.categories.top(text, n, among=self._category_codes)

    def suggest_category(self, text: str, min_confidence: float = CATEGORY_LIKELY) -> str | None:
        """The likeliest category, if the model gives it at least ``min_confidence``."""
        ranked = self.rank_categories(text, 1)
        return ranked[0][0] if ranked and ranked[0][1] >= min_confidence else None

    def name(self, kind: str, code: str | None, lang: str) -> str | None:
        if code is None:
            return None
        # Roman Urdu readers get the Latin (English) names of places and offices.
        if kind == "district":
            names = self.districts[code].names
        elif kind == "department":
            names = self.departments[code]
        else:
            names = self.categories[code].names
        return names.get(lang) or names["en"]
