"""The job functions: a conversation turn, the delivery of one outbound message, the sweep.

They run in RQ workers (``ikhtiyar worker``) or in the in-process worker; either way they
find the process's runtime with ``gateway.jobs.runtime()``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer, joinedload

from channels import log_sender, registry
from channels.delivery import Outgoing, PermanentError, TransientError
from gateway import mail_outbox as email_outbox
from gateway import runtime as rt_module
from gateway.settings import load_settings
from storage.db import is_sqlite, transaction
from storage.messages import advance_status, due_outbound, note_undelivered, retry_later
from storage.models import Contact, Conversation, Message, OutboxStatus, utcnow

log = logging.getLogger("ikhtiyar.jobs")
_runtime: rt_module.Runtime | None = None


def install(rt: rt_module.Runtime) -> None:
    global _runtime
    _runtime = rt


def runtime() -> rt_module.Runtime:
    """The runtime of this process; an RQ worker builds its own from the settings."""
    global _runtime
    if _runtime is None:
        from gateway.queue import make_queue

        rt = rt_module.build(load_settings())
        rt.queue = make_queue(rt.settings.redis_url, rt.settings.queue_name)
        _runtime = rt
    return _runtime


# Built once: a turn runs them for every message. The raw provider payload is only read by
# email turns (loaded on access); decrypting it for every turn would be wasted work.
_SENDER = select(Message.contact_id).where(Message.id == bindparam("message_id")).scalar_subquery()
_LOCK_SENDER = select(Contact.id).where(Contact.id == _SENDER).with_for_update()
# The sender's conversation comes in the same statement (None before their first turn).
_WAITING = (select(Message, Conversation).options(joinedload(Message.contact), defer(Message.raw))
            .outerjoin(Conversation, Conversation.contact_id == Message.contact_id)
            .where(Message.contact_id == _SENDER, Message.direction == "in",
                   Message.status == "received", Message.id <= bindparam("message_id"))
            .order_by(Message.id))


def process_inbound(message_id: int) -> list[int]:
    """A conversation turn; earlier unprocessed messages of the same sender go first."""
    rt = runtime()
    params = {"message_id": message_id}
    with transaction(rt.sessions) as session:
        if not is_sqlite(rt.engine):
            # Lock the sender's contact so two workers never interleave one conversation
            # (SQLite's BEGIN IMMEDIATE already serializes writers).
            session.execute(_LOCK_SENDER, params)
        waiting = session.execute(_WAITING, params).all()
        if not waiting:
            return []
        engine = rt.conversation(session)
        ids = [mid for message, conversation in waiting
               for mid in engine.handle(session, message, conversation)]
    for mid in ids:
        rt.queue.enqueue(deliver, mid)
    return ids


def deliver(message_id: int) -> str | None:
    """Send one outbox row through its channel; retry later on a transient error."""
    rt = runtime()
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id)
        if message is None or message.status != OutboxStatus.QUEUED:
            return message.status if message else None
        contact = session.get(Contact, message.contact_id)
        last_inbound = session.scalar(select(Conversation.last_inbound_at)
                                      .where(Conversation.contact_id == contact.id))
        outgoing = Outgoing(channel=message.channel, to=contact.address, text=message.text,
                            kind=message.kind or "reply", key=message.payload.get("key"),
                            language=message.language, extras=dict(message.payload),
                            last_inbound_at=last_inbound)
        if contact.opted_out:
            advance_status(message, OutboxStatus.FAILED, error="the citizen has opted out")
            return message.status
        # Email: one mail per turn; the turn's first row carries the others (gateway.mail_outbox).
        outgoing, carried = email_outbox.gather(session, message, outgoing)
        if outgoing is None:
            return message.status
        send = log_sender.send if contact.simulated else registry.sender_for(message.channel, rt.settings)
        retry_at = None
        try:
            result = send(outgoing)
        except TransientError as exc:
            retry_at = retry_later(message, str(exc), rt.settings.outbox_max_attempts)
            if retry_at is None:  # out of attempts
                note_undelivered(session, message)
        except PermanentError as exc:
            message.attempts += 1
            advance_status(message, OutboxStatus.FAILED, error=str(exc))
            note_undelivered(session, message)
        else:
            message.attempts += 1
            advance_status(message, result.status, provider_id=result.provider_id)
        email_outbox.follow(session, message, carried)
        status = message.status
        delay = None if retry_at is None else max(0.0, (retry_at - utcnow()).total_seconds())
    if delay is not None:
        rt.queue.enqueue_in(delay, deliver, message_id)
    return status


def sweep(stale_seconds: float = 60.0) -> int:
    """Re-queue what a lost job left behind: outbox rows whose retry is due, inbound
    messages stored but not handled (Redis was down, or a worker died mid-turn), letters
    not yet read, call recordings not yet fetched."""
    rt = runtime()
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    with rt.sessions() as session:
        outbound = due_outbound(session, before=cutoff)
        inbound = session.scalars(
            select(Message.id).where(Message.direction == "in", Message.status == "received",
                                     Message.created_at < cutoff).order_by(Message.id).limit(500)).all()
    for mid in inbound:
        rt.queue.enqueue(process_inbound, mid)
    for mid in outbound:
        rt.queue.enqueue(deliver, mid)
    # The channels' own lost work: OCR of uploaded letters, downloads of call recordings.
    from gateway import letters_jobs, voice_jobs

    return len(inbound) + len(outbound) + letters_jobs.sweep_letters() + voice_jobs.sweep_recordings()
