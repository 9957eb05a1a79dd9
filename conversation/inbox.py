"""Step 4 of the one path: persist an inbound message before the provider is acknowledged."""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy.orm import Session

from conversation.messages import InboundMessage
from storage.messages import contact_for, insert_inbound


def accept(session: Session, inbound: InboundMessage) -> tuple[int, bool]:
    """Store the message once; returns its id and whether it is new (False for a retry)."""
    contact = contact_for(session, inbound.channel, inbound.sender, simulated=inbound.simulated)
    payload: dict = {}
    if inbound.media:
        payload["media"] = [asdict(m) for m in inbound.media]
    if inbound.location:
        payload["location"] = list(inbound.location)
    if inbound.profile_name:
        payload["profile_name"] = inbound.profile_name
    message, new = insert_inbound(session, contact, channel=inbound.channel,
                                  provider_id=inbound.provider_id, text=inbound.text,
                                  payload=payload, raw=json.dumps(inbound.raw, ensure_ascii=False) if inbound.raw else None,
                                  received_at=inbound.received_at,
                                  language=inbound.language_hint)
    return message.id, new
