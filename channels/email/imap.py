"""The IMAP poller (imapclient), for deployments that keep an existing mailbox.

``IKHTIYAR_IMAP_URL``: ``imaps://user:pass@host:993/INBOX`` (TLS from the first byte, the
default), ``imap://user:pass@host:143/INBOX`` (STARTTLS, required). Options:
``?processed=Folder`` where handled mail is moved (default ``Processed``), ``?cafile=PATH``
to trust a private CA (PEM) besides the system's, ``?verify=0`` to accept any certificate,
and ``?tls=0`` for a plain connection (a loopback test server only). A certificate that is
not trusted, or a server without STARTTLS, stops the poller before it logs in: nothing is
fetched or moved, and ``ImapTlsError`` says why.

Each new message is stored first, then the mailbox's UIDVALIDITY and last UID are saved in
the database, then the message is moved: a crash at any point neither misses a message nor
stores it twice (the store is idempotent on the Message-ID). IDLE is used where the server
has it, polling otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient

from channels.email import server_url

log = logging.getLogger("ikhtiyar.imap")

FETCH_BATCH = 20


class ImapUrlError(ValueError):
    """IKHTIYAR_IMAP_URL cannot be used; says why."""


class ImapTlsError(ConnectionError):
    """No trusted TLS connection to the mailbox; nothing was sent or fetched."""


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    processed: str = "Processed"
    tls: str = "tls"  # tls | starttls | none
    verify: bool = True
    cafile: str | None = None

    @classmethod
    def from_url(cls, value: str) -> Mailbox:
        parts = urlsplit(value)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname:
            raise ImapUrlError("must be imaps://user:pass@host[:port]/FOLDER or imap://...")
        if not parts.username:
            raise ImapUrlError("has no user name")
        query = server_url.options(parts)
        plain = server_url.is_off(query.get("tls", "").lower())
        tls = "tls" if parts.scheme == "imaps" else "none" if plain else "starttls"
        port = server_url.port(parts, 993 if parts.scheme == "imaps" else 143, ImapUrlError)
        box = cls(parts.hostname, port, unquote(parts.username), unquote(parts.password or ""),
                  unquote(parts.path.lstrip("/")) or "INBOX", query.get("processed", "Processed"),
                  tls, not server_url.is_off(query.get("verify")), query.get("cafile"))
        if box.cafile and box.tls != "none":
            try:  # a wrong path is a configuration error now, not a failure at each round
                box.context()
            except (OSError, ssl.SSLError) as exc:
                raise ImapUrlError(f"?cafile={box.cafile} cannot be read as PEM certificates: "
                                   f"{exc.strerror or exc}") from None
        return box

    @property
    def key(self) -> str:
        """Names this mailbox in the poller's saved state."""
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"[:255]

    def context(self) -> ssl.SSLContext:
        return server_url.tls_context(self.cafile, self.verify)


# store(data) -> None; raises to leave the message for the next round
Store = Callable[[bytes], object]
# position(mailbox key, uidvalidity) -> last uid stored; save(key, uidvalidity, uid)
Position = Callable[[str, int], int]
SavePosition = Callable[[str, int, int], None]


