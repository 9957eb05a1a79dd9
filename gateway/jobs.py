"""The job functions: a conversation turn, the delivery of one outbound message, the sweep.

They run in RQ workers (``ikhtiyar worker``) or in the in-process worker; either way they
find the process's runtime with ``gateway.jobs.runtime()``.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer, joinedload

from channels.delivery import Delivered, Outgoing, PermanentError, Rerouted, TransientError
from conversation import catalog
from gateway import fallback
from gateway import mail_outbox as email_outbox
from gateway import runtime as rt_module
from gateway.settings import load_settings
from storage.db import is_sqlite, transaction
from storage.messages import (
    advance_status,
    claim_outbound,
    due_outbound,
    note_undelivered,
    reclaim_stuck,
    retry_later,
    stuck_sending,
)
from storage.models import Contact, Conversation, Message, OutboxStatus, utcnow

log = logging.getLogger("ikhtiyar.jobs")
_runtime: rt_module.Runtime | None = None


def install(rt: rt_module.Runtime) -> None:
    global _runtime
    _runtime = rt
    # The links in citizens' messages point at this runtime's site.
    catalog.configure_site(rt_module.site_url(rt.settings))


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


STUCK_SENDING_S = 60.0  # a claim older than this (4x Twilio's HTTP timeout) without an outcome: its worker died


def deliver(message_id: int, recover: bool = False) -> str | None:
    """Send one outbox row through its channel; retry later on a transient error.

    Three short steps, never a transaction open across the provider's HTTP call: claim
    the row (queued -> sending, a conditional UPDATE only one job can win), send, record
    the outcome. ``recover`` takes over a row left in sending by a dead worker: the
    provider is asked first whether it has the message (Twilio's message list), and only
    if not is it sent again.
    """
    rt = runtime()
    claim = _claim(rt, message_id, recover)
    if not isinstance(claim, tuple):
        return claim
    outgoing, carried_ids, since = claim
    send = rt.sender_for(outgoing.channel, simulated=outgoing.extras.get("_simulated", False))
    outgoing = dataclasses.replace(outgoing, extras={k: v for k, v in outgoing.extras.items()
                                                     if k != "_simulated"})
    outcome: Delivered | Exception
    try:
        found = _already_sent(rt, send, outgoing, since) if recover else None
        outcome = found or send(outgoing)
    except (TransientError, PermanentError) as exc:
        outcome = exc
    return _record(rt, message_id, carried_ids, outcome)


def _claim(rt: rt_module.Runtime, message_id: int, recover: bool):
    """(what to send, the rows it carries, when the claim began), or the row's status when
    this job has nothing to send."""
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id)
        if message is None:
            return None
        if recover:
            stale = utcnow() - timedelta(seconds=STUCK_SENDING_S)
            if message.status != OutboxStatus.SENDING or not reclaim_stuck(session, message_id, stale):
                return message.status
            since = message.updated_at
        elif message.status != OutboxStatus.QUEUED:
            return message.status
        contact = session.get(Contact, message.contact_id)
        last_inbound = session.scalar(select(Conversation.last_inbound_at)
                                      .where(Conversation.contact_id == contact.id))
        outgoing = Outgoing(channel=message.channel, to=contact.address, text=message.body,
                            kind=message.kind or "reply", key=message.payload.get("key"),
                            language=message.language,
                            extras={**message.payload, "_simulated": contact.simulated},
                            last_inbound_at=last_inbound)
        if (message.payload or {}).get("attachments"):
            # An officer's reply with files: the email carries them, WhatsApp fetches them.
            from gateway import reply_media  # gateway.media imports this module

            outgoing = dataclasses.replace(outgoing, extras={**outgoing.extras, **reply_media.delivery_extras(
                session, rt.attachments_dir, message, rt.settings.secret_key_bytes(), rt.settings.public_url)})
        if contact.opted_out:
            advance_status(message, OutboxStatus.FAILED, error="the citizen has opted out")
            return message.status
        # Email: one mail per turn; the turn's first row carries the others (gateway.mail_outbox).
        outgoing, carried = email_outbox.gather(session, message, outgoing)
        if outgoing is None:
            return message.status
        if not recover:
            key = claim_outbound(session, message_id)
            if key is None:  # another job claimed it first
                return OutboxStatus.SENDING.value
            since = utcnow()
            for row in carried:  # they go out inside this one's mail
                claim_outbound(session, row.id)
        outgoing = dataclasses.replace(outgoing, extras={**outgoing.extras,
                                                         "idempotency_key": key if not recover else
                                                         message.idempotency_key})
        return outgoing, [row.id for row in carried], since


def _already_sent(rt: rt_module.Runtime, send, outgoing: Outgoing,
                  since: datetime | None) -> Delivered | None:
    """Whether the provider took this message before its worker died (None: send it):
    a message it has for the recipient, with this text, since the claim, and not already
    recorded as another row's (the same text can go to one citizen twice)."""
    find = getattr(send, "find_sent", None)
    candidates = find(outgoing, since) if find and since else []
    if not candidates:
        return None
    with rt.sessions() as session:
        owned = set(session.scalars(select(Message.provider_id).where(
            Message.channel.in_((outgoing.channel, "sms", "whatsapp")), Message.direction == "out",
            Message.provider_id.in_([c.provider_id for c in candidates]))))
    found = [c for c in candidates if c.provider_id not in owned]
    if found:
        log.info("outbox row already at the provider as %s; not sending again", found[0].provider_id)
    return found[0] if found else None


def _record(rt: rt_module.Runtime, message_id: int, carried_ids: list[int],
            outcome: Delivered | Exception) -> str | None:
    retry_at, handed_over = None, None
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id, with_for_update=not is_sqlite(rt.engine))
        if message is None or message.status != OutboxStatus.SENDING:
            return message.status if message else None  # a recovery settled it meanwhile
        carried = [row for row in (session.get(Message, i) for i in carried_ids) if row is not None]
        if isinstance(outcome, TransientError):
            retry_at = retry_later(message, str(outcome), rt.settings.outbox_max_attempts)
            if retry_at is None:  # out of attempts
                note_undelivered(session, message)
        elif isinstance(outcome, PermanentError):
            message.attempts += 1
            advance_status(message, OutboxStatus.FAILED, error=str(outcome))
            # The registry's fallback channel (a call's question by SMS), else the officers are told.
            copy = fallback.hand_over(session, message, rt.settings, str(outcome),
                                      planned=isinstance(outcome, Rerouted))
            if copy is not None:
                handed_over = copy.id
            else:
                note_undelivered(session, message)
        else:
            message.attempts += 1
            advance_status(message, outcome.status, provider_id=outcome.provider_id)
        email_outbox.follow(session, message, carried)
        for row in carried:
            if row.status == OutboxStatus.SENDING:  # waiting for the carrier's retry
                row.status = message.status
        status = message.status
        delay = None if retry_at is None else max(0.0, (retry_at - utcnow()).total_seconds())
    if delay is not None:
        rt.queue.enqueue_in(delay, deliver, message_id)
    if handed_over is not None:
        rt.queue.enqueue(deliver, handed_over)
    return status


