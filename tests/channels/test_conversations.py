"""Whole conversations through signed webhooks and the real job path: Redis, a real
`ikhtiyar worker` process, and Twilio's API (Prism) for every reply."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select

from conversation import casework, catalog
from gateway import jobs
from gateway.queue import RQQueue
from storage import lifecycle
from storage.db import transaction
from storage.models import Complaint, Message
from storage.tracking import display
from tests.channels.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    SMS_FROM,
    WHATSAPP_FROM,
    Twilio,
    load_form,
    reconfigure,
)
from tests.conftest import TEST_KEY, TEST_SECRET

_sids = itertools.count(1)
WAIT_SECONDS = 120  # a generous bound for a slow CI machine, not a timing assertion


@pytest.fixture
def worker(trt, redis_url, prism_url):
    """The runtime queueing on Redis, and a worker process taking the jobs, sending
    replies to Prism."""
    queue = f"ikhtiyar-test-{uuid.uuid4().hex[:8]}"
    rt = reconfigure(trt, twilio_api_url=prism_url)
    rt = replace(rt, queue=RQQueue(redis_url, queue))
    jobs.install(rt)
    env = {**os.environ, "IKHTIYAR_DATABASE_URL": rt.settings.effective_database_url,
           "IKHTIYAR_REDIS_URL": redis_url, "IKHTIYAR_QUEUE_NAME": queue,
           "IKHTIYAR_DATA_KEY": TEST_KEY, "IKHTIYAR_SECRET_KEY": TEST_SECRET,
           "IKHTIYAR_VAR_DIR": str(rt.settings.var_dir), "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "IKHTIYAR_TWILIO_API_URL": prism_url,
           "IKHTIYAR_PUBLIC_URL": PUBLIC_URL, "IKHTIYAR_TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
           "IKHTIYAR_TWILIO_SMS_FROM": SMS_FROM, "IKHTIYAR_LOG_LEVEL": "WARNING"}
    env.pop("IKHTIYAR_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rt.worker_process = proc
    yield rt
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    rt.queue.queue.delete(delete_jobs=True)


class Phone:
    """A citizen's phone: each message goes to the webhook signed, the reply comes back
    once the worker has handled the turn and Twilio (Prism) has taken the replies."""

    def __init__(self, rt, channel: str) -> None:
        self.rt, self.channel, self.twilio = rt, channel, Twilio(rt)

    def send(self, text: str) -> list[str]:
        sid = f"SM{0xc0ffee:08x}{next(_sids):024x}"
        form = {**load_form(self.channel, "inbound_text"), "Body": text, "MessageSid": sid,
                "SmsMessageSid": sid, "SmsSid": sid}
        assert self.twilio.post(f"/webhooks/twilio/{self.channel}", form).status_code == 200
        with self.rt.sessions() as s:
            message_id = s.scalars(select(Message.id).where(Message.provider_id == sid)).one()
        return self.wait_for_replies(message_id, inbound=message_id)

    def wait_for_replies(self, after_id: int, inbound: int | None = None) -> list[str]:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            with self.rt.sessions() as s:
                done = inbound is None or s.get(Message, inbound).status == "processed"
                out = list(s.scalars(select(Message).where(Message.direction == "out", Message.id > after_id)
                                     .order_by(Message.id)))
            # "sending": a worker claimed the row and is talking to Twilio (Prism) right now.
            if done and out and all(m.status not in ("queued", "sending") for m in out):
                assert all(m.status == "sent" and m.provider_id for m in out), [(m.status, m.error) for m in out]
                assert all(m.channel == self.channel for m in out)
                return [m.text for m in out]
            if self.rt.worker_process.poll() is not None:
                pytest.fail("the worker died: " + self.rt.worker_process.stderr.read()[-3000:])
            time.sleep(0.05)
        pytest.fail(f"no replies after message {after_id} within {WAIT_SECONDS} s")

    def officer_resolves(self, note: str) -> list[str]:
        with transaction(self.rt.sessions) as s:
            complaint = s.scalars(select(Complaint)).one()
            message = casework.resolve(s, complaint, lifecycle.Actor("officer", None, "web"), note)
            s.flush()
            message_id = message.id
        self.rt.queue.enqueue(jobs.deliver, message_id)
        return self.wait_for_replies(message_id - 1)

    def complaint(self) -> Complaint:
        with self.rt.sessions() as s:
            return s.scalars(select(Complaint)).one()


@pytest.mark.parametrize("rt", ["postgresql"], indirect=True)
def test_a_whole_whatsapp_conversation_in_urdu(worker):
    phone = Phone(worker, "whatsapp")
    t = lambda key, **v: catalog.text(key, "ur", **v)  # noqa: E731
    assert phone.send("السلام علیکم") == [t("welcome")]
    assert phone.send("1") == [t("ask_description")]
    assert phone.send("ہماری گلی میں پانی کی پائپ لائن ایک ہفتے سے ٹوٹی ہوئی ہے") == [t("ask_district")]
    assert phone.send("پشاور") == [t("ask_location")]
    # The category is clear from the description (not asked); the last question is whether
    # the complaint is against that department's own staff.
    [summary] = phone.send("گلی نمبر 4، حیات آباد فیز 3")
    assert "حیات آباد" in summary and "پبلک ہیلتھ انجینئرنگ (پائپ لائن لیکیج یا پھٹ گئی)" in summary
    [registered] = phone.send("نہیں")
    tracking = display(phone.complaint().tracking_number)
    assert registered == t("complaint_registered", tracking=tracking, sla_days=phone_sla(phone))
    [status] = phone.send(tracking)
    assert status.startswith(f"شکایت {tracking}") and t("status_submitted") in status
    [question] = phone.officer_resolves("پائپ لائن مرمت کر دی گئی")
    assert question == t("satisfaction_request", tracking=tracking, note="پائپ لائن مرمت کر دی گئی")
    assert phone.send("نہیں") == [t("reopened", tracking=tracking)]
    assert phone.complaint().state == "reopened"
    phone.officer_resolves("نئی پائپ لائن لگا دی گئی")
    assert phone.send("ہاں") == [t("closed_thanks", tracking=tracking)]
    assert phone.complaint().state == "closed"


@pytest.mark.parametrize("rt", ["sqlite"], indirect=True)
def test_a_whole_sms_conversation_in_english(worker):
    phone = Phone(worker, "sms")
    t = lambda key, **v: catalog.text(key, "en", short=True, **v)  # noqa: E731
    assert phone.send("hi") == [t("welcome")]
    assert phone.send("The street light near the mosque has been broken for a week") == [t("ask_district")]
    assert phone.send("Mardan") == [t("ask_location")]
    [summary] = phone.send("Bank Road near the main bus stand")
    assert summary.startswith("The street light near the mosque") and "Mardan" in summary
    assert "Against an officer of that department?" in summary
    [registered] = phone.send("no")
    tracking = display(phone.complaint().tracking_number)
    assert registered == t("complaint_registered", tracking=tracking, sla_days=phone_sla(phone))
    [status] = phone.send(tracking.replace("-", " "))
    assert status == t("status", tracking=tracking, status=catalog.text("status_submitted", "en"))
    assert phone.officer_resolves("Light repaired") == [t("satisfaction_request", tracking=tracking, note="Light repaired")]
    assert phone.send("no") == [t("reopened", tracking=tracking)]
    assert phone.complaint().state == "reopened"
    phone.officer_resolves("New light fitted")
    assert phone.send("yes") == [t("closed_thanks", tracking=tracking)]
    assert phone.complaint().state == "closed"


def phone_sla(phone: Phone) -> int:
    from storage.models import Category

    with phone.rt.sessions() as s:
        return s.get(Category, phone.complaint().category_code).sla_days
