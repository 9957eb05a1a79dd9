"""/letters: the clerks' area for written applications.

Upload a batch of scans (each file checked on its own: a bad one gets its reason and the
rest go on), watch OCR read them, review each letter with the scan beside the text, and
submit it as a complaint. Clerks also enter a citizen's confirmation (or rejection) of a
resolution given on paper or by phone, with a scan or a note as its evidence.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

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
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.addresses import AddressError, phone_e164
from channels.letters import acknowledgement, intake
from channels.letters.ocr import LOW_WORD
from conversation import catalog
from conversation.knowledge import Knowledge
from gateway import jobs
from gateway.auth import require_roles
from gateway.letters_jobs import letters_dir, limits, read_letter
from storage import lifecycle, scope, tracking
from storage.crypto import lookup_hash
from storage.letters import (
    Letter,
    LetterPage,
    LetterState,
    LetterStateError,
    add_letter,
    letters_for,
)
from storage.letters import mark_submitted as _mark_submitted
from storage.letters import read_again as _read_again
from storage.messages import contact_for, insert_inbound, queue_outbound
from storage.models import Attachment, Citizen, Complaint, Contact, Message, State

bp = Blueprint("letters", __name__, url_prefix="/letters")
CLERKS = ("clerk", "admin")
_CNIC = re.compile(r"^(\d{5})-?(\d{7})-?(\d)$")
MAX_FILES_PER_BATCH = 50


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
    rt = _rt()
    with rt.sessions() as session:
        letters = letters_for(session, None if g.staff.role == "admin" else g.staff.id)
        rows = [_row(session, letter, rt.settings.tracking_prefix) for letter in letters]
    return render_template("letters_index.html", letters=rows, results=None,
                           max_mb=rt.settings.letters_max_file_mb,
                           max_pages=rt.settings.letters_max_pages)


@bp.post("/upload")
@require_roles(*CLERKS)
def upload():
    rt = _rt()
    files = [f for f in request.files.getlist("files") if f and (f.filename or f.content_length)]
    wants_json = request.accept_mimetypes.best == "application/json"
    if not files:
        error = "choose one or more scans to upload"
        if wants_json:
            return jsonify(error=error, results=[]), 400
        return redirect(url_for("letters.index"))
    if len(files) > MAX_FILES_PER_BATCH:
        return jsonify(error=f"at most {MAX_FILES_PER_BATCH} files at once"), 400
    batch = request.form.get("batch") or uuid.uuid4().hex[:12]
    results = [accept_upload(rt, g.staff.id, f.filename or "", f.read(), batch[:40]) for f in files]
    if wants_json:
        status = 201 if any(r.error is None for r in results) else 422
        return jsonify(results=[r.as_dict() for r in results]), status
    with rt.sessions() as session:
        letters = letters_for(session, None if g.staff.role == "admin" else g.staff.id)
        rows = [_row(session, letter, rt.settings.tracking_prefix) for letter in letters]
    return render_template("letters_index.html", letters=rows, results=results,
                           max_mb=rt.settings.letters_max_file_mb,
                           max_pages=rt.settings.letters_max_pages)


@bp.get("/status")
@require_roles(*CLERKS)
def status():
    """States of the listed letters, for the progress display."""
    ids = [int(i) for i in request.args.get("ids", "").split(",") if i.strip().isdigit()][:200]
    with _rt().sessions() as session:
        letters = session.scalars(select(Letter).where(Letter.id.in_(ids))).all()
        return jsonify(letters=[_state(letter) for letter in letters
                                if _may_view(session, letter)])


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
            "tracking": f"{prefix}-{number}" if number else None}


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


@bp.get("/<int:letter_id>/pages/<int:number>")
@require_roles()
def page_image(letter_id: int, number: int):
    rt = _rt()
    with rt.sessions() as session:
        letter = _letter_or_404(session, letter_id)
        page = session.scalars(select(LetterPage).where(LetterPage.letter_id == letter.id,
                                                        LetterPage.number == number)).first()
        if page is None:
            abort(404)
        path = _inside(letters_dir(rt.settings), page.image_path)
    response = send_file(path, mimetype="image/png", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:letter_id>/original")
@require_roles()
def original(letter_id: int):
    rt = _rt()
    with rt.sessions() as session:
        letter = _letter_or_404(session, letter_id)
        path, content_type, name = _inside(letters_dir(rt.settings), letter.path), letter.content_type, letter.filename
    response = send_file(path, mimetype=content_type, as_attachment=True, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        abort(404)
    return path


# --- review and submit ----------------------------------------------------------------------


@bp.get("/<int:letter_id>")
@require_roles(*CLERKS)
def review(letter_id: int):
    rt = _rt()
    with rt.sessions() as session:
        letter = _letter_or_404(session, letter_id)
        knowledge = rt.conversation(session).knowledge
        view = _review_view(session, letter, rt.settings.tracking_prefix)
    return render_template("letters_review.html", letter=view, knowledge=knowledge, errors={},
                           form=view["fields"], low_word=LOW_WORD)


def _review_view(session: Session, letter: Letter, prefix: str) -> dict:
    pages = []
    for page in letter.pages:
        words = json.loads(page.words) if page.words else []
        lines: list[list[dict]] = []
        for line, text, conf in words:
            while len(lines) <= line:
                lines.append([])
            lines[line].append({"text": text, "conf": conf, "low": conf < LOW_WORD})
        pages.append({"number": page.number, "confidence": page.confidence, "lines": lines,
                      "language": page.language, "skew": page.skew_degrees,
                      "rtl": page.language in ("ur", "ps")})
    fields = dict(letter.fields)
    fields.setdefault("language", letter.language or "en")
    fields["text"] = letter.text or ""
    tracking_number = None
    if letter.complaint_id:
        complaint = session.get(Complaint, letter.complaint_id)
        tracking_number = f"{prefix}-{complaint.tracking_number}"
    return {**_state(letter), "pages": pages, "fields": fields, "text": letter.text or "",
            "tracking": tracking_number, "page_count": letter.page_count}


@dataclass
class Entry:
    """What the clerk confirmed on the review screen, checked."""

    description: str
    language: str
    name: str | None
    phone: str | None
    cnic: str | None
    address: str | None
    district: str
    category: str


def check_entry(form, knowledge: Knowledge) -> tuple[Entry | None, dict[str, str]]:
    """The review form checked field by field; errors name the field and say why."""
    errors: dict[str, str] = {}
    description = " ".join((form.get("text") or "").split())
    if sum(ch.isalpha() for ch in description) < 10:
        errors["text"] = "the complaint text is too short: correct what OCR read or type it in"
    elif len(description) > 5000:
        errors["text"] = "the complaint text is longer than 5,000 characters: shorten it"
    language = form.get("language") or "en"
    if language not in catalog.LANGUAGES:
        errors["language"] = "choose English, Urdu or Pashto"
    phone = None
    if (raw := (form.get("phone") or "").strip()):
        try:
            phone = phone_e164(raw)
        except AddressError as exc:
            errors["phone"] = str(exc)
    cnic = None
    if (raw := (form.get("cnic") or "").strip()):
        match = _CNIC.match(tracking.to_latin_digits(raw).replace(" ", ""))
        if match:
            cnic = "-".join(match.groups())
        else:
            errors["cnic"] = "a CNIC is 13 digits: 12345-1234567-1"
    district = form.get("district") or ""
    if district not in knowledge.districts:
        errors["district"] = "choose the district"
    category = form.get("category") or ""
    if category not in knowledge.categories:
        errors["category"] = "choose the department and category"
    name = " ".join((form.get("name") or "").split())[:80] or None
    address = " ".join((form.get("address") or "").split())[:300] or None
    if errors:
        return None, errors
    return Entry(description, language, name, phone, cnic, address, district, category), {}


@bp.post("/<int:letter_id>/submit")
@require_roles(*CLERKS)
def submit(letter_id: int):
    rt = _rt()
    with rt.sessions() as session:
        letter = _letter_or_404(session, letter_id)
        knowledge = rt.conversation(session).knowledge
        entry, errors = check_entry(request.form, knowledge)
        if entry is None:
            view = _review_view(session, letter, rt.settings.tracking_prefix)
            return render_template("letters_review.html", letter=view, knowledge=knowledge,
                                   errors=errors, form=request.form, low_word=LOW_WORD), 422
    try:
        with _transaction(rt) as session:
            outbound = submit_letter(session, rt, letter_id, entry, g.staff.id)
    except LetterStateError:
        return redirect(url_for("letters.review", letter_id=letter_id))
    if outbound is not None:
        rt.queue.enqueue(jobs.deliver, outbound)
    return redirect(url_for("letters.review", letter_id=letter_id))


def submit_letter(session: Session, rt, letter_id: int, entry: Entry, clerk_id: int) -> int | None:
    """Make the letter a complaint (channel ``letter``, entered by the clerk, the scans as
    attachments) and acknowledge it: an SMS when the letter gives a phone number, else the
    printable letter. Returns the id of the queued SMS, if any. Submitting twice is refused."""
    letter = session.scalars(select(Letter).where(Letter.id == letter_id).with_for_update()).one()
    if letter.state != LetterState.OCR_DONE:
        raise LetterStateError(f"letter {letter.id} is {letter.state}")
    knowledge = rt.conversation(session).knowledge
    kind = knowledge.categories[entry.category]
    if entry.phone:  # the SMS contact: acknowledgement and later updates go by SMS
        contact = contact_for(session, "sms", entry.phone)
    else:  # a postal contact: the address is the mailing label
        label = "\n".join(p for p in (entry.name, entry.address) if p) or f"letter-{letter.id}"
        contact = contact_for(session, "letter", label)
    citizen = session.get(Citizen, contact.citizen_id)
    if entry.name and not citizen.name:
        citizen.name = entry.name
    if entry.cnic and not citizen.cnic:
        citizen.cnic = entry.cnic
        citizen.cnic_hash = lookup_hash(entry.cnic.replace("-", ""))
    citizen.language = citizen.language or entry.language
    message, _new = insert_inbound(
        session, contact, channel="letter", provider_id=f"letter-{letter.id}",
        text=entry.description, language=entry.language, received_at=letter.created_at,
        payload={"letter_id": letter.id, "entered_by": clerk_id, "pages": letter.page_count,
                 "ocr_confidence": letter.confidence})
    message.status = "processed"  # entered by a clerk: no conversation turn to take
    while True:
        number = tracking.new_number()
        if session.scalar(select(Complaint.id).where(Complaint.tracking_number == number)) is None:
            break
    complaint = Complaint(
        tracking_number=number, citizen_id=contact.citizen_id, contact_id=contact.id,
        channel="letter", language=entry.language, description=entry.description,
        district_code=entry.district, location_detail=entry.address,
        department_code=kind.department, category_code=kind.code)
    clerk = lifecycle.Actor("clerk", user_id=clerk_id, channel="letter")
    lifecycle.submit(session, complaint, message, clerk, sla_days=kind.sla_days)
    message.complaint_id = complaint.id
    _attach_scans(session, rt, letter, message, complaint)
    _mark_submitted(letter, complaint.id, message.id)
    shown = f"{rt.settings.tracking_prefix}-{number}"
    if entry.phone:
        text = catalog.text("complaint_registered", entry.language, short=True, tracking=shown,
                            sla_days=kind.sla_days)
        sms = queue_outbound(session, contact, text, kind="acknowledgement", complaint_id=complaint.id,
                             language=entry.language, extras={"key": "complaint_registered"})
        session.flush()
        return sms.id
    lifecycle.note(session, complaint, clerk, "acknowledgement to be printed and posted",
                   kind="acknowledgement_letter")
    return None


def _attach_scans(session: Session, rt, letter: Letter, message: Message, complaint: Complaint) -> None:
    """Copy the original and the page images to the attachments folder, one row each."""
    root = letters_dir(rt.settings)
    target = rt.attachments_dir / "letters" / str(letter.id)
    target.mkdir(parents=True, exist_ok=True)
    files = [(root / letter.path, letter.content_type, letter.filename)]
    files += [(root / p.image_path, "image/png", f"page-{p.number}.png") for p in letter.pages]
    for source, content_type, filename in files:
        if not source.is_file():
            continue
        destination = target / source.name
        try:
            os.link(source, destination)  # same disk: no second copy of a big scan
        except FileExistsError:
            pass
        except OSError:
            shutil.copyfile(source, destination)
        data = destination.read_bytes()
        session.add(Attachment(message_id=message.id, complaint_id=complaint.id,
                               content_type=content_type, size=len(data),
                               sha256=hashlib.sha256(data).hexdigest(),
                               path=str(destination.relative_to(rt.attachments_dir)),
                               filename=filename[:255]))


@bp.post("/<int:letter_id>/read-again")
@require_roles(*CLERKS)
def read_again(letter_id: int):
    rt = _rt()
    with _transaction(rt) as session:
        letter = _letter_or_404(session, letter_id)
        try:
            _read_again(letter)
        except LetterStateError:
            return redirect(url_for("letters.review", letter_id=letter_id))
    rt.queue.enqueue(read_letter, letter_id)
    return redirect(url_for("letters.index"))


@bp.get("/<int:letter_id>/acknowledgement.pdf")
@require_roles(*CLERKS)
def acknowledgement_pdf(letter_id: int):
    rt = _rt()
    with rt.sessions() as session:
        letter = _letter_or_404(session, letter_id)
        if letter.complaint_id is None:
            abort(404)
        complaint = session.get(Complaint, letter.complaint_id)
        citizen = session.get(Citizen, complaint.citizen_id)
        knowledge = rt.conversation(session).knowledge
        lang = complaint.language if complaint.language in catalog.LANGUAGES else "en"
        ack = acknowledgement.Acknowledgement(
            tracking=f"{rt.settings.tracking_prefix}-{complaint.tracking_number}", language=lang,
            name=citizen.name, address=complaint.location_detail,
            received=letter.created_at.date().isoformat(),
            department=knowledge.name("department", complaint.department_code, lang) or "",
            sla_days=knowledge.categories[complaint.category_code].sla_days
            if complaint.category_code else 0)
    pdf = acknowledgement.render(ack)
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=False,
                     download_name=f"acknowledgement-{ack.tracking}.pdf", max_age=0)


# --- confirmations given on paper or by phone ---------------------------------------------------


@bp.route("/confirm", methods=["GET", "POST"])
@require_roles(*CLERKS)
def confirm():
    rt = _rt()
    if request.method == "GET":
        return render_template("letters_confirm.html", errors={}, form={}, done=None)
    evidence = request.files.get("evidence")
    data = evidence.read() if evidence and evidence.filename else b""
    try:
        with _transaction(rt) as session:
            done, outbound = record_confirmation(
                session, rt, g.staff.id, number=request.form.get("tracking", ""),
                satisfied=request.form.get("answer") == "satisfied",
                via=request.form.get("via", "paper"), note=request.form.get("note", ""),
                evidence=(evidence.filename, data) if data else None)
    except ConfirmationError as exc:
        return render_template("letters_confirm.html", errors={exc.field: str(exc)},
                               form=request.form, done=None), 422
    if outbound is not None:
        rt.queue.enqueue(jobs.deliver, outbound)
    return render_template("letters_confirm.html", errors={}, form={}, done=done)


class ConfirmationError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def record_confirmation(session: Session, rt, clerk_id: int, *, number: str, satisfied: bool,
                        via: str, note: str, evidence: tuple[str, bytes] | None) -> tuple[dict, int | None]:
    """The complainant's answer to "are you satisfied?", given on paper or by phone and
    entered by a clerk. It is recorded as the complainant's own inbound message (channel
    ``letter``) with the evidence attached, so the lifecycle's rule holds: only the
    complainant's message closes. Returns a summary and the id of the reply queued to them."""
    if via not in ("paper", "phone"):
        raise ConfirmationError("via", "choose how the answer was given: on paper or by phone")
    note = " ".join(note.split())[:2000]
    if not note and evidence is None:
        raise ConfirmationError("note", "attach the scan of the answer or write a note of the call")
    prefix = rt.settings.tracking_prefix
    found = tracking.find(number, prefix)
    if not found.number:
        raise ConfirmationError("tracking", "that tracking number has a mistyped digit" if found.mistyped
                                else "enter the tracking number, e.g. KP-1234567")
    complaint = session.scalars(select(Complaint).where(Complaint.tracking_number == found.number)
                                .with_for_update()).first()
    if complaint is None:
        raise ConfirmationError("tracking", f"no complaint {prefix}-{found.number}")
    if complaint.state != State.RESOLVED:
        raise ConfirmationError("tracking", f"{prefix}-{found.number} is not waiting for the "
                                f"citizen's confirmation (it is {complaint.state.replace('_', ' ')})")
    scan = None
    if evidence is not None:
        try:
            scan = intake.check(evidence[1], limits(rt.settings))
        except intake.UploadError as exc:
            raise ConfirmationError("evidence", str(exc)) from None
    contact = session.get(Contact, complaint.contact_id)
    message, _new = insert_inbound(
        session, contact, channel="letter", provider_id=f"confirm-{uuid.uuid4().hex}",
        text=note or ("satisfied" if satisfied else "not satisfied"),
        payload={"entered_by": clerk_id, "via": via, "satisfied": satisfied})
    message.status = "processed"
    message.complaint_id = complaint.id
    session.flush()
    if scan is not None:
        folder = rt.attachments_dir / "letters" / "confirmations"
        path = intake.store(evidence[1], folder, f"{message.id}-{uuid.uuid4().hex[:8]}.{scan.kind}")
        session.add(Attachment(message_id=message.id, complaint_id=complaint.id,
                               content_type=scan.content_type, size=scan.size, sha256=scan.sha256,
                               path=str(path.relative_to(rt.attachments_dir)),
                               filename=os.path.basename(evidence[0])[:255]))
    if satisfied:
        lifecycle.confirm_satisfied(session, complaint, message)
        key = "closed_thanks"
    else:
        lifecycle.reject_resolution(session, complaint, message, note or None)
        key = "reopened_with_reason"
    clerk = lifecycle.Actor("clerk", user_id=clerk_id, channel="letter")
    lifecycle.note(session, complaint, clerk,
                   f"the citizen's answer, given {'on paper' if via == 'paper' else 'by phone'}, "
                   f"entered by a clerk" + (f": {note}" if note else ""),
                   kind="confirmation_entered", message=message)
    shown = f"{prefix}-{complaint.tracking_number}"
    text = catalog.text(key, complaint.language or "en", short=contact.channel == "sms", tracking=shown)
    reply = queue_outbound(session, contact, text, kind="confirmation_reply", complaint_id=complaint.id,
                           language=complaint.language, extras={"key": key})
    session.flush()
    return {"tracking": shown, "state": complaint.state, "date": date.today().isoformat()}, reply.id
