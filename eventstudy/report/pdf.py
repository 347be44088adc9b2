"""Typeset PDF report: ReportLab pages with the figures as vector graphics.

Layout: A4 landscape; the title and the opening blocks on the first page; from the second page on a running
header with the study's title; the page number in every footer. Every :class:`Heading` is a bookmark and an
entry of the PDF outline, nested by its level (title 0, section 1, ...). Paragraphs and bullet lists flow in
proportional type; a :class:`Table` is a real table: columns sized to their content, long text wrapped inside
its cell at spaces, the header row repeated on every page the table runs over, numbers right-aligned, caption
above and notes below. A word (an event id) is never split unless it is wider than its column on its own;
then it breaks after an ``_`` (and only if it has none, anywhere).

Fonts: DejaVu Sans, the TrueType family that ships with matplotlib (embedded as subsets), so the output does
not depend on the fonts installed and covers Latin, Greek and mathematical signs; runs of CJK characters are
set in ReportLab's built-in ``STSong-Light`` (Adobe-GB1, simplified and traditional Chinese, kana; a standard
CID font that PDF viewers supply, so it is not embedded); any other character DejaVu Sans lacks is
transliterated (:func:`eventstudy.formatting.ascii_text`).

Figures: each :class:`FigureRef` reserves a box on the page; the figure's own one-page vector PDF
(:func:`eventstudy.plots.figure_pdf`, the file ``figures/<key>.pdf``) is then placed into that box with pypdf,
scaled, so the figure keeps its vector paths and fonts and is drawn only once.

Reproducible: ReportLab's invariant mode fixes the creation date and the document id, and nothing else
depends on the clock, so the same blocks give the same bytes.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from eventstudy.formatting import ascii_text
from eventstudy.report._format import Block, Bullets, FigureRef, Heading, Paragraph, Table

__all__ = ["render_pdf"]

PAGE_SIZE = (841.89, 595.28)
"""A4 landscape, in points."""
MARGIN = 36.0
RUNNING = 14.0
"""Height of the running header and of the footer, in points."""
SANS, BOLD, ITALIC, BOLD_ITALIC = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique"
CJK = "STSong-Light"
HEADING_SIZES = {1: 18.0, 2: 14.0, 3: 11.5, 4: 10.0}
BODY_SIZE = 9.0
NOTE_SIZE = 7.5
TABLE_SIZES = (8.0, 7.5, 7.0, 6.5, 6.0)
"""Table type sizes, tried in turn until the table's longest words fit the page width."""
CELL_PAD = 3.0
SHORTEST_SLACK = 0.15
"""A table is set in the largest type whose estimated height is within this share of its shortest setting."""
FIGURE_MAX_SCALE = 1.25
"""A figure is drawn at most this much larger than its own size (it shrinks as needed to fit the page)."""
ZEBRA = "#f2f4f7"


def _frame() -> tuple[float, float]:
    """Width and height of the text frame, in points."""
    return PAGE_SIZE[0] - 2 * MARGIN, PAGE_SIZE[1] - 2 * MARGIN - 2 * RUNNING


# ----------------------------------------------------------------------------------------------------
# Fonts and text
# ----------------------------------------------------------------------------------------------------


@functools.cache
def _covered() -> frozenset[int]:
    """Register the fonts (once per process) and return the code points DejaVu Sans has glyphs for."""
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for name, file in (
        (SANS, "DejaVuSans.ttf"),
        (BOLD, "DejaVuSans-Bold.ttf"),
        (ITALIC, "DejaVuSans-Oblique.ttf"),
        (BOLD_ITALIC, "DejaVuSans-BoldOblique.ttf"),
    ):
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=BOLD, italic=ITALIC, boldItalic=BOLD_ITALIC)
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    return frozenset(pdfmetrics.getFont(SANS).face.charToGlyph)


def _is_cjk(ch: str) -> bool:
    """CJK radicals, symbols, kana, bopomofo, ideographs (with extension A), compatibility and fullwidth forms."""
    cp = ord(ch)
    return 0x2E80 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0xFE30 <= cp <= 0xFE4F or 0xFF00 <= cp <= 0xFFEF


