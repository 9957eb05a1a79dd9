"""Analytics jobs: every new complaint offered to duplicate clustering (whatever filed it:
a chat turn, a mail, a clerk's letter, the API, Open311), and the daily spike alerts.

A complaint is noticed when the session that inserted it commits (``watch``): its id is
collected on flush and a ``cluster_complaint`` job is queued after the commit, so the job
never sees an uncommitted row and no channel's code has to remember to ask for it.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction
from storage.models import Complaint

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
    """Score ``day`` (today, Pakistan time) for spikes; store the alerts and mail new ones to
    the staff who subscribed. Returns the ids of the day's alerts."""
    from analytics import spikes
    from gateway import jobs

    rt = jobs.runtime()
    day = day or spikes.today()
    with transaction(rt.sessions) as session:
        alerts = spikes.detect_spikes(session, day)
        ids = [a.id for a in alerts]
    if ids:
        log.info("spike alerts for %s: %s", day, ids)
    return ids
