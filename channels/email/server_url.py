"""What IKHTIYAR_IMAP_URL and IKHTIYAR_SMTP_URL share: the query options, the port, and
the TLS context (``?cafile=`` to trust a private CA, ``?verify=0`` to trust anything)."""

from __future__ import annotations

import ssl
from urllib.parse import SplitResult, parse_qs

_OFF = ("0", "false", "no")


def options(parts: SplitResult) -> dict[str, str]:
    """The URL's query, the last value of each option."""
    return {k: v[-1] for k, v in parse_qs(parts.query).items()}


def is_off(value: str | None) -> bool:
    """0, false or no, as written (verify=False keeps checking: only what is meant turns it off)."""
    return value in _OFF


def port(parts: SplitResult, default: int, error: type[ValueError]) -> int:
    try:
        return parts.port or default
    except ValueError:
        raise error("has an invalid port") from None


def tls_context(cafile: str | None, verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
