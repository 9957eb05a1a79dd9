"""Outbound email over SMTP (``IKHTIYAR_SMTP_URL``): one outbox row -> one mail.

Each mail is multipart text + HTML in the citizen's language (right-to-left for Urdu and
Pashto), carries its own Message-ID and the thread headers the outbox row was given when
it was queued (storage.mail), the tracking number in the subject, and marks itself as an
automatic reply so that other robots do not answer it.

``IKHTIYAR_SMTP_URL``: ``smtp://user:pass@host:587`` (STARTTLS when the server offers it;
a user and password are only ever sent over TLS: a relay without STARTTLS gets nothing;
``?starttls=1`` requires it, ``?starttls=0`` never uses it), ``smtps://host:465`` (TLS from
the first byte). ``?verify=0`` accepts an unverified certificate (an internal relay),
``?cafile=PATH`` trusts a private CA (PEM) besides the system's. A certificate that is not
trusted sends nothing: the row is retried, and its error says so.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from channels.delivery import Delivered, Outgoing, PermanentError, TransientError
from channels.email import links, loops, server_url, threading
from conversation import catalog

RTL = ("ur", "ps")


def _shown(number: str, prefix: str) -> str:
    """A tracking number as printed everywhere (storage.tracking.display; this channel reads
    no storage module): ten digits in groups, KP-123-456-7890; older ones whole."""
    if len(number) == 10:
        number = f"{number[:3]}-{number[3:6]}-{number[6:]}"
    return f"{prefix}-{number}"
TIMEOUT = 30


class SmtpUrlError(ValueError):
    """IKHTIYAR_SMTP_URL cannot be used; says why."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool  # TLS from the first byte (smtps)
    starttls: str  # "yes" (required), "no", "auto" (when offered)
    username: str | None
    password: str | None
    verify: bool = True
    cafile: str | None = None

    @classmethod
    def from_url(cls, value: str) -> SmtpServer:
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpUrlError("must be smtp://[user:pass@]host[:port] or smtps://...")
        query = server_url.options(parts)
        flag = query.get("starttls", "").lower()
        starttls = "yes" if flag in ("1", "true", "yes") else "no" if server_url.is_off(flag) else "auto"
        port = server_url.port(parts, 465 if parts.scheme == "smtps" else 587, SmtpUrlError)
        return cls(parts.hostname, port, parts.scheme == "smtps",
                   "no" if parts.scheme == "smtps" else starttls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None,
                   not server_url.is_off(query.get("verify")), query.get("cafile"))

    def context(self) -> ssl.SSLContext:
        return server_url.tls_context(self.cafile, self.verify)


