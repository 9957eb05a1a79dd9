"""What an officer does on a case page. Each action finds the case within the officer's
scope (404 otherwise: nothing changes), refuses viewers (403), changes the complaint only
through storage.lifecycle / conversation.casework, and queues what the citizen must hear
for delivery on their own channel."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from conversation import casework, reroute
from gateway import jobs, reply_media
from gateway.auth import require_roles
from gateway.blueprints import dashboard_replies as replies
from gateway.blueprints import dashboard_view as view
from gateway.blueprints.dashboard import bp, case_context, citizen_lang, with_scans
from storage import audit, lifecycle, scope
from storage.db import transaction
from storage.messages import requeue_failed
from storage.models import Message, User

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


def _act(number: str, change, *, done: str | None = None, action: str | None = None,
         back: str | None = None) -> object:
    """Run ``change(db, complaint)`` on the case in one transaction; deliver what it queued.

    ``action`` (a key of dashboard_replies.ACTIONS) is refused unless the case's state allows
    it; ``done`` is the confirmation flashed when it worked. Returns a response: back to the
    case (or to ``back``), or to the queue when the case left the scope.
    """
    rt = view.rt()
    queued: list[int] = []
    try:
        with transaction(rt.sessions) as db:
            complaint = view.find_case(db, number, for_update=True)
            view.require_act()
            if action and not replies.allowed(action, complaint):
                raise ActionError(view.t("not_now").format(state=complaint.state.replace("_", " ")))
            result = change(db, complaint)
            db.flush()
            queued = [m.id for m in (result if isinstance(result, list) else [result]) if m is not None]
    except (ActionError, lifecycle.TransitionError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.case", number=number), 303)
    for message_id in queued:
        rt.queue.enqueue(jobs.deliver, message_id)
    if done:
        flash(done, "ok")
    with rt.sessions() as db:
        still_visible = view.find_case_or_none(db, number)
    if not still_visible:
        flash(view.t("done_left_scope"), "ok")
        return redirect(back or url_for("dashboard.queue"), 303)
    return redirect(back or url_for("dashboard.case", number=number), 303)


def _draft_key(number: str) -> str:
    return f"reply_draft:{number}"


@bp.post("/cases/<number>/reply")
@require_roles(*view.DASHBOARD_ROLES)
def reply(number: str):
    """Free text, or a canned reply (sent in the citizen's language). Text that looks written
    in another language than the citizen's is held back once with a warning (the draft
    stays in the form); sending it again as it is goes out."""
    def change(db, complaint):
        lang = citizen_lang(db, complaint)
        key = request.form.get("canned", "").strip()
        text = _text("text", "The reply", required=not key)
        if key:
            canned = replies.canned_text(complaint.department_code, key, lang)
            if canned is None:
                raise ActionError("choose a canned reply of this department")
            text = f"{canned}\n{text}" if text else canned
        elif replies.language_mismatch(text, lang) and request.form.get("any_language") != "1":
            session[_draft_key(number)] = text
            raise ActionError(view.t("language_warning").format(lang=lang))
        upload = request.files.get("file")
        data = upload.read(reply_media.MAX_BYTES + 1) if upload and upload.filename else b""
        if data:
            try:
                reply_media.sniff(data)
            except reply_media.UploadRefused as exc:
                raise ActionError(str(exc)) from None
        session.pop(_draft_key(number), None)
        message = casework.message_citizen(db, complaint, _actor(), text, prefix=view.prefix())
        if data:
            db.flush()
            reply_media.attach(db, view.rt().attachments_dir, message, data, upload.filename)
        return message
    return _act(number, change, done=view.t("done_reply"), action="reply")


@bp.post("/cases/<number>/messages/<int:message_id>/retry")
@require_roles(*view.DASHBOARD_ROLES)
def retry(number: str, message_id: int):
    """Send a dead letter of this case again (after its last attempt failed), noted on the
    timeline with who asked."""
    def change(db, complaint):
        message = db.get(Message, message_id)
        if message is None or message.complaint_id != complaint.id or not requeue_failed(db, message):
            raise ActionError(view.t("retry_refused"))
        lifecycle.note(db, complaint, _actor(), f"{message.channel}: {message.kind or 'reply'}",
                       kind="message_retried")
        return message
    return _act(number, change, done=view.t("done_retry"))


@bp.post("/cases/<number>/note")
@require_roles(*view.DASHBOARD_ROLES)
def note(number: str):
    def change(db, complaint):
        lifecycle.note(db, complaint, _actor(), _text("text", "The note"))
    return _act(number, change, done=view.t("done_note"))


@bp.post("/cases/<number>/assign")
@require_roles(*view.DASHBOARD_ROLES)
def assign(number: str):
    def change(db, complaint):
        department = request.form.get("department", "").strip().upper() or None
        user_id = request.form.get("user_id", "").strip()
        if user_id and not user_id.isdigit():
            raise ActionError("choose an officer of the case's department and district")
        if department and department != complaint.department_code \
                and not scope.can_triage(current_user, complaint):
            abort(403)
        try:
            return reroute.assign_or_transfer(
                db, complaint, _actor(), department=department, user_id=int(user_id) if user_id else None,
                reason=_text("reason", "The reason", required=False) or None,
                category=request.form.get("category", "").strip().upper() or None,
                knowledge=view.rt().conversation_knowledge(db), prefix=view.prefix())
        except reroute.RerouteRefused as exc:
            raise ActionError(str(exc)) from None
    return _act(number, change, done=view.t("done_assign"), action="assign")


@bp.post("/cases/<number>/start")
@require_roles(*view.DASHBOARD_ROLES)
def start(number: str):
    def change(db, complaint):
        actor = _actor()
        if complaint.state == "submitted":
            lifecycle.assign(db, complaint, actor, user_id=current_user.id)
        lifecycle.start_work(db, complaint, actor)
    return _act(number, change, done=view.t("done_start"), action="start")


@bp.post("/cases/<number>/ask")
@require_roles(*view.DASHBOARD_ROLES)
def ask(number: str):
    def change(db, complaint):
        question = _text("question", "The question")
        return casework.ask_for_information(db, complaint, _actor(), question, prefix=view.prefix())
    return _act(number, change, done=view.t("done_ask"), action="ask")


@bp.post("/cases/<number>/resolve")
@require_roles(*view.DASHBOARD_ROLES)
def resolve(number: str):
    def change(db, complaint):
        outcome = request.form.get("outcome", "relief_granted")
        if outcome not in OUTCOMES:
            raise ActionError("choose an outcome")
        text = _text("note", "The note for the citizen")
        return casework.resolve(db, complaint, _actor(), text, outcome, prefix=view.prefix())
    return _act(number, change, done=view.t("done_resolve"), action="resolve")


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
    return _act(number, change, done=view.t("done_confidential"))



@bp.post("/bulk-assign")
@require_roles(*view.DASHBOARD_ROLES)
def bulk_assign():
    """Hand the ticked cases of the queue to one officer: each case found in the signed-in
    user's scope (others are skipped, as if they did not exist), each an assignment on its
    own timeline, all in one transaction."""
    view.require_act()
    numbers = [n for n in request.form.getlist("numbers") if n][:200]
    user_id = request.form.get("user_id", "")
    back = url_for("dashboard.queue")
    if not numbers or not user_id.isdigit():
        flash(view.t("bulk_choose"), "error")
        return redirect(back, 303)
    done = 0
    with transaction(view.rt().sessions) as db:
        target = db.get(User, int(user_id))
        for number in numbers:
            complaint = view.find_case_or_none(db, number)
            if (complaint is None or target is None or not target.active
                    or target.role not in ("officer", "department_head")
                    or target.department_code != complaint.department_code
                    or (target.role == "officer" and complaint.district_code
                        and target.district_code != complaint.district_code)
                    or not replies.allowed("assign", complaint)
                    or complaint.assigned_user_id == target.id):
                continue
            lifecycle.assign(db, complaint, _actor(), user_id=target.id)
            done += 1
    flash(view.t("bulk_done").format(done=done, total=len(numbers)), "ok" if done else "error")
    return redirect(back, 303)
