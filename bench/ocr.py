"""Seconds per page to read a scanned letter, English and Urdu, as the OCR job does it:
render/clean the page (grayscale, despeckle, de-skew), Tesseract's script detection, then
the model(s) for that script (eng; urd and pus for Arabic script).

Pages are A4 letters at 300 dpi (2480 x 3508 px), rendered with Debian's fonts, rotated
1.5 degrees, speckled and JPEG-compressed like a cheap office scanner's output.

Baseline, in the same run: a single plain ``tesseract page.png - -l eng|urd`` on the same
clean page. The ratio says what the pipeline (cleaning, OSD, trying urd and pus) costs on
top of one bare Tesseract call.

    python bench/ocr.py [--pages 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels.letters import ocr, pages
from tests.letters import scans

BODY = {
    "en": (scans.ENGLISH * 5, "latin", False),
    "ur": (scans.URDU * 7, "naskh", True),
}


def a4_page(lang: str):
    lines, font, rtl = BODY[lang]
    image = scans.render(lines, font, rtl=rtl, size=42, width=2480)
    page = scans.Image.new("L", (2480, 3508), 255)
    page.paste(image.crop((0, 0, 2480, min(image.height, 3300))), (0, 100))
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3, help="pages per language")
    args = parser.parse_args()
    print(f"{'language':<10}{'pipeline s/page':>17}{'bare tesseract s/page':>24}{'ratio':>8}"
          f"{'confidence':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for lang, model in (("en", "eng"), ("ur", "urd")):
            clean = a4_page(lang)
            clean_path = folder / f"{lang}-clean.png"
            clean.save(clean_path)
            scan_path = folder / f"{lang}-scan.jpg"
            scans.degrade(clean, angle=1.5, noise=0.005, quality=50).save(scan_path)
            started = time.perf_counter()
            confidence = 0.0
            for n in range(args.pages):
                [page] = pages.render(scan_path, "jpeg", folder / f"{lang}-{n}")
                confidence = ocr.read_page(page.path, 300).confidence
            pipeline = (time.perf_counter() - started) / args.pages
            started = time.perf_counter()
            for _ in range(args.pages):
                subprocess.run([ocr.tesseract(), str(clean_path), "-", "-l", model, "--dpi", "300"],
                               capture_output=True, check=True)
            bare = (time.perf_counter() - started) / args.pages
            print(f"{lang:<10}{pipeline:>17.2f}{bare:>24.2f}{pipeline / bare:>8.2f}{confidence:>12.1f}")


if __name__ == "__main__":
    main()
