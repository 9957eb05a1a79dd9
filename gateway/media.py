"""The media-download job: photos, voice notes and documents a citizen sent by WhatsApp or
MMS become attachments of the conversation, then of the complaint.

A MediaUrl comes from a request anyone could forge until its signature was checked, and
redirects lead elsewhere, so every hop is checked before it is fetched:
- only http(s); every address the host resolves to must be public (no loopback, private,
  link-local or reserved networks), and the connection goes to the address that was
  checked (no second DNS answer can swap it);
- HTTP Basic auth (the Twilio account) only for Twilio's own hosts, never after a
  redirect elsewhere;
- a size cap (``IKHTIYAR_MEDIA_MAX_BYTES``) while reading, and a list of content types,
  checked against the file's first bytes.
The host of ``IKHTIYAR_TWILIO_API_URL`` counts as Twilio's even on a private address:
the operator named it (a local mock of Twilio in tests).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import urllib3
from sqlalchemy import select

from gateway import jobs
from storage.db import transaction
from storage.models import Attachment, Contact, Conversation, Message, utcnow

log = logging.getLogger("ikhtiyar.media")

MAX_REDIRECTS = 5
MAX_ATTEMPTS = 5
TIMEOUT = urllib3.Timeout(connect=10.0, read=30.0)
TWILIO_HOST_SUFFIXES = (".twilio.com",)
# Content types kept, with their file extension. WhatsApp voice notes are Ogg Opus audio.
TYPES = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif",
    "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/amr": ".amr", "audio/mp4": ".m4a",
    "audio/aac": ".aac", "video/mp4": ".mp4", "video/3gpp": ".3gp", "application/pdf": ".pdf",
}
_MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"), "audio/ogg": (b"OggS",), "application/pdf": (b"%PDF-",),
    "audio/amr": (b"#!AMR",),
}


class MediaRefused(Exception):
    """Never fetched or never kept: a forbidden address, too large, a type not accepted."""


class MediaUnavailable(Exception):
    """Not fetched this time (network, Twilio's 5xx): try again later."""


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str
    url: str


def is_twilio_host(host: str, port: int | None, settings) -> bool:
    host = host.lower().rstrip(".")
    if host == "api.twilio.com" or host.endswith(TWILIO_HOST_SUFFIXES):
        return True
    api = urlsplit(settings.twilio_api_url)
    api_port = api.port or (443 if api.scheme == "https" else 80)
    return host == (api.hostname or "").lower() and port == api_port


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: local-use translation
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through: IPv4-mapped, NAT64, 6to4,
    Teredo (server and client) and IPv4-compatible forms."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    return found


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # no zone index (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        inner = embedded_ipv4(ip)
        if inner:
            # A v6 address that carries a v4 one is as public as the v4 address it reaches.
            return all(v4.is_global and not v4.is_multicast for v4 in inner)
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int, trusted: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise MediaUnavailable(f"cannot resolve {host}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    if not trusted and not all(_public(a) for a in addresses):
        raise MediaRefused(f"{host} resolves to a private or local address")
    return addresses[0]


def fetch(url: str, settings, max_bytes: int | None = None) -> Fetched:
    """Download one media file, following redirects, with the checks above."""
    limit = max_bytes or settings.media_max_bytes
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MediaRefused("media URL is not http(s)")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        twilio = is_twilio_host(parts.hostname, port, settings)
        address = _resolve(parts.hostname, port, trusted=twilio)
        headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "ikhtiyar-media/1"}
        if twilio and settings.twilio_account_sid and settings.twilio_auth_token:
            token = f"{settings.twilio_account_sid}:{settings.twilio_auth_token}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        if parts.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(address, port, server_hostname=parts.hostname,
                                               assert_hostname=parts.hostname, timeout=TIMEOUT,
                                               retries=False, cert_reqs="CERT_REQUIRED")
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=TIMEOUT, retries=False)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            response = pool.urlopen("GET", path, headers=headers, redirect=False,
                                    preload_content=False)
        except urllib3.exceptions.HTTPError as exc:
            raise MediaUnavailable(f"network error: {type(exc).__name__}") from None
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise MediaRefused("redirect without a Location")
                url = urljoin(url, location)
                continue
            if response.status == 429 or response.status >= 500:
                raise MediaUnavailable(f"HTTP {response.status}")
            if response.status != 200:
                raise MediaRefused(f"HTTP {response.status}")
            content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type not in TYPES:
                raise MediaRefused(f"content type {content_type or 'unknown'} is not accepted")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise MediaRefused(f"{declared} bytes is more than the {limit} allowed")
            data = bytearray()
            for chunk in response.stream(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise MediaRefused(f"more than the {limit} bytes allowed")
            magic = _MAGIC.get(content_type)
            if magic and not bytes(data[:8]).startswith(magic):
                raise MediaRefused(f"the file is not {content_type}")
            return Fetched(bytes(data), content_type, url)
        except urllib3.exceptions.HTTPError as exc:
            raise MediaUnavailable(f"network error: {type(exc).__name__}") from None
        finally:
            response.release_conn()
            pool.close()
    raise MediaRefused("too many redirects")


def ogg_duration(data: bytes) -> float | None:
    """Length of an Ogg Opus/Vorbis recording from its last page's granule position."""
    last = data.rfind(b"OggS")
    if last < 0 or len(data) < last + 14:
        return None
    granule = int.from_bytes(data[last + 6:last + 14], "little")
    rate = 48000 if b"OpusHead" in data[:200] else None
    if rate is None and b"\x01vorbis" in data[:200]:
        start = data.index(b"\x01vorbis") + 12
        rate = int.from_bytes(data[start:start + 4], "little") or None
    if not rate or granule <= 0 or granule == 2**64 - 1:
        return None
    return round(granule / rate, 2)


def store(fetched: Fetched, root: Path) -> tuple[str, str]:
    """Write the file under the attachments folder; returns (relative path, sha256)."""
    digest = hashlib.sha256(fetched.data).hexdigest()
    now = utcnow()
    relative = Path(f"{now:%Y}/{now:%m}/{digest[:2]}/{digest}{TYPES[fetched.content_type]}")
    target = root / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + f".{os.getpid()}.tmp")
        tmp.write_bytes(fetched.data)
        os.replace(tmp, target)
    return relative.as_posix(), digest


