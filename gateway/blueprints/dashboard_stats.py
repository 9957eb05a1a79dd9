"""The department and province dashboards: the backlog as of now and the flow of a chosen
period (with the period before for comparison), by district, department, category, channel
and officer, as tables, SVG charts and a district map; any table as CSV. A district drills
down to its categories, a category to its cases in the queue."""

from __future__ import annotations

from flask import Response, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics import charts, export, misrouting, performance
from gateway.auth import require_roles
from gateway.blueprints import dashboard_view as view
from gateway.blueprints.dashboard import bp
from storage.models import District

PROVINCE_ROLES = ("admin", "viewer")
TABLES = ("district", "department", "category", "officer", "channel")
TOP = 10  # rows shown before "N more"
CSV_HEADER = ("key", "name", "received", "open", "overdue", "awaiting_citizen", "open_0_7_days",
              "open_8_30_days", "open_over_30_days", "resolved", "closed", "reopened", "due",
              "resolved_by_due_time", "sla_compliance", "median_days_to_first_response",
              "median_days_to_closure", "satisfied", "not_satisfied", "satisfaction_rate")
ARGS = ("from", "to", "department", "district", "category")


def _period() -> performance.Period:
    try:
        return performance.Period.parse(request.args.get("from"), request.args.get("to"))
    except performance.PeriodError as exc:
        abort(Response(str(exc) + "\n", 400, mimetype="text/plain"))


def _filters() -> performance.Filters:
    """Department heads and officers see their own department; the province level may pick.
    District and category narrow further (the drill-down); scope still applies."""
    if current_user.role in PROVINCE_ROLES:
        department = (request.args.get("department") or "").upper() or None
    else:
        department = current_user.department_code
    return performance.Filters(department=department,
                               district=(request.args.get("district") or "").upper() or None,
                               category=(request.args.get("category") or "").upper() or None)


def _tables(level: str, filters: performance.Filters | None = None) -> tuple[str, ...]:
    """The tables of a page; one already narrowed to a single value is left out."""
    dims = TABLES if level == "province" else tuple(t for t in TABLES if t != "department")
    if filters is None:
        return dims
    narrowed = {"district": filters.district, "category": filters.category,
                "department": filters.department if level == "province" else None}
    return tuple(d for d in dims if not narrowed.get(d))


def _may_open(district: str | None) -> bool:
    """Whether the viewer's queue can show this district (an officer has one district)."""
    return current_user.role != "officer" or current_user.district_code == district


def _links(level: str, dim: str, key, filters: performance.Filters, args: dict) -> dict:
    """Where a row leads: ``drill`` (the same dashboard narrowed to it, or its cases in the
    queue), ``open`` and ``overdue`` (its cases in the queue)."""
    if key is None or dim == "officer":
        return {}
    if dim == "department":
        return {"drill": url_for("dashboard." + level, **{**args, "department": key})}
    queue_args = {k: v for k, v in {"district": filters.district, "category": filters.category,
                                    dim: key}.items() if v}
    if not _may_open(queue_args.get("district", current_user.district_code)):
        return {}
    out = {"open": url_for("dashboard.queue", **queue_args),
           "overdue": url_for("dashboard.queue", overdue=1, **queue_args)}
    out["drill"] = url_for("dashboard." + level, **{**args, "district": key}) if dim == "district" else out["open"]
    return out


