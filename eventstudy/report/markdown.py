"""Markdown report: a view of the blocks built by :func:`eventstudy.report._tables.build_document`.

Every number arrives formatted (one rule per purpose, :mod:`eventstudy.formatting`). No third-party
dependency: tables are written by hand (``DataFrame.to_markdown`` would need ``tabulate``). The plain-text
summary is :meth:`eventstudy.summary.Summary.as_text`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from eventstudy.report._format import Block, Bullets, FigureRef, Heading, Paragraph, Table

__all__ = ["md_escape", "render_markdown"]

_MD_SPECIAL = re.compile(r"([\\`*|<])")
_MD_LINKISH = re.compile(r"\]\s*[(\[:]")
_MD_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_escape(text: object) -> str:
    r"""Escape user text for Markdown (CommonMark) so that it prints literally.

    Backslash-escapes ``\\ ` * | <`` (so a ``<script>`` headline stays text and a ``|`` does not
    split a table cell); ``[`` and ``]`` only when the text could form a link (``](``, ``][`` or
    ``]:``), ``_`` only at a word edge, ``~`` only when there are two, and a leading ``#`` or ``>``, so that
    windows such as ``[-1, +1]`` and ids such as ``ant_ipo_suspended`` stay readable. Newlines become
    spaces.

    Parameters
    ----------
    text
        Any value; converted with ``str``.

    Returns
    -------
    str
    """
    s = _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s*[\r\n]+\s*", " ", str(text)))
    if _MD_LINKISH.search(s):
        s = s.replace("[", "\\[").replace("]", "\\]")
    s = _MD_EDGE_UNDERSCORE.sub(r"\\_", s)
    if s.count("~") > 1:
        s = s.replace("~", "\\~")
    if s.startswith(("#", ">")):
        s = "\\" + s
    return s


def _md_table(table: Table) -> list[str]:
    lines: list[str] = []
    if table.caption:
        lines += [f"**{md_escape(table.caption)}**", ""]
    lines.append("| " + " | ".join(md_escape(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---:" if a == "r" else ":---" for a in table.align) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(md_escape(c) if c else " " for c in row) + " |")
    if table.notes:
        lines.append("")
        lines += [f"{md_escape(n)}  " for n in table.notes]
        lines[-1] = lines[-1].rstrip()
    return lines


def render_markdown(doc: Sequence[Block], figure_dir: str = "figures") -> str:
    """Render report blocks as Markdown.

    Parameters
    ----------
    doc
        Blocks from :func:`eventstudy.report._tables.build_document`.
    figure_dir
        Folder of the PNG files, relative to the Markdown file (forward slashes).

    Returns
    -------
    str
        The Markdown text, ending with a newline.
    """
    out: list[str] = []
    for block in doc:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {md_escape(block.text)}")
        elif isinstance(block, Paragraph):
            out.append(md_escape(block.text))
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {md_escape(item)}" for item in block.items))
        elif isinstance(block, Table):
            out.append("\n".join(_md_table(block)))
        elif isinstance(block, FigureRef):
            spec = block.spec
            alt = md_escape(spec.caption.replace("[", "(").replace("]", ")"))
            out.append(f"![{alt}]({figure_dir.rstrip('/')}/{spec.filename})\n\n*{md_escape(spec.caption)}*")
    return "\n\n".join(out) + "\n"
