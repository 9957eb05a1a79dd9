"""Speaking prompts into TwiML: ``<Play>`` of the prompt files for Urdu and Pashto,
``<Say>`` for English (Twilio's voices speak English well, Urdu and Pashto badly)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from channels.voice.audio import AUDIO_LANGUAGES, PromptLibrary
from conversation.voice_prompts import grouped, texts

log = logging.getLogger("ikhtiyar.voice")
# An Indian English voice: closest to how callers in Pakistan hear English.
SAY_ENGLISH = {"voice": "Polly.Aditi", "language": "en-IN"}


class Speaker:
    """Says prompts (by name) in one language into a TwiML verb (a response or a <Gather>)."""

    def __init__(self, lang: str, library: PromptLibrary, base_url: str) -> None:
        self.lang, self.library, self.base_url = lang, library, base_url.rstrip("/")

    def url(self, filename: str) -> str:
        return f"{self.base_url}/audio/prompts/{self.lang}/{filename}"

    def speak(self, verb, names: Iterable[str]) -> None:
        names = grouped(list(names))
        if self.lang not in AUDIO_LANGUAGES:
            # One <Say>; digits of a number are read with a pause between them, and a
            # longer one between the groups of a tracking number (123. 456. 7890).
            parts: list[str] = []
            for i, name in enumerate(names):
                if name is None:
                    parts[-1] += "."
                    continue
                text = texts()[name]["en"]
                if i and name.startswith("voice_digit_") and (names[i - 1] or "").startswith("voice_digit_"):
                    parts[-1] += ", " + text
                else:
                    parts.append(text)
            verb.say(" ".join(parts), **SAY_ENGLISH)
            return
        for name in names:
            if name is None:
                verb.pause(length=1)
                continue
            filename = self.library.filename(self.lang, name)
            if filename is None:
                # A missing file must not silence the line: say it in English, and log it.
                log.warning("prompt %s/%s has no audio file; run `ikhtiyar prompts build`",
                            self.lang, name)
                verb.say(texts()[name]["en"], **SAY_ENGLISH)
            else:
                verb.play(self.url(filename))

