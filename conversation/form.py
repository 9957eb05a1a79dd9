"""The complaint form: the questions a complaint needs answered, asked only when the first
message (or a location pin) did not already answer them.

A mixin of conversation.engine.Engine: its methods take the engine's turn and call the
engine's rasa-sdk actions (``self._run``).
"""

from __future__ import annotations

import functools
import math

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import CONFIG_DIR
from conversation import catalog
from conversation.actions import FORM_SLOTS
from conversation.knowledge import CATEGORY_CONFIDENT, CATEGORY_LIKELY
from conversation.turn import Turn
from storage import pii
from storage.models import District, utcnow

FORM = "complaint_form"
TWINS_FILE = CONFIG_DIR / "nlu" / "twins.yaml"


@functools.cache
def _twins() -> tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]]]:
    """(districts each department serves alone, each twin category's group) from
    config/nlu/twins.yaml."""
    data = yaml.safe_load(TWINS_FILE.read_text(encoding="utf-8"))
    served = {dept: frozenset(codes) for dept, codes in data["served_by"].items()}
    groups = {code: tuple(group) for group in data["twins"] for code in group}
    return served, groups


def rank_in_district(ranked: list[tuple[str, float]], district: str | None,
                     department_of: dict[str, str]) -> list[tuple[str, float]]:
    """The model's ranking with twin categories (one problem, a department by district)
    merged into the one that serves ``district``, their probabilities added."""
    if district is None:
        return ranked
    served, groups = _twins()
    merged: dict[str, float] = {}
    for code, p in ranked:
        group = groups.get(code)
        if group:
            # The member of a department that serves only some districts, if this is one;
            # else the member of the department that serves everywhere else.
            limited = [c for c in group if department_of.get(c) in served]
            here = [c for c in limited if district in served[department_of[c]]]
            code = here[0] if here else next((c for c in group if c not in limited), code)
        merged[code] = merged.get(code, 0.0) + p
    return sorted(merged.items(), key=lambda item: -item[1])


class ComplaintForm:
    """Filling the complaint's slots: description, district, place, category, then the
    confirmation."""

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
            slots["category"] = self._sure_category(turn, text)

    def _sure_category(self, turn: Turn, text: str) -> str | None:
        """The category to take without asking: the likeliest, when the model is sure of it,
        or sure of its department (the likeliest categories of one department together, as
        "the patwari asks money for my fard": bribery or the record, one office either
        way) and the category at least likely; else None (the citizen chooses)."""
        ranked = self._categories(turn, text)
        if not ranked:
            return None
        best, p = ranked[0]
        if p >= CATEGORY_CONFIDENT:
            return best
        k = turn.knowledge
        department = k.categories[best].department
        same = sum(q for code, q in ranked if k.categories[code].department == department)
        return best if p >= CATEGORY_LIKELY and same >= CATEGORY_CONFIDENT else None

    def _categories(self, turn: Turn, text: str, n: int = 3) -> list[tuple[str, float]]:
        """The likeliest categories of a description, twins merged once the district is known
        (see config/nlu/twins.yaml)."""
        k = turn.knowledge
        district = turn.state["slots"].get("district")
        ranked = k.rank_categories(text, n + 3 if district else n)
        department_of = {code: k.categories[code].department for code, _ in ranked}
        return rank_in_district(ranked, district, department_of)[:n]

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
            description = turn.state["slots"]["description"] or ""
            if sure := self._sure_category(turn, description):
                # Sure now that the district is known (twins merged): not asked.
                turn.state["slots"]["category"] = sure
                self._ask_next(turn)
                return
            ranked = self._categories(turn, description)
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

    def _ask_again(self, turn: Turn) -> None:
        awaiting = turn.state.get("awaiting") or {}
        if awaiting.get("kind") == "confirm":
            turn.say("confirm_confidential", **self._summary(turn))
        elif turn.state.get("requested_slot"):
            self._ask(turn, turn.state["requested_slot"])


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
