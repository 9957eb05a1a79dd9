"""The complaint lifecycle: the only code that changes a complaint's state.

    submitted -> assigned -> in_progress -> resolved -> closed
                     ^            ^  |          |
                     |            |  v          v (citizen: not satisfied)
                     |       awaiting_info   reopened -> (escalated) in_progress

    any state before resolved (and reopened) -> withdrawn   (the complainant's own message)

Only the complainant's own authenticated answer moves ``resolved -> closed`` (or reopens):
the same WhatsApp/SMS number, an email from the complainant's address (its authentication
is the mail channel's), a phone call from the complainant's number after keying the
complaint's tracking number, the citizen's app session. A message the sender of which
nobody verified (one a Rasa action server reported, see ``UNVERIFIED``) never decides.
The one other way is ``confirm_by_proxy``: a clerk records an answer given on paper or by
phone, for a complaint in the clerk's scope that came by letter or whose complainant has no
digital channel, with the scan of the answer as evidence; the timeline says so. No officer,
admin, timer or other citizen closes a complaint. Every change is a timeline event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import scope, tracking
from storage.models import (
    ENDED_STATES,
    OPEN_STATES,
    Attachment,
    Category,
    Complaint,
    ComplaintEvent,
    Contact,
    Message,
    State,
    User,
    utcnow,
)


class TransitionError(Exception):
    """A lifecycle operation that is not allowed; says why in words an officer understands."""


class IllegalTransition(TransitionError):
    def __init__(self, complaint: Complaint, action: str) -> None:
        super().__init__(f"cannot {action} a complaint that is {complaint.state}")
        self.state = complaint.state
        self.action = action


class NotTheComplainant(TransitionError):
    """Only the complainant's own message can confirm or reject a resolution."""


class ProxyRefused(TransitionError):
    """A clerk may not record this answer on the complainant's behalf; says why."""


class OutOfScope(ProxyRefused):
    """The complaint is not in the clerk's scope (shown to the clerk as "not found")."""


STAFF = ("officer", "department_head", "admin", "clerk")
# Channels a citizen answers on in their own words. Not "letter": a paper answer is
# entered by a clerk, and only as a proxy confirmation with its scan. "app": the citizen's
# own session, opened with a one-time code sent to their number or address.
ANSWERING_CHANNELS = ("whatsapp", "sms", "email", "voice", "web", "app")
# Contacts on which a complainant can answer "are you satisfied?" themselves: one of these
# (not opted out) means no clerk answers for them, unless the complaint came by letter.
DIGITAL_CHANNELS = ("whatsapp", "sms", "email", "app")
# Payload key of an inbound message whose sender nobody verified (a Rasa action server's
# report, a mail that failed authentication); its value says why. Such a message is stored
# and may file a complaint, but never confirms, rejects, withdraws or answers a question.
UNVERIFIED = "unverified_sender"
# Payload key of a keypad answer given in a call the gateway placed to the complainant's
# number for this complaint (channels.voice.outbound); its value is the complaint's id.
PLACED_CALL = "placed_call_for"
PROXY = "confirmed_by_proxy"  # the event kind: the timeline reads "confirmed by proxy"


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
    "confirm_by_proxy": (frozenset({State.RESOLVED}), State.CLOSED),
    "reject_by_proxy": (frozenset({State.RESOLVED}), State.REOPENED),
    "withdraw": (frozenset({State.SUBMITTED, State.ASSIGNED, State.IN_PROGRESS, State.AWAITING_INFO,
                            State.REOPENED}), State.WITHDRAWN),
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


def _move(session: Session, complaint: Complaint, action: str, actor: Actor, *,
          kind: str | None = None, **kw) -> ComplaintEvent:
    _allowed(complaint, action)
    target = _MOVES[action][1]
    before = complaint.state
    if target is not None:
        complaint.state = target.value
    complaint.updated_at = utcnow()
    return _event(session, complaint, kind or action, actor, from_state=before,
                  to_state=complaint.state, **kw)


def _allowed(complaint: Complaint, action: str) -> None:
    if State(complaint.state) not in _MOVES[action][0]:
        raise IllegalTransition(complaint, action.replace("_", " "))


def _require_staff(actor: Actor, action: str) -> None:
    if actor.kind not in STAFF and actor.kind != "system":
        raise TransitionError(f"{action} is done by staff, not by a {actor.kind}")


