"""Likely duplicate complaints: the same problem at the same place, reported by several
citizens, on any channel and in any of English, Urdu script, Roman Urdu or Pashto.

Two complaints are compared only within one district and one category, and only when filed
within ``WINDOW`` of each other. Their texts are reduced to a consonant skeleton in Latin
letters (Urdu and Pashto letters transliterated, vowels and vowel letters dropped, doubled
letters collapsed) so that "Gulbahar", "Gul Bahaar" and "گلبہار" agree, then compared by
TF-IDF over character 2-4-grams (cosine), IDF learnt from the complaints being compared so
that what every complaint of the category says ("no water", "pani nahi") weighs little.
When both gave a location (the form's location_detail), the place decides most of the
score. Where both have a location pin, a near pin adds to the score and a far one rules the
pair out. A new complaint joins the cluster of its best match above ``THRESHOLD``; the match
explains itself by the n-grams the two share. Confidential complaints are never clustered:
a cluster lists its members' tracking numbers to every officer who sees one of them.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import clusters
from storage.clusters import IssueCluster
from storage.models import OPEN_STATES, Complaint

MODEL_VERSION = "dup-charwb24-skeleton-v1"
WINDOW = timedelta(days=14)
THRESHOLD = 0.57
PLACE_WEIGHT = 0.85
NEAR_KM, FAR_KM = 0.5, 2.0
NEAR_BONUS = 0.15
MAX_CANDIDATES = 500

# Arabic-script letters (Urdu, Pashto) to the Latin consonants Roman Urdu writes for them.
# Vowel letters (alif, waw, ye, bari ye, hamza, ain) map to nothing, like Latin vowels below.
_SCRIPT = {
    "ب": "b", "پ": "p", "ت": "t", "ٹ": "t", "ټ": "t", "ط": "t", "ث": "s", "س": "s", "ص": "s",
    "ج": "j", "چ": "ch", "ح": "h", "ہ": "h", "ھ": "h", "ه": "h", "ۀ": "h", "ۂ": "h", "خ": "kh",
    "د": "d", "ڈ": "d", "ډ": "d", "ذ": "z", "ز": "z", "ض": "z", "ظ": "z", "ر": "r", "ڑ": "r",
    "ړ": "r", "ژ": "zh", "ږ": "zh", "ش": "sh", "ښ": "sh", "غ": "gh", "ف": "f", "ق": "q",
    "ک": "k", "ك": "k", "گ": "g", "ګ": "g", "ل": "l", "م": "m", "ن": "n", "ں": "n", "ڼ": "n",
    "څ": "ts", "ځ": "dz", "ا": "", "آ": "", "أ": "", "إ": "", "و": "", "ؤ": "", "ی": "",
    "ي": "", "ى": "", "ے": "", "ۓ": "", "ې": "", "ۍ": "", "ئ": "", "ء": "", "ع": "", "ة": "h",
}
_DIGITS = {ord(d): str(i) for i, d in enumerate("۰۱۲۳۴۵۶۷۸۹")} | {
    ord(d): str(i) for i, d in enumerate("٠١٢٣٤٥٦٧٨٩")}
_TABLE = str.maketrans({**{ord(k): v for k, v in _SCRIPT.items()}, **_DIGITS,
                        **{ord(v): "" for v in "aeiouwy"}})
_MARKS = re.compile("[\u0300-\u036f\u064b-\u065f\u0670\u06d6-\u06ed]")
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")
_DOUBLED = re.compile(r"([a-z])\1+")
# A final h is a vowel sign in Urdu (محلہ) and optional in Roman Urdu (mohalla, mohallah).
_FINAL_H = re.compile(r"(?<=[a-z])h\b")
_SPACES = re.compile(r"\s+")


def skeleton(text: str) -> str:
    """The consonant skeleton of ``text`` in Latin letters, the same across scripts."""
    # Drop the diacritics (zer, zabar, pesh; Latin accents) before transliterating.
    text = _MARKS.sub("", unicodedata.normalize("NFKD", text).lower())
    text = _NOT_WORD.sub(" ", text.translate(_TABLE))
    text = _FINAL_H.sub("", _DOUBLED.sub(r"\1", text))
    return _SPACES.sub(" ", text).strip()


def haversine_km(lat1: np.ndarray | float, lon1: np.ndarray | float,
                 lat2: np.ndarray | float, lon2: np.ndarray | float) -> np.ndarray:
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _joined(place: str) -> str:
    return skeleton(place).replace(" ", "")


_WORD_GRAMS = CountVectorizer(analyzer="char_wb", ngram_range=(2, 4), preprocessor=skeleton).build_analyzer()
_PLACE_GRAMS = CountVectorizer(analyzer="char", ngram_range=(2, 4), preprocessor=_joined).build_analyzer()


# An open complaint is compared again with every new one of its series for two weeks: its
# n-grams are worked out once per process, not once per comparison.
@functools.lru_cache(maxsize=50_000)
def _word_grams(text: str) -> list[str]:
    return _WORD_GRAMS(text)


@functools.lru_cache(maxsize=50_000)
def _place_grams(text: str) -> list[str]:
    return _PLACE_GRAMS(text)


def _vectorizer() -> CountVectorizer:
    return CountVectorizer(analyzer=_word_grams, dtype=np.float32)


def _location_adjustment(lat_a, lon_a, lat_b, lon_b) -> np.ndarray:
    """+NEAR_BONUS for pins within NEAR_KM, -inf beyond FAR_KM, 0 when either pin is unknown."""
    lat_a, lon_a, lat_b, lon_b = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                                       for v in (lat_a, lon_a, lat_b, lon_b)))
    known = ~(np.isnan(lat_a) | np.isnan(lat_b))
    adj = np.zeros(lat_a.shape)
    if known.any():
        d = haversine_km(lat_a[known], lon_a[known], lat_b[known], lon_b[known])
        adj[known] = np.where(d <= NEAR_KM, NEAR_BONUS, np.where(d > FAR_KM, -np.inf, 0.0))
    return adj


@dataclass
class _Block:
    """Complaints vectorised together, in one vocabulary: the whole text (description and
    place), the place alone when they gave one, and that place weighted like a text."""

    text: Any
    place: Any
    place_as_text: Any
    has_place: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    vectorizer: CountVectorizer

    @classmethod
    def of(cls, texts: Sequence[str], places: Sequence[str | None],
           lats: Sequence[float | None], lons: Sequence[float | None]) -> _Block | None:
        """None when the texts have not one letter or digit to compare."""
        vectorizer = _vectorizer()
        n = len(texts)
        try:
            counts = vectorizer.fit_transform([*texts, *(p or "" for p in places)])
        except ValueError:
            return None
        described, placed = counts[:n], counts[n:]
        as_text = TfidfTransformer(sublinear_tf=True).fit(described + placed)
        text = as_text.transform(described + placed)
        try:
            # Places compared without spaces: "Gul Bahar Kalay" is "گلبہارکلے".
            place = TfidfVectorizer(analyzer=_place_grams, sublinear_tf=True, dtype=np.float32,
                                    ).fit_transform([p or "" for p in places])
        except ValueError:  # nobody gave a place
            place = placed[:, :0]
        return cls(text, place, as_text.transform(placed), np.asarray(placed.sum(axis=1)).ravel() > 0,
                   np.array([_nan(v) for v in lats]), np.array([_nan(v) for v in lons]), vectorizer)

    def scores(self, rows: slice | list[int], cols: slice | list[int]) -> np.ndarray:
        """Rows × cols: the place decides when both gave one; when only one did, that place
        is looked for in the other's text; else the texts are compared."""
        text = (self.text[rows] @ self.text[cols].T).toarray()
        place = (self.place[rows] @ self.place[cols].T).toarray()
        mine, theirs = self.has_place[rows][:, None], self.has_place[cols][None, :]
        cross = np.where(mine & ~theirs, (self.place_as_text[rows] @ self.text[cols].T).toarray(),
                         np.where(~mine & theirs,
                                  (self.text[rows] @ self.place_as_text[cols].T).toarray(), 0.0))
        score = np.where(mine & theirs, PLACE_WEIGHT * place + (1 - PLACE_WEIGHT) * text,
                         np.maximum(text, cross))
        return score + _location_adjustment(self.lat[rows][:, None], self.lon[rows][:, None],
                                            self.lat[cols][None, :], self.lon[cols][None, :])


