"""Charts drawn on the server as SVG (no JavaScript library, no CDN): they print, they work
offline, and a screen reader gets the numbers from the <title> of each mark."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _text_width(text: str, size: float) -> float:
    """Roughly how wide ``text`` draws at ``size`` px: Urdu in Naskh/Nastaliq runs wider than
    Latin letters, so a label column sized for English clipped Urdu names."""
    wide = sum(1 for ch in text if "\u0600" <= ch <= "\u06ff")
    return size * (0.58 * (len(text) - wide) + 0.72 * wide)


def _clip(text: str, size: float, room: float) -> str:
    """``text`` shortened (with an ellipsis) until it fits ``room`` px."""
    if _text_width(text, size) <= room:
        return text
    while text and _text_width(text + "…", size) > room:
        text = text[:-1]
    return text.rstrip() + "…"


# Every chart is laid out left to right in its own coordinates. Inherited from an Urdu
# (dir="rtl") page, "start" would mean the right end of each text: the title, drawn from
# x=0, fell off the left edge and labels ran into the bars. A presentation attribute (not a
# style) so that a strict style-src cannot drop it.
_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
        'direction="ltr" font-family="{font}" role="{role}" aria-label="{label}" class="{cls}"')


def _open_svg(width: float, height: float, title: str, *, role: str = "img", cls: str = "chart",
              extra: str = "") -> str:
    return _SVG.format(w=width, h=height, font=escape(_FONT), role=role, label=escape(title),
                       cls=cls) + extra + ">"


def bar_chart(rows: Sequence[tuple[str, float, float]], title: str, *, width: int = 520,
              bar: int = 18, label_width: int | None = None, legend: tuple[str, str] = ("", "")) -> str:
    """Horizontal bars: ``(label, value, highlighted part of value)`` per row, e.g. open
    cases with their overdue part drawn darker. The label column is as wide as the longest
    label needs (at most 40% of the chart); longer labels end in an ellipsis and are given
    whole in each bar's <title>."""
    rows = list(rows)
    top = 28
    height = top + max(1, len(rows)) * (bar + 6) + 8
    biggest = max((r[1] for r in rows), default=0) or 1
    if label_width is None:
        label_width = int(min(width * 0.4, max((_text_width(r[0], 12) for r in rows), default=40) + 12))
    plot = width - label_width - 50
    title_room = width - (160 if legend[1] else 0)
    parts = [_open_svg(width, height, title),
             f'<text x="0" y="16" font-size="14" font-weight="600">{escape(_clip(title, 14, title_room))}</text>']
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
            f'<text x="{label_width - 6}" y="{y + bar - 5}" font-size="12" text-anchor="end" class="label">'
            f'{escape(_clip(label, 12, label_width - 8))}</text>'
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
    parts = [_open_svg(width, height, title),
             f'<text x="0" y="16" font-size="14" font-weight="600">{escape(_clip(title, 14, width))}</text>',
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


# --- the district tile map ------------------------------------------------------------------
# Each district is one equal square, placed on a grid so that north stays up and neighbours
# stay near each other. Unlike dots on a real map, small, crowded districts (Peshawar valley)
# are as easy to read and to point at as big empty ones (Chitral), and every tile has room
# for its name and its figure.

MAP_MEASURES = ("open", "overdue", "received", "satisfaction")
_PALETTES = {  # ColorBrewer sequential schemes, light to dark: readable in grey and for most colour-blind eyes
    "open": ("#edf8f4", "#b2e2cf", "#66c2a4", "#2ca25f", "#006d2c"),
    "received": ("#edf8f4", "#b2e2cf", "#66c2a4", "#2ca25f", "#006d2c"),
    "overdue": ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"),
    "satisfaction": ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"),
}
_EMPTY = "#f1f3f4"
_MARK = "#b3261e"
_FONT = 'system-ui, "Noto Sans", "Noto Naskh Arabic", sans-serif'


@dataclass(frozen=True)
class DistrictTile:
    """One district's figures for the map; ``href`` is its queue when the viewer may open it."""

    code: str
    name: str
    lat: float | None
    lon: float | None
    received: int = 0
    open: int = 0
    overdue: int = 0
    satisfaction: float | None = None  # share of answers that were "satisfied"; None: no answers
    href: str | None = None

    @property
    def overdue_share(self) -> float | None:
        return self.overdue / self.open if self.open else None


def tile_grid(points: Mapping[str, tuple[float, float]], *, room: float = 1.6) -> dict[str, tuple[int, int]]:
    """A grid cell ``(column, row)`` for each code, row 0 the northernmost: the positions
    scaled onto a grid with ``room`` cells per district, then each district given the cell
    that keeps the total squared distance small (greedy, then improved by moves and swaps
    until none helps). The same coordinates always give the same grid."""
    return dict(_tile_grid(tuple(sorted(points.items())), room))


_APART = 0.15  # degrees: districts closer than this may swap order on the grid
_ORDER_WEIGHT = 4.0


@lru_cache(maxsize=8)
def _tile_grid(points: tuple[tuple[str, tuple[float, float]], ...], room: float) -> tuple:
    if not points:
        return ()
    codes = [code for code, _ in points]
    mean_lat = sum(lat for _, (lat, _lon) in points) / len(points)
    shrink = math.cos(math.radians(mean_lat))  # a degree of longitude is shorter than one of latitude
    xs = {code: lon * shrink for code, (_lat, lon) in points}
    ys = {code: -lat for code, (lat, _lon) in points}
    width = (max(xs.values()) - min(xs.values())) or 1.0
    height = (max(ys.values()) - min(ys.values())) or 1.0
    cells = len(codes) * room
    rows = max(1, round(math.sqrt(cells * height / width)))
    cols = max(1, math.ceil(cells / rows))
    pos = {c: ((xs[c] - min(xs.values())) / width * (cols - 1),
               (ys[c] - min(ys.values())) / height * (rows - 1)) for c in codes}

    def cost(code: str, cell: tuple[int, int]) -> float:
        return (pos[code][0] - cell[0]) ** 2 + (pos[code][1] - cell[1]) ** 2

    grid = [(i, j) for j in range(rows) for i in range(cols)]
    at: dict[str, tuple[int, int]] = {}
    taken: dict[tuple[int, int], str] = {}
    for _, code, cell in sorted((cost(c, cell), c, cell) for c in codes for cell in grid):
        if code not in at and cell not in taken:
            at[code], taken[cell] = cell, code
    coords = dict(points)

    def crossed(a: str, cell_a: tuple[int, int], b: str, cell_b: tuple[int, int]) -> int:
        """1 for each axis on which two districts clearly apart on the map swapped places."""
        (lat_a, lon_a), (lat_b, lon_b) = coords[a], coords[b]
        flips = 0
        if abs(lat_a - lat_b) > _APART and (lat_a - lat_b) * (cell_b[1] - cell_a[1]) < 0:
            flips += 1
        if abs(lon_a - lon_b) > _APART and (lon_a - lon_b) * (cell_a[0] - cell_b[0]) < 0:
            flips += 1
        return flips

    def score(moved: dict[str, tuple[int, int]]) -> float:
        """Distance of the moved districts plus a penalty for every order they break (each
        pair once): north of a neighbour stays north of it, west stays west."""
        total = sum(cost(code, cell) for code, cell in moved.items())
        seen = set()
        for code, cell in moved.items():
            seen.add(code)
            for other in codes:
                if other not in seen:
                    total += _ORDER_WEIGHT * crossed(code, cell, other, moved.get(other, at[other]))
        return total

    improved = True
    while improved:
        improved = False
        for a in codes:
            for cell in grid:
                b = taken.get(cell)
                if b == a:
                    continue
                here = at[a]
                before = score({a: here, b: cell} if b else {a: here})
                after = score({a: cell, b: here} if b else {a: cell})
                if after < before - 1e-9:
                    del taken[here]
                    if b:
                        at[b], taken[here] = here, b
                    at[a], taken[cell] = cell, a
                    improved = True
    # Drop empty outer rows and columns.
    left = min(i for i, _ in at.values())
    top = min(j for _, j in at.values())
    return tuple((code, (i - left, j - top)) for code, (i, j) in sorted(at.items()))


def _classes(measure: str, tiles: Sequence[DistrictTile]) -> list[tuple[float, float, str]]:
    """The colour classes ``(low, high, legend text)``, lightest first: shares in fifths;
    counts in quintiles of the districts' own values, so that the map tells districts apart
    whether they differ by 5 or by 5,000."""
    if measure in ("overdue", "satisfaction"):
        return [(k / 5, (k + 1) / 5, f"{k * 20}–{(k + 1) * 20}%") for k in range(5)]
    values = sorted(int(v) for t in tiles if (v := _value(measure, t)))
    highs: list[int] = []
    for k in range(1, 6):
        high = values[max(0, math.ceil(len(values) * k / 5) - 1)] if values else 0
        if values and (not highs or high > highs[-1]):
            highs.append(high)
    classes, low = [], values[0] if values else 0
    for high in highs:
        classes.append((low, high, f"{low}" if low == high else f"{low}–{high}"))
        low = high + 1
    return classes


def _value(measure: str, tile: DistrictTile) -> float | None:
    if measure == "overdue":
        return tile.overdue_share
    if measure == "satisfaction":
        return tile.satisfaction
    value = tile.received if measure == "received" else tile.open
    return value or None


def _class_of(value: float | None, classes: list[tuple[float, float, str]]) -> int | None:
    if value is None:
        return None
    for k, (_low, high, _text) in enumerate(classes):
        if value <= high + 1e-9:
            return k
    return len(classes) - 1


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def _wrap(name: str, width: int = 11, lines: int = 2) -> list[str]:
    """The name on at most two short lines (whole words where they fit)."""
    out: list[str] = []
    for word in name.split():
        if out and len(out[-1]) + 1 + len(word) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    if len(out) > lines:
        out = [*out[:lines - 1], " ".join(out[lines - 1:])]
    return [line if len(line) <= width + 1 else line[:width] + "…" for line in out]


def district_map(tiles: Sequence[DistrictTile], title: str, *, measure: str = "open",
                 words: Mapping[str, str] | None = None, tile: int = 74) -> str:
    """All districts as a tile map coloured by ``measure`` (open cases, overdue share,
    received, satisfaction rate) with a legend; for open cases a red bar along the foot of
    each tile shows the overdue share. Each tile's <title> gives all its figures and links to its queue when
    ``href`` is set. ``words`` are the interface texts (keys: open, overdue, received,
    satisfaction, overdue_word, no_cases, overdue_share, measure); English when missing."""
    if measure not in MAP_MEASURES:
        measure = "open"
    w = {"open": "Open", "overdue": "Overdue", "received": "Received", "satisfaction": "Satisfied",
         "overdue_word": "overdue",
         "no_cases": "no cases", "overdue_share": "overdue share", "measure": measure, **(words or {})}
    tiles = list(tiles)
    placed = tile_grid({t.code: (t.lat, t.lon) for t in tiles if t.lat is not None and t.lon is not None})
    # Districts without coordinates get a row of their own under the map rather than vanish.
    spare_row = max((j for _, j in placed.values()), default=-1) + 2
    for k, t in enumerate(sorted((t for t in tiles if t.code not in placed), key=lambda t: t.name)):
        placed[t.code] = (k, spare_row)
    cols = max((i for i, _ in placed.values()), default=0) + 1
    rows = max((j for _, j in placed.values()), default=0) + 1
    gap, pad, top = 4, 8, 30
    step = tile + gap
    width = max(pad * 2 + cols * step - gap, 360)
    legend_y = top + rows * step + 10
    height = legend_y + (62 if measure == "open" else 40)
    classes = _classes(measure, tiles)
    # Fewer classes than colours (few districts with cases): the darkest still means the most.
    palette = _PALETTES[measure][5 - len(classes):]
    parts = [_open_svg(width, height, title, role="group", cls="chart map",
                       extra=f' style="max-width:{width}px" data-measure="{measure}"'),
             f'<text x="{pad}" y="19" font-size="14" font-weight="600">{escape(title)}</text>']
    for t in sorted(tiles, key=lambda t: placed[t.code][::-1]):
        col, row = placed[t.code]
        x, y = pad + col * step, top + row * step
        value = _value(measure, t)
        k = _class_of(value, classes)
        fill = _EMPTY if k is None else palette[k]
        ink = "#fff" if k is not None and k + 5 - len(classes) >= 3 else "#1d2a33"
        figures = (f"{t.name}: {w['received']} {t.received} · {w['open']} {t.open} · "
                   f"{w['overdue']} {t.overdue}"
                   + (f" ({_pct(t.overdue_share)})" if t.open else "")
                   + f" · {w['satisfaction']} {_pct(t.satisfaction)}")
        if measure in ("overdue", "satisfaction"):
            shown = _pct(value) if value is not None else "—"
        else:
            shown = str(int(value or 0))
        edge = ' stroke="#9aa7ae" stroke-dasharray="3 2"' if k is None else ' stroke="#fff"'
        # The link's name starts with what the tile shows, word for word (WCAG 2.5.3: a
        # voice user says what they see), then gives all the figures.
        visible = [*_wrap(t.name), shown] + (
            [f"{t.overdue} {w['overdue_word']}"] if measure == "open" and t.overdue else [])
        tag = (f'<a href="{escape(t.href)}" aria-label="{escape(" ".join(visible))}. {escape(figures)}">'
               if t.href else "")
        g = [f'<g class="tile" data-district="{escape(t.code)}" data-open="{t.open}" '
             f'data-overdue="{t.overdue}" data-received="{t.received}">{tag}'
             f'<title>{escape(figures)}</title>',
             f'<rect x="{x}" y="{y}" width="{tile}" height="{tile}" rx="4" fill="{fill}" '
             f'{edge}/>']
        if measure == "open" and t.open:
            # The overdue share as a red bar along the bottom edge, full width = all overdue.
            share = min(1.0, t.overdue / t.open)
            g.append(f'<rect x="{x + 3}" y="{y + tile - 7}" width="{tile - 6}" height="4" rx="2" '
                     f'fill="#fff" fill-opacity="0.6"/>'
                     f'<rect x="{x + 3}" y="{y + tile - 7}" width="{(tile - 6) * share:.1f}" height="4" '
                     f'rx="2" fill="{_MARK}" class="overdue-bar"/>')
        # A space after each name line and before the overdue line: the accessibility tree
        # joins <text> elements as they are, and "Lower Chitral 3" must not read
        # "LowerChitral3" (SVG does not draw the spaces).
        for n, line in enumerate(_wrap(t.name)):
            g.append(f'<text x="{x + tile / 2}" y="{y + 14 + n * 11}" font-size="10" '
                     f'text-anchor="middle" fill="{ink}">{escape(line)} </text>')
        g.append(f'<text x="{x + tile / 2}" y="{y + 48}" font-size="19" font-weight="700" '
                 f'text-anchor="middle" fill="{ink}" class="value">{escape(shown)}</text>')
        if measure == "open" and t.overdue:
            g.append(f'<text x="{x + tile / 2}" y="{y + 61}" font-size="9.5" text-anchor="middle" '
                     f'fill="{ink}"> {t.overdue} {escape(w["overdue_word"])}</text>')
        g.append(("</a>" if t.href else "") + "</g>")
        parts.append("".join(g))
    # Legend: the colour classes, then (for open cases) what the red bar means.
    parts.append(f'<text x="{pad}" y="{legend_y + 8}" font-size="11" font-weight="600">'
                 f'{escape(w["measure"])}</text>')
    swatch_y = legend_y + 14
    x = pad
    parts.append(f'<rect x="{x}" y="{swatch_y}" width="14" height="14" rx="2" fill="{_EMPTY}" '
                 f'stroke="#9aa7ae" stroke-dasharray="3 2"/><text x="{x + 18}" y="{swatch_y + 11}" '
                 f'font-size="10.5">{escape(w["no_cases"])}</text>')
    x += 26 + _text_width(w["no_cases"], 10.5)
    # Lightest to darkest, left to right, between "fewer" and "more": the darker, the more.
    parts.append(f'<text x="{x}" y="{swatch_y + 11}" font-size="10.5" fill="#5b6b75">'
                 f'{escape(w.get("fewer", "fewer"))}</text>')
    x += 8 + _text_width(w.get("fewer", "fewer"), 10.5)
    for k, (_low, _high, text) in enumerate(classes):
        parts.append(f'<g class="legend-class" data-fill="{palette[k]}"><rect x="{x:.0f}" y="{swatch_y}" '
                     f'width="14" height="14" rx="2" fill="{palette[k]}" stroke="#c9d3d8"/>'
                     f'<text x="{x + 18:.0f}" y="{swatch_y + 11}" font-size="10.5">{escape(text)}</text></g>')
        x += 26 + _text_width(text, 10.5)
    parts.append(f'<text x="{x:.0f}" y="{swatch_y + 11}" font-size="10.5" fill="#5b6b75">'
                 f'{escape(w.get("more", "more"))}</text>')
    if measure == "open":  # on a line of its own: the classes may fill the first
        x, bar_y = pad, swatch_y + 20
        parts.append(f'<rect x="{x}" y="{bar_y + 5}" width="40" height="4" rx="2" fill="#dfe5e8"/>'
                     f'<rect x="{x}" y="{bar_y + 5}" width="20" height="4" rx="2" fill="{_MARK}"/>'
                     f'<text x="{x + 46}" y="{bar_y + 11}" font-size="10.5">'
                     f'{escape(w["overdue_share"])}</text>')
    parts.append("</svg>")
    return "".join(parts)
