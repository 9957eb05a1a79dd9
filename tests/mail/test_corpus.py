"""Every real-world mail of the public mail-library test suites (tests/mail/corpus.py) goes
in through the SMTP listener: each one is answered 250 and stored as its own message."""

from __future__ import annotations

import smtplib
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from gateway import mail_service
from storage.models import Message
from tests.conftest import IN_CI
from tests.mail import corpus
from tests.mail.conftest import Listener, free_port
from tests.mail.test_smtp import crlf


@pytest.fixture(scope="module")
def corpus_mails():
    failed = corpus.fetch(corpus.cache_dir())
    if failed and IN_CI:
        pytest.fail("could not fetch the mail corpus: " + "; ".join(failed))
    found = corpus.mails(corpus.cache_dir())
    if len(found) < 20:
        pytest.skip(f"only {len(found)} corpus mails available ({'; '.join(failed)})")
    return found


@pytest.fixture
def big_listener(mail_rt, dns):
    """The listener with the default size limit (10 MiB): some corpus mails are over 256 KiB."""
    rt = replace(mail_rt, settings=mail_rt.settings.model_copy(update={"mail_max_bytes": 10 * 1024 * 1024}))
    port = free_port()
    controller = mail_service.start_smtp(rt, listen=f"127.0.0.1:{port}", lookup=dns.lookup)
    yield Listener("127.0.0.1", port)
    controller.stop()


def test_every_corpus_mail_is_taken_and_stored_as_its_own_message(mail_rt, big_listener, corpus_mails):
    listener = big_listener
    refused = {}
    with smtplib.SMTP(listener.host, listener.port, timeout=30) as smtp:
        smtp.ehlo("client.example.org")
        for n, path in enumerate(corpus_mails):
            # A sender of its own, so a mail whose From: is unreadable is answered there.
            sender = f"corpus{n}@example.org"
            options = ["SMTPUTF8", "BODY=8BITMIME"]
            smtp.mail(sender, options)
            code, reply = smtp.rcpt("complaints@ikhtiyar.localhost")
            assert code == 250, reply
            code, reply = smtp.data(crlf(path.read_bytes()))
            if code != 250:
                refused[f"{path.parent.name}/{path.name}"] = (code, reply[:120])
            smtp.rset()
    assert refused == {}, "\n".join(f"{k}: {v}" for k, v in sorted(refused.items()))
    with mail_rt.sessions() as s:
        stored = s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    assert stored == len(corpus_mails)
