"""The department and province dashboards: performance over a chosen period, by district,
category, channel and officer, as tables, SVG charts and a district map; any table as CSV."""

from __future__ import annotations

from flask import Response, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics import charts, export, performance
from gateway.auth import require_roles
from gateway.blueprints import dashboard_view as view
from gateway.blueprints.dashboard import bp
from storage.models import District

PROVINCE_ROLES = ("admin", "viewer")
TABLES = ("district", "department", "category", "channel", "officer")
CSV_HEADER = ("key", "name", "received", "open", "overdue", "resolved", "closed", "reopened",
              "median_hours_to_first_response", "median_hours_to_closure", "satisfied",
              "not_satisfied", "satisfaction_rate")


def _period() -> performance.Period:
    try:
        return performance.Period.parse(request.args.get("from"), request.args.get("to"))
    except performance.PeriodError as exc:
        abort(Response(str(exc) + "\n", 400, mimetype="text/plain"))


def _department_filter() -> str | None:
    """Department heads and officers see their own department; the province level may pick."""
    if current_user.role in PROVINCE_ROLES:
        return (request.args.get("department") or "").upper() or None
    return current_user.department_code


def _tables(level: str) -> tuple[str, ...]:
    return TABLES if level == "province" else tuple(t for t in TABLES if t != "department")


def _build(db: Session, level: str) -> dict:
    period, department = _period(), _department_filter()
    labels = view.labels(db)
    total = performance.figures(db, current_user, period, None, department)[0]
    tables = {}
    for dim in _tables(level):
        rows = performance.figures(db, current_user, period, dim, department)
        for row in rows:
            row.label = labels.of(dim, row.key)
        tables[dim] = rows
    measure = request.args.get("map", "open")
    measure = measure if measure in charts.MAP_MEASURES else "open"
    daily = performance.daily_received(db, current_user, period, department)
    svgs = {
        "daily": charts.line_chart([(d.isoformat(), n) for d, n in daily], view.t("received_per_day")),
        "map": charts.district_map(_tiles(db, tables["district"], labels), view.t("map_title"),
                                   measure=measure, words=_map_words(measure)),
    }
    for dim in ("district", "category", "channel") + (("department",) if level == "province" else ()):
        svgs[dim] = charts.bar_chart([(r.label, r.open, r.overdue) for r in tables[dim][:15]],
                                     view.t("open_cases") + " — " + view.t(dim),
                                     legend=("", view.t("overdue")))
    return {"level": level, "period": period, "department": department, "total": total,
            "tables": tables, "svgs": svgs, "labels": labels, "measure": measure,
            "measures": charts.MAP_MEASURES}


def _tiles(db: Session, rows: list[performance.Figures], labels: view.Labels) -> list[charts.DistrictTile]:
    """Every district of the reference data (those without cases too), with its figures and
    a link to its queue where the viewer may open it."""
    figures = {r.key: r for r in rows}
    tiles = []
    for district in db.scalars(select(District)):
        row = figures.get(district.code) or performance.Figures(district.code)
        tiles.append(charts.DistrictTile(
            code=district.code, name=labels.of("district", district.code), lat=district.lat,
            lon=district.lon, received=row.received, open=row.open, overdue=row.overdue,
            satisfaction=row.satisfaction_rate,
            href=url_for("dashboard.queue", district=district.code) if _may_open(district.code) else None))
    return tiles


def _may_open(district: str) -> bool:
    """Whether the viewer's queue can show this district (an officer has one district)."""
    return current_user.role != "officer" or current_user.district_code == district


def _map_words(measure: str) -> dict[str, str]:
    return {"open": view.t("open"), "overdue": view.t("overdue"), "received": view.t("received"),
            "satisfaction": view.t("satisfaction_rate"), "overdue_word": view.t("map_overdue_word"), "no_cases": view.t("map_no_cases"),
            "overdue_share": view.t("map_overdue_mark"),
            "measure": view.t("map_colour_shows") + ": " + view.t("map_" + measure)}


def _page(level: str):
    with view.rt().sessions() as db:
        context = _build(db, level)
    args = {k: v for k, v in request.args.items() if k in ("from", "to", "department")}
    context["map_args"] = {k: v for k, v in request.args.items() if k in ("from", "to", "department", "map")}
    return render_template("dashboard_stats.html", args=args, **context)


def _csv(level: str):
    dim = request.args.get("table", "district")
    if dim not in _tables(level):
        abort(Response(f"table: one of {', '.join(_tables(level))}\n", 400, mimetype="text/plain"))
    period, department = _period(), _department_filter()
    with view.rt().sessions() as db:
        labels = view.labels(db)
        rows = performance.figures(db, current_user, period, dim, department)
        body = export.to_csv(CSV_HEADER, [
            (r.key, labels.of(dim, r.key), r.received, r.open, r.overdue, r.resolved, r.closed,
             r.reopened, _round(r.first_response_hours), _round(r.closure_hours), r.satisfied,
             r.not_satisfied, _round(r.satisfaction_rate, 3)) for r in rows])
    name = f"ikhtiyar-{level}-{dim}-{period.start}-{period.end}.csv"
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _round(value: float | None, digits: int = 1):
    return None if value is None else round(value, digits)


@bp.get("/department")
@require_roles("officer", "department_head", "admin", "viewer")
def department():
    return _page("department")


@bp.get("/department.csv")
@require_roles("officer", "department_head", "admin", "viewer")
def department_csv():
    return _csv("department")


@bp.get("/province")
@require_roles(*PROVINCE_ROLES)
def province():
    return _page("province")


@bp.get("/province.csv")
@require_roles(*PROVINCE_ROLES)
def province_csv():
    return _csv("province")
