"""Real mail over SMTP (smtplib and swaks) into the gateway's aiosmtpd listener; the
answers are caught by the SMTP sink and their headers checked."""

from __future__ import annotations

import re
import shutil
import smtplib
import subprocess

import pytest
from sqlalchemy import select

from gateway import mail_service
from storage import tracking
from storage.models import Attachment, Complaint, ComplaintEvent, Message
from tests.conftest import IN_CI
from tests.mail.conftest import ADDRESS, fixture_bytes


def crlf(data: bytes) -> bytes:
    """SMTP's line ends (smtplib sends bytes as they are)."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def send(listener, data: bytes, sender: str = "asad.khan@example.org", to: str = ADDRESS) -> tuple:
    data = crlf(data)
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        smtp.ehlo("client.example.org")
        smtp.mail(sender)
        code, reply = smtp.rcpt(to)
        assert code == 250, reply
        return smtp.data(data)


def inbound(rt) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)))


def complaints(rt) -> list[Complaint]:
    with rt.sessions() as s:
        return list(s.scalars(select(Complaint).order_by(Complaint.id)))


def test_a_new_mail_is_filed_at_once_and_answered_in_its_thread(mail_rt, listener, sink):
    code, reply = send(listener, fixture_bytes("plain"))
    assert code == 250 and reply.startswith(b"2.0.0 OK: stored as M")
    mail_rt.queue.run_due()
    [complaint] = complaints(mail_rt)
    assert complaint.channel == "email" and complaint.district_code is not None
    assert complaint.department_code is not None and not complaint.incomplete
    assert complaint.description.startswith("No water supply in Hayatabad Phase 3 for ten days\n\n")
    [answer] = sink.messages
    shown = tracking.display(complaint.tracking_number)
    # Unfolded: Python folds a subject this long right after "Subject:" and reads the fold's
    # space back as part of the value.
    assert " ".join(answer["Subject"].split()) == f"Re: No water supply in Hayatabad Phase 3 for ten days [{shown}]"
    assert answer["In-Reply-To"] == "<CAK7d1sZq3vQeY9pL2mN4oR8tU6wX0yB5cD7eF9gH1iJ@mail.gmail.com>"
    assert answer["References"] == answer["In-Reply-To"]
    assert answer["Auto-Submitted"] == "auto-replied" and answer["X-Ikhtiyar-Loop"] == ADDRESS
    assert answer["To"] == "asad.khan@example.org" and "complaints@ikhtiyar.localhost" in answer["From"]
    text = answer.get_body(("plain",)).get_content()
    assert shown in text and "please reply" not in text.lower()  # nothing is missing
    assert answer.get_body(("html",)) is not None
    assert sink.envelopes[0] == (ADDRESS, ["asad.khan@example.org"])  # bounces come back to us
    with mail_rt.sessions() as s:
        sent = s.scalars(select(Message).where(Message.direction == "out")).one()
        assert sent.status == "sent" and sent.provider_id == answer["Message-ID"]


def test_swaks_delivers_a_mail_like_any_mta(mail_rt, listener, sink, tmp_path):
    swaks = shutil.which("swaks")
    if swaks is None:
        if IN_CI:
            pytest.fail("swaks is required in CI (apt-get install swaks)")
        pytest.skip("swaks is not installed")
    path = tmp_path / "mail.eml"
    path.write_bytes(fixture_bytes("urdu_subject_rfc2047"))
    result = subprocess.run(
        [swaks, "--server", f"{listener.host}:{listener.port}", "--from", "naveed.ahmad@example.pk",
         "--to", ADDRESS, "--data", f"@{path}", "--helo", "client.example.pk"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<-  250 2.0.0 OK: stored as" in result.stdout
    mail_rt.queue.run_due()
    [complaint] = complaints(mail_rt)
    assert complaint.district_code == "MDN"  # "مردان" in the text
    [answer] = sink.messages
    assert answer["Content-Language"] == "ur"
    html = answer.get_body(("html",)).get_content()
    assert 'dir="rtl"' in html and 'lang="ur"' in html
    assert "آپ کی شکایت" in answer.get_body(("plain",)).get_content()


def test_mail_for_an_unknown_local_address_is_refused_with_550(listener):
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("asad.khan@example.org")
        code, reply = smtp.rcpt("somebody@ikhtiyar.localhost")
        assert code == 550 and b"no such mailbox" in reply
        code, _ = smtp.rcpt("victim@example.com")  # never an open relay
        assert code == 550


def test_an_oversize_mail_is_refused_with_552_and_not_stored(mail_rt, listener):
    big = fixture_bytes("plain") + (b"x" * 76 + b"\n") * 4000  # 300 KiB, the limit is 256
    code, reply = send(listener, big)
    assert code == 552, reply
    assert inbound(mail_rt) == []


def test_too_many_recipients_are_refused_with_452(listener):
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("asad.khan@example.org")
        codes = [smtp.rcpt(ADDRESS)[0] for _ in range(4)]
    assert codes == [250, 250, 250, 452]


def test_a_resent_mail_is_stored_once(mail_rt, listener, sink):
    send(listener, fixture_bytes("plain"))
    send(listener, fixture_bytes("plain"))  # the sending server retried after a lost 250
    mail_rt.queue.run_due()
    assert len(inbound(mail_rt)) == 1 and len(complaints(mail_rt)) == 1 and len(sink.messages) == 1


def test_a_storage_failure_answers_451_and_the_retry_is_stored(mail_rt, listener, sink, monkeypatch):
    def broken(*_args, **_kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(mail_service, "accept", broken)
    code, reply = send(listener, fixture_bytes("plain"))
    assert code == 451 and b"try again later" in reply
    assert inbound(mail_rt) == []
    monkeypatch.undo()
    assert send(listener, fixture_bytes("plain"))[0] == 250
    assert len(inbound(mail_rt)) == 1


def test_unlisted_recipients_mail_is_filed(mail_rt, listener, sink):
    assert send(listener, fixture_bytes("unlisted_recipients"), "bilal@example.com")[0] == 250
    mail_rt.queue.run_due()
    [complaint] = complaints(mail_rt)
    assert complaint.district_code == "ABT"  # "Abbottabad" in the text
    assert sink.messages[0]["To"] == "bilal@example.com"


def test_a_mail_in_an_unknown_charset_is_filed_and_answered(mail_rt, listener, sink):
    assert send(listener, fixture_bytes("unknown_charset"), "zubair@example.org")[0] == 250
    mail_rt.queue.run_due()
    [complaint] = complaints(mail_rt)
    assert "Charsadda" in complaint.description and len(sink.messages) == 1


def test_windows_1256_and_html_only_mails_are_filed(mail_rt, listener, sink):
    send(listener, fixture_bytes("windows1256_body"), "rehman@example.pk")
    send(listener, fixture_bytes("html_only"), "saima.bibi@example.net")
    mail_rt.queue.run_due()
    first, second = complaints(mail_rt)
    assert "گلبہار" in first.description and "street lights" in second.description
    assert len(sink.messages) == 2


def test_attachments_are_stored_on_the_case(mail_rt, listener, sink):
    send(listener, fixture_bytes("nested_attachments"), "imran.yousafzai@example.com")
    mail_rt.queue.run_due()
    [complaint] = complaints(mail_rt)
    with mail_rt.sessions() as s:
        files = s.scalars(select(Attachment).order_by(Attachment.id)).all()
        assert {f.filename for f in files} == {"drain.jpg", "application.pdf", "more-photos.zip",
                                               "earlier-complaint.eml"}
        assert all(f.complaint_id == complaint.id for f in files)
        jpeg = next(f for f in files if f.filename == "drain.jpg")
        assert (mail_rt.attachments_dir / jpeg.path).read_bytes().startswith(b"\xff\xd8\xff")


def test_an_out_of_office_reply_gets_no_answer(mail_rt, listener, sink):
    send(listener, fixture_bytes("plain"))
    mail_rt.queue.run_due()
    [first] = sink.messages
    sink.clear()
    ooo = fixture_bytes("out_of_office").replace(
        b"<5f2c9e0a1b3d4c6e8f7a9b0c.ikhtiyar@ikhtiyar.localhost>", first["Message-ID"].encode())
    assert send(listener, ooo)[0] == 250
    mail_rt.queue.run_due()
    assert sink.messages == []
    [complaint] = complaints(mail_rt)
    with mail_rt.sessions() as s:
        auto = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id.desc())).first()
        assert auto.status == "ignored" and auto.complaint_id == complaint.id


def test_a_bounce_of_our_mail_marks_it_failed_on_the_case(mail_rt, listener, sink):
    send(listener, fixture_bytes("plain"))
    mail_rt.queue.run_due()
    [ours] = sink.messages
    bounce = fixture_bytes("bounce").replace(
        b"<5f2c9e0a1b3d4c6e8f7a9b0c.ikhtiyar@ikhtiyar.localhost>", ours["Message-ID"].encode())
    assert send(listener, bounce, sender="")[0] == 250  # bounces come with MAIL FROM:<>
    mail_rt.queue.run_due()
    assert len(sink.messages) == 1  # no answer to the bounce
    [complaint] = complaints(mail_rt)
    with mail_rt.sessions() as s:
        out = s.scalars(select(Message).where(Message.direction == "out")).one()
        assert out.status == "failed" and "User unknown" in out.error
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "delivery_failed")).one()
        assert event.complaint_id == complaint.id and "could not be delivered" in event.note
