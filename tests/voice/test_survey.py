"""A phone complainant is asked "are you satisfied?" by a call the gateway places (Twilio's
Calls API), answers on the keypad (1 closes, 2 reopens with a recorded reason), and gets the
question by SMS when nobody answers. Only the call we placed, to the complainant's number,
can answer: forged or unsigned webhooks and other calls are refused."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from conversation import casework
from gateway import jobs
from storage import lifecycle
from storage.db import transaction
from storage.models import Complaint, ComplaintEvent, Message
from tests.channels.conftest import prism_url  # noqa: F401  (the fixture: Twilio's API, validated)
from tests.voice.conftest import LINE, Caller, form, spoken

NUMBER = "+923001234567"


@pytest.fixture
def survey_rt(voice_rt):
    """Twilio can reach us (a public URL): calls can be placed."""
    settings = voice_rt.settings.model_copy(update={"public_url": "http://localhost"})
    rt = dataclasses.replace(voice_rt, settings=settings)
    jobs.install(rt)
    return rt


class PlacedCall(Caller):
    """The call Twilio placed for us, as the complainant's phone answers it: Twilio's
    outbound-api webhooks (From is our line, To the complainant), signed."""

    def __init__(self, rt, peer, sid: str, number: str = NUMBER) -> None:
        super().__init__(rt, peer, number)
        self.sid = sid

    def _params(self, name: str, **values: str) -> dict[str, str]:
        name = {"gather_digits": "outbound_gather_digits", "record_action": "outbound_record_action",
                "call_completed": "outbound_status"}.get(name, name)
        return form(name, CallSid=self.sid, From=LINE, Caller=LINE, To=self.number, Called=self.number,
                    **values)

    def pick_up(self, url: str):
        return self.twiml(url, self._params("outbound_answered"))

    def ended(self, url: str, status: str) -> int:
        return self.post(url, self._params("outbound_status", CallStatus=status)).status_code


def _file_by_phone(rt, peer) -> str:
    call = Caller(rt, peer, NUMBER)
    call.dial()
    call.press("1")  # Urdu
    call.press("1")
    call.press("11")  # Peshawar
    call.press("6")  # WSSC
    call.record(seconds=15)
    call.press("2")
    rt.queue.run_due()  # the tracking number's SMS, the recording
    with rt.sessions() as s:
        return s.scalars(select(Complaint)).one().tracking_number


def _resolve(rt) -> int:
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        row = casework.resolve(s, complaint, lifecycle.Actor("officer", None, "web"), "Water supply restored")
        s.flush()
        return row.id


def _placed(rt, peer) -> tuple[Message, dict]:
    """Resolve the complaint and deliver its satisfaction request: a call is placed."""
    row_id = _resolve(rt)
    jobs.deliver(row_id)
    with rt.sessions() as s:
        row = s.get(Message, row_id)
    (placed,) = peer.calls
    return row, placed


def _complaint(rt) -> Complaint:
    with rt.sessions() as s:
        return s.scalars(select(Complaint)).one()


def _events(rt) -> list[ComplaintEvent]:
    with rt.sessions() as s:
        return list(s.scalars(select(ComplaintEvent).order_by(ComplaintEvent.id)))


def test_the_question_is_a_call_answered_with_1_which_closes_the_complaint(survey_rt, twilio_peer):
    number = _file_by_phone(survey_rt, twilio_peer)
    row, placed = _placed(survey_rt, twilio_peer)
    assert row.channel == "voice" and row.status == "sent" and row.provider_id.startswith("CA")
    assert placed["To"] == NUMBER and placed["From"] == LINE
    url, status_url = urlsplit(placed["Url"]), urlsplit(placed["StatusCallback"])
    assert url.path == "/webhooks/twilio/voice/outbound" and status_url.path == "/webhooks/twilio/voice/outbound/status"
    assert parse_qs(url.query) == {"key": [row.idempotency_key]}

    phone = PlacedCall(survey_rt, twilio_peer, row.provider_id)
    asked = phone.pick_up(placed["Url"])
    said = spoken(asked)
    assert said[:2] == ["voice_survey_intro", "voice_complaint_number"]
    assert "".join(n.removeprefix("voice_digit_") for n in said if n.startswith("voice_digit_")) == number
    assert said[-1] == "voice_confirm_question" and asked.find("Gather").get("numDigits") == "1"
    closed = phone.press("1")
    assert spoken(closed) == ["voice_confirm_closed", "voice_goodbye"] and closed.find("Hangup") is not None
    complaint = _complaint(survey_rt)
    assert complaint.state == "closed"
    (confirmed,) = [e for e in _events(survey_rt) if e.kind == "confirm_satisfied"]
    assert (confirmed.actor_kind, confirmed.channel) == ("citizen", "voice")
    assert phone.ended(placed["StatusCallback"], "completed") == 204
    survey_rt.queue.run_due()
    with survey_rt.sessions() as s:
        assert s.get(Message, row.id).status == "delivered"
    assert len(twilio_peer.sms) == 1  # only the tracking number's, no fallback


def test_2_reopens_the_complaint_with_the_recorded_reason(survey_rt, twilio_peer):
    _file_by_phone(survey_rt, twilio_peer)
    row, placed = _placed(survey_rt, twilio_peer)
    phone = PlacedCall(survey_rt, twilio_peer, row.provider_id)
    phone.pick_up(placed["Url"])
    why = phone.press("2")
    assert spoken(why) == ["voice_confirm_reopened", "voice_ask_reason"] and why.find("Record") is not None
    assert _complaint(survey_rt).state == "reopened"
    thanks, _recording = phone.record(seconds=8)
    assert spoken(thanks) == ["voice_reason_recorded", "voice_goodbye"]
    kinds = [(e.kind, e.actor_kind) for e in _events(survey_rt)]
    assert ("reject_resolution", "citizen") in kinds and ("citizen_comment", "citizen") in kinds
    (comment,) = [e for e in _events(survey_rt) if e.kind == "citizen_comment"]
    assert "reason recorded by phone (8 s)" in comment.note
    survey_rt.queue.run_due()  # the reason's recording is fetched onto the complaint
    with survey_rt.sessions() as s:
        reason = s.get(Message, comment.message_id)
        assert reason.complaint_id == row.complaint_id and reason.payload["step"] == "reason"


def test_a_call_nobody_answers_asks_by_sms_and_an_sms_reply_answers(survey_rt, twilio_peer):
    number = _file_by_phone(survey_rt, twilio_peer)
    row, placed = _placed(survey_rt, twilio_peer)
    phone = PlacedCall(survey_rt, twilio_peer, row.provider_id)
    assert phone.ended(placed["StatusCallback"], "no-answer") == 204
    survey_rt.queue.run_due()
    with survey_rt.sessions() as s:
        assert s.get(Message, row.id).status == "failed"
        sms_row = s.scalars(select(Message).where(Message.direction == "out", Message.channel == "sms",
                                                  Message.kind == "satisfaction_request")).one()
        assert sms_row.status == "sent" and sms_row.payload["fallback_of"] == row.id
    question = twilio_peer.sms[-1]
    assert question["To"] == NUMBER and "-".join((number[:3], number[3:6], number[6:])) in question["Body"]
    assert any(e.kind == "delivery_fallback" for e in _events(survey_rt))
    # The complainant answers the SMS.
    reply = form("call_completed")  # only for the account id; the SMS form follows
    sms = {"ToCountry": "PK", "SmsMessageSid": "SM" + "7" * 32, "NumMedia": "0", "SmsSid": "SM" + "7" * 32,
           "SmsStatus": "received", "Body": "YES", "FromCountry": "PK", "To": LINE, "NumSegments": "1",
           "MessageSid": "SM" + "7" * 32, "AccountSid": reply["AccountSid"], "From": NUMBER,
           "ApiVersion": "2010-04-01"}
    assert phone.post("/webhooks/twilio/sms", sms).status_code == 200
    survey_rt.queue.run_due()
    assert _complaint(survey_rt).state == "closed"


def test_forged_webhooks_and_other_calls_cannot_answer(survey_rt, twilio_peer):
    _file_by_phone(survey_rt, twilio_peer)
    row, placed = _placed(survey_rt, twilio_peer)
    phone = PlacedCall(survey_rt, twilio_peer, row.provider_id)
    answered = phone._params("outbound_answered")
    # Unsigned, or signed with another token: refused before anything is read.
    assert phone.post(placed["Url"], answered, signed=False).status_code == 403
    path = urlsplit(placed["Url"])
    forged = phone.client.post(f"{path.path}?{path.query}", data=answered, headers={"X-Twilio-Signature": "bad"})
    assert forged.status_code == 403
    # Signed by Twilio but another call (someone else's CallSid), or another number called.
    other = PlacedCall(survey_rt, twilio_peer, "CA" + "e" * 32)
    assert other.post(placed["Url"], other._params("outbound_answered")).status_code == 403
    elsewhere = PlacedCall(survey_rt, twilio_peer, row.provider_id, number="+923339876543")
    assert elsewhere.post(placed["Url"], elsewhere._params("outbound_answered")).status_code == 403
    assert other.ended(placed["StatusCallback"], "no-answer") == 403  # no SMS for a forged status
    # A caller on another call keys "1" at the step's URL: it is not this call, nothing closes.
    intruder = Caller(survey_rt, twilio_peer, "+923339876543")
    intruder.dial()
    intruder.post("/webhooks/twilio/voice/satisfied?n=1", intruder._params("gather_digits", Digits="1"))
    assert _complaint(survey_rt).state == "resolved"
    # The real call still works afterwards.
    phone.pick_up(placed["Url"])
    phone.press("1")
    assert _complaint(survey_rt).state == "closed"
    survey_rt.queue.run_due()
    assert len(twilio_peer.sms) == 1  # no fallback SMS was sent for the forged status


def test_the_call_request_passes_twilios_published_schema(survey_rt, twilio_peer, prism_url):  # noqa: F811
    _file_by_phone(survey_rt, twilio_peer)
    settings = survey_rt.settings.model_copy(update={"twilio_api_url": prism_url})
    rt = dataclasses.replace(survey_rt, settings=settings)
    jobs.install(rt)
    row_id = _resolve(rt)
    jobs.deliver(row_id)
    with rt.sessions() as s:
        row = s.get(Message, row_id)
    assert row.status == "sent", row.error
    assert row.provider_id.startswith("CA") and len(row.provider_id) == 34
