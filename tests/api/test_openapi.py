"""The OpenAPI document is valid, served, browsable, and the live API keeps to it:
schemathesis sends generated requests to every operation (as a citizen for the citizens'
endpoints, as an administrator for the staff endpoints): no 5xx, and every answer's status,
content type, headers and body are the ones the document declares."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.blueprints.api import spec
from tests.api.conftest import draft_id, sign_in
from tests.api.test_citizen_api import WATER

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def test_the_document_is_valid_openapi_3_1():
    document = spec()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_document_and_its_browser_are_served_without_a_cdn(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.get_json()["info"]["title"] == "Ikhtiyar API"
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/openapi.json" in page and "https://" not in page and "http://" not in page


def test_errors_are_problem_details(client):
    r = client.get("/api/v1/me/complaints/KP-123")
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
    assert set(r.get_json()) >= {"type", "title", "status"}
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"


def _prepare(app, rt, client):
    citizen = sign_in(client, rt)
    mine = client.post("/api/v1/me/complaints", headers=citizen,
                       json={"client_id": draft_id(), **WATER}).get_json()["tracking_number"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # Unknown query parameters are ignored, as HTTP clients expect (a cache-buster, a lang
    # on a list without texts); everything declared is checked.
    schema.config.generation.update(allow_extra_parameters=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len([m for item in spec()["paths"].values() for m in item
                                   if m in ("get", "post")])
    return citizen, mine, operations


@pytest.mark.slow
# The API's behaviour does not depend on the backend: once (on SQLite) is enough here.
@pytest.mark.parametrize("rt", ["sqlite"], indirect=True)
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(app, rt, client, staff_headers):
    citizen, mine, operations = _prepare(app, rt, client)
    for operation in operations:
        _exercise(operation, staff_headers["api_admin"] if operation.path.startswith("/staff") else citizen,
                  mine, operation.as_strategy(), CHECKS)


@pytest.mark.slow
# The API's behaviour does not depend on the backend: once (on SQLite) is enough here.
@pytest.mark.parametrize("rt", ["sqlite"], indirect=True)
def test_schemathesis_sees_every_request_off_the_document_refused(app, rt, client, staff_headers):
    """Requests that break the document (wrong types, missing fields, out of range) get a
    4xx problem, never a 2xx or a 5xx."""
    citizen, _, operations = _prepare(app, rt, client)
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)
        try:
            _exercise(operation, staff_headers["api_admin"] if operation.path.startswith("/staff") else citizen,
                      None, strategy, [*CHECKS, negative_data_rejection])
        except hypothesis.errors.Unsatisfiable:
            pass  # no input that could break the document (a plain list without parameters)


def _exercise(operation, headers: dict, existing: str | None, strategy, checks) -> None:
    @hypothesis.given(case=strategy)
    @hypothesis.settings(max_examples=25, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))
    def run(case):
        if existing and (case.path_parameters or {}).get("number", "x").isdigit():
            case.path_parameters["number"] = existing  # also reach a complaint that exists
        # Schemathesis calls the app through WSGI, where nothing undoes a gzip body as an HTTP
        # client does: ask for the body as is (compression is tested in tests/dashboard/test_i18n.py).
        case.call_and_validate(headers={**headers, "Accept-Encoding": "identity"}, checks=checks)

    run()
