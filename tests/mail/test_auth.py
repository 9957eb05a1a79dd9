"""Only the complainant's own, authenticated mail answers "are you satisfied?" (issue 10,
finding 2). A From: header is only text: a mail whose sender is not proven by DKIM or SPF
aligned with its From: domain (checked by dkimpy and pyspf over DNS served by the test), or
by our trusted relay's Authentication-Results, never closes or reopens a case; the
complainant gets the signed links instead, once a day. A stranger quoting our Message-ID
adds nothing to someone else's case. Answers are budgeted per sender and per IP."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from gateway import mail_service
from storage.models import Attachment, Complaint, ComplaintEvent, Message
from tests.conftest import IN_CI
from tests.mail.conftest import ADDRESS, Listener, fixture_bytes, free_port
from tests.mail.test_case import links_in, resolve
from tests.mail.test_smtp import crlf, send

VICTIM = "asad.khan@example.org"


def answer(to_mail, body: str, *, sender: str = VICTIM, extra: dict | None = None,
           attachment: bytes | None = None) -> bytes:
    """A reply in the thread of ``to_mail`` (our satisfaction request) saying ``body``."""
    msg = EmailMessage()
    msg["From"] = f"Asad Khan <{sender}>"
    msg["To"] = to_mail["From"]
    msg["Subject"] = "Re: " + to_mail["Subject"]
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg["Date"] = "Mon, 30 Nov 2026 10:00:00 +0500"
    msg["In-Reply-To"] = to_mail["Message-ID"]
    msg["References"] = to_mail["Message-ID"]
    for name, value in (extra or {}).items():
        msg[name] = value
    msg.set_content(body + "\n")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="image", subtype="jpeg", filename="evidence.jpg")
    return bytes(msg)


@pytest.fixture
def resolved(mail_rt, listener, sink):
    """The victim's complaint, resolved; returns the satisfaction request mail."""
    assert send(listener, fixture_bytes("plain"))[0] == 250
    mail_rt.queue.run_due()
    resolve(mail_rt, "The pump was repaired")
    request = sink.messages[-1]
    links_in(request)
    sink.clear()
    return request


def state(rt) -> tuple[str, int]:
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint).order_by(Complaint.id)).first()
        return complaint.state, complaint.escalation_level


def events(rt, *kinds: str) -> list[ComplaintEvent]:
    with rt.sessions() as s:
        return list(s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind.in_(kinds))))


@pytest.mark.parametrize("word", ["yes", "no"])
def test_a_forged_from_never_closes_or_reopens(mail_rt, listener, sink, resolved, word):
    forged = answer(resolved, word)
    assert send(listener, forged, sender="attacker@evil.test")[0] == 250
    mail_rt.queue.run_due()
    assert state(mail_rt) == ("resolved", 0)
    assert events(mail_rt, "confirm_satisfied", "reject_resolution") == []
    # The complainant is offered the signed links instead (their own address, their case) ...
    [offer] = sink.messages
    assert offer["To"] == VICTIM and "could not verify" in offer.get_body(("plain",)).get_content()
    links_in(offer)
    # ... once a day: a second forged mail is stored and gets no answer.
    assert send(listener, answer(resolved, word), sender="attacker@evil.test")[0] == 250
    mail_rt.queue.run_due()
    assert len(sink.messages) == 1 and state(mail_rt) == ("resolved", 0)
    with mail_rt.sessions() as s:
        assert len(s.scalars(select(Message).where(Message.direction == "in")).all()) == 3


def test_a_dkim_signed_yes_from_the_complainant_closes(mail_rt, listener, sink, resolved, dkim_key, dns):
    assert send(listener, dkim_key.sign(answer(resolved, "yes")))[0] == 250
    mail_rt.queue.run_due()
    assert state(mail_rt)[0] == "closed"
    assert ("test._domainkey.example.org", "TXT") in dns.asked


def test_a_dkim_signature_of_another_domain_does_not_count(mail_rt, listener, resolved, dkim_key, dns):
    dns.txt("test._domainkey.evil.test", dkim_key.public_txt)
    forged = dkim_key.sign(answer(resolved, "yes"), domain="evil.test")  # valid, not aligned
    assert send(listener, forged, sender="attacker@evil.test")[0] == 250
    mail_rt.queue.run_due()
    assert state(mail_rt) == ("resolved", 0)


