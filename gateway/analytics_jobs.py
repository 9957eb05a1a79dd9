"""Analytics jobs: every new complaint offered to duplicate clustering (whatever filed it:
a chat turn, a mail, a clerk's letter, the API, Open311), and the daily spike alerts.

A complaint is noticed when the session that inserted it commits (``watch``): its id is
collected on flush and a ``cluster_complaint`` job is queued after the commit, so the job
never sees an uncommitted row and no channel's code has to remember to ask for it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from storage import clusters
from storage.clusters import StaffSubscription
from storage.db import transaction
from storage.messages import contact_for, queue_outbound
from storage.models import Category, Complaint, Message, User

log = logging.getLogger("ikhtiyar.analytics")
_NEW = "ikhtiyar_new_complaints"


def watch(rt) -> None:
    """Queue clustering for each complaint the runtime's sessions insert (after commit)."""
    sessions: sessionmaker = rt.sessions

    @event.listens_for(sessions, "after_flush")
    def _collect(session: Session, _context) -> None:
        # Still the flush's "new" list here, and the rows have their ids.
        ids = [o.id for o in session.new if isinstance(o, Complaint) and not o.confidential]
        if ids:
            session.info.setdefault(_NEW, []).extend(ids)

    @event.listens_for(sessions, "after_commit")
    def _queue(session: Session) -> None:
        ids = session.info.pop(_NEW, [])
        queue = getattr(rt, "queue", None)
        if queue is None:  # a command with no job queue files no complaints
            return
        for complaint_id in ids:
            queue.enqueue(cluster_complaint, complaint_id)

    @event.listens_for(sessions, "after_soft_rollback")
    def _forget(session: Session, previous) -> None:
        if previous.parent is None:  # the whole transaction, not a savepoint of it
            session.info.pop(_NEW, None)


def cluster_complaint(complaint_id: int) -> int | None:
    """Offer one complaint to clustering; the id of the cluster it joined, if any. Safe to
    run twice (a complaint already in a cluster stays where it is)."""
    from analytics import duplicates  # numpy and scikit-learn: only in the process that clusters
    from gateway import jobs

    rt = jobs.runtime()
    with transaction(rt.sessions) as session:
        complaint = session.get(Complaint, complaint_id)
        if complaint is None:
            return None
        cluster = duplicates.assign_to_cluster(session, complaint)
        return cluster.id if cluster is not None else None


def daily_spikes(day: date | None = None) -> list[int]:
    """Score ``day`` (today, Pakistan time) for spikes, store the alerts, and mail each new
    one once to the staff who subscribed and whose scope it is in. Returns the day's alerts."""
    from analytics import spikes
    from gateway import jobs

    rt = jobs.runtime()
    day = day or spikes.today()
    with transaction(rt.sessions) as session:
        alerts = spikes.detect_spikes(session, day)
        ids = [a.id for a in alerts]
        mails: list[Message] = []
        for alert in alerts:
            if alert.notified_at is None:
                mails += _mail_alert(session, rt, alert)
                clusters.mark_notified(alert)
        session.flush()
        queued = [m.id for m in mails]
    for message_id in queued:
        rt.queue.enqueue(jobs.deliver, message_id)
    if ids:
        log.info("spike alerts for %s: %s", day, ids)
    return ids


def subscribers(session: Session, department_code: str | None, what: str) -> list[StaffSubscription]:
    """Active staff subscribed to ``what`` (spike_alerts, weekly_report) who may see the
    department's figures: its head, and the province's viewers and admins. With no
    department (the province's report) only the province's."""
    rows = session.execute(select(StaffSubscription, User).join(User, User.id == StaffSubscription.user_id)
                           .where(getattr(StaffSubscription, what).is_(True), User.active.is_(True)))
    return [sub for sub, user in rows
            if user.role in ("viewer", "admin")
            or (department_code and user.role == "department_head" and user.department_code == department_code)]


def mail_staff(session: Session, sub: StaffSubscription, subject: str, text: str, kind: str) -> Message:
    """A mail to a member of staff, through the outbox like any reply (retries, dead letters)."""
    contact = contact_for(session, "email", sub.email)
    return queue_outbound(session, contact, text, kind=kind, language="en",
                          extras={"key": kind, "email": {"subject": subject}})


def _mail_alert(session: Session, rt, alert) -> list[Message]:
    from gateway.runtime import site_url

    department = session.scalar(select(Category.department_code).where(Category.code == alert.category_code))
    link = f"{site_url(rt.settings).rstrip('/')}/dashboard/clusters/"
    text = (f"Spike alert for {alert.day.isoformat()}:\n{alert.explanation}\n\n"
            f"{alert.count} complaints today against a usual {alert.baseline:g} on this weekday "
            f"(median of the same weekday over the last weeks). Clusters and hotspots: {link}")
    return [mail_staff(session, sub, f"Spike alert: {alert.explanation}", text, "staff_spike_alert")
            for sub in subscribers(session, department, "spike_alerts")]


WEEKLY = "staff_weekly_report"


def weekly_reports(today: date | None = None) -> int:
    """Mail last week's report (its figures, and the link to its PDF) to each subscribed
    department head (their department) and province viewer or admin (the province), once
    a week: a subscriber already mailed since this Monday is skipped. Returns mails queued."""
    from analytics import report, spikes
    from gateway import jobs
    from gateway.runtime import site_url

    rt = jobs.runtime()
    today = today or spikes.today()
    period = report.last_week(today)
    monday = datetime.combine(period.end + timedelta(days=1), time(), spikes.LOCAL)
    base = site_url(rt.settings).rstrip("/")
    mails: list[Message] = []
    with transaction(rt.sessions) as session:
        built: dict[str | None, str] = {}
        rows = session.execute(select(StaffSubscription, User).join(User, User.id == StaffSubscription.user_id)
                               .where(StaffSubscription.weekly_report.is_(True), User.active.is_(True),
                                      User.role.in_(("department_head", "viewer", "admin"))))
        for sub, user in rows:
            contact = contact_for(session, "email", sub.email)
            if session.scalar(select(Message.id).where(Message.contact_id == contact.id, Message.kind == WEEKLY,
                                                       Message.created_at >= monday).limit(1)):
                continue
            department = user.department_code if user.role == "department_head" else None
            if department not in built:
                built[department] = report.summary(report.build(session, period, department))
            link = (f"{base}/dashboard/reports/weekly.pdf?from={period.start.isoformat()}"
                    f"&to={period.end.isoformat()}")
            text = f"{built[department]}\n\nThe report (PDF, sign in first): {link}"
            subject = f"Weekly report {period.start.isoformat()} – {period.end.isoformat()}"
            mails.append(mail_staff(session, sub, subject, text, WEEKLY))
            session.flush()  # the next subscriber's check sees this one
        queued = [m.id for m in mails]
    for message_id in queued:
        rt.queue.enqueue(jobs.deliver, message_id)
    return len(queued)
