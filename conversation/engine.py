"""The conversation engine: one turn per inbound message, whatever the channel.

The engine loads the sender's conversation (its state lives in the database, so any
process can take the next turn), understands the message, runs the complaint actions
(rasa-sdk actions, in-process) and puts its replies in the outbox.
"""

from __future__ import annotations

import asyncio
import math
import threading

from rasa_sdk.executor import ActionExecutor
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from conversation import catalog, language
from conversation.actions import ACTIONS, FORM_SLOTS
from conversation.intake import email_turn
from conversation.knowledge import Knowledge
from conversation.messages import Reply
from conversation.nlu import is_no, is_yes, understand
from conversation.turn import Turn, current
from storage import lifecycle, pii
from storage.messages import conversation_for, finish_turn, queue_outbound_ids
from storage.models import Attachment, Complaint, Conversation, District, Message, utcnow

FORM = "complaint_form"
_DOMAIN = {
    "forms": {FORM: {"required_slots": list(FORM_SLOTS)}},
    "slots": {s: {"type": "any", "mappings": [{"type": "custom"}]} for s in (*FORM_SLOTS, "satisfied", "reason")},
    "responses": {},
}
_LANG_BY_NUMBER = {1: "en", 2: "ur", 3: "ps"}


class Engine:
    """Runs turns. Holds what is costly to build: the action executor and reference data."""

    def __init__(self, knowledge: Knowledge, tracking_prefix: str = "KP") -> None:
        self.knowledge = knowledge
        self.prefix = tracking_prefix
        self.executor = ActionExecutor()
        for action in ACTIONS:
            self.executor.register_action(action)
        self._local = threading.local()

    @classmethod
    def from_session(cls, session: Session, tracking_prefix: str = "KP") -> Engine:
        return cls(Knowledge.load(session), tracking_prefix)

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
        u = understand(message.text, self.prefix)
        lang = self._language(conversation, state, message)
        turn = Turn(session, message, contact, conversation, self.knowledge, u, lang, self.prefix, state)
        token = current.set(turn)
        try:
            # A mail is filed at once or lands on its thread's case (conversation.intake).
            if not (message.channel == "email" and email_turn(turn)):
                self._dispatch(turn)
        finally:
            current.reset(token)
        # The conversation and the message are written on Core (two UPDATEs built once),
        # the replies in one INSERT: the ORM's unit of work costs more than the turn itself.
        finish_turn(session, conversation, message, state=turn.state, language=turn.lang,
                    last_inbound_at=message.received_at or utcnow())
        replies = [{"text": r.redacted or r.text, "full_text": r.text if r.redacted else None,
                    "kind": r.kind, "extras": {"key": r.key} if r.key else None}
                   for r in turn.replies]
        return queue_outbound_ids(session, contact, replies, conversation_id=conversation.id,
                                  complaint_id=message.complaint_id, language=turn.lang)

    def _language(self, conversation: Conversation, state: dict, message: Message) -> str:
        """The conversation's language: chosen once explicitly, else what the citizen writes."""
        if state.get("language_chosen") and conversation.language:
            return conversation.language
        detected = message.language or language.detect(message.text)
        if detected and (conversation.language is None or len(message.text.split()) >= 3
                         or detected != "en"):
            return detected
        return conversation.language or detected or "en"

    # --- routing -------------------------------------------------------------------------

    def _dispatch(self, turn: Turn) -> None:
        u, state = turn.understanding, turn.state
        if turn.contact.opted_out:  # STOP: nothing more until the citizen sends START
            return
        payload = turn.message.payload or {}
        if payload.get("location"):
            turn.state["location"] = list(payload["location"])
            if u.empty:
                self._location(turn, *payload["location"])
                return
        if u.empty and payload.get("media"):
            self._media_only(turn)
            return
        if u.empty and not turn.message.payload.get("media"):
            turn.say("empty_message")
            return
        awaiting = state.get("awaiting") or {}
        if awaiting.get("kind") == "language" and (u.language or u.number in _LANG_BY_NUMBER):
            self._set_language(turn, u.language or _LANG_BY_NUMBER[u.number])
            return
        if u.language and len(u.normalized.split()) <= 2:
            self._set_language(turn, u.language)
            return
        if u.intent == "change_language":
            state["awaiting"] = {"kind": "language"}
            turn.say("language_menu")
            return
        if u.intent == "cancel":
            was_filing = bool(state.get("form"))
            self._clear(state)
            turn.say("complaint_cancelled" if was_filing else "cancelled")
            return
        if awaiting and self._answer_awaited(turn, awaiting):
            return
        if state.get("form"):
            if u.intent == "help":
                turn.say("help")
                self._ask(turn, state["requested_slot"])
                return
            self._form_turn(turn, self._candidate(turn))
            return
        self._route(turn)

    def _route(self, turn: Turn) -> None:
        u = turn.understanding
        if u.intent in ("affirm", "deny"):
            self._answer_resolution(turn, u.intent == "affirm", u.rest)
        elif u.intent == "status" or u.number == 2 or u.tracking.number:
            self._run("action_complaint_status", turn)
        elif u.intent == "new_complaint" or u.number == 1:
            self._start_form(turn, None)
        elif u.intent == "help" or u.number == 3:
            turn.say("help")
        elif u.intent == "greet":
            turn.say("welcome")
        elif info := self._awaiting_info(turn):
            self._record_info(turn, info)
        elif u.has_words and len(u.normalized.split()) >= 3:
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
        if kind == "category_confirm":
            if is_yes(u):
                state.pop("awaiting")
                self._form_turn(turn, awaiting["category"])
            elif is_no(u):
                self._offer_departments(turn)
            else:
                turn.say("yes_or_no")
            return True
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
            else:
                turn.say("invalid_choice")
            return True
        if kind == "summary":
            if is_yes(u):
                self._submit(turn)
            elif is_no(u):
                self._clear(state)
                turn.say("complaint_cancelled")
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
            if u.has_words and u.intent is None and not u.tracking.number:
                complaint = turn.session.get(Complaint, awaiting["complaint"])
                lifecycle.note(turn.session, complaint, lifecycle.Actor("citizen", channel=turn.contact.channel),
                               u.text, kind="citizen_comment", message=turn.message)
                turn.message.complaint_id = complaint.id
                turn.say("comment_recorded", tracking=turn.tracking(complaint.tracking_number))
                return True
            return False
        state.pop("awaiting", None)
        return False

    def _set_language(self, turn: Turn, lang: str) -> None:
        turn.lang = lang
        turn.state["language_chosen"] = True
        if (turn.state.get("awaiting") or {}).get("kind") == "language":
            turn.state.pop("awaiting")
        turn.say("language_set")
        if turn.state.get("form"):
            self._ask(turn, turn.state["requested_slot"])
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
        u = turn.understanding
        if turn.state["requested_slot"] == "name" and u.intent == "skip":
            return ""
        if turn.state["requested_slot"] == "name" and u.intent == "affirm" and turn.state.get("name_suggestion"):
            return pii.unseal(turn.state["name_suggestion"])  # "yes" to the WhatsApp profile name offered
        return u.text

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
        self._ask_next(turn)

    def _ask_next(self, turn: Turn) -> None:
        state = turn.state
        missing = [s for s in FORM_SLOTS if state["slots"].get(s) is None]
        if not missing:
            state["requested_slot"] = None
            state["awaiting"] = {"kind": "summary"}
            turn.say("confirm_summary", personal=("name",) if state["slots"].get("name") else (),
                     **self._summary(turn))
            return
        state["requested_slot"] = missing[0]
        self._ask(turn, missing[0])

    def _ask(self, turn: Turn, slot: str) -> None:
        if slot == "category":
            suggestion = turn.knowledge.suggest_category(turn.state["slots"]["description"] or "")
            if suggestion:
                kind = turn.knowledge.categories[suggestion]
                turn.state["awaiting"] = {"kind": "category_confirm", "category": suggestion}
                turn.say("ask_category_confirm",
                         department=turn.knowledge.name("department", kind.department, turn.lang),
                         category=kind.names[turn.lang])
            else:
                self._offer_departments(turn)
            return
        profile_name = pii.unseal((turn.message.payload or {}).get("profile_name"))
        if slot == "name" and profile_name and any(ch.isalpha() for ch in profile_name):
            # WhatsApp tells the name on the citizen's profile: offer it, they may say yes.
            turn.state["name_suggestion"] = pii.seal(profile_name)
            turn.say("ask_name_suggested", personal=("name",), name=profile_name)
            return
        turn.say({"description": "ask_description", "district": "ask_district",
                  "location_detail": "ask_location", "name": "ask_name"}[slot])

    def _offer_departments(self, turn: Turn) -> None:
        codes = [c for c in turn.knowledge.departments if c in turn.knowledge.by_department]
        turn.state["awaiting"] = {"kind": "department_choice", "choices": codes}
        turn.say("ask_department", options=_numbered(
            turn.knowledge.departments[c][turn.lang] for c in codes))

    def _offer_categories(self, turn: Turn, department: str) -> None:
        codes = turn.knowledge.by_department[department]
        turn.state["awaiting"] = {"kind": "category_choice", "choices": codes}
        turn.say("ask_category", options=_numbered(
            turn.knowledge.categories[c].names[turn.lang] for c in codes))

    def _summary(self, turn: Turn) -> dict:
        slots, k, lang = turn.state["slots"], turn.knowledge, turn.lang
        kind = k.categories[slots["category"]]
        description = slots["description"]
        return {
            "description": description if len(description) <= 300 else description[:297] + "...",
            "district": k.name("district", slots["district"], lang),
            "location": slots["location_detail"],
            "department": k.name("department", kind.department, lang),
            "category": kind.names[lang],
            "name": pii.unseal(slots["name"]) or catalog.text("name_not_given", lang),
        }

    def _submit(self, turn: Turn) -> None:
        self._run("action_submit_complaint", turn)
        self._clear(turn.state)

    @staticmethod
    def _clear(state: dict) -> None:
        for key in ("form", "slots", "requested_slot", "awaiting", "form_messages", "location",
                    "name_suggestion"):
            state.pop(key, None)

    # --- after a complaint is filed ----------------------------------------------------------

    def _answer_resolution(self, turn: Turn, satisfied: bool, reason: str) -> None:
        self._run("action_answer_resolution", turn, slots={"satisfied": satisfied, "reason": reason})

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
        turn.say("info_received", tracking=turn.tracking(complaint.tracking_number))

    # --- media and location pins -------------------------------------------------------------

    def _media_only(self, turn: Turn) -> None:
        """A photo, voice note or document without words joins the complaint being filed,
        or the case waiting for the citizen's information, or starts a complaint."""
        state = turn.state
        if state.get("form"):
            if turn.message.id not in state["form_messages"]:
                state["form_messages"].append(turn.message.id)
            turn.say("media_received")
            self._ask_again(turn)
            return
        if info := self._awaiting_info(turn):
            self._record_info(turn, info)
            turn.session.execute(update(Attachment).where(Attachment.message_id == turn.message.id)
                                 .values(complaint_id=info.id))
            return
        turn.say("media_received")
        self._start_form(turn, None)

    def _location(self, turn: Turn, lat: float, lon: float) -> None:
        """A location pin: the place of the complaint, with the district of the nearest
        district headquarters suggested (a citizen abroad gets no suggestion)."""
        state = turn.state
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
        if turn.state.get("requested_slot"):
            self._ask(turn, turn.state["requested_slot"])
        elif (turn.state.get("awaiting") or {}).get("kind") == "summary":
            turn.say("confirm_summary", personal=("name",) if turn.state["slots"].get("name") else (),
                     **self._summary(turn))

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
        result = self._loop().run_until_complete(self.executor.run(call))
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


def reply_texts(replies: list[Reply]) -> list[str]:
    return [r.text for r in replies]
