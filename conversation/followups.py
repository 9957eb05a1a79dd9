"""What a citizen sends about a complaint already filed: the answer to "are you
satisfied?", information and media that join the case, a location pin, and withdrawing.

A mixin of conversation.engine.Engine (see conversation.form).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from conversation.actions import FORM_SLOTS, answer_resolution, resolved_complaints
from conversation.form import FORM, nearest_district
from conversation.knowledge import CATEGORY_CONFIDENT
from conversation.turn import Turn
from storage import lifecycle
from storage.models import OPEN_STATES, Attachment, Complaint, Message, State, utcnow

# A complaint can be taken back by its complainant until it is resolved.
WITHDRAWABLE = tuple(s for s in OPEN_STATES if s != State.RESOLVED)
# What a citizen may add to a case just filed (words that are no command).
INFORMATION = (None, "describe", "add_info", "not_satisfied")


class FollowUps:
    """After filing: satisfaction, information, media, pins and withdrawal."""

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
        elif u.intent in INFORMATION and u.has_words and words >= 2:
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

    def _withdraw(self, turn: Turn) -> None:
        """The citizen wants a complaint taken back: the one they name, else their latest
        that is not yet resolved; asked to confirm first."""
        mine = select(Complaint).where(Complaint.citizen_id == turn.contact.citizen_id,
                                       Complaint.state.in_(WITHDRAWABLE))
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
