"""/dashboard/reports: the weekly report as a PDF, for the department head (their
department) and the province's viewers and admins (the province, or one department)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from flask_login import current_user

from analytics.performance import Period, PeriodError
from analytics.report import last_week
from gateway.auth import require_roles
from gateway.blueprints import dashboard_view as view
from storage.models import Department

bp = Blueprint("reports", __name__, url_prefix="/dashboard/reports")
READERS = ("department_head", "viewer", "admin")


@bp.get("/weekly.pdf")
@require_roles(*READERS)
def weekly():
    from analytics.report_pdf import build_pdf
    from config.fonts import FontMissing
    from storage.models import utcnow

    lang = request.args.get("lang", view.ui_lang())
    lang = lang if lang in ("en", "ur") else "en"
    if request.args.get("from") or request.args.get("to"):
        try:
            period = Period.parse(request.args.get("from"), request.args.get("to"), default_days=7)
        except PeriodError as exc:
            return Response(str(exc), 400, mimetype="text/plain")
    else:
        period = last_week(utcnow().date())
    if current_user.role == "department_head":
        department = current_user.department_code
    else:
        department = (request.args.get("department") or "").strip().upper() or None
    with view.rt().sessions() as db:
        if department and db.get(Department, department) is None:
            abort(404)
        try:
            data = build_pdf(db, period, department, lang)
        except FontMissing as exc:
            return Response(str(exc), 503, mimetype="text/plain")
    name = f"ikhtiyar-{(department or 'province').lower()}-{period.start.isoformat()}-{period.end.isoformat()}-{lang}.pdf"
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
