"""Conversations as citizens have them, in English, Urdu, Roman Urdu and Pashto: the first
message's district is not asked again, a status question in a sentence is answered, what
follows the filing lands on the case, a reason given after "are you satisfied?" reopens
with that reason, a complaint can be withdrawn, and each conversation stays in its
citizen's language. Through the real path (persist, job, engine, outbox)."""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy import select

from conversation import casework, catalog, classifier
from conversation.messages import InboundMessage, Media
from conversation.nlu import understand
from gateway.pipeline import receive
from storage import lifecycle
from storage.db import transaction
from storage.models import Complaint, ComplaintEvent, Message
from storage.tracking import display
from tests.citizen import Citizen

T = catalog.text
_ids = itertools.count(1)
ARABIC = re.compile(r"[\u0600-\u06FF]")

# Per language: the first message (the problem and where), the place, the district it is
# in, a status question, what is added after filing, the reason it is not solved, and
# a request to withdraw, and a polite no to "are you satisfied?".
CASES = {
    "en": dict(
        lang="en",
        first="There has been no water in our taps for three days in Mardan",
        place="Sheikh Maltoon, street 3", district="MDN", no="no", yes="yes",
        status="what is the status of my complaint?",
        more="The pipe near the gate is also leaking",
        still="water is still not coming",
        withdraw="I want to withdraw my complaint", not_satisfied="no I am not"),
    "ur": dict(
        lang="ur",
        first="مردان میں ہمارے نلکوں میں تین دن سے پانی نہیں آ رہا",
        place="شیخ ملتون، گلی نمبر ۳", district="MDN", no="نہیں", yes="ہاں",
        status="میری درخواست کی کیا صورتحال ہے",
        more="گیٹ کے پاس پائپ بھی لیک ہو رہا ہے",
        still="پانی ابھی تک نہیں آ رہا",
        withdraw="میں اپنی شکایت واپس لینا چاہتا ہوں", not_satisfied="جی نہیں"),
    "ur-rm": dict(
        lang="ur-rm",
        first="Mingora mein hamare nalkon mein teen din se pani nahi aa raha",
        place="Makan bagh gali 2", district="SWT", no="nahi", yes="haan",
        status="shikayat ka status batayen",
        more="gate ke paas pipe bhi leak ho raha hai",
        still="pani abhi tak nahi aa raha",
        withdraw="mujhe apni shikayat wapas leni hai", not_satisfied="ji nahi"),
    "ps": dict(
        lang="ps",
        first="په حیات اباد کې زموږ نلونو کې درې ورځې اوبه نشته",
        place="فېز درې، کوڅه اووه", district="PSW", no="نه", yes="هو",
        status="زما د شکایت حالت څه دی",
        more="د دروازې سره پایپ هم څڅېږي",
        still="اوبه لا هم نه راځي",
        withdraw="زه خپل شکایت بېرته اخلم", not_satisfied="مطمئن نه یم"),
}


def _send(c: Citizen, text: str = "", *, media: bool = False,
          location: tuple[float, float] | None = None) -> tuple[int, list[str]]:
    inbound = InboundMessage(
        channel=c.channel, provider_id=f"understanding-{next(_ids)}", sender=c.address, text=text,
        media=(Media("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                     "image/jpeg"),) if media else (),
        location=location)
    message_id, _ = receive(c.rt, inbound)
    c.rt.queue.run_due()
    return message_id, c.replies_after(message_id)


def _complaint(rt) -> Complaint:
    with rt.sessions() as s:
        return s.scalars(select(Complaint)).one()


def _file(c: Citizen, case: dict) -> tuple[list[list[str]], Complaint]:
    """File the complaint as a naive citizen does: the problem with the district, then
    plain answers to what is asked; returns the replies of each message."""
    seen = c.file(case["first"], place=case["place"], lang=case["lang"], no=case["no"])
    return seen, _complaint(c.rt)


def _resolve(rt, note: str) -> None:
    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint)).one()
        casework.resolve(s, complaint, lifecycle.Actor("officer", None, "cli"), note)


def _outbound(rt) -> list[Message]:
    with rt.sessions() as s:
        return list(s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)))


@pytest.fixture(params=list(CASES))
def case(request) -> dict:
    return CASES[request.param]


def test_the_district_of_the_first_message_is_not_asked_again(rt, case):
    c = Citizen(rt, address="+923001230001")
    seen, complaint = _file(c, case)
    assert T("ask_district", case["lang"]) not in [r for replies in seen for r in replies]
    assert complaint.district_code == case["district"]
    assert len(seen) <= 3  # the tracking number by the third message
    tracking = display(complaint.tracking_number)
    assert tracking in seen[-1][-1]
    assert complaint.language == case["lang"]


