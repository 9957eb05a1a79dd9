"""Personal data at rest: phone numbers, emails, names and CNICs never reach the database
in clear, yet can be found by exact value."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select, text

from storage import crypto
from storage.messages import contact_for, find_contact
from storage.models import Citizen


def test_phone_numbers_and_names_are_stored_encrypted(rt):
    with rt.sessions() as s, s.begin():
        contact = contact_for(s, "whatsapp", "+923001234567")
        citizen = s.get(Citizen, contact.citizen_id)
        citizen.name, citizen.cnic = "Ali Khan", "17301-1234567-1"
    with rt.engine.connect() as conn:
        stored_address = conn.execute(text("SELECT address FROM contacts")).scalar_one()
        name, cnic = conn.execute(text("SELECT name, cnic FROM citizens")).one()
        dump = " ".join(str(v) for v in (stored_address, name, cnic))
    assert "923001234567" not in dump and "Ali" not in dump and "1234567" not in dump
    assert stored_address.startswith("v1:")
    with rt.sessions() as s:
        found = find_contact(s, "whatsapp", "+923001234567")
        assert found is not None and found.address == "+923001234567"
        assert s.get(Citizen, found.citizen_id).name == "Ali Khan"


def test_the_raw_provider_payload_is_encrypted_too(rt):
    from conversation.messages import InboundMessage
    from gateway.pipeline import receive

    receive(rt, InboundMessage(channel="sms", provider_id="SMraw", sender="+923001234567", text="hi",
                               raw={"From": "+923001234567", "Body": "hi"}))
    with rt.engine.connect() as conn:
        raw = conn.execute(text("SELECT raw FROM messages")).scalar_one()
    assert raw.startswith("v1:") and "923001234567" not in raw


def test_the_same_value_encrypts_differently_each_time():
    vault = crypto.Vault(b"x" * 32)
    assert vault.encrypt("+923001234567") != vault.encrypt("+923001234567")
    assert vault.digest("+923001234567") == vault.digest("+923001234567")


def test_a_wrong_key_cannot_read_the_data():
    token = crypto.Vault(b"x" * 32).encrypt("secret")
    with pytest.raises(crypto.DecryptionError):
        crypto.Vault(b"y" * 32).decrypt(token)


def test_the_embedded_default_generates_and_keeps_a_key(tmp_path):
    from gateway.settings import load_settings

    warnings: list[str] = []
    settings = load_settings(var_dir=tmp_path / "var", data_key=None)
    first = settings.data_key_bytes(warn=warnings.append)
    again = settings.data_key_bytes(warn=warnings.append)
    assert first == again and len(first) == 32
    assert len(warnings) == 1 and "IKHTIYAR_DATA_KEY" in warnings[0]
    key = tmp_path / "keys" / "data.key"  # beside the database folder, not in it
    assert key.stat().st_mode & 0o077 == 0
    assert base64.b64decode(key.read_text()) == first


# --- issue 10, finding 7: personal data in clear ------------------------------------------

NAME, PHONE, EMAIL, CNIC = "Zarghuna Qizilbash", "+923451239876", "zarghuna.q@example.org", "17301-7654321-9"


def database_text(rt) -> str:
    """Every value of every row of every table, as the database holds it (what a dump shows)."""
    from storage.models import Base

    out = []
    with rt.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            # Plain SQL: the columns' types would decrypt what they read.
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                out.extend(str(v) for v in row if v is not None)
    return "\n".join(out)


def test_the_whatsapp_profile_name_is_kept_only_encrypted(rt):
    from conversation.messages import InboundMessage
    from gateway.pipeline import receive
    from storage import pii
    from storage.models import Message

    for n, said in enumerate(("hi", "1", "No water supply in our street for a week")):
        receive(rt, InboundMessage(channel="whatsapp", provider_id=f"SMname{n}", sender=PHONE, text=said,
                                   profile_name=NAME))
        rt.queue.run_due()
    with rt.sessions() as s:
        payloads = s.scalars(select(Message.payload).where(Message.direction == "in")).all()
    assert payloads and all(pii.unseal(p["profile_name"]) == NAME for p in payloads)
    dump = database_text(rt)
    assert "Zarghuna" not in dump and "Qizilbash" not in dump


Citizen_ = Citizen


def test_a_bounce_keeps_no_address_in_the_error_or_the_timeline(rt):
    from storage import lifecycle, mail
    from storage.models import Complaint, ComplaintEvent, Message

    with rt.sessions() as s, s.begin():
        contact = contact_for(s, "email", EMAIL)
        complaint = Complaint(tracking_number="1234567", citizen_id=contact.citizen_id, contact_id=contact.id,
                              channel="email", description="No water")
        lifecycle.submit(s, complaint, None, lifecycle.Actor("citizen", channel="email"))
        out = Message(direction="out", channel="email", contact_id=contact.id, complaint_id=complaint.id,
                      text="Received", status="sent")
        notice = Message(direction="in", channel="email", contact_id=contact.id, text="", status="received")
        s.add_all([out, notice])
        s.flush()
        mail.record_bounce(s, out, notice, f"550 5.1.1 <{EMAIL}>: Recipient address rejected")
    with rt.sessions() as s:
        error = s.scalars(select(Message.error).where(Message.error.is_not(None))).one()
        note = s.scalars(select(ComplaintEvent.note).where(ComplaintEvent.kind == "delivery_failed")).one()
    assert error.startswith("bounced: 550 5.1.1") and EMAIL not in error and "zarghuna" not in error
    assert "could not be delivered" in note and EMAIL not in note


def test_no_log_line_carries_an_envelope_sender_a_body_or_a_number(rt, caplog):
    import logging

    from channels import log_sender
    from channels.delivery import Outgoing

    caplog.set_level(logging.DEBUG)
    # What aiosmtpd writes for every mail, and what twilio's client writes for every request.
    logging.getLogger("mail.log").info("%r MAIL FROM:<%s>", ("127.0.0.1", 4000), EMAIL)
    logging.getLogger("twilio.http_client").info("-- BEGIN Twilio API Request --\nTo=%s&Body=hi", PHONE)
    logging.getLogger("anything.else").warning("could not send to %s (CNIC %s)", PHONE, CNIC)
    log_sender.send(Outgoing(channel="whatsapp", to=PHONE, text=f"Please check: Name: {NAME}"))
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for value in (EMAIL, PHONE, "923451239876", CNIC, NAME, "Please check"):
        assert value not in logged, value
    assert "log sender" in logged  # the delivery itself is still logged


def test_the_var_folder_is_readable_by_its_owner_only(tmp_path):
    """A process started as every ``ikhtiyar`` command starts: its database, the WAL while it
    is open, the keys and the files it stores are 0600, its folders 0700."""
    import json
    import os
    import subprocess
    import sys

    script = """
