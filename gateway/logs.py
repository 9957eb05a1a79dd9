"""Logging that carries no personal data.

Every process configures logging here. Libraries that log what citizens send are turned
down (aiosmtpd's ``mail.log`` names every envelope sender at INFO, twilio's HTTP client logs
each request's ``To`` and ``Body`` at INFO, werkzeug's access log carries query strings), and
every log record, from any logger, has phone numbers, CNICs and email addresses taken out
of its message when it is made (storage.pii), so no handler (a file, the console, a test's
capture) ever sees them. Names and message bodies are never logged by our own code.
"""

from __future__ import annotations

import logging

from storage import pii

# Loggers of libraries that write what citizens send, and the lowest level that does not.
QUIET = {"mail.log": logging.WARNING, "twilio.http_client": logging.WARNING,
         "werkzeug": logging.WARNING}
_installed: list[bool] = []


def protect() -> None:
    """Turn the talkative libraries down and redact every record from now on (idempotent)."""
    for name, level in QUIET.items():
        logger = logging.getLogger(name)
        if logger.level < level:
            logger.setLevel(level)
    if _installed:
        return
    _installed.append(True)
    make = logging.getLogRecordFactory()

    def redacting_factory(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it itself
            return record
        clean = pii.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return record

    logging.setLogRecordFactory(redacting_factory)


def configure(level: str) -> None:
    """The process's logging: one line per record on stderr, personal data kept out."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    protect()
