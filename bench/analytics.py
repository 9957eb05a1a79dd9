"""Duplicate clusters and spike alerts on a labelled synthetic province, in memory.

The generator files complaints over 16 weeks across 36 districts and 40 categories (volumes
skewed like real ones, quieter Fridays and Sundays), on six channels, in English, Urdu
script, Roman Urdu and Pashto. Some complaints come in groups about one place (a burst main,
a closed school) written by different citizens in different languages and spellings: those
are the duplicates to find. Some district-category-days get 2×-6× their usual volume: those
are the spikes to find.

Prints duplicate precision and recall (pairwise: two complaints put in one cluster, right
when they were written about one place), spikes found per injected multiplier and false
alerts per 1,000 district-category-days, the time to cluster and to score spikes over the
whole set, and the cost of clustering one new complaint against its open candidates.

Baseline: grouping by district, category and the first 12 letters of the text (what an
exact-match rule could do) on the same set. Spikes are injected on series-days that usually
see 6 complaints or more; the count on the day is a Poisson draw at m × the usual rate, so
a nominal 3× can come out lower.

    python bench/analytics.py [--complaints 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from math import comb
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.duplicates import THRESHOLD, WINDOW, Record, best_match, cluster_records
from analytics.spikes import WEEKS, score_day

DAYS = 16 * 7
DISTRICTS, CATEGORIES = 36, 40
CHANNELS = ["whatsapp", "sms", "ivr", "email", "letter", "web"]
LANGUAGES = {"en": 0.25, "ur": 0.3, "ro": 0.3, "ps": 0.15}
WEEKDAY = [1.25, 1.1, 1.0, 1.0, 0.7, 0.95, 0.6]  # Monday .. Sunday
GROUP_START = 0.06  # share of complaints that start a group of duplicates
MULTIPLIERS = [2, 3, 4, 5, 6]

# Syllables of place names: Latin spellings (variants) and the Urdu/Pashto script form.
SYLLABLES = [
    (["gul", "gull"], "گل"), (["bahar", "bahaar"], "بہار"), (["khan", "khaan"], "خان"),
    (["shah", "shaah"], "شاہ"), (["abad", "aabad"], "آباد"), (["zar"], "زر"),
    (["rahim", "raheem"], "رحیم"), (["karim", "kareem"], "کریم"), (["noor", "nur"], "نور"),
    (["pur", "poor"], "پور"), (["nagar"], "نگر"), (["kalay", "kaley"], "کلے"),
    (["dheri", "dhery"], "ڈھیری"), (["tangi", "tangee"], "تنگی"), (["mian", "miyan"], "میاں"),
    (["banda", "bandah"], "بانڈہ"), (["jan", "jaan"], "جان"), (["hayat", "hayaat"], "حیات"),
    (["sher", "shair"], "شیر"), (["garh", "garrh"], "گڑھ"), (["kot", "kott"], "کوٹ"),
    (["sadiq", "sadique"], "صادق"), (["faqir", "faqeer"], "فقیر"), (["zai", "zay"], "زئی"),
    (["baz", "baaz"], "باز"), (["tor", "toor"], "تور"), (["dara", "darra"], "درہ"),
    (["mir", "meer"], "میر"),
]
KINDS = {"en": ["street", "mohalla", "near"], "ro": ["gali", "mohalla", "kay qareeb"],
         "ur": ["گلی", "محلہ", "کے قریب"], "ps": ["کوڅه", "محله", "سره نږدې"]}
# Per topic: what the citizen says, per language, with variants.
TOPICS = [
    {"en": ["no water supply for {d} days", "water not coming in taps", "tube well is out of order"],
     "ro": ["{d} din se pani nahi aa raha", "paani band hai", "tubewell kharab hai"],
     "ur": ["{d} دن سے پانی نہیں آ رہا", "پانی بند ہے", "ٹیوب ویل خراب ہے"],
     "ps": ["{d} ورځې اوبه نشته", "اوبه بندې دي"]},
    {"en": ["electricity gone for {d} days", "transformer burnt", "load shedding all night"],
     "ro": ["{d} din se bijli nahi", "transformer jal gaya", "saari raat load shedding"],
     "ur": ["{d} دن سے بجلی نہیں", "ٹرانسفارمر جل گیا"], "ps": ["{d} ورځې بجلي نشته", "ټرانسفارمر سوځېدلی"]},
    {"en": ["road full of potholes", "road broken after rain"], "ro": ["sarak tooti hui hai", "sadak kharab hai"],
     "ur": ["سڑک ٹوٹی ہوئی ہے", "سڑک خراب ہے"], "ps": ["سړک مات دی", "سړک خراب دی"]},
    {"en": ["garbage not collected", "drain overflowing with sewage"], "ro": ["kachra nahi uthaya", "naali band hai ganda pani"],
     "ur": ["کچرا نہیں اٹھایا گیا", "نالی بند ہے"], "ps": ["کثافات نه دي وړل شوي", "ناله بنده ده"]},
    {"en": ["teacher absent from school", "school closed for {d} days"], "ro": ["ustad school nahi aate", "{d} din se school band"],
     "ur": ["استاد سکول نہیں آتے", "{d} دن سے سکول بند ہے"], "ps": ["ښوونکی ښوونځي ته نه راځي"]},
    {"en": ["doctor not present at hospital", "no medicine at BHU"], "ro": ["hospital mein doctor nahi", "dawai nahi milti"],
     "ur": ["ہسپتال میں ڈاکٹر نہیں", "دوائی نہیں ملتی"], "ps": ["په روغتون کې ډاکټر نشته", "درمل نشته"]},
    {"en": ["police not registering FIR", "police took bribe"], "ro": ["police FIR nahi kat rahi", "police ne rishwat li"],
     "ur": ["پولیس ایف آئی آر درج نہیں کر رہی", "پولیس نے رشوت لی"], "ps": ["پولیس ایف آی آر نه لیکي"]},
    {"en": ["gas pressure very low", "no gas since {d} days"], "ro": ["gas ka pressure kam hai", "{d} din se gas nahi"],
     "ur": ["گیس کا پریشر کم ہے", "{d} دن سے گیس نہیں"], "ps": ["ګاز نشته", "د ګاز فشار کم دی"]},
]
FILLERS = {"en": ["please help", "kindly take action", "", "we are very worried", "nobody listens"],
           "ro": ["meharbani karein", "jaldi action lein", "", "koi nahi sunta", "please madad karein"],
           "ur": ["مہربانی کریں", "فوری کارروائی کریں", "", "کوئی نہیں سنتا"],
           "ps": ["مهرباني وکړئ", "", "څوک نه اوري"]}
URDU_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


class Place:
    def __init__(self, rnd: random.Random, lat: float, lon: float) -> None:
        self.syllables = rnd.sample(range(len(SYLLABLES)), 3)
        self.kind = rnd.randrange(3)
        self.number = rnd.randint(1, 40)
        self.lat, self.lon = lat, lon

    def say(self, rnd: random.Random, lang: str) -> str:
        if lang in ("ur", "ps"):
            name = "".join(SYLLABLES[s][1] for s in self.syllables)
            number = str(self.number).translate(URDU_DIGITS) if rnd.random() < 0.5 else str(self.number)
        else:
            parts = [rnd.choice(SYLLABLES[s][0]) for s in self.syllables]
            sep = " " if rnd.random() < 0.3 else ""
            name = sep.join(parts).title()
            number = str(self.number)
        kind = KINDS[lang][self.kind]
        return f"{name} {kind} {number}" if self.kind != 2 else f"{name} {kind}"


def say(rnd: random.Random, topic: int, lang: str, place: Place) -> tuple[str, str | None]:
    """What the citizen wrote, and the location they gave when the form asked for it (the
    text names the place too, half of the time)."""
    issue = rnd.choice(TOPICS[topic].get(lang) or TOPICS[topic]["en"]).format(d=rnd.randint(2, 9))
    filler = rnd.choice(FILLERS[lang])
    where = place.say(rnd, lang)
    location = where if rnd.random() < 0.85 else None
    if location is not None and rnd.random() < 0.5:
        return f"{issue}. {filler}".strip(), location
    if lang == "en":
        text = rnd.choice([f"{issue} in {where}. {filler}", f"{where}: {issue}, {filler}",
                           f"Sir, {issue} at {where} {filler}"])
    elif lang == "ro":
        text = rnd.choice([f"{where} mein {issue}. {filler}", f"Janab {where} {issue} {filler}"])
    elif lang == "ur":
        text = rnd.choice([f"{where} میں {issue}۔ {filler}", f"جناب {where} {issue} {filler}"])
    else:
        text = rnd.choice([f"په {where} کې {issue}. {filler}", f"{where} {issue} {filler}"])
    return text.strip(), location


def generate(n: int, seed: int):
    """Complaints (records, true group per record, channel, language) and the injected spikes."""
    rnd = random.Random(seed)
    nprnd = np.random.default_rng(seed)
    dw = np.array([1 / (r + 1) ** 0.8 for r in range(DISTRICTS)])
    cw = np.array([1 / (r + 1) ** 0.9 for r in range(CATEGORIES)])
    weekday = np.array([WEEKDAY[d % 7] for d in range(DAYS)])
    rate = np.outer(dw, cw).ravel()
    rate = rate / rate.sum() * n / weekday.sum()  # per series, per unit weekday factor
    counts = nprnd.poisson(np.outer(rate, weekday)).astype(float)
    # Spikes: on days with a full baseline behind them that usually see 6 complaints or
    # more (below that, 3× is within what chance does on some series every week).
    busy = np.flatnonzero(rate * weekday[:7].max() >= 6)
    spikes, realised = {}, {}
    for series in nprnd.choice(busy, size=max(10, n // 1500)) if len(busy) else []:
        days = [d for d in range(7 * WEEKS, DAYS) if rate[series] * weekday[d] >= 6]
        day = int(nprnd.choice(days))
        m = MULTIPLIERS[len(spikes) % len(MULTIPLIERS)]
        counts[series, day] = nprnd.poisson(rate[series] * weekday[day] * m)
        spikes[(int(series), day)] = m
        realised[(int(series), day)] = counts[series, day] / (rate[series] * weekday[day])
    centres = [(rnd.uniform(31.0, 36.0), rnd.uniform(70.0, 73.5)) for _ in range(DISTRICTS)]
    records, truth, meta = [], [], []
    for series in range(DISTRICTS * CATEGORIES):
        district, category = divmod(series, CATEGORIES)
        topic = category % len(TOPICS)
        slots = [d + rnd.random() for d in range(DAYS) for _ in range(int(counts[series, d]))]
        slots.sort()
        open_groups: list[tuple[int, float, Place, int]] = []  # (group id, until, place, left)
        for t in slots:
            open_groups = [g for g in open_groups if g[1] >= t and g[3] > 0]
            if open_groups and rnd.random() < 0.5:
                k = rnd.randrange(len(open_groups))
                gid, until, place, left = open_groups[k]
                open_groups[k] = (gid, until, place, left - 1)
            else:
                clat, clon = centres[district]
                place = Place(rnd, clat + rnd.uniform(-0.15, 0.15), clon + rnd.uniform(-0.15, 0.15))
                gid = len(records)
                if rnd.random() < GROUP_START:
                    open_groups.append((gid, t + rnd.uniform(1, 5), place, rnd.randint(1, 9)))
            lang = rnd.choices(list(LANGUAGES), weights=list(LANGUAGES.values()))[0]
            pin = rnd.random() < 0.4
            lat = place.lat + rnd.gauss(0, 0.001) if pin else None
            lon = place.lon + rnd.gauss(0, 0.001) if pin else None
            text, location = say(rnd, topic, lang, place)
            records.append(Record(len(records), f"D{district:02d}", f"C{category:02d}", text, t,
                                  lat, lon, location))
            truth.append(gid)
            meta.append((rnd.choice(CHANNELS), lang))
    return records, truth, meta, counts, spikes, realised


def pair_scores(labels: list, truth: list[int]) -> tuple[float, float]:
    """Pairwise precision and recall of ``labels`` against the true groups."""
    pred = sum(comb(c, 2) for c in Counter(labels).values())
    true = sum(comb(c, 2) for c in Counter(truth).values())
    both = sum(comb(c, 2) for c in Counter(zip(labels, truth, strict=True)).values())
    return (both / pred if pred else 1.0), (both / true if true else 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--incremental-samples", type=int, default=300)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--database-candidates", type=int, default=0, metavar="N",
                        help="also time assign_to_cluster on SQLite with up to N open candidates")
    args = parser.parse_args()

    started = time.perf_counter()
    records, truth, meta, counts, spikes, realised = generate(args.complaints, args.seed)
    print(f"generated {len(records):,} complaints in {time.perf_counter() - started:.1f} s: "
          f"{DISTRICTS} districts × {CATEGORIES} categories × {DAYS} days; "
          f"languages {dict(Counter(m[1] for m in meta))}; channels {dict(Counter(m[0] for m in meta))}")
    groups = Counter(truth)
    print(f"duplicate groups: {sum(1 for c in groups.values() if c > 1):,} "
          f"({sum(c for c in groups.values() if c > 1):,} complaints, sizes 2-{max(groups.values())})")

    started = time.perf_counter()
    labels = cluster_records(records, threshold=args.threshold)
    cluster_s = time.perf_counter() - started
    precision, recall = pair_scores(labels, truth)
    print(f"\nduplicates: precision {precision:.3f}  recall {recall:.3f}  "
          f"(pairs; clustering {len(records):,} took {cluster_s:.1f} s)")
    naive = [(r.district, r.category, place_key(r.text)) for r in records]
    bp, br = pair_scores(naive, truth)
    print(f"  baseline (same district, category and first 12 letters of the text): "
          f"precision {bp:.3f}  recall {br:.3f}")
    per_lang = defaultdict(lambda: [0, 0])
    for i in range(len(records)):
        if groups[truth[i]] > 1:
            per_lang[meta[i][1]][1] += 1
            per_lang[meta[i][1]][0] += labels[i] == labels[truth[i]]
    print("  duplicates found in the right cluster, by language: " + ", ".join(
        f"{lang} {a / b:.2f}" for lang, (a, b) in sorted(per_lang.items())))

    started = time.perf_counter()
    flags = np.zeros(counts.shape, dtype=bool)
    for day in range(7 * WEEKS, DAYS):
        flags[:, day] = score_day(counts, day).spike
    spike_s = time.perf_counter() - started
    evaluated = counts.shape[0] * (DAYS - 7 * WEEKS)
    found = Counter(m for (s, d), m in spikes.items() if flags[s, d])
    injected = Counter(spikes.values())
    false_alerts = int(flags.sum()) - sum(found.values())
    print("\nspikes: found/injected by multiplier: " + ", ".join(
        f"{m}× {found[m]}/{injected[m]}" for m in MULTIPLIERS))
    strong = [k for k, r in realised.items() if r >= 3]
    print(f"  by the count actually drawn: {sum(1 for k in strong if flags[k])}/{len(strong)} of the "
          f"days at 3× their expected count or more found; missed: " + ", ".join(
              f"{spikes[k]}× drew {realised[k]:.1f}×" for k in realised if not flags[k]))
    print(f"  false alerts: {false_alerts} over {evaluated:,} district-category-days = "
          f"{1000 * false_alerts / evaluated:.2f} per 1,000 (scoring took {spike_s:.2f} s)")

    rnd = random.Random(args.seed)
    by_series = defaultdict(list)
    for r in records:
        by_series[(r.district, r.category)].append(r)
    busy = [rs for rs in by_series.values() if len(rs) > 50]
    timings = []
    sizes = []
    for _ in range(args.incremental_samples):
        rs = rnd.choice(busy)
        new = rnd.choice(rs)
        window = [r for r in rs if new.day - WINDOW.days <= r.day < new.day]
        sizes.append(len(window))
        t0 = time.perf_counter()
        best_match(new.text, new.location, new.lat, new.lon, [r.text for r in window],
                   [r.location for r in window], [r.lat for r in window], [r.lon for r in window])
        timings.append(time.perf_counter() - t0)
    timings.sort()
    print(f"\nincremental: one new complaint against its open candidates "
          f"(median {statistics.median(sizes):.0f}, max {max(sizes)}): median "
          f"{1000 * statistics.median(timings):.1f} ms, p95 {1000 * timings[int(len(timings) * 0.95)]:.1f} ms "
          f"(in memory; the database query is on top)")
    print(f"\ntotal to cluster and detect spikes: {cluster_s + spike_s:.1f} s")
    if args.database_candidates:
        database_incremental(records, args.database_candidates)


def database_incremental(records: list[Record], n: int) -> None:
    """assign_to_cluster as the complaint job would call it: query, vectorise, write."""
    import base64
    import secrets
    import tempfile

    from analytics.duplicates import assign_to_cluster
    from gateway import runtime as rt_module
    from gateway.settings import load_settings
    from storage import lifecycle, tracking
    from storage.crypto import configure_vault
    from storage.messages import contact_for
    from storage.models import Complaint

    key = base64.b64encode(b"k" * 32).decode()
    var = Path(tempfile.mkdtemp())
    rt = rt_module.build(load_settings(database_url=f"sqlite:///{var / 'bench.db'}", data_key=key,
                                       var_dir=var, redis_url=None, secret_key=secrets.token_urlsafe(32)))
    rt_module.prepare(rt, say=lambda _m: None)
    configure_vault(base64.b64decode(key))
    busiest = Counter((r.district, r.category) for r in records).most_common(1)[0][0]
    series = [r for r in records if (r.district, r.category) == busiest][: n + 1]
    timings = []
    with rt.sessions() as s, s.begin():
        contact = contact_for(s, "sms", "+923001234567")
        for r in series:
            c = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id,
                          contact_id=contact.id, channel="sms", description=r.text,
                          location_detail=r.location, latitude=r.lat, longitude=r.lon,
                          district_code="PSW", department_code="PHED", category_code="PHED_NO_WATER")
            lifecycle.submit(s, c, None, lifecycle.Actor("citizen", channel="sms"))
            t0 = time.perf_counter()
            assign_to_cluster(s, c)
            timings.append(time.perf_counter() - t0)
    for size in sorted({min(len(timings) - 1, k) for k in (25, 100, 250, n)}):
        at = sorted(timings[max(1, size - 10):size + 1])
        print(f"assign_to_cluster on SQLite with ~{size} open candidates: median "
              f"{1000 * statistics.median(at):.1f} ms (query, vectorise, write)")


def place_key(text: str) -> str:
    """What an exact-match rule could group by: the first letters of the text, as written."""
    return "".join(ch for ch in text.lower() if ch.isalpha())[:12]


if __name__ == "__main__":
    main()
