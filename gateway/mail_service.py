"""Email's wiring: the one path (persist, then converse) for mail from the SMTP listener
and the IMAP poller, and the processes that run them.

A mail is parsed, its attachments written to disk, and the message stored in one
transaction before the SMTP 250 (or before the IMAP poller moves it on). Mail that must not
be answered (auto-replies, lists, bounces) is stored too, with no turn; a bounce of one of
our own mails marks that mail failed on the case.

The mail is kept as it came, as encrypted bytes (storage.mail.RawMail). Its sender is
checked (channels.email.auth: DKIM, SPF, or our trusted relay's Authentication-Results)
and the verdict kept with it: only an authenticated mail may answer a satisfaction request.
A new mail gets a turn (and so an answer) only while its sender address and the connecting
IP are within their hourly budgets; beyond them it is stored without one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

from sqlalchemy import select

from channels.email import auth, imap, parser, smtp_server
from channels.email.parser import MailRejected, ParsedMail
from conversation.inbox import accept
from conversation.messages import Media
from gateway import jobs
from gateway.runtime import Runtime
from storage import mail
from storage.db import transaction
from storage.messages import contact_for, insert_inbound
from storage.models import Attachment, Contact, Message, utcnow

ANSWER_WINDOW_SECONDS = 3600

log = logging.getLogger("ikhtiyar.mail")


def complaint_addresses(settings) -> frozenset[str]:
    """The addresses we take mail for: IKHTIYAR_MAIL_ADDRESS and IKHTIYAR_MAIL_ALIASES."""
    aliases = getattr(settings, "mail_aliases", "") or ""
    found = [settings.mail_address, *aliases.split(",")]
    return frozenset(a.strip().lower() for a in found if a.strip())


def store(rt: Runtime, data: bytes, envelope_from: str | None = None,
          recipients: list[str] | None = None, source: str = "smtp",
          client: smtp_server.Client | None = None, lookup: auth.Lookup | None = None) -> str:
    """Parse and persist one mail; returns its reference. Raises MailRejected for a mail
    that cannot be taken (the SMTP listener answers 5xx), anything else for a failure to
    store (451: the sender retries). ``lookup`` answers the DKIM/SPF DNS queries (the
    system's resolver when None)."""
    settings = rt.settings
    client = client or smtp_server.Client()
    parsed = parser.parse(data, envelope_from=envelope_from,
                          our_addresses=complaint_addresses(settings))
    verdict = auth.NOT_CHECKED if parsed.automatic else auth.authenticate(
        data, envelope_from=envelope_from, ip=client.ip, helo=client.helo,
        trusted_authserv_id=getattr(settings, "mail_trusted_authserv_id", "") or None,
        lookup=lookup, timeout=getattr(settings, "mail_dns_timeout", auth.DEFAULT_TIMEOUT))
    media = _save_attachments(rt, parsed)
    inbound = parsed.inbound(utcnow(), media=tuple(Media(url, ctype) for url, ctype, _ in media),
                             source=source, envelope_from=envelope_from,
                             recipients=list(recipients or [])[:20], auth=verdict.info())
    quiet = None
    with transaction(rt.sessions) as session:
        if parsed.automatic:
            message_id, new = _store_automatic(session, parsed, inbound)
        else:
            message_id, new = accept(session, inbound)
        if new:
            mail.save_raw(session, message_id, data)
            for url, ctype, (name, size, digest) in media:
                session.add(Attachment(message_id=message_id, content_type=ctype, size=size,
                                       sha256=digest, path=url.removeprefix("attachment:"),
                                       filename=name))
            if not parsed.automatic:
                quiet = _over_budget(session, settings, parsed.sender, client.ip)
                if quiet:
                    session.get(Message, message_id).status = "ignored"
    if quiet:
        log.warning("mail %s stored without an answer: %s", message_id, quiet)
        return f"M{message_id}"
    if new and not parsed.automatic:
        try:
            rt.queue.enqueue(jobs.process_inbound, message_id)
        except Exception:  # stored: the sweeper queues its turn
            log.exception("could not queue mail %s; the sweeper will retry", message_id)
    if parsed.automatic:
        log.info("mail %s stored without an answer: %s", message_id, parsed.automatic)
    return f"M{message_id}"


def _over_budget(session, settings, sender: str, ip: str | None) -> str | None:
    """Why this mail may not be answered (too many answers lately to its sender address or
    to its connecting IP), or None: spends one answer of each budget when it may."""
    limits = [("from", sender, getattr(settings, "mail_answers_per_sender", 10))]
    if ip:
        limits.append(("ip", ip, getattr(settings, "mail_answers_per_ip", 30)))
    if mail.take_answer(session, limits, ANSWER_WINDOW_SECONDS):
        return None
    return "the hourly answer limit of its sender or of its connecting IP is reached"


def _store_automatic(session, parsed: ParsedMail, inbound) -> tuple[int, bool]:
    """Keep an automatic mail without a turn; a bounce of our mail fails it on the case."""
    bounced = mail.our_mail(session, list(parsed.bounce.message_ids)) if parsed.bounce else []
    if bounced:  # filed under the citizen whose mail bounced, not under MAILER-DAEMON
        contact = session.get(Contact, bounced[0].contact_id)
    else:
        contact = contact_for(session, "email", inbound.sender)
    message, new = insert_inbound(session, contact, channel="email", provider_id=inbound.provider_id,
                                  text=inbound.text, payload={"automatic": parsed.automatic},
                                  raw=json.dumps(inbound.raw, ensure_ascii=False),
                                  received_at=inbound.received_at)
    if not new:
        return message.id, False
    message.status = "ignored"
    session.flush()
    if parsed.bounce is not None and parsed.bounce.failed:
        noted: set[int | None] = set()
        for original in bounced:  # one mail may carry several rows of a turn: one note per case
            mail.record_bounce(session, original, message,
                               parsed.bounce.diagnostic or parsed.bounce.status or "returned",
                               note=original.complaint_id not in noted)
            noted.add(original.complaint_id)
    elif parsed.automatic and not bounced:
        thread = mail.find_thread(session, contact, mail.mail_info(message), None)
        if thread.complaint is not None:  # an out-of-office reply shows on its case
            message.complaint_id = thread.complaint.id
    return message.id, True


def _save_attachments(rt: Runtime, parsed: ParsedMail) -> list[tuple[str, str, tuple[str, int, str]]]:
    """Write attachments under var/attachments/email by content hash (a retry rewrites the
    same file); returns (url, content type, (filename, size, sha256)) for each."""
    saved = []
    folder = Path(rt.attachments_dir) / "email"
    for item in parsed.attachments:
        digest = hashlib.sha256(item.data).hexdigest()
        relative = f"email/{digest[:2]}/{digest}"
        path = folder / digest[:2] / digest
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_bytes(item.data)
            tmp.replace(path)
        saved.append((f"attachment:{relative}", item.content_type, (item.filename, item.size, digest)))
    return saved


# --- the processes ------------------------------------------------------------------------------


def start_smtp(rt: Runtime, listen: str | None = None, lookup: auth.Lookup | None = None):
    """Start the SMTP listener in a thread; returns the aiosmtpd controller (``.stop()``).
    ``lookup``: the DNS for sender authentication (tests serve their own records)."""
    settings = rt.settings
    return smtp_server.start_listener(
        listen or settings.smtp_listen, complaint_addresses(settings),
        lambda data, mail_from, rcpts, client: store(rt, data, mail_from, rcpts, "smtp",
                                                     client, lookup),
        max_bytes=getattr(settings, "mail_max_bytes", 10 * 1024 * 1024),
        max_recipients=getattr(settings, "mail_max_recipients", 20),
        server_name=settings.mail_address.rpartition("@")[2] or "ikhtiyar")


def imap_poller(rt: Runtime, url: str | None = None,
                lookup: auth.Lookup | None = None) -> imap.ImapPoller:
    """The poller for IKHTIYAR_IMAP_URL, keeping its place in the database."""
    box = imap.Mailbox.from_url(url or rt.settings.imap_url or "")

    def store_one(data: bytes) -> None:
        try:
            store(rt, data, source="imap", lookup=lookup)
        except MailRejected as exc:  # nobody to answer: keep it in the mailbox's folder only
            log.warning("IMAP mail not taken: %s", exc)

    def position(key: str, uidvalidity: int) -> int:
        with rt.sessions() as session:
            return mail.imap_position(session, key, uidvalidity)

    def save(key: str, uidvalidity: int, uid: int) -> None:
        with transaction(rt.sessions) as session:
            mail.save_imap_position(session, key, uidvalidity, uid)

    return imap.ImapPoller(box, store_one, position, save)


def stored_message(rt: Runtime, reference: str) -> Message | None:
    """The message a 250 reference names (tests and the benchmark)."""
    with rt.sessions() as session:
        return session.scalars(select(Message).where(Message.id == int(reference.lstrip("M")))).first()
