"""Memory: the resident size of `ikhtiyar serve` after 10,000 signed WhatsApp messages, beside
a bare Flask app under the same server (waitress) given the same messages, in the same run.

    python bench/memory.py [--messages 10000] [--clients 8]

`serve` runs everything it runs in production on the embedded default: the webhook, the
in-process job worker (every message gets its turn, every reply is delivered through the
Twilio client to a stand-in Twilio on loopback), the sweeper, started on a database
migrated beforehand (`ikhtiyar db upgrade`, as a deployment does). The figures are the process's
RSS (VmRSS) at start, after the messages (once every turn has run), and its peak (VmHWM).
Aim: under 150 MB after 10,000 messages.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, bench/ itself would come first on the path and hide the standard library's
# modules: the repository goes there instead, before any import.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

from bench.webhook import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, _free_port, _requests, _send, stop  # noqa: E402

AIM_MB = 150.0
BARE = """
import sys
from waitress import serve
sys.path.insert(0, {repo!r})
from bench.webhook import make_bare
serve(make_bare(), host="127.0.0.1", port={port}, threads=8, ident="bare")
"""


class FakeTwilio(BaseHTTPRequestHandler):
    """Answers Messages.json as Twilio does (201, the message resource): the replies the
    turns produce are delivered, so the Twilio client is loaded and used as in production."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"sid": "SM" + uuid.uuid4().hex, "status": "queued", "account_sid": ACCOUNT_SID,
                           "num_segments": "1", "error_code": None}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def wait_listening(port: int, path: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server stopped (exit {proc.returncode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"nothing listens on {port}")


def post_all(port: int, requests: list, clients: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda r: _send(port, *r), requests))
    return time.perf_counter() - start


def wait_turns(db: Path, count: int, seconds: float) -> int:
    """Until every inbound message has had its turn (or ``seconds`` pass); how many did."""
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline:
        with sqlite3.connect(db, timeout=30) as conn:
            done = conn.execute("SELECT count(*) FROM messages WHERE direction = 'in' "
                                "AND status = 'processed'").fetchone()[0]
        if done >= count:
            break
        time.sleep(1)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--turn-wait", type=float, default=600.0,
                        help="seconds to wait for the turns after the last message")
    args = parser.parse_args()

    twilio = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    threading.Thread(target=twilio.serve_forever, daemon=True).start()
    tmp = Path(tempfile.mkdtemp(prefix="ikhtiyar-memory-"))
    port = _free_port()
    env = {**os.environ, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "IKHTIYAR_PUBLIC_URL": PUBLIC_URL, "IKHTIYAR_VAR_DIR": str(tmp / "var"),
           "IKHTIYAR_KEYS_DIR": str(tmp / "keys"), "IKHTIYAR_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
           "IKHTIYAR_TWILIO_API_URL": f"http://127.0.0.1:{twilio.server_address[1]}",
           "IKHTIYAR_TWILIO_WHATSAPP_FROM": "+14155238886", "IKHTIYAR_WEB_LISTEN": f"127.0.0.1:{port}",
           "IKHTIYAR_SMTP_LISTEN": f"127.0.0.1:{_free_port()}", "IKHTIYAR_LOG_LEVEL": "WARNING",
           "IKHTIYAR_DATA_KEY": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=",
           "IKHTIYAR_SECRET_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "PYTHONPATH": str(REPO)}
    env.pop("IKHTIYAR_REDIS_URL", None)  # serve runs its turns in-process
    env.pop("IKHTIYAR_CONFIG", None)
    ikhtiyar = shutil.which("ikhtiyar", path=str(Path(sys.executable).parent)) or shutil.which("ikhtiyar")
    if ikhtiyar is None:
        sys.exit("the ikhtiyar command is not installed (bash scripts/setup dev)")
    load = os.getloadavg()
    requests = _requests(args.messages)
    try:
        # As an operator deploys: the schema first (`ikhtiyar db upgrade`), then serve on it.
        subprocess.run([ikhtiyar, "db", "upgrade"], cwd=tmp, env=env, check=True, stdout=subprocess.DEVNULL)
        serve = subprocess.Popen([ikhtiyar, "serve"], cwd=tmp, env=env, stdout=subprocess.DEVNULL)
        try:
            wait_listening(port, "/healthz", serve)
            started, _ = rss_mb(serve.pid)
            took = post_all(port, requests, args.clients)
            turns = wait_turns(tmp / "bench.db", args.messages, args.turn_wait)
            after, peak = rss_mb(serve.pid)
        finally:
            stop(serve)
        bare_port = _free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE.format(repo=str(REPO), port=bare_port)],
                                cwd=REPO, env=env)
        try:
            wait_listening(bare_port, "/", bare)
            bare_started, _ = rss_mb(bare.pid)
            post_all(bare_port, requests, args.clients)
            bare_after, bare_peak = rss_mb(bare.pid)
        finally:
            stop(bare)
    finally:
        twilio.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at start {load[0]:.1f} on {os.cpu_count()} CPUs; "
          f"{args.messages} messages, {args.clients} clients, {args.messages / took:.0f} msg/s posted; "
          f"{turns} turns run")
    print(f"ikhtiyar serve  RSS at start {started:6.1f} MB   after {args.messages} messages {after:6.1f} MB   "
          f"peak {peak:6.1f} MB")
    print(f"bare Flask      RSS at start {bare_started:6.1f} MB   after {args.messages} messages "
          f"{bare_after:6.1f} MB   peak {bare_peak:6.1f} MB")
    print(f"serve after the messages: {after:.1f} MB (aim < {AIM_MB:.0f}), "
          f"{after - bare_after:+.1f} MB over the bare app")


if __name__ == "__main__":
    main()
