"""Urgency: complaints that need attention first are marked so, with the words behind it."""

from __future__ import annotations

from collections import Counter

import pytest

from analytics import urgency

URGENT = [  # none of these is in the labelled set
    ("en", "there is a gas leak in the school kitchen and the kids are inside", "gas"),
    ("ur", "ہمارے محلے کے گودام میں آگ لگ گئی ہے", "آگ"),
    ("rur", "5 din se hamare gaon mein bijli nahi hai", "bijli"),
    ("ps", "زموږ ګاونډي ته یې د وژلو ګواښ کړی", "ګواښ"),
]
ROUTINE = [
    ("en", "please paint the zebra crossing near the college gate"),
    ("ur", "ہمارے علاقے کی لائبریری اتوار کو بند رہتی ہے"),
    ("rur", "naya shanakhti card banwane mein bohat der ho rahi hai"),
    ("ps", "د ښار پارک کې د ناستې ځایونه کم دي"),
]


def test_the_labelled_set_has_at_least_200_messages_in_the_four_languages():
    examples = urgency.corpus()
    assert len(examples) >= 200
    by_lang = Counter(e.lang for e in examples)
    assert all(by_lang[lang] >= 20 for lang in ("en", "ur", "rur", "ps"))
    assert {e.label for e in examples} == {"urgent", "routine"}


@pytest.mark.parametrize(("lang", "text", "word"), URGENT)
def test_a_danger_is_urgent_and_the_words_that_drove_it_are_shown(lang, text, word):
    found = urgency.assess(text)
    assert found.urgent, (lang, found)
    assert any(word in w or w in word for w in found.words), found.words
    assert set(found.words) <= set(urgency.normalize(text).split())
    assert found.signals  # the danger it named: fire, gas, violence, no power for days...


@pytest.mark.parametrize(("lang", "text"), ROUTINE)
def test_a_routine_complaint_is_not_put_first(lang, text):
    found = urgency.assess(text)
    assert not found.urgent, (lang, found)
    assert found.score < 0.5 and not found.reasons


def test_a_complaint_sent_back_twice_is_urgent_whatever_its_words():
    text = "please paint the zebra crossing near the college gate"
    assert not urgency.assess(text, reopened=1).urgent
    found = urgency.assess(text, reopened=2)
    assert found.urgent and found.reasons == ("reopened 2 times",)


def test_every_assessment_names_the_model_and_when_it_was_trained():
    found = urgency.assess("no water for 6 days")
    assert found.model.startswith("urgency-1+") and " trained 20" in found.model


# --- the sweep: complaints filed through the real path are ranked --------------------------


def _resolve(rt, number: str) -> None:
    from sqlalchemy import select

    from conversation import casework
    from storage import lifecycle
    from storage.db import transaction
    from storage.models import Complaint

    with transaction(rt.sessions) as s:
        complaint = s.scalars(select(Complaint).where(Complaint.tracking_number == number)).one()
        casework.resolve(s, complaint, lifecycle.Actor("officer", None, "cli"), "done")


def test_the_sweep_ranks_new_complaints_and_a_case_sent_back_twice(rt):
    from gateway import urgency_jobs
    from storage import urgency as stored
    from tests.citizen import Citizen

    danger = Citizen(rt, address="+923001110001")
    danger.file("gas is leaking from the pipe in our street in Peshawar, kids live here", place="Gulbahar")
    plain = Citizen(rt, channel="sms", address="+923001110002")
    plain.file("please paint the zebra crossing near the college gate in Peshawar", place="Saddar")
    (gas,), (paint,) = danger.complaints(), plain.complaints()

    assert urgency_jobs.assess_pending() == 2
    assert urgency_jobs.assess_pending() == 0  # nothing new: nothing assessed twice
    with rt.sessions() as s:
        found = stored.of(s, [gas.id, paint.id])
    assert found[gas.id].urgent and "gas_leak" in found[gas.id].signals
    assert "gas" in found[gas.id].words or "leaking" in found[gas.id].words
    assert not found[paint.id].urgent

    assert found[gas.id].tone is None  # never sent back: no reason, no tone
    for reason in ("the crossing is painted on one side only",
                   "shame on you liars, nobody came and you marked it done"):
        _resolve(rt, paint.tracking_number)  # the citizen sends the routine case back twice
        plain.send(f"no, {reason}")
        assert urgency_jobs.assess_pending() == 1
        with rt.sessions() as s:
            again = stored.of(s, [paint.id])[paint.id]
        if again.reopened == 1:
            assert not again.urgent and again.tone == "calm"
    assert again.urgent and again.reasons == ["reopened 2 times"] and again.reopened == 2
    assert again.tone == "upset" and {"shame", "liars"} & set(again.tone_words)


def test_the_tone_of_a_reason_names_its_words():
    from analytics import tone

    upset = tone.assess("bilkul bakwas kaam, jhoot bolte ho tum log")
    assert upset.upset and {"bakwas", "jhoot"} & set(upset.words)
    calm = tone.assess("the pump works now but only in the morning")
    assert not calm.upset
    assert upset.model.startswith("tone-1+")


# --- the officer's queue and case page ------------------------------------------------------


def test_the_queue_puts_urgent_cases_first_and_the_case_says_why(rt, app, staff):
    from gateway import urgency_jobs
    from tests.dashboard.conftest import file_complaint, login

    routine = file_complaint(rt, text="please paint the zebra crossing near the college gate")
    danger = file_complaint(rt, text="live electric wire fell in the street where the children play")
    urgency_jobs.assess_pending()
    officer = login(app, "officer_psw")
    page = officer.get("/dashboard/?sort=urgency").get_data(as_text=True)
    assert page.index(danger.number) < page.index(routine.number)
    assert page.count('class="badge urgent"') == 1
    case = officer.get(f"/dashboard/cases/{danger.number}").get_data(as_text=True)
    assert 'id="urgency"' in case and "electric danger" in case and "wire" in case
    plain = officer.get(f"/dashboard/cases/{routine.number}").get_data(as_text=True)
    assert 'id="urgency"' not in plain
    # another department's officer sees neither the case nor why it is urgent
    other = login(app, "officer_police")
    assert other.get(f"/dashboard/cases/{danger.number}").status_code == 404
    assert danger.number not in other.get("/dashboard/?sort=urgency").get_data(as_text=True)
