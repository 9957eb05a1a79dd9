"""/letters: what clerks do on paper. A citizen's confirmation (or rejection) of a
resolution given on paper or by phone, entered as a confirmation by proxy with the scan of
the answer as evidence; and the letters to print and post to writers without a phone."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.letters import intake, post
from conversation import catalog
from conversation import letters as letter_cases
from gateway import jobs
from gateway.auth import require_roles
from gateway.blueprints.letters import CLERKS, _rt, _transaction, bp, t
from gateway.letters_jobs import limits
from storage import tracking
from storage.letters import Letter
from storage.models import Complaint, Contact, Message


@bp.route("/confirm", methods=["GET", "POST"])
@require_roles(*CLERKS)
def confirm():
    rt = _rt()
    if request.method == "GET":
        return render_template("letters_confirm.html", errors={}, form={}, done=None)
    try:
        evidence = _evidence(rt, request.files.get("evidence"))
        with _transaction(rt) as session:
            done, reply = letter_cases.record_confirmation(
                session, clerk_id=g.staff.id, number=request.form.get("tracking", ""),
                satisfied=request.form.get("answer") == "satisfied",
                via=request.form.get("via", "paper"), note=request.form.get("note", ""),
                evidence=evidence, prefix=rt.settings.tracking_prefix,
                attachments_dir=rt.attachments_dir)
    except letter_cases.ConfirmationError as exc:
        return render_template("letters_confirm.html", errors={exc.field: str(exc)},
                               form=request.form, done=None), 422
    rt.queue.enqueue(jobs.deliver, reply)
    return render_template("letters_confirm.html", errors={}, form={}, done=done)


def _evidence(rt, upload) -> letter_cases.Evidence | None:
    """The scan of the citizen's answer, checked from its bytes like any letter."""
    data = upload.read() if upload and upload.filename else b""
    if not data:
        return None
    try:
        scan = intake.check(data, limits(rt.settings))
    except intake.UploadError as exc:
        raise letter_cases.ConfirmationError("evidence", str(exc)) from None
    return letter_cases.Evidence(upload.filename, data, scan.kind, scan.content_type)


# --- letters to print and post -------------------------------------------------------------------

def _to_post_row(item, prefix: str, unaddressed: bool = False) -> dict:
    if item.message_id is None:
        pdf = url_for("letters.acknowledgement_pdf", letter_id=item.letter_id)
        posted = url_for("letters.acknowledgement_posted", complaint_id=item.complaint_id)
    else:
        pdf = url_for("letters.post_pdf", message_id=item.message_id)
        posted = url_for("letters.posted", message_id=item.message_id)
    what = t(f"kind_{item.kind}")
    return {"id": item.message_id or f"ack-{item.complaint_id}", "pdf": pdf, "posted": posted,
            "what": what if what != f"kind_{item.kind}" else item.kind.replace("_", " ").capitalize(),
            "tracking": tracking.display(item.tracking_number, prefix) if item.tracking_number else "",
            "language": t(f"lang_{item.language}") if item.language in catalog.LANGUAGES else "",
            "since": item.since.strftime("%Y-%m-%d %H:%M"), "unaddressed": unaddressed}


def _unaddressed(session: Session, complaint_ids: set[int | None]) -> set[int]:
    """The complaints whose writer gave neither a name nor an address: their letters have
    nothing to write on the envelope (the mailing label is empty)."""
    ids = {i for i in complaint_ids if i is not None}
    if not ids:
        return set()
    rows = session.execute(select(Complaint.id, Contact.address)
                           .join(Contact, Contact.id == Complaint.contact_id)
                           .where(Complaint.id.in_(ids), Contact.channel == letter_cases.CHANNEL))
    return {complaint_id for complaint_id, address in rows if not post.mailing_label(address or "")}


def _may_post(session: Session, complaint_id: int | None) -> bool:
    """Admins, and the clerk who entered the letter the complaint came from."""
    if g.staff.role == "admin":
        return True
    return complaint_id is not None and session.scalar(select(Letter.id).where(
        Letter.complaint_id == complaint_id, Letter.clerk_id == g.staff.id)) is not None


@bp.get("/post/<int:message_id>.pdf")
@require_roles(*CLERKS)
def post_pdf(message_id: int):
    """The PDF an outbox row became, to print."""
    rt = _rt()
    with rt.sessions() as session:
        message = session.get(Message, message_id)
        if message is None or message.channel != letter_cases.CHANNEL or message.direction != "out" \
                or not _may_post(session, message.complaint_id):
            abort(404)
        path = post.pdf_path(rt.settings.var_dir, message.provider_id)
    if path is None or not path.is_file():
        abort(404)  # not rendered yet (still queued) or never a letter
    response = send_file(path, mimetype="application/pdf", download_name=f"letter-{message_id}.pdf",
                         max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/post/<int:message_id>/posted")
@require_roles(*CLERKS)
def posted(message_id: int):
    """The clerk printed the letter and put it in the post: the outbox row is delivered."""
    with _transaction(_rt()) as session:
        message = session.get(Message, message_id)
        if message is None or not _may_post(session, message.complaint_id):
            abort(404)
        try:
            letter_cases.mark_posted(session, message_id, g.staff.id)
        except letter_cases.NotToPost:
            abort(404)
    return redirect(url_for("letters.index") + "#to-post", 303)


@bp.post("/acknowledgements/<int:complaint_id>/posted")
@require_roles(*CLERKS)
def acknowledgement_posted(complaint_id: int):
    with _transaction(_rt()) as session:
        if not _may_post(session, complaint_id):
            abort(404)
        try:
            letter_cases.mark_acknowledgement_posted(session, complaint_id, g.staff.id)
        except letter_cases.NotToPost:
            abort(404)
    return redirect(url_for("letters.index") + "#to-post", 303)

