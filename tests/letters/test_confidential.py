"""A letter against an officer or the department itself: the clerk ticks a box on the review
screen and the writer's identity is hidden from that department (issue 10, "What to build" 4)."""

from __future__ import annotations

from storage.letters import Letter
from storage.models import Complaint
from tests.letters.scans import needs_ocr_tools
from tests.letters.test_review import api_upload, english_scan, submit_form
from tests.staff import case_page_of_the_accused

WRITER = ("Muhammad Ali", "0300-1234567", "3001234567", "17301-1234567-1", "1234567", "Gulbahar")


def filed(rt, letter_id: int) -> Complaint:
    with rt.sessions() as s:
        return s.get(Complaint, s.get(Letter, letter_id).complaint_id)


@needs_ocr_tools
def test_the_clerk_files_a_letter_against_the_department_as_confidential(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    review = client.get(f"/letters/{letter_id}").get_data(as_text=True)
    assert 'name="confidential"' in review and "against an officer or this department" in review
    assert submit_form(client, letter_id, csrf, confidential="1").status_code == 302
    complaint = filed(rt, letter_id)
    assert complaint.confidential and complaint.state == "submitted"
    page = case_page_of_the_accused(rt, complaint.tracking_number)
    assert 'id="identity-hidden"' in page and "water supply in our street" in page
    assert [value for value in WRITER if value in page] == []


@needs_ocr_tools
def test_unticked_the_letter_is_not_confidential(rt, app, staff, clerk):
    client, csrf = clerk
    letter_id = api_upload(rt, client, staff["clerk_letters"]["token"], english_scan())
    assert submit_form(client, letter_id, csrf).status_code == 302
    complaint = filed(rt, letter_id)
    assert not complaint.confidential
    assert 'id="identity-hidden"' not in case_page_of_the_accused(rt, complaint.tracking_number)
