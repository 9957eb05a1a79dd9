"""The database is unreachable: Twilio's webhooks, the voice line and the SMTP listener
still take what comes in (the spool), and nothing is lost or doubled when it is back."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from gateway import jobs, mail_service, spool
from gateway.app import create_app
from gateway.queue import InProcessQueue
from storage import db
from storage.models import Message
from tests.channels.conftest import Twilio, load_form, twilio_settings

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/ikhtiyar"  # nothing listens on port 1
MAIL = (b"From: Citizen <citizen@example.org>\r\nTo: complaints@example.gov.pk\r\n"
        b"Subject: No water\r\nMessage-ID: <spool-1@example.org>\r\n"
        b"Date: Mon, 30 Nov 2026 01:00:00 +0000\r\n\r\n"
        b"There has been no water in Hayatabad phase 3 for four days.\r\n")


@pytest.fixture
def up(rt, tmp_path):
    """The working runtime, with a var folder (and spool) of this test's own."""
    working = replace(rt, settings=twilio_settings(rt, var_dir=tmp_path))
    jobs.install(working)
    return working


@pytest.fixture
def down(up):
    """The same settings, but the database cannot be reached."""
    engine = db.make_engine(UNREACHABLE)
    yield replace(up, engine=engine, sessions=db.make_sessionmaker(engine), queue=InProcessQueue())
    engine.dispose()


def _count(rt, **where) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count(Message.id)).filter_by(**where))


def test_a_whatsapp_message_is_spooled_while_the_database_is_down_and_stored_once_after(up, down):
    form = load_form("whatsapp", "inbound_text")
    answer = Twilio(down).post("/webhooks/twilio/whatsapp", form)
    assert answer.status_code == 200 and b"<Response" in answer.data
    assert spool.pending(up.settings) > 0
    ready = create_app(down).test_client().get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "degraded"
    scraped = create_app(down).test_client().get("/metrics").get_data(as_text=True)
    assert f"ikhtiyar_spool_bytes {float(spool.pending(up.settings))}" in scraped
    assert _count(up) == 0
    # Twilio retries the same message meanwhile; the database is back for this one.
    assert Twilio(up).post("/webhooks/twilio/whatsapp", form).status_code == 200
    assert spool.replay(up) == 1
    assert spool.replay(up) == 0 and spool.pending(up.settings) == 0
    up.queue.run_due()
    assert _count(up, direction="in") == 1
    assert _count(up, direction="in", status="processed") == 1
    assert _count(up, direction="out") == 1  # the turn ran once: one welcome
    assert create_app(up).test_client().get("/readyz").json["status"] == "ready"


def test_spooled_messages_go_in_in_the_order_they_came(up, down):
    base = load_form("sms", "inbound_text")
    for n, text in enumerate(["first", "second", "third"]):
        form = dict(base, MessageSid=f"SM{n:032d}", SmsSid=f"SM{n:032d}", Body=text)
        assert Twilio(down).post("/webhooks/twilio/sms", form).status_code == 200
    assert spool.replay(up) == 3
    with up.sessions() as s:
        texts = s.scalars(select(Message.text).where(Message.direction == "in").order_by(Message.id)).all()
    assert texts == ["first", "second", "third"]


def test_a_status_callback_is_spooled_too(up, down):
    form = load_form("whatsapp", "status_delivered")
    assert Twilio(down).post("/webhooks/twilio/status", form).status_code == 204
    assert spool.pending(up.settings) > 0
    assert spool.replay(up) == 1  # an unknown message's status: logged, nothing to store


def test_a_call_while_the_database_is_down_is_asked_to_call_again(down):
    answer = Twilio(down).post("/webhooks/twilio/voice", {
        "CallSid": "CA" + "1" * 32, "AccountSid": "AC" + "0" * 32, "From": "+923001234567",
        "To": "+14155550123", "CallStatus": "ringing", "Direction": "inbound"})
    assert answer.status_code == 200 and b"call again" in answer.data


def test_a_mail_is_spooled_while_the_database_is_down(up, down):
    assert mail_service.store_or_spool(down, MAIL, "citizen@example.org",
                                       ["complaints@example.gov.pk"]) == "spooled"
    assert _count(up) == 0
    assert spool.replay(up) == 1
    assert _count(up, direction="in", channel="email") == 1


def test_when_the_spool_cannot_be_written_either_the_provider_is_asked_to_retry(up, down, tmp_path):
    folder = spool.folder(up.settings)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the folder should be")
    with pytest.raises(spool.SpoolError):
        mail_service.store_or_spool(down, MAIL, "citizen@example.org", ["complaints@example.gov.pk"])
    answer = Twilio(down).post("/webhooks/twilio/whatsapp", load_form("whatsapp", "inbound_text"))
    assert answer.status_code == 500
