"""Prompt audio files: ``config/prompts/<lang>/<name>.mp3`` (or ``.wav``).

Every name is a catalog key (``voice_main_menu``, ``status_resolved``) or a piece of
reference data (``district_PSW``, ``districts_1`` for a group of district codes). The files
are made by ``ikhtiyar prompts build``; a human recording dropped in with the same name
replaces the synthetic one (an ``.mp3`` wins over a ``.wav`` of the same name).
"""

from __future__ import annotations

from pathlib import Path

from config import CONFIG_DIR

PROMPTS_DIR = CONFIG_DIR / "prompts"
# Languages spoken from audio files; English is spoken by Twilio's <Say>.
AUDIO_LANGUAGES = ("ur", "ps")
CONTENT_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav"}
_PREFERENCE = (".mp3", ".wav")


class PromptLibrary:
    """The prompt files on disk, indexed once (a deployment adds recordings, then restarts)."""

    def __init__(self, root: Path = PROMPTS_DIR) -> None:
        self.root = root
        self._files: dict[tuple[str, str], str] = {}
        for lang in AUDIO_LANGUAGES:
            folder = root / lang
            if not folder.is_dir():
                continue
            for suffix in reversed(_PREFERENCE):  # the preferred suffix is written last
                for path in folder.glob(f"*{suffix}"):
                    self._files[(lang, path.stem)] = path.name

    def filename(self, lang: str, name: str) -> str | None:
        """The file name (with its suffix) of prompt ``name`` in ``lang``, if there is one."""
        return self._files.get((lang, name))

    def path(self, lang: str, filename: str) -> Path | None:
        """The file to serve for a request; None for anything not in the library."""
        if lang not in AUDIO_LANGUAGES or (lang, Path(filename).stem) not in self._files:
            return None
        if self._files[(lang, Path(filename).stem)] != filename:
            return None
        return self.root / lang / filename

    def missing(self, names: list[str]) -> list[str]:
        return [f"{lang}/{name}" for lang in AUDIO_LANGUAGES for name in names
                if (lang, name) not in self._files]


def content_type(filename: str) -> str:
    return CONTENT_TYPES.get(Path(filename).suffix.lower(), "application/octet-stream")
