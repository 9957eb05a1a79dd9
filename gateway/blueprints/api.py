"""``/api/v1``: the JSON API the citizens' app uses (and anyone may), described by the
OpenAPI 3.1 document ``api_openapi.yaml`` served at ``/api/v1/openapi.json`` and browsable
at ``/api/v1/docs``. Staff endpoints are in ``api_staff``; scanning stations' letters in
``api_letters``. Errors are RFC 9457 problem details; lists are paged by cursor."""

from __future__ import annotations

import hashlib
import os
import uuid
from functools import lru_cache
from pathlib import Path

import yaml
from flask import Blueprint, Response, g, json, render_template, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from channels.addresses import AddressError, email_address, phone_e164
from channels.app import inbound
from conversation import app_intake, app_session, catalog
from gateway import jobs
from gateway.blueprints.api_common import (
    Problem,
    bearer,
    body,
    citizen,
    from_http_error,
    page,
    page_params,
    rt,
)
from storage import app_access, lifecycle, tracking
from storage.db import transaction
from storage.models import Attachment, Category, Complaint, Contact, Department, District, Message

bp = Blueprint("api", __name__, url_prefix="/api/v1")
SPEC_FILE = Path(__file__).with_name("api_openapi.yaml")
# Photos (resized by the app), voice notes and documents the app may attach.
ATTACHMENT_TYPES = {
    "image/jpeg": (".jpg", (b"\xff\xd8\xff",)), "image/png": (".png", (b"\x89PNG\r\n\x1a\n",)),
    "image/webp": (".webp", (b"RIFF",)), "audio/ogg": (".ogg", (b"OggS",)),
    "audio/webm": (".webm", (b"\x1aE\xdf\xa3",)), "audio/mp4": (".m4a", (b"\x00\x00\x00",)),
    "application/pdf": (".pdf", (b"%PDF-",)),
}


@bp.errorhandler(HTTPException)
def _problem(exc: HTTPException):
    return from_http_error(exc)


@bp.after_request
def _no_store(response: Response) -> Response:
    # Personal answers must not sit in shared caches; the document itself may.
    if request.endpoint not in ("api.openapi", "api.docs"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# --- the document ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def spec() -> dict:
    return yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))


@bp.get("/openapi.json")
def openapi():
    return Response(json.dumps(spec()), mimetype="application/json",
                    headers={"Cache-Control": "public, max-age=300"})


@bp.get("/docs")
def docs():
    return render_template("api_docs.html", spec_url=url_for("api.openapi"))


# --- reference data (the app's pickers) -----------------------------------------------------


@bp.get("/districts")
def districts():
    with rt().sessions() as session:
        rows = session.scalars(select(District).order_by(District.name_en))
        return {"items": [{"code": d.code, "name": {"en": d.name_en, "ur": d.name_ur, "ps": d.name_ps},
                           "latitude": d.lat, "longitude": d.lon} for d in rows]}


@bp.get("/categories")
def categories():
    with rt().sessions() as session:
        deps = {d.code: d for d in session.scalars(select(Department))}
        rows = session.scalars(select(Category).order_by(Category.code))
        return {"items": [{"code": c.code, "department": c.department_code,
                           "department_name": _names(deps[c.department_code]),
                           "name": _names(c), "sla_days": c.sla_days} for c in rows]}


def _names(row) -> dict:
    return {"en": row.name_en, "ur": row.name_ur, "ps": row.name_ps}


# --- signing in --------------------------------------------------------------------------


def _address(data: dict) -> tuple[str, str, bool]:
    channel = data.get("channel")
    if channel not in app_session.CODE_CHANNELS:
        raise Problem(422, "Invalid field", "'channel' is sms, whatsapp or email", field="channel")
    raw = data.get("address")
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 254:
        raise Problem(422, "Invalid field", "'address' is the phone number or email", field="address")
    try:
        address = email_address(raw) if channel == "email" else phone_e164(raw)
    except AddressError as exc:
        raise Problem(422, "Invalid field", str(exc), field="address") from None
    simulated = data.get("simulated") is True
    if simulated:
        if not rt().settings.simulator_enabled:
            raise Problem(422, "Invalid field", "there is no simulator here", field="simulated")
        address = "sim:" + address  # the simulator's persona, never a real citizen
    return channel, address, simulated


@bp.post("/auth/code")
def request_code():
    data = body()
    channel, address, simulated = _address(data)
    lang = data.get("language") if data.get("language") in catalog.LANGUAGES else "en"
    try:
        with transaction(rt().sessions) as session:
            message = app_session.send_code(session, channel, address, lang, simulated=simulated,
                                            requester=request.remote_addr)
            session.flush()
            message_id = message.id
    except app_access.TooManyCodes as exc:
        raise Problem(429, "Too many codes", "wait before asking for another code",
                      headers={"Retry-After": str(exc.retry_after)}) from None
    rt().queue.enqueue(jobs.deliver, message_id)
    return {"channel": channel, "expires_in": int(app_access.CODE_LIFETIME.total_seconds())}, 202


