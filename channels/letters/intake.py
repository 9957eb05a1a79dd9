"""Upload checks: what a file is, from its bytes, and whether it is safe to read.

The name a file came with says nothing: a ``.pdf`` may be a program. The type comes from
the magic numbers; images are opened with Pillow's decompression-bomb guard on and their
pixel count checked from the header before any pixel is decoded; every frame is decoded
once so a truncated scan is refused at upload rather than failing later; PDFs are asked
about their page count and encryption by poppler's ``pdfinfo`` (a separate process, so a
hostile PDF cannot take the web process down).
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile

# Refuse, never guess: a truncated image is an error, not a half-grey page.
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024
    max_pages: int = 20
    max_pixels: int = 60_000_000  # per page: A4 at 600 dpi is about 35 million
    pdf_dpi: int = 300


@dataclass(frozen=True)
class Scan:
    """An upload that passed the checks."""

    kind: str  # jpeg | png | tiff | pdf
    content_type: str
    pages: int
    size: int
    sha256: str


class UploadError(ValueError):
    """The file cannot be taken; the message says why, in words a clerk understands."""


_CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "tiff": "image/tiff",
                  "pdf": "application/pdf"}
_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}
_OTHER = [  # what clerks are likely to pick by mistake, named so the message helps
    (b"\x7fELF", "a program (ELF executable)"),
    (b"MZ", "a Windows program"),
    (b"PK\x03\x04", "a ZIP archive or Office document"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a WebP image or media file"),
    (b"{\\rtf", "an RTF document"),
]


def sniff(head: bytes) -> str | None:
    """The kind of file from its first bytes, or None when it is not one we read."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    # PDF readers accept the header anywhere in the first KiB; so do we.
    if b"%PDF-" in head[:1024]:
        return "pdf"
    return None


def _describe(head: bytes) -> str:
    for magic, what in _OTHER:
        if head.startswith(magic):
            return what
    return "not a scan we can read"


def check(data: bytes, limits: Limits = Limits()) -> Scan:
    """Check an uploaded file; raises UploadError with the reason when it is refused."""
    if not data:
        raise UploadError("the file is empty")
    if len(data) > limits.max_bytes:
        raise UploadError(f"the file is {len(data) / 1048576:.1f} MB; the limit is "
                          f"{limits.max_bytes / 1048576:.0f} MB")
    kind = sniff(data[:1024])
    if kind is None:
        raise UploadError(f"this file is {_describe(data[:16])}; upload a JPEG, PNG, TIFF or PDF scan")
    pages = _check_pdf(data, limits) if kind == "pdf" else _check_image(data, kind, limits)
    return Scan(kind=kind, content_type=_CONTENT_TYPES[kind], pages=pages, size=len(data),
                sha256=hashlib.sha256(data).hexdigest())


def open_image(source, limits: Limits) -> Image.Image:
    """Open an image with the decompression-bomb guard at our pixel limit (a warning is an error)."""
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(source)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadError(f"the image is larger than {limits.max_pixels:,} pixels") from None


def _check_image(data: bytes, kind: str, limits: Limits) -> int:
    try:
        image = open_image(io.BytesIO(data), limits)
    except UploadError:
        raise
    except Exception as exc:
        raise UploadError(f"the {kind.upper()} file is damaged and cannot be opened ({_short(exc)})") from None
    if image.format != _PIL_FORMATS[kind]:
        raise UploadError(f"the file starts like a {kind.upper()} but is not one")
    try:
        frames = getattr(image, "n_frames", 1)  # a TIFF walks its frame list to count them
    except Exception as exc:
        raise UploadError(f"the {kind.upper()} file is damaged ({_short(exc)})") from None
    if frames > limits.max_pages:
        raise UploadError(f"the file has {frames} pages; the limit is {limits.max_pages}")
    for index in range(frames):
        try:
            image.seek(index)
        except Exception as exc:  # a frame without its dimensions (found by bench/fuzz.py)
            raise UploadError(f"page {index + 1} of the {kind.upper()} file is damaged ({_short(exc)})") from None
        width, height = image.size
        # Checked from the header, before decoding: a 30,000 x 30,000 PNG is never allocated.
        if width * height > limits.max_pixels:
            raise UploadError(f"page {index + 1} is {width:,} x {height:,} pixels; the limit is "
                              f"{limits.max_pixels:,} pixels per page")
        try:
            image.load()
        except Exception as exc:
            raise UploadError(f"page {index + 1} of the {kind.upper()} file is damaged or cut short "
                              f"({_short(exc)})") from None
    return frames


def _check_pdf(data: bytes, limits: Limits) -> int:
    info = pdf_info(data)
    if info.get("Encrypted", "no").startswith("yes"):
        raise UploadError("the PDF is encrypted (password-protected); save an unprotected copy and upload that")
    try:
        pages = int(info.get("Pages", "0"))
    except ValueError:
        pages = 0
    if pages < 1:
        raise UploadError("the PDF has no pages")
    if pages > limits.max_pages:
        raise UploadError(f"the PDF has {pages} pages; the limit is {limits.max_pages}")
    for number, (width_pt, height_pt) in enumerate(_page_sizes(info), 1):
        pixels = (width_pt / 72 * limits.pdf_dpi) * (height_pt / 72 * limits.pdf_dpi)
        if pixels > limits.max_pixels * 4:  # pages are rendered at a lower dpi up to this
            raise UploadError(f"page {number} of the PDF is {width_pt / 72:.0f} x {height_pt / 72:.0f} "
                              "inches; that is not a letter")
    return pages


def pdf_info(data: bytes) -> dict[str, str]:
    """poppler's ``pdfinfo`` on the file, as a dict; UploadError when it cannot read it."""
    tool = shutil.which("pdfinfo")
    if tool is None:
        raise RuntimeError("pdfinfo is not installed (Debian package poppler-utils)")
    try:
        done = subprocess.run([tool, "-f", "1", "-l", "9999", "-"], input=data,  # noqa: S603
                              capture_output=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        raise UploadError("the PDF took too long to open; it may be damaged") from None
    err = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        if "password" in err.lower() or "encrypt" in err.lower():
            raise UploadError("the PDF is encrypted (password-protected); save an unprotected copy and upload that")
        raise UploadError(f"the PDF is damaged and cannot be opened ({_first_line(err)})")
    info: dict[str, str] = {}
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


_SIZE = re.compile(r"([\d.]+) x ([\d.]+) pts")


def _page_sizes(info: dict[str, str]) -> list[tuple[float, float]]:
    sizes = []
    for key, value in info.items():
        if key == "Page size" or (key.startswith("Page") and key.endswith("size")):
            match = _SIZE.search(value)
            if match:
                sizes.append((float(match.group(1)), float(match.group(2))))
    return sizes


def store(data: bytes, folder: Path, name: str) -> Path:
    """Write the upload where the web server never serves files from; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)  # whole or not at all
    return path


def _short(exc: Exception) -> str:
    return _first_line(str(exc)) or type(exc).__name__


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:160] if lines else ""
