"""The Procfile's split topology, started with honcho as the README says: web under gunicorn,
an RQ worker, the OCR worker, the SMTP listener and the scheduler, on PostgreSQL and Redis.

A signed WhatsApp message and an SMS posted to the web process are answered through the
worker (the reply reaches a fake Twilio), Twilio's retry of the same message is not answered
twice, and ``honcho`` stops every process on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.soak import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    SMS_FROM,
    WHATSAPP_FROM,
    FakeTwilio,
    free_port,
    message_form,
    post,
)
from tests.conftest import PG_URL, REDIS_URL, TEST_KEY, TEST_SECRET, _unavailable

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def database():
    if not PG_URL.startswith(("postgresql", "postgres")):
        _unavailable("PostgreSQL", "IKHTIYAR_DATABASE_URL is not a postgresql:// URL")
    if not REDIS_URL:
        _unavailable("Redis", "IKHTIYAR_REDIS_URL is not set")
    base = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"ikhtiyar_procfile_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _wait_for(check, seconds: float, what: str, log: Path):
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds:.0f} s; honcho's output:\n{log.read_text()[-4000:]}")


def test_honcho_runs_the_procfile_and_the_worker_answers_each_message_once(database, tmp_path):
    twilio = FakeTwilio()
    web_port = free_port()
    env = {**os.environ, "IKHTIYAR_DATABASE_URL": database, "IKHTIYAR_REDIS_URL": REDIS_URL,
           "IKHTIYAR_QUEUE_NAME": f"procfile-{uuid.uuid4().hex[:8]}",
           "IKHTIYAR_DATA_KEY": TEST_KEY, "IKHTIYAR_SECRET_KEY": TEST_SECRET,
           "IKHTIYAR_PUBLIC_URL": PUBLIC_URL, "IKHTIYAR_VAR_DIR": str(tmp_path / "var"),
           "IKHTIYAR_WEB_LISTEN": f"127.0.0.1:{web_port}",
           "IKHTIYAR_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "IKHTIYAR_TWILIO_API_URL": f"http://127.0.0.1:{twilio.port}",
           "IKHTIYAR_TWILIO_WHATSAPP_FROM": WHATSAPP_FROM, "IKHTIYAR_TWILIO_SMS_FROM": SMS_FROM,
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    subprocess.run([str(BIN / "ikhtiyar"), "db", "upgrade"], env=env, check=True,
                   capture_output=True, timeout=300)
    log = tmp_path / "honcho.log"
    with log.open("w") as out:
        honcho = subprocess.Popen([str(BIN / "honcho"), "start", "-f", str(REPO / "Procfile"),
                                   "-d", str(REPO), "-e", str(tmp_path / "no.env")],
                                  env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    web = f"http://127.0.0.1:{web_port}"
    try:
        def ready():
            try:
                return requests.get(web + "/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        _wait_for(ready, 180, "the web process did not answer /healthz", log)
        citizens = {"whatsapp": "+923001234567", "sms": "+923331234567"}
        forms = {channel: message_form(n, channel, sender)
                 for n, (channel, sender) in enumerate(citizens.items())}
        for channel, form in forms.items():
            assert post(web, channel, form, time.time() + 30) is not None, f"{channel} refused"

        def answered():
            with twilio.lock:
                to = {m["to"] for m in twilio.sent}
            return {f"whatsapp:{citizens['whatsapp']}", citizens["sms"]} <= to

        _wait_for(answered, 180, "the worker did not answer both citizens", log)
        with twilio.lock:
            first = len(twilio.sent)
        # Twilio retries the WhatsApp message: stored once, answered once.
        assert post(web, "whatsapp", forms["whatsapp"], time.time() + 30) is not None
        time.sleep(8)
        with twilio.lock:
            assert len(twilio.sent) == first, [m["body"] for m in twilio.sent]
            assert all(count == 1 for count in twilio.by_key.values())
        output = log.read_text()
        for process in ("web.1", "worker.1", "ocr.1", "smtp.1", "scheduler.1"):
            assert process in output, f"honcho did not start {process}"
    finally:
        honcho.send_signal(signal.SIGTERM)
        try:
            honcho.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            pytest.fail("honcho did not stop its processes within 60 s of SIGTERM")
    twilio.server.shutdown()
    assert not _processes_with(env["IKHTIYAR_QUEUE_NAME"]), "processes outlived honcho"


def _processes_with(marker: str) -> list[int]:
    """The processes whose environment holds ``marker`` (this topology's own queue name)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
