"""/letters: the clerks' area for written applications.

Upload a batch of scans (each file checked on its own: a bad one gets its reason and the
rest go on), watch OCR read them, review each letter with the scan beside the text, and
submit it as a complaint. Clerks also enter a citizen's confirmation (or rejection) of a
resolution given on paper or by phone, as a confirmation by proxy with the scan of the
answer as evidence (only for their own letters' complaints, or a complainant with no
digital channel; never by an admin), and print and post the letters for writers without
a phone number ("to post").

The routes parse and check what the browser sent and hand on: ``conversation.letters``
files the complaint and records answers, ``storage`` keeps the letters.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.letters import intake
from conversation import letters as letter_cases
from gateway import jobs
from gateway.auth import require_roles
from gateway.blueprints.dashboard_view import UI_LANGUAGES, ui_lang
from gateway.letters_jobs import letters_dir, limits, read_letter
from storage import audit, scope, tracking
from storage.letters import (
    Letter,
    LetterPage,
    add_letter,
    letters_for,
    letters_to_post,
)
from storage.models import Complaint

bp = Blueprint("letters", __name__, url_prefix="/letters")
CLERKS = ("clerk", "admin")
MAX_FILES_PER_BATCH = 50

# --- interface language (the officers' choice: one switch serves both areas) -------------------

_STRINGS: dict = yaml.safe_load(Path(__file__).with_name("letters_strings.yaml").read_text(encoding="utf-8"))
_REASONS = [(re.compile(r["en"]), r["ur"]) for r in _STRINGS.pop("reasons")]


def t(key: str, **values) -> str:
    """The clerks' interface text ``key`` in the chosen language (English if missing)."""
    entry = _STRINGS.get(key)
    if entry is None:
        return key
    text = entry.get(ui_lang()) or entry["en"]
    return text.format(**values) if values else text


def reason(message: str | None) -> str:
    """A refusal or form error (written in English by the checks) in the chosen language;
    one without a translation is shown as it is."""
    if not message or ui_lang() == "en":
        return message or ""
    for pattern, text in _REASONS:
        match = pattern.fullmatch(message)
        if match:
            return text.format(**match.groupdict())
    return message


@bp.context_processor
def _helpers() -> dict:
    return {"t": t, "lang": ui_lang(), "reason": reason}


@bp.post("/language")
@require_roles(*CLERKS)
def language():
    lang = request.form.get("lang", "en")
    session["ui_lang"] = lang if lang in UI_LANGUAGES else "en"
    back = request.form.get("next", "")
    return redirect(back if back.startswith("/letters") else url_for("letters.index"), 303)


def _rt():
    return current_app.extensions["ikhtiyar"]


@bp.record_once
def _upload_limit(state) -> None:
    # The app's 2 MB request limit suits webhooks, not scans. The CSRF check (an app-wide
    # hook) reads the form first, so the limit must be raised before it: put this hook first.
    settings = state.app.extensions["ikhtiyar"].settings
    batch_limit = settings.letters_max_file_mb * 1024 * 1024 * 4 + 1024 * 1024

    def raise_limit():
        if request.path.startswith(("/letters/", "/api/v1/letters")):
            request.max_content_length = batch_limit

    state.app.before_request_funcs.setdefault(None, []).insert(0, raise_limit)


# --- upload -----------------------------------------------------------------------------


@dataclass
class Outcome:
    filename: str
    letter_id: int | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return {"filename": self.filename, "ok": self.error is None, "id": self.letter_id,
                "error": self.error}


def accept_upload(rt, clerk_id: int, filename: str, data: bytes, batch: str | None = None) -> Outcome:
    """Check one file, store it outside the web root, record the letter, queue its OCR.
    A refused file gets its reason; nothing is stored for it."""
    name = os.path.basename(filename or "").strip() or "scan"
    try:
        scan = intake.check(data, limits(rt.settings))
    except intake.UploadError as exc:
        return Outcome(name, error=str(exc))
    folder_name = uuid.uuid4().hex
    root = letters_dir(rt.settings)
    path = intake.store(data, root / folder_name, f"original.{scan.kind}")
    try:
        with _transaction(rt) as session:
            letter = add_letter(session, clerk_id=clerk_id, filename=name, kind=scan.kind,
                                content_type=scan.content_type, size=scan.size, sha256=scan.sha256,
                                path=str(path.relative_to(root)), page_count=scan.pages, batch=batch)
            letter_id = letter.id
    except Exception:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    try:
        rt.queue.enqueue(read_letter, letter_id)
    except Exception:  # stored: the letters sweep queues it again
        jobs.log.exception("could not queue OCR of letter %s", letter_id)
    return Outcome(name, letter_id=letter_id)


def _transaction(rt):
    from storage.db import transaction

    return transaction(rt.sessions)


@bp.get("/")
@require_roles(*CLERKS)
def index():
    return _index_page(None)


def _index_page(results: list[Outcome] | None):
    rt = _rt()
    mine = None if g.staff.role == "admin" else g.staff.id
    with rt.sessions() as session:
        rows = [_row(session, letter, rt.settings.tracking_prefix)
                for letter in letters_for(session, mine)]
        from gateway.blueprints.letters_paper import _to_post_row, _unaddressed

        waiting = letters_to_post(session, mine)
        unaddressed = _unaddressed(session, {item.complaint_id for item in waiting})
        to_post = [_to_post_row(item, rt.settings.tracking_prefix, item.complaint_id in unaddressed)
                   for item in waiting]
    return render_template("letters_index.html", letters=rows, results=results, to_post=to_post,
                           max_mb=rt.settings.letters_max_file_mb,
                           max_pages=rt.settings.letters_max_pages)


