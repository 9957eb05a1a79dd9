"""The command line: staff accounts, tokens, and resolving a complaint until the dashboard
exists. Runs the real `ikhtiyar` entry point in a subprocess on a fresh SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

from sqlalchemy import create_engine, inspect, select

from conversation import catalog
from gateway import runtime as rt_module
from gateway.queue import InProcessQueue
from gateway.settings import load_settings
from storage import tracking
from storage.models import Complaint, Message
from tests.citizen import Citizen
from tests.conftest import TEST_KEY


def _cli(tmp_path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "IKHTIYAR_VAR_DIR": str(tmp_path), "IKHTIYAR_DATA_KEY": TEST_KEY,
           "IKHTIYAR_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    env.pop("IKHTIYAR_REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_first_upgrade_creates_the_admin_and_prints_how_to_log_in(tmp_path):
    first = _cli(tmp_path, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    # Not a terminal (a service's output is its log): the password is in an owner-only file.
    secret = tmp_path / "first-admin-password"
    assert f"Created the first administrator 'admin'; its password is in {secret}" in first.stdout
    password = secret.read_text().strip()
    assert len(password) >= 12 and secret.stat().st_mode & 0o077 == 0
    assert password not in first.stdout + first.stderr
    from gateway.passwords import check_password
    from storage.models import User

    rt = rt_module.build(load_settings(database_url=f"sqlite:///{tmp_path}/cli.db", data_key=TEST_KEY,
                                       var_dir=tmp_path, redis_url=None))
    with rt.sessions() as s:
        assert check_password(password, s.scalars(select(User).where(User.username == "admin")).one().password_hash)
    again = _cli(tmp_path, "db", "upgrade")
    assert "Created the first administrator" not in again.stdout  # only on the first run


def test_only_db_upgrade_migrates_other_commands_name_it(tmp_path):
    # Any other command on an empty database says what to run, and creates nothing.
    token = _cli(tmp_path, "users", "token", "admin")
    assert token.returncode != 0 and "run `ikhtiyar db upgrade` first" in token.stderr
    engine = create_engine(f"sqlite:///{tmp_path}/cli.db")
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_version_names_the_installed_package(tmp_path):
    shown = _cli(tmp_path, "--version")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"ikhtiyar, version {version('ikhtiyar')}"


def test_users_create_checks_the_scope_and_token_prints_a_bearer_token(tmp_path):
    _cli(tmp_path, "db", "upgrade")
    bad = _cli(tmp_path, "users", "create", "sana", "--role", "officer", "--department", "POLICE",
               "--password", "long enough pw")
    assert bad.returncode != 0 and "--district: an officer needs a district code" in bad.stderr
    unknown = _cli(tmp_path, "users", "create", "sana", "--role", "officer", "--department", "NOPE",
                   "--district", "PSW", "--password", "long enough pw")
    assert "no department with code NOPE" in unknown.stderr
    ok = _cli(tmp_path, "users", "create", "sana", "--role", "officer", "--department", "POLICE",
              "--district", "PSW", stdin="long enough pw\nlong enough pw\n")
    assert ok.returncode == 0, ok.stderr
    token = _cli(tmp_path, "users", "token", "sana")
    assert token.returncode == 0 and len(token.stdout.strip()) >= 40


def test_complaints_resolve_asks_the_citizen_and_does_not_close(tmp_path):
    _cli(tmp_path, "db", "upgrade")
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/cli.db", data_key=TEST_KEY,
                             var_dir=tmp_path, redis_url=None)
    rt = rt_module.build(settings)
    rt.queue = InProcessQueue()
    from gateway import jobs

    previous = jobs._runtime
    jobs.install(rt)
    try:
        c = Citizen(rt)
        for text in ("1", "Teacher has been absent from the girls school all month", "Bannu",
                     "Mandan village", "yes", "skip", "yes"):
            c.send(text)
    finally:
        if previous is not None:  # run alone, no earlier test installed a runtime
            jobs.install(previous)
    with rt.sessions() as s:
        number = s.scalars(select(Complaint.tracking_number)).one()
    typo = _cli(tmp_path, "complaints", "resolve", f"KP-{number[:-1]}{(int(number[-1]) + 1) % 10}",
                "--note", "x")
    assert typo.returncode != 0 and "check digit" in typo.stderr
    done = _cli(tmp_path, "complaints", "resolve", f"KP-{number}", "--note", "Teacher transferred in")
    assert done.returncode == 0, done.stderr
    with rt.sessions() as s:
        assert s.scalars(select(Complaint.state)).one() == "resolved"
        last = s.scalars(select(Message).order_by(Message.id.desc())).first()
        assert last.text == catalog.text("satisfaction_request", "en", tracking=tracking.display(number),
                                         note="Teacher transferred in")
        assert last.status == "delivered"
