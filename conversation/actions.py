"""The complaint actions, as rasa-sdk Actions the engine runs in-process.

They are ordinary rasa-sdk actions: the same classes run in the engine's executor and
behind ``ikhtiyar actions`` (the rasa-sdk action server) for a deployment that puts a Rasa
assistant in front. Each call's state comes from the tracker it carries: the slots, and
the turn the tracker names (its sender id and latest message id), which the executor that
opened the call's database transaction registered in its ``OpenTurns`` for the length of
the call. No ambient (context variable) state: an action given a tracker of no open turn
refuses the call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection
from sqlalchemy import select

from conversation import catalog
from conversation.knowledge import Kind
from conversation.turn import Turn
from storage import lifecycle, pii
from storage.complaints import Category, create_complaint
from storage.mail import take_answer as lookup_budget
from storage.models import Citizen, Complaint, Message, State

DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 2000
LOCATION_MAX, NAME_MAX = 300, 80
# Asked in this order, each only when the citizen's messages have not given it already.
# The name is optional and not asked in chat (the contact address identifies the citizen);
# ``name`` and ``confidential`` are still read from the slots when given.
LOOKUP_WINDOW_SECONDS = 3600  # the per-hour setting's window
FORM_SLOTS = ("description", "district", "category", "location_detail")


def _say(dispatcher: CollectingDispatcher, key: str, **values: Any) -> None:
    dispatcher.utter_message(response=key, **values)


def tracker_key(tracker: dict) -> tuple[str, str]:
    """What names a call's turn in its tracker (the JSON Rasa sends, or a rasa-sdk
    ``Tracker``'s fields): the sender id and the latest message's id."""
    latest = tracker.get("latest_message") or {}
    return str(tracker.get("sender_id") or ""), str(latest.get("message_id") or "")


class OpenTurns:
    """The turns being taken, each under the tracker that names it. The executor opens one
    for a call (it holds the database transaction); the call's actions find it by the
    tracker they are given."""

    def __init__(self) -> None:
        self._turns: dict[tuple[str, str], Turn] = {}

    @contextmanager
    def opened(self, tracker: dict, turn: Turn) -> Iterator[None]:
        key = tracker_key(tracker)
        if key in self._turns:
            raise ActionExecutionRejection("", f"a call for {key} is already running")
        self._turns[key] = turn
        try:
            yield
        finally:
            del self._turns[key]

    def __call__(self, tracker: Tracker) -> Turn:
        key = tracker_key({"sender_id": tracker.sender_id, "latest_message": tracker.latest_message})
        turn = self._turns.get(key)
        if turn is None:
            raise ActionExecutionRejection("", f"no turn is open for the tracker {key}")
        return turn


class _TurnAction:
    """An action bound to the executor's open turns."""

    def __init__(self, turns: OpenTurns) -> None:
        self.turns = turns


class ValidateComplaintForm(_TurnAction, FormValidationAction):
    """Checks each answer of the complaint form; a bad one is re-asked with the reason."""

    def name(self) -> str:
        return "validate_complaint_form"

    def validate_description(self, value: Any, dispatcher, tracker: Tracker, domain) -> dict:
        text = " ".join(str(value or "").split())
        letters = sum(ch.isalpha() for ch in text)
        if len(text) > DESCRIPTION_MAX:
            _say(dispatcher, "description_too_long", length=len(text), max=DESCRIPTION_MAX)
            return {"description": None}
        if letters < DESCRIPTION_MIN or len(text.split()) < 2:
            _say(dispatcher, "description_too_short")
            return {"description": None}
        return {"description": text}

    def validate_district(self, value: Any, dispatcher, tracker: Tracker, domain) -> dict:
        turn = self.turns(tracker)
        code, candidates = turn.knowledge.find_district(str(value or ""))
        if code:
            return {"district": code}
        if candidates:
            turn.state["awaiting"] = {"kind": "district_choice", "choices": candidates}
            options = "\n".join(f"{i} {turn.knowledge.name('district', c, turn.lang)}"
                                for i, c in enumerate(candidates, 1))
            _say(dispatcher, "district_choices", options=options)
        else:
            _say(dispatcher, "district_unknown", given=str(value)[:40])
        return {"district": None}

    def validate_location_detail(self, value: Any, dispatcher, tracker: Tracker, domain) -> dict:
        text = " ".join(str(value or "").split())
        if sum(ch.isalnum() for ch in text) < 3:
            _say(dispatcher, "location_too_short")
            return {"location_detail": None}
        return {"location_detail": text[:LOCATION_MAX]}

    def validate_category(self, value: Any, dispatcher, tracker: Tracker, domain) -> dict:
        known = self.turns(tracker).knowledge.categories
        return {"category": value if value in known else None}

    def validate_name(self, value: Any, dispatcher, tracker: Tracker, domain) -> dict:
        text = " ".join(str(value or "").split())
        if text in ("", "-"):  # skipped: the name is optional
            return {"name": ""}
        if not any(ch.isalpha() for ch in text):
            _say(dispatcher, "ask_name")
            return {"name": None}
        return {"name": text[:NAME_MAX]}


