"""/metrics: what an operator watches, in Prometheus's text format.

Counts are read from the database at scrape time (a few indexed GROUP BYs), so every web
process reports the same truth whatever process did the work. Job durations are the one
thing measured where it happens: by the RQ workers on Redis (every web process reads the
same), or by the in-process worker of `serve` in its own memory.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select

from storage.models import Complaint, Message, OutboxStatus, utcnow

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
        failures = GaugeMetricFamily("ikhtiyar_outbox_failed",
                                     "Outbound messages that failed for good, by channel and provider error code",
                                     labels=["channel", "code"])
        overdue = GaugeMetricFamily("ikhtiyar_complaints_overdue_open",
                                    "Complaints still being worked on past their SLA due date (breaches)")
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
                by_code: dict[tuple[str, str], int] = {}
                for channel, error, count in session.execute(
                        select(Message.channel, Message.error, func.count())
                        .where(Message.direction == "out", Message.status == OutboxStatus.FAILED.value)
                        .group_by(Message.channel, Message.error)):
                    key = (channel, error_code(error))
                    by_code[key] = by_code.get(key, 0) + count
                for (channel, code), count in sorted(by_code.items()):
                    failures.add_metric([channel, code], count)
                from gateway.scheduler import WORKING_STATES

                overdue.add_metric([], session.scalar(
                    select(func.count()).select_from(Complaint)
                    .where(Complaint.due_at < utcnow(), Complaint.state.in_(WORKING_STATES))) or 0)
            yield messages
            yield complaints
            yield escalated
            yield failures
            yield overdue
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
        yield from _job_durations(self.rt)


# How the outbox words a failure (gateway.jobs, the status callback): "Twilio 63016: ...".
_CODE = re.compile(r"^Twilio (\d+)\b")


def error_code(error: str | None) -> str:
    """The provider's error code of a failure, "opted_out", or "other"."""
    match = _CODE.match(error or "")
    if match:
        return match.group(1)
    return "opted_out" if error == "the citizen has opted out" else "other"


def _job_durations(rt):
    durations = getattr(rt.queue, "job_durations", None)
    if not callable(durations):
        return
    from gateway.queue import DURATION_BUCKETS

    family = HistogramMetricFamily("ikhtiyar_job_duration_seconds", "How long jobs took, by job",
                                   labels=["job"])
    try:
        for job, (counts, total) in sorted(durations().items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*map(str, DURATION_BUCKETS), "+Inf"), counts, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric([job], buckets, sum_value=total)
    except Exception:  # Redis down: /readyz says so; the rest still reports
        return
    yield family


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
