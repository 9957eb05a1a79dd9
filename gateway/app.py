"""The Flask app factory."""

from __future__ import annotations

from flask import Flask, jsonify

from gateway.runtime import Runtime


def create_app(rt: Runtime) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=rt.settings.secret_key_bytes(),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.extensions["ikhtiyar"] = rt

    from gateway.blueprints import health, simulator, track

    app.register_blueprint(health.bp)
    app.register_blueprint(track.bp)
    if rt.settings.simulator:
        app.register_blueprint(simulator.bp)

    @app.errorhandler(404)
    def _not_found(_exc):
        return jsonify(error="not found"), 404

    @app.errorhandler(413)
    def _too_large(_exc):
        return jsonify(error="request too large"), 413

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    return app


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["ikhtiyar"]
