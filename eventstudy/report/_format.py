"""How a report is made: the document blocks and the fixed-width table layout.

This module holds the blocks a report is made of (headings, paragraphs, bullet lists, tables, figure
references) and the layout of a table in fixed-width lines (plain text and PDF).
:mod:`eventstudy.report._tables` fills the blocks from a result, formatting every cell by the rules of
:mod:`eventstudy.formatting`; the renderers in :mod:`eventstudy.report.markdown`,
:mod:`eventstudy.report.html` and :mod:`eventstudy.report.pdf` only decide how a block looks.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from eventstudy.formatting import ascii_text

__all__ = [
    "Block",
    "Bullets",
    "FigureRef",
    "FigureSpec",
    "Heading",
    "Paragraph",
    "Table",
    "TextLayout",
    "anchor_slug",
    "text_table_layout",
    "text_table_lines",
    "with_anchors",
]


# ----------------------------------------------------------------------------------------------------
# Document blocks
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    """A section heading.

    Attributes
    ----------
    text
        The heading.
    level
        1 is the title, 2 a section, 3 a part of a section, 4 a part of an appendix section.
    anchor
        Unique id of the heading within its document (``[a-z0-9-]``, starting with a letter), set by
        :func:`with_anchors` from the text or from an anchor given as a hint: the HTML ``id`` and
        table-of-contents link, the PDF bookmark key. Empty on headings made by hand.
    """

    text: str
    level: int = 2
    anchor: str = ""


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
        Unique name, also the file stem: ``aar_all``, ``heatmap_car_<start>_<end>``, and for figures about one
        event or firm-event :func:`eventstudy.formatting.figure_stem` (``car_<event>_<ticker>_<hash>``,
        ``aar_<event>_<hash>``), bounded and collision-free whatever the ids.
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


def anchor_slug(text: str) -> str:
    """A readable id for a heading: lower-case ASCII letters, digits and ``-`` (``"h"`` if nothing is left)."""
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text(text, placeholder="-").lower()).strip("-")[:60].rstrip("-")
    return slug if slug[:1].isalpha() else f"h-{slug}".rstrip("-")


def with_anchors(doc: Sequence[Block]) -> list[Block]:
    """Give every heading of a document a unique anchor (:attr:`Heading.anchor`).

    A heading's own anchor, if any, is the base (made safe by :func:`anchor_slug`), else its text; a base
    already used gets ``-2``, ``-3``, ... Applying it twice changes nothing.
    """
    used: set[str] = set()
    out: list[Block] = []
    for block in doc:
        if isinstance(block, Heading):
            base = anchor_slug(block.anchor or block.text)
            anchor, n = base, 2
            while anchor in used:
                anchor, n = f"{base}-{n}", n + 1
            used.add(anchor)
            block = replace(block, anchor=anchor)
        out.append(block)
    return out


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
        Applied to every cell first (e.g. :func:`eventstudy.formatting.ascii_text` for PDF pages).
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
