"""Logging that carries no personal data, as text or as JSON.

Every process configures logging here. Libraries that log what citizens send are turned
down (aiosmtpd's ``mail.log`` names every envelope sender at INFO, twilio's HTTP client logs
each request's ``To`` and ``Body`` at INFO, werkzeug's access log carries query strings), and
every log record, from any logger, has phone numbers, CNICs and email addresses taken out
of its message when it is made (storage.pii), so no handler (a file, the console, a test's
capture) ever sees them. Names and message bodies are never logged by our own code.

Lines are readable text by default; one JSON object per line when ``IKHTIYAR_LOG_FORMAT=json``
(for a log shipper). Fields a caller passes with ``extra={"message_id": ...,
"tracking_number": ...}`` become fields of their own.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

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


FIELDS = ("message_id", "tracking_number", "letter_id", "queue", "job")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for name in FIELDS:
            if getattr(record, name, None) is not None:
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str) -> None:
    """The process's logging: one line (text or JSON) per record on stderr, personal data
    kept out."""
    handler = logging.StreamHandler()
    json_format = os.environ.get("IKHTIYAR_LOG_FORMAT", "").lower() == "json"
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    protect()
