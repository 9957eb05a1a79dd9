"""The call the gateway places to ask a phone complainant "are you satisfied?".

    outbound (the complainant answered) -> intro, complaint number, "press 1 / press 2"
        -> satisfied: 1 closed, goodbye | 2 reopened -> reason (recorded) -> goodbye

The call must be the one we placed: the outbox row named by the webhook's key is a
satisfaction question on the voice channel, Twilio's CallSid is the one the row recorded
when the call was placed, and the number called is the complainant's. Only then is the
keypad answer the complainant's own (lifecycle.PLACED_CALL on the message); the steps
after it are found by the CallSid, so a call from anyone else never reaches them.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation import catalog
from conversation.actions import answer_resolution, status_key
from conversation.call_turn import Turn, speech
from conversation.call_types import Answered, CallError, CallInput, Render
from conversation.voice_prompts import digits
from storage import lifecycle
from storage.calls import find_call, start_call
from storage.messages import insert_inbound
from storage.models import Complaint, Contact, Message, OutboxStatus

log = logging.getLogger("ikhtiyar.voice")
ASKS = ("satisfaction_request", "satisfaction_reminder")
SURVEY_STEPS = ("satisfied",)  # the steps the channel's follow-up URLs name


class NotOurCall(CallError):
    """A webhook about a call that is not the one placed for this outbox row."""


def placed_row(session: Session, key: str, call_sid: str, called: str | None = None) -> Message:
    """The outbox row whose call this is; raises NotOurCall unless the row is a satisfaction
    question placed as a call, its recorded CallSid is this one and (when given) the
    number called is the complainant's."""
    row = session.scalars(select(Message).where(
        Message.idempotency_key == key, Message.direction == "out", Message.channel == "voice")).first() if key else None
    if row is None or row.kind not in ASKS or row.complaint_id is None:
        raise NotOurCall("no call was placed for this key")
    if not call_sid or row.provider_id != call_sid:
        raise NotOurCall("this is not the call placed for this message")
    if called is not None:
        contact = session.get(Contact, row.contact_id)
        if contact is None or contact.address != called:
            raise NotOurCall("the number called is not the complainant's")
    return row


class SurveySteps:
    """The placed call's steps; mixed into conversation.call.PhoneDialogue."""

    def begin_survey(self, session: Session, inp: CallInput, key: str, called: str | None,
                     render: Render) -> Answered:
        """The complainant picked up the call placed for outbox row ``key``."""
        row = placed_row(session, key, inp.call_sid.strip(), called)
        call = find_call(session, row.provider_id, lock=True)
        if call is None:
            lang = row.language if row.language in catalog.LANGUAGES else "ur"
            call = start_call(session, row.provider_id, row.contact_id, lang)
            call.step, call.seq = "outbound", 0
            call.data = {"survey": row.complaint_id, "outbox": row.id, "anonymous": False}
        row_status = OutboxStatus.DELIVERED.value
        if row.status != row_status and row.status in (OutboxStatus.SENT.value, OutboxStatus.SENDING.value):
            row.status = row_status  # somebody picked up: the question reached the phone
        return self.answer(session, inp, "outbound", 0, render)  # type: ignore[attr-defined]

    def _on_outbound(self, turn: Turn) -> None:
        self._ask_satisfied(turn, ["voice_survey_intro"])

    def _ask_satisfied(self, turn: Turn, before: list[str] | tuple = ()) -> None:
        turn.enter("satisfied")
        turn.say(before)
        complaint = turn.session.get(Complaint, turn.call.data["survey"])
        turn.ask(speech(["voice_complaint_number", *digits(complaint.tracking_number),
                         "voice_confirm_question"], turn.lang))

    def _on_satisfied(self, turn: Turn) -> None:
        data = turn.call.data or {}
        key = turn.keys[:1]
        if not data.get("survey"):
            return turn.hang_up(["voice_goodbye"])
        if not key:
            return self._silent(turn, self._ask_satisfied)  # type: ignore[attr-defined]
        if key not in ("1", "2"):
            return self._wrong(turn, ["voice_invalid_choice"], self._ask_satisfied)  # type: ignore[attr-defined]
        complaint = turn.session.get(Complaint, data["survey"])
        contact = turn.session.get(Contact, turn.call.contact_id)
        # The key press is the complainant's own message, in the call placed to their number.
        message, _new = insert_inbound(
            turn.session, contact, channel="voice", text=key, language=turn.lang,
            provider_id=f"{turn.call.call_sid}:satisfied:{complaint.id}",
            payload={"call_sid": turn.call.call_sid, "digits": key, "step": "satisfied",
                     "outbox": data.get("outbox"), lifecycle.PLACED_CALL: complaint.id},
            raw=json.dumps(turn.inp.raw, ensure_ascii=False))
        message.status = "processed"
        turn.remember(answered=key)
        try:
            answer_resolution(turn.session, complaint, message, satisfied=key == "1")
        except lifecycle.TransitionError as exc:
            log.info("answer by a placed call not applied to %s: %s", complaint.tracking_number, exc)
            return turn.hang_up([status_key(complaint), "voice_goodbye"])
        if key == "1":
            return turn.hang_up(["voice_confirm_closed", "voice_goodbye"])
        turn.enter("reason")
        turn.remember(reason_for=complaint.id)
        turn.say(["voice_confirm_reopened", "voice_ask_reason"])
        turn.then = self._reason_recording()  # type: ignore[attr-defined]
