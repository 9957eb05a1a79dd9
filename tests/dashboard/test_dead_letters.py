"""Dead letters on the case page: a message to the citizen that failed its last attempt is
shown as failed with its reason, and an officer of the case can send it again (noted on the
timeline); nobody else can."""

from __future__ import annotations

from channels import registry
from channels.delivery import PermanentError
from conversation import casework
from gateway import jobs
from storage import lifecycle
from storage.db import transaction
from storage.models import Complaint, ComplaintEvent, Message

from .conftest import csrf, file_complaint, login


def _failed_reply(rt, monkeypatch, case) -> int:
    def refuse(outgoing):
        raise PermanentError("63016 outside the 24-hour window")

    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, case.id)
        message = casework.message_citizen(s, complaint, lifecycle.Actor("officer", None, "cli"),
                                           "A team will visit tomorrow")
        s.flush()
        message_id = message.id
    with monkeypatch.context() as m:
        m.setattr(registry, "sender_for", lambda *a, **k: refuse)
        jobs.deliver(message_id)
    with rt.sessions() as s:
        assert s.get(Message, message_id).status == "failed"
    return message_id


def _status(rt, message_id: int) -> str:
    with rt.sessions() as s:
        return s.get(Message, message_id).status


def test_an_officer_sends_a_failed_message_again_from_the_case_page(rt, app, staff, monkeypatch):
    case = file_complaint(rt)
    message_id = _failed_reply(rt, monkeypatch, case)
    officer = login(app, "officer_psw")
    page = officer.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert f'id="retry-{message_id}"' in page and "63016" in page
    r = officer.post(f"/dashboard/cases/{case.number}/messages/{message_id}/retry",
                     data={"csrf_token": csrf(officer, f"/dashboard/cases/{case.number}")})
    assert r.status_code == 303
    assert _status(rt, message_id) == "queued"
    rt.queue.run_due()
    assert _status(rt, message_id) == "delivered"
    with rt.sessions() as s:
        event = s.query(ComplaintEvent).filter_by(complaint_id=case.id, kind="message_retried").one()
        assert event.actor_user_id == staff["officer_psw"]
    page = officer.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert f'id="retry-{message_id}"' not in page and "message sent again" in page


def test_nobody_outside_the_case_sends_it_again_nor_through_another_case(rt, app, staff, monkeypatch):
    case = file_complaint(rt)
    message_id = _failed_reply(rt, monkeypatch, case)
    path = f"/dashboard/cases/{case.number}/messages/{message_id}/retry"
    police = login(app, "officer_police")
    assert police.post(path, data={"csrf_token": csrf(police)}).status_code == 404
    viewer = login(app, "viewer")
    assert viewer.post(path, data={"csrf_token": csrf(viewer)}).status_code == 403
    # an officer of another case of theirs cannot reach this message through it
    other = file_complaint(rt)
    officer = login(app, "officer_psw")
    r = officer.post(f"/dashboard/cases/{other.number}/messages/{message_id}/retry",
                     data={"csrf_token": csrf(officer)})
    assert r.status_code == 303
    assert _status(rt, message_id) == "failed"
    # a message that did not fail is not sent twice
    with rt.sessions() as s:
        delivered = s.query(Message).filter_by(complaint_id=case.id, direction="in").first()
    r = officer.post(f"/dashboard/cases/{case.number}/messages/{delivered.id}/retry",
                     data={"csrf_token": csrf(officer)})
    assert r.status_code == 303 and _status(rt, message_id) == "failed"
    with rt.sessions() as s:
        assert not s.query(ComplaintEvent).filter_by(kind="message_retried").count()