import json, os, stat, sys
from pathlib import Path
from sqlalchemy import text
from gateway import runtime as rt_module
from gateway.settings import load_settings
rt_module.private_files()
var = Path(sys.argv[1])
rt = rt_module.build(load_settings(var_dir=var, data_key=None, redis_url=None,
                                   database_url=f"sqlite:///{var}/ikhtiyar.db"), warn=lambda _m: None)
rt_module.prepare(rt, say=lambda _m: None)
(rt.attachments_dir / "2026").mkdir(parents=True)
(rt.attachments_dir / "2026" / "photo.jpg").write_bytes(b"x")
with rt.engine.connect() as conn:
    conn.execute(text("CREATE TABLE t (x int)"))
    conn.commit()
    keys = var.parent / "keys"  # generated keys live beside the database folder
    print(json.dumps({str(p): stat.S_IMODE(os.stat(p).st_mode)
                      for p in [var, *var.rglob("*"), keys, *keys.rglob("*")]}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IKHTIYAR_")}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "var")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modes = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(p.endswith("-wal") for p in modes) and any(p.endswith("data.key") for p in modes)
    assert any(p.endswith("photo.jpg") for p in modes)
    wrong = {p: oct(m) for p, m in modes.items() if m & 0o077}
    assert wrong == {}
