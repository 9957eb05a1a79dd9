"""The phone dialogue's vocabulary: what the channel hands in (``CallInput``), what the
dialogue answers (``CallReply`` and what it gathers next), and the call's settings.

Kept apart from the dialogue (conversation.call) so the channel's renderer and parser
depend only on these plain types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


class CallError(ValueError):
    """A request that is not a usable step of a call (no CallSid)."""


# --- what the channel hands in ----------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    url: str
    sid: str | None = None
    seconds: int | None = None


@dataclass(frozen=True)
class CallInput:
    """One step of a call, as the channel understood the provider's request."""

    call_sid: str
    caller: str | None = None  # the caller's number (E.164); None when withheld
    keys: str = ""  # keypad keys pressed (digits, * and #)
    speech: str = ""  # what speech recognition heard, if anything
    recording: Recording | None = None
    hung_up: bool = False  # the caller hung up while being recorded
    connected: bool | None = None  # a transfer to the call centre: answered or not
    status: str = ""  # the call's status (in-progress, completed, busy ...)
    raw: dict = field(default_factory=dict)  # the provider's request, kept on stored messages


# --- what the dialogue answers ----------------------------------------------------------


@dataclass(frozen=True)
class Speech:
    """Prompts (voice_prompts names) said one after the other in one language."""

    names: tuple[str, ...]
    lang: str


@dataclass(frozen=True)
class Ask:
    """Say ``speech`` while waiting for keys; a menu is numbered options read aloud."""

    speech: tuple[Speech, ...]
    digits: int | None = 1  # how many keys make the answer; None: up to the finish key
    finish_on_key: str = "#"
    timeout: int = 6  # seconds of silence that count as no answer
    speech_language: str | None = None  # also accept a spoken answer in this language
    hints: tuple[str, ...] = ()  # the words a spoken answer is likely to use


@dataclass(frozen=True)
class RecordVoice:
    """Record the caller after a beep; no recording at all comes back as an empty answer."""

    max_seconds: int
    finish_on_key: str = "#"
    silence_seconds: int = 5


@dataclass(frozen=True)
class Transfer:
    """Connect the caller to a person; the outcome comes back as ``connected``."""

    number: str
    timeout: int = 30


@dataclass
class CallReply:
    step: str  # the step that takes the next answer
    seq: int  # its sequence number
    lang: str
    speech: list[Speech] = field(default_factory=list)
    then: Ask | RecordVoice | Transfer | None = None
    hang_up: bool = False


Render = Callable[[CallReply], str]


@dataclass
class Answered:
    """What the channel answers, and the jobs to queue once the transaction has committed."""

    text: str = ""
    deliver: list[int] = field(default_factory=list)  # outbox rows (the tracking-number SMS)
    fetch: list[int] = field(default_factory=list)  # inbound messages whose recording to download


@dataclass(frozen=True)
class CallSettings:
    tracking_prefix: str = "KP"
    call_centre: str | None = None
    office_open: Callable[[datetime], bool] | None = None
    record_seconds: int = 120
    reason_seconds: int = 60
    gather_seconds: int = 6
