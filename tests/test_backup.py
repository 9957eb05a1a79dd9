"""A backup restored into an empty database gives back every complaint, message and
attachment, decrypted; a restore under the wrong data key says so."""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from gateway import backup, jobs
from gateway.settings import load_settings
from storage import db, lifecycle
from storage.crypto import configure_vault
from storage.lifecycle import Actor
from storage.messages import contact_for, insert_inbound
from storage.models import Attachment, Complaint, Message
from tests.citizen import Citizen
from tests.conftest import TEST_KEY, TEST_SECRET


def _file_a_complaint(rt) -> None:
    Citizen(rt).send("hi")  # a conversation, with its reply in the outbox
    with rt.sessions() as s, s.begin():
        contact = contact_for(s, "whatsapp", "+923001234567")
        message, _ = insert_inbound(s, contact, channel="whatsapp", provider_id="SM-backup-1",
                                    text="The water in Hayatabad phase 3 has been cut for four days",
                                    payload={})
        complaint = Complaint(tracking_number="1234567", citizen_id=contact.citizen_id,
                              contact_id=contact.id, channel="whatsapp", description=message.text)
        lifecycle.submit(s, complaint, message, Actor("citizen", channel="whatsapp"), sla_days=3)
        folder = rt.attachments_dir / "2026"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a photo of the dry tap")
        s.add(Attachment(message_id=message.id, content_type="image/jpeg", size=25,
                         sha256="0" * 64, path="2026/photo.jpg", filename="tap.jpg"))


def _empty_runtime(rt, tmp_path):
    """A second installation: an empty database and var folder, the same data key."""
    if rt.engine.dialect.name == "postgresql":
        url = make_url(rt.settings.effective_database_url)
        name = f"ikhtiyar_restore_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        target = url.set(database=name).render_as_string(hide_password=False)
    else:
        target = f"sqlite:///{tmp_path / 'restored' / 'ikhtiyar.db'}"
    settings = load_settings(database_url=target, data_key=TEST_KEY, var_dir=tmp_path / "restored-var",
                             redis_url=None, secret_key=TEST_SECRET)
    engine = db.make_engine(target)
    return replace(rt, settings=settings, engine=engine, sessions=db.make_sessionmaker(engine))


def _drop(empty) -> None:
    empty.engine.dispose()
    if empty.engine.dialect.name == "postgresql":
        url = make_url(empty.settings.effective_database_url)
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


def _snapshot(rt) -> dict:
    with rt.sessions() as s:
        return {
            "complaints": [(c.tracking_number, c.description) for c in s.scalars(select(Complaint).order_by(Complaint.id))],
            "messages": [(m.direction, m.text, m.contact.address) for m in s.scalars(select(Message).order_by(Message.id))],
            "attachments": [(a.path, (rt.attachments_dir / a.path).read_bytes())
                            for a in s.scalars(select(Attachment))],
        }


def test_a_backup_restored_into_an_empty_database_gives_everything_back_decrypted(rt, tmp_path):
    _file_a_complaint(rt)
    before = _snapshot(rt)
    assert before["complaints"] and before["attachments"]
    archive = tmp_path / "ikhtiyar-backup.tar.gz"
    backup.backup(rt, archive)
    empty = _empty_runtime(rt, tmp_path)
    try:
        backup.restore(empty, archive)
        jobs.install(empty)
        assert _snapshot(empty) == before
        # the trained understanding (and any corrections `nlu retrain` kept) come back too
        trained = sorted(p.name for p in (Path(rt.settings.var_dir) / "nlu").iterdir())
        assert trained and sorted(p.name for p in (Path(empty.settings.var_dir) / "nlu").iterdir()) == trained
    finally:
        _drop(empty)
        jobs.install(rt)


def test_a_restore_under_another_data_key_is_refused_with_the_reason(rt, tmp_path):
    _file_a_complaint(rt)
    archive = tmp_path / "ikhtiyar-backup.tar.gz"
    backup.backup(rt, archive)
    empty = _empty_runtime(rt, tmp_path)
    configure_vault(b"w" * 32)
    try:
        with pytest.raises(backup.BackupError, match="IKHTIYAR_DATA_KEY"):
            backup.restore(empty, archive)
    finally:
        configure_vault(base64.b64decode(TEST_KEY))
        _drop(empty)
