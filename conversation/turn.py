"""The state of one conversation turn, shared by the engine and its actions."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from conversation import catalog
from conversation.knowledge import Knowledge
from conversation.messages import Reply
from conversation.nlu import Understanding
from storage import pii, tracking
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
    # Look-ups of numbers not the sender's own, per sender and hour (status_lookups_per_hour).
    status_lookups_per_hour: int = 20

    @property
    def short(self) -> bool:
        return self.contact.channel == "sms"

    def say(self, key: str, kind: str = "reply", choices: tuple[str, ...] = (),
            personal: tuple[str, ...] = (), **values: object) -> None:
        """Queue the catalog text ``key``; ``choices`` are the options a channel may show
        as buttons (the text numbers them too). The values named in ``personal`` are the
        citizen's personal data (a name): the outbox keeps the text without them in clear,
        and with them only encrypted."""
        text = catalog.text(key, self.lang, short=self.short, **values)
        redacted = text
        if any(values.get(k) for k in personal):
            redacted = catalog.text(key, self.lang, short=self.short,
                                    **{**values, **{k: pii.REDACTED for k in personal if values.get(k)}})
        # A reply that quotes the citizen (the summary quotes their description) may carry
        # a phone number, CNIC or email address too.
        redacted = pii.redact(redacted)
        self.replies.append(Reply(text, kind, key, tuple(choices),
                                  redacted=None if redacted == text else redacted))

    def tracking(self, number: str) -> str:
        return tracking.display(number, self.prefix)
