"""/simulator: every channel in a browser, through the same path as a real provider."""

from flask import Blueprint, current_app, jsonify, render_template, request
from sqlalchemy import select

from channels.web import simulator
from gateway.blueprints.twilio_webhooks import accept_inbound
from gateway.pipeline import receive
from storage.mail import mail_info
from storage.messages import find_contact
from storage.models import Message

bp = Blueprint("simulator", __name__, url_prefix="/simulator")


@bp.get("")
@bp.get("/")
def page():
    return render_template("simulator.html", personas=simulator.PERSONAS)


@bp.post("/messages")
def send():
    form = request.get_json(silent=True)
    if not isinstance(form, dict):
        return jsonify(error="send JSON: persona, sender, text"), 400
    rt = current_app.extensions["ikhtiyar"]
    try:
        if form.get("persona") == "email":
            form = {**form, "thread": _mail_thread(rt, form)}
        inbound = simulator.parse(form)
    except simulator.SimulatorError as exc:
        return jsonify(error=str(exc)), 400
    if inbound.channel in simulator.TWILIO_PERSONAS:  # STOP/START as on Twilio
        message_id, new = accept_inbound(rt, inbound)
    else:
        message_id, new = receive(rt, inbound)
    return jsonify(id=message_id, duplicate=not new), 202 if new else 200


def _mail_thread(rt, form: dict) -> dict:
    """The persona's previous mail, so the next one is a reply in the same thread."""
    address = simulator.normalize_sender("email", str(form.get("sender") or ""))
    with rt.sessions() as session:
        contact = find_contact(session, "email", address)
        if contact is None:
            return {"to": rt.settings.mail_address}
        last = session.scalars(select(Message).where(
            Message.contact_id == contact.id, Message.direction == "in")
            .order_by(Message.id.desc()).limit(1)).first()
        info = mail_info(last) if last is not None else {}
    return {"to": rt.settings.mail_address, "message_id": info.get("message_id"),
            "subject": info.get("subject")}


@bp.get("/thread")
def thread():
    try:
        address = simulator.normalize_sender(request.args.get("persona", ""), request.args.get("sender", ""))
    except simulator.SimulatorError as exc:
        return jsonify(error=str(exc)), 400
    rt = current_app.extensions["ikhtiyar"]
    with rt.sessions() as session:
        contact = find_contact(session, request.args["persona"], address)
        if contact is None:
            return jsonify(messages=[])
        rows = session.scalars(select(Message).where(Message.contact_id == contact.id)
                               .order_by(Message.id.desc()).limit(200)).all()
        messages = [{"id": m.id, "direction": m.direction, "text": m.text, "status": m.status,
                     "kind": m.kind, "language": m.language, "error": m.error,
                     "at": m.created_at.isoformat()} for m in reversed(rows)]
    return jsonify(messages=messages)
