"""storage.scope, the one rule of who sees which complaint: a clerk sees exactly the
complaints they entered (and still has no dashboard)."""

from __future__ import annotations

from sqlalchemy import select

from storage import lifecycle, scope, tracking
from storage.db import transaction
from storage.messages import contact_for, insert_inbound
from storage.models import Complaint, User

from .conftest import file_complaint, login


def enter_letter(rt, clerk_id: int) -> int:
    """A complaint as a clerk enters a letter: the "submitted" event names the clerk."""
    with transaction(rt.sessions) as s:
        contact = contact_for(s, "letter", f"letter:{tracking.new_number()}")
        message, _ = insert_inbound(s, contact, channel="letter",
                                    provider_id=f"letter-{tracking.new_number()}",
                                    text="Our school has no teacher", payload={})
        complaint = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id,
                              contact_id=contact.id, channel="letter", language="ur",
                              description=message.text, district_code="PSW",
                              department_code="PHED", category_code="PHED_NO_WATER")
        lifecycle.submit(s, complaint, message, lifecycle.Actor("clerk", clerk_id, "letter"))
        return complaint.id


def other_clerk(rt) -> int:
    with transaction(rt.sessions) as s:
        user = s.scalars(select(User).where(User.username == "clerk_two")).first()
        if user is None:
            user = User(username="clerk_two", role="clerk", password_hash="x")
            s.add(user)
            s.flush()
        return user.id


def test_a_clerk_sees_the_complaints_they_entered_and_no_other(rt, staff):
    mine = enter_letter(rt, staff["clerk"])
    theirs = enter_letter(rt, other_clerk(rt))
    by_citizen = file_complaint(rt).id
    with rt.sessions() as s:
        clerk = s.get(User, staff["clerk"])
        assert list(s.scalars(select(Complaint.id).where(
            Complaint.id.in_(scope.visible_complaints(clerk).with_only_columns(Complaint.id))))) == [mine]
        assert scope.can_see(clerk, s.get(Complaint, mine))
        assert not scope.can_see(clerk, s.get(Complaint, theirs))
        assert not scope.can_see(clerk, s.get(Complaint, by_citizen))
        assert not scope.can_act(clerk)


def test_a_complaint_a_clerk_entered_is_still_not_on_any_dashboard_for_them(rt, app, staff):
    with rt.sessions() as s:
        number = s.get(Complaint, enter_letter(rt, staff["clerk"])).tracking_number
    client = login(app, "clerk")
    for path in ("/dashboard/", f"/dashboard/cases/{number}", f"/dashboard/stream?case={number}"):
        assert client.get(path).status_code in (403, 404), path
