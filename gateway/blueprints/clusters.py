"""/dashboard/clusters: complaints that likely report one problem (analytics.duplicates), and
the spike alerts.

Scope is the complaints': a member of staff sees a cluster when they may see one of its
complaints, and sees only those (tracking numbers and counts, never who complained). A
cluster outside the scope is answered 404, like a case. An officer may confirm a cluster,
split complaints off it, and answer or resolve all of its complaints in their scope at once:
one lifecycle change per complaint, by the acting officer, each citizen told on their own
channel; each citizen still confirms (or rejects) the resolution of their own complaint.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conversation import casework
from gateway import jobs
from gateway.auth import require_roles
from gateway.blueprints import dashboard_view as view
from storage import clusters as store
from storage import lifecycle, scope
from storage.clusters import ClusterMember, IssueCluster, SpikeAlert
from storage.db import transaction
from storage.models import OPEN_STATES, Category, Complaint, utcnow

bp = Blueprint("clusters", __name__, url_prefix="/dashboard/clusters")
MAX_TEXT = 4000
OUTCOMES = ("relief_granted", "partial_relief", "not_possible")
BANNER_DAYS = 2  # today's and yesterday's alerts
BANNER_ROLES = ("department_head", "viewer", "admin")
# The interface texts of these pages, in the officers' two languages.
_STRINGS = {
    "clusters": ("Issue clusters", "مسائل کے گروپ"),
    "others_report": ("other citizens report this:", "دوسرے شہری بھی یہی شکایت کر رہے ہیں:"),
    "hotspots": ("Hotspots by district", "اضلاع کے لحاظ سے زیادہ شکایات والے مقامات"),
    "district": ("District", "ضلع"), "category": ("Category", "زمرہ"),
    "open_complaints": ("Open complaints", "کھلی شکایات"), "clusters_count": ("Clusters", "گروپ"),
    "status": ("Status", "حالت"), "no_clusters": ("No clusters in your scope.", "آپ کے دائرے میں کوئی گروپ نہیں۔"),
    "shared": ("Words they share", "مشترک الفاظ"), "complaint": ("Complaint", "شکایت"),
    "channel": ("Channel", "ذریعہ"), "filed": ("Filed", "درج"),
    "confirm_cluster": ("Confirm: one problem", "تصدیق: ایک ہی مسئلہ"),
    "split_cluster": ("Split off the ticked complaints", "نشان زدہ شکایات الگ کریں"),
    "reply_all": ("Reply to every citizen", "ہر شہری کو جواب"),
    "resolve_all": ("Resolve every complaint", "ہر شکایت حل کریں"),
    "resolve_all_hint": ("Each citizen is asked whether they are satisfied and answers for their own complaint.",
                         "ہر شہری سے پوچھا جائے گا کہ کیا وہ مطمئن ہے، اور وہ اپنی شکایت کا خود جواب دے گا۔"),
    "spike_alerts": ("Spike alerts", "اچانک اضافے کی اطلاعات"),
}


def ct(key: str) -> str:
    en, ur = _STRINGS.get(key, (key, key))
    return ur if view.ui_lang() == "ur" else en



@bp.context_processor
def _helpers():
    return {"t": view.t, "lang": view.ui_lang(), "prefix": view.prefix(), "staff": current_user,
            "can_act": current_user.is_authenticated and scope.can_act(current_user)}


def _visible_members(db: Session, cluster_id: int, *, for_update: bool = False) -> list[Complaint]:
    """The cluster's complaints this member of staff may see, confidential ones never
    (a cluster would tell other citizens' officers that they complained)."""
    query = scope.visible(select(Complaint), current_user).join(
        ClusterMember, ClusterMember.complaint_id == Complaint.id).where(
        ClusterMember.cluster_id == cluster_id, Complaint.confidential.is_(False)).order_by(Complaint.id)
    if for_update:
        query = query.with_for_update(of=Complaint)
    return list(db.scalars(query))


def _cluster(db: Session, cluster_id: int, *, for_update: bool = False) -> tuple[IssueCluster, list[Complaint]]:
    cluster = db.get(IssueCluster, cluster_id)
    members = _visible_members(db, cluster_id, for_update=for_update) if cluster else []
    if not members:
        abort(404)  # none of it in scope: as if it did not exist
    return cluster, members


@bp.app_context_processor
def _case_helpers():
    """For the case page's partial and the dashboards' banner (templates of other pages)."""
    return {"cluster_others": _cluster_others, "spike_banner": _spike_banner, "ct": ct}


def _cluster_others(complaint: Complaint) -> dict | None:
    """The other complaints of this one's cluster that the viewer may see."""
    if not current_user.is_authenticated or complaint is None or complaint.confidential:
        return None
    with view.rt().sessions() as db:
        cluster_id = db.scalar(select(ClusterMember.cluster_id).where(
            ClusterMember.complaint_id == complaint.id))
        if cluster_id is None:
            return None
        others = [c.tracking_number for c in _visible_members(db, cluster_id) if c.id != complaint.id]
    return {"id": cluster_id, "numbers": others} if others else None


def _spike_banner() -> list[str]:
    """Recent spike alerts for a department head (their department's categories) and the
    province's viewers and admins."""
    if not current_user.is_authenticated or current_user.role not in BANNER_ROLES:
        return []
    since = (utcnow() - timedelta(days=BANNER_DAYS)).date()
    query = select(SpikeAlert).where(SpikeAlert.day >= since).order_by(
        SpikeAlert.day.desc(), SpikeAlert.ratio.desc()).limit(5)
    if current_user.role == "department_head":
        query = query.join(Category, Category.code == SpikeAlert.category_code).where(
            Category.department_code == current_user.department_code)
    with view.rt().sessions() as db:
        return [a.explanation for a in db.scalars(query)]


@bp.get("/")
@require_roles(*view.DASHBOARD_ROLES)
def index():
    """Open clusters in scope, largest first, and districts ranked by clustered complaints."""
    with view.rt().sessions() as db:
        rows = db.execute(
            scope.visible(select(ClusterMember.cluster_id, Complaint.district_code,
                                 func.count(Complaint.id)), current_user)
            .join(ClusterMember, ClusterMember.complaint_id == Complaint.id)
            .where(Complaint.state.in_(OPEN_STATES), Complaint.confidential.is_(False))
            .group_by(ClusterMember.cluster_id, Complaint.district_code)).all()
        ids = {cid for cid, _d, _n in rows}
        found = {c.id: c for c in db.scalars(select(IssueCluster).where(IssueCluster.id.in_(ids)))} if ids else {}
        labels = view.labels(db)
        items = sorted(({"id": cid, "district": labels.of("district", district), "open": n,
                         "category": labels.of("category", found[cid].category_code),
                         "status": found[cid].status, "score": found[cid].score}
                        for cid, district, n in rows if n >= 2 and cid in found),
                       key=lambda i: (-i["open"], i["id"]))
        hotspots: dict[str, list[int]] = {}
        for item in items:
            hotspots.setdefault(item["district"], []).append(item["open"])
        ranked = sorted(((d, len(v), sum(v)) for d, v in hotspots.items()), key=lambda r: (-r[2], r[0]))
    return render_template("clusters_index.html", items=items, hotspots=ranked)


@bp.get("/<int:cluster_id>")
@require_roles(*view.DASHBOARD_ROLES)
def show(cluster_id: int):
    with view.rt().sessions() as db:
        cluster, members = _cluster(db, cluster_id)
        labels = view.labels(db)
        rows = [{"number": c.tracking_number, "channel": labels.of("channel", c.channel),
                 "state": c.state, "created_at": c.created_at, "id": c.id} for c in members]
        info = {"id": cluster.id, "status": cluster.status, "score": cluster.score,
                "district": labels.of("district", cluster.district_code),
                "category": labels.of("category", cluster.category_code),
                "shared": (cluster.reason or {}).get("shared_ngrams", [])}
    return render_template("clusters_show.html", cluster=info, rows=rows, outcomes=OUTCOMES)


def _actor() -> lifecycle.Actor:
    kind = current_user.role if current_user.role in lifecycle.STAFF else "officer"
    return lifecycle.Actor(kind, current_user.id, "dashboard")


def _text(name: str, what: str) -> str:
    value = request.form.get(name, "").strip()
    if not value:
        raise lifecycle.TransitionError(f"{what} is empty")
    if len(value) > MAX_TEXT:
        raise lifecycle.TransitionError(f"{what} is longer than {MAX_TEXT} characters")
    return value


def _act(cluster_id: int, change) -> object:
    """``change(db, cluster, members)`` in one transaction on the members in scope; then
    deliver what it queued. Viewers may look, not act (403)."""
    rt = view.rt()
    queued: list[int] = []
    try:
        with transaction(rt.sessions) as db:
            cluster, members = _cluster(db, cluster_id, for_update=True)
            view.require_act()
            result = change(db, cluster, members) or []
            db.flush()
            queued = [m.id for m in result]
    except lifecycle.TransitionError as exc:
        flash(str(exc), "error")
        return redirect(url_for("clusters.show", cluster_id=cluster_id), 303)
    for message_id in queued:
        rt.queue.enqueue(jobs.deliver, message_id)
    with rt.sessions() as db:
        left = db.get(IssueCluster, cluster_id) is not None and _visible_members(db, cluster_id)
    return redirect(url_for("clusters.show", cluster_id=cluster_id) if left else url_for("clusters.index"), 303)


@bp.post("/<int:cluster_id>/confirm")
@require_roles(*view.DASHBOARD_ROLES)
def confirm(cluster_id: int):
    def change(db, cluster, members):
        store.confirm(db, cluster, current_user.id)
        for c in members:
            lifecycle.note(db, c, _actor(), f"confirmed as one problem with {len(members) - 1} other "
                           "complaint(s) (issue cluster)", kind="cluster_confirmed")
    return _act(cluster_id, change)


@bp.post("/<int:cluster_id>/split")
@require_roles(*view.DASHBOARD_ROLES)
def split(cluster_id: int):
    def change(db, cluster, members):
        chosen = {n.strip() for n in request.form.getlist("number")}
        leaving = [c for c in members if c.tracking_number in chosen]
        if not leaving:
            raise lifecycle.TransitionError("choose the complaints that report another problem")
        store.split(db, cluster, [c.id for c in leaving], current_user.id)
        for c in leaving:
            lifecycle.note(db, c, _actor(), "taken out of an issue cluster: another problem",
                           kind="cluster_split")
    return _act(cluster_id, change)


@bp.post("/<int:cluster_id>/reply")
@require_roles(*view.DASHBOARD_ROLES)
def reply(cluster_id: int):
    def change(db, cluster, members):
        text = _text("text", "The reply")
        return [casework.message_citizen(db, c, _actor(), text, prefix=view.prefix())
                for c in members if c.state in OPEN_STATES]
    return _act(cluster_id, change)


@bp.post("/<int:cluster_id>/resolve")
@require_roles(*view.DASHBOARD_ROLES)
def resolve(cluster_id: int):
    """One resolution note for every open complaint of the cluster in scope; each citizen
    is asked whether they are satisfied and answers for their own complaint."""
    def change(db, cluster, members):
        outcome = request.form.get("outcome", "relief_granted")
        if outcome not in OUTCOMES:
            raise lifecycle.TransitionError("choose an outcome")
        text = _text("note", "The note for the citizens")
        workable = [c for c in members if c.state in ("submitted", "assigned", "in_progress",
                                                      "reopened", "awaiting_info")]
        if not workable:
            raise lifecycle.TransitionError("no complaint of this cluster is waiting for a resolution")
        return [casework.resolve(db, c, _actor(), text, outcome, prefix=view.prefix()) for c in workable]
    return _act(cluster_id, change)
