"""The simulator's phone persona: a simulated call through the real IVR dialogue (the one
Twilio's webhooks drive), shown as text, with a keypad and a typed stand-in recording."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from sqlalchemy import select

from conversation import casework, catalog
from gateway import jobs
from gateway.app import create_app
from storage import lifecycle, tracking
from storage.db import transaction
from storage.models import Attachment, Complaint, ComplaintEvent, Contact, Message
from tests.voice.conftest import ACCOUNT, LINE, TOKEN, Caller, TwilioPeer

NUMBER = "+923001234567"
COMPLAINT_UR = "ہماری گلی میں تین دن سے کوڑا پڑا ہے اور کوئی اٹھانے نہیں آیا"


@pytest.fixture
def client(rt):
    app = create_app(rt)
    app.config["TESTING"] = True
    return app.test_client()


class SimCall:
    """One call from the simulator page: what its JavaScript posts."""

    def __init__(self, client, sender: str = "0300 1234567") -> None:
        self.client, self.sender = client, sender
        self.answer: dict = {}

    def post(self, path: str, **body):
        return self.client.post(f"/simulator/call/{path}", json={"sender": self.sender, **body})

    def _ok(self, path: str, **body) -> dict:
        response = self.post(path, **body)
        assert response.status_code == 200, response.json
        self.answer = response.json
        return self.answer

    @property
    def last(self) -> dict:
        return self.answer["replies"][-1]

    def dial(self) -> dict:
        return self._ok("start")

    def press(self, keys: str) -> dict:
        return self._ok("keys", call=self.answer["call"], step=self.last["step"], seq=self.last["seq"], keys=keys)

    def say(self, text: str) -> dict:
        assert self.last["expects"]["kind"] == "recording"
        return self._ok("record", call=self.answer["call"], step=self.last["step"], seq=self.last["seq"], text=text)

    def hang_up(self) -> dict:
        return self._ok("hangup", call=self.answer["call"])


def said(answer: dict) -> list[str]:
    return [line["text"] for reply in answer["replies"] for line in reply["said"]]


def names(answer: dict) -> list[str]:
    return [name for reply in answer["replies"] for line in reply["said"] for name in line["names"]]


def test_a_simulated_call_in_urdu_files_a_complaint_then_a_second_call_checks_its_status(client, rt):
    call = SimCall(client)
    first = call.dial()
    assert first["call"].startswith("CA") and len(first["call"]) == 34
    assert catalog.text("voice_welcome", "ur") in said(first)
    assert call.last["expects"] == {"kind": "keys", "digits": 1, "finish_on_key": "#"}
    menu = call.press("1")  # Urdu
    assert said(menu) == [catalog.text("voice_main_menu", "ur")]
    assert {line["lang"] for line in menu["replies"][0]["said"]} == {"ur"}
    ask = call.press("1")  # a new complaint
    assert catalog.text("voice_ask_district", "ur") in said(ask)[-1]
    department = call.press("11")  # Peshawar
    assert names(department) == ["voice_district_chosen", "district_PSW", "voice_ask_department",
                                 "departments_menu"]
    record = call.press("5")  # Local Government
    assert names(record) == ["voice_department_chosen", "department_LOCAL_GOVT", "voice_ask_recording"]
    assert call.last["expects"]["kind"] == "recording"

    done = call.say(COMPLAINT_UR)
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        shown = tracking.display(complaint.tracking_number)
        assert (complaint.channel, complaint.language, complaint.district_code) == ("voice", "ur", "PSW")
        assert complaint.description == COMPLAINT_UR and not complaint.incomplete
        # The typed text is a transcript: the classifier's category (garbage), not the
        # department's first one (water supply), with its due date.
        assert (complaint.department_code, complaint.category_code) == ("LOCAL_GOVT", "LOCAL_GOVT_GARBAGE")
        assert complaint.due_at is not None
        message = s.scalars(select(Message).where(Message.complaint_id == complaint.id,
                                                  Message.direction == "in")).one()
        assert message.text == COMPLAINT_UR and not (message.payload.get("media") or [])
        assert s.get(Contact, complaint.contact_id).simulated
    # The call reads the number out (twice), and the page shows the complaint it filed.
    text = " ".join(said(done))
    assert text.count("-".join(tracking.groups(complaint.tracking_number))) == 2  # read in groups
    assert catalog.text("voice_complaint_registered", "ur") in text
    # Last, the call asks whether the complaint is against the department; "2": it is not.
    assert done["complaint"] == shown and done["ended"] is False
    assert names(done)[-1] == "voice_ask_confidential"
    done = call.press("2")
    assert done["ended"] is True
    with rt.sessions() as s:
        assert not s.scalars(select(Complaint)).one().confidential

    rt.queue.run_due()  # the tracking-number SMS, to the persona's simulated SMS thread
    sms = client.get("/simulator/thread?persona=sms&sender=%2B923001234567").json["messages"]
    assert [(m["direction"], m["status"]) for m in sms] == [("out", "delivered")]
    assert shown in sms[0]["text"]
    with rt.sessions() as s:  # nothing tried to download a recording that does not exist
        assert s.scalars(select(Attachment)).all() == []
        assert s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "recording_missing")).all() == []

    number = complaint.tracking_number
    typo = number[:3] + str((int(number[3]) + 1) % 10) + number[4:]
    second = SimCall(client)
    again = second.dial()  # the language is remembered for the persona's number
    assert names(again) == ["voice_welcome", "voice_main_menu"]
    asked = second.press("2")
    assert names(asked) == ["voice_ask_tracking"] and second.last["expects"]["digits"] is None
    wrong = second.press(typo + "#")
    assert names(wrong) == ["voice_tracking_wrong", "voice_ask_tracking"]
    status = second.press(number + "#")
    assert names(status)[-3:] == ["voice_status_is", "status_submitted", "voice_main_menu"]
    assert "-".join(tracking.groups(number)) in " ".join(said(status))  # read in its groups
    assert catalog.text("status_submitted", "ur") in said(status)[0]
    assert second.hang_up()["ended"] is True
    with rt.sessions() as s:
        assert len(s.scalars(select(Complaint)).all()) == 1


def test_a_hang_up_while_speaking_keeps_what_was_said_flagged_incomplete(client, rt):
    call = SimCall(client)
    call.dial()
    call.press("1")
    call.press("1")
    call.press("11")
    call.press("6")  # WSSC (water and sanitation)
    assert call.post("hangup", call=call.answer["call"], text=COMPLAINT_UR).status_code == 200
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        assert complaint.incomplete and complaint.description == COMPLAINT_UR


def test_saying_nothing_is_an_empty_recording(client):
    call = SimCall(client)
    call.dial()
    call.press("1")
    call.press("1")
    call.press("11")
    call.press("6")  # WSSC (water and sanitation)
    silent = call.say("   ")
    assert names(silent) == ["voice_no_recording", "voice_ask_recording"]
    assert call.last["expects"]["kind"] == "recording"


@pytest.fixture
def real_line(rt):
    """The real phone line (signed Twilio webhooks) on the same database."""
    peer = TwilioPeer()
    thread = threading.Thread(target=peer.serve_forever, daemon=True)
    thread.start()
    settings = rt.settings.model_copy(update={
        "twilio_account_sid": ACCOUNT, "twilio_auth_token": TOKEN, "twilio_api_url": peer.url,
        "twilio_hosts": "localhost",  # no public URL: the host Twilio calls is named instead
        "twilio_sms_from": LINE})
    voice = dataclasses.replace(rt, settings=settings)
    jobs.install(voice)
    yield voice, peer
    peer.shutdown()
    peer.server_close()


def test_a_simulated_caller_cannot_see_or_confirm_a_real_callers_complaints(real_line, rt):
    voice_rt, peer = real_line
    real = Caller(voice_rt, peer, NUMBER)  # a real citizen calls from the same number
    real.dial()
    real.press("1")
    real.press("1")
    real.press("11")
    real.press("6")  # WSSC (water and sanitation)
    real.record(seconds=14)
    with transaction(voice_rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        casework.resolve(s, complaint, lifecycle.Actor("admin", None, "cli"), "Pipe repaired")
        complaint_id = complaint.id

    # The simulator runs where it may (the embedded default: `rt`), on the same database.
    sim = SimCall(create_app(rt).test_client(), NUMBER)
    first = sim.dial()  # not the real caller's remembered language: the language menu
    assert "voice_language_choice" in names(first)
    sim.press("1")
    assert names(sim.press("3")) == ["voice_ask_tracking"]  # confirm a resolved complaint
    with voice_rt.sessions() as s:
        number = s.get(Complaint, complaint_id).tracking_number
    nothing = sim.press(number)  # the real caller's tracking number
    assert names(nothing) == ["voice_confirm_none", "voice_main_menu"]
    # Nor can the simulator drive the real caller's call by its CallSid.
    hijack = sim.post("keys", call=real.sid, step="menu", seq=1, keys="3")
    assert hijack.status_code == 404 and "no such call" in hijack.json["error"]
    assert sim.post("hangup", call=real.sid).status_code == 404
    sim.hang_up()
    with voice_rt.sessions() as s:
        assert s.get(Complaint, complaint_id).state == "resolved"
        assert not s.get(Contact, s.get(Complaint, complaint_id).contact_id).simulated
        contacts = s.scalars(select(Contact).where(Contact.simulated.is_(True))).all()
        assert {c.address for c in contacts} == {"sim:" + NUMBER}
        assert {c.citizen_id for c in contacts} != {s.get(Complaint, complaint_id).citizen_id}


@pytest.mark.parametrize(("path", "body", "error"), [
    ("start", {"sender": "hello"}, "is not a phone number"),
    ("keys", {"sender": NUMBER, "call": "CA123", "step": "menu", "seq": 1, "keys": "1"}, "call must be"),
    ("keys", {"sender": NUMBER, "call": "CA" + "a" * 32, "step": "menu", "seq": 1, "keys": "1"}, "no such call"),
    ("keys", {"sender": NUMBER, "call": "CA" + "a" * 32, "step": "nope", "seq": 1, "keys": "1"}, "step must be"),
    ("keys", {"sender": NUMBER, "call": "CA" + "a" * 32, "step": "menu", "seq": "x", "keys": "1"}, "seq must be"),
    ("keys", {"sender": NUMBER, "call": "CA" + "a" * 32, "step": "menu", "seq": 1, "keys": "1a"}, "keys must be"),
])
def test_bad_call_input_gets_a_clear_error(client, path, body, error):
    response = client.post(f"/simulator/call/{path}", json=body)
    assert response.status_code in (400, 404) and error in response.json["error"]


def test_the_page_offers_a_keypad_a_hang_up_and_a_marked_stand_in_for_the_voice(client):
    page = client.get("/simulator").get_data(as_text=True)
    for key in "0123456789*#":
        assert f'data-key="{key}"' in page
    assert 'id="hangup"' in page and "Say your complaint" in page
    assert "Stand-in for your voice" in page
    # The phone persona is a call now, not a chat.
    refused = client.post("/simulator/messages", json={"persona": "voice", "sender": NUMBER, "text": "1"})
    assert refused.status_code == 400 and "/simulator/call/start" in refused.json["error"]


def test_nobody_answers_at_the_simulated_call_centre_so_a_voicemail_is_taken(rt):
    settings = rt.settings.model_copy(update={"voice_call_centre": "+92915550199",
                                              "voice_office_hours": "mon-sun 00:00-24:00"})
    open_rt = dataclasses.replace(rt, settings=settings)
    jobs.install(open_rt)
    call = SimCall(create_app(open_rt).test_client())
    call.dial()
    call.press("3")  # English
    transfer = call.press("0")
    assert [r["expects"]["kind"] for r in transfer["replies"]] == ["transfer", "recording"]
    assert names(transfer) == ["voice_connecting", "voice_call_centre_busy", "voice_leave_message"]
    done = call.say("Please call me back about my pension.")
    assert done["complaint"] and not done["ended"]  # asked: against the department?
    assert names(done)[-1] == "voice_ask_confidential" and call.press("2")["ended"]
    with open_rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        assert complaint.description == "Please call me back about my pension."
        assert complaint.language == "en" and complaint.district_code is None


def test_a_simulated_caller_confirms_its_own_complaint_and_types_its_reason(client, rt):
    filing = SimCall(client)
    filing.dial()
    filing.press("1")
    filing.press("1")
    filing.press("11")
    filing.press("6")  # WSSC (water and sanitation)
    filing.say(COMPLAINT_UR)
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        casework.resolve(s, complaint, lifecycle.Actor("admin", None, "cli"), "Cleaned")
        complaint_id = complaint.id

    call = SimCall(client)
    call.dial()
    assert names(call.press("3")) == ["voice_ask_tracking"]
    with rt.sessions() as s:
        number = s.get(Complaint, complaint_id).tracking_number
    asked = call.press(number)
    assert names(asked)[-1] == "voice_confirm_question"
    reason = call.press("2")  # not satisfied
    assert names(reason) == ["voice_confirm_reopened", "voice_ask_reason"]
    assert call.last["expects"]["kind"] == "recording"
    back = call.say("کوڑا پھر سے پڑا ہے")
    assert names(back)[:2] == ["voice_reason_recorded", "voice_main_menu"]
    with rt.sessions() as s:
        reopened = s.get(Complaint, complaint_id)
        assert reopened.state != "resolved"
        comment = s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id,
                                                         ComplaintEvent.kind == "citizen_comment")).one()
        assert comment.note == "کوڑا پھر سے پڑا ہے"
        assert s.get(Message, comment.message_id).text == "کوڑا پھر سے پڑا ہے"
