"""Reports of a study result: Markdown, self-contained HTML and PDF, plus the PNG figures.

All formats are views of the same blocks (:func:`eventstudy.report._tables.build_document`), in this
order: title; data source and vintage; settings and statistical conventions; events and the day-0
audit; exclusions; CAR tables per event; tests per group; model parameters; figures.

Examples
--------
>>> from eventstudy.report import write_report
>>> paths = write_report(result, "out", formats=("md", "html"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from eventstudy.errors import UnknownNameError
from eventstudy.plots import figure_png
from eventstudy.report._tables import ReportableResult, build_document, figure_specs, render_figure
from eventstudy.report.html import notebook_fragment, render_html
from eventstudy.report.markdown import render_markdown, summary_text
from eventstudy.report.pdf import render_pdf

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FORMATS", "ReportFormat", "notebook_fragment", "summary_text", "write_report"]

ReportFormat = Literal["md", "html", "pdf"]
FORMATS: tuple[ReportFormat, ...] = ("md", "html", "pdf")
FIGURE_DIR = "figures"


def _check_formats(formats: str | Iterable[str]) -> list[str]:
    chosen = [formats] if isinstance(formats, str) else list(formats)
    for f in chosen:
        if f not in FORMATS:
            raise UnknownNameError("report format", str(f), FORMATS, parameter="formats")
    return list(dict.fromkeys(chosen))


def write_report(
    result: ReportableResult,
    out_dir: str | Path,
    formats: str | Iterable[ReportFormat] = FORMATS,
    *,
    dpi: int = 110,
    per_event_figures: bool | None = None,
) -> list[Path]:
    """Write the figures and the reports of a study into a folder.

    Parameters
    ----------
    result
        A study result (duck-typed: the tidy frames, ``settings``, ``conventions`` and ``title`` of
        ``eventstudy.results.StudyResult``).
    out_dir
        Output folder, created if missing. Existing files of the same names are overwritten; other
        files are left alone.
    formats
        Any of ``"md"``, ``"html"``, ``"pdf"``.
    dpi
        Resolution of the PNG figures.
    per_event_figures
        Draw one AAR/CAAR figure per event and one CAR figure per firm-event. ``None`` (default) draws them
        for studies of at most 12 events and 40 firm-events (``report._tables.MAX_FIGURE_EVENTS``,
        ``MAX_FIGURE_FIRM_EVENTS``), since each figure takes about a second; above that only the summary
        figures are drawn and the report says which were left out and how to draw them.

    Returns
    -------
    list of pathlib.Path
        The files written: ``figures/*.png`` first (the AAR/CAAR figure of all events, the CAR heat map
        over [-1, +1] or the first CAR window with a value, then the per-event figures when drawn: one
        AAR/CAAR figure per event and one CAR figure per (event, ticker) of ``result.car_path``; file names
        of at most 84 characters, see :func:`eventstudy.formatting.figure_stem`), then ``report.md``,
        ``report.html``, ``report.pdf`` as requested. No figure is drawn without a value to show.

    Raises
    ------
    UnknownNameError
        For an unknown format (a ``ValueError``).

    Notes
    -----
    Every file is byte-reproducible: PNGs are written without the ``Software`` chunk, the PDF without
    ``CreationDate``, and nothing depends on the clock. ``report.md`` references the PNGs by relative
    path; ``report.html`` embeds them as base64 and needs no other file.
    """
    chosen = _check_formats(formats)
    out = Path(out_dir)
    fig_dir = out / FIGURE_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)

    specs = figure_specs(result, per_event_figures)
    written: list[Path] = []
    images: dict[str, bytes] = {}
    figures: dict[str, Figure] = {}
    for spec in specs:
        fig = render_figure(result, spec)
        data = figure_png(fig, dpi=dpi)
        path = fig_dir / spec.filename
        path.write_bytes(data)
        written.append(path)
        images[spec.key] = data
        if "pdf" in chosen:
            figures[spec.key] = fig

    doc = build_document(result, specs)
    title = str(result.title)
    if "md" in chosen:
        path = out / "report.md"
        path.write_bytes(render_markdown(doc, FIGURE_DIR).encode("utf-8"))
        written.append(path)
    if "html" in chosen:
        path = out / "report.html"
        path.write_bytes(render_html(doc, images, title).encode("utf-8"))
        written.append(path)
    if "pdf" in chosen:
        written.append(render_pdf(doc, figures, out / "report.pdf", title))
    return written
