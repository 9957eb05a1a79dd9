"""Mail as received (RFC 5322 bytes) -> what the engine reads, without ever crashing.

The standard library's ``email`` with ``policy.default`` does the MIME work; every header
access is guarded (malformed address lists, unknown charsets, broken encoded words raise
there), bodies in an unknown or wrong charset are decoded with charset-normalizer, HTML-only
mail is turned into text by a parser that never runs or fetches anything. The engine reads
the citizen's own words (quoted replies and signatures cut off); the whole text is kept.
"""

from __future__ import annotations

import email
import email.header
import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage

from channels.addresses import AddressError, email_address
from channels.email import loops, threading
from channels.email.text import html_to_text, strip_reply
from channels.email.threading import clean_message_id, inbound_provider_id
from conversation.messages import InboundMessage, Media

MAX_DEPTH = 8  # multipart nesting we walk; deeper parts are noted and skipped
MAX_PARTS = 100
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 8 * 1024 * 1024
MAX_TEXT = 100_000  # characters of body text kept

# Attachment types we keep, with the magic bytes their content must start with (None: any).
ALLOWED_TYPES: dict[str, tuple[bytes, ...] | None] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "image/heic": None,
    "application/pdf": (b"%PDF-",),
    "audio/mpeg": None, "audio/ogg": (b"OggS",), "audio/mp4": None, "audio/amr": (b"#!AMR",),
    "audio/wav": (b"RIFF",), "audio/x-wav": (b"RIFF",),
    "video/mp4": None, "video/3gpp": None,
    "text/plain": None,
    # Kept as they came and never unpacked: an archive or a forwarded mail is evidence an
    # officer may open, not content we read.
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "message/rfc822": None,
}
_EXTENSIONS = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
               ".pdf": "application/pdf", ".zip": "application/zip", ".eml": "message/rfc822",
               ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".m4a": "audio/mp4", ".mp4": "video/mp4",
               ".txt": "text/plain", ".webp": "image/webp", ".heic": "image/heic", ".amr": "audio/amr"}


class MailRejected(ValueError):
    """A mail that cannot be taken at all (no address to answer); says why."""


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ParsedMail:
    sender: str
    sender_name: str
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str  # the citizen's own words: quotes and signature removed
    full_text: str  # the whole body as text, for officers
    provider_id: str
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    date: str = ""
    html_only: bool = False
    attachments: tuple[MailAttachment, ...] = ()
    skipped: tuple[dict, ...] = ()  # attachments not kept, with the reason
    problems: tuple[str, ...] = ()  # what was wrong with the mail (logged, shown to officers)
    automatic: str | None = None  # why no automatic answer may be sent
    bounce: loops.Bounce | None = None
    headers: dict = field(default_factory=dict)

    def raw(self, **extra: object) -> dict:
        """What is kept of the mail beside the message (stored encrypted)."""
        info = {
            "message_id": self.message_id, "in_reply_to": self.in_reply_to,
            "references": list(self.references), "subject": self.subject,
            "from": self.sender, "from_name": self.sender_name, "to": list(self.to),
            "cc": list(self.cc), "date": self.date, "full_text": self.full_text,
            "html_only": self.html_only, "automatic": self.automatic,
            "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size}
                            for a in self.attachments],
            "skipped": list(self.skipped), "problems": list(self.problems),
        }
        if self.bounce is not None:
            info["bounce"] = {"message_ids": list(self.bounce.message_ids),
                              "recipients": list(self.bounce.recipients),
                              "status": self.bounce.status, "diagnostic": self.bounce.diagnostic,
                              "failed": self.bounce.failed}
        info.update(extra)
        return {"email": _scrub(info)}

    def inbound(self, received_at: datetime | None = None, media: tuple[Media, ...] = (),
                **extra: object) -> InboundMessage:
        text = _scrub(self.text or (threading.bare_subject(self.subject) if not self.in_reply_to else ""))
        return InboundMessage(channel="email", provider_id=self.provider_id, sender=self.sender,
                              text=text, received_at=received_at, media=media,
                              profile_name=self.sender_name or None, raw=self.raw(**extra))


