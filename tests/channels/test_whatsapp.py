"""WhatsApp webhooks: real-format fixtures, signed as Twilio signs them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from conversation import catalog
from storage.models import Complaint, Contact, Message
from tests.channels.conftest import load_form

PATH = "/webhooks/twilio/whatsapp"


def inbound(rt) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)))


def replies(rt) -> list[str]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message.text).where(Message.direction == "out").order_by(Message.id)))


def send(twilio, name: str, **changes) -> object:
    form = {**load_form("whatsapp", name), **changes}
    response = twilio.post(PATH, form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_a_text_message_is_stored_answered_with_empty_twiml_and_replied_to_in_a_job(twilio):
    response = send(twilio, "inbound_text")
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).endswith("<Response />")
    [message] = inbound(twilio.rt)
    assert message.provider_id == "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0"
    assert message.text == "The water supply in our street is broken since Monday"
    assert message.status == "received" and replies(twilio.rt) == []  # the turn is a job
    raw = json.loads(message.raw)
    assert raw["WaId"] == "923001234567" and raw["I-Twilio-Idempotency-Token"].startswith("idem-")
    assert message.payload["profile_name"] == "Ali Khan"
    twilio.rt.queue.run_due()
    assert replies(twilio.rt)[0] == catalog.text("ask_district", "en")
    with twilio.rt.sessions() as s:
        contact = s.scalars(select(Contact)).one()
        assert contact.address == "+923001234567" and contact.channel == "whatsapp"


def test_a_wrong_signature_is_refused_with_403_and_nothing_is_stored(twilio):
    response = twilio.post(PATH, load_form("whatsapp", "inbound_text"), signature="bm90LXRoZS1zaWduYXR1cmU=")
    assert response.status_code == 403
    assert inbound(twilio.rt) == []


def test_a_request_signed_for_another_form_is_refused(twilio):
    form = load_form("whatsapp", "inbound_text")
    from channels.twilio.request import sign
    from tests.channels.conftest import AUTH_TOKEN, PUBLIC_URL

    signature = sign(AUTH_TOKEN, PUBLIC_URL + PATH, form)
    response = twilio.post(PATH, {**form, "Body": "something else"}, signature=signature)
    assert response.status_code == 403 and inbound(twilio.rt) == []


def test_an_unsigned_request_is_refused(twilio):
    response = twilio.client.post(PATH, data=load_form("whatsapp", "inbound_text"))
    assert response.status_code == 403 and inbound(twilio.rt) == []


def test_a_form_without_message_sid_gets_400(twilio):
    response = twilio.post(PATH, load_form("whatsapp", "missing_message_sid"))
    assert response.status_code == 400
    assert "MessageSid" in response.get_data(as_text=True)
    assert inbound(twilio.rt) == []


def test_a_repeated_delivery_is_answered_200_and_handled_once(twilio):
    send(twilio, "inbound_text")
    send(twilio, "inbound_text")
    twilio.rt.queue.run_due()
    send(twilio, "inbound_text")
    twilio.rt.queue.run_due()
    assert len(inbound(twilio.rt)) == 1
    assert len(replies(twilio.rt)) == 1


def test_a_media_only_message_starts_a_complaint_and_queues_the_download(twilio):
    send(twilio, "media_only")
    [message] = inbound(twilio.rt)
    assert message.text == ""
    assert message.payload["media"] == [{
        "url": "https://api.twilio.com/2010-04-01/Accounts/AC3f2b9e1c7d4a5b6c8e9f0a1b2c3d4e5f/Messages/"
               "MM4c5d6e7f8091a2b3c4d5e6f708192a3b/Media/ME9a8b7c6d5e4f30211203f4e5d6c7b8a9",
        "content_type": "image/jpeg"}]
    twilio.rt.queue.run_due()  # the turn, and a download refused here (no such host reachable)
    assert replies(twilio.rt) == [catalog.text("media_received", "en"), catalog.text("ask_description", "en")]


def test_a_quick_reply_tap_is_read_as_its_payload(twilio):
    send(twilio, "button_reply")
    [message] = inbound(twilio.rt)
    assert message.text == "yes"
    twilio.rt.queue.run_due()
    assert replies(twilio.rt) == [catalog.text("nothing_to_confirm", "en")]


def test_a_location_pin_becomes_the_complaints_place_and_suggests_its_district(twilio):
    send(twilio, "inbound_location")
    [message] = inbound(twilio.rt)
    assert message.text == "" and message.payload["location"] == [34.0151, 71.5249]
    twilio.rt.queue.run_due()
    assert replies(twilio.rt) == [catalog.text("location_district", "en", district="Peshawar"),
                                  catalog.text("ask_description", "en")]
    # The rest of the complaint: the district is not asked again, and the pin is kept.
    for i, text in enumerate(("The water supply in our street is broken since Monday",
                              "Gali 4, Hayatabad Phase 3", "no")):
        send(twilio, "inbound_text", Body=text, MessageSid=f"SM{i:032x}")
        twilio.rt.queue.run_due()
    assert catalog.text("ask_district", "en") not in replies(twilio.rt)
    with twilio.rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        assert complaint.district_code == "PSW"
        assert (complaint.latitude, complaint.longitude) == (34.0151, 71.5249)
        assert complaint.location_detail == "Gali 4, Hayatabad Phase 3"
        # The chat asks no name (issue 12: fewer questions); the profile name is not taken
        # without the citizen's word.
        assert complaint.citizen.name is None and complaint.confidential is False


def test_a_pin_far_from_any_district_suggests_none(twilio):
    send(twilio, "inbound_location", Latitude="51.5072", Longitude="-0.1276")
    twilio.rt.queue.run_due()
    assert replies(twilio.rt) == [catalog.text("location_received", "en"),
                                  catalog.text("ask_description", "en")]


def test_nul_and_control_characters_are_stripped(twilio):
    send(twilio, "control_chars")
    [message] = inbound(twilio.rt)
    assert message.text == "Street light broken since\tweek\nplease"
    assert "\x00" in json.loads(message.raw)["Body"]  # the raw payload stays as it came


def test_an_8000_character_body_is_stored_whole_and_the_citizen_asked_to_shorten(twilio):
    send(twilio, "long_body")
    [message] = inbound(twilio.rt)
    assert len(message.text) == 8000
    twilio.rt.queue.run_due()
    [reply] = replies(twilio.rt)
    length = len(" ".join(message.text.split()))
    assert reply == catalog.text("description_too_long", "en", length=length, max=2000)


def test_a_business_scoped_user_id_is_the_address_when_no_number_is_shared(twilio):
    send(twilio, "external_user_id")
    with twilio.rt.sessions() as s:
        assert s.scalars(select(Contact.address)).one() == "PK.1234567890123456"


def test_an_urdu_greeting_is_answered_in_urdu(twilio):
    send(twilio, "inbound_text_urdu")
    twilio.rt.queue.run_due()
    assert replies(twilio.rt) == [catalog.text("welcome", "ur")]


def test_stop_then_a_message_gets_no_reply_until_start(twilio):
    send(twilio, "inbound_text", Body="STOP", MessageSid="SM" + "1" * 32)
    send(twilio, "inbound_text", Body="hi", MessageSid="SM" + "2" * 32)
    twilio.rt.queue.run_due()
    assert replies(twilio.rt) == []
    with twilio.rt.sessions() as s:
        assert s.scalars(select(Contact.opted_out)).one() is True
    send(twilio, "inbound_text", Body="START", MessageSid="SM" + "3" * 32)
    twilio.rt.queue.run_due()
    assert replies(twilio.rt) == [catalog.text("welcome", "en")]


@pytest.mark.parametrize("rt", ["postgresql"], indirect=True)
def test_the_webhook_stays_within_a_few_queries(twilio):
    send(twilio, "inbound_text")  # the contact exists from now on
    from sqlalchemy import event

    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(twilio.rt.engine, "before_cursor_execute", listener)
    try:
        send(twilio, "inbound_text", MessageSid="SM" + "4" * 32)
    finally:
        event.remove(twilio.rt.engine, "before_cursor_execute", listener)
    assert len(statements) <= 6, statements
    with twilio.rt.sessions() as s:
        assert s.scalar(select(func.count(Complaint.id))) == 0


def test_behind_a_trusted_proxy_the_forwarded_url_is_the_one_checked(trt):
    from channels.twilio.request import sign
    from gateway.app import create_app
    from tests.channels.conftest import AUTH_TOKEN, reconfigure

    form = load_form("whatsapp", "inbound_text")
    signature = sign(AUTH_TOKEN, "https://ikhtiyar.example.org" + PATH, form)
    forwarded = {"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": "ikhtiyar.example.org"}

    def post(rt):
        return create_app(rt).test_client().post(PATH, data=form, headers=forwarded,
                                                 base_url="http://10.0.0.5:8080")

    assert post(reconfigure(trt, public_url=None)).status_code == 403  # headers not trusted
    assert inbound(trt) == []
    assert post(reconfigure(trt, public_url=None, trust_proxy=True)).status_code == 200
