"""The clerks' area switches to Urdu (right to left) like the officers' dashboard, and the
"to post" list warns when a letter has nothing to write on the envelope."""

from __future__ import annotations

import io
import re

from tests.letters import scans
from tests.letters.conftest import csrf_from
from tests.letters.scans import needs_ocr_tools
from tests.letters.test_review import api_upload, english_scan, submit_form


def _switch(client, csrf: str, lang: str, back: str = "/letters/"):
    return client.post("/letters/language", data={"csrf_token": csrf, "lang": lang, "next": back})


def test_the_urdu_letters_page_is_right_to_left_with_urdu_labels(clerk):
    client, csrf = clerk
    answer = _switch(client, csrf, "ur", "/letters/confirm")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/letters/confirm")
    page = client.get("/letters/").get_data(as_text=True)
    assert '<html lang="ur" dir="rtl">' in page
    for label in ("اسکین شدہ خطوط", "خطوط کا ایک بیچ اپ لوڈ کریں", "اپ لوڈ کریں",
                  "چھاپ کر ڈاک سے بھیجنے کے لیے", "ڈاک کے لیے کچھ نہیں۔", "تصدیق درج کریں"):
        assert label in page
    assert "Upload a batch" not in page and "Nothing to post." not in page
    confirm = client.get("/letters/confirm").get_data(as_text=True)
    assert 'dir="rtl"' in confirm and "شہری کی تصدیق درج کریں" in confirm and "جواب درج کریں" in confirm


def test_a_refused_file_is_explained_in_urdu(clerk):
    client, csrf = clerk
    _switch(client, csrf, "ur")
    page = client.post("/letters/upload", data={"csrf_token": csrf_from(client),
                                                "files": [(io.BytesIO(scans.ELF), "payslip.pdf")]},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "مسترد: یہ فائل اسکین نہیں" in page and "JPEG، PNG، TIFF یا PDF اسکین اپ لوڈ کریں" in page


def test_a_form_error_on_the_confirmation_page_is_in_urdu(clerk):
    client, csrf = clerk
    _switch(client, csrf, "ur")
    answer = client.post("/letters/confirm", data={"csrf_token": csrf_from(client, "/letters/confirm"),
                                                   "tracking": "KP-1234567", "answer": "satisfied",
                                                   "via": "paper", "note": ""})
    assert answer.status_code == 422
    assert "شکایت کنندہ کے جواب کا اسکین لگائیں: صرف نوٹ ثبوت نہیں" in answer.get_data(as_text=True)


def test_switching_back_gives_the_english_page(clerk):
    client, csrf = clerk
    _switch(client, csrf, "ur")
    _switch(client, csrf_from(client), "en")
    page = client.get("/letters/").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in page and "Upload a batch" in page


@needs_ocr_tools
def test_a_letter_without_name_or_address_is_flagged_on_the_to_post_list(rt, staff, clerk):
    client, csrf = clerk
    token = staff["clerk_letters"]["token"]
    nameless = api_upload(rt, client, token, english_scan())
    named = api_upload(rt, client, token, english_scan())
    assert submit_form(client, nameless, csrf, phone="", name="", address="").status_code == 302
    assert submit_form(client, named, csrf, phone="", name="Muhammad Ali", address="").status_code == 302
    page = client.get("/letters/").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-post="([^"]+)"([^>]*)>', page))
    assert len(rows) == 2 and sorted(rows.values()) == ["", ' class="unaddressed"']
    assert "1 letter(s) to post have neither a name nor an address" in page
    assert page.count("no name or address</span>") == 1
    _switch(client, csrf_from(client), "ur")
    assert "نہ نام نہ پتہ" in client.get("/letters/").get_data(as_text=True)
