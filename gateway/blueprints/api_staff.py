"""``/api/v1/staff``: the officers' queue, case and actions for scripts and other systems,
with a bearer token (``ikhtiyar users token NAME``) and the dashboards' scope rules
(storage.scope: out of scope is 404). Each action changes the complaint the way the
dashboard's does: through conversation.casework / storage.lifecycle, with the message for
the citizen queued on their own channel."""

from __future__ import annotations

from datetime import datetime

from flask import request
from sqlalchemy import or_, select

from conversation import casework, reroute
from gateway import jobs
from gateway.blueprints.api import bp, complaint_view
from gateway.blueprints.api_common import Problem, body, field, page, page_params, rt, staff
from gateway.blueprints.dashboard_view import identity_hidden, mask_address, shown_for
from storage import lifecycle, scope, tracking
from storage.db import transaction
from storage.models import (
    Complaint,
    ComplaintEvent,
    Contact,
    Message,
    State,
    utcnow,
)

MAX_TEXT = 4000
OUTCOMES = ("relief_granted", "partial_relief", "not_possible")


def _actor() -> lifecycle.Actor:
    user = staff(act=True)
    kind = user.role if user.role in lifecycle.STAFF else "officer"
    return lifecycle.Actor(kind, user.id, "api")


def _case(session, number: str, *, for_update: bool = False) -> Complaint:
    user = staff()
    found = tracking.find(number, rt().settings.tracking_prefix)
    if not found.number:
        raise Problem(404, "Not found", "no case with this tracking number in your scope")
    query = scope.visible(select(Complaint), user).where(Complaint.tracking_number == found.number)
    if for_update:
        query = query.with_for_update()
    complaint = session.scalars(query).first()
    if complaint is None:
        raise Problem(404, "Not found", "no case with this tracking number in your scope")
    return complaint


def _staff_view(session, c: Complaint) -> dict:
    view = complaint_view(session, c)
    # Masked like the dashboard's case page; nothing of the complainant for the department a
    # confidential complaint is about (issue 10).
    shown = shown_for(session, staff(), c)
    view.update(description=shown.text(c.description),
                location_detail=None if shown.hidden else shown.text(c.location_detail),
                latitude=None if shown.hidden else c.latitude,
                longitude=None if shown.hidden else c.longitude)
    view.update(escalation_level=c.escalation_level, assigned_user_id=c.assigned_user_id,
                incomplete=bool(c.incomplete),
                overdue=bool(c.due_at and c.due_at < utcnow() and c.state in ("submitted", "assigned",
                                                                               "in_progress", "reopened")))
    return view


@bp.get("/staff/complaints")
def staff_queue():
    user = staff()
    below, limit = page_params()
    query = scope.visible(select(Complaint), user)
    args = request.args
    if "state" in args:
        if args["state"] not in {s.value for s in State}:
            raise Problem(400, "Bad request", "unknown state")
        query = query.where(Complaint.state == args["state"])
    for name, column in (("department", Complaint.department_code), ("district", Complaint.district_code),
                         ("category", Complaint.category_code)):
        if name in args:
            query = query.where(column == args[name].upper())
    assigned = args.get("assigned")
    if assigned == "me":
        query = query.where(Complaint.assigned_user_id == user.id)
    elif assigned == "none":
        query = query.where(Complaint.assigned_user_id.is_(None))
    elif assigned is not None:
        raise Problem(400, "Bad request", "assigned is 'me' or 'none'")
    overdue = args.get("overdue")
    if overdue == "true":
        query = query.where(Complaint.due_at < utcnow(), Complaint.state.in_(
            ("submitted", "assigned", "in_progress", "reopened")))
    elif overdue not in (None, "false"):
        raise Problem(400, "Bad request", "overdue is 'true' or 'false'")
    if below is not None:
        query = query.where(Complaint.id < below)
    with rt().sessions() as session:
        rows = list(session.scalars(query.order_by(Complaint.id.desc()).limit(limit + 1)))
        result = page(rows, limit, key=lambda c: c.id)
        result["items"] = [_staff_view(session, c) for c in result["items"]]
    return result


