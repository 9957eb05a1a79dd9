"""WhatsApp's 24-hour customer-service window.

Free-form WhatsApp messages are allowed only within 24 hours of the citizen's last
message; outside it only an approved template may be sent. The delivery job tells the
sender when the citizen last wrote (``Outgoing.last_inbound_at``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WINDOW = timedelta(hours=24)


def is_open(last: datetime | None, now: datetime | None = None) -> bool:
    return last is not None and (now or datetime.now(UTC)) - last < WINDOW
