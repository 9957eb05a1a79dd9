"""Fixtures for the email tests: a real Dovecot IMAP server on a loopback port (passwd-file
user, Maildir), the gateway's SMTP listener on a free loopback port, and an SMTP sink that
catches what the gateway sends (it can also refuse, like a real relay)."""

from __future__ import annotations

import email
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from gateway import jobs, mail_service
from tests.conftest import IN_CI

FIXTURES = Path(__file__).resolve().parents[2] / "channels" / "email" / "fixtures"
ADDRESS = "complaints@ikhtiyar.localhost"
PUBLIC_URL = "http://ikhtiyar.test"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.eml").read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(what: str, why: str):
    if IN_CI:
        pytest.fail(f"{what} is required in CI: {why}")
    pytest.skip(f"{what} not available: {why}")


# --- the outbound sink ------------------------------------------------------------------------


@dataclass
class Sink:
    """Mail the gateway sent. Recipients starting with ``refuse-`` get 550, ``later-`` 451."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("refuse-"):
            return "550 5.1.1 User unknown"
        if address.startswith("later-"):
            return "451 4.3.2 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append(msg)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=0"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()


@pytest.fixture(scope="session")
def _sink_server():
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def sink(_sink_server) -> Sink:
    _sink_server.clear()
    return _sink_server


@pytest.fixture
def mail_rt(rt, sink):
    """The test runtime with outbound SMTP to the sink and a small mail size limit."""
    settings = rt.settings.model_copy(update={
        "smtp_url": sink.url, "public_url": PUBLIC_URL, "mail_address": ADDRESS,
        "mail_max_bytes": 256 * 1024, "mail_max_recipients": 3})
    new = replace(rt, settings=settings)
    jobs.install(new)
    yield new
    jobs.install(rt)


# --- the gateway's SMTP listener -----------------------------------------------------------------


@dataclass
class Listener:
    host: str
    port: int


@pytest.fixture
def listener(mail_rt):
    port = free_port()
    controller = mail_service.start_smtp(mail_rt, listen=f"127.0.0.1:{port}")
    yield Listener("127.0.0.1", port)
    controller.stop()


# --- Dovecot ---------------------------------------------------------------------------------------

_DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    uid: int
    user: str = "complaints"
    password: str = "mailbox-secret"  # a throwaway test mailbox

    @property
    def maildir(self) -> Path:
        return self.root / "home" / "Maildir"

    def url(self, **query: str) -> str:
        params = "&".join(f"{k}={v}" for k, v in {"tls": "0", **query}.items())
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX?{params}"

    def deliver(self, data: bytes) -> None:
        """Drop a mail in the INBOX as an MTA does: written to tmp/, renamed into new/."""
        name = f"{time.time_ns()}.{os.getpid()}.test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(data)
        os.chown(tmp, self.uid, self.uid)
        tmp.rename(self.maildir / "new" / name)

    def empty(self) -> None:
        for folder in (self.maildir, *self.maildir.glob(".*")):
            for sub in ("new", "cur"):
                for item in (folder / sub).glob("*") if (folder / sub).is_dir() else ():
                    item.unlink()


@pytest.fixture(scope="session")
def _dovecot_server():
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        _unavailable("Dovecot", "the dovecot binary is not installed (apt-get install dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="ikhtiyar-dovecot-"))
    root.chmod(0o755)  # dovecot's unprivileged login processes must reach base_dir
    uid = os.getuid() or 65534  # the mail user must not be root
    box = Dovecot(root, free_port(), uid)
    for sub in ("run", "state", "home/Maildir/new", "home/Maildir/cur", "home/Maildir/tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        for path in [root / "home", *(root / "home").rglob("*")]:
            os.chown(path, uid, uid)
    (root / "passwd").write_text(f"{box.user}:{{PLAIN}}{box.password}:{uid}:{uid}::{root / 'home'}::\n")
    (root / "dovecot.conf").write_text(_DOVECOT_CONF.format(root=root, port=box.port))
    proc = subprocess.Popen([binary, "-F", "-c", str(root / "dovecot.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _unavailable("Dovecot", (proc.stderr.read() or b"").decode()[-300:])
        try:
            socket.create_connection(("127.0.0.1", box.port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        _unavailable("Dovecot", "did not start listening")
    yield box
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot(_dovecot_server) -> Dovecot:
    _dovecot_server.empty()
    return _dovecot_server
