"""The sender used when a channel has no provider credentials, and for simulator personas:
the message counts as delivered and the log says one was sent, so the embedded default
works offline and the simulator shows every reply (from the outbox, not from the log).

The log line names the channel, the kind and the length, never the text or the address:
a reply quotes the citizen's complaint and may carry their name."""

from __future__ import annotations

import logging
import uuid

from channels.delivery import Delivered, Outgoing

log = logging.getLogger("ikhtiyar.outbox")


def send(message: Outgoing) -> Delivered:
    provider_id = f"log-{uuid.uuid4().hex}"
    log.info("%s %s via %s (log sender): %d characters", provider_id, message.kind,
             message.channel, len(message.text))
    return Delivered(provider_id=provider_id, status="delivered")
