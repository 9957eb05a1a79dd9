"""Masking is real: phone numbers, CNICs and emails in the timeline, the OCR text and the
attachments' names stay masked until the officer reveals them; every reveal and every
download of a complainant's file is in the audit log. Issue 10, finding 6."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.audit import AuditEntry

from . import privacy
from .conftest import csrf, login


@pytest.fixture
def seeded(rt, staff):
    return privacy.seed(rt, confidential=False)


def test_the_timeline_and_the_photo_name_are_masked_until_revealed(rt, app, staff, seeded):
    officer = login(app, "officer_psw")
    page = officer.get(f"/dashboard/cases/{seeded.chat}").get_data(as_text=True)
    for value in (privacy.LOCAL_PHONE, privacy.CNIC, privacy.EMAIL, privacy.NAME, "7654321", "1239876"):
        assert value not in page, value
    assert "•••••-•••••••-9" in page and "z•••@example.org" in page and "0345•••••76" in page
    revealed = officer.post(f"/dashboard/cases/{seeded.chat}/reveal",
                            data={"csrf_token": csrf(officer, f"/dashboard/cases/{seeded.chat}")})
    body = revealed.get_data(as_text=True)
    assert privacy.CNIC in body and privacy.EMAIL in body and f"cnic {privacy.CNIC}.png" in body
    with rt.sessions() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "reveal")).all()
        assert entry.user_id == staff["officer_psw"] and entry.complaint_id == seeded.chat_id


def test_the_ocr_text_of_a_letter_is_masked_until_revealed(rt, app, staff, seeded):
    officer = login(app, "officer_psw")
    page = officer.get(f"/dashboard/cases/{seeded.letter}").get_data(as_text=True)
    panel = page[page.index('id="letter-scans"'):]
    assert "No water" in panel  # the letter is readable
    for value in (privacy.CNIC, privacy.LOCAL_PHONE, "Zarghuna", "Qizilbash"):
        assert value not in page, value
    assert "•••••-•••••••-9" in panel
    revealed = officer.post(f"/dashboard/cases/{seeded.letter}/reveal",
                            data={"csrf_token": csrf(officer, f"/dashboard/cases/{seeded.letter}")})
    panel = revealed.get_data(as_text=True)
    assert privacy.CNIC in panel[panel.index('id="letter-scans"'):]


def test_every_download_of_a_complainants_file_is_audited(rt, app, staff, seeded):
    officer = login(app, "officer_psw")
    assert officer.get(f"/dashboard/cases/{seeded.chat}/attachments/{seeded.attachment_id}").status_code == 200
    assert officer.get(f"/letters/{seeded.scan_id}/pages/1").status_code == 200
    assert officer.get(f"/letters/{seeded.scan_id}/original").status_code == 200
    with rt.sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "download")
                            .order_by(AuditEntry.id)).all()
    assert [(e.user_id, e.complaint_id) for e in entries] == [
        (staff["officer_psw"], seeded.chat_id), (staff["officer_psw"], seeded.letter_id),
        (staff["officer_psw"], seeded.letter_id)]
    assert entries[0].detail == {"attachment": seeded.attachment_id}
    assert entries[1].detail == {"letter": seeded.scan_id, "page": 1}
