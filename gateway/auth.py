"""Staff sign-in (sessions for people, bearer tokens for machines) and role checks.

People log in at /auth/login (Flask-Login session cookie, CSRF-protected form); scripts and
other systems send ``Authorization: Bearer <token>`` from ``ikhtiyar users token NAME``.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import select

from gateway.passwords import check_password, token_hash
from storage.models import User

bp = Blueprint("auth", __name__, url_prefix="/auth")
login_manager = LoginManager()
login_manager.login_view = "auth.login"


class Staff(UserMixin):
    """The signed-in user, detached from any database session."""

    def __init__(self, user: User, via_token: bool = False) -> None:
        self.id = user.id
        self.username = user.username
        self.display_name = user.display_name or user.username
        self.role = user.role
        self.department_code = user.department_code
        self.district_code = user.district_code
        self.via_token = via_token

    def get_id(self) -> str:
        return str(self.id)


def _sessions():
    return current_app.extensions["ikhtiyar"].sessions


@login_manager.user_loader
def _load(user_id: str):
    with _sessions()() as session:
        user = session.get(User, int(user_id)) if user_id.isdigit() else None
        return Staff(user) if user is not None and user.active else None


@login_manager.request_loader
def _load_from_token(req):
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    if not token:
        return None
    with _sessions()() as session:
        user = session.scalars(select(User).where(User.token_hash == token_hash(token))).first()
        return Staff(user, via_token=True) if user is not None and user.active else None


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
            if roles and current_user.role not in roles:
                abort(403)
            g.staff = current_user
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect a login to another host.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        with _sessions()() as session:
            user = session.scalars(select(User).where(User.username == username)).first()
            ok = user is not None and user.active and check_password(password, user.password_hash)
            staff = Staff(user) if ok else None
        if staff is not None:
            login_user(staff)
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong user name or password."
    return render_template("login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def init_app(app) -> None:
    login_manager.init_app(app)
    app.register_blueprint(bp)
