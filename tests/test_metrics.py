"""/metrics as an operator's Prometheus reads it: how long jobs take (a histogram per job,
from the in-process worker and from RQ workers on Redis alike), the outbox's failures by
the provider's error code, and the complaints past their SLA."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conversation.messages import InboundMessage
from gateway.app import create_app
from gateway.pipeline import receive
from gateway.queue import RQQueue
from storage.db import transaction
from storage.messages import contact_for, queue_outbound
from storage.models import Complaint, utcnow
from tests.citizen import Citizen
from tests.test_jobs_redis import _worker


def _scrape(rt) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, parsed as Prometheus parses it: (name, labels) -> value."""
    app = create_app(rt)
    app.config["TESTING"] = True
    body = app.test_client().get("/metrics").get_data(as_text=True)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def _job_runs(samples: dict, job: str) -> float:
    return samples.get(("ikhtiyar_job_duration_seconds_count", (("job", job),)), 0.0)


def test_the_in_process_worker_reports_how_long_each_kind_of_job_took(rt):
    Citizen(rt).send("hi")  # a turn, then the delivery of its reply
    samples = _scrape(rt)
    assert _job_runs(samples, "process_inbound") == 1.0
    assert _job_runs(samples, "deliver") == 1.0
    # A histogram: cumulative buckets up to +Inf, which holds every run; the sum is seconds.
    buckets = sorted((float(dict(labels)["le"]), value) for (name, labels), value in samples.items()
                     if name == "ikhtiyar_job_duration_seconds_bucket" and dict(labels)["job"] == "process_inbound")
    assert buckets[-1] == (float("inf"), 1.0)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert 0 < samples[("ikhtiyar_job_duration_seconds_sum", (("job", "process_inbound"),))] < 60


def test_rq_workers_report_their_jobs_durations_to_every_web_process(rt, redis_url):
    queue = f"ikhtiyar-test-{uuid.uuid4().hex[:8]}"
    rt.queue = RQQueue(redis_url, queue)
    assert _job_runs(_scrape(rt), "process_inbound") == 0.0
    receive(rt, InboundMessage("whatsapp", "SM-metrics-1", "+923001234567", "hi"))
    result = _worker(rt, redis_url, queue)  # another process: the turn and its delivery
    assert result.returncode == 0, result.stderr[-2000:]
    samples = _scrape(rt)
    assert _job_runs(samples, "process_inbound") == 1.0
    assert _job_runs(samples, "deliver") == 1.0
    rt.queue.redis.delete(f"ikhtiyar:metrics:{queue}:job_seconds")


def test_outbox_failures_are_counted_by_the_providers_error_code(rt):
    Citizen(rt).send("hi")
    with transaction(rt.sessions) as s:
        contact = contact_for(s, "whatsapp", "+923001234567")
        for error in ("Twilio 63016: outside the 24-hour window", "Twilio 63016: outside the 24-hour window",
                      "Twilio 21610: the number has unsubscribed", "the citizen has opted out",
                      "connection reset by peer"):
            message = queue_outbound(s, contact, "Your complaint was resolved")
            message.status, message.error = "failed", error
    samples = _scrape(rt)
    failed = {dict(labels)["code"]: value for (name, labels), value in samples.items()
              if name == "ikhtiyar_outbox_failed" and dict(labels)["channel"] == "whatsapp"}
    assert failed == {"63016": 2.0, "21610": 1.0, "opted_out": 1.0, "other": 1.0}


@pytest.mark.parametrize("state, counted", [("submitted", True), ("in_progress", True), ("resolved", False)])
def test_complaints_past_their_sla_are_reported_while_they_are_worked_on(rt, state, counted):
    c = Citizen(rt, channel="sms")
    for text in ("1", "Garbage has not been collected for a week here", "Swat", "Mingora", "yes", "skip", "yes"):
        c.send(text)
    assert _scrape(rt)[("ikhtiyar_complaints_overdue_open", ())] == 0.0  # filed today: due later
    with transaction(rt.sessions) as s:
        complaint = s.query(Complaint).one()
        complaint.due_at = utcnow() - timedelta(days=1)  # the clock moved past its due date
        complaint.state = state
    assert _scrape(rt)[("ikhtiyar_complaints_overdue_open", ())] == (1.0 if counted else 0.0)


def test_the_error_code_of_a_failure_is_the_providers_number_only():
    from gateway.blueprints.metrics import error_code

    assert error_code("Twilio 30007: filtered") == "30007"
    assert error_code("Twilio 300070x") == "other"
    assert error_code(None) == "other"
    assert re.fullmatch(r"\d+|opted_out|other", error_code("Twilio 1: x"))