def _shared_ngrams(vectorizer: CountVectorizer, a, b, top: int = 6) -> list[str]:
    """The n-grams that contribute most to the similarity of rows ``a`` and ``b``."""
    product = a.multiply(b).tocoo()
    if product.nnz == 0:
        return []
    names = vectorizer.get_feature_names_out()
    order = np.argsort(-product.data)
    grams = [names[product.col[i]].strip() for i in order]
    # Digits could be part of a phone or CNIC number: an explanation never shows them.
    return [g for g in dict.fromkeys(grams) if len(g) >= 3 and not any(c.isdigit() for c in g)][:top]


# --- batch (benchmark, backfill) ------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """What clustering needs of a complaint; ``day`` is days since any fixed epoch."""

    id: int
    district: str | None
    category: str | None
    text: str
    day: float
    lat: float | None = None
    lon: float | None = None
    location: str | None = None  # the place as the citizen gave it (location_detail)


def cluster_records(records: Sequence[Record], *, threshold: float = THRESHOLD,
                    window_days: float = WINDOW.days, chunk: int = 512) -> list[int]:
    """A cluster label per record (the position of the cluster's first record), as if each
    record had been assigned on arrival: it joins the cluster of its best earlier match of
    the same district and category within the window, when that scores ``threshold``."""
    labels = list(range(len(records)))
    blocks: dict[tuple[str | None, str | None], list[int]] = {}
    for i, r in enumerate(records):
        blocks.setdefault((r.district, r.category), []).append(i)
    for members in blocks.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: (records[i].day, i))
        days = np.array([records[i].day for i in members])
        block = _Block.of([records[i].text for i in members], [records[i].location for i in members],
                          [records[i].lat for i in members], [records[i].lon for i in members])
        if block is None:
            continue
        starts = np.searchsorted(days, days - window_days, side="left")
        for a in range(1, len(members), chunk):
            b = min(a + chunk, len(members))
            lo = int(starts[a])
            if lo >= b - 1:
                continue
            scores = block.scores(slice(a, b), slice(lo, b - 1))
            rows = np.arange(a, b)[:, None]
            cols = np.arange(lo, b - 1)[None, :]
            scores[(cols >= rows) | (cols < starts[a:b, None])] = -np.inf
            best = scores.argmax(axis=1)
            best_score = scores[np.arange(b - a), best]
            for k in np.flatnonzero(best_score >= threshold):
                labels[members[a + k]] = labels[members[lo + best[k]]]
    return labels


