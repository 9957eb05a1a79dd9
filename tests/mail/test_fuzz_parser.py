"""Fuzzing the email parser, the threading headers and sender authentication (issue 11,
item 11): whatever bytes arrive, parsing either refuses the mail with MailRejected or gives
a result that can be stored (no surrogate, no NUL, JSON-serializable), and the sender check
gives a verdict. A short hypothesis run here; failures found become regression tests."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email import auth, parser, threading
from channels.email.threading import clean_message_id, inbound_provider_id
from tests.mail.conftest import FIXTURES

SEEDS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]
HEADERS = ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Date",
           "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version",
           "Auto-Submitted", "Precedence", "List-Id", "Return-Path", "DKIM-Signature",
           "Authentication-Results"]
_header_value = st.one_of(
    st.binary(max_size=120),
    st.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"=?utf-8?b?2KfYsdiv2Yg=?=", b"=?x-unknown?q?abc?=", b"<a@b>", b"<<>>", b"@",
                     b"multipart/mixed; boundary=\"b\"", b"text/plain; charset=\"utf-7\"",
                     b"base64", b"quoted-printable", b"\xff\xfe", b"v=1; a=rsa-sha256; d=example.org; s=x; b=;",
                     b"mx.example; dkim=pass header.d=example.org", b"undisclosed-recipients:;"]))


def _mail(draw) -> bytes:
    headers = draw(st.lists(st.tuples(st.sampled_from(HEADERS), _header_value), max_size=12))
    body = draw(st.one_of(st.binary(max_size=400),
                          st.sampled_from([b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n",
                                           b"yes", b"> quoted\r\nOn Mon wrote:\r\n", b"\x00\x00"])))
    return b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers) + b"\r\n" + body


mails = st.one_of(
    st.binary(max_size=600),
    st.composite(_mail)(),
    st.tuples(st.sampled_from(SEEDS), st.integers(0, 4000), st.binary(max_size=40)).map(
        lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:]),  # a real mail with bytes spliced in
)


def fuzz_one_mail(data: bytes) -> None:
    """One input through everything that reads an inbound mail before it is stored."""
    try:
        mail = parser.parse(data, envelope_from="fuzz@example.org",
                            our_addresses=frozenset({"complaints@ikhtiyar.localhost"}))
    except parser.MailRejected:
        return
    stored = json.dumps(mail.inbound().raw, ensure_ascii=False)
    stored.encode("utf-8")  # no surrogate survives
    assert "\x00" not in stored and "\x00" not in mail.text
    assert mail.provider_id == inbound_provider_id(mail.message_id, data, mail.sender)
    assert len(mail.provider_id) <= 255
    for value in (mail.in_reply_to, *mail.references):
        assert clean_message_id(value) == value
    threading.reply_subject(mail.subject, "KP-1234567", "fallback")
    verdict = auth.authenticate(data, envelope_from="fuzz@example.org", ip="192.0.2.1",
                                helo="mx.example.org", trusted_authserv_id="mx.example",
                                lookup=lambda *a, **k: [])
    assert isinstance(verdict.authenticated, bool)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mails)
def test_no_mail_crashes_the_parser_threading_or_the_sender_check(data):
    fuzz_one_mail(data)


def test_regressions_found_by_fuzzing():
    for data in (b"From: a@b.example\r\nSubject: \xed\xa0\x80\r\n\r\nx",  # a UTF-8-encoded surrogate
                 b"From: a@b.example\r\nSubject: a\x00b\r\n\r\n\x00",  # NUL in a header and body
                 b"From: \xe9@b.example\r\n\r\nbody"):
        fuzz_one_mail(data)