@bp.post("/auth/verify")
def verify_code():
    data = body()
    channel, address, _ = _address(data)
    code = data.get("code")
    if not isinstance(code, str) or not code.strip().isdigit() or len(code.strip()) != 6:
        raise Problem(422, "Invalid field", "'code' is the six digits you were sent", field="code")
    with transaction(rt().sessions) as session:
        signed_in = app_session.verify_code(session, channel, address, code)
    if signed_in is None:
        raise Problem(401, "Wrong code", "the code is wrong, used or expired; ask for a new one",
                      headers={"WWW-Authenticate": 'Bearer realm="citizen"'})
    return {"token": signed_in.token, "token_type": "Bearer",
            "expires_in": int(app_access.SESSION_LIFETIME.total_seconds())}


@bp.post("/auth/signout")
def sign_out():
    """End this token's session on the server, not only in the app (a shared or lost phone)."""
    citizen()  # 401 for no token or one that no longer works
    with transaction(rt().sessions) as session:
        app_access.end_session(session, bearer())
    return "", 204


# --- my complaints ---------------------------------------------------------------------------


def _shown(number: str) -> str:
    return f"{rt().settings.tracking_prefix}-{number}"


def complaint_view(session, c: Complaint, lang: str = "en") -> dict:
    labels = _labels(session)
    return {
        "tracking_number": _shown(c.tracking_number),
        "state": c.state,
        "status": catalog.text("status_" + c.state, lang),
        "description": c.description,
        "district": c.district_code,
        "district_name": labels["district"].get(c.district_code),
        "department": c.department_code,
        "department_name": labels["department"].get(c.department_code),
        "category": c.category_code,
        "channel": c.channel,
        "confidential": bool(c.confidential),
        "location_detail": c.location_detail,
        "latitude": c.latitude,
        "longitude": c.longitude,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
        "due_at": c.due_at.isoformat() if c.due_at else None,
        "awaiting_your_answer": c.state == "resolved",
        "track_url": url_for("track.track", number=_shown(c.tracking_number), _external=True),
    }


def _labels(session) -> dict:
    """District and department names, read once per request (a page lists up to 100)."""
    if "api_labels" not in g:
        g.api_labels = {"district": dict(session.execute(select(District.code, District.name_en)).all()),
                        "department": dict(session.execute(select(Department.code, Department.name_en)).all())}
    return g.api_labels


def _lang() -> str:
    lang = request.args.get("lang", "en")
    if lang not in catalog.LANGUAGES:
        raise Problem(400, "Bad request", "lang is en, ur or ps")
    return lang


def _mine(session, number: str, *, for_update: bool = False) -> Complaint:
    """The signed-in citizen's complaint with this number, else 404 (someone else's is not
    theirs to see: the same answer as a number that does not exist)."""
    me = citizen()
    found = tracking.find(number, rt().settings.tracking_prefix)
    query = select(Complaint).where(Complaint.tracking_number == (found.number or ""),
                                    Complaint.citizen_id == me.citizen_id)
    if for_update:
        query = query.with_for_update()
    complaint = session.scalars(query).first() if found.number else None
    if complaint is None:
        raise Problem(404, "Not found", "you have no complaint with this tracking number")
    return complaint


def _input(parse, data):
    try:
        return parse(data)
    except inbound.AppInputError as exc:
        raise Problem(422, "Invalid field", exc.detail, field=exc.field) from None


@bp.get("/me/complaints")
def my_complaints():
    me = citizen()
    below, limit = page_params()
    with rt().sessions() as session:
        query = select(Complaint).where(Complaint.citizen_id == me.citizen_id)
        if below is not None:
            query = query.where(Complaint.id < below)
        rows = list(session.scalars(query.order_by(Complaint.id.desc()).limit(limit + 1)))
        result = page(rows, limit, key=lambda c: c.id)
        result["items"] = [complaint_view(session, c, _lang()) for c in result["items"]]
    return result


@bp.post("/me/complaints")
def file_complaint():
    me = citizen()
    data = body()
    client_id = _input(inbound.client_id, data)
    submission = _input(inbound.complaint, data)
    r = rt()
    with transaction(r.sessions) as session:
        knowledge = r.conversation_knowledge(session)
        try:
            submission = app_intake.check(submission, knowledge, session)
        except app_intake.Refused as exc:
            raise Problem(422, "Invalid field", exc.detail, field=exc.field) from None
        contact = session.get(Contact, me.contact_id)
        message, new = app_intake.store_submission(
            session, contact, f"app-{me.citizen_id}-{client_id}", submission, channel="app",
            raw=json.dumps(data))
        complaint = app_intake.file(session, knowledge, r.settings.tracking_prefix, contact, message,
                                    submission)
        view = complaint_view(session, complaint, submission.language)
    return view, 201 if new else 200, {"Location": url_for("api.my_complaint", number=view["tracking_number"])}


