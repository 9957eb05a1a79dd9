"""The tone of a citizen's "not satisfied" reason: upset (anger, despair, a sense of being
cheated or ignored) or calm (a plain account of what is still wrong), with the words behind
it, from the labelled reasons of config/nlu/tone.yaml in the four languages.

It tells the officer how to call back; it never changes the case.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from analytics.flagging import Example, FlagModel, load, split
from analytics.flagging import examples as read_examples
from config import CONFIG_DIR

__all__ = ["Tone", "assess", "corpus", "model", "split"]

CORPUS = CONFIG_DIR / "nlu" / "tone.yaml"
LABELS = ("upset", "calm")
VERSION = "tone-1"


@dataclass(frozen=True)
class Tone:
    upset: bool
    score: float
    words: tuple[str, ...]
    model: str


def corpus(path: Path = CORPUS) -> list[Example]:
    return read_examples(path, "tone", LABELS)


class Model(FlagModel):
    def __init__(self, rows) -> None:
        super().__init__(rows, "upset", VERSION, signals=load(CORPUS)["signals"])

    def assess(self, text: str) -> Tone:
        found = self.answer(text)
        return Tone(upset=found.yes, score=found.score, words=found.words, model=self.version)


@functools.cache
def model() -> Model:
    """The model trained on the whole labelled set, once per process (seconds)."""
    return Model(corpus())


def assess(text: str) -> Tone:
    """The tone of a not-satisfied reason, with the words that set it."""
    return model().assess(text)
