"""What the dashboard pages share: the scope check that turns an out-of-scope case into a
404, masking of the complainant's details, reference labels, and the interface language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from flask import abort, current_app, g, session
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import pii, scope, tracking
from storage.models import Category, Complaint, Department, District, User

DASHBOARD_ROLES = ("officer", "department_head", "admin", "viewer")
UI_LANGUAGES = ("en", "ur")
LABEL_GROUPS = ("state", "event", "role", "kind", "delivery", "lang")
_STRINGS: dict[str, dict[str, str]] = yaml.safe_load(
    (Path(__file__).with_name("dashboard_strings.yaml")).read_text(encoding="utf-8"))
# The scanned-letter panel of the case page (letters); the strings file wins if it has them.
for _key, _texts in {
    "scanned_letter": {"en": "Scanned letter", "ur": "اسکین شدہ خط"},
    "scanned_letter_note": {"en": "Each page beside the text OCR read from it; doubtful words are marked. "
                                  "The description above is the clerk's corrected text.",
                            "ur": "ہر صفحہ اور اس سے او سی آر کا پڑھا ہوا متن ساتھ ساتھ؛ مشکوک الفاظ نشان زد ہیں۔ "
                                  "اوپر کی تفصیل کلرک کا درست کیا ہوا متن ہے۔"},
    "scan_page": {"en": "Page", "ur": "صفحہ"},
    "ocr_confidence": {"en": "OCR confidence", "ur": "او سی آر اعتماد"},
}.items():
    _STRINGS.setdefault(_key, _texts)


def ui_lang() -> str:
    lang = session.get("ui_lang", "en")
    return lang if lang in UI_LANGUAGES else "en"


def t(key: str) -> str:
    """The interface text ``key`` in the officer's chosen language (English if missing)."""
    entry = _STRINGS.get(key)
    if entry is None:
        # A state, event, role or delivery status without a catalog entry yet reads as words.
        group, _, name = key.partition("_")
        return name.replace("_", " ") if group in LABEL_GROUPS and name else key
    return entry.get(ui_lang()) or entry["en"]


def rt():
    return current_app.extensions["ikhtiyar"]


def prefix() -> str:
    return rt().settings.tracking_prefix


def find_case(db: Session, number: str, *, for_update: bool = False) -> Complaint:
    """The complaint with this tracking number if the signed-in user may see it, else 404
    (the same answer as for a number that does not exist: nothing leaks)."""
    found = tracking.find(number, prefix())
    if not found.number:
        abort(404)
    query = scope.visible(select(Complaint), current_user, unsorted=True).where(
        Complaint.tracking_number == found.number)
    if for_update:
        query = query.with_for_update()
    complaint = db.scalars(query).first()
    if complaint is None:
        abort(404)
    return complaint


def find_case_or_none(db: Session, number: str) -> Complaint | None:
    found = tracking.find(number, prefix())
    if not found.number:
        return None
    return db.scalars(scope.visible(select(Complaint), current_user, unsorted=True).where(
        Complaint.tracking_number == found.number)).first()


def require_act() -> None:
    """Viewers (and anyone else who may only look) get 403 on every action."""
    if not scope.can_act(current_user):
        abort(403)


def identity_hidden(user, complaint: Complaint) -> bool:
    """A confidential complaint hides the complainant from the department it is about."""
    return scope.identity_hidden(user, complaint)


# Masking lives with the data it protects (storage.pii); the pages use it from here.
mask_address, mask_cnic, mask_name = pii.mask_address, pii.mask_cnic, pii.mask_name


@dataclass(frozen=True)
class Shown:
    """How a case's texts reach one member of staff: masked until they reveal (phone
    numbers, CNICs, emails and the complainant's own name and addresses); for the
    department a confidential complaint is about, removed and never revealed."""

    hidden: bool
    revealed: bool
    known: list = field(default_factory=list)
    # Where the complainant lives or stood (the location they gave): removed, as a whole,
    # from every text the accused department sees.
    places: list = field(default_factory=list)

    def text(self, value: str | None) -> str | None:
        if not value:
            return value
        if self.hidden:
            for place in self.places:
                if place and place.strip():
                    value = re.sub(re.escape(place.strip()), pii.REDACTED, value, flags=re.IGNORECASE)
            return pii.redact(value, self.known)
        return value if self.revealed else pii.mask(value, self.known)

    def detail(self, value: str | None) -> str | None:
        """Delivery errors and system notes: they name the address that failed."""
        return self.text(value)

    def attachment(self, a) -> dict:
        return {"id": a.id, "content_type": a.content_type, "size": a.size,
                "duration_seconds": a.duration_seconds, "filename": self.text(a.filename)}


def shown_for(db: Session, user, complaint: Complaint, revealed: bool = False) -> Shown:
    """How this complaint's texts reach ``user`` (see Shown): the complainant's own name,
    CNIC and addresses are what is masked besides any number, CNIC or email."""
    from storage.models import Citizen, Contact

    hidden = scope.identity_hidden(user, complaint)
    citizen = db.get(Citizen, complaint.citizen_id)
    addresses = db.scalars(select(Contact.address).where(Contact.citizen_id == complaint.citizen_id)).all()
    return Shown(hidden=hidden, revealed=revealed and not hidden,
                 known=[citizen.name, citizen.cnic, *addresses] if citizen else list(addresses),
                 places=[complaint.location_detail])


class Labels:
    """Names of districts, departments, categories and officers in the interface language."""

    def __init__(self, db: Session, lang: str) -> None:
        col = "name_ur" if lang == "ur" else "name_en"
        self.district = {d.code: getattr(d, col) for d in db.scalars(select(District))}
        self.department = {d.code: getattr(d, col) for d in db.scalars(select(Department))}
        self.category = {c.code: getattr(c, col) for c in db.scalars(select(Category))}
        self.officer = {u.id: (u.display_name or u.username)
                        for u in db.scalars(select(User).where(User.role.in_(
                            ("officer", "department_head", "admin"))))}
        self.channel = {c: c.capitalize() if c != "sms" else "SMS"
                        for c in ("web", "whatsapp", "sms", "voice", "email", "letter")}
        self.channel["whatsapp"] = "WhatsApp"

    def of(self, dim: str, key) -> str:
        if key is None:
            return "—"
        return getattr(self, dim, {}).get(key, str(key))


def labels(db: Session) -> Labels:
    if "dashboard_labels" not in g:
        g.dashboard_labels = Labels(db, ui_lang())
    return g.dashboard_labels
