"""The dialogue's replies as TwiML: prompts become ``<Play>``/``<Say>``, a question becomes
``<Gather>``, a recording ``<Record>``, a transfer ``<Dial>``, the end ``<Hangup>``.

Every URL in the TwiML names the step that takes the answer and its sequence number
(``?n=``), so the next webhook says which question it answers.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from channels.voice.audio import PromptLibrary
from channels.voice.speaker import Speaker
from conversation.call import Ask, CallReply, RecordVoice, Transfer

# Twilio's speech recognition languages; Pashto callers use the keypad.
SPEECH_LANGUAGES = {"en": "en-IN", "ur": "ur-PK"}


def webhook_url(base_url: str, step: str, seq: int | None = None, **extra: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"n": seq, **extra}.items() if v is not None)
    return f"{base_url}/webhooks/twilio/voice/{step}" + (f"?{query}" if query else "")


class TwimlRenderer:
    """Renders replies for one public address (the URLs in TwiML are absolute)."""

    def __init__(self, base_url: str, library: PromptLibrary) -> None:
        self.base_url, self.library = base_url.rstrip("/"), library
        self._speakers: dict[str, Speaker] = {}

    def _speaker(self, lang: str) -> Speaker:
        if lang not in self._speakers:
            self._speakers[lang] = Speaker(lang, self.library, self.base_url)
        return self._speakers[lang]

    def render(self, reply: CallReply) -> str:
        response = VoiceResponse()
        for speech in reply.speech:
            self._speaker(speech.lang).speak(response, speech.names)
        then, action = reply.then, webhook_url(self.base_url, reply.step, reply.seq)
        if isinstance(then, Ask):
            response.append(self._gather(then, action))
        elif isinstance(then, RecordVoice):
            response.record(
                action=action, method="POST", max_length=then.max_seconds,
                finish_on_key=then.finish_on_key, play_beep=True, timeout=then.silence_seconds,
                trim="trim-silence", recording_status_callback=webhook_url(self.base_url, "recording"),
                recording_status_callback_method="POST", recording_status_callback_event="completed")
            # An empty recording does not call the action: Twilio goes on to this.
            response.redirect(webhook_url(self.base_url, reply.step, reply.seq, silent=1), method="POST")
        elif isinstance(then, Transfer):
            dial = Dial(action=action, method="POST", timeout=then.timeout)
            dial.number(then.number)
            response.append(dial)
        if reply.hang_up:
            response.hangup()
        return str(response)

    def _gather(self, ask: Ask, action: str) -> Gather:
        kwargs: dict = {"action": action, "method": "POST", "action_on_empty_result": True,
                        "timeout": ask.timeout, "finish_on_key": ask.finish_on_key, "input": "dtmf"}
        if ask.digits:
            kwargs["num_digits"] = ask.digits
        recognised = SPEECH_LANGUAGES.get(ask.speech_language or "")
        if recognised:
            kwargs.update(input="dtmf speech", language=recognised, speech_timeout="auto",
                          hints=", ".join(ask.hints))
        gather = Gather(**kwargs)
        for speech in ask.speech:
            self._speaker(speech.lang).speak(gather, speech.names)
        return gather
