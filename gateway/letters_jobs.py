"""The OCR job for scanned letters, and where their files live.

``read_letter(letter_id)`` runs in a worker (RQ or the in-process queue): pages rendered
and cleaned, each read by Tesseract, fields suggested, all stored in one transaction. The
database is not held while Tesseract works (seconds per page), so other work goes on.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from channels.letters import fields, ocr, pages
from channels.letters.intake import Limits, UploadError
from gateway import jobs
from storage.db import transaction
from storage.letters import Letter, LetterState, record_failure, record_reading
from storage.models import utcnow

log = logging.getLogger("ikhtiyar.letters")


def letters_dir(settings) -> Path:
    """Originals and page images: under the var folder, never under a served static path."""
    return Path(settings.var_dir) / "letters"


def limits(settings) -> Limits:
    return Limits(max_bytes=settings.letters_max_file_mb * 1024 * 1024,
                  max_pages=settings.letters_max_pages,
                  max_pixels=settings.letters_max_pixels)


def read_letter(letter_id: int) -> str | None:
    """OCR one uploaded letter; returns its state afterwards. A letter not waiting for OCR
    (already read, submitted, or unknown) is left alone, so running the job twice is safe."""
    rt = jobs.runtime()
    with rt.sessions() as session:
        letter = session.get(Letter, letter_id)
        if letter is None or letter.state != LetterState.UPLOADED:
            return letter.state if letter else None
        original, kind = letters_dir(rt.settings) / letter.path, letter.kind
    started = time.perf_counter()
    try:
        rendered = pages.render(original, kind, original.parent / "pages", limits(rt.settings))
        readings = [ocr.read_page(page.path, page.dpi) for page in rendered]
    except (UploadError, ocr.OcrError, OSError, RuntimeError) as exc:
        log.warning("letter %s could not be read: %s", letter_id, exc)
        return _fail(rt, letter_id, str(exc))
    seconds = time.perf_counter() - started
    root = letters_dir(rt.settings)
    page_rows, chars, weighted = [], 0, 0.0
    for page, reading in zip(rendered, readings, strict=True):
        width, height = _size(page.path)
        page_rows.append({
            "number": page.number, "image_path": str(page.path.relative_to(root)),
            "width": width, "height": height, "skew_degrees": page.skew_degrees,
            "script": reading.script, "language": reading.language,
            "confidence": reading.confidence, "text": reading.text,
            "words": [[w.line, w.text, round(w.conf, 1)] for w in reading.words],
        })
        n = sum(len(w.text) for w in reading.words)
        chars, weighted = chars + n, weighted + reading.confidence * n
    text = "\n\n".join(r.text for r in readings if r.text.strip())
    language = _main_language(readings)
    script = next((r.script for r in readings if r.language == language), None)
    confidence = round(weighted / chars, 1) if chars else 0.0
    low = not text.strip() or confidence < ocr.LOW_PAGE or any(r.low_confidence for r in readings)
    with transaction(rt.sessions) as session:
        letter = session.get(Letter, letter_id)
        if letter is None or letter.state != LetterState.UPLOADED:
            return letter.state if letter else None
        knowledge = rt.conversation(session).knowledge
        suggested = fields.suggest(text, knowledge, language).as_dict()
        record_reading(session, letter, page_rows, text=text, script=script, language=language,
                       confidence=confidence, low_confidence=low, suggested=suggested,
                       seconds=round(seconds, 2))
        return letter.state


def _fail(rt, letter_id: int, error: str) -> str | None:
    with transaction(rt.sessions) as session:
        letter = session.get(Letter, letter_id)
        if letter is None or letter.state != LetterState.UPLOADED:
            return letter.state if letter else None
        record_failure(letter, error)
        return letter.state


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def _main_language(readings: list[ocr.Reading]) -> str | None:
    by_language: dict[str, int] = {}
    for r in readings:
        if r.language:
            by_language[r.language] = by_language.get(r.language, 0) + len(r.text)
    return max(by_language.items(), key=lambda item: item[1])[0] if by_language else None


def sweep_letters(stale_seconds: float = 600.0) -> int:
    """Queue again the letters whose OCR job was lost (Redis down, a worker killed)."""
    rt = jobs.runtime()
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    with rt.sessions() as session:
        waiting = session.scalars(select(Letter.id).where(
            Letter.state == LetterState.UPLOADED.value, Letter.updated_at < cutoff).limit(200)).all()
    requeue = getattr(rt.queue, "enqueue_again", rt.queue.enqueue)  # past a lost job's guard
    for letter_id in waiting:
        requeue(read_letter, letter_id)
    return len(waiting)
