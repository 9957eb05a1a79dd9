"""The ``ikhtiyar`` command."""

from __future__ import annotations

import base64
import logging
import secrets
import sys
import threading
import time

import click
from sqlalchemy import select

from gateway.cli_backup import backup, restore
from gateway.cli_nlu import nlu
from gateway.cli_reports import reports
from gateway.cli_users import users
from gateway.settings import SettingsError, load_settings


def _runtime(prepare: bool = False, explicit_keys: str | None = None, check_schema: bool = True):
    """The runtime; ``explicit_keys`` names a production command that must not run on
    generated keys (only `serve` and the admin commands may generate or read key files)."""
    from gateway import jobs, logs
    from gateway import runtime as rt_module
    from gateway.queue import make_queue

    rt_module.private_files()
    try:
        settings = load_settings()
        if explicit_keys:
            settings.require_explicit_keys(explicit_keys)
        logs.configure(settings.log_level)
        rt = rt_module.build(settings, warn=lambda m: click.echo(m, err=True))
        rt.queue = make_queue(settings.redis_url, settings.queue_name)
        if prepare:
            # The first admin's password goes to a terminal only, never to a service's log.
            rt_module.prepare(rt, say=click.echo, terminal=sys.stdout.isatty())
        elif check_schema:
            _require_current_schema(rt)
    except (SettingsError, Exception) as exc:
        if isinstance(exc, SettingsError):
            raise click.ClickException(str(exc)) from None
        raise
    jobs.install(rt)
    from gateway import spool

    spool.install(rt)  # this process replays what it or its siblings spooled
    return rt


def _require_current_schema(rt) -> None:
    """Only `db upgrade`, `serve` and `web` migrate and load the reference data (each start
    of the others would repeat them); the others refuse a schema that is not up to date."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from storage import db

    heads = set(ScriptDirectory.from_config(db.alembic_config(rt.engine)).get_heads())
    quiet = logging.getLogger("alembic.runtime.migration")  # no "Context impl" lines: nothing runs
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with rt.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        quiet.setLevel(level)
    if current != heads:
        raise click.ClickException("the database schema is missing or not up to date: "
                                   "run `ikhtiyar db upgrade` first")


@click.group()
@click.version_option(package_name="ikhtiyar", prog_name="ikhtiyar")
def main() -> None:
    """Ikhtiyar: citizens' complaints from WhatsApp, SMS, phone, email and letters."""


def _sweeper(interval: float = 30.0) -> None:
    from gateway import jobs

    def loop():
        while True:
            time.sleep(interval)
            try:
                jobs.sweep()
            except Exception:
                logging.getLogger("ikhtiyar").exception("sweep failed")
            _sla_sweep()

    threading.Thread(target=loop, name="ikhtiyar-sweeper", daemon=True).start()


def _sla_sweep() -> None:
    """Escalate overdue cases and remind silent citizens (gateway/scheduler.py), rank new
    complaints by urgency (gateway/urgency_jobs.py); a failure is logged and retried on the
    next round, never stops the loop."""
    from gateway import scheduler as sla
    from gateway import urgency_jobs

    try:
        sla.sla_sweep()
    except Exception:
        logging.getLogger("ikhtiyar").exception("SLA sweep failed")
    try:
        urgency_jobs.assess_pending()
    except Exception:
        logging.getLogger("ikhtiyar").exception("urgency sweep failed")


def _serve_http(rt, threads: int = 8) -> None:
    from waitress import serve as waitress_serve

    from gateway.app import create_app

    host, _, port = rt.settings.web_listen.rpartition(":")
    click.echo(f"Ikhtiyar is listening on http://{host}:{port}\n"
               f"  simulator: http://{host}:{port}/simulator\n"
               f"  health:    http://{host}:{port}/healthz")
    waitress_serve(create_app(rt), host=host, port=int(port), threads=threads, ident="ikhtiyar",
                   **waitress_options(rt.settings))


def waitress_options(settings) -> dict:
    """waitress drops X-Forwarded-* headers unless told otherwise (its default since 3.0):
    with IKHTIYAR_TRUST_PROXY they reach the app, whose ProxyFix reads them (one proxy)."""
    return {"clear_untrusted_proxy_headers": not settings.trust_proxy}


@main.command()
def serve() -> None:
    """Everything in one process: web, job worker, sweeper (embedded defaults)."""
    rt = _runtime(prepare=True)
    rt.warm()  # the first citizen does not wait for the engine to be built
    rt.queue.start()
    if rt.settings.redis_url:
        click.echo("IKHTIYAR_REDIS_URL is set: run `ikhtiyar worker` to process jobs.")
    _sweeper()
    _start_smtp(rt)
    _serve_http(rt)


@main.command()
@click.option("--workers", default=1, show_default=True,
              help="Server processes (gunicorn when more than 1; waitress threads otherwise).")
