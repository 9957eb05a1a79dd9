"""/dashboard: the officers' queue, the case page, attachments and live updates.

Every route checks the role (``require_roles``) and the scope (``storage.scope``): a case
outside the signed-in user's department/district is answered 404, exactly like a case that
does not exist. Actions are in dashboard_actions, the performance pages in dashboard_stats.
"""

from __future__ import annotations

import json
import threading
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    session,
    stream_with_context,
)
from flask_login import current_user
from sqlalchemy import func, select

from analytics import live
from analytics import queue as work_queue
from gateway.auth import require_roles
from gateway.blueprints import dashboard_replies as replies
from gateway.blueprints import dashboard_view as view
from storage import audit, saved_filters, scope
from storage import urgency as stored_urgency
from storage.db import transaction
from storage.models import (
    Attachment,
    Citizen,
    Complaint,
    ComplaintEvent,
    Contact,
    Message,
    User,
    utcnow,
)

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
STREAM_SECONDS = 25.0  # then the browser reconnects: no web thread is held for ever
POLL_SECONDS = 1.0
# Each open live page holds one web thread while its stream lasts. `ikhtiyar serve` runs 8
# threads, so at most 4 per process go to streams (app.config["DASHBOARD_MAX_STREAMS"]) and
# pages and actions always have the other 4. A page over the limit is told to come back after
# BUSY_RETRY_MS and is brought up to date then. A stream holds a database connection only for
# its one statement a tick, never while it sleeps.
MAX_STREAMS = 4
BUSY_RETRY_MS = 10_000


@bp.context_processor
def _helpers():
    return {"t": view.t, "lang": view.ui_lang(), "prefix": view.prefix(), "staff": current_user,
            "can_act": current_user.is_authenticated and scope.can_act(current_user)}


@bp.get("/")
@require_roles(*view.DASHBOARD_ROLES)
def queue():
    f = work_queue.QueueFilter.from_args(request.args)
    with view.rt().sessions() as db:
        rows, more = work_queue.queue(db, current_user, f, view.prefix())
        counts = work_queue.facets(db, current_user, f, view.prefix())
        labels = view.labels(db)
        partial = bool(request.args.get("partial"))
        since = None if partial else live.Marks.now(db).token()
        summaries = _summaries(db, rows)
        urgency = stored_urgency.of(db, [c.id for c in rows])
        saved = [] if partial else saved_filters.mine(db, current_user.id)
        assignable = _assignable(db) if scope.can_act(current_user) else []
        triage_count = db.scalar(scope.visible(select(func.count(Complaint.id)), current_user, unsorted=True)
                                 .where(scope.needs_triage(), Complaint.simulated.is_(False)))
    args = {k: v for k, v in request.args.items() if k not in ("page", "partial")}
    template = "dashboard_queue_list.html" if partial else "dashboard_queue.html"
    return render_template(template, rows=rows, more=more, f=f, counts=counts, labels=labels,
                           args=args, now=utcnow(), statuses=work_queue.STATUSES, live_since=since,
                           summaries=summaries, urgency=urgency, assignable=assignable,
                           triage_count=triage_count,
                           saved=saved, query=saved_filters.clean_query(request.query_string.decode()))


SUMMARY_CHARS = 90


def _summaries(db, rows: list[Complaint]) -> dict[int, str]:
    """The start of each complaint's description, masked as on its case page (the citizen's
    name, numbers and addresses; all of it removed for the department a confidential
    complaint is about)."""
    citizen_ids = {c.citizen_id for c in rows}
    known: dict[int, list] = {cid: [] for cid in citizen_ids}
    if citizen_ids:
        for cit in db.scalars(select(Citizen).where(Citizen.id.in_(citizen_ids))):
            known[cit.id] += [cit.name, cit.cnic]
        for contact in db.scalars(select(Contact).where(Contact.citizen_id.in_(citizen_ids))):
            known[contact.citizen_id].append(contact.address)
    out = {}
    for c in rows:
        shown = view.Shown(hidden=scope.identity_hidden(current_user, c), revealed=False,
                           known=known.get(c.citizen_id, []), places=[c.location_detail])
        text = " ".join((shown.text(c.description) or "").split())
        out[c.id] = text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1].rstrip() + "…"
    return out


