"""Tracking numbers and digits as a channel shows and reads them.

A channel parses and renders its wire format and never imports ``storage`` (the contract in
pyproject.toml): the pure text functions of ``storage.tracking`` reach it from here.
"""

from storage.tracking import Found, display, find, groups, is_valid, to_latin_digits

__all__ = ["Found", "display", "find", "groups", "is_valid", "to_latin_digits"]
