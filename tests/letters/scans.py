"""Letters rendered as scans for the OCR tests: Debian's fonts, then the damage a real
scanner and a phone camera do (speckle noise, a few degrees of rotation, JPEG artefacts)."""

from __future__ import annotations

import io
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

IN_CI = os.environ.get("CI", "").lower() == "true"

FONTS = {
    "latin": "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "naskh": "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf",
    "noto_nastaliq": "/usr/share/fonts/truetype/noto/NotoNastaliqUrdu-Regular.ttf",
    "awami_nastaliq": "/usr/share/fonts/truetype/awami/AwamiNastaliq-Regular.ttf",
}

# What reading a letter needs from Debian (tesseract-ocr with urd and pus, poppler-utils,
# fonts-noto-core, fonts-sil-awami-nastaliq; scripts/test installs them as root). Without
# them these tests skip, as test_ocr.py does, except in CI, where they fail.
MISSING = [tool for tool in ("tesseract", "pdftoppm", "pdfinfo") if shutil.which(tool) is None] \
    + [Path(path).name for path in FONTS.values() if not Path(path).exists()]
needs_ocr_tools = pytest.mark.skipif(bool(MISSING) and not IN_CI,
                                     reason=f"not installed: {', '.join(MISSING)}")

ENGLISH = [
    "To the Deputy Commissioner, Mardan.",
    "Respected Sir, the water supply in our street has been",
    "broken for three weeks and the pipe is leaking.",
    "Please send someone to repair it. My phone number is",
    "0300-1234567 and my CNIC is 17301-1234567-1.",
    "Yours faithfully, Muhammad Ali",
]
URDU = [
    "بخدمت جناب ڈپٹی کمشنر صاحب، پشاور",
    "جناب عالی، ہمارے محلے میں تین ہفتوں سے پانی کی فراہمی بند ہے۔",
    "براہ کرم اس کی مرمت کروائیں۔ میرا فون نمبر 0300-1234567 ہے",
    "اور شناختی کارڈ نمبر 17301-1234567-1 ہے۔ العارض محمد علی",
]


def render(lines: list[str], font: str, *, rtl: bool = False, size: int = 30,
           width: int = 1400) -> Image.Image:
    face = ImageFont.truetype(FONTS[font], size, layout_engine=ImageFont.Layout.RAQM)
    step = int(size * (2.6 if "nastaliq" in font else 2.0))
    image = Image.new("L", (width, 100 + step * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        y = 50 + i * step
        if rtl:
            w = draw.textlength(line, font=face, direction="rtl")
            draw.text((width - 70 - w, y), line, font=face, fill=0, direction="rtl", language="ur")
        else:
            draw.text((70, y), line, font=face, fill=0)
    return image


def degrade(image: Image.Image, *, angle: float = 2.0, noise: float = 0.01,
            quality: int = 45, seed: int = 6) -> Image.Image:
    """Rotate a little, sprinkle salt-and-pepper speckle, then JPEG-compress hard."""
    rotated = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    pixels = np.asarray(rotated).copy()
    rng = np.random.default_rng(seed)
    speckle = rng.random(pixels.shape)
    pixels[speckle < noise / 2] = 0
    pixels[speckle > 1 - noise / 2] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer)


def jpeg(image: Image.Image, quality: int = 45) -> bytes:
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def pdf(*images: Image.Image, dpi: int = 150) -> bytes:
    buffer = io.BytesIO()
    first, *rest = [i.convert("RGB") for i in images]
    first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=dpi)
    return buffer.getvalue()


def tiff(*images: Image.Image) -> bytes:
    buffer = io.BytesIO()
    first, *rest = images
    first.save(buffer, "TIFF", save_all=True, append_images=list(rest), compression="tiff_deflate")
    return buffer.getvalue()


def huge_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` with a token of data: never allocated."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200


def cer(reference: str, read: str) -> float:
    """Character error rate: edit distance over the reference length, spacing ignored and
    the Arabic comma folded (Tesseract's urd writes ',' for '،')."""

    def norm(text: str) -> str:
        return " ".join(text.replace("،", ",").split())

    a, b = norm(reference), norm(read)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] / max(1, len(a))
