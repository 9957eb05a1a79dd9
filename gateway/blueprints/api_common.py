"""What every endpoint of ``/api/v1`` shares: RFC 9457 problem details, cursors, JSON bodies,
and who is calling (a citizen's app session or a member of staff's bearer token)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from flask import Response, current_app, g, json, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from storage import app_access

PROBLEM = "application/problem+json"
MAX_LIMIT, DEFAULT_LIMIT = 100, 20


class Problem(HTTPException):
    """An error answered as ``application/problem+json`` (RFC 9457)."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 headers: dict | None = None, **extensions: object) -> None:
        super().__init__(detail or title)
        self.code = status
        self.title = title
        self.detail = detail
        self.extra_headers = headers or {}
        self.extensions = extensions

    def get_response(self, environ=None, scope=None) -> Response:
        return problem_response(self.code, self.title, self.detail, self.extra_headers, **self.extensions)


def problem_response(status: int, title: str, detail: str | None = None, headers: dict | None = None,
                     **extensions: object) -> Response:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extensions)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_http_error(exc: HTTPException) -> Response:
    """Flask's own errors (404 of a route, 405, 413) in the same format."""
    if isinstance(exc, Problem):
        return exc.get_response()
    return problem_response(exc.code or 500, exc.name, exc.description if exc.code != 404 else None)


def rt():
    return current_app.extensions["ikhtiyar"]


def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Problem(400, "Bad request", "send a JSON object (Content-Type: application/json)")
    return data


def field(data: dict, name: str, kind: type | tuple, *, required: bool = False, default=None,
          max_length: int | None = None):
    """One field of the JSON body, of the given type, or a 422 naming it."""
    value = data.get(name)
    if value is None:
        if required:
            raise Problem(422, "Invalid field", f"'{name}' is required", field=name)
        return default
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise Problem(422, "Invalid field", f"'{name}' must be a number", field=name)
    if not isinstance(value, kind):
        raise Problem(422, "Invalid field", f"'{name}' has the wrong type", field=name)
    if max_length is not None and isinstance(value, str) and len(value) > max_length:
        raise Problem(422, "Invalid field", f"'{name}' is longer than {max_length} characters", field=name)
    return value


# --- pagination ----------------------------------------------------------------------------


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def page_params() -> tuple[int | None, int]:
    """(the id to continue below, the page size) from ``cursor`` and ``limit``."""
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise Problem(400, "Bad request", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    cursor = request.args.get("cursor")
    if cursor is None:
        return None, int(raw_limit)
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith("id:") or not text[3:].isdigit() or len(text) > 24:
        raise Problem(400, "Bad request", "the cursor is not one this API gave")
    return int(text[3:]), int(raw_limit)


def page(items: list, limit: int, key) -> dict:
    """A page of at most ``limit`` items (one more was fetched to know whether more follow)."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(key(items[-1])) if more and items else None}


# --- callers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenCaller:
    citizen_id: int
    contact_id: int  # the citizen's app contact
    code_contact_id: int


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    return header[len("Bearer "):].strip() or None


def citizen() -> CitizenCaller:
    """The signed-in citizen, or 401."""
    if "api_citizen" in g:
        return g.api_citizen
    token = bearer()
    if token is None:
        raise Problem(401, "Unauthorized", "sign in: POST /api/v1/auth/code, then /api/v1/auth/verify",
                      headers={"WWW-Authenticate": 'Bearer realm="citizen"'})
    with rt().sessions() as session:
        found = app_access.find_session(session, token)
        if found is None:
            raise Problem(401, "Unauthorized", "the session has expired or was never valid",
                          headers={"WWW-Authenticate": 'Bearer realm="citizen", error="invalid_token"'})
        g.api_citizen = CitizenCaller(found.citizen_id, found.contact_id, found.code_contact_id)
    return g.api_citizen


def staff(*, act: bool = False):
    """The member of staff behind the bearer token (never a browser cookie: the API takes no
    CSRF token), or 401; 403 when they may only look and ``act`` is asked."""
    from storage import scope

    if not current_user.is_authenticated or not getattr(current_user, "via_token", False):
        raise Problem(401, "Unauthorized", "send a staff bearer token (ikhtiyar users token NAME)",
                      headers={"WWW-Authenticate": 'Bearer realm="staff"'})
    if current_user.role not in ("officer", "department_head", "admin", "viewer"):
        raise Problem(403, "Forbidden", f"a {current_user.role} has no case work")
    if act and not scope.can_act(current_user):
        raise Problem(403, "Forbidden", "a viewer may only look")
    return current_user
