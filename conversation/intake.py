"""Email intake: a new mail is a complaint at once; a reply continues its case.

Chat channels file a complaint by a short dialogue. Mail is different: the citizen writes
the whole problem in one message and may not answer for a day. So a mail that starts a new
thread and describes a problem is filed straight away, subject and body as the description,
with the district and department found in the text where possible; the first answer carries
the tracking number and asks, once, only for what is missing. A reply in the thread (matched
by Message-ID, References or the subject's tracking tag, see storage.mail.find_thread) lands
on that case: the missing details, a yes/no to a satisfaction request, an answer to an
officer's question, or else a comment on the timeline.

Only an authenticated mail answers a satisfaction request (channels.email.auth: DKIM or SPF
aligned with the From: domain, or our trusted relay's verdict; a one-click link is its own
proof). A yes or no in a mail that is not authenticated never closes or reopens: the
complainant gets the signed links instead, at most once a day per address, so a forged
From: can neither decide a case nor make us mail the victim at will.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from sqlalchemy import select, update

from conversation import catalog
from conversation.actions import category_of, resolved_complaints
from conversation.messages import Reply
from conversation.nlu import asks_confidential
from conversation.turn import Turn
from storage import lifecycle, tracking
from storage.complaints import create_complaint
from storage.mail import find_thread, mail_info
from storage.mail import take_answer as answer_budget
from storage.models import Attachment, Citizen, Complaint, State

DESCRIPTION_MAX = 5000
LOCATION_MAX = 300
_SHORT_ANSWER_WORDS = 8
_TAG = re.compile(r"\[([^\[\]]{1,24})\]")


def email_turn(turn: Turn) -> bool:
    """Take the turn for a mail when intake applies; False leaves it to the dialogue."""
    message, state = turn.message, turn.state
    info = mail_info(message)
    if turn.contact.opted_out or not info:
        return False  # the simulator's email persona and link answers carry no mail headers
    u = turn.understanding
    if not _authenticated(turn, info) and _answers_a_resolution(turn):
        answer_with_links(turn)
        return True
    thread = find_thread(turn.session, turn.contact, info, _subject_tag(info.get("subject"), turn.prefix))
    if info.get("link"):
        complaint = turn.session.get(Complaint, info["link"].get("complaint"))
        thread = dataclasses.replace(thread, known=True, complaint=complaint)
    if not thread.known:
        description = _description(info.get("subject") or "", message.text)
        if _is_a_complaint(turn, description):
            state.pop("email_details", None)
            file_complaint(turn, description)
            return True
        return False
    complaint = thread.complaint
    if complaint is None:
        return False  # a reply to a general answer (welcome, help): the dialogue goes on
    if asks_confidential(u):
        mark_confidential(turn, complaint, _authenticated(turn, info))
        return True
    pending = state.get("email_details") or {}
    if pending.get("complaint") == complaint.id and (u.has_words or message.payload.get("media")):
        record_details(turn, complaint)
        return True
    if u.intent in ("affirm", "deny") and complaint.state == State.RESOLVED:
        if not u.tracking.number:  # the thread says which case the yes or no is about
            turn.understanding = dataclasses.replace(u, tracking=tracking.Found(complaint.tracking_number))
        return False
    if state.get("awaiting") or state.get("info_for") or state.get("form"):
        return False
    if u.intent in ("status", "cancel", "change_language", "help", "greet") or u.tracking.number:
        return False
    if not u.has_words and not message.payload.get("media"):
        return False
    comment(turn, complaint)
    return True


def _authenticated(turn: Turn, info: dict) -> bool:
    """A signed link, a proven sender, or the simulator's sandboxed persona (its "sim:"
    contact is reachable only from the simulator and owns only simulated complaints)."""
    return bool(info.get("link")) or bool((info.get("auth") or {}).get("ok")) \
        or bool(turn.contact.simulated)


def _answers_a_resolution(turn: Turn) -> bool:
    """Whether the dialogue would take this message as the yes or no to "are you satisfied?"."""
    awaiting = turn.state.get("awaiting") or {}
    if awaiting.get("kind") == "which_complaint":
        return True
    # Whatever else is awaited: a yes or no the awaited step does not take falls through to
    # the answer to "are you satisfied?".
    if turn.understanding.intent not in ("affirm", "deny") or turn.state.get("form"):
        return False
    return bool(resolved_complaints(turn.session, turn.contact.citizen_id))


def answer_with_links(turn: Turn) -> None:
    """An unauthenticated yes or no: the signed links of the waiting complaint, at most once a
    day per sender; the complaint's state is not touched."""
    if (turn.state.get("awaiting") or {}).get("kind") == "which_complaint":
        turn.state.pop("awaiting")
    waiting = resolved_complaints(turn.session, turn.contact.citizen_id,
                                  turn.understanding.tracking.number)
    if not waiting:
        return
    complaint = waiting[-1]  # the latest resolution: the one the citizen most likely answers
    turn.message.complaint_id = complaint.id  # the complainant's own contact: their case
    if not answer_budget(turn.session, [("links", turn.contact.address, 1)], 86400):
        return
    turn.replies.append(Reply(catalog.text("email_answer_unverified", turn.lang,
                                           tracking=turn.tracking(complaint.tracking_number)),
                              "satisfaction_request", "email_answer_unverified"))


def _subject_tag(subject: str | None, prefix: str) -> str | None:
    for match in _TAG.finditer(subject or ""):
        found = tracking.find(match.group(1), prefix)
        if found.number:
            return found.number
    return None


def _description(subject: str, body: str) -> str:
    subject = " ".join(subject.split())
    body = body.strip()
    if subject and body and not body.lower().startswith(subject.lower()):
        text = f"{subject}\n\n{body}"
    else:
        text = body or subject
    return text if len(text) <= DESCRIPTION_MAX else text[:DESCRIPTION_MAX - 1] + "…"


