"""Which complaints a member of staff may see: the one rule every route and query uses.

officer: own department and district; department head: own department, all districts;
viewer and admin: the whole province; clerk: only complaints they entered (letters).
Out of scope is answered as "not found", so nothing leaks that a case exists.
"""

from __future__ import annotations

from sqlalchemy import Select, false, select

from storage.models import Complaint, User


def visible(query: Select, user: User) -> Select:
    """Restrict a query over Complaint to what ``user`` may see."""
    if user.role in ("admin", "viewer"):
        return query
    if user.role == "department_head":
        return query.where(Complaint.department_code == user.department_code)
    if user.role == "officer":
        return query.where(Complaint.department_code == user.department_code,
                           Complaint.district_code == user.district_code)
    return query.where(false())


def visible_complaints(user: User) -> Select:
    return visible(select(Complaint), user)


def can_see(user: User, complaint: Complaint) -> bool:
    if user.role in ("admin", "viewer"):
        return True
    if user.role == "department_head":
        return complaint.department_code == user.department_code
    if user.role == "officer":
        return (complaint.department_code == user.department_code
                and complaint.district_code == user.district_code)
    return False


def can_act(user: User) -> bool:
    """Viewers read; everyone else in scope may act on a case."""
    return user.role in ("officer", "department_head", "admin")
