"""Hot paths keep their number of database statements (Zulip's assert_max_queries idea):
counting statements is stable where timing is not. Timings live in bench/."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from conversation.messages import InboundMessage
from gateway import jobs
from gateway.pipeline import receive


@contextmanager
def max_statements(rt, limit: int):
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, many):
        if not statement.startswith(("SAVEPOINT", "RELEASE", "BEGIN")):
            seen.append(statement.split("\n")[0][:100])

    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)
    assert len(seen) <= limit, f"{len(seen)} statements (limit {limit}):\n" + "\n".join(seen)


def _send(rt, n: int, text: str) -> int:
    message_id, _ = receive(rt, InboundMessage("whatsapp", f"SMq{n}", "+923001234567", text))
    return message_id


def test_storing_a_known_senders_message_takes_few_statements(rt):
    jobs.process_inbound(_send(rt, 0, "hi"))
    with max_statements(rt, 2):  # find the contact, insert the message (ON CONFLICT)
        _send(rt, 1, "1")


def test_a_form_turn_takes_few_statements(rt):
    for n, text in enumerate(("hi", "1")):
        jobs.process_inbound(_send(rt, n, text))
    message_id = _send(rt, 2, "The water supply in our street has been broken for a week")
    with max_statements(rt, 6):  # (lock), messages, conversation, 2 updates, 1 insert
        jobs.process_inbound(message_id)