def test_a_status_question_in_a_sentence_is_answered_with_the_status(rt, case):
    c = Citizen(rt, address="+923001230002")
    _, complaint = _file(c, case)
    [status] = c.send(case["status"])
    tracking = display(complaint.tracking_number)
    assert tracking in status and T("status_submitted", case["lang"]) in status
    assert len(c.complaints()) == 1  # no new complaint started


def test_text_photo_and_location_after_filing_land_on_the_open_complaint(rt, case):
    c = Citizen(rt, address="+923001230003")
    _, complaint = _file(c, case)
    tracking = display(complaint.tracking_number)
    said = T("comment_recorded", case["lang"], tracking=tracking)
    text_id, replies = _send(c, case["more"])
    assert replies == [said]
    photo_id, replies = _send(c, media=True)
    assert replies == [said]
    pin_id, replies = _send(c, location=(34.20, 72.04))
    assert replies == [said]
    assert len(c.complaints()) == 1
    with rt.sessions() as s:
        added = list(s.scalars(select(ComplaintEvent).where(
            ComplaintEvent.kind == "citizen_added_information").order_by(ComplaintEvent.id)))
        assert [e.message_id for e in added] == [text_id, photo_id, pin_id]
        assert all(e.complaint_id == complaint.id and e.actor_kind == "citizen" for e in added)
        assert added[0].note == case["more"]
        assert added[1].data == {"media": 1} and added[2].data == {"location": [34.2, 72.04]}
        for message_id in (text_id, photo_id, pin_id):
            assert s.get(Message, message_id).complaint_id == complaint.id
        assert s.get(Complaint, complaint.id).state == "submitted"  # information changes no state


def test_a_reason_after_are_you_satisfied_reopens_with_that_reason(rt, case):
    c = Citizen(rt, address="+923001230004")
    _, complaint = _file(c, case)
    _resolve(rt, "fixed")
    tracking = display(complaint.tracking_number)
    assert c.send(case["still"]) == [T("reopened_with_reason", case["lang"], tracking=tracking)]
    reopened = _complaint(rt)
    assert reopened.state == "reopened" and reopened.escalation_level == 1
    assert len(c.complaints()) == 1  # not a new complaint form
    with rt.sessions() as s:
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "reject_resolution")).one()
        assert event.note == case["still"]


def test_a_polite_no_to_are_you_satisfied_reopens_and_asks_what_is_wrong(rt, case):
    # "ji nahi" and "مطمئن نه یم" begin with a yes-word ("ji", "مطمئن"): they were read as
    # yes and closed the complaint the citizen said was not solved.
    c = Citizen(rt, address="+923001230015")
    _, complaint = _file(c, case)
    _resolve(rt, "fixed")
    tracking = display(complaint.tracking_number)
    assert c.send(case["not_satisfied"]) == [T("reopened", case["lang"], tracking=tracking)]
    assert _complaint(rt).state == "reopened"


def test_a_complaint_is_withdrawn_after_confirmation(rt, case):
    c = Citizen(rt, address="+923001230005")
    _, complaint = _file(c, case)
    tracking = display(complaint.tracking_number)
    assert c.send(case["withdraw"]) == [T("withdraw_confirm", case["lang"], tracking=tracking)]
    assert _complaint(rt).state == "submitted"  # nothing before the confirmation
    assert c.send(case["yes"]) == [T("withdrawn", case["lang"], tracking=tracking)]
    withdrawn = _complaint(rt)
    assert withdrawn.state == "withdrawn"
    with rt.sessions() as s:
        event = s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "withdraw")).one()
        assert event.note == case["withdraw"] and event.actor_kind == "citizen"
    [status] = c.send(tracking)
    assert T("status_withdrawn", case["lang"]) in status


def test_withdrawing_can_be_declined_and_changes_nothing(rt):
    c = Citizen(rt, address="+923001230006")
    _, complaint = _file(c, CASES["en"])
    tracking = display(complaint.tracking_number)
    c.send("please withdraw my complaint")
    assert c.send("no") == [T("withdraw_kept", "en", tracking=tracking)]
    assert _complaint(rt).state == "submitted"
    with rt.sessions() as s:
        assert s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "withdraw")).first() is None


def test_a_resolved_complaint_cannot_be_withdrawn(rt):
    c = Citizen(rt, address="+923001230007")
    _file(c, CASES["en"])
    _resolve(rt, "fixed")
    assert c.send("I want to withdraw my complaint") == [T("withdraw_none", "en")]
    assert _complaint(rt).state == "resolved"  # only the citizen's yes or no settles it now
    with rt.sessions() as s:
        assert s.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "withdraw")).first() is None


