"""The review form flags, on the field itself, a suggestion OCR was unsure of; the page
after submitting says how the writer will really be told (SMS or a posted letter)."""

from __future__ import annotations

import json

from channels.letters.fields import doubtful_fields
from storage.db import transaction
from storage.letters import Letter
from tests.letters.scans import needs_ocr_tools
from tests.letters.test_review import api_upload, english_scan, submit_form

SUGGESTED = {"phone": "+923001234567", "cnic": "17301-1234567-1", "name": "Muhammad Ali", "address": ""}


def test_numbers_read_whole_and_sure_are_not_flagged():
    words = [(0, "number", 91), (0, "0300-1234567", 95), (1, "CNIC", 90), (1, "17301-1234567-1", 92),
             (2, "Muhammad", 90), (2, "Ali", 93)]
    assert doubtful_fields(SUGGESTED, words, 60) == set()


def test_an_unsure_word_flags_the_field_it_went_into():
    words = [(0, "0300-1234567", 95), (1, "17301-1234567-1", 41), (2, "Muhammad", 90), (2, "Ali", 30)]
    assert doubtful_fields(SUGGESTED, words, 60) == {"cnic", "name"}


def test_a_number_pieced_together_is_flagged_and_one_turned_round_in_urdu_is_not():
    # "0300 1 1234567": the bar OCR read as a 1 was dropped to make a valid number.
    assert "phone" in doubtful_fields({"phone": "+923001234567"}, [(0, "0300", 95), (0, "1", 80), (0, "1234567", 95)], 60)
    # Tesseract gives the groups of a number in a right-to-left line in visual order.
    assert doubtful_fields({"phone": "+923001234567"}, [(0, "1234567-0300", 95)], 60) == set()


def _lower_confidence(rt, letter_id: int, word: str) -> None:
    """As OCR reads a smudged number: the same text, with little confidence."""
    with transaction(rt.sessions) as s:
        for page in s.get(Letter, letter_id).pages:
            words = json.loads(page.words)
            page.words = json.dumps([[line, text, 35.0 if word in text else conf] for line, text, conf in words])


@needs_ocr_tools
def test_a_misread_cnic_is_flagged_on_its_field_and_a_clean_one_is_not(rt, app, staff, clerk):
    client, _csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert 'value="17301-1234567-1"' in page and 'id="cnic-doubt"' not in page  # read clearly
    _lower_confidence(rt, letter_id, "17301")
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert 'id="cnic-doubt"' in page
    assert 'class="doubtful" aria-describedby="cnic-doubt" type="text" id="cnic"' in page
    assert 'id="phone-doubt"' not in page


@needs_ocr_tools
def test_a_letter_whose_phone_the_clerk_removed_is_told_by_post_not_sms(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    assert submit_form(client, letter_id, csrf, phone="", address="House 5, Gulbahar, Peshawar").status_code == 302
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert 'data-told="post"' in page and "by post" in page
    assert "by SMS" not in page


@needs_ocr_tools
def test_a_letter_with_a_phone_is_told_by_sms(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    submit_form(client, letter_id, csrf)
    page = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert 'data-told="sms"' in page and "by SMS" in page
