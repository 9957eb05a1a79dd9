"""The conversation engine: one turn per inbound message, whatever the channel.

The engine loads the sender's conversation (its state lives in the database, so any
process can take the next turn), understands the message, runs the complaint actions
(rasa-sdk actions, in-process) and puts its replies in the outbox.
"""

from __future__ import annotations

import asyncio
import math
import threading
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from conversation import catalog, language
from conversation.actions import (
    DESCRIPTION_MIN,
    FORM_SLOTS,
    TurnExecutor,
    answer_resolution,
    resolved_complaints,
)
from conversation.intake import email_turn
from conversation.knowledge import CATEGORY_CONFIDENT, Knowledge
from conversation.messages import Reply
from conversation.nlu import Understanding, is_no, is_yes, understand
from conversation.turn import Turn
from storage import lifecycle, pii
from storage.messages import conversation_for, finish_turn, queue_outbound_ids
from storage.models import (
    OPEN_STATES,
    Attachment,
    Complaint,
    Conversation,
    District,
    Message,
    State,
    utcnow,
)

# A complaint can be taken back by its complainant until it is resolved.
_WITHDRAWABLE = tuple(s for s in OPEN_STATES if s != State.RESOLVED)

FORM = "complaint_form"
_DOMAIN = {
    "forms": {FORM: {"required_slots": list(FORM_SLOTS)}},
    "slots": {s: {"type": "any", "mappings": [{"type": "custom"}]}
              for s in (*FORM_SLOTS, "name", "confidential", "satisfied", "reason")},
    "responses": {},
}
_LANG_BY_NUMBER = {1: "en", 2: "ur", 3: "ps"}
FOLLOW_UP_HOURS = 24  # default: what the citizen sends this long after filing joins the case
# Intents a citizen can be offered when the model is unsure ("did you mean 1, 2 or 3?").
_MENU = {"new_complaint": "menu_new_complaint", "describe": "menu_new_complaint",
         "status": "menu_status", "help": "menu_help", "withdraw": "menu_withdraw"}
# What a citizen may add to a case just filed (words that are no command).
_INFORMATION = (None, "describe", "add_info", "not_satisfied")


