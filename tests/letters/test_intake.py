"""Upload checks: the type from the bytes, limits, and a clear reason for every refusal."""

from __future__ import annotations

import io

import pytest
from fpdf import FPDF
from PIL import Image

from channels.letters import fields, intake
from tests.letters import scans
from tests.letters.scans import needs_ocr_tools


def small_page() -> Image.Image:
    return scans.render(["A short line for a small page."], "latin", size=20, width=500)


def test_a_multi_page_tiff_is_taken_with_its_page_count():
    scan = intake.check(scans.tiff(small_page(), small_page(), small_page()))
    assert (scan.kind, scan.pages, scan.content_type) == ("tiff", 3, "image/tiff")


@needs_ocr_tools
def test_a_pdf_is_taken_by_its_bytes_whatever_its_name():
    scan = intake.check(scans.pdf(small_page(), small_page()))
    assert (scan.kind, scan.pages) == ("pdf", 2)


def test_an_executable_named_pdf_is_refused_as_a_program():
    with pytest.raises(intake.UploadError, match="a program"):
        intake.check(scans.ELF)


def test_a_truncated_jpeg_is_refused_as_damaged():
    data = scans.jpeg(small_page())
    with pytest.raises(intake.UploadError, match="damaged or cut short"):
        intake.check(data[: len(data) // 2])


def test_a_30000_pixel_square_png_is_refused_without_being_decoded():
    data = scans.huge_png()
    assert len(data) < 200  # the header claims 900 million pixels; nothing is allocated
    with pytest.raises(intake.UploadError, match="pixels"):
        intake.check(data)


@needs_ocr_tools
def test_a_pdf_with_too_many_pages_is_refused():
    with pytest.raises(intake.UploadError, match="has 4 pages; the limit is 3"):
        intake.check(scans.pdf(*[small_page()] * 4), intake.Limits(max_pages=3))


@pytest.mark.parametrize("user_password", ["", "secret"])
@needs_ocr_tools
def test_an_encrypted_pdf_is_refused(user_password):
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "confidential")
    pdf.set_encryption(owner_password="owner", user_password=user_password)
    with pytest.raises(intake.UploadError, match="encrypted"):
        intake.check(bytes(pdf.output()))


@needs_ocr_tools
def test_a_damaged_pdf_is_refused_with_the_reason():
    with pytest.raises(intake.UploadError, match=r"PDF is damaged|no pages"):
        intake.check(b"%PDF-1.4\n" + b"\x00garbage" * 50)


def test_a_file_over_the_size_limit_is_refused():
    with pytest.raises(intake.UploadError, match="limit is 1 MB"):
        intake.check(b"\xff\xd8\xff" + b"\x00" * (1024 * 1024), intake.Limits(max_bytes=1024 * 1024))


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (b"GIF89a" + b"\x00" * 20, "a GIF image"),
    (b"PK\x03\x04" + b"\x00" * 20, "ZIP archive or Office document"),
])
def test_other_files_are_named_in_the_refusal(data, reason):
    with pytest.raises(intake.UploadError, match=reason):
        intake.check(data)


def test_a_png_header_over_a_jpeg_body_is_refused():
    fake = b"\x89PNG\r\n\x1a\n" + scans.jpeg(small_page())[8:]
    with pytest.raises(intake.UploadError, match="damaged"):
        intake.check(fake)


def test_pillow_keeps_its_decompression_bomb_guard_on():
    intake.check(scans.png(small_page()))
    assert Image.MAX_IMAGE_PIXELS == intake.Limits().max_pixels
    with pytest.raises(intake.UploadError):
        intake.open_image(io.BytesIO(scans.huge_png(9000, 9000)), intake.Limits(max_pixels=10_000_000))


@pytest.mark.parametrize(("text", "phones"), [
    ("call 0300-1234567 or +44 7911 123456", ["+923001234567", "+447911123456"]),
    ("UAE 00971 50 123 4567, office 091-2345678", ["+971501234567", "+92912345678"]),
    ("۰۳۰۰۱۲۳۴۵۶۷ پر رابطہ کریں", ["+923001234567"]),
])
def test_pakistani_and_overseas_phone_numbers_are_found(text, phones):
    assert list(fields.suggest(text, None).phones) == phones


def test_a_cnic_without_dashes_is_found_and_written_with_them():
    assert fields.suggest("CNIC 1730112345671", None).cnic == "17301-1234567-1"
