"""Spike alerts: a district and category receiving far more complaints today than usual.

The usual count is the median of the same weekday over the previous ``WEEKS`` weeks (so a
quiet Friday is compared with Fridays), its spread the MAD of those counts, floored by the
Poisson spread of the median (counts are small). A day is a spike when its count is at
least ``MIN_COUNT``, at least ``MIN_RATIO`` times the usual count, and ``MIN_Z`` spreads
above it. Every alert says the numbers behind it:
"Peshawar · Water supply scheme not working: 41 today vs 9 usual, 4.5×".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import clusters
from storage.clusters import SpikeAlert
from storage.models import Category, Complaint, District

MODEL_VERSION = "spike-weekday-median-mad-v1"
WEEKS = 8
MIN_COUNT = 6
MIN_RATIO = 2.0
MIN_Z = 3.5
# Officers count days in Pakistan time, not UTC.
LOCAL = ZoneInfo("Asia/Karachi")


@dataclass(frozen=True)
class Score:
    """Per series: today's count, the usual count, the ratio and whether it is a spike."""

    count: np.ndarray
    baseline: np.ndarray
    ratio: np.ndarray
    z: np.ndarray
    spike: np.ndarray


def score_day(counts: np.ndarray, day: int, *, weeks: int = WEEKS, min_count: int = MIN_COUNT,
              min_ratio: float = MIN_RATIO, min_z: float = MIN_Z) -> Score:
    """Score column ``day`` of ``counts`` (series × days) against the same weekday of the
    ``weeks`` weeks before it. Needs ``day >= 7``; fewer weeks of history are used if that
    is all there is."""
    counts = np.asarray(counts, dtype=float)
    if counts.ndim == 1:
        counts = counts[None, :]
    lags = [day - 7 * k for k in range(1, weeks + 1) if day - 7 * k >= 0]
    if not lags:
        raise ValueError("a spike needs at least one week of history")
    history = counts[:, lags]
    baseline = np.median(history, axis=1)
    mad = np.median(np.abs(history - baseline[:, None]), axis=1)
    spread = np.maximum.reduce([1.4826 * mad, np.sqrt(baseline), np.ones_like(baseline)])
    today = counts[:, day]
    ratio = today / np.maximum(baseline, 1.0)
    z = (today - baseline) / spread
    spike = (today >= min_count) & (ratio >= min_ratio) & (z >= min_z)
    return Score(today, baseline, ratio, z, spike)


def explain(district: str, category: str, count: int, baseline: float, ratio: float) -> str:
    return f"{district} · {category}: {count} today vs {baseline:g} usual, {ratio:.1f}×"


def today() -> date:
    """Today in Pakistan time."""
    return datetime.now(LOCAL).date()


def _local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL).date()


def detect_spikes(session: Session, day: date) -> list[SpikeAlert]:
    """Record (or refresh) an alert for each district and category whose complaints on
    ``day`` (Pakistan time) are far above their usual count; return the day's alerts."""
    first = day - timedelta(days=7 * WEEKS)
    start = datetime.combine(first, time(), LOCAL)
    end = datetime.combine(day + timedelta(days=1), time(), LOCAL)
    rows = session.execute(
        select(Complaint.district_code, Complaint.category_code, Complaint.created_at)
        .where(Complaint.created_at >= start, Complaint.created_at < end,
               Complaint.district_code.is_not(None), Complaint.category_code.is_not(None)))
    series: dict[tuple[str, str], np.ndarray] = {}
    width = 7 * WEEKS + 1
    for district, category, created in rows:
        counts = series.setdefault((district, category), np.zeros(width))
        counts[(_local_day(created) - first).days] += 1
    if not series:
        return []
    keys = list(series)
    score = score_day(np.stack([series[k] for k in keys]), width - 1)
    alerts = []
    for i in np.flatnonzero(score.spike):
        district_code, category_code = keys[i]
        district = session.get(District, district_code)
        category = session.get(Category, category_code)
        count, baseline, ratio = int(score.count[i]), float(score.baseline[i]), float(score.ratio[i])
        text = explain(district.name_en if district else district_code,
                       category.name_en if category else category_code, count, baseline, ratio)
        alert, _new = clusters.record_spike(session, day, district_code, category_code, count=count,
                                            baseline=baseline, ratio=ratio, explanation=text,
                                            model_version=MODEL_VERSION)
        alerts.append(alert)
    return alerts
