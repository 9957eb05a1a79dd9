"""Scripted conversations through the real path (persist, job, engine, outbox), asserting
the stored state and the exact text the citizen saw, in English and in Urdu."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from conversation import casework, catalog
from storage import lifecycle
from storage.db import transaction
from storage.models import Category, Complaint, ComplaintEvent, Message
from tests.citizen import Citizen

T = catalog.text


def _resolve(rt, note: str) -> str:
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        message = casework.resolve(s, complaint, lifecycle.Actor("officer", None, "cli"), note)
        s.flush()
        message_id = message.id
    from gateway import jobs

    jobs.deliver(message_id)
    with rt.sessions() as s:
        sent = s.get(Message, message_id)
        assert sent.status == "delivered"
        return sent.text


def _complaint(rt) -> Complaint:
    with rt.sessions() as s:
        return s.scalars(select(Complaint)).one()


def _events(rt) -> list[tuple[str, str | None, str]]:
    with rt.sessions() as s:
        return [(e.kind, e.to_state, e.actor_kind)
                for e in s.scalars(select(ComplaintEvent).order_by(ComplaintEvent.id))]


def test_english_complaint_from_hello_to_citizen_confirmed_closure(rt):
    c = Citizen(rt)
    assert c.send("hi") == [T("welcome", "en")]
    assert c.send("1") == [T("ask_description", "en")]
    assert c.send("The street light near our house has not worked for two weeks") == [T("ask_district", "en")]
    assert c.send("peshawer") == [T("ask_location", "en")]  # a common misspelling
    # The category is clear from the description: not asked. The last question is whether
    # the complaint is against the department's own staff (NO: filed as it is).
    [summary] = c.send("Gulbahar, street 4, near the mosque")
    assert "Problem: The street light near our house has not worked for two weeks" in summary
    assert "District: Peshawar" in summary and "Local Government" in summary
    assert "Street lights not working" in summary and "against an officer" in summary
    [registered] = c.send("no")
    complaint = _complaint(rt)
    tracking = f"KP-{complaint.tracking_number}"
    with rt.sessions() as s:
        sla = s.get(Category, complaint.category_code).sla_days
    assert registered == T("complaint_registered", "en", tracking=tracking, sla_days=sla)
    assert complaint.state == "submitted" and complaint.district_code == "PSW"
    assert complaint.department_code == "LOCAL_GOVT" and complaint.language == "en"
    assert complaint.confidential is False

    [status] = c.send(f"status {tracking}")
    assert status.startswith(f"Complaint {tracking} (") and "received, waiting to be assigned" in status

    asked = _resolve(rt, "The light was replaced")
    assert asked == T("satisfaction_request", "en", tracking=tracking, note="The light was replaced")
    assert _complaint(rt).state == "resolved"

    assert c.send("no") == [T("reopened", "en", tracking=tracking)]
    complaint = _complaint(rt)
    assert complaint.state == "reopened" and complaint.escalation_level == 1
    assert c.send("It went off again the next night") == [T("comment_recorded", "en", tracking=tracking)]

    _resolve(rt, "The wiring was repaired")
    assert c.send("yes") == [T("closed_thanks", "en", tracking=tracking)]
    complaint = _complaint(rt)
    assert complaint.state == "closed" and complaint.closed_at is not None
    kinds = [k for k, _, _ in _events(rt)]
    assert kinds == ["submitted", "assign", "resolve", "reject_resolution", "escalated",
                     "citizen_comment", "start_work", "resolve", "confirm_satisfied"]
    with rt.sessions() as s:
        closing = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "confirm_satisfied")).one()
        assert s.get(Message, closing.message_id).text == "yes"


def test_urdu_complaint_in_nastaliq_from_salaam_to_closure(rt):
    c = Citizen(rt, address="+923451112233")
    assert c.send("السلام علیکم") == [T("welcome", "ur")]
    assert c.send("۱") == [T("ask_description", "ur")]  # Urdu digit one
    assert c.send("ہمارے محلے میں تین دن سے کوڑا نہیں اٹھایا گیا") == [T("ask_district", "ur")]
    assert c.send("مردان") == [T("ask_location", "ur")]
    [summary] = c.send("شیخ ملتون، گلی نمبر ۳")
    assert "ضلع: مردان" in summary and "جگہ: شیخ ملتون، گلی نمبر ۳" in summary
    [registered] = c.send("نہیں")
    complaint = _complaint(rt)
    tracking = f"KP-{complaint.tracking_number}"
    assert registered.startswith(f"آپ کی شکایت درج ہو گئی ہے۔ ٹریکنگ نمبر: {tracking}")
    assert complaint.language == "ur" and complaint.district_code == "MDN"

    urdu_digits = complaint.tracking_number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    [status] = c.send(f"میری شکایت {urdu_digits}")
    assert status.startswith(f"شکایت {tracking}") and T("status_submitted", "ur") in status

    assert _resolve(rt, "کوڑا اٹھا لیا گیا") == T("satisfaction_request", "ur", tracking=tracking,
                                                   note="کوڑا اٹھا لیا گیا")
    assert c.send("نہیں، کوڑا اب بھی پڑا ہے") == [T("reopened_with_reason", "ur", tracking=tracking)]
    complaint = _complaint(rt)
    assert complaint.state == "reopened" and complaint.escalation_level == 1
    with rt.sessions() as s:
        reopen = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "reject_resolution")).one()
        assert reopen.note == "کوڑا اب بھی پڑا ہے"

    _resolve(rt, "صفائی کا عملہ روزانہ آئے گا")
    assert c.send("ہاں") == [T("closed_thanks", "ur", tracking=tracking)]
    assert _complaint(rt).state == "closed"


def test_a_long_first_message_starts_a_complaint_with_it_as_the_description(rt):
    c = Citizen(rt)
    # Roman Urdu is understood and answered in Roman Urdu; the category is clear, the
    # district is not named: that is what is asked.
    assert c.send("Bijli ka transformer teen din se kharab hai, pura mohalla andhere mein hai") == \
        [T("ask_district", "ur-rm")]


def test_status_of_someone_elses_complaint_is_not_told(rt):
    owner = Citizen(rt, address="+923001110000")
    for text in ("1", "Open manhole on the main road is dangerous for children", "Swat",
                 "Mingora bazaar", "no"):
        owner.send(text)
    number = _complaint(rt).tracking_number
    stranger = Citizen(rt, address="+923009990000")
    assert stranger.send(f"KP-{number}") == [T("status_not_found", "en", tracking=f"KP-{number}")]


def test_only_the_complainant_can_answer_the_satisfaction_request(rt):
    owner = Citizen(rt, address="+923001110000")
    for text in ("1", "Open manhole on the main road is dangerous for children", "Swat",
                 "Mingora bazaar", "no"):
        owner.send(text)
    _resolve(rt, "Covered the manhole")
    stranger = Citizen(rt, address="+923009990000")
    assert stranger.send("yes") == [T("nothing_to_confirm", "en")]
    assert _complaint(rt).state == "resolved"


@pytest.mark.parametrize(("text", "key"), [
    ("", "empty_message"),
    ("   ", "empty_message"),
    ("😀👍🙏", "not_understood"),
    ("/start-foo", "not_understood"),
])
def test_bad_input_gets_a_clear_reply_and_is_stored(rt, text, key):
    c = Citizen(rt)
    assert c.send(text) == [T(key, "en")]
    with rt.sessions() as s:
        stored = s.scalars(select(Message).where(Message.direction == "in")).one()
        assert stored.text == text and stored.status == "processed"


def test_a_ten_thousand_character_message_is_asked_to_be_shorter(rt):
    c = Citizen(rt)
    c.send("1")
    long_text = "The road is broken. " * 500
    assert c.send(long_text) == [T("description_too_long", "en", length=len(long_text.strip()), max=2000)]
    with rt.sessions() as s:
        assert len(s.scalars(select(Message.text).where(Message.direction == "in")).all()[-1]) == 10_000


def test_a_wrong_check_digit_is_reported_as_a_typo(rt):
    c = Citizen(rt)
    from storage import tracking

    good = tracking.new_number()
    wrong = good[:-1] + str((int(good[-1]) + 3) % 10)
    assert c.send(f"KP-{wrong}") == [T("tracking_mistyped", "en", digits=wrong)]


def test_emoji_as_a_description_is_asked_again(rt):
    c = Citizen(rt)
    c.send("1")
    assert c.send("😡😡😡") == [T("description_too_short", "en")]


def test_an_unknown_district_is_asked_again_with_the_reason(rt):
    c = Citizen(rt)
    c.send("1")
    c.send("No water in the government school for a month")
    assert c.send("Atlantis") == [T("district_unknown", "en", given="Atlantis")]


def test_a_provider_retry_of_the_same_message_is_answered_once(rt):
    from conversation.messages import InboundMessage
    from gateway.pipeline import receive

    inbound = InboundMessage(channel="whatsapp", provider_id="SM-same", sender="+923001234567", text="hi")
    first = receive(rt, inbound)
    second = receive(rt, inbound)
    rt.queue.run_due()
    assert first[1] is True and second == (first[0], False)
    with rt.sessions() as s:
        assert len(s.scalars(select(Message).where(Message.direction == "out")).all()) == 1


def test_cancel_in_the_middle_of_the_form_files_nothing(rt):
    c = Citizen(rt)
    c.send("1")
    c.send("Teacher absent from the primary school for a month")
    assert c.send("cancel") == [T("complaint_cancelled", "en")]
    assert c.complaints() == []


def test_language_can_be_changed_to_pashto(rt):
    c = Citizen(rt)
    c.send("hi")
    assert c.send("language") == [T("language_menu", "en")]
    assert c.send("3") == [T("language_set", "ps"), T("welcome", "ps")]
    assert c.send("1") == [T("ask_description", "ps")]


def test_choosing_another_department_by_number(rt):
    c = Citizen(rt)
    for text in ("1", "The people in the office keep sending me from one desk to another", "Swat"):
        last = c.send(text)
    # Not sure of the category: the three likeliest, numbered, and "something else".
    [menu] = last
    assert menu.startswith("What kind of problem is it?")
    assert menu.splitlines()[-1] == f"4 {T('something_else', 'en')}"
    [departments] = c.send("4")
    assert departments.startswith("Which department is it for?")
    [categories] = c.send("1")
    assert categories.startswith("What kind of problem is it?")
    assert c.send("1") == [T("ask_location", "en")]
    [summary] = c.send("Kalam road")
    assert "Place: Kalam road" in summary
