"""/letters/<id>: a clerk reviews one letter (the scan beside what OCR read, the fields it
suggested, those OCR was unsure of flagged on the field) and submits it as a complaint."""

from __future__ import annotations

import io
import json

from flask import abort, g, redirect, render_template, request, send_file, url_for
from sqlalchemy.orm import Session

from channels.letters import acknowledgement, fields
from channels.letters.ocr import LOW_WORD
from channels.letters.review import check_entry
from conversation import catalog
from conversation import letters as letter_cases
from gateway import jobs
from gateway.auth import require_roles
from gateway.blueprints.letters import CLERKS, _letter_or_404, _rt, _state, _transaction, bp
from gateway.letters_jobs import letters_dir, read_letter
from storage import tracking
from storage.letters import Letter, LetterStateError
from storage.letters import read_again as _read_again
from storage.models import Citizen, Complaint, Contact


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


def _pages(letter: Letter) -> list[dict]:
    """Each page with the words OCR read, line by line, the doubtful ones flagged."""
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
    return pages


def _review_view(session: Session, letter: Letter, prefix: str) -> dict:
    pages = _pages(letter)
    fields = dict(letter.fields)
    fields.setdefault("language", letter.language or "en")
    fields["text"] = letter.text or ""
    tracking_number, told = None, None
    if letter.complaint_id:
        complaint = session.get(Complaint, letter.complaint_id)
        tracking_number = tracking.display(complaint.tracking_number, prefix)
        # How the writer hears of it is what was filed, not what OCR suggested: a phone the
        # clerk removed means a posted letter.
        contact = session.get(Contact, complaint.contact_id)
        told = "sms" if contact is not None and contact.channel == "sms" else "post"
    return {**_state(letter), "pages": pages, "fields": fields, "text": letter.text or "",
            "tracking": tracking_number, "page_count": letter.page_count, "told": told,
            "doubtful": _doubtful(letter, fields)}


def _doubtful(letter: Letter, suggested: dict) -> set[str]:
    """The suggested fields OCR was unsure of (flagged on the field in the form)."""
    words, offset = [], 0
    for page in letter.pages:
        page_words = json.loads(page.words) if page.words else []
        words += [(offset + line, text, conf) for line, text, conf in page_words]
        offset += 1 + max((line for line, _, _ in page_words), default=0)
    return fields.doubtful_fields(suggested, words, LOW_WORD)


@bp.post("/<int:letter_id>/submit")
@require_roles(*CLERKS)
def submit(letter_id: int):
    """Check the review form and hand it on: the letter becomes a complaint entered by the
    clerk, acknowledged by SMS (queued here) or by a printed letter."""
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
            filed = letter_cases.file_letter(
                session, letter_id, entry, clerk_id=g.staff.id, knowledge=knowledge,
                prefix=rt.settings.tracking_prefix, letters_root=letters_dir(rt.settings),
                attachments_dir=rt.attachments_dir)
    except LetterStateError:  # submitted already (a double click, the back button)
        return redirect(url_for("letters.review", letter_id=letter_id))
    if filed.acknowledgement_id is not None:
        rt.queue.enqueue(jobs.deliver, filed.acknowledgement_id)
    return redirect(url_for("letters.review", letter_id=letter_id))


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
            tracking=tracking.display(complaint.tracking_number, rt.settings.tracking_prefix), language=lang,
            name=citizen.name, address=complaint.location_detail,
            received=letter.created_at.date().isoformat(),
            department=knowledge.name("department", complaint.department_code, lang) or "",
            sla_days=knowledge.categories[complaint.category_code].sla_days
            if complaint.category_code else 0)
    pdf = acknowledgement.render(ack)
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=False,
                     download_name=f"acknowledgement-{ack.tracking}.pdf", max_age=0)

