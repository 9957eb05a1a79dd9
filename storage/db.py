"""Engines, sessions and schema migrations."""

from __future__ import annotations

import ast
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with the pragmas SQLite needs to be a decent embedded default."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(_RESTORE_BUSY_TIMEOUT)
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # Take the write lock at the start: a turn reads the conversation and then writes
            # it, and two such transactions must not interleave. Straight to the driver: it
            # runs for every transaction, and SQLAlchemy's statement machinery adds nothing.
            begin_immediate(conn.connection.dbapi_connection)

        return engine
    # No ping before every transaction (a round trip each, 11% of a webhook): a connection
    # is checked only when it has sat idle long enough for a server or a firewall to have
    # dropped it, and recycled before PostgreSQL's idle timeouts bite. A connection that
    # fails anyway is invalidated by SQLAlchemy: the webhook spools, a job runs again.
    kwargs.setdefault("pool_recycle", 1800)
    # An unreachable server (a cut network) fails in seconds, not minutes: the webhook
    # spools the message well within Twilio's 15 s.
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkin", _stamp_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


IDLE_PING_S = 30.0


def _stamp_checkin(_dbapi_conn, record) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
    if time.monotonic() - record.info.get("checked_in", time.monotonic()) < IDLE_PING_S:
        return
    try:
        cursor = dbapi_conn.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except Exception as exc:
        # The pool replaces the connection and checks out again.
        raise DisconnectionError(str(exc)) from exc


BUSY_TIMEOUT_S = 30.0
_RESTORE_BUSY_TIMEOUT = f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}"


def begin_immediate(dbapi_conn: sqlite3.Connection, timeout: float = BUSY_TIMEOUT_S) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write transaction to end.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... ms between tries, while our write
    transactions last a fraction of a millisecond: with two web workers, a request would
    mostly sleep. This waits in short steps instead (0.1 ms, growing to 2 ms), for as
    long as the busy timeout allows, then lets SQLite's "database is locked" through.
    Every other statement keeps SQLite's busy timeout.
    """
    dbapi_conn.execute("PRAGMA busy_timeout=0")  # our waiting, not SQLite's, for this one
    try:
        deadline = None
        delay = 0.0001
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                now = time.monotonic()
                deadline = deadline or now + timeout
                if not _busy(exc) or now > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 1.5, 0.002)
    finally:
        dbapi_conn.execute(_RESTORE_BUSY_TIMEOUT)  # the engine's, for every other statement


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or \
        "locked" in str(exc) or "busy" in str(exc)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:  # heads: a branch added before its merge still runs
    """Bring the schema to ``revision`` (the same migrations on SQLite and PostgreSQL).

    A database already at the heads is left alone without loading Alembic: it and its
    templating stay out of every process that starts on an up-to-date schema (~12 MB)."""
    if revision == "heads" and current_revisions(engine) == head_revisions():
        return
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def head_revisions(versions: Path = MIGRATIONS / "versions") -> set[str]:
    """The revisions no other migration builds on, read from the files' own
    ``revision`` and ``down_revision`` (what Alembic reads, without Alembic)."""
    revisions, built_on = set(), set()
    for path in versions.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
                node.target if isinstance(node, ast.AnnAssign) else None
            if not isinstance(target, ast.Name) or node.value is None:
                continue
            if target.id == "revision":
                revisions.add(ast.literal_eval(node.value))
            elif target.id == "down_revision":
                down = ast.literal_eval(node.value)
                built_on.update(down if isinstance(down, tuple | list) else [down] if down else [])
    return revisions - built_on


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database says it is at (empty before the first migration)."""
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except DBAPIError:
        return set()
