"""The complaint lifecycle: the only code that changes a complaint's state.

    submitted -> assigned -> in_progress -> resolved -> closed
                     ^            ^  |          |
                     |            |  v          v (citizen: not satisfied)
                     |       awaiting_info   reopened -> (escalated) in_progress

Only the complainant's own inbound message moves ``resolved -> closed``; no officer,
admin, timer or other citizen can close a complaint. Every change is a timeline event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from storage import tracking
from storage.models import Complaint, ComplaintEvent, Contact, Message, State, utcnow


class TransitionError(Exception):
    """A lifecycle operation that is not allowed; says why in words an officer understands."""


class IllegalTransition(TransitionError):
    def __init__(self, complaint: Complaint, action: str) -> None:
        super().__init__(f"cannot {action} a complaint that is {complaint.state}")
        self.state = complaint.state
        self.action = action


class NotTheComplainant(TransitionError):
    """Only the complainant's own message can confirm or reject a resolution."""


STAFF = ("officer", "department_head", "admin", "clerk")


@dataclass(frozen=True)
class Actor:
    """Who acts: ``kind`` is citizen, officer, department_head, clerk, admin, system or timer."""

    kind: str
    user_id: int | None = None
    channel: str | None = None


SYSTEM = Actor("system")

# action -> (states it may start from, state it leads to; None keeps the state)
_MOVES: dict[str, tuple[frozenset[State], State | None]] = {
    "assign": (frozenset({State.SUBMITTED}), State.ASSIGNED),
    "reassign": (
        frozenset({State.ASSIGNED, State.IN_PROGRESS, State.AWAITING_INFO, State.REOPENED}),
        None,
    ),
    "start_work": (frozenset({State.ASSIGNED, State.REOPENED, State.AWAITING_INFO}), State.IN_PROGRESS),
    "request_info": (frozenset({State.ASSIGNED, State.IN_PROGRESS}), State.AWAITING_INFO),
    "info_received": (frozenset({State.AWAITING_INFO}), State.IN_PROGRESS),
    "resolve": (frozenset({State.ASSIGNED, State.IN_PROGRESS}), State.RESOLVED),
    "confirm_satisfied": (frozenset({State.RESOLVED}), State.CLOSED),
    "reject_resolution": (frozenset({State.RESOLVED}), State.REOPENED),
}


def _event(session: Session, complaint: Complaint, kind: str, actor: Actor, *,
           from_state: str | None = None, to_state: str | None = None,
           message: Message | None = None, note: str | None = None,
           data: dict | None = None) -> ComplaintEvent:
    event = ComplaintEvent(
        complaint_id=complaint.id, kind=kind, from_state=from_state, to_state=to_state,
        actor_kind=actor.kind, actor_user_id=actor.user_id,
        channel=actor.channel or (message.channel if message is not None else None),
        message_id=message.id if message is not None else None, note=note, data=data or {},
    )
    session.add(event)
    return event


def _move(session: Session, complaint: Complaint, action: str, actor: Actor, **kw) -> ComplaintEvent:
    allowed, target = _MOVES[action]
    if State(complaint.state) not in allowed:
        raise IllegalTransition(complaint, action.replace("_", " "))
    before = complaint.state
    if target is not None:
        complaint.state = target.value
    complaint.updated_at = utcnow()
    return _event(session, complaint, action, actor, from_state=before,
                  to_state=complaint.state, **kw)


def _require_staff(actor: Actor, action: str) -> None:
    if actor.kind not in STAFF and actor.kind != "system":
        raise TransitionError(f"{action} is done by staff, not by a {actor.kind}")


def _require_complainant(session: Session, complaint: Complaint, message: Message) -> None:
    """The message must be the complainant's own, inbound, and sent after the resolution."""
    if message is None or message.id is None or message.direction != "in":
        raise NotTheComplainant("a confirmation needs the citizen's own inbound message")
    contact = session.get(Contact, message.contact_id)
    if contact is None or contact.citizen_id != complaint.citizen_id:
        raise NotTheComplainant("only the complainant can confirm or reject the resolution")
    if complaint.resolved_at is not None and message.created_at < complaint.resolved_at:
        raise NotTheComplainant("the message was sent before the complaint was resolved")