def test_a_mail_changed_after_signing_does_not_count(mail_rt, listener, resolved, dkim_key):
    signed = dkim_key.sign(answer(resolved, "no, nothing was repaired"))
    tampered = signed.replace(b"no, nothing was repaired", b"yes")
    assert send(listener, tampered)[0] == 250
    mail_rt.queue.run_due()
    assert state(mail_rt) == ("resolved", 0)


def test_a_dns_failure_means_not_authenticated_and_is_no_error(mail_rt, listener, resolved, dkim_key, dns):
    dns.fail = True
    code, _ = send(listener, dkim_key.sign(answer(resolved, "yes")))
    assert code == 250
    mail_rt.queue.run_due()
    assert state(mail_rt) == ("resolved", 0)


def test_spf_aligned_with_from_counts(mail_rt, listener, resolved, dns):
    dns.txt("example.org", "v=spf1 ip4:127.0.0.0/8 -all")
    assert send(listener, answer(resolved, "no, still no water"))[0] == 250
    mail_rt.queue.run_due()
    assert state(mail_rt) == ("reopened", 1)


def test_spf_of_the_attackers_own_domain_does_not_count(mail_rt, listener, resolved, dns):
    dns.txt("evil.test", "v=spf1 ip4:127.0.0.0/8 -all")  # passes for evil.test, not example.org
    assert send(listener, answer(resolved, "yes"), sender="attacker@evil.test")[0] == 250
    mail_rt.queue.run_due()
    assert state(mail_rt) == ("resolved", 0)


def listener_with(mail_rt, dns, **settings):
    """A listener of its own, with these settings changed; returns (controller, listener)."""
    rt = replace(mail_rt, settings=mail_rt.settings.model_copy(update=settings))
    port = free_port()
    return mail_service.start_smtp(rt, listen=f"127.0.0.1:{port}", lookup=dns.lookup), Listener("127.0.0.1", port)


def relay_listener(mail_rt, dns, authserv_id: str):
    return listener_with(mail_rt, dns, mail_trusted_authserv_id=authserv_id)


def test_the_trusted_relays_authentication_results_count(mail_rt, resolved, dns):
    controller, relay = relay_listener(mail_rt, dns, "mx.ikhtiyar.gov.pk")
    try:
        verdict = {"Authentication-Results":
                   "mx.ikhtiyar.gov.pk; dkim=pass header.d=example.org header.s=g1; dmarc=pass header.from=example.org"}
        assert send(relay, answer(resolved, "yes", extra=verdict))[0] == 250
        mail_rt.queue.run_due()
        assert state(mail_rt)[0] == "closed"
    finally:
        controller.stop()


def test_authentication_results_of_anyone_else_do_not_count(mail_rt, resolved, dns):
    controller, relay = relay_listener(mail_rt, dns, "mx.ikhtiyar.gov.pk")
    try:
        forged = {"Authentication-Results": "mx.evil.test; dkim=pass header.d=example.org"}
        assert send(relay, answer(resolved, "yes", extra=forged), sender="attacker@evil.test")[0] == 250
        mail_rt.queue.run_due()
        assert state(mail_rt) == ("resolved", 0)
    finally:
        controller.stop()


def test_a_stranger_quoting_our_message_id_adds_nothing_to_the_case(mail_rt, listener, sink, resolved, dkim_key):
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 64
    stranger = answer(resolved, "The officer is lying, the pump is still broken in Hayatabad Peshawar",
                      sender="bilal@example.com", attachment=jpeg)
    assert send(listener, stranger, sender="bilal@example.com")[0] == 250
    mail_rt.queue.run_due()
    with mail_rt.sessions() as s:
        victim = s.scalars(select(Complaint).order_by(Complaint.id)).first()
        assert victim.state == "resolved"
        assert s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == victim.id,
                                                      ComplaintEvent.kind == "citizen_comment")).all() == []
        assert all(a.complaint_id != victim.id for a in s.scalars(select(Attachment)))
        incoming = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)).all()
        assert incoming[-1].complaint_id != victim.id


