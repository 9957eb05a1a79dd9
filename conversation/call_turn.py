"""One step of a call being answered: what the dialogue says and gathers next, the call's
step and counters (conversation.call and conversation.call_survey share it)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from conversation import catalog
from conversation.call_types import (
    Answered,
    Ask,
    CallInput,
    CallReply,
    RecordVoice,
    Speech,
    Transfer,
)
from conversation.voice_prompts import spoken_digits
from storage.calls import Call

# --- one step being answered ------------------------------------------------------------


class Turn:
    def __init__(self, session: Session, call: Call, inp: CallInput, gather_seconds: int) -> None:
        self.session, self.call, self.inp = session, call, inp
        self.speech: list[Speech] = []
        self.then: Ask | RecordVoice | Transfer | None = None
        self.ends = False  # the reply ends the call
        self.done = Answered()
        self.repeating = False
        self.gather_seconds = gather_seconds

    @property
    def lang(self) -> str:
        return self.call.language or "ur"

    @property
    def keys(self) -> str:
        """The keys pressed, or the digits a recognised utterance said."""
        return self.inp.keys.strip() or spoken_digits(self.inp.speech)

    def say(self, names: Sequence[str], lang: str | None = None) -> None:
        if names:
            self.speech.append(Speech(tuple(names), lang or self.lang))

    def enter(self, step: str) -> None:
        """Make ``step`` the call's current step; a fresh step starts with no misses."""
        self.call.step = step
        if not self.repeating:
            self.call.data = {**(self.call.data or {}), "silent": 0, "wrong": 0}

    def ask(self, *speech: Speech, digits: int | None = 1, timeout: int | None = None,
            speech_input: bool = True) -> None:
        spoken = speech_input and digits == 1 and self.call.language is not None
        self.then = Ask(
            tuple(s for s in speech if s.names), digits=digits, timeout=timeout or self.gather_seconds,
            speech_language=self.lang if spoken else None,
            hints=tuple(catalog.text(f"voice_digit_{d}", self.lang) for d in range(10)) if spoken else ())

    def hang_up(self, names: Sequence[str]) -> None:
        self.say(names)
        self.ends = True
        self.enter("done")

    def bump(self, counter: str) -> int:
        data = dict(self.call.data or {})
        data[counter] = data.get(counter, 0) + 1
        self.call.data = data
        return data[counter]

    def remember(self, **values: object) -> None:
        self.call.data = {**(self.call.data or {}), **values}

    def reply(self) -> CallReply:
        return CallReply(self.call.step, self.call.seq, self.lang, self.speech, self.then, self.ends)


def speech(names: Sequence[str], lang: str) -> Speech:
    return Speech(tuple(names), lang)
