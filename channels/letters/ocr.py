"""Tesseract, run as its own process: script and orientation, then the text with the
confidence of every word.

Which model reads a page is decided from the page: Tesseract's orientation and script
detection (``--psm 0``) says Latin or Arabic script and whether the page is upside down
or sideways. Latin is read with ``eng``; Arabic script with ``urd`` and ``pus``, keeping
the more confident reading (Pashto has letters Urdu lacks, so a Pashto letter read as
Urdu loses confidence exactly there). When the script is unclear, or the reading is poor,
the other script's model is tried as well.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from conversation.language import detect

LOW_WORD = 60.0  # a word Tesseract is less sure of than this is marked for the clerk
LOW_PAGE = 70.0  # a page (or letter) below this is flagged: check every line
_TRY_OTHER_BELOW = 55.0
_PASHTO_LETTERS = set("ټډړږښګڼېۍځڅ")


class OcrError(RuntimeError):
    """Tesseract is missing or could not read the page; the message says which."""


@dataclass(frozen=True)
class Word:
    line: int  # counts from 0 over the page
    text: str
    conf: float


@dataclass
class Reading:
    """What Tesseract read from one page."""

    text: str
    script: str | None  # Latin | Arabic
    language: str | None  # en | ur | ps
    model: str
    confidence: float  # 0-100, mean over the characters read
    words: list[Word] = field(default_factory=list)
    rotated: int = 0  # degrees the page was turned to be upright

    @property
    def low_confidence(self) -> bool:
        return self.confidence < LOW_PAGE

    @property
    def doubtful_words(self) -> list[Word]:
        return [w for w in self.words if w.conf < LOW_WORD]


def tesseract() -> str:
    tool = shutil.which("tesseract")
    if tool is None:
        raise OcrError("tesseract is not installed (Debian packages tesseract-ocr, "
                       "tesseract-ocr-urd, tesseract-ocr-pus)")
    return tool


# Limits on one Tesseract run (one model over one page): a hostile or broken page is
# stopped, and never starves the conversation turns of CPU or the machine of memory.
CPU_SECONDS = 40
MEMORY_BYTES = 1024 * 1024 * 1024
TIMEOUT_SECONDS = 60.0


def sandbox(cpu_seconds: int, memory_bytes: int):
    """A ``preexec_fn`` for a helper process: CPU-time and address-space limits (the kernel
    kills it past them), and a lower priority than the citizens' work."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        os.nice(10)
    return limit


def _run(args: list[str], timeout: float | None = None) -> str:
    env = dict(os.environ)
    # One thread per Tesseract: the worker reads several pages side by side instead, and
    # OpenMP threads on a busy 2-core machine only slow each other down.
    env.setdefault("OMP_THREAD_LIMIT", "1")
    timeout = timeout or TIMEOUT_SECONDS
    try:
        done = subprocess.run([tesseract(), *args], capture_output=True, timeout=timeout,  # noqa: S603
                              check=False, env=env, preexec_fn=sandbox(CPU_SECONDS, MEMORY_BYTES))
    except subprocess.TimeoutExpired:
        raise OcrError(f"tesseract took longer than {timeout:.0f} s on the page") from None
    if done.returncode < 0:
        raise OcrError("tesseract was stopped at its CPU or memory limit on this page")
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrError("tesseract failed: " + (message[-1] if message else f"exit {done.returncode}"))
    return done.stdout.decode("utf-8", "replace")


def detect_script(path: Path) -> tuple[str | None, int, float]:
    """(script, rotation to apply, script confidence) from Tesseract's OSD; (None, 0, 0)
    when the page has too little text to tell."""
    try:
        out = _run([str(path), "stdout", "--psm", "0", "-l", "osd"], timeout=TIMEOUT_SECONDS / 2)
    except OcrError:
        return None, 0, 0.0
    values = dict(re.findall(r"^([A-Za-z ]+):\s*(\S+)", out, re.MULTILINE))
    script = values.get("Script")
    try:
        rotate = int(values.get("Rotate", "0"))
        orientation_conf = float(values.get("Orientation confidence", "0"))
        script_conf = float(values.get("Script confidence", "0"))
    except ValueError:
        return None, 0, 0.0
    if script not in ("Latin", "Arabic"):
        script = None
    # A low orientation confidence is a guess; turning a good page by a guess ruins it.
    return script, rotate if orientation_conf >= 2.0 else 0, script_conf


def recognize(path: Path, model: str, dpi: int | None = None) -> tuple[str, list[Word], float]:
    """Text, words with confidence, and the mean confidence (per character) of one model."""
    args = [str(path), "stdout", "-l", model, "--psm", "3"]
    if dpi:
        args += ["--dpi", str(dpi)]
    tsv = _run([*args, "tsv"])
    words: list[Word] = []
    lines: list[list[str]] = []
    last_key = None
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        key = (cols[2], cols[3], cols[4])  # block, paragraph, line
        if key != last_key:
            lines.append([])
            last_key = key
        lines[-1].append(text)
        words.append(Word(len(lines) - 1, text, max(0.0, float(cols[10]))))
    chars = sum(len(w.text) for w in words)
    confidence = sum(w.conf * len(w.text) for w in words) / chars if chars else 0.0
    return "\n".join(" ".join(line) for line in lines), words, round(confidence, 1)


def read_page(path: Path, dpi: int | None = None) -> Reading:
    """Read one clean page; turns the file upright first when OSD finds it sideways."""
    script, rotate, _conf = detect_script(path)
    if rotate:
        with Image.open(path) as img:
            # OSD's "Rotate" is clockwise; Pillow's rotate() is counter-clockwise.
            img.rotate(-rotate, expand=True, fillcolor=255).save(path)
    candidates = {"Latin": ["eng"], "Arabic": ["urd", "pus"]}.get(script or "", ["eng", "urd"])
    best = _best([_reading(path, model, dpi, rotate) for model in candidates])
    if best.confidence < _TRY_OTHER_BELOW and script is not None:
        others = ["urd", "pus"] if script == "Latin" else ["eng"]
        best = _best([best, *(_reading(path, m, dpi, rotate) for m in others)])
    return best


def _reading(path: Path, model: str, dpi: int | None, rotated: int) -> Reading:
    text, words, confidence = recognize(path, model, dpi)
    script = "Latin" if model == "eng" else "Arabic"
    language = {"eng": "en", "urd": "ur", "pus": "ps"}[model]
    if model == "eng" and detect(text) == "ur":
        language = "ur"  # Roman Urdu
    return Reading(text, script, language, model, confidence, words, rotated)


def _best(readings: list[Reading]) -> Reading:
    def score(r: Reading) -> float:
        bonus = 0.0
        # Pashto wins a close call only when it read letters that only Pashto has.
        if r.model == "pus":
            bonus = 1.0 if any(ch in _PASHTO_LETTERS for ch in r.text) else -5.0
        return r.confidence + bonus if r.text.strip() else -1.0

    return max(readings, key=score)
