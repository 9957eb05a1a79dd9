"""What every channel's sender takes and returns, and the errors that steer retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Outgoing:
    channel: str
    to: str
    text: str
    kind: str = "reply"
    key: str | None = None
    language: str | None = None
    extras: dict = field(default_factory=dict)
    status_callback: str | None = None
    # When the citizen last wrote on this channel (WhatsApp's 24-hour window depends on it).
    last_inbound_at: datetime | None = None


@dataclass(frozen=True)
class Delivered:
    provider_id: str
    status: str = "sent"  # sent, or delivered when the sender knows it arrived


class TransientError(Exception):
    """Try again later: throttling, a network error, the provider's 5xx."""


class PermanentError(Exception):
    """Do not try again: invalid number, opted out, outside the allowed window ..."""


class Rerouted(PermanentError):
    """Not this channel's to carry (no provider configured, a kind it does not send): the
    registry's fallback channel takes it, as planned rather than as a failure."""
