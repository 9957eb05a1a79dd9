"""The personal data audit (issue 10, finding 7): a known name, phone number, email address
and CNIC go in through every channel (WhatsApp, SMS, a phone call, an email, a letter), the
jobs run on Redis (RQ), and then the database (SQLite's file and its WAL; on PostgreSQL every
row of every table as text), the var folder, the log output and Redis are searched: none of
the four values is anywhere in clear."""

from __future__ import annotations

import dataclasses
import email.message
import io
import logging
import threading
import uuid
import zlib

from sqlalchemy import text

from gateway import jobs
from gateway.app import create_app
from gateway.passwords import hash_password, new_token
from gateway.queue import RQQueue
from storage.db import transaction
from storage.models import Base
from tests.channels.conftest import Twilio, load_form, twilio_settings
from tests.letters.test_review import english_scan
from tests.staff import csrf_token, ensure_user, sign_in

NAME = "Gulmina Tarakzai"
PHONE = "+923331472580"
EMAIL = "gulmina.t@example.net"
CNIC = "16202-3141592-6"
# Values no other test writes: some tests store personal data in clear on purpose (rows as
# older versions wrote them), and SQLite's file keeps what they wrote.
# Each value as it may be written: the number without "+", its local form's digits, the
# CNIC without dashes, each word of the name.
NEEDLES = (NAME, "Gulmina", "Tarakzai", PHONE, "923331472580", "03331472580", EMAIL, "gulmina.t",
           CNIC, "1620231415926")
PASSWORD = "audit clerk password"


def _worker(queue: RQQueue) -> None:
    """Run what is queued on Redis now, on every queue (turns, deliveries, media, OCR...), in
    this process (a burst SimpleWorker)."""
    from rq import SimpleWorker

    SimpleWorker(list(queue.queues.values()), connection=queue.redis).work(burst=True)


def _whatsapp_and_sms(rt, queue: RQQueue) -> None:
    twilio = Twilio(rt)
    # The name travels as WhatsApp's ProfileName (the dialogue asks for none).
    dialogue = ["hi", "1", "No water supply in our street for a week", "peshawar", "1", "Gulbahar street 4",
                "no", "yes"]
    for channel, path in (("whatsapp", "/webhooks/twilio/whatsapp"), ("sms", "/webhooks/twilio/sms")):
        for n, said in enumerate(dialogue):
            form = load_form("whatsapp", "inbound_text")
            sid = f"SM{uuid.uuid4().hex}"
            form.update(MessageSid=sid, SmsMessageSid=sid, SmsSid=sid, Body=said)
            if channel == "whatsapp":
                form.update(From=f"whatsapp:{PHONE}", WaId=PHONE.lstrip("+"), ProfileName=NAME)
            else:
                for key in ("ProfileName", "WaId", "MessageType", "ReferralNumMedia"):
                    form.pop(key, None)
                form.update(From=PHONE, To="+14155550123")
            assert twilio.post(path, form).status_code == 200, (channel, n)
            _worker(queue)


def _phone_call(rt) -> None:
    from tests.voice.conftest import ACCOUNT, LINE, TOKEN, Caller, TwilioPeer

    peer = TwilioPeer()
    threading.Thread(target=peer.serve_forever, daemon=True).start()
    try:
        settings = rt.settings.model_copy(update={
            "twilio_account_sid": ACCOUNT, "twilio_auth_token": TOKEN, "twilio_api_url": peer.url,
            "twilio_sms_from": LINE, "voice_call_centre": "+92915550199", "public_url": None,
            "twilio_hosts": "localhost",  # no public URL: the host Twilio calls is named instead
            "voice_office_hours": "mon-sun 00:00-24:00"})
        voice = dataclasses.replace(rt, settings=settings)
        jobs.install(voice)
        caller = Caller(voice, peer, number=PHONE)
        caller.dial()
        caller.hang_up()
    finally:
        peer.shutdown()
        peer.server_close()


def _email(rt, queue: RQQueue) -> None:
    from gateway import mail_service

    mail = email.message.EmailMessage()
    mail["From"] = f"{NAME} <{EMAIL}>"
    mail["To"] = rt.settings.mail_address
    mail["Subject"] = "No water in Gulbahar, Peshawar"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    mail.set_content("The water supply in our street in Gulbahar, Peshawar has been broken for a week.\n")
    mail_service.store(rt, mail.as_bytes(), envelope_from=EMAIL, recipients=[rt.settings.mail_address])
    _worker(queue)