def _build(db: Session, level: str) -> dict:
    period, filters = _period(), _filters()
    args = {k: v for k, v in request.args.items() if k in ARGS and v}
    labels = view.labels(db)
    total = performance.figures(db, current_user, period, None, filters)[0]
    tables, links, behind = {}, {}, {}
    for dim in _tables(level, filters):
        rows = performance.figures(db, current_user, period, dim, filters)
        for row in rows:
            row.label = (labels.of(dim, row.key) if row.key is not None
                         else view.t("view_unassigned" if dim == "officer" else "not_placed"))
            links[(dim, row.key)] = _links(level, dim, row.key, filters, args)
        tables[dim] = rows
        if dim in ("district", "category", "officer"):
            behind[dim] = performance.worst([r for r in rows if r.key is not None])
    measure = request.args.get("map", "open")
    measure = measure if measure in charts.MAP_MEASURES else "open"
    daily = performance.daily_received(db, current_user, period, filters)
    svgs = {"daily": charts.line_chart([(d.isoformat(), n) for d, n in daily], view.t("received_per_day"))}
    if "district" in tables:
        svgs["map"] = charts.district_map(_tiles(db, tables["district"], labels), view.t("map_title"),
                                          measure=measure, words=_map_words(measure))
    for dim in ("district", "category"):
        if dim in tables:
            svgs[dim] = charts.bar_chart([(r.label, r.open, r.overdue) for r in tables[dim][:TOP] if r.open],
                                         view.t("open_now") + " — " + view.t(dim),
                                         legend=("", view.t("overdue")))
    return {"level": level, "period": period, "previous": period.previous(), "filters": filters,
            "crumbs": _crumbs(level, filters, args, labels),
            "queue_link": url_for("dashboard.queue", **{k: v for k, v in args.items()
                                                        if k in ("district", "category")}),
            "department": filters.department, "total": total, "tables": tables, "links": links,
            "behind": behind, "svgs": svgs, "labels": labels, "measure": measure,
            "measures": charts.MAP_MEASURES, "top": TOP, "target": performance.SLA_TARGET,
            "args": args, "misrouting": misrouting.transfers_out(db, current_user, period, filters)}


def _crumbs(level: str, filters: performance.Filters, args: dict, labels: view.Labels) -> list:
    """The drill-down path (province › department › district › category), each step a link
    back to that level; empty when nothing is narrowed."""
    steps = [(view.t("whole_scope"), ("from", "to"))]
    if level == "province" and filters.department:
        steps.append((labels.of("department", filters.department), ("from", "to", "department")))
    if filters.district:
        steps.append((labels.of("district", filters.district), ("from", "to", "department", "district")))
    if filters.category:
        steps.append((labels.of("category", filters.category), ()))
    if len(steps) == 1:
        return []
    crumbs = [(text, url_for("dashboard." + level, **{k: v for k, v in args.items() if k in keep})
               if keep else None) for text, keep in steps]
    crumbs[-1] = (crumbs[-1][0], None)  # where we are
    return crumbs


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


def _map_words(measure: str) -> dict[str, str]:
    return {"open": view.t("open"), "overdue": view.t("overdue"), "received": view.t("received"),
            "satisfaction": view.t("satisfaction_rate"), "overdue_word": view.t("map_overdue_word"),
            "no_cases": view.t("map_no_cases"), "overdue_share": view.t("map_overdue_mark"),
            "fewer": view.t("map_fewer"), "more": view.t("map_more"),
            "measure": view.t("map_colour_shows") + ": " + view.t("map_" + measure)}


def _page(level: str):
    with view.rt().sessions() as db:
        context = _build(db, level)
    context["map_args"] = {k: v for k, v in request.args.items() if k in (*ARGS, "map")}
    return render_template("dashboard_stats.html", **context)


def _csv(level: str):
    dim = request.args.get("table", "district")
    if dim not in _tables(level):
        abort(Response(f"table: one of {', '.join(_tables(level))}\n", 400, mimetype="text/plain"))
    period, filters = _period(), _filters()
    with view.rt().sessions() as db:
        labels = view.labels(db)
        rows = performance.figures(db, current_user, period, dim, filters)
        body = export.to_csv(CSV_HEADER, [
            (r.key, labels.of(dim, r.key), r.received, r.open, r.overdue, r.awaiting, r.age_week,
             r.age_month, r.age_older, r.resolved, r.closed, r.reopened, r.sla_due, r.sla_met,
             _round(r.sla_rate, 3), _round(r.first_response_days), _round(r.closure_days),
             r.satisfied, r.not_satisfied, _round(r.satisfaction_rate, 3)) for r in rows])
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
