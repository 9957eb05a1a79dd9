"""Nothing sent twice, nothing queued twice: delivery claims, Twilio reconciliation, warm
non-forking workers, one job per message however often the sweeper runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from channels import registry
from channels.twilio.sender import TwilioSender
from conversation.messages import InboundMessage
from gateway import jobs
from gateway.pipeline import receive
from gateway.queue import RQQueue
from gateway.settings import load_settings
from storage.messages import contact_for, queue_outbound
from storage.models import Message, utcnow
from tests.conftest import TEST_KEY, TEST_SECRET

postgres_only = pytest.mark.parametrize("rt", ["postgresql"], indirect=True)


def _queued(rt, text="Your complaint KP-1234567 is registered", address="+923001234567") -> int:
    with rt.sessions() as s, s.begin():
        message = queue_outbound(s, contact_for(s, "sms", address), text)
        s.flush()
        return message.id


class FakeTwilio:
    """Twilio's REST client as the sender uses it: messages.create and messages.list,
    counting every message it accepts."""

    def __init__(self, pause: float = 0.0) -> None:
        self.sent: list[dict] = []
        self.pause = pause
        self.lock = threading.Lock()
        self.messages = self

    def create(self, **kwargs):
        time.sleep(self.pause)
        with self.lock:
            self.sent.append(kwargs)
            sid = f"SM{len(self.sent):032d}"
        return SimpleNamespace(sid=sid)

    def list(self, to=None, date_sent_after=None, limit=None):
        now = utcnow()
        return [SimpleNamespace(sid=f"SM{i + 1:032d}", body=m.get("body"), date_created=now,
                                date_sent=now)
                for i, m in enumerate(self.sent) if m["to"] == to][:limit]


def _twilio_sender(monkeypatch, fake: FakeTwilio) -> None:
    settings = load_settings(twilio_account_sid="AC" + "0" * 32, twilio_auth_token="x" * 32,
                             twilio_sms_from="+15005550006", data_key=TEST_KEY,
                             secret_key=TEST_SECRET)
    sender = TwilioSender("sms", settings, client=fake)
    monkeypatch.setattr(registry, "sender_for", lambda channel, _settings: sender)


@postgres_only
def test_two_delivery_jobs_for_one_message_send_it_once(rt, monkeypatch):
    fake = FakeTwilio(pause=0.3)
    _twilio_sender(monkeypatch, fake)
    message_id = _queued(rt)
    results = []
    threads = [threading.Thread(target=lambda: results.append(jobs.deliver(message_id)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake.sent) == 1
    with rt.sessions() as s:
        assert s.get(Message, message_id).status == "sent"


@postgres_only
def test_no_database_connection_is_held_while_twilio_is_called(rt, monkeypatch):
    seen = {}

    class Watching(FakeTwilio):
        def create(self, **kwargs):
            seen["checked_out"] = rt.engine.pool.checkedout()
            with rt.engine.connect() as other:  # what another worker sees meanwhile
                seen["status"] = other.execute(select(Message.status).where(
                    Message.id == message_id)).scalar()
            return super().create(**kwargs)

    _twilio_sender(monkeypatch, Watching())
    message_id = _queued(rt)
    assert jobs.deliver(message_id) == "sent"
    # Claimed and committed before the call; nothing of the job's own stays open across it.
    assert seen == {"checked_out": 0, "status": "sending"}


@postgres_only
def test_a_worker_killed_after_twilio_took_the_message_does_not_send_it_again(rt, monkeypatch):
    fake = FakeTwilio()
    _twilio_sender(monkeypatch, fake)
    message_id = _queued(rt)

    class Killed(BaseException):
        pass

    def dies_after_sending(*_args, **_kwargs):
        raise Killed  # the worker dies between Twilio's answer and recording it
    monkeypatch.setattr(jobs, "_record", dies_after_sending)
    with pytest.raises(Killed):
        jobs.deliver(message_id)
    monkeypatch.undo()
    _twilio_sender(monkeypatch, fake)
    assert len(fake.sent) == 1
    with rt.sessions() as s, s.begin():
        assert s.get(Message, message_id).status == "sending"
        s.execute(update(Message).where(Message.id == message_id)
                  .values(updated_at=utcnow() - timedelta(minutes=5)))
    jobs.sweep(stale_seconds=0)  # finds the row stuck in sending, queues its recovery
    rt.queue.run_due()
    assert len(fake.sent) == 1
    with rt.sessions() as s:
        row = s.get(Message, message_id)
        assert row.status == "sent" and row.provider_id == f"SM{1:032d}"


@postgres_only
def test_a_row_stuck_in_sending_that_twilio_never_got_is_sent_once(rt, monkeypatch):
    fake = FakeTwilio()
    _twilio_sender(monkeypatch, fake)
    message_id = _queued(rt)
    with rt.sessions() as s, s.begin():  # a worker claimed it and died before the call
        s.execute(update(Message).where(Message.id == message_id).values(
            status="sending", idempotency_key=f"out:{message_id}",
            updated_at=utcnow() - timedelta(minutes=5)))
    jobs.sweep(stale_seconds=0)
    jobs.sweep(stale_seconds=0)
    rt.queue.run_due()
    assert len(fake.sent) == 1
    with rt.sessions() as s:
        assert s.get(Message, message_id).status == "sent"


def test_a_turn_that_crashed_and_ran_again_queues_one_set_of_replies(rt, monkeypatch):
    from storage import messages as storage_messages

    message_id, _ = receive(rt, InboundMessage("whatsapp", "SM-crash-1", "+923001234567", "hi"))
    real = storage_messages.queue_outbound_ids

    def crash_after_queueing(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("worker lost mid-turn")
    monkeypatch.setattr("conversation.engine.queue_outbound_ids", crash_after_queueing)
    with pytest.raises(RuntimeError):
        jobs.process_inbound(message_id)
    monkeypatch.undo()
    rt.queue = type(rt.queue)()  # the crashed worker's queue is gone with it
    jobs.sweep(stale_seconds=0)
    rt.queue.run_due()
    jobs.process_inbound(message_id)  # and a late duplicate of the job
    with rt.sessions() as s:
        replies = s.scalars(select(Message).where(Message.direction == "out")).all()
    assert len(replies) == 1
    assert replies[0].idempotency_key == f"turn:{message_id}:0"


@postgres_only
def test_sweeps_never_queue_a_message_twice(rt, redis_url):
    rt.queue = RQQueue(redis_url, f"ikhtiyar-test-{uuid.uuid4().hex[:8]}")
    try:
        for n in range(1020):
            receive(rt, InboundMessage("sms", f"SM-flood-{n}", f"+9230012{n:05d}", "hi"))
        for _ in range(3):  # the scheduler runs while the workers are behind
            jobs.sweep(stale_seconds=0)
        assert rt.queue.queues["turns"].count == 1020
    finally:
        for queue in rt.queue.queues.values():
            queue.empty()
        rt.queue.redis.delete(*rt.queue.redis.keys("ikhtiyar:queued:" + rt.queue.prefix + ":*") or ["none"])


def record_pid(path: str) -> None:
    """A job for the worker test: which process ran it."""
    with open(path, "a") as out:
        out.write(f"{os.getpid()}\n")


@postgres_only
def test_a_worker_runs_its_jobs_in_its_own_warm_process_and_replies_go_first(rt, redis_url, tmp_path):
    name = f"ikhtiyar-test-{uuid.uuid4().hex[:8]}"
    rt.queue = RQQueue(redis_url, name)
    pids = tmp_path / "pids"
    for n in range(3):
        rt.queue.queues["turns"].enqueue("tests.test_exactly_once.record_pid", str(pids), job_id=f"pid-{n}")
    receive(rt, InboundMessage("whatsapp", "SM-warm-1", "+923001234567", "hi"))
    env = {**os.environ, "IKHTIYAR_DATABASE_URL": rt.settings.effective_database_url,
           "IKHTIYAR_REDIS_URL": redis_url, "IKHTIYAR_QUEUE_NAME": name,
           "IKHTIYAR_DATA_KEY": TEST_KEY, "IKHTIYAR_SECRET_KEY": TEST_SECRET, "IKHTIYAR_VAR_DIR": str(rt.settings.var_dir)}
    worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker", "--burst"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, out[-2000:]
    assert pids.exists(), out[-3000:]
    assert set(pids.read_text().split()) == {str(worker.pid)}  # no fork per job
    with rt.sessions() as s:
        reply = s.scalars(select(Message).where(Message.direction == "out")).one()
        assert reply.status == "delivered"
    assert "deliveries" in out  # the reply went through its own queue


def _token(rt, username: str, role: str) -> str:
    from gateway.passwords import new_token
    from tests.staff import ensure_user

    with rt.sessions() as s, s.begin():
        user = ensure_user(s, username, role, "POLICE" if role == "officer" else None,
                           "PSW" if role == "officer" else None, "x")
        token, digest = new_token()
        user.token_hash = digest
    return token


def test_a_dead_letter_is_listed_for_the_operator_and_can_be_retried(rt, monkeypatch):
    from channels.delivery import PermanentError
    from gateway.app import create_app

    def refuses(_outgoing):
        raise PermanentError("21610 Attempt to send to unsubscribed recipient")
    monkeypatch.setattr(registry, "sender_for", lambda channel, _settings: refuses)
    message_id = _queued(rt)
    assert jobs.deliver(message_id) == "failed"
    client = create_app(rt).test_client()
    officer = {"Authorization": f"Bearer {_token(rt, 'dead_letter_officer', 'officer')}"}
    assert client.post(f"/ops/outbox/{message_id}/retry", headers=officer).status_code == 403
    with rt.sessions() as s:
        assert s.get(Message, message_id).status == "failed"  # refused: nothing changed
    admin = {"Authorization": f"Bearer {_token(rt, 'dead_letter_admin', 'admin')}"}
    listed = client.get("/ops/outbox/failed", headers=admin).json["failed"]
    assert [(m["id"], m["error"]) for m in listed] == [(message_id, "21610 Attempt to send to unsubscribed recipient")]
    monkeypatch.undo()
    assert client.post(f"/ops/outbox/{message_id}/retry", headers=admin).status_code == 202
    rt.queue.run_due()
    with rt.sessions() as s:
        assert s.get(Message, message_id).status == "delivered"  # the log sender, this time
    assert client.get("/ops/outbox/failed", headers=admin).json["failed"] == []


@postgres_only
def test_a_job_lost_with_a_worker_killed_as_it_took_it_is_queued_again_by_the_sweep(rt, redis_url):
    rt.queue = RQQueue(redis_url, f"ikhtiyar-test-{uuid.uuid4().hex[:8]}")
    turns = rt.queue.queues["turns"]
    try:
        receive(rt, InboundMessage("sms", "SM-lost-1", "+923001230000", "hi"))
        assert turns.count == 1
        rt.queue.redis.lpop(turns.key)  # a worker took it off the queue and died at once
        jobs.sweep(stale_seconds=0)
        assert turns.job_ids == [f"process_inbound-{_inbound_id(rt)}"]
        jobs.sweep(stale_seconds=0)  # waiting again: not queued twice
        assert turns.count == 1
    finally:
        for queue in rt.queue.queues.values():
            queue.empty()


def _inbound_id(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(Message.id).where(Message.direction == "in"))


def test_in_serve_a_waiting_reply_goes_before_a_backlog_of_turns_and_a_turn_is_queued_once():
    from gateway.queue import InProcessQueue

    ran = []

    def process_inbound(message_id):
        ran.append(("turn", message_id))

    def deliver(message_id):
        ran.append(("reply", message_id))

    queue = InProcessQueue()
    for n in range(3):
        queue.enqueue(process_inbound, n)
        queue.enqueue(process_inbound, n)  # the sweep finds it again while it waits
    queue.enqueue(deliver, 7)
    assert queue.pending() == 4
    queue.run_due()
    assert ran == [("reply", 7), ("turn", 0), ("turn", 1), ("turn", 2)]


@postgres_only
def test_a_stuck_row_whose_text_the_citizen_already_got_once_is_still_sent(rt, monkeypatch):
    fake = FakeTwilio()
    _twilio_sender(monkeypatch, fake)
    first = _queued(rt, text="Welcome to the complaints line")
    assert jobs.deliver(first) == "sent"
    second = _queued(rt, text="Welcome to the complaints line")  # the same words, a new message
    with rt.sessions() as s, s.begin():  # claimed by a worker that died before calling Twilio
        s.execute(update(Message).where(Message.id == second).values(
            status="sending", idempotency_key=f"out:{second}", updated_at=utcnow() - timedelta(seconds=70)))
    jobs.sweep(stale_seconds=0)
    rt.queue.run_due()
    assert len(fake.sent) == 2
    with rt.sessions() as s:
        assert [s.get(Message, i).provider_id for i in (first, second)] == [f"SM{1:032d}", f"SM{2:032d}"]
