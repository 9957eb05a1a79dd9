"""The weekly report (analytics.report) as a PDF, in English or Urdu.

Urdu is set in Noto Naskh Arabic (Debian's fonts-noto-core) with HarfBuzz shaping (fpdf2 +
uharfbuzz): letters join and the page runs right to left, its tables mirrored. Figures and
dates are set left to right in Noto Sans wherever they stand, so they read (and copy) as
written. The chart, complaints received per day, is drawn with the PDF's own rectangles.
"""

from __future__ import annotations

import re

from fpdf import FPDF

from analytics.performance import Period
from analytics.report import Report, build
from config.fonts import font

_ARABIC = re.compile("[\u0600-\u06ff]")
LABELS = {
    "title": ("Weekly report", "ہفتہ وار رپورٹ"),
    "province": ("Province", "صوبہ"),
    "period": ("Period", "مدت"), "previous": ("Previous period", "پچھلی مدت"),
    "figure": ("Figure", "اعداد"), "this": ("This period", "یہ مدت"), "change": ("Change", "تبدیلی"),
    "received": ("Received", "موصول"), "open": ("Open now", "اس وقت زیر التوا"), "overdue": ("Overdue now", "اس وقت تاخیر شدہ"),
    "closed": ("Closed (citizen confirmed)", "بند (شہری کی تصدیق)"),
    "sla": ("SLA compliance", "مقررہ وقت کی پابندی"), "satisfaction": ("Satisfaction", "اطمینان"),
    "proxy": ("Confirmed by proxy", "نمائندے کے ذریعے تصدیق"),
    "backlog": ("Backlog by age (days)", "زیر التوا شکایات کی عمر (دن)"),
    "chart": ("Complaints received per day", "روزانہ موصول شکایات"),
    "clusters": ("Top issue clusters", "سب سے بڑے مسائل کے گروپ"),
    "complaints": ("Complaints", "شکایات"), "district": ("District", "ضلع"), "category": ("Category", "زمرہ"),
    "spikes": ("Spike alerts", "اچانک اضافے"), "none": ("None", "کوئی نہیں"),
    "worst_districts": ("Districts with the most overdue complaints", "سب سے زیادہ تاخیر والے اضلاع"),
    "worst_officers": ("Officers with the most overdue complaints", "سب سے زیادہ تاخیر والے افسران"),
    "name": ("Name", "نام"),
    "new": ("new", "نیا"),
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


class _Page:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.rtl = lang == "ur"
        pdf = FPDF(format="A4")
        pdf.set_margins(16, 16, 16)
        pdf.set_auto_page_break(True, margin=16)
        pdf.set_creator("Ikhtiyar")
        pdf.add_font("latin", "", font("latin"))
        pdf.add_font("latin", "B", font("latin-bold"))
        pdf.add_font("arabic", "", font("arabic"))
        pdf.add_font("arabic", "B", font("arabic-bold"))
        pdf.set_fallback_fonts(["latin"] if self.rtl else ["arabic"])
        pdf.add_page()
        self.pdf = pdf

    def l(self, key: str) -> str:  # noqa: E743 (a label)
        en, ur = LABELS[key]
        return ur if self.rtl else en

    def _font(self, text: str, style: str, size: float) -> None:
        """Arabic-script text right to left in Naskh; figures, dates and Latin left to right."""
        arabic = bool(_ARABIC.search(text))
        self.pdf.set_font("arabic" if arabic else "latin", style, size)
        if arabic:
            self.pdf.set_text_shaping(use_shaping_engine=True, direction="rtl", script="arab", language="urd")
        else:
            self.pdf.set_text_shaping(use_shaping_engine=True, direction="ltr")

    def heading(self, text: str, size: float = 13) -> None:
        self.pdf.ln(3)
        self._font(text, "B", size)
        self.pdf.cell(0, 9, text, align="R" if self.rtl else "L", new_x="LMARGIN", new_y="NEXT")

    def line(self, text: str, size: float = 10) -> None:
        self._font(text, "", size)
        self.pdf.multi_cell(0, 7, text, align="R" if self.rtl else "L", new_x="LMARGIN", new_y="NEXT")

    def row(self, cells: list[str], widths: list[float], bold: bool = False) -> None:
        """One table row; mirrored (first column on the right) in Urdu."""
        pdf = self.pdf
        if pdf.will_page_break(8):
            pdf.add_page()
        order = list(zip(cells, widths, strict=True))
        if self.rtl:
            order.reverse()
        y = pdf.get_y()
        x = pdf.l_margin + (pdf.epw - sum(widths) if self.rtl else 0)
        for i, (text, width) in enumerate(order):
            first = (i == len(order) - 1) if self.rtl else (i == 0)
            self._font(text, "B" if bold else "", 9.5)
            align = ("R" if self.rtl else "L") if first else "C"
            pdf.set_xy(x, y)
            pdf.cell(width, 8, text, border="B", align=align)
            x += width
        pdf.set_xy(pdf.l_margin, y + 8)

    def chart(self, daily: list[tuple]) -> None:
        pdf = self.pdf
        height, top_pad = 40.0, 6.0
        if pdf.will_page_break(height + 20):
            pdf.add_page()
        peak = max([n for _d, n in daily] + [1])
        n = len(daily)
        gap = 2.0
        width = min(18.0, (pdf.epw - gap * n) / max(n, 1))
        x0 = pdf.l_margin + (pdf.epw - n * (width + gap)) / 2
        base = pdf.get_y() + top_pad + height
        pdf.set_fill_color(46, 125, 100)
        for i, (day, count) in enumerate(reversed(daily) if self.rtl else daily):
            bar = height * count / peak
            x = x0 + i * (width + gap)
            if bar > 0:
                pdf.rect(x, base - bar, width, bar, style="F")
            self._font(str(count), "", 8)
            pdf.set_xy(x, base - bar - 5)
            pdf.cell(width, 5, str(count), align="C")
            pdf.set_xy(x, base + 1)
            pdf.cell(width, 5, day.strftime("%d.%m"), align="C")
        pdf.set_draw_color(120, 120, 120)
        pdf.line(x0, base, x0 + n * (width + gap), base)
        pdf.set_xy(pdf.l_margin, base + 8)


def render(report: Report, lang: str = "en") -> bytes:
    page = _Page(lang)
    pdf, p = page.pdf, report.period
    pdf.set_title(f"{LABELS['title'][0]} {report.title} {p.start.isoformat()} {p.end.isoformat()}")
    page.heading(f"{page.l('title')} — {report.title}", 16)
    page.row([page.l("period"), f"{p.start.isoformat()} – {p.end.isoformat()}"], [60, 120])
    page.row([page.l("previous"), f"{report.previous.start.isoformat()} – {report.previous.end.isoformat()}"],
             [60, 120])
    now, before = report.now, report.before
    widths = [70, 36, 36, 36]
    page.heading(page.l("figure"))
    page.row([page.l("figure"), page.l("this"), page.l("previous"), page.l("change")], widths, bold=True)
    for key, a, b in (("received", now.received, before.received), ("closed", now.closed, before.closed)):
        change = Report.change(a, b)
        page.row([page.l(key), str(a), str(b), page.l("new") if change == "new" else change], widths)
    # The backlog is as of now (tests/dashboard/test_dashboard_figures.py): no earlier figure.
    for key, value in (("open", now.open), ("overdue", now.overdue)):
        page.row([page.l(key), str(value), "", ""], widths)
    page.row([page.l("sla"), _pct(report.sla_compliance), _pct(report.sla_compliance_before), ""], widths)
    page.row([page.l("satisfaction"), _pct(now.satisfaction_rate), _pct(before.satisfaction_rate), ""], widths)
    page.row([page.l("proxy"), str(report.proxy_confirmations), "", ""], widths)
    page.heading(page.l("backlog"))
    page.row(list(report.backlog), [40] * len(report.backlog), bold=True)
    page.row([str(v) for v in report.backlog.values()], [40] * len(report.backlog))
    page.heading(page.l("chart"))
    page.chart(report.daily)
    page.heading(page.l("clusters"))
    if report.clusters:
        cw = [20, 50, 80, 28]
        page.row(["#", page.l("district"), page.l("category"), page.l("complaints")], cw, bold=True)
        for c in report.clusters:
            page.row([str(c["id"]), c["district"], c["category"], str(c["complaints"])], cw)
    else:
        page.line(page.l("none"))
    page.heading(page.l("spikes"))
    for text in report.spikes or [page.l("none")]:
        page.line(text)
    for key, rows in (("worst_districts", report.worst_districts), ("worst_officers", report.worst_officers)):
        page.heading(page.l(key))
        if not rows:
            page.line(page.l("none"))
            continue
        ww = [80, 40, 40]
        page.row([page.l("name"), page.l("received"), page.l("overdue")], ww, bold=True)
        for r in rows:
            page.row([r["name"], str(r["received"]), str(r["overdue"])], ww)
    return bytes(pdf.output())


def build_pdf(session, period: Period, department: str | None = None, lang: str = "en") -> bytes:
    """The report of ``period`` for a department (None: the province) as PDF bytes."""
    return render(build(session, period, department, lang=lang), lang)
