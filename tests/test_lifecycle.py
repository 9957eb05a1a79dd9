"""The lifecycle: legal moves, typed errors for illegal ones, and the rule that only the
complainant's own message closes a complaint (shown by a hypothesis state machine)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy.orm import Session

from storage import lifecycle
from storage.lifecycle import Actor, IllegalTransition, NotTheComplainant, TransitionError
from storage.messages import contact_for, insert_inbound, queue_outbound
from storage.models import Complaint, State

OFFICER = Actor("officer", None, "dashboard")
_ids = itertools.count(1)


def _file(session: Session, address: str = "+923001234567") -> tuple[Complaint, object]:
    contact = contact_for(session, "whatsapp", address)
    message, _ = insert_inbound(session, contact, channel="whatsapp", provider_id=f"SM{next(_ids)}",
                                text="broken road", payload={})
    complaint = Complaint(tracking_number=str(1000000 + next(_ids)), citizen_id=contact.citizen_id,
                          contact_id=contact.id, channel="whatsapp", description="broken road")
    lifecycle.submit(session, complaint, message, Actor("citizen", channel="whatsapp"), sla_days=3)
    session.flush()
    return complaint, contact


def _says(session: Session, contact, text: str):
    message, _ = insert_inbound(session, contact, channel=contact.channel,
                                provider_id=f"SM{next(_ids)}", text=text, payload={})
    session.flush()
    return message


def test_the_whole_path_records_every_step(rt):
    with rt.sessions() as s, s.begin():
        complaint, contact = _file(s)
        assert complaint.due_at is not None
        lifecycle.assign(s, complaint, OFFICER, user_id=None)
        lifecycle.start_work(s, complaint, OFFICER)
        lifecycle.request_info(s, complaint, OFFICER, "Which street?")
        lifecycle.info_received(s, complaint, _says(s, contact, "Street 5"))
        lifecycle.resolve(s, complaint, OFFICER, "Repaired")
        lifecycle.reject_resolution(s, complaint, _says(s, contact, "no"), "still broken")
        assert complaint.state == State.REOPENED and complaint.escalation_level == 1
        lifecycle.start_work(s, complaint, OFFICER)
        lifecycle.resolve(s, complaint, OFFICER, "Repaired again")
        lifecycle.confirm_satisfied(s, complaint, _says(s, contact, "yes"))
        s.flush()
        assert complaint.state == State.CLOSED
        assert [e.kind for e in complaint.events] == [
            "submitted", "assign", "start_work", "request_info", "info_received", "resolve",
            "reject_resolution", "escalated", "start_work", "resolve", "confirm_satisfied"]


def test_an_illegal_move_raises_a_typed_error_and_changes_nothing(rt):
    with rt.sessions() as s, s.begin():
        complaint, contact = _file(s)
        with pytest.raises(IllegalTransition) as info:
            lifecycle.confirm_satisfied(s, complaint, _says(s, contact, "yes"))
        assert info.value.state == "submitted" and "confirm satisfied" in str(info.value)
        assert complaint.state == "submitted"


def test_another_citizens_message_cannot_close(rt):
    with rt.sessions() as s, s.begin():
        complaint, _ = _file(s)
        lifecycle.assign(s, complaint, OFFICER)
        lifecycle.resolve(s, complaint, OFFICER, "done")
        other = contact_for(s, "sms", "+923339999999")
        with pytest.raises(NotTheComplainant):
            lifecycle.confirm_satisfied(s, complaint, _says(s, other, "yes"))
        assert complaint.state == "resolved"


def test_our_own_outbound_message_cannot_close(rt):
    with rt.sessions() as s, s.begin():
        complaint, contact = _file(s)
        lifecycle.assign(s, complaint, OFFICER)
        lifecycle.resolve(s, complaint, OFFICER, "done")
        ours = queue_outbound(s, contact, "Are you satisfied?")
        s.flush()
        with pytest.raises(NotTheComplainant):
            lifecycle.confirm_satisfied(s, complaint, ours)


def test_the_same_citizen_on_sms_can_confirm_a_whatsapp_complaint(rt):
    with rt.sessions() as s, s.begin():
        complaint, _ = _file(s, "+923001234567")
        lifecycle.assign(s, complaint, OFFICER)
        lifecycle.resolve(s, complaint, OFFICER, "done")
        sms = contact_for(s, "sms", "+923001234567")
        lifecycle.confirm_satisfied(s, complaint, _says(s, sms, "yes"))
        assert complaint.state == "closed"


def test_a_resolution_needs_a_note_and_staff(rt):
    with rt.sessions() as s, s.begin():
        complaint, _ = _file(s)
        lifecycle.assign(s, complaint, OFFICER)
        with pytest.raises(TransitionError):
            lifecycle.resolve(s, complaint, OFFICER, "   ")
        with pytest.raises(TransitionError):
            lifecycle.resolve(s, complaint, Actor("citizen"), "done")
        with pytest.raises(TransitionError):
            lifecycle.resolve(s, complaint, Actor("timer"), "done")


class NobodyButTheComplainantCloses(RuleBasedStateMachine):
    """Officers, admins, timers and other citizens do anything, in any order: the
    complaint never closes."""

    session: Session = None

    def __init__(self) -> None:
        super().__init__()
        s = self.session
        self.complaint, self.contact = _file(s, f"+9230012{next(_ids):05d}")
        self.other = contact_for(s, "whatsapp", f"+9234577{next(_ids):05d}")
        self.other_sms = contact_for(s, "sms", f"+9234588{next(_ids):05d}")

    def _try(self, op, *args, **kw):
        try:
            op(self.session, self.complaint, *args, **kw)
        except TransitionError:
            pass

    @rule(kind=st.sampled_from(["officer", "admin", "department_head", "system"]))
    def assign(self, kind):
        self._try(lifecycle.assign, Actor(kind), user_id=None)

    @rule(kind=st.sampled_from(["officer", "admin", "timer", "citizen"]))
    def start(self, kind):
        self._try(lifecycle.start_work, Actor(kind))

    @rule()
    def ask(self):
        self._try(lifecycle.request_info, OFFICER, "more?")

    @rule(kind=st.sampled_from(["officer", "admin", "timer"]))
    def resolve(self, kind):
        self._try(lifecycle.resolve, Actor(kind), "done")

    @rule(kind=st.sampled_from(["timer", "officer", "admin", "system"]))
    def escalate(self, kind):
        self._try(lifecycle.escalate, Actor(kind), "overdue")

    @rule(sms=st.booleans(), text=st.sampled_from(["yes", "ہاں", "1"]))
    def other_citizen_says_yes(self, sms, text):
        message = _says(self.session, self.other_sms if sms else self.other, text)
        self._try(lifecycle.confirm_satisfied, message)

    @rule()
    def other_citizen_says_no(self):
        self._try(lifecycle.reject_resolution, _says(self.session, self.other, "no"))

    @rule()
    def outbound_message_as_confirmation(self):
        ours = queue_outbound(self.session, self.contact, "yes")
        self.session.flush()
        self._try(lifecycle.confirm_satisfied, ours)

    @precondition(lambda self: self.complaint.state == "awaiting_info")
    @rule()
    def complainant_answers_question(self):
        self._try(lifecycle.info_received, _says(self.session, self.contact, "street 5"))

    @rule()
    def complainant_says_no(self):
        self._try(lifecycle.reject_resolution, _says(self.session, self.contact, "no"))

    @invariant()
    def never_closed(self):
        assert self.complaint.state != State.CLOSED
        assert self.complaint.closed_at is None


def test_no_sequence_by_anyone_but_the_complainant_closes_a_complaint(rt):
    with rt.sessions() as s, s.begin():
        NobodyButTheComplainantCloses.session = s
        run = NobodyButTheComplainantCloses.TestCase
        run.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                suppress_health_check=list(HealthCheck))
        run().runTest()
