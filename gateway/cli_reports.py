"""``ikhtiyar reports``: the weekly report as a PDF, and who receives it by mail."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def reports() -> None:
    """The performance report (PDF) of a department or the province."""


@reports.command("build")
@click.option("--department", default=None, help="Department code; the province when omitted.")
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD.")
@click.option("--lang", type=click.Choice(["en", "ur"]), default="en", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The PDF to write.")
def build(department: str | None, start: str, end: str, lang: str, out: str) -> None:
    """Write the report of a period: received, open, overdue and closed, SLA compliance,
    satisfaction, backlog by age, top clusters and spikes, worst districts and officers,
    compared with the period before."""
    from analytics.performance import Period, PeriodError
    from analytics.report_pdf import build_pdf
    from config.fonts import FontMissing
    from gateway.cli import _runtime
    from storage.models import Department

    try:
        period = Period.parse(start, end)
    except PeriodError as exc:
        raise click.BadParameter(str(exc)) from None
    rt = _runtime()
    code = department.strip().upper() if department else None
    with rt.sessions() as session:
        if code and session.get(Department, code) is None:
            raise click.BadParameter(f"no department with code {code}", param_hint="--department")
        try:
            data = build_pdf(session, period, code, lang)
        except FontMissing as exc:
            raise click.ClickException(str(exc)) from None
    Path(out).write_bytes(data)
    click.echo(f"wrote {out} ({len(data)} bytes): {code or 'province'} "
               f"{period.start.isoformat()}..{period.end.isoformat()} ({lang})")


@reports.command("subscribe")
@click.argument("username")
@click.argument("email")
@click.option("--spikes/--no-spikes", default=True, show_default=True, help="Spike alerts by mail.")
@click.option("--weekly/--no-weekly", default=True, show_default=True, help="The weekly report by mail.")
def subscribe(username: str, email: str, spikes: bool, weekly: bool) -> None:
    """Mail spike alerts and the weekly report to a department head, viewer or admin."""
    from sqlalchemy import select

    from gateway.cli import _runtime
    from storage import clusters
    from storage.db import transaction
    from storage.models import User

    if "@" not in email:
        raise click.BadParameter("not an email address", param_hint="EMAIL")
    rt = _runtime()
    with transaction(rt.sessions) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or user.role not in ("department_head", "viewer", "admin"):
            raise click.ClickException(f"{username}: no department head, viewer or admin of that name")
        clusters.subscribe(session, user.id, email, spike_alerts=spikes, weekly_report=weekly)
    click.echo(f"{username}: spike alerts {'on' if spikes else 'off'}, weekly report {'on' if weekly else 'off'}")