def fetch_message_media(message_id: int, attempt: int = 0) -> dict:
    """Job: download the message's media; returns {index: "stored" | reason}."""
    rt = jobs.runtime()
    with rt.sessions() as session:
        message = session.get(Message, message_id)
        if message is None:
            return {}
        items = list((message.payload or {}).get("media") or [])
        done = dict((message.payload or {}).get("media_status") or {})
    results: dict[str, str] = {}
    rows: list[dict] = []
    retry = False
    for index, item in enumerate(items):
        key = str(index)
        if done.get(key) == "stored" or str(done.get(key, "")).startswith("refused"):
            continue
        try:
            fetched = fetch(item["url"], rt.settings)
        except MediaRefused as exc:
            results[key] = f"refused: {exc}"
            log.warning("media %s of message %s refused: %s", index, message_id, exc)
            continue
        except MediaUnavailable as exc:
            results[key] = f"retrying: {exc}"
            retry = True
            continue
        path, digest = store(fetched, rt.attachments_dir)
        rows.append({"content_type": fetched.content_type, "size": len(fetched.data), "sha256": digest,
                     "path": path, "filename": f"{message.provider_id}-{index}{TYPES[fetched.content_type]}",
                     "duration_seconds": ogg_duration(fetched.data) if fetched.content_type == "audio/ogg" else None})
        results[key] = "stored"
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id)
        # The turn of this contact may be filing the complaint right now: wait for it, so
        # the attachment lands on the complaint whichever finishes first.
        session.scalars(select(Contact).where(Contact.id == message.contact_id).with_for_update()).one()
        session.refresh(message)
        conversation_id = message.conversation_id or session.scalar(
            select(Conversation.id).where(Conversation.contact_id == message.contact_id))
        for row in rows:
            session.add(Attachment(message_id=message.id, conversation_id=conversation_id,
                                   complaint_id=message.complaint_id, **row))
        message.payload = {**(message.payload or {}), "media_status": {**done, **results}}
    if retry and attempt + 1 < MAX_ATTEMPTS:
        rt.queue.enqueue_in(30.0 * 2 ** attempt, fetch_message_media, message_id, attempt + 1)
    return results