def _segments(text: str) -> list[tuple[str, bool]]:
    """Split text into runs set in DejaVu Sans (False) or in the CJK font (True); other characters transliterated."""
    covered = _covered()
    runs: list[tuple[str, bool]] = []
    for ch in text:
        if ord(ch) in covered:
            piece, cjk = ch, False
        elif _is_cjk(ch):
            piece, cjk = ch, True
        else:
            piece, cjk = ascii_text(ch) or " ", False
        if runs and runs[-1][1] == cjk:
            runs[-1] = (runs[-1][0] + piece, cjk)
        else:
            runs.append((piece, cjk))
    return runs


def _markup(text: str) -> str:
    """Paragraph markup of plain text: XML-escaped, CJK runs in their font."""
    if text.isascii():
        return escape(text)
    return "".join(f'<font name="{CJK}">{escape(s)}</font>' if cjk else escape(s) for s, cjk in _segments(text))


def _plain(text: str) -> str:
    """Text for the canvas in DejaVu Sans only (outline titles keep the original; this is for drawString)."""
    return text if text.isascii() else "".join(s if not cjk else ascii_text(s) for s, cjk in _segments(text))


@functools.lru_cache(maxsize=65536)
def _width(text: str, font: str) -> float:
    """Width of text at 1 pt (a CJK character is one em wide)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if text.isascii():
        return float(stringWidth(text, font, 1.0))
    return sum(float(len(s)) if cjk else float(stringWidth(s, font, 1.0)) for s, cjk in _segments(text))


# ----------------------------------------------------------------------------------------------------
# Styles
# ----------------------------------------------------------------------------------------------------


@functools.cache
def _style(name: str, size: float, *, bold: bool = False, align: str = "l", color: str = "#000000") -> Any:
    """A paragraph style (cached: styles are immutable once built)."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.enums import TA_LEFT, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    return ParagraphStyle(
        name,
        fontName=BOLD if bold else SANS,
        fontSize=size,
        leading=round(size * 1.25, 2),
        alignment=TA_RIGHT if align == "r" else TA_LEFT,
        textColor=HexColor(color),
    )


def _heading_style(level: int) -> Any:
    from reportlab.lib.styles import ParagraphStyle

    size = HEADING_SIZES.get(level, HEADING_SIZES[4])
    base = _style(f"h{level}", size, bold=True, color="#1a2a44" if level <= 2 else "#000000")
    return ParagraphStyle(
        f"heading{level}",
        parent=base,
        spaceBefore=size * (0.9 if level <= 2 else 0.6),
        spaceAfter=size * 0.35,
        keepWithNext=1,
    )


# ----------------------------------------------------------------------------------------------------
# Flowables
# ----------------------------------------------------------------------------------------------------


def _heading(text: str, level: int, key: str) -> Any:
    """A heading paragraph that adds its bookmark and outline entry where it is drawn."""
    from reportlab.platypus import Paragraph as RLParagraph

    class _Heading(RLParagraph):
        def draw(self) -> None:
            super().draw()
            _, top = self.canv.absolutePosition(0, self.height)
            self.canv.bookmarkHorizontalAbsolute(key, top + 4)
            self.canv.addOutlineEntry(text, key, level=level, closed=level >= 2)

    return _Heading(_markup(text), _heading_style(level + 1))


@dataclass(frozen=True)
class _Placement:
    """Where a figure box was drawn: page index and lower-left corner and size, in points."""

    page: int
    x: float
    y: float
    width: float
    height: float
    key: str


def _figure_box(key: str, width: float, height: float, placed: list[_Placement]) -> Any:
    """An empty box of the figure's size that records where it lands, for :func:`_place_figures`."""
    from reportlab.platypus import Flowable

    class _Box(Flowable):
        def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
            return width, height

        def draw(self) -> None:
            x, y = self.canv.absolutePosition(0, 0)
            placed.append(_Placement(self.canv.getPageNumber() - 1, x, y, width, height, key))

    box = _Box()
    box.hAlign = "CENTER"
    return box


def _figure_size(data: bytes) -> tuple[float, float]:
    """Width and height of the first page of a one-page PDF, in points."""
    from pypdf import PdfReader

    box = PdfReader(io.BytesIO(data)).pages[0].mediabox
    return float(box.width), float(box.height)