@pytest.mark.parametrize("lang", ["ps", "ur-rm"])
def test_a_conversation_stays_in_its_citizens_language(rt, lang):
    case = CASES[lang]
    c = Citizen(rt, address="+923001230008")
    _, complaint = _file(c, case)
    c.send(case["status"])
    c.send("ok")  # a word of English does not switch the conversation
    c.send(f"KP-{complaint.tracking_number}")
    _resolve(rt, "fixed")
    c.send(case["still"])
    sent = _outbound(rt)
    assert len(sent) >= 6 and all(m.language == lang for m in sent)
    for m in sent:
        key = m.payload["key"]
        own = T(key, lang).split("{")[0][:12]
        assert m.text.startswith(own), (key, m.text)
        for other in {"en", "ur", "ps", "ur-rm"} - {lang}:
            theirs = T(key, other).split("{")[0][:12]
            assert not (theirs and theirs != own and m.text.startswith(theirs)), (key, other, m.text)
        if lang == "ur-rm":
            assert not ARABIC.search(m.text), m.text


def test_a_tracking_number_in_urdu_digits_does_not_switch_an_english_conversation(rt):
    c = Citizen(rt, address="+923001230009")
    _, complaint = _file(c, CASES["en"])
    urdu_digits = complaint.tracking_number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    [status] = c.send(f"KP-{urdu_digits}")
    assert status.startswith(f"Complaint {display(complaint.tracking_number)} (")


def test_a_complaint_against_the_departments_own_staff_is_filed_confidential(rt):
    c = Citizen(rt, address="+923001230010")
    c.send("The patwari in Charsadda took a bribe of 20000 and still did not give the fard")
    for _ in range(3):
        last = c.outbox()[-1].text
        if last.startswith(T("ask_location", "en")):
            c.send("Tangi bazaar")
        elif last.startswith("What kind of problem is it?"):
            c.send("1")
        else:
            break
    assert "against an officer" in c.outbox()[-1].text
    [registered] = c.send("yes")
    complaint = _complaint(rt)
    assert complaint.confidential is True and complaint.district_code == "CSD"
    assert display(complaint.tracking_number) in registered


def test_an_unsure_category_offers_the_three_likeliest_and_something_else(rt):
    c = Citizen(rt, address="+923001230011")
    c.send("1")
    assert c.send("The people in the office keep sending me from one desk to another") == \
        [T("ask_district", "en")]
    [menu] = c.send("Swat")
    assert menu.startswith("What kind of problem is it?")
    lines = menu.splitlines()
    assert [line.split(" ", 1)[0] for line in lines[1:]] == ["1", "2", "3", "4"]
    assert lines[-1] == f"4 {T('something_else', 'en')}"
    with rt.sessions() as s:
        reply = s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id.desc())).first()
        assert reply.payload["options"] == [line.split(" ", 1)[1] for line in lines[1:]]


def test_another_problem_told_in_full_after_filing_is_asked_about_once(rt):
    c = Citizen(rt, address="+923001230012")
    _, complaint = _file(c, CASES["en"])
    tracking = display(complaint.tracking_number)
    other = "Also the teacher of the boys primary school in Mardan never comes"
    assert c.send(other) == [T("which_case", "en", tracking=tracking)]
    assert len(c.complaints()) == 1
    asked = c.send("2")  # a new complaint, with that description
    assert T("ask_location", "en") in asked or asked[-1].startswith("Please check your complaint")
    assert len(c.complaints()) == 1  # not filed before the citizen's answers
    with rt.sessions() as s:
        assert s.scalars(select(ComplaintEvent).where(
            ComplaintEvent.kind == "citizen_added_information")).first() is None


def test_information_after_the_follow_up_time_starts_a_new_complaint(rt):
    from datetime import timedelta

    from storage.models import Conversation, utcnow

    c = Citizen(rt, address="+923001230013")
    _file(c, CASES["en"])
    with transaction(rt.sessions) as s:
        conversation = s.scalars(select(Conversation)).one()
        filed = dict(conversation.state["filed"])
        filed["at"] = (utcnow() - timedelta(hours=25)).isoformat()
        conversation.state = {**conversation.state, "filed": filed}
    c.send("The pipe near the gate is also leaking badly")
    with rt.sessions() as s:
        assert s.scalars(select(ComplaintEvent).where(
            ComplaintEvent.kind == "citizen_added_information")).first() is None


def test_a_message_with_two_likely_meanings_is_asked_about_with_numbered_choices(rt):
    c = Citizen(rt, address="+923001230014")
    [question] = c.send("meri shikayat")  # a new complaint, or the status of one?
    assert question.startswith(T("did_you_mean", "ur-rm", options="").split("\n")[0])
    options = question.splitlines()[1:-1]
    # The likelier reading first: both are offered, numbered in the model's order.
    offered = [o.split(" ", 1)[1] for o in options]
    assert [o.split(" ", 1)[0] for o in options] == [str(i) for i in range(1, len(options) + 1)]
    assert {T("menu_new_complaint", "ur-rm"), T("menu_status", "ur-rm")} <= set(offered)
    chosen = offered.index(T("menu_status", "ur-rm")) + 1
    assert c.send(str(chosen)) == [T("status_none", "ur-rm")]
    assert c.complaints() == []