@bp.post("/upload")
@require_roles(*CLERKS)
def upload():
    rt = _rt()
    files = [f for f in request.files.getlist("files") if f and (f.filename or f.content_length)]
    wants_json = request.accept_mimetypes.best == "application/json"
    if not files:
        error = t("choose_files")
        if wants_json:
            return jsonify(error=error, results=[]), 400
        return redirect(url_for("letters.index"))
    if len(files) > MAX_FILES_PER_BATCH:
        return jsonify(error=t("too_many_files", n=MAX_FILES_PER_BATCH)), 400
    batch = request.form.get("batch") or uuid.uuid4().hex[:12]
    results = [accept_upload(rt, g.staff.id, f.filename or "", f.read(), batch[:40]) for f in files]
    if wants_json:
        status = 201 if any(r.error is None for r in results) else 422
        return jsonify(results=[{**r.as_dict(), "error": reason(r.error) or None} for r in results]), status
    return _index_page(results)


@bp.get("/status")
@require_roles(*CLERKS)
def status():
    """States of the listed letters, for the progress display."""
    ids = [int(i) for i in request.args.get("ids", "").split(",") if i.strip().isdigit()][:200]
    with _rt().sessions() as session:
        letters = session.scalars(select(Letter).where(Letter.id.in_(ids))).all()
        return jsonify(letters=[{**_state(letter), "error": reason(letter.error) or None}
                                for letter in letters if _may_view(session, letter)])


def _state(letter: Letter) -> dict:
    return {"id": letter.id, "state": letter.state, "filename": letter.filename,
            "pages": letter.page_count, "confidence": letter.confidence,
            "low_confidence": letter.low_confidence, "language": letter.language,
            "error": letter.error, "review": url_for("letters.review", letter_id=letter.id)}


def _row(session: Session, letter: Letter, prefix: str) -> dict:
    number = None
    if letter.complaint_id:
        number = session.scalar(select(Complaint.tracking_number).where(Complaint.id == letter.complaint_id))
    return {**_state(letter), "created": letter.created_at.strftime("%Y-%m-%d %H:%M"),
            "tracking": tracking.display(number, prefix) if number else None}


# --- access -------------------------------------------------------------------------------


def _may_view(session: Session, letter: Letter) -> bool:
    """The clerk who entered it and admins; once it is a complaint, staff whose scope has it."""
    staff = g.staff
    if staff.role == "admin" or (staff.role == "clerk" and letter.clerk_id == staff.id):
        return True
    if letter.complaint_id is None:
        return False
    complaint = session.get(Complaint, letter.complaint_id)
    return complaint is not None and scope.can_see(staff, complaint)


def _letter_or_404(session: Session, letter_id: int) -> Letter:
    letter = session.get(Letter, letter_id)
    if letter is None or not _may_view(session, letter):
        abort(404)  # out of scope looks the same as missing
    return letter


def _downloaded(session: Session, letter: Letter, **detail: object) -> None:
    """A scan is the complainant's file: refused to the department a confidential complaint
    is about, and every download is written to the audit log."""
    complaint = session.get(Complaint, letter.complaint_id) if letter.complaint_id else None
    if complaint is not None and scope.identity_hidden(g.staff, complaint):
        abort(403)
    audit.record(session, audit.DOWNLOAD, user_id=g.staff.id, complaint_id=letter.complaint_id,
                 remote_addr=request.remote_addr, letter=letter.id, **detail)


@bp.get("/<int:letter_id>/pages/<int:number>")
@require_roles()
def page_image(letter_id: int, number: int):
    rt = _rt()
    with _transaction(rt) as session:
        letter = _letter_or_404(session, letter_id)
        page = session.scalars(select(LetterPage).where(LetterPage.letter_id == letter.id,
                                                        LetterPage.number == number)).first()
        if page is None:
            abort(404)
        path = _inside(letters_dir(rt.settings), page.image_path)
        _downloaded(session, letter, page=number)
    response = send_file(path, mimetype="image/png", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:letter_id>/original")
@require_roles()
def original(letter_id: int):
    rt = _rt()
    with _transaction(rt) as session:
        letter = _letter_or_404(session, letter_id)
        path, content_type, name = _inside(letters_dir(rt.settings), letter.path), letter.content_type, letter.filename
        _downloaded(session, letter, original=True)
    response = send_file(path, mimetype=content_type, as_attachment=True, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        abort(404)
    return path


# --- the officer's case page ---------------------------------------------------------------------


@bp.app_template_global("letter_scans")
def letter_scans(complaint: Complaint) -> list[dict]:
    """The pages of the scanned letter a complaint came from, each with what OCR read (its
    doubtful words marked), for the officer's case page: empty unless the signed-in user's
    scope has the case (the page route checks it too; the images are checked again)."""
    from gateway.blueprints.letters_review import _pages

    staff = current_user
    if complaint is None or complaint.channel != letter_cases.CHANNEL or not staff.is_authenticated \
            or not (scope.can_see(staff, complaint) or staff.role == "admin"):
        return []
    with _rt().sessions() as session:
        letter = session.scalars(select(Letter).where(Letter.complaint_id == complaint.id)).first()
        if letter is None:
            return []
        return [{**page, "image": url_for("letters.page_image", letter_id=letter.id,
                                         number=page["number"])}
                for page in _pages(letter)]


# The routes of the review screen and of the paper work live beside this module (they use
# the blueprint and the helpers above, so they are imported last).
from gateway.blueprints import letters_paper, letters_review  # noqa: E402,F401
