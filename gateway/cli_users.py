"""``ikhtiyar users``: staff accounts (create, token, passwd, disable, enable, revoke-token)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import select

ROLES = ("officer", "department_head", "clerk", "admin", "viewer")


def _runtime():
    from gateway.cli import _runtime as runtime  # the cli module registers this group

    return runtime()


@click.group()
def users() -> None:
    """Staff accounts."""


def _new_password(password: str | None, prompt: str) -> str:
    if password is None:
        password = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.ClickException("--password: use at least 8 characters")
    return password


@contextmanager
def _user(name: str) -> Iterator:
    """The user NAME in a transaction, with the settings (an unknown name stops the command
    with one line)."""
    from storage.db import transaction
    from storage.models import User

    rt = _runtime()
    with transaction(rt.sessions) as session:
        user = session.scalars(select(User).where(User.username == name)).first()
        if user is None:
            raise click.ClickException(f"no user named {name}")
        yield user, rt.settings


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--department", "department", help="Department code (officers, department heads).")
@click.option("--district", "district", help="District code (officers).")
@click.option("--password", help="Prompted for when not given.")
def users_create(name: str, role: str, department: str | None, district: str | None,
                 password: str | None) -> None:
    """Create a user, or update an existing one's role, scope and password."""
    from gateway.auth import end_sessions
    from gateway.passwords import hash_password
    from storage.db import transaction
    from storage.models import Department, District, User

    rt = _runtime()
    if role in ("officer", "department_head") and not department:
        raise click.ClickException(f"--department: a {role} needs a department code")
    if role == "officer" and not district:
        raise click.ClickException("--district: an officer needs a district code")
    password = _new_password(password, "Password")
    with transaction(rt.sessions) as session:
        if department and session.get(Department, department.upper()) is None:
            raise click.ClickException(f"--department: no department with code {department}")
        if district and session.get(District, district.upper()) is None:
            raise click.ClickException(f"--district: no district with code {district}")
        user = session.scalars(select(User).where(User.username == name)).first()
        if user is None:
            user = User(username=name)
        else:  # a new password or role: what was signed in under the old ones ends
            end_sessions(user)
        user.role, user.password_hash = role, hash_password(password)
        user.department_code = department.upper() if department else None
        user.district_code = district.upper() if district else None
        session.add(user)
    click.echo(f"user {name} ({role}) saved")


@users.command("token")
@click.argument("name")
@click.option("--days", type=click.IntRange(1, 3650), default=None,
              help="Days until it expires (default: IKHTIYAR_TOKEN_DAYS, 90).")
def users_token(name: str, days: int | None) -> None:
    """Print a new bearer token for NAME (replaces the previous one; it expires)."""
    from datetime import timedelta

    from gateway.passwords import new_token
    from storage.models import utcnow

    with _user(name) as (user, settings):
        token, digest = new_token()
        user.token_hash = digest
        expires = utcnow() + timedelta(days=days or settings.token_days)
        user.token_expires_at, user.token_last_used_at = expires, None
    click.echo(token)
    click.echo(f"(expires {expires:%Y-%m-%d %H:%M} UTC)", err=True)


@users.command("passwd")
@click.argument("name")
@click.option("--password", help="Prompted for when not given.")
def users_passwd(name: str, password: str | None) -> None:
    """Set NAME's password; every session they have open is signed out."""
    from gateway.auth import end_sessions
    from gateway.passwords import hash_password

    password = _new_password(password, "New password")
    with _user(name) as (user, _settings):
        user.password_hash = hash_password(password)
        end_sessions(user)
    click.echo(f"password of {name} changed; their open sessions are signed out")


def _set_active(name: str, active: bool) -> None:
    from gateway.auth import end_sessions

    with _user(name) as (user, _settings):
        user.active = active
        if not active:
            end_sessions(user)


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable NAME: no sign-in, open sessions end and their token stops working."""
    _set_active(name, False)
    click.echo(f"user {name} disabled; their sessions and token stop working now")


@users.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """Enable NAME again after `users disable`."""
    _set_active(name, True)
    click.echo(f"user {name} enabled")


@users.command("revoke-token")
@click.argument("name")
def users_revoke_token(name: str) -> None:
    """Revoke NAME's bearer token (machines using it get 401 from now on)."""
    with _user(name) as (user, _settings):
        had = user.token_hash is not None
        user.token_hash = user.token_expires_at = user.token_last_used_at = None
    click.echo(f"token of {name} revoked" if had else f"{name} had no token")
