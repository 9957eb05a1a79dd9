"""Trained understanding: what a message means (intent) and what a complaint is about
(category), from the labelled corpus in config/nlu/.

A TF-IDF of character n-grams and whole words with a linear support vector machine
(scikit-learn), its scores
turned into probabilities by a softmax whose temperature is fitted on examples held out of
training: n-grams of characters take misspellings and Roman Urdu's many spellings in
their stride, and the calibrated scores say how sure the model is. scikit-learn fits the model; predicting is a few
dictionary look-ups and one small matrix product done here (the same arithmetic as the
fitted pipeline, which tests/test_hot_paths.py checks), so a turn costs microseconds.

The fitted weights are cached under var/ keyed by a hash of everything they were trained
on: the first start trains (a few seconds), later starts read the cache. Nothing is ever
downloaded. Officers' corrections that `ikhtiyar nlu retrain` accepted are kept beside the
cache (``corrections.json``) and are training examples too, so they change the hash and the
next start reads the retrained weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from config import CONFIG_DIR
from conversation.nlu import normalize

CORPUS_DIR = CONFIG_DIR / "nlu"
LANGS = ("en", "ur", "rur", "ps", "rps")  # rur Roman Urdu, rps Roman Pashto
NGRAMS = (2, 5)
C = 1.0
_VERSION = "2"  # bump when the features or the model change, so old caches are not read


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    lang: str


# Letters written interchangeably for the same sound: the Arabic and Pashto heh and ye forms
# fold onto the Urdu ones (ه ھ ہ; ي ى ې ۍ ئ ے ی), so "اوبه" and "اوبہ", "کوئی" and "کوی" meet.
# Only the model's features fold them; language detection still sees the Pashto letters.
_LETTER_VARIANTS = str.maketrans({"ه": "ہ", "ھ": "ہ", "ە": "ہ", "ې": "ی", "ۍ": "ی", "ئ": "ی",
                                  "ے": "ی"})
_REPEATS = re.compile(r"([a-z])\1+")


def spelling(word: str) -> str:
    """A word in the spelling its variants share: Urdu/Pashto letter variants folded, and in
    Roman Urdu doubled letters squeezed ("paani" and "pani", "nahii" and "nahi", "bohatt")."""
    if word.isascii():
        return _REPEATS.sub(r"\1", word)
    return word.translate(_LETTER_VARIANTS)


def features(text: str) -> list[str]:
    """What the model reads of a text: scikit-learn's ``char_wb`` n-grams (inside words
    padded with a space, so a word's start and end count) of the normalized, respelled
    text, plus each whole word (marked so it never equals an n-gram), which separates
    short words the n-grams blur ("na" in "na ghwaram" and in "nahi")."""
    grams: list[str] = []
    low, high = NGRAMS
    words = [spelling(w) for w in normalize(text).split()]
    for word in words:
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if n > size:
                break
            grams.extend(padded[i:i + n] for i in range(size - n + 1))
    grams.extend(WORD_MARK + w for w in words)
    return grams


WORD_MARK = "\x01"
char_ngrams = features  # the name tests/test_hot_paths.py checks the arithmetic with


# --- the corpus ---------------------------------------------------------------------------


def _read(name: str, key: str, corpus_dir: Path) -> list[Example]:
    data = yaml.safe_load((corpus_dir / name).read_text(encoding="utf-8"))[key]
    examples = []
    for label, by_lang in data.items():
        for lang, texts in by_lang.items():
            if lang not in LANGS:
                raise ValueError(f"{name}: {label} has examples in unknown language {lang!r}")
            examples += [Example(str(t), label, lang) for t in texts]
    return examples


def corpus(corpus_dir: Path = CORPUS_DIR) -> tuple[list[Example], list[Example]]:
    """(intent examples, category examples) as written in the corpus."""
    return _read("intents.yaml", "intents", corpus_dir), _read("categories.yaml", "categories", corpus_dir)


def places(corpus_dir: Path = CORPUS_DIR) -> list[Example]:
    """Sentences naming a place, labelled with its district (the gazetteer's test set)."""
    data = yaml.safe_load((corpus_dir / "places.yaml").read_text(encoding="utf-8"))["places"]
    return [Example(text, code, lang) for lang, rows in data.items() for text, code in rows]


def split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held out) for bench/nlu.py: of each label's examples in each language, the
    third and every fourth after it are held out, and the second of a pair for every other
    label, so every language is measured and every list keeps most of its examples."""
    sizes = Counter((e.label, e.lang) for e in examples)
    labels = {label: i for i, label in enumerate(dict.fromkeys(e.label for e in examples))}
    train, test = [], []
    seen: Counter = Counter()
    for e in examples:
        key = (e.label, e.lang)
        seen[key] += 1
        n = seen[key]
        held = n % 4 == 3 or (sizes[key] == 2 and n == 2 and labels[e.label] % 2 == 0)
        (test if held else train).append(e)
    return train, test


def intent_examples(intents: Iterable[Example], categories: Iterable[Example]) -> list[Example]:
    """Intent training data: complaint descriptions are the intent ``describe``."""
    return [*intents, *(Example(e.text, "describe", e.lang) for e in categories)]


# --- the model ----------------------------------------------------------------------------


class TextModel:
    """A fitted TF-IDF + multinomial logistic regression, reduced to what predicting needs."""

    def __init__(self, vocabulary: dict[str, int], weights: np.ndarray, idf: np.ndarray,
                 intercept: np.ndarray, classes: list[str]) -> None:
        self.vocabulary = vocabulary
        # (features, classes): idf x coefficients, so one product scores. Single precision:
        # half the memory of a long-running process (the category model is ~20 MB in double),
        # and the probabilities agree with the fitted pipeline's to far below any threshold.
        self.weights = np.asarray(weights, np.float32)
        self.idf = idf  # for the L2 norm of the TF-IDF vector
        self.intercept = intercept
        self.classes = classes
        self._recent: dict[str, np.ndarray | None] = {}

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str]) -> TextModel:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True)
        matrix = vectorizer.fit_transform(texts)
        labels = np.asarray(labels)
        # The temperature: fitted on every fourth example, with a model that did not see it.
        held = np.arange(len(labels)) % 4 == 1
        probe = LinearSVC(C=C, class_weight="balanced").fit(matrix[~held], labels[~held])
        temperature = _temperature(probe.decision_function(matrix[held]),
                                   np.searchsorted(probe.classes_, labels[held]),
                                   np.isin(labels[held], probe.classes_))
        model = LinearSVC(C=C, class_weight="balanced").fit(matrix, labels)
        weights = (vectorizer.idf_[:, None] * model.coef_.T * temperature).astype(np.float64)
        vocabulary = {g: int(i) for g, i in vectorizer.vocabulary_.items()}
        return cls(vocabulary, weights, vectorizer.idf_.astype(np.float64),
                   (model.intercept_ * temperature).astype(np.float64), [str(c) for c in model.classes_])

    def probabilities(self, text: str) -> np.ndarray | None:
        """The probability of each class, or None when no n-gram of the text is known."""
        vocabulary, counts = self.vocabulary, {}
        for gram in features(text):
            column = vocabulary.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return None
        rows = np.fromiter(counts, np.intp, len(counts))
        tf = np.log(np.fromiter(counts.values(), np.float64, len(counts))) + 1.0  # sublinear tf
        weighted = tf * self.idf[rows]  # the TF-IDF vector, before its L2 normalisation
        scores = tf @ self.weights[rows] / math.sqrt(float(weighted @ weighted)) + self.intercept
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()

    def top(self, text: str, n: int = 3, among: set[str] | None = None) -> list[tuple[str, float]]:
        # A turn may ask about the same text more than once (prefill, then the question).
        p = self._recent.get(text)
        if p is None and text not in self._recent:
            if len(self._recent) >= 64:
                self._recent.clear()
            p = self._recent[text] = self.probabilities(text)
        if p is None:
            return []
        order = np.argsort(-p)
        ranked = [(self.classes[i], float(p[i])) for i in order]
        if among is not None:
            ranked = [r for r in ranked if r[0] in among]
        return ranked[:n]

    # --- cache ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        grams = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, weights=self.weights, intercept=self.intercept, idf=self.idf,
                 meta=np.frombuffer(json.dumps({"grams": grams, "classes": self.classes}).encode(), np.uint8))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> TextModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            return cls({g: i for i, g in enumerate(meta["grams"])}, data["weights"], data["idf"],
                       data["intercept"], meta["classes"])


def _temperature(scores: np.ndarray, truth: np.ndarray, known: np.ndarray) -> float:
    """The softmax temperature that makes the held-out scores most likely (a grid search)."""
    scores, truth = scores[known], truth[known]
    best, best_loss = 1.0, math.inf
    for t in np.geomspace(0.5, 50, 40):
        z = scores * t
        z -= z.max(axis=1, keepdims=True)
        loss = float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(truth)), truth]))
        if loss < best_loss:
            best, best_loss = float(t), loss
    return best


@dataclass
class Models:
    intents: TextModel
    categories: TextModel


_LOCK = threading.Lock()
_LOADED: dict[str, Models] = {}


def train(intents: Sequence[Example], categories: Sequence[Example]) -> Models:
    both = intent_examples(intents, categories)
    return Models(TextModel.fit([e.text for e in both], [e.label for e in both]),
                  TextModel.fit([e.text for e in categories], [e.label for e in categories]))


def _train_apart(intents: Sequence[Example], categories: Sequence[Example], paths: tuple[Path, Path]) -> bool:
    """Train in a child process that writes the cache, which this process then reads.

    scikit-learn and SciPy take over 100 MB once imported, and a process never gives that
    back: trained here, every long-running process (serve, a worker) would carry them for
    good, while predicting needs only NumPy. False when the child could not do it (then the
    caller trains in-process, as before)."""
    import pickle
    import subprocess
    import sys

    code = ("import pickle, sys\n"
            "from conversation.classifier import train\n"
            "intents, categories, paths = pickle.load(sys.stdin.buffer)\n"
            "fitted = train(intents, categories)\n"
            "fitted.intents.save(paths[0])\n"
            "fitted.categories.save(paths[1])\n")
    package_root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH"))))}
    try:
        done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps((list(intents), list(categories), paths)),  # noqa: S603
                              env=env, capture_output=True, timeout=600, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        logging.getLogger("ikhtiyar").warning("training in a child process failed (%s); training here", exc)
        return False
    if done.returncode != 0:
        logging.getLogger("ikhtiyar").warning("training in a child process failed; training here: %s",
                                              done.stderr.decode(errors="replace")[-500:])
    return done.returncode == 0 and all(p.exists() for p in paths)


CORRECTIONS = "corrections.json"  # under the cache folder, written by `ikhtiyar nlu retrain`


def retrained(cache_dir: Path | None) -> tuple[list[Example], dict]:
    """The officers' corrections the retrained model learnt (descriptions with their final
    category), and its record (version, training date, accuracy); nothing when never retrained."""
    path = cache_dir / CORRECTIONS if cache_dir is not None else None
    if path is None or not path.exists():
        return [], {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        examples = [Example(str(text), str(label), "corrections") for text, label in data.pop("examples")]
    except (OSError, ValueError, KeyError, TypeError):
        logging.getLogger("ikhtiyar").warning("%s is unreadable; the corpus alone is used", path)
        return [], {}
    return examples, data


def digest(intents: Sequence[Example], categories: Sequence[Example]) -> str:
    """The cache key: a hash of the model's version and everything it is trained on."""
    return hashlib.sha256(json.dumps(
        [_VERSION, NGRAMS, C, [(e.text, e.label, e.lang) for e in (*intents, *categories)]],
        ensure_ascii=False).encode()).hexdigest()[:16]


