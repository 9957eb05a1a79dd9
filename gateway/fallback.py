"""A message its channel could not deliver goes out on the registry's fallback channel
(channels.registry): a call nobody answered, a channel without a configured provider.

The copy is a new outbox row to the same citizen at the same number on the fallback
channel, in the fallback's words where the catalog has them (the SMS variant), and the
case's timeline says so. A satisfaction question sent by SMS is answered by SMS: the
SMS conversation is told to read the citizen's next message as the answer.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from channels import registry
from channels.addresses import AddressError, phone_e164
from conversation import catalog
from storage import lifecycle, tracking
from storage.messages import contact_for, conversation_for, queue_outbound
from storage.models import Complaint, Contact, Message

log = logging.getLogger("ikhtiyar.jobs")
ASKS_SATISFACTION = ("satisfaction_request", "satisfaction_reminder")


def _text(message: Message, channel: str, complaint: Complaint | None, prefix: str) -> str:
    """The fallback channel's own variant of a catalog text, else the same text."""
    key = (message.payload or {}).get("key")
    entry = catalog.load().get(key) if key else None
    if entry is None or complaint is None or (channel == "sms" and "sms" not in entry):
        return message.body
    try:
        return catalog.text(key, message.language or "en", short=channel == "sms",
                            tracking=tracking.display(complaint.tracking_number, prefix))
    except (KeyError, IndexError, ValueError):  # the variant needs values only the original had
        return message.body


def hand_over(session: Session, message: Message, settings, reason: str, *,
              planned: bool = False) -> Message | None:
    """Queue ``message`` again on its channel's fallback; returns the new outbox row, or
    None when there is no fallback (or the address is not one the fallback can reach).
    ``planned``: the fallback is this message's route (channels.delivery.Rerouted), not a
    failure the officers need to read about on the case's timeline."""
    channel = registry.fallback_for(message.channel, settings)
    payload = dict(message.payload or {})
    if channel is None or payload.get("fallback_row"):
        return None
    contact = session.get(Contact, message.contact_id)
    try:
        address = phone_e164(contact.address)
    except AddressError:  # an anonymous caller, a non-phone address
        return None
    target = contact_for(session, channel, address, simulated=contact.simulated)
    complaint = session.get(Complaint, message.complaint_id) if message.complaint_id else None
    extras = {k: v for k, v in payload.items() if k not in ("idempotency_key",)}
    copy = queue_outbound(session, target, _text(message, channel, complaint, settings.tracking_prefix),
                          kind=message.kind, complaint_id=message.complaint_id, language=message.language,
                          extras={**extras, "fallback_of": message.id})
    if message.kind in ASKS_SATISFACTION and complaint is not None:
        conversation = conversation_for(session, target.id)
        conversation.state = {**(conversation.state or {}), "satisfaction": complaint.id}
    session.flush()
    message.payload = {**payload, "fallback_row": copy.id}
    if complaint is not None and not planned:
        lifecycle.note(session, complaint, lifecycle.SYSTEM,
                       f"The {(message.kind or 'message').replace('_', ' ')} did not reach the citizen by "
                       f"{message.channel} ({reason}); sent by {channel} instead.",
                       kind="delivery_fallback", message=message)
    log.info("outbox row %s (%s) not delivered: %s; sent again by %s as %s",
             message.id, message.channel, reason, channel, copy.id)
    return copy
