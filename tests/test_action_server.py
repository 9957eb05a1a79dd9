"""The complaint actions behind rasa-sdk's action server: the call a Rasa server POSTs to
/webhook (tests/fixtures/rasa, Rasa's exact request shape), run by the executor in-process
and over real HTTP against ``ikhtiyar actions`` (finding 4 of issue 10)."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conversation import casework, catalog
from conversation.action_server import ActionCallError, ComplaintActionExecutor, authorized
from conversation.knowledge import Knowledge
from storage import lifecycle
from storage.db import transaction
from storage.messages import contact_for, insert_inbound
from storage.models import Complaint, ComplaintEvent, Message
from storage.tracking import display
from tests.citizen import Citizen
from tests.conftest import TEST_KEY, TEST_SECRET

RASA = Path(__file__).parent / "fixtures" / "rasa"
FIXTURE = json.loads((RASA / "action_answer_resolution.json").read_text())
FORM_FIXTURE = json.loads((RASA / "validate_complaint_form.json").read_text())
FILED_SLOTS = {"description": "The school's water cooler is broken since March", "district": "PSW",
               "category": "POLICE_FIR", "location_detail": "Near the main bazaar", "requested_slot": None}
TOKEN = "rasa-endpoint-token-" + "x" * 24
_ids = itertools.count(1)


def _call(action: str, sender: str, text: str, message_id: str, slots: dict | None = None) -> dict:
    """Rasa's request for ``action``, from ``sender``, whose latest message is ``message_id``."""
    call = copy.deepcopy(FIXTURE)
    call["next_action"] = action
    call["sender_id"] = call["tracker"]["sender_id"] = sender
    call["tracker"]["slots"] = {**call["tracker"]["slots"], **(slots or {})}
    latest = call["tracker"]["latest_message"]
    latest["text"], latest["message_id"] = text, message_id
    return call


def _form_call(action: str, sender: str, text: str, message_id: str, slots: dict,
               *, active: bool = True) -> dict:
    """Rasa's request while (``active``) or right after the complaint form: the user's
    latest answer fills the requested slot, as Rasa's form extracts it before validating."""
    call = copy.deepcopy(FORM_FIXTURE)
    call["next_action"] = action
    call["sender_id"] = call["tracker"]["sender_id"] = sender
    tracker = call["tracker"]
    tracker["slots"] = {**tracker["slots"], **slots}
    tracker["latest_message"].update(text=text, message_id=message_id)
    user, candidate = tracker["events"][-2:]
    user.update(text=text, message_id=message_id)
    user["parse_data"].update(text=text, message_id=message_id)
    if active:
        candidate.update(name=tracker["slots"]["requested_slot"], value=text)
    else:  # the form is done: Rasa deactivated the loop, then predicted the submit action
        tracker["events"][-1:] = [
            {"event": "active_loop", "timestamp": 1764465720.7, "metadata": {"model_id": "b1a4c6"}, "name": None},
            {"event": "slot", "timestamp": 1764465720.7, "metadata": {"model_id": "b1a4c6"},
             "name": "requested_slot", "value": None},
            {"event": "action", "timestamp": 1764465720.8, "metadata": {"model_id": "b1a4c6"},
             "name": "complaint_form", "policy": "RulePolicy", "confidence": 1.0, "action_text": None,
             "hide_rule_turn": False}]
        tracker["active_loop"] = {}
        tracker["latest_action"] = {"action_name": "complaint_form"}
        tracker["latest_action_name"] = "complaint_form"
    return call


def _executor(rt) -> ComplaintActionExecutor:
    return ComplaintActionExecutor(lambda: transaction(rt.sessions), Knowledge.load, "KP")


def _resolved_whatsapp_complaint(rt, address: str = "+923001234567") -> str:
    c = Citizen(rt, address=address)
    for text in ("1", "The school's water cooler is broken since March", "Kohat", "Main bazaar",
                 "yes", "skip", "yes"):
        c.send(text)
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        casework.resolve(s, complaint, lifecycle.Actor("officer"), "Cooler replaced")
        return complaint.tracking_number


def _resolved_email_complaint(rt, address: str = "victim@example.org") -> int:
    """An email complainant's complaint, resolved and waiting for their answer."""
    with transaction(rt.sessions) as s:
        contact = contact_for(s, "email", address)
        message, _ = insert_inbound(s, contact, channel="email", provider_id=f"<{next(_ids)}@example.org>",
                                    text="No water in Hayatabad, Peshawar", payload={})
        complaint = Complaint(tracking_number=str(2000000 + next(_ids)), citizen_id=contact.citizen_id,
                              contact_id=contact.id, channel="email", description="No water in Hayatabad")
        lifecycle.submit(s, complaint, message, lifecycle.Actor("citizen", channel="email"))
        lifecycle.assign(s, complaint, lifecycle.Actor("officer"))
        lifecycle.resolve(s, complaint, lifecycle.Actor("officer"), "Tube well repaired")
        s.flush()
        return complaint.id


