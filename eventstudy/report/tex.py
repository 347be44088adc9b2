r"""LaTeX export: booktabs tables of the at-a-glance and CAR-by-firm tables, for ``\input`` into a paper.

The file holds two floats: a ``table`` with the at-a-glance table (scaled to the text width) and a
``longtable`` with the CARs by firm (it breaks across pages, repeating its header). Cells come from
:class:`eventstudy.summary.Summary` exactly as in the other reports; user text (titles, ids, headlines,
notes) is escaped (:func:`tex_escape`), significance stars become superscripts and minus signs math minus.
The preamble of the document needs ``\usepackage{booktabs,longtable,graphicx}`` (and a Unicode engine or
``\usepackage[utf8]{inputenc}`` for non-ASCII headlines).
"""

from __future__ import annotations

import re
from pathlib import Path

from eventstudy.report._format import Table
from eventstudy.report._tables import ReportableResult
from eventstudy.summary import Summary

__all__ = ["TEX_PACKAGES", "render_tex", "tex_escape", "tex_table"]

TEX_PACKAGES = ("booktabs", "longtable", "graphicx")
"""LaTeX packages the tables use."""

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _SPECIALS))
_NUMBER_CELL = re.compile(r"^(-?)(\d[\d.,]*%?)(\*{0,3})$")


def tex_escape(text: object) -> str:
    r"""Escape text for LaTeX: ``\ & % $ # _ { } ~ ^ < > |`` print literally; whitespace runs become one space.

    Examples
    --------
    >>> tex_escape("ant_ipo: 50% & $5bn")
    'ant\\_ipo: 50\\% \\& \\$5bn'
    """
    return _SPECIAL_RE.sub(lambda m: _SPECIALS[m.group(0)], re.sub(r"\s+", " ", str(text)).strip())


def _cell(text: str) -> str:
    r"""A table cell: a number with stars as ``$-$2.66\%$^{**}$``, anything else escaped."""
    match = _NUMBER_CELL.match(text)
    if match is None:
        escaped = tex_escape(text)
        return "{}" + escaped if escaped.startswith("[") else escaped  # "\\ [" would read as a row skip
    sign, number, star = match.groups()
    return ("$-$" if sign else "") + number.replace("%", r"\%") + (f"$^{{{star}}}$" if star else "")


def tex_table(table: Table, *, caption: str, label: str, long: bool = False, text_columns: int = 0) -> str:
    r"""A :class:`~eventstudy.report._format.Table` as a booktabs ``table`` (scaled to the text width) or ``longtable``.

    Parameters
    ----------
    table
        The formatted table (its notes go below it, in a footnote-sized paragraph).
    caption, label
        ``\caption`` text (escaped) and ``\label`` key.
    long
        A ``longtable`` that breaks across pages (header repeated) instead of a ``table`` float.
    text_columns
        Columns (counted from the left) set as paragraphs ``p{4cm}`` when they are wider than 40 characters.

    Returns
    -------
    str
    """
    spec = []
    for j, align in enumerate(table.align):
        wide = j < text_columns and max([len(r[j]) for r in table.rows] or [0]) > 40
        spec.append("p{4cm}" if wide else ("r" if align == "r" else "l"))
    header = " & ".join(rf"\textbf{{{tex_escape(c)}}}" for c in table.columns) + r" \\"
    body = [" & ".join(_cell(c) for c in row) + r" \\" for row in table.rows]
    notes = [rf"\par\footnotesize {tex_escape(n)}" for n in table.notes]
    if long:
        return "\n".join(
            [
                r"\begin{longtable}{" + "".join(spec) + "}",
                rf"\caption{{{tex_escape(caption)}}}\label{{{label}}} \\",
                r"\toprule",
                header,
                r"\midrule",
                r"\endfirsthead",
                r"\toprule",
                header,
                r"\midrule",
                r"\endhead",
                r"\bottomrule",
                r"\endfoot",
                *body,
                r"\end{longtable}",
                r"\begingroup",
                *notes,
                r"\par\endgroup",
            ]
        )
    return "\n".join(
        [
            r"\begin{table}[htbp]",
            r"\centering",
            rf"\caption{{{tex_escape(caption)}}}\label{{{label}}}",
            r"\resizebox{\linewidth}{!}{%",
            r"\begin{tabular}{" + "".join(spec) + "}",
            r"\toprule",
            header,
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\end{tabular}}",
            *notes,
            r"\end{table}",
        ]
    )


def render_tex(result: ReportableResult, path: str | Path, summary: Summary | None = None) -> Path:
    r"""Write the at-a-glance and CAR-by-firm tables of a study as booktabs LaTeX (``\input`` it).

    Parameters
    ----------
    result
        A study result (duck-typed).
    path
        The file to write (``report.tex`` in a report folder).
    summary
        The result's summary, if already built.

    Returns
    -------
    pathlib.Path
        ``path``, UTF-8 text: a comment naming the packages (:data:`TEX_PACKAGES`), the study sentence as a
        comment, the at-a-glance ``table`` (label ``tab:eventstudy-glance``) and the CARs by firm as a
        ``longtable`` (label ``tab:eventstudy-car``).
    """
    summary = Summary.from_result(result) if summary is None else summary
    title = summary.title
    parts = [
        f"% {tex_escape(title)}: tables written by eventstudy.",
        f"% Needs \\usepackage{{{','.join(TEX_PACKAGES)}}} in the preamble; \\input this file where the tables go.",
        "% " + tex_escape(summary.sentence),
        "",
        tex_table(
            summary.glance_table(),
            caption=f"{title}: results at a glance",
            label="tab:eventstudy-glance",
            text_columns=3,
        ),
        "",
        tex_table(
            summary.car_table(),
            caption=f"{title}: cumulative abnormal returns by firm",
            label="tab:eventstudy-car",
            long=True,
        ),
        "",
    ]
    out = Path(path)
    out.write_bytes("\n".join(parts).encode("utf-8"))
    return out
