"""Personal data at rest: phone numbers, emails, names and CNICs never reach the database
in clear, yet can be found by exact value."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import text

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
