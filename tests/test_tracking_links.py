"""Every message that gives a tracking number gives its public page too (issue 13, item 2):
the link answers, in the citizen's channel, and the page shows no personal data."""

from __future__ import annotations

from sqlalchemy import select

from conversation import catalog
from gateway.app import create_app
from storage.models import Complaint
from storage.tracking import display
from tests.citizen import Citizen

PHONE = "+923001234567"


def test_a_whatsapp_filing_gives_the_link_to_its_public_page(rt):
    c = Citizen(rt, channel="whatsapp", address=PHONE)
    for text in ("1", "The street light near our house has not worked for two weeks", "peshawer",
                 "Gulbahar, street 4, near the mosque"):
        c.send(text)
    [registered] = c.send("no")
    with rt.sessions() as s:
        number = display(s.scalars(select(Complaint)).one().tracking_number)
    link = f"{rt.settings.public_url or 'http://' + rt.settings.web_listen}/track/{number}"
    assert link in registered and catalog.tracking_link(number) == link

    # The status reply carries it too.
    [status] = c.send(f"status {number}")
    assert link in status

    page = create_app(rt).test_client().get("/" + link.split("/", 3)[3])
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and number in body
    assert PHONE not in body and PHONE.removeprefix("+92") not in body


def test_an_sms_acknowledgement_stays_short_with_the_link(rt):
    from channels.twilio import segments

    for lang in ("en", "ur", "ps", "ur-rm"):
        text = catalog.text("complaint_registered", lang, short=True, tracking="KP-1234567")
        assert catalog.tracking_link("KP-1234567") in text
        assert segments.count(text) <= 2, (lang, text)
