"""The printed acknowledgement: in the writer's language, Urdu joined and right to left."""

from __future__ import annotations

import subprocess

import pytest

from channels.letters import acknowledgement, ocr
from tests.letters.scans import needs_ocr_tools


def pdf_text_by_ocr(pdf: bytes, model: str, tmp_path) -> str:
    (tmp_path / "ack.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", "-f", "1", "-l", "1",
                    str(tmp_path / "ack.pdf"), str(tmp_path / "ack")], check=True)
    page = next(tmp_path.glob("ack-*.png"))
    return ocr.recognize(page, model)[0]


@pytest.mark.parametrize(("lang", "model", "words"), [
    ("ur", "urd", ["آپ کی شکایت کی رسید", "محمد علی", "1234567"]),
    ("ps", "pus", ["ستاسو د شکایت رسید", "1234567"]),
    ("en", "eng", ["Acknowledgement of your complaint", "KP-1234567", "Muhammad Ali"]),
])
@needs_ocr_tools
def test_the_acknowledgement_reads_back_in_the_writers_language(tmp_path, lang, model, words):
    name = "Muhammad Ali" if lang == "en" else "محمد علی"
    pdf = acknowledgement.render(acknowledgement.Acknowledgement(
        tracking="KP-1234567", language=lang, name=name, address="House 5, Gulbahar",
        received="2026-11-23", department="Police", sla_days=7))
    assert pdf.startswith(b"%PDF-")
    # Read back by OCR: letters that were not joined, or lines set left to right, would
    # not come back as these words.
    text = pdf_text_by_ocr(pdf, model, tmp_path)
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
