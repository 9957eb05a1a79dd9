"""Open311 GeoReport v2 at ``/open311/v2/``: civic-tech clients (FixMyStreet-style apps)
list the services (our complaint categories), file requests with an ``api_key`` from
``ikhtiyar open311 keys create NAME``, and read requests back, in JSON or XML.

A POSTed request becomes a complaint on channel ``open311`` (filed like the app's, see
conversation.app_intake); with a phone or email the citizen hears about it there. GET
answers carry no personal data: no contact, no name, and a complaint's own words and place
only when it came in through Open311 (published by intent); confidential ones are never
listed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, json, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from channels.open311 import wire
from conversation import app_intake, catalog
from storage import app_access, tracking
from storage.db import transaction
from storage.messages import contact_for
from storage.models import Category, Citizen, Complaint, Department, District, Message

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMATS = ("json", "xml")
MAX_REQUESTS = 1000
DEFAULT_DAYS = 90


def _rt():
    from flask import current_app

    return current_app.extensions["ikhtiyar"]


def _answer(fmt: str, root: str, data, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(wire.to_xml(root, data), status=status, mimetype="text/xml")
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise wire.Open311Error(404, "format must be json or xml")
    return fmt


@bp.errorhandler(wire.Open311Error)
def _error(exc: wire.Open311Error):
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return _answer(fmt, "errors", wire.errors(exc.status, exc.description), exc.status)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return _answer(fmt, "errors", wire.errors(exc.code or 500, exc.name), exc.code or 500)


@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    fmt = _format(fmt)
    base = url_for("open311.discovery", fmt="json", _external=True).rsplit("/", 1)[0] + "/"
    data = {"changeset": "2026-11-30T00:00:00Z", "contact": _rt().settings.mail_address,
            "key_service": "Ask the province's complaints cell for an api_key "
                           "(issued with: ikhtiyar open311 keys create NAME)",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                           "changeset": "2026-11-30T00:00:00Z", "type": "production",
                           "formats": ["text/xml", "application/json"]}]}
    return _answer(fmt, "discovery", data)


def _services(session) -> list[dict]:
    departments = {d.code: d.name_en for d in session.scalars(select(Department))}
    return [{"service_code": c.code, "service_name": c.name_en,
             "description": f"{c.name_en} ({departments[c.department_code]}); "
                            f"the department should act within {c.sla_days} days",
             "metadata": True, "type": "realtime", "keywords": c.department_code.lower(),
             "group": departments[c.department_code]}
            for c in session.scalars(select(Category).order_by(Category.code))]


@bp.get("/services.<fmt>")
def services(fmt: str):
    fmt = _format(fmt)
    with _rt().sessions() as session:
        return _answer(fmt, "services", _services(session))


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    fmt = _format(fmt)
    with _rt().sessions() as session:
        if session.get(Category, code) is None:
            raise wire.Open311Error(404, f"service_code {code} not found")
        districts = list(session.scalars(select(District).order_by(District.name_en)))
    data = {"service_code": code, "attributes": [
        {"variable": True, "code": "district", "datatype": "singlevaluelist", "required": False,
         "datatype_description": "The district; not needed when lat and long are given.",
         "order": 1, "description": "District",
         "values": [{"key": d.code, "name": d.name_en} for d in districts]},
        {"variable": True, "code": "confidential", "datatype": "singlevaluelist", "required": False,
         "datatype_description": "true when the complaint is against an officer or the department itself",
         "order": 2, "description": "Against an officer or this department (confidential)",
         "values": [{"key": "false", "name": "No"}, {"key": "true", "name": "Yes"}]},
    ]}
    return _answer(fmt, "service_definition", data)


# --- requests ----------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _request_view(c: Complaint, names: dict, departments: dict) -> dict:
    """One request without personal data (see the module's docstring)."""
    own = c.channel == "open311"
    prefix = _rt().settings.tracking_prefix
    return {
        "service_request_id": f"{prefix}-{c.tracking_number}",
        "status": "closed" if c.state == "closed" else "open",
        "status_notes": catalog.text("status_" + c.state, "en"),
        "service_name": names.get(c.category_code),
        "service_code": c.category_code,
        "description": c.description if own else None,
        "agency_responsible": departments.get(c.department_code),
        "service_notice": None,
        "requested_datetime": _iso(c.created_at),
        "updated_datetime": _iso(c.updated_at),
        "expected_datetime": _iso(c.due_at),
        "address": c.location_detail if own else None,
        "address_id": None,
        "zipcode": None,
        "lat": c.latitude if own else None,
        "long": c.longitude if own else None,
        "media_url": None,
    }


def _labels(session) -> tuple[dict, dict]:
    return ({c.code: c.name_en for c in session.scalars(select(Category))},
            {d.code: d.name_en for d in session.scalars(select(Department))})


def _date(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise wire.Open311Error(400, f"{name} is not a w3c date-time (2026-11-30T12:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@bp.get("/requests.<fmt>")
def list_requests(fmt: str):
    fmt = _format(fmt)
    args = request.args
    query = select(Complaint).where(Complaint.confidential.is_(False))
    prefix = _rt().settings.tracking_prefix
    if args.get("service_request_id"):
        numbers = [tracking.find(n, prefix).number for n in args["service_request_id"].split(",")[:100]]
        query = query.where(Complaint.tracking_number.in_([n for n in numbers if n]))
    else:
        start, end = _date("start_date"), _date("end_date")
        if start is None and end is None:
            start = datetime.now(UTC) - timedelta(days=DEFAULT_DAYS)
        if start is not None:
            query = query.where(Complaint.created_at >= start)
        if end is not None:
            query = query.where(Complaint.created_at <= end)
        if args.get("service_code"):
            query = query.where(Complaint.category_code.in_(args["service_code"].split(",")))
        status = args.get("status")
        if status == "closed":
            query = query.where(Complaint.state == "closed")
        elif status == "open":
            query = query.where(Complaint.state != "closed")
        elif status:
            raise wire.Open311Error(400, "status is open or closed")
    with _rt().sessions() as session:
        names, departments = _labels(session)
        rows = session.scalars(query.order_by(Complaint.created_at.desc()).limit(MAX_REQUESTS))
        return _answer(fmt, "service_requests", [_request_view(c, names, departments) for c in rows])


@bp.get("/requests/<number>.<fmt>")
def show_request(number: str, fmt: str):
    fmt = _format(fmt)
    found = tracking.find(number, _rt().settings.tracking_prefix)
    with _rt().sessions() as session:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == (found.number or ""), Complaint.confidential.is_(False))).first()
        if complaint is None:
            raise wire.Open311Error(404, f"service_request_id {number} not found")
        names, departments = _labels(session)
        return _answer(fmt, "service_requests", [_request_view(complaint, names, departments)])


@bp.get("/tokens/<token>.<fmt>")
def show_token(token: str, fmt: str):
    fmt = _format(fmt)
    with _rt().sessions() as session:
        message = session.scalars(select(Message).where(
            Message.channel == "open311", Message.provider_id == f"open311-{token}")).first()
        if message is None:
            raise wire.Open311Error(404, f"token {token} not found")
        complaint = session.get(Complaint, message.complaint_id) if message.complaint_id else None
        item = {"service_request_id": (f"{_rt().settings.tracking_prefix}-{complaint.tracking_number}"
                                       if complaint else None), "token": token}
    return _answer(fmt, "service_requests", [item])


@bp.post("/requests.<fmt>")
def create_request(fmt: str):
    fmt = _format(fmt)
    parsed = wire.parse_request(request.form)
    r = _rt()
    token = uuid.uuid4().hex
    with transaction(r.sessions) as session:
        if app_access.find_key(session, parsed.api_key) is None:
            raise wire.Open311Error(403, "api_key is not valid")
        if session.get(Category, parsed.service_code) is None:
            raise wire.Open311Error(404, f"service_code {parsed.service_code} not found")
        knowledge = r.conversation_knowledge(session)
        submission = parsed.submission
        if submission.district is None and submission.latitude is None and parsed.address_string:
            submission = app_intake.Submission(**{**submission.__dict__,
                                                  "district": knowledge.district_in_text(parsed.address_string)})
        try:
            submission = app_intake.check(submission, knowledge, session)
        except app_intake.Refused as exc:
            raise wire.Open311Error(400, f"{exc.field}: {exc.detail}") from None
        if parsed.phone:
            contact = contact_for(session, "sms", parsed.phone)
        elif parsed.email:
            contact = contact_for(session, "email", parsed.email)
        else:  # nobody to write to: news is the request's status (channels.open311.sender)
            contact = contact_for(session, "open311", f"open311:{token}")
        if parsed.name:
            citizen = session.get(Citizen, contact.citizen_id)
            citizen.name = citizen.name or parsed.name
        message, _ = app_intake.store_submission(session, contact, f"open311-{token}", submission,
                                                 channel="open311",
                                                 raw=json.dumps(request.form.to_dict(flat=True)))
        if parsed.media_url:
            message.payload = {**message.payload, "media_url": parsed.media_url}
        complaint = app_intake.file(session, knowledge, r.settings.tracking_prefix, contact, message,
                                    submission)
        number = f"{r.settings.tracking_prefix}-{complaint.tracking_number}"
    return _answer(fmt, "service_requests", [{"service_request_id": number, "token": token,
                                             "service_notice": "", "account_id": None}], 201)
