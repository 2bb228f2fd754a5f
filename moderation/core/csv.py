"""Text that spreadsheet programs open: every CSV and XLSX the server
writes (summary exports, participants, travel support, invitations).

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` is run as a
formula by Excel and LibreOffice (``=HYPERLINK(...)``, DDE commands), also
after leading spaces or line breaks, and, in some locales, with the
full-width forms of those characters; a leading tab or carriage return
hides one. Such a cell is prefixed with ``'``, which spreadsheets show as
text and do not display."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
HIDING = ("\t", "\r", "\n", " ")


def neutralize(value: Any) -> Any:
    """``value`` as a cell that can only be text (numbers pass unchanged)."""
    if isinstance(value, str) and (value.startswith(("\t", "\r")) or value.lstrip("".join(HIDING)).startswith(
            FORMULA_START)):
        return "'" + value
    return value


def csv_safe(value: Any) -> str:
    """A cell as text that spreadsheets cannot run as a formula: None is
    empty, and numbers are text too (so ``-1`` becomes ``'-1``)."""
    return neutralize("" if value is None else str(value))


def write_csv(rows: Iterable[Iterable[Any]], header: Iterable[str] | None = None, *,
              cell: Callable[[Any], Any] = neutralize) -> str:
    """The one way the server writes CSV: a byte order mark (Excel then
    reads UTF-8), lines ending in CRLF, the header as given, every cell
    passed through ``cell`` (``neutralize``, or ``csv_safe`` to make every
    cell text). The caller encodes it (UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return "\ufeff" + out.getvalue()
