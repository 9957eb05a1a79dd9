"""Which complaints need attention first, and the words that say so.

The danger signals and labelled complaints of config/nlu/urgency.yaml (threats to life or
health, violence, children at risk, no water or power for days, against routine complaints,
in English, Urdu, Roman Urdu, Pashto and Roman Pashto) train an analytics/flagging.py model.
A complaint the citizen has sent back twice or more is urgent whatever its words say.

Each assessment names the words that drove it and the model's version and training time, so
an officer can see why a case was put first and a report can say which model said so.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from analytics.flagging import Example, FlagModel, load, normalize, split
from analytics.flagging import examples as read_examples
from config import CONFIG_DIR

__all__ = ["Example", "Model", "Urgency", "assess", "corpus", "model", "normalize", "split"]

CORPUS = CONFIG_DIR / "nlu" / "urgency.yaml"
LABELS = ("urgent", "routine")
REOPENED_URGENT = 2  # sent back this many times: the case is failing the citizen
VERSION = "urgency-1"


@dataclass(frozen=True)
class Urgency:
    urgent: bool
    score: float  # the model's probability that the complaint is urgent, 0..1
    words: tuple[str, ...]  # the words that drove the score up, strongest first
    signals: tuple[str, ...]  # the dangers named (fire, violence, utility_out_for_days...)
    reasons: tuple[str, ...]  # what besides the words made it urgent
    model: str  # version and training time, recorded with every output


def corpus(path: Path = CORPUS, section: str = "urgency") -> list[Example]:
    """The labelled complaints; ``section="fresh"`` the ones kept apart from training and
    from choosing the signals."""
    return read_examples(path, section, LABELS)


class Model(FlagModel):
    def __init__(self, rows: Sequence[Example], path: Path = CORPUS) -> None:
        super().__init__(rows, "urgent", VERSION, signals=load(path)["signals"],
                         combined={"utility_out_for_days": ("utility_out", "for_days")})

    def assess(self, text: str, reopened: int = 0) -> Urgency:
        found = self.answer(text)
        reasons = (f"reopened {reopened} times",) if reopened >= REOPENED_URGENT else ()
        return Urgency(urgent=found.yes or bool(reasons), score=found.score, words=found.words,
                       signals=found.signals, reasons=reasons, model=self.version)


@functools.cache
def model() -> Model:
    """The model trained on the whole labelled set, once per process (seconds)."""
    return Model(corpus())


def assess(text: str, reopened: int = 0) -> Urgency:
    """How urgent a complaint is, with the words and reasons behind it."""
    return model().assess(text, reopened)
