"""A letter's pages as clean grayscale PNGs, ready for Tesseract and for the review screen.

PDFs are rendered by poppler's ``pdftoppm`` (in its own process, with a time limit);
image frames come from Pillow. Each page is then cleaned as far as that helps OCR:
grayscale, contrast stretched, speckle noise removed, and straightened (a scan fed in a
few degrees askew costs Tesseract whole lines).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from channels.letters.intake import Limits, UploadError, open_image, pdf_info
from channels.letters.ocr import sandbox

MAX_SKEW = 10.0  # degrees; more than this is a page put in sideways, which OSD handles


@dataclass(frozen=True)
class Page:
    number: int
    path: Path
    width: int
    height: int
    dpi: int | None
    skew_degrees: float


# All the pages of one file together: a 20-page upload at the per-page limit would
# otherwise be over a billion pixels to clean and read. Pages share it equally.
FILE_PIXEL_BUDGET = 150_000_000
# One pdftoppm run renders one page, under these limits (a PDF whose few kilobytes inflate
# to millions of drawing operators is stopped here).
PDF_CPU_SECONDS = 20
PDF_MEMORY_BYTES = 768 * 1024 * 1024
PDF_TIMEOUT_SECONDS = 30.0


def render(original: Path, kind: str, out_dir: Path, limits: Limits | None = None) -> list[Page]:
    """Every page of the stored upload, cleaned, as ``out_dir/page-N.png``. One page at a
    time: each is rendered (or decoded), cleaned and written before the next is read."""
    limits = limits or Limits()
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = _pdf_pages(original, limits) if kind == "pdf" else _image_pages(original, limits)
    pages = []
    for number, (image, dpi) in enumerate(raw, 1):
        cleaned, skew = clean(image)
        image.close()
        path = out_dir / f"page-{number}.png"
        cleaned.save(path, optimize=False, dpi=(dpi, dpi) if dpi else None)
        pages.append(Page(number, path, cleaned.width, cleaned.height, dpi, skew))
        cleaned.close()
    return pages


def _allowance(limits: Limits, count: int) -> int:
    """Pixels one page may have: the per-page limit, or its share of the file's budget."""
    return max(1, min(limits.max_pixels, FILE_PIXEL_BUDGET // max(count, 1)))


def _image_pages(original: Path, limits: Limits) -> Iterator[tuple[Image.Image, int | None]]:
    """Frames one by one (a multi-page TIFF is never held whole), each in grayscale and
    reduced to its share of the file's pixel budget."""
    with open_image(original, limits) as image:
        count = getattr(image, "n_frames", 1)
        allowance = _allowance(limits, count)
        for index in range(count):
            image.seek(index)
            dpi = image.info.get("dpi")
            frame = image.convert("L") if image.mode not in ("L", "1") else image.copy()
            if index == 0:
                frame = ImageOps.exif_transpose(frame)
            pixels = frame.width * frame.height
            if pixels > allowance:
                factor = math.ceil(math.sqrt(pixels / allowance))
                frame = frame.convert("L").reduce(factor)
                dpi = (float(dpi[0]) / factor,) if dpi else None
            yield frame, round(float(dpi[0])) if dpi and float(dpi[0]) >= 70 else None


def _pdf_pages(original: Path, limits: Limits) -> Iterator[tuple[Image.Image, int | None]]:
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise RuntimeError("pdftoppm is not installed (Debian package poppler-utils)")
    info = pdf_info(original.read_bytes())
    count = int(info.get("Pages", "1") or 1)
    allowance = _allowance(limits, count)
    sizes = {int(m.group(1)): value for key, value in info.items()
             if (m := re.fullmatch(r"Page\s+(\d+)\s+size", key))}
    with tempfile.TemporaryDirectory(prefix="ikhtiyar-pdf-") as tmp:
        for number in range(1, count + 1):
            dpi = limits.pdf_dpi
            size = sizes.get(number) or info.get("Page size") or ""
            if " x " in size:
                # Big pages at a lower resolution, so no page exceeds its pixel allowance.
                w, h = (float(v) for v in size.split(" pts")[0].split(" x "))
                fit = int(math.sqrt(allowance / max(w / 72 * h / 72, 1e-6)))
                dpi = max(36, min(dpi, fit))
            prefix = f"{tmp}/p{number}"
            try:
                subprocess.run([tool, "-r", str(dpi), "-gray", "-png", "-singlefile",  # noqa: S603
                                "-f", str(number), "-l", str(number), str(original), prefix],
                               capture_output=True, timeout=PDF_TIMEOUT_SECONDS, check=True,
                               preexec_fn=sandbox(PDF_CPU_SECONDS, PDF_MEMORY_BYTES))
            except subprocess.TimeoutExpired:
                raise UploadError(f"page {number} of the PDF took too long to render") from None
            except subprocess.CalledProcessError as exc:
                if exc.returncode < 0:
                    raise UploadError(f"page {number} of the PDF is too heavy to render "
                                      "(stopped at its CPU or memory limit)") from None
                raise UploadError("the PDF could not be rendered: "
                                  + exc.stderr.decode("utf-8", "replace").strip()[:160]) from None
            file = Path(f"{prefix}.png")
            with open_image(file, limits) as img:
                img.load()
                page = img.copy()
            file.unlink()
            yield page, dpi


def clean(image: Image.Image) -> tuple[Image.Image, float]:
    """Grayscale, contrast stretched, speckles removed and straightened; returns the skew fixed."""
    gray = image.convert("L") if image.mode != "L" else image
    gray = ImageOps.autocontrast(gray, cutoff=1)
    # A 3x3 median takes out scanner speckle and JPEG ringing without eating strokes at
    # letter sizes; smaller images (under ~1000 px wide) lose more than they gain.
    if gray.width >= 1000:
        gray = gray.filter(ImageFilter.MedianFilter(3))
    angle = skew_angle(gray)
    if abs(angle) >= 0.2:
        gray = gray.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    return gray, angle


def skew_angle(gray: Image.Image) -> float:
    """The rotation (degrees, counter-clockwise) that makes the text lines horizontal.

    Projection profile: when lines are level, the row sums of ink alternate sharply between
    text and gaps; we pick the angle with the sharpest profile, coarse then fine.
    """
    scale = 800 / max(gray.width, 1)
    small = gray.resize((max(1, int(gray.width * scale)), max(1, int(gray.height * scale))),
                        Image.Resampling.BILINEAR) if scale < 1 else gray
    ink = np.asarray(small, dtype=np.uint8) < 128
    if ink.sum() < 50:  # a blank page
        return 0.0
    mask = Image.fromarray((ink * 255).astype(np.uint8))

    def sharpness(angle: float) -> float:
        rotated = np.asarray(mask.rotate(angle, resample=Image.Resampling.NEAREST, expand=True),
                             dtype=np.float64)
        rows = rotated.sum(axis=1)
        return float(np.sum(np.diff(rows) ** 2))

    best = max(np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 1.0), key=sharpness)
    best = max(np.arange(best - 1.0, best + 1.01, 0.1), key=sharpness)
    return round(float(best), 1)