def _assignable(db) -> list[User]:
    """Whom this member of staff may hand cases to in bulk: the officers (and head) of their
    department, of their district for an officer; an admin chooses among all."""
    query = select(User).where(User.active.is_(True), User.role.in_(("officer", "department_head")))
    if current_user.role != "admin":
        query = query.where(User.department_code == current_user.department_code)
    if current_user.role == "officer":
        query = query.where((User.district_code == current_user.district_code)
                            | (User.role == "department_head"))
    return list(db.scalars(query.order_by(User.department_code, User.username)))


def _timeline(db, complaint: Complaint, shown: view.Shown) -> list[dict]:
    """The citizen's messages from every channel, the replies with their delivery state,
    and the events, in order; every text as ``shown`` lets this member of staff see it."""
    messages = list(db.scalars(select(Message).where(Message.complaint_id == complaint.id)))
    files: dict[int, list[dict]] = {}
    if not shown.hidden:  # the accused department sees none of the complainant's files
        for a in db.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)
                            .order_by(Attachment.id)):
            files.setdefault(a.message_id or 0, []).append(shown.attachment(a))
        if messages:
            for a in db.scalars(select(Attachment).where(
                    Attachment.message_id.in_([m.id for m in messages]),
                    Attachment.complaint_id.is_(None)).order_by(Attachment.id)):
                files.setdefault(a.message_id, []).append(shown.attachment(a))
    events = list(db.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id)))
    items = [{"at": m.created_at, "type": "message", "message": m, "text": shown.text(m.text),
              "error": shown.detail(m.error), "attachments": files.get(m.id, [])} for m in messages]
    items += [{"at": e.created_at, "type": "event", "event": e, "note": shown.detail(e.note)}
              for e in events]
    if files.get(0):
        items.append({"at": complaint.created_at, "type": "files", "attachments": files[0]})
    items.sort(key=lambda i: (i["at"], 0 if i["type"] == "message" else 1))
    return _collapse_filing(items, events)


# Outbound kinds written by staff: never part of the assistant's filing dialogue.
STAFF_KINDS = {"officer_message", "info_request", "satisfaction_request", "satisfaction_reminder",
               "case_handled_by"}
FILING_GRACE_SECONDS = 5  # the acknowledgement leaves a moment after the complaint is filed


def _collapse_filing(items: list[dict], events: list) -> list[dict]:
    """The assistant's dialogue that filed the complaint ("1", "Peshawar", "yes" and its
    questions) as one card, the complaint's summary, instead of a card per step; the steps
    stay readable inside it, and their files are shown on the card."""
    submitted = next((e for e in events if e.kind == "submitted"), None)
    if submitted is None:
        return items
    until = submitted.created_at.timestamp() + FILING_GRACE_SECONDS
    steps = [i for i in items if i["type"] == "message" and i["at"].timestamp() <= until
             and (i["message"].direction == "in" or i["message"].kind not in STAFF_KINDS)]
    if len(steps) < 2:
        return items
    summary = {"at": steps[0]["at"], "type": "filing", "steps": steps,
               "attachments": [a for step in steps for a in step["attachments"]]}
    kept = [i for i in items if not any(i is step for step in steps)]
    kept.insert(next((n for n, i in enumerate(kept) if i["at"] >= summary["at"]), len(kept)), summary)
    return kept


def with_scans(context: dict) -> dict:
    """The case page's scanned letter: the pages with the words OCR read, masked like every
    other text; none for the department a confidential complaint is about. Called once the
    page's own session is closed (the letters area opens its own)."""
    context["scans"] = _scans(context["c"], context["shown"])
    return context


def _scans(complaint: Complaint, shown: view.Shown) -> list[dict]:
    from gateway.blueprints.letters import letter_scans  # the letters area owns the scans

    if shown.hidden:
        return []
    pages = letter_scans(complaint)
    for page in pages:
        page["lines"] = [[{**w, "text": shown.text(w["text"])} for w in line] for line in page["lines"]]
    return pages