class ActionSubmitComplaint(_TurnAction, Action):
    """Files the complaint from the form's slots and tells the tracking number."""

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict]:
        turn = self.turns(tracker)
        complaint = submit_complaint(turn, tracker.slots)
        sla = turn.knowledge.categories[complaint.category_code].sla_days
        _say(dispatcher, "complaint_registered", tracking=turn.tracking(complaint.tracking_number),
             sla_days=sla)
        return [SlotSet(slot, None) for slot in FORM_SLOTS]


def submit_complaint(turn: Turn, slots: dict) -> Complaint:
    """File the chat form's complaint: the form's messages and their photos, voice notes and
    documents become the complaint's."""
    session = turn.session
    kind = turn.knowledge.categories[slots["category"]]
    if slots.get("name"):
        citizen = session.get(Citizen, turn.contact.citizen_id)
        citizen.name = pii.unseal(slots["name"])
    location = turn.state.get("location")
    return create_complaint(
        session, contact=turn.contact, message=turn.message,
        actor=lifecycle.Actor("citizen", channel=turn.contact.channel),
        channel=turn.contact.channel, language=turn.lang, description=slots["description"],
        category=category_of(kind), district_code=slots["district"],
        location_detail=slots.get("location_detail"), confidential=bool(slots.get("confidential")),
        location=(location[0], location[1]) if location else None,
        messages=turn.state.get("form_messages", []))


def category_of(kind: Kind) -> Category:
    """The reference data's category as the complaint factory takes it."""
    return Category(kind.code, kind.department, kind.sla_days)


def file_untriaged_complaint(session, contact, message: Message, *, language: str,
                             description: str, district_code: str | None = None,
                             incomplete: bool = False) -> Complaint:
    """File a complaint whose department and category nobody has chosen yet (a phone
    recording, a voicemail): it waits in the triage queue for a person to categorise it.

    ``message`` is the citizen's inbound message that carried it; ``incomplete`` marks one
    whose filing the citizen did not finish (they hung up after recording).
    """
    return create_complaint(
        session, contact=contact, message=message, actor=lifecycle.Actor("citizen", channel=contact.channel),
        channel=contact.channel, language=language, description=description,
        district_code=district_code, incomplete=incomplete, needs_triage=True)


class ActionComplaintStatus(_TurnAction, Action):
    """Tells the status of a complaint, only to the complainant's own contact address."""

    def name(self) -> str:
        return "action_complaint_status"

    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict]:
        turn = self.turns(tracker)
        found = turn.understanding.tracking
        mine = select(Complaint).where(Complaint.citizen_id == turn.contact.citizen_id)
        if found.number:
            complaint = turn.session.scalars(mine.where(Complaint.tracking_number == found.number)).first()
            if complaint is None and not _lookup_allowed(turn):
                _say(dispatcher, "status_lookups_limited")
            elif complaint is None:
                _say(dispatcher, "status_not_found", tracking=turn.tracking(found.number))
            else:
                _say(dispatcher, "status", **status_values(turn, complaint))
            return []
        if found.mistyped:
            _say(dispatcher, "tracking_mistyped", digits=found.mistyped)
            return []
        complaints = list(turn.session.scalars(mine.order_by(Complaint.id.desc()).limit(5)))
        if not complaints:
            _say(dispatcher, "status_none")
        elif len(complaints) == 1:
            _say(dispatcher, "status", **status_values(turn, complaints[0]))
        else:
            lines = "\n".join(
                f"{turn.tracking(c.tracking_number)}: {catalog.text(status_key(c), turn.lang)}"
                for c in complaints)
            _say(dispatcher, "status_list", lines=lines)
        return []


def _lookup_allowed(turn: Turn) -> bool:
    """Spend one look-up of a number that is not the sender's own: a client guessing
    numbers by the hundred meets the hourly limit, a citizen checking their own never
    does (those are not counted). The mail answer budget's table keeps the count."""
    sender = f"contact:{turn.contact.id}"  # one channel address
    return lookup_budget(turn.session, [("status", sender, turn.status_lookups_per_hour)],
                         LOOKUP_WINDOW_SECONDS)


