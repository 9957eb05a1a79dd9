"""The one path every message takes after its channel has parsed and verified it:
persist (before the provider is acknowledged), then hand the turn to a job."""

from __future__ import annotations

from conversation.inbox import prepare, store
from conversation.messages import InboundMessage
from gateway import jobs
from gateway.runtime import Runtime


def receive(rt: Runtime, inbound: InboundMessage) -> tuple[int, bool]:
    """Store the message; queue its turn if it is new. A provider retry is a no-op."""
    # A bare connection, not an ORM session: the two statements are built once, and a
    # webhook answers sooner (and holds SQLite's write lock shorter) without a session.
    prepared = prepare(inbound)
    with rt.engine.begin() as connection:
        message_id, new = store(connection, prepared)
    if new:
        try:
            getattr(rt.queue, "enqueue_new", rt.queue.enqueue)(jobs.process_inbound, message_id)
        except Exception:  # the message is on disk: the sweeper will queue its turn
            jobs.log.exception("could not queue message %s; the sweeper will retry", message_id,
                               extra={"message_id": message_id})
    return message_id, new
