"""What a deployment on the open internet exposes: the simulator only where it is safe and
its complaints never in officers' queues; Twilio webhooks only for the host Twilio signed."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select

from channels.twilio.request import sign
from gateway import jobs
from gateway.app import create_app
from storage.models import Complaint, Message
from tests.channels.conftest import ACCOUNT_SID, AUTH_TOKEN, load_form, reconfigure
from tests.dashboard.conftest import PASSWORD, STAFF
from tests.staff import ensure_user, sign_in

PATH = "/webhooks/twilio/whatsapp"
HELLO = {"persona": "whatsapp", "sender": "+923001230000", "text": "hi", "client_id": "x1"}


def with_settings(rt, **values):
    new = replace(rt, settings=rt.settings.model_copy(update=values))
    jobs.install(new)
    return new


def messages(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count(Message.id)))


def test_the_simulator_is_on_for_anyone_on_the_embedded_default(rt):
    assert rt.settings.embedded_default
    client = create_app(rt).test_client()
    assert client.get("/simulator").status_code == 200
    assert client.post("/simulator/messages", json=HELLO).status_code == 202


def test_the_simulator_is_off_once_twilio_or_a_public_url_is_configured(rt):
    for values in ({"twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN},
                   {"public_url": "https://complaints.example.gov.pk"}):
        client = create_app(with_settings(rt, **values)).test_client()
        assert client.get("/simulator").status_code == 404
        assert client.post("/simulator/messages", json=HELLO).status_code in (400, 404)  # CSRF or none
    assert messages(rt) == 0


def test_an_enabled_simulator_on_a_public_deployment_is_for_signed_in_staff_only(rt):
    public = with_settings(rt, public_url="https://complaints.example.gov.pk", simulator=True)
    app = create_app(public)
    stranger = app.test_client()
    assert stranger.get("/simulator").status_code == 302  # to the sign-in form
    assert stranger.post("/simulator/messages", json=HELLO).status_code == 401
    assert stranger.get("/simulator/thread?persona=whatsapp&sender=%2B923001230000").status_code == 401
    assert messages(rt) == 0
    from storage.db import transaction

    with transaction(rt.sessions) as s:
        role, dept, district = STAFF["officer_psw"]
        from gateway.passwords import hash_password

        ensure_user(s, "officer_psw", role, dept, district, hash_password(PASSWORD))
    staff = sign_in(app, "officer_psw", PASSWORD)
    assert staff.get("/simulator").status_code == 200
    assert staff.post("/simulator/messages", json=HELLO).status_code == 202


def test_simulated_complaints_stay_out_of_the_queue_unless_asked_for(rt):
    from storage.db import transaction
    from tests.dashboard.conftest import file_complaint

    real = file_complaint(rt, text="A real complaint about water")
    client = create_app(rt).test_client()
    for n, text in enumerate(("1", "Garbage has not been collected for a week here", "Swat",
                              "Mingora", "yes", "Gul Bibi", "yes")):
        assert client.post("/simulator/messages", json={**HELLO, "text": text, "client_id": f"s{n}"}).status_code == 202
        rt.queue.run_due()
    with rt.sessions() as s:
        simulated = s.scalars(select(Complaint).where(Complaint.simulated.is_(True))).one()
    with transaction(rt.sessions) as s:
        from gateway.passwords import hash_password

        ensure_user(s, "admin2", "admin", None, None, hash_password(PASSWORD))
    admin = sign_in(create_app(rt), "admin2", PASSWORD)
    queue = admin.get("/dashboard/?status=any").get_data(as_text=True)
    shown = lambda number: number in queue.replace("-", "")  # noqa: E731
    assert shown(real.number) and not shown(simulated.tracking_number)
    queue = admin.get("/dashboard/?status=any&simulated=1").get_data(as_text=True)
    assert shown(simulated.tracking_number)


def test_without_a_public_url_twilio_webhooks_refuse_to_serve(trt):
    bare = reconfigure(trt, public_url=None)
    form = load_form("whatsapp", "inbound_text")
    signature = sign(AUTH_TOKEN, "http://localhost" + PATH, form)
    answer = create_app(bare).test_client().post(PATH, data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 503 and "IKHTIYAR_PUBLIC_URL" in answer.get_data(as_text=True)
    assert messages(trt) == 0


def test_a_request_twilio_signed_for_another_host_is_refused(trt):
    """Another app on the same Twilio account: its signed request replayed here with its
    own Host header would pass a check against the URL as received."""
    allowed = reconfigure(trt, public_url=None, twilio_hosts="complaints.example.gov.pk")
    form = load_form("whatsapp", "inbound_text")
    other = "https://other-app.example.com" + PATH
    answer = create_app(allowed).test_client().post(
        PATH, data=form, headers={"X-Twilio-Signature": sign(AUTH_TOKEN, other, form)},
        base_url="https://other-app.example.com")
    assert answer.status_code == 403
    assert messages(trt) == 0
    ours = "https://complaints.example.gov.pk" + PATH
    answer = create_app(allowed).test_client().post(
        PATH, data=form, headers={"X-Twilio-Signature": sign(AUTH_TOKEN, ours, form)},
        base_url="https://complaints.example.gov.pk")
    assert answer.status_code == 200 and messages(trt) == 1


def test_the_tracking_page_does_not_name_the_department_of_a_confidential_complaint(rt):
    from storage.db import transaction
    from tests.dashboard.conftest import file_complaint

    case = file_complaint(rt, department="POLICE", category=None)
    client = create_app(rt).test_client()
    assert "Police" in client.get(f"/track/KP-{case.number}").get_data(as_text=True)
    with transaction(rt.sessions) as s:
        s.get(Complaint, case.id).confidential = True
    page = client.get(f"/track/KP-{case.number}").get_data(as_text=True)
    assert "Police" not in page and "POLICE" not in page
