"""/dashboard/triage: the complaints nobody has given a department or category yet (phone
recordings, anonymous emails, letters without one), per district, oldest first, each with
the classifier's likeliest categories, its recording or scan, and one-click categorising.

Who sees a case here is ``storage.scope`` (the officers of its district, department heads,
admins; viewers read only); who may categorise is ``scope.can_triage``. Categorising,
recategorising and transfer all go through ``conversation.reroute`` (lifecycle.recategorise:
department, category and due date in one change, with the acting officer) and tell the
citizen who now handles the case.
"""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from conversation import reroute
from gateway.auth import require_roles
from gateway.blueprints import dashboard_view as view
from gateway.blueprints.dashboard import bp
from gateway.blueprints.dashboard_actions import ActionError, _act, _actor, _text
from storage import scope
from storage.models import Attachment, Category, Complaint, Message, utcnow

PAGE_SIZE = 50
SUGGESTIONS = 3


def suggestions(knowledge, description: str | None, department: str | None = None,
                besides: str | None = None, n: int = SUGGESTIONS) -> list[tuple[str, float]]:
    """The classifier's ``n`` likeliest categories for the description: among ``department``'s
    own when given, else among all; never ``besides`` (the category it has now)."""
    models = getattr(knowledge, "models", None)
    if models is None or not (description or "").strip():
        return []
    among = set(knowledge.by_department.get(department, [])) if department else set(knowledge.categories)
    among.discard(besides)
    if not among:
        return []
    return models.categories.top(description, n, among=among)


def categories_by_department(db) -> list[tuple[str, list[Category]]]:
    rows = list(db.scalars(select(Category).order_by(Category.department_code, Category.code)))
    grouped: dict[str, list[Category]] = {}
    for c in rows:
        grouped.setdefault(c.department_code, []).append(c)
    return list(grouped.items())


def _files(db, complaint: Complaint, shown: view.Shown) -> list[dict]:
    if shown.hidden:
        return []
    message_ids = select(Message.id).where(Message.complaint_id == complaint.id)
    found = db.scalars(select(Attachment).where(
        (Attachment.complaint_id == complaint.id) | Attachment.message_id.in_(message_ids))
        .order_by(Attachment.id).limit(6))
    return [shown.attachment(a) for a in found]


@bp.get("/triage")
@require_roles(*view.DASHBOARD_ROLES)
def triage():
    district = request.args.get("district") or None
    if current_user.role == "officer":
        district = current_user.district_code  # an officer triages their own district
    simulated = request.args.get("simulated") == "1"
    with view.rt().sessions() as db:
        query = scope.visible(select(Complaint), current_user, unsorted=True).where(scope.needs_triage())
        if district:
            query = query.where(Complaint.district_code == district)
        if not simulated:
            query = query.where(Complaint.simulated.is_(False))
        complaints = list(db.scalars(query.order_by(Complaint.created_at, Complaint.id).limit(PAGE_SIZE)))
        knowledge = view.rt().conversation_knowledge(db)
        rows = []
        for c in complaints:
            shown = view.shown_for(db, current_user, c)
            rows.append({"c": c, "description": shown.text(c.description),
                         "files": _files(db, c, shown), "suggested": suggestions(knowledge, c.description, c.department_code,
                                                   c.category_code)})
        labels = view.labels(db)
        grouped = categories_by_department(db)
    return render_template("dashboard_triage.html", rows=rows, labels=labels, grouped=grouped,
                           district=district, simulated=simulated, now=utcnow())


@bp.post("/cases/<number>/categorise")
@require_roles(*view.DASHBOARD_ROLES)
def categorise(number: str):
    """Give the case a category (and so its department and due date); from the triage page
    or the case page. A transfer to another department needs a reason."""
    back = "triage" if request.form.get("from") == "triage" else None

    def change(db, complaint):
        if not scope.can_triage(current_user, complaint):
            abort(403)
        code = request.form.get("category", "").strip().upper()
        if not code or db.get(Category, code) is None:
            raise ActionError("choose a category")
        user_id = request.form.get("user_id", "").strip()
        reason = _text("reason", "The reason", required=False) or None
        return reroute.recategorise(db, complaint, _actor(), code,
                                    user_id=int(user_id) if user_id.isdigit() else None,
                                    reason=reason, prefix=view.prefix())

    done = view.t("done_categorised")
    return _act(number, change, done=done, back=url_for("dashboard.triage") if back else None)