class ImapPoller:
    def __init__(self, mailbox: Mailbox, store: Store, position: Position, save: SavePosition,
                 idle_seconds: float = 300, poll_seconds: float = 60) -> None:
        self.mailbox, self.store = mailbox, store
        self.position, self.save = position, save
        self.idle_seconds, self.poll_seconds = idle_seconds, poll_seconds

    def connect(self) -> IMAPClient:
        box = self.mailbox
        where = f"IMAP server {box.host}:{box.port}"
        try:
            client = IMAPClient(box.host, port=box.port, ssl=box.tls == "tls",
                                ssl_context=box.context() if box.tls == "tls" else None, timeout=60)
        except ssl.SSLError as exc:
            raise ImapTlsError(_tls_problem(where, exc)) from None
        if box.tls == "starttls":
            try:
                client.starttls(box.context())
            except ssl.SSLError as exc:
                _close(client)
                raise ImapTlsError(_tls_problem(where, exc)) from None
            except IMAPClient.Error as exc:  # never log in in clear instead
                _close(client)
                raise ImapTlsError(f"{where} refused STARTTLS ({exc}); not logging in without TLS") from None
        client.login(box.username, box.password)
        if not client.folder_exists(box.processed):
            client.create_folder(box.processed)
        return client

    def poll_once(self, client: IMAPClient | None = None) -> int:
        """Store every message not stored yet; returns how many were stored."""
        own = client is None
        client = client or self.connect()
        try:
            return self._round(client)
        finally:
            if own:
                _logout(client)

    def _round(self, client: IMAPClient) -> int:
        box = self.mailbox
        selected = client.select_folder(box.folder)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        last = self.position(box.key, uidvalidity)
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        stored = 0
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start:start + FETCH_BATCH]
            fetched = client.fetch(batch, ["RFC822"])
            done = []
            for uid in batch:
                data = (fetched.get(uid) or {}).get(b"RFC822")
                if data is None:  # expunged meanwhile by another client
                    continue
                self.store(bytes(data))
                self.save(box.key, uidvalidity, uid)
                done.append(uid)
                stored += 1
            if done:
                self._move(client, done)
        return stored

    def _move(self, client: IMAPClient, uids: list[int]) -> None:
        box = self.mailbox
        try:
            if client.has_capability("MOVE"):
                client.move(uids, box.processed)
            else:
                client.copy(uids, box.processed)
                client.delete_messages(uids)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()
        except Exception:  # stored already; the saved UID keeps them from being stored again
            log.exception("stored %d message(s) but could not move them to %s", len(uids), box.processed)

    def run(self, stop: threading.Event | None = None) -> None:
        """Poll until ``stop`` is set: IDLE when the server has it, else every poll_seconds.
        A lost connection is retried with a growing pause."""
        stop = stop or threading.Event()
        pause = 1.0
        while not stop.is_set():
            try:
                client = self.connect()
                try:
                    idle = client.has_capability("IDLE")
                    while not stop.is_set():
                        count = self._round(client)
                        if count:
                            log.info("stored %d message(s) from %s", count, self.mailbox.key)
                        pause = 1.0
                        if idle:
                            self._idle(client, stop)
                        else:
                            stop.wait(self.poll_seconds)
                finally:
                    _logout(client)
            except ImapTlsError as exc:  # a configuration problem: the message says what to do
                log.error("%s; retrying in %.0f s", exc, pause)
                stop.wait(pause)
                pause = min(pause * 2, 300.0)
            except Exception:
                log.exception("IMAP polling of %s failed; retrying in %.0f s", self.mailbox.key, pause)
                stop.wait(pause)
                pause = min(pause * 2, 300.0)


    def _idle(self, client: IMAPClient, stop: threading.Event) -> None:
        """Wait in IDLE until the server reports a change, ``idle_seconds`` pass (servers
        drop IDLE after 30 minutes) or ``stop`` is set (checked every second)."""
        client.idle()
        try:
            deadline = time.monotonic() + self.idle_seconds
            while not stop.is_set() and time.monotonic() < deadline:
                if client.idle_check(timeout=1):
                    return
        finally:
            client.idle_done()


def _logout(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):  # the connection is gone already
        client.logout()


def _close(client: IMAPClient) -> None:
    """Drop a connection whose TLS failed (no LOGOUT: nothing more is said in clear)."""
    with contextlib.suppress(Exception):
        client.shutdown()


def _tls_problem(where: str, exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"{where}: TLS certificate not trusted ({exc.verify_message}); "
                "add ?cafile=PATH to IKHTIYAR_IMAP_URL to trust a private CA")
    return f"{where}: TLS handshake failed ({exc.reason or exc})"

