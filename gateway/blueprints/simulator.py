"""/simulator: every channel in a browser, through the same path as a real provider.

It is registered only on the embedded default (no Twilio credentials, no public URL) or
when IKHTIYAR_SIMULATOR=true; off the embedded default only signed-in staff may use it.
What it files is marked simulated and stays out of officers' queues and dashboards.
"""

import json

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_login import current_user
from sqlalchemy import select

from channels.web import simulator
from conversation.call import STEPS, Answered
from conversation.call_filing import categorise_from_transcript
from gateway.blueprints import voice
from gateway.blueprints.twilio_webhooks import accept_inbound
from gateway.pipeline import receive
from storage import tracking
from storage.calls import Call, find_call
from storage.db import transaction
from storage.mail import mail_info
from storage.messages import contact_for, find_contact
from storage.models import Complaint, ComplaintEvent, Message

bp = Blueprint("simulator", __name__, url_prefix="/simulator")


@bp.before_request
def _staff_only_when_public():
    if current_app.extensions["ikhtiyar"].settings.embedded_default or current_user.is_authenticated:
        return None
    from gateway.auth import login_manager

    if request.method == "GET" and request.path.rstrip("/") == bp.url_prefix:
        return login_manager.unauthorized()  # the page: to the sign-in form and back
    return jsonify(error="sign in to use the simulator"), 401


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
        messages = [{"id": m.id, "direction": m.direction, "text": m.body, "status": m.status,
                     "kind": m.kind, "language": m.language, "error": m.error,
                     "at": m.created_at.isoformat()} for m in reversed(rows)]
    return jsonify(messages=messages)


# --- Phone (keypad): a simulated call through the IVR dialogue --------------------------
#
# Each request is the form Twilio Voice would post for the step, run through the voice
# channel's translation (channels.voice.inbound) and the phone line's own dialogue
# (gateway.blueprints.voice.dialogue); the answer is rendered as text instead of TwiML.
# The caller is the persona's "sim:" address, so a simulated call only ever reaches the
# simulated contact's complaints; its typed "recording" is text and is never downloaded.

RECORDING_STEPS = ("record", "voicemail", "reason")


class _NoSuchCall(simulator.SimulatorError):
    """Not a call this persona started in the simulator."""


