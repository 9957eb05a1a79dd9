"""The one path every message takes after its channel has parsed and verified it:
persist (before the provider is acknowledged), then hand the turn to a job."""

from __future__ import annotations

from conversation.inbox import accept
from conversation.messages import InboundMessage
from gateway import jobs
from gateway.runtime import Runtime
from storage.db import transaction


def receive(rt: Runtime, inbound: InboundMessage) -> tuple[int, bool]:
    """Store the message; queue its turn if it is new. A provider retry is a no-op."""
    with transaction(rt.sessions) as session:
        message_id, new = accept(session, inbound)
    if new:
        try:
            rt.queue.enqueue(jobs.process_inbound, message_id)
        except Exception:  # the message is on disk: the sweeper will queue its turn
            jobs.log.exception("could not queue message %s; the sweeper will retry", message_id)
    return message_id, new
