"""The lifecycle: legal moves, typed errors for illegal ones, the rule that only the
complainant's own authenticated answer closes a complaint, a clerk's confirmation by proxy,
a withdrawal, and a hypothesis state machine in which every actor there is tries its luck."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversation.action_server import ComplaintActionExecutor
from conversation.knowledge import Knowledge
from storage import lifecycle
from storage.lifecycle import (
    Actor,
    IllegalTransition,
    NotTheComplainant,
    OutOfScope,
    ProxyRefused,
    TransitionError,
)
from storage.messages import contact_for, insert_inbound, queue_outbound
from storage.models import Attachment, Complaint, ComplaintEvent, State, User
from tests.staff import ensure_user

OFFICER = Actor("officer", None, "dashboard")
_ids = itertools.count(1)


def _file(session: Session, address: str = "+923001234567", *, channel: str = "whatsapp",
          contact_channel: str | None = None, entered_by: User | None = None) -> tuple[Complaint, object]:
    """A complaint from ``address`` (on ``contact_channel``, by default the complaint's
    channel); ``entered_by`` a clerk, who then has it in scope."""
    contact = contact_for(session, contact_channel or channel, address)
    message, _ = insert_inbound(session, contact, channel=channel, provider_id=f"SM{next(_ids)}",
                                text="broken road", payload={})
    complaint = Complaint(tracking_number=str(1000000 + next(_ids)), citizen_id=contact.citizen_id,
                          contact_id=contact.id, channel=channel, description="broken road")
    actor = (Actor("clerk", user_id=entered_by.id, channel=channel) if entered_by
             else Actor("citizen", channel=channel))
    lifecycle.submit(session, complaint, message, actor, sla_days=3)
    session.flush()
    return complaint, contact


def _says(session: Session, contact, text: str, **payload):
    message, _ = insert_inbound(session, contact, channel=contact.channel,
                                provider_id=f"SM{next(_ids)}", text=text, payload=payload)
    session.flush()
    return message


def _resolved(session: Session, complaint: Complaint) -> Complaint:
    lifecycle.assign(session, complaint, OFFICER)
    lifecycle.resolve(session, complaint, OFFICER, "done")
    session.flush()
    return complaint


def _scan(session: Session, complaint: Complaint, size: int = 2048) -> Attachment:
    scan = Attachment(complaint_id=complaint.id, content_type="image/png", size=size, sha256="0" * 64,
                      path=f"letters/confirmations/{complaint.id}-{next(_ids)}.png", filename="answer.png")
    session.add(scan)
    session.flush()
    return scan


def _staff(session: Session) -> dict[str, User]:
    """Staff accounts for the proxy rules (the users table survives between tests)."""
    roles = {"lc_clerk": ("clerk", None, None), "lc_clerk_other": ("clerk", None, None),
             "lc_admin": ("admin", None, None), "lc_officer": ("officer", "PHED", "PSW"),
             "lc_head": ("department_head", "PHED", None)}
    return {name: ensure_user(session, name, role, dept, district, "not-a-password-hash")
            for name, (role, dept, district) in roles.items()}


def _snapshot(session: Session, complaint: Complaint) -> tuple:
    session.flush()
    return (complaint.state, complaint.closed_at, complaint.escalation_level,
            session.scalar(select(func.count(ComplaintEvent.id)).where(ComplaintEvent.complaint_id == complaint.id)))


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



# --- the complainant's own, authenticated answer ---------------------------------------------


def test_a_phone_answer_needs_the_complaints_tracking_number_keyed(rt):
    with rt.sessions() as s, s.begin():
        complaint, _ = _resolved(s, _file(s, "+923001234567")[0]), None
        caller = contact_for(s, "voice", "+923001234567")  # the complainant's number: same citizen
        for payload in ({}, {"tracking": "1234567"}, {"digits": "1"}):
            with pytest.raises(NotTheComplainant, match="tracking number"):
                lifecycle.confirm_satisfied(s, complaint, _says(s, caller, "1", **payload))
        assert complaint.state == "resolved"
        lifecycle.confirm_satisfied(s, complaint, _says(s, caller, "1", tracking=complaint.tracking_number))
        assert complaint.state == "closed"


def test_a_message_whose_sender_nobody_verified_decides_nothing(rt):
    with rt.sessions() as s, s.begin():
        complaint, contact = _file(s)
        _resolved(s, complaint)
        forged = _says(s, contact, "yes", **{lifecycle.UNVERIFIED: "a Rasa action call"})
        for op in (lifecycle.confirm_satisfied, lifecycle.reject_resolution):
            with pytest.raises(NotTheComplainant, match="not verified"):
                op(s, complaint, forged)
        assert _snapshot(s, complaint)[:3] == ("resolved", None, 0)


def test_a_paper_answer_is_never_the_complainants_own_message(rt):
    with rt.sessions() as s, s.begin():
        staff = _staff(s)
        complaint, contact = _file(s, "Gul Bibi, Gulbahar", channel="letter", entered_by=staff["lc_clerk"])
        _resolved(s, complaint)
        with pytest.raises(NotTheComplainant, match="by proxy"):
            lifecycle.confirm_satisfied(s, complaint, _says(s, contact, "satisfied"))
        assert complaint.state == "resolved"


# --- confirmation by proxy --------------------------------------------------------------------


@pytest.mark.parametrize("satisfied", [True, False])
def test_a_clerk_records_a_letter_writers_answer_by_proxy_with_its_scan(rt, satisfied):
    with rt.sessions() as s, s.begin():
        staff = _staff(s)
        complaint, _ = _file(s, "Gul Bibi, Gulbahar", channel="letter", entered_by=staff["lc_clerk"])
        _resolved(s, complaint)
        scan = _scan(s, complaint)
        event = lifecycle.confirm_by_proxy(s, complaint, staff["lc_clerk"], satisfied=satisfied,
                                           evidence=scan, via="paper", note="reply received by post")
        s.flush()
        assert (event.kind, event.actor_kind, event.actor_user_id) == ("confirmed_by_proxy", "clerk",
                                                                       staff["lc_clerk"].id)
        assert event.message_id is None and event.data == {"satisfied": satisfied, "via": "paper",
                                                           "evidence": scan.id}
        if satisfied:
            assert complaint.state == "closed" and complaint.closed_at is not None
        else:
            assert complaint.state == "reopened" and complaint.escalation_level == 1
            assert complaint.resolved_at is None and complaint.events[-1].kind == "escalated"


def test_a_clerk_may_answer_for_a_complainant_without_a_digital_channel(rt):
    with rt.sessions() as s, s.begin():
        staff = _staff(s)
        # A phone complaint a clerk took down at the desk: the caller has no WhatsApp, SMS or email.
        complaint, _ = _file(s, "+923451112233", channel="voice", entered_by=staff["lc_clerk"])
        _resolved(s, complaint)
        lifecycle.confirm_by_proxy(s, complaint, staff["lc_clerk"], satisfied=True,
                                   evidence=_scan(s, complaint), via="phone")
        assert complaint.state == "closed"


@pytest.mark.parametrize(("case", "error"), [
    ("admin", "admins never close"),
    ("officer", "only a clerk"),
    ("department_head", "only a clerk"),
    ("another_clerk", "not in your scope"),
    ("digital_channel", "can answer on WhatsApp, SMS or email themselves"),
    ("whatsapp_complaint", "not in your scope"),
    ("no_evidence", "needs the scan"),
    ("empty_scan", "needs the scan"),
    ("another_complaints_scan", "needs the scan"),
    ("not_resolved", "cannot confirm by proxy"),
])
def test_a_confirmation_by_proxy_is_refused_and_changes_nothing(rt, case, error):
    with rt.sessions() as s, s.begin():
        staff = _staff(s)
        clerk = staff["lc_clerk"]
        if case == "digital_channel":  # entered by the clerk, but the complainant has WhatsApp
            complaint, _ = _file(s, "+923001234567", channel="voice", entered_by=clerk)
            contact_for(s, "whatsapp", "+923001234567")
        elif case == "whatsapp_complaint":
            complaint, _ = _file(s, "+923001234567")
        else:
            complaint, _ = _file(s, "Gul Bibi, Gulbahar", channel="letter", entered_by=clerk)
        if case != "not_resolved":
            _resolved(s, complaint)
        scan = _scan(s, complaint)
        who = {"admin": staff["lc_admin"], "officer": staff["lc_officer"],
               "department_head": staff["lc_head"], "another_clerk": staff["lc_clerk_other"]}.get(case, clerk)
        evidence = {"no_evidence": None, "empty_scan": _scan(s, complaint, size=0),
                    "another_complaints_scan": _scan(s, _file(s, "+923009998877")[0])}.get(case, scan)
        before = _snapshot(s, complaint)
        for satisfied in (True, False):
            with pytest.raises(TransitionError, match=error):
                lifecycle.confirm_by_proxy(s, complaint, who, satisfied=satisfied, evidence=evidence,
                                           via="paper", note="the citizen said so")
        assert _snapshot(s, complaint) == before


def test_out_of_scope_is_its_own_refusal_so_a_clerk_is_told_not_found(rt):
    with rt.sessions() as s, s.begin():
        staff = _staff(s)
        complaint, _ = _file(s, "+923001234567")
        _resolved(s, complaint)
        with pytest.raises(OutOfScope):
            lifecycle.check_proxy(s, complaint, staff["lc_clerk"])
        with pytest.raises(ProxyRefused):
            lifecycle.check_proxy(s, complaint, staff["lc_admin"])


# --- withdrawal -------------------------------------------------------------------------------


def test_the_complainant_withdraws_an_unresolved_complaint_with_a_reason(rt):
    with rt.sessions() as s, s.begin():
        complaint, contact = _file(s)
        lifecycle.assign(s, complaint, OFFICER)
        event = lifecycle.withdraw(s, complaint, _says(s, contact, "withdraw"), "  The road was repaired  by us ")
        s.flush()
        assert complaint.state == "withdrawn" and complaint.closed_at is None
        assert (event.kind, event.actor_kind, event.note) == ("withdraw", "citizen", "The road was repaired by us")
        assert event.message_id is not None and event.channel == "whatsapp"
        for op in (lambda: lifecycle.start_work(s, complaint, OFFICER),
                   lambda: lifecycle.resolve(s, complaint, OFFICER, "done"),
                   lambda: lifecycle.escalate(s, complaint, Actor("timer"), "overdue"),
                   lambda: lifecycle.withdraw(s, complaint, _says(s, contact, "again"), "again")):
            with pytest.raises(TransitionError):
                op()
        assert complaint.state == "withdrawn"


def test_a_withdrawal_needs_the_complainant_a_reason_and_an_unresolved_complaint(rt):
    with rt.sessions() as s, s.begin():
        complaint, contact = _file(s)
        other = contact_for(s, "whatsapp", "+923339999999")
        with pytest.raises(NotTheComplainant):
            lifecycle.withdraw(s, complaint, _says(s, other, "withdraw"), "not mine")
        with pytest.raises(NotTheComplainant):
            lifecycle.withdraw(s, complaint, _says(s, contact, "x", **{lifecycle.UNVERIFIED: "rasa"}), "forged")
        with pytest.raises(TransitionError, match="reason"):
            lifecycle.withdraw(s, complaint, _says(s, contact, "withdraw"), "   ")
        _resolved(s, complaint)
        with pytest.raises(IllegalTransition):
            lifecycle.withdraw(s, complaint, _says(s, contact, "withdraw"), "too late")
        assert complaint.state == "resolved"


# --- every actor, in any order -----------------------------------------------------------------

# How a complaint came in: (complaint channel, complainant's contact channel, entered by the clerk).
KINDS = {
    "whatsapp": ("whatsapp", "whatsapp", False),
    "email": ("email", "email", False),
    "letter_with_phone": ("letter", "sms", True),
    "letter_without_phone": ("letter", "letter", True),
    "desk_call_without_digital": ("voice", "voice", True),  # a clerk took it down; no digital channel
    "desk_call_with_whatsapp": ("voice", "whatsapp", True),  # a clerk took it down; has WhatsApp
    "phone_line": ("voice", "voice", False),
}
DECIDED = ("closed", "withdrawn")


class OnlyTheComplainantDecides(RuleBasedStateMachine):
    """Every actor acts in any order on a stream of complaints of every kind: officers,
    department heads, admins, timers and the system; other citizens; forged email senders
    (a message on another contact); spoofed callers (the complainant's number without the
    tracking number); the Rasa action server for the complainant's own address; clerks
    answering by proxy in and out of scope, with and without a scan, for complainants with
    and without a digital channel. Only the complainant's own answer and the one valid proxy
    case (recorded as such) close, reopen or withdraw a complaint."""

    session: Session = None
    staff: dict[str, User] = None

    def __init__(self) -> None:
        super().__init__()
        self.executor = ComplaintActionExecutor(lambda: contextlib.nullcontext(self.session), Knowledge.load)
        self.other = contact_for(self.session, "whatsapp", f"+9234577{next(_ids):05d}")
        self.other_sms = contact_for(self.session, "sms", f"+9234588{next(_ids):05d}")
        self.forger = contact_for(self.session, "email", f"victim.{next(_ids)}@evil.test")

    # --- the complaint under test ---------------------------------------------------------

    def _new(self, kind: str, resolved: bool) -> None:
        channel, contact_channel, by_clerk = KINDS[kind]
        n = next(_ids)
        address = {"email": f"citizen.{n}@example.org", "letter": f"Writer {n}, Gulbahar"}.get(
            contact_channel, f"+9230012{n:05d}")
        self.kind = kind
        self.complaint, self.contact = _file(self.session, address, channel=channel, contact_channel=contact_channel,
                                             entered_by=self.staff["lc_clerk"] if by_clerk else None)
        self.phone = address if contact_channel in ("whatsapp", "sms", "voice") else None
        if resolved:  # most decisions wait for a resolution: start there half the time
            _resolved(self.session, self.complaint)

    @initialize(kind=st.sampled_from(sorted(KINDS)), resolved=st.booleans())
    def first_complaint(self, kind, resolved):
        self._new(kind, resolved)

    @precondition(lambda self: self.complaint.state in DECIDED)
    @rule(kind=st.sampled_from(sorted(KINDS)), resolved=st.booleans())
    def next_complaint(self, kind, resolved):
        self._new(kind, resolved)

    def _act(self, allowed: bool, op, *args, **kw) -> None:
        """Run ``op`` on the complaint; whether it may decide is ``allowed`` (the model's
        answer, checked against what the lifecycle did)."""
        before = self.complaint.state
        try:
            op(self.session, self.complaint, *args, **kw)
        except TransitionError:
            pass
        self.session.flush()
        after = self.complaint.state
        decided = (after in DECIDED and before not in DECIDED) or (before == "resolved" and after == "reopened")
        assert not decided or allowed, f"{op.__name__} moved {before} -> {after} for {self.kind}"
        if allowed and before == "resolved" and op.__name__ in ("confirm_satisfied", "confirm_by_proxy"):
            assert decided, f"{op.__name__} should have decided for {self.kind}"

    # --- staff, timers, the system ----------------------------------------------------------

    @rule(kind=st.sampled_from(["officer", "admin", "department_head", "system", "clerk", "citizen"]))
    def assign(self, kind):
        self._act(False, lifecycle.assign, Actor(kind), user_id=None)

    @rule(kind=st.sampled_from(["officer", "admin", "timer", "citizen"]))
    def start(self, kind):
        self._act(False, lifecycle.start_work, Actor(kind))

    @rule()
    def ask(self):
        self._act(False, lifecycle.request_info, OFFICER, "more?")

    @rule(kind=st.sampled_from(["officer", "admin", "timer", "department_head"]))
    def resolve(self, kind):
        self._act(False, lifecycle.resolve, Actor(kind), "done")

    @rule(kind=st.sampled_from(["timer", "officer", "admin", "system"]))
    def escalate(self, kind):
        self._act(False, lifecycle.escalate, Actor(kind), "overdue")

    @rule()
    def outbound_message_as_confirmation(self):
        ours = queue_outbound(self.session, self.contact, "yes")
        self.session.flush()
        self._act(False, lifecycle.confirm_satisfied, ours)

    # --- the complainant -----------------------------------------------------------------------

    @rule(satisfied=st.booleans())
    def complainant_answers(self, satisfied):
        message = _says(self.session, self.contact, "yes" if satisfied else "no")
        own_words = self.contact.channel != "letter" and self.contact.channel != "voice"
        op = lifecycle.confirm_satisfied if satisfied else lifecycle.reject_resolution
        self._act(own_words, op, message)

    @precondition(lambda self: self.phone is not None)
    @rule(satisfied=st.booleans())
    def complainant_calls_and_keys_the_tracking_number(self, satisfied):
        caller = contact_for(self.session, "voice", self.phone)
        message = _says(self.session, caller, "1" if satisfied else "2", tracking=self.complaint.tracking_number)
        op = lifecycle.confirm_satisfied if satisfied else lifecycle.reject_resolution
        self._act(True, op, message)

    @rule()
    def complainant_withdraws(self):
        message = _says(self.session, self.contact, "withdraw")
        self._act(self.contact.channel not in ("letter", "voice"), lifecycle.withdraw, message, "no longer needed")

    @precondition(lambda self: self.complaint.state == "awaiting_info")
    @rule()
    def complainant_answers_question(self):
        self._act(False, lifecycle.info_received, _says(self.session, self.contact, "street 5"))

    # --- everyone else who claims to be the complainant ----------------------------------------

    @rule(sms=st.booleans(), text=st.sampled_from(["yes", "ہاں", "1"]))
    def other_citizen_says_yes(self, sms, text):
        self._act(False, lifecycle.confirm_satisfied, _says(self.session, self.other_sms if sms else self.other, text))

    @rule()
    def other_citizen_says_no_or_withdraws(self):
        self._act(False, lifecycle.reject_resolution, _says(self.session, self.other, "no"))
        self._act(False, lifecycle.withdraw, _says(self.session, self.other, "withdraw"), "not mine")

    @rule(satisfied=st.booleans())
    def forged_email_sender(self, satisfied):
        # From: claims the complainant, but the mail is on the sender's own contact.
        op = lifecycle.confirm_satisfied if satisfied else lifecycle.reject_resolution
        self._act(False, op, _says(self.session, self.forger, "yes" if satisfied else "no"))

    @precondition(lambda self: self.phone is not None)
    @rule(keyed=st.sampled_from([None, "", "1", "1234567"]), satisfied=st.booleans())
    def spoofed_caller(self, keyed, satisfied):
        caller = contact_for(self.session, "voice", self.phone)  # the complainant's number
        payload = {} if keyed is None else {"tracking": keyed}
        op = lifecycle.confirm_satisfied if satisfied else lifecycle.reject_resolution
        self._act(False, op, _says(self.session, caller, "1" if satisfied else "2", **payload))

    @precondition(lambda self: self.contact.channel in ("whatsapp", "sms", "email"))
    @rule(satisfied=st.booleans())
    def action_server_for_the_complainants_address(self, satisfied):
        call = {"next_action": "action_answer_resolution", "version": "3.6.21", "domain": {},
                "sender_id": f"{self.contact.channel}:{self.contact.address}",
                "tracker": {"sender_id": f"{self.contact.channel}:{self.contact.address}",
                            "slots": {"satisfied": satisfied}, "events": [], "paused": False,
                            "latest_message": {"text": "yes", "message_id": f"rasa-{next(_ids)}",
                                               "intent": {"name": "affirm"}, "entities": []},
                            "active_loop": {}, "latest_action_name": "action_listen"}}

        def run(_session, _complaint):
            asyncio.run(self.executor.run(call))
        run.__name__ = "action_server"
        self._act(False, run)

    # --- clerks and admins answering on the complainant's behalf -------------------------------

    def _proxy(self, who: str, evidence: str, satisfied: bool) -> None:
        s = self.session
        scan = {"scan": lambda: _scan(s, self.complaint), "none": lambda: None,
                "empty": lambda: _scan(s, self.complaint, size=0),
                "other_complaint": lambda: _scan(s, _file(s, f"+9230099{next(_ids):05d}")[0])}[evidence]()
        no_digital = not lifecycle.has_digital_channel(s, self.complaint)
        valid = (who == "lc_clerk" and evidence == "scan" and KINDS[self.kind][2]
                 and (self.complaint.channel == "letter" or no_digital))
        self._act(valid, lifecycle.confirm_by_proxy, self.staff[who], satisfied=satisfied,
                  evidence=scan, via="paper", note="the citizen said so")

    @rule(evidence=st.sampled_from(["scan", "none", "empty", "other_complaint"]), satisfied=st.booleans())
    def proxy_by_the_clerk_who_entered_it(self, evidence, satisfied):
        self._proxy("lc_clerk", evidence, satisfied)

    @rule(who=st.sampled_from(["lc_clerk_other", "lc_admin", "lc_officer", "lc_head"]), satisfied=st.booleans())
    def proxy_by_anyone_else_even_with_a_scan(self, who, satisfied):
        self._proxy(who, "scan", satisfied)

    # --- what must always hold --------------------------------------------------------------

    @invariant()
    def every_decision_names_who_made_it(self):
        c = self.complaint
        if c.state not in DECIDED and c.state != "reopened":
            return
        events = self.session.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == c.id)
                                      .order_by(ComplaintEvent.id)).all()
        deciding = [e for e in events if e.to_state in DECIDED or (e.from_state, e.to_state) == ("resolved", "reopened")]
        assert deciding
        last = deciding[-1]
        if last.kind == lifecycle.PROXY:
            assert last.actor_kind == "clerk" and last.actor_user_id == self.staff["lc_clerk"].id
            assert last.message_id is None and last.data["evidence"]
        else:
            assert last.kind in ("confirm_satisfied", "reject_resolution", "withdraw")
            assert last.actor_kind == "citizen" and last.message_id is not None
        if c.state == "closed":
            assert c.closed_at is not None
        else:
            assert c.closed_at is None


def test_no_sequence_by_anyone_but_the_complainant_or_a_valid_proxy_decides(rt):
    with rt.sessions() as s, s.begin():
        OnlyTheComplainantDecides.session = s
        OnlyTheComplainantDecides.staff = _staff(s)
        run = OnlyTheComplainantDecides.TestCase
        run.settings = settings(max_examples=100, stateful_step_count=30, deadline=None,
                                suppress_health_check=list(HealthCheck))
        run().runTest()
