"""Scanning stations and scripts: ``POST /api/v1/letters`` (multipart, a clerk's bearer
token) stores a scan and queues its OCR; ``GET /api/v1/letters/<id>`` tells its state,
the text read, the confidence and the suggested fields."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, g, jsonify, request

from channels.letters.ocr import LOW_WORD
from gateway.auth import require_roles
from gateway.blueprints.letters import CLERKS, MAX_FILES_PER_BATCH, accept_upload
from storage.letters import Letter

bp = Blueprint("api_letters", __name__, url_prefix="/api/v1/letters")


@bp.post("")
@require_roles(*CLERKS)
def create():
    """One letter per file part (any field name); 201 with the id, or 422 with the reason."""
    rt = current_app.extensions["ikhtiyar"]
    files = [f for name in request.files for f in request.files.getlist(name) if f]
    if not files:
        return jsonify(error="send the scan as a multipart/form-data file field named 'file'"), 400
    if len(files) > MAX_FILES_PER_BATCH:
        return jsonify(error=f"at most {MAX_FILES_PER_BATCH} files at once"), 400
    results = [accept_upload(rt, g.staff.id, f.filename or "", f.read(), request.form.get("batch"))
               for f in files]
    if len(results) == 1:
        result = results[0]
        if result.error:
            return jsonify(error=result.error, filename=result.filename), 422
        return jsonify(id=result.letter_id, state="uploaded", filename=result.filename), 201
    status = 201 if any(r.error is None for r in results) else 422
    return jsonify(letters=[r.as_dict() for r in results]), status


@bp.get("/<int:letter_id>")
@require_roles(*CLERKS)
def show(letter_id: int):
    rt = current_app.extensions["ikhtiyar"]
    with rt.sessions() as session:
        letter = session.get(Letter, letter_id)
        if letter is None or (g.staff.role != "admin" and letter.clerk_id != g.staff.id):
            return jsonify(error="not found"), 404
        pages = [{"number": p.number, "confidence": p.confidence, "language": p.language,
                  "script": p.script, "text": p.text or "",
                  "low_confidence_words": [w[1] for w in json.loads(p.words or "[]") if w[2] < LOW_WORD]}
                 for p in letter.pages]
        return jsonify(id=letter.id, state=letter.state, filename=letter.filename,
                       pages=pages, page_count=letter.page_count, language=letter.language,
                       script=letter.script, confidence=letter.confidence,
                       low_confidence=letter.low_confidence, text=letter.text or "",
                       suggested=letter.fields, error=letter.error,
                       complaint_id=letter.complaint_id)
