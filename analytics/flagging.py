"""A yes/no question about a citizen's text, answered by a model that says why: character
n-grams inside words (misspellings and Roman Urdu's many spellings meet), optional signal
words grouped by meaning in every language and spelling, and a logistic regression whose
threshold is the best F1 over five folds of its own training examples.

Used by analytics/urgency.py (does this complaint need attention first?) and
analytics/tone.py (is this not-satisfied reason upset?). Each answer names the words that
drove it and the model's version and training time.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

SIGNAL_WEIGHT = 1.0  # a signal counts like a strong n-gram
_MARKS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")  # Arabic-script diacritics
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    lang: str


@dataclass(frozen=True)
class Answer:
    score: float  # the model's probability of the positive label, 0..1
    yes: bool  # score at or above the model's threshold
    words: tuple[str, ...]  # the words that drove the score up, strongest first
    signals: tuple[str, ...]  # the signal groups the text names


def normalize(text: str) -> str:
    """Lower case, compatibility forms, no diacritics; Arabic yeh/kaf written the Urdu way."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _MARKS.sub("", text).replace("\u064a", "\u06cc").replace("\u0643", "\u06a9")
    return " ".join(_WORD.findall(text))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def examples(path: Path, section: str, labels: Sequence[str]) -> list[Example]:
    data = load(path)[section]
    unknown = set(data) - set(labels)
    if unknown:
        raise ValueError(f"{path.name}: unknown labels {sorted(unknown)}")
    return [Example(str(text), label, lang)
            for label, by_lang in data.items() for lang, texts in by_lang.items() for text in texts]


def split(rows: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held out): every fourth example of each label in each language is held out,
    so every language is measured and the model never sees what it is measured on."""
    seen: Counter = Counter()
    train, test = [], []
    for e in rows:
        seen[e.label, e.lang] += 1
        (test if seen[e.label, e.lang] % 4 == 0 else train).append(e)
    return train, test


def signal_patterns(groups: dict[str, list[str]]) -> dict[str, re.Pattern]:
    """Each group's terms as one pattern matching at the start of a normalized word."""
    return {name: re.compile("(?:^| )(?:" + "|".join(re.escape(normalize(t)) for t in terms) + ")")
            for name, terms in groups.items()}


class FlagModel:
    """The fitted model and what explaining needs. ``combined`` names signal pairs that
    together make a signal of their own (no water + for days)."""

    def __init__(self, rows: Sequence[Example], positive: str, version: str,
                 signals: dict[str, list[str]] | None = None,
                 combined: dict[str, tuple[str, str]] | None = None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.positive = positive
        self.patterns = signal_patterns(signals or {})
        self.combined = combined or {}
        self.names = [*self.patterns, *self.combined]
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                          preprocessor=normalize, sublinear_tf=True, min_df=1)
        self.vectorizer.fit([e.text for e in rows])
        self.classifier = LogisticRegression(C=8.0, class_weight="balanced", max_iter=2000)
        self.classifier.fit(self._features([e.text for e in rows]), [e.label == positive for e in rows])
        self.threshold = self._threshold(rows)
        digest = hashlib.sha256("\n".join(f"{e.label}\t{e.text}" for e in rows).encode())
        trained = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.version = f"{version}+{digest.hexdigest()[:8]} trained {trained}"

    def signals_in(self, normalized: str) -> tuple[str, ...]:
        found = [name for name, pattern in self.patterns.items() if pattern.search(normalized)]
        found += [name for name, (a, b) in self.combined.items() if a in found and b in found]
        return tuple(found)

    def _fold(self, rows: Sequence[Example]) -> FlagModel:
        from sklearn.base import clone
        from sklearn.feature_extraction.text import TfidfVectorizer

        fold = FlagModel.__new__(FlagModel)
        fold.positive, fold.patterns, fold.combined, fold.names = (
            self.positive, self.patterns, self.combined, self.names)
        fold.vectorizer = TfidfVectorizer(**self.vectorizer.get_params()).fit([e.text for e in rows])
        fold.classifier = clone(self.classifier).fit(
            fold._features([e.text for e in rows]), [e.label == self.positive for e in rows])
        return fold

    def _threshold(self, rows: Sequence[Example]) -> float:
        """The score from which the answer is yes: the best F1 over five folds of the
        training examples (a model scores its own training set too well)."""
        from sklearn.model_selection import StratifiedKFold

        truth = [e.label == self.positive for e in rows]
        if min(truth.count(True), truth.count(False)) < 5:
            return 0.5
        scores = [0.0] * len(rows)
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(rows, truth):
            fold = self._fold([rows[i] for i in train])
            for i, score in zip(test, fold.scores([rows[i].text for i in test]), strict=True):
                scores[i] = score

        def f1(cut: float) -> float:
            said = [s >= cut for s in scores]
            hits = sum(1 for t, s in zip(truth, said, strict=True) if t and s)
            return 2 * hits / (said.count(True) + truth.count(True))
        return max((c / 20 for c in range(2, 19)), key=lambda c: (f1(c), c))

    def _features(self, texts: Sequence[str]):
        from scipy.sparse import csr_matrix, hstack

        tfidf = self.vectorizer.transform(texts)
        if not self.names:
            return tfidf
        rows = [self.signals_in(normalize(t)) for t in texts]
        flags = csr_matrix([[SIGNAL_WEIGHT if n in found else 0.0 for n in self.names] for found in rows])
        return hstack([tfidf, flags]).tocsr()

    def scores(self, texts: Sequence[str]) -> list[float]:
        return list(self.classifier.predict_proba(self._features(texts))[:, 1])

    def answer(self, text: str) -> Answer:
        words = normalize(text).split()[:80]
        # Two views of each word, so that two words saying one thing both count: how much
        # the score drops without it, and how much it rises above an empty text alone.
        variants = [" ".join(words)] + [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
        scored = self.scores([*variants, "", *words])
        full, without = scored[0], scored[1:len(variants)]
        empty, alone = scored[len(variants)], scored[len(variants) + 1:]
        weight: dict[str, float] = {}
        for w, drop, solo in zip(words, without, alone, strict=True):
            weight[w] = max(weight.get(w, 0.0), (full - drop) + (solo - empty))
        driving = tuple(w for w, v in sorted(weight.items(), key=lambda kv: -kv[1]) if v > 0.02)[:5]
        return Answer(score=round(float(full), 3), yes=full >= self.threshold, words=driving,
                      signals=self.signals_in(variants[0]))
