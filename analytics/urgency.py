"""Which complaints need attention first, and the words that say so.

A character n-gram TF-IDF (inside words, so misspellings and Roman Urdu's many spellings
meet) and the danger signals of config/nlu/urgency.yaml (fire, gas, live wires, violence,
a missing child, no water or power for days... in every language and spelling), with a
logistic regression trained on that file's labelled complaints in English, Urdu, Roman
Urdu, Pashto and Roman Pashto. A complaint the citizen has sent back twice or more is urgent
whatever its words say.

Each assessment names the words that drove it (the words whose removal lowers the score
most) and the model's version and training time, so an officer can see why a case was put
first and a report can say which model said so.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from config import CONFIG_DIR

CORPUS = CONFIG_DIR / "nlu" / "urgency.yaml"
LABELS = ("urgent", "routine")
SIGNAL_WEIGHT = 1.0  # a danger signal counts like a strong n-gram
REOPENED_URGENT = 2  # sent back this many times: the case is failing the citizen
_VERSION = "urgency-1"
_MARKS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")  # Arabic-script diacritics
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    lang: str


@dataclass(frozen=True)
class Urgency:
    urgent: bool
    score: float  # the model's probability that the complaint is urgent, 0..1
    words: tuple[str, ...]  # the words that drove the score up, strongest first
    signals: tuple[str, ...]  # the dangers named (fire, violence, utility_out_for_days...)
    reasons: tuple[str, ...]  # what besides the words made it urgent
    model: str  # version and training time, recorded with every output


def normalize(text: str) -> str:
    """Lower case, compatibility forms, no diacritics; Arabic yeh/kaf written the Urdu way."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _MARKS.sub("", text).replace("\u064a", "\u06cc").replace("\u0643", "\u06a9")
    return " ".join(_WORD.findall(text))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def signal_patterns(path: Path = CORPUS) -> dict[str, re.Pattern]:
    """Each danger's terms as one pattern matching at the start of a normalized word."""
    return {name: re.compile("(?:^| )(?:" + "|".join(re.escape(normalize(t)) for t in terms) + ")")
            for name, terms in _load(path)["signals"].items()}


def signals_in(text: str, patterns: dict[str, re.Pattern]) -> tuple[str, ...]:
    """The dangers a normalized text names; no water or power plus a duration is its own."""
    found = [name for name, pattern in patterns.items() if pattern.search(text)]
    if "utility_out" in found and "for_days" in found:
        found.append("utility_out_for_days")
    return tuple(found)


def corpus(path: Path = CORPUS, section: str = "urgency") -> list[Example]:
    """The labelled complaints; ``section="fresh"`` the ones kept apart from training and
    from choosing the signals."""
    data = _load(path)[section]
    unknown = set(data) - set(LABELS)
    if unknown:
        raise ValueError(f"{path.name}: unknown labels {sorted(unknown)}")
    return [Example(str(text), label, lang)
            for label, by_lang in data.items() for lang, texts in by_lang.items() for text in texts]


def split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held out): every fourth example of each label in each language is held out,
    so every language is measured and the model never sees what it is measured on."""
    seen: Counter = Counter()
    train, test = [], []
    for e in examples:
        seen[e.label, e.lang] += 1
        (test if seen[e.label, e.lang] % 4 == 0 else train).append(e)
    return train, test


class Model:
    """The fitted pipeline and what explaining needs."""

    def __init__(self, examples: Sequence[Example], path: Path = CORPUS) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.patterns = signal_patterns(path)
        self.names = [*self.patterns, "utility_out_for_days"]
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                          preprocessor=normalize, sublinear_tf=True, min_df=1)
        self.vectorizer.fit([e.text for e in examples])
        self.classifier = LogisticRegression(C=8.0, class_weight="balanced", max_iter=2000)
        self.classifier.fit(self._features([e.text for e in examples]),
                            [e.label == "urgent" for e in examples])
        self.threshold = self._threshold(examples)
        digest = hashlib.sha256("\n".join(f"{e.label}\t{e.text}" for e in examples).encode())
        trained = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.version = f"{_VERSION}+{digest.hexdigest()[:8]} trained {trained}"

    def _threshold(self, examples: Sequence[Example]) -> float:
        """The score above which a complaint is urgent: the one with the best F1 over five
        folds of the training examples (a model scores its own training set too well)."""
        from sklearn.base import clone
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.model_selection import StratifiedKFold

        truth = [e.label == "urgent" for e in examples]
        if min(truth.count(True), truth.count(False)) < 5:
            return 0.5
        scores = [0.0] * len(examples)
        folds = StratifiedKFold(5, shuffle=True, random_state=0).split(examples, truth)
        for train, test in folds:
            fold = Model.__new__(Model)
            fold.patterns, fold.names = self.patterns, self.names
            fold.vectorizer = TfidfVectorizer(**self.vectorizer.get_params())
            fold.vectorizer.fit([examples[i].text for i in train])
            fold.classifier = clone(self.classifier).fit(
                fold._features([examples[i].text for i in train]), [truth[i] for i in train])
            for i, score in zip(test, fold.scores([examples[i].text for i in test]), strict=True):
                scores[i] = score

        def f1(cut: float) -> float:
            said = [s >= cut for s in scores]
            hits = sum(1 for t, s in zip(truth, said, strict=True) if t and s)
            return 2 * hits / (said.count(True) + truth.count(True))
        return max((c / 20 for c in range(2, 19)), key=lambda c: (f1(c), c))

    def _features(self, texts: Sequence[str]):
        from scipy.sparse import csr_matrix, hstack

        rows = [signals_in(normalize(t), self.patterns) for t in texts]
        flags = csr_matrix([[SIGNAL_WEIGHT if n in found else 0.0 for n in self.names] for found in rows])
        return hstack([self.vectorizer.transform(texts), flags]).tocsr()

    def scores(self, texts: Sequence[str]) -> list[float]:
        return list(self.classifier.predict_proba(self._features(texts))[:, 1])

    def assess(self, text: str, reopened: int = 0) -> Urgency:
        words = normalize(text).split()[:80]
        # Two views of each word, so that two words naming one danger both count: how much
        # the score drops without it, and how much it rises above an empty text alone.
        variants = [" ".join(words)] + [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
        scored = self.scores([*variants, "", *words])
        full, without = scored[0], scored[1:len(variants)]
        empty, alone = scored[len(variants)], scored[len(variants) + 1:]
        weight = {}
        for w, drop, solo in zip(words, without, alone, strict=True):
            weight[w] = max(weight.get(w, 0.0), (full - drop) + (solo - empty))
        driving = tuple(w for w, v in sorted(weight.items(), key=lambda kv: -kv[1]) if v > 0.02)[:5]
        reasons = (f"reopened {reopened} times",) if reopened >= REOPENED_URGENT else ()
        return Urgency(urgent=full >= self.threshold or bool(reasons), score=round(float(full), 3),
                       words=driving, signals=signals_in(variants[0], self.patterns),
                       reasons=reasons, model=self.version)


_model: Model | None = None
_lock = threading.Lock()


def model() -> Model:
    """The model trained on the whole labelled set, once per process (well under a second)."""
    global _model
    with _lock:
        if _model is None:
            _model = Model(corpus())
        return _model


def assess(text: str, reopened: int = 0) -> Urgency:
    """How urgent a complaint is, with the words and reasons behind it."""
    return model().assess(text, reopened)
