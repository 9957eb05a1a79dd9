"""The SMTP listener (aiosmtpd): takes mail for the complaints address(es) only.

- RCPT for any other address: 550 (never an open relay); more than ``max_recipients``: 452.
- A message over the size limit: 552 (aiosmtpd checks SIZE and the DATA it reads).
- Lines as long as the message may be (Outlook and others send lines far over RFC 5321's
  1,000 characters); 8-bit and SMTPUTF8 mail (RFC 6531/6532) is taken as bytes.
- 250 only once ``store`` has put the message on disk, so a crash after 250 loses nothing;
  a storage failure answers 451 and the sending server tries again later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.parser import MailRejected

log = logging.getLogger("ikhtiyar.smtp")


@dataclass(frozen=True)
class Client:
    """Who handed us the mail: the connecting IP and the name it gave in HELO/EHLO (for SPF
    and for the answer budget per IP)."""

    ip: str | None = None
    helo: str | None = None


# store(data, envelope_from, recipients, client) -> a reference for the 250 line
Store = Callable[[bytes, str | None, list[str], Client], str]


class ComplaintMailHandler:
    def __init__(self, addresses: frozenset[str], store: Store, max_recipients: int = 20) -> None:
        self.addresses = frozenset(a.strip().lower() for a in addresses)
        self.store = store
        self.max_recipients = max_recipients

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.strip().lower() not in self.addresses:
            return f"550 5.1.1 <{address[:100]}>: no such mailbox here"
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            # Storing talks to the database: off the event loop, so other sessions go on.
            peer = session.peer[0] if isinstance(session.peer, tuple) and session.peer else None
            ref = await loop.run_in_executor(None, self.store, data, envelope.mail_from,
                                             list(envelope.rcpt_tos), Client(peer, session.host_name))
        except MailRejected as exc:
            return f"550 5.6.0 {exc}"
        except Exception:
            log.exception("could not store a mail from %s; answered 451", _mask(envelope.mail_from))
            return "451 4.3.0 Could not store the message now; please try again later"
        return f"250 2.0.0 OK: stored as {ref}"


class _Controller(Controller):
    """aiosmtpd's controller with our SMTP settings."""

    def __init__(self, handler: ComplaintMailHandler, host: str, port: int, max_bytes: int,
                 server_name: str) -> None:
        super().__init__(handler, hostname=host, port=port, ready_timeout=10,
                         data_size_limit=max_bytes, enable_SMTPUTF8=True, ident="Ikhtiyar ESMTP",
                         server_hostname=server_name)
        # aiosmtpd refuses DATA lines over 1,000 bytes (500 "Line too long"); real mail has
        # them. A line may be as long as the message, which stays capped by SIZE (twice the
        # size, so that a line a little over the limit is answered 552 "too much mail data").
        # aiosmtpd sizes each connection's read buffer from the class attribute: a subclass.
        self.server_class = type("LongLinesSMTP", (SMTP,),
                                 {"line_length_limit": max(SMTP.line_length_limit, 2 * max_bytes)})

    def factory(self) -> SMTP:
        return self.server_class(self.handler, **self.SMTP_kwargs)


def start_listener(listen: str, addresses: frozenset[str], store: Store, *, max_bytes: int,
                   max_recipients: int = 20, server_name: str = "ikhtiyar") -> Controller:
    """Start the listener in its own thread on ``HOST:PORT``; call ``.stop()`` to end it."""
    host, _, port = listen.rpartition(":")
    controller = _Controller(ComplaintMailHandler(addresses, store, max_recipients),
                             host.strip("[]"), int(port), max_bytes, server_name)
    controller.start()
    log.info("SMTP listener on %s for %s", listen, ", ".join(sorted(addresses)))
    return controller


def _mask(address: str | None) -> str:
    if not address:
        return "<>"
    local, _, domain = address.partition("@")
    return f"{local[:2]}…@{domain}"