def _require_complainant(session: Session, complaint: Complaint, message: Message, *,
                         deciding: bool = True) -> None:
    """The message must be the complainant's own, inbound, from a verified sender, and sent
    after the resolution. ``deciding`` (confirm, reject, withdraw) also needs a channel on
    which the citizen answers in their own words and, by phone, the complaint's tracking
    number keyed in the call (a caller id alone is easily spoofed)."""
    if message is None or message.id is None or message.direction != "in":
        raise NotTheComplainant("a confirmation needs the citizen's own inbound message")
    unverified = (message.payload or {}).get(UNVERIFIED)
    if unverified:
        raise NotTheComplainant(f"the sender of this message is not verified ({unverified})")
    contact = session.get(Contact, message.contact_id)
    if contact is None or contact.citizen_id != complaint.citizen_id:
        raise NotTheComplainant("only the complainant can confirm or reject the resolution")
    if complaint.resolved_at is not None and message.created_at < complaint.resolved_at:
        raise NotTheComplainant("the message was sent before the complaint was resolved")
    if not deciding:
        return
    if message.channel not in ANSWERING_CHANNELS:
        raise NotTheComplainant("an answer on paper is entered by a clerk, as a confirmation by proxy "
                                "with the scan of the answer")
    payload = message.payload or {}
    # A call we placed to the complainant's own number about this complaint (its CallSid
    # matched to our outbox row) proves who answers; a call that came in must key the number.
    placed = payload.get(PLACED_CALL) == complaint.id
    if message.channel == "voice" and not placed and payload.get("tracking") != complaint.tracking_number:
        raise NotTheComplainant("by phone, the caller must key the complaint's tracking number")


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
    _require_complainant(session, complaint, message, deciding=False)
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


def has_digital_channel(session: Session, complaint: Complaint) -> bool:
    """Whether the complainant has a WhatsApp, SMS or email address that can answer "are you
    satisfied?" themselves (one they have not opted out of)."""
    found = session.scalar(select(Contact.id).where(
        Contact.citizen_id == complaint.citizen_id, Contact.channel.in_(DIGITAL_CHANNELS),
        Contact.opted_out.is_(False)).limit(1))
    return found is not None


def check_proxy(session: Session, complaint: Complaint, clerk: User) -> None:
    """Raise ``ProxyRefused`` unless ``clerk`` may record the complainant's answer on their
    behalf: a clerk (never an admin), the complaint in the clerk's scope and waiting for
    the answer, and it came by letter or its complainant has no digital channel."""
    if clerk.role == "admin":
        raise ProxyRefused("admins never close a complaint, not even by proxy")
    if clerk.role != "clerk" or not clerk.active:
        raise ProxyRefused("only a clerk records an answer given on paper or by phone")
    if not scope.can_see(clerk, complaint):
        raise OutOfScope("the complaint is not in your scope")
    _allowed(complaint, "confirm_by_proxy")
    if complaint.channel != "letter" and has_digital_channel(session, complaint):
        raise ProxyRefused("the complainant can answer on WhatsApp, SMS or email themselves: "
                           "only their own answer closes the complaint")


def confirm_by_proxy(session: Session, complaint: Complaint, clerk: User, *, satisfied: bool,
                     evidence: Attachment | None, via: str, note: str | None = None) -> ComplaintEvent:
    """A clerk records the complainant's answer given on paper or by phone (``via``): closes
    when satisfied, else reopens and escalates as the complainant's own "no" would. Only
    with the scan of the answer (an attachment of this complaint) as evidence; a note is
    kept beside it but is no evidence. Recorded with actor ``clerk``, kind ``PROXY``."""
    check_proxy(session, complaint, clerk)
    if via not in ("paper", "phone"):
        raise ProxyRefused("say how the answer was given: on paper or by phone")
    if evidence is None or evidence.id is None or evidence.complaint_id != complaint.id or not evidence.size:
        raise ProxyRefused("a confirmation by proxy needs the scan of the complainant's answer")
    actor = Actor("clerk", user_id=clerk.id, channel="letter")
    data = {"satisfied": satisfied, "via": via, "evidence": evidence.id}
    note = (note or "").strip() or None
    if satisfied:
        event = _move(session, complaint, "confirm_by_proxy", actor, kind=PROXY, note=note, data=data)
        complaint.closed_at = utcnow()
        return event
    event = _move(session, complaint, "reject_by_proxy", actor, kind=PROXY, note=note, data=data)
    complaint.resolved_at = None
    escalate(session, complaint, SYSTEM, "the citizen is not satisfied with the resolution (by proxy)")
    return event


def withdraw(session: Session, complaint: Complaint, message: Message, reason: str) -> ComplaintEvent:
    """The complainant withdraws a complaint not yet resolved (state ``withdrawn``, final):
    only by their own inbound message, with their reason on the timeline."""
    _require_complainant(session, complaint, message)
    reason = " ".join((reason or "").split())
    if not reason:
        raise TransitionError("a withdrawal needs the complainant's reason")
    return _move(session, complaint, "withdraw", Actor("citizen"), message=message, note=reason[:2000])


def add_information(session: Session, complaint: Complaint, message: Message, actor: Actor,
                    text: str | None = None, data: dict | None = None) -> ComplaintEvent:
    """The complainant sent more about an open complaint (words, a photo, a voice note, a
    location pin): on the timeline for the officer; the state does not change."""
    _require_complainant(session, complaint, message, deciding=False)
    if complaint.state in ENDED_STATES:
        raise IllegalTransition(complaint, "add information to")
    complaint.updated_at = utcnow()
    return _event(session, complaint, "citizen_added_information", actor, message=message,
                  note=(text or "").strip() or None, data=data)


