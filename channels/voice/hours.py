"""Office hours of the call centre, written the way an operator says them:
``mon-fri 09:00-17:00`` or ``mon-thu,sat 08:30-16:00`` (local time of the office)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class OfficeHours:
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time
    zone: ZoneInfo

    def open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes


def parse(spec: str, zone: str = "Asia/Karachi") -> OfficeHours:
    """Parse ``days HH:MM-HH:MM``; raises ValueError saying what is wrong."""
    match = _SPEC.match(spec.lower())
    if not match:
        raise ValueError("must look like 'mon-fri 09:00-17:00'")
    days: set[int] = set()
    for part in match.group(1).split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"unknown day in '{part}' (use {', '.join(DAYS)})")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    h1, m1, h2, m2 = (int(g) for g in match.groups()[1:])
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ValueError("hours must be between 00:00 and 24:00")
    opens, closes = time(h1, m1), time(23, 59, 59) if h2 == 24 else time(h2, m2)
    if closes <= opens:
        raise ValueError("the office must close after it opens")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{zone}'") from None
    return OfficeHours(frozenset(days), opens, closes, tz)
