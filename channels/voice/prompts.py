"""``ikhtiyar prompts build``: speaks what the phone line says into audio files.

The texts (conversation.voice_prompts) come from config/messages.yaml (every ``voice_*``
key, the ``status_*`` keys) and config/districts.yaml (each district's name; the district
codes read out in groups, one group per first keypad digit). Urdu and Pashto are rendered
with espeak-ng into MP3 files under config/prompts/<lang>/ (lame encodes them at telephone
quality, 16 kHz mono).

Pashto: espeak-ng has no Pashto voice. The Pashto text is spoken by the *Urdu* voice after
spelling each Pashto-only letter as the nearest Urdu letter, in the northern (Peshawar,
Yousafzai) pronunciation spoken in most of Khyber Pakhtunkhwa (ښ as خ, ږ as گ). It is an
understandable stop-gap, not good Pashto: the manifest marks these files
``"voice": "ur (Pashto fallback)"`` and they are the first to replace by a human recording.

Human recordings: drop ``<name>.mp3`` (or ``.wav``) into config/prompts/<lang>/. The build
keeps a manifest of the files it made (text and checksum); a file whose checksum is not the
one it wrote is a human recording, and is never overwritten (unless ``--force``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from channels.voice.audio import AUDIO_LANGUAGES, PROMPTS_DIR
from conversation.voice_prompts import texts

MANIFEST = "manifest.json"
ESPEAK_SPEED = 140  # words a minute: a little slower than espeak's default, for the phone


class PromptBuildError(Exception):
    """The prompts could not be built; says which program or file is the problem."""


# --- Pashto through the Urdu voice ---------------------------------------------------------

_PASHTO_TO_URDU = str.maketrans({
    "ټ": "ٹ", "ډ": "ڈ", "ړ": "ڑ", "ښ": "خ", "ږ": "گ", "ګ": "گ", "ڼ": "ن", "ې": "ے",
    "ځ": "ز", "څ": "س", "ي": "ی", "ك": "ک", "ه": "ہ",
})


def pashto_for_urdu_voice(text: str) -> str:
    """Spell Pashto so that espeak-ng's Urdu voice reads it instead of naming the letters."""
    text = text.replace("ۍ", "ئی").translate(_PASHTO_TO_URDU)
    text = re.sub(r"ئ(?=[\s.،۔:!?]|$)", "ئے", text)  # final ئ is a vowel, "ey"
    return re.sub(r"(?<!\S)د(?!\S)", "دَ", text)  # the particle "da", not the letter's name


def _voice(lang: str, text: str) -> tuple[str, str, str]:
    """(espeak voice, text to speak, what the manifest says about the voice)."""
    if lang == "ps":
        return "ur", pashto_for_urdu_voice(text), "ur (Pashto fallback)"
    return lang, text, lang


# --- the build -----------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _render(text: str, voice: str, target: Path) -> None:
    espeak, lame = shutil.which("espeak-ng"), shutil.which("lame")
    with tempfile.TemporaryDirectory() as tmp:
        wav, out = Path(tmp) / "prompt.wav", Path(tmp) / "prompt.mp3"
        # Fixed programs and arguments, no shell; the text goes in on stdin, never as an option.
        subprocess.run([espeak, "-v", voice, "-s", str(ESPEAK_SPEED), "-w", str(wav), "--stdin"],  # noqa: S603
                       input=text.encode("utf-8"), check=True, capture_output=True, timeout=60)
        subprocess.run([lame, "--quiet", "-m", "m", "--resample", "16", "-b", "24", str(wav), str(out)],  # noqa: S603
                       check=True, capture_output=True, timeout=60)
        shutil.move(out, target)


def build(root: Path = PROMPTS_DIR, *, force: bool = False, only: set[str] | None = None,
          say: Callable[[str], None] = print) -> dict[str, int]:
    """Render every missing or outdated Urdu/Pashto prompt; returns counts by outcome.

    A file the manifest does not know (or whose checksum changed) is a human recording and
    is kept, unless ``force``.
    """
    for program in ("espeak-ng", "lame"):
        if shutil.which(program) is None:
            raise PromptBuildError(f"{program} is not installed (Debian: apt-get install espeak-ng lame)")
    manifest_path = root / MANIFEST
    manifest: dict[str, dict] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    counts = {"made": 0, "unchanged": 0, "recorded": 0}
    work: list[tuple[str, str, str, Path]] = []
    for name, by_lang in sorted(texts().items()):
        if only and name not in only:
            continue
        for lang in AUDIO_LANGUAGES:
            voice, spoken, label = _voice(lang, by_lang[lang])
            folder = root / lang
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{name}.mp3"
            entry = manifest.get(f"{lang}/{target.name}")
            recorded = [p for p in (target, folder / f"{name}.wav") if p.exists()
                        and (entry is None or p.suffix != ".mp3" or entry.get("sha256") != _sha256(p))]
            if recorded and not force:
                counts["recorded"] += 1
                continue
            if entry and target.exists() and entry.get("text") == by_lang[lang] and not force:
                counts["unchanged"] += 1
                continue
            work.append((f"{lang}/{target.name}", voice, spoken, target))
            manifest[f"{lang}/{target.name}"] = {"text": by_lang[lang], "voice": label}

    def run(item: tuple[str, str, str, Path]) -> None:
        key, voice, spoken, target = item
        try:
            _render(spoken, voice, target)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise PromptBuildError(f"{key}: {exc}") from None
        manifest[key]["sha256"] = _sha256(target)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run, work))
    counts["made"] = len(work)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), ensure_ascii=False, indent=1) + "\n",
                             encoding="utf-8")
    say(f"prompts in {root}: {counts['made']} made, {counts['unchanged']} up to date, "
        f"{counts['recorded']} human recordings kept")
    return counts
