"""The complaint actions behind rasa-sdk's action server: the same call a Rasa server
POSTs to /webhook, run by the executor the server uses."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from conversation import casework, catalog
from conversation.action_server import ActionCallError, ComplaintActionExecutor
from conversation.knowledge import Knowledge
from storage import lifecycle
from storage.db import transaction
from storage.models import Complaint
from tests.citizen import Citizen


def _call(action: str, sender: str, text: str, message_id: str, slots: dict | None = None) -> dict:
    return {"next_action": action, "sender_id": sender, "version": "3.10.0", "domain": {},
            "tracker": {"sender_id": sender, "slots": slots or {}, "events": [], "paused": False,
                        "latest_message": {"text": text, "message_id": message_id,
                                           "intent": {"name": "affirm"}, "entities": []},
                        "active_loop": {}, "latest_action_name": "action_listen"}}


def _executor(rt) -> ComplaintActionExecutor:
    return ComplaintActionExecutor(lambda: transaction(rt.sessions), Knowledge.load, "KP")


def test_a_rasa_yes_closes_the_citizens_resolved_complaint(rt):
    c = Citizen(rt, address="+923001234567")
    for text in ("1", "The school's water cooler is broken since March", "Kohat", "Main bazaar",
                 "yes", "skip", "yes"):
        c.send(text)
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        casework.resolve(s, complaint, lifecycle.Actor("officer"), "Cooler replaced")
        tracking = f"KP-{complaint.tracking_number}"
    result = asyncio.run(_executor(rt).run(_call("action_answer_resolution", "whatsapp:+923001234567",
                                                 "yes", "rasa-1", {"satisfied": True})))
    assert [r["response"] for r in result.responses] == ["closed_thanks"]
    assert catalog.text("closed_thanks", "en", tracking=result.responses[0]["tracking"]) == \
        catalog.text("closed_thanks", "en", tracking=tracking)
    with rt.sessions() as s:
        assert s.scalars(select(Complaint.state)).one() == "closed"


def test_a_rasa_call_for_another_sender_cannot_close_it(rt):
    c = Citizen(rt, address="+923001234567")
    for text in ("1", "The school's water cooler is broken since March", "Kohat", "Main bazaar",
                 "yes", "skip", "yes"):
        c.send(text)
    with transaction(rt.sessions) as s:
        casework.resolve(s, s.scalars(select(Complaint)).one(), lifecycle.Actor("officer"), "done")
    result = asyncio.run(_executor(rt).run(_call("action_answer_resolution", "whatsapp:+923339999999",
                                                 "yes", "rasa-2", {"satisfied": True})))
    assert [r["response"] for r in result.responses] == ["nothing_to_confirm"]
    with rt.sessions() as s:
        assert s.scalars(select(Complaint.state)).one() == "resolved"


def test_a_call_without_a_usable_sender_is_refused(rt):
    with pytest.raises(ActionCallError):
        asyncio.run(_executor(rt).run(_call("action_complaint_status", "nobody", "status", "rasa-3")))
