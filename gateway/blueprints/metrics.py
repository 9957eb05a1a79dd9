"""/metrics: what an operator watches, in Prometheus's text format.

Counts are read from the database at scrape time (a few indexed GROUP BYs), so every web
process reports the same truth whatever process did the work; nothing is counted in memory.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from storage.models import Complaint, Message

bp = Blueprint("metrics", __name__)


class _DatabaseCollector:
    def __init__(self, rt) -> None:
        self.rt = rt

    def collect(self):
        messages = GaugeMetricFamily("ikhtiyar_messages", "Messages stored, by channel, direction and status",
                                     labels=["channel", "direction", "status"])
        complaints = GaugeMetricFamily("ikhtiyar_complaints", "Complaints by state and channel",
                                       labels=["state", "channel"])
        escalated = GaugeMetricFamily("ikhtiyar_complaints_escalated_open",
                                      "Open complaints escalated at least once")
        queue = GaugeMetricFamily("ikhtiyar_jobs_pending", "Jobs waiting in this process's in-process queue")
        try:
            with self.rt.sessions() as session:
                for channel, direction, status, count in session.execute(
                        select(Message.channel, Message.direction, Message.status, func.count())
                        .group_by(Message.channel, Message.direction, Message.status)):
                    messages.add_metric([channel, direction, status], count)
                for state, channel, count in session.execute(
                        select(Complaint.state, Complaint.channel, func.count())
                        .group_by(Complaint.state, Complaint.channel)):
                    complaints.add_metric([state, channel], count)
                escalated.add_metric([], session.scalar(
                    select(func.count()).select_from(Complaint)
                    .where(Complaint.escalation_level > 0, Complaint.state != "closed")) or 0)
            yield messages
            yield complaints
            yield escalated
        except Exception as exc:
            from gateway.spool import database_down

            if not database_down(exc):
                raise
            # The database is down: what the spool and the queues say is still worth a scrape.
        pending = getattr(self.rt.queue, "pending", None)
        if callable(pending):
            queue.add_metric([], pending())
            yield queue
        yield from _queues_and_spool(self.rt)


def _queues_and_spool(rt):
    """Queue depths on Redis, the spool's backlog, outbox rows claimed but unsettled."""
    from gateway import spool

    depths = getattr(rt.queue, "depths", None)
    if callable(depths):
        family = GaugeMetricFamily("ikhtiyar_queue_depth", "Jobs waiting on Redis, by queue", labels=["queue"])
        try:
            for name, count in depths().items():
                family.add_metric([name], count)
            yield family
        except Exception:  # noqa: S110  (Redis down: /readyz says so; the rest still reports)
            pass
    spooled = GaugeMetricFamily("ikhtiyar_spool_bytes",
                                "Inbound messages waiting in the spool for the database (bytes)")
    spooled.add_metric([], spool.pending(rt.settings))
    yield spooled


@bp.get("/metrics")
def metrics():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DatabaseCollector(current_app.extensions["ikhtiyar"]))
    # CONTENT_TYPE_LATEST already names its charset; as a mimetype Flask would add a second.
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
