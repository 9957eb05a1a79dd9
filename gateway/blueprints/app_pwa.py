"""``/app/``: the citizens' installable web app (web app manifest, service worker, icons).

The shell is one small page and one script (``gateway/static/app/app.js``) that use only
the JSON API (``/api/v1``). Icons are drawn with Pillow when first asked for, so no binary
is kept in the repository. Nothing comes from a CDN."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, json, render_template, url_for
from PIL import Image, ImageDraw

from conversation import app_intake, catalog
from gateway.blueprints.front import RTL, page_language

STATIC = Path(__file__).resolve().parent.parent / "static" / "app"
bp = Blueprint("app_pwa", __name__, url_prefix="/app")
BRAND = "#0b6e4f"
ICON_SIZES = (192, 512)


def _strings(lang: str) -> dict[str, str]:
    return app_intake.app_texts(lang, ("ui_", "label_", "next_", "event_")) | {
        f"status_{s}": catalog.text(f"status_{s}", lang)
        for s in ("submitted", "assigned", "in_progress", "awaiting_info", "resolved", "reopened", "closed")}


@bp.get("/")
def shell():
    lang = page_language()
    settings = current_app.extensions["ikhtiyar"].settings
    config = {"lang": lang, "strings": _strings(lang), "simulator": settings.simulator_enabled,
              "prefix": settings.tracking_prefix}
    response = current_app.make_response(render_template(
        "app.html", lang=lang, rtl=lang in RTL, config=json.dumps(config),
        title=app_intake.app_text("site_title", lang)))
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept-Language"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    lang = page_language()
    data = {
        "name": app_intake.app_text("site_title", lang), "short_name": "Ikhtiyar",
        "description": app_intake.app_text("site_tagline", lang),
        "start_url": url_for("app_pwa.shell"), "scope": url_for("app_pwa.shell"), "id": "/app/",
        "display": "standalone", "orientation": "portrait", "lang": lang,
        "dir": "rtl" if lang in RTL else "ltr",
        "background_color": "#f5f7f8", "theme_color": BRAND,
        "icons": [{"src": url_for("app_pwa.icon", size=size), "sizes": f"{size}x{size}",
                   "type": "image/png", "purpose": "any maskable"} for size in ICON_SIZES],
    }
    return Response(json.dumps(data), mimetype="application/manifest+json",
                    headers={"Cache-Control": "public, max-age=3600"})


@bp.get("/sw.js")
def service_worker():
    # Served from /app/ so that its scope is the app; never cached by the browser's HTTP
    # cache, so a new version is picked up at the next visit.
    return Response((STATIC / "sw.js").read_bytes(), mimetype="text/javascript",
                    headers={"Cache-Control": "no-cache"})


@bp.get("/app.js")
def script():
    return Response((STATIC / "app.js").read_bytes(), mimetype="text/javascript",
                    headers={"Cache-Control": "no-cache"})


@bp.get("/icon-<int:size>.png")
def icon(size: int):
    if size not in ICON_SIZES:
        return Response("no such icon", status=404, mimetype="text/plain")
    return Response(_icon(size), mimetype="image/png", headers={"Cache-Control": "public, max-age=86400"})


@lru_cache(maxsize=len(ICON_SIZES))
def _icon(size: int) -> bytes:
    """A white tick in a speech bubble on the brand colour; full-bleed, so it is maskable."""
    image = Image.new("RGB", (size, size), BRAND)
    draw = ImageDraw.Draw(image)
    s = size / 192
    draw.rounded_rectangle((40 * s, 44 * s, 152 * s, 128 * s), radius=18 * s, fill="white")
    draw.polygon([(70 * s, 124 * s), (96 * s, 124 * s), (66 * s, 152 * s)], fill="white")
    draw.line([(70 * s, 88 * s), (90 * s, 108 * s), (124 * s, 66 * s)], fill=BRAND, width=int(12 * s))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
