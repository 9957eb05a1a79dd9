"""Urdu on staff pages: citizens' text carries its language and direction, numbers inside it
keep their order, the page's fonts can join Nastaliq, the Urdu interface says states and
events in Urdu, an officer's English reply reaches an Urdu writer framed in Urdu; and the
pages go compressed, with a favicon."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser

from sqlalchemy import select

from storage.db import transaction
from storage.models import Complaint, Conversation, Message

from .conftest import csrf, file_complaint, login

URDU_COMPLAINT = "ہماری گلی میں تین دن سے پانی نہیں آ رہا، میرا نمبر 0300 1234567 ہے"
VOID = {"br", "img", "input", "meta", "link", "hr", "source", "wbr", "col", "area", "base", "track"}


class _Tree(HTMLParser):
    """Each text node with the attributes of every element it sits in (innermost first)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.texts: list[tuple[str, list[tuple[str, dict]]]] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if data.strip():
            self.texts.append((data, list(reversed(self.stack))))


def text_nodes(page: str, fragment: str) -> list[list[tuple[str, dict]]]:
    tree = _Tree()
    tree.feed(page)
    return [elements for data, elements in tree.texts if fragment in data]


def post(client, path: str, **form):
    return client.post(path, data={**form, "csrf_token": csrf(client)})


def urdu_case(rt, text: str = URDU_COMPLAINT):
    case = file_complaint(rt, channel="sms", text=text)
    with transaction(rt.sessions) as s:
        complaint = s.get(Complaint, case.id)
        complaint.language = "ur"
        s.add(Conversation(contact_id=complaint.contact_id, language="ur", state={}))
    return case


def test_urdu_complaint_carries_lang_and_dir_and_the_fonts_name_an_urdu_font(rt, app, staff):
    case = urdu_case(rt)
    client = login(app, "officer_psw")
    page = client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    nodes = text_nodes(page, "ہماری گلی میں")
    assert nodes, "the complaint is on the page"
    for elements in nodes:  # the description and the message on the timeline
        tag, attrs = elements[0]
        assert attrs.get("lang") == "ur", (tag, attrs)
        assert attrs.get("dir") in ("auto", "rtl"), (tag, attrs)
    # The stylesheets the page links name an Urdu font for :lang(ur).
    css = "".join(client.get(href).get_data(as_text=True)
                  for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', page))
    urdu_rule = re.search(r":lang\(ur\)[^{]*\{[^}]*font-family:([^;}]+)", css)
    assert urdu_rule, "a font rule for Urdu"
    stack = urdu_rule.group(1)
    if "var(--urdu)" in stack:
        stack = re.search(r"--urdu:([^;]+);", css).group(1)
    assert re.search(r"Nastaliq|Naskh", stack), stack


def test_a_phone_number_inside_urdu_text_is_isolated_left_to_right(rt, app, staff):
    case = urdu_case(rt)
    client = login(app, "admin2")
    page = post(client, f"/dashboard/cases/{case.number}/reveal").get_data(as_text=True)
    isolated = re.findall(r'<bdi dir="ltr">([^<]*)</bdi>', page)
    assert "0300 1234567" in isolated


def test_english_words_in_an_urdu_page_are_tagged_english(rt, app, staff):
    case = file_complaint(rt, text="The transformer in our street burnt out yesterday")
    client = login(app, "officer_psw")
    post(client, "/dashboard/language", lang="ur", next="/dashboard/")
    page = client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    [elements, *_] = text_nodes(page, "The transformer")
    assert elements[0][1].get("lang") == "en"


def test_the_urdu_interface_says_states_events_and_roles_in_urdu(rt, app, staff):
    case = file_complaint(rt)
    client = login(app, "officer_psw")
    post(client, "/dashboard/language", lang="ur", next="/dashboard/")
    post(client, f"/dashboard/cases/{case.number}/start")
    page = client.get(f"/dashboard/cases/{case.number}").get_data(as_text=True)
    assert "زیر کار" in page and "کام شروع" in page
    assert "شہری کی زبان: انگریزی" in page  # the citizen's language named, not "en"
    for english in (">submitted<", "in progress", "start work", "(department head)", "(officer)"):
        assert english not in page, english
    queue = client.get("/dashboard/").get_data(as_text=True)
    assert ">submitted<" not in queue and "in progress (" not in queue
    assert "زیر کار" in queue


def test_an_english_reply_to_an_urdu_writer_is_framed_in_urdu_and_isolated(rt, app, staff):
    case = urdu_case(rt)
    client = login(app, "officer_psw")
    path = f"/dashboard/cases/{case.number}/reply"
    post(client, path, text="The pipe will be fixed on Monday.")
    with rt.sessions() as s:  # held back once with a warning (tests/dashboard/test_casework.py)
        assert not s.scalars(select(Message).where(Message.complaint_id == case.id,
                                                   Message.direction == "out")).all()
    post(client, path, text="The pipe will be fixed on Monday.", any_language="1")  # as written
    with rt.sessions() as s:
        [reply] = s.scalars(select(Message).where(Message.complaint_id == case.id,
                                                  Message.direction == "out")).all()
    assert "افسر کا جواب" in reply.text
    assert "\u2068The pipe will be fixed on Monday.\u2069" in reply.text


def test_an_urdu_reply_to_an_urdu_writer_has_the_plain_frame(rt, app, staff):
    case = urdu_case(rt)
    client = login(app, "officer_psw")
    post(client, f"/dashboard/cases/{case.number}/reply", text="کل ٹیم آئے گی")
    with rt.sessions() as s:
        [reply] = s.scalars(select(Message).where(Message.complaint_id == case.id,
                                                  Message.direction == "out")).all()
    assert "\u2068" not in reply.text and "کل ٹیم آئے گی" in reply.text


def test_the_tracking_page_in_urdu_has_no_english_labels(rt, app):
    case = file_complaint(rt)
    page = app.test_client().get(f"/track/KP-{case.number}?lang=ur").get_data(as_text=True)
    assert 'lang="ur"' in page and "خیبر پختونخوا" in page
    assert "Khyber Pakhtunkhwa complaints" not in page


def test_pages_go_compressed_and_the_live_stream_does_not(rt, app, staff):
    client = login(app, "officer_psw")
    response = client.get("/dashboard/", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("Content-Encoding") == "gzip"
    assert "<html" in gzip.decompress(response.data).decode()
    browser = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    css = client.get("/static/base.css", headers=browser)
    assert css.headers.get("Content-Encoding") in ("zstd", "br", "gzip", "deflate")
    stream = client.get("/dashboard/stream", headers=browser, buffered=False)
    assert stream.mimetype == "text/event-stream"
    assert "Content-Encoding" not in stream.headers
    stream.close()


def test_favicon_is_served(app):
    response = app.test_client().get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
