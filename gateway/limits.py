"""Rate limits (Flask-Limiter): counters on Redis when IKHTIYAR_REDIS_URL is set, so every
web process shares them; in memory otherwise (the embedded default is one process).

- Signing in: failed attempts are counted per address and per address + user name, in
  stacked windows (a minute, an hour, a day), so the wait grows with the guessing and never
  becomes a lock: the real officer at another address is never kept out.
- ``/track``: per address; a citizen checking a few numbers never meets it, a client
  guessing hundreds a minute does.
- Letter uploads (page and API): per signed-in clerk, counted in files, not requests
  (IKHTIYAR_LETTER_UPLOADS_PER_TEN_MINUTES): a runaway script or a stolen session cannot fill
  the disk and the OCR queue. A batch that would pass the limit is refused whole, unstored.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests

# Failed sign-ins from one address (any user names: password spraying).
LOGIN_PER_ADDRESS = "20 per minute; 100 per hour; 300 per day"
# Failed sign-ins from one address for one user name: 5 a minute, then 10 an hour, then 20 a day.
LOGIN_PER_ADDRESS_AND_NAME = "5 per minute; 10 per hour; 20 per day"
TRACK_PER_ADDRESS = "30 per minute; 300 per hour"


def _address_and_name() -> str:
    name = request.form.get("username", "").strip().lower()[:64]
    return f"{get_remote_address()}|{name}"


UPLOAD_ENDPOINTS = ("letters.upload", "api_letters.create")


def _clerk() -> str:
    return f"user:{current_user.get_id()}"


def _not_signed_in() -> bool:
    return not current_user.is_authenticated  # refused by the view itself, never counted


def _files() -> int:
    """Each file of an upload spends one (a batch of 20 is 20 uploads)."""
    return max(1, sum(1 for name in request.files for f in request.files.getlist(name) if f))


def _failed(response) -> bool:
    # Only failed sign-ins count (a success redirects): an office behind one address where
    # everybody signs in each morning never meets the limit.
    return response.status_code != 302


def init_app(app: Flask, redis_url: str | None) -> Limiter:
    """Limit the sign-in form and the public tracking page of ``app``."""
    limiter = Limiter(get_remote_address, app=app, storage_uri=redis_url or "memory://",
                      strategy="moving-window", headers_enabled=True, key_prefix="ikhtiyar-limits")
    _limit(app, limiter, "auth.login", LOGIN_PER_ADDRESS, methods=["POST"], deduct_when=_failed,
           scope="login-address")
    _limit(app, limiter, "auth.login", LOGIN_PER_ADDRESS_AND_NAME, methods=["POST"],
           deduct_when=_failed, key_func=_address_and_name, scope="login-name")
    _limit(app, limiter, "track.track", TRACK_PER_ADDRESS, scope="track")
    uploads = app.extensions["ikhtiyar"].settings.letter_uploads_per_ten_minutes
    # One budget for both ways in (a shared limit): the page and the API count together.
    shared = limiter.shared_limit(f"{uploads} per 10 minutes", scope="letter-uploads", key_func=_clerk,
                                  cost=_files, exempt_when=_not_signed_in)
    for endpoint in UPLOAD_ENDPOINTS:
        app.view_functions[endpoint] = shared(app.view_functions[endpoint])
    limited = frozenset(("auth.login", "track.track", *UPLOAD_ENDPOINTS))

    @limiter.request_filter
    def _unlimited() -> bool:
        # Only the routes above have limits. Flask-Limiter would still resolve every other
        # request's limits (none) one by one: a tenth of a webhook's time in the app.
        return request.endpoint not in limited

    @app.errorhandler(429)
    def _too_many(exc: TooManyRequests):
        retry = (exc.response.headers.get("Retry-After") if exc.response is not None else None)
        if request.endpoint in UPLOAD_ENDPOINTS:
            uploads = app.extensions["ikhtiyar"].settings.letter_uploads_per_ten_minutes
            error = (f"Too many letter files uploaded from this account: at most {uploads} in ten "
                     "minutes. Nothing from this upload was stored; wait a few minutes and send it again.")
            response = jsonify(error=error)
            response.status_code = 429
            if retry:
                response.headers["Retry-After"] = retry
            return response
        if request.endpoint == "auth.login":
            body = render_template("login.html", error="Too many failed sign-ins from this address. "
                                   "Wait a little and try again.")
        else:
            body = "Too many requests: wait a minute and try again.\n"
        headers = {"Retry-After": retry} if retry else {}
        if request.endpoint != "auth.login":
            headers["Content-Type"] = "text/plain; charset=utf-8"
        return body, 429, headers

    return limiter


def _limit(app: Flask, limiter: Limiter, endpoint: str, value: str, **options) -> None:
    app.view_functions[endpoint] = limiter.limit(value, **options)(app.view_functions[endpoint])
