"""Jobs on real Redis, run by a real `ikhtiyar worker` process (RQ)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from sqlalchemy import select

from conversation import catalog
from conversation.messages import InboundMessage
from gateway.pipeline import receive
from gateway.queue import RQQueue
from storage.models import Message
from tests.conftest import TEST_KEY, TEST_SECRET


def _worker(rt, redis_url: str, queue: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "IKHTIYAR_DATABASE_URL": rt.settings.effective_database_url,
           "IKHTIYAR_REDIS_URL": redis_url, "IKHTIYAR_QUEUE_NAME": queue,
           "IKHTIYAR_DATA_KEY": TEST_KEY, "IKHTIYAR_SECRET_KEY": TEST_SECRET, "IKHTIYAR_VAR_DIR": str(rt.settings.var_dir)}
    return subprocess.run([sys.executable, "-m", "gateway.cli", "worker", "--burst"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_message_queued_on_redis_is_answered_by_a_worker_process(rt, redis_url):
    queue = f"ikhtiyar-test-{uuid.uuid4().hex[:8]}"
    rt.queue = RQQueue(redis_url, queue)
    message_id, new = receive(rt, InboundMessage("whatsapp", "SM-redis-1", "+923001234567", "hi"))
    assert new and rt.queue.queue.count == 1
    result = _worker(rt, redis_url, queue)
    assert result.returncode == 0, result.stderr[-2000:]
    with rt.sessions() as s:
        assert s.get(Message, message_id).status == "processed"
        reply = s.scalars(select(Message).where(Message.direction == "out")).one()
    # The turn queued the delivery on Redis too, and the same burst worker delivered it.
    assert reply.text == catalog.text("welcome", "en") and reply.status == "delivered"
    assert rt.queue.queue.count == 0
