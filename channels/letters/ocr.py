"""Tesseract, run as its own process: script and orientation, then the text with the
confidence of every word.

Which model reads a page is decided from the page: Tesseract's orientation and script
detection (``--psm 0``) says Latin or Arabic script and whether the page is upside down
or sideways. Latin is read with ``eng``; Arabic script with ``urd`` and ``pus``, keeping
the more confident reading (Pashto has letters Urdu lacks, so a Pashto letter read as
Urdu loses confidence exactly there). When the script is unclear, or the reading is poor,
the other script's model is tried as well. A page with paragraphs in both scripts (an
English letterhead over an Urdu letter) is read block by block: each block keeps the
model that reads it best (``_mixed``).
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

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
class Block:
    """One block of text as Tesseract laid out the page: where it is and what it read."""

    box: tuple[int, int, int, int]  # left, top, right, bottom in pixels
    lines: list[list[tuple[str, float]]]  # words (text, confidence) line by line

    @property
    def chars(self) -> int:
        return sum(len(text) for line in self.lines for text, _ in line)

    @property
    def confidence(self) -> float:
        chars = self.chars
        return sum(conf * len(text) for line in self.lines for text, conf in line) / chars if chars else 0.0

    @property
    def text(self) -> str:
        return "\n".join(" ".join(text for text, _ in line) for line in self.lines)


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
    blocks: list[Block] = field(default_factory=list, repr=False)

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


def recognize_blocks(path: Path, model: str, dpi: int | None = None, psm: int = 3) -> list[Block]:
    """The page's blocks as ``model`` read them (Tesseract's TSV: level 2 rows are blocks,
    level 5 rows words)."""
    args = [str(path), "stdout", "-l", model, "--psm", str(psm)]
    if dpi:
        args += ["--dpi", str(dpi)]
    blocks: dict[str, Block] = {}
    last_key = None
    for row in _run([*args, "tsv"]).splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12:
            continue
        if cols[0] == "2":
            left, top, width, height = (int(c) for c in cols[6:10])
            blocks[cols[2]] = Block((left, top, left + width, top + height), [])
            continue
        text = cols[11].strip()
        if cols[0] != "5" or not text:
            continue
        block = blocks.setdefault(cols[2], Block((0, 0, 0, 0), []))
        key = (cols[2], cols[3], cols[4])  # block, paragraph, line
        if key != last_key:
            block.lines.append([])
            last_key = key
        block.lines[-1].append((text, max(0.0, float(cols[10]))))
    return [b for b in blocks.values() if b.lines]


def _flatten(blocks: list[Block]) -> tuple[str, list[Word], float]:
    words: list[Word] = []
    lines: list[str] = []
    for block in blocks:
        for line in block.lines:
            words += [Word(len(lines), text, conf) for text, conf in line]
            lines.append(" ".join(text for text, _ in line))
    chars = sum(len(w.text) for w in words)
    confidence = sum(w.conf * len(w.text) for w in words) / chars if chars else 0.0
    return "\n".join(lines), words, round(confidence, 1)


def recognize(path: Path, model: str, dpi: int | None = None) -> tuple[str, list[Word], float]:
    """Text, words with confidence, and the mean confidence (per character) of one model."""
    return _flatten(recognize_blocks(path, model, dpi))


def read_page(path: Path, dpi: int | None = None) -> Reading:
    """Read one clean page; turns the file upright first when OSD finds it sideways."""
    script, rotate, _conf = detect_script(path)
    if rotate:
        from PIL import Image  # loaded by the OCR job only, not by every page that imports this

        with Image.open(path) as img:
            # OSD's "Rotate" is clockwise; Pillow's rotate() is counter-clockwise.
            img.rotate(-rotate, expand=True, fillcolor=255).save(path)
    candidates = {"Latin": ["eng"], "Arabic": ["urd", "pus"]}.get(script or "", ["eng", "urd"])
    best = _best([_reading(path, model, dpi, rotate) for model in candidates])
    if best.confidence < _TRY_OTHER_BELOW and script is not None:
        others = ["urd", "pus"] if script == "Latin" else ["eng"]
        best = _best([best, *(_reading(path, m, dpi, rotate) for m in others)])
    return _mixed(path, best, dpi)


def _reading(path: Path, model: str, dpi: int | None, rotated: int) -> Reading:
    blocks = recognize_blocks(path, model, dpi)
    text, words, confidence = _flatten(blocks)
    script = "Latin" if model == "eng" else "Arabic"
    language = {"eng": "en", "urd": "ur", "pus": "ps"}[model]
    if model == "eng" and detect(text) == "ur":
        language = "ur"  # Roman Urdu
    return Reading(text, script, language, model, confidence, words, rotated, blocks)


def _mixed(path: Path, best: Reading, dpi: int | None) -> Reading:
    """A page with English and Urdu paragraphs: one model reads the other script as
    gibberish, block by block. When some blocks of the best reading are poor while others
    are good, the page is read with the other script's model too and each block keeps the
    better reading (Tesseract lays the page out the same whichever model reads it)."""
    poor = [b for b in best.blocks if b.chars >= 5 and b.confidence < _TRY_OTHER_BELOW]
    good = [b for b in best.blocks if b.chars >= 5 and b.confidence >= LOW_PAGE]
    if not poor or not good:
        return best
    other_model = "eng" if best.script == "Arabic" else ("pus" if best.language == "ps" else "urd")
    other = recognize_blocks(path, other_model, dpi)
    chosen, switched = [], 0
    for block in best.blocks:
        twin = max(other, key=lambda o: _overlap(block.box, o.box), default=None)
        if (block in poor and twin is not None and _overlap(block.box, twin.box) > 0.5
                and twin.confidence > block.confidence + 10):
            chosen.append(twin)
            switched += twin.chars
        else:
            chosen.append(block)
    if not switched:
        return best
    text, words, confidence = _flatten(chosen)
    # The page's language is the one most of its letters are in; each line keeps its own
    # direction where it is shown.
    total = sum(b.chars for b in chosen)
    majority_other = switched * 2 > total
    script = ("Latin" if best.script == "Arabic" else "Arabic") if majority_other else best.script
    language = {"eng": "en", "urd": "ur", "pus": "ps"}[other_model] if majority_other else best.language
    models = "+".join(sorted({best.model, other_model}))
    return Reading(text, script, language, models, confidence, words, best.rotated, chosen)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def _best(readings: list[Reading]) -> Reading:
    def score(r: Reading) -> float:
        bonus = 0.0
        # Pashto wins a close call only when it read letters that only Pashto has.
        if r.model == "pus":
            bonus = 1.0 if any(ch in _PASHTO_LETTERS for ch in r.text) else -5.0
        return r.confidence + bonus if r.text.strip() else -1.0

    return max(readings, key=score)
