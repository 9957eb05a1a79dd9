"""Whole calls to the phone line, as the signed webhooks Twilio sends, each answer parsed
as TwiML; every audio file an answer plays is fetched and must be audio (see Caller)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import func, select

from conversation import casework, catalog
from gateway import jobs, voice_jobs
from storage import lifecycle, tracking
from storage.calls import Call, triage_queue
from storage.db import transaction
from storage.models import Attachment, Complaint, ComplaintEvent, Contact, Message, utcnow
from tests.citizen import Citizen
from tests.test_query_counts import max_statements
from tests.voice.conftest import office_always_open, office_never_open, played_languages, spoken

DIGITS_UR = {f"voice_digit_{d}" for d in range(10)}


def _complaints(rt) -> list[Complaint]:
    with rt.sessions() as s:
        return list(s.scalars(select(Complaint).order_by(Complaint.id)))


def _number_read(names: list[str]) -> str:
    return "".join(n.removeprefix("voice_digit_") for n in names if n in DIGITS_UR)


def _file_complaint_in_urdu(call) -> tuple[str, str]:
    call.dial()
    call.press("1")  # Urdu
    call.press("1")  # new complaint
    call.press("11")  # Peshawar
    call.press("6")  # WSSC (water and sanitation)
    answer, recording = call.record(seconds=14)
    return answer, recording


def test_a_new_complaint_in_urdu_is_filed_read_out_twice_and_sent_by_sms(caller, voice_rt, twilio_peer):
    call = caller()
    first = call.dial()
    assert played_languages(first) == {"ur", "ps"}  # the language menu speaks each language
    assert spoken(first)[0] == "voice_welcome"
    menu = call.press("1")
    assert spoken(menu) == ["voice_main_menu"] and played_languages(menu) == {"ur"}
    assert menu.find("Gather").get("numDigits") == "1"
    ask = call.press("1")
    assert "voice_ask_district" in spoken(ask)
    department = call.press("11")
    assert spoken(department) == ["voice_district_chosen", "district_PSW", "voice_ask_department",
                                  "departments_menu"]
    record = call.press("6")  # Water & Sanitation Services Company
    assert spoken(record) == ["voice_department_chosen", "department_WSSC", "voice_ask_recording"]
    rec = record.find("Record")
    assert rec.get("finishOnKey") == "#" and int(rec.get("maxLength")) <= 600
    assert rec.get("recordingStatusCallback").endswith("/webhooks/twilio/voice/recording")

    answer, recording = call.record(seconds=14)
    said = spoken(answer)
    assert said[0] == "voice_complaint_registered" and "voice_tracking_sms" in said
    # One more question (issue 10): against an officer or this department? 2: no.
    assert said[-1] == "voice_ask_confidential" and answer.find("Gather").get("numDigits") == "1"
    goodbye = call.press("2")
    assert spoken(goodbye) == ["voice_goodbye"]
    assert goodbye.find("Hangup") is not None
    (complaint,) = _complaints(voice_rt)
    first_read = said[said.index("voice_tracking_is") + 1: said.index("voice_tracking_again")]
    second_read = said[said.index("voice_tracking_again") + 1: said.index("voice_tracking_sms")]
    assert _number_read(first_read) == _number_read(second_read) == complaint.tracking_number
    assert (complaint.channel, complaint.language, complaint.district_code) == ("voice", "ur", "PSW")
    assert complaint.state == "submitted" and not complaint.incomplete and not complaint.confidential
    # Filed where the caller said: the department's first category, due by its SLA.
    assert (complaint.department_code, complaint.category_code) == ("WSSC", "WSSC_WATER_SUPPLY")
    assert complaint.due_at is not None
    with voice_rt.sessions() as s:
        assert triage_queue(s) == []

    voice_rt.queue.run_due()  # the SMS and the recording download
    (sms,) = twilio_peer.sms
    assert sms["To"] == "+923001234567" and tracking.display(complaint.tracking_number) in sms["Body"]
    with voice_rt.sessions() as s:
        (attachment,) = s.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id))
        assert attachment.duration_seconds == 14.0 and attachment.content_type == "audio/x-wav"
        assert attachment.filename == f"{recording}.wav"
        assert (voice_rt.attachments_dir / attachment.path).read_bytes()[:4] == b"RIFF"
        outbox = s.scalars(select(Message).where(Message.direction == "out")).one()
        assert outbox.channel == "sms" and outbox.status == "sent"
    assert twilio_peer.unauthorized == 0


def test_the_language_is_remembered_for_the_callers_number(caller):
    call = caller()
    call.dial()
    call.press("2")  # Pashto
    again = caller().dial()
    assert spoken(again) == ["voice_welcome", "voice_main_menu"] and played_languages(again) == {"ps"}
    other = caller("+923339876543").dial()
    assert "voice_language_choice" in spoken(other)


def test_english_is_spoken_by_say_and_speech_is_understood(caller):
    call = caller("+923451112233")
    call.dial()
    menu = call.press("3")
    assert menu.find("Play") is None and "For a new complaint, press one" in spoken(menu)[0]
    assert menu.find("Gather").get("input") == "dtmf speech"
    status = call.say("Two.")
    assert "seven digit tracking number" in spoken(status)[0]


def test_a_status_check_with_a_mistyped_then_a_correct_number(caller, voice_rt):
    filing = caller()
    _file_complaint_in_urdu(filing)
    (complaint,) = _complaints(voice_rt)
    number = complaint.tracking_number
    typo = number[:3] + str((int(number[3]) + 1) % 10) + number[4:]

    call = caller("+923007654321")
    call.dial()
    call.press("1")
    ask = call.press("2")
    assert spoken(ask) == ["voice_ask_tracking"]
    wrong = call.press(typo + "#")
    assert spoken(wrong) == ["voice_tracking_wrong", "voice_ask_tracking"]
    status = call.press(number)
    said = spoken(status)
    assert said[0] == "voice_complaint_number" and _number_read(said) == number
    assert said[-3:] == ["voice_status_is", "status_submitted", "voice_main_menu"]
    assert status.find("Gather") is not None  # back at the main menu


def test_satisfaction_no_then_yes_by_keypad(caller, voice_rt):
    _file_complaint_in_urdu(caller())
    (complaint,) = _complaints(voice_rt)
    admin = lifecycle.Actor("admin", None, "cli")

    def resolve():
        with transaction(voice_rt.sessions) as s:
            casework.resolve(s, s.get(Complaint, complaint.id), admin, "Pipe repaired")

    resolve()
    call = caller()
    call.dial()
    asked = call.press("3")
    assert spoken(asked) == ["voice_ask_tracking"] and asked.find("Gather").get("finishOnKey") == "#"
    question = call.press(complaint.tracking_number + "#")
    assert spoken(question)[0] == "voice_complaint_number" and spoken(question)[-1] == "voice_confirm_question"
    assert _number_read(spoken(question)) == complaint.tracking_number
    reopened = call.press("2")
    assert spoken(reopened) == ["voice_confirm_reopened", "voice_ask_reason"]
    assert int(reopened.find("Record").get("maxLength")) <= 120
    with voice_rt.sessions() as s:
        c = s.get(Complaint, complaint.id)
        assert c.state == "reopened" and c.escalation_level == 1
    heard, _ = call.record(seconds=8)  # why they are not satisfied
    assert spoken(heard) == ["voice_reason_recorded", "voice_main_menu"]
    call.hang_up()

    resolve()
    call = caller()
    call.dial()
    call.press("3")
    call.press(complaint.tracking_number)
    closed = call.press("1")
    assert spoken(closed)[0] == "voice_confirm_closed"
    with voice_rt.sessions() as s:
        c = s.get(Complaint, complaint.id)
        assert c.state == "closed"
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "confirm_satisfied")).one()
        message = s.get(Message, event.message_id)
        assert (message.channel, message.direction, message.text) == ("voice", "in", "1")
        assert message.provider_id == f"{call.sid}:confirm:{complaint.id}"
        assert message.payload["tracking"] == complaint.tracking_number
        assert event.actor_kind == "citizen" and event.channel == "voice"


def _resolve(rt, complaint_id: int) -> None:
    with transaction(rt.sessions) as s:
        casework.resolve(s, s.get(Complaint, complaint_id), lifecycle.Actor("admin", None, "cli"), "Pipe repaired")


def test_the_reason_for_not_being_satisfied_is_kept_on_the_reopened_complaint(caller, voice_rt):
    _file_complaint_in_urdu(caller())
    (complaint,) = _complaints(voice_rt)
    voice_rt.queue.run_due()
    _resolve(voice_rt, complaint.id)
    call = caller()
    call.dial()
    call.press("3")
    call.press(complaint.tracking_number)
    call.press("2")
    _, recording = call.record(seconds=8)
    call.recording_ready(recording, seconds=8)  # the callback of the same recording adds nothing
    call.hang_up()
    voice_rt.queue.run_due()
    with voice_rt.sessions() as s:
        comment = s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id,
                                                         ComplaintEvent.kind == "citizen_comment")).one()
        assert comment.actor_kind == "citizen" and comment.channel == "voice"
        assert "reason recorded by phone (8 s)" in comment.note
        message = s.get(Message, comment.message_id)
        assert (message.direction, message.complaint_id) == ("in", complaint.id)
        (audio,) = s.scalars(select(Attachment).where(Attachment.message_id == message.id))
        assert audio.complaint_id == complaint.id and audio.filename == f"{recording}.wav"
        assert audio.duration_seconds == 8.0
        assert s.get(Complaint, complaint.id).state == "reopened"
    assert len(_complaints(voice_rt)) == 1  # a reason is never a new complaint


def test_a_reason_left_unsaid_goes_back_to_the_menu(caller, voice_rt):
    _file_complaint_in_urdu(caller())
    (complaint,) = _complaints(voice_rt)
    _resolve(voice_rt, complaint.id)
    call = caller()
    call.dial()
    call.press("3")
    call.press(complaint.tracking_number)
    call.press("2")
    assert spoken(call.record_nothing()) == ["voice_main_menu"]
    with voice_rt.sessions() as s:
        assert s.get(Complaint, complaint.id).state == "reopened"
        assert s.scalar(select(func.count(ComplaintEvent.id)).where(
            ComplaintEvent.kind == "citizen_comment")) == 0


def test_a_hang_up_while_giving_the_reason_keeps_it(caller, voice_rt):
    _file_complaint_in_urdu(caller())
    (complaint,) = _complaints(voice_rt)
    _resolve(voice_rt, complaint.id)
    call = caller()
    call.dial()
    call.press("3")
    call.press(complaint.tracking_number)
    call.press("2")
    # The caller hung up: Twilio's <Record> action never came, only the two callbacks.
    call.hang_up()
    call.recording_ready("RE" + "7" * 32, seconds=5)
    with voice_rt.sessions() as s:
        comment = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "citizen_comment")).one()
        assert comment.complaint_id == complaint.id
    assert len(_complaints(voice_rt)) == 1


def test_nothing_to_confirm_goes_back_to_the_menu(caller, voice_rt):
    _file_complaint_in_urdu(caller())
    (complaint,) = _complaints(voice_rt)  # filed, not resolved
    call = caller()
    call.dial()
    assert spoken(call.press("3")) == ["voice_ask_tracking"]
    assert spoken(call.press(complaint.tracking_number)) == ["voice_confirm_none", "voice_main_menu"]


def _whatsapp_complaint_resolved(voice_rt, number: str) -> Complaint:
    """A complaint filed on WhatsApp from ``number`` and resolved: waiting for its answer."""
    citizen = Citizen(voice_rt, address=number)
    for text in ("1", "The school's water cooler is broken since March", "Kohat", "Main bazaar",
                 "yes", "skip", "yes"):
        citizen.send(text)
    with transaction(voice_rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        casework.resolve(s, complaint, lifecycle.Actor("officer"), "Cooler replaced")
        s.flush()
        s.expunge(complaint)
        return complaint


def _english(*keys: str) -> list[str]:
    """What an English call says (Twilio's <Say> reads the catalog's text)."""
    return [catalog.text(key, "en") for key in keys]


def _decisions(voice_rt) -> tuple:
    with voice_rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        return complaint.state, complaint.closed_at, [e.kind for e in complaint.events]


def test_a_spoofed_caller_id_keying_3_3_1_closes_nothing(caller, voice_rt):
    """Finding 3 of issue 10: a call from a WhatsApp complainant's number (spoofed caller id)
    pressing English, confirm, satisfied, without the tracking number, closes nothing."""
    number = "+923001234567"
    _whatsapp_complaint_resolved(voice_rt, number)
    before = _decisions(voice_rt)
    spoofed = caller(number)
    spoofed.dial()
    spoofed.press("3")  # English
    asked = spoofed.press("3")  # confirm a resolved complaint
    assert spoken(asked) == _english("voice_ask_tracking")
    refused = spoofed.press("1")  # "satisfied": not a tracking number
    assert spoken(refused) == _english("voice_tracking_wrong", "voice_ask_tracking")
    spoofed.press("1")
    spoofed.press("1")  # three wrong answers: goodbye
    spoofed.hang_up()
    assert _decisions(voice_rt) == before and before[0] == "resolved"
    with voice_rt.sessions() as s:
        assert s.scalar(select(func.count(Message.id)).where(Message.channel == "voice",
                                                             Message.complaint_id.is_not(None))) == 0


def test_the_complainants_number_keying_the_tracking_number_then_1_closes_it(caller, voice_rt):
    number = "+923001234567"
    complaint = _whatsapp_complaint_resolved(voice_rt, number)
    call = caller(number)
    call.dial()
    call.press("3")  # English
    call.press("3")  # confirm
    question = call.press(complaint.tracking_number + "#")
    assert spoken(question)[-1].endswith(_english("voice_confirm_question")[0])
    closed = call.press("1")
    assert spoken(closed) == _english("voice_confirm_closed", "voice_main_menu")
    state, closed_at, kinds = _decisions(voice_rt)
    assert state == "closed" and closed_at is not None and kinds[-1] == "confirm_satisfied"


def test_another_number_keying_the_right_tracking_number_cannot_confirm(caller, voice_rt):
    complaint = _whatsapp_complaint_resolved(voice_rt, "+923001234567")
    before = _decisions(voice_rt)
    call = caller("+923339999999")
    call.dial()
    call.press("3")
    call.press("3")
    # The same answer as for a number with nothing to confirm: nothing learnt about the case.
    assert spoken(call.press(complaint.tracking_number)) == _english("voice_confirm_none", "voice_main_menu")
    assert _decisions(voice_rt) == before

def test_a_silent_caller_hears_the_menu_again_then_a_polite_goodbye(caller, voice_rt):
    call = caller()
    call.dial()
    call.press("1")
    again = call.stay_silent()
    assert spoken(again) == ["voice_no_input", "voice_main_menu"]
    bye = call.stay_silent()
    assert spoken(bye) == ["voice_goodbye_no_input"] and bye.find("Hangup") is not None
    call.hang_up()
    assert _complaints(voice_rt) == []


def test_a_wrong_key_is_named_and_the_menu_repeated(caller):
    call = caller()
    call.dial()
    call.press("1")
    assert spoken(call.press("7")) == ["voice_invalid_choice", "voice_main_menu"]
    assert spoken(call.press("8")) == ["voice_invalid_choice", "voice_main_menu"]
    bye = call.press("5")  # the third wrong key in a row
    assert spoken(bye) == ["voice_invalid_choice", "voice_goodbye"] and bye.find("Hangup") is not None


def test_star_reads_the_district_codes_in_groups(caller):
    call = caller()
    call.dial()
    call.press("1")
    call.press("1")
    codes = call.press("*")
    said = spoken(codes)
    assert said[0] == "voice_district_codes" and said[-1] == "voice_ask_district"
    assert [n for n in said if n.startswith("districts_")] == [f"districts_{d}" for d in range(1, 9)]
    assert spoken(call.press("99")) == ["voice_district_unknown", "voice_ask_district"]
    call.press("11")
    # The department menu is read again on star: every key 1-9 a department, 0 "other".
    assert spoken(call.press("*")) == ["voice_ask_department", "departments_menu"]


def test_a_hang_up_during_the_recording_files_it_flagged_incomplete(caller, voice_rt, twilio_peer):
    call = caller()
    call.dial()
    call.press("1")
    call.press("1")
    call.press("63")  # Mansehra
    call.press("1")  # Police
    answer, recording = call.record(seconds=9, hang_up=True)
    assert list(answer) == []  # nothing to say to a caller who is gone
    call.recording_ready(recording, seconds=9)
    call.hang_up()
    (complaint,) = _complaints(voice_rt)
    assert complaint.incomplete and complaint.district_code == "MSH"
    assert (complaint.department_code, complaint.category_code) == ("POLICE", "POLICE_FIR")
    voice_rt.queue.run_due()
    assert len(twilio_peer.sms) == 1  # the number they did not hear arrives by SMS
    with voice_rt.sessions() as s:
        assert s.scalar(select(func.count(Attachment.id))) == 1


def test_a_hang_up_before_recording_leaves_no_complaint(caller, voice_rt):
    call = caller()
    call.dial()
    call.press("1")
    call.press("1")
    call.hang_up()
    assert _complaints(voice_rt) == []
    with voice_rt.sessions() as s:
        assert s.scalars(select(Call)).one().status == "completed"


def test_a_recording_announced_only_by_its_callback_still_becomes_a_complaint(caller, voice_rt):
    call = caller()
    call.dial()
    call.press("1")
    call.press("1")
    call.press("11")
    call.press("6")  # WSSC (water and sanitation)
    # The caller hung up; Twilio's <Record> action never came, only the two callbacks.
    call.hang_up()
    call.recording_ready("RE" + "9" * 32, seconds=20)
    (complaint,) = _complaints(voice_rt)
    assert complaint.incomplete


def test_a_repeated_webhook_gets_the_same_twiml_and_files_once(caller, voice_rt, twilio_peer):
    call = caller()
    call.dial()
    call.press("1")
    call.press("1")
    call.press("11")
    call.press("6")  # WSSC (water and sanitation)
    call.record()
    url, data = call.sent
    repeat = call.post(url, data)  # Twilio timed out waiting and asks again
    assert repeat.status_code == 200 and repeat.data == call.raw[-1]
    call.recording_ready(data["RecordingSid"])
    assert len(_complaints(voice_rt)) == 1
    voice_rt.queue.run_due()
    assert len(twilio_peer.sms) == 1
    # A webhook from steps ago (long forgotten) restarts nothing: it hears where the call is.
    late = call.post("/webhooks/twilio/voice", call._params("incoming_call"))
    assert late.data == call.raw[-1]
    with voice_rt.sessions() as s:
        assert s.scalar(select(func.count(Call.id))) == 1


def test_an_unsigned_or_forged_webhook_is_refused_and_nothing_is_stored(caller, voice_rt):
    call = caller()
    data = call._params("incoming_call")
    assert call.post("/webhooks/twilio/voice", data, signed=False).status_code == 403
    forged = call.client.post("/webhooks/twilio/voice", data=data, headers={"X-Twilio-Signature": "bad"})
    assert forged.status_code == 403
    with voice_rt.sessions() as s:
        assert s.scalar(select(func.count(Call.id))) == 0
        assert s.scalar(select(func.count(Contact.id))) == 0


def test_zero_in_office_hours_dials_the_call_centre_then_voicemail_if_nobody_answers(caller, voice_rt):
    rt = office_always_open(voice_rt)
    call = caller(rt=rt)
    call.dial()
    call.press("1")
    connect = call.press("0")
    assert spoken(connect) == ["voice_connecting"]
    assert connect.find("Dial/Number").text == "+92915550199"
    busy = call.dial_result("no-answer")
    assert spoken(busy) == ["voice_call_centre_busy", "voice_leave_message"]
    answer, _ = call.record(seconds=30)
    assert "voice_tracking_is" in spoken(answer)
    (complaint,) = _complaints(rt)
    assert complaint.description.startswith("Voicemail") and complaint.district_code is None


def test_zero_outside_office_hours_takes_a_voicemail_that_becomes_a_complaint(caller, voice_rt):
    rt = office_never_open(voice_rt)
    call = caller(rt=rt)
    call.dial()
    call.press("1")
    closed = call.press("0")
    assert spoken(closed) == ["voice_office_closed", "voice_leave_message"]
    assert closed.find("Dial") is None and closed.find("Record") is not None
    again = call.record_nothing()
    assert spoken(again) == ["voice_no_recording", "voice_leave_message"]
    call.record(seconds=12)
    assert len(_complaints(rt)) == 1


def test_an_anonymous_caller_can_file_but_gets_no_sms(caller, voice_rt, twilio_peer):
    call = caller("anonymous")
    _file_complaint_in_urdu(call)
    assert "voice_tracking_sms" not in spoken(call.last)
    assert len(_complaints(voice_rt)) == 1
    voice_rt.queue.run_due()
    assert twilio_peer.sms == []


def test_a_recording_download_that_failed_is_retried_by_the_sweeper(caller, voice_rt, twilio_peer):
    settings = voice_rt.settings.model_copy(update={"voice_recording_attempts": 1})
    rt = dataclasses.replace(voice_rt, settings=settings)
    jobs.install(rt)
    call = caller(rt=rt)
    _, recording = _file_complaint_in_urdu(call)
    kept = twilio_peer.recordings.pop(recording)  # Twilio answers 404 for it, for now
    rt.queue.run_due()
    (complaint,) = _complaints(rt)

    def events(kind: str) -> int:
        with rt.sessions() as s:
            return s.scalar(select(func.count(ComplaintEvent.id)).where(
                ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.kind == kind))

    assert events("recording_missing") == 1
    now = utcnow()
    assert voice_jobs.sweep_recordings(now=now) == 0  # the first round may still be running
    for hours in (1, 3, 5):  # three more rounds, each failing; officers are told only once
        assert voice_jobs.sweep_recordings(now=now + timedelta(hours=hours)) == 1
        assert voice_jobs.sweep_recordings(now=now + timedelta(hours=hours)) == 0
        rt.queue.run_due()
    assert events("recording_missing") == 1
    assert voice_jobs.sweep_recordings(now=now + timedelta(hours=7)) == 0  # it gave up

    # A round that succeeds: the recording becomes the complaint's, and the timeline says so.
    twilio_peer.recordings[recording] = kept
    with transaction(rt.sessions) as s:
        s.scalars(select(Message).where(Message.direction == "in", Message.channel == "voice")).one().attempts = 1
    assert voice_jobs.sweep_recordings(now=now + timedelta(hours=9)) == 1
    rt.queue.run_due()
    with rt.sessions() as s:
        (audio,) = s.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id))
        assert audio.filename == f"{recording}.wav"
    assert events("recording_fetched") == 1
    assert voice_jobs.sweep_recordings(now=now + timedelta(hours=11)) == 0


def test_a_menu_step_takes_few_statements(caller, voice_rt):
    call = caller()
    call.dial()
    call.press("1")
    with max_statements(voice_rt, 2):  # the call (locked) and its update, nothing else
        call.press("2")
