"""Which complaints a member of staff may see: the one rule every route and query uses.

officer: own department and district; department head: own department, all districts;
viewer and admin: the whole province; clerk: only the complaints they entered themselves
(their "submitted" event names them), which they see in the letters area: clerks have no
dashboard. Out of scope is answered as "not found", so nothing leaks that a case exists.
"""

from __future__ import annotations

from sqlalchemy import Select, exists, false, select
from sqlalchemy.orm import object_session

from storage.models import Complaint, ComplaintEvent, User

SUBMITTED = "submitted"


def _entered_by(user_id: int):
    """The complaints whose "submitted" event was written by this member of staff."""
    return select(ComplaintEvent.complaint_id).where(ComplaintEvent.kind == SUBMITTED,
                                                     ComplaintEvent.actor_user_id == user_id)


def visible(query: Select, user: User) -> Select:
    """Restrict a query over Complaint to what ``user`` may see."""
    if user.role in ("admin", "viewer"):
        return query
    if user.role == "department_head":
        return query.where(Complaint.department_code == user.department_code)
    if user.role == "officer":
        return query.where(Complaint.department_code == user.department_code,
                           Complaint.district_code == user.district_code)
    if user.role == "clerk":
        return query.where(Complaint.id.in_(_entered_by(user.id)))
    return query.where(false())


def visible_complaints(user: User) -> Select:
    return visible(select(Complaint), user)


def can_see(user: User, complaint: Complaint) -> bool:
    """Whether ``user`` may see this complaint (for a clerk this asks the complaint's own
    session who entered it; a complaint in no session is not theirs to see)."""
    if user.role in ("admin", "viewer"):
        return True
    if user.role == "department_head":
        return complaint.department_code == user.department_code
    if user.role == "officer":
        return (complaint.department_code == user.department_code
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


def identity_hidden(user: User, complaint: Complaint) -> bool:
    """A confidential complaint hides its complainant from the department it is about: its
    officers and its head see the case but nothing that tells who complained (no name,
    address, number, CNIC, location, file, scan or delivery error), and may not reveal it."""
    return bool(complaint.confidential) and user.role in ("officer", "department_head") \
        and user.department_code == complaint.department_code
