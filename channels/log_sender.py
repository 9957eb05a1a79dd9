"""The sender used when a channel has no provider credentials, and for simulator personas:
the message is written to the log and counts as delivered, so the embedded default works
offline and the simulator shows every reply."""

from __future__ import annotations

import logging
import uuid

from channels.delivery import Delivered, Outgoing

log = logging.getLogger("ikhtiyar.outbox")


def send(message: Outgoing) -> Delivered:
    log.info("to %s via %s (log sender): %s", message.channel, _mask(message.to), message.text[:200])
    return Delivered(provider_id=f"log-{uuid.uuid4().hex}", status="delivered")


def _mask(address: str) -> str:
    return address[:4] + "…" + address[-2:] if len(address) > 6 else "…"
