"""The phone line's steps: what Twilio asked, what the call says next (TwiML).

    start -> language -> menu -> 1 district -> record      -> complaint filed, number read twice
                                 2 tracking                 -> status read, back to the menu
                                 3 confirm (per complaint)  -> closed / reopened
                                 0 dial (office hours) | voicemail -> a complaint
                                 9 language

Every answer's URLs carry the step's sequence number (``?n=``); the answer given for each
number is kept on the call, so a webhook Twilio repeats gets the very same TwiML and does
nothing twice. Silence twice in a row, or three wrong answers, end the call politely.
A recording is never lost: if the caller hangs up, the complaint is filed flagged
``incomplete``; nothing is filed before there is a recording.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from channels.addresses import AddressError, phone_e164
from channels.voice.audio import PromptLibrary
from channels.voice.hours import OfficeHours
from channels.voice.prompts import district_groups
from channels.voice.speaker import Speaker, digits
from conversation import catalog
from conversation.actions import file_untriaged_complaint
from storage import lifecycle, tracking
from storage.calls import Call, find_call, remember_answer, start_call
from storage.messages import contact_for, insert_inbound, queue_outbound
from storage.models import Citizen, Complaint, Contact, District, State, utcnow

log = logging.getLogger("ikhtiyar.voice")

LANGUAGE_KEYS = {"1": "ur", "2": "ps", "3": "en"}
MAX_SILENT = 2  # silent answers in a row before goodbye
MAX_WRONG = 3  # wrong answers in a row before goodbye
# Numbers Twilio uses when the caller withheld their caller id.
ANONYMOUS = {"", "anonymous", "restricted", "unknown", "+266696687", "+86282452253",
             "+7378742833", "+2562533", "+8656696"}
# Speech recognition where Twilio has the language; Pashto callers use the keypad.
SPEECH_LANGUAGES = {"en": "en-IN", "ur": "ur-PK"}
# What officers read on the case until someone has listened (not citizen-facing).
DESCRIPTIONS = {
    "complaint": "Complaint recorded by phone ({seconds} s): listen to the recording.",
    "voicemail": "Voicemail for the call centre ({seconds} s): listen to the recording.",
}


class CallError(Exception):
    """A webhook that is not a usable call request; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class VoiceConfig:
    base_url: str  # absolute: IKHTIYAR_PUBLIC_URL or the request's host
    library: PromptLibrary
    tracking_prefix: str = "KP"
    call_centre: str | None = None
    hours: OfficeHours | None = None
    record_seconds: int = 120
    gather_seconds: int = 6


@dataclass
class Outcome:
    """The TwiML to answer, and the jobs to queue once the transaction has committed."""

    twiml: str
    deliver: list[int] = field(default_factory=list)  # outbox rows (the tracking-number SMS)
    fetch: list[int] = field(default_factory=list)  # calls whose recording to download


def webhook_url(base_url: str, step: str, seq: int | None = None, **extra: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"n": seq, **extra}.items() if v is not None)
    return f"{base_url}/webhooks/twilio/voice/{step}" + (f"?{query}" if query else "")


def _spoken_digits(form: dict) -> str:
    """The keys pressed, or the digits a recognised utterance said ("one", "ایک", "3")."""
    pressed = (form.get("Digits") or "").strip()
    if pressed:
        return pressed
    speech = tracking.to_latin_digits(form.get("SpeechResult") or "").lower()
    words = {catalog.text(f"voice_digit_{d}", lang).lower(): str(d)
             for d in range(10) for lang in catalog.LANGUAGES}
    out = []
    for word in speech.replace(",", " ").replace(".", " ").replace("۔", " ").split():
        if word.isdigit():
            out.append(word)
        elif word in words:
            out.append(words[word])
    return "".join(out)


