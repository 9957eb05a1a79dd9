"""A letter's pages as clean grayscale PNGs, ready for Tesseract and for the review screen.

PDFs are rendered by poppler's ``pdftoppm`` (in its own process, with a time limit);
image frames come from Pillow. Each page is then cleaned as far as that helps OCR:
grayscale, contrast stretched, speckle noise removed, and straightened (a scan fed in a
few degrees askew costs Tesseract whole lines).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from channels.letters.intake import Limits, UploadError, open_image, pdf_info

MAX_SKEW = 10.0  # degrees; more than this is a page put in sideways, which OSD handles


@dataclass(frozen=True)
class Page:
    number: int
    path: Path
    width: int
    height: int
    dpi: int | None
    skew_degrees: float


def render(original: Path, kind: str, out_dir: Path, limits: Limits | None = None) -> list[Page]:
    """Every page of the stored upload, cleaned, as ``out_dir/page-N.png``."""
    limits = limits or Limits()
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = _pdf_pages(original, limits) if kind == "pdf" else _image_pages(original, limits)
    pages = []
    for number, (image, dpi) in enumerate(raw, 1):
        cleaned, skew = clean(image)
        path = out_dir / f"page-{number}.png"
        cleaned.save(path, optimize=False, dpi=(dpi, dpi) if dpi else None)
        pages.append(Page(number, path, cleaned.width, cleaned.height, dpi, skew))
    return pages


def _image_pages(original: Path, limits: Limits) -> list[tuple[Image.Image, int | None]]:
    image = open_image(original, limits)
    frames = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frame = ImageOps.exif_transpose(image.copy()) if index == 0 else image.copy()
        dpi = image.info.get("dpi")
        frames.append((frame, round(float(dpi[0])) if dpi and float(dpi[0]) >= 70 else None))
    return frames


def _pdf_pages(original: Path, limits: Limits) -> list[tuple[Image.Image, int | None]]:
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise RuntimeError("pdftoppm is not installed (Debian package poppler-utils)")
    info = pdf_info(original.read_bytes())
    dpi = limits.pdf_dpi
    for key, value in info.items():
        # Render big pages at a lower resolution, so no page exceeds the pixel limit.
        if key.startswith("Page") and key.endswith("size") and " x " in value:
            w, h = (float(v) for v in value.split(" pts")[0].split(" x "))
            fit = int(math.sqrt(limits.max_pixels / max(w / 72 * h / 72, 1e-6)))
            dpi = max(72, min(dpi, fit))
    with tempfile.TemporaryDirectory(prefix="ikhtiyar-pdf-") as tmp:
        try:
            subprocess.run([tool, "-r", str(dpi), "-gray", "-png", str(original),  # noqa: S603
                            f"{tmp}/p"], capture_output=True, timeout=300, check=True)
        except subprocess.TimeoutExpired:
            raise UploadError("the PDF took too long to render") from None
        except subprocess.CalledProcessError as exc:
            raise UploadError("the PDF could not be rendered: "
                              + exc.stderr.decode("utf-8", "replace").strip()[:160]) from None
        # pdftoppm pads page numbers to the width of the page count: sort by number.
        files = sorted(Path(tmp).glob("p-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        pages = []
        for file in files:
            with open_image(file, limits) as img:
                img.load()
                pages.append((img.copy(), dpi))
    return pages


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
