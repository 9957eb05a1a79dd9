"""Jobs: fetch a call's recordings from Twilio and keep them as the complaint's attachments;
the sweeper's retry of downloads that failed or were lost.

A recording arrives as an inbound voice message (the complaint's description, a voicemail,
a caller's reason for not being satisfied) whose payload names Twilio's RecordingUrl; the
complaint was filed when the recording was announced, the audio is downloaded here, off
the webhook's path. Twilio may take a moment to make it available (404 means "not yet"),
so a download tries again with growing delays: one such series is a *round*.

When a round fails (or its job was lost), ``sweep_recordings`` starts another later; the
message's own retry fields count them: ``attempts`` (rounds the sweeper started),
``next_attempt_at`` (when it may start the next) and ``error`` (why the last one failed).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import wave
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import exists, or_, select

from channels.delivery import PermanentError, TransientError
from channels.voice.recording import TIMEOUT_SECONDS, Audio, download
from gateway import jobs
from storage import lifecycle
from storage.calls import Call
from storage.db import transaction
from storage.messages import advance_status
from storage.models import Attachment, Complaint, Message, OutboxStatus, State, utcnow

log = logging.getLogger("ikhtiyar.voice")

SWEEP_ROUNDS = 3  # rounds the sweeper starts after the first one failed or was lost
SWEEP_EVERY = timedelta(hours=1)  # at least this long between two rounds
SWEEP_WITHIN = timedelta(days=7)  # recordings older than this are left to the officers' note
RECORDING_STEPS = ("complaint", "voicemail", "reason")


def _wav_seconds(audio: Audio) -> float | None:
    try:
        with wave.open(io.BytesIO(audio.content)) as wav:
            return round(wav.getnframes() / float(wav.getframerate()), 2)
    except (wave.Error, EOFError, ZeroDivisionError):
        return None


def _store(audio: Audio, root: Path, name: str) -> tuple[str, str]:
    """Write the file under the attachments folder; returns (relative path, sha256)."""
    digest = hashlib.sha256(audio.content).hexdigest()
    now = utcnow()
    relative = Path(f"voice/{now:%Y}/{now:%m}/{name}{audio.suffix}")
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + f".{os.getpid()}.tmp")
    tmp.write_bytes(audio.content)
    os.replace(tmp, target)
    return relative.as_posix(), digest


def _recording(message: Message | None) -> dict | None:
    """The recording a voice message carries: url, name and duration; None if none."""
    if message is None or message.channel != "voice" or message.complaint_id is None:
        return None
    payload = message.payload or {}
    media = (payload.get("media") or [{}])[0]
    if not media.get("url"):
        return None
    return {"url": media["url"], "seconds": payload.get("duration"),
            "name": payload.get("recording_sid") or payload.get("call_sid") or f"message-{message.id}"}


def fetch_audio(message_id: int, attempt: int = 0) -> str:
    """Download the recording of an inbound voice message onto its complaint; returns what
    happened."""
    rt = jobs.runtime()
    settings = rt.settings
    with rt.sessions() as session:
        message = session.get(Message, message_id)
        found = _recording(message)
        if found is None:
            return "nothing to fetch"
        if session.scalar(select(Attachment.id).where(Attachment.message_id == message_id)) is not None:
            return "already stored"
        complaint_id = message.complaint_id
    try:
        audio = download(found["url"], account_sid=settings.twilio_account_sid,
                         auth_token=settings.twilio_auth_token, api_url=settings.twilio_api_url)
    except TransientError as exc:
        if attempt + 1 < settings.voice_recording_attempts:
            rt.queue.enqueue_in(_delay(attempt), fetch_audio, message_id, attempt + 1)
            return f"retrying: {exc}"
        return _give_up(rt, message_id, str(exc))
    except PermanentError as exc:
        return _give_up(rt, message_id, str(exc))
    path, digest = _store(audio, rt.attachments_dir, found["name"])
    with transaction(rt.sessions) as session:
        if session.scalar(select(Attachment.id).where(Attachment.message_id == message_id)) is not None:
            return "already stored"  # a round the sweeper started raced this one
        seconds = found["seconds"]
        session.add(Attachment(
            message_id=message_id, complaint_id=complaint_id, content_type=audio.content_type,
            size=len(audio.content), sha256=digest, path=path, filename=f"{found['name']}{audio.suffix}",
            duration_seconds=float(seconds) if seconds else _wav_seconds(audio)))
        message = session.get(Message, message_id)
        if message.error:  # the officers were told it was missing: tell them it is here
            message.error = None
            lifecycle.note(session, session.get(Complaint, complaint_id), lifecycle.SYSTEM,
                           "The phone recording has now been fetched from Twilio.",
                           kind="recording_fetched", message=message)
    return "stored"


def fetch_recording(call_id: int, attempt: int = 0) -> str:
    """Download the recording a call filed as a complaint (jobs queued before fetch_audio)."""
    rt = jobs.runtime()
    with rt.sessions() as session:
        call = session.get(Call, call_id)
        if call is None or call.complaint_id is None:
            return "nothing to fetch"
        message_id = session.scalar(select(Message.id).where(
            Message.channel == "voice",
            Message.provider_id == f"{call.call_sid}:{call.recording_sid or 'recording'}"))
    return fetch_audio(message_id, attempt) if message_id else "nothing to fetch"


def _delay(attempt: int) -> float:
    return min(3600.0, 15.0 * 2 ** attempt)


def _give_up(rt, message_id: int, reason: str) -> str:
    """The complaint stays (its recording is still at Twilio): tell the officers on its
    timeline, once; the sweeper tries again later."""
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id)
        log.error("recording of complaint %s could not be fetched: %s", message.complaint_id, reason)
        first = message.error is None
        message.error = reason[:500]
        if first:
            lifecycle.note(session, session.get(Complaint, message.complaint_id), lifecycle.SYSTEM,
                           f"The phone recording could not be fetched from Twilio: {reason}",
                           kind="recording_missing", message=message)
    return f"failed: {reason}"


def round_seconds(attempts: int) -> float:
    """How long one round can take: its retry delays and a timed-out download per try."""
    return sum(_delay(a) for a in range(attempts - 1)) + attempts * TIMEOUT_SECONDS


def sweep_recordings(now: datetime | None = None, limit: int = 200) -> int:
    """Start another download round for each recording that is not stored and whose round
    failed or was lost; at most SWEEP_ROUNDS more, SWEEP_EVERY apart. Returns how many.

    Meant for the periodic sweeper, next to ``jobs.sweep()``.
    """
    rt = jobs.runtime()
    now = now or utcnow()
    running = timedelta(seconds=round_seconds(rt.settings.voice_recording_attempts) + 60)
    stored = exists().where(Attachment.message_id == Message.id)
    with transaction(rt.sessions) as session:
        candidates = session.scalars(
            select(Message).where(
                Message.channel == "voice", Message.direction == "in",
                Message.complaint_id.is_not(None), ~stored,
                Message.created_at >= now - SWEEP_WITHIN,
                Message.provider_id.not_like("%:confirm:%"),
                or_(  # the first round had time to finish, or the sweeper's next is due
                    (Message.attempts == 0) & (Message.created_at < now - running),
                    (Message.attempts > 0) & (Message.attempts < SWEEP_ROUNDS)
                    & (Message.next_attempt_at <= now)))
            .order_by(Message.id).limit(limit).with_for_update(skip_locked=True)).all()
        due = []
        for message in candidates:
            if (message.payload or {}).get("step") not in RECORDING_STEPS or _recording(message) is None:
                continue
            message.attempts = (message.attempts or 0) + 1
            message.next_attempt_at = now + max(SWEEP_EVERY, running)
            due.append(message.id)
    requeue = getattr(rt.queue, "enqueue_again", rt.queue.enqueue)  # past a lost job's guard
    for message_id in due:
        requeue(fetch_audio, message_id)
    return len(due)


def placed_call_ended(session, settings, row: Message, status: str) -> int | None:
    """A call placed for outbox ``row`` ended with Twilio's ``status``. Nobody answered (or
    nobody pressed a key while the question waits): the row failed, and the registry's
    fallback channel asks again (an SMS); returns that row's id to deliver."""
    from channels.voice.outbound import NOT_ANSWERED
    from gateway import fallback

    if status not in (*NOT_ANSWERED, "completed"):
        return None
    call = session.scalars(select(Call).where(Call.call_sid == row.provider_id)).first()
    answered = call is not None and (call.data or {}).get("answered")
    complaint = session.get(Complaint, row.complaint_id)
    if answered or complaint is None or complaint.state != State.RESOLVED.value:
        advance_status(row, OutboxStatus.DELIVERED)
        return None
    reason = f"the call was not answered ({status})" if status != "completed" else "no key was pressed"
    advance_status(row, OutboxStatus.FAILED, error=reason)
    copy = fallback.hand_over(session, row, settings, reason)
    return copy.id if copy is not None else None
