"""Reference data the engine matches against, held in memory (read once per process)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation.nlu import normalize
from storage.models import Category, Department, District


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
    _district_index: dict[str, str] = field(default_factory=dict)
    _latin_names: list[str] = field(default_factory=list)
    _keywords: list[tuple[str, str, int]] = field(default_factory=list)  # phrase, category, weight
    _needles: dict = field(default_factory=dict, repr=False)  # see _needle_index
    _needles_for: list | None = field(default=None, repr=False)
    _needles_count: int = field(default=-1, repr=False)

    @classmethod
    def load(cls, session: Session) -> Knowledge:
        k = cls()
        for d in session.scalars(select(District).order_by(District.name_en)):
            k.districts[d.code] = Place(d.code, d.keypad, {"en": d.name_en, "ur": d.name_ur, "ps": d.name_ps})
            for name in (d.code, d.name_en, d.name_ur, d.name_ps, *(d.aliases or [])):
                k._district_index.setdefault(normalize(str(name)), d.code)
            k._district_index.setdefault(str(d.keypad), d.code)
        k._latin_names = [n for n in k._district_index if n.isascii() and not n.isdigit()]
        first_category: dict[str, str] = {}
        for c in session.scalars(select(Category).order_by(Category.code)):
            k.categories[c.code] = Kind(c.code, c.department_code,
                                        {"en": c.name_en, "ur": c.name_ur, "ps": c.name_ps}, c.sla_days)
            k.by_department.setdefault(c.department_code, []).append(c.code)
            first_category.setdefault(c.department_code, c.code)
            for words in (c.keywords or {}).values():
                k._keywords += [(normalize(w), c.code, 3) for w in words if normalize(w)]
        for dep in session.scalars(select(Department).order_by(Department.code)):
            k.departments[dep.code] = {"en": dep.name_en, "ur": dep.name_ur, "ps": dep.name_ps}
            if dep.code in first_category:
                for words in (dep.keywords or {}).values():
                    k._keywords += [(normalize(w), first_category[dep.code], 1) for w in words if normalize(w)]
        return k

    # --- districts -----------------------------------------------------------------------

    def find_district(self, text: str) -> tuple[str | None, list[str]]:
        """A district code for the name or keypad code given, else close candidates."""
        norm = normalize(text)
        for candidate in (norm, norm.removesuffix(" district"), norm.removeprefix("district ")):
            if candidate in self._district_index:
                return self._district_index[candidate], []
        close = difflib.get_close_matches(norm, self._latin_names, n=3, cutoff=0.75)
        codes = list(dict.fromkeys(self._district_index[c] for c in close))
        if len(codes) == 1 and difflib.SequenceMatcher(None, norm, close[0]).ratio() >= 0.85:
            return codes[0], []
        return None, codes

    def district_in_text(self, text: str) -> str | None:
        """A district named anywhere in a longer text (for one-shot intake)."""
        padded = f" {normalize(text)} "
        for name, code in self._district_index.items():
            if len(name) > 3 and not name.isdigit() and f" {name} " in padded:
                return code
        return None

    # --- departments and categories -------------------------------------------------------

    def suggest_category(self, text: str) -> str | None:
        """The category whose keywords the description uses most, if any.

        A keyword counts when it appears as whole words, or (longer than 4 characters)
        anywhere in the text. Only the keywords whose first three characters occur in the
        text are checked (an index built once), not all of them."""
        padded = f" {normalize(text)} "
        index = self._needle_index()
        hits: set[int] = set()
        for i in range(len(padded) - 2):
            for position, needle in index.get(padded[i:i + 3], ()):
                if position not in hits and needle in padded:
                    hits.add(position)
        if not hits:
            return None
        scores: dict[str, int] = {}
        for position in sorted(hits):  # in keyword order, so a tie goes as it always did
            _, code, weight = self._keywords[position]
            scores[code] = scores.get(code, 0) + weight
        return max(scores.items(), key=lambda item: item[1])[0]

    def _needle_index(self) -> dict[str, list[tuple[int, str]]]:
        """First three characters -> (keyword position, the string to find). A keyword of
        more than 4 characters is found anywhere; a shorter one only between spaces."""
        if self._needles_for is not self._keywords or len(self._keywords) != self._needles_count:
            index: dict[str, list[tuple[int, str]]] = {}
            for position, (phrase, _, _) in enumerate(self._keywords):
                needle = phrase if len(phrase) > 4 else f" {phrase} "
                index.setdefault(needle[:3], []).append((position, needle))
            self._needles, self._needles_for, self._needles_count = index, self._keywords, len(self._keywords)
        return self._needles

    def name(self, kind: str, code: str | None, lang: str) -> str | None:
        if code is None:
            return None
        if kind == "district":
            return self.districts[code].names[lang]
        if kind == "department":
            return self.departments[code][lang]
        return self.categories[code].names[lang]