class Engine:
    """Runs turns. Holds what is costly to build: the action executor, reference data and
    the trained understanding."""

    def __init__(self, knowledge: Knowledge, tracking_prefix: str = "KP",
                 follow_up_hours: float = FOLLOW_UP_HOURS, status_lookups_per_hour: int = 20) -> None:
        self.knowledge = knowledge
        self.prefix = tracking_prefix
        self.status_lookups_per_hour = status_lookups_per_hour
        self.follow_up = timedelta(hours=follow_up_hours)
        self.executor = TurnExecutor()
        self._local = threading.local()
        self._intents = knowledge.models.intents if knowledge.models else None

    @classmethod
    def from_session(cls, session: Session, tracking_prefix: str = "KP",
                     cache_dir: Path | None = None,
                     follow_up_hours: float = FOLLOW_UP_HOURS,
                     status_lookups_per_hour: int = 20) -> Engine:
        """``cache_dir`` keeps the trained understanding between starts (under var/)."""
        return cls(Knowledge.load(session, cache_dir), tracking_prefix, follow_up_hours,
                   status_lookups_per_hour)

    # --- the turn ------------------------------------------------------------------------

    def handle(self, session: Session, message: Message | int,
               conversation: Conversation | None = None) -> list[int]:
        """Take one turn for a stored inbound message; returns the ids of the queued replies.

        ``conversation`` is the sender's, when the caller loaded it with the message.
        A message already handled (a job run twice) is not handled again.
        """
        if isinstance(message, int):
            message = session.get(Message, message)
        if message is None or message.direction != "in" or message.status == "processed":
            return []
        contact = message.contact
        if conversation is None or conversation.contact_id != contact.id:
            conversation = conversation_for(session, contact.id)
        state = dict(conversation.state or {})
        # An answer of more than a few words inside the form is an answer, never a command
        # (see _command): the intent model need not read it.
        long_answer = bool(state.get("form")) and len(message.text.split()) > 6
        u = understand(message.text, self.prefix, None if long_answer else self._intents)
        lang = self._language(conversation, state, message)
        turn = Turn(session, message, contact, conversation, self.knowledge, u, lang, self.prefix, state,
                    status_lookups_per_hour=self.status_lookups_per_hour)
        # A mail is filed at once or lands on its thread's case (conversation.intake).
        if not (message.channel == "email" and email_turn(turn)):
            self._dispatch(turn)
        # The conversation and the message are written on Core (two UPDATEs built once),
        # the replies in one INSERT: the ORM's unit of work costs more than the turn itself.
        finish_turn(session, conversation, message, state=turn.state, language=turn.lang,
                    last_inbound_at=message.received_at or utcnow())
        replies = [{"text": r.redacted or r.text, "full_text": r.text if r.redacted else None,
                    "kind": r.kind, "extras": _extras(r)} for r in turn.replies]
        return queue_outbound_ids(session, contact, replies, conversation_id=conversation.id,
                                  complaint_id=message.complaint_id, language=turn.lang)

    def _language(self, conversation: Conversation, state: dict, message: Message) -> str:
        """The conversation's language: chosen once explicitly, else the language of the
        citizen's messages so far, weighed (conversation.language.vote), not the last word."""
        if state.get("language_chosen") and conversation.language:
            return conversation.language
        if message.language:  # the channel knows (a call's chosen language, a letter's)
            return message.language
        leader, state["languages"] = language.vote(state.get("languages"), message.text)
        return leader or conversation.language or "en"

    # --- routing -------------------------------------------------------------------------

    def _dispatch(self, turn: Turn) -> None:
        u, state = turn.understanding, turn.state
        if turn.contact.opted_out:  # STOP: nothing more until the citizen sends START
            return
        payload = turn.message.payload or {}
        if payload.get("location") and u.empty:
            self._location(turn, *payload["location"])
            return
        if payload.get("location"):
            turn.state["location"] = list(payload["location"])
        if u.empty and payload.get("media"):
            self._media_only(turn)
            return
        if u.empty and not payload.get("media"):
            turn.say("empty_message")
            return
        awaiting = state.get("awaiting") or {}
        if awaiting.get("kind") == "language" and (u.language or u.number in _LANG_BY_NUMBER):
            self._set_language(turn, u.language or _LANG_BY_NUMBER[u.number])
            return
        if u.language and len(u.normalized.split()) <= 2:
            self._set_language(turn, u.language)
            return
        if _command(u, "change_language"):
            state["awaiting"] = {"kind": "language"}
            turn.say("language_menu")
            return
        if _command(u, "cancel"):
            was_filing = bool(state.get("form"))
            self._clear(state)
            turn.say("complaint_cancelled" if was_filing else "cancelled")
            return
        if awaiting and self._answer_awaited(turn, awaiting):
            return
        if state.get("form"):
            if _command(u, "help"):
                turn.say("help")
                self._ask_again(turn)
                return
            self._form_turn(turn, self._candidate(turn))
            return
        if state.get("satisfaction") and self._answer_satisfaction(turn):
            return
        self._route(turn)

    def _route(self, turn: Turn) -> None:
        u = turn.understanding
        if _unsure(u):
            # Two readings nearly as likely ("meri shikayat": a new one, or its status?):
            # asked, not guessed.
            options = _menu_options(u)
            turn.state["awaiting"] = {"kind": "intent_choice", "choices": options}
            self._say_options(turn, "did_you_mean", [catalog.text(_MENU[o], turn.lang) for o in options])
        elif u.intent in ("affirm", "deny") and len(u.rest.split()) >= 3 and not self._waiting(turn):
            # "No water in our street for three days": a description, not an answer.
            self._start_form(turn, u.text)
        elif u.intent in ("affirm", "deny") or (u.intent == "satisfied" and self._waiting(turn)):
            self._answer_resolution(turn, u.intent != "deny", u.rest)
        elif u.intent == "not_satisfied" and self._waiting(turn):
            self._answer_resolution(turn, False, u.rest or u.text)
        elif u.intent == "status" or u.number == 2 or u.tracking.number:
            self._run("action_complaint_status", turn)
        elif u.intent == "withdraw":
            self._withdraw(turn)
        elif u.intent == "new_complaint" or u.number == 1:
            # "I want to complain, there is no water in Mardan": the complaint is in it.
            ranked = turn.knowledge.rank_categories(u.text, 1)
            confident = ranked and ranked[0][1] >= CATEGORY_CONFIDENT and u.number is None
            self._start_form(turn, u.text if confident else None)
        elif u.intent == "help" or u.number == 3:
            turn.say("help")
        elif u.intent == "greet":
            turn.say("welcome")
        elif u.intent == "thanks":
            turn.say("you_are_welcome")
        elif info := self._awaiting_info(turn):
            self._record_info(turn, info)
        elif u.intent in _INFORMATION and (case := self._recent_case(turn)) is not None:
            self._information(turn, case)
        elif u.has_words and (len(u.normalized.split()) >= 3 or (
                u.intent in ("describe", "add_info", "not_satisfied")
                and sum(ch.isalpha() for ch in u.normalized) >= DESCRIPTION_MIN)):
            # A citizen who writes the problem straight away has started a complaint.
            self._start_form(turn, u.text)
        else:
            turn.say("not_understood")

    # --- answers to a question we asked ----------------------------------------------------

    def _answer_awaited(self, turn: Turn, awaiting: dict) -> bool:
        u, state, kind = turn.understanding, turn.state, awaiting["kind"]
        k = turn.knowledge
        if kind == "district_choice":
            if u.number and 1 <= u.number <= len(awaiting["choices"]):
                state.pop("awaiting")
                self._form_turn(turn, k.districts[awaiting["choices"][u.number - 1]].names["en"])
                return True
            state.pop("awaiting")
            return False  # a new try at the name: the form takes it
        if kind == "department_choice":
            codes = awaiting["choices"]
            if u.number and 1 <= u.number <= len(codes):
                self._offer_categories(turn, codes[u.number - 1])
            else:
                turn.say("invalid_choice")
            return True
        if kind == "category_choice":
            codes = awaiting["choices"]
            if u.number and 1 <= u.number <= len(codes):
                state.pop("awaiting")
                self._form_turn(turn, codes[u.number - 1])
            elif u.number and awaiting.get("other") and u.number == len(codes) + 1:
                self._offer_departments(turn)  # "something else": every department
            elif not u.number and (code := self._category_from_words(turn, codes)):
                state.pop("awaiting")
                self._form_turn(turn, code)
            else:
                turn.say("invalid_choice")
            return True
        if kind == "confirm":
            if is_yes(u) or is_no(u):
                # "Is this complaint against an officer of that department?" YES files it
                # confidentially, NO files it as it is.
                state["slots"]["confidential"] = is_yes(u)
                self._submit(turn)
            else:
                turn.say("yes_or_no")
            return True
        if kind == "which_complaint":
            if u.tracking.number:
                state.pop("awaiting")
                self._answer_resolution(turn, awaiting["satisfied"], awaiting.get("reason") or "")
                return True
            state.pop("awaiting")
            return False
        if kind == "comment":
            state.pop("awaiting")
            if u.has_words and u.intent in _INFORMATION and not u.tracking.number:
                complaint = turn.session.get(Complaint, awaiting["complaint"])
                lifecycle.note(turn.session, complaint, lifecycle.Actor("citizen", channel=turn.contact.channel),
                               u.text, kind="citizen_comment", message=turn.message)
                turn.message.complaint_id = complaint.id
                turn.say("comment_recorded", tracking=turn.tracking(complaint.tracking_number))
                return True
            return False
        if kind == "withdraw_confirm":
            complaint = turn.session.get(Complaint, awaiting["complaint"])
            if is_yes(u):
                state.pop("awaiting")
                self._withdrawn(turn, complaint, awaiting.get("reason"))
            elif is_no(u):
                state.pop("awaiting")
                turn.say("withdraw_kept", tracking=turn.tracking(complaint.tracking_number))
            else:
                turn.say("yes_or_no")
            return True
        if kind == "which_case":
            state.pop("awaiting")
            if u.number == 1:
                complaint = turn.session.get(Complaint, awaiting["complaint"])
                first = turn.session.get(Message, awaiting["message"])
                self._add_information(turn, complaint, first, awaiting["text"])
                turn.say("comment_recorded", tracking=turn.tracking(complaint.tracking_number))
                return True
            if u.number == 2:
                state.pop("filed", None)
                self._start_form(turn, awaiting["text"])
                return True
            return False
        if kind == "intent_choice":
            state.pop("awaiting")
            choices = awaiting["choices"]
            if not (u.number and 1 <= u.number <= len(choices)):
                return False
            chosen = choices[u.number - 1]
            if chosen in ("new_complaint", "describe"):
                self._start_form(turn, None)
            elif chosen == "status":
                self._run("action_complaint_status", turn)
            elif chosen == "withdraw":
                self._withdraw(turn)
            else:
                turn.say("help")
            return True
        state.pop("awaiting", None)
        return False

    def _set_language(self, turn: Turn, lang: str) -> None:
        turn.lang = lang
        turn.state["language_chosen"] = True
        if (turn.state.get("awaiting") or {}).get("kind") == "language":
            turn.state.pop("awaiting")
        turn.say("language_set")
        if turn.state.get("form"):
            self._ask_again(turn)
        else:
            turn.say("welcome")

    # --- the complaint form --------------------------------------------------------------

    def _start_form(self, turn: Turn, description: str | None) -> None:
        state = turn.state
        self._clear(state)
        state.update(form=FORM, slots=dict.fromkeys(FORM_SLOTS), requested_slot="description",
                     form_messages=[])
        if description is None:
            state["form_messages"].append(turn.message.id)
            turn.say("ask_description")
        else:
            self._form_turn(turn, description)

    def _candidate(self, turn: Turn) -> str:
        return turn.understanding.text

    def _form_turn(self, turn: Turn, value: str) -> None:
        """Validate the answer to the requested slot, then ask the next question."""
        state = turn.state
        requested = state["requested_slot"]
        if requested == "name":
            # The answer to "your name?" is personal data: it lives only encrypted (the
            # citizen's record, the sealed slot), its message keeps no text and is never
            # linked to the complaint (a confidential complaint's timeline must not show it).
            turn.message.text = pii.REDACTED if turn.message.text else turn.message.text
        elif turn.message.id not in state["form_messages"]:
            state["form_messages"].append(turn.message.id)
        events = [{"event": "action", "name": "action_listen"},
                  {"event": "user", "text": turn.understanding.text},
                  {"event": "slot", "name": requested, "value": value}]
        result = self._run("validate_complaint_form", turn, events=events)
        for event in result.events:
            if event.get("event") == "slot" and event.get("name") in FORM_SLOTS:
                value = event["value"]
                if event["name"] == "name" and value:
                    value = pii.seal(value)  # the conversation's state is stored in clear
                state["slots"][event["name"]] = value
        if state["slots"].get(requested) is None:
            if not result.responses and not state.get("awaiting"):
                self._ask(turn, requested)
            return
        if requested == "description":
            self._prefill(turn, state["slots"]["description"])
        self._ask_next(turn)

    def _prefill(self, turn: Turn, text: str) -> None:
        """Fill every slot the description already gives: the district (or a town in it,
        which is also the place), and the category when the model is sure of it."""
        slots, k = turn.state["slots"], turn.knowledge
        if slots.get("district") is None:
            found = k.place_in_text(text)
            if found:
                slots["district"], town = found
                if town and slots.get("location_detail") is None:
                    slots["location_detail"] = town
        if slots.get("category") is None:
            ranked = k.rank_categories(text, 3)
            if ranked and ranked[0][1] >= CATEGORY_CONFIDENT:
                slots["category"] = ranked[0][0]

    def _ask_next(self, turn: Turn) -> None:
        state = turn.state
        missing = [s for s in FORM_SLOTS if state["slots"].get(s) is None]
        if not missing:
            state["requested_slot"] = None
            state["awaiting"] = {"kind": "confirm"}
            turn.say("confirm_confidential", **self._summary(turn))
            return
        state["requested_slot"] = missing[0]
        self._ask(turn, missing[0])

    def _ask(self, turn: Turn, slot: str) -> None:
        if slot == "category":
            ranked = turn.knowledge.rank_categories(turn.state["slots"]["description"] or "", 3)
            if not ranked:
                self._offer_departments(turn)
                return
            codes = [code for code, _ in ranked]
            turn.state["awaiting"] = {"kind": "category_choice", "choices": codes, "other": True}
            names = [turn.knowledge.name("category", c, turn.lang) for c in codes]
            self._say_options(turn, "ask_category", [*names, catalog.text("something_else", turn.lang)])
            return
        turn.say({"description": "ask_description", "district": "ask_district",
                  "location_detail": "ask_location"}[slot])

    def _category_from_words(self, turn: Turn, offered: list[str]) -> str | None:
        """A category named in words instead of a number: read with the description."""
        description = turn.state["slots"].get("description") or ""
        ranked = turn.knowledge.rank_categories(f"{turn.understanding.text} {description}", 1)
        if ranked and (ranked[0][1] >= CATEGORY_CONFIDENT or ranked[0][0] in offered):
            return ranked[0][0]
        return None

    def _offer_departments(self, turn: Turn) -> None:
        codes = [c for c in turn.knowledge.departments if c in turn.knowledge.by_department]
        turn.state["awaiting"] = {"kind": "department_choice", "choices": codes}
        self._say_options(turn, "ask_department",
                          [turn.knowledge.name("department", c, turn.lang) for c in codes])

    def _offer_categories(self, turn: Turn, department: str) -> None:
        codes = turn.knowledge.by_department[department]
        turn.state["awaiting"] = {"kind": "category_choice", "choices": codes}
        self._say_options(turn, "ask_category",
                          [turn.knowledge.name("category", c, turn.lang) for c in codes])

    def _say_options(self, turn: Turn, key: str, names: list[str]) -> None:
        turn.say(key, options=_numbered(names), choices=tuple(names))

    def _summary(self, turn: Turn) -> dict:
        slots, k, lang = turn.state["slots"], turn.knowledge, turn.lang
        kind = k.categories[slots["category"]]
        description = slots["description"]
        return {
            "description": description if len(description) <= 300 else description[:297] + "...",
            "district": k.name("district", slots["district"], lang),
            "location": slots["location_detail"],
            "department": k.name("department", kind.department, lang),
            "category": k.name("category", kind.code, lang),
        }

    def _submit(self, turn: Turn) -> None:
        self._run("action_submit_complaint", turn)
        self._clear(turn.state)
        if turn.message.complaint_id:
            # What the citizen sends next for a while joins this case (see _recent_case).
            turn.state["filed"] = {"complaint": turn.message.complaint_id, "at": utcnow().isoformat()}

    @staticmethod
    def _clear(state: dict) -> None:
        for key in ("form", "slots", "requested_slot", "awaiting", "form_messages", "location",
                    "name_suggestion"):
            state.pop(key, None)

    # --- after a complaint is filed ----------------------------------------------------------

    def _waiting(self, turn: Turn) -> bool:
        """Whether a complaint of this citizen waits for their "are you satisfied?"."""
        return bool(resolved_complaints(turn.session, turn.contact.citizen_id))

    def _answer_resolution(self, turn: Turn, satisfied: bool, reason: str) -> None:
        self._run("action_answer_resolution", turn, slots={"satisfied": satisfied, "reason": reason})

    def _answer_satisfaction(self, turn: Turn) -> bool:
        """The answer to "are you satisfied?" just asked, read against that question first:
        yes, no, or the reason it is not solved ("water is still not coming")."""
        u, state = turn.understanding, turn.state
        complaint = turn.session.get(Complaint, state["satisfaction"])
        if complaint is None or complaint.state != State.RESOLVED:
            state.pop("satisfaction")
            return False
        if u.tracking.number and u.tracking.number != complaint.tracking_number:
            return False  # about another complaint
        words = len(u.normalized.split())
        if (u.intent in ("affirm", "satisfied") or (u.number == 1 and u.source == "rule")
                or (u.intent == "thanks" and words >= 3)):  # "all good now, thank you"
            satisfied, reason = True, None
        elif u.intent == "deny" or (u.number == 2 and u.source == "rule"):
            satisfied, reason = False, u.rest or None
        elif u.intent in _INFORMATION and u.has_words and words >= 2:
            satisfied, reason = False, u.rest or u.text
        else:
            return False  # a question, a new complaint ...: the answer can wait
        state.pop("satisfaction")
        shown = turn.tracking(complaint.tracking_number)
        answer_resolution(turn.session, complaint, turn.message, satisfied, reason)
        if satisfied:
            turn.say("closed_thanks", tracking=shown)
        elif reason:
            turn.say("reopened_with_reason", tracking=shown)
        else:
            state["awaiting"] = {"kind": "comment", "complaint": complaint.id}
            turn.say("reopened", tracking=shown)
        return True

    def _awaiting_info(self, turn: Turn) -> Complaint | None:
        complaint_id = turn.state.get("info_for")
        return turn.session.get(Complaint, complaint_id) if complaint_id else None

    def _record_info(self, turn: Turn, complaint: Complaint) -> None:
        turn.state.pop("info_for", None)
        turn.message.complaint_id = complaint.id
        if complaint.state == "awaiting_info":
            lifecycle.info_received(turn.session, complaint, turn.message)
        else:
            lifecycle.note(turn.session, complaint, lifecycle.Actor("citizen", channel=turn.contact.channel),
                           turn.understanding.text, kind="citizen_comment", message=turn.message)
        self._attach(turn, complaint)
        turn.say("info_received", tracking=turn.tracking(complaint.tracking_number))

    def _recent_case(self, turn: Turn) -> Complaint | None:
        """The complaint this citizen filed here within the follow-up time, while open."""
        filed = turn.state.get("filed")
        if not filed:
            return None
        if utcnow() - datetime.fromisoformat(filed["at"]) > self.follow_up:
            turn.state.pop("filed")
            return None
        complaint = turn.session.get(Complaint, filed["complaint"])
        if complaint is None or complaint.state not in OPEN_STATES or complaint.state == State.RESOLVED:
            turn.state.pop("filed")
            return None
        return complaint

    def _information(self, turn: Turn, complaint: Complaint) -> None:
        """Words after filing join the case, unless they may be another complaint: then the
        citizen is asked, once, which it is."""
        u, k = turn.understanding, turn.knowledge
        words = len(u.normalized.split())
        if u.intent == "describe" and words >= 4 and complaint.category_code:
            # Another complaint reads like one: a problem for another department, told in
            # full (with its place, or at length). A detail of the same problem does not.
            ranked = k.rank_categories(u.text, 1)
            other = ranked and ranked[0][1] >= CATEGORY_CONFIDENT and (
                k.categories[ranked[0][0]].department != k.categories[complaint.category_code].department)
            if other and (words >= 10 or k.place_in_text(u.text)):
                turn.state["awaiting"] = {"kind": "which_case", "complaint": complaint.id,
                                          "text": u.text, "message": turn.message.id}
                turn.say("which_case", tracking=turn.tracking(complaint.tracking_number))
                return
        self._add_information(turn, complaint, turn.message, u.text)
        turn.say("comment_recorded", tracking=turn.tracking(complaint.tracking_number))

    def _add_information(self, turn: Turn, complaint: Complaint, message: Message, text: str | None,
                         data: dict | None = None) -> None:
        media = len((message.payload or {}).get("media") or [])
        data = {**({"media": media} if media else {}), **(data or {})}
        lifecycle.add_information(turn.session, complaint, message,
                                  lifecycle.Actor("citizen", channel=turn.contact.channel), text, data)
        message.complaint_id = complaint.id
        if message is not turn.message:
            turn.message.complaint_id = complaint.id
        self._attach(turn, complaint, message)

    @staticmethod
    def _attach(turn: Turn, complaint: Complaint, message: Message | None = None) -> None:
        """Photos, voice notes and documents of the message become the case's."""
        message = message or turn.message
        turn.session.execute(update(Attachment).where(Attachment.message_id == message.id,
                                                      Attachment.complaint_id.is_(None))
                             .values(complaint_id=complaint.id))

    # --- withdrawing a complaint ---------------------------------------------------------------

    def _withdraw(self, turn: Turn) -> None:
        """The citizen wants a complaint taken back: the one they name, else their latest
        that is not yet resolved; asked to confirm first."""
        mine = select(Complaint).where(Complaint.citizen_id == turn.contact.citizen_id,
                                       Complaint.state.in_(_WITHDRAWABLE))
        number = turn.understanding.tracking.number
        if number:
            mine = mine.where(Complaint.tracking_number == number)
        complaint = turn.session.scalars(mine.order_by(Complaint.id.desc()).limit(1)).first()
        if complaint is None:
            turn.say("withdraw_none")
            return
        turn.state["awaiting"] = {"kind": "withdraw_confirm", "complaint": complaint.id,
                                  "reason": turn.understanding.text}
        turn.say("withdraw_confirm", tracking=turn.tracking(complaint.tracking_number))

    def _withdrawn(self, turn: Turn, complaint: Complaint, reason: str | None) -> None:
        try:
            lifecycle.withdraw(turn.session, complaint, turn.message,
                               reason or turn.understanding.text)
        except lifecycle.TransitionError:  # resolved or closed meanwhile
            turn.say("withdraw_none")
            return
        turn.message.complaint_id = complaint.id
        if (turn.state.get("filed") or {}).get("complaint") == complaint.id:
            turn.state.pop("filed")
        turn.say("withdrawn", tracking=turn.tracking(complaint.tracking_number))

    # --- media and location pins -------------------------------------------------------------

    def _media_only(self, turn: Turn) -> None:
        """A photo, voice note or document without words joins the complaint being filed,
        the case waiting for the citizen's information, the case just filed, or starts a
        complaint."""
        state = turn.state
        if state.get("form"):
            if turn.message.id not in state["form_messages"]:
                state["form_messages"].append(turn.message.id)
            turn.say("media_received")
            self._ask_again(turn)
            return
        if info := self._awaiting_info(turn):
            self._record_info(turn, info)
            return
        if (case := self._recent_case(turn)) is not None:
            self._add_information(turn, case, turn.message, None)
            turn.say("comment_recorded", tracking=turn.tracking(case.tracking_number))
            return
        turn.say("media_received")
        self._start_form(turn, None)

    def _location(self, turn: Turn, lat: float, lon: float) -> None:
        """A location pin: the place of the complaint, with the district of the nearest
        district headquarters suggested (a citizen abroad gets no suggestion); after filing,
        the place of the case just filed."""
        state = turn.state
        if not state.get("form") and (case := self._recent_case(turn)) is not None:
            self._add_information(turn, case, turn.message, None, {"location": [lat, lon]})
            turn.say("comment_recorded", tracking=turn.tracking(case.tracking_number))
            return
        if not state.get("form"):
            self._clear(state)
            state.update(form=FORM, slots=dict.fromkeys(FORM_SLOTS), requested_slot="description",
                         form_messages=[])
        if turn.message.id not in state["form_messages"]:
            state["form_messages"].append(turn.message.id)
        state["location"] = [lat, lon]
        code = nearest_district(turn.session, lat, lon)
        if code and state["slots"].get("district") is None:
            state["slots"]["district"] = code
            if (state.get("awaiting") or {}).get("kind") == "district_choice":
                state.pop("awaiting")
            turn.say("location_district", district=turn.knowledge.name("district", code, turn.lang))
        else:
            turn.say("location_received")
        if state.get("requested_slot") == "district":
            self._ask_next(turn)
        else:
            self._ask_again(turn)

    def _ask_again(self, turn: Turn) -> None:
        awaiting = turn.state.get("awaiting") or {}
        if awaiting.get("kind") == "confirm":
            turn.say("confirm_confidential", **self._summary(turn))
        elif turn.state.get("requested_slot"):
            self._ask(turn, turn.state["requested_slot"])

    # --- running rasa-sdk actions in-process ------------------------------------------------

    def _run(self, action: str, turn: Turn, *, events: list | None = None, slots: dict | None = None):
        u = turn.understanding
        call = {
            "next_action": action,
            "sender_id": str(turn.conversation.id),
            "tracker": {
                "sender_id": str(turn.conversation.id),
                "slots": {**(turn.state.get("slots") or {}), **(slots or {})},
                "latest_message": {"text": u.text, "intent": {"name": u.intent},
                                   "entities": [{"entity": "tracking", "value": u.tracking.number}]
                                   if u.tracking.number else []},
                "events": events or [],
                "active_loop": {"name": turn.state.get("form")} if turn.state.get("form") else {},
                "latest_action_name": "action_listen",
            },
            "domain": _DOMAIN,
        }
        result = self._loop().run_until_complete(self.executor.run_turn(turn, call))
        for response in result.responses:
            values = {k: v for k, v in response.items()
                      if k not in ("text", "buttons", "elements", "custom", "template", "response",
                                   "image", "attachment") and v is not None}
            turn.say(response["response"], **values)
        return result

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
        return loop


