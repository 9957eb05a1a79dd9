"""An email filing's acknowledgement links to the complaint's public page (issue 13, item 2),
which answers without the complainant's name or address."""

from __future__ import annotations

from sqlalchemy import select

from gateway.app import create_app
from storage import tracking
from storage.models import Complaint
from tests.mail.conftest import PUBLIC_URL, fixture_bytes
from tests.mail.test_smtp import send


def test_an_email_filing_gives_the_link_to_its_public_page(mail_rt, listener, sink):
    assert send(listener, fixture_bytes("plain"))[0] == 250
    mail_rt.queue.run_due()
    with mail_rt.sessions() as s:
        number = tracking.display(s.scalars(select(Complaint)).one().tracking_number)
    [ack] = sink.messages
    text = ack.get_body(("plain",)).get_content()
    assert f"{PUBLIC_URL}/track/{number}" in text

    page = create_app(mail_rt).test_client().get(f"/track/{number}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and number in body
    assert "asad.khan@example.org" not in body and "Asad Khan" not in body
