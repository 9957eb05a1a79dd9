"""Soak: the split topology under load and faults; nothing lost, nothing sent twice.

    python bench/soak.py --messages N [--rate 60] [--senders 400]

Starts, all of its own: a PostgreSQL database (on the machine's server, named in
IKHTIYAR_DATABASE_URL or postgresql://postgres@127.0.0.1:5432) reached through a TCP proxy
this script controls, a redis-server on a free port, a fake Twilio REST API that records
every message it is asked to send (with the outbox row's idempotency key), and the gateway:
``ikhtiyar web --workers 2``, two ``ikhtiyar worker`` and ``ikhtiyar scheduler``.

It posts N signed WhatsApp and SMS messages from many senders, 20% of them twice (Twilio's
retries), retrying any post that fails as Twilio does. Meanwhile it SIGKILLs a worker every
few seconds (and restarts it, as systemd would), kills and restarts the web server, restarts
Redis once (its queues are lost: the scheduler's sweep must find the work again) and cuts
PostgreSQL off for 10 s once (the webhooks spool). Then it waits for every message to be
answered and prints, last:

    soak: N messages, S stored, L lost, D duplicate replies, M missing replies, p95 reply latency X ms
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from urllib.parse import parse_qsl, urlencode, urlsplit  # noqa: E402

import requests  # noqa: E402

AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
ACCOUNT_SID = "AC" + "5" * 32
PUBLIC_URL = "https://soak.ikhtiyar.example"
WHATSAPP_FROM, SMS_FROM = "+14155238886", "+14155550123"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- the fake Twilio --------------------------------------------------------------------


class FakeTwilio:
    """Twilio's Messages resource: create records, list answers what was recorded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[dict] = []
        self.by_key: dict[str, int] = {}
        self.first_at: dict[str, float] = {}
        self.port = free_port()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                form = dict(parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                callback = dict(parse_qsl(urlsplit(form.get("StatusCallback", "")).query))
                key = callback.get("key") or f"?{form.get('To')}|{form.get('Body')}"
                with fake.lock:
                    sid = f"SM{len(fake.sent) + 1:032x}"
                    now = time.time()
                    fake.sent.append({"sid": sid, "to": form.get("To"), "body": form.get("Body"),
                                      "key": key, "at": now})
                    fake.by_key[key] = fake.by_key.get(key, 0) + 1
                    fake.first_at.setdefault(key, now)
                self._json(201, _message(fake.sent[-1]))

            def do_GET(self):
                query = dict(parse_qsl(urlsplit(self.path).query))
                with fake.lock:
                    found = [m for m in fake.sent if m["to"] == query.get("To")]
                self._json(200, {"messages": [_message(m) for m in found[-50:]], "end": 0,
                                 "first_page_uri": "", "next_page_uri": None, "page": 0,
                                 "page_size": 50, "previous_page_uri": None, "start": 0, "uri": ""})

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _message(m: dict) -> dict:
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(m["at"]))
    return {"sid": m["sid"], "to": m["to"], "body": m["body"], "status": "queued",
            "date_created": stamp, "date_sent": stamp, "date_updated": stamp,
            "account_sid": ACCOUNT_SID, "num_segments": "1", "direction": "outbound-api"}


# --- a TCP proxy in front of PostgreSQL, to cut ------------------------------------------


class Proxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.writers: set = set()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.open()

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except Exception:
            pass
        finally:
            writer.close()

    async def _serve(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def open(self) -> None:
        async def start():
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        asyncio.run_coroutine_threadsafe(start(), self.loop).result()

    def cut(self) -> None:
        async def stop():
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result()


# --- the processes ------------------------------------------------------------------------


class Processes:
    """Starts the topology and restarts whatever dies (as systemd's Restart=always)."""

    def __init__(self, env: dict, folder: Path) -> None:
        self.env, self.folder = env, folder
        self.procs: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, list[str]] = {}
        self.stopping = False
        self.redis_port = free_port()
        self.redis: subprocess.Popen | None = None

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(["redis-server", "--port", str(self.redis_port), "--save", "",
                                       "--appendonly", "no", "--bind", "127.0.0.1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)

    def restart_redis(self) -> None:
        self.redis.kill()
        self.redis.wait()
        time.sleep(1)
        self.start_redis()

    def start(self, name: str, command: list[str]) -> None:
        self.commands[name] = command
        out = open(self.folder / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # gunicorn's workers too
        except ProcessLookupError:
            pass
        proc.wait()

    def supervise(self) -> None:
        while not self.stopping:
            for name, proc in list(self.procs.items()):
                if proc.poll() is not None and not self.stopping:
                    self.start(name, self.commands[name])
            time.sleep(0.5)

    def stop(self) -> None:
        self.stopping = True
        for name in list(self.procs):
            self.kill(name)
        if self.redis:
            self.redis.kill()


# --- the citizens -------------------------------------------------------------------------


def sign(url: str, form: dict) -> str:
    from channels.twilio.request import sign as twilio_sign

    return twilio_sign(AUTH_TOKEN, url, form)


def message_form(n: int, channel: str, sender: str) -> dict:
    sid = f"SM{uuid.uuid5(uuid.NAMESPACE_URL, f'soak-{n}').hex}"
    to = f"whatsapp:{WHATSAPP_FROM}" if channel == "whatsapp" else SMS_FROM
    frm = f"whatsapp:{sender}" if channel == "whatsapp" else sender
    form = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID,
            "From": frm, "To": to, "Body": random.choice(["hi", "salam", "hello", "assalam o alaikum"]),
            "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
    if channel == "whatsapp":
        form |= {"ProfileName": "Citizen", "WaId": sender.lstrip("+"), "MessageType": "text"}
    return form


def post(web: str, channel: str, form: dict, stop_at: float) -> float | None:
    """Post like Twilio: until a 200 (or give up at ``stop_at``); returns when it was taken."""
    path = f"/webhooks/twilio/{channel}"
    body = urlencode(form)
    headers = {"X-Twilio-Signature": sign(PUBLIC_URL + path, form),
               "Content-Type": "application/x-www-form-urlencoded",
               "I-Twilio-Idempotency-Token": form["MessageSid"]}
    while time.time() < stop_at:
        try:
            answer = requests.post(web + path, data=body, headers=headers, timeout=15)
            if answer.status_code == 200:
                return time.time()
        except requests.RequestException:
            pass
        time.sleep(1.0)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=60.0, help="messages per second")
    parser.add_argument("--senders", type=int, default=400)
    parser.add_argument("--drain", type=float, default=420.0, help="seconds to wait for the last replies")
    parser.add_argument("--keep", action="store_true", help="keep the logs folder")
    parser.add_argument("--no-chaos", action="store_true",
                        help="no faults, no repeats: the end-to-end latency at --rate")
    args = parser.parse_args()
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    folder = Path(tempfile.mkdtemp(prefix="ikhtiyar-soak-"))
    base = make_url(os.environ.get("IKHTIYAR_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    base = base.set(drivername="postgresql+psycopg")
    name = f"ikhtiyar_soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    proxy = Proxy((base.host or "127.0.0.1", base.port or 5432))
    twilio = FakeTwilio()
    web_port = free_port()
    procs = Processes({}, folder)
    procs.start_redis()
    db_url = base.set(host="127.0.0.1", port=proxy.port, database=name).render_as_string(hide_password=False)
    env = {**os.environ, "IKHTIYAR_DATABASE_URL": db_url,
           "IKHTIYAR_REDIS_URL": f"redis://127.0.0.1:{procs.redis_port}/0",
           "IKHTIYAR_DATA_KEY": base64.b64encode(os.urandom(32)).decode(),
           "IKHTIYAR_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
           "IKHTIYAR_PUBLIC_URL": PUBLIC_URL, "IKHTIYAR_VAR_DIR": str(folder / "var"),
           "IKHTIYAR_WEB_LISTEN": f"127.0.0.1:{web_port}", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "IKHTIYAR_TWILIO_API_URL": f"http://127.0.0.1:{twilio.port}",
           "IKHTIYAR_TWILIO_WHATSAPP_FROM": WHATSAPP_FROM, "IKHTIYAR_TWILIO_SMS_FROM": SMS_FROM,
           "IKHTIYAR_LOG_LEVEL": "WARNING", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    env.pop("IKHTIYAR_QUEUE_NAME", None)
    procs.env = env
    ikhtiyar = str(BIN / "ikhtiyar")
    subprocess.run([ikhtiyar, "db", "upgrade"], env=env, check=True, capture_output=True)
    procs.start("web", [ikhtiyar, "web", "--workers", "2", "--threads", "8"])
    for n in (1, 2):
        procs.start(f"worker{n}", [ikhtiyar, "worker"])
    procs.start("scheduler", [ikhtiyar, "scheduler", "--interval", "5"])
    threading.Thread(target=procs.supervise, daemon=True).start()
    web = f"http://127.0.0.1:{web_port}"
    for _ in range(120):
        try:
            if requests.get(web + "/healthz", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.5)
    log(f"topology up in {folder}; sending {args.messages} messages at {args.rate}/s")

    senders = [f"+9230{random.randrange(10**8):08d}" for _ in range(args.senders)]
    plan = []
    for n in range(args.messages):
        channel = "whatsapp" if n % 2 == 0 else "sms"
        plan.append((n, channel, message_form(n, channel, senders[n % len(senders)])))
    duration = args.messages / args.rate
    sent_at: dict[str, float] = {}
    done = threading.Event()

    def chaos() -> None:
        start = time.time()
        events = {"web": 0.3, "redis": 0.5, "postgres": 0.7}
        while not done.is_set():
            time.sleep(random.uniform(3, 6))
            progress = (time.time() - start) / duration
            victim = random.choice(["worker1", "worker2"])
            log(f"chaos: SIGKILL {victim}")
            procs.kill(victim)
            for what, at in list(events.items()):
                if progress < at:
                    continue
                del events[what]
                if what == "web":
                    log("chaos: kill the web server")
                    procs.kill("web")
                elif what == "redis":
                    log("chaos: restart Redis")
                    procs.restart_redis()
                else:
                    log("chaos: PostgreSQL unreachable for 10 s")
                    proxy.cut()
                    time.sleep(10)
                    proxy.open()
                    log("chaos: PostgreSQL back")

    chaos_thread = threading.Thread(target=(lambda: None) if args.no_chaos else chaos, daemon=True)
    chaos_thread.start()
    stop_at = time.time() + duration + 600
    pool = ThreadPoolExecutor(max_workers=48)
    futures = []
    start = time.time()
    for index, (_n, channel, form) in enumerate(plan):
        delay = start + index / args.rate - time.time()
        if delay > 0:
            time.sleep(delay)
        futures.append((form["MessageSid"], pool.submit(post, web, channel, form, stop_at)))
        if not args.no_chaos and random.random() < 0.2:  # Twilio delivers this one again later
            futures.append((None, pool.submit(lambda c=channel, f=form: (time.sleep(random.uniform(0.5, 5)),
                                                                        post(web, c, f, stop_at))[1])))
    for sid, future in futures:
        taken = future.result()
        if sid and taken:
            sent_at[sid] = taken
    done.set()
    chaos_thread.join()
    log(f"all posted in {time.time() - start:.0f} s; waiting for the replies")

    engine = create_engine(base.set(database=name))

    def expected() -> dict:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, provider_id FROM messages WHERE direction = 'in'")).all()
        return {f"turn:{mid}:0": pid for mid, pid in rows}

    deadline = time.time() + args.drain
    while time.time() < deadline:
        keys = expected()
        with twilio.lock:
            missing = [k for k in keys if k not in twilio.by_key]
        if len(keys) >= len(plan) and not missing:
            break
        time.sleep(3)
    time.sleep(5)  # anything late and doubled shows up now
    procs.stop()
    keys = expected()
    ours = {form["MessageSid"] for _, _, form in plan}
    stored = len(ours & set(keys.values()))
    with twilio.lock:
        duplicates = sum(count - 1 for count in twilio.by_key.values() if count > 1)
        missing = [k for k in keys if k not in twilio.by_key]
        latencies = sorted((twilio.first_at[k] - sent_at[pid]) * 1000 for k, pid in keys.items()
                           if k in twilio.first_at and pid in sent_at)
    p95 = latencies[int(len(latencies) * 0.95)] if latencies else float("nan")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"soak: {len(plan)} messages, {stored} stored, {len(plan) - stored} lost, {duplicates} duplicate "
          f"replies, {len(missing)} missing replies, p95 reply latency {p95:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
