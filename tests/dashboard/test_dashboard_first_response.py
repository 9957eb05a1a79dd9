"""Time to first response is stamped by casework, whatever tool the officer uses: the
dashboard, the command line, or any other caller of conversation.casework."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from conversation import casework
from gateway import cli
from storage import lifecycle
from storage.db import transaction
from storage.models import Complaint, Message

from .conftest import file_complaint


def first_response(rt, case_id: int):
    with rt.sessions() as s:
        return s.get(Complaint, case_id).first_response_at


def test_resolving_from_the_command_line_stamps_the_first_response(rt, staff, monkeypatch):
    case = file_complaint(rt)
    monkeypatch.setattr(cli, "_runtime", lambda prepare=False: rt)
    result = CliRunner().invoke(cli.main, ["complaints", "resolve", f"KP-{case.number}",
                                           "--note", "Pipe repaired", "--by", "officer_psw"])
    assert result.exit_code == 0, result.output
    with rt.sessions() as s:
        complaint = s.get(Complaint, case.id)
        asked = s.scalars(select(Message).where(Message.complaint_id == case.id,
                                                Message.direction == "out")).one()
        assert complaint.state == "resolved"
        assert complaint.first_response_at is not None
        assert complaint.first_response_at <= asked.created_at


def test_the_first_answer_counts_and_later_ones_do_not_move_it(rt, staff):
    case = file_complaint(rt)
    officer = lifecycle.Actor("officer", staff["officer_psw"], "web")
    with transaction(rt.sessions) as s:
        casework.ask_for_information(s, s.get(Complaint, case.id), officer, "Which street?")
    asked_at = first_response(rt, case.id)
    assert asked_at is not None
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, case.id)
        casework.message_citizen(s, complaint, officer, "We are sending a team")
    assert first_response(rt, case.id) == asked_at


def test_a_reply_is_a_first_response(rt, staff):
    case = file_complaint(rt)
    with transaction(rt.sessions) as s:
        casework.message_citizen(s, s.get(Complaint, case.id),
                                 lifecycle.Actor("department_head", staff["head_phed"]), "Noted")
    assert first_response(rt, case.id) is not None


def test_a_timers_reminder_is_not_a_first_response(rt):
    case = file_complaint(rt)
    with transaction(rt.sessions) as s:
        casework.remind_satisfaction(s, s.get(Complaint, case.id), lifecycle.Actor("timer"))
    assert first_response(rt, case.id) is None
