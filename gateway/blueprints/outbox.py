"""The operator's view of dead letters: outbound messages that failed their last attempt,
and a retry for each. Admins only (a session, or a bearer token for scripts); no personal
data in the list (no address, no text: the case page shows those to its officers)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify

from gateway import jobs
from gateway.auth import require_roles
from storage.db import transaction
from storage.messages import dead_letters, requeue_failed
from storage.models import Complaint, Message

bp = Blueprint("outbox", __name__, url_prefix="/ops/outbox")


@bp.get("/failed")
@require_roles("admin")
def failed():
    rt = current_app.extensions["ikhtiyar"]
    with rt.sessions() as session:
        rows = dead_letters(session)
        numbers = dict(session.query(Complaint.id, Complaint.tracking_number)
                       .filter(Complaint.id.in_({m.complaint_id for m in rows if m.complaint_id})).all())
        return jsonify(failed=[{
            "id": m.id, "channel": m.channel, "kind": m.kind, "attempts": m.attempts,
            "error": m.error, "complaint": numbers.get(m.complaint_id),
            "failed_at": m.updated_at.isoformat() if m.updated_at else None} for m in rows])


@bp.post("/<int:message_id>/retry")
@require_roles("admin")
def retry(message_id: int):
    rt = current_app.extensions["ikhtiyar"]
    with transaction(rt.sessions) as session:
        message = session.get(Message, message_id)
        if message is None:
            abort(404)
        if not requeue_failed(session, message):
            return jsonify(error="only a failed outbound message can be retried"), 409
    rt.queue.enqueue(jobs.deliver, message_id)
    return jsonify(id=message_id, status="queued"), 202
