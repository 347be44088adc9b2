"""PDF report written with matplotlib's ``PdfPages`` (no extra dependency).

Text pages (A4 landscape) are drawn with ``Figure.text``: headings and paragraphs in DejaVu Sans,
tables as fixed-width lines in DejaVu Sans Mono (both ship with matplotlib, so the output does not
depend on the fonts installed). Long tables continue on the next page with their header repeated.
Figure pages follow, one figure per page, numbered in the order of the report.

The file is byte-reproducible: ``metadata={"CreationDate": None}`` drops the only time-dependent field
(../shared/docs/ECOSYSTEM.md §7.2). Text is transliterated to ASCII (:func:`eventstudy.formatting.ascii_text`) because
the bundled fonts lack CJK glyphs; the Markdown and HTML reports keep the original text.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventstudy.formatting import ascii_text
from eventstudy.report._format import Block, Bullets, FigureRef, Heading, Paragraph, Table, text_table_layout

if TYPE_CHECKING:
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

__all__ = ["render_pdf"]

PAGE_SIZE = (11.69, 8.27)
"""A4 landscape, inches."""
MARGIN = 0.55
FOOTER = 0.45
SANS = "DejaVu Sans"
MONO = "DejaVu Sans Mono"
MONO_ADVANCE = 0.602  # DejaVu Sans Mono advance width, in em
SANS_ADVANCE = 0.62  # a conservative average for DejaVu Sans text, in em
TABLE_SIZES = (7.5, 7.0, 6.5, 6.0, 5.5, 5.0)
HEADING_SIZES = {1: 17.0, 2: 13.0, 3: 10.5}
BODY_SIZE = 8.5
NOTE_SIZE = 7.0
LEADING = 1.3

TRANSLITERATION_NOTE = (
    "Text in this PDF and in the figures is transliterated to ASCII (the bundled fonts lack CJK glyphs); "
    "report.md and report.html keep the original text."
)


def _chars_per_line(width_in: float, size_pt: float, advance: float) -> int:
    return max(10, int(width_in * 72.0 / (advance * size_pt)))


class _PageWriter:
    """Flows text lines onto A4 pages, top to bottom, with a footer on every page."""

    def __init__(self, pdf: PdfPages, title: str) -> None:
        self.pdf = pdf
        self.title = ascii_text(title)
        self.fig: Figure | None = None
        self.y = 0.0  # inches from the top of the page
        self.pages = 0
        self.width = PAGE_SIZE[0] - 2 * MARGIN
        self.bottom = PAGE_SIZE[1] - MARGIN - FOOTER

    # -- pages ---------------------------------------------------------------------------------
    def _footer(self, fig: Figure) -> None:
        fig.text(
            1 - MARGIN / PAGE_SIZE[0],
            MARGIN / PAGE_SIZE[1],
            f"{self.title} - page {self.pages}",
            ha="right",
            va="bottom",
            fontsize=7,
            family=SANS,
            color="0.4",
            parse_math=False,
            usetex=False,
        )

    def new_page(self) -> None:
        from matplotlib.figure import Figure

        self.flush()
        self.fig = Figure(figsize=PAGE_SIZE)
        self.pages += 1
        self.y = MARGIN

    def flush(self) -> None:
        if self.fig is not None:
            self._footer(self.fig)
            self.pdf.savefig(self.fig)
            self.fig = None

    def need(self, height: float) -> bool:
        """Start a new page unless ``height`` inches fit; True when a new page was started."""
        if self.fig is None or self.y + height > self.bottom:
            self.new_page()
            return True
        return False

    # -- text ------------------------------------------------------------------------------------
    def line(
        self,
        text: str,
        size: float,
        *,
        family: str = SANS,
        weight: str = "normal",
        color: str = "black",
        indent: float = 0.0,
    ) -> None:
        height = size * LEADING / 72.0
        self.need(height)
        assert self.fig is not None
        self.fig.text(
            (MARGIN + indent) / PAGE_SIZE[0],
            1 - self.y / PAGE_SIZE[1],
            text,
            ha="left",
            va="top",
            fontsize=size,
            family=family,
            weight=weight,
            color=color,
            parse_math=False,
            usetex=False,
        )
        self.y += height

    def gap(self, inches: float) -> None:
        if self.fig is not None:
            self.y += inches

    def wrapped(self, text: str, size: float, *, indent: float = 0.0, bullet: str = "", **kw: Any) -> None:
        width = _chars_per_line(self.width - indent, size, SANS_ADVANCE) - len(bullet)
        lines = textwrap.wrap(ascii_text(text), width) or [""]
        for k, piece in enumerate(lines):
            self.line((bullet if k == 0 else " " * len(bullet)) + piece, size, indent=indent, **kw)

    def heading(self, text: str, level: int) -> None:
        size = HEADING_SIZES.get(level, HEADING_SIZES[3])
        if level <= 2 and self.fig is not None and self.y > MARGIN:
            self.gap(0.12)
        self.need(size * LEADING / 72.0 + 4 * BODY_SIZE * LEADING / 72.0)  # keep it with what follows
        self.wrapped(text, size, weight="bold")
        self.gap(0.04)

    def table(self, table: Table) -> None:
        for size in TABLE_SIZES:
            capacity = _chars_per_line(self.width, size, MONO_ADVANCE)
            layout = text_table_layout(table, capacity, transform=ascii_text)
            if layout.width <= capacity:
                break
        line_h = size * LEADING / 72.0
        head_h = len(layout.header) * line_h
        first_row = len(layout.rows[0]) * line_h if layout.rows else 0.0
        if table.caption:
            self.need(BODY_SIZE * LEADING / 72.0 + head_h + first_row)
            self.wrapped(table.caption, BODY_SIZE, weight="bold")
        else:
            self.need(head_h + first_row)

        def header(continued: bool) -> None:
            if continued:
                self.line("(continued)", NOTE_SIZE, color="0.4")
            for k, text in enumerate(layout.header):
                last = k == len(layout.header) - 1
                self.line(
                    text, size, family=MONO, weight="normal" if last else "bold", color="0.4" if last else "black"
                )

        header(False)
        for row in layout.rows:
            if self.need(len(row) * line_h):
                header(True)
            for text in row:
                self.line(text, size, family=MONO)
        for note in table.notes:
            self.wrapped(note, NOTE_SIZE, color="0.3")
        self.gap(0.1)


def _figure_page(pdf: PdfPages, fig: Figure, caption: str, number: int, page: int, title: str) -> None:
    """Put one figure on an A4 landscape page with its caption and footer (the figure is resized)."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    fig.set_size_inches(PAGE_SIZE)
    engine = fig.get_layout_engine()
    top_band, bottom_band = MARGIN, MARGIN + FOOTER + 0.35
    rect = (
        MARGIN / PAGE_SIZE[0],
        bottom_band / PAGE_SIZE[1],
        1 - 2 * MARGIN / PAGE_SIZE[0],
        1 - (top_band + bottom_band) / PAGE_SIZE[1],
    )
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(rect=rect)
    fig.text(
        MARGIN / PAGE_SIZE[0],
        (MARGIN + FOOTER + 0.05) / PAGE_SIZE[1],
        f"Figure {number}. {ascii_text(caption)}",
        ha="left",
        va="bottom",
        fontsize=9,
        family=SANS,
        parse_math=False,
        usetex=False,
    )
    fig.text(
        1 - MARGIN / PAGE_SIZE[0],
        MARGIN / PAGE_SIZE[1],
        f"{ascii_text(title)} - page {page}",
        ha="right",
        va="bottom",
        fontsize=7,
        family=SANS,
        color="0.4",
        parse_math=False,
        usetex=False,
    )
    pdf.savefig(fig)