def parse(data: bytes, *, envelope_from: str | None = None,
          our_addresses: frozenset[str] = frozenset()) -> ParsedMail:
    """Parse one mail. Raises MailRejected only when there is no address to answer."""
    problems: list[str] = []
    try:
        msg = email.message_from_bytes(data, policy=policy.default)
    except Exception as exc:  # the parser is lenient; this is a last resort
        raise MailRejected(f"not a mail message ({type(exc).__name__})") from None
    headers = _headers(msg, problems)
    sender_name, sender = _sender(headers.get("from", ""), envelope_from, problems)
    subject = " ".join(headers.get("subject", "").split())[:500]
    message_id = clean_message_id(headers.get("message-id"))
    in_reply = threading.message_ids(headers.get("in-reply-to"), limit=1)
    refs = threading.message_ids(headers.get("references"))
    body = _Body(problems)
    body.walk(msg, 0)
    full = body.plain or body.html_text
    full = full[:MAX_TEXT].replace("\x00", "")
    bounce = loops.parse_dsn(msg)
    auto = loops.automatic(headers, sender, envelope_from, our_addresses)
    if bounce is None and auto and re.match(r"(mailer-daemon|postmaster)@", sender, re.IGNORECASE):
        ids = loops.quoted_message_ids(full)
        if ids:  # a bounce in prose (no RFC 3464 report) that quotes our Message-ID
            bounce = loops.Bounce(tuple(ids), diagnostic=subject[:200])
    if bounce is not None and not auto:
        auto = "delivery status notification"
    return ParsedMail(
        sender=sender, sender_name=sender_name, subject=subject, message_id=message_id,
        in_reply_to=in_reply[0] if in_reply else None, references=tuple(refs),
        text=strip_reply(full), full_text=full,
        provider_id=inbound_provider_id(message_id, data, sender),
        to=tuple(_addresses(headers.get("to", ""))), cc=tuple(_addresses(headers.get("cc", ""))),
        date=headers.get("date", "")[:100], html_only=not body.plain and bool(body.html_text),
        attachments=tuple(body.attachments), skipped=tuple(body.skipped),
        problems=tuple(dict.fromkeys(problems)), automatic=auto, bounce=bounce, headers=headers,
    )


# --- headers ------------------------------------------------------------------------------------


def _headers(msg: EmailMessage, problems: list[str]) -> dict[str, str]:
    """Every header once (the first of a name), decoded; a broken one falls back to its raw text."""
    out: dict[str, str] = {}
    try:
        raw_items = list(msg.raw_items())
    except Exception:
        problems.append("unreadable header block")
        return out
    for name, raw in raw_items:
        key = str(name).strip().lower()
        if key in out or not key:
            continue
        out[key] = _decode_header(raw, problems, key)
    return out


def _decode_header(raw: object, problems: list[str], name: str) -> str:
    text = str(raw)
    try:
        parts = email.header.decode_header(text)
        decoded = []
        for chunk, charset in parts:
            if isinstance(chunk, bytes):
                decoded.append(_decode_bytes(chunk, charset, problems, f"header {name}", detect=False))
            else:
                decoded.append(chunk)
        value = "".join(decoded)
    except Exception:
        problems.append(f"broken encoded words in {name}")
        value = text
    value = re.sub(r"\r?\n[ \t]*", " ", _unescape(value, problems, name).replace("\x00", ""))  # unfold
    return value.strip()


def _unescape(text: str, problems: list[str] | None = None, where: str = "header") -> str:
    """Raw 8-bit bytes in a header (RFC 6532 UTF-8, or a legacy charset sent undeclared)
    reach us as surrogate escapes; they become the characters they stand for."""
    if not _SURROGATE.search(text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_bytes(data, None, problems if problems is not None else [], where)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value):
    """Strings anywhere in ``value`` with no surrogate and no NUL left (neither can be stored:
    UTF-8 has no surrogates, PostgreSQL's text no NUL)."""
    if isinstance(value, str):
        return (_unescape(value) if _SURROGATE.search(value) else value).replace("\x00", "")
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _sender(from_value: str, envelope_from: str | None, problems: list[str]) -> tuple[str, str]:
    for candidate in (from_value, envelope_from or ""):
        name, address = _safe(lambda c=candidate: email.utils.parseaddr(c), ("", ""))
        try:
            return " ".join(name.split())[:120], email_address(address)
        except AddressError:
            continue
    problems.append("no valid sender address")
    raise MailRejected("no valid sender address to answer")


def _addresses(value: str) -> list[str]:
    """Addresses in a To/Cc value; group syntax and junk are skipped, never raised on."""
    if not value:
        return []
    try:
        pairs = email.utils.getaddresses([value])
    except Exception:
        return []
    found = []
    for _name, address in pairs[:50]:
        try:
            found.append(email_address(address))
        except AddressError:
            continue
    return found


# --- bodies -----------------------------------------------------------------------------------


