"""Writers without a phone number get paper: every later message becomes a printable letter
in their language, on the clerks' "to post" list until a clerk marks it posted."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from channels import registry
from channels.delivery import Outgoing, TransientError
from channels.letters import post
from conversation import casework
from gateway import jobs
from storage import lifecycle
from storage.db import transaction
from storage.letters import Letter
from storage.models import Complaint, ComplaintEvent, Message
from tests.letters.conftest import csrf_from, sign_in
from tests.letters.scans import needs_ocr_tools
from tests.letters.test_acknowledgement import pdf_text_by_ocr
from tests.letters.test_review import api_upload, english_scan, submit_form


def letter_without_phone(rt, client, csrf, staff, language: str = "en") -> tuple[int, int]:
    """A letter submitted with no phone number; returns (letter id, complaint id)."""
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    answer = submit_form(client, letter_id, csrf, phone="", language=language,
                         name="Muhammad Ali", address="House 5, Gulbahar, Peshawar")
    assert answer.status_code == 302
    with rt.sessions() as s:
        return letter_id, s.get(Letter, letter_id).complaint_id


def resolve(rt, complaint_id: int, staff) -> int:
    """The officer resolves the case: the satisfaction request goes to the outbox."""
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, complaint_id)
        officer = lifecycle.Actor("officer", user_id=staff["officer_phed_psw"]["id"])
        request = casework.resolve(s, complaint, officer, "The pipe was repaired")
        s.flush()
        message_id = request.id
    rt.queue.enqueue(jobs.deliver, message_id)
    rt.queue.run_due()
    return message_id


@needs_ocr_tools
def test_the_satisfaction_request_to_a_writer_without_a_phone_is_a_letter_in_their_language(
        rt, app, staff, clerk, tmp_path):
    client, csrf = clerk
    _letter_id, complaint_id = letter_without_phone(rt, client, csrf, staff, language="ur")
    message_id = resolve(rt, complaint_id, staff)
    with rt.sessions() as s:
        message = s.get(Message, message_id)
        number = s.get(Complaint, complaint_id).tracking_number
        assert (message.channel, message.status) == ("letter", "sent")  # printed, not yet posted
        path = post.pdf_path(rt.settings.var_dir, message.provider_id)
    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF-")
    # Read back by OCR: the Urdu title joined and right to left, the tracking number on it.
    text = pdf_text_by_ocr(pdf, "urd", tmp_path)
    assert "کیا آپ کا مسئلہ حل ہو گیا" in text, text
    assert number in text


@needs_ocr_tools
def test_a_clerk_prints_the_letters_to_post_and_marks_them_posted(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id, complaint_id = letter_without_phone(rt, client, csrf, staff)
    message_id = resolve(rt, complaint_id, staff)

    page = client.get("/letters/").get_data(as_text=True)
    to_post = page[page.index('id="post"'):page.index('id="letters"')]
    assert f'href="/letters/{letter_id}/acknowledgement.pdf"' in to_post
    assert f'href="/letters/post/{message_id}.pdf"' in to_post and "Are you satisfied?" in to_post
    printed = client.get(f"/letters/post/{message_id}.pdf")
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    assert printed.data.startswith(b"%PDF-")

    assert client.post(f"/letters/post/{message_id}/posted", data={"csrf_token": csrf}).status_code == 303
    assert client.post(f"/letters/acknowledgements/{complaint_id}/posted",
                       data={"csrf_token": csrf}).status_code == 303
    with rt.sessions() as s:
        assert s.get(Message, message_id).status == "delivered"
        events = s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id)).all()
        posted = {e.kind: e for e in events}
        assert posted["letter_posted"].actor_user_id == staff["clerk_letters"]["id"]
        assert posted["acknowledgement_posted"].actor_kind == "clerk"
    page = client.get("/letters/").get_data(as_text=True)
    assert "Nothing to post." in page[page.index('id="post"'):page.index('id="letters"')]
    # A second click changes nothing.
    client.post(f"/letters/acknowledgements/{complaint_id}/posted", data={"csrf_token": csrf})
    with rt.sessions() as s:
        kinds = [e.kind for e in s.scalars(select(ComplaintEvent).where(
            ComplaintEvent.complaint_id == complaint_id))]
        assert kinds.count("acknowledgement_posted") == 1 and kinds.count("letter_posted") == 1


@needs_ocr_tools
def test_another_clerk_neither_sees_nor_posts_these_letters(rt, app, staff, clerk):
    client, csrf = clerk
    _letter_id, complaint_id = letter_without_phone(rt, client, csrf, staff)
    message_id = resolve(rt, complaint_id, staff)
    other = sign_in(app, "clerk_other")
    other_csrf = csrf_from(other)
    assert f"/letters/post/{message_id}.pdf" not in other.get("/letters/").get_data(as_text=True)
    assert other.get(f"/letters/post/{message_id}.pdf").status_code == 404
    assert other.post(f"/letters/post/{message_id}/posted", data={"csrf_token": other_csrf}).status_code == 404
    assert other.post(f"/letters/acknowledgements/{complaint_id}/posted",
                      data={"csrf_token": other_csrf}).status_code == 404
    with rt.sessions() as s:
        assert s.get(Message, message_id).status == "sent"


@needs_ocr_tools
def test_a_message_to_a_writer_with_a_phone_goes_by_sms_not_on_paper(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    submit_form(client, letter_id, csrf)
    with rt.sessions() as s:
        complaint_id = s.get(Letter, letter_id).complaint_id
    message_id = resolve(rt, complaint_id, staff)
    with rt.sessions() as s:
        message = s.get(Message, message_id)
        assert message.channel == "sms" and message.status == "delivered"
    page = client.get("/letters/").get_data(as_text=True)
    assert re.search(r'id="post".*Nothing to post\.', page, re.S)


def test_a_letter_that_cannot_be_stored_is_tried_again_later(tmp_path):
    blocked = tmp_path / "post"
    blocked.write_text("a file where the folder should be")
    sender = post.PostSender(blocked)
    with pytest.raises(TransientError):
        sender(Outgoing(channel="letter", to="Muhammad Ali\nHouse 5", kind="officer_message",
                        text="About complaint KP-1234567: the tanker comes on Monday", language="en"))


def test_the_letter_channel_is_sent_by_post(rt):
    assert isinstance(registry.sender_for("letter", rt.settings), post.PostSender)


@needs_ocr_tools
def test_the_letters_sweep_reads_a_letter_whose_ocr_job_was_lost(rt, staff):
    from datetime import timedelta

    from channels.letters import intake
    from gateway.letters_jobs import letters_dir, sweep_letters
    from storage.letters import add_letter
    from storage.models import utcnow
    from tests.letters import scans

    data = scans.png(scans.render(["The street light is broken."], "latin", size=26, width=900))
    path = intake.store(data, letters_dir(rt.settings) / "lost", "original.png")
    with transaction(rt.sessions) as s:  # stored, but its OCR job never queued (Redis was down)
        letter = add_letter(s, clerk_id=staff["clerk_letters"]["id"], filename="lost.png", kind="png",
                            content_type="image/png", size=len(data), sha256="0" * 64,
                            path=str(path.relative_to(letters_dir(rt.settings))), page_count=1)
        letter.updated_at = utcnow() - timedelta(minutes=15)
        letter_id = letter.id
    assert sweep_letters() == 1
    rt.queue.run_due()
    with rt.sessions() as s:
        assert s.get(Letter, letter_id).state == "ocr_done"
    assert sweep_letters() == 0
