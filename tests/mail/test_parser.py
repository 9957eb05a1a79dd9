"""Mail as real mail programs and servers send it -> what the engine reads. Never a crash."""

from __future__ import annotations

import pytest

from channels.email import parser
from tests.mail.conftest import FIXTURES, fixture_bytes

ALL = sorted(p.stem for p in FIXTURES.glob("*.eml"))


@pytest.mark.parametrize("name", ALL)
def test_no_fixture_crashes_the_parser(name):
    mail = parser.parse(fixture_bytes(name))
    assert mail.sender and mail.provider_id.startswith("in")
    mail.inbound()  # the engine's shape, with the raw payload kept


def test_plain_mail_keeps_subject_body_and_message_id():
    mail = parser.parse(fixture_bytes("plain"))
    assert mail.sender == "asad.khan@example.org" and mail.sender_name == "Asad Khan"
    assert mail.subject == "No water supply in Hayatabad Phase 3 for ten days"
    assert "tube well pump is not working" in mail.text
    # The Message-ID, then a digest of sender and body (another mail may reuse the ID).
    assert mail.provider_id.startswith("in:<CAK7d1sZq3vQeY9pL2mN4oR8tU6wX0yB5cD7eF9gH1iJ@mail.gmail.com>#")
    assert mail.automatic is None


def test_html_only_mail_becomes_text_without_script_or_style():
    mail = parser.parse(fixture_bytes("html_only"))
    assert mail.html_only
    assert "street lights on University Road" in mail.text and "children walking at night & there" in mail.text
    assert "alert" not in mail.full_text and "color: red" not in mail.full_text
    assert "ignored title" not in mail.full_text and "Thank you – Saima" in mail.full_text


def test_nested_multipart_keeps_allowed_attachments_and_refuses_the_rest():
    mail = parser.parse(fixture_bytes("nested_attachments"))
    assert mail.text.startswith("The sewage drain outside Government Girls School")
    kept = {a.filename: a.content_type for a in mail.attachments}
    assert kept == {"drain.jpg": "image/jpeg", "application.pdf": "application/pdf",
                    "more-photos.zip": "application/zip", "earlier-complaint.eml": "message/rfc822"}
    # The zip and the forwarded mail are kept as they came, never unpacked.
    assert next(a for a in mail.attachments if a.filename == "more-photos.zip").data.startswith(b"PK")
    assert b"Please clean the drain" in next(a for a in mail.attachments if a.content_type == "message/rfc822").data
    refused = {s["filename"]: s["reason"] for s in mail.skipped}
    assert refused["photo.jpg.exe"] == "type application/octet-stream is not accepted"
    assert refused["fake.png"] == "content is not image/png"


def test_urdu_subject_in_rfc2047_and_utf8_body():
    mail = parser.parse(fixture_bytes("urdu_subject_rfc2047"))
    assert mail.subject == "مردان میں بجلی کی طویل لوڈشیڈنگ"
    assert mail.sender_name == "نوید احمد"
    assert "ٹرانسفارمر خراب ہے" in mail.text


def test_windows_1256_body_is_read_as_urdu():
    mail = parser.parse(fixture_bytes("windows1256_body"))
    assert "پشاور کے علاقے گلبہار" in mail.text and not mail.problems


def test_iso_8859_6_body_is_read_as_arabic():
    assert "بيشاور" in parser.parse(fixture_bytes("iso88596_body")).text


def test_unknown_declared_charset_is_detected_and_noted():
    mail = parser.parse(fixture_bytes("unknown_charset"))
    assert "Rural Health Centre in Charsadda" in mail.text and "مریض انتظار" in mail.text
    assert "unknown charset x-unknown in text/plain" in mail.problems


def test_unlisted_recipients_group_does_not_break_the_mail():
    mail = parser.parse(fixture_bytes("unlisted_recipients"))
    assert mail.to == () and "Jinnahabad, Abbottabad" in mail.text


def test_broken_headers_fall_back_to_what_can_be_read():
    mail = parser.parse(fixture_bytes("broken_headers"))
    assert mail.sender == "farah@example.com" and "school in Bannu" in mail.text
    assert mail.to == ("complaints@ikhtiyar.localhost",)