def render_pdf(
    doc: Sequence[Block],
    figures: Mapping[str, Figure],
    path: str | Path,
    title: str,
) -> Path:
    """Write report blocks as a PDF: text pages first, then one page per figure.

    Parameters
    ----------
    doc
        Blocks from :func:`eventstudy.report._tables.build_document`.
    figures
        Figure objects per figure key (``FigureSpec.key``); they are resized to the page. Figures
        without an object are listed but not drawn.
    path
        Output file.
    title
        Shown in every page footer.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from matplotlib.backends.backend_pdf import PdfPages

    out = Path(path)
    refs = [b for b in doc if isinstance(b, FigureRef) and b.spec.key in figures]
    with PdfPages(out, metadata={"CreationDate": None}) as pdf:
        writer = _PageWriter(pdf, title)
        first = True
        for block in doc:
            if isinstance(block, Heading):
                writer.heading(block.text, block.level)
                if first and block.level == 1:
                    writer.wrapped(TRANSLITERATION_NOTE, NOTE_SIZE, color="0.4")
                    writer.gap(0.1)
                first = False
            elif isinstance(block, Paragraph):
                writer.wrapped(block.text, BODY_SIZE)
                writer.gap(0.06)
            elif isinstance(block, Bullets):
                for item in block.items:
                    writer.wrapped(item, BODY_SIZE, bullet="- ", indent=0.1)
                writer.gap(0.06)
            elif isinstance(block, Table):
                writer.table(block)
        if refs:
            writer.wrapped("The figures follow, one per page:", BODY_SIZE)
            for k, ref in enumerate(refs, start=1):
                writer.wrapped(f"Figure {k}. {ref.spec.caption}", BODY_SIZE, bullet="- ", indent=0.1)
        writer.flush()
        page = writer.pages
        for k, ref in enumerate(refs, start=1):
            page += 1
            _figure_page(pdf, figures[ref.spec.key], ref.spec.caption, k, page, title)
    return out
