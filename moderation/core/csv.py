"""Text that spreadsheet programs open: every CSV and XLSX the server
writes (summary exports, participants, travel support, invitations).

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` is run as a
formula by Excel and LibreOffice (``=HYPERLINK(...)``, DDE commands), also
after leading spaces or line breaks, and, in some locales, with the
full-width forms of those characters; a leading tab or carriage return
hides one. Such a cell is prefixed with ``'``, which spreadsheets show as
text and do not display."""
from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
HIDING = ("\t", "\r", "\n", " ")


def neutralize(value: Any) -> Any:
    """``value`` as a cell that can only be text (numbers pass unchanged)."""
    if isinstance(value, str) and (value.startswith(("\t", "\r")) or value.lstrip("".join(HIDING)).startswith(
            FORMULA_START)):
        return "'" + value
    return value
