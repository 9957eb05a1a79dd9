"""The running pieces of one process: settings, database, engine, queue."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from config import CONFIG_DIR
from conversation.engine import Engine as ConversationEngine
from gateway.settings import Settings
from storage import db
from storage.crypto import configure_vault
from storage.models import User
from storage.reference import load_reference

log = logging.getLogger("ikhtiyar")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    queue: object = None  # gateway.queue.JobQueue
    _conversation: ConversationEngine | None = field(default=None, repr=False)

    def conversation(self, session: Session) -> ConversationEngine:
        if self._conversation is None:
            self._conversation = ConversationEngine.from_session(
                session, self.settings.tracking_prefix, self.settings.var_dir / "nlu",
                self.settings.follow_up_hours)
        return self._conversation

    def conversation_knowledge(self, session: Session):
        return self.conversation(session).knowledge

    def reload_reference(self) -> None:
        self._conversation = None

    @property
    def attachments_dir(self) -> Path:
        return self.settings.var_dir / "attachments"


def build(settings: Settings, warn=print) -> Runtime:
    configure_vault(settings.data_key_bytes(warn))
    engine = db.make_engine(settings.effective_database_url)
    return Runtime(settings, engine, db.make_sessionmaker(engine))


def prepare(rt: Runtime, config_dir: Path = CONFIG_DIR, say=print) -> None:
    """First run and every start: schema up to date, reference data loaded, an admin exists."""
    db.upgrade(rt.engine)
    with db.transaction(rt.sessions) as session:
        counts = load_reference(session, config_dir)
        log.info("reference data: %s", counts)
        if session.scalar(select(User.id).where(User.role == "admin").limit(1)) is None:
            from gateway.passwords import hash_password

            password = secrets.token_urlsafe(12)
            session.add(User(username="admin", display_name="Administrator", role="admin",
                             password_hash=hash_password(password)))
            say(f"Created the first administrator. Log in as 'admin' with password: {password}\n"
                "(change it with: ikhtiyar users passwd admin)")
