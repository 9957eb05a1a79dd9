"""The complaint factory: the one place a complaint is created, whatever the channel.

Chat (the form's submit action), email intake, the app and Open311, a clerk's letter and a
phone recording all file through ``create_complaint``: it draws the tracking number, takes
the category with its department and SLA due date, records the first lifecycle event
(``submitted``, through ``storage.lifecycle``), puts the messages that made up the complaint
and their attachments on it, and sets confidentiality and language. A test
(tests/test_complaint_factory.py) fails when any other module constructs a ``Complaint``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from storage import lifecycle, tracking
from storage.models import Attachment, Complaint, Contact, Message

TRIAGE_NOTE = "Needs triage: listen to the recording, then choose the department and category."


@dataclass(frozen=True)
class Category:
    """The complaint's category as the caller chose it: its department and SLA come with it."""

    code: str
    department: str
    sla_days: int | None


def create_complaint(session: Session, *, contact: Contact, message: Message, actor: lifecycle.Actor,
                     channel: str, language: str, description: str,
                     category: Category | None = None, district_code: str | None = None,
                     location_detail: str | None = None,
                     location: tuple[float, float] | None = None,
                     confidential: bool = False, incomplete: bool = False,
                     needs_triage: bool = False, department_code: str | None = None,
                     sla_days: int | None = None,
                     messages: Iterable[int] = ()) -> Complaint:
    """File a new complaint of ``contact``'s citizen, carried by the inbound ``message``.

    ``actor`` files it (the citizen on their channel, a clerk for a letter). ``category``
    None leaves department and category open: ``incomplete`` when the citizen is asked for
    them, ``needs_triage`` when a person must choose them (a recording). ``messages`` are
    earlier messages of the same filing (a chat form's answers): they and ``message`` join
    the complaint's timeline and their not yet filed attachments become the complaint's.
    ``department_code`` places a complaint without a category in a department's triage (the
    phone's keypad menu); ``sla_days`` gives such a complaint its due date all the same.
    """
    latitude, longitude = location if location else (None, None)
    complaint = Complaint(
        tracking_number=tracking.new_number(),  # lifecycle.submit draws again if taken
        citizen_id=contact.citizen_id, contact_id=contact.id, simulated=contact.simulated,
        channel=channel, language=language, description=description,
        district_code=district_code, location_detail=location_detail,
        department_code=category.department if category else department_code,
        category_code=category.code if category else None,
        confidential=bool(confidential), incomplete=incomplete,
        latitude=latitude, longitude=longitude)
    lifecycle.submit(session, complaint, message, actor,
                     sla_days=category.sla_days if category else sla_days)
    _file_messages(session, complaint, list(dict.fromkeys([*messages, message.id])))
    if needs_triage:
        lifecycle.note(session, complaint, lifecycle.SYSTEM, TRIAGE_NOTE, kind="needs_triage")
    return complaint


def _file_messages(session: Session, complaint: Complaint, ids: list[int]) -> None:
    """The messages join the complaint's timeline and their attachments become its own: two
    UPDATEs on Core (built once), the messages loaded in the session told the new value."""
    connection = session.connection()
    params = {"complaint": complaint.id, "ids": ids}
    connection.execute(_MESSAGES_FILED, params)
    connection.execute(_ATTACHMENTS_FILED, params)
    for message_id in ids:
        loaded = session.identity_map.get(identity_key(Message, message_id))
        if loaded is not None:
            set_committed_value(loaded, "complaint_id", complaint.id)


_MESSAGES_FILED = (update(Message.__table__)
                   .where(Message.__table__.c.id.in_(bindparam("ids", expanding=True)))
                   .values(complaint_id=bindparam("complaint")))
_ATTACHMENTS_FILED = (update(Attachment.__table__)
                      .where(Attachment.__table__.c.message_id.in_(bindparam("ids", expanding=True)),
                             Attachment.__table__.c.complaint_id.is_(None))
                      .values(complaint_id=bindparam("complaint")))
