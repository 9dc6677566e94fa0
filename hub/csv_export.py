"""CSV files for spreadsheet programs, with no cell a spreadsheet would run as a formula.

A cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)`` sends the sheet's data away, DDE
runs programs). Every CSV the hub exports is written by :func:`csv_text`, which prefixes such
a cell with ``'``: the spreadsheet shows it as text, and the reader still sees the value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """The cell as text that no spreadsheet evaluates (``None`` is an empty cell)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> str:
    """The whole file: UTF-8 with a BOM (so spreadsheet programs read Kazakh letters), every
    cell through :func:`neutralise`."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([neutralise(c) for c in header])
    for row in rows:
        w.writerow([neutralise(c) for c in row])
    return "\ufeff" + out.getvalue()
