"""The web process: health, readiness, the simulator, the public tracking page, sign-in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from conversation import catalog
from gateway.app import create_app
from gateway.passwords import hash_password, new_token
from storage.db import transaction
from storage.models import Complaint, Message, User
from tests.citizen import Citizen


@pytest.fixture
def client(rt):
    app = create_app(rt)
    app.config["TESTING"] = True
    return app.test_client()


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "queue": "ok"}


def test_the_simulator_page_offers_every_channel(client):
    page = client.get("/simulator").get_data(as_text=True)
    for persona in ("whatsapp", "sms", "email", "voice"):
        assert f'value="{persona}"' in page


def test_a_simulator_conversation_shows_replies_with_their_delivery_state(client, rt):
    sent = client.post("/simulator/messages", json={"persona": "sms", "sender": "0300 1234567",
                                                    "text": "hi", "client_id": "abc"})
    assert sent.status_code == 202
    again = client.post("/simulator/messages", json={"persona": "sms", "sender": "0300 1234567",
                                                     "text": "hi", "client_id": "abc"})
    assert again.status_code == 200 and again.json["duplicate"] is True
    rt.queue.run_due()
    thread = client.get("/simulator/thread?persona=sms&sender=%2B923001234567").json["messages"]
    assert [(m["direction"], m["status"]) for m in thread] == [("in", "processed"), ("out", "delivered")]
    assert thread[1]["text"] == catalog.text("welcome", "en", short=True)


def test_the_simulator_never_shows_a_real_citizens_conversation(client, rt):
    Citizen(rt, channel="sms", address="+923001234567").send("hi")  # a real SMS citizen
    thread = client.get("/simulator/thread?persona=sms&sender=%2B923001234567").json["messages"]
    assert thread == []


@pytest.mark.parametrize(("body", "error"), [
    ({"persona": "fax", "sender": "+923001234567", "text": "hi"}, "persona must be one of"),
    ({"persona": "sms", "sender": "hello", "text": "hi"}, "is not a phone number"),
    ({"persona": "email", "sender": "not-an-email", "text": "hi"}, "is not an email address"),
    ({"persona": "sms", "sender": "+923001234567"}, "text is missing"),
    ({"persona": "sms", "sender": "+923001234567", "text": "x" * 20_001}, "longer than"),
])
def test_bad_simulator_input_gets_a_clear_error(client, body, error):
    response = client.post("/simulator/messages", json=body)
    assert response.status_code == 400 and error in response.json["error"]


def test_control_characters_are_stripped_from_what_the_engine_reads(client, rt):
    client.post("/simulator/messages", json={"persona": "whatsapp", "sender": "+923001234567",
                                             "text": "h\x00i\x07"})
    rt.queue.run_due()
    thread = client.get("/simulator/thread?persona=whatsapp&sender=%2B923001234567").json["messages"]
    assert thread[0]["text"] == "hi" and thread[1]["text"] == catalog.text("welcome", "en")


def test_the_public_tracking_page_shows_status_and_no_personal_data(client, rt):
    c = Citizen(rt, address="+923001234567")
    for text in ("1", "Garbage has not been collected for a week here", "Swat", "Mingora", "yes",
                 "Gul Bibi", "yes"):
        c.send(text)
    with rt.sessions() as s:
        number = s.scalars(select(Complaint.tracking_number)).one()
    page = client.get(f"/track/KP-{number}?lang=ur")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f"KP-{number}" in html
    assert catalog.text("status_submitted", "ur") in html and 'dir="rtl"' in html
    assert "Gul Bibi" not in html and "3001234567" not in html and "Mingora" not in html


def test_the_tracking_page_catches_a_typo(client):
    page = client.get("/track/KP-1234567")
    assert page.status_code == 404
    assert catalog.text("tracking_mistyped", "en", digits="1234567") in page.get_data(as_text=True)


def test_staff_sign_in_with_password_and_token(client, rt):
    with transaction(rt.sessions) as s:
        s.add(User(username="nadia", role="viewer", password_hash=hash_password("correct horse")))
    login_page = client.get("/auth/login").get_data(as_text=True)
    assert 'name="csrf_token"' in login_page
    # A form without the CSRF token is refused.
    assert client.post("/auth/login", data={"username": "nadia", "password": "correct horse"}).status_code == 400
    token, digest = new_token()
    with transaction(rt.sessions) as s:
        s.scalars(select(User).where(User.username == "nadia")).one().token_hash = digest
    from flask_login import current_user

    app = client.application
    with app.test_request_context("/", headers={"Authorization": f"Bearer {token}"}):
        assert current_user.is_authenticated and current_user.username == "nadia"
    with app.test_request_context("/", headers={"Authorization": "Bearer wrong"}):
        assert not current_user.is_authenticated


def test_the_email_persona_goes_through_the_mail_parser_and_keeps_its_thread(client, rt):
    def send(text, client_id):
        response = client.post("/simulator/messages", json={
            "persona": "email", "sender": "amina@example.org", "text": text, "client_id": client_id})
        assert response.status_code == 202, response.json
        rt.queue.run_due()

    send("Street lights broken in Hayatabad Peshawar\n\nAll the street lights in phase 3 have "
         "been off for a week and the road is dark at night.", "m1")
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()  # a new mail is a complaint at once
        assert complaint.channel == "email" and complaint.district_code == "PSW"
    thread = client.get("/simulator/thread?persona=email&sender=amina%40example.org").json["messages"]
    assert f"KP-{complaint.tracking_number}" in thread[1]["text"]
    send("It is the main boulevard near the park.", "m2")
    with rt.sessions() as s:
        assert len(s.scalars(select(Complaint)).all()) == 1
        inbound = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)).all()
        assert [m.complaint_id for m in inbound] == [complaint.id, complaint.id]  # same case


def test_a_location_pin_from_the_simulator_suggests_the_district(client, rt):
    response = client.post("/simulator/messages", json={
        "persona": "whatsapp", "sender": "+923001234567", "text": "",
        "latitude": "34.7717", "longitude": "72.3602"})  # Mingora, Swat
    assert response.status_code == 202, response.json
    rt.queue.run_due()
    [_pin, reply, *_rest] = client.get("/simulator/thread?persona=whatsapp&sender=%2B923001234567").json["messages"]
    assert "Swat" in reply["text"]
    page = client.get("/simulator").get_data(as_text=True)
    assert 'id="sendpin"' in page


def test_metrics_count_messages_and_complaints_from_the_database(client, rt):
    c = Citizen(rt, channel="sms", address="+923001234567")
    for text in ("1", "Garbage has not been collected for a week here", "Swat", "Mingora", "yes",
                 "skip", "yes"):
        c.send(text)
    body = client.get("/metrics").get_data(as_text=True)
    assert 'ikhtiyar_complaints{channel="sms",state="submitted"} 1.0' in body
    assert 'ikhtiyar_messages{channel="sms",direction="in",status="processed"} 7.0' in body
    assert 'ikhtiyar_messages{channel="sms",direction="out",status="delivered"} 7.0' in body


def test_metrics_name_their_charset_once(client):
    # Prometheus's text format, as a scraper parses the header: one charset parameter.
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].count("charset=") == 1
    assert response.mimetype == "text/plain" and response.mimetype_params["charset"] == "utf-8"
