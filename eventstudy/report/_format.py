"""How report text looks: the formatting rules, the document blocks and the fixed-width table layout.

This module holds *one* implementation of each formatting rule (percent, p-values, statistics, windows,
dates), the blocks a report is made of (headings, paragraphs, bullet lists, tables, figure references)
and the layout of a table in fixed-width lines (plain text and PDF). :mod:`eventstudy.report._tables`
fills the blocks from a result; the renderers in :mod:`eventstudy.report.markdown`,
:mod:`eventstudy.report.html` and :mod:`eventstudy.report.pdf` only decide how a block looks.

The two text rules that figures need as well (:func:`~eventstudy.plots.fmt_window` and
:func:`~eventstudy.plots.ascii_text`) live in :mod:`eventstudy.plots` and are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from eventstudy.plots import ascii_text, fmt_window

__all__ = [  # the formatting rules; the document blocks; the fixed-width layout
    "Block",
    "Bullets",
    "FigureRef",
    "FigureSpec",
    "Heading",
    "Paragraph",
    "Table",
    "TextLayout",
    "ascii_text",
    "fmt_cell",
    "fmt_date",
    "fmt_int",
    "fmt_num",
    "fmt_p",
    "fmt_pct",
    "fmt_stat",
    "fmt_window",
    "group_label",
    "safe_filename",
    "stars",
    "text_table_layout",
    "text_table_lines",
]  # fmt: skip

MISSING = "n/a"
"""What a missing number is printed as."""

STAR_LEVELS: tuple[tuple[float, str], ...] = ((0.01, "***"), (0.05, "**"), (0.10, "*"))
STAR_NOTE = "sig: * p < 0.10, ** p < 0.05, *** p < 0.01 (two-sided)."


# ----------------------------------------------------------------------------------------------------
# Formatting rules (one implementation each)
# ----------------------------------------------------------------------------------------------------


def _is_missing(value: object) -> bool:
    """Whether a scalar is None, NaN, NaT or pd.NA (containers are never missing)."""
    if value is None:
        return True
    if isinstance(value, (str, bytes, list, tuple, dict, set, np.ndarray)):
        return False
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _as_float(value: object) -> float:
    """Convert to float; missing or non-numeric values give NaN."""
    if _is_missing(value):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def fmt_num(value: object, dp: int = 3) -> str:
    """Format a number with ``dp`` decimals and an ASCII minus sign.

    Parameters
    ----------
    value
        Any scalar; missing or non-finite values give ``"n/a"``.
    dp
        Number of decimals.

    Returns
    -------
    str
    """
    x = _as_float(value)
    if not math.isfinite(x):
        return MISSING
    text = f"{x:.{dp}f}"
    if text.startswith("-") and float(text) == 0.0:  # "-0.000" -> "0.000"
        text = text[1:]
    return text


def fmt_pct(value: object, dp: int = 2) -> str:
    """Format a return (a fraction) in percent, e.g. ``-0.01234 -> "-1.23%"``.

    Parameters
    ----------
    value
        A return as a fraction; missing values give ``"n/a"``.
    dp
        Decimals of the percentage.

    Returns
    -------
    str
    """
    x = _as_float(value)
    if not math.isfinite(x):
        return MISSING
    return fmt_num(100.0 * x, dp) + "%"


def fmt_stat(value: object) -> str:
    """Format a test statistic (t, z) with 3 decimals."""
    return fmt_num(value, 3)


def fmt_p(value: object) -> str:
    """Format a p-value with 4 decimals; below 0.0001 it prints as ``"<0.0001"``.

    Parameters
    ----------
    value
        A probability; missing values give ``"n/a"``.

    Returns
    -------
    str
    """
    p = _as_float(value)
    if not math.isfinite(p):
        return MISSING
    if p < 0.0001:
        return "<0.0001"
    return f"{p:.4f}"


def stars(value: object) -> str:
    """Significance stars for a two-sided p-value (a presentation layer only; p is always shown too)."""
    p = _as_float(value)
    if not math.isfinite(p):
        return ""
    for level, mark in STAR_LEVELS:
        if p < level:
            return mark
    return ""


def fmt_int(value: object) -> str:
    """Format a count; missing values give ``"n/a"``."""
    x = _as_float(value)
    if not math.isfinite(x):
        return MISSING
    return str(round(x))


def fmt_date(value: object) -> str:
    """Format a date or timestamp: ``YYYY-MM-DD`` at midnight, ISO text otherwise; missing gives ``""``."""
    if _is_missing(value):
        return ""
    if isinstance(value, (pd.Timestamp, np.datetime64, dt.date)):
        ts = pd.Timestamp(value)
        if ts.tz is None and ts == ts.normalize():
            return ts.strftime("%Y-%m-%d")
        return ts.isoformat(sep=" ")
    return str(value)


def fmt_cell(value: object) -> str:
    """Format any cell that has no column-specific rule.

    Floats get 4 significant decimals, booleans ``yes``/``no``, dates ISO text, windows ``[a, +b]``,
    missing values ``""``; newlines and tabs become spaces.
    """
    if _is_missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return fmt_num(value, 4)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
        return fmt_window(value[0], value[1])
    if isinstance(value, (pd.Timestamp, np.datetime64, dt.date)):
        return fmt_date(value)
    return re.sub(r"\s+", " ", str(value)).strip()


def group_label(group: object) -> str:
    """Human label of an aggregation group: ``"all"`` becomes ``"all events"``."""
    return "all events" if str(group) == "all" else str(group)


def safe_filename(text: object) -> str:
    """Make a file-name fragment: characters outside ``[A-Za-z0-9._-]`` (e.g. ``^``, ``=``) become ``_``."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", ascii_text(text, placeholder="_"))
    return name.strip(".") or "_"


