"""What an officer does on a case page. Each action finds the case within the officer's
scope (404 otherwise: nothing changes), refuses viewers (403), changes the complaint only
through storage.lifecycle / conversation.casework, and queues what the citizen must hear
for delivery on their own channel."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from conversation import casework
from gateway import jobs
from gateway.auth import require_roles
from gateway.blueprints import dashboard_view as view
from gateway.blueprints.dashboard import bp, case_context, with_scans
from storage import audit, lifecycle
from storage.db import transaction
from storage.models import Department, User

MAX_TEXT = 4000
OUTCOMES = ("relief_granted", "partial_relief", "not_possible")


class ActionError(Exception):
    """The form was filled in wrongly; the message says what to fix."""


def _actor() -> lifecycle.Actor:
    kind = current_user.role if current_user.role in lifecycle.STAFF else "officer"
    return lifecycle.Actor(kind, current_user.id, "dashboard")


def _text(name: str, what: str, required: bool = True) -> str:
    value = request.form.get(name, "").strip()
    if required and not value:
        raise ActionError(f"{what} is empty")
    if len(value) > MAX_TEXT:
        raise ActionError(f"{what} is longer than {MAX_TEXT} characters")
    return value


def _act(number: str, change) -> object:
    """Run ``change(db, complaint)`` on the case in one transaction; deliver what it queued.

    Returns a response: back to the case, or to the queue when the case left the scope.
    """
    rt = view.rt()
    queued: list[int] = []
    try:
        with transaction(rt.sessions) as db:
            complaint = view.find_case(db, number, for_update=True)
            view.require_act()
            result = change(db, complaint)
            db.flush()
            queued = [m.id for m in (result if isinstance(result, list) else [result]) if m is not None]
    except (ActionError, lifecycle.TransitionError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.case", number=number), 303)
    for message_id in queued:
        rt.queue.enqueue(jobs.deliver, message_id)
    with rt.sessions() as db:
        still_visible = view.find_case_or_none(db, number)
    if not still_visible:
        flash("Transferred: the case has left your scope.", "ok")
        return redirect(url_for("dashboard.queue"), 303)
    return redirect(url_for("dashboard.case", number=number), 303)


@bp.post("/cases/<number>/reply")
@require_roles(*view.DASHBOARD_ROLES)
def reply(number: str):
    def change(db, complaint):
        text = _text("text", "The reply")
        return casework.message_citizen(db, complaint, _actor(), text, prefix=view.prefix())
    return _act(number, change)


@bp.post("/cases/<number>/note")
@require_roles(*view.DASHBOARD_ROLES)
def note(number: str):
    def change(db, complaint):
        lifecycle.note(db, complaint, _actor(), _text("text", "The note"))
    return _act(number, change)


@bp.post("/cases/<number>/assign")
@require_roles(*view.DASHBOARD_ROLES)
def assign(number: str):
    def change(db, complaint):
        reason = _text("reason", "The reason", required=False) or None
        department = request.form.get("department", "").strip().upper() or None
        if department == complaint.department_code:
            department = None
        user_id = request.form.get("user_id", "").strip()
        target = None
        if department:
            if db.get(Department, department) is None:
                raise ActionError(f"no department with code {department}")
            if not reason:
                raise ActionError("a transfer to another department needs a reason")
        if user_id:
            target = db.get(User, int(user_id)) if user_id.isdigit() else None
            in_dept = department or complaint.department_code
            if (target is None or not target.active or target.role not in ("officer", "department_head")
                    or target.department_code != in_dept
                    or (target.role == "officer" and complaint.district_code
                        and target.district_code != complaint.district_code)):
                raise ActionError("choose an officer of the case's department and district")
        if target is None and not department:
            raise ActionError("choose an officer or another department")
        lifecycle.assign(db, complaint, _actor(), user_id=target.id if target else None,
                         department_code=department, note=reason)
    return _act(number, change)


@bp.post("/cases/<number>/start")
@require_roles(*view.DASHBOARD_ROLES)
def start(number: str):
    def change(db, complaint):
        actor = _actor()
        if complaint.state == "submitted":
            lifecycle.assign(db, complaint, actor, user_id=current_user.id)
        lifecycle.start_work(db, complaint, actor)
    return _act(number, change)


@bp.post("/cases/<number>/ask")
@require_roles(*view.DASHBOARD_ROLES)
def ask(number: str):
    def change(db, complaint):
        question = _text("question", "The question")
        return casework.ask_for_information(db, complaint, _actor(), question, prefix=view.prefix())
    return _act(number, change)


@bp.post("/cases/<number>/resolve")
@require_roles(*view.DASHBOARD_ROLES)
def resolve(number: str):
    def change(db, complaint):
        outcome = request.form.get("outcome", "relief_granted")
        if outcome not in OUTCOMES:
            raise ActionError("choose an outcome")
        text = _text("note", "The note for the citizen")
        return casework.resolve(db, complaint, _actor(), text, outcome, prefix=view.prefix())
    return _act(number, change)


@bp.post("/cases/<number>/reveal")
@require_roles(*view.DASHBOARD_ROLES)
def reveal(number: str):
    """Show the complainant's phone, email and CNIC once, and write that to the audit log."""
    rt = view.rt()
    with transaction(rt.sessions) as db:
        complaint = view.find_case(db, number)
        view.require_act()
        if view.identity_hidden(current_user, complaint):
            abort(403)
        audit.record(db, audit.REVEAL, user_id=current_user.id, complaint_id=complaint.id,
                     remote_addr=request.remote_addr)
    with rt.sessions() as db:
        context = case_context(db, view.find_case(db, number), revealed=True)
    response = render_template("dashboard_case.html", **with_scans(context))
    return response, 200, {"Cache-Control": "no-store"}


@bp.post("/cases/<number>/confidential")
@require_roles(*view.DASHBOARD_ROLES)
def confidential(number: str):
    """Mark a complaint against an officer or the department confidential (anyone who may act);
    only an administrator removes the mark."""
    mark = request.form.get("value", "1") == "1"

    def change(db, complaint):
        if not mark and current_user.role != "admin":
            abort(403)
        if complaint.confidential == mark:
            return None
        complaint.confidential = mark
        audit.record(db, audit.CONFIDENTIAL, user_id=current_user.id, complaint_id=complaint.id,
                     remote_addr=request.remote_addr, value=mark)
        lifecycle.note(db, complaint, _actor(), "marked confidential" if mark else
                       "confidential mark removed", kind="confidential")
    return _act(number, change)

