"""The phone line's webhooks (Twilio Voice) and the prompt audio Twilio plays.

POST /webhooks/twilio/voice              a call comes in (the number's Voice URL)
POST /webhooks/twilio/voice/<step>?n=N   the IVR's follow-up steps (URLs it gave in TwiML)
POST /webhooks/twilio/voice/recording    recordingStatusCallback of <Record>
POST /webhooks/twilio/voice/status       the number's call status callback (hang-ups)
POST /webhooks/twilio/voice/outbound?key=K         a call we placed was answered (its TwiML)
POST /webhooks/twilio/voice/outbound/status?key=K  how a call we placed ended
GET  /audio/prompts/<lang>/<file>        Urdu and Pashto prompts, played by <Play>

The routes stay thin: verify the signature, turn the form into the dialogue's input
(channels.voice.inbound), let the dialogue answer (conversation.call) and render its reply
as TwiML (channels.voice.twiml).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request, send_file

from channels.twilio.request import TwilioRequest, WebhookError
from channels.voice.audio import PROMPTS_DIR, PromptLibrary, content_type
from channels.voice.hours import parse
from channels.voice.inbound import call_input, caller_number, recording_completed
from channels.voice.twiml import TwimlRenderer
from conversation.call import STEPS, Answered, CallError, CallSettings, PhoneDialogue
from conversation.call_survey import NotOurCall, placed_row
from gateway import jobs, voice_jobs
from gateway.runtime import Runtime
from storage.db import transaction

bp = Blueprint("voice", __name__)
TWIML = "text/xml"
CALL_AGAIN = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say>We could not take your call '
              'just now. Please call again in a few minutes.</Say><Hangup/></Response>')


def _rt() -> Runtime:
    return current_app.extensions["ikhtiyar"]


def _library() -> PromptLibrary:
    library = current_app.extensions.get("ikhtiyar_voice_prompts")
    if library is None:
        library = PromptLibrary(_rt().settings.voice_prompts_dir or PROMPTS_DIR)
        current_app.extensions["ikhtiyar_voice_prompts"] = library
    return library


def dialogue() -> PhoneDialogue:
    """The phone line's dialogue for this app (the webhooks and the simulator's calls)."""
    found = current_app.extensions.get("ikhtiyar_voice_dialogue")
    if found is None:
        settings = _rt().settings
        hours = parse(settings.voice_office_hours, settings.voice_timezone)
        found = PhoneDialogue(CallSettings(
            tracking_prefix=settings.tracking_prefix, call_centre=settings.voice_call_centre,
            office_open=hours.open_at, record_seconds=settings.voice_record_seconds))
        current_app.extensions["ikhtiyar_voice_dialogue"] = found
    return found


def _renderer() -> TwimlRenderer:
    base = _rt().settings.public_url or request.host_url.rstrip("/")
    cache = current_app.extensions.setdefault("ikhtiyar_voice_twiml", {})
    if base not in cache:  # one per public address: the URLs in TwiML are absolute
        cache[base] = TwimlRenderer(base, _library())
    return cache[base]


def _verified() -> dict[str, str]:
    """The form Twilio signed; a request it did not sign is refused with 403, unstored."""
    try:
        return TwilioRequest.from_flask(request, _rt().settings).validate()
    except WebhookError as exc:
        abort(Response(str(exc), status=exc.status, mimetype="text/plain"))


def queue_jobs(done: Answered) -> None:
    """After commit: deliver the tracking-number SMS and fetch the recordings."""
    rt = _rt()
    try:
        for message_id in done.deliver:
            rt.queue.enqueue(jobs.deliver, message_id)
        for message_id in done.fetch:
            rt.queue.enqueue(voice_jobs.fetch_audio, message_id)
    except Exception:  # the rows are on disk: the sweepers re-queue the SMS and the download
        jobs.log.exception("could not queue the voice jobs %s", done)


def _answer(step: str) -> Response:
    form = _verified()
    try:
        seq = int(request.args.get("n", "0"))
    except ValueError:
        return Response("n must be a number", status=400, mimetype="text/plain")
    try:
        with transaction(_rt().sessions) as session:
            done = dialogue().answer(session, call_input(form), step, seq, _renderer().render)
    except CallError as exc:
        return Response(str(exc), status=400, mimetype="text/plain")
    except Exception as exc:
        from gateway.spool import database_down

        if not database_down(exc):
            raise
        return Response(CALL_AGAIN, mimetype=TWIML)  # the database is down: nothing to keep
    queue_jobs(done)
    return Response(done.text, mimetype=TWIML)


@bp.post("/webhooks/twilio/voice")
def incoming_call():
    return _answer("start")


@bp.post("/webhooks/twilio/voice/recording")
def recording_status():
    form = _verified()
    if not recording_completed(form):
        return Response(status=204)
    with transaction(_rt().sessions) as session:
        done = dialogue().recording_ready(session, call_input(form))
    queue_jobs(done)
    return Response(status=204)


@bp.post("/webhooks/twilio/voice/status")
def call_status():
    form = _verified()
    with transaction(_rt().sessions) as session:
        done = dialogue().call_ended(session, call_input(form))
    queue_jobs(done)
    return Response(status=204)


@bp.post("/webhooks/twilio/voice/outbound")
def placed_call():
    """The complainant picked up the call placed to ask whether they are satisfied."""
    form = _verified()
    try:
        with transaction(_rt().sessions) as session:
            done = dialogue().begin_survey(session, call_input(form), request.args.get("key", ""),
                                           caller_number(form.get("To")), _renderer().render)
    except NotOurCall as exc:
        return Response(str(exc), status=403, mimetype="text/plain")
    queue_jobs(done)
    return Response(done.text, mimetype=TWIML)


@bp.post("/webhooks/twilio/voice/outbound/status")
def placed_call_status():
    """How the placed call ended: not answered (or no key pressed) sends the question by SMS."""
    form = _verified()
    rt = _rt()
    try:
        with transaction(rt.sessions) as session:
            row = placed_row(session, request.args.get("key", ""), (form.get("CallSid") or "").strip())
            done = dialogue().call_ended(session, call_input(form))
            copy = voice_jobs.placed_call_ended(session, rt.settings, row, (form.get("CallStatus") or "").strip())
    except NotOurCall as exc:
        return Response(str(exc), status=403, mimetype="text/plain")
    if copy is not None:
        done.deliver.append(copy)
    queue_jobs(done)
    return Response(status=204)


@bp.post("/webhooks/twilio/voice/<step>")
def step(step: str):
    if step not in STEPS:
        abort(404)
    return _answer(step)


@bp.get("/audio/prompts/<lang>/<filename>")
def prompt_audio(lang: str, filename: str):
    path = _library().path(lang, filename)
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype=content_type(filename), max_age=86400, conditional=True)