# --- incremental (one new complaint, against the database) ---------------------------------


def best_match(text: str, place: str | None, lat: float | None, lon: float | None,
               texts: Sequence[str], places: Sequence[str | None], lats: Sequence[float | None],
               lons: Sequence[float | None], threshold: float = THRESHOLD,
               ) -> tuple[int, float, list[str]] | None:
    """The candidate that a complaint (``text``, ``place``, pin) most resembles, its score
    and the n-grams they share; None when no candidate scores ``threshold``."""
    if not texts:
        return None
    block = _Block.of([text, *texts], [place, *places], [lat, *lats], [lon, *lons])
    if block is None:
        return None
    scores = block.scores([0], slice(1, None)).ravel()
    best = int(scores.argmax())
    if scores[best] < threshold:
        return None
    return best, float(scores[best]), _shared_ngrams(block.vectorizer, block.text[0], block.text[best + 1])


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _candidates(session: Session, complaint: Complaint) -> list:
    """The columns clustering reads of each candidate, not whole complaints: loading and
    tracking ORM objects cost a fifth of a job's time with 150 candidates."""
    since = (complaint.created_at or datetime.now().astimezone()) - WINDOW
    query = (select(Complaint.id, Complaint.tracking_number, Complaint.description,
                    Complaint.location_detail, Complaint.latitude, Complaint.longitude)
             # Earlier complaints only: a job that runs late decides as it would have on arrival.
             .where(Complaint.id < complaint.id, Complaint.district_code == complaint.district_code,
                    Complaint.state.in_(OPEN_STATES), Complaint.created_at >= since,
                    Complaint.confidential.is_(False))
             .order_by(Complaint.created_at.desc()).limit(MAX_CANDIDATES))
    query = query.where(Complaint.category_code.is_(None) if complaint.category_code is None
                        else Complaint.category_code == complaint.category_code)
    return list(session.execute(query))


def assign_to_cluster(session: Session, complaint: Complaint) -> IssueCluster | None:
    """Put a new complaint in the cluster of the open complaint of its district and category
    that it most resembles (starting a cluster with that one when it has none), or return
    None when nothing filed within the window resembles it enough. The cluster is written by
    storage.clusters; this module only reads and decides."""
    if complaint.district_code is None or complaint.confidential:
        return None
    clusters.lock_series(session, complaint.district_code, complaint.category_code)
    own = clusters.cluster_of(session, complaint.id)
    if own is not None:
        return own
    candidates = _candidates(session, complaint)
    found = best_match(complaint.description, complaint.location_detail, complaint.latitude,
                       complaint.longitude, [c.description for c in candidates],
                       [c.location_detail for c in candidates], [c.latitude for c in candidates],
                       [c.longitude for c in candidates])
    if found is None:
        return None
    best, score, shared = found
    match = candidates[best]
    reason = {"similarity": round(score, 3), "shared_ngrams": shared,
              "matched": [match.tracking_number, complaint.tracking_number],
              "window_days": WINDOW.days, "threshold": THRESHOLD}
    return clusters.join(session, complaint, match, score, reason, MODEL_VERSION)
