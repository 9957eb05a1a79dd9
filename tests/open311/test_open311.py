"""Open311 GeoReport v2: a civic-tech client lists services, posts and reads requests as the
specification's examples do (http://wiki.open311.org/GeoReport_v2), in JSON and XML."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from gateway.app import create_app
from storage import app_access
from storage.db import transaction
from storage.models import Complaint, Contact, Message
from tests.citizen import Citizen
from tests.conftest import TEST_KEY, TEST_SECRET

# The specification's POST example, with a service, place and number of this province.
SPEC_EXAMPLE = {
    "jurisdiction_id": "kp.gov.pk", "service_code": "PHED_NO_WATER",
    "lat": "34.0151", "long": "71.5249", "address_string": "Street 7, Hayatabad phase 3, Peshawar",
    "email": "", "device_id": "tt222111", "account_id": "123456", "first_name": "Amina",
    "last_name": "Khan", "phone": "0300 1234567",
    "description": "No water in our street for five days, the tube well pump is broken",
    "media_url": "http://example.com/image.jpg",
}


@pytest.fixture
def client(rt):
    app = create_app(rt)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture
def api_key(rt) -> str:
    with transaction(rt.sessions) as s:
        return app_access.create_key(s, "fixmystreet-kp")


def _complaints(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(Complaint))


def test_discovery_names_the_endpoint_and_both_formats(client):
    data = client.get("/open311/v2/discovery.json").get_json()
    endpoint = data["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["formats"] == ["text/xml", "application/json"] and endpoint["url"].endswith("/open311/v2/")
    xml = ET.fromstring(client.get("/open311/v2/discovery.xml").data)
    assert xml.tag == "discovery" and xml.find("endpoints/endpoint/type").text == "production"


def test_the_categories_are_the_services_in_json_and_xml(client):
    services = client.get("/open311/v2/services.json").get_json()
    water = next(s for s in services if s["service_code"] == "PHED_NO_WATER")
    assert water["metadata"] is True and water["type"] == "realtime" and water["group"]
    root = ET.fromstring(client.get("/open311/v2/services.xml").data)
    assert root.tag == "services"
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert "PHED_NO_WATER" in codes and len(codes) == len(services)


def test_a_service_definition_lists_its_attributes_with_the_districts(client):
    definition = client.get("/open311/v2/services/PHED_NO_WATER.json").get_json()
    district = next(a for a in definition["attributes"] if a["code"] == "district")
    assert district["datatype"] == "singlevaluelist"
    assert {"key": "PSW", "name": "Peshawar"} in district["values"]
    root = ET.fromstring(client.get("/open311/v2/services/PHED_NO_WATER.xml").data)
    assert root.tag == "service_definition"
    assert "PSW" in [v.findtext("key") for v in root.findall("attributes/attribute/values/value")]


def test_an_unknown_service_code_is_the_specifications_error(client, rt, api_key):
    r = client.get("/open311/v2/services/NO_SUCH.json")
    assert r.status_code == 404 and r.get_json() == [{"code": 404, "description": "service_code NO_SUCH not found"}]
    r = client.post("/open311/v2/requests.json", data={**SPEC_EXAMPLE, "api_key": api_key, "service_code": "NO_SUCH"})
    assert r.status_code == 404 and r.get_json()[0]["code"] == 404
    assert _complaints(rt) == 0


def test_a_request_without_api_key_is_refused_in_the_specified_format_and_not_stored(client, rt):
    r = client.post("/open311/v2/requests.json", data=SPEC_EXAMPLE)
    assert r.status_code == 400 and r.get_json() == [{"code": 400, "description": "api_key was not provided"}]
    r = client.post("/open311/v2/requests.xml", data=SPEC_EXAMPLE)
    error = ET.fromstring(r.data).find("error")
    assert r.status_code == 400 and error.findtext("code") == "400"
    assert error.findtext("description") == "api_key was not provided"
    assert _complaints(rt) == 0
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_a_wrong_api_key_is_forbidden_and_nothing_is_stored(client, rt, api_key):
    r = client.post("/open311/v2/requests.json", data={**SPEC_EXAMPLE, "api_key": api_key + "x"})
    assert r.status_code == 403 and r.get_json()[0] == {"code": 403, "description": "api_key is not valid"}
    assert _complaints(rt) == 0


def test_a_posted_request_becomes_a_complaint_on_channel_open311_answered_by_sms(client, rt, api_key):
    r = client.post("/open311/v2/requests.json", data={**SPEC_EXAMPLE, "api_key": api_key})
    assert r.status_code == 201
    [answer] = r.get_json()
    assert answer["service_request_id"].startswith("KP-") and answer["token"]
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        contact = s.get(Contact, complaint.contact_id)
        assert complaint.channel == "open311" and complaint.district_code == "PSW"
        assert complaint.category_code == "PHED_NO_WATER" and complaint.latitude == 34.0151
        assert contact.channel == "sms" and contact.address == "+923001234567"
        message = s.scalars(select(Message).where(Message.direction == "in")).one()
        assert message.channel == "open311" and message.complaint_id == complaint.id


def test_the_same_citizen_sees_the_request_among_their_sms_complaints(client, rt, api_key):
    client.post("/open311/v2/requests.json", data={**SPEC_EXAMPLE, "api_key": api_key})
    sms = Citizen(rt, "sms", "+923001234567")
    replies = sms.send("status")
    assert any("KP-" in text for text in replies)


def test_a_request_without_contact_is_filed_and_its_news_is_its_status(client, rt, api_key):
    anonymous = {**SPEC_EXAMPLE, "phone": "", "first_name": "", "last_name": "", "api_key": api_key}
    r = client.post("/open311/v2/requests.xml", data=anonymous)
    assert r.status_code == 201
    root = ET.fromstring(r.data)
    assert root.tag == "service_requests" and root.findtext("request/service_request_id").startswith("KP-")
    with rt.sessions() as s:
        contact = s.get(Contact, s.scalars(select(Complaint.contact_id)).one())
        assert contact.channel == "open311"


def test_a_request_is_read_back_by_id_and_by_token_without_personal_data(client, rt, api_key):
    [answer] = client.post("/open311/v2/requests.json", data={**SPEC_EXAMPLE, "api_key": api_key}).get_json()
    number = answer["service_request_id"]
    [request] = client.get(f"/open311/v2/requests/{number}.json").get_json()
    assert request["status"] == "open" and request["service_code"] == "PHED_NO_WATER"
    assert request["lat"] == 34.0151 and request["requested_datetime"].endswith("Z")
    assert request["expected_datetime"] and request["agency_responsible"]
    body = client.get(f"/open311/v2/requests/{number}.json").get_data(as_text=True)
    for personal in ("Amina", "Khan", "1234567", "123456"):
        assert personal not in body.replace(number, "")
    [token] = client.get(f"/open311/v2/tokens/{answer['token']}.json").get_json()
    assert token == {"service_request_id": number, "token": answer["token"]}
    assert client.get("/open311/v2/tokens/nope.json").status_code == 404


def test_requests_are_listed_with_filters_and_without_other_channels_words(client, rt, api_key):
    client.post("/open311/v2/requests.json", data={**SPEC_EXAMPLE, "api_key": api_key})
    whatsapp = Citizen(rt, "whatsapp", "+923007776655")
    whatsapp.file("Sewage overflowing near the house of Bilal Ahmed in Gulbahar, Peshawar",
                  place="Gulbahar 2")
    assert whatsapp.complaints()
    listed = client.get("/open311/v2/requests.json").get_json()
    assert len(listed) == 2
    by_chat = next(r for r in listed if r["service_code"] != "PHED_NO_WATER")
    assert by_chat["description"] is None and by_chat["address"] is None and by_chat["lat"] is None
    text = client.get("/open311/v2/requests.json").get_data(as_text=True)
    assert "Bilal" not in text and "7776655" not in text
    only = client.get("/open311/v2/requests.json?service_code=PHED_NO_WATER&status=open").get_json()
    assert [r["service_code"] for r in only] == ["PHED_NO_WATER"]
    assert client.get("/open311/v2/requests.json?status=closed").get_json() == []
    assert client.get("/open311/v2/requests.json?start_date=2099-01-01T00:00:00Z").get_json() == []
    root = ET.fromstring(client.get("/open311/v2/requests.xml?status=open").data)
    assert len(root.findall("request")) == 2
    bad = client.get("/open311/v2/requests.json?start_date=yesterday")
    assert bad.status_code == 400 and bad.get_json()[0]["code"] == 400


def test_a_confidential_request_is_never_listed(client, rt, api_key):
    r = client.post("/open311/v2/requests.json",
                    data={**SPEC_EXAMPLE, "api_key": api_key, "attribute[confidential]": "true"})
    number = r.get_json()[0]["service_request_id"]
    assert client.get("/open311/v2/requests.json").get_json() == []
    assert client.get(f"/open311/v2/requests/{number}.json").status_code == 404


def test_the_cli_prints_a_key_that_files_requests(tmp_path):
    env = {**os.environ, "IKHTIYAR_VAR_DIR": str(tmp_path), "IKHTIYAR_DATA_KEY": TEST_KEY,
           "IKHTIYAR_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    env.pop("IKHTIYAR_REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "open311", "keys", "create", "fixmystreet"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    key = done.stdout.split()[-1]
    assert key.startswith("o311_")
    from gateway import runtime as rt_module
    from gateway.settings import load_settings
    from storage.crypto import configure_vault

    rt = rt_module.build(load_settings(database_url=f"sqlite:///{tmp_path}/cli.db", data_key=TEST_KEY,
                                       var_dir=tmp_path, redis_url=None, secret_key=TEST_SECRET))
    with rt.sessions() as s:
        row = s.scalars(select(app_access.Open311Key)).one()
        assert row.name == "fixmystreet" and key not in row.key_hash
        assert app_access.find_key(s, key) is not None
    configure_vault(__import__("base64").b64decode(TEST_KEY))
