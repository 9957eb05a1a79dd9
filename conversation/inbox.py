"""Step 4 of the one path: persist an inbound message before the provider is acknowledged."""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy.orm import Session

from conversation.messages import InboundMessage
from storage.messages import contact_id_for, store_inbound


def accept(session: Session, inbound: InboundMessage) -> tuple[int, bool]:
    """Store the message once; returns its id and whether it is new (False for a retry)."""
    contact_id = contact_id_for(session, inbound.channel, inbound.sender, simulated=inbound.simulated)
    payload: dict = {}
    if inbound.media:
        payload["media"] = [asdict(m) for m in inbound.media]
    if inbound.location:
        payload["location"] = list(inbound.location)
    if inbound.profile_name:
        payload["profile_name"] = inbound.profile_name
    raw = json.dumps(inbound.raw, ensure_ascii=False) if inbound.raw else None
    return store_inbound(session, contact_id, channel=inbound.channel,
                         provider_id=inbound.provider_id, text=inbound.text, payload=payload,
                         raw=raw, received_at=inbound.received_at, language=inbound.language_hint)
