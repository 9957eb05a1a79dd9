"""The conversation engine: one turn per inbound message, whatever the channel.

The engine loads the sender's conversation (its state lives in the database, so any
process can take the next turn), understands the message, runs the complaint actions
(rasa-sdk actions, in-process) and puts its replies in the outbox.

This module routes a turn; the complaint form is conversation.form, what follows a filed
complaint (satisfaction, information, media, pins, withdrawal) conversation.followups.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from conversation import catalog, language
from conversation.actions import (
    DESCRIPTION_MIN,
    FORM_SLOTS,
    TurnExecutor,
)
from conversation.followups import INFORMATION, FollowUps
from conversation.form import FORM, ComplaintForm
from conversation.form import (
    nearest_district as nearest_district,  # conversation.app_intake reads it here
)
from conversation.intake import email_turn
from conversation.knowledge import CATEGORY_CONFIDENT, Knowledge
from conversation.messages import Reply
from conversation.nlu import Understanding, is_no, is_yes, understand
from conversation.turn import Turn
from storage import lifecycle
from storage.messages import conversation_for, finish_turn, queue_outbound_ids
from storage.models import (
    Complaint,
    Conversation,
    Message,
    utcnow,
)

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


class Engine(ComplaintForm, FollowUps):
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
        elif u.intent in INFORMATION and (case := self._recent_case(turn)) is not None:
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
            if u.has_words and u.intent in INFORMATION and not u.tracking.number:
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
        result = self._complete(self.executor.run_turn(turn, call))
        for response in result.responses:
            values = {k: v for k, v in response.items()
                      if k not in ("text", "buttons", "elements", "custom", "template", "response",
                                   "image", "attachment") and v is not None}
            turn.say(response["response"], **values)
        return result

    def _complete(self, coroutine):
        """Run an action to its end. The actions are async only by rasa-sdk's signature and
        never wait on anything, so the coroutine is stepped here directly: an event loop's
        round trip per action cost more than the executor itself. One that does wait (a
        future action doing I/O) is finished on this thread's loop."""
        loop = self._loop()
        # Marked running while stepped, as a loop does, so an action that does wait finds it.
        asyncio.events._set_running_loop(loop)
        try:
            waiting_on = coroutine.send(None)
        except StopIteration as done:
            return done.value
        finally:
            asyncio.events._set_running_loop(None)
        return loop.run_until_complete(_Resume(coroutine, waiting_on))

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
        return loop


class _Resume:
    """An awaitable that carries on a coroutine already stepped once outside the loop."""

    def __init__(self, coroutine, waiting_on) -> None:
        self.coroutine, self.waiting_on = coroutine, waiting_on

    def __await__(self):
        sent = yield self.waiting_on
        while True:
            try:
                waiting_on = self.coroutine.send(sent)
            except StopIteration as done:
                return done.value
            sent = yield waiting_on


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
