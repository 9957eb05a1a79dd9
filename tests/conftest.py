"""Fixtures: the storage and engine tests run on SQLite and on PostgreSQL.

PostgreSQL comes from IKHTIYAR_DATABASE_URL (CI sets it); each test run gets a database of
its own, created and dropped here. With CI=true an unreachable PostgreSQL or Redis fails
the run instead of skipping.
"""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import storage.schema  # noqa: F401  (all tables)
from gateway import jobs
from gateway import runtime as rt_module
from gateway.queue import InProcessQueue
from gateway.settings import load_settings
from storage.db import transaction
from storage.models import Base

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("IKHTIYAR_DATABASE_URL", "")
REDIS_URL = os.environ.get("IKHTIYAR_REDIS_URL", "")
TEST_KEY = base64.b64encode(b"k" * 32).decode()
# The session-signing key: 32 random bytes, as `ikhtiyar keys new` prints.
TEST_SECRET = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(autouse=True)
def _process_umask():
    """Every `ikhtiyar` command sets an owner-only umask for its whole process; a test that
    runs one in-process (CliRunner) must not leave it to the next test's peers (Dovecot
    reads the mail folders a test writes)."""
    mask = os.umask(0o022)
    os.umask(mask)
    yield
    os.umask(mask)


def _unavailable(what: str, why: str):
    if IN_CI:
        pytest.fail(f"{what} is required in CI: {why}")
    pytest.skip(f"{what} not available: {why}")


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this test session; dropped at the end."""
    if not PG_URL.startswith(("postgresql", "postgres")):
        _unavailable("PostgreSQL", "IKHTIYAR_DATABASE_URL is not a postgresql:// URL")
    url = make_url(load_settings(database_url=PG_URL).database_url)
    name = f"ikhtiyar_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _unavailable("PostgreSQL", str(exc).splitlines()[0])
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_PREPARED: dict[str, rt_module.Runtime] = {}


def _runtime_for(url: str, var_dir: Path) -> rt_module.Runtime:
    if url not in _PREPARED:
        settings = load_settings(database_url=url, data_key=TEST_KEY, var_dir=var_dir,
                                 redis_url=None, secret_key=TEST_SECRET)
        rt = rt_module.build(settings)
        rt_module.prepare(rt, say=lambda _m: None)
        _PREPARED[url] = rt
    return _PREPARED[url]


_KEEP = {"districts", "departments", "categories", "users"}


def _wipe(rt: rt_module.Runtime) -> None:
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in _KEEP]
    with transaction(rt.sessions) as session:
        if rt.engine.dialect.name == "postgresql":
            session.execute(text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                session.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def rt(request, tmp_path_factory) -> rt_module.Runtime:
    """A prepared runtime (schema, reference data) on each backend, emptied for each test,
    with an in-process queue whose jobs the test runs with ``rt.queue.run_due()``."""
    var_dir = tmp_path_factory.getbasetemp() / "var"
    if request.param == "sqlite":
        url = f"sqlite:///{var_dir / 'test.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    runtime = _runtime_for(url, var_dir)
    from storage.crypto import configure_vault
    configure_vault(base64.b64decode(TEST_KEY))
    _wipe(runtime)
    runtime.queue = InProcessQueue()
    jobs.install(runtime)
    return runtime


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        _unavailable("Redis", "IKHTIYAR_REDIS_URL is not set")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as exc:
        _unavailable("Redis", str(exc))
    return REDIS_URL
