"""The phone call's dialogue: what the caller's keys mean, what the call says next, and
every complaint decision a call makes (filing, status, confirming a resolution).

    start -> language -> menu -> 1 district -> department -> record
                                                           -> complaint filed (department, category,
                                                              due date), number read twice,
                                                              then "against an officer or this
                                                              department?" (1 confidential)
                                 2 tracking                 -> status read, back to the menu
                                 3 tracking number, then confirm -> closed / reopened (-> reason)
                                 0 dial (office hours) | voicemail -> a complaint
                                 9 language

The dialogue knows nothing of Twilio: it takes a ``CallInput`` (keys pressed, words heard,
a recording, a transfer's outcome) and answers a ``CallReply`` (prompts by name, then what
to gather: keys, a recording, a transfer, or the end of the call). The voice channel turns
Twilio's form into the input and renders the reply as TwiML.

The call's state is a row keyed by CallSid (storage.calls), so any process can answer any
step. Every step the channel is asked for carries its sequence number; the rendered answer
for each number is kept on the call, so a webhook Twilio repeats gets the very same answer
and nothing is done twice. Silence twice in a row, or three wrong answers, end the call
politely. A recording is never lost: if the caller hangs up, the complaint is filed flagged
``incomplete``; nothing is filed before there is a recording.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation import catalog
from conversation.actions import status_key
from conversation.call_confirm import ConfirmSteps
from conversation.call_filing import DESCRIPTIONS, file_recorded, recording_message  # noqa: F401
from conversation.call_survey import SURVEY_STEPS, SurveySteps
from conversation.call_turn import Turn, speech
from conversation.call_types import (
    Answered,
    Ask,
    CallError,
    CallInput,
    CallReply,
    CallSettings,
    Recording,
    RecordVoice,
    Render,
    Speech,
    Transfer,
)
from conversation.voice_prompts import digits, district_groups, phone_departments
from storage import lifecycle, tracking
from storage.calls import ENDED, Call, find_call, remember_answer, start_call
from storage.messages import contact_for, insert_inbound
from storage.models import Citizen, Complaint, Contact, District, utcnow

log = logging.getLogger("ikhtiyar.voice")
# The channel (twiml, inbound, the simulator) imports the dialogue's vocabulary from here.
__all__ = [
    "STEPS",
    "Answered",
    "Ask",
    "CallError",
    "CallInput",
    "CallReply",
    "CallSettings",
    "PhoneDialogue",
    "RecordVoice",
    "Recording",
    "Speech",
    "Transfer",
]

# Every step a webhook may name (the channel's follow-up URLs).
STEPS = (*SURVEY_STEPS, "start", "language", "menu", "district", "department", "record", "confidential", "tracking", "confirm_number",
         "confirm", "reason", "dial", "voicemail", "done")
LANGUAGE_KEYS = {"1": "ur", "2": "ps", "3": "en"}
MAX_SILENT = 2  # silent answers in a row before goodbye
MAX_WRONG = 3  # wrong answers in a row before goodbye


# --- the dialogue -----------------------------------------------------------------------


class PhoneDialogue(ConfirmSteps, SurveySteps):
    """The steps of the phone line. Holds no call state: that is in the calls table."""

    def __init__(self, settings: CallSettings) -> None:
        self.settings = settings

    # --- entry points --------------------------------------------------------------------

    def answer(self, session: Session, inp: CallInput, step: str, seq: int, render: Render) -> Answered:
        """The answer to one step of a call (``start`` for the call's first), rendered by
        ``render``; the rendering is kept so that a repeated request gets the same text."""
        sid = inp.call_sid.strip()
        if not sid:
            raise CallError("CallSid is missing")
        call = find_call(session, sid, lock=True)
        if call is None:
            # A first webhook, or a step of a call we have no row for: begin at the start.
            call = self._new_call(session, sid, inp)
            step, seq = "start", 0
        kept = call.answers or {}
        if str(seq) in kept:
            return Answered(kept[str(seq)])
        if (seq != call.seq or step != call.step) and kept:
            # A request of a step already answered and forgotten, or out of turn: say again
            # what the call is at, rather than act twice.
            return Answered(kept[max(kept, key=int)])
        turn = Turn(session, call, inp, self.settings.gather_seconds)
        call.seq = seq + 1
        handler: Callable[[Turn], None] = getattr(self, f"_on_{call.step}", self._on_done)
        handler(turn)
        turn.done.text = render(turn.reply())
        remember_answer(call, seq, turn.done.text)
        return turn.done

    def recording_ready(self, session: Session, inp: CallInput) -> Answered:
        """A recording of the call exists (even if the caller hung up before the step that
        records could file it)."""
        call = find_call(session, inp.call_sid.strip(), lock=True)
        done = Answered()
        if call is None or inp.recording is None:
            return done
        data = call.data or {}
        if inp.recording.sid and inp.recording.sid in data.get("reasons", []):
            return done  # a reason already kept on its complaint
        if call.step == "reason" and data.get("reason_for"):
            # The caller hung up while giving their reason: keep it all the same.
            self._keep_reason(session, call, inp.recording, inp.raw, done)
            return done
        _keep_recording(call, inp.recording)
        if call.complaint_id is not None:
            message_id = recording_message(session, call)
            if message_id is not None:
                done.fetch.append(message_id)
        elif call.ended:
            self._file(session, call, inp.raw, done, incomplete=True)
        return done

    def call_ended(self, session: Session, inp: CallInput) -> Answered:
        """The call's status changed. An ended call with a recording that was never filed
        (the caller hung up mid-step) files it now, flagged incomplete; an ended call without
        a recording leaves nothing behind."""
        call = find_call(session, inp.call_sid.strip(), lock=True)
        done = Answered()
        if call is None or not inp.status:
            return done
        if inp.status in ENDED and not call.ended:
            call.status, call.ended_at = inp.status, utcnow()
            if call.recording_url and call.complaint_id is None:
                self._file(session, call, inp.raw, done, incomplete=True)
        elif not call.ended:
            call.status = inp.status[:16]
        return done

    # --- the call begins -------------------------------------------------------------------

    def _new_call(self, session: Session, sid: str, inp: CallInput) -> Call:
        number = inp.caller
        contact = contact_for(session, "voice", number or f"anonymous:{sid}")
        citizen = session.get(Citizen, contact.citizen_id)
        known = citizen.language if number and citizen.language in catalog.LANGUAGES else None
        call = start_call(session, sid, contact.id, known)
        if call.data is None or "anonymous" not in call.data:
            call.data = {**(call.data or {}), "anonymous": number is None}
        return call

    def _on_start(self, turn: Turn) -> None:
        if turn.call.language:  # remembered from an earlier call from this number
            turn.say(["voice_welcome"])
            self._menu(turn)
        else:
            self._language_menu(turn, welcome=True)

    def _language_menu(self, turn: Turn, before: Sequence[str] = (), welcome: bool = False) -> None:
        turn.enter("language")
        turn.say(before)
        # Each option in its own language: the caller has not chosen one yet.
        turn.ask(speech(["voice_welcome"] if welcome else [], "ur"),
                 *(speech(["voice_language_choice"], lang) for lang in ("ur", "ps", "en")),
                 speech_input=False)

    def _on_language(self, turn: Turn) -> None:
        key = turn.keys[:1]
        if not key:
            return self._silent(turn, lambda t, b: self._language_menu(t, b))
        if key not in LANGUAGE_KEYS:
            return self._wrong(turn, ["voice_invalid_choice"], lambda t, b: self._language_menu(t, b))
        turn.call.language = LANGUAGE_KEYS[key]
        if not (turn.call.data or {}).get("anonymous"):
            contact = turn.session.get(Contact, turn.call.contact_id)
            turn.session.get(Citizen, contact.citizen_id).language = turn.call.language
        self._menu(turn)

    # --- the main menu ---------------------------------------------------------------------

    def _menu(self, turn: Turn, before: Sequence[str] = ()) -> None:
        turn.enter("menu")
        turn.say(before)
        turn.ask(speech(["voice_main_menu"], turn.lang))

    def _on_menu(self, turn: Turn) -> None:
        key = turn.keys[:1]
        if not key:
            return self._silent(turn, self._menu)
        choices = {"1": self._district, "2": self._ask_tracking, "3": self._start_confirm,
                   "0": self._person, "9": self._language_menu}
        if key not in choices:
            return self._wrong(turn, ["voice_invalid_choice"], self._menu)
        choices[key](turn)

    # --- 1: a new complaint ----------------------------------------------------------------

    def _district(self, turn: Turn, before: Sequence[str] = (), codes: bool = False) -> None:
        turn.enter("district")
        turn.say(before)
        names = ["voice_district_codes", *district_groups()] if codes else []
        turn.ask(speech([*names, "voice_ask_district"], turn.lang), digits=2, timeout=8,
                 speech_input=False)

    def _on_district(self, turn: Turn) -> None:
        pressed = turn.keys.replace("#", "")
        if "*" in pressed:
            return self._district(turn, codes=True)
        if not pressed:
            return self._silent(turn, self._district)
        district = None
        if pressed.isdigit():
            district = turn.session.scalars(select(District).where(District.keypad == int(pressed))).first()
        if district is None:
            return self._wrong(turn, ["voice_district_unknown"], self._district)
        turn.remember(district=district.code)
        self._department(turn, ["voice_district_chosen", f"district_{district.code}"])

    def _department(self, turn: Turn, before: Sequence[str] = ()) -> None:
        """The department the complaint is about, by keypad: it decides whose queue the
        complaint lands in (and its category and due date, see conversation.call_filing)."""
        turn.enter("department")
        turn.say(before)
        turn.ask(speech(["voice_ask_department", "departments_menu"], turn.lang), timeout=8,
                 speech_input=False)

    def _on_department(self, turn: Turn) -> None:
        key = turn.keys[:1]
        if key == "*":
            return self._department(turn)
        if not key:
            return self._silent(turn, self._department)
        chosen = next((d for d in phone_departments() if d.key == key), None)
        if chosen is None:
            return self._wrong(turn, ["voice_invalid_choice"], self._department)
        turn.remember(department=chosen.code)
        self._record(turn, ["voice_department_chosen", f"department_{chosen.code}"])

    def _record(self, turn: Turn, before: Sequence[str] = (), purpose: str = "complaint") -> None:
        turn.enter("record" if purpose == "complaint" else "voicemail")
        turn.call.recording_purpose = purpose
        turn.say([*before, "voice_ask_recording" if purpose == "complaint" else "voice_leave_message"])
        turn.then = RecordVoice(self.settings.record_seconds)

    def _on_record(self, turn: Turn) -> None:
        if turn.inp.recording is None:
            purpose = turn.call.recording_purpose or "complaint"
            return self._silent(turn, lambda t, _b: self._record(t, ["voice_no_recording"], purpose))
        _keep_recording(turn.call, turn.inp.recording)
        complaint = self._file(turn.session, turn.call, turn.inp.raw, turn.done, incomplete=turn.inp.hung_up)
        if turn.inp.hung_up:  # nobody hears an answer now; the complaint is filed all the same
            turn.enter("done")
            return
        said = digits(complaint.tracking_number)
        sms = ["voice_tracking_sms"] if turn.done.deliver else []
        # The number first: a caller who hangs up at the question has it all the same.
        self._ask_confidential(turn, ["voice_complaint_registered", "voice_tracking_is", *said,
                                      "voice_tracking_again", *said, *sms])

    _on_voicemail = _on_record

    def _ask_confidential(self, turn: Turn, before: Sequence[str] = ()) -> None:
        turn.enter("confidential")
        turn.say(before)
        turn.ask(speech(["voice_ask_confidential"], turn.lang))

    def _on_confidential(self, turn: Turn) -> None:
        """1: the complaint is against an officer or the department, hide the caller from it.
        Silence (or a hang-up) leaves the complaint filed as it is, not confidential."""
        key = turn.keys[:1]
        if not key or key == "2":
            return turn.hang_up(["voice_goodbye"])
        if key != "1":
            return self._wrong(turn, ["voice_invalid_choice"], self._ask_confidential)
        complaint = turn.session.get(Complaint, turn.call.complaint_id)
        contact = turn.session.get(Contact, turn.call.contact_id)
        # The key press is the caller's own message: the lifecycle takes the mark only from it.
        message, _new = insert_inbound(
            turn.session, contact, channel="voice", text=key, language=turn.lang,
            provider_id=f"{turn.call.call_sid}:confidential:{complaint.id}",
            payload={"call_sid": turn.call.call_sid, "digits": key, "step": "confidential"},
            raw=json.dumps(turn.inp.raw, ensure_ascii=False))
        message.status = "processed"
        message.complaint_id = complaint.id
        lifecycle.mark_confidential(turn.session, complaint, message,
                                    lifecycle.Actor("citizen", channel="voice"))
        turn.hang_up(["voice_confidential_marked", "voice_goodbye"])

    def _file(self, session: Session, call: Call, raw: dict, done: Answered, *,
              incomplete: bool) -> Complaint:
        return file_recorded(session, call, raw, done, prefix=self.settings.tracking_prefix,
                             incomplete=incomplete)

    # --- 2: the status of a complaint ------------------------------------------------------

    def _ask_tracking(self, turn: Turn, before: Sequence[str] = ()) -> None:
        turn.enter("tracking")
        turn.say(before)
        turn.ask(speech(["voice_ask_tracking"], turn.lang), digits=None, timeout=10, speech_input=False)

    def _on_tracking(self, turn: Turn) -> None:
        pressed = "".join(ch for ch in turn.keys if ch.isdigit())
        if not pressed:
            return self._silent(turn, self._ask_tracking)
        if not tracking.is_valid(pressed):
            return self._wrong(turn, ["voice_tracking_wrong"], self._ask_tracking)
        complaint = turn.session.scalars(
            select(Complaint).where(Complaint.tracking_number == pressed)).first()
        if complaint is None:
            return self._wrong(turn, ["voice_tracking_unknown"], self._ask_tracking)
        # The same facts as the public /track page: no personal data.
        self._menu(turn, ["voice_complaint_number", *digits(pressed), "voice_status_is",
                          status_key(complaint)])

    # --- 0: a person, or a voicemail -------------------------------------------------------

    def _person(self, turn: Turn) -> None:
        s = self.settings
        if s.call_centre and s.office_open and s.office_open(utcnow()):
            turn.enter("dial")
            turn.say(["voice_connecting"])
            turn.then = Transfer(s.call_centre)
        else:
            self._record(turn, ["voice_office_closed"], purpose="voicemail")

    def _on_dial(self, turn: Turn) -> None:
        if turn.inp.connected:
            turn.hang_up(["voice_goodbye"])
        else:
            self._record(turn, ["voice_call_centre_busy"], purpose="voicemail")

    # --- silence, wrong keys, the end ------------------------------------------------------

    def _silent(self, turn: Turn, again: Callable) -> None:
        if turn.bump("silent") >= MAX_SILENT:
            return turn.hang_up(["voice_goodbye_no_input"])
        turn.repeating = True
        again(turn, ["voice_no_input"])

    def _wrong(self, turn: Turn, said: list[str], again: Callable) -> None:
        turn.remember(silent=0)
        if turn.bump("wrong") >= MAX_WRONG:
            return turn.hang_up([*said, "voice_goodbye"])
        turn.repeating = True
        again(turn, said)

    def _on_done(self, turn: Turn) -> None:
        turn.ends = True


def _keep_recording(call: Call, recording: Recording) -> None:
    if call.recording_url:
        return
    call.recording_url = recording.url
    call.recording_sid = (recording.sid or "")[:64] or None
    call.recording_duration = recording.seconds
