"""Fixtures for the email tests: a real Dovecot IMAP server on a loopback port (passwd-file
user, Maildir; plain, STARTTLS and implicit TLS), the gateway's SMTP listener on a free
loopback port, and SMTP sinks that catch what the gateway sends (they can also refuse, like
a real relay; two of them speak only TLS). The TLS certificates come from a private CA made
at test time (``certificates``)."""

from __future__ import annotations

import base64
import email
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway import jobs, mail_service
from tests.conftest import _unavailable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
ADDRESS = "complaints@ikhtiyar.localhost"
PUBLIC_URL = "http://ikhtiyar.test"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.eml").read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- TLS: a private CA made at test time ----------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A self-signed test CA and the loopback servers' certificate it signed (for 127.0.0.1
    and localhost); ``stranger_ca_file`` is another CA, which signed nothing of ours."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    stranger_ca_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _make_server_cert(ca_key, ca_cert: x509.Certificate) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> Certificates:
    folder = tmp_path_factory.mktemp("tls")
    folder.chmod(0o755)  # Dovecot reads the certificate and key from here
    ca_key, ca_cert = _make_ca("Ikhtiyar test CA")
    key, cert = _make_server_cert(ca_key, ca_cert)
    _, stranger = _make_ca("Someone else's CA")
    found = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key",
                         folder / "stranger-ca.pem")
    found.ca_file.write_bytes(_pem(ca_cert))
    found.cert_file.write_bytes(_pem(cert) + _pem(ca_cert))
    found.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    found.key_file.chmod(0o600)
    found.stranger_ca_file.write_bytes(_pem(stranger))
    return found


# --- the outbound sink ------------------------------------------------------------------------


@dataclass
class Sink:
    """Mail the gateway sent. Recipients starting with ``refuse-`` get 550, ``later-`` 451."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    encrypted: list[bool] = field(default_factory=list)  # whether each mail came over TLS
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
            self.encrypted.append(server.transport.get_extra_info("ssl_object") is not None)
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=0"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()
            self.encrypted.clear()


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


@dataclass
class TlsSinks:
    starttls: Sink  # plain connection, MAIL only after STARTTLS
    smtps: Sink  # TLS from the first byte


@pytest.fixture(scope="session")
def _tls_sink_servers(certificates):
    sinks = TlsSinks(Sink(port=free_port()), Sink(port=free_port()))
    controllers = [
        Controller(sinks.starttls, hostname="127.0.0.1", port=sinks.starttls.port,
                   tls_context=certificates.server_context(), require_starttls=True),
        Controller(sinks.smtps, hostname="127.0.0.1", port=sinks.smtps.port,
                   ssl_context=certificates.server_context()),
    ]
    for controller in controllers:
        controller.start()
    yield sinks
    for controller in controllers:
        controller.stop()


@pytest.fixture
def tls_sinks(_tls_sink_servers) -> TlsSinks:
    _tls_sink_servers.starttls.clear()
    _tls_sink_servers.smtps.clear()
    return _tls_sink_servers


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


# --- DNS for DKIM and SPF, served without a network -------------------------------------------------

DKIM_SELECTOR = "test"


@dataclass
class FakeDns:
    """Records served to sender authentication, in pyspf's DNSLookup form; ``fail`` makes
    every query time out as an unreachable resolver does."""

    records: dict[tuple[str, str], list] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False

    def lookup(self, name, qtype, strict=True, timeout=3.0):
        import spf

        name = str(name).lower().rstrip(".")
        self.asked.append((name, qtype))
        if self.fail:
            raise spf.TempError("DNS timed out")
        return [((name, qtype), value) for value in self.records.get((name, qtype), [])]

    def txt(self, name: str, text: str) -> None:
        data = text.encode()
        # A TXT record is a list of strings of at most 255 bytes each.
        self.records.setdefault((name.lower(), "TXT"), []).append(
            [data[i:i + 255] for i in range(0, len(data), 255)])


@dataclass(frozen=True)
class DkimKey:
    private_pem: bytes
    public_txt: str

    def sign(self, data: bytes, domain: str = "example.org") -> bytes:
        """The mail with a real DKIM signature of ``domain`` (dkimpy), in SMTP's line ends."""
        import dkim

        data = re.sub(rb"\r?\n", b"\r\n", data)
        header = dkim.sign(data, DKIM_SELECTOR.encode(), domain.encode(), self.private_pem,
                           include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                                            b"in-reply-to", b"references"])
        return header + data


@pytest.fixture(scope="session")
def dkim_key() -> DkimKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return DkimKey(private, "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode())


@pytest.fixture
def dns(dkim_key) -> FakeDns:
    """example.org publishes the test DKIM key; nothing else exists."""
    found = FakeDns()
    found.txt(f"{DKIM_SELECTOR}._domainkey.example.org", dkim_key.public_txt)
    return found


# --- the gateway's SMTP listener -----------------------------------------------------------------


@dataclass
class Listener:
    host: str
    port: int


@pytest.fixture
def listener(mail_rt, dns):
    port = free_port()
    controller = mail_service.start_smtp(mail_rt, listen=f"127.0.0.1:{port}", lookup=dns.lookup)
    yield Listener("127.0.0.1", port)
    controller.stop()


# --- Dovecot ---------------------------------------------------------------------------------------

_DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
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
    address = 127.0.0.1
    port = {tls_port}
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
    tls_port: int = 0  # implicit TLS (imaps); ``port`` offers STARTTLS and plain
    user: str = "complaints"
    password: str = "mailbox-secret"  # a throwaway test mailbox

    @property
    def maildir(self) -> Path:
        return self.root / "home" / "Maildir"

    def url(self, **query: str) -> str:
        params = "&".join(f"{k}={v}" for k, v in {"tls": "0", **query}.items())
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX?{params}"

    def tls_url(self, mode: str, cafile: Path | None = None) -> str:
        """``imaps`` (TLS from the first byte) or ``starttls``; ``cafile`` the CA to trust."""
        query = f"?cafile={cafile}" if cafile else ""
        if mode == "imaps":
            return f"imaps://{self.user}:{self.password}@127.0.0.1:{self.tls_port}/INBOX{query}"
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX{query}"

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
def _dovecot_server(certificates):
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        _unavailable("Dovecot", "the dovecot binary is not installed (apt-get install dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="ikhtiyar-dovecot-"))
    root.chmod(0o755)  # dovecot's unprivileged login processes must reach base_dir
    uid = os.getuid() or 65534  # the mail user must not be root
    box = Dovecot(root, free_port(), uid, tls_port=free_port())
    for sub in ("run", "state", "home/Maildir/new", "home/Maildir/cur", "home/Maildir/tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        for path in [root / "home", *(root / "home").rglob("*")]:
            os.chown(path, uid, uid)
    (root / "passwd").write_text(f"{box.user}:{{PLAIN}}{box.password}:{uid}:{uid}::{root / 'home'}::\n")
    (root / "dovecot.conf").write_text(_DOVECOT_CONF.format(
        root=root, port=box.port, tls_port=box.tls_port, cert=certificates.cert_file,
        key=certificates.key_file))
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