class SmtpSender:
    """A sender for ``channels.registry``: Outgoing -> Delivered, errors steer retries."""

    def __init__(self, smtp_url: str, mail_address: str, *, secret: bytes, base_url: str,
                 tracking_prefix: str = "KP", display_name: str = "Ikhtiyar") -> None:
        self.server = SmtpServer.from_url(smtp_url)
        self.address = mail_address
        self.domain = mail_address.rpartition("@")[2] or "localhost"
        self.secret, self.base_url = secret, base_url.rstrip("/")
        self.prefix, self.display_name = tracking_prefix, display_name

    @classmethod
    def from_settings(cls, settings) -> SmtpSender:
        host, _, port = settings.web_listen.rpartition(":")
        return cls(settings.smtp_url, settings.mail_address, secret=settings.secret_key_bytes(),
                   base_url=settings.public_url or f"http://{host}:{port}",
                   tracking_prefix=settings.tracking_prefix)

    def __call__(self, out: Outgoing) -> Delivered:
        message = self.compose(out)
        self.send(message, out.to)
        return Delivered(provider_id=message["Message-ID"], status="sent")

    # --- composing ------------------------------------------------------------------------

    def compose(self, out: Outgoing) -> EmailMessage:
        thread = dict(out.extras.get("email") or {})
        lang = out.language if out.language in catalog.LANGUAGES else "en"
        shown = _shown(str(thread["tracking"]), self.prefix) if thread.get("tracking") else None
        msg = EmailMessage()
        token = str(thread.get("token") or "")
        msg["Message-ID"] = (f"<{token}.ikhtiyar@{self.domain}>" if token.isalnum()
                             else make_msgid("ikhtiyar", self.domain))
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["From"] = formataddr((self.display_name, self.address))
        msg["To"] = out.to
        fallback = catalog.text("email_subject", lang, tracking=shown) if shown \
            else catalog.text("email_subject_general", lang)
        msg["Subject"] = threading.reply_subject(thread.get("subject"), shown, fallback)
        if thread.get("in_reply_to"):
            msg["In-Reply-To"] = thread["in_reply_to"]
            msg["References"] = " ".join(threading.references(
                [r for r in thread.get("references") or [] if r != thread["in_reply_to"]],
                thread["in_reply_to"]))
        msg["Auto-Submitted"] = "auto-replied"
        msg[loops.LOOP_HEADER] = self.address
        msg["X-Auto-Response-Suppress"] = "All"  # asks Exchange not to answer with out-of-office
        paragraphs = [out.text]
        buttons: list[tuple[str, str]] = []
        answer = thread.get("answer")
        if answer and thread.get("tracking"):
            for choice, key in (("yes", "email_link_yes"), ("no", "email_link_no")):
                token = links.sign(self.secret, thread["tracking"], choice, answer["nonce"],
                                   answer["resolved_at"])
                buttons.append((catalog.text(key, lang), links.url(self.base_url, token)))
        footer = catalog.text("email_footer", lang)
        text = "\n\n".join(paragraphs)
        if buttons:
            text += "\n\n" + catalog.text("email_links_intro", lang) + "\n" + "\n".join(
                f"{label}: {href}" for label, href in buttons)
        msg.set_content(text + "\n\n-- \n" + footer + "\n")
        msg.add_alternative(_html(out.text, buttons, catalog.text("email_links_intro", lang), footer, lang),
                            subtype="html")
        for f in out.extras.get("files") or []:  # an officer's files, checked when uploaded
            maintype, _, subtype = str(f["content_type"]).partition("/")
            msg.add_attachment(Path(f["path"]).read_bytes(), maintype=maintype, subtype=subtype,
                               filename=f.get("filename"))
        msg["Content-Language"] = lang  # after the body: set_content clears Content-* headers
        return msg

    # --- sending ----------------------------------------------------------------------------

    def send(self, message: EmailMessage, to: str) -> None:
        server = self.server
        try:
            context = server.context()
        except (OSError, ssl.SSLError) as exc:  # our configuration: retried once it is fixed
            raise TransientError(f"IKHTIYAR_SMTP_URL ?cafile={server.cafile} cannot be read as PEM "
                                 f"certificates: {exc.strerror or exc}") from None
        try:
            if server.tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT,
                                                      context=context)
            else:
                smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
            with smtp:
                smtp.ehlo()
                encrypted = server.tls
                if server.starttls == "yes" or (server.starttls == "auto" and smtp.has_extn("starttls")):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                    encrypted = True
                if server.username:
                    if not encrypted:  # a password in clear is a password given away
                        raise TransientError(
                            f"SMTP relay {server.host}:{server.port} does not offer STARTTLS: the "
                            "password is never sent in clear; use smtps:// or a relay with STARTTLS")
                    smtp.login(server.username, server.password or "")
                smtp.send_message(message, from_addr=self.address, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _error(code, reply) from None
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused) as exc:
            # Our relay's configuration, not the citizen's address: try again later.
            raise TransientError(f"SMTP relay refused us: {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPResponseException as exc:
            raise _error(exc.smtp_code, exc.smtp_error) from None
        except ssl.SSLCertVerificationError as exc:
            raise TransientError(f"SMTP relay {server.host}:{server.port}: TLS certificate not trusted "
                                 f"({exc.verify_message}); add ?cafile=PATH to IKHTIYAR_SMTP_URL "
                                 "to trust a private CA") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"SMTP relay unreachable: {type(exc).__name__}: {exc}") from None


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply))[:200]


def _error(code: int, reply: bytes | str) -> Exception:
    text = f"{code} {_text(reply)}"
    return PermanentError(f"mail refused: {text}") if 500 <= code < 600 else TransientError(text)


def _html(text: str, buttons: list[tuple[str, str]], intro: str, footer: str, lang: str) -> str:
    direction = "rtl" if lang in RTL else "ltr"
    align = "right" if direction == "rtl" else "left"
    font = ("'Noto Nastaliq Urdu','Noto Naskh Arabic','Jameel Noori Nastaleeq',serif"
            if direction == "rtl" else "Arial,Helvetica,sans-serif")
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
    if buttons:
        links_html = " ".join(
            f'<a href="{html.escape(href)}" style="display:inline-block;margin:4px;padding:10px 16px;'
            f'background:#0b6e4f;color:#ffffff;text-decoration:none;border-radius:6px">'
            f"{html.escape(label)}</a>" for label, href in buttons)
        body += f"<p>{html.escape(intro)}</p><p>{links_html}</p>"
    return (f'<!doctype html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8"></head>'
            f'<body dir="{direction}" style="direction:{direction};text-align:{align};font-family:{font};'
            f'line-height:1.8">{body}<hr><p style="color:#5b6b75;font-size:90%">'
            f"{html.escape(footer)}</p></body></html>")
