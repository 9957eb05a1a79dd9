"""A brief run of the fuzzing campaign (bench/fuzz.py runs it at length), and one regression
test per crash the campaign found."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fuzz


@pytest.mark.parametrize("name", [t.name for t in fuzz.targets()])
def test_every_parser_survives_a_brief_fuzzing_campaign(name):
    target = next(t for t in fuzz.targets() if t.name == name)
    slow = name.startswith(("twilio_status", "voice_", "letter_"))
    fuzz.run(target, 30 if slow else 150)
    assert target.tried >= (30 if slow else 150) and target.crashes == []


def test_a_mail_whose_charset_has_a_nul_in_it_is_read():
    from channels.email.parser import parse

    mail = parse(b"From: Zubair <zubair@example.org>\nTo: complaints@ikhtiyar.localhost\n"
                 b"Subject: Hospital\nMIME-Version: 1.0\n"
                 b'Content-Type: text/plain; charset="\x00X-UNKNOWN"\n'
                 b"Content-Transfer-Encoding: 8bit\n\nThe doctors are absent.\n")
    assert "doctors are absent" in mail.text and any("charset" in p for p in mail.problems)


def test_a_mail_with_a_long_raw_8bit_message_id_is_read():
    from channels.email.parser import parse

    mail = parse(b"From: Rehman <rehman@example.pk>\nTo: complaints@ikhtiyar.localhost\n"
                 b"Message-ID: <\x80" + b"x" * 1000 + b"@example.pk>\nSubject: Road\n\nThe road is broken.\n")
    assert mail.provider_id.startswith("in-sha256:") and "road is broken" in mail.text


def test_a_tiff_whose_frame_has_no_dimensions_is_refused_not_crashed():
    from channels.letters.intake import UploadError, check

    tiff = (b"II*\x00\x08\x00\x00\x00\x09\x00\x00\x01\x04\x00\x01\x00\x00\x00(\x00\x00\x00"
            b"\x01\x01\x04\x00\x01\x00\x00\x00\x1e\x00\x00\x00\x02\x01\x03\x00\x01\x00\x00\x00"
            b"\x08\x00\x00\x00\x03\x01\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00\x06\x01\x03\x00"
            b"\x01\x00\x00\x00\x01\x00\x00\x00\x11\x01\x04\x00\x01\x00\x00\x00\x86\x00\x00\x00"
            b"\x16\x01\x04\x00\x01\x00\x00\x00\x1e\x00\x00\x00\x17\x01\x04\x00\x01\x00\x00\x00"
            b"\xb0\x04\x00\x00\x1c\x01\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00\x7a\x00\x00\x00")
    tiff += b"\xff" * 1200
    with pytest.raises(UploadError):
        check(tiff)