def _inbox_received(rt, channel: str, address: str, provider_id: str, text: str) -> None:
    """The citizen's message as our verified inbox stores it (before it goes on to Rasa)."""
    with transaction(rt.sessions) as s:
        message, _ = insert_inbound(s, contact_for(s, channel, address), channel=channel,
                                    provider_id=provider_id, text=text, payload={})
        message.status = "processed"


def _state(rt, complaint_id: int | None = None) -> tuple:
    with rt.sessions() as s:
        complaint = s.get(Complaint, complaint_id) if complaint_id else s.scalars(select(Complaint)).one()
        return (complaint.state, complaint.closed_at, complaint.escalation_level,
                [e.kind for e in complaint.events],
                s.scalar(select(func.count(Message.id)).where(Message.complaint_id == complaint.id)))


# --- in-process: which message counts as the complainant's -------------------------------------


def test_a_rasa_yes_that_our_inbox_received_closes_the_citizens_resolved_complaint(rt):
    tracking = _resolved_whatsapp_complaint(rt)
    _inbox_received(rt, "whatsapp", "+923001234567", "SM" + "1" * 32, "yes")
    result = asyncio.run(_executor(rt).run(_call("action_answer_resolution", "whatsapp:+923001234567",
                                                 "yes", "SM" + "1" * 32, {"satisfied": True})))
    assert [r["response"] for r in result.responses] == ["closed_thanks"]
    assert catalog.text("closed_thanks", "en", tracking=result.responses[0]["tracking"]) == \
        catalog.text("closed_thanks", "en", tracking=display(tracking))
    with rt.sessions() as s:
        assert s.scalars(select(Complaint.state)).one() == "closed"
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "confirm_satisfied")).one()
        assert s.get(Message, event.message_id).provider_id == "SM" + "1" * 32


def test_a_rasa_yes_our_inbox_never_received_closes_nothing_even_for_the_complainants_address(rt):
    _resolved_whatsapp_complaint(rt)
    before = _state(rt)
    result = asyncio.run(_executor(rt).run(_call("action_answer_resolution", "whatsapp:+923001234567",
                                                 "yes", "rasa-made-up-1", {"satisfied": True})))
    assert [r["response"] for r in result.responses] == ["nothing_to_confirm"]
    assert _state(rt) == before
    with rt.sessions() as s:
        stored = s.scalars(select(Message).where(Message.provider_id == "rasa-rasa-made-up-1")).one()
        assert stored.payload[lifecycle.UNVERIFIED] and stored.complaint_id is None


def test_a_rasa_call_naming_another_contacts_stored_message_closes_nothing(rt):
    _resolved_whatsapp_complaint(rt)
    _inbox_received(rt, "whatsapp", "+923339999999", "SM" + "2" * 32, "yes")  # someone else's "yes"
    before = _state(rt)
    result = asyncio.run(_executor(rt).run(_call("action_answer_resolution", "whatsapp:+923001234567",
                                                 "yes", "SM" + "2" * 32, {"satisfied": False})))
    assert [r["response"] for r in result.responses] == ["nothing_to_confirm"]
    assert _state(rt) == before


def test_a_rasa_call_naming_the_complainants_message_from_before_the_resolution_closes_nothing(rt):
    c = Citizen(rt, address="+923001234567")
    for text in ("1", "The school's water cooler is broken since March", "Kohat", "Main bazaar",
                 "yes", "skip", "yes"):
        c.send(text)
    with rt.sessions() as s:  # the "yes" that confirmed the form, long before any resolution
        earlier = s.scalars(select(Message.provider_id).where(Message.direction == "in")
                            .order_by(Message.id.desc())).first()
    with transaction(rt.sessions) as s:
        casework.resolve(s, s.scalars(select(Complaint)).one(), lifecycle.Actor("officer"), "done")
    before = _state(rt)
    result = asyncio.run(_executor(rt).run(_call("action_answer_resolution", "whatsapp:+923001234567",
                                                 "yes", earlier, {"satisfied": True})))
    assert [r["response"] for r in result.responses] == ["nothing_to_confirm"]
    assert _state(rt) == before