def test_gmail_reply_loses_the_quote_but_keeps_it_for_officers():
    mail = parser.parse(fixture_bytes("gmail_reply"))
    assert mail.text == "No, the water is still not coming. The pump was only looked at, not repaired."
    assert "Are\n> you satisfied?" in mail.full_text
    assert mail.in_reply_to == "<5f2c9e0a1b3d4c6e8f7a9b0c.ikhtiyar@ikhtiyar.localhost>"
    assert mail.references[-1] == mail.in_reply_to


def test_outlook_reply_loses_the_quoted_header_block_and_mobile_signature():
    mail = parser.parse(fixture_bytes("outlook_reply"))
    assert mail.text == "It is in Peshawar, Hayatabad Phase 3, Street 7 near the Jamia Masjid."


def test_out_of_office_is_automatic():
    assert parser.parse(fixture_bytes("out_of_office")).automatic == "auto-submitted: auto-replied"


def test_bounce_names_our_message_and_the_reason():
    mail = parser.parse(fixture_bytes("bounce"))
    assert mail.automatic and mail.bounce is not None and mail.bounce.failed
    assert mail.bounce.message_ids == ("<5f2c9e0a1b3d4c6e8f7a9b0c.ikhtiyar@ikhtiyar.localhost>",)
    assert mail.bounce.status == "5.1.1" and "User unknown" in mail.bounce.diagnostic


@pytest.mark.parametrize("header", [
    "Precedence: bulk", "Precedence: list", "X-Autoreply: yes", "Auto-Submitted: auto-generated",
    "List-Id: <residents.example.org>"])
def test_automatic_mail_is_recognised(header):
    data = fixture_bytes("plain").replace(b"MIME-Version: 1.0", header.encode() + b"\nMIME-Version: 1.0")
    assert parser.parse(data).automatic


def test_an_empty_return_path_is_automatic():
    data = fixture_bytes("plain").replace(b"Return-Path: <asad.khan@example.org>", b"Return-Path: <>")
    assert parser.parse(data).automatic == "empty return path"


def test_auto_submitted_no_is_a_person():
    data = fixture_bytes("plain").replace(b"MIME-Version: 1.0", b"Auto-Submitted: no\nMIME-Version: 1.0")
    assert parser.parse(data).automatic is None


def test_mail_from_postmaster_is_automatic():
    data = fixture_bytes("plain").replace(b"From: Asad Khan <asad.khan@example.org>",
                                          b"From: postmaster@example.org")
    assert parser.parse(data).automatic == "sent by a mail system"


def test_a_mail_without_any_sender_address_is_rejected_with_the_reason():
    data = fixture_bytes("plain").replace(b"From: Asad Khan <asad.khan@example.org>", b"From: nobody")
    with pytest.raises(parser.MailRejected, match="no valid sender"):
        parser.parse(data)


def test_deep_nesting_and_many_parts_are_bounded():
    inner = b"Content-Type: text/plain\n\nThe bridge in Dir is broken and cars cannot cross it.\n"
    for level in range(30):
        inner = (f"Content-Type: multipart/mixed; boundary=\"b{level}\"\n\n--b{level}\n".encode()
                 + inner + f"\n--b{level}--\n".encode())
    data = b"From: a@example.org\nSubject: deep\nMIME-Version: 1.0\n" + inner
    mail = parser.parse(data)
    assert f"MIME nesting deeper than {parser.MAX_DEPTH}; skipped" in mail.problems
    parts = b"".join(b"--m\nContent-Type: text/plain\n\npart\n" for _ in range(300))
    many = parser.parse(b"From: a@example.org\nSubject: many\nMIME-Version: 1.0\n"
                        b"Content-Type: multipart/mixed; boundary=m\n\n" + parts + b"--m--\n")
    assert any("more than" in p for p in many.problems)


def test_strip_reply_keeps_inline_answers_and_drops_quoted_lines():
    text = "Thanks.\n> old line\nMy answer is below the quote.\n-- \nAsad"
    assert parser.strip_reply(text) == "Thanks.\nMy answer is below the quote."
