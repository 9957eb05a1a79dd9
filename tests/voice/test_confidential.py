"""After the recording, the phone line asks whether the complaint is against an officer or
the department itself (issue 10, "What to build" 4): 1 hides the caller from that department;
2, silence or a hang-up leave the complaint filed as it is."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Complaint, ComplaintEvent
from tests.staff import case_page_of_the_accused
from tests.voice.conftest import spoken
from tests.voice.test_calls import _file_complaint_in_urdu

CALLER = ("+923001234567", "923001234567", "3001234567", "0300-1234567", "03001234567")


def the_complaint(rt) -> Complaint:
    with rt.sessions() as s:
        return s.scalars(select(Complaint)).one()


def marks(rt) -> list[ComplaintEvent]:
    with rt.sessions() as s:
        return list(s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "marked_confidential")))


def test_1_files_the_complaint_confidential(caller, voice_rt):
    call = caller()
    answer, _ = _file_complaint_in_urdu(call)
    assert spoken(answer)[-1] == "voice_ask_confidential"
    done = call.press("1")
    assert spoken(done) == ["voice_confidential_marked", "voice_goodbye"] and done.find("Hangup") is not None
    complaint = the_complaint(voice_rt)
    assert complaint.confidential and complaint.state == "submitted"
    [event] = marks(voice_rt)
    assert (event.actor_kind, event.channel) == ("citizen", "voice")
    page = case_page_of_the_accused(voice_rt, complaint.tracking_number)
    assert 'id="identity-hidden"' in page
    assert [value for value in CALLER if value in page] == []


def test_english_asks_it_in_words(caller, voice_rt):
    call = caller()
    call.dial()
    call.press("3")  # English
    call.press("1")
    call.press("11")
    call.press("6")  # WSSC (water and sanitation)
    answer, _ = call.record(seconds=10)
    assert any("against an officer or against this department" in said for said in spoken(answer))
    call.press("1")
    assert the_complaint(voice_rt).confidential


def test_silence_leaves_the_complaint_filed_and_not_confidential(caller, voice_rt):
    call = caller()
    _file_complaint_in_urdu(call)
    bye = call.stay_silent()
    assert spoken(bye) == ["voice_goodbye"] and bye.find("Hangup") is not None
    complaint = the_complaint(voice_rt)
    assert not complaint.confidential and complaint.state == "submitted" and marks(voice_rt) == []
    assert 'id="identity-hidden"' not in case_page_of_the_accused(voice_rt, complaint.tracking_number)


def test_a_hang_up_at_the_question_leaves_the_complaint_filed_and_not_confidential(caller, voice_rt):
    call = caller()
    _file_complaint_in_urdu(call)
    call.hang_up()
    complaint = the_complaint(voice_rt)
    assert not complaint.confidential and complaint.state == "submitted" and marks(voice_rt) == []


def test_a_wrong_key_asks_again(caller, voice_rt):
    call = caller()
    _file_complaint_in_urdu(call)
    again = call.press("7")
    assert spoken(again) == ["voice_invalid_choice", "voice_ask_confidential"]
    call.press("1")
    assert the_complaint(voice_rt).confidential
