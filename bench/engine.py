"""Conversation turns per second, in-process, on SQLite and on PostgreSQL.

A turn is what a job does for one inbound message: persist it (unique on provider id),
load the conversation, understand, run the rasa-sdk actions, file complaints, write the
replies to the outbox, commit. Citizens walk the whole complaint form and ask for status.

Baseline, measured in the same run on the same database: the bare storage work of a turn
(store the inbound row, store one outbound row, commit) without the engine. The ratio says
what the engine costs on top of the database.

    python bench/engine.py [--turns 3000] [--postgres postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conversation.messages import InboundMessage
from gateway import jobs
from gateway import runtime as rt_module
from gateway.pipeline import receive
from gateway.queue import InProcessQueue
from gateway.settings import load_settings
from storage.db import transaction
from storage.messages import contact_for, insert_inbound, queue_outbound

SCRIPT = ["hi", "1", "The water supply in our street has been broken for a week", "Peshawar",
          "Gulberg street 5", "no", "status", "any update on my complaint?", "thanks"]
TARGET = 5000.0  # turns/s on one core (issue 16)


def _runtime(url: str, var: Path) -> rt_module.Runtime:
    settings = load_settings(database_url=url, var_dir=var, redis_url=None,
                             data_key=base64.b64encode(os.urandom(32)).decode())
    rt = rt_module.build(settings, warn=lambda _m: None)
    rt_module.prepare(rt, say=lambda _m: None)

    class Held(InProcessQueue):  # the bench runs the turn itself; deliveries are not timed
        def enqueue(self, func, *args):
            pass

    rt.queue = Held()
    jobs.install(rt)
    return rt


def engine_turns(rt: rt_module.Runtime, turns: int) -> tuple[float, float]:
    """Turns/s of the job alone, and messages/s of the persist step that comes before it
    (the webhook's share, timed apart)."""
    ids = itertools.count()
    turn_time = persist_time = cpu_time = 0.0
    done = 0
    while done < turns:
        sender = f"+9230{uuid.uuid4().int % 10**8:08d}"
        for line in SCRIPT[: turns - done]:
            t0 = time.perf_counter()
            message_id, _ = receive(rt, InboundMessage("whatsapp", f"bench-{next(ids)}", sender, line))
            t1, c1 = time.perf_counter(), time.process_time()
            jobs.process_inbound(message_id)
            turn_time += time.perf_counter() - t1
            cpu_time += time.process_time() - c1
            persist_time += t1 - t0
            done += 1
    # CPU time per turn: what the turn costs, whatever else the machine is running.
    engine_turns.cpu_us = cpu_time / done * 1e6
    return done / turn_time, done / persist_time


def storage_only(rt: rt_module.Runtime, turns: int) -> float:
    start = time.perf_counter()
    sender = f"+9231{uuid.uuid4().int % 10**8:08d}"
    for i in range(turns):
        with transaction(rt.sessions) as s:
            contact = contact_for(s, "whatsapp", sender)
            insert_inbound(s, contact, channel="whatsapp", provider_id=f"base-{uuid.uuid4().hex}-{i}",
                           text=SCRIPT[i % len(SCRIPT)], payload={})
            queue_outbound(s, contact, "reply")
    return turns / (time.perf_counter() - start)


def run(name: str, url: str, var: Path, turns: int) -> None:
    rt = _runtime(url, var)
    engine_turns(rt, 50)  # warm up: imports, reference data, statement caches
    base = storage_only(rt, turns)
    rate, persist = engine_turns(rt, turns)
    print(f"{name:<11} engine: {rate:7.0f} turns/s   persist step: {persist:7.0f} msg/s   "
          f"storage-only baseline: {base:7.0f} /s   engine/baseline: {rate / base:5.2f}   "
          f"vs target {TARGET:.0f}/s: {rate / TARGET:5.2f}   CPU per turn: {engine_turns.cpu_us:5.0f} µs")
    rt.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3000)
    parser.add_argument("--postgres", default=os.environ.get("IKHTIYAR_DATABASE_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.db", Path(tmp), args.turns)
        url = make_url(load_settings(database_url=args.postgres).database_url)
        name = f"ikhtiyar_bench_{uuid.uuid4().hex[:6]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run("PostgreSQL", url.set(database=name).render_as_string(hide_password=False),
                Path(tmp), args.turns)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
