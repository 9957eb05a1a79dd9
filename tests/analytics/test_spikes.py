"""Spike alerts: a district and category far above its usual daily count raises an alert that
says the numbers behind it; a busy Monday or a quiet Friday does not."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta

import numpy as np
from sqlalchemy import func, select

from analytics.spikes import LOCAL, MODEL_VERSION, detect_spikes, score_day
from storage import lifecycle, tracking
from storage.clusters import SpikeAlert
from storage.messages import contact_for, insert_inbound
from storage.models import Complaint

_n = itertools.count(1)
TODAY = date(2026, 11, 30)  # a Monday


def _file_on(rt, day: date, count: int, *, district: str = "PSW", category: str = "PHED_NO_WATER") -> None:
    """``count`` complaints filed through the lifecycle, dated ``day`` (Pakistan time)."""
    with rt.sessions() as s, s.begin():
        for k in range(count):
            n = next(_n)
            contact = contact_for(s, "sms", f"+92301{n:07d}")
            message, _ = insert_inbound(s, contact, channel="sms", provider_id=f"sp-{n}",
                                        text="pani nahi aa raha", payload={})
            complaint = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id,
                                  contact_id=contact.id, channel="sms", description="pani nahi aa raha",
                                  district_code=district, department_code="PHED", category_code=category)
            lifecycle.submit(s, complaint, message, lifecycle.Actor("citizen", channel="sms"))
            # Backdate: the history of the past eight weeks.
            complaint.created_at = datetime.combine(day, time(9 + k % 8, k % 60), LOCAL)


def test_a_spike_raises_one_alert_with_the_numbers_behind_it(rt):
    for week in range(1, 9):
        _file_on(rt, TODAY - timedelta(weeks=week), 2 + week % 2)  # 2 or 3 on Mondays
        _file_on(rt, TODAY - timedelta(weeks=week, days=3), 1)  # the other days do not count
    _file_on(rt, TODAY, 14)
    _file_on(rt, TODAY, 3, district="NSR")  # Nowshera's usual day: no alert
    with rt.sessions() as s, s.begin():
        [alert] = detect_spikes(s, TODAY)
        assert alert.explanation == "Peshawar · Water supply scheme not working: 14 today vs 2.5 usual, 5.6×"
        assert (alert.district_code, alert.category_code, alert.count) == ("PSW", "PHED_NO_WATER", 14)
        assert alert.model_version == MODEL_VERSION
    with rt.sessions() as s, s.begin():
        detect_spikes(s, TODAY)  # the daily job run twice records the alert once
        assert s.scalar(select(func.count()).select_from(SpikeAlert)) == 1


def test_no_alert_on_an_ordinary_day(rt):
    for week in range(1, 9):
        _file_on(rt, TODAY - timedelta(weeks=week), 3)
    _file_on(rt, TODAY, 4)
    with rt.sessions() as s, s.begin():
        assert detect_spikes(s, TODAY) == []
        assert s.scalar(select(func.count()).select_from(SpikeAlert)) == 0


def test_a_flat_series_with_weekday_seasonality_raises_no_alert():
    rng = np.random.default_rng(3)
    weekday = np.array([30, 26, 24, 24, 8, 15, 5])  # busy Mondays, quiet Fridays and Sundays
    counts = rng.poisson(np.tile(weekday, 20))[None, :]
    flagged = [day for day in range(56, counts.shape[1]) if score_day(counts, day).spike[0]]
    assert flagged == []


def test_the_same_series_with_a_tripled_friday_raises_an_alert():
    weekday = np.array([30, 26, 24, 24, 8, 15, 5])
    counts = np.tile(weekday, 10)[None, :].astype(float)
    friday = 7 * 9 + 4
    counts[0, friday] = 24
    score = score_day(counts, friday)
    assert score.spike[0] and score.baseline[0] == 8 and score.ratio[0] == 3
