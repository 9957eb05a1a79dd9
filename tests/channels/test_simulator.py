"""The simulator's WhatsApp and SMS personas go through the Twilio adapters, sandboxed."""

from __future__ import annotations

import json

from sqlalchemy import select

from channels.web import simulator
from conversation import catalog
from gateway.app import create_app
from storage.models import Contact, Message
from tests.channels.conftest import load_form


def test_the_whatsapp_persona_builds_twilios_form_and_stays_in_the_sandbox():
    inbound = simulator.parse({"persona": "whatsapp", "sender": "0300 1234567", "text": "hi\x00",
                               "client_id": "abc"})
    assert inbound.sender == "sim:+923001234567" and inbound.simulated
    assert inbound.provider_id == "sim-abc" and inbound.text == "hi"
    form = inbound.raw["form"]
    real = load_form("whatsapp", "inbound_text")
    assert set(real) <= set(form) | {"ProfileName"}  # the same fields Twilio posts
    assert form["From"] == "whatsapp:+923001234567" and form["WaId"] == "923001234567"


def test_the_sms_persona_builds_twilios_form():
    inbound = simulator.parse({"persona": "sms", "sender": "+923001234567", "text": "hi", "client_id": "x"})
    assert set(load_form("sms", "inbound_text")) - set(inbound.raw["form"]) <= {
        "ToState", "ToCity", "FromZip", "FromState", "FromCity", "ToZip"}
    assert inbound.channel == "sms" and inbound.sender == "sim:+923001234567"


def test_a_location_pin_in_the_simulator_suggests_the_district(rt):
    client = create_app(rt).test_client()
    response = client.post("/simulator/messages", json={"persona": "whatsapp", "sender": "+923001234567",
                                                        "text": "", "latitude": 34.7717, "longitude": 72.3602})
    assert response.status_code == 202
    rt.queue.run_due()
    with rt.sessions() as s:
        texts = list(s.scalars(select(Message.text).where(Message.direction == "out").order_by(Message.id)))
        assert s.scalars(select(Message.payload).where(Message.direction == "in")).one()["location"] == [34.7717, 72.3602]
    assert texts == [catalog.text("location_district", "en", district="Swat"), catalog.text("ask_description", "en")]


def test_stop_in_the_simulator_silences_the_persona_until_start(rt):
    client = create_app(rt).test_client()
    for text in ("STOP", "hi"):
        client.post("/simulator/messages", json={"persona": "sms", "sender": "+923001234567", "text": text})
    rt.queue.run_due()
    with rt.sessions() as s:
        assert s.scalars(select(Message).where(Message.direction == "out")).all() == []
        contact = s.scalars(select(Contact)).one()
        assert contact.opted_out and contact.simulated and contact.address == "sim:+923001234567"
    client.post("/simulator/messages", json={"persona": "sms", "sender": "+923001234567", "text": "START"})
    rt.queue.run_due()
    thread = client.get("/simulator/thread?persona=sms&sender=%2B923001234567").json["messages"]
    assert thread[-1]["text"] == catalog.text("welcome", "en", short=True)
    assert thread[-1]["status"] == "delivered"  # the log sender: nothing went to Twilio


def test_bad_coordinates_get_a_clear_error(rt):
    client = create_app(rt).test_client()
    response = client.post("/simulator/messages", json={"persona": "whatsapp", "sender": "+923001234567",
                                                        "text": "", "latitude": "north", "longitude": 1})
    assert response.status_code == 400 and "latitude" in json.loads(response.data)["error"]
    with rt.sessions() as s:
        assert s.scalars(select(Message)).all() == []
