"""Staff sign-in (sessions for people, bearer tokens for machines) and role checks.

People log in at /auth/login (Flask-Login session cookie, CSRF-protected form); scripts and
other systems send ``Authorization: Bearer <token>`` from ``ikhtiyar users token NAME``.
Passwords are argon2id (older scrypt hashes are upgraded at sign-in). Failed sign-ins go to
the audit log and are rate-limited per address and per address + user name (gateway/limits.py),
so nobody can lock another person out from elsewhere.

Every session carries its user's ``session_version``: logout, a new password or disabling the
account bumps it, and every cookie issued before stops working on its next request.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import select

from gateway.passwords import check_password, dummy_check, hash_password, needs_rehash, token_hash
from storage import audit
from storage.db import transaction
from storage.models import User, utcnow

SESSION_VERSION = "_sv"  # the session key holding the user's session_version at sign-in
# A token's last use is written at most this often: not one UPDATE per API call.
LAST_USED_PRECISION = timedelta(minutes=5)

bp = Blueprint("auth", __name__, url_prefix="/auth")
login_manager = LoginManager()
login_manager.login_view = "auth.login"
# A session cookie replayed from another browser/address is dropped, not honoured.
login_manager.session_protection = "strong"


class Staff(UserMixin):
    """The signed-in user, detached from any database session."""

    def __init__(self, user: User, via_token: bool = False) -> None:
        self.id = user.id
        self.username = user.username
        self.display_name = user.display_name or user.username
        self.role = user.role
        self.department_code = user.department_code
        self.district_code = user.district_code
        self.session_version = user.session_version
        self.via_token = via_token
        self.must_change_password = bool(user.password_change_required) and not via_token

    def get_id(self) -> str:
        return str(self.id)


def _sessions():
    return current_app.extensions["ikhtiyar"].sessions


@login_manager.user_loader
def _load(user_id: str):
    with _sessions()() as session:
        user = session.get(User, int(user_id)) if user_id.isdigit() else None
        if user is None or not user.active or session_version_of_cookie() != user.session_version:
            return None  # signed out, password changed or account disabled since
        return Staff(user)


def session_version_of_cookie() -> int | None:
    value = session.get(SESSION_VERSION)
    return value if isinstance(value, int) else None


def bearer_token(req) -> str | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    return header[len("Bearer "):].strip() or None


@login_manager.request_loader
def _load_from_token(req):
    token = bearer_token(req)
    if token is None:
        return None
    with transaction(_sessions()) as session:
        user = session.scalars(select(User).where(User.token_hash == token_hash(token))).first()
        if user is None or not user.active:
            return None
        now = utcnow()
        if user.token_expires_at is not None and user.token_expires_at <= now:
            return None
        if user.token_last_used_at is None or now - user.token_last_used_at >= LAST_USED_PRECISION:
            user.token_last_used_at = now
        return Staff(user, via_token=True)


def authenticate_by_token(req) -> bool:
    """Authenticate this request by its bearer token, if it carries a valid one; the token
    then wins over any session cookie sent with it. False when there is none or it is
    invalid (the cookie, if any, then authenticates as usual, with its CSRF check)."""
    staff = _load_from_token(req)
    if staff is None:
        return False
    g._login_user = staff  # Flask-Login's per-request user: this request is the token's
    return True


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path))


def require_roles(*roles: str):
    """Only signed-in staff with one of ``roles`` (any role when none is given)."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if getattr(current_user, "must_change_password", False):
                return redirect(url_for("auth.password", next=request.full_path))
            if roles and current_user.role not in roles:
                abort(403)
            g.staff = current_user
            return view(*args, **kwargs)

        return wrapped

    return decorate


def home_for(role: str) -> str:
    """Where a member of staff lands after signing in."""
    return "/letters/" if role == "clerk" else "/dashboard/"


