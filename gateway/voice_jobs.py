"""Job: fetch a call's recording from Twilio and keep it as the complaint's attachment.

The complaint was filed when the recording was announced; the audio itself is downloaded
here, off the webhook's path (Twilio may take a moment to make it available: 404 means
"not yet", so the job tries again with growing delays).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import wave
from pathlib import Path

from sqlalchemy import select

from channels.delivery import PermanentError, TransientError
from channels.voice.recording import Audio, download
from gateway import jobs
from storage import lifecycle
from storage.calls import Call
from storage.db import transaction
from storage.models import Attachment, Complaint, Message, utcnow

log = logging.getLogger("ikhtiyar.voice")


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


def fetch_recording(call_id: int, attempt: int = 0) -> str:
    """Download the call's recording onto its complaint; returns what happened."""
    rt = jobs.runtime()
    settings = rt.settings
    with rt.sessions() as session:
        call = session.get(Call, call_id)
        if call is None or not call.recording_url or call.complaint_id is None:
            return "nothing to fetch"
        name = call.recording_sid or call.call_sid
        if session.scalar(select(Attachment.id).where(
                Attachment.complaint_id == call.complaint_id,
                Attachment.filename.like(f"{name}.%"))) is not None:
            return "already stored"
        url, complaint_id, seconds = call.recording_url, call.complaint_id, call.recording_duration
    try:
        audio = download(url, account_sid=settings.twilio_account_sid,
                         auth_token=settings.twilio_auth_token, api_url=settings.twilio_api_url)
    except TransientError as exc:
        if attempt + 1 < settings.voice_recording_attempts:
            rt.queue.enqueue_in(min(3600.0, 15.0 * 2 ** attempt), fetch_recording, call_id, attempt + 1)
            return f"retrying: {exc}"
        return _give_up(rt, complaint_id, str(exc))
    except PermanentError as exc:
        return _give_up(rt, complaint_id, str(exc))
    path, digest = _store(audio, rt.attachments_dir, name)
    with transaction(rt.sessions) as session:
        message_id = session.scalar(select(Message.id).where(
            Message.channel == "voice", Message.complaint_id == complaint_id,
            Message.direction == "in").order_by(Message.id).limit(1))
        session.add(Attachment(
            message_id=message_id, complaint_id=complaint_id, content_type=audio.content_type,
            size=len(audio.content), sha256=digest, path=path, filename=f"{name}{audio.suffix}",
            duration_seconds=float(seconds) if seconds else _wav_seconds(audio)))
    return "stored"


def _give_up(rt, complaint_id: int, reason: str) -> str:
    """The complaint stays (its recording is still at Twilio): tell the officers on its timeline."""
    log.error("recording of complaint %s could not be fetched: %s", complaint_id, reason)
    with transaction(rt.sessions) as session:
        complaint = session.get(Complaint, complaint_id)
        lifecycle.note(session, complaint, lifecycle.SYSTEM,
                       f"The phone recording could not be fetched from Twilio: {reason}",
                       kind="recording_missing")
    return f"failed: {reason}"