class _Step:
    """One answer being built: the response, the call, and what to do after commit."""

    def __init__(self, ivr: Ivr, session: Session, call: Call, form: dict) -> None:
        self.ivr, self.session, self.call, self.form = ivr, session, call, form
        self.response = VoiceResponse()
        self.outcome = Outcome("")
        self.repeating = False

    @property
    def lang(self) -> str:
        return self.call.language or "ur"

    def say(self, names: Sequence[str], verb=None, lang: str | None = None) -> None:
        if names:
            self.ivr.speaker(lang or self.lang).speak(self.response if verb is None else verb, names)

    def enter(self, step: str) -> None:
        """Make ``step`` the call's current step; a fresh step starts with no misses."""
        self.call.step = step
        if not self.repeating:
            self.call.data = {**(self.call.data or {}), "silent": 0, "wrong": 0}

    def url(self, step: str | None = None, **extra: object) -> str:
        return webhook_url(self.ivr.config.base_url, step or self.call.step, self.call.seq, **extra)

    def gather(self, names: Sequence[str], *, num_digits: int | None = 1, finish_on_key: str = "#",
               timeout: int | None = None, speech: bool = True, lang: str | None = None) -> Gather:
        kwargs: dict = {"action": self.url(), "method": "POST", "action_on_empty_result": True,
                        "timeout": timeout or self.ivr.config.gather_seconds,
                        "finish_on_key": finish_on_key, "input": "dtmf"}
        if num_digits:
            kwargs["num_digits"] = num_digits
        spoken = SPEECH_LANGUAGES.get(self.lang)
        if speech and num_digits == 1 and spoken and self.call.language:
            kwargs.update(input="dtmf speech", language=spoken, speech_timeout="auto",
                          hints=", ".join(catalog.text(f"voice_digit_{d}", self.lang) for d in range(10)))
        gather = Gather(**kwargs)
        self.say(names, verb=gather, lang=lang)
        self.response.append(gather)
        return gather

    def hang_up(self, names: Sequence[str]) -> None:
        self.say(names)
        self.response.hangup()
        self.enter("done")

    def bump(self, counter: str) -> int:
        data = dict(self.call.data or {})
        data[counter] = data.get(counter, 0) + 1
        self.call.data = data
        return data[counter]


