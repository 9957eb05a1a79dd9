"""IKHTIYAR_LOG_FORMAT=json: one JSON object per line, ids as fields."""

from __future__ import annotations

import json
import logging

from gateway import logs


def test_json_logs_are_one_object_per_line_with_the_message_id_as_a_field(monkeypatch, capsys):
    monkeypatch.setenv("IKHTIYAR_LOG_FORMAT", "json")
    saved = logging.getLogger().handlers[:], logging.getLogger().level
    try:
        logs.configure("info")
        logging.getLogger("ikhtiyar.jobs").warning("could not queue message %s", 42,
                                                   extra={"message_id": 42, "tracking_number": "KP-1234567"})
    finally:
        logging.getLogger().handlers[:], _ = saved[0], logging.getLogger().setLevel(saved[1])
    [line] = capsys.readouterr().err.strip().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "could not queue message 42" and entry["level"] == "warning"
    assert entry["message_id"] == 42 and entry["tracking_number"] == "KP-1234567"
