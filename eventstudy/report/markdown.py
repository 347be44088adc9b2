"""Markdown report and the plain-text summary.

Both are views of the blocks built by :func:`eventstudy.report._tables.build_document` (and the same
table builders), so every number is formatted by one rule. No third-party dependency: tables are
written by hand (``DataFrame.to_markdown`` would need ``tabulate``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from eventstudy.formatting import group_label
from eventstudy.report._format import Block, Bullets, FigureRef, Heading, Paragraph, Table, text_table_lines
from eventstudy.report._tables import (
    ReportableResult,
    car_table,
    exclusions_table,
    ordered_groups,
    settings_table,
    window_tests_table,
)

__all__ = ["md_escape", "render_markdown", "summary_text"]

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


def _text_block(title: str, lines: Sequence[str]) -> list[str]:
    return [title, "-" * len(title), *lines, ""]


def summary_text(result: ReportableResult, *, max_rows: int | None = None, width: int = 110) -> str:
    """Summarize a study as plain text: settings, conventions, exclusions, CARs and window tests.

    It is readable as is and as Markdown (a title line and dashed section rules); it backs
    ``StudyResult.summary()`` and ``__str__``.

    Parameters
    ----------
    result
        A study result (duck-typed).
    max_rows
        Maximum rows per table (``None`` = all); the rest are counted in a note.
    width
        Target line width; wide text columns wrap.

    Returns
    -------
    str
    """
    title = str(result.title)
    out = [title, "=" * len(title), ""]

    settings = settings_table(result)
    out += _text_block("Settings", [f"  {k}: {v}" for k, v in settings.rows] or ["  (none recorded)"])
    out += _text_block("Conventions", [f"  - {c}" for c in result.conventions] or ["  (none recorded)"])

    def table_lines(table: Table) -> list[str]:
        table = table.head(max_rows)
        lines = ["  " + line for line in text_table_lines(table, width - 2)]
        return lines + [f"  {n}" for n in table.notes]

    excl = exclusions_table(result)
    out += _text_block(
        f"Exclusions ({len(excl.rows)})",
        table_lines(excl) if excl.rows else ["  none: no event, ticker or window was excluded"],
    )
    car = car_table(result)
    out += _text_block("Cumulative abnormal returns", table_lines(car) if car.rows else ["  (none)"])
    for g in ordered_groups(result.tests):
        wt = window_tests_table(result, g)
        if wt.rows:
            out += _text_block(f"Window tests: {group_label(g)}", table_lines(wt))
    return "\n".join(out).rstrip() + "\n"
