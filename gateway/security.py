"""Security headers on every response.

- HTML pages get a Content-Security-Policy whose scripts must come from this site or carry
  the page's nonce (templates write ``nonce="{{ csp_nonce() }}"``); no inline script or
  event handler runs, so an injected ``<script>`` or ``onerror=`` does nothing.
- Pages and API answers full of personal data (/dashboard, /letters, /api) are never cached
  (``Cache-Control: no-store``): not by the browser, not by a proxy.
- HSTS when the public URL is https; no framing anywhere; no referrer to other sites.
"""

from __future__ import annotations

import secrets

from flask import Flask, g, request

PRIVATE_PREFIXES = ("/dashboard", "/letters", "/api/", "/auth/", "/simulator")
HSTS = "max-age=31536000; includeSubDomains"


def csp_nonce() -> str:
    """This request's script nonce (made on first use)."""
    nonce = getattr(g, "csp_nonce", None)
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def policy(nonce: str) -> str:
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        # Styles: the pages' own <style> blocks and style attributes (no script runs from CSS).
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def init_app(app: Flask, settings) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    https = bool(settings.public_url and settings.public_url.startswith("https://"))

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", policy(csp_nonce()))
        if https:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if request.path.startswith(PRIVATE_PREFIXES) or request.path in ("/api", "/dashboard", "/letters"):
            headers["Cache-Control"] = "no-store"
            headers.setdefault("Pragma", "no-cache")
        return response
