"""The sender for channel ``letter``: writers who gave no phone number get paper.

Each outbox row (a status update, an officer's message, the satisfaction request, the
reply to an answer a clerk entered) is rendered as a printable PDF letter in the writer's
language, stored under ``IKHTIYAR_VAR_DIR/letters/post`` (never a served path), and
counted as ``sent``: a clerk prints it from the "to post" list and marks it posted, which
makes it ``delivered``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from channels.delivery import Delivered, Outgoing, PermanentError, TransientError
from channels.letters import acknowledgement
from config.fonts import FontMissing
from conversation import catalog

_PDF_ID = re.compile(r"^post-[0-9a-f]{32}$")
_NO_ADDRESS = re.compile(r"^letter-\d+$")  # the label of a writer who gave neither name nor address


def post_dir(var_dir: Path | str) -> Path:
    return Path(var_dir) / "letters" / "post"


def pdf_path(var_dir: Path | str, provider_id: str | None) -> Path | None:
    """Where the PDF an outbox row became is stored; None for an id this sender never made."""
    if not provider_id or not _PDF_ID.match(provider_id):
        return None
    return post_dir(var_dir) / f"{provider_id}.pdf"


def mailing_label(address: str) -> str:
    """The contact's address as printed on the letter ("" when the letter gave none)."""
    return "" if _NO_ADDRESS.match(address.strip()) else address.strip()


@dataclass
class PostSender:
    """A sender for ``channels.registry``: Outgoing -> a stored PDF, ``sent``."""

    folder: Path
    tracking_prefix: str = "KP"

    @classmethod
    def from_settings(cls, settings) -> PostSender:
        return cls(post_dir(settings.var_dir), settings.tracking_prefix)

    def __call__(self, message: Outgoing) -> Delivered:
        if not message.text.strip():
            raise PermanentError("an empty message cannot be posted")
        lang = message.language if message.language in catalog.LANGUAGES else "en"
        title_key = f"letter_notice_title_{message.kind}"
        title = catalog.text(title_key if title_key in catalog.load() else "letter_notice_title", lang)
        found = re.search(rf"\b{re.escape(self.tracking_prefix)}-\d+\b", message.text)
        notice = acknowledgement.Notice(
            language=lang, label=mailing_label(message.to), text=message.text,
            date=datetime.now(UTC).date().isoformat(), title=title,
            footer=catalog.text("letter_notice_footer", lang),
            reference=found.group(0) if found else "")
        try:
            pdf = acknowledgement.render_notice(notice)
        except FontMissing as exc:  # an operator can install it: try again
            raise TransientError(str(exc)) from None
        provider_id = f"post-{uuid.uuid4().hex}"
        path = self.folder / f"{provider_id}.pdf"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(pdf)
            partial.replace(path)  # whole or not at all
        except OSError as exc:  # disk full, permissions: not the message's fault
            raise TransientError(f"could not store the letter: {exc}") from None
        return Delivered(provider_id=provider_id, status="sent")
