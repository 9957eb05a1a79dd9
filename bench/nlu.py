"""Accuracy of the trained understanding on examples it never saw, per language.

Trains the intent and category models on the training split of config/nlu/
(conversation.classifier.split: of each label's list in each language the third and every
fourth after it are held out; fixed by position, no randomness, so a row once held out stays
held out when examples are appended; tests/test_understanding.py checks none is trained
on) plus the categories' names and keywords, then reads the held-out examples through the same path the engine uses (the table of short answers, then
the model) and prints, per language, intent accuracy, category top-1 and top-3, and the
district found in the sentences of config/nlu/places.yaml (the gazetteer is not trained).

    python bench/nlu.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from config import CONFIG_DIR
from conversation import classifier
from conversation.knowledge import Knowledge
from conversation.nlu import understand
from storage.models import Base
from storage.reference import load_reference

NAMES = {"en": "English", "ur": "Urdu", "rur": "Roman Urdu", "ps": "Pashto", "rps": "Roman Pashto"}
AIMS = {"intent": 0.95, "category top-3": 0.90, "district": 0.95}


def _reference() -> Knowledge:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        load_reference(session, CONFIG_DIR)
        session.flush()
        return Knowledge.load(session, trained=False)


def main() -> None:
    k = _reference()
    intents, categories = classifier.corpus()
    intents_train, intents_test = classifier.split(intents)
    categories_train, categories_test = classifier.split(categories)
    start, cpu = time.perf_counter(), time.process_time()
    models = classifier.train(intents_train, [*categories_train, *k.category_examples])
    trained, trained_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"corpus: {len(intents) + len(categories)} examples ({len(intents)} intents, "
          f"{len(categories)} descriptions); held out: {len(intents_test) + len(categories_test)}; "
          f"training took {trained:.1f} s ({trained_cpu:.1f} s of CPU time)")

    scores: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    per_intent: dict[str, list[bool]] = defaultdict(list)
    confused: Counter = Counter()
    for e in classifier.intent_examples(intents_test, categories_test):
        u = understand(e.text, "KP", models.intents)
        scores["intent"][e.lang].append(u.intent == e.label)
        per_intent[e.label].append(u.intent == e.label)
        if u.intent != e.label:
            confused[(e.label, u.intent or "unsure", u.source)] += 1
    for e in categories_test:
        ranked = [code for code, _ in models.categories.top(e.text, 3)]
        scores["category top-1"][e.lang].append(ranked[:1] == [e.label])
        scores["category top-3"][e.lang].append(e.label in ranked)
    for e in classifier.places():
        scores["district"][e.lang].append(k.district_in_text(e.text) == e.label)

    langs = list(NAMES)
    print(f"\n{'':16}" + "".join(f"{NAMES[lang]:>14}" for lang in langs) + f"{'all':>14}{'aim':>7}")
    for measure, by_lang in scores.items():
        cells = []
        for lang in langs:
            got = by_lang.get(lang, [])
            cells.append(f"{sum(got) / len(got):8.1%} ({len(got):3})" if got else f"{'-':>14}")
        every = [x for got in by_lang.values() for x in got]
        aim = f"{AIMS[measure]:.0%}" if measure in AIMS else ""
        print(f"{measure:16}" + "".join(f"{c:>14}" for c in cells)
              + f"{sum(every) / len(every):8.1%} ({len(every):3})" + f"{aim:>7}")

    print("\nintent accuracy by intent: " + ", ".join(
        f"{label} {sum(got) / len(got):.0%} ({len(got)})" for label, got in sorted(per_intent.items())))
    print("most confused (truth -> read as, by the table of short answers or the model): " + ", ".join(
        f"{truth} -> {read} [{source}] {n}" for (truth, read, source), n in confused.most_common(8)))

    sample = [e.text for e in categories_test] * 5
    start, cpu = time.perf_counter(), time.process_time()
    for text in sample:
        understand(text, "KP", models.intents)
        models.categories._recent.clear()  # measure the scoring, not the cache
        models.categories.top(text, 3)
    per = (time.perf_counter() - start) / len(sample) * 1e6
    per_cpu = (time.process_time() - cpu) / len(sample) * 1e6
    print(f"\npredict: {per:.0f} µs per message (intent and top-3 categories), "
          f"{per_cpu:.0f} µs of CPU time")


if __name__ == "__main__":
    main()
