"""What channels hand to the engine, and what the engine hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class InboundMessage:
    """One message from a citizen, in the same shape whatever channel carried it."""

    channel: str
    provider_id: str
    sender: str  # normalized address: +923001234567, someone@example.org
    text: str
    received_at: datetime | None = None
    media: tuple[Media, ...] = ()
    location: tuple[float, float] | None = None
    language_hint: str | None = None
    profile_name: str | None = None
    simulated: bool = False
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """One message to a citizen; channels render ``options`` as buttons, menus or numbers."""

    text: str
    kind: str = "reply"
    key: str | None = None  # catalog key, so a channel can choose its own variant
    options: tuple[str, ...] = ()
    # The text with the citizen's personal data (their name) taken out: what the outbox
    # row keeps in clear; ``text`` itself is then stored only encrypted.
    redacted: str | None = None