def sweep(stale_seconds: float = 20.0) -> int:
    """Re-queue what a lost job left behind: outbox rows whose retry is due, inbound
    messages stored but not handled (Redis was down, or a worker died mid-turn), letters
    not yet read, call recordings not yet fetched."""
    rt = runtime()
    from gateway import spool

    spool.replay(rt)  # what the webhooks spooled while the database was down, first
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    with rt.sessions() as session:
        outbound = due_outbound(session, before=cutoff)
        stuck = stuck_sending(session, before=utcnow() - timedelta(seconds=STUCK_SENDING_S))
        inbound = session.scalars(
            select(Message.id).where(Message.direction == "in", Message.status == "received",
                                     Message.created_at < cutoff).order_by(Message.id).limit(500)).all()
    requeue = getattr(rt.queue, "enqueue_again", rt.queue.enqueue)  # past a lost job's guard
    for mid in inbound:
        requeue(process_inbound, mid)
    for mid in outbound:
        requeue(deliver, mid)
    for mid in stuck:
        requeue(deliver, mid, True)
    # The channels' own lost work: OCR of uploaded letters, downloads of call recordings.
    from gateway import letters_jobs, voice_jobs

    return len(inbound) + len(outbound) + len(stuck) + letters_jobs.sweep_letters() + voice_jobs.sweep_recordings()
