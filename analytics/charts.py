"""Charts drawn on the server as SVG (no JavaScript library, no CDN): they print, they work
offline, and a screen reader gets the numbers from the <title> of each mark."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def bar_chart(rows: Sequence[tuple[str, float, float]], title: str, *, width: int = 520,
              bar: int = 18, label_width: int = 170, legend: tuple[str, str] = ("", "")) -> str:
    """Horizontal bars: ``(label, value, highlighted part of value)`` per row, e.g. open
    cases with their overdue part drawn darker."""
    rows = list(rows)
    top = 28
    height = top + max(1, len(rows)) * (bar + 6) + 8
    biggest = max((r[1] for r in rows), default=0) or 1
    plot = width - label_width - 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-label="{escape(title)}" class="chart">',
             f'<text x="0" y="16" font-size="14" font-weight="600">{escape(title)}</text>']
    if legend[1]:
        parts.append(f'<rect x="{width - 150}" y="6" width="10" height="10" fill="#b3261e"/>'
                     f'<text x="{width - 136}" y="15" font-size="11">{escape(legend[1])}</text>')
    if not rows:
        parts.append(f'<text x="0" y="{top + 14}" font-size="12" fill="#5b6b75">-</text>')
    for i, (label, value, part) in enumerate(rows):
        y = top + i * (bar + 6)
        w = plot * value / biggest
        pw = plot * min(part, value) / biggest
        parts.append(
            f'<g><title>{escape(label)}: {_fmt(value)}{f" ({_fmt(part)} {escape(legend[1])})" if part else ""}</title>'
            f'<text x="{label_width - 6}" y="{y + bar - 5}" font-size="12" text-anchor="end">'
            f'{escape(label[:28])}</text>'
            f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar}" fill="#0b6e4f" rx="2"/>'
            f'<rect x="{label_width}" y="{y}" width="{pw:.1f}" height="{bar}" fill="#b3261e" rx="2"/>'
            f'<text x="{label_width + w + 4:.1f}" y="{y + bar - 5}" font-size="12">{_fmt(value)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(points: Sequence[tuple[str, float]], title: str, *, width: int = 520,
               height: int = 160) -> str:
    """A daily series (e.g. complaints received per day) as a line with its maximum marked."""
    points = list(points)
    left, top, bottom = 30, 24, 22
    plot_w, plot_h = width - left - 10, height - top - bottom
    biggest = max((v for _, v in points), default=0) or 1
    step = plot_w / max(1, len(points) - 1)
    coords = [(left + i * step, top + plot_h - plot_h * v / biggest) for i, (_, v) in enumerate(points)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
             f'role="img" aria-label="{escape(title)}" class="chart">',
             f'<text x="0" y="16" font-size="14" font-weight="600">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#d9e1e6"/>',
             f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{_fmt(biggest)}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>']
    if points:
        parts.append(f'<polyline points="{path}" fill="none" stroke="#0b6e4f" stroke-width="2"/>')
        for (label, value), (x, y) in zip(points, coords, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#0b6e4f">'
                         f'<title>{escape(label)}: {_fmt(value)}</title></circle>')
        parts.append(f'<text x="{left}" y="{height - 6}" font-size="10">{escape(points[0][0])}</text>'
                     f'<text x="{width - 10}" y="{height - 6}" font-size="10" text-anchor="end">'
                     f'{escape(points[-1][0])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def district_map(districts: Sequence[tuple[str, float, float, int, int]], title: str, *,
                 width: int = 420, height: int = 520) -> str:
    """Districts at their headquarters' coordinates, a circle sized by open cases and
    coloured by the overdue share (green none, red all): ``(name, lat, lon, open, overdue)``."""
    placed = [d for d in districts if d[1] is not None and d[2] is not None]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
             f'role="img" aria-label="{escape(title)}" class="chart map">',
             f'<rect width="{width}" height="{height}" fill="#eef3f1" rx="8"/>',
             f'<text x="10" y="20" font-size="14" font-weight="600">{escape(title)}</text>']
    if placed:
        lats = [d[1] for d in placed]
        lons = [d[2] for d in placed]
        pad = 40
        lat_span = (max(lats) - min(lats)) or 1
        lon_span = (max(lons) - min(lons)) or 1
        scale = min((width - 2 * pad) / lon_span, (height - 2 * pad - 20) / lat_span)
        biggest = max(d[3] for d in placed) or 1
        for name, lat, lon, open_, overdue in sorted(placed, key=lambda d: -d[3]):
            x = pad + (lon - min(lons)) * scale
            y = pad + 20 + (max(lats) - lat) * scale
            r = 4 + 18 * (open_ / biggest) ** 0.5
            share = overdue / open_ if open_ else 0
            red, green = int(60 + 160 * share), int(140 - 90 * share)
            parts.append(
                f'<g><title>{escape(name)}: {open_} open, {overdue} overdue</title>'
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="rgb({red},{green},70)" '
                f'fill-opacity="0.75" stroke="#fff"/>'
                f'<text x="{x:.1f}" y="{y + r + 10:.1f}" font-size="9" text-anchor="middle">'
                f'{escape(name[:14])}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
