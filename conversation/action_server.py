"""The complaint actions behind rasa-sdk's action server (``ikhtiyar actions``), for a
deployment that puts a Rasa assistant in front of citizens.

Rasa sends each action call with the tracker; the sender id names the citizen's address as
``<channel>:<address>`` (``whatsapp:+923001234567``). The server answers only calls that
carry the shared secret (``IKHTIYAR_ACTIONS_TOKEN``: Rasa's endpoint ``token``, sent as
``?token=``, or an ``Authorization: Bearer`` header). Even then, the sender id is only what
Rasa says: the call's latest message counts as the citizen's own only when it names a
message our inbox stored from that address (``latest_message.message_id`` = the provider's
id, e.g. Twilio's MessageSid), as a gateway that stores and forwards to Rasa does. Any
other message is stored marked unverified (``lifecycle.UNVERIFIED``): it may file a
complaint, but the lifecycle refuses it as a confirmation, rejection or withdrawal.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable

from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection
from sqlalchemy import select
from sqlalchemy.orm import Session

from conversation.actions import TurnExecutor
from conversation.knowledge import Knowledge
from conversation.nlu import understand
from conversation.turn import Turn
from storage.lifecycle import UNVERIFIED
from storage.messages import contact_for, conversation_for, insert_inbound
from storage.models import Message

CHANNELS = ("whatsapp", "sms", "voice", "email", "web")
OPEN_PATHS = ("/health",)  # says "ok" and nothing else


class ActionCallError(ActionExecutionRejection, ValueError):
    """The call cannot be tied to a citizen (bad sender id or no message): a 400."""

    def __init__(self, message: str) -> None:
        super().__init__("", message)


class ComplaintActionExecutor(TurnExecutor):
    """rasa-sdk's executor, with each call wrapped in a database transaction and the turn
    its tracker names (sender id and latest message), built from that tracker."""

    def __init__(self, session_scope: Callable, knowledge: Callable[[Session], Knowledge],
                 prefix: str = "KP") -> None:
        super().__init__()
        self._scope, self._knowledge, self._prefix = session_scope, knowledge, prefix

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
            message = _stored_message(session, contact.id, channel, provider_id)
            if message is None:
                message, _ = insert_inbound(
                    session, contact, channel=channel, provider_id=f"rasa-{provider_id}",
                    text=str(latest.get("text") or ""),
                    payload={UNVERIFIED: "reported by a Rasa action call, not received by our inbox"},
                    raw=json.dumps(latest, ensure_ascii=False))
                message.status = "processed"  # Rasa, not our engine, holds this conversation
            conversation = conversation_for(session, contact.id)
            lang = conversation.language or "en"
            u = understand(message.text, self._prefix)
            state = {"slots": dict(tracker.get("slots") or {})}
            turn = Turn(session, message, contact, conversation, self._knowledge(session), u,
                        lang, self._prefix, state)
            return await self.run_turn(turn, action_call, sink, dispatcher)


def _stored_message(session: Session, contact_id: int, channel: str, provider_id: str) -> Message | None:
    """The inbound message our inbox stored from this contact under the provider's id."""
    return session.scalars(select(Message).where(
        Message.channel == channel, Message.provider_id == provider_id, Message.direction == "in",
        Message.contact_id == contact_id)).first()


def authorized(token: str, query_token: str | None, authorization: str | None) -> bool:
    """Whether a request carries the shared secret (compared in constant time)."""
    given = query_token or ""
    scheme, _, value = (authorization or "").partition(" ")
    if not given and scheme.lower() == "bearer":
        given = value.strip()
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def create_app(executor: ActionExecutor, token: str | None):
    """rasa-sdk's Sanic app, answering only requests with ``token`` (none: every request,
    which the CLI allows only on loopback with an explicit flag)."""
    from rasa_sdk.endpoint import create_app as rasa_app
    from sanic import response

    app = rasa_app(executor, cors_origins=None)

    @app.on_request
    async def _require_token(request):
        if token is None or request.path in OPEN_PATHS:
            return None
        if not authorized(token, request.args.get("token"), request.headers.get("authorization")):
            return response.json({"error": "missing or wrong token"}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="ikhtiyar-actions"'})
        return None

    return app