# --- operations ---------------------------------------------------------------------------


def submit(session: Session, complaint: Complaint, message: Message | None, actor: Actor,
           sla_days: int | None = None) -> ComplaintEvent:
    """Record a new complaint (state ``submitted``) with the message that filed it."""
    complaint.state = State.SUBMITTED.value
    now = utcnow()
    complaint.created_at = now
    if sla_days:
        complaint.due_at = now + timedelta(days=sla_days)
    tracking.insert_numbered(session, complaint)  # a taken number is drawn again
    return _event(session, complaint, "submitted", actor, to_state=complaint.state, message=message)


def assign(session: Session, complaint: Complaint, actor: Actor, *, user_id: int | None = None,
           department_code: str | None = None, note: str | None = None) -> ComplaintEvent:
    """Give the complaint to an officer and/or a department (a transfer when already assigned)."""
    _require_staff(actor, "assigning")
    data = {"from_user": complaint.assigned_user_id, "to_user": user_id,
            "from_department": complaint.department_code,
            "to_department": department_code or complaint.department_code}
    action = "assign" if complaint.state == State.SUBMITTED else "reassign"
    event = _move(session, complaint, action, actor, note=note, data=data)
    complaint.assigned_user_id = user_id
    if department_code:
        complaint.department_code = department_code
    return event


def start_work(session: Session, complaint: Complaint, actor: Actor, note: str | None = None) -> ComplaintEvent:
    _require_staff(actor, "starting work")
    return _move(session, complaint, "start_work", actor, note=note)


def request_info(session: Session, complaint: Complaint, actor: Actor, question: str) -> ComplaintEvent:
    _require_staff(actor, "asking for information")
    return _move(session, complaint, "request_info", actor, note=question)


def info_received(session: Session, complaint: Complaint, message: Message) -> ComplaintEvent:
    """The citizen answered the question; the case goes back to work."""
    _require_complainant(session, complaint, message)
    return _move(session, complaint, "info_received", Actor("citizen"), message=message)


def resolve(session: Session, complaint: Complaint, actor: Actor, note: str,
            outcome: str = "relief_granted") -> ComplaintEvent:
    """The officer says it is done; the complainant will be asked to confirm."""
    _require_staff(actor, "resolving")
    if not note or not note.strip():
        raise TransitionError("a resolution needs a note the citizen will read")
    event = _move(session, complaint, "resolve", actor, note=note.strip(), data={"outcome": outcome})
    complaint.resolved_at = utcnow()
    return event


def confirm_satisfied(session: Session, complaint: Complaint, message: Message) -> ComplaintEvent:
    """Close the complaint: only with the complainant's own message that carried the "yes"."""
    _require_complainant(session, complaint, message)
    event = _move(session, complaint, "confirm_satisfied", Actor("citizen"), message=message)
    complaint.closed_at = utcnow()
    return event


def reject_resolution(session: Session, complaint: Complaint, message: Message,
                      reason: str | None = None) -> ComplaintEvent:
    """The complainant is not satisfied: reopen and escalate one level."""
    _require_complainant(session, complaint, message)
    event = _move(session, complaint, "reject_resolution", Actor("citizen"), message=message, note=reason)
    complaint.resolved_at = None
    escalate(session, complaint, SYSTEM, "the citizen is not satisfied with the resolution")
    return event


def escalate(session: Session, complaint: Complaint, actor: Actor, reason: str) -> ComplaintEvent:
    """Raise the escalation level of an open complaint; never changes whether it is open."""
    if complaint.state == State.CLOSED:
        raise IllegalTransition(complaint, "escalate")
    complaint.escalation_level += 1
    complaint.updated_at = utcnow()
    return _event(session, complaint, "escalated", actor, note=reason,
                  data={"level": complaint.escalation_level})


def note(session: Session, complaint: Complaint, actor: Actor, text: str, *,
         kind: str = "note", message: Message | None = None) -> ComplaintEvent:
    """A timeline entry that changes nothing: an internal note, a citizen's comment, a reminder."""
    return _event(session, complaint, kind, actor, note=text, message=message)
