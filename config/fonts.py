"""The Noto fonts the PDFs are set in (the letters' acknowledgements, the weekly reports),
from Debian's fonts-noto-core; Urdu is shaped with HarfBuzz by the callers."""

from __future__ import annotations

from pathlib import Path

FONT_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/opentype/noto"))
FONTS = {"latin": "NotoSans-Regular.ttf", "latin-bold": "NotoSans-Bold.ttf",
         "arabic": "NotoNaskhArabic-Regular.ttf", "arabic-bold": "NotoNaskhArabic-Bold.ttf"}


class FontMissing(RuntimeError):
    """The Noto fonts are not installed (Debian package fonts-noto-core)."""


def font(name: str) -> Path:
    """The file of font ``name`` (a key of FONTS), or FontMissing."""
    for folder in FONT_DIRS:
        path = folder / FONTS[name]
        if path.exists():
            return path
    raise FontMissing(f"{FONTS[name]} not found; install the Debian package fonts-noto-core")