def test_a_rasa_call_for_another_sender_cannot_close_it(rt):
    _resolved_whatsapp_complaint(rt)
    result = asyncio.run(_executor(rt).run(_call("action_answer_resolution", "whatsapp:+923339999999",
                                                 "yes", "rasa-2", {"satisfied": True})))
    assert [r["response"] for r in result.responses] == ["nothing_to_confirm"]
    with rt.sessions() as s:
        assert s.scalars(select(Complaint.state)).one() == "resolved"


def test_a_call_without_a_usable_sender_is_refused(rt):
    with pytest.raises(ActionCallError):
        asyncio.run(_executor(rt).run(_call("action_complaint_status", "nobody", "status", "rasa-3")))


def test_the_token_is_compared_whole_from_the_query_or_a_bearer_header():
    assert authorized(TOKEN, TOKEN, None) and authorized(TOKEN, None, f"Bearer {TOKEN}")
    assert authorized(TOKEN, None, f"bearer {TOKEN}")
    for query, header in ((None, None), ("", ""), (TOKEN[:-1], None), (None, f"Basic {TOKEN}"),
                          (None, f"Bearer {TOKEN}x"), ("wrong", f"Bearer {TOKEN}")):
        assert not authorized(TOKEN, query, header), (query, header)


# --- over real HTTP: ikhtiyar actions ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(rt, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("IKHTIYAR_REDIS_URL", "IKHTIYAR_CONFIG", "IKHTIYAR_ACTIONS_TOKEN")}
    env.update(IKHTIYAR_DATABASE_URL=rt.settings.database_url, IKHTIYAR_DATA_KEY=TEST_KEY,
               IKHTIYAR_SECRET_KEY=TEST_SECRET, IKHTIYAR_VAR_DIR=str(rt.settings.var_dir), **extra)
    return env


def _ikhtiyar(*args: str) -> list[str]:
    return [sys.executable, "-c", "from gateway.cli import main; main()", *args]


