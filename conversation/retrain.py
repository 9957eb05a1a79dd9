"""Routing that learns: the category model retrained with officers' corrections.

A complaint whose category officers changed (a ``recategorised`` or ``transferred`` event of
storage.lifecycle.recategorise) is an example of its description with its final category.
A candidate model trained on the corpus plus those corrections is measured against the
current one on examples neither was trained on: the classifier's own held-out split of the
corpus, plus a held-out share of the corrections. Only a better candidate is kept; it is
recorded beside the cached weights (conversation.classifier.CORRECTIONS), so the engine
trains or reads it on its next start. Descriptions never leave the database and var/.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation import classifier
from conversation.classifier import Example
from storage.models import Category, Complaint, ComplaintEvent

CORRECTION_KINDS = ("recategorised", "transferred")  # the kinds recategorise() writes for a change


def corrections(session: Session) -> list[Example]:
    """(description, final category) of each real complaint whose category officers changed,
    oldest first; cases since filed under a category that no longer exists are left out."""
    changed = select(ComplaintEvent.complaint_id).where(ComplaintEvent.kind.in_(CORRECTION_KINDS))
    rows = session.execute(
        select(Complaint.description, Complaint.category_code)
        .join(Category, Category.code == Complaint.category_code)
        .where(Complaint.id.in_(changed), Complaint.simulated.is_(False))
        .order_by(Complaint.id))
    return [Example(text.strip(), code, "corrections") for text, code in rows if text and text.strip()]


def split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held out): every fourth correction, from the third, is held out, as the
    classifier's own split does with the corpus."""
    train, held = [], []
    for i, e in enumerate(examples):
        (held if i % 4 == 2 else train).append(e)
    return train, held


def _accuracy(model: classifier.TextModel, examples: Sequence[Example]) -> float:
    right = 0
    for e in examples:
        top = model.top(e.text, 1)
        right += bool(top) and top[0][0] == e.label
    return right / len(examples) if examples else 0.0


@dataclass
class Outcome:
    before: float
    after: float
    trained_on: int  # corrections in the training share
    held_out: int     # corrections held out (measured only)
    test_size: int    # all held-out examples measured
    version: int = 0  # of the written model; 0 when nothing was written

    @property
    def better(self) -> bool:
        return self.after > self.before


def evaluate(found: Sequence[Example], extra: Sequence[Example] = (),
             current: Sequence[Example] = ()) -> tuple[Outcome, list[Example]]:
    """The current model (the corpus, plus ``current``: the corrections it was retrained
    with before) against one that learnt the corrections' training share, both trained
    without the held-out examples and measured on them; and that training share."""
    _, corpus = classifier.corpus()
    corpus_train, corpus_test = classifier.split(corpus)
    train, held = split(found)
    test = [*corpus_test, *held]
    base = [*corpus_train, *extra]
    unseen = {(e.text, e.label) for e in held}
    now = [*base, *(e for e in current if (e.text, e.label) not in unseen)]
    before = classifier.TextModel.fit([e.text for e in now], [e.label for e in now])
    learnt = [*base, *train]
    after = classifier.TextModel.fit([e.text for e in learnt], [e.label for e in learnt])
    return Outcome(_accuracy(before, test), _accuracy(after, test), len(train), len(held), len(test)), train


def install(cache_dir: Path, train: Sequence[Example], outcome: Outcome,
            extra: Sequence[Example] = ()) -> int:
    """Record the accepted corrections beside the cache and fit the engine's models on them
    now (so the next start reads them from the cache); the new model's version."""
    _, previous = classifier.retrained(cache_dir)
    version = int(previous.get("version", 0)) + 1
    record = {"version": version, "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "corrections": len(train), "held_out": outcome.held_out,
              "accuracy_before": round(outcome.before, 4), "accuracy_after": round(outcome.after, 4),
              "examples": [[e.text, e.label] for e in train]}
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / classifier.CORRECTIONS
    tmp = path.with_suffix(".tmp")
    # Descriptions are personal data: owner-only, like the rest of var/.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(record, f, ensure_ascii=False)
    tmp.replace(path)
    classifier.models(extra, cache_dir)  # trains under the new hash and caches the weights
    return version