def status_key(complaint: Complaint) -> str:
    """The catalog key (and phone prompt) that names the complaint's state to a citizen."""
    return "status_" + complaint.state


def status_values(turn: Turn, complaint: Complaint) -> dict:
    k, lang = turn.knowledge, turn.lang
    unknown = catalog.text("not_specified", lang)
    return {
        "tracking": turn.tracking(complaint.tracking_number),
        "status": catalog.text(status_key(complaint), lang),
        "department": k.name("department", complaint.department_code, lang) or unknown,
        "district": k.name("district", complaint.district_code, lang) or unknown,
        "filed": complaint.created_at.strftime("%Y-%m-%d"),
    }


class ActionAnswerResolution(_TurnAction, Action):
    """The complainant's yes or no to "are you satisfied?": closes, or reopens and escalates."""

    def name(self) -> str:
        return "action_answer_resolution"

    async def run(self, dispatcher, tracker: Tracker, domain) -> list[dict]:
        turn = self.turns(tracker)
        answer = tracker.get_slot("satisfied")
        reason = tracker.get_slot("reason") or None
        waiting = resolved_complaints(turn.session, turn.contact.citizen_id,
                                      turn.understanding.tracking.number)
        if not waiting:
            _say(dispatcher, "nothing_to_confirm")
            return []
        if len(waiting) > 1:
            turn.state["awaiting"] = {"kind": "which_complaint", "satisfied": answer, "reason": reason}
            _say(dispatcher, "which_complaint",
                 numbers=", ".join(turn.tracking(c.tracking_number) for c in waiting))
            return []
        complaint = waiting[0]
        shown = turn.tracking(complaint.tracking_number)
        try:
            answer_resolution(turn.session, complaint, turn.message, bool(answer), reason)
        except lifecycle.NotTheComplainant:
            # A message whose sender nobody verified (an action call for an address): the
            # same answer as for an address with nothing to confirm.
            _say(dispatcher, "nothing_to_confirm")
            return []
        if answer:
            _say(dispatcher, "closed_thanks", tracking=shown)
        else:
            if reason:
                _say(dispatcher, "reopened_with_reason", tracking=shown)
            else:
                turn.state["awaiting"] = {"kind": "comment", "complaint": complaint.id}
                _say(dispatcher, "reopened", tracking=shown)
        return []


def resolved_complaints(session, citizen_id: int, tracking_number: str | None = None) -> list[Complaint]:
    """The citizen's complaints waiting for their "are you satisfied?" (oldest first)."""
    query = select(Complaint).where(Complaint.citizen_id == citizen_id,
                                    Complaint.state == State.RESOLVED.value)
    if tracking_number:
        query = query.where(Complaint.tracking_number == tracking_number)
    return list(session.scalars(query.order_by(Complaint.id)))


def answer_resolution(session, complaint: Complaint, message: Message, satisfied: bool,
                      reason: str | None = None) -> None:
    """The complainant's own inbound ``message`` carried their yes or no: close, or reopen and
    escalate. Every channel confirms through here; raises lifecycle.TransitionError when the
    complaint is no longer waiting for an answer or the message is not the complainant's
    (then the message is not put on the complaint's timeline either)."""
    if satisfied:
        lifecycle.confirm_satisfied(session, complaint, message)
    else:
        lifecycle.reject_resolution(session, complaint, message, reason)
    message.complaint_id = complaint.id


ACTIONS = (ValidateComplaintForm, ActionSubmitComplaint, ActionComplaintStatus, ActionAnswerResolution)


class TurnExecutor(ActionExecutor):
    """rasa-sdk's executor with the complaint actions, each bound to this executor's open
    turns: ``run_turn`` runs a call for a turn the caller has built (the engine's)."""

    def __init__(self) -> None:
        super().__init__()
        self.turns = OpenTurns()
        for action in ACTIONS:
            self.register_action(action(self.turns))

    async def run_turn(self, turn: Turn, action_call: dict, sink=None, dispatcher=None):
        tracker = action_call.setdefault("tracker", {})
        latest = tracker.setdefault("latest_message", {})
        if not latest.get("message_id"):  # the engine's own call: our message id names it
            latest["message_id"] = f"message-{turn.message.id}"
        with self.turns.opened(tracker, turn):
            return await ActionExecutor.run(self, action_call, sink, dispatcher)
