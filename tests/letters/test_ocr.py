"""OCR quality on rendered, damaged letters: the real Tesseract, Debian's fonts and models."""

from __future__ import annotations

import shutil

import pytest

from channels.letters import fields, intake, ocr, pages
from tests.letters import scans

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None and not scans.IN_CI,
                                reason="tesseract is not installed")


def read(tmp_path, data: bytes) -> list[ocr.Reading]:
    scan = intake.check(data)
    original = intake.store(data, tmp_path, f"original.{scan.kind}")
    return [ocr.read_page(p.path, p.dpi) for p in pages.render(original, scan.kind, tmp_path / "pages")]


def test_an_english_letter_scanned_badly_is_read_within_five_percent(tmp_path):
    image = scans.degrade(scans.render(scans.ENGLISH, "latin"), angle=2.5, noise=0.01, quality=40)
    [reading] = read(tmp_path, scans.jpeg(image, quality=40))
    error = scans.cer("\n".join(scans.ENGLISH), reading.text)
    print(f"English (Noto Sans, noisy, 2.5°, JPEG q40): CER {error:.1%}, confidence {reading.confidence}")
    assert error <= 0.05
    assert reading.language == "en" and not reading.low_confidence


def test_an_english_letter_gives_its_phone_cnic_and_district(tmp_path, knowledge):
    image = scans.degrade(scans.render(scans.ENGLISH, "latin"), angle=-1.5)
    [reading] = read(tmp_path, scans.jpeg(image))
    found = fields.suggest(reading.text, knowledge, reading.language)
    assert found.phone == "+923001234567"
    assert found.cnic == "17301-1234567-1"
    assert found.district == "MDN"
    assert found.name == "Muhammad Ali"
    # "the water supply ... is broken and the pipe is leaking": the trained classifier reads
    # a leaking pipe as Public Health Engineering's "pipeline leakage or burst"
    assert found.department == "PHED" and found.category == "PHED_PIPELINE"


def test_an_urdu_letter_in_naskh_is_read_within_twenty_percent(tmp_path):
    image = scans.degrade(scans.render(scans.URDU, "naskh", rtl=True), angle=2.0, noise=0.01, quality=45)
    [reading] = read(tmp_path, scans.jpeg(image, quality=45))
    error = scans.cer("\n".join(scans.URDU), reading.text)
    print(f"Urdu (Noto Naskh Arabic, noisy, 2°, JPEG q45): CER {error:.1%}, confidence {reading.confidence}")
    assert error <= 0.20
    assert reading.language == "ur" and reading.script == "Arabic"


def test_an_urdu_letter_gives_its_phone_cnic_and_district_despite_right_to_left_digits(tmp_path, knowledge):
    image = scans.degrade(scans.render(scans.URDU, "naskh", rtl=True), angle=-2.0)
    [reading] = read(tmp_path, scans.jpeg(image))
    found = fields.suggest(reading.text, knowledge, reading.language)
    assert found.phone == "+923001234567"
    assert found.cnic == "17301-1234567-1"
    assert found.district == "PSW"


@pytest.mark.parametrize("font", ["noto_nastaliq", "awami_nastaliq"])
def test_nastaliq_is_measured_and_flagged_as_low_confidence(tmp_path, font):
    image = scans.degrade(scans.render(scans.URDU, font, rtl=True), angle=1.0, noise=0.005, quality=60)
    [reading] = read(tmp_path, scans.jpeg(image, quality=60))
    error = scans.cer("\n".join(scans.URDU), reading.text)
    print(f"Urdu ({font}, light damage): CER {error:.1%}, confidence {reading.confidence}, "
          f"{len(reading.doubtful_words)} of {len(reading.words)} words marked")
    # Tesseract's urd model is weak on Nastaliq: what matters is that the clerk is told.
    assert reading.low_confidence
    assert reading.doubtful_words


def test_a_page_scanned_upside_down_is_turned_upright(tmp_path):
    image = scans.render(scans.ENGLISH, "latin").rotate(180)
    [reading] = read(tmp_path, scans.png(image))
    assert reading.rotated == 180
    assert scans.cer("\n".join(scans.ENGLISH), reading.text) <= 0.05
