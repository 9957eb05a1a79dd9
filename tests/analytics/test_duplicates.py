"""Likely duplicates: citizens on different channels and in different scripts who report the
same problem at the same place end up in one issue cluster; other complaints do not."""

from __future__ import annotations

import itertools

from sqlalchemy import func, select

from analytics.duplicates import MODEL_VERSION, THRESHOLD, assign_to_cluster, skeleton
from storage import lifecycle, tracking
from storage.clusters import ClusterMember, IssueCluster
from storage.messages import contact_for, insert_inbound
from storage.models import Complaint

_n = itertools.count(1)

# (channel, address, language, description, location as the form or the letter gave it)
BURST_MAIN = [
    ("whatsapp", "+923001110001", "en",
     "Water main burst, no water supply for 3 days, street flooded", "Gulbahar mohalla 5"),
    ("email", "resident.gulbahar@example.pk", "ur",
     "Gul Bahaar mohallah 5 mein pani ki main line phat gayi hai, 3 din se pani nahi aa raha",
     "Gulbahaar Mohalla No 5"),
    ("letter", "House 14, Gulbahar, Peshawar", "ur",
     "پانی کی مین لائن پھٹ گئی ہے، تین دن سے پانی نہیں آ رہا", "گلبہار محلہ ۵ پشاور"),
]


def _file(rt, channel: str, address: str, text: str, location: str | None = None, *,
          language: str = "en", district: str = "PSW", category: str = "PHED_NO_WATER",
          department: str = "PHED", confidential: bool = False) -> Complaint:
    """A complaint as the conversation files it (inbound message, contact, submit event),
    then offered to clustering as the complaint job does."""
    with rt.sessions() as s, s.begin():
        contact = contact_for(s, channel, address)
        message, _ = insert_inbound(s, contact, channel=channel, provider_id=f"an-{next(_n)}",
                                    text=text, payload={})
        complaint = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id,
                              contact_id=contact.id, channel=channel, language=language,
                              description=text, location_detail=location, district_code=district,
                              department_code=department, category_code=category,
                              confidential=confidential)
        lifecycle.submit(s, complaint, message, lifecycle.Actor("citizen", channel=channel), sla_days=3)
        assign_to_cluster(s, complaint)
        s.expunge(complaint)
        return complaint


def _clusters(rt) -> list[tuple[list[str], dict, str]]:
    with rt.sessions() as s:
        return [(c.tracking_numbers, c.reason, c.model_version)
                for c in s.scalars(select(IssueCluster).order_by(IssueCluster.id))]


def test_urdu_roman_urdu_and_english_spellings_share_one_skeleton():
    assert skeleton("Gulbahar mohalla 5") == skeleton("Gulbahaar Mohallah 5") == "glbhr mhl 5"
    assert skeleton("گلبہار محلہ ۵") == "glbhr mhl 5"


def test_whatsapp_email_and_letter_about_one_place_form_one_cluster(rt):
    filed = [_file(rt, channel, address, text, place, language=lang)
             for channel, address, lang, text, place in BURST_MAIN]
    [(numbers, reason, version)] = _clusters(rt)
    assert numbers == [c.tracking_number for c in filed]
    assert version == MODEL_VERSION
    assert reason["similarity"] >= THRESHOLD and {"glb", "bhr"} <= set(reason["shared_ngrams"])


def test_a_cluster_holds_tracking_numbers_and_no_personal_data(rt):
    for channel, address, lang, text, place in BURST_MAIN:
        _file(rt, channel, address, text, place, language=lang)
    [(numbers, reason, _)] = _clusters(rt)
    stored = repr((numbers, reason))
    for _, address, _, text, _ in BURST_MAIN:
        assert address not in stored and text not in stored
    assert "+92300" not in stored and "@" not in stored


def test_unrelated_complaints_of_the_same_category_are_not_clustered(rt):
    _file(rt, *BURST_MAIN[0][:2], *BURST_MAIN[0][3:])
    _file(rt, "sms", "+923002220002", "Tube well out of order for a week", "Hayatabad phase 3 sector K")
    _file(rt, "whatsapp", "+923003330003", "Water not coming in taps, please help", "Faqirabad street 12")
    _file(rt, "email", "shopkeeper@example.pk", "Karim Pura bazaar kay qareeb paani band hai 4 din se")
    assert _clusters(rt) == []


def test_the_same_text_in_another_district_is_not_clustered(rt):
    _file(rt, *BURST_MAIN[0][:2], *BURST_MAIN[0][3:])
    _file(rt, "whatsapp", "+923004440004", *BURST_MAIN[0][3:], district="NSR")
    assert _clusters(rt) == []
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ClusterMember)) == 0


def test_a_confidential_complaint_is_never_listed_in_a_cluster(rt):
    _file(rt, *BURST_MAIN[0][:2], *BURST_MAIN[0][3:], confidential=True)
    _file(rt, *BURST_MAIN[1][:2], *BURST_MAIN[1][3:])
    _file(rt, *BURST_MAIN[2][:2], *BURST_MAIN[2][3:], confidential=True)
    assert _clusters(rt) == []


def test_a_far_location_pin_keeps_similar_texts_apart(rt):
    first = _file(rt, *BURST_MAIN[0][:2], *BURST_MAIN[0][3:])
    with rt.sessions() as s, s.begin():
        s.get(Complaint, first.id).latitude, s.get(Complaint, first.id).longitude = 34.03, 71.58
    with rt.sessions() as s, s.begin():
        contact = contact_for(s, "whatsapp", "+923005550005")
        message, _ = insert_inbound(s, contact, channel="whatsapp", provider_id=f"an-{next(_n)}",
                                    text=BURST_MAIN[0][3], payload={})
        complaint = Complaint(tracking_number=tracking.new_number(), citizen_id=contact.citizen_id,
                              contact_id=contact.id, channel="whatsapp", description=BURST_MAIN[0][3],
                              location_detail=BURST_MAIN[0][4],
                              district_code="PSW", department_code="PHED", category_code="PHED_NO_WATER",
                              latitude=34.10, longitude=71.40)
        lifecycle.submit(s, complaint, message, lifecycle.Actor("citizen", channel="whatsapp"))
        assert assign_to_cluster(s, complaint) is None
    assert _clusters(rt) == []
