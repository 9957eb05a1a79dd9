"""Urgency and tone: precision and recall of analytics/urgency.py and analytics/tone.py on
examples they never saw.

    python bench/urgency.py

Trains on the training split of config/nlu/urgency.yaml and prints, on the held-out split,
precision and recall of "urgent" overall and per language, beside a baseline measured in the
same run: a keyword list (the words an officer would search for) applied to the same
examples. Aim (issue 14): both at least 0.9. Also prints the time to assess one complaint,
and the same figures for the tone of not-satisfied reasons (config/nlu/tone.yaml) against a
list of angry words.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))

from analytics import tone, urgency  # noqa: E402

KEYWORDS = ("fire", "gas", "kill", "died", "dying", "ambulance", "flood", "missing", "kidnap",
            "آگ", "گیس", "اغوا", "لاپتہ", "ایمبولینس", "سیلاب", "اور", "ګاز", "aag", "agwa",
            "lapata", "selab")


def precision_recall(pairs: list[tuple[bool, bool]]) -> tuple[float, float]:
    tp = sum(1 for truth, said in pairs if truth and said)
    said = sum(1 for _, s in pairs if s)
    true = sum(1 for t, _ in pairs if t)
    return (tp / said if said else 0.0), (tp / true if true else 0.0)


ANGRY = ("shame", "liars", "useless", "joke", "شرم", "جھوٹ", "sharam", "jhoot", "bakwas", "دروغ")


def keyword(text: str, words_of=KEYWORDS) -> bool:
    words = set(urgency.normalize(text).split())
    return any(k in words for k in words_of)


def tone_figures() -> None:
    examples = tone.corpus()
    train, test = tone.split(examples)
    model = tone.Model(train)
    truth = [e.label == "upset" for e in test]
    said = [s >= model.threshold for s in model.scores([e.text for e in test])]
    p, r = precision_recall(list(zip(truth, said, strict=True)))
    kp, kr = precision_recall([(t, keyword(e.text, ANGRY)) for t, e in zip(truth, test, strict=True)])
    print(f"tone: {len(examples)} labelled reasons, {len(test)} held out; upset precision {p:.3f}, "
          f"recall {r:.3f} (angry-word list: {kp:.3f}, {kr:.3f})")


def main() -> None:
    examples = urgency.corpus()
    train, test = urgency.split(examples)
    started = time.perf_counter()
    model = urgency.Model(train)
    trained_in = time.perf_counter() - started
    print(f"urgency: {len(examples)} labelled examples, {len(train)} to train, "
          f"{len(test)} held out; trained in {trained_in:.2f} s (machine shared and loaded)")
    print(f"threshold {model.threshold:.2f} (best F1 over five folds of the training examples)")
    print(f"{'language':<10} {'n':>4} {'model P':>8} {'model R':>8} {'keywords P':>11} {'keywords R':>11}")
    for lang in ("all", "en", "ur", "rur", "ps", "rps"):
        rows = [e for e in test if lang in ("all", e.lang)]
        said = model.scores([e.text for e in rows])
        p, r = precision_recall([(e.label == "urgent", s >= model.threshold) for e, s in zip(rows, said, strict=True)])
        kp, kr = precision_recall([(e.label == "urgent", keyword(e.text)) for e in rows])
        print(f"{lang:<10} {len(rows):>4} {p:>8.3f} {r:>8.3f} {kp:>11.3f} {kr:>11.3f}")
    fresh = urgency.corpus(section="fresh")
    full = urgency.Model(examples)
    p, r = precision_recall([(e.label == "urgent", s >= full.threshold)
                             for e, s in zip(fresh, full.scores([e.text for e in fresh]), strict=True)])
    kp, kr = precision_recall([(e.label == "urgent", keyword(e.text)) for e in fresh])
    print(f"{'fresh':<10} {len(fresh):>4} {p:>8.3f} {r:>8.3f} {kp:>11.3f} {kr:>11.3f}"
          "   (written after the signals; model trained on every labelled example)")
    started = time.perf_counter()
    for e in test:
        model.assess(e.text)
    per = (time.perf_counter() - started) / len(test) * 1000
    print(f"assess with explanation: {per:.1f} ms per complaint (aim: under 20 ms)")
    p, r = precision_recall([(e.label == "urgent", s >= model.threshold)
                             for e, s in zip(test, model.scores([e.text for e in test]), strict=True)])
    tone_figures()
    print(f"urgency: precision {p:.3f}, recall {r:.3f} on {len(test)} held-out examples (aim 0.9 both)")


if __name__ == "__main__":
    main()