def is_same_site_path(target: str | None) -> bool:
    """True for a path on this site (``/dashboard/?q=1``), false for anything a browser could
    take to another host: ``//evil``, ``/\\evil``, ``/%09/evil``, ``javascript:``...

    As Django's url_has_allowed_host_and_scheme: browsers drop tabs and line breaks from
    URLs and read a backslash as a slash, so the URL is judged after doing the same.
    """
    if not target:
        return False
    if any(ch < " " or ch == "\x7f" for ch in target):
        return False  # a control character in a redirect target is never innocent
    cleaned = target.strip()
    cleaned = cleaned.replace("\\", "/")
    if not cleaned.startswith("/") or cleaned.startswith("//"):
        return False
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc


def _safe_next(target: str | None, role: str) -> str:
    return target if is_same_site_path(target) else home_for(role)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")
        staff, error, status = _check_login(username, password)
        if staff is not None:
            session.clear()  # no session fixation: a fresh session for the signed-in user
            # Not permanent: Flask-Login's "strong" protection only drops non-permanent
            # sessions replayed from another browser. Flask still refuses a cookie older
            # than PERMANENT_SESSION_LIFETIME (it checks the signature's age either way).
            session.permanent = False
            login_user(staff)
            session[SESSION_VERSION] = staff.session_version
            return redirect(_safe_next(request.args.get("next"), staff.role))
    return render_template("login.html", error=error), status


def _check_login(username: str, password: str) -> tuple[Staff | None, str | None, int]:
    with transaction(_sessions()) as db:
        user = db.scalars(select(User).where(User.username == username)).first()
        if user is None:
            dummy_check(password)  # the same argon2 work as for a real name: no timing tell
            ok = False
        else:
            ok = check_password(password, user.password_hash) and user.active
        if not ok:
            audit.record(db, audit.LOGIN_FAILED, subject=username.lower(),
                         remote_addr=request.remote_addr)
            return None, "Wrong user name or password.", 401
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        audit.record(db, audit.LOGIN, user_id=user.id, subject=username.lower(),
                     remote_addr=request.remote_addr)
        return Staff(user), None, 200


MIN_PASSWORD = 12


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Change one's own password; required before anything else when the password was seen
    by someone else (the first administrator's, shown at set-up)."""
    if not current_user.is_authenticated or getattr(current_user, "via_token", False):
        return login_manager.unauthorized()
    error, status = None, 200
    if request.method == "POST":
        current = request.form.get("current", "")
        new, again = request.form.get("new", ""), request.form.get("again", "")
        with transaction(_sessions()) as db:
            user = db.get(User, current_user.id)
            if not check_password(current, user.password_hash):
                error, status = "The current password is wrong.", 422
            elif len(new) < MIN_PASSWORD:
                error, status = f"Use at least {MIN_PASSWORD} characters.", 422
            elif new != again:
                error, status = "The two new passwords differ.", 422
            elif new == current:
                error, status = "Choose a password different from the current one.", 422
            else:
                user.password_hash = hash_password(new)
                user.password_change_required = False
                audit.record(db, audit.PASSWORD_CHANGED, user_id=user.id, remote_addr=request.remote_addr)
        if error is None:
            return redirect(_safe_next(request.args.get("next"), current_user.role), 303)
    return render_template("password.html", error=error,
                           required=getattr(current_user, "must_change_password", False)), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated and not getattr(current_user, "via_token", False):
        with transaction(_sessions()) as db:
            # A copy of this cookie (another tab, a stolen one) must not outlive the logout.
            end_sessions(db.get(User, current_user.id))
            audit.record(db, audit.LOGOUT, user_id=current_user.id, remote_addr=request.remote_addr)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def end_sessions(user: User) -> None:
    """Every session cookie issued to ``user`` so far stops working."""
    user.session_version = (user.session_version or 0) + 1


def init_app(app) -> None:
    secure = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.config.setdefault("REMEMBER_COOKIE_SECURE", secure)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=1))
    # A working day, then sign in again: an unattended office browser does not stay open.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=12)
    if secure:
        # __Host- cookies are only accepted over HTTPS, for this host, on path /.
        app.config["SESSION_COOKIE_NAME"] = "__Host-ikhtiyar"
    login_manager.init_app(app)
    app.register_blueprint(bp)