def models(extra_categories: Sequence[Example] = (), cache_dir: Path | None = None) -> Models:
    """The fitted models for the corpus (plus ``extra_categories``, the categories' own names
    and keywords, and the corrections retrained under ``cache_dir``): from memory, else the
    cache under ``cache_dir``, else trained now."""
    intents, categories = corpus()
    categories = [*categories, *extra_categories, *retrained(cache_dir)[0]]
    key = digest(intents, categories)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        paths = None
        if cache_dir is not None:
            paths = (cache_dir / f"intents-{key}.npz", cache_dir / f"categories-{key}.npz")
        if paths and all(p.exists() for p in paths):
            try:
                fitted = Models(TextModel.load(paths[0]), TextModel.load(paths[1]))
            except (OSError, ValueError, KeyError):
                fitted = None  # a damaged cache is trained again
        else:
            fitted = None
        if fitted is None and paths and _train_apart(intents, categories, paths):
            try:
                fitted = Models(TextModel.load(paths[0]), TextModel.load(paths[1]))
            except (OSError, ValueError, KeyError):
                fitted = None
        if fitted is None:
            fitted = train(intents, categories)
            if paths:
                try:
                    fitted.intents.save(paths[0])
                    fitted.categories.save(paths[1])
                except OSError:
                    pass  # a read-only var/ only costs the next start its training
        if len(_LOADED) >= 4:  # a process normally has one; tests may try a few
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = fitted
        return fitted
