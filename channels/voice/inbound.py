"""Twilio Voice's webhook form -> the dialogue's input (keys, words, recording, outcome)."""

from __future__ import annotations

from channels.addresses import AddressError, phone_e164
from conversation.call import CallInput, Recording

# Numbers Twilio uses when the caller withheld their caller id.
ANONYMOUS = {"", "anonymous", "restricted", "unknown", "+266696687", "+86282452253",
             "+7378742833", "+2562533", "+8656696"}
# A <Dial>'s DialCallStatus when somebody answered.
CONNECTED = ("completed", "answered")


def caller_number(raw: str | None) -> str | None:
    """The caller's number in E.164, or None when it is withheld or not a phone number."""
    text = (raw or "").strip()
    if text.lower() in ANONYMOUS or text.startswith("client:") or text.startswith("sip:"):
        return None
    try:
        return phone_e164(text)
    except AddressError:
        return None


def _recording(form: dict[str, str]) -> Recording | None:
    url = (form.get("RecordingUrl") or "").strip()
    if not url:
        return None
    try:
        seconds: int | None = int(form.get("RecordingDuration") or 0)
    except ValueError:
        seconds = None
    return Recording(url=url, sid=(form.get("RecordingSid") or "").strip()[:64] or None, seconds=seconds)


def call_input(form: dict[str, str]) -> CallInput:
    """The dialogue's input from any of the call's webhooks (a step, a callback)."""
    pressed = (form.get("Digits") or "").strip()
    # <Record> reports a hang-up during the recording as Digits=hangup.
    hung_up = pressed == "hangup"
    dialled = form.get("DialCallStatus")
    return CallInput(
        call_sid=(form.get("CallSid") or "").strip(), caller=caller_number(form.get("From")),
        keys="" if hung_up else pressed, speech=form.get("SpeechResult") or "",
        recording=_recording(form), hung_up=hung_up,
        connected=None if dialled is None else dialled in CONNECTED,
        status=(form.get("CallStatus") or "").strip(), raw=dict(form))


def recording_completed(form: dict[str, str]) -> bool:
    """A recordingStatusCallback that announces a finished recording (not 'absent'/'failed')."""
    return form.get("RecordingStatus", "completed") == "completed"