def nearest_district(session: Session, lat: float, lon: float, max_km: float = 150.0) -> str | None:
    """The district whose headquarters is nearest to the point, if one is within ``max_km``."""
    best: tuple[float, str] | None = None
    for code, dlat, dlon in session.execute(select(District.code, District.lat, District.lon)):
        if dlat is None or dlon is None:
            continue
        p1, p2 = math.radians(lat), math.radians(dlat)
        h = (math.sin((p2 - p1) / 2) ** 2
             + math.cos(p1) * math.cos(p2) * math.sin(math.radians(dlon - lon) / 2) ** 2)
        km = 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))
        if best is None or km < best[0]:
            best = (km, code)
    return best[1] if best is not None and best[0] <= max_km else None


def _numbered(names) -> str:
    return "\n".join(f"{i} {name}" for i, name in enumerate(names, 1))


def _command(u: Understanding, intent: str) -> bool:
    """A command counts when it is a known short answer, or the model is sure of it in a
    short message: a description that happens to say "leave it" stays a description."""
    if u.intent != intent:
        return False
    return u.source == "rule" or (u.confidence >= 0.75 and len(u.normalized.split()) <= 6)


def _unsure(u: Understanding) -> bool:
    """A short message the model cannot tell between menu choices: below the confidence
    threshold, or its two best readings close."""
    if (u.source != "model" or u.tracking.number or len(u.normalized.split()) > 4
            or len(_menu_options(u)) < 2):
        return False
    if u.intent is None:
        return True
    first, second = u.ranked[0], u.ranked[1]
    return first[0] in _MENU and second[0] in _MENU and first[1] - second[1] < 0.25


def _menu_options(u: Understanding) -> list[str]:
    """What an unsure reading of a short message could have meant, as menu choices."""
    if len(u.normalized.split()) > 6 or not u.ranked or u.ranked[0][1] < 0.25:
        return []
    return list(dict.fromkeys(i for i, _ in u.ranked if i in _MENU
                              and (i != "describe" or "new_complaint" not in [j for j, _ in u.ranked])))[:3]


def _extras(reply: Reply) -> dict | None:
    extras = {"key": reply.key} if reply.key else {}
    if reply.options:
        extras["options"] = list(reply.options)  # a channel with buttons shows these
    return extras or None


def reply_texts(replies: list[Reply]) -> list[str]:
    return [r.text for r in replies]
