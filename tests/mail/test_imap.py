"""Polling a real Dovecot IMAP server: each mail stored once, moved to Processed, the
mailbox's UIDVALIDITY and last UID kept in the database across restarts."""

from __future__ import annotations

import threading

from imapclient import IMAPClient
from sqlalchemy import select

from gateway import mail_service
from storage.mail import ImapState
from storage.models import Complaint, Message
from tests.mail.conftest import fixture_bytes


def folder_count(dovecot, folder: str) -> int:
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as client:
        client.login(dovecot.user, dovecot.password)
        if not client.folder_exists(folder):
            return 0
        return client.select_folder(folder, readonly=True)[b"EXISTS"]


def test_polled_mail_is_stored_answered_and_moved(mail_rt, dovecot, sink):
    dovecot.deliver(fixture_bytes("plain"))
    dovecot.deliver(fixture_bytes("windows1256_body"))
    poller = mail_service.imap_poller(mail_rt, dovecot.url())
    assert poller.poll_once() == 2
    mail_rt.queue.run_due()
    with mail_rt.sessions() as s:
        assert len(s.scalars(select(Complaint)).all()) == 2
        state = s.scalars(select(ImapState)).one()
        assert state.last_uid >= 2 and state.uidvalidity > 0
    assert len(sink.messages) == 2
    assert folder_count(dovecot, "INBOX") == 0 and folder_count(dovecot, "Processed") == 2


def test_a_restarted_poller_neither_misses_nor_repeats(mail_rt, dovecot, sink):
    dovecot.deliver(fixture_bytes("plain"))
    assert mail_service.imap_poller(mail_rt, dovecot.url()).poll_once() == 1
    dovecot.deliver(fixture_bytes("html_only"))
    # A new process: only the new mail is fetched.
    assert mail_service.imap_poller(mail_rt, dovecot.url()).poll_once() == 1
    assert mail_service.imap_poller(mail_rt, dovecot.url()).poll_once() == 0
    with mail_rt.sessions() as s:
        assert len(s.scalars(select(Message).where(Message.direction == "in")).all()) == 2


def test_a_mail_left_in_the_inbox_after_a_crash_is_not_stored_twice(mail_rt, dovecot, sink):
    dovecot.deliver(fixture_bytes("plain"))
    poller = mail_service.imap_poller(mail_rt, dovecot.url())
    poller._move = lambda client, uids: None  # the process died before moving it
    assert poller.poll_once() == 1
    with mail_rt.sessions() as s, s.begin():  # and a new UIDVALIDITY makes it look new again
        s.scalars(select(ImapState)).one().uidvalidity = 1
    assert mail_service.imap_poller(mail_rt, dovecot.url()).poll_once() == 1
    mail_rt.queue.run_due()
    with mail_rt.sessions() as s:
        assert len(s.scalars(select(Message).where(Message.direction == "in")).all()) == 1
    assert len(sink.messages) == 1


def test_the_poller_waits_with_idle_and_picks_up_new_mail(mail_rt, dovecot, sink):
    poller = mail_service.imap_poller(mail_rt, dovecot.url())
    stop = threading.Event()
    worker = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    worker.start()
    try:
        dovecot.deliver(fixture_bytes("iso88596_body"))
        for _ in range(100):
            with mail_rt.sessions() as s:
                if s.scalars(select(Message).where(Message.direction == "in")).first():
                    break
            stop.wait(0.1)
        with mail_rt.sessions() as s:
            assert s.scalars(select(Message).where(Message.direction == "in")).one().provider_id \
                .startswith("in:<iso88596.20250308@example.ae>#")
    finally:
        stop.set()
        worker.join(timeout=70)
