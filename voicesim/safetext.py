"""Make user-supplied text safe to store and print: no control characters, no undecodable bytes.

Text reaches voicesim from argv, scenario files and hand-edited session.json files.
A terminal must not receive escape sequences, NUL or line breaks that tear a table
apart, and a JSON file must not receive bytes that are not UTF-8.

>>> printable("sam\\x1b[31m\\nred")
'sam[31m red'
>>> from_argv("sam\\udcff")
'sam\\ufffd'
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 and C1 control characters apart from tab and newline (those become spaces)."""
_BREAKS = re.compile(r"[\t\n]+")


def from_argv(text: str) -> str:
    """A command-line value with undecodable bytes (kept by Python as lone surrogates) as U+FFFD."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte (e.g. from a JSON escape)
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def printable(text: str) -> str:
    """`text` on one terminal line: control characters dropped, line breaks and tabs as one space."""
    clean = _CONTROL.sub("", from_argv(text).replace("\r", "\n"))
    return _BREAKS.sub(" ", clean)


def has_control(text: str) -> bool:
    """Does `text` hold control characters other than tab and newline (escape codes, NUL)?"""
    return bool(_CONTROL.search(text))
