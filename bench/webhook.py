"""Benchmark: signed WhatsApp webhooks into the gateway under gunicorn, beside a bare Flask
app answering the same empty TwiML under the same server, in the same run.

    python bench/webhook.py [--requests 4000] [--clients 16] [--workers 2] [--rate 200]

Prints messages per second and p50/p99 latency for both at full load (closed loop,
``--clients`` concurrent senders), then p50/p99 for both at a steady ``--rate`` messages per
second (open loop), and the ratios. The gateway verifies each signature, stores each
message (SQLite in a temporary folder, or IKHTIYAR_DATABASE_URL) and queues its turn
(on IKHTIYAR_REDIS_URL if set, else in memory; the turns are not run here).

The same budget for both: each server runs under the same gunicorn settings on the same
CPUs (``--server-cpus``, default the first CPU; the load generators get the others), and
the two alternate for ``--rounds`` rounds, so a change in the machine's load falls on both
alike. The ratio printed is the median of the rounds' ratios.
Aim: at least 0.6 of the bare app's throughput; p99 under 20 ms at 200 messages/s.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, bench/ itself comes first on the path, and its modules
# would hide the standard library's: the repository goes there instead, before any import.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import http.client  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32
PUBLIC_URL = "https://bench.ikhtiyar.example"
PATH = "/webhooks/twilio/whatsapp"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
CONTACTS = 300  # citizens writing at once: most messages come from a known contact


# --- the two apps gunicorn serves ------------------------------------------------------


def make_gateway():
    """gunicorn 'bench.webhook:make_gateway()': the real app on the settings in the env."""
    from gateway import jobs
    from gateway import runtime as rt_module
    from gateway.app import create_app
    from gateway.queue import make_queue
    from gateway.settings import load_settings

    rt = rt_module.build(load_settings())
    rt.queue = make_queue(rt.settings.redis_url, rt.settings.queue_name)  # not started
    jobs.install(rt)
    return create_app(rt)


def make_bare():
    """gunicorn 'bench.webhook:make_bare()': a bare Flask app, the same answer."""
    from flask import Flask, Response

    app = Flask("bare")

    @app.post(PATH)
    def hook():
        return Response(EMPTY_TWIML, mimetype="text/xml")

    return app


# --- load -------------------------------------------------------------------------------


def _requests(count: int) -> list[tuple[bytes, str]]:
    from channels.twilio.request import sign

    out = []
    for i in range(count):
        sid = "SM" + uuid.uuid4().hex
        number = f"+92300{1000000 + i % CONTACTS:07d}"
        form = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Bench", "MessageType": "text",
                "SmsSid": sid, "WaId": number[1:], "SmsStatus": "received",
                "Body": "The water supply in our street is broken since Monday",
                "To": "whatsapp:+14155238886", "NumSegments": "1", "ReferralNumMedia": "0",
                "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": "whatsapp:" + number,
                "ApiVersion": "2010-04-01"}
        out.append((urlencode(form).encode(), sign(AUTH_TOKEN, PUBLIC_URL + PATH, form)))
    return out


def _send(port: int, body: bytes, signature: str) -> float:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", PATH, body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
        "I-Twilio-Idempotency-Token": signature[:16]})
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}")
    return time.perf_counter() - start


def _pin(cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


def _client(args) -> list[float]:
    port, batch, interval, start_at = args
    latencies = []
    for i, (body, signature) in enumerate(batch):
        if interval:
            delay = start_at + i * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        latencies.append(_send(port, body, signature))
    return latencies


def run_load(port: int, requests: list, clients: int, rate: float | None = None,
             cpus: set[int] | None = None) -> dict:
    batches = [requests[i::clients] for i in range(clients)]
    interval = clients / rate if rate else 0.0
    start_at = time.perf_counter() + 0.2
    with multiprocessing.Pool(clients, initializer=_pin, initargs=(cpus,)) as pool:
        began = time.perf_counter()
        results = pool.map(_client, [(port, b, interval, start_at + i / (rate or 1e9))
                                     for i, b in enumerate(batches)])
        elapsed = time.perf_counter() - began
    latencies = sorted(x for r in results for x in r)
    return {"rate": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000}


# --- servers ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(factory: str, workers: int, threads: int, env: dict,
                   cpus: set[int] | None = None) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if gunicorn is None:
        sys.exit("gunicorn is not installed: pip install gunicorn")
    worker_class = ["-k", "gthread", "--threads", str(threads)] if threads > 1 else ["-k", "sync"]
    proc = subprocess.Popen([gunicorn, "-w", str(workers), *worker_class, "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning", "--backlog", "2048", factory], cwd=REPO, env=env,
                            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"gunicorn {factory} did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gthread when > 1)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds-at-rate", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2, help="bare and gateway alternate this many times")
    parser.add_argument("--server-cpus", default=None,
                        help="CPUs for both servers, e.g. 0 or 0,1 (default: the first of this "
                             "process's CPUs when it has more than one; the clients get the rest)")
    args = parser.parse_args()
    mine = sorted(os.sched_getaffinity(0))
    if args.server_cpus:
        server_cpus = {int(c) for c in args.server_cpus.split(",")}
    else:
        server_cpus = {mine[0]} if len(mine) > 1 else None
    client_cpus = (set(mine) - server_cpus) or None if server_cpus else None

    tmp = Path(tempfile.mkdtemp(prefix="ikhtiyar-bench-"))
    env = {**os.environ, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "IKHTIYAR_PUBLIC_URL": PUBLIC_URL, "IKHTIYAR_VAR_DIR": str(tmp),
           "IKHTIYAR_DATA_KEY": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=",
           "IKHTIYAR_SECRET_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "IKHTIYAR_QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}",
           "IKHTIYAR_LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO)}
    env.setdefault("IKHTIYAR_DATABASE_URL", f"sqlite:///{tmp / 'bench.db'}")
    os.environ.update(env)
    from gateway import runtime as rt_module
    from gateway.settings import load_settings

    rt = rt_module.build(load_settings())
    rt_module.prepare(rt, say=lambda _m: None)
    print(f"database: {rt.engine.url.render_as_string(hide_password=True)}; queue: "
          f"{'Redis ' + env['IKHTIYAR_REDIS_URL'] if env.get('IKHTIYAR_REDIS_URL') else 'in memory'}; "
          f"gunicorn {args.workers} workers x {args.threads} threads; {args.clients} clients; "
          f"servers on CPUs {sorted(server_cpus) if server_cpus else 'any'}, clients on "
          f"{sorted(client_cpus) if client_cpus else 'any'}; load average {os.getloadavg()[0]:.1f}")

    steady = int(args.rate * args.seconds_at_rate)
    rounds: list[dict] = []
    for n in range(args.rounds):
        figures = {}
        for name, factory in (("bare Flask", "bench.webhook:make_bare()"),
                              ("gateway", "bench.webhook:make_gateway()")):
            proc, port = start_gunicorn(factory, args.workers, args.threads, env, server_cpus)
            try:
                run_load(port, _requests(200), args.clients, cpus=client_cpus)  # warm up
                full = run_load(port, _requests(args.requests), args.clients, cpus=client_cpus)
                paced = run_load(port, _requests(steady), min(args.clients, 8), rate=args.rate, cpus=client_cpus)
            finally:
                stop(proc)
            figures[name] = (full, paced)
            print(f"round {n + 1} {name:10}  full load: {full['rate']:7.0f} msg/s  p50 {full['p50']:6.1f} ms  "
                  f"p99 {full['p99']:6.1f} ms | at {args.rate:.0f} msg/s ({paced['rate']:.0f} achieved): "
                  f"p50 {paced['p50']:5.1f} ms  p99 {paced['p99']:5.1f} ms", flush=True)
        rounds.append(figures)
    ratios = [r["gateway"][0]["rate"] / r["bare Flask"][0]["rate"] for r in rounds]
    p99s = [r["gateway"][1]["p99"] for r in rounds]
    bare_p99s = [r["bare Flask"][1]["p99"] for r in rounds]
    print(f"throughput ratio gateway/bare: {statistics.median(ratios):.2f} (rounds: "
          f"{', '.join(f'{x:.2f}' for x in ratios)}; aim >= 0.6); gateway p99 at {args.rate:.0f} msg/s: "
          f"{statistics.median(p99s):.1f} ms (bare {statistics.median(bare_p99s):.1f} ms; aim < 20)")
    if env.get("IKHTIYAR_REDIS_URL"):
        from redis import Redis

        Redis.from_url(env["IKHTIYAR_REDIS_URL"]).delete(f"rq:queue:{env['IKHTIYAR_QUEUE_NAME']}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
