"""A page with an English paragraph and an Urdu one: both come out readable, each read with
its own script's model, and the review screen lays each line out in its own direction."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from channels.letters import intake, ocr, pages
from tests.letters import scans
from tests.letters.scans import needs_ocr_tools
from tests.letters.test_review import api_upload

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None and not scans.IN_CI,
                                reason="tesseract is not installed")


def mixed_page() -> Image.Image:
    english = scans.render(scans.ENGLISH[:3], "latin", size=26, width=1200)
    urdu = scans.render(scans.URDU[:2], "naskh", rtl=True, size=28, width=1200)
    page = Image.new("L", (1200, english.height + urdu.height), 255)
    page.paste(english, (0, 0))
    page.paste(urdu, (0, english.height))
    return page


def test_english_and_urdu_paragraphs_on_one_page_are_both_read(tmp_path):
    data = scans.png(mixed_page())
    scan = intake.check(data)
    original = intake.store(data, tmp_path, f"original.{scan.kind}")
    [page] = pages.render(original, scan.kind, tmp_path / "pages")
    reading = ocr.read_page(page.path, page.dpi)
    lines = reading.text.splitlines()
    english = "\n".join(line for line in lines if not any("\u0600" <= ch <= "\u06ff" for ch in line))
    urdu = "\n".join(line for line in lines if any("\u0600" <= ch <= "\u06ff" for ch in line))
    english_error = scans.cer("\n".join(scans.ENGLISH[:3]), english)
    urdu_error = scans.cer("\n".join(scans.URDU[:2]), urdu)
    print(f"mixed page ({reading.model}): English CER {english_error:.1%}, Urdu CER {urdu_error:.1%}, "
          f"confidence {reading.confidence}")
    assert english_error <= 0.05 and urdu_error <= 0.2
    assert not reading.low_confidence


@needs_ocr_tools
def test_the_review_screen_gives_each_line_its_own_language(rt, app, staff, clerk):
    client, _csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], scans.png(mixed_page()))
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert '<p lang="ur" dir="auto">بخدمت' in page
    assert '<p lang="en" dir="auto">To the Deputy' in page
