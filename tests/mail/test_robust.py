"""Real-world mail the listener used to lose (issue 11, finding 1): raw 8-bit and RFC 6532
UTF-8 headers (451 and a traceback), lines over 1,000 characters (500), and a different
mail reusing an earlier Message-ID (silently merged into the earlier one). The fixtures
are real mails from public mail-library test suites (tests/mail/corpus/LICENSES)."""

from __future__ import annotations

import smtplib
from pathlib import Path

from sqlalchemy import select, text

from storage import mail
from storage.models import Message
from tests.mail.conftest import ADDRESS, fixture_bytes
from tests.mail.test_smtp import complaints, crlf, inbound, send

CORPUS = Path(__file__).resolve().parent / "corpus"


def corpus_bytes(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def send_8bit(listener, data: bytes, sender: str = "asad.khan@example.org") -> tuple:
    """As an MTA relays 8-bit mail: MAIL FROM with SMTPUTF8 and BODY=8BITMIME."""
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        smtp.ehlo("mx.example.org")
        assert smtp.has_extn("smtputf8") and smtp.has_extn("8bitmime")
        smtp.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"])
        assert smtp.rcpt(ADDRESS)[0] == 250
        return smtp.data(crlf(data))


def stored_raw(rt, message_id: int) -> bytes | None:
    with rt.sessions() as s:
        return mail.raw_mail(s, message_id)


def test_a_mail_with_raw_utf8_headers_is_stored_as_it_came(mail_rt, listener):
    data = corpus_bytes("utf8_raw_headers.eml")
    code, reply = send_8bit(listener, data)
    assert code == 250, reply
    [message] = inbound(mail_rt)
    assert stored_raw(mail_rt, message.id) == crlf(data)  # the bytes, not a re-encoding
    info = mail.mail_info(message)
    assert info["to"] == ["danglüe@email.com"] or "danglüe@email.com" in str(info)
    assert info["from"] == "baoguan@hotmail.com"
    assert "增值税发票" in info["full_text"]  # the GB2312 8-bit body, decoded


def test_a_utf8_subject_and_sender_name_in_raw_bytes_are_read(mail_rt, listener, sink):
    raw = ("From: اسد خان <asad.khan@example.org>\n"
           "To: complaints@ikhtiyar.localhost\n"
           "Subject: پشاور میں دس دن سے پانی نہیں\n"
           "Message-ID: <utf8-header-1@example.org>\n"
           "MIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=utf-8\n"
           "Content-Transfer-Encoding: 8bit\n\n"
           "حیات آباد فیز تین میں دس دن سے پانی نہیں آ رہا۔ ٹیوب ویل خراب ہے۔\n").encode()
    assert send_8bit(listener, raw)[0] == 250
    mail_rt.queue.run_due()
    [complaint] = complaints(mail_rt)
    assert complaint.description.startswith("پشاور میں دس دن سے پانی نہیں")
    assert sink.messages[0]["Subject"].startswith("Re: پشاور میں دس دن سے پانی نہیں")


def test_raw_8bit_legacy_bytes_in_from_are_taken(mail_rt, listener):
    code, reply = send_8bit(listener, corpus_bytes("windows1258_raw_from.eml"),
                            sender="tom@football.example.com")
    assert code == 250, reply
    [message] = inbound(mail_rt)
    assert stored_raw(mail_rt, message.id) == crlf(corpus_bytes("windows1258_raw_from.eml"))


def test_the_raw_mail_is_encrypted_at_rest(mail_rt, listener):
    assert send(listener, fixture_bytes("plain"))[0] == 250
    [message] = inbound(mail_rt)
    with mail_rt.engine.connect() as conn:
        stored = conn.execute(text("SELECT data FROM mail_raw WHERE message_id = :m"),
                              {"m": message.id}).scalar_one()
    assert b"asad.khan@example.org" not in bytes(stored) and b"Hayatabad" not in bytes(stored)
    assert b"Hayatabad" in stored_raw(mail_rt, message.id)


def test_lines_over_1000_characters_are_taken(mail_rt, listener):
    for name in ("outlook_long_line.eml", "long_line_share_block.eml"):
        data = corpus_bytes(name)
        assert max(len(line) for line in data.splitlines()) > 1000
        code, reply = send(listener, data, "me@example.com")
        assert code == 250, (name, reply)
    assert len(inbound(mail_rt)) == 2


def test_a_long_line_still_counts_against_the_size_limit(mail_rt, listener):
    big = fixture_bytes("plain") + b"x" * (300 * 1024) + b"\n"  # one 300 KiB line; the limit is 256
    code, _reply = send(listener, big)
    assert code == 552
    assert inbound(mail_rt) == []


def test_a_different_mail_reusing_a_message_id_is_its_own_message(mail_rt, listener, sink):
    first = fixture_bytes("plain")
    other = fixture_bytes("unlisted_recipients")
    reused = b"\n".join(line for line in other.split(b"\n") if not line.lower().startswith(b"message-id:"))
    mid = next(line for line in first.split(b"\n") if line.lower().startswith(b"message-id:"))
    reused = mid + b"\n" + reused
    assert send(listener, first)[0] == 250
    code, reply = send(listener, reused, "bilal@example.com")
    assert code == 250
    assert send(listener, first)[0] == 250  # the sending server's retry of the first: still one
    mail_rt.queue.run_due()
    messages = inbound(mail_rt)
    assert len(messages) == 2 and reply.decode().endswith(f"M{messages[1].id}")
    assert len(complaints(mail_rt)) == 2 and len(sink.messages) == 2


def test_the_same_message_id_from_another_sender_is_its_own_message(mail_rt, listener):
    data = fixture_bytes("plain")
    assert send(listener, data)[0] == 250
    forged = data.replace(b"From: Asad Khan <asad.khan@example.org>", b"From: Someone <someone@example.net>")
    assert forged != data
    assert send(listener, forged, "someone@example.net")[0] == 250
    with mail_rt.sessions() as s:
        senders = {m.contact_id for m in s.scalars(select(Message).where(Message.direction == "in"))}
    assert len(senders) == 2
