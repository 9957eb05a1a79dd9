"""The Flask app factory."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, jsonify, request
from flask.sessions import SecureCookieSessionInterface

from gateway.runtime import Runtime


def create_app(rt: Runtime) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=rt.settings.secret_key_bytes(),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(rt.settings.public_url and rt.settings.public_url.startswith("https")),
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.session_interface = _CookieSessions()
    app.extensions["ikhtiyar"] = rt
    if rt.settings.trust_proxy:
        # IKHTIYAR_TRUST_PROXY: behind one reverse proxy, the client's address (for rate
        # limits) and the URL Twilio signed come from its X-Forwarded-* headers. ProxyFix
        # is WSGI middleware, so it works under waitress (`ikhtiyar web`/`serve`) and any
        # other WSGI server alike. Off by default, since any client can send them.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)

    from flask_wtf.csrf import CSRFProtect

    from gateway import auth, limits, security
    from gateway.blueprints import health, metrics, simulator, track

    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below, skipping signed machine calls
    csrf = CSRFProtect(app)
    app.extensions["csrf_exempt"] = set()

    @app.before_request
    def _csrf():
        # Forms from browsers carry a CSRF token. Bearer-token calls and provider webhooks
        # (verified by their own signatures) carry none and are not cookie-authenticated.
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if request.blueprint in app.extensions["csrf_exempt"]:
            return
        # Only a valid token is a machine call; a made-up "Bearer x" next to a session
        # cookie is a browser request like any other.
        if auth.bearer_token(request) and auth.authenticate_by_token(request):
            return
        csrf.protect()

    auth.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(track.bp)
    from gateway.blueprints import dashboard

    dashboard.init_app(app)  # officers' queue, case pages, department/province dashboards
    from gateway.blueprints import clusters, reports

    app.register_blueprint(clusters.bp)  # likely duplicates, hotspots and spike alerts
    app.register_blueprint(reports.bp)  # the weekly report's PDF
    from gateway.blueprints import twilio_webhooks

    register_machine_blueprint(app, twilio_webhooks.bp)  # verified by Twilio's signature
    from gateway.blueprints import voice

    register_machine_blueprint(app, voice.bp)  # the phone line (IVR) and its prompt audio
    from gateway.blueprints import api_letters, letters

    app.register_blueprint(letters.bp)  # clerks: session + CSRF
    app.register_blueprint(api_letters.bp)  # scanning stations: bearer token
    from gateway.blueprints import api, api_staff  # noqa: F401  (api_staff adds the staff routes)

    register_machine_blueprint(app, api.bp)  # JSON API: bearer tokens, never cookies
    from gateway.blueprints import open311

    register_machine_blueprint(app, open311.bp)  # GeoReport v2: api_key, form posts
    from gateway.blueprints import app_pwa, front

    app.register_blueprint(front.bp)  # / and the tracking search
    app.register_blueprint(app_pwa.bp)  # /app/: the citizens' installable web app
    from gateway.blueprints import email_links

    app.register_blueprint(email_links.bp)  # one-click answers from satisfaction mails (CSRF form)
    from gateway.blueprints import outbox

    app.register_blueprint(outbox.bp)  # admins: dead letters and their retry (session + CSRF, or token)
    if rt.settings.simulator_enabled:
        # JSON from the simulator page; its personas are sandboxed from real citizens. Off
        # the embedded default only staff who signed in may use it (simulator.before_request).
        register_machine_blueprint(app, simulator.bp)
    limits.init_app(app, rt.settings.redis_url)
    security.init_app(app, rt.settings)
    from gateway import bidi

    bidi.init_app(app)  # the |user, |user_attrs and |numbers filters for citizens' text
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    _compress(app)

    @app.errorhandler(404)
    def _not_found(exc):
        if request.path.startswith("/api/v1/") and not request.path.startswith("/api/v1/letters"):
            from gateway.blueprints.api_common import from_http_error

            return from_http_error(exc)  # RFC 9457, like every other error of the API
        return jsonify(error="not found"), 404

    @app.errorhandler(413)
    def _too_large(_exc):
        return jsonify(error="request too large"), 413

    return app


def _favicon():
    from flask import send_from_directory

    return send_from_directory(Path(__file__).with_name("static"), "favicon.ico",
                               mimetype="image/vnd.microsoft.icon", max_age=7 * 24 * 3600)


def _compress(app: Flask) -> None:
    """Pages, styles, scripts and JSON go compressed to a browser that accepts it (a queue
    page is ~10 times smaller gzipped, which a phone on 3G notices). Streamed responses are
    left alone: the live updates (text/event-stream) must reach the browser event by event,
    not when a compressor's buffer fills: text/event-stream is not in the list. (Static files
    are streamed responses too, so streams of the listed types are compressed.)"""
    from flask_compress import Compress

    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    app.config.setdefault("COMPRESS_MIMETYPES", [
        "text/html", "text/css", "text/javascript", "application/javascript", "application/json",
        "application/problem+json", "application/xml", "text/xml", "image/svg+xml",
        "application/manifest+json"])
    Compress(app)


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; a request without the cookie (every webhook) gets
    its empty session without building the cookie's signing serializer first."""

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def register_machine_blueprint(app: Flask, bp: Blueprint) -> None:
    """Register a blueprint whose POSTs are not browser forms (webhooks verified by their
    own signatures, JSON endpoints): no CSRF token is asked of them."""
    app.extensions["csrf_exempt"].add(bp.name)
    app.register_blueprint(bp)


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["ikhtiyar"]
