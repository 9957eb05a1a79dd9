"""Printable letters for a writer without a phone number, in the writer's language, to
print and post: the acknowledgement of their complaint, and every later message (status
updates, officers' messages, the satisfaction request) as a notice.

Urdu and Pashto are set in Noto Naskh Arabic (Debian's fonts-noto-core) with HarfBuzz
shaping (fpdf2 + uharfbuzz), so letters join and lines run right to left; the tracking
number stays a left-to-right run inside them.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.fonts import font
from conversation import catalog


@dataclass(frozen=True)
class Acknowledgement:
    tracking: str  # with its prefix: KP-1234567
    language: str  # en | ur | ps
    name: str | None
    address: str | None
    received: str  # date the letter arrived, YYYY-MM-DD
    department: str
    sla_days: int
    office: str = "Ikhtiyar Awam Ka — Khyber Pakhtunkhwa"


def render(ack: Acknowledgement) -> bytes:
    """The acknowledgement letter as PDF bytes."""
    lang = ack.language if ack.language in catalog.LANGUAGES else "en"
    title = catalog.text("letter_ack_title", lang)
    body = catalog.text("letter_ack_body", lang,
                        name=ack.name or catalog.text("letter_ack_writer", lang),
                        received=ack.received, tracking=ack.tracking,
                        department=ack.department, sla_days=ack.sla_days)
    label = "\n".join(part for part in (ack.name, ack.address) if part)
    return _letter(lang, office=ack.office, reference=f"{ack.tracking}    {ack.received}",
                   label=label, title=title, paragraphs=body.split("\n"))


@dataclass(frozen=True)
class Notice:
    """A later message to a writer without a phone number (a status update, an officer's
    message, the satisfaction request), printed and posted."""

    language: str  # en | ur | ps
    label: str  # the mailing label: name and address, one per line; may be empty
    text: str  # the message, already in the writer's language
    date: str  # YYYY-MM-DD
    title: str  # in the writer's language
    footer: str = ""  # how to answer, in the writer's language
    reference: str = ""  # the tracking number, with its prefix
    office: str = "Ikhtiyar Awam Ka — Khyber Pakhtunkhwa"


def render_notice(notice: Notice) -> bytes:
    """The notice as a PDF letter, set like the acknowledgement (same fonts and shaping)."""
    lang = notice.language if notice.language in catalog.LANGUAGES else "en"
    paragraphs = [p for p in notice.text.split("\n") if p.strip()]
    if notice.footer:
        paragraphs.append(notice.footer)
    reference = "    ".join(part for part in (notice.reference, notice.date) if part)
    return _letter(lang, office=notice.office, reference=reference, label=notice.label,
                   title=notice.title, paragraphs=paragraphs)


def _letter(lang: str, *, office: str, reference: str, label: str, title: str,
            paragraphs: list[str]) -> bytes:
    """One A4 letter: the office and reference left to right, then the label, the title
    and the body in the writer's script and direction."""
    # fpdf2 and its shaping libraries (~55 MB resident) load when the first letter is
    # written, not in every process that serves the letters pages.
    from fpdf import FPDF

    rtl = lang in ("ur", "ps")
    pdf = FPDF(format="A4")
    pdf.set_margins(22, 22, 22)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(title)
    pdf.set_creator("Ikhtiyar")
    pdf.add_font("latin", "", font("latin"))
    pdf.add_font("latin", "B", font("latin-bold"))
    pdf.add_font("arabic", "", font("arabic"))
    pdf.add_font("arabic", "B", font("arabic-bold"))
    pdf.add_page()
    family = "arabic" if rtl else "latin"
    # Latin letters and digits inside Urdu text fall back to Noto Sans.
    pdf.set_fallback_fonts(["latin"] if rtl else ["arabic"])
    if rtl:
        pdf.set_text_shaping(use_shaping_engine=True, direction="rtl", script="arab",
                             language="urd" if lang == "ur" else "pus")
    else:
        pdf.set_text_shaping(use_shaping_engine=True)
    align = "R" if rtl else "L"

    pdf.set_font("latin", "B", 11)
    pdf.set_text_shaping(use_shaping_engine=True, direction="ltr")
    pdf.cell(0, 7, office, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("latin", "", 10)
    pdf.cell(0, 6, reference, new_x="LMARGIN", new_y="NEXT", align="L")
    if label:
        pdf.ln(4)
        pdf.set_font(family, "", 11)
        if rtl:
            pdf.set_text_shaping(use_shaping_engine=True, direction="rtl", script="arab")
        pdf.multi_cell(0, 7, label, align=align, new_x="LMARGIN", new_y="NEXT")
    if rtl:
        pdf.set_text_shaping(use_shaping_engine=True, direction="rtl", script="arab",
                             language="urd" if lang == "ur" else "pus")
    pdf.ln(8)
    pdf.set_font(family, "B", 16)
    pdf.multi_cell(0, 12, title, align=align, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, "", 13)
    for paragraph in paragraphs:
        pdf.multi_cell(0, 10 if rtl else 7.5, paragraph, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    return bytes(pdf.output())
