"""Text that citizens wrote, shown on staff pages in the right language and direction.

Urdu and Pashto need the page to know the text's language (``lang``), or the browser picks a
Latin font with Arabic fallback glyphs and the Nastaliq letter joining breaks; they need
``dir`` so a line that starts with a number or a Latin word is still laid out right to left;
and numbers inside them (phone numbers, tracking numbers, CNICs) are isolated, since in a
right-to-left paragraph "0300 1234567" otherwise comes out as "1234567 0300".

Templates use three filters, registered by ``init_app``:

- ``{{ text|user }}``: inline, ``<bdi lang=".." dir="auto">…</bdi>``;
- ``<div {{ text|user_attrs }}>{{ text|numbers }}</div>``: for a block that holds the text
  (a ``dir="auto"`` block finds its direction from its own letters, not from a nested bdi);
- ``{{ text|numbers }}``: escaped, with every run of digits isolated left to right.

The language is the stored one (a message's or a complaint's) when it is written in the
script of that language, else guessed from the letters (conversation.language.classify).
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from conversation import language

# A number as people write it: digits (Latin, Arabic-Indic, Urdu), perhaps with the spaces,
# dashes, dots, slashes and masking dots that phone numbers, CNICs and dates carry inside.
_DIGIT = r"[0-9\u0660-\u0669\u06F0-\u06F9]"
_NUMBER = re.compile(rf"\+?{_DIGIT}(?:[ \-./•*()]?(?:{_DIGIT}|[•*]))*")
_RTL = ("ur", "ps")
# BCP 47: Roman Urdu is Urdu in Latin letters.
_TAGS = {"ur": "ur", "ps": "ps", "en": "en", "ur-rm": "ur-Latn"}


def lang_of(text: str | None, stored: str | None = None) -> str | None:
    """The BCP 47 tag of ``text`` or None when it has no letters to tell."""
    if not text:
        return None
    guessed = language.classify(str(text))
    if guessed is None:
        return None
    if stored in _RTL and guessed in _RTL:
        return stored  # the conversation knows Urdu from Pashto better than one message does
    return _TAGS.get(guessed)


def numbers(text: str | None) -> Markup:
    """``text`` escaped, every number isolated as a left-to-right run."""
    if text is None:
        return Markup("")
    out, at = [], 0
    source = str(text)
    for match in _NUMBER.finditer(source):
        if sum(ch.isdigit() for ch in match.group()) < 2:
            continue  # one digit has no order to lose
        out.append(escape(source[at:match.start()]))
        out.append(Markup('<bdi dir="ltr">{}</bdi>').format(match.group()))
        at = match.end()
    out.append(escape(source[at:]))
    return Markup("").join(out)


def user_attrs(text: str | None, stored: str | None = None) -> Markup:
    """``lang`` and ``dir="auto"`` attributes for the element that holds ``text``."""
    tag = lang_of(text, stored)
    if tag is None:
        return Markup('dir="auto"')
    return Markup('lang="{}" dir="auto"').format(tag)


def user(text: str | None, stored: str | None = None) -> Markup:
    """Inline user text: isolated from what surrounds it, in its own language and direction."""
    if text is None or text == "":
        return Markup("")
    return Markup("<bdi {}>{}</bdi>").format(user_attrs(text, stored), numbers(text))


def init_app(app) -> None:
    app.jinja_env.filters.update(user=user, user_attrs=user_attrs, numbers=numbers)
