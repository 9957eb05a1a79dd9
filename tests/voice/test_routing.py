"""A phone complaint reaches an officer: the caller chooses the department on the keypad,
the complaint gets that department's category and an SLA due date, and it is in the queue
of that department's officers of the caller's district (a voicemail waits in triage, due
all the same)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gateway.passwords import hash_password
from storage.calls import triage_queue
from storage.db import transaction
from storage.models import Complaint, ComplaintEvent, utcnow
from storage.scope import visible_complaints
from tests.staff import ensure_user
from tests.voice.conftest import office_never_open, spoken


def _queue_of(rt, username: str, department: str, district: str) -> list[str]:
    """The tracking numbers in this officer's queue (what the dashboard lists for them)."""
    with transaction(rt.sessions) as s:
        officer = ensure_user(s, username, "officer", department, district, hash_password("x" * 16))
        return [c.tracking_number for c in s.scalars(visible_complaints(officer))]


def _complaint(rt) -> Complaint:
    with rt.sessions() as s:
        return s.scalars(select(Complaint)).one()


def test_a_phone_complaint_lands_in_the_chosen_departments_queue_with_a_due_date(caller, voice_rt):
    call = caller()
    call.dial()
    call.press("1")  # Urdu
    call.press("1")  # a new complaint
    call.press("11")  # Peshawar
    call.press("1")  # Police
    call.record(seconds=20)
    call.press("2")  # not against an officer
    complaint = _complaint(voice_rt)
    assert (complaint.department_code, complaint.district_code) == ("POLICE", "PSW")
    assert complaint.category_code == "POLICE_FIR"  # the department's first category: 3 days
    assert timedelta(days=2, hours=23) < complaint.due_at - utcnow() <= timedelta(days=3)
    assert complaint.tracking_number in _queue_of(voice_rt, "police_psw", "POLICE", "PSW")
    # Not another department's, nor the same department's in another district.
    assert complaint.tracking_number not in _queue_of(voice_rt, "health_psw", "HEALTH", "PSW")
    assert complaint.tracking_number not in _queue_of(voice_rt, "police_mdn", "POLICE", "MDN")
    with voice_rt.sessions() as s:
        assert triage_queue(s) == []


def test_zero_files_it_under_other(caller, voice_rt):
    call = caller()
    call.dial()
    call.press("3")  # English
    call.press("1")
    call.press("11")
    call.press("0")  # other
    call.record(seconds=20)
    complaint = _complaint(voice_rt)
    assert (complaint.department_code, complaint.category_code) == ("OTHER", "OTHER_GENERAL")
    assert complaint.due_at is not None
    assert complaint.tracking_number in _queue_of(voice_rt, "other_psw", "OTHER", "PSW")


def test_a_wrong_department_key_is_asked_again(caller):
    call = caller()
    call.dial()
    call.press("1")
    call.press("1")
    call.press("11")
    assert spoken(call.press("#")) == ["voice_invalid_choice", "voice_ask_department", "departments_menu"]


def test_a_voicemail_waits_in_triage_with_a_due_date(caller, voice_rt):
    rt = office_never_open(voice_rt)
    call = caller(rt=rt)
    call.dial()
    call.press("1")
    call.press("0")  # a person: the office is closed, a voicemail
    call.record(seconds=12)
    complaint = _complaint(rt)
    assert complaint.category_code is None and complaint.due_at is not None
    with rt.sessions() as s:
        assert [c.id for c in triage_queue(s)] == [complaint.id]
        kinds = s.scalars(select(ComplaintEvent.kind).where(ComplaintEvent.complaint_id == complaint.id)).all()
    assert "needs_triage" in kinds
