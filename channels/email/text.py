"""A mail's text as the engine reads it: HTML turned into text by a parser that never runs or
fetches anything, and the citizen's own words with quoted replies and signatures cut off."""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser

__all__ = ["html_to_text", "strip_reply"]


# --- HTML to text -------------------------------------------------------------------------------

_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
          "section", "article", "header", "footer", "hr", "pre"}
_SKIP = {"script", "style", "head", "title", "template", "noscript", "svg", "object", "iframe"}


class _HtmlText(HTMLParser):
    """Text of an HTML mail: no script runs, no image or link is fetched; quoted blocks
    (blockquote, Gmail's and Outlook's quote containers) come out as ``>`` lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.quote = 0
        self.stack: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        quoting = tag == "blockquote" or "gmail_quote" in (attrs.get("class") or "") \
            or attrs.get("id") in ("divRplyFwdMsg", "appendonsend")
        if tag in _SKIP:
            self.skip += 1
        if tag not in ("br", "hr", "img", "meta", "link", "input"):
            self.stack.append((tag, quoting))
            if quoting:
                self.quote += 1
        if tag in _BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIP and self.skip:
            self.skip -= 1
        while self.stack:
            name, quoting = self.stack.pop()
            if quoting:
                self.quote -= 1
            if name == tag:
                break
        if tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if self.skip:
            return
        text = re.sub(r"[ \t\r\n\f]+", " ", data)
        if self.quote and text.strip():
            self.out.append("\n> " + text.strip() + "\n")
        else:
            self.out.append(text)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    with contextlib.suppress(Exception):  # HTMLParser is lenient; what is left is dropped
        parser.feed(html[:2_000_000])
        parser.close()
    lines = [line.strip() for line in "".join(parser.out).replace("\xa0", " ").split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- quoted replies and signatures --------------------------------------------------------------

_ATTRIBUTION = re.compile(
    r"^(on\s.{0,300}\swrote:?|.{0,200}\s(wrote|schrieb|a écrit|escribió|ने लिखा):|"
    r".{0,200}نے لکھا:?|.{0,200}ولیکل:?)\s*$", re.IGNORECASE)
_OUTLOOK_HEADER = re.compile(r"^\*?(from|von|de|از|منجانب):\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\*?(sent|date|to|subject|gesendet|envoyé|cc):\*?\s", re.IGNORECASE)
_SEPARATOR = re.compile(r"^(-{2,}\s*(original message|forwarded message|reply message)\s*-{2,}|_{10,}|-{10,})\s*$",
                        re.IGNORECASE)
_SIGNATURE = re.compile(r"^(--\s*|sent from my .{1,40}|get outlook for .{1,40}|sent from (mail|yahoo|outlook).{0,40}"
                        r"|بھیجا گیا .{0,40})$", re.IGNORECASE)


def strip_reply(text: str) -> str:
    """The citizen's own words: the quoted earlier mail and the signature cut off.

    Falls back to the whole text when cutting would leave nothing.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _SEPARATOR.match(stripped) or _SIGNATURE.match(stripped):
            break
        if _OUTLOOK_HEADER.match(stripped) and any(
                _OUTLOOK_NEXT.match(n.strip()) for n in lines[i + 1:i + 4]):
            break
        if _ATTRIBUTION.match(stripped):
            break
        # Gmail wraps a long attribution over two lines: "On Mon, ... <x@y.org>\nwrote:"
        if stripped.lower().startswith("on ") and i + 1 < len(lines) \
                and lines[i + 1].strip().lower().startswith(("wrote:", "<")) \
                and _ATTRIBUTION.match(stripped + " " + lines[i + 1].strip()):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    result = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return result or text.strip()