def _call_request() -> tuple[dict, str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise simulator.SimulatorError("send JSON: sender (and call, step, seq for a call's next step)")
    return body, simulator.normalize_sender("voice", str(body.get("sender") or ""))


def _sandboxed(session, sender: str, sid: str, starting: bool) -> Call | None:
    """The persona's simulated contacts (the call's, and the SMS one that gets the tracking
    number), and its call; a call another caller made is refused as unknown."""
    caller = contact_for(session, "voice", sender, simulated=True)
    contact_for(session, "sms", sender, simulated=True)
    if not caller.simulated:  # a "sim:" address is only ever created by the simulator
        raise simulator.SimulatorError("this number is not a simulated caller")
    call = find_call(session, sid, lock=True)
    if starting:
        return call
    if call is None or call.contact_id != caller.id:
        raise _NoSuchCall("no such call for this number: start a call first")
    return call


def _keep_standin(session, message_ids: list[int], text: str | None) -> None:
    """The typed text stands in for the recording: it is the message's text and the
    complaint's description (or the caller's reason); no recording URL is left to fetch."""
    for message_id in message_ids:
        message = session.get(Message, message_id)
        payload = dict(message.payload or {})
        payload.update(media=[], standin_recording=True)
        if text is not None:
            payload["transcript"] = text
            message.text = text
        message.payload = payload
        if text is None or message.complaint_id is None:
            continue
        if payload.get("step") in ("complaint", "voicemail"):
            complaint = session.get(Complaint, message.complaint_id)
            complaint.description = text
            # A transcript exists: the classifier picks the category within the department.
            categorise_from_transcript(session, complaint, text, current_app.extensions["ikhtiyar"]
                                       .conversation_knowledge(session))
        else:  # the reason for not being satisfied: the comment on the timeline says it
            for event in session.scalars(select(ComplaintEvent).where(
                    ComplaintEvent.message_id == message_id, ComplaintEvent.kind == "citizen_comment")):
                event.note = text


def _run(rt, sender: str, sid: str, handle, fields: dict[str, str], standin: str | None = None,
         starting: bool = False) -> tuple[Answered, str | None]:
    """One webhook's worth of the call: the form, the sandbox check, the dialogue, then
    only the SMS jobs (nothing to download). Returns what was answered and the tracking
    number of the complaint the call filed, if any."""
    inp = simulator.call_input_for(simulator.call_form(sender, sid, **fields), sender)
    with transaction(rt.sessions) as session:
        _sandboxed(session, sender, sid, starting)
        done = handle(session, inp)
        _keep_standin(session, done.fetch, standin)
        call = find_call(session, sid)
        complaint = session.get(Complaint, call.complaint_id) if call and call.complaint_id else None
        filed = tracking.display(complaint.tracking_number, rt.settings.tracking_prefix) if complaint else None
    voice.queue_jobs(Answered(deliver=done.deliver))
    return done, filed


def _step(rt, sender: str, sid: str, step: str, seq: int, fields: dict[str, str],
          standin: str | None = None) -> dict:
    """Answer one step; then what Twilio would do by itself: report an ended call, and
    (there is nobody at a simulated call centre) a transfer nobody answered."""
    dialogue = voice.dialogue()
    replies: list[dict] = []
    filed = None
    while True:
        done, filed = _run(rt, sender, sid, lambda s, i, st=step, n=seq: dialogue.answer(
            s, i, st, n, simulator.render_call_reply), fields, standin, starting=step == "start")
        reply = json.loads(done.text) if done.text else {"said": [], "expects": {"kind": "nothing"},
                                                         "hang_up": True}
        replies.append(reply)
        standin = None
        if reply["expects"]["kind"] != "transfer":
            break
        step, seq = reply["step"], reply["seq"]
        fields = {"DialCallStatus": "no-answer", "DialCallDuration": "0"}
    ended = bool(reply["hang_up"])
    if ended:
        _run(rt, sender, sid, dialogue.call_ended, {"CallStatus": "completed"})
    return {"call": sid, "replies": replies, "ended": ended, "complaint": filed}


def _call_error(exc: simulator.SimulatorError):
    return jsonify(error=str(exc)), 404 if isinstance(exc, _NoSuchCall) else 400


def _position(body: dict) -> tuple[str, str, int]:
    sid = simulator.check_call_sid(body.get("call"))
    step = str(body.get("step") or "")
    if step not in STEPS:
        raise simulator.SimulatorError(f"step must be one of {', '.join(STEPS)}")
    try:
        seq = int(body.get("seq"))
    except (TypeError, ValueError):
        raise simulator.SimulatorError("seq must be a number") from None
    return sid, step, seq


@bp.post("/call/start")
def call_start():
    """Dial the phone line: the answer is the call's first prompt."""
    try:
        _body, sender = _call_request()
        return jsonify(_step(current_app.extensions["ikhtiyar"], sender, simulator.new_call_sid(),
                             "start", 0, {"CallStatus": "ringing"}))
    except simulator.SimulatorError as exc:
        return _call_error(exc)


@bp.post("/call/keys")
def call_keys():
    """Keys pressed on the keypad (none: the caller stayed silent)."""
    try:
        body, sender = _call_request()
        sid, step, seq = _position(body)
        keys = simulator.check_keys(body.get("keys"))
        return jsonify(_step(current_app.extensions["ikhtiyar"], sender, sid, step, seq, {"Digits": keys}))
    except simulator.SimulatorError as exc:
        return _call_error(exc)


@bp.post("/call/record")
def call_record():
    """The caller "speaks" after the beep: the typed text stands in for the recording."""
    try:
        body, sender = _call_request()
        sid, step, seq = _position(body)
        text = _standin_text(body)
        return jsonify(_step(current_app.extensions["ikhtiyar"], sender, sid, step, seq,
                             simulator.recording_fields(text), standin=text or None))
    except simulator.SimulatorError as exc:
        return _call_error(exc)


@bp.post("/call/hangup")
def call_hangup():
    """Hang up. During a recording, what was typed so far is kept, as Twilio keeps the
    recording of a caller who hangs up."""
    try:
        body, sender = _call_request()
        sid = simulator.check_call_sid(body.get("call"))
        text = _standin_text(body)
        rt = current_app.extensions["ikhtiyar"]
        dialogue = voice.dialogue()
        filed = None
        with transaction(rt.sessions) as session:
            call = _sandboxed(session, sender, sid, False)
            step, seq, ended = call.step, call.seq, call.ended
        if not ended and step in RECORDING_STEPS and text.strip():
            _done, filed = _run(rt, sender, sid, lambda s, i: dialogue.answer(
                s, i, step, seq, simulator.render_call_reply), simulator.recording_fields(text, hung_up=True),
                standin=text)
        _done, filed = _run(rt, sender, sid, dialogue.call_ended, {"CallStatus": "completed"})
        return jsonify(call=sid, replies=[], ended=True, complaint=filed)
    except simulator.SimulatorError as exc:
        return _call_error(exc)


def _standin_text(body: dict) -> str:
    text = body.get("text", "")
    if not isinstance(text, str):
        raise simulator.SimulatorError("text must be a string")
    if len(text) > simulator.MAX_TEXT:
        raise simulator.SimulatorError(f"text is longer than {simulator.MAX_TEXT} characters")
    return simulator.clean_text(text)
