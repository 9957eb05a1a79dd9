"""A per-clerk upload rate (issue 11, item 8): files, not requests, are counted, on the page
and the API together; beyond it 429 with the reason, and nothing of that upload is stored."""

from __future__ import annotations

import io
from dataclasses import replace

from sqlalchemy import func, select

from gateway.app import create_app
from storage.letters import Letter
from tests.letters import scans
from tests.letters.conftest import csrf_from, sign_in

LIMIT = 4


def _scan() -> bytes:
    return scans.jpeg(scans.render(scans.ENGLISH, "latin", size=22, width=700))


def _letters(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(Letter))


def _api(client, token: str, n: int = 1):
    files = [(io.BytesIO(_scan()), f"api-{i}.jpg") for i in range(n)]
    return client.post("/api/v1/letters", data={"file": files}, content_type="multipart/form-data",
                       headers={"Authorization": f"Bearer {token}"})


def test_a_clerk_beyond_the_upload_rate_gets_429_and_nothing_is_stored(rt, staff):
    assert rt.settings.letter_uploads_per_ten_minutes == 60  # the default
    limited = replace(rt, settings=rt.settings.model_copy(update={"letter_uploads_per_ten_minutes": LIMIT}))
    app = create_app(limited)
    page = sign_in(app, "clerk_letters")
    files = [(io.BytesIO(_scan()), f"page-{i}.jpg") for i in range(3)]
    answer = page.post("/letters/upload", data={"csrf_token": csrf_from(page), "files": files},
                       headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_json()
    api = app.test_client()
    assert _api(api, staff["clerk_letters"]["token"]).status_code == 201  # the fourth file
    assert _letters(rt) == 4

    # Past the limit, on either way in: refused whole, with the reason, and nothing stored.
    refused = _api(api, staff["clerk_letters"]["token"])
    assert refused.status_code == 429 and refused.headers.get("Retry-After")
    assert "Too many letter files uploaded from this account" in refused.get_json()["error"]
    again = page.post("/letters/upload", data={"csrf_token": csrf_from(page),
                                               "files": [(io.BytesIO(_scan()), "late.jpg")]},
                      headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert again.status_code == 429 and "at most 4 in ten minutes" in again.get_json()["error"]
    assert _letters(rt) == 4
    with rt.sessions() as s:
        assert "late.jpg" not in set(s.scalars(select(Letter.filename)))

    # Another clerk's budget is their own.
    assert _api(api, staff["clerk_other"]["token"]).status_code == 201
    assert _letters(rt) == 5


def test_a_batch_that_would_pass_the_limit_is_refused_whole(rt, staff):
    limited = replace(rt, settings=rt.settings.model_copy(update={"letter_uploads_per_ten_minutes": LIMIT}))
    api = create_app(limited).test_client()
    assert _api(api, staff["clerk_letters"]["token"], 3).status_code == 201
    assert _api(api, staff["clerk_letters"]["token"], 2).status_code == 429  # 3 + 2 > 4
    assert _letters(rt) == 3
