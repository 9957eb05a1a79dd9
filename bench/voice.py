"""The phone line under concurrent calls: p50 and p99 time to answer each IVR step.

    python bench/voice.py [--calls 400] [--concurrency 50] [--think 0.5] [--processes 2]
    IKHTIYAR_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/voice.py

Serves the real app with waitress on loopback (SQLite in a temporary folder, or a fresh
PostgreSQL database next to the one named, dropped at the end) and plays whole calls as
signed Twilio webhooks from concurrent callers: language, menu, district, recording (the
complaint is filed here, with its SMS queued), a status check by tracking number, and,
once the department has resolved it, a confirmation "not satisfied" with its reason
recorded (the complaint is reopened and escalated).
Jobs (SMS, recording download) are not run: they are off the call's path. Twilio waits 15 s
for an answer; the aim is p99 under 100 ms for every step.
"""

from __future__ import annotations

import argparse
import base64
import logging
import random
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import os

import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from channels.twilio.request import sign
from conversation import casework
from gateway import jobs
from gateway import runtime as rt_module
from gateway.app import create_app
from gateway.queue import InProcessQueue
from gateway.settings import load_settings
from storage import lifecycle
from storage.db import transaction
from storage.models import Complaint

TOKEN = "bench-token"
ACCOUNT = "AC" + "b" * 32


class NoJobs(InProcessQueue):
    """Jobs are counted, not run: the bench times the webhooks only."""

    def enqueue_in(self, seconds, func, *args) -> None:
        pass


