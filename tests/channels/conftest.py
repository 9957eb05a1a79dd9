"""Fixtures for the WhatsApp and SMS tests: a runtime with Twilio settings, signed posts of
the channels' real-format fixtures, Prism serving Twilio's published API description,
and a small local server that answers like Twilio does when it refuses a message.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest

from channels.twilio.request import sign
from gateway import jobs
from gateway.app import create_app
from tests.conftest import _unavailable

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
ACCOUNT_SID = "AC3f2b9e1c7d4a5b6c8e9f0a1b2c3d4e5f"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC_URL = "https://complaints.example.gov.pk"
WHATSAPP_FROM = "+14155238886"
SMS_FROM = "+14155550123"
PRISM_DIR = Path(os.environ.get("IKHTIYAR_PRISM_DIR")
                 or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ikhtiyar-prism")
# Twilio's published API description, from the npm package @twilio-alpha/mcp that
# scripts/test installs beside Prism (IKHTIYAR_TWILIO_OAI names another copy).
TWILIO_OAI = Path(os.environ.get("IKHTIYAR_TWILIO_OAI")
                  or PRISM_DIR / "node_modules" / "@twilio-alpha" / "mcp" / "twilio-oai" / "spec"
                  / "json" / "twilio_api_v2010.json")


def load_form(channel: str, name: str) -> dict[str, str]:
    """A fixture exactly as Twilio posts it (url-encoded form), as a dict."""
    text = (FIXTURES / channel / f"{name}.form").read_text(encoding="utf-8").strip()
    return dict(parse_qsl(text, keep_blank_values=True))


def twilio_settings(rt, **overrides):
    values = {"twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN,
              "public_url": PUBLIC_URL, "twilio_whatsapp_from": WHATSAPP_FROM,
              "twilio_sms_from": SMS_FROM, "twilio_api_url": "http://127.0.0.1:9"}
    values.update(overrides)
    return rt.settings.model_copy(update=values)


@pytest.fixture
def trt(rt):
    """The test runtime with Twilio configured (its REST API on a closed port unless a
    test points it somewhere)."""
    twilio_rt = replace(rt, settings=twilio_settings(rt))
    jobs.install(twilio_rt)
    return twilio_rt


def reconfigure(rt, **overrides):
    new = replace(rt, settings=twilio_settings(rt, **overrides))
    jobs.install(new)
    return new


class Twilio:
    """Posts forms to the gateway the way Twilio does: url-encoded, signed."""

    def __init__(self, rt) -> None:
        self.rt = rt
        self.client = create_app(rt).test_client()

    def post(self, path: str, form: dict[str, str], *, signature: str | None = None,
             headers: dict | None = None):
        url = PUBLIC_URL + path
        sent = {"X-Twilio-Signature": signature if signature is not None else sign(AUTH_TOKEN, url, form),
                "I-Twilio-Idempotency-Token": f"idem-{form.get('MessageSid', 'none')}"}
        sent.update(headers or {})
        return self.client.post(path, data=urlencode(form), headers=sent,
                                content_type="application/x-www-form-urlencoded",
                                base_url="http://127.0.0.1:8080")


@pytest.fixture
def twilio(trt) -> Twilio:
    return Twilio(trt)


# --- Prism: Twilio's API description as a mock that validates every request -----------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prism_command() -> list[str] | None:
    named = os.environ.get("IKHTIYAR_PRISM")
    if named:
        return [named]
    candidate = PRISM_DIR / "node_modules" / ".bin" / "prism"
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which("prism")
    return [found] if found else None


@pytest.fixture(scope="session")
def prism_url():
    """Prism mocking Twilio's REST API from its published OpenAPI file (dynamic answers, so
    every message gets its own SID); a request outside the schema gets 4xx."""
    command = _prism_command()
    if command is None:
        _unavailable("Prism", "bash scripts/test installs it with npm (@stoplight/prism-cli)")
    if not TWILIO_OAI.exists():
        _unavailable("Twilio's OpenAPI file",
                     f"{TWILIO_OAI} is missing (bash scripts/test installs @twilio-alpha/mcp)")
    port = _free_port()
    proc = subprocess.Popen([*command, "mock", "-d", "-h", "127.0.0.1", "-p", str(port), str(TWILIO_OAI)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _unavailable("Prism", f"exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        _unavailable("Prism", "did not start listening within 90 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


# --- a local server answering like Twilio when it refuses ------------------------------


ERRORS = {
    20429: (429, "Too Many Requests"),
    21211: (400, "The 'To' number +920000 is not a valid phone number."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    63016: (400, "Failed to send freeform message because you are outside the allowed window. "
                 "If you are using WhatsApp, please use a Message Template."),
    20500: (500, "Internal Server Error"),
}


class TwilioErrors:
    """Answers each POST with the next planned reply: a Twilio error code (its JSON body,
    as Twilio sends it) or "ok" (a 201 with a new message SID). Records what it got.
    Also serves media files (GET) put in ``media``."""

    def __init__(self) -> None:
        self.plan: list[int | str] = []
        self.requests: list[dict[str, str]] = []
        self.media: dict[str, tuple[int, dict, bytes]] = {}
        self.media_requests: list[dict] = []
        self._count = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.media_requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
                status, headers, body = server.media.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                server.requests.append(form)
                step = server.plan.pop(0) if server.plan else "ok"
                if step == "ok":
                    server._count += 1
                    sid = f"SM{0xfeed:016x}{server._count:016x}"
                    status, body = 201, {"sid": sid, "status": "queued", "to": form.get("To"),
                                         "from": form.get("From"), "body": form.get("Body"),
                                         "account_sid": ACCOUNT_SID, "num_segments": "1"}
                else:
                    status, message = ERRORS[step]
                    body = {"code": step, "message": message,
                            "more_info": f"https://www.twilio.com/docs/errors/{step}", "status": status}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def twilio_errors():
    server = TwilioErrors()
    yield server
    server.close()