def case_context(db, complaint: Complaint, revealed: bool = False) -> dict:
    hidden = scope.identity_hidden(current_user, complaint)
    citizen = db.get(Citizen, complaint.citizen_id)
    contacts = list(db.scalars(select(Contact).where(Contact.citizen_id == complaint.citizen_id)
                               .order_by(Contact.id)))
    show = revealed and not hidden
    shown = view.Shown(hidden=hidden, revealed=show,
                       known=[citizen.name, citizen.cnic, *(c.address for c in contacts)],
                       places=[complaint.location_detail])
    name = None
    if citizen.name and not hidden:
        name = citizen.name if show else view.mask_name(citizen.name)
    identity = {
        "name": name,
        "cnic": None if hidden or not citizen.cnic else (citizen.cnic if show else view.mask_cnic(citizen.cnic)),
        "contacts": [] if hidden else [
            {"channel": c.channel, "address": c.address.removeprefix("sim:") if show
             else view.mask_address(c.address), "simulated": c.simulated} for c in contacts],
    }
    officers = list(db.scalars(select(User).where(
        User.active.is_(True), User.role.in_(("officer", "department_head")),
        User.department_code == complaint.department_code).order_by(User.username)))
    officers = [u for u in officers if u.role == "department_head" or complaint.district_code is None
                or u.district_code == complaint.district_code]
    labels = view.labels(db)
    case = {"description": shown.text(complaint.description),
            # Where the complainant lives or stood tells who they are: not for the accused.
            "location": None if hidden else shown.text(complaint.location_detail),
            "latitude": None if hidden else complaint.latitude,
            "longitude": None if hidden else complaint.longitude}
    return {"c": complaint, "case": case, "items": _timeline(db, complaint, shown),
            "shown": shown, "identity": identity,
            "hidden": hidden, "revealed": show, "officers": officers, "labels": labels,
            "departments": sorted(labels.department.items(), key=lambda kv: kv[1]),
            "reveals": audit.reveals(db, complaint.id)[:5] if show else [],
            "actions": replies.available(complaint), "citizen_lang": citizen_lang(db, complaint),
            "canned": replies.canned(complaint.department_code),
            "draft": session.get(f"reply_draft:{complaint.tracking_number}", ""),
            "can_triage": scope.can_triage(current_user, complaint),
            "urgency": stored_urgency.of(db, [complaint.id]).get(complaint.id),
            "grouped": _grouped(db), "now": utcnow()}


def citizen_lang(db, complaint: Complaint) -> str:
    from storage.models import Conversation

    conversation = db.scalars(select(Conversation).where(
        Conversation.contact_id == complaint.contact_id)).first()
    return (conversation.language if conversation else None) or complaint.language or "en"


def _grouped(db) -> list:
    from gateway.blueprints.dashboard_triage import categories_by_department

    return categories_by_department(db)


@bp.get("/cases/<number>")
@require_roles(*view.DASHBOARD_ROLES)
def case(number: str):
    with view.rt().sessions() as db:
        complaint = view.find_case(db, number)
        context = case_context(db, complaint)
        partial = bool(request.args.get("partial"))
        if not partial:
            context["live_since"] = live.Marks.now(db).token()
    template = "dashboard_case_live.html" if partial else "dashboard_case.html"
    return render_template(template, **with_scans(context))