def _letter(rt, queue: RQQueue) -> None:
    with transaction(rt.sessions) as s:
        clerk = ensure_user(s, "clerk_audit", "clerk", None, None, hash_password(PASSWORD))
        token, clerk.token_hash = new_token()
    app = create_app(rt)
    client = app.test_client()
    answer = client.post("/api/v1/letters", data={"file": (io.BytesIO(english_scan()), "scan.jpg")},
                         headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_json()
    letter_id = answer.get_json()["id"]
    _worker(queue)
    clerk_client = sign_in(app, "clerk_audit", PASSWORD)
    response = clerk_client.post(f"/letters/{letter_id}/submit", data={
        "csrf_token": csrf_token(clerk_client, "/letters/"), "language": "en",
        "text": "The water supply in our street has been broken for three weeks.",
        "name": NAME, "phone": "0333-1472580", "cnic": CNIC, "address": "Gulbahar, Peshawar",
        "district": "PSW", "category": "PHED_NO_WATER"})
    assert response.status_code in (200, 302, 303), response.get_data(as_text=True)[:500]
    _worker(queue)


def _found(blob: bytes, where: str) -> list[str]:
    lowered = blob.lower()
    return [f"{needle} in {where}" for needle in NEEDLES if needle.lower().encode() in lowered]


def _database(rt) -> list[str]:
    found = []
    if rt.engine.dialect.name == "sqlite":
        path = rt.engine.url.database
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                with open(path + suffix, "rb") as fh:
                    found += _found(fh.read(), f"the database file{suffix}")
            except FileNotFoundError:
                continue
    # Every row of every table as the database holds it (a dump shows no more).
    with rt.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(text(f'SELECT * FROM "{table.name}"')).all()
            blob = "\n".join(str(v) for row in rows for v in row if v is not None).encode()
            found += _found(blob, f"table {table.name}")
    return found


def _var(rt) -> list[str]:
    found = []
    for path in rt.settings.var_dir.rglob("*"):
        if path.is_file() and not path.name.startswith("test.db"):
            found += _found(path.read_bytes(), str(path))
    return found


def _redis(queue: RQQueue) -> list[str]:
    found = []
    r = queue.redis
    for key in r.scan_iter("*"):
        kind = r.type(key).decode()
        if kind == "string":
            values = [r.get(key)]
        elif kind == "hash":
            values = list(r.hgetall(key).values())
        elif kind == "list":
            values = r.lrange(key, 0, -1)
        elif kind == "set":
            values = list(r.smembers(key))
        elif kind == "zset":
            values = [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
        else:
            values = []
        for value in values:
            if not isinstance(value, bytes):
                continue
            try:  # RQ keeps a job's call compressed
                value = value + zlib.decompress(value)
            except zlib.error:
                pass
            found += _found(value, f"redis {key.decode()}")
    return found


def test_a_known_name_phone_email_and_cnic_are_nowhere_in_clear(rt, redis_url, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    queue = RQQueue(redis_url, f"ikhtiyar-audit-{uuid.uuid4().hex[:8]}")
    twilio_rt = dataclasses.replace(rt, settings=twilio_settings(rt), queue=queue)
    jobs.install(twilio_rt)
    try:
        _whatsapp_and_sms(twilio_rt, queue)
        _phone_call(dataclasses.replace(twilio_rt))
        jobs.install(twilio_rt)
        _email(twilio_rt, queue)
        _letter(twilio_rt, queue)
        found = _database(rt) + _var(rt) + _redis(queue)
        found += _found(caplog.text.encode(), "the log")
        found += _found(capfd.readouterr().err.encode(), "stderr")
        with rt.sessions() as s:  # the values were really received and kept
            from storage.models import Citizen, Complaint

            assert s.query(Complaint).count() >= 4
            assert NAME in {c.name for c in s.query(Citizen)}
        assert found == []
    finally:
        for key in queue.redis.scan_iter(f"*{queue.queue.name.rsplit('-', 1)[0]}-*"):
            queue.redis.delete(key)
        jobs.install(rt)