@bp.get("/me/complaints/<number>")
def my_complaint(number: str):
    me = citizen()
    with rt().sessions() as session:
        complaint = _mine(session, number)
        view = complaint_view(session, complaint, _lang())
        view["timeline"] = [{**e, "at": e["at"].isoformat()}
                            for e in app_intake.citizen_timeline(session, complaint, me.citizen_id)]
        view["attachments"] = [
            {"id": a.id, "content_type": a.content_type, "size": a.size, "filename": a.filename}
            for a in session.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)
                                     .order_by(Attachment.id))]
    return view


@bp.post("/me/complaints/<number>/information")
def add_information(number: str):
    me = citizen()
    data = body()
    client_id = _input(inbound.client_id, data)
    text = _input(inbound.information, data)
    with transaction(rt().sessions) as session:
        complaint = _mine(session, number, for_update=True)
        if complaint.state == "closed":
            raise Problem(409, "Conflict", "the complaint is closed")
        contact = session.get(Contact, me.contact_id)
        message, new = app_intake.store_citizen_message(session, contact, f"app-{me.citizen_id}-{client_id}",
                                                        text, complaint)
        if new:
            app_intake.add_information(session, complaint, message)
        view = complaint_view(session, complaint)
    return view, 201 if new else 200


@bp.post("/me/complaints/<number>/satisfaction")
def answer_satisfaction(number: str):
    me = citizen()
    data = body()
    client_id = _input(inbound.client_id, data)
    answer = _input(inbound.satisfaction, data)
    with transaction(rt().sessions) as session:
        complaint = _mine(session, number, for_update=True)
        contact = session.get(Contact, me.contact_id)
        provider_id = f"app-{me.citizen_id}-{client_id}"
        if session.scalar(select(Message.id).where(Message.channel == "app",
                                                   Message.provider_id == provider_id)) is not None:
            return complaint_view(session, complaint)  # the same answer sent again: already taken
        if complaint.state != "resolved":
            raise Problem(409, "Conflict", f"the complaint is {complaint.state}, not waiting for your answer")
        text = ("satisfied" if answer.satisfied else "not satisfied") + (f": {answer.reason}" if answer.reason else "")
        message, new = app_intake.store_citizen_message(
            session, contact, provider_id, text, complaint,
            payload={"satisfied": answer.satisfied, "rating": answer.rating, "reason": answer.reason})
        if new:
            try:
                app_intake.answer_satisfaction(session, complaint, message, answer.satisfied, answer.reason)
            except lifecycle.TransitionError as exc:
                raise Problem(409, "Conflict", str(exc)) from None
        view = complaint_view(session, complaint)
    return view


MAX_ATTACHMENT = 2 * 1024 * 1024 - 64 * 1024  # under the app's request limit, with the form's overhead


@bp.post("/me/complaints/<number>/attachments")
def add_attachment(number: str):
    me = citizen()
    upload = request.files.get("file")
    if upload is None:
        raise Problem(400, "Bad request", "send the file as multipart/form-data field 'file'")
    data = upload.read(MAX_ATTACHMENT + 1)
    if len(data) > MAX_ATTACHMENT:
        raise Problem(413, "Too large", f"at most {MAX_ATTACHMENT // 1024} KB; the app resizes photos")
    kind = next((ctype for ctype, (_, magic) in ATTACHMENT_TYPES.items()
                 if upload.mimetype == ctype and data.startswith(magic)), None)
    if kind is None:
        raise Problem(415, "Unsupported type", "send a JPEG, PNG or WebP photo, a voice note or a PDF")
    with transaction(rt().sessions) as session:
        complaint = _mine(session, number)
        if complaint.state == "closed":
            raise Problem(409, "Conflict", "the complaint is closed")
        contact = session.get(Contact, me.contact_id)
        message, _ = app_intake.store_citizen_message(
            session, contact, f"app-{me.citizen_id}-file-{uuid.uuid4().hex}", "", complaint,
            payload={"media": [{"content_type": kind}]})
        relative, digest = _store_file(data, ATTACHMENT_TYPES[kind][0])
        attachment = Attachment(message_id=message.id, complaint_id=complaint.id, content_type=kind,
                                size=len(data), sha256=digest, path=relative,
                                filename=f"app-{digest[:12]}{ATTACHMENT_TYPES[kind][0]}")
        session.add(attachment)
        lifecycle.note(session, complaint, lifecycle.Actor("citizen", channel="app"),
                       "attached a file", kind="citizen_attachment", message=message)
        session.flush()
        result = {"id": attachment.id, "content_type": kind, "size": len(data),
                  "filename": attachment.filename}
    return result, 201


def _store_file(data: bytes, suffix: str) -> tuple[str, str]:
    digest = hashlib.sha256(data).hexdigest()
    relative = f"app/{digest[:2]}/{digest}{suffix}"
    target = Path(rt().attachments_dir) / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return relative, digest
