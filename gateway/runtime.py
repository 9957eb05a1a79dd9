"""The running pieces of one process: settings, database, engine, queue."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from config import CONFIG_DIR
from conversation import catalog
from conversation.engine import Engine as ConversationEngine
from gateway import logs
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
    _senders: dict = field(default_factory=dict, repr=False, init=False)  # per settings

    def conversation(self, session: Session) -> ConversationEngine:
        if self._conversation is None:
            self._conversation = ConversationEngine.from_session(
                session, self.settings.tracking_prefix, self.settings.var_dir / "nlu",
                self.settings.follow_up_hours, self.settings.status_lookups_per_hour)
        return self._conversation

    def conversation_knowledge(self, session: Session):
        return self.conversation(session).knowledge

    def sender_for(self, channel: str, simulated: bool = False):
        """The channel's sender, built once per process (a Twilio client keeps its
        connection pool); a simulated contact's messages go to the log sender."""
        from channels import log_sender, registry

        if simulated:
            return log_sender.send
        key = (channel, registry.sender_for)  # a registry swapped in (tests) builds anew
        if key not in self._senders:
            self._senders[key] = registry.sender_for(channel, self.settings)
        return self._senders[key]

    def warm(self) -> None:
        """Build what every job needs before the first one arrives: the engine and its
        reference data, the message catalog, the senders, a database connection."""
        from conversation import catalog

        with self.sessions() as session:
            self.conversation(session)
        catalog.text("welcome", "en")
        for channel in ("whatsapp", "sms", "email"):
            self.sender_for(channel)

    def reload_reference(self) -> None:
        self._conversation = None

    @property
    def attachments_dir(self) -> Path:
        return self.settings.var_dir / "attachments"


# Owner only: the database and its WAL, the keys, scans, recordings and attachments all
# hold citizens' personal data (files 0600, folders 0700).
PRIVATE_UMASK = 0o077
FIRST_PASSWORD_FILE = "first-admin-password"  # noqa: S105 (a file name)


def private_files() -> None:
    """Every file this process makes from now on is its owner's only: called first thing by
    every ``ikhtiyar`` command, before the first file of the var folder is made."""
    os.umask(PRIVATE_UMASK)


def site_url(settings: Settings) -> str:
    """Where citizens reach the web pages: IKHTIYAR_PUBLIC_URL, else the web listen address."""
    return settings.public_url or f"http://{settings.web_listen}"


def build(settings: Settings, warn=print) -> Runtime:
    logs.protect()
    _make_private(settings.var_dir)
    configure_vault(settings.data_key_bytes(warn))
    catalog.configure_site(site_url(settings))
    engine = db.make_engine(settings.effective_database_url)
    rt = Runtime(settings, engine, db.make_sessionmaker(engine))
    from gateway import analytics_jobs  # (imports nothing of this module)

    analytics_jobs.watch(rt)  # every complaint filed, on any channel, is offered to clustering
    return rt


def _make_private(var_dir: Path) -> None:
    """The var folder as PRIVATE_UMASK would have made it (a folder made by an older
    version, or by hand, may be open to every user of the machine)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    for path in (var_dir, *var_dir.rglob("*")):
        try:
            if path.is_symlink() or path.stat().st_uid != os.getuid():
                continue
            path.chmod(0o700 if path.is_dir() else path.stat().st_mode & 0o700)
        except OSError:  # gone meanwhile, or not ours to change: leave it
            continue


def prepare(rt: Runtime, config_dir: Path = CONFIG_DIR, say=print, terminal: bool = False) -> None:
    """First run and every start: schema up to date, reference data loaded, an admin exists.

    The first administrator's password is shown only on a terminal (``terminal``): a
    service's output goes to a log. Otherwise it is in an owner-only file of the var folder,
    and only the file's name is said."""
    db.upgrade(rt.engine)
    with db.transaction(rt.sessions) as session:
        counts = load_reference(session, config_dir)
        log.info("reference data: %s", counts)
        if session.scalar(select(User.id).where(User.role == "admin").limit(1)) is None:
            from gateway.passwords import hash_password

            password = secrets.token_urlsafe(12)
            session.add(User(username="admin", display_name="Administrator", role="admin",
                             password_hash=hash_password(password), password_change_required=True))
            if terminal:
                say(f"Created the first administrator. Log in as 'admin' with password: {password}\n"
                    "(change it with: ikhtiyar users passwd admin)")
            else:
                secret = rt.settings.var_dir / FIRST_PASSWORD_FILE
                fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(password + "\n")
                say(f"Created the first administrator 'admin'; its password is in {secret} "
                    "(readable by this user only): sign in and change it (or: ikhtiyar users passwd admin), "
                    "then delete the file.")