def test_answers_are_budgeted_per_sender(mail_rt, dns, sink):
    controller, listener = listener_with(mail_rt, dns, mail_answers_per_sender=3)
    try:
        for n in range(5):
            body = fixture_bytes("plain").replace(b"ten days", f"{n + 10} days".encode())
            body = body.replace(b"Message-ID: <", f"Message-ID: <{n}.".encode())
            assert send(listener, body, sender="attacker@evil.test")[0] == 250
    finally:
        controller.stop()
    mail_rt.queue.run_due()
    assert len(sink.messages) == 3
    with mail_rt.sessions() as s:
        stored = s.scalars(select(Message).where(Message.direction == "in")).all()
        assert len(stored) == 5 and sum(m.status == "ignored" for m in stored) == 2


def test_answers_are_budgeted_per_connecting_ip(mail_rt, dns, sink):
    controller, listener = listener_with(mail_rt, dns, mail_answers_per_ip=2)
    try:
        for n in range(4):  # four forged senders, one IP
            body = fixture_bytes("plain").replace(b"asad.khan@example.org", f"victim{n}@example.net".encode())
            body = body.replace(b"Message-ID: <", f"Message-ID: <{n}.".encode())
            assert send(listener, body, sender=f"victim{n}@example.net")[0] == 250
    finally:
        controller.stop()
    mail_rt.queue.run_due()
    assert len(sink.messages) == 2
    with mail_rt.sessions() as s:
        assert len(s.scalars(select(Message).where(Message.direction == "in")).all()) == 4


def test_swaks_with_a_forged_from_changes_nothing(mail_rt, listener, sink, resolved, tmp_path):
    """The finding as it was tried: swaks, envelope attacker@evil.test, From: the victim."""
    swaks = shutil.which("swaks")
    if swaks is None:
        if IN_CI:
            pytest.fail("swaks is required in CI (apt-get install swaks)")
        pytest.skip("swaks is not installed")
    for word in ("yes", "no"):
        result = subprocess.run(
            [swaks, "--server", f"{listener.host}:{listener.port}", "--from", "attacker@evil.test",
             "--to", ADDRESS, "--helo", "mx.evil.test", "--header", f"From: Asad Khan <{VICTIM}>",
             "--header", f"In-Reply-To: {resolved['Message-ID']}",
             "--header", f"Subject: Re: {resolved['Subject']}", "--body", word],
            capture_output=True, text=True, timeout=30)
        assert "<-  250 2.0.0 OK: stored as" in result.stdout, result.stdout + result.stderr
        mail_rt.queue.run_due()
        assert state(mail_rt) == ("resolved", 0)
    assert events(mail_rt, "confirm_satisfied", "reject_resolution") == []


def test_by_imap_only_a_dkim_signed_answer_counts(mail_rt, sink, resolved, dovecot, dkim_key, dns):
    poller = mail_service.imap_poller(mail_rt, dovecot.url(), lookup=dns.lookup)
    dovecot.deliver(crlf(answer(resolved, "yes")))  # nothing proves who sent it
    assert poller.poll_once() == 1
    mail_rt.queue.run_due()
    assert state(mail_rt) == ("resolved", 0)
    dovecot.deliver(dkim_key.sign(answer(resolved, "yes")))
    assert poller.poll_once() == 1
    mail_rt.queue.run_due()
    assert state(mail_rt)[0] == "closed"


def test_the_simulators_email_persona_answers_as_its_own_sandboxed_citizen(rt):
    """The simulator's persona is reached only from the simulator: its yes still closes."""
    from conversation import casework
    from gateway.app import create_app
    from storage import lifecycle

    client = create_app(rt).test_client()

    def say(text: str, client_id: str) -> None:
        response = client.post("/simulator/messages", json={
            "persona": "email", "sender": "amina@example.org", "text": text, "client_id": client_id})
        assert response.status_code == 202, response.json
        rt.queue.run_due()

    say("Street lights broken in Hayatabad Peshawar\n\nAll the street lights in phase 3 have "
        "been off for a week and the road is dark at night.", "m1")
    with rt.sessions() as s, s.begin():
        casework.resolve(s, s.scalars(select(Complaint)).one(),
                         lifecycle.Actor("officer", channel="dashboard"), "Lights repaired")
    rt.queue.run_due()
    say("yes", "m2")
    assert state(rt)[0] == "closed"
