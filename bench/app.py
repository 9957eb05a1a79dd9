"""Benchmark: the citizens' app's first load and the API it uses.

    python bench/app.py [--clients 20] [--requests 25] [--threads 8]

Prints the first load's bytes (the shell, its script, the manifest and an icon; as sent
and gzip-compressed as a reverse proxy would), judged against the 100 KB budget, then the
p50/p95 latency of ``POST /api/v1/me/complaints`` (create) and ``GET /api/v1/me/complaints``
(list) with ``--clients`` signed-in citizens at once, each sending ``--requests`` of each.
The app runs under waitress (``--threads``) on SQLite in a temporary folder, or on
IKHTIYAR_DATABASE_URL; the one-time codes are read from the outbox as the phone would.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import base64  # noqa: E402
import gzip  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

FIRST_LOAD = ("/app/", "/app/app.js", "/app/manifest.webmanifest", "/app/icon-192.png")
BUDGET = 100 * 1024
DESCRIPTION = "No water in our street since Monday, the tube well pump is broken"


def _runtime(var_dir: str):
    from gateway import jobs
    from gateway import runtime as rt_module
    from gateway.queue import InProcessQueue
    from gateway.settings import load_settings

    url = os.environ.get("IKHTIYAR_DATABASE_URL") or f"sqlite:///{var_dir}/bench.db"
    settings = load_settings(database_url=url, var_dir=Path(var_dir), redis_url=None,
                             data_key=base64.b64encode(os.urandom(32)).decode(), secret_key="bench")
    rt = rt_module.build(settings, warn=lambda _m: None)
    rt_module.prepare(rt, say=lambda _m: None)
    rt.queue = InProcessQueue()  # the code's delivery is not what is measured
    jobs.install(rt)
    return rt


def _call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    start = time.perf_counter()
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return response.status, data, elapsed


def _sign_in(rt, n: int) -> str:
    """A citizen's session, through the same code sign-in the API uses (in-process: one
    network address may ask for only a few codes, and sign-in is not what is measured)."""
    import re as _re

    from conversation import app_session
    from storage.db import transaction

    phone = f"+9230099{n:05d}"
    with transaction(rt.sessions) as session:
        message = app_session.send_code(session, "sms", phone)
        code = _re.search(r"(\d{6})", message.text).group(1)
        return app_session.verify_code(session, "sms", phone, code).token


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    from waitress import create_server

    from gateway.app import create_app

    with tempfile.TemporaryDirectory() as var_dir:
        rt = _runtime(var_dir)
        app = create_app(rt)
        client = app.test_client()
        sent = packed = 0
        for path in FIRST_LOAD:
            body = client.get(path).data
            sent += len(body)
            packed += len(gzip.compress(body, 6))
        print(f"first load: {sent} bytes, {packed} bytes gzip-compressed "
              f"({packed / BUDGET:.0%} of the 100 KB budget)")

        server = create_server(app, host="127.0.0.1", port=0, threads=args.threads, ident="bench")
        threading.Thread(target=server.run, daemon=True).start()
        port = server.effective_port
        tokens = [_sign_in(rt, n) for n in range(args.clients)]
        create: list[float] = []
        listing: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def citizen(token: str) -> None:
            mine_c, mine_l = [], []
            for _ in range(args.requests):
                status, data, took = _call(port, "POST", "/api/v1/me/complaints",
                                           {"client_id": uuid.uuid4().hex, "description": DESCRIPTION,
                                            "district": "PSW"}, token)
                if status != 201:
                    errors.append(f"create {status} {data[:80]!r}")
                mine_c.append(took)
                status, data, took = _call(port, "GET", "/api/v1/me/complaints?limit=20", token=token)
                if status != 200:
                    errors.append(f"list {status}")
                mine_l.append(took)
            with lock:
                create.extend(mine_c)
                listing.extend(mine_l)

        started = time.perf_counter()
        workers = [threading.Thread(target=citizen, args=(t,)) for t in tokens]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - started
        backend = rt.engine.dialect.name
        print(f"{args.clients} concurrent citizens, {args.requests} creates + {args.requests} lists each, "
              f"{backend}, waitress {args.threads} threads, {wall:.1f} s")
        print(f"create: p50 {_p(create, 50):.1f} ms, p95 {_p(create, 95):.1f} ms ({len(create)} requests)")
        print(f"list:   p50 {_p(listing, 50):.1f} ms, p95 {_p(listing, 95):.1f} ms ({len(listing)} requests)")
        print(f"throughput: {(len(create) + len(listing)) / wall:.0f} requests/s; errors: {len(errors)}")
        for line in errors[:5]:
            print("  ", line)


if __name__ == "__main__":
    main()
