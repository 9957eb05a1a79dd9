"""Mail over TLS, as in production: the IMAP poller over implicit TLS (imaps) and STARTTLS,
and outbound SMTP over STARTTLS and smtps, against loopback servers whose certificate a
private CA made at test time signed. Trusted through ``?cafile=``, it works; not trusted,
nothing is sent, fetched or moved, and the error says why."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace

import pytest
from sqlalchemy import select

from channels.delivery import TransientError
from channels.email.imap import ImapTlsError, ImapUrlError, Mailbox
from gateway import jobs, mail_service
from storage.mail import ImapState
from storage.models import Complaint, Message
from tests.mail.conftest import fixture_bytes
from tests.mail.test_imap import folder_count
from tests.mail.test_sender import outgoing, sender
from tests.mail.test_smtp import send


def stored(rt) -> int:
    with rt.sessions() as s:
        return len(s.scalars(select(Message).where(Message.direction == "in")).all())


@pytest.mark.parametrize("mode", ["imaps", "starttls"])
def test_the_poller_reads_a_mailbox_over_tls_it_trusts(mail_rt, dovecot, sink, certificates, mode):
    dovecot.deliver(fixture_bytes("plain"))
    poller = mail_service.imap_poller(mail_rt, dovecot.tls_url(mode, certificates.ca_file))
    assert poller.mailbox.tls == ("tls" if mode == "imaps" else "starttls")
    client = poller.connect()
    try:
        # The session really is encrypted, and with the certificate our CA signed.
        sock = client.socket()
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
        assert dict(x[0] for x in sock.getpeercert()["subject"])["commonName"] == "localhost"
        assert poller.poll_once(client) == 1
    finally:
        client.logout()
    mail_rt.queue.run_due()
    with mail_rt.sessions() as s:
        assert len(s.scalars(select(Complaint)).all()) == 1
    assert len(sink.messages) == 1  # answered
    assert folder_count(dovecot, "INBOX") == 0 and folder_count(dovecot, "Processed") == 1


@pytest.mark.parametrize(("mode", "trusted"), [("imaps", None), ("starttls", None),
                                               ("imaps", "stranger"), ("starttls", "stranger")])
def test_an_untrusted_certificate_stops_the_poller_before_it_logs_in(mail_rt, dovecot, sink, certificates,
                                                                     mode, trusted):
    dovecot.deliver(fixture_bytes("plain"))
    cafile = certificates.stranger_ca_file if trusted else None  # None: the system's CAs only
    poller = mail_service.imap_poller(mail_rt, dovecot.tls_url(mode, cafile))
    with pytest.raises(ImapTlsError, match=r"127\.0\.0\.1:\d+: TLS certificate not trusted .*\?cafile=PATH"):
        poller.poll_once()
    assert stored(mail_rt) == 0 and sink.messages == []
    with mail_rt.sessions() as s:
        assert s.scalars(select(ImapState)).all() == []
    assert folder_count(dovecot, "INBOX") == 1 and folder_count(dovecot, "Processed") == 0


def test_a_server_without_starttls_gets_no_password_in_clear(mail_rt, sink, certificates):
    # An IMAP server that does not offer STARTTLS: the poller must not fall back to clear text.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    heard: list[bytes] = []

    def imap_without_starttls() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
            conn.settimeout(5)
            try:
                while chunk := conn.recv(4096):
                    heard.append(chunk)
                    tag = chunk.split(b" ", 1)[0]
                    if b"CAPABILITY" in chunk.upper():
                        conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                    else:
                        conn.sendall(tag + b" BAD no\r\n")
            except OSError:
                pass

    worker = threading.Thread(target=imap_without_starttls, daemon=True)
    worker.start()
    port = server.getsockname()[1]
    poller = mail_service.imap_poller(
        mail_rt, f"imap://complaints:secret-pw@127.0.0.1:{port}/INBOX?cafile={certificates.ca_file}")
    try:
        with pytest.raises(ImapTlsError, match="not logging in without TLS"):
            poller.poll_once()
    finally:
        worker.join(timeout=10)
        server.close()
    assert b"secret-pw" not in b"".join(heard) and b"LOGIN" not in b"".join(heard).upper()


def test_a_cafile_that_cannot_be_read_is_a_configuration_error(tmp_path):
    with pytest.raises(ImapUrlError, match=r"\?cafile=.*cannot be read"):
        Mailbox.from_url(f"imaps://u:p@127.0.0.1/INBOX?cafile={tmp_path}/missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ImapUrlError, match="cannot be read as PEM"):
        Mailbox.from_url(f"imaps://u:p@127.0.0.1/INBOX?cafile={junk}")


def test_the_imap_poll_command_says_why_it_cannot_connect(mail_rt, dovecot, monkeypatch):
    from click.testing import CliRunner

    from gateway import cli

    dovecot.deliver(fixture_bytes("plain"))
    settings = mail_rt.settings.model_copy(update={"imap_url": dovecot.tls_url("imaps")})
    monkeypatch.setattr(cli, "_runtime", lambda prepare=False, **_: replace(mail_rt, settings=settings))
    monkeypatch.setattr(mail_rt.queue, "start", lambda: None)  # the test runs queued jobs itself
    result = CliRunner().invoke(cli.main, ["imap-poll", "--once"])
    assert result.exit_code == 1
    assert "TLS certificate not trusted" in result.output and "?cafile=PATH" in result.output
    assert folder_count(dovecot, "INBOX") == 1


# --- outbound SMTP -------------------------------------------------------------------------------


def test_mail_goes_out_over_starttls_to_a_relay_it_trusts(tls_sinks, certificates):
    relay = tls_sinks.starttls
    result = sender(f"smtp://127.0.0.1:{relay.port}?starttls=1&cafile={certificates.ca_file}")(outgoing())
    [mail] = relay.messages
    assert relay.encrypted == [True]
    assert mail["Message-ID"] == result.provider_id and "[KP-1234567]" in mail["Subject"]


def test_mail_goes_out_over_smtps_to_a_relay_it_trusts(tls_sinks, certificates):
    relay = tls_sinks.smtps
    sender(f"smtps://127.0.0.1:{relay.port}?cafile={certificates.ca_file}")(outgoing())
    assert len(relay.messages) == 1 and relay.encrypted == [True]


@pytest.mark.parametrize("scheme", ["starttls", "smtps"])
def test_an_untrusted_relay_gets_nothing_and_the_row_is_retried(tls_sinks, certificates, scheme):
    relay = getattr(tls_sinks, scheme)
    url = (f"smtp://127.0.0.1:{relay.port}?starttls=1" if scheme == "starttls"
           else f"smtps://127.0.0.1:{relay.port}")
    with pytest.raises(TransientError, match=r"TLS certificate not trusted .*\?cafile=PATH"):
        sender(url)(outgoing())
    with pytest.raises(TransientError, match="not trusted"):
        sender(f"{url}{'&' if '?' in url else '?'}cafile={certificates.stranger_ca_file}")(outgoing())
    assert relay.messages == []


def test_the_outbox_delivers_over_starttls_with_the_configured_ca(mail_rt, tls_sinks, certificates, listener):
    relay = tls_sinks.starttls
    settings = mail_rt.settings.model_copy(update={
        "smtp_url": f"smtp://127.0.0.1:{relay.port}?starttls=1&cafile={certificates.ca_file}"})
    jobs.install(replace(mail_rt, settings=settings))  # the mail_rt fixture puts its own back
    assert send(listener, fixture_bytes("plain"))[0] == 250
    mail_rt.queue.run_due()
    [answer] = relay.messages
    assert relay.encrypted == [True] and answer["In-Reply-To"]
    with mail_rt.sessions() as s:
        row = s.scalars(select(Message).where(Message.direction == "out")).one()
        assert row.status == "sent" and row.provider_id == answer["Message-ID"]