def mark_confidential(session: Session, complaint: Complaint, message: Message, actor: Actor) -> ComplaintEvent | None:
    """The complainant asks, by their own verified message, that their identity be hidden from
    the department the complaint is about; the state does not change. None when it already is."""
    _require_complainant(session, complaint, message, deciding=False)
    if complaint.confidential:
        return None
    complaint.confidential = True
    complaint.updated_at = utcnow()
    return _event(session, complaint, "marked_confidential", actor, message=message)


def escalate(session: Session, complaint: Complaint, actor: Actor, reason: str) -> ComplaintEvent:
    """Raise the escalation level of an open complaint; never changes whether it is open."""
    if complaint.state in ENDED_STATES:
        raise IllegalTransition(complaint, "escalate")
    complaint.escalation_level += 1
    complaint.updated_at = utcnow()
    return _event(session, complaint, "escalated", actor, note=reason,
                  data={"level": complaint.escalation_level})


def note(session: Session, complaint: Complaint, actor: Actor, text: str, *,
         kind: str = "note", message: Message | None = None) -> ComplaintEvent:
    """A timeline entry that changes nothing: an internal note, a citizen's comment, a reminder."""
    return _event(session, complaint, kind, actor, note=text, message=message)


# --- triage and transfer ------------------------------------------------------------------


def receiving_officer(session: Session, complaint: Complaint, department_code: str) -> int | None:
    """Who takes a case sent to ``department_code``: its officer in the complaint's district
    with the fewest open cases, else the department's head; None when it has neither."""
    if complaint.district_code:
        load = (select(func.count(Complaint.id)).where(Complaint.assigned_user_id == User.id,
                                                       Complaint.state.in_(OPEN_STATES))
                .scalar_subquery())
        found = session.scalar(select(User.id).where(
            User.active.is_(True), User.role == "officer", User.department_code == department_code,
            User.district_code == complaint.district_code).order_by(load, User.id).limit(1))
        if found:
            return found
    return session.scalar(select(User.id).where(
        User.active.is_(True), User.role == "department_head",
        User.department_code == department_code).order_by(User.id).limit(1))


def recategorise(session: Session, complaint: Complaint, actor: Actor, category_code: str, *,
                 user_id: int | None = None, reason: str | None = None) -> ComplaintEvent:
    """Give the complaint a category, and with it the category's department and due date, in
    one change (triage, recategorisation, transfer). A case that changes department is
    handed to ``user_id`` (an officer of the new department) or to ``receiving_officer``:
    never left assigned to nobody. The new department's clock starts now; a first triage or a
    change within the department keeps the clock that started when the citizen filed."""
    _require_staff(actor, "categorising")
    if complaint.state in ENDED_STATES or complaint.state == State.RESOLVED:
        raise IllegalTransition(complaint, "recategorise")
    category = session.get(Category, category_code)
    if category is None:
        raise TransitionError(f"no category with code {category_code}")
    if category.code == complaint.category_code:
        raise TransitionError("the complaint already has this category")
    before_dept, before_cat = complaint.department_code, complaint.category_code
    moved = before_dept is not None and before_dept != category.department_code
    if user_id is not None:
        target = session.get(User, user_id)
        if (target is None or not target.active or target.department_code != category.department_code
                or target.role not in ("officer", "department_head")):
            raise TransitionError("choose an officer of the new department")
    elif moved or (before_dept is None and complaint.assigned_user_id is None
                   and complaint.state != State.SUBMITTED):
        user_id = receiving_officer(session, complaint, category.department_code)
    else:
        user_id = complaint.assigned_user_id
    start = utcnow() if moved else complaint.created_at
    data = {"from_department": before_dept, "to_department": category.department_code,
            "from_category": before_cat, "to_category": category.code,
            "from_user": complaint.assigned_user_id, "to_user": user_id,
            "due_at": (start + timedelta(days=category.sla_days)).isoformat()}
    kind = "transferred" if moved else ("categorised" if before_cat is None else "recategorised")
    reason = (reason or "").strip() or None
    if moved and not reason:
        raise TransitionError("a transfer to another department needs a reason")
    if complaint.state == State.SUBMITTED and user_id is not None:
        event = _move(session, complaint, "assign", actor, kind=kind, note=reason, data=data)
    else:
        complaint.updated_at = utcnow()
        before = complaint.state
        if moved and complaint.state == State.IN_PROGRESS:
            complaint.state = State.ASSIGNED.value  # the new department has not started yet
        complaint.updated_at = utcnow()
        event = _event(session, complaint, kind, actor, from_state=before,
                       to_state=complaint.state, note=reason, data=data)
    complaint.department_code, complaint.category_code = category.department_code, category.code
    complaint.due_at = start + timedelta(days=category.sla_days)
    complaint.assigned_user_id = user_id
    return event
