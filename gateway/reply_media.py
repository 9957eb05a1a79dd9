"""Files an officer attaches to a reply: checked when uploaded (the type from the file's
own first bytes, never the browser's word; a size limit), kept under the attachments folder
as an attachment of the outbound message and of the case, and delivered as media: inside
the email, and on WhatsApp as a link Twilio fetches (signed, expiring, only for files of
replies). SMS carries no file (the text goes; the citizen sees the file on other channels)."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import media
from storage.models import Attachment, Message

# What an officer may send: photos and PDF documents, told apart by their first bytes.
REPLY_TYPES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",),
               "application/pdf": (b"%PDF-",)}
MAX_BYTES = 5 * 1024 * 1024  # WhatsApp's limit for images; keeps mails small too
LINK_SECONDS = 7 * 24 * 3600  # Twilio fetches at once; a retry days later still works
_SALT = "ikhtiyar.reply-media"


class UploadRefused(ValueError):
    """The file is not one a reply may carry; says why."""


def sniff(data: bytes) -> str:
    """The content type from the file's own bytes; refuses anything else and empty or too
    large files."""
    if not data:
        raise UploadRefused("the attached file is empty")
    if len(data) > MAX_BYTES:
        raise UploadRefused(f"the attached file is {len(data) / 1048576:.1f} MB; the limit is "
                            f"{MAX_BYTES // 1048576} MB")
    for content_type, magics in REPLY_TYPES.items():
        if data.startswith(magics):
            return content_type
    raise UploadRefused("attach a JPEG or PNG photo or a PDF document")


def attach(session: Session, root: Path, message: Message, data: bytes, filename: str | None) -> Attachment:
    """Keep the checked file as an attachment of the outbound ``message`` (and its case) and
    note it on the message, whose delivery then carries it."""
    content_type = sniff(data)
    path, digest = media.store(media.Fetched(data, content_type, "upload"), root)
    found = Attachment(message_id=message.id, complaint_id=message.complaint_id,
                       content_type=content_type, size=len(data), sha256=digest, path=path,
                       filename=Path(filename or "").name[:255] or None)
    session.add(found)
    session.flush()
    message.payload = {**(message.payload or {}), "attachments": [found.id]}
    return found


def _mac(secret: bytes, body: str) -> str:
    return hmac.new(secret, f"{_SALT}:{body}".encode(), hashlib.sha256).hexdigest()[:32]


def token(secret: bytes, attachment_id: int, now: float | None = None) -> str:
    body = f"{attachment_id}.{int((now or time.time()) + LINK_SECONDS)}"
    return f"{body}.{_mac(secret, body)}"


def link(secret: bytes, base_url: str, attachment_id: int) -> str:
    return f"{base_url.rstrip('/')}/dashboard/media/{token(secret, attachment_id)}"


def from_token(secret: bytes, value: str, now: float | None = None) -> int | None:
    """The attachment id a link names, if the link is ours and has not expired."""
    ident, _, rest = value.partition(".")
    expires, _, mac = rest.partition(".")
    if not (ident.isdigit() and expires.isdigit()) or int(expires) < (now or time.time()):
        return None
    if not hmac.compare_digest(mac, _mac(secret, f"{ident}.{expires}")):
        return None
    return int(ident)


def delivery_extras(session: Session, root: Path, message: Message, secret: bytes,
                    base_url: str | None) -> dict:
    """What the sender needs to carry the message's files: ``files`` (for email: path,
    type, name) and ``media_urls`` (for WhatsApp, when the gateway has a public address)."""
    ids = (message.payload or {}).get("attachments") or []
    if not ids:
        return {}
    found = list(session.scalars(select(Attachment).where(Attachment.id.in_(ids),
                                                          Attachment.message_id == message.id)))
    files = [{"path": str(root / a.path), "content_type": a.content_type,
              "filename": a.filename or Path(a.path).name} for a in found]
    urls = [link(secret, base_url, a.id) for a in found] if base_url else []
    return {"files": files, "media_urls": urls}
