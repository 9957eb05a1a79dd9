"""One complaint factory (storage.complaints.create_complaint) files every channel's complaint:
no other module may construct a ``Complaint``, and what the factory files is complete."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from storage import lifecycle, tracking
from storage.complaints import Category, create_complaint
from storage.db import transaction
from storage.messages import contact_for, insert_inbound
from storage.models import Attachment, Complaint, ComplaintEvent, Message

ROOT = Path(__file__).resolve().parent.parent
FACTORY = ROOT / "storage" / "complaints.py"
# Benchmarks and tests set up rows directly; they are no channel.
EXEMPT = ("bench", "tests", ".venv", "node_modules")


def _constructions(path: Path) -> list[int]:
    """The lines of ``path`` that call ``Complaint(...)`` under any name it is imported as."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = {"Complaint"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {a.asname for a in node.names if a.name == "Complaint" and a.asname}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if called in names:
            lines.append(node.lineno)
    return lines


def _modules() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if not set(p.relative_to(ROOT).parts[:-1]) & set(EXEMPT)]


def test_no_module_but_the_factory_constructs_a_complaint():
    found = {str(p.relative_to(ROOT)): lines for p in _modules() if p != FACTORY
             if (lines := _constructions(p))}
    assert found == {}, f"complaints are created only by storage.complaints.create_complaint: {found}"


def test_the_scan_sees_a_construction_under_an_alias(tmp_path):
    module = tmp_path / "sneaky.py"
    module.write_text("from storage.models import Complaint as C\nfrom storage import models\n"
                      "a = C(description='x')\nb = models.Complaint(description='y')\n")
    assert _constructions(module) == [3, 4]
    assert _constructions(FACTORY), "the factory itself constructs one"


def test_the_factory_files_number_category_due_date_attachments_event_and_confidentiality(rt):
    with transaction(rt.sessions) as s:
        contact = contact_for(s, "whatsapp", "+923001112223")
        first, _ = insert_inbound(s, contact, channel="whatsapp", provider_id="SM" + "a" * 32,
                                  text="No water in our street for a week", payload={})
        photo = Attachment(message_id=first.id, content_type="image/jpeg", size=3, sha256="0" * 64,
                           path="x/photo.jpg", filename="photo.jpg")
        s.add(photo)
        last, _ = insert_inbound(s, contact, channel="whatsapp", provider_id="SM" + "b" * 32,
                                 text="yes", payload={})
        s.flush()
        complaint = create_complaint(
            s, contact=contact, message=last, actor=lifecycle.Actor("citizen", channel="whatsapp"),
            channel="whatsapp", language="ur", description="No water in our street for a week",
            category=Category("POLICE_FIR", "POLICE", 7), district_code="PSW",
            location_detail="Street 4", location=(34.0, 71.5), confidential=True, messages=[first.id])
        complaint_id = complaint.id
    with rt.sessions() as s:
        complaint = s.get(Complaint, complaint_id)
        assert tracking.is_valid(complaint.tracking_number)
        assert (complaint.state, complaint.category_code, complaint.department_code) == \
            ("submitted", "POLICE_FIR", "POLICE")
        assert complaint.due_at - complaint.created_at == timedelta(days=7)
        assert (complaint.language, complaint.confidential, complaint.channel) == ("ur", True, "whatsapp")
        assert (complaint.latitude, complaint.longitude, complaint.incomplete) == (34.0, 71.5, False)
        events = s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id)).all()
        assert [(e.kind, e.to_state, e.actor_kind) for e in events] == [("submitted", "submitted", "citizen")]
        assert set(s.scalars(select(Message.complaint_id).where(Message.contact_id == contact.id))) == \
            {complaint_id}
        assert s.scalars(select(Attachment.complaint_id)).one() == complaint_id


def test_a_complaint_nobody_categorised_waits_for_triage_with_no_due_date(rt):
    with transaction(rt.sessions) as s:
        contact = contact_for(s, "voice", "+923001112224")
        message, _ = insert_inbound(s, contact, channel="voice", provider_id="CA" + "c" * 32, text="",
                                    payload={})
        complaint = create_complaint(
            s, contact=contact, message=message, actor=lifecycle.Actor("citizen", channel="voice"),
            channel="voice", language="ps", description="Recorded complaint", needs_triage=True)
        complaint_id = complaint.id
    with rt.sessions() as s:
        complaint = s.get(Complaint, complaint_id)
        assert complaint.due_at is None and complaint.category_code is None
        kinds = s.scalars(select(ComplaintEvent.kind).where(ComplaintEvent.complaint_id == complaint_id)
                          .order_by(ComplaintEvent.id)).all()
        assert kinds == ["submitted", "needs_triage"]
