"""The spool: where inbound messages wait while the database cannot be reached.

A webhook (WhatsApp, SMS, delivery statuses) or the SMTP listener that cannot store a
message appends it to ``var/spool/inbound.spool`` and answers the provider only after the
line is on disk (fsync). The file is append-only; each line is one record encrypted with the
data key (it holds phone numbers and texts). A replayer, in the web, SMTP and scheduler
processes, moves the records into the database when it answers again, in order, each stored
once (a provider's id is unique, so a record replayed twice, or also retried by Twilio
meanwhile, is one message). Replayed records are counted in ``inbound.offset``; when every
record is in, the file is emptied.

Several processes (web server workers) append and replay side by side: appends hold an
exclusive lock on the file for the write, a replay holds ``replay.lock``.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import json
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from conversation.messages import InboundMessage, Media
from storage.crypto import vault

log = logging.getLogger("ikhtiyar.spool")


class SpoolError(RuntimeError):
    """The spool could not take the record either: the provider must retry."""


def database_down(exc: BaseException) -> bool:
    """Whether a failure to store means the database cannot be reached (spool it), as
    opposed to a bug or a refused message (let it fail)."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def folder(settings) -> Path:
    return Path(settings.var_dir) / "spool"


def _paths(settings) -> tuple[Path, Path, Path]:
    root = folder(settings)
    return root / "inbound.spool", root / "inbound.offset", root / "replay.lock"


def append(settings, record: dict) -> None:
    """Write one record and fsync it before returning; SpoolError if that fails."""
    path, _, _ = _paths(settings)
    line = (vault().encrypt(json.dumps(record, separators=(",", ":"), default=str)) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)  # closing drops the lock
    except OSError as exc:
        raise SpoolError(f"could not write the spool {path}: {exc}") from exc
    log.warning("database unreachable: spooled a %s record", record.get("kind"))
    start_replayer(settings)


def pending(settings) -> int:
    """Bytes waiting in the spool (0: nothing spooled, or all replayed)."""
    path, offset_path, _ = _paths(settings)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    return max(0, size - _offset(offset_path))


def _offset(offset_path: Path) -> int:
    try:
        return int(offset_path.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _save_offset(offset_path: Path, offset: int) -> None:
    tmp = offset_path.with_suffix(".tmp")
    with open(tmp, "w") as out:
        out.write(str(offset))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, offset_path)


# --- records ---------------------------------------------------------------------------


def inbound_record(inbound: InboundMessage) -> dict:
    fields = dataclasses.asdict(inbound)
    fields["received_at"] = (inbound.received_at or datetime.now().astimezone()).isoformat()
    return {"kind": "inbound", "message": fields}


def _inbound(fields: dict) -> InboundMessage:
    fields = dict(fields)
    fields["received_at"] = datetime.fromisoformat(fields["received_at"]) if fields.get("received_at") else None
    fields["media"] = tuple(Media(**m) for m in fields.get("media") or ())
    fields["location"] = tuple(fields["location"]) if fields.get("location") else None
    return InboundMessage(**fields)


def mail_record(data: bytes, envelope_from: str | None, recipients: list[str] | None,
                source: str, client_ip: str | None = None, helo: str | None = None) -> dict:
    return {"kind": "mail", "data": base64.b64encode(data).decode(), "envelope_from": envelope_from,
            "recipients": list(recipients or []), "source": source, "ip": client_ip, "helo": helo}


def _apply(rt, record: dict) -> None:
    kind = record["kind"]
    if kind == "inbound":
        from gateway.blueprints.twilio_webhooks import accept_inbound

        accept_inbound(rt, _inbound(record["message"]), spool=False)
    elif kind == "status":
        from gateway import jobs
        from gateway.blueprints.twilio_webhooks import record_status

        for message_id in record_status(rt, record["sid"], record["status"], record["form"]):
            rt.queue.enqueue(jobs.deliver, message_id)
    elif kind == "mail":
        from channels.email.smtp_server import Client
        from gateway import mail_service

        client = Client(record.get("ip"), record.get("helo")) if record.get("ip") else None
        mail_service.store(rt, base64.b64decode(record["data"]), record.get("envelope_from"),
                           record.get("recipients"), record.get("source", "smtp"), client)
    else:
        log.error("unknown spool record %r skipped", kind)


def replay(rt) -> int:
    """Move what is spooled into the database, in order; returns how many records went
    in. Stops at the first record the database refuses for being down (tried again later);
    one that fails for another reason is logged and set aside in ``rejected.spool``."""
    path, offset_path, lock_path = _paths(rt.settings)
    if pending(rt.settings) == 0:
        return 0
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another process is replaying
        done = 0
        offset = _offset(offset_path)
        with open(path, "rb") as spool:
            spool.seek(offset)
            for line in spool:
                if not line.endswith(b"\n"):
                    break  # a record still being written
                try:
                    record = json.loads(vault().decrypt(line.decode().strip()))
                    _apply(rt, record)
                except Exception as exc:
                    if database_down(exc):
                        log.info("database still unreachable; %d spooled records wait", done)
                        break
                    log.exception("a spooled record could not be stored; set aside")
                    with open(path.with_name("rejected.spool"), "ab") as rejected:
                        rejected.write(line)
                offset += len(line)
                done += 1
                _save_offset(offset_path, offset)
        _truncate_if_done(path, offset_path)
    if done:
        log.info("replayed %d spooled records", done)
    return done


def _truncate_if_done(path: Path, offset_path: Path) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # no append in between
        if os.fstat(fd).st_size == _offset(offset_path):
            os.ftruncate(fd, 0)
            os.fsync(fd)
            _save_offset(offset_path, 0)
    finally:
        os.close(fd)


# --- the replayer thread ----------------------------------------------------------------

_replayer: threading.Thread | None = None
_replayer_lock = threading.Lock()
_runtime = None
REPLAY_EVERY_S = 2.0


def install(rt) -> None:
    """The runtime this process replays into (the web, SMTP and scheduler processes)."""
    global _runtime
    _runtime = rt
    if pending(rt.settings):
        start_replayer(rt.settings)


def start_replayer(_settings=None) -> None:
    """A thread that replays while anything is spooled, then ends."""
    global _replayer
    with _replayer_lock:
        if _runtime is None or (_replayer is not None and _replayer.is_alive()):
            return
        _replayer = threading.Thread(target=_replay_loop, name="ikhtiyar-spool", daemon=True)
        _replayer.start()


def _replay_loop() -> None:
    rt = _runtime
    while pending(rt.settings):
        time.sleep(REPLAY_EVERY_S)
        try:
            replay(rt)
        except Exception:
            log.exception("spool replay failed; trying again")