@bp.get("/staff/complaints/<number>")
def staff_case(number: str):
    user = staff()
    with rt().sessions() as session:
        c = _case(session, number)
        view = _staff_view(session, c)
        hidden = identity_hidden(user, c)
        shown = shown_for(session, user, c)
        contact = session.get(Contact, c.contact_id)
        view["complainant"] = ({"hidden": True} if hidden else
                               {"hidden": False, "channel": contact.channel,
                                "address": mask_address(contact.address)})
        view["events"] = [{"at": e.created_at.isoformat(), "kind": e.kind, "from_state": e.from_state,
                           "to_state": e.to_state, "actor": e.actor_kind, "channel": e.channel,
                           "note": shown.text(e.note)}
                          for e in session.scalars(select(ComplaintEvent).where(
                              ComplaintEvent.complaint_id == c.id).order_by(ComplaintEvent.id))]
        view["messages"] = [{"at": m.created_at.isoformat(), "direction": m.direction, "channel": m.channel,
                             "kind": m.kind, "text": shown.text(m.text), "status": m.status}
                            for m in session.scalars(select(Message).where(
                                Message.complaint_id == c.id,
                                or_(Message.kind.is_(None), Message.kind != "one_time_code"))
                                .order_by(Message.id))]
    return view


def _act(number: str, change) -> dict:
    """Run ``change(session, complaint, actor)`` in one transaction; deliver what it queued."""
    actor = _actor()
    data = body()
    queued: list[int] = []
    with transaction(rt().sessions) as session:
        complaint = _case(session, number, for_update=True)
        try:
            result = change(session, complaint, actor, data)
        except lifecycle.TransitionError as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        session.flush()
        if result is not None:
            queued.append(result.id)
        view = _staff_view(session, complaint)
    for message_id in queued:
        rt().queue.enqueue(jobs.deliver, message_id)
    return view


def _text(data: dict, name: str) -> str:
    value = (field(data, name, str, required=True, max_length=MAX_TEXT) or "").strip()
    if not value:
        raise Problem(422, "Invalid field", f"'{name}' is empty", field=name)
    return value


@bp.post("/staff/complaints/<number>/reply")
def staff_reply(number: str):
    return _act(number, lambda s, c, actor, data: casework.message_citizen(
        s, c, actor, _text(data, "text"), prefix=rt().settings.tracking_prefix))


@bp.post("/staff/complaints/<number>/note")
def staff_note(number: str):
    def change(s, c, actor, data):
        lifecycle.note(s, c, actor, _text(data, "text"))
    return _act(number, change)


@bp.post("/staff/complaints/<number>/request-information")
def staff_request_information(number: str):
    return _act(number, lambda s, c, actor, data: casework.ask_for_information(
        s, c, actor, _text(data, "question"), prefix=rt().settings.tracking_prefix))


@bp.post("/staff/complaints/<number>/resolve")
def staff_resolve(number: str):
    def change(s, c, actor, data):
        outcome = field(data, "outcome", str, default="relief_granted")
        if outcome not in OUTCOMES:
            raise Problem(422, "Invalid field", "'outcome' is one of " + ", ".join(OUTCOMES), field="outcome")
        return casework.resolve(s, c, actor, _text(data, "note"), outcome,
                                prefix=rt().settings.tracking_prefix)
    return _act(number, change)


@bp.post("/staff/complaints/<number>/assign")
def staff_assign(number: str):
    """Give the case to an officer, or transfer it to another department (with a reason)."""
    def change(s, c, actor, data):
        reason = (field(data, "reason", str, max_length=MAX_TEXT) or "").strip() or None
        department = (field(data, "department", str, max_length=24) or "").strip().upper() or None
        category = (field(data, "category", str, max_length=40) or "").strip().upper() or None
        if department and department != c.department_code and not scope.can_triage(staff(), c):
            raise Problem(403, "Forbidden", "you may not move this case to another department")
        try:
            return reroute.assign_or_transfer(
                s, c, actor, department=department, user_id=field(data, "user_id", int), reason=reason,
                category=category, knowledge=rt().conversation_knowledge(s),
                prefix=rt().settings.tracking_prefix)
        except reroute.RerouteRefused as exc:
            raise Problem(422, "Invalid field", str(exc), field=exc.field) from None
    return _act(number, change)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
