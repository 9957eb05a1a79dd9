"""A complainant with distinctive personal data, filed through the real engine on WhatsApp,
with a photo, a delivery error that names their email, and a scanned letter with OCR text:
what the privacy tests look for in every response."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from storage import lifecycle, tracking
from storage.db import transaction
from storage.letters import Letter, LetterPage
from storage.messages import contact_for, insert_inbound
from storage.models import Attachment, Complaint, ComplaintEvent, Message, OutboxStatus, User
from storage.models import Citizen as CitizenRow
from tests.citizen import Citizen

NAME = "Zarghuna Qizilbash"
PHONE = "+923451239876"
LOCAL_PHONE = "0345-1239876"
CNIC = "17301-7654321-9"
EMAIL = "zarghuna.q@example.org"
HOME = "Mohalla Zarrinabad"
# Every form a value can take in a page (digits alone, the local format, each name word).
LEAKS = (NAME, "Zarghuna", "Qizilbash", PHONE, "923451239876", "3451239876", LOCAL_PHONE,
         CNIC, "7654321", EMAIL, "zarghuna.q", HOME, "Zarrinabad")


@dataclass
class Seeded:
    chat: str  # tracking number of the WhatsApp complaint
    chat_id: int
    letter: str  # tracking number of the letter complaint
    letter_id: int  # the complaint's id
    scan_id: int  # the Letter's id
    attachment_id: int
    outbound_id: int


def leaks(body: str) -> list[str]:
    lowered = body.lower()
    return [value for value in LEAKS if value.lower() in lowered]


def _chat_complaint(rt) -> tuple[str, int]:
    c = Citizen(rt, "whatsapp", PHONE)
    c.send("hi")
    c.send("1")
    c.send(f"No water supply in our street for a week. Call me on {LOCAL_PHONE}, CNIC {CNIC}, "
           f"or mail {EMAIL}")
    c.send("peshawar")
    c.send("1")  # the first category offered
    c.send(f"{HOME}, street 4")
    for answer in ("no", "yes", "2", "1"):  # the summary's question, however it is asked
        if c.complaints():
            break
        c.send(answer)
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint).order_by(Complaint.id.desc())).first()
        s.get(CitizenRow, complaint.citizen_id).name = NAME  # as given on another channel
        # The accused department in the staff fixtures: PHED, Peshawar.
        complaint.department_code, complaint.category_code, complaint.district_code = \
            "PHED", "PHED_NO_WATER", "PSW"
        s.get(CitizenRow, complaint.citizen_id).cnic = CNIC
        return complaint.tracking_number, complaint.id


def seed(rt, *, confidential: bool) -> Seeded:
    """Both complaints of the complainant, confidential or not."""
    chat, chat_id = _chat_complaint(rt)
    folder = rt.attachments_dir / "privacy"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n fake")
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, chat_id)
        photo = Attachment(complaint_id=chat_id, content_type="image/png", size=14, sha256="0" * 64,
                           path="privacy/photo.png", filename=f"cnic {CNIC}.png")
        s.add(photo)
        # A mail that bounced before redaction existed: the error and the note name the address.
        out = Message(direction="out", channel="email", contact_id=complaint.contact_id,
                      complaint_id=chat_id, text="Your complaint was received", kind="reply",
                      status=OutboxStatus.FAILED.value, error=f"bounced: 550 5.1.1 <{EMAIL}>: no such user")
        s.add(out)
        s.flush()
        s.add(ComplaintEvent(complaint_id=chat_id, kind="delivery_failed", actor_kind="system",
                             note=f"Email to the citizen could not be delivered (<{EMAIL}> unknown)"))
        letter_case = _letter_complaint(rt, s)
        for row in (complaint, s.get(Complaint, letter_case[1])):
            row.confidential = confidential
        s.flush()
        return Seeded(chat, chat_id, letter_case[0], letter_case[1], letter_case[2], photo.id, out.id)


def _letter_complaint(rt, s) -> tuple[str, int, int]:
    """A letter as the clerk filed it: its scan, its page with what OCR read."""
    from gateway.letters_jobs import letters_dir

    folder = letters_dir(rt.settings) / "privacy"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "letter.png").write_bytes(b"\x89PNG\r\n\x1a\n fake")
    (folder / "page-1.png").write_bytes(b"\x89PNG\r\n\x1a\n fake")
    text = f"To the XEN PHED. I am {NAME} of {HOME}. CNIC {CNIC}. Phone {LOCAL_PHONE}. No water."
    contact = contact_for(s, "letter", f"letter:{tracking.new_number()}")
    message, _ = insert_inbound(s, contact, channel="letter", provider_id=f"letter-{tracking.new_number()}",
                                text=text, payload={})
    s.get(CitizenRow, contact.citizen_id).name = NAME
    s.get(CitizenRow, contact.citizen_id).cnic = CNIC
    number = tracking.new_number()
    complaint = Complaint(tracking_number=number, citizen_id=contact.citizen_id, contact_id=contact.id,
                          channel="letter", language="en", description=text, district_code="PSW",
                          department_code="PHED", category_code="PHED_NO_WATER", location_detail=HOME)
    lifecycle.submit(s, complaint, message, lifecycle.Actor("citizen", channel="letter"), sla_days=3)
    message.complaint_id = complaint.id
    clerk_id = s.scalar(select(User.id).where(User.username == "clerk"))  # the staff fixture's
    words = [[0, w, 95.0] for w in text.split()]
    letter = Letter(clerk_id=clerk_id, filename=f"{NAME}.png", kind="png", content_type="image/png",
                    size=14, sha256="1" * 64, path="privacy/letter.png", page_count=1, language="en",
                    confidence=95.0, text=text, state="submitted", complaint_id=complaint.id,
                    message_id=message.id)
    s.add(letter)
    s.flush()
    s.add(LetterPage(letter_id=letter.id, number=1, image_path="privacy/page-1.png", width=10, height=10,
                     language="en", confidence=95.0, text=text, words=json.dumps(words)))
    s.flush()
    return number, complaint.id, letter.id
