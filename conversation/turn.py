"""The state of one conversation turn, shared by the engine and its actions."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from conversation import catalog
from conversation.knowledge import Knowledge
from conversation.messages import Reply
from conversation.nlu import Understanding
from storage.models import Contact, Conversation, Message


@dataclass
class Turn:
    session: Session
    message: Message
    contact: Contact
    conversation: Conversation
    knowledge: Knowledge
    understanding: Understanding
    lang: str
    prefix: str
    state: dict
    replies: list[Reply] = field(default_factory=list)

    @property
    def short(self) -> bool:
        return self.contact.channel == "sms"

    def say(self, key: str, kind: str = "reply", choices: tuple[str, ...] = (), **values: object) -> None:
        """Queue the catalog text ``key``; ``choices`` are the options a channel may show
        as buttons (the text numbers them too)."""
        self.replies.append(Reply(catalog.text(key, self.lang, short=self.short, **values), kind, key,
                                  tuple(choices)))

    def tracking(self, number: str) -> str:
        return f"{self.prefix}-{number}"


current: ContextVar[Turn] = ContextVar("ikhtiyar_turn")
