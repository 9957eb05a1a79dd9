"""A clerk's batch upload: the good scans become letters to review, the bad ones are named
with their reason, and nothing crashes."""

from __future__ import annotations

import io

from sqlalchemy import select

from storage.letters import Letter
from tests.letters import scans
from tests.letters.scans import needs_ocr_tools


def batch() -> list[tuple[bytes, str]]:
    english = scans.degrade(scans.render(scans.ENGLISH, "latin", size=26, width=1200))
    urdu = scans.render(scans.URDU, "naskh", rtl=True, size=26, width=1200)
    truncated = scans.jpeg(english)
    return [
        (scans.pdf(english), "letter-1.pdf"),
        (scans.tiff(urdu, english), "letter-2.tif"),
        (truncated[: len(truncated) * 2 // 3], "letter-3.jpg"),
        (scans.ELF, "letter-4.pdf"),
        (scans.huge_png(), "letter-5.png"),
    ]


@needs_ocr_tools
def test_a_mixed_batch_keeps_the_good_scans_and_names_the_bad_ones(rt, clerk):
    client, token = clerk
    files = [(io.BytesIO(data), name) for data, name in batch()]
    answer = client.post("/letters/upload", data={"csrf_token": token, "files": files},
                         headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert answer.status_code == 201
    results = {r["filename"]: r for r in answer.get_json()["results"]}
    assert results["letter-1.pdf"]["ok"] and results["letter-2.tif"]["ok"]
    assert "damaged or cut short" in results["letter-3.jpg"]["error"]
    assert "a program" in results["letter-4.pdf"]["error"]
    assert "30,000 x 30,000" in results["letter-5.png"]["error"] or "pixels" in results["letter-5.png"]["error"]

    rt.queue.run_due()  # the OCR jobs
    with rt.sessions() as s:
        letters = {letter.filename: letter for letter in s.scalars(select(Letter))}
        assert set(letters) == {"letter-1.pdf", "letter-2.tif"}  # nothing stored for the bad ones
        assert letters["letter-1.pdf"].state == "ocr_done" and letters["letter-1.pdf"].page_count == 1
        tiff = letters["letter-2.tif"]
        assert tiff.state == "ocr_done" and [p.language for p in tiff.pages] == ["ur", "en"]
        assert tiff.fields["phone"] == "+923001234567" and tiff.fields["cnic"] == "17301-1234567-1"
    page = client.get("/letters/").get_data(as_text=True)
    assert "letter-1.pdf" in page and "letter-2.tif" in page and "ocr done" in page


def test_the_upload_form_without_javascript_lists_each_files_fate(rt, clerk):
    client, token = clerk
    files = [(io.BytesIO(scans.ELF), "payslip.pdf"), (io.BytesIO(b""), "empty.png")]
    page = client.post("/letters/upload", data={"csrf_token": token, "files": files},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "payslip.pdf: <span class=\"bad\">refused: this file is a program" in page
    assert "empty.png" in page and "the file is empty" in page


def test_an_upload_without_the_csrf_token_is_refused(rt, clerk):
    client, _token = clerk
    letters = rt.settings.var_dir / "letters"
    stored_before = sorted(letters.rglob("*"))
    answer = client.post("/letters/upload", data={"files": [(io.BytesIO(scans.ELF), "x.pdf")]},
                         content_type="multipart/form-data")
    assert answer.status_code == 400
    with rt.sessions() as s:
        assert s.scalars(select(Letter)).all() == []
    assert sorted(letters.rglob("*")) == stored_before  # no scan written either


def test_the_letters_area_is_for_clerks(rt, app, staff):
    from tests.letters.conftest import sign_in

    officer = sign_in(app, "officer_phed_psw")
    assert officer.get("/letters/").status_code == 403
    assert app.test_client().get("/letters/").status_code == 302  # to the login page


def test_a_scan_larger_than_the_webhook_limit_is_taken(rt, clerk):
    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(1).integers(0, 255, (1800, 1800), dtype=np.uint8)
    data = scans.png(Image.fromarray(noise))
    assert len(data) > 3 * 1024 * 1024  # over the app's 2 MB request limit for webhooks
    client, token = clerk
    answer = client.post("/letters/upload", data={"csrf_token": token, "files": [(io.BytesIO(data), "big.png")]},
                         headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert answer.status_code == 201 and answer.get_json()["results"][0]["ok"]
