"""Every route of the app (read from its URL map, so a new route is covered the day it is
added) tried by every kind of visitor, on a case in their scope, out of it and confidential:
the status code is the one the table below expects, and a refused request changes nothing.
Issue 10, "route x role x scope matrix"."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from storage.db import transaction
from storage.models import Complaint, ComplaintEvent, Message

from . import privacy
from .conftest import csrf, login

# anonymous, officer in scope, officer out of scope (other district), officer of another
# department, department head in scope and of another department, clerk, viewer, admin.
ROLES = ("anonymous", "officer_psw", "officer_mdn", "officer_police", "head_phed", "head_police",
         "clerk", "viewer", "admin2")
IN_SCOPE = {"officer_psw", "head_phed", "viewer", "admin2"}
ACCUSED = {"officer_psw", "head_phed"}  # the department a confidential case is about
DASHBOARD = {"officer_psw", "officer_mdn", "officer_police", "head_phed", "head_police", "viewer", "admin2"}
ACTORS = {"officer_psw", "officer_mdn", "officer_police", "head_phed", "head_police", "admin2"}
LOGIN = 302  # signed out: sent to the login page
OK, REFUSED, FORBIDDEN, GONE = 200, 404, 403, (403, 404)


def _case_read(role: str, variant: str) -> object:
    if role == "anonymous":
        return LOGIN
    if role not in DASHBOARD:
        return FORBIDDEN
    return OK if role in IN_SCOPE else REFUSED


def _case_file(role: str, variant: str) -> object:
    if variant == "confidential" and role in ACCUSED:
        return GONE  # the complainant's files are not for the accused department
    return _case_read(role, variant)


def _case_action(role: str, variant: str) -> object:
    """An empty form: refused before anything is looked at, or sent back to the case with
    the reason (303), never a change."""
    if role == "anonymous":
        return (400, LOGIN)  # no CSRF token in a signed-out session
    if role not in DASHBOARD:
        return FORBIDDEN
    if role not in IN_SCOPE:
        return REFUSED
    return 303 if role in ACTORS else FORBIDDEN


def _reveal(role: str, variant: str) -> object:
    expected = _case_action(role, variant)
    if expected == 303:
        return FORBIDDEN if variant == "confidential" and role in ACCUSED else OK
    return expected


def _scan(role: str, variant: str) -> object:
    if role == "anonymous":
        return LOGIN
    if role in ("clerk", "admin2"):  # the clerk entered it; admins see every letter
        return OK
    return _case_file(role, variant)


def _clerks(role: str, variant: str, ok: object = OK) -> object:
    if role == "anonymous":
        return LOGIN
    return ok if role in ("clerk", "admin2") else FORBIDDEN


def _clerks_post(role: str, variant: str, ok: object) -> object:
    if role == "anonymous":
        return (400, LOGIN)
    return ok if role in ("clerk", "admin2") else FORBIDDEN


def _staff(ok: object):
    def rule(role: str, variant: str) -> object:
        if role == "anonymous":
            return LOGIN
        return ok if role in DASHBOARD else FORBIDDEN
    return rule


def _always(status: object):
    return lambda role, variant: status


def _by_level(levels: set[str]):
    def rule(role: str, variant: str) -> object:
        if role == "anonymous":
            return LOGIN
        return OK if role in levels else FORBIDDEN
    return rule


# endpoint -> rule(role, variant) -> the status (or statuses) expected. A new endpoint fails
# the test until it is classified here.
EXPECT = {
    "static": _always(REFUSED),  # no such static file (the test asks for a made-up name)
    "favicon": _always(OK),  # public: the site icon
    "health.healthz": _always(OK), "health.readyz": _always(OK), "metrics.metrics": _always(OK),
    "track.track": _always(OK),  # public status, no personal data (asserted below)
    "voice.prompt_audio": _always(REFUSED),  # no such prompt file
    "auth.login": _always((OK, 400, 401, 429)),  # the page; an empty form is refused (429: too many)
    "auth.logout": lambda role, variant: (400, 302),
    # One's own password: signed in only; an empty form is refused (422), nothing changes.
    "auth.password": lambda role, variant: (LOGIN, 400) if role == "anonymous" else (OK, 422),
    "simulator.page": _always(OK), "simulator.thread": _always(400),
    "simulator.send": _always(400), "simulator.call_start": _always(400),
    "simulator.call_keys": _always(400), "simulator.call_record": _always(400),
    "simulator.call_hangup": _always(400),
    # Twilio's webhooks: no valid signature, refused.
    "twilio_webhooks.whatsapp_inbound": _always(403), "twilio_webhooks.sms_inbound": _always(403),
    "twilio_webhooks.delivery_status": _always(403), "voice.incoming_call": _always(403),
    "voice.step": _always(403), "voice.recording_status": _always(403), "voice.call_status": _always(403),
    "voice.placed_call": _always(403), "voice.placed_call_status": _always(403),
    # One-click answers: a forged token is refused.
    "email_links.confirm": _always((400, 403, 404)), "email_links.record": _always((400, 403, 404)),
    # Public pages, the citizens' app shell and Open311's read side.
    "front.home": _always(OK), "front.track_search": _always(303),  # to /track/<number> or home
    "app_pwa.shell": _always(OK), "app_pwa.script": _always(OK), "app_pwa.manifest": _always(OK),
    "app_pwa.service_worker": _always(OK), "app_pwa.icon": _always((OK, REFUSED)),
    "open311.discovery": _always(OK), "open311.services": _always(OK),
    "open311.service_definition": _always((OK, REFUSED)), "open311.list_requests": _always(OK),
    "open311.show_request": _always((OK, REFUSED)), "open311.show_token": _always(REFUSED),
    "open311.create_request": _always((400, 401, 403)),  # no api_key
    "api.categories": _always(OK), "api.districts": _always(OK), "api.docs": _always(OK),
    "api.openapi": _always(OK),
    "api.request_code": _always((400, 415, 422)), "api.verify_code": _always((400, 415, 422)),
    # The JSON API takes bearer tokens only, never a browser's session (no CSRF there).
    **{f"api.{name}": _always(401) for name in (
        "sign_out", "my_complaints", "file_complaint", "my_complaint", "add_attachment", "add_information",
        "answer_satisfaction", "staff_queue", "staff_case", "staff_assign", "staff_note", "staff_reply",
        "staff_request_information", "staff_resolve")},
    "dashboard.queue": _staff(OK), "dashboard.stream": _staff(OK),
    "dashboard.department": _by_level({"officer_psw", "officer_mdn", "officer_police", "head_phed",
                                       "head_police", "viewer", "admin2"}),
    "dashboard.department_csv": _by_level({"officer_psw", "officer_mdn", "officer_police", "head_phed",
                                           "head_police", "viewer", "admin2"}),
    "dashboard.province": _by_level({"viewer", "admin2"}),
    "dashboard.province_csv": _by_level({"viewer", "admin2"}),
    "dashboard.language": lambda role, variant: (400, LOGIN) if role == "anonymous"
    else (303 if role in DASHBOARD else FORBIDDEN),
    "dashboard.case": _case_read, "dashboard.attachment": _case_file,
    "dashboard.reply": _case_action, "dashboard.note": _case_action, "dashboard.retry": _case_action, "dashboard.assign": _case_action,
    "dashboard.ask": _case_action, "dashboard.resolve": _case_action, "dashboard.reveal": _reveal,
    "dashboard.start": _case_action, "dashboard.confidential": _case_action,
    # Triage (issue 15): the queue of complaints without a department or category; one-click
    # categorising is a case action; bulk assignment refuses an empty form (303 back).
    # A reply's file for the provider: only with a link the gateway signed (a forged one: 404).
    "dashboard.reply_file": _always(REFUSED),
    # Saved queue filters are each user's own: an empty name is refused back to the queue
    # (303); deleting a filter that is not one's own is "not found".
    "dashboard.save_filter": lambda role, variant: (400, LOGIN) if role == "anonymous"
    else (303 if role in DASHBOARD else FORBIDDEN),
    "dashboard.delete_filter": lambda role, variant: (400, LOGIN) if role == "anonymous"
    else (REFUSED if role in DASHBOARD else FORBIDDEN),
    "dashboard.triage": _staff(OK), "dashboard.categorise": _case_action,
    "dashboard.bulk_assign": lambda role, variant: (400, LOGIN) if role == "anonymous"
    else (303 if role in ACTORS else FORBIDDEN),
    "letters.index": _clerks, "letters.status": _clerks,
    "letters.confirm": lambda role, variant: (LOGIN, 400) if role == "anonymous"
    else ((OK, 422) if role in ("clerk", "admin2") else FORBIDDEN),  # an empty answer: 422
    "letters.review": _clerks, "letters.acknowledgement_pdf": _clerks,
    "letters.page_image": _scan, "letters.original": _scan,
    "letters.post_pdf": lambda role, variant: _clerks(role, variant, REFUSED),  # not a letter to post
    "letters.upload": lambda role, variant: _clerks_post(role, variant, (302, 303, 400)),
    "letters.submit": lambda role, variant: _clerks_post(role, variant, (400, 409, 422, 303)),
    "letters.read_again": lambda role, variant: _clerks_post(role, variant, (302, 303, 400, 409)),
    "letters.posted": lambda role, variant: _clerks_post(role, variant, REFUSED),
    "letters.acknowledgement_posted": lambda role, variant: _clerks_post(role, variant, (REFUSED, 303)),
    "letters.language": lambda role, variant: _clerks_post(role, variant, (302, 303)),
    # Machine clients sign in with a bearer token, never with a browser's session.
    # Scanning stations: a clerk's token (or session); anyone else is refused.
    "api_letters.create": lambda role, variant: (400, 401) if role == "anonymous"
    else (400 if role in ("clerk", "admin2") else FORBIDDEN),
    # Operators: dead letters and their retry, admins only (a retry queues the message
    # again: no complaint, event or message changes).
    "outbox.failed": _by_level({"admin2"}),
    "outbox.retry": lambda role, variant: (LOGIN, 400) if role == "anonymous"
    else ((202, 409) if role == "admin2" else FORBIDDEN),
    "api_letters.show": lambda role, variant: 401 if role == "anonymous"
    else (OK if role in ("clerk", "admin2") else FORBIDDEN),
    # Issue clusters: the list for every dashboard role; cluster 1 does not exist (404).
    "clusters.index": _staff(OK),
    "clusters.show": lambda role, variant: LOGIN if role == "anonymous"
    else (REFUSED if role in DASHBOARD else FORBIDDEN),
    **{f"clusters.{name}": lambda role, variant: (400, LOGIN) if role == "anonymous"
       else (REFUSED if role in DASHBOARD else FORBIDDEN)
       for name in ("confirm", "split", "reply", "resolve")},
    "reports.weekly": _by_level({"head_phed", "head_police", "viewer", "admin2"}),
}
# Requests that may change something when allowed (their empty form is refused by the page
# itself otherwise): "start", "confidential" and "retry" need no text.
MAY_CHANGE = {"dashboard.start", "dashboard.confidential", "dashboard.language", "letters.language",
              "dashboard.retry",  # the seeded dead letter: an officer of the case may send it again
              "auth.login", "auth.logout"}


def _fill(rule: str, seeded: privacy.Seeded, number: str, scan_id: int) -> str:
    values = {"number": number, "attachment_id": seeded.attachment_id, "letter_id": scan_id,
              "message_id": seeded.outbound_id, "complaint_id": seeded.letter_id, "path": number,
              "token": "forged.token", "lang": "en", "filename": "nope.mp3", "step": "menu",
              "fmt": "json", "code": "PHED_NO_WATER", "size": 192}

    def value(match: re.Match) -> str:
        if match.group(2) == "number" and match.group(1) == "int":
            return "1"  # a letter's page
        return str(values.get(match.group(2), "1"))

    return re.sub(r"<(?:(\w+):)?(\w+)>", value, rule)


def _snapshot(rt) -> tuple:
    with rt.sessions() as s:
        return (tuple(s.execute(select(Complaint.id, Complaint.state, Complaint.department_code,
                                       Complaint.assigned_user_id, Complaint.confidential,
                                       Complaint.escalation_level).order_by(Complaint.id)).all()),
                s.scalar(select(func.count()).select_from(ComplaintEvent)),
                s.scalar(select(func.count()).select_from(Message)))


def _status_ok(status: int, expected: object) -> bool:
    return status in expected if isinstance(expected, tuple) else status == expected


@pytest.mark.parametrize("variant", ["plain", "confidential"])
def test_every_route_answers_every_role_as_the_table_says_and_refusals_change_nothing(
        rt, app, staff, variant):
    seeded = privacy.seed(rt, confidential=variant == "confidential")
    # Signing out last: the session must last through every other route.
    rules = sorted(app.url_map.iter_rules(),
                   key=lambda r: (r.endpoint == "auth.logout", r.endpoint.startswith("auth."), r.rule))
    unclassified = sorted({r.endpoint for r in rules} - set(EXPECT))
    assert unclassified == [], f"classify these endpoints in EXPECT: {unclassified}"
    problems = []
    for role in ROLES:
        client = app.test_client() if role == "anonymous" else login(app, role)
        token = None if role == "anonymous" else csrf(client)
        for rule in rules:
            expected = EXPECT[rule.endpoint](role, variant)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                path = _fill(rule.rule, seeded, seeded.letter if "letters" in rule.endpoint else seeded.chat,
                             seeded.scan_id)
                before = _snapshot(rt)
                if method == "GET":
                    response = client.get(path, buffered=False)
                    status = response.status_code
                    if rule.endpoint == "dashboard.stream" and status == 200:
                        next(iter(response.response), None)
                    response.close()
                else:
                    response = client.post(path, data={"csrf_token": token} if token else {})
                    status = response.status_code
                if method == "GET" and rule.endpoint == "auth.login":
                    pass
                elif not _status_ok(status, expected):
                    problems.append(f"{role} {method} {path} ({rule.endpoint}): {status}, expected {expected}")
                changed = _snapshot(rt) != before
                allowed = 200 <= status < 400 and rule.endpoint in MAY_CHANGE
                if changed and not allowed:
                    problems.append(f"{role} {method} {path} ({rule.endpoint}) changed data ({status})")
                if changed and allowed:  # put the case back for the next request
                    _restore(rt, before)
    assert problems == []


def _restore(rt, snapshot: tuple) -> None:
    with transaction(rt.sessions) as s:
        for cid, state, dept, assigned, confidential, level in snapshot[0]:
            c = s.get(Complaint, cid)
            c.state, c.department_code, c.assigned_user_id = state, dept, assigned
            c.confidential, c.escalation_level = confidential, level
        extra = s.scalars(select(ComplaintEvent).order_by(ComplaintEvent.id.desc())
                          .limit(max(0, s.scalar(select(func.count()).select_from(ComplaintEvent)) - snapshot[1]))).all()
        for e in extra:
            s.delete(e)