# ----------------------------------------------------------------------------------------------------
# Document blocks
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    """A section heading; level 1 is the title."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bullet list of plain-text items."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells.

    Attributes
    ----------
    columns
        Column headers.
    rows
        Rows of strings, each of ``len(columns)``.
    align
        ``"l"`` or ``"r"`` per column (numbers right-aligned).
    caption
        Short text shown above the table (may be empty).
    notes
        Sentences shown below the table (units, reference distributions, reasons).
    wrap
        Maximum width, in characters, of each column in fixed-width renderings (0 = no limit).
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...]
    caption: str = ""
    notes: tuple[str, ...] = ()
    wrap: tuple[int, ...] = ()

    def head(self, max_rows: int | None) -> Table:
        """Keep the first ``max_rows`` rows, with a note saying how many were left out."""
        if max_rows is None or len(self.rows) <= max_rows:
            return self
        left = len(self.rows) - max_rows
        note = f"... {left} more row{'s' if left != 1 else ''} not shown."
        return Table(self.columns, self.rows[:max_rows], self.align, self.caption, (note, *self.notes), self.wrap)


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a report: what to draw and the file it is saved to.

    Attributes
    ----------
    key
        Unique name, also the file stem (``car_<event>_<ticker>``, ``aar_<group>``, ``heatmap_car_...``).
    kind
        ``"car"``, ``"aar"`` or ``"heatmap"``.
    caption
        Text shown under the figure.
    args
        Keyword arguments for the plotting function.
    """

    key: str
    kind: Literal["car", "aar", "heatmap"]
    caption: str
    args: Mapping[str, Any] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        """The PNG file name, relative to the ``figures`` folder."""
        return f"{self.key}.png"


@dataclass(frozen=True)
class FigureRef:
    """A place in the document where a figure goes."""

    spec: FigureSpec


Block = Heading | Paragraph | Bullets | Table | FigureRef


# ----------------------------------------------------------------------------------------------------
# Fixed-width tables (plain text and PDF)
# ----------------------------------------------------------------------------------------------------


def _wrap_cell(text: str, width: int) -> list[str]:
    if width <= 0 or len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


@dataclass(frozen=True)
class TextLayout:
    """A table laid out in fixed-width lines.

    Attributes
    ----------
    header
        The header line(s) followed by a rule of dashes.
    rows
        The line(s) of each row (a long cell wraps onto several lines).
    width
        The width of the widest line, in characters.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    width: int

    def lines(self) -> list[str]:
        """All lines, header first."""
        return [*self.header, *(line for row in self.rows for line in row)]


def text_table_layout(
    table: Table,
    max_width: int | None = None,
    *,
    transform: Callable[[str], str] = str,
    gap: int = 2,
) -> TextLayout:
    """Lay a table out in fixed-width lines: header, a rule, then rows (long cells wrap).

    Parameters
    ----------
    table
        The table.
    max_width
        Target line width in characters; the widest columns are wrapped more tightly (down to 8
        characters) until the table fits. ``None`` keeps each column's own wrap limit.
    transform
        Applied to every cell first (e.g. :func:`ascii_text` for PDF pages).
    gap
        Spaces between columns.

    Returns
    -------
    TextLayout
    """
    header = [transform(c) for c in table.columns]
    body = [[transform(c) for c in row] for row in table.rows]
    ncol = len(header)
    natural = [max([len(header[j])] + [len(r[j]) for r in body]) for j in range(ncol)]
    limits = list(table.wrap) + [0] * (ncol - len(table.wrap))
    widths = [min(n, lim) if lim > 0 else n for n, lim in zip(natural, limits, strict=True)]
    if max_width is not None:
        while sum(widths) + gap * (ncol - 1) > max_width:
            j = int(np.argmax(widths))
            if widths[j] <= 8:
                break
            widths[j] -= 1
    widths = [max(w, 1) for w in widths]

    def lay(cells: Sequence[str]) -> tuple[str, ...]:
        wrapped = [_wrap_cell(c, w) for c, w in zip(cells, widths, strict=True)]
        height = max(len(w) for w in wrapped)
        lines = []
        for k in range(height):
            parts = []
            for j, w in enumerate(widths):
                piece = wrapped[j][k] if k < len(wrapped[j]) else ""
                parts.append(piece.rjust(w) if table.align[j] == "r" else piece.ljust(w))
            lines.append((" " * gap).join(parts).rstrip())
        return tuple(lines)

    head = (*lay(header), (" " * gap).join("-" * w for w in widths))
    rows = tuple(lay(row) for row in body)
    return TextLayout(head, rows, sum(widths) + gap * (ncol - 1))


def text_table_lines(
    table: Table,
    max_width: int | None = None,
    *,
    transform: Callable[[str], str] = str,
) -> list[str]:
    """Return the lines of :func:`text_table_layout`, header first."""
    return text_table_layout(table, max_width, transform=transform).lines()
