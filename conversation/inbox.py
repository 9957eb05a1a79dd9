"""Step 4 of the one path: persist an inbound message before the provider is acknowledged."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from conversation.messages import InboundMessage
from storage import pii
from storage.messages import (
    Sealed,
    address_hash,
    contact_id_for,
    seal_raw,
    store_from_known_contact,
    store_inbound,
)


@dataclass(frozen=True)
class Prepared:
    """An inbound message made ready to store: everything computed that needs no database."""

    inbound: InboundMessage
    digest: str
    payload: dict
    raw: Sealed | None


def prepare(inbound: InboundMessage) -> Prepared:
    """The look-up hash, the payload and the encrypted raw payload: done before a
    transaction starts, so SQLite's write lock is held only for the statements."""
    payload: dict = {}
    if inbound.media:
        payload["media"] = [asdict(m) for m in inbound.media]
    if inbound.location:
        payload["location"] = list(inbound.location)
    if inbound.profile_name:
        # WhatsApp's ProfileName, an email's display name: kept only encrypted.
        payload["profile_name"] = pii.seal(inbound.profile_name)
    raw = json.dumps(inbound.raw, ensure_ascii=False) if inbound.raw else None
    return Prepared(inbound, address_hash(inbound.sender), payload, seal_raw(raw))


def store(session: Session | Connection, prepared: Prepared) -> tuple[int, bool]:
    """Store a prepared message once; returns its id and whether it is new.

    One statement when the sender is known and the message new (nearly always); a new
    sender or a provider's retry takes the longer way."""
    inbound = prepared.inbound
    new_id = store_from_known_contact(
        session, prepared.digest, channel=inbound.channel, provider_id=inbound.provider_id,
        text=inbound.text, payload=prepared.payload, raw=prepared.raw,
        received_at=inbound.received_at, language=inbound.language_hint)
    if new_id is not None:
        return new_id, True
    contact_id = contact_id_for(session, inbound.channel, inbound.sender, simulated=inbound.simulated,
                                digest=prepared.digest)
    return store_inbound(session, contact_id, channel=inbound.channel,
                         provider_id=inbound.provider_id, text=inbound.text, payload=prepared.payload,
                         raw=prepared.raw, received_at=inbound.received_at,
                         language=inbound.language_hint)


def accept(session: Session | Connection, inbound: InboundMessage) -> tuple[int, bool]:
    """Store the message once; returns its id and whether it is new (False for a retry).

    Runs on a Session or on a bare Connection (the webhook's path: Core statements only)."""
    return store(session, prepare(inbound))
