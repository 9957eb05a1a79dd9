"""Confirming a resolved complaint by phone (menu 3, and the reason after a "no" in any
call): mixed into conversation.call.PhoneDialogue, whose ``_menu``, ``_silent``, ``_wrong``
and ``settings`` it uses."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from conversation.actions import answer_resolution, resolved_complaints, status_key
from conversation.call_turn import Turn, speech
from conversation.call_types import Answered, Recording, RecordVoice
from conversation.voice_prompts import digits
from storage import lifecycle, tracking
from storage.calls import Call
from storage.messages import insert_inbound
from storage.models import Complaint, Contact

log = logging.getLogger("ikhtiyar.voice")
REASON_NOTE = "Not satisfied with the resolution; reason recorded by phone ({seconds} s): listen to the recording."


class ConfirmSteps:
    """Menu 3 and the recorded reason; the dialogue's own helpers come from the class it is
    mixed into."""

    # --- 3: confirming a resolved complaint ------------------------------------------------
    # A caller id is easily spoofed: the caller keys the complaint's tracking number first,
    # and only a resolved complaint of the caller's own number is asked about. Every other
    # number gets the same "nothing to confirm", so a caller learns nothing of others' cases.

    def _start_confirm(self, turn: Turn, before: Sequence[str] = ()) -> None:
        if (turn.call.data or {}).get("anonymous"):
            return self._menu(turn, [*before, "voice_confirm_none"])
        turn.enter("confirm_number")
        turn.say(before)
        turn.ask(speech(["voice_ask_tracking"], turn.lang), digits=None, timeout=10, speech_input=False)

    def _on_confirm_number(self, turn: Turn) -> None:
        pressed = "".join(ch for ch in turn.keys if ch.isdigit())
        if not pressed:
            return self._silent(turn, self._start_confirm)
        if not tracking.is_valid(pressed):
            return self._wrong(turn, ["voice_tracking_wrong"], self._start_confirm)
        contact = turn.session.get(Contact, turn.call.contact_id)
        waiting = resolved_complaints(turn.session, contact.citizen_id, pressed)
        if not waiting:
            return self._menu(turn, ["voice_confirm_none"])
        turn.remember(confirm=waiting[0].id, keyed=pressed)
        self._confirm(turn)

    def _confirm(self, turn: Turn, before: Sequence[str] = ()) -> None:
        turn.enter("confirm")
        turn.say(before)
        complaint = turn.session.get(Complaint, turn.call.data["confirm"])
        turn.ask(speech(["voice_complaint_number", *digits(complaint.tracking_number),
                          "voice_confirm_question"], turn.lang))

    def _on_confirm(self, turn: Turn) -> None:
        key = turn.keys[:1]
        if not key:
            return self._silent(turn, self._confirm)
        if key not in ("1", "2"):
            return self._wrong(turn, ["voice_invalid_choice"], self._confirm)
        data = turn.call.data
        complaint = turn.session.get(Complaint, data["confirm"])
        turn.remember(confirm=None)
        contact = turn.session.get(Contact, turn.call.contact_id)
        # The caller's key press is their own message on the complaint's timeline, with the
        # tracking number they keyed: the lifecycle accepts a phone answer only with it.
        message, _new = insert_inbound(
            turn.session, contact, channel="voice", text=key, language=turn.lang,
            provider_id=f"{turn.call.call_sid}:confirm:{complaint.id}",
            payload={"call_sid": turn.call.call_sid, "digits": key, "step": "confirm",
                     "tracking": data.get("keyed")},
            raw=json.dumps(turn.inp.raw, ensure_ascii=False))
        message.status = "processed"
        try:
            answer_resolution(turn.session, complaint, message, satisfied=key == "1")
        except lifecycle.TransitionError as exc:
            # Answered meanwhile on another channel: the caller hears the current status.
            log.info("confirmation by phone not applied to %s: %s", complaint.tracking_number, exc)
            return self._menu(turn, [status_key(complaint)])
        if key == "1":
            return self._menu(turn, ["voice_confirm_closed"])
        # Not satisfied: the officer who takes it up again hears why, in the caller's words.
        turn.enter("reason")
        turn.remember(reason_for=complaint.id)
        turn.say(["voice_confirm_reopened", "voice_ask_reason"])
        turn.then = self._reason_recording()

    def _reason_recording(self) -> RecordVoice:
        return RecordVoice(self.settings.reason_seconds)

    def _on_reason(self, turn: Turn) -> None:
        said: list[str] = []
        if turn.inp.recording is not None:
            self._keep_reason(turn.session, turn.call, turn.inp.recording, turn.inp.raw, turn.done)
            said = ["voice_reason_recorded"]
        turn.remember(reason_for=None)
        if turn.inp.hung_up:
            turn.enter("done")
            return
        if (turn.call.data or {}).get("survey"):  # the call we placed asks nothing more
            return turn.hang_up([*said, "voice_goodbye"])
        # No recording (the caller said nothing): the reason is optional, go on.
        self._menu(turn, said)

    def _keep_reason(self, session: Session, call: Call, recording: Recording, raw: dict,
                     done: Answered) -> None:
        """The recorded reason becomes the caller's comment on the reopened complaint."""
        data = call.data or {}
        complaint = session.get(Complaint, data["reason_for"])
        contact = session.get(Contact, call.contact_id)
        message, new = insert_inbound(
            session, contact, channel="voice", text="", language=call.language or "ur",
            provider_id=f"{call.call_sid}:reason:{recording.sid or complaint.id}",
            raw=json.dumps(raw, ensure_ascii=False),
            payload={"media": [{"url": recording.url, "content_type": "audio/wav"}],
                     "call_sid": call.call_sid, "recording_sid": recording.sid,
                     "duration": recording.seconds, "step": "reason"})
        call.data = {**data, "reasons": [*data.get("reasons", []), recording.sid or ""]}
        if not new:
            return
        message.status, message.complaint_id = "processed", complaint.id
        lifecycle.note(session, complaint, lifecycle.Actor("citizen", channel="voice"),
                       REASON_NOTE.format(seconds=recording.seconds or 0), kind="citizen_comment",
                       message=message)
        done.fetch.append(message.id)
