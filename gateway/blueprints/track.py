"""/track/<tracking>: the public status of a complaint, with no personal data."""

from flask import Blueprint, current_app, render_template
from sqlalchemy import select

from conversation import catalog
from gateway.blueprints.front import page_language, public_details
from storage import tracking
from storage.models import Complaint, Department, District

bp = Blueprint("track", __name__)


@bp.get("/track/<path:number>")
def track(number: str):
    rt = current_app.extensions["ikhtiyar"]
    lang = page_language()  # ?lang=, else the browser's language
    found = tracking.find(number, rt.settings.tracking_prefix)
    if not found.number:
        message = (catalog.text("tracking_mistyped", lang, digits=found.mistyped) if found.mistyped
                   else catalog.text("ask_tracking", lang))
        return render_template("track.html", lang=lang, message=message, complaint=None), 404
    with rt.sessions() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.tracking_number == found.number)).first()
        if complaint is None:
            return render_template("track.html", lang=lang, complaint=None,
                                   message=catalog.text("status_not_found", lang,
                                                        tracking=f"{rt.settings.tracking_prefix}-{found.number}")), 404
        department = session.get(Department, complaint.department_code) if complaint.department_code else None
        district = session.get(District, complaint.district_code) if complaint.district_code else None
        view = {
            "tracking": f"{rt.settings.tracking_prefix}-{complaint.tracking_number}",
            "status": catalog.text("status_" + complaint.state, lang),
            "department": getattr(department, f"name_{lang}", None),
            "district": getattr(district, f"name_{lang}", None),
            "filed": complaint.created_at.strftime("%Y-%m-%d"),
            "updated": complaint.updated_at.strftime("%Y-%m-%d"),
        }
        view.update(public_details(session, complaint, lang))  # due date, next step, timeline
    return render_template("track.html", lang=lang, complaint=view, message=None)
