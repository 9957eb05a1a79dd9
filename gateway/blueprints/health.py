"""/healthz: the process is up. /readyz: the database and the queue answer; "degraded"
(still 200: webhooks are being taken) while inbound messages wait in the spool."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    rt = current_app.extensions["ikhtiyar"]
    checks = {}
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        checks["queue"] = "ok" if rt.queue.ping() else "error: worker stopped"
    except Exception as exc:
        checks["queue"] = f"error: {type(exc).__name__}"
    from gateway import spool

    waiting = spool.pending(rt.settings)
    ready = checks["database"] == "ok" and checks["queue"] == "ok"
    if waiting or checks["database"] != "ok":
        # The webhooks still take messages into the spool: keep this process in rotation.
        writable = _spool_writable(rt.settings)
        checks["spool"] = f"{waiting} bytes waiting" + ("" if writable else ", not writable")
        if writable:
            return jsonify(status="degraded", checks=checks), 200
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def _spool_writable(settings) -> bool:
    import os

    from gateway import spool

    path = spool.folder(settings)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)
