"""The urgency sweep: open complaints never assessed, or sent back by their citizen since,
are assessed by analytics/urgency.py (and the tone of the latest not-satisfied reason by
analytics/tone.py); the result is stored for the queue and the case page.

Runs with the scheduler's rounds (and `ikhtiyar serve`'s sweeper): a complaint is ranked
within one round of being filed, whatever channel it came by, without touching the
webhook's or the turn's path.
"""

from __future__ import annotations

import logging

from gateway import jobs
from storage import urgency as stored
from storage.db import transaction

log = logging.getLogger("ikhtiyar.urgency")
BATCH = 200


def assess_pending(limit: int = BATCH) -> int:
    """Assess up to ``limit`` complaints; returns how many were assessed."""
    from analytics import tone, urgency  # scikit-learn: loaded where it is used, not at start

    rt = jobs.runtime()
    with rt.sessions() as session:
        todo = stored.pending(session, limit)
    if not todo:
        return 0
    model = urgency.model()
    with transaction(rt.sessions) as session:
        for complaint_id, text, reopened, reason in todo:
            found = model.assess(text, reopened)
            said = tone.assess(reason) if reason else None
            stored.record(session, complaint_id, urgent=found.urgent, score=found.score,
                          words=found.words, signals=found.signals, reasons=found.reasons,
                          reopened=reopened, model_version=found.model,
                          tone=("upset" if said.upset else "calm") if said else None,
                          tone_words=said.words if said else ())
    log.info("urgency: %d complaints assessed", len(todo))
    return len(todo)