@click.option("--threads", default=8, show_default=True, help="Threads per server process.")
def web(workers: int, threads: int) -> None:
    """The web process only (webhooks, dashboards, simulator)."""
    rt = _runtime(prepare=True, explicit_keys="web")
    if workers <= 1:
        rt.queue.start()  # without Redis the web process runs its own worker thread
        _serve_http(rt, threads=threads)
        return
    if not rt.settings.redis_url:
        raise click.ClickException("--workers: several server processes need IKHTIYAR_REDIS_URL "
                                   "(each would run jobs of its own otherwise)")
    import os
    import shutil

    gunicorn = shutil.which("gunicorn")
    if gunicorn is None:
        raise click.ClickException("--workers: install gunicorn (pip install gunicorn)")
    rt.engine.dispose()  # the workers open their own connections
    click.echo(f"Ikhtiyar web: {workers} gunicorn workers x {threads} threads on {rt.settings.web_listen}")
    os.execv(gunicorn, [gunicorn, "--workers", str(workers), "--threads", str(threads),  # noqa: S606
                        "--worker-class", "gthread", "--bind", rt.settings.web_listen,
                        "--graceful-timeout", "20",
                        "gateway.wsgi:app"])


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queue", "queues", multiple=True,
              type=click.Choice(["deliveries", "retries", "turns", "media", "ocr", "analytics", "all"]),
              help="A queue to work on (repeatable; in priority order). Default: every queue "
                   "but ocr, which gets a worker of its own.")
def worker(burst: bool, queues: tuple[str, ...]) -> None:
    """An RQ worker for the jobs queued on Redis: warms up once, runs jobs in-process."""
    from gateway.queue import DEFAULT_WORKER_QUEUES, QUEUES, worker_class

    rt = _runtime(explicit_keys="worker")
    if not rt.settings.redis_url:
        raise click.ClickException("IKHTIYAR_REDIS_URL: a worker needs Redis (serve runs jobs in-process)")
    chosen = QUEUES if "all" in queues else (queues or DEFAULT_WORKER_QUEUES)
    rt.warm()
    listen = [rt.queue.queues[q] for q in chosen]
    worker_class()(listen, connection=rt.queue.redis).work(burst=burst, with_scheduler=True,
                                                            logging_level=rt.settings.log_level.upper())


@main.command()
@click.option("--once", is_flag=True, help="One round, then stop.")
@click.option("--interval", default=30.0, show_default=True, help="Seconds between rounds.")
def scheduler(once: bool, interval: float) -> None:
    """Periodic work: re-queue stalled messages and outbox retries, replay the spool, the
    SLA job. Safe to run on several machines: one leader works, the others wait."""
    from gateway import jobs
    from gateway.leader import Leadership

    rt = _runtime(explicit_keys="scheduler")
    rt.queue.start()
    leader = Leadership(rt)
    while True:
        if leader.acquire():
            jobs.sweep()
            _sla_sweep()
        if once:
            return
        time.sleep(interval)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema and (re)load the reference data."""
    _runtime(prepare=True)
    click.echo("database is up to date")


main.add_command(users)
main.add_command(backup)
main.add_command(restore)


@main.group()
def open311() -> None:
    """Open311 GeoReport v2 clients."""


@open311.group("keys")
def open311_keys() -> None:
    """API keys of Open311 clients (stored hashed: shown once)."""


@open311_keys.command("create")
@click.argument("name")
def open311_keys_create(name: str) -> None:
    """Print a new api_key for the client NAME (its last word is the key)."""
    from storage import app_access
    from storage.db import transaction

    if not name.strip() or len(name) > 80:
        raise click.ClickException("NAME: 1 to 80 characters")
    rt = _runtime(prepare=True)
    with transaction(rt.sessions) as session:
        key = app_access.create_key(session, name.strip())
    click.echo(f"Open311 api_key for {name.strip()}: {key}")


@main.group()
def complaints() -> None:
    """Work on complaints from the command line."""


@complaints.command("resolve")
@click.argument("tracking_number")
@click.option("--note", required=True, help="What was done; the citizen reads it.")
@click.option("--by", "username", default="admin", show_default=True, help="The officer resolving it.")
def complaints_resolve(tracking_number: str, note: str, username: str) -> None:
    """Mark a complaint resolved; the citizen is asked to confirm (only they can close it)."""
    from conversation import casework
    from gateway import jobs
    from storage import lifecycle, tracking
    from storage.db import transaction
    from storage.models import Complaint, User

    rt = _runtime()
    found = tracking.find(tracking_number, rt.settings.tracking_prefix)
    if not found.number:
        raise click.ClickException(f"{tracking_number}: not a valid tracking number (check digit)")
    with transaction(rt.sessions) as session:
        complaint = session.scalars(select(Complaint).where(Complaint.tracking_number == found.number)).first()
        if complaint is None:
            raise click.ClickException(f"no complaint {tracking_number}")
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise click.ClickException(f"--by: no user named {username}")
        actor = lifecycle.Actor(user.role if user.role in lifecycle.STAFF else "officer", user.id, "cli")
        try:
            message = casework.resolve(session, complaint, actor, note, prefix=rt.settings.tracking_prefix)
        except lifecycle.TransitionError as exc:
            raise click.ClickException(str(exc)) from None
        session.flush()
        message_id = message.id
    jobs.deliver(message_id)
    click.echo(f"{tracking.display(found.number, rt.settings.tracking_prefix)} resolved; the citizen has been asked to confirm")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5055, show_default=True)
@click.option("--no-token", "no_token", is_flag=True,
              help="Answer without IKHTIYAR_ACTIONS_TOKEN: only on a loopback address, for tests.")
def actions(host: str, port: int, no_token: bool) -> None:
    """rasa-sdk's action server with the complaint actions (for a Rasa assistant in front).
    Needs IKHTIYAR_ACTIONS_TOKEN: Rasa sends it as its action endpoint's ``token``."""
    import ipaddress

    from conversation.action_server import ComplaintActionExecutor, create_app
    from storage.db import transaction

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    try:
        token = load_settings().actions_token
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if token is None and not (no_token and loopback):
        raise click.ClickException(
            "IKHTIYAR_ACTIONS_TOKEN is not set: the action server answers only calls that carry it "
            "(without it only on a loopback address with --no-token)")
    if token is not None and no_token:
        raise click.ClickException("--no-token given while IKHTIYAR_ACTIONS_TOKEN is set: choose one")
    rt = _runtime()
    executor = ComplaintActionExecutor(lambda: transaction(rt.sessions), rt.conversation_knowledge,
                                       rt.settings.tracking_prefix)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"rasa-sdk action server on http://{shown}:{port}/webhook"
               + ("" if token else " (no token: loopback test mode)"))
    create_app(executor, token).run(host=host, port=port, single_process=True, access_log=False)


