"""Issue clusters as officers meet them: every complaint filed is offered to clustering by
its own job (whatever channel filed it); the case page says who else reports the same
problem; an officer answers and resolves the whole cluster at once, and each citizen still
confirms or rejects their own resolution; other departments neither see nor act on it."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from storage import lifecycle, tracking
from storage.clusters import IssueCluster
from storage.db import transaction
from storage.messages import contact_for, conversation_for, insert_inbound
from storage.models import Complaint, ComplaintEvent, Message
from tests.analytics.test_duplicates import BURST_MAIN
from tests.citizen import Citizen
from tests.dashboard.conftest import csrf, login

_n = itertools.count(1)
PLACE_REPORTS = BURST_MAIN  # one burst main, reported by WhatsApp, email and letter


def _file(rt, channel: str, address: str, language: str, text: str, place: str | None, *,
          district: str = "PSW", department: str = "PHED", category: str = "PHED_NO_WATER") -> str:
    """A complaint filed as its channel files it (inbound message, contact, conversation,
    submit event); nothing here asks for clustering: the commit queues that job."""
    with transaction(rt.sessions) as s:
        contact = contact_for(s, channel, address)
        conversation_for(s, contact.id)
        message, _ = insert_inbound(s, contact, channel=channel, provider_id=f"wired-{next(_n)}",
                                    text=text, payload={})
        message.status = "processed"
        complaint = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id,
                              contact_id=contact.id, channel=channel, language=language,
                              description=text, location_detail=place, district_code=district,
                              department_code=department, category_code=category)
        actor = lifecycle.Actor("clerk" if channel == "letter" else "citizen", channel=channel)
        lifecycle.submit(s, complaint, message, actor, sla_days=3)
        message.complaint_id = complaint.id
        return complaint.tracking_number


def _file_all(rt) -> list[str]:
    numbers = [_file(rt, *report) for report in PLACE_REPORTS]
    # Complaints the cluster must not take: another district, another department.
    _file(rt, "sms", "+923002220002", "en", PLACE_REPORTS[0][3], PLACE_REPORTS[0][4], district="MDN")
    _file(rt, "sms", "+923003330003", "en", "Thieves broke into shops at night", "Gulbahar mohalla 5",
          department="POLICE", category="POLICE_INACTION")
    rt.queue.run_due()  # the clustering jobs the commits queued
    return numbers


def _cluster_id(rt) -> int:
    with rt.sessions() as s:
        [cluster] = s.scalars(select(IssueCluster)).all()
        return cluster.id


def _states(rt, numbers: list[str]) -> list[str]:
    with rt.sessions() as s:
        return [s.scalar(select(Complaint.state).where(Complaint.tracking_number == n)) for n in numbers]


def test_whatsapp_email_and_letter_reports_of_one_place_show_on_each_case_page(rt, app, staff):
    numbers = _file_all(rt)
    with rt.sessions() as s:
        [cluster] = s.scalars(select(IssueCluster)).all()
        assert cluster.tracking_numbers == numbers  # filed on three channels, one cluster
    officer = login(app, "officer_psw")
    page = officer.get(f"/dashboard/cases/{numbers[0]}").get_data(as_text=True)
    part = page[page.index('id="cluster-others"'):]
    part = part[:part.index("</p>")]
    assert "2 other citizens report this:" in part
    for other in numbers[1:]:
        assert f'href="/dashboard/cases/{other}"' in part and f"KP-{other}" in part
    # Tracking numbers only: nobody's address, number or words.
    for _, address, _, text, place in PLACE_REPORTS:
        assert address not in part and text not in part and place not in part
    listing = officer.get("/dashboard/clusters/").get_data(as_text=True)
    assert f'/dashboard/clusters/{_cluster_id(rt)}"' in listing and "Peshawar" in listing
    assert officer.get(f"/dashboard/clusters/{_cluster_id(rt)}").status_code == 200


def test_an_officer_resolves_the_cluster_and_each_citizen_answers_for_their_own(rt, app, staff):
    numbers = _file_all(rt)
    cluster_id = _cluster_id(rt)
    officer = login(app, "officer_psw")
    token = csrf(officer, f"/dashboard/clusters/{cluster_id}")
    note = "The main line in Gulbahar mohalla 5 was repaired today; water is back."
    response = officer.post(f"/dashboard/clusters/{cluster_id}/resolve",
                            data={"csrf_token": token, "note": note, "outcome": "relief_granted"})
    assert response.status_code == 303
    assert _states(rt, numbers) == ["resolved"] * 3
    with rt.sessions() as s:
        for number in numbers:
            complaint = s.scalar(select(Complaint).where(Complaint.tracking_number == number))
            [event] = s.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id,
                                                             ComplaintEvent.kind == "resolve")).all()
            assert (event.actor_user_id, event.note) == (staff["officer_psw"], note)
            asked = s.scalars(select(Message).where(Message.complaint_id == complaint.id,
                                                    Message.kind == "satisfaction_request")).all()
            assert len(asked) == 1 and note in asked[0].body  # each on their own channel
    rt.queue.run_due()
    # The WhatsApp citizen is satisfied: only their complaint closes.
    Citizen(rt, "whatsapp", PLACE_REPORTS[0][1]).send("yes")
    assert _states(rt, numbers) == ["closed", "resolved", "resolved"]
    # Another citizen's "no" reopens only their own.
    with transaction(rt.sessions) as s:
        complaint = s.scalar(select(Complaint).where(Complaint.tracking_number == numbers[1]))
        contact = contact_for(s, "email", PLACE_REPORTS[1][1])
        answer, _ = insert_inbound(s, contact, channel="email", provider_id="wired-no", text="no",
                                   payload={})
        lifecycle.reject_resolution(s, complaint, answer, "still no water")
    assert _states(rt, numbers) == ["closed", "reopened", "resolved"]
    # The officer cannot close the letter writer's complaint for them.
    assert "satisf" not in " ".join(r.rule for r in app.url_map.iter_rules() if "clusters" in r.rule)


def test_confirm_and_split_a_cluster(rt, app, staff):
    numbers = _file_all(rt)
    cluster_id = _cluster_id(rt)
    officer = login(app, "officer_psw")
    token = csrf(officer, f"/dashboard/clusters/{cluster_id}")
    assert officer.post(f"/dashboard/clusters/{cluster_id}/confirm",
                        data={"csrf_token": token}).status_code == 303
    with rt.sessions() as s:
        assert s.get(IssueCluster, cluster_id).status == "confirmed"
    officer.post(f"/dashboard/clusters/{cluster_id}/split", data={"csrf_token": token, "number": numbers[2]})
    with rt.sessions() as s:
        assert s.get(IssueCluster, cluster_id).tracking_numbers == numbers[:2]
    page = officer.get(f"/dashboard/cases/{numbers[2]}").get_data(as_text=True)
    assert 'id="cluster-others"' not in page
    page = officer.get(f"/dashboard/cases/{numbers[0]}").get_data(as_text=True)
    assert "1 other citizens report this:" in page


def test_another_departments_officer_neither_sees_nor_acts_on_the_cluster(rt, app, staff):
    numbers = _file_all(rt)
    cluster_id = _cluster_id(rt)
    for name in ("officer_police", "head_police", "officer_mdn"):
        outsider = login(app, name)
        token = csrf(outsider)
        assert outsider.get(f"/dashboard/clusters/{cluster_id}").status_code == 404
        assert f"/dashboard/clusters/{cluster_id}\"" not in outsider.get("/dashboard/clusters/").get_data(as_text=True)
        for action, data in (("resolve", {"note": "done", "outcome": "relief_granted"}),
                             ("reply", {"text": "we are on it"}), ("confirm", {}),
                             ("split", {"number": numbers[0]})):
            response = outsider.post(f"/dashboard/clusters/{cluster_id}/{action}",
                                     data={"csrf_token": token, **data})
            assert response.status_code == 404, (name, action)
    assert _states(rt, numbers) == ["submitted"] * 3
    with rt.sessions() as s:
        cluster = s.get(IssueCluster, cluster_id)
        assert (cluster.status, cluster.tracking_numbers) == ("open", numbers)
        assert s.scalars(select(Message).where(Message.direction == "out")).all() == []
    # A viewer sees it but may not act.
    viewer = login(app, "viewer")
    assert viewer.get(f"/dashboard/clusters/{cluster_id}").status_code == 200
    assert viewer.post(f"/dashboard/clusters/{cluster_id}/resolve",
                       data={"csrf_token": csrf(viewer), "note": "x"}).status_code == 403
