"""The complaint actions behind rasa-sdk's action server (``ikhtiyar actions``), for a
deployment that puts a Rasa assistant in front of citizens.

Rasa sends each action call with the tracker; the sender id names the citizen's address as
``<channel>:<address>`` (``whatsapp:+923001234567``). Before an action runs, the citizen's
latest message is stored like any inbound message (unique on Rasa's message id) and the
turn is set up, so the actions do exactly what they do in-process: file complaints, tell
status only to the complainant, and close only with the complainant's own message.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from rasa_sdk.executor import ActionExecutor
from sqlalchemy.orm import Session

from conversation.actions import ACTIONS
from conversation.knowledge import Knowledge
from conversation.nlu import understand
from conversation.turn import Turn, current
from storage.messages import contact_for, conversation_for, insert_inbound

CHANNELS = ("whatsapp", "sms", "voice", "email", "web")


class ActionCallError(ValueError):
    """The call cannot be tied to a citizen (bad sender id or no message)."""


class ComplaintActionExecutor(ActionExecutor):
    """rasa-sdk's executor, with each call wrapped in a database transaction and a turn."""

    def __init__(self, session_scope: Callable, knowledge: Callable[[Session], Knowledge],
                 prefix: str = "KP") -> None:
        super().__init__()
        self._scope, self._knowledge, self._prefix = session_scope, knowledge, prefix
        for action in ACTIONS:
            self.register_action(action)

    async def run(self, action_call, sink=None, dispatcher=None):
        tracker = action_call.get("tracker") or {}
        channel, _, address = str(tracker.get("sender_id") or "").partition(":")
        if channel not in CHANNELS or not address:
            raise ActionCallError("sender_id must be '<channel>:<address>', e.g. whatsapp:+923001234567")
        latest = tracker.get("latest_message") or {}
        provider_id = str(latest.get("message_id") or "")
        if not provider_id:
            raise ActionCallError("latest_message.message_id is missing")
        with self._scope() as session:
            contact = contact_for(session, channel, address)
            message, _ = insert_inbound(
                session, contact, channel=channel, provider_id=f"rasa-{provider_id}",
                text=str(latest.get("text") or ""), payload={},
                raw=json.dumps(latest, ensure_ascii=False))
            message.status = "processed"  # Rasa, not our engine, holds this conversation
            conversation = conversation_for(session, contact.id)
            lang = conversation.language or "en"
            u = understand(message.text, self._prefix)
            state = {"slots": dict(tracker.get("slots") or {})}
            turn = Turn(session, message, contact, conversation, self._knowledge(session), u,
                        lang, self._prefix, state)
            token = current.set(turn)
            try:
                return await super().run(action_call, sink, dispatcher)
            finally:
                current.reset(token)