@bp.get("/cases/<number>/attachments/<int:attachment_id>")
@require_roles(*view.DASHBOARD_ROLES)
def attachment(number: str, attachment_id: int):
    rt = view.rt()
    with transaction(rt.sessions) as db:
        complaint = view.find_case(db, number)
        found = db.get(Attachment, attachment_id)
        if found is None:
            abort(404)
        owner = found.complaint_id
        if owner is None and found.message_id is not None:
            owner = db.scalar(select(Message.complaint_id).where(Message.id == found.message_id))
        if owner != complaint.id:  # an attachment of another case is "not found" here
            abort(404)
        if scope.identity_hidden(current_user, complaint):
            abort(403)  # the complainant's files are not for the department they accuse
        root = rt.attachments_dir.resolve()
        path = (root / found.path).resolve()
        content_type, filename = found.content_type, found.filename
        if root not in path.parents or not path.is_file():
            abort(404)
        audit.record(db, audit.DOWNLOAD, user_id=current_user.id, complaint_id=complaint.id,
                     remote_addr=request.remote_addr, attachment=found.id)
    inline = content_type.split("/")[0] in ("image", "audio") or content_type == "application/pdf"
    response = send_file(path, mimetype=content_type, as_attachment=not inline,
                         download_name=filename or path.name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/media/<token>")
def reply_file(token: str):
    """A file an officer attached to a reply, for the provider that delivers it (Twilio
    fetches WhatsApp media by URL, without a session): only with a link this gateway signed,
    not expired, and only files of outbound replies. Anything else is "not found"."""
    from gateway import reply_media

    rt = view.rt()
    attachment_id = reply_media.from_token(rt.settings.secret_key_bytes(), token)
    if attachment_id is None:
        abort(404)
    with rt.sessions() as db:
        found = db.get(Attachment, attachment_id)
        message = db.get(Message, found.message_id) if found and found.message_id else None
        if message is None or message.direction != "out":
            abort(404)
        root = rt.attachments_dir.resolve()
        path = (root / found.path).resolve()
        content_type, filename = found.content_type, found.filename
    if root not in path.parents or not path.is_file():
        abort(404)
    response = send_file(path, mimetype=content_type, download_name=filename or path.name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/stream")
@require_roles(*view.DASHBOARD_ROLES)
def stream():
    """Server-sent events: "changed" when a case in scope (or the one case asked for) gets a
    message, a change or a delivery update; the page then fetches its fresh part.

    The page's marks (``since``, rendered into the page) travel as the event id, so the
    browser's reconnection (``Last-Event-ID``) carries on exactly where it left off. Each
    tick is one statement (analytics.live); see MAX_STREAMS for the bound on threads.
    """
    rt = view.rt()
    complaint_id = None
    with rt.sessions() as db:
        if request.args.get("case"):
            complaint_id = view.find_case(db, request.args["case"]).id
        marks = (live.Marks.from_token(request.headers.get("Last-Event-ID"))
                 or live.Marks.from_token(request.args.get("since")) or live.Marks.now(db))
    user = current_user._get_current_object()
    slots = current_app.extensions.setdefault("dashboard_streams", threading.BoundedSemaphore(
        current_app.config.get("DASHBOARD_MAX_STREAMS", MAX_STREAMS)))

    def events():
        nonlocal marks
        if not slots.acquire(blocking=False):
            # Every stream thread is taken: come back later, marks in hand.
            yield f"retry: {BUSY_RETRY_MS}\nid: {marks.token()}\nevent: busy\ndata: {{}}\n\n"
            return
        try:
            yield f"retry: 1000\nid: {marks.token()}\nevent: ready\ndata: {{}}\n\n"
            deadline = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                with rt.sessions() as db:
                    marks, changed = live.activity(db, user, marks, complaint_id)
                if changed:
                    data = json.dumps({"at": marks.changed_at.isoformat()})
                    yield f"id: {marks.token()}\nevent: changed\ndata: {data}\n\n"
                else:
                    yield ": keep-alive\n\n"
        finally:
            slots.release()

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@bp.post("/language")
@require_roles(*view.DASHBOARD_ROLES)
def language():
    lang = request.form.get("lang", "en")
    session["ui_lang"] = lang if lang in view.UI_LANGUAGES else "en"
    back = request.form.get("next", "")
    return redirect(back if back.startswith("/dashboard") else "/dashboard/", 303)


def init_app(app) -> None:
    # Their routes join this blueprint when imported (once, before the first registration).
    from gateway.blueprints import (  # noqa: F401
        dashboard_actions,
        dashboard_filters,
        dashboard_stats,
        dashboard_triage,
    )

    app.register_blueprint(bp)
