"""One mail per turn: the outbox step that sends a turn's email replies together (the data
side of delivery, here rather than in channels.email, which only reads and writes mail).

A conversation turn (or an officer's action) may queue several replies; on a chat channel
each is its own message, but a citizen should get one mail per turn. Every outbound email
row is stamped with its turn when it is queued (storage.mail), and each row keeps its own
text, kind and status. The delivery of the turn's oldest queued row sends the whole turn's
rows for that case in one mail (texts in order, a blank line between them; the thread
headers and the satisfaction links of any of them); the other rows' delivery jobs find
they are carried and do nothing, and take the carrying row's outcome: sent (their provider
id is the mail's Message-ID + ``#n``, so a bounce of the mail fails them too), failed with
its error, or retried at its time.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from channels.delivery import Outgoing
from storage import mail
from storage.messages import advance_status, note_undelivered
from storage.models import Message, OutboxStatus

# Taken from a later row of the turn when the first row lacks them (the satisfaction
# request's links, the case's tracking number).
_INHERITED = ("tracking", "answer", "subject", "in_reply_to", "references")


def gather(session: Session, message: Message, outgoing: Outgoing) -> tuple[Outgoing | None, list[Message]]:
    """(the mail to send, the other rows it carries); (None, []) when an older row of the
    turn carries this one. Any other channel's row goes out unchanged."""
    if message.channel != "email":
        return outgoing, []
    group = mail.turn_mail(session, message)
    if group is None:
        session.refresh(message)  # the carrying row's delivery may just have settled it
        return None, []
    carried = [m for m in group if m.id != message.id]
    if not carried:
        return outgoing, []
    headers = dict(outgoing.extras.get("email") or {})
    for row in carried:
        for key, value in ((row.payload or {}).get("email") or {}).items():
            if key in _INHERITED and key not in headers:
                headers[key] = value
    # The frame (subject fallback, links, footer) in the language of the satisfaction request
    # when there is one, else of the turn's last reply.
    answering = [m for m in group if ((m.payload or {}).get("email") or {}).get("answer")]
    language = (answering[0] if answering else group[-1]).language or outgoing.language
    return dataclasses.replace(
        outgoing, text="\n\n".join(m.text.strip() for m in group if m.text and m.text.strip()),
        language=language, extras={**outgoing.extras, "email": headers}), carried


def follow(session: Session, message: Message, carried: list[Message]) -> None:
    """The carried rows take the outcome of the row whose mail carried them."""
    for position, row in enumerate(carried, 1):
        row.attempts = message.attempts
        if message.status == OutboxStatus.QUEUED:  # a retry: they wait for it
            row.error, row.next_attempt_at = message.error, message.next_attempt_at
        elif message.status == OutboxStatus.FAILED:
            advance_status(row, OutboxStatus.FAILED, error=message.error)
            note_undelivered(session, row)
        else:
            advance_status(row, message.status,
                           provider_id=mail.carried_provider_id(message.provider_id, position))
