"""/mail/answer/<token>: the one-click "satisfied" / "not satisfied" links of a satisfaction
request mail. No login: the signed token is the authority, and it is single-use.

GET only shows a confirmation page (mail scanners and link previews open links; opening
must change nothing). The POST records the answer as the complainant's own inbound message
on the email channel, so it takes the same path as a reply saying YES or NO: the engine
closes or reopens the case through storage.lifecycle.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template_string
from sqlalchemy import select

from channels.email import links
from conversation import catalog
from conversation.inbox import accept
from conversation.messages import InboundMessage
from gateway import jobs
from storage import mail, tracking
from storage.db import transaction
from storage.models import Complaint, Contact, Conversation, Message, State

bp = Blueprint("email_links", __name__, url_prefix="/mail")

_PAGE = """{% extends "base.html" %}
{% block title %}Ikhtiyar{% endblock %}
{% block head %}<meta name="robots" content="noindex, nofollow">{% endblock %}
{% block main %}<div class="card" lang="{{ lang }}">
{% if heading %}<h1 style="font-size:1.3rem">{{ heading }}</h1>{% endif %}
<p>{{ text }}</p>
{% if confirm %}<form method="post">
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<button type="submit">{{ confirm }}</button>
</form>{% endif %}
</div>{% endblock %}"""


def _page(lang: str, text: str, status: int, heading: str | None = None, confirm: str | None = None):
    body = render_template_string(_PAGE, lang=lang, text=text, heading=heading, confirm=confirm)
    # The token is in the URL: keep it out of caches and Referer headers.
    return body, status, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _check(session, token: str):
    """(answer, complaint, language, problem key): problem is None when the link may be used."""
    rt = current_app.extensions["ikhtiyar"]
    answer = links.verify(rt.settings.secret_key_bytes(), token)
    if answer is None:
        return None, None, "en", "email_link_invalid"
    complaint = session.scalars(select(Complaint).where(Complaint.tracking_number == answer.tracking)).first()
    if complaint is None:
        return answer, None, "en", "email_link_invalid"
    conversation = session.scalars(select(Conversation).where(
        Conversation.contact_id == complaint.contact_id)).first()
    lang = (conversation.language if conversation else None) or complaint.language or "en"
    lang = lang if lang in catalog.LANGUAGES else "en"
    if (mail.link_used(session, answer.nonce) or complaint.state != State.RESOLVED
            or complaint.resolved_at is None
            or int(complaint.resolved_at.timestamp()) != answer.resolved_at):
        return answer, complaint, lang, "email_link_used"
    return answer, complaint, lang, None


@bp.get("/answer/<token>")
def confirm(token: str):
    rt = current_app.extensions["ikhtiyar"]
    with rt.sessions() as session:
        answer, complaint, lang, problem = _check(session, token)
        if problem:
            return _page(lang, catalog.text(problem, lang), 404 if problem == "email_link_invalid" else 410)
        shown = tracking.display(complaint.tracking_number, rt.settings.tracking_prefix)
        return _page(lang, catalog.text(f"email_link_question_{answer.answer}", lang), 200,
                     heading=catalog.text("email_link_confirm", lang, tracking=shown),
                     confirm=catalog.text("email_link_button", lang))


@bp.post("/answer/<token>")
def record(token: str):
    rt = current_app.extensions["ikhtiyar"]
    with transaction(rt.sessions) as session:
        answer, complaint, lang, problem = _check(session, token)
        if problem:
            return _page(lang, catalog.text(problem, lang), 404 if problem == "email_link_invalid" else 410)
        contact = session.get(Contact, complaint.contact_id)
        inbound = InboundMessage(
            channel="email", provider_id=f"link:{answer.nonce}", sender=contact.address,
            text=answer.answer, simulated=contact.simulated,
            raw={"email": {"link": {"complaint": complaint.id, "answer": answer.answer,
                                    "nonce": answer.nonce}}})
        message_id, new = accept(session, inbound)
        if not new or not mail.use_link(session, answer.nonce, complaint, answer.answer,
                                        session.get(Message, message_id)):
            return _page(lang, catalog.text("email_link_used", lang), 410)
        shown = tracking.display(complaint.tracking_number, rt.settings.tracking_prefix)
    try:
        rt.queue.enqueue(jobs.process_inbound, message_id)
    except Exception:  # stored: the sweeper queues its turn
        jobs.log.exception("could not queue answer %s; the sweeper will retry", message_id)
    return _page(lang, catalog.text("email_link_done", lang, tracking=shown), 200)
