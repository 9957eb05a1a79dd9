"""Log lines: readable text by default; one JSON object per line when
``IKHTIYAR_LOG_FORMAT=json`` (for a log shipper). Fields a caller passes with
``extra={"message_id": ..., "tracking_number": ...}`` become fields of their own; addresses
and texts are never logged, so nothing personal rides along."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

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
    """The root logger's format and level for this process."""
    handler = logging.StreamHandler()
    json_format = os.environ.get("IKHTIYAR_LOG_FORMAT", "").lower() == "json"
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