def _decode_bytes(data: bytes, charset: str | None, problems: list[str], where: str,
                  detect: bool = True) -> str:
    """Bytes in their declared charset; an unknown or wrong one is detected instead (a few
    bytes of a header are too short to detect: they are decoded with replacement marks)."""
    if charset:
        try:
            return data.decode(charset)
        except LookupError:
            problems.append(f"unknown charset {charset[:30]} in {where}")
        except UnicodeDecodeError:
            problems.append(f"{where} is not valid {charset[:30]}")
        except ValueError:  # a charset name with a NUL in it (found by bench/fuzz.py)
            problems.append(f"unknown charset {charset[:30]!r} in {where}")
    else:
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if not detect:
            return data.decode("utf-8", errors="replace")
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is not None:
        return str(best)
    return data.decode("utf-8", errors="replace")


class _Body:
    """Walks the MIME tree within bounds, collecting text, HTML and attachments."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        self.plain = ""
        self.html_text = ""
        self.attachments: list[MailAttachment] = []
        self.skipped: list[dict] = []
        self.parts = 0

    def walk(self, part: EmailMessage, depth: int) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            if self.parts == MAX_PARTS + 1:
                self.problems.append(f"more than {MAX_PARTS} MIME parts; the rest were skipped")
            return
        ctype = _safe(lambda: part.get_content_type(), "text/plain")
        if ctype.startswith("multipart/"):
            if depth >= MAX_DEPTH:
                self.problems.append(f"MIME nesting deeper than {MAX_DEPTH}; skipped")
                return
            children = _safe(lambda: part.get_payload(), [])
            if not isinstance(children, list):  # a multipart with no boundary found
                self.problems.append("multipart without parts")
                text = _unescape(children) if isinstance(children, str) else ""
                if text.strip() and not self.plain:
                    self.plain = text.strip()
                return
            if ctype == "multipart/report":
                children = children[:1]  # the human-readable notice; the rest is machine data
            for child in children:
                self.walk(child, depth + 1)
            return
        disposition = _safe(lambda: part.get_content_disposition(), None)
        filename = _safe(lambda: part.get_filename(), None)
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            self._text(part, ctype)
            return
        if ctype.startswith("message/") and ctype != "message/rfc822":
            return  # delivery-status and the like: read by loops.parse_dsn
        self._attachment(part, ctype, filename)

    def _text(self, part: EmailMessage, ctype: str) -> None:
        data = _safe(lambda: part.get_payload(decode=True), None)
        if not isinstance(data, bytes):
            return
        charset = _safe(lambda: part.get_content_charset(), None)
        text = _decode_bytes(data, charset, self.problems, ctype).replace("\r\n", "\n")
        if ctype == "text/plain":
            if not self.plain:
                self.plain = text.strip()
        elif not self.html_text:
            self.html_text = html_to_text(text)

    def _attachment(self, part: EmailMessage, ctype: str, filename: str | None) -> None:
        name = _clean_filename(filename, ctype)
        if ctype == "message/rfc822":
            inner = _safe(lambda: part.get_payload(), None)
            inner = inner[0] if isinstance(inner, list) and inner else inner
            data = _safe(lambda: inner.as_bytes(policy=policy.SMTP), None) if inner is not None else None
        else:
            data = _safe(lambda: part.get_payload(decode=True), None)
        if not isinstance(data, bytes):
            self.skipped.append({"filename": name, "content_type": ctype, "reason": "unreadable"})
            return
        if ctype == "application/octet-stream":  # many clients send everything as this
            ctype = _EXTENSIONS.get(_extension(name), ctype)
        reason = _refuse(ctype, data)
        if reason is None and len(self.attachments) >= MAX_ATTACHMENTS:
            reason = f"more than {MAX_ATTACHMENTS} attachments"
        if reason:
            self.skipped.append({"filename": name, "content_type": ctype, "size": len(data),
                                 "reason": reason})
            return
        self.attachments.append(MailAttachment(name, ctype, data))


def _refuse(ctype: str, data: bytes) -> str | None:
    if ctype not in ALLOWED_TYPES:
        return f"type {ctype} is not accepted"
    if len(data) > MAX_ATTACHMENT_BYTES:
        return f"larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB"
    if not data:
        return "empty"
    magic = ALLOWED_TYPES[ctype]
    if magic is not None and not data.startswith(magic):
        return f"content is not {ctype}"
    return None


def _extension(name: str) -> str:
    return ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""


def _clean_filename(filename: str | None, ctype: str) -> str:
    name = _unescape(filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip(". ")[:120]
    return name or "attachment" + next((e for e, t in _EXTENSIONS.items() if t == ctype), "")


def _safe(getter, default):
    try:
        return getter()
    except Exception:  # stdlib MIME accessors raise on malformed input (LookupError, ValueError ...)
        return default