def _database(url: str | None) -> tuple[str | None, callable]:
    if not url or not url.startswith("postgres"):
        return None, lambda: None
    base = make_url(load_settings(database_url=url).database_url)
    name = f"ikhtiyar_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return base.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=50, help="calls at once")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per process")
    parser.add_argument("--processes", type=int, default=2, help="web processes")
    parser.add_argument("--port", type=int, default=18091)
    parser.add_argument("--think", type=float, default=0.5,
                        help="seconds a caller listens between steps (0: back to back, saturation)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ikhtiyar-bench-voice-"))
    pg_url, drop = _database(os.environ.get("IKHTIYAR_DATABASE_URL"))
    base = f"http://127.0.0.1:{args.port}"
    settings = load_settings(database_url=pg_url or f"sqlite:///{tmp / 'bench.db'}", var_dir=tmp,
                             data_key=base64.b64encode(b"b" * 32).decode(), secret_key="bench",
                             redis_url=None, twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN,
                             public_url=base)
    rt = rt_module.build(settings, warn=lambda _m: None)
    rt_module.prepare(rt, say=lambda _m: None)
    rt.queue = NoJobs()
    jobs.install(rt)

    # The web processes are separate from the callers (as in production, where the callers
    # are Twilio): they share one listening socket, each with its own waitress threads.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(1024)
    rt.engine.dispose()  # each process opens its own connections
    children = []
    for _ in range(args.processes):
        pid = os.fork()
        if pid == 0:
            from waitress import create_server

            logging.getLogger("waitress").setLevel(logging.ERROR)
            create_server(create_app(rt), sockets=[listener], threads=args.threads).run()
            os._exit(0)
        children.append(pid)
    time.sleep(0.5)

    timings: dict[str, list[float]] = {}
    lock = threading.Lock()
    filed: list[str] = []

    def post(session: requests.Session, url: str, step: str, form: dict) -> ET.Element:
        headers = {"X-Twilio-Signature": sign(TOKEN, url, form)}
        if args.think:  # the caller listens to the prompt before pressing a key
            time.sleep(random.uniform(0.5, 1.5) * args.think)
        started = time.perf_counter()
        response = session.post(url, data=form, headers=headers, timeout=15)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{step}: HTTP {response.status_code} {response.text[:200]}")
        with lock:
            timings.setdefault(step, []).append(elapsed)
        return ET.fromstring(response.content)

    def one_call(i: int) -> None:
        session = requests.Session()
        sid = f"CA{uuid.uuid4().hex}"
        number = f"+92300{i % 10_000_000:07d}"
        common = {"AccountSid": ACCOUNT, "CallSid": sid, "From": number, "To": "+92915550100",
                  "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01"}

        def press(root: ET.Element, step: str, digits: str) -> ET.Element:
            return post(session, root.find(".//Gather").get("action"), step, {**common, "Digits": digits})

        root = post(session, f"{base}/webhooks/twilio/voice", "incoming call", common)
        root = press(root, "language", "1")
        root = press(root, "main menu", "1")
        root = press(root, "district", "11")
        record = root.find("Record").get("action")
        rec = f"RE{uuid.uuid4().hex}"
        said = post(session, record, "recording (files complaint)", {
            **common, "Digits": "#", "RecordingSid": rec, "RecordingDuration": "20",
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{rec}"})
        digits = "".join(p.text.rsplit("voice_digit_", 1)[1][0] for p in said.iter("Play")
                         if "voice_digit_" in p.text)[:7]
        with lock:
            filed.append(digits)
        # A second call: the status of a complaint, by its tracking number.
        common["CallSid"] = f"CA{uuid.uuid4().hex}"
        root = post(session, f"{base}/webhooks/twilio/voice", "incoming call (language known)", common)
        root = press(root, "main menu", "2")
        press(root, "status by tracking number", digits)
        hang_up(session, common)
        # The department resolves it; a third call answers "not satisfied" and says why.
        with transaction(rt.sessions) as s:
            complaint = s.scalars(select(Complaint).where(Complaint.tracking_number == digits)).one()
            casework.resolve(s, complaint, lifecycle.Actor("admin", None, "bench"), "Repaired")
        common["CallSid"] = f"CA{uuid.uuid4().hex}"
        root = post(session, f"{base}/webhooks/twilio/voice", "incoming call (language known)", common)
        root = press(root, "main menu", "3")
        root = press(root, "confirm (not satisfied)", "2")
        rec = f"RE{uuid.uuid4().hex}"
        post(session, root.find("Record").get("action"), "reason recording", {
            **common, "Digits": "#", "RecordingSid": rec, "RecordingDuration": "9",
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{rec}"})
        hang_up(session, common)

    def hang_up(session: requests.Session, common: dict) -> None:
        status = {**common, "CallStatus": "completed", "CallDuration": "40"}
        post_status = f"{base}/webhooks/twilio/voice/status"
        started = time.perf_counter()
        session.post(post_status, data=status, headers={"X-Twilio-Signature": sign(TOKEN, post_status, status)})
        with lock:
            timings.setdefault("call status callback", []).append(time.perf_counter() - started)

    # Warm up every process: caches (prompt index, reference data) and database connections.
    with ThreadPoolExecutor(2 * args.threads) as pool:
        list(pool.map(one_call, range(-2 * args.threads, 0)))
    timings.clear()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(one_call, range(args.calls)))
    wall = time.perf_counter() - started
    for pid in children:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)

    backend = "PostgreSQL" if pg_url else "SQLite"
    requests_total = sum(len(v) for v in timings.values())
    print(f"{args.calls} callers ({3 * args.calls} calls), {args.concurrency} at once, "
          f"{args.think:.1f} s listening between steps, "
          f"{args.processes} web processes x {args.threads} threads, {backend}: {requests_total} webhooks in {wall:.1f} s "
          f"({requests_total / wall:.0f}/s)")
    print(f"{'step':34} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    worst = 0.0
    for step, values in timings.items():
        values.sort()
        p50 = statistics.median(values) * 1000
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
        worst = max(worst, p99)
        print(f"{step:34} {len(values):>6} {p50:>8.1f} {p99:>8.1f} {values[-1] * 1000:>8.1f}")
    print(f"worst step p99: {worst:.1f} ms (aim: under 100 ms; Twilio gives up at 15,000 ms)")
    drop()


if __name__ == "__main__":
    main()
