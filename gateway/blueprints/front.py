"""The front door: ``/`` in English, Urdu and Pashto (tracking search, the channels, what
happens to a complaint), the tracking search's ``/track/``, and the localised parts of the
public tracking page (``public_details``, used by gateway/blueprints/track.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from conversation import app_intake, catalog
from storage.models import Complaint, utcnow

bp = Blueprint("front", __name__)
RTL = ("ur", "ps")
OPEN = ("submitted", "assigned", "in_progress", "awaiting_info", "reopened")


def page_language() -> str:
    """?lang= when given, else the browser's first of en/ur/ps."""
    asked = request.args.get("lang")
    if asked in catalog.LANGUAGES:
        return asked
    return request.accept_languages.best_match(catalog.LANGUAGES, default="en") or "en"


@bp.app_template_global("app_text")
def _app_text(key: str, lang: str, **values: object) -> str:
    return app_intake.app_text(key, lang, **values)


@bp.app_template_global("is_rtl")
def _is_rtl(lang: str) -> bool:
    return lang in RTL


@bp.get("/")
def home():
    settings = current_app.extensions["ikhtiyar"].settings
    lang = page_language()
    channels = [("channel_app", f"/app/?lang={lang}", None),
                ("channel_whatsapp", f"https://wa.me/{settings.twilio_whatsapp_from.lstrip('+')}"
                 if settings.twilio_whatsapp_from else None, settings.twilio_whatsapp_from),
                ("channel_sms", f"sms:{settings.twilio_sms_from}" if settings.twilio_sms_from else None,
                 settings.twilio_sms_from),
                ("channel_phone", f"tel:{settings.twilio_sms_from}" if settings.twilio_sms_from else None,
                 settings.twilio_sms_from),
                ("channel_email", f"mailto:{settings.mail_address}", settings.mail_address),
                ("channel_letter", None, None)]
    response = current_app.make_response(render_template(
        "front.html", lang=lang, channels=channels, prefix=settings.tracking_prefix))
    response.headers["Vary"] = "Accept-Language"
    return response


@bp.get("/track")
@bp.get("/track/")
def track_search():
    """The front door's tracking form: to the complaint's page, or back to the form."""
    number = " ".join(request.args.get("number", "").split())[:40]
    lang = page_language()
    if not number:
        return redirect(url_for("front.home", lang=lang) + "#track", 303)
    return redirect(url_for("track.track", number=number, lang=lang), 303)


def public_details(session: Session, complaint: Complaint, lang: str) -> dict:
    """What the tracking page adds to the status: the due date, the next step and the public
    timeline (what happened and when, never who or what was written)."""
    due = complaint.due_at
    return {
        "lang": lang,
        "due": due.strftime("%Y-%m-%d") if due and complaint.state in OPEN else None,
        "overdue": bool(due and complaint.state in OPEN and due < utcnow()),
        "next_step": app_intake.app_text("next_" + complaint.state, lang),
        "timeline": [{"at": e.created_at.strftime("%Y-%m-%d %H:%M"),
                      "what": app_intake.app_text("event_" + e.kind, lang)}
                     for e in app_intake.public_timeline(session, complaint)],
    }
