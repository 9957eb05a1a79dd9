"""Signing a citizen in to the app with a one-time code sent through the outbox.

The code goes to an address the citizen already uses (SMS, WhatsApp or email); the app's
session then belongs to the citizen record behind that address, so "my complaints" are
the same whether filed by WhatsApp, SMS, email or the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from conversation.app_intake import app_text
from storage import app_access
from storage.messages import address_hash, contact_for, queue_outbound
from storage.models import Contact, Message

CODE_CHANNELS = ("sms", "whatsapp", "email")


@dataclass(frozen=True)
class SignedIn:
    token: str
    citizen_id: int
    contact_id: int  # the citizen's app contact


def send_code(session: Session, channel: str, address: str, lang: str = "en",
              *, simulated: bool = False, requester: str | None = None) -> Message:
    """Queue a new code to the address (TooManyCodes when it, or ``requester``, the network
    address asking, had enough lately).

    The contact is created when the address is new: a first-time citizen signs in too."""
    contact = contact_for(session, channel, address, simulated=simulated)
    code = app_access.issue_code(session, channel, address_hash(address), contact.id, requester)
    return queue_outbound(session, contact, app_text("one_time_code", lang, code=code),
                          kind="one_time_code", language=lang)


def verify_code(session: Session, channel: str, address: str, code: str) -> SignedIn | None:
    """A session for the citizen behind the address when the code is right, else None."""
    row = app_access.check_code(session, address_hash(address), code)
    if row is None:
        return None
    sent_to = session.get(Contact, row.contact_id)
    app_contact = app_access.app_contact(session, sent_to.citizen_id)
    token = app_access.open_session(session, sent_to.citizen_id, app_contact.id, sent_to.id)
    return SignedIn(token, sent_to.citizen_id, app_contact.id)
