"""Reports of a study result: Markdown, self-contained HTML and a typeset PDF, plus the figures.

All formats are views of the same blocks (:func:`eventstudy.report._tables.build_document`). Every figure is
drawn once and saved twice, as a PNG (for Markdown and HTML) and as a one-page vector PDF (a file of its own, and
the source the typeset PDF embeds).

Examples
--------
>>> from eventstudy.report import write_report
>>> paths = write_report(result, "out", formats=("md", "html"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from eventstudy.errors import UnknownNameError
from eventstudy.outputs import OutputFormat
from eventstudy.plots import DPI
from eventstudy.report._tables import ReportableResult, build_document, figure_specs
from eventstudy.report.drawing import draw_figures
from eventstudy.report.html import notebook_fragment, render_html
from eventstudy.report.manifest import MANIFEST_NAME, replace_outputs
from eventstudy.report.markdown import render_markdown
from eventstudy.report.pdf import render_pdf
from eventstudy.report.tex import render_tex
from eventstudy.report.xlsx import render_xlsx
from eventstudy.summary import Summary

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "MANIFEST_NAME",
    "Progress",
    "ReportFormat",
    "notebook_fragment",
    "write_report",
]

ReportFormat = Literal["md", "html", "pdf", "xlsx", "tex"]
FORMATS: tuple[ReportFormat, ...] = ("md", "html", "pdf", "xlsx", "tex")
"""Every report format, in the order they are written."""
DEFAULT_FORMATS: tuple[ReportFormat, ...] = ("md", "html", "pdf")
"""The formats :func:`write_report` writes when none are given (the documents; the exports on request)."""
FIGURE_DIR = "figures"
Progress = Callable[[str], None]
"""A callback that receives one short stage message at a time (``"figures 3/16"``, ``"report.pdf"``)."""


def _check_formats(formats: str | Iterable[str]) -> list[str]:
    chosen = [formats] if isinstance(formats, str) else list(formats)
    for f in chosen:
        if f not in FORMATS:
            raise UnknownNameError("report format", str(f), FORMATS, parameter="formats")
    return list(dict.fromkeys(chosen))


def write_report(
    result: ReportableResult,
    out_dir: str | Path,
    formats: str | Iterable[ReportFormat] = DEFAULT_FORMATS,
    *,
    dpi: int = DPI,
    per_event_figures: bool | None = None,
    progress: Progress | None = None,
    output_format: OutputFormat = "auto",
) -> list[Path]:
    """Write the figures and the reports of a study into a folder.

    Parameters
    ----------
    result
        A study result (duck-typed: the tidy frames, ``settings``, ``conventions`` and ``title`` of
        ``eventstudy.results.StudyResult``).
    out_dir
        Output folder, created if missing. Files of the same names are overwritten; the previous report's
        files that this one does not write again are deleted (see below); other files are left alone.
    formats
        Any of ``"md"``, ``"html"``, ``"pdf"`` (default: these three), ``"xlsx"`` (the at-a-glance, CAR and
        tests tables as sheets, :func:`eventstudy.report.xlsx.render_xlsx`) and ``"tex"`` (booktabs tables,
        :func:`eventstudy.report.tex.render_tex`).
    dpi
        Resolution of the PNG figures (150 by default).
    per_event_figures
        Draw per-event figures: for each event its AAR/CAAR figure and one CAR figure with a panel per
        ticker. ``None`` (default) draws them for studies of at most 12 events and 40 firm-events
        (``report._tables.MAX_FIGURE_EVENTS``, ``MAX_FIGURE_FIRM_EVENTS``); above that only the summary
        figures are drawn and the report says which were left out and how to draw them.
    progress
        Called with a short message at each stage: ``"report.md"``, ``"report.xlsx"``, ``"report.tex"``
        before each of these is written (they need no figure, so they are written while the figures are
        drawn), ``"figures k/N"`` after each figure, then ``"report.html"`` and ``"report.pdf"``. ``None``
        (default) is silent; this function never prints.
    output_format
        How the study's tables were written into the folder (``result.write_tables(out_dir, output_format)``),
        so that the reports name the files that hold every row of a cut table.

    Returns
    -------
    list of pathlib.Path
        The files written: the figures first, each as ``figures/<key>.png`` and ``figures/<key>.pdf``
        (vector): the AAR/CAAR figure of all events, the CAR heat map over [-1, +1] or the first CAR window
        with a value, then the per-event figures when drawn (file names of at most 84 characters, see
        :func:`eventstudy.formatting.figure_stem`); then ``report.md``, ``report.html``, ``report.pdf``,
        ``report.xlsx``, ``report.tex`` as requested. No figure is drawn without a value to show.

    Raises
    ------
    UnknownNameError
        For an unknown format (a ``ValueError``).

    Notes
    -----
    Every file is byte-reproducible: PNGs are written without the ``Software`` chunk, vector figures without
    ``CreationDate``, the typeset PDF in ReportLab's invariant mode, and nothing depends on the clock.
    ``report.md`` references the PNGs by relative path; ``report.html`` embeds them as base64 and needs no
    other file; ``report.pdf`` embeds the vector figures.

    Stale files: the folder's manifest (:data:`MANIFEST_NAME`, see :mod:`eventstudy.report.manifest`) lists
    the files the last report wrote; after writing, the files of the previous manifest that this report did
    not write again are deleted if they are unchanged since, so a rerun with fewer figures leaves no old
    figure behind. Files the tool never wrote are never deleted.
    """
    chosen = _check_formats(formats)
    out = Path(out_dir)
    fig_dir = out / FIGURE_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    specs = figure_specs(result, per_event_figures)
    title = str(result.title)
    figures: list[Path] = []
    documents: dict[str, Path] = {}
    images: dict[str, bytes] = {}
    vectors: dict[str, bytes] = {}
    with draw_figures(result, specs, dpi) as drawing:  # in worker processes when it pays, meanwhile:
        summary = Summary.from_result(result, output_format)
        doc = build_document(result, specs, summary, output_format)
        if "md" in chosen:
            say("report.md")
            documents["md"] = out / "report.md"
            documents["md"].write_bytes(render_markdown(doc, FIGURE_DIR).encode("utf-8"))
        if "xlsx" in chosen:
            say("report.xlsx")
            documents["xlsx"] = render_xlsx(result, out / "report.xlsx", summary)
        if "tex" in chosen:
            say("report.tex")
            documents["tex"] = render_tex(result, out / "report.tex", summary)
        for spec, (png, vector) in zip(
            specs, drawing.files(done=lambda k: say(f"figures {k}/{len(specs)}")), strict=True
        ):
            images[spec.key], vectors[spec.key] = png, vector
            for data, suffix in ((png, ".png"), (vector, ".pdf")):
                path = fig_dir / f"{spec.key}{suffix}"
                path.write_bytes(data)
                figures.append(path)
    if "html" in chosen:
        say("report.html")
        documents["html"] = out / "report.html"
        documents["html"].write_bytes(render_html(doc, images, title).encode("utf-8"))
    if "pdf" in chosen:
        say("report.pdf")
        documents["pdf"] = render_pdf(doc, vectors, out / "report.pdf", title)
    written = [*figures, *(documents[f] for f in FORMATS if f in documents)]
    replace_outputs(out, written)
    return written
