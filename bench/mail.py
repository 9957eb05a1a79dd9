# ruff: noqa: E402  (the path fix below must run before the imports)
"""Mail accepted over SMTP and stored, per second: the aiosmtpd listener answering 250 only
after each mail is parsed and on disk (its conversation turn is queued, not run here).

Two clients: one connection reused for every mail (a relay that batches), and a new
connection per mail (one sending server per citizen). SQLite by default, or PostgreSQL.

Baseline, in the same run on the same database: storing the same mails through
mail_service.store() directly, without SMTP. The ratio says what SMTP costs on top.

    python bench/mail.py [--mails 1000] [--postgres postgresql://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent))

import argparse
import base64
import os
import re
import smtplib
import socket
import tempfile
import time
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from channels.email import smtp_server
from gateway import jobs, mail_service
from gateway import runtime as rt_module
from gateway.queue import InProcessQueue
from gateway.settings import load_settings

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "email"
ADDRESS = "complaints@ikhtiyar.localhost"


class _NoJobs(InProcessQueue):
    """Turns are not the subject here: count them, do not run them."""

    def enqueue_in(self, seconds, func, *args) -> None:
        pass


def _mails(count: int) -> list[bytes]:
    sources = [(FIXTURES / f"{n}.eml").read_bytes() for n in
               ("plain", "html_only", "urdu_subject_rfc2047", "windows1256_body", "nested_attachments")]
    out = []
    for i in range(count):
        data = sources[i % len(sources)]
        data = re.sub(rb"Message-I[Dd]: <[^>]+>", f"Message-ID: <bench-{uuid.uuid4().hex}@example.org>".encode(),
                      data, count=1)
        data = re.sub(rb"From: (.*)<[^>]+>", f"From: Bench <c{i % 200}@example.org>".encode(), data, count=1)
        out.append(re.sub(rb"\r?\n", b"\r\n", data))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spf_dns(name, qtype, strict=True, timeout=3.0):
    """The DNS sender authentication asks (no network here): example.org's SPF admits
    loopback, so every mail takes the whole check, as a real authenticated mail does."""
    if qtype == "TXT" and name.rstrip(".").lower() == "example.org":
        return [((name, "TXT"), [b"v=spf1 ip4:127.0.0.0/8 -all"])]
    return []


def _runtime(url: str, var_dir: Path):
    # Answer budgets as large as the run: a budget spent would skip work and flatter the figure.
    settings = load_settings(database_url=url, var_dir=var_dir, redis_url=None, secret_key="bench",
                             data_key=base64.b64encode(os.urandom(32)).decode(), mail_address=ADDRESS,
                             mail_answers_per_sender=10_000, mail_answers_per_ip=100_000)
    rt = rt_module.build(settings, warn=lambda _m: None)
    rt_module.prepare(rt, say=lambda _m: None)
    rt.queue = _NoJobs()
    jobs.install(rt)
    return rt


def _send_reused(port: int, mails: list[bytes]) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        for data in mails:
            code, _ = smtp.sendmail(f"bench-{uuid.uuid4().hex[:6]}@example.org", [ADDRESS], data) or (250, b"")
            assert code == 250


def _send_each(port: int, mails: list[bytes]) -> None:
    for data in mails:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.sendmail("bench@example.org", [ADDRESS], data)


def run(url: str, count: int, label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rt = _runtime(url, Path(tmp))
        port = _free_port()
        controller = mail_service.start_smtp(rt, listen=f"127.0.0.1:{port}", lookup=_spf_dns)
        try:
            figures = {}
            for name, send in (("one connection reused", _send_reused), ("new connection per mail", _send_each)):
                mails = _mails(count)
                started = time.perf_counter()
                send(port, mails)
                figures[name] = count / (time.perf_counter() - started)
            mails = _mails(count)
            started = time.perf_counter()
            for data in mails:
                mail_service.store(rt, data, "bench@example.org", [ADDRESS],
                                   client=smtp_server.Client("127.0.0.1", "bench.example.org"),
                                   lookup=_spf_dns)
            baseline = count / (time.perf_counter() - started)
        finally:
            controller.stop()
            rt.engine.dispose()
    print(f"{label}: {count} mails each")
    for name, rate in figures.items():
        print(f"  SMTP, {name:24s} {rate:8.0f} mails/s stored  (ratio to direct store {rate / baseline:.2f})")
    print(f"  direct store (no SMTP), baseline   {baseline:8.0f} mails/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--postgres", help="also run on this PostgreSQL server (a database is made and dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", args.mails, "SQLite")
    if args.postgres:
        admin_url = make_url(load_settings(database_url=args.postgres).database_url)
        name = f"ikhtiyar_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(admin_url.set(database=name).render_as_string(hide_password=False), args.mails, "PostgreSQL")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