class Ivr:
    """The steps of the phone line. Holds no call state: that is in the calls table."""

    def __init__(self, config: VoiceConfig) -> None:
        self.config = config
        self._speakers: dict[str, Speaker] = {}

    def speaker(self, lang: str) -> Speaker:
        if lang not in self._speakers:
            self._speakers[lang] = Speaker(lang, self.config.library, self.config.base_url)
        return self._speakers[lang]

    # --- entry points --------------------------------------------------------------------

    def answer(self, session: Session, form: dict, step: str, seq: int) -> Outcome:
        """The TwiML for one step webhook of a call (``start`` for the call's first)."""
        sid = (form.get("CallSid") or "").strip()
        if not sid:
            raise CallError(400, "CallSid is missing")
        call = find_call(session, sid, lock=True)
        if call is None:
            # A first webhook, or a step of a call we have no row for: begin at the start.
            call = self._new_call(session, form)
            step, seq = "start", 0
        kept = call.answers or {}
        if str(seq) in kept:
            return Outcome(kept[str(seq)])
        if (seq != call.seq or step != call.step) and kept:
            # A webhook of a step already answered and forgotten, or out of turn: say again
            # what the call is at, rather than act twice.
            return Outcome(kept[max(kept, key=int)])
        ctx = _Step(self, session, call, form)
        call.seq = seq + 1
        handler: Callable[[_Step], None] = getattr(self, f"_on_{call.step}", self._on_done)
        handler(ctx)
        ctx.outcome.twiml = str(ctx.response)
        remember_answer(call, seq, ctx.outcome.twiml)
        return ctx.outcome

    def recording_status(self, session: Session, form: dict) -> Outcome:
        """Twilio's recordingStatusCallback: the recording exists (even if the caller hung up
        before the <Record> action could file it)."""
        call = find_call(session, (form.get("CallSid") or "").strip(), lock=True)
        outcome = Outcome("")
        if call is None or form.get("RecordingStatus", "completed") != "completed":
            return outcome
        _keep_recording(call, form)
        if call.complaint_id is not None:
            outcome.fetch.append(call.id)
        elif call.ended:
            self._file(session, call, form, outcome, incomplete=True)
        return outcome

    def call_status(self, session: Session, form: dict) -> Outcome:
        """Twilio's call status callback. An ended call with a recording that was never
        filed (the caller hung up mid-step) files it now, flagged incomplete; an ended call
        without a recording leaves nothing behind."""
        call = find_call(session, (form.get("CallSid") or "").strip(), lock=True)
        outcome = Outcome("")
        status = form.get("CallStatus") or ""
        if call is None or not status:
            return outcome
        if status in ("completed", "busy", "failed", "no-answer", "canceled") and not call.ended:
            call.status, call.ended_at = status, utcnow()
            if call.recording_url and call.complaint_id is None:
                self._file(session, call, form, outcome, incomplete=True)
        elif not call.ended:
            call.status = status[:16]
        return outcome

    # --- the call begins -------------------------------------------------------------------

    def _new_call(self, session: Session, form: dict) -> Call:
        sid = form["CallSid"].strip()
        number = caller_number(form.get("From"))
        contact = contact_for(session, "voice", number or f"anonymous:{sid}")
        citizen = session.get(Citizen, contact.citizen_id)
        known = citizen.language if number and citizen.language in catalog.LANGUAGES else None
        call = start_call(session, sid, contact.id, known)
        if call.data is None or "anonymous" not in call.data:
            call.data = {**(call.data or {}), "anonymous": number is None}
        return call

    def _on_start(self, ctx: _Step) -> None:
        if ctx.call.language:  # remembered from an earlier call from this number
            ctx.say(["voice_welcome"])
            self._menu(ctx)
        else:
            self._language_menu(ctx, welcome=True)

    def _language_menu(self, ctx: _Step, before: Sequence[str] = (), welcome: bool = False) -> None:
        ctx.enter("language")
        ctx.say(before)
        gather = ctx.gather(["voice_welcome"] if welcome else [], speech=False, lang="ur")
        for lang in ("ur", "ps", "en"):
            ctx.say(["voice_language_choice"], verb=gather, lang=lang)

    def _on_language(self, ctx: _Step) -> None:
        key = _spoken_digits(ctx.form)[:1]
        if not key:
            return self._silent(ctx, lambda c, b: self._language_menu(c, b))
        if key not in LANGUAGE_KEYS:
            return self._wrong(ctx, ["voice_invalid_choice"], lambda c, b: self._language_menu(c, b))
        ctx.call.language = LANGUAGE_KEYS[key]
        if not (ctx.call.data or {}).get("anonymous"):
            contact = ctx.session.get(Contact, ctx.call.contact_id)
            ctx.session.get(Citizen, contact.citizen_id).language = ctx.call.language
        self._menu(ctx)

    # --- the main menu ---------------------------------------------------------------------

    def _menu(self, ctx: _Step, before: Sequence[str] = ()) -> None:
        ctx.enter("menu")
        ctx.say(before)
        ctx.gather(["voice_main_menu"])

    def _on_menu(self, ctx: _Step) -> None:
        key = _spoken_digits(ctx.form)[:1]
        if not key:
            return self._silent(ctx, self._menu)
        choices = {"1": self._district, "2": self._ask_tracking, "3": self._start_confirm,
                   "0": self._person, "9": self._language_menu}
        if key not in choices:
            return self._wrong(ctx, ["voice_invalid_choice"], self._menu)
        choices[key](ctx)

    # --- 1: a new complaint ----------------------------------------------------------------

    def _district(self, ctx: _Step, before: Sequence[str] = (), codes: bool = False) -> None:
        ctx.enter("district")
        ctx.say(before)
        names = ["voice_district_codes", *district_groups()] if codes else []
        ctx.gather([*names, "voice_ask_district"], num_digits=2, timeout=8, speech=False)

    def _on_district(self, ctx: _Step) -> None:
        pressed = _spoken_digits(ctx.form).replace("#", "")
        if "*" in pressed:
            return self._district(ctx, codes=True)
        if not pressed:
            return self._silent(ctx, self._district)
        district = None
        if pressed.isdigit():
            district = ctx.session.scalars(select(District).where(District.keypad == int(pressed))).first()
        if district is None:
            return self._wrong(ctx, ["voice_district_unknown"], self._district)
        ctx.call.data = {**ctx.call.data, "district": district.code}
        self._record(ctx, ["voice_district_chosen", f"district_{district.code}"])

    def _record(self, ctx: _Step, before: Sequence[str] = (), purpose: str = "complaint") -> None:
        step = "record" if purpose == "complaint" else "voicemail"
        ctx.enter(step)
        ctx.call.recording_purpose = purpose
        ctx.say([*before, "voice_ask_recording" if purpose == "complaint" else "voice_leave_message"])
        ctx.response.record(
            action=ctx.url(), method="POST", max_length=self.config.record_seconds,
            finish_on_key="#", play_beep=True, timeout=5, trim="trim-silence",
            recording_status_callback=webhook_url(self.config.base_url, "recording"),
            recording_status_callback_method="POST", recording_status_callback_event="completed")
        # An empty recording does not call the action: Twilio goes on to this.
        ctx.response.redirect(ctx.url(silent=1), method="POST")

    def _on_record(self, ctx: _Step) -> None:
        if not ctx.form.get("RecordingUrl"):
            purpose = ctx.call.recording_purpose or "complaint"
            return self._silent(ctx, lambda c, _b: self._record(c, ["voice_no_recording"], purpose))
        _keep_recording(ctx.call, ctx.form)
        hung_up = (ctx.form.get("Digits") or "") == "hangup"
        complaint = self._file(ctx.session, ctx.call, ctx.form, ctx.outcome, incomplete=hung_up)
        if hung_up:  # Twilio ignores what we answer now; the complaint is filed all the same
            ctx.enter("done")
            return
        said = digits(complaint.tracking_number)
        sms = ["voice_tracking_sms"] if ctx.outcome.deliver else []
        ctx.hang_up(["voice_complaint_registered", "voice_tracking_is", *said,
                     "voice_tracking_again", *said, *sms, "voice_goodbye"])

    _on_voicemail = _on_record

    def _file(self, session: Session, call: Call, form: dict, outcome: Outcome, *,
              incomplete: bool) -> Complaint:
        """File the recorded complaint once (whichever webhook comes first), queue the
        recording's download and the tracking number's SMS."""
        if call.complaint_id is not None:
            return session.get(Complaint, call.complaint_id)
        contact = session.get(Contact, call.contact_id)
        lang = call.language or "ur"
        purpose = call.recording_purpose or "complaint"
        message, _new = insert_inbound(
            session, contact, channel="voice", provider_id=f"{call.call_sid}:{call.recording_sid or 'recording'}",
            text="", language=lang, raw=json.dumps(form, ensure_ascii=False),
            payload={"media": [{"url": call.recording_url, "content_type": "audio/wav"}],
                     "call_sid": call.call_sid, "recording_sid": call.recording_sid,
                     "duration": call.recording_duration, "step": purpose})
        message.status = "processed"  # the IVR has answered it; no conversation turn to run
        complaint = file_untriaged_complaint(
            session, contact, message, language=lang,
            description=DESCRIPTIONS[purpose].format(seconds=call.recording_duration or 0),
            district_code=(call.data or {}).get("district") if purpose == "complaint" else None,
            incomplete=incomplete)
        call.complaint_id = complaint.id
        outcome.fetch.append(call.id)
        number = None if (call.data or {}).get("anonymous") else contact.address
        if number:
            sms_contact = contact_for(session, "sms", number)
            shown = f"{self.config.tracking_prefix}-{complaint.tracking_number}"
            text = catalog.text("voice_sms_tracking", lang, short=True, tracking=shown)
            out = queue_outbound(session, sms_contact, text, kind="tracking_number",
                                 complaint_id=complaint.id, language=lang,
                                 extras={"key": "voice_sms_tracking"})
            session.flush()
            outcome.deliver.append(out.id)
        return complaint

    # --- 2: the status of a complaint ------------------------------------------------------

    def _ask_tracking(self, ctx: _Step, before: Sequence[str] = ()) -> None:
        ctx.enter("tracking")
        ctx.say(before)
        ctx.gather(["voice_ask_tracking"], num_digits=None, timeout=10, speech=False)

    def _on_tracking(self, ctx: _Step) -> None:
        pressed = "".join(ch for ch in _spoken_digits(ctx.form) if ch.isdigit())
        if not pressed:
            return self._silent(ctx, self._ask_tracking)
        if not tracking.is_valid(pressed):
            return self._wrong(ctx, ["voice_tracking_wrong"], self._ask_tracking)
        complaint = ctx.session.scalars(
            select(Complaint).where(Complaint.tracking_number == pressed)).first()
        if complaint is None:
            return self._wrong(ctx, ["voice_tracking_unknown"], self._ask_tracking)
        # The same facts as the public /track page: no personal data.
        self._menu(ctx, ["voice_complaint_number", *digits(pressed), "voice_status_is",
                         f"status_{complaint.state}"])

    # --- 3: confirming a resolved complaint ------------------------------------------------

    def _start_confirm(self, ctx: _Step) -> None:
        contact = ctx.session.get(Contact, ctx.call.contact_id)
        waiting = [] if (ctx.call.data or {}).get("anonymous") else list(ctx.session.scalars(
            select(Complaint.id).where(Complaint.citizen_id == contact.citizen_id,
                                       Complaint.state == State.RESOLVED.value).order_by(Complaint.id)))
        if not waiting:
            return self._menu(ctx, ["voice_confirm_none"])
        ctx.call.data = {**ctx.call.data, "confirm": waiting}
        self._confirm(ctx)

    def _confirm(self, ctx: _Step, before: Sequence[str] = ()) -> None:
        ctx.enter("confirm")
        ctx.say(before)
        complaint = ctx.session.get(Complaint, ctx.call.data["confirm"][0])
        ctx.gather(["voice_complaint_number", *digits(complaint.tracking_number), "voice_confirm_question"])

    def _on_confirm(self, ctx: _Step) -> None:
        key = _spoken_digits(ctx.form)[:1]
        if not key:
            return self._silent(ctx, self._confirm)
        if key not in ("1", "2"):
            return self._wrong(ctx, ["voice_invalid_choice"], self._confirm)
        waiting = list(ctx.call.data["confirm"])
        complaint = ctx.session.get(Complaint, waiting.pop(0))
        contact = ctx.session.get(Contact, ctx.call.contact_id)
        # The caller's key press is their own message on the complaint's timeline.
        message, _new = insert_inbound(
            ctx.session, contact, channel="voice", text=key, language=ctx.lang,
            provider_id=f"{ctx.call.call_sid}:confirm:{complaint.id}",
            payload={"call_sid": ctx.call.call_sid, "digits": key, "step": "confirm"},
            raw=json.dumps(ctx.form, ensure_ascii=False))
        message.status, message.complaint_id = "processed", complaint.id
        said = "voice_confirm_closed" if key == "1" else "voice_confirm_reopened"
        try:
            if key == "1":
                lifecycle.confirm_satisfied(ctx.session, complaint, message)
            else:
                lifecycle.reject_resolution(ctx.session, complaint, message)
        except lifecycle.TransitionError as exc:
            # Answered meanwhile on another channel: the caller hears the current status.
            log.info("confirmation by phone not applied to %s: %s", complaint.tracking_number, exc)
            said = f"status_{complaint.state}"
        ctx.call.data = {**ctx.call.data, "confirm": waiting}
        if waiting:
            self._confirm(ctx, [said])
        else:
            self._menu(ctx, [said])

    # --- 0: a person, or a voicemail -------------------------------------------------------

    def _person(self, ctx: _Step) -> None:
        cfg = self.config
        if cfg.call_centre and cfg.hours and cfg.hours.open_at(utcnow()):
            ctx.enter("dial")
            ctx.say(["voice_connecting"])
            dial = Dial(action=ctx.url(), method="POST", timeout=30)
            dial.number(cfg.call_centre)
            ctx.response.append(dial)
        else:
            self._record(ctx, ["voice_office_closed"], purpose="voicemail")

    def _on_dial(self, ctx: _Step) -> None:
        if ctx.form.get("DialCallStatus") in ("completed", "answered"):
            ctx.hang_up(["voice_goodbye"])
        else:
            self._record(ctx, ["voice_call_centre_busy"], purpose="voicemail")

    # --- silence, wrong keys, the end ------------------------------------------------------

    def _silent(self, ctx: _Step, again: Callable) -> None:
        if ctx.bump("silent") >= MAX_SILENT:
            return ctx.hang_up(["voice_goodbye_no_input"])
        ctx.repeating = True
        again(ctx, ["voice_no_input"])

    def _wrong(self, ctx: _Step, said: list[str], again: Callable) -> None:
        ctx.call.data = {**ctx.call.data, "silent": 0}
        if ctx.bump("wrong") >= MAX_WRONG:
            return ctx.hang_up([*said, "voice_goodbye"])
        ctx.repeating = True
        again(ctx, said)

    def _on_done(self, ctx: _Step) -> None:
        ctx.response.hangup()


def caller_number(raw: str | None) -> str | None:
    """The caller's number in E.164, or None when it is withheld or not a phone number."""
    text = (raw or "").strip()
    if text.lower() in ANONYMOUS or text.startswith("client:") or text.startswith("sip:"):
        return None
    try:
        return phone_e164(text)
    except AddressError:
        return None


def _keep_recording(call: Call, form: dict) -> None:
    if call.recording_url:
        return
    call.recording_url = form.get("RecordingUrl")
    call.recording_sid = (form.get("RecordingSid") or "")[:64] or None
    try:
        call.recording_duration = int(form.get("RecordingDuration") or 0)
    except ValueError:
        call.recording_duration = None