@main.command("reference")
def reference_reload() -> None:
    """Reload districts, departments and categories from config/."""
    from config import CONFIG_DIR
    from storage.db import transaction
    from storage.reference import load_reference

    rt = _runtime()
    with transaction(rt.sessions) as session:
        load_reference(session, CONFIG_DIR)
    click.echo("reference data loaded")


@main.group()
def keys() -> None:
    """Keys for settings."""


@keys.command("new")
def keys_new() -> None:
    """Print a new random key for IKHTIYAR_DATA_KEY or IKHTIYAR_SECRET_KEY."""
    click.echo(base64.b64encode(secrets.token_bytes(32)).decode())


@main.group()
def prompts() -> None:
    """The phone line's Urdu and Pashto prompt audio (config/prompts)."""


@prompts.command("build")
@click.option("--force", is_flag=True, help="Also overwrite human recordings and up-to-date files.")
@click.option("--dir", "folder", type=click.Path(file_okay=False), default=None,
              help="Where the files go (default: IKHTIYAR_VOICE_PROMPTS_DIR or config/prompts).")
def prompts_build(force: bool, folder: str | None) -> None:
    """Speak every voice prompt of config/messages.yaml into audio files (espeak-ng)."""
    from pathlib import Path

    from channels.voice.audio import PROMPTS_DIR
    from channels.voice.prompts import PromptBuildError, build

    try:
        root = Path(folder) if folder else (load_settings().voice_prompts_dir or PROMPTS_DIR)
        build(root, force=force, say=click.echo)
    except (PromptBuildError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None


def _start_smtp(rt):
    """The SMTP listener on IKHTIYAR_SMTP_LISTEN, in a thread of this process."""
    from gateway import mail_service

    try:
        mail_service.start_smtp(rt)
    except Exception as exc:  # a busy port: say which setting to change
        raise click.ClickException(f"IKHTIYAR_SMTP_LISTEN: cannot listen on {rt.settings.smtp_listen}: {exc}") from None
    click.echo(f"SMTP listener on {rt.settings.smtp_listen} for {rt.settings.mail_address}")


@main.command()
def smtp() -> None:
    """The SMTP listener only: mail to the complaints address becomes complaints."""
    rt = _runtime(explicit_keys="smtp")
    rt.queue.start()  # without Redis this process runs its own worker thread
    _start_smtp(rt)
    threading.Event().wait()


@main.command("imap-poll")
@click.option("--once", is_flag=True, help="Store what is in the mailbox now, then stop.")
def imap_poll(once: bool) -> None:
    """Fetch mail from IKHTIYAR_IMAP_URL (IDLE where the server has it, else polling)."""
    from channels.email.imap import ImapTlsError, ImapUrlError
    from gateway import mail_service

    rt = _runtime(explicit_keys="imap-poll")
    if not rt.settings.imap_url:
        raise click.ClickException("IKHTIYAR_IMAP_URL: set the mailbox to poll, e.g. imaps://user:pass@host/INBOX")
    try:
        poller = mail_service.imap_poller(rt)
    except ImapUrlError as exc:
        raise click.ClickException(f"IKHTIYAR_IMAP_URL: {exc}") from None
    rt.queue.start()
    if once:
        try:
            click.echo(f"stored {poller.poll_once()} message(s)")
        except ImapTlsError as exc:
            raise click.ClickException(str(exc)) from None
        if not rt.settings.redis_url:
            while rt.queue.pending():  # let this process's worker answer them
                time.sleep(0.1)
        return
    poller.run()


for group in (reports, nlu):  # their own modules, like users, backup and restore
    main.add_command(group)

if __name__ == "__main__":
    sys.exit(main())
