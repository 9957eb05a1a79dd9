"""Saved queue filters (per user): save the queue's current filter under a name, delete one.
A filter is the queue's query string, so opening one is an ordinary link."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from gateway.auth import require_roles
from gateway.blueprints import dashboard_view as view
from gateway.blueprints.dashboard import bp
from storage import saved_filters
from storage.db import transaction


@bp.post("/filters")
@require_roles(*view.DASHBOARD_ROLES)
def save_filter():
    query = request.form.get("query", "")
    try:
        with transaction(view.rt().sessions) as db:
            saved_filters.save(db, current_user.id, request.form.get("name", ""), query)
    except ValueError as exc:
        flash(str(exc), "error")
    else:
        flash(view.t("filter_saved"), "ok")
    return redirect(url_for("dashboard.queue") + ("?" + saved_filters.clean_query(query) if query else ""), 303)


@bp.post("/filters/<int:filter_id>/delete")
@require_roles(*view.DASHBOARD_ROLES)
def delete_filter(filter_id: int):
    with transaction(view.rt().sessions) as db:
        if not saved_filters.delete(db, current_user.id, filter_id):
            abort(404)  # another's filter is "not found", like one that does not exist
    flash(view.t("filter_deleted"), "ok")
    return redirect(url_for("dashboard.queue"), 303)
