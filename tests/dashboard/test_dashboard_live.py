"""Live updates: each tick of an open page is one statement that says only whether anything
it shows changed; a reconnecting page catches up from its last event id; the number of
streams a process holds open is bounded."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from analytics.live import Marks, activity
from gateway.blueprints import dashboard
from storage.db import transaction
from storage.messages import insert_inbound
from storage.models import Complaint, Contact, User

from .conftest import file_complaint, login


@contextmanager
def statements(rt):
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, many):
        if not statement.startswith(("SAVEPOINT", "RELEASE", "BEGIN")):
            seen.append(statement)

    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)


def citizen_writes(rt, case_id: int, text: str = "Any news?") -> None:
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, case_id)
        message, _ = insert_inbound(s, s.get(Contact, complaint.contact_id), channel="whatsapp",
                                    provider_id=f"live-{case_id}-{text}", text=text, payload={})
        message.complaint_id = case_id


def officer(rt, staff) -> User:
    with rt.sessions() as s:
        return s.get(User, staff["officer_psw"])


def test_a_tick_is_one_statement_on_the_queue_and_on_the_case_page(rt, staff):
    case = file_complaint(rt)
    user = officer(rt, staff)
    with rt.sessions() as s:
        marks = Marks.now(s)
    for complaint_id in (None, case.id):
        with rt.sessions() as s, statements(rt) as seen:
            activity(s, user, marks, complaint_id)
        assert len(seen) == 1, seen


def test_a_citizens_message_in_scope_is_a_change_and_one_out_of_scope_is_not(rt, staff):
    mine, elsewhere = file_complaint(rt), file_complaint(rt, district="MDN")
    user = officer(rt, staff)
    with rt.sessions() as s:
        marks = Marks.now(s)
    citizen_writes(rt, elsewhere.id)
    with rt.sessions() as s:
        assert activity(s, user, marks) == (marks, False)
        assert activity(s, user, marks, mine.id) == (marks, False)
    citizen_writes(rt, mine.id)
    with rt.sessions() as s:
        queue_marks, changed = activity(s, user, marks)
        assert changed and queue_marks.message_id > marks.message_id
        case_marks, changed = activity(s, user, marks, mine.id)
        assert changed and case_marks.message_id == queue_marks.message_id
        assert activity(s, user, queue_marks) == (queue_marks, False)  # told once, not again


def test_marks_travel_as_the_event_id_and_anything_else_is_ignored(rt):
    with rt.sessions() as s:
        marks = Marks.now(s)
    assert Marks.from_token(marks.token()) == marks
    for junk in (None, "", "abc", "12", "-5", "1-2-3", "7-" + "9" * 30, "1 -2"):
        assert Marks.from_token(junk) is None, junk


@pytest.fixture
def quick_ticks(monkeypatch):
    monkeypatch.setattr(dashboard, "POLL_SECONDS", 0.01)


def read_until(stream, word: str, chunks: int = 20) -> str:
    seen = ""
    for chunk in stream.response:
        seen += chunk.decode()
        chunks -= 1
        if word in seen or chunks == 0:
            break
    return seen


def test_a_reconnecting_page_hears_what_changed_while_it_was_away(rt, app, staff, quick_ticks):
    case = file_complaint(rt)
    client = login(app, "officer_psw")
    page = client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    with rt.sessions() as s:
        away_since = Marks.now(s).token()
    # The page hands its marks to the stream (its script, a static file, reads them).
    assert re.search(r'id="live-settings"[^>]* data-since="[^"]+"', page)
    assert 'searchParams.set("since"' in client.get("/static/dashboard_live.js").get_data(as_text=True)
    citizen_writes(rt, case.id, "I am still waiting")  # while the page was disconnected
    stream = client.get(f"/dashboard/stream?case={case.number}", headers={"Last-Event-ID": away_since},
                        buffered=False)
    seen = read_until(stream, "event: changed")
    stream.close()
    assert f"id: {away_since}\nevent: ready" in seen
    assert "event: changed" in seen


def test_streams_over_the_limit_are_told_to_come_back_later(rt, app, staff, quick_ticks):
    app.config["DASHBOARD_MAX_STREAMS"] = 1
    client = login(app, "officer_psw")
    first = client.get("/dashboard/stream", buffered=False)
    assert "event: ready" in next(first.response).decode()
    second = client.get("/dashboard/stream", buffered=False)
    busy = b"".join(second.response).decode()  # answered at once and ended
    assert "event: busy" in busy and f"retry: {dashboard.BUSY_RETRY_MS}" in busy and "id: " in busy
    first.close()  # a page closed gives its place back
    third = client.get("/dashboard/stream", buffered=False)
    assert "event: ready" in next(third.response).decode()
    third.close()
