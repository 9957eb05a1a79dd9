"""Finding 1 of issue 10: a clerk or an admin cannot close (or reopen) a complaint through
/letters/confirm that is not theirs to answer for. Only a clerk, for a complaint they
entered from a letter, with the scan of the answer, records a confirmation by proxy."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from conversation import casework
from storage import lifecycle
from storage.db import transaction
from storage.models import Attachment, Complaint, ComplaintEvent, Message
from storage.tracking import display
from tests.citizen import Citizen
from tests.letters import scans
from tests.letters.conftest import csrf_from, sign_in
from tests.letters.test_review import resolved_letter_complaint


def _whatsapp_complaint_resolved(rt, staff) -> str:
    """A WhatsApp citizen's complaint in Kohat, resolved by an officer and waiting for the
    citizen's own answer."""
    citizen = Citizen(rt, address="+923001234567")
    for text in ("1", "The school's water cooler is broken since March", "Kohat", "Main bazaar",
                 "yes", "skip", "yes"):
        citizen.send(text)
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        assert (complaint.channel, complaint.district_code) == ("whatsapp", "KHT")
        casework.resolve(s, complaint, lifecycle.Actor("officer", user_id=staff["officer_phed_psw"]["id"]),
                         "Cooler replaced")
        return complaint.tracking_number


def _snapshot(rt, number: str) -> tuple:
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint).where(Complaint.tracking_number == number)).one()
        return (complaint.state, complaint.escalation_level, complaint.closed_at,
                [(e.kind, e.actor_kind) for e in complaint.events],
                s.scalar(select(func.count(Message.id))),
                s.scalar(select(func.count(Attachment.id))))


def _evidence_files(rt) -> list:
    folder = rt.attachments_dir / "letters" / "confirmations"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("who", ["clerk_letters", "admin_letters"])
@pytest.mark.parametrize("answer", ["satisfied", "not_satisfied"])
def test_staff_cannot_answer_for_a_whatsapp_citizen_with_a_note_and_nothing_changes(rt, app, staff, who, answer):
    number = _whatsapp_complaint_resolved(rt, staff)
    before, files = _snapshot(rt, number), _evidence_files(rt)
    client = sign_in(app, who)
    refused = client.post("/letters/confirm", data={
        "csrf_token": csrf_from(client, "/letters/confirm"), "tracking": f"KP-{number}",
        "answer": answer, "via": "phone", "note": "The citizen called and said it is fixed"})
    assert refused.status_code == 422
    assert "is now" not in refused.get_data(as_text=True)
    assert _snapshot(rt, number) == before and _evidence_files(rt) == files


@pytest.mark.parametrize("who", ["clerk_letters", "admin_letters"])
def test_even_with_a_scan_staff_cannot_answer_for_a_citizen_who_can_answer_themselves(rt, app, staff, who):
    number = _whatsapp_complaint_resolved(rt, staff)
    before, files = _snapshot(rt, number), _evidence_files(rt)
    client = sign_in(app, who)
    scan = scans.png(scans.render(["I am satisfied."], "latin", size=20, width=600))
    refused = client.post("/letters/confirm", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(client, "/letters/confirm"), "tracking": number, "answer": "satisfied",
        "via": "paper", "note": "", "evidence": (io.BytesIO(scan), "answer.png")})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    if who == "admin_letters":
        assert "admins never close a complaint" in page
    else:  # not a complaint this clerk entered: it reads as missing
        assert f"no complaint {display(number)}" in page
    assert _snapshot(rt, number) == before and _evidence_files(rt) == files


def test_an_admin_cannot_confirm_a_letter_by_proxy_either(rt, app, staff, clerk):
    client, csrf = clerk
    number = resolved_letter_complaint(rt, client, csrf, staff)
    before = _snapshot(rt, number)
    admin = sign_in(app, "admin_letters")
    scan = scans.png(scans.render(["I am satisfied."], "latin", size=20, width=600))
    refused = admin.post("/letters/confirm", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(admin, "/letters/confirm"), "tracking": number, "answer": "satisfied",
        "via": "paper", "note": "", "evidence": (io.BytesIO(scan), "answer.png")})
    assert refused.status_code == 422 and "admins never close a complaint" in refused.get_data(as_text=True)
    assert _snapshot(rt, number) == before


def test_another_clerk_cannot_confirm_a_letter_they_did_not_enter(rt, app, staff, clerk):
    client, csrf = clerk
    number = resolved_letter_complaint(rt, client, csrf, staff)
    before = _snapshot(rt, number)
    other = sign_in(app, "clerk_other")
    scan = scans.png(scans.render(["I am satisfied."], "latin", size=20, width=600))
    refused = other.post("/letters/confirm", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(other, "/letters/confirm"), "tracking": number, "answer": "satisfied",
        "via": "paper", "note": "", "evidence": (io.BytesIO(scan), "answer.png")})
    assert refused.status_code == 422 and f"no complaint {display(number)}" in refused.get_data(as_text=True)
    assert _snapshot(rt, number) == before
    with rt.sessions() as s:
        assert s.scalar(select(func.count(ComplaintEvent.id)).where(
            ComplaintEvent.kind == lifecycle.PROXY)) == 0
