"""Which complaints a member of staff may see: the one rule every route and query uses.

officer: own department and district; department head: own department, all districts;
viewer and admin: the whole province; clerk: only the complaints they entered themselves
(their "submitted" event names them), which they see in the letters area: clerks have no
dashboard. A complaint nobody has given a department yet (a phone recording, an anonymous
email) waits for triage (``unsorted``): the officers of its district see it too, whatever
their department (whoever is on duty in the district office sorts it), department heads see
every one (they sort those of no district as well), admins all. Out of scope is answered as "not found", so nothing leaks that a case exists.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, exists, false, or_, select
from sqlalchemy.orm import object_session

from storage.models import ENDED_STATES, Complaint, ComplaintEvent, User

SUBMITTED = "submitted"


def _entered_by(user_id: int):
    """The complaints whose "submitted" event was written by this member of staff."""
    return select(ComplaintEvent.complaint_id).where(ComplaintEvent.kind == SUBMITTED,
                                                     ComplaintEvent.actor_user_id == user_id)


def visible(query: Select, user: User, *, unsorted: bool = False) -> Select:
    """Restrict a query over Complaint to what ``user`` may see. ``unsorted`` adds the
    complaints without a department that wait for triage (see the module's note): the
    dashboard's case pages and triage queue ask for them; work figures and the staff API,
    which count a department's own cases, do not."""
    if user.role in ("admin", "viewer"):
        return query
    if user.role == "department_head":
        mine = Complaint.department_code == user.department_code
        return query.where(or_(mine, Complaint.department_code.is_(None)) if unsorted else mine)
    if user.role == "officer":
        mine = Complaint.department_code == user.department_code
        return query.where(Complaint.district_code == user.district_code,
                           or_(mine, Complaint.department_code.is_(None)) if unsorted else mine)
    if user.role == "clerk":
        return query.where(Complaint.id.in_(_entered_by(user.id)))
    return query.where(false())


def needs_triage():
    """Complaints without a department or a category (and not yet ended)."""
    return and_(or_(Complaint.department_code.is_(None), Complaint.category_code.is_(None)),
                Complaint.state.not_in(ENDED_STATES))


def visible_complaints(user: User) -> Select:
    return visible(select(Complaint), user)


def can_see(user: User, complaint: Complaint) -> bool:
    """Whether ``user`` may see this complaint (for a clerk this asks the complaint's own
    session who entered it; a complaint in no session is not theirs to see)."""
    if user.role in ("admin", "viewer"):
        return True
    if user.role == "department_head":
        return complaint.department_code in (user.department_code, None)
    if user.role == "officer":
        return (complaint.department_code in (user.department_code, None)
                and complaint.district_code == user.district_code)
    if user.role == "clerk":
        session = object_session(complaint)
        if session is None or complaint.id is None:
            return False
        return bool(session.scalar(select(exists(
            _entered_by(user.id).where(ComplaintEvent.complaint_id == complaint.id)))))
    return False


def can_act(user: User) -> bool:
    """Viewers read; everyone else in scope may act on a case."""
    return user.role in ("officer", "department_head", "admin")


def can_triage(user: User, complaint: Complaint) -> bool:
    """Who may choose (or change) a complaint's department and category: anyone who may act
    on it and sees it (so an officer triages the unsorted complaints of their district and
    the cases of their own department there, never another department's); clerks, viewers
    and citizens never."""
    return can_act(user) and user.role != "clerk" and can_see(user, complaint)


def identity_hidden(user: User, complaint: Complaint) -> bool:
    """A confidential complaint hides its complainant from the department it is about: its
    officers and its head see the case but nothing that tells who complained (no name,
    address, number, CNIC, location, file, scan or delivery error), and may not reveal it."""
    return bool(complaint.confidential) and user.role in ("officer", "department_head") \
        and user.department_code == complaint.department_code
