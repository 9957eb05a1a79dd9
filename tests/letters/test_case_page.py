"""The officer's case page: a scanned letter's pages beside the text OCR read from them, and
voice recordings that play in the page; neither shows outside the officer's scope."""

from __future__ import annotations

import hashlib
import io
import json
import wave

from sqlalchemy import select

from storage import lifecycle, tracking
from storage.db import transaction
from storage.letters import Letter, LetterPage
from storage.messages import contact_for, insert_inbound
from storage.models import Attachment, Complaint
from tests.letters.conftest import sign_in
from tests.letters.scans import needs_ocr_tools
from tests.letters.test_review import api_upload, english_scan, submit_form


@needs_ocr_tools
def test_the_case_page_shows_each_scanned_page_beside_what_ocr_read(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    submit_form(client, letter_id, csrf)
    with transaction(rt.sessions) as s:
        letter = s.get(Letter, letter_id)
        number = s.get(Complaint, letter.complaint_id).tracking_number
        # A word OCR doubted, written like markup: it must reach the page as text.
        page = s.scalars(select(LetterPage).where(LetterPage.letter_id == letter_id)).first()
        page.words = json.dumps([*json.loads(page.words), [99, "<script>alert(1)</script>", 12.0]])

    officer = sign_in(app, "officer_phed_psw")
    html = officer.get(f"/dashboard/cases/KP-{number}").get_data(as_text=True)
    panel = html[html.index('id="letter-scans"'):]
    assert f'<img class="scan" src="/letters/{letter_id}/pages/1"' in panel
    assert "water supply in our street" in panel  # the OCR text, beside the scan
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel and "<script>alert(1)" not in html
    assert '<mark class="doubt"' in panel
    assert officer.get(f"/letters/{letter_id}/pages/1").status_code == 200

    outsider = sign_in(app, "officer_police_mdn")
    assert outsider.get(f"/dashboard/cases/KP-{number}").status_code == 404
    assert outsider.get(f"/letters/{letter_id}/pages/1").status_code == 404


def test_a_case_from_another_channel_has_no_scans_panel(rt, app, staff):
    number, _attachment = voice_complaint(rt)
    html = sign_in(app, "officer_phed_psw").get(f"/dashboard/cases/KP-{number}").get_data(as_text=True)
    assert 'id="letter-scans"' not in html


def wav_recording(seconds: float = 0.5) -> bytes:
    """A real 8 kHz mono PCM WAV, the format Twilio's recordings come in."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * int(8000 * seconds))
    return buffer.getvalue()


def voice_complaint(rt) -> tuple[str, int]:
    """A complaint filed on the phone line with its recording attached."""
    data = wav_recording()
    folder = rt.attachments_dir / "calls"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{tracking.new_number()}.wav"
    (folder / name).write_bytes(data)
    with transaction(rt.sessions) as s:
        contact = contact_for(s, "voice", "+923331234567")
        message, _ = insert_inbound(s, contact, channel="voice", provider_id=f"RE{tracking.new_number()}",
                                    text="(recording)", payload={})
        message.status = "processed"
        complaint = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id,
                              contact_id=contact.id, channel="voice", language="ur",
                              description="(recording)", district_code="PSW",
                              department_code="PHED", category_code="PHED_NO_WATER")
        lifecycle.submit(s, complaint, message, lifecycle.Actor("citizen", channel="voice"))
        message.complaint_id = complaint.id
        attachment = Attachment(message_id=message.id, complaint_id=complaint.id,
                                content_type="audio/wav", size=len(data),
                                sha256=hashlib.sha256(data).hexdigest(), path=f"calls/{name}",
                                filename="recording.wav", duration_seconds=0.5)
        s.add(attachment)
        s.flush()
        return complaint.tracking_number, attachment.id


def test_a_voice_recording_plays_on_the_case_page_in_scope_only(rt, app, staff):
    number, attachment_id = voice_complaint(rt)
    url = f"/dashboard/cases/{number}/attachments/{attachment_id}"
    officer = sign_in(app, "officer_phed_psw")
    html = officer.get(f"/dashboard/cases/KP-{number}").get_data(as_text=True)
    assert f'<audio controls preload="none" src="{url}"></audio>' in html
    audio = officer.get(url)
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.data.startswith(b"RIFF") and "attachment" not in audio.headers.get("Content-Disposition", "")

    outsider = sign_in(app, "officer_police_mdn")
    assert outsider.get(f"/dashboard/cases/KP-{number}").status_code == 404
    assert outsider.get(url).status_code == 404