@pytest.fixture
def action_server(rt):
    """``ikhtiyar actions`` in its own process on a free port, with the shared secret."""
    port = _free_port()
    process = subprocess.Popen(_ikhtiyar("actions", "--port", str(port)),
                               env=_env(rt, IKHTIYAR_ACTIONS_TOKEN=TOKEN),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            pytest.fail(f"the action server stopped: {process.stdout.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the action server did not start in 90 s")
        time.sleep(0.3)
    yield url
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _post(url: str, body: dict, *, query: str = "", headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}/webhook{query}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_action_server_refuses_a_call_without_the_token_and_stores_nothing(rt, action_server):
    complaint_id = _resolved_email_complaint(rt)
    before = _state(rt, complaint_id)
    with rt.sessions() as s:
        messages = s.scalar(select(func.count(Message.id)))
    call = _call("action_answer_resolution", "email:victim@example.org", "yes", "<forged-1@evil.test>",
                 {"satisfied": True})
    for query, headers in (("", {}), ("?token=wrong", {}), ("", {"Authorization": "Bearer wrong"}),
                           ("", {"Authorization": f"Basic {TOKEN}"}), (f"?token={TOKEN[:-1]}", {})):
        status, _ = _post(action_server, call, query=query, headers=headers)
        assert status == 401, (query, headers)
    assert _state(rt, complaint_id) == before
    with rt.sessions() as s:
        assert s.scalar(select(func.count(Message.id))) == messages


@pytest.mark.parametrize("how", ["query", "bearer"])
def test_with_the_token_a_forged_email_sender_closes_nothing(rt, action_server, how):
    complaint_id = _resolved_email_complaint(rt)
    before = _state(rt, complaint_id)
    auth = {"query": f"?token={TOKEN}"} if how == "query" else {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    for satisfied in (True, False):
        call = _call("action_answer_resolution", "email:victim@example.org", "yes" if satisfied else "no",
                     f"<forged-{next(_ids)}@evil.test>", {"satisfied": satisfied})
        status, body = _post(action_server, call, **auth)
        assert status == 200
        assert [r["response"] for r in body["responses"]] == ["nothing_to_confirm"]
    assert _state(rt, complaint_id) == before


def test_with_the_token_the_complainants_own_message_from_our_inbox_closes_it(rt, action_server):
    complaint_id = _resolved_email_complaint(rt)
    _inbox_received(rt, "email", "victim@example.org", "<answer-1@example.org>", "yes")
    call = _call("action_answer_resolution", "email:victim@example.org", "yes", "<answer-1@example.org>",
                 {"satisfied": True})
    status, body = _post(action_server, call, headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and [r["response"] for r in body["responses"]] == ["closed_thanks"]
    assert _state(rt, complaint_id)[0] == "closed"


@pytest.mark.parametrize(("args", "token"), [
    (("--host", "0.0.0.0"), None),  # reachable from outside, no token
    (("--host", "127.0.0.1"), None),  # loopback, but no explicit test mode
    (("--host", "0.0.0.0", "--no-token"), None),  # test mode is for loopback only
    (("--host", "127.0.0.1"), "short"),  # a token too short to be a secret
])
def test_the_action_server_will_not_start_without_a_proper_token(rt, args, token):
    env = _env(rt, **({"IKHTIYAR_ACTIONS_TOKEN": token} if token else {}))
    done = subprocess.run(_ikhtiyar("actions", "--port", str(_free_port()), *args), env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "IKHTIYAR_ACTIONS_TOKEN" in done.stderr or "actions_token" in done.stderr.lower(), done.stderr


# --- the complaint form over real HTTP, in Rasa's request format ------------------------------


def _slot_events(body: dict) -> dict:
    return {e["name"]: e["value"] for e in body["events"] if e["event"] == "slot"}


def test_a_rasa_form_files_a_complaint_through_the_action_server(rt, action_server):
    sender, auth = "whatsapp:+923001234567", {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    status, body = _post(action_server, _form_call("validate_complaint_form", sender, "Peshawar",
                                                   "SM" + "3" * 32, {"requested_slot": "district"}), **auth)
    assert status == 200 and _slot_events(body) == {"district": "PSW"} and body["responses"] == []
    status, body = _post(action_server, _form_call("validate_complaint_form", sender, "pipes",
                                                   "SM" + "4" * 32, {"description": None,
                                                                     "requested_slot": "description"}), **auth)
    assert status == 200 and _slot_events(body) == {"description": None}
    assert [r["response"] for r in body["responses"]] == ["description_too_short"]
    status, body = _post(action_server, _form_call("action_submit_complaint", sender, "Near the main bazaar",
                                                   "SM" + "5" * 32, FILED_SLOTS, active=False), **auth)
    assert status == 200
    [registered] = body["responses"]
    assert registered["response"] == "complaint_registered" and registered["sla_days"] == 3
    assert _slot_events(body) == dict.fromkeys(("description", "district", "category", "location_detail"))
    with rt.sessions() as s:
        complaint = s.scalars(select(Complaint)).one()
        assert registered["tracking"] == display(complaint.tracking_number)
        assert (complaint.channel, complaint.district_code, complaint.category_code, complaint.department_code,
                complaint.state) == ("whatsapp", "PSW", "POLICE_FIR", "POLICE", "submitted")
        assert complaint.due_at is not None
        assert [e.kind for e in complaint.events] == ["submitted"]
    # The complainant's own status question names it; another sender asking for it learns nothing.
    status, body = _post(action_server, _call("action_complaint_status", sender, registered["tracking"],
                                              "SM" + "6" * 32), **auth)
    assert [r["response"] for r in body["responses"]] == ["status"]
    assert body["responses"][0]["tracking"] == registered["tracking"]
    status, body = _post(action_server, _call("action_complaint_status", "sms:+923339999999",
                                              registered["tracking"], "SM" + "7" * 32), **auth)
    assert status == 200 and [r["response"] for r in body["responses"]] == ["status_not_found"]


def test_the_form_validator_reads_its_slots_from_the_tracker_it_is_given(rt):
    """The same classes in-process: the answer is validated from the call's tracker alone."""
    executor = _executor(rt)
    calls = [_form_call("validate_complaint_form", f"whatsapp:+92300123456{i}", text, f"SM{i}" + "8" * 31,
                        {"requested_slot": "district"}) for i, text in enumerate(("Kohat", "Peshawar"))]

    async def both():
        return await asyncio.gather(*(executor.run(call) for call in calls))

    results = asyncio.run(both())
    assert [{e["name"]: e["value"] for e in r.events} for r in results] == [{"district": "KHT"}, {"district": "PSW"}]


def test_an_action_given_a_tracker_of_no_open_turn_refuses(rt):
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher
    from rasa_sdk.interfaces import ActionExecutionRejection

    from conversation.actions import ActionSubmitComplaint, OpenTurns

    call = _form_call("action_submit_complaint", "whatsapp:+923001234567", "Near the main bazaar",
                      "SM" + "9" * 32, FILED_SLOTS, active=False)
    with pytest.raises(ActionExecutionRejection):
        asyncio.run(ActionSubmitComplaint(OpenTurns()).run(CollectingDispatcher(),
                                                           Tracker.from_dict(call["tracker"]), call["domain"]))
    with rt.sessions() as s:
        assert s.scalar(select(func.count(Complaint.id))) == 0
