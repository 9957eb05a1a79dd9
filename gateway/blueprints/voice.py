"""The phone line's webhooks (Twilio Voice) and the prompt audio Twilio plays.

POST /webhooks/twilio/voice              a call comes in (the number's Voice URL)
POST /webhooks/twilio/voice/<step>?n=N   the IVR's follow-up steps (URLs it gave in TwiML)
POST /webhooks/twilio/voice/recording    recordingStatusCallback of <Record>
POST /webhooks/twilio/voice/status       the number's call status callback (hang-ups)
GET  /audio/prompts/<lang>/<file>        Urdu and Pashto prompts, played by <Play>
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request, send_file

from channels.twilio.request import TwilioRequest, WebhookError
from channels.voice.audio import PROMPTS_DIR, PromptLibrary, content_type
from channels.voice.hours import parse
from channels.voice.ivr import CallError, Ivr, Outcome, VoiceConfig
from gateway import jobs, voice_jobs
from gateway.runtime import Runtime
from storage.db import transaction

bp = Blueprint("voice", __name__)
STEPS = ("start", "language", "menu", "district", "record", "tracking", "confirm", "dial",
         "voicemail", "done")
TWIML = "text/xml"


def _rt() -> Runtime:
    return current_app.extensions["ikhtiyar"]


def _library() -> PromptLibrary:
    library = current_app.extensions.get("ikhtiyar_voice_prompts")
    if library is None:
        library = PromptLibrary(_rt().settings.voice_prompts_dir or PROMPTS_DIR)
        current_app.extensions["ikhtiyar_voice_prompts"] = library
    return library


def _ivr() -> Ivr:
    settings = _rt().settings
    base = settings.public_url or request.host_url.rstrip("/")
    cache = current_app.extensions.setdefault("ikhtiyar_voice", {})
    if base not in cache:  # one per public address: the URLs in TwiML are absolute
        cache[base] = Ivr(VoiceConfig(
            base_url=base, library=_library(), tracking_prefix=settings.tracking_prefix,
            call_centre=settings.voice_call_centre,
            hours=parse(settings.voice_office_hours, settings.voice_timezone),
            record_seconds=settings.voice_record_seconds))
    return cache[base]


def _verified() -> dict[str, str]:
    """The form Twilio signed; a request it did not sign is refused with 403, unstored."""
    try:
        return TwilioRequest.from_flask(request, _rt().settings).validate()
    except WebhookError as exc:
        abort(Response(str(exc), status=exc.status, mimetype="text/plain"))


def _queue(outcome: Outcome) -> None:
    """After commit: deliver the tracking-number SMS and fetch the recording."""
    rt = _rt()
    try:
        for message_id in outcome.deliver:
            rt.queue.enqueue(jobs.deliver, message_id)
        for call_id in outcome.fetch:
            rt.queue.enqueue(voice_jobs.fetch_recording, call_id)
    except Exception:  # the rows are on disk: the outbox sweeper re-queues the SMS
        jobs.log.exception("could not queue the voice jobs %s", outcome)


def _answer(step: str) -> Response:
    form = _verified()
    try:
        seq = int(request.args.get("n", "0"))
    except ValueError:
        return Response("n must be a number", status=400, mimetype="text/plain")
    try:
        with transaction(_rt().sessions) as session:
            outcome = _ivr().answer(session, form, step, seq)
    except CallError as exc:
        return Response(str(exc), status=exc.status, mimetype="text/plain")
    _queue(outcome)
    return Response(outcome.twiml, mimetype=TWIML)


@bp.post("/webhooks/twilio/voice")
def incoming_call():
    return _answer("start")


@bp.post("/webhooks/twilio/voice/recording")
def recording_status():
    form = _verified()
    with transaction(_rt().sessions) as session:
        outcome = _ivr().recording_status(session, form)
    _queue(outcome)
    return Response(status=204)


@bp.post("/webhooks/twilio/voice/status")
def call_status():
    form = _verified()
    with transaction(_rt().sessions) as session:
        outcome = _ivr().call_status(session, form)
    _queue(outcome)
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