def _is_a_complaint(turn: Turn, description: str) -> bool:
    """A mail describes a problem unless it is a short command or a short yes/no."""
    words = description.split()
    letters = sum(ch.isalpha() for ch in description)
    if len(words) < 3 or letters < 10:
        return False
    u = turn.understanding
    if u.intent in ("status", "greet", "help", "cancel", "change_language") and len(u.normalized.split()) <= 6:
        return False
    if u.intent in ("affirm", "deny") and len(u.normalized.split()) <= _SHORT_ANSWER_WORDS:
        waiting = turn.session.scalar(select(Complaint.id).where(
            Complaint.citizen_id == turn.contact.citizen_id, Complaint.state == State.RESOLVED).limit(1))
        if waiting is not None:
            return False
    return True


def file_complaint(turn: Turn, description: str) -> Complaint:
    """File the complaint from one mail and answer with the tracking number, asking only
    for what could not be found in the text."""
    session, k = turn.session, turn.knowledge
    district = k.district_in_text(description)
    category = k.suggest_category(description)
    kind = k.categories.get(category) if category else None
    complaint = create_complaint(
        session, contact=turn.contact, message=turn.message,
        actor=lifecycle.Actor("citizen", channel="email"), channel="email", language=turn.lang,
        description=description, category=category_of(kind) if kind else None,
        district_code=district, incomplete=district is None or kind is None)
    number = complaint.tracking_number
    _know_the_name(turn)
    missing = [m for m, found in (("district", district), ("department", kind)) if not found]
    if missing:
        turn.state["email_details"] = {"complaint": complaint.id, "missing": missing}
    lang = turn.lang
    lines = [catalog.text("email_registered", lang, tracking=turn.tracking(number))]
    if district:
        lines.append(catalog.text("email_found_district", lang, district=k.name("district", district, lang)))
    if kind:
        lines.append(catalog.text("email_found_department", lang,
                                  department=k.name("department", kind.department, lang)))
        lines.append(catalog.text("email_registered_sla", lang, sla_days=kind.sla_days))
    text = "\n".join(lines)
    if missing:
        asks = "\n".join(catalog.text(f"email_missing_{m}", lang) for m in missing)
        text += "\n\n" + catalog.text("email_ask_missing", lang, missing=asks)
    text += "\n\n" + catalog.text("email_confidential_offer", lang)
    turn.replies.append(Reply(text, "reply", "email_registered"))
    return complaint


def _know_the_name(turn: Turn) -> None:
    """The From: display name is the complainant's name as far as we know it: a mail is
    signed with it, and the dashboard masks (or, for the department a confidential complaint
    is about, removes) the citizen's known name wherever their texts show it."""
    name = " ".join(str(mail_info(turn.message).get("from_name") or "").split())[:80]
    citizen = turn.session.get(Citizen, turn.contact.citizen_id)
    if name and "@" not in name and citizen is not None and not citizen.name:
        citizen.name = name


def record_details(turn: Turn, complaint: Complaint) -> None:
    """The citizen's answer to "what is missing": district, place and service, as far as
    the answer gives them; what is still missing is left to the officers (asked once)."""
    k, text = turn.knowledge, turn.understanding.text
    turn.state.pop("email_details", None)
    turn.message.complaint_id = complaint.id
    if complaint.district_code is None:
        complaint.district_code = k.district_in_text(text) or k.find_district(text)[0]
        if complaint.district_code and not complaint.location_detail:
            complaint.location_detail = " ".join(text.split())[:LOCATION_MAX]
    if complaint.category_code is None:
        category = k.suggest_category(text) or k.suggest_category(f"{complaint.description}\n{text}")
        if category:
            kind = k.categories[category]
            complaint.category_code, complaint.department_code = kind.code, kind.department
            if complaint.due_at is None:
                complaint.due_at = complaint.created_at + timedelta(days=kind.sla_days)
    complaint.incomplete = complaint.district_code is None or complaint.category_code is None
    lifecycle.note(turn.session, complaint, lifecycle.Actor("citizen", channel="email"), text,
                   kind="citizen_details", message=turn.message)
    _attach(turn, complaint)
    turn.say("info_received", tracking=turn.tracking(complaint.tracking_number))


def mark_confidential(turn: Turn, complaint: Complaint, authenticated: bool) -> None:
    """The confidentiality word in the thread: the complainant's identity is hidden from the department
    the complaint is about. Only from a proven sender: a forged From: must not be able to
    change the case, nor make us mail the victim, so it gets no answer and stays off the case."""
    if not authenticated:
        return
    turn.message.complaint_id = complaint.id
    lifecycle.mark_confidential(turn.session, complaint, turn.message,
                                lifecycle.Actor("citizen", channel="email"))
    turn.say("email_confidential_marked", tracking=turn.tracking(complaint.tracking_number))


def comment(turn: Turn, complaint: Complaint) -> None:
    """A reply in the thread that is no answer to a question: on the case's timeline."""
    turn.message.complaint_id = complaint.id
    lifecycle.note(turn.session, complaint, lifecycle.Actor("citizen", channel="email"),
                   turn.understanding.text, kind="citizen_comment", message=turn.message)
    _attach(turn, complaint)
    turn.say("comment_recorded", tracking=turn.tracking(complaint.tracking_number))


def _attach(turn: Turn, complaint: Complaint) -> None:
    """Photos and documents of the mail become the case's."""
    turn.session.execute(update(Attachment).where(Attachment.message_id == turn.message.id,
                                                  Attachment.complaint_id.is_(None))
                         .values(complaint_id=complaint.id))