def _place_figures(base: bytes, placed: Sequence[_Placement], figures: Mapping[str, bytes]) -> bytes:
    """Draw each figure's vector page into its box, keeping the outline and everything else (pypdf).

    Each figure page becomes a form XObject (its content stream and resources, copied as they are) that the
    page draws scaled into the box: ``q s 0 0 s x y cm /Fig Do Q`` appended to the page's content. Nothing
    is parsed or rewritten, so the cost does not grow with a figure's detail.
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, ContentStream, DictionaryObject, FloatObject, NameObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base)))
    for k, spot in enumerate(placed, start=1):
        page = PdfReader(io.BytesIO(figures[spot.key])).pages[0]
        streams = page.raw_get("/Contents")
        first = streams[0] if isinstance(streams.get_object(), ArrayObject) else streams
        form_ref = first.clone(writer)
        form = form_ref.get_object()
        if isinstance(streams.get_object(), ArrayObject):
            form.set_data(b"\n".join(s.get_object().get_data() for s in streams.get_object()))
        box = [float(v) for v in page.mediabox]
        form[NameObject("/Type")] = NameObject("/XObject")
        form[NameObject("/Subtype")] = NameObject("/Form")
        form[NameObject("/BBox")] = ArrayObject(FloatObject(v) for v in box)
        form[NameObject("/Resources")] = page.raw_get("/Resources").clone(writer)
        target = writer.pages[spot.page]
        resources: Any = target["/Resources"].get_object()
        if "/XObject" not in resources:
            resources[NameObject("/XObject")] = DictionaryObject()
        name = f"/EventstudyFigure{k}"
        resources["/XObject"].get_object()[NameObject(name)] = form_ref
        scale = spot.width / (box[2] - box[0])
        tx, ty = spot.x - scale * box[0], spot.y - scale * box[1]
        contents: Any = target["/Contents"].get_object()
        parts = contents if isinstance(contents, ArrayObject) else [contents]
        data = b"\n".join(part.get_object().get_data() for part in parts)
        stream = ContentStream(None, writer)
        stream.set_data(data + f"\nq {scale:.6f} 0 0 {scale:.6f} {tx:.4f} {ty:.4f} cm {name} Do Q\n".encode("ascii"))
        target.replace_contents(stream)
        target.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# ----------------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------------


def _break_at_underscores(word: str, width: float, font: str, size: float) -> str:
    """Markup of a word too wide for ``width``: lines broken after ``_`` (greedy), at most ``width`` if possible."""
    parts = re.split(r"(?<=_)", word)
    lines: list[str] = []
    current = ""
    for part in parts:
        if current and _width(current + part, font) * size > width:
            lines.append(current)
            current = part
        else:
            current += part
    lines.append(current)
    return "<br/>".join(_markup(line) for line in lines)


def _column_widths(cells: list[list[str]], fonts: list[str], avail: float) -> tuple[float, np.ndarray, bool]:
    """Type size, column widths (points) and whether words may break at ``_``, for a table to fit ``avail``.

    At each size of :data:`TABLE_SIZES` at which every column can hold its longest word, the columns get
    their natural width when the table fits, else their longest word plus a share of the room left
    (:func:`_water_fill`: short columns in full, long text shares the rest). Of these sizes the largest is
    taken whose table is at most :data:`SHORTEST_SLACK` taller than the shortest one (estimated from the
    lines each cell wraps to), so a wide table gets a smaller type rather than a column of one word per line.
    If no size fits the longest words, the smallest size is used and words break after ``_`` (the longest
    ``_``-piece must fit; failing that, the columns shrink in proportion and ReportLab splits the word).
    """
    ncol = len(cells[0])
    full = np.zeros((len(cells), ncol))
    longest = np.zeros(ncol)
    piece = np.zeros(ncol)
    for i, (row, font) in enumerate(zip(cells, fonts, strict=True)):
        for j, text in enumerate(row):
            full[i, j] = _width(text, font)
            words = text.split()
            if words:
                widths = [_width(w, font) for w in words]
                longest[j] = max(longest[j], max(widths))
                if max(widths) > piece[j]:
                    piece[j] = max(max(_width(p, font) for p in re.split(r"(?<=_)", w)) for w in words)
    natural = full.max(axis=0)
    fitting = [s for s in TABLE_SIZES if longest.sum() * s + 2 * CELL_PAD * ncol <= avail]
    if not fitting:
        return TABLE_SIZES[-1], _layout(TABLE_SIZES[-1], natural, piece, avail), True
    layouts = {size: _layout(size, natural, longest, avail) for size in fitting}
    heights = {size: _table_height(full, widths, size) for size, widths in layouts.items()}
    shortest = min(heights.values())
    size = next(s for s in fitting if heights[s] <= (1 + SHORTEST_SLACK) * shortest)
    return size, layouts[size], False


def _layout(size: float, natural: np.ndarray, longest: np.ndarray, avail: float) -> np.ndarray:
    """Column widths at one type size (see :func:`_column_widths`)."""
    nat = natural * size + 2 * CELL_PAD
    low = longest * size + 2 * CELL_PAD
    if nat.sum() <= avail:
        return nat
    if low.sum() > avail:
        return low * (avail / low.sum())
    return low + _water_fill(nat - low, avail - low.sum())


def _table_height(full: np.ndarray, widths: np.ndarray, size: float) -> float:
    """Estimated height of a table: each row as tall as its cell that wraps to the most lines."""
    inner = np.maximum(widths - 2 * CELL_PAD, 1e-6)
    lines = np.maximum(1.0, np.ceil(full * size / inner - 1e-9))
    return float((lines.max(axis=1) * size * 1.25).sum())


def _water_fill(need: np.ndarray, room: float) -> np.ndarray:
    """Share ``room`` among columns wanting ``need`` more: the most modest needs are met in full, the rest split evenly.

    So a short column (a number, a date, a distribution name) keeps its line and only the columns of long
    text wrap, sharing what is left equally (max-min fair allocation).
    """
    give = np.zeros_like(need)
    left = room
    order = np.argsort(need, kind="stable")
    for k, j in enumerate(order):
        share = left / (len(order) - k)
        give[j] = min(need[j], share)
        left -= give[j]
    return give


def _table(table: Table) -> list[Any]:
    """A table with its caption above and notes below."""
    from reportlab.lib.colors import HexColor, black, white
    from reportlab.platypus import Paragraph as RLParagraph
    from reportlab.platypus import Table as RLTable
    from reportlab.platypus import TableStyle

    avail, _ = _frame()
    cells = [list(table.columns), *(list(r) for r in table.rows)]
    fonts = [BOLD] + [SANS] * len(table.rows)
    size, widths, breaking = _column_widths(cells, fonts, avail)
    inner = widths - 2 * CELL_PAD
    data: list[list[Any]] = []
    for i, (row, font) in enumerate(zip(cells, fonts, strict=True)):
        out: list[Any] = []
        for j, text in enumerate(row):
            full = _width(text, font) * size
            if full <= inner[j] + 0.01 and text.isascii():
                out.append(text)
                continue
            markup = _markup(text)
            if breaking:
                markup = " ".join(
                    _break_at_underscores(w, inner[j], font, size) if _width(w, font) * size > inner[j] else _markup(w)
                    for w in text.split()
                )
            align = table.align[j] if j < len(table.align) else "l"
            out.append(RLParagraph(markup, _style(f"cell{size}", size, bold=i == 0, align=align)))
        data.append(out)
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), SANS, size, size * 1.25),
        ("FONT", (0, 0), (-1, 0), BOLD, size, size * 1.25),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
        ("TOPPADDING", (0, 0), (-1, -1), 1.6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6),
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, black),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, black),
        ("LINEBELOW", (0, -1), (-1, -1), 0.8, black),
    ]
    if len(data) > 2:
        style.append(("ROWBACKGROUNDS", (0, 1), (-1, -1), [white, HexColor(ZEBRA)]))
    style += [("ALIGN", (j, 0), (j, -1), "RIGHT") for j, a in enumerate(table.align) if a == "r"]
    grid = RLTable(data, colWidths=[float(w) for w in widths], repeatRows=1, hAlign="LEFT", style=TableStyle(style))
    flow: list[Any] = []
    if table.caption:
        flow.append(RLParagraph(_markup(table.caption), _keep(_style("caption", BODY_SIZE, bold=True))))
    flow.append(grid)
    flow += [RLParagraph(_markup(n), _style("note", NOTE_SIZE, color="#444444")) for n in table.notes]
    return flow


def _keep(style: Any) -> Any:
    from reportlab.lib.styles import ParagraphStyle

    return ParagraphStyle(f"{style.name}-keep", parent=style, keepWithNext=1, spaceBefore=4, spaceAfter=2)


# ----------------------------------------------------------------------------------------------------
# The document
# ----------------------------------------------------------------------------------------------------


def _anchor_keys(doc: Sequence[Block]) -> list[str]:
    """A unique bookmark key per heading: its anchor when set, else ``h<k>``."""
    keys: list[str] = []
    seen: set[str] = set()
    for k, block in enumerate(b for b in doc if isinstance(b, Heading)):
        key = getattr(block, "anchor", "") or f"h{k}"
        while key in seen:
            key = f"{key}-{k}"
        seen.add(key)
        keys.append(key)
    return keys


def _story(doc: Sequence[Block], figures: Mapping[str, bytes], placed: list[_Placement]) -> list[Any]:
    """The flowables of every block, in order."""
    from reportlab.platypus import KeepTogether, Spacer
    from reportlab.platypus import Paragraph as RLParagraph

    width, height = _frame()
    keys = iter(_anchor_keys(doc))
    body = _style("body", BODY_SIZE)
    story: list[Any] = []
    level = -1
    number = 0
    for block in doc:
        if isinstance(block, Heading):
            level = min(max(block.level - 1, 0), level + 1)  # the outline cannot skip a level
            story.append(_heading(block.text, level, next(keys)))
        elif isinstance(block, Paragraph):
            story.append(RLParagraph(_markup(block.text), body))
            story.append(Spacer(1, 3))
        elif isinstance(block, Bullets):
            from reportlab.lib.styles import ParagraphStyle

            item = ParagraphStyle("bullet", parent=body, leftIndent=12, bulletIndent=2)
            story += [RLParagraph(_markup(text), item, bulletText="\u2022") for text in block.items]
            story.append(Spacer(1, 3))
        elif isinstance(block, Table):
            story += _table(block)
            story.append(Spacer(1, 8))
        elif isinstance(block, FigureRef):
            number += 1
            caption = RLParagraph(_markup(f"Figure {number}. {block.spec.caption}"), _style("figcap", BODY_SIZE))
            data = figures.get(block.spec.key)
            if data is None:
                story.append(caption)
                continue
            fig_w, fig_h = _figure_size(data)
            scale = min(FIGURE_MAX_SCALE, width / fig_w, (height - 3 * BODY_SIZE) / fig_h)
            box = _figure_box(block.spec.key, fig_w * scale, fig_h * scale, placed)
            story.append(KeepTogether([Spacer(1, 4), box, Spacer(1, 3), caption, Spacer(1, 8)]))
        else:  # the block set is closed (report/_format.py); a new kind must be rendered here
            raise TypeError(f"no PDF rendering for block {type(block).__name__}")
    return story


def render_pdf(doc: Sequence[Block], figures: Mapping[str, bytes], path: str | Path, title: str) -> Path:
    """Typeset report blocks as a PDF file.

    Parameters
    ----------
    doc
        Blocks from :func:`eventstudy.report._tables.build_document`.
    figures
        The one-page vector PDF of each figure (:func:`eventstudy.plots.figure_pdf`) by figure key
        (``FigureSpec.key``); a :class:`FigureRef` without one gets its caption only.
    path
        Output file.
    title
        The study's title, in the running header of every page after the first and in the document info.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        For a block of a kind this renderer does not know (a programming error: the block set is closed).
    """
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate
    from reportlab.platypus import Paragraph as RLParagraph

    _covered()
    placed: list[_Placement] = []
    story = _story(doc, figures, placed)
    width, height = _frame()
    header = RLParagraph(_markup(title), _style("running", NOTE_SIZE, color="#555555"))

    def decorate(canvas: Any, document: Any) -> None:
        canvas.saveState()
        if document.page == 1:
            canvas.showOutline()  # open the viewer's bookmarks panel
        else:
            _, h = header.wrap(width, RUNNING)
            header.drawOn(canvas, MARGIN, PAGE_SIZE[1] - MARGIN - h)
            canvas.setStrokeGray(0.7)
            canvas.setLineWidth(0.4)
            canvas.line(
                MARGIN, PAGE_SIZE[1] - MARGIN - RUNNING + 2, PAGE_SIZE[0] - MARGIN, PAGE_SIZE[1] - MARGIN - RUNNING + 2
            )
        canvas.setFont(SANS, NOTE_SIZE)
        canvas.setFillGray(0.35)
        canvas.drawRightString(PAGE_SIZE[0] - MARGIN, MARGIN, f"page {document.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    frame = Frame(MARGIN, MARGIN + RUNNING, width, height, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    document = BaseDocTemplate(
        buf,
        pagesize=PAGE_SIZE,
        pageTemplates=[PageTemplate("page", [frame], onPage=decorate)],
        title=_plain(title),
        author="eventstudy",
        creator="eventstudy",
        invariant=1,
        pageCompression=1,
    )
    document.build(story)
    data = buf.getvalue()
    if placed:
        data = _place_figures(data, placed, figures)
    out = Path(path)
    out.write_bytes(data)
    return out
