"""The outbound SMTP sender: what a refusal means for the outbox, and the mail it builds."""

from __future__ import annotations

import pytest

from channels.delivery import Outgoing, PermanentError, TransientError
from channels.email.sender import SmtpSender, SmtpServer, SmtpUrlError
from tests.mail.conftest import ADDRESS, free_port


def sender(url: str) -> SmtpSender:
    return SmtpSender(url, ADDRESS, secret=b"s" * 32, base_url="http://ikhtiyar.test")


def outgoing(to: str = "citizen@example.org", **extras) -> Outgoing:
    return Outgoing(channel="email", to=to, text="Your complaint KP-1234567 is registered.",
                    language="en", extras={"email": {"token": "ab12", "tracking": "1234567", **extras}})


def test_a_refused_recipient_fails_for_good(sink):
    with pytest.raises(PermanentError, match="550"):
        sender(sink.url)(outgoing("refuse-me@example.org"))


def test_a_temporary_refusal_is_retried(sink):
    with pytest.raises(TransientError, match="451"):
        sender(sink.url)(outgoing("later-me@example.org"))


def test_an_unreachable_relay_is_retried():
    with pytest.raises(TransientError, match="unreachable"):
        sender(f"smtp://127.0.0.1:{free_port()}?starttls=0")(outgoing())


def test_a_required_starttls_the_relay_lacks_is_retried_not_sent_in_clear(sink):
    with pytest.raises(TransientError):
        sender(sink.url.replace("starttls=0", "starttls=1"))(outgoing())
    assert sink.messages == []


def test_the_mail_carries_thread_headers_and_caps_references():
    refs = [f"<r{i}@example.org>" for i in range(15)]
    msg = sender("smtp://relay.example.org").compose(
        outgoing(in_reply_to="<r14@example.org>", references=refs, subject="Re: Re: Broken pipe"))
    assert msg["Message-ID"] == "<ab12.ikhtiyar@ikhtiyar.localhost>"
    assert msg["Subject"] == "Re: Broken pipe [KP-1234567]"
    assert msg["In-Reply-To"] == "<r14@example.org>"
    assert msg["References"].split() == refs[-10:]
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Ikhtiyar-Loop"] == ADDRESS


def test_urls_are_checked():
    assert SmtpServer.from_url("smtps://u%40x:p%2F@mail.example.org").password == "p/"
    assert SmtpServer.from_url("smtp://mail.example.org:2525?starttls=1").starttls == "yes"
    with pytest.raises(SmtpUrlError):
        SmtpServer.from_url("http://mail.example.org")


def test_a_relay_without_starttls_never_gets_the_password_in_clear(sink):
    """Issue 11, finding 12: AUTH only over TLS. The relay offers AUTH on a plain connection."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    logins: list[bytes] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append(auth_data.password)
        return AuthResult(success=True)

    port = free_port()
    relay = Controller(sink, hostname="127.0.0.1", port=port, authenticator=authenticator,
                       auth_require_tls=False)
    relay.start()
    try:
        with pytest.raises(TransientError, match="does not offer STARTTLS") as refused:
            sender(f"smtp://ikhtiyar:relay-secret@127.0.0.1:{port}")(outgoing())
        assert "relay-secret" not in str(refused.value)
    finally:
        relay.stop()
    assert logins == [] and sink.messages == []