# --- the understanding itself (no conversation) ------------------------------------------


@pytest.mark.parametrize("text, intent", [
    ("ji nahi", "deny"), ("جی نہیں", "deny"), ("مطمئن نه یم", "deny"), ("mutmain nahi hun", "deny"),
    ("ji haan", "affirm"), ("bilkul", "affirm"), ("جی سلام", "greet"),
])
def test_a_yes_word_followed_by_a_no_is_a_no(text, intent):
    u = understand(text)
    assert u.intent == intent
    assert u.rest == ""  # "hun", "یم" are no reason to reopen with


def test_spelling_variants_give_the_model_the_same_words():
    from conversation.classifier import features

    assert features("paani nahii") == features("pani nahi")
    assert features("اوبه") == features("اوبہ")  # the Pashto and the Urdu heh


def test_the_held_out_examples_are_never_trained_on():
    intents, categories = classifier.corpus()
    held = 0
    for examples in (intents, categories):
        train, test = classifier.split(examples)
        assert not {e.text for e in test} & {e.text for e in train}
        held += len(test)
        # every language of every label keeps training examples
        assert {(e.label, e.lang) for e in examples} == {(e.label, e.lang) for e in train}
    assert held >= 300


# --- the category: asked only when the district and the model leave it open ---------------


@pytest.mark.parametrize(("first", "place", "department"), [
    # Mardan has a water and sanitation company (WSSC); Nowshera's taps are the municipality's.
    ("No water in our taps since Monday in Mardan", "Sheikh Maltoon, street 3", "WSSC"),
    ("No water in our taps since Monday in Nowshera", "Pabbi road, near the girls school", "LOCAL_GOVT"),
])
def test_one_problem_goes_to_the_department_that_serves_the_district(rt, first, place, department):
    c = Citizen(rt, address="+923001230016")
    seen = c.file(first, place=place)
    complaint = _complaint(rt)
    assert complaint.department_code == department
    assert not any(r.startswith("What kind of problem is it?") for replies in seen for r in replies)


def test_twin_categories_count_as_one_for_the_district():
    from conversation.form import rank_in_district

    department_of = {"WSSC_WASTE": "WSSC", "LOCAL_GOVT_GARBAGE": "LOCAL_GOVT", "HEALTH_CLEANLINESS": "HEALTH"}
    ranked = [("LOCAL_GOVT_GARBAGE", 0.4), ("WSSC_WASTE", 0.35), ("HEALTH_CLEANLINESS", 0.1)]
    assert rank_in_district(ranked, "ABT", department_of) == [("WSSC_WASTE", 0.75), ("HEALTH_CLEANLINESS", 0.1)]
    assert rank_in_district(ranked, "NSR", department_of) == [("LOCAL_GOVT_GARBAGE", 0.75),
                                                              ("HEALTH_CLEANLINESS", 0.1)]
    assert rank_in_district(ranked, None, department_of) == ranked  # district unknown: as ranked


def test_the_twins_name_categories_and_districts_that_exist():
    import yaml

    from config import CONFIG_DIR
    from conversation.form import TWINS_FILE

    twins = yaml.safe_load(TWINS_FILE.read_text(encoding="utf-8"))
    departments = yaml.safe_load((CONFIG_DIR / "departments.yaml").read_text(encoding="utf-8"))
    districts = yaml.safe_load((CONFIG_DIR / "districts.yaml").read_text(encoding="utf-8"))["districts"]
    categories = {c["code"]: d["code"] for d in departments["departments"] for c in d["categories"]}
    assert set(twins["served_by"]) <= set(categories.values())
    assert {code for codes in twins["served_by"].values() for code in codes} <= {d["code"] for d in districts}
    for group in twins["twins"]:
        assert set(group) <= set(categories)
        assert len({categories[c] for c in group}) == len(group)  # one member per department


def test_two_categories_of_one_office_are_not_asked_about(rt):
    # "the patwari asks money for my fard": bribery or the land record, both the revenue
    # office's; the model is split between them but sure of the office.
    c = Citizen(rt, address="+923001230017")
    seen = c.file("صوابی کا پٹواری فرد کے لیے تیس ہزار مانگ رہا ہے", place="ٹوپی تحصیل آفس", lang="ur", no="نہیں")
    assert len(seen) == 3
    assert _complaint(rt).department_code == "REVENUE"
