"""Self-contained HTML report and the Jupyter view.

Figures are embedded as base64 PNG (``data:`` URIs), the style sheet is inline, and every piece of
user text (titles, headlines, settings, reasons) goes through :func:`html.escape`. No template engine:
the page is assembled from the blocks of :func:`eventstudy.report._tables.build_document`, with a table of
contents linking every heading (by its anchor). The page fits a 1,280 px window: the body is at most
1,200 px wide and every table scrolls inside its own box.

The notebook view (:func:`summary_html`, :func:`notebook_fragment`) opens with the at-a-glance table of
:class:`eventstudy.summary.Summary`; everything else is collapsed in ``<details>``.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

import numpy as np

from eventstudy.plots import figure_png, plot_aar
from eventstudy.report._format import Block, Bullets, FigureRef, Heading, Paragraph, Table, with_anchors
from eventstudy.report._tables import ReportableResult, day_tests_table, settings_table, window_tests_table
from eventstudy.summary import Summary

__all__ = ["notebook_fragment", "png_data_uri", "render_html", "summary_html"]

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1200px; margin: 2em auto; padding: 0 1.5em; line-height: 1.45; }
* { box-sizing: border-box; }
p, li, figcaption, caption { overflow-wrap: anywhere; }
div.scroll { overflow-x: auto; max-width: 100%; }
nav.toc { border: 1px solid #ddd; background: #fafafa; padding: .4em 1.2em; margin: 1em 0; font-size: .9em; }
nav.toc ul { margin: .2em 0; padding-left: 1.3em; } nav.toc li { margin: .1em 0; }
h4 { font-size: 1em; margin-top: 1.2em; }
h1 { font-size: 1.7em; border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #bbb; padding-bottom: .15em; }
h3 { font-size: 1.08em; margin-top: 1.4em; }
table.es { border-collapse: collapse; margin: .6em 0; font-size: .86em; }
table.es caption { caption-side: top; text-align: left; font-weight: 600; padding: .2em 0; }
table.es th, table.es td { border-bottom: 1px solid #ddd; padding: .25em .6em; vertical-align: top; }
table.es th { background: #f2f2f2; text-align: left; border-bottom: 2px solid #999; }
table.es td.r, table.es th.r { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.es tbody tr:nth-child(even) { background: #fafafa; }
p.note { font-size: .82em; color: #555; margin: .15em 0; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
ul.conventions li { margin: .2em 0; }
"""


def png_data_uri(data: bytes) -> str:
    """Encode PNG bytes as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(table: Table, css_class: str = "es") -> str:
    parts = [f'<div class="scroll"><table class="{css_class}">']
    if table.caption:
        parts.append(f"<caption>{_esc(table.caption)}</caption>")
    parts.append(
        "<thead><tr>"
        + "".join(f'<th class="{a}">{_esc(c)}</th>' for c, a in zip(table.columns, table.align, strict=True))
        + "</tr></thead>"
    )
    parts.append("<tbody>")
    for row in table.rows:
        parts.append(
            "<tr>" + "".join(f'<td class="{a}">{_esc(c)}</td>' for c, a in zip(row, table.align, strict=True)) + "</tr>"
        )
    parts.append("</tbody></table></div>")
    parts += [f'<p class="note">{_esc(n)}</p>' for n in table.notes]
    return "\n".join(parts)


def _html_figure(data: bytes, caption: str) -> str:
    return (
        f'<figure><img src="{png_data_uri(data)}" alt="{_esc(caption)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _toc(doc: Sequence[Block]) -> str:
    """A nested list linking every heading below the title (levels 2 to 4); sub-lists sit in their item."""
    out = ['<nav class="toc" id="contents"><strong>Contents</strong>']
    levels: list[int] = []  # the level of each open <ul>
    for block in doc:
        if not isinstance(block, Heading) or block.level < 2:
            continue
        if not levels or block.level > levels[-1]:
            out.append("<ul>")
            levels.append(block.level)
        else:
            out.append("</li>")
            while len(levels) > 1 and block.level < levels[-1]:
                out.append("</ul></li>")
                levels.pop()
        out.append(f'<li><a href="#{_esc(block.anchor)}">{_esc(block.text)}</a>')
    if levels:
        out.append("</li>" + "</ul></li>" * (len(levels) - 1) + "</ul>")
    out.append("</nav>")
    return "".join(out)


def _html_blocks(doc: Sequence[Block], images: Mapping[str, bytes]) -> str:
    out: list[str] = []
    for block in doc:
        if isinstance(block, Heading):
            anchor = f' id="{_esc(block.anchor)}"' if block.anchor else ""
            out.append(f"<h{block.level}{anchor}>{_esc(block.text)}</h{block.level}>")
            if block.level == 1:
                out.append(_toc(doc))
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_esc(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append('<ul class="conventions">' + "".join(f"<li>{_esc(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            out.append(_html_table(block))
        elif isinstance(block, FigureRef):
            data = images.get(block.spec.key)
            if data is not None:
                out.append(_html_figure(data, block.spec.caption))
    return "\n".join(out)


def render_html(doc: Sequence[Block], images: Mapping[str, bytes], title: str) -> str:
    """Render report blocks as one self-contained HTML page.

    Parameters
    ----------
    doc
        Blocks from :func:`eventstudy.report._tables.build_document`. Headings without an anchor get one
        (:func:`eventstudy.report._format.with_anchors`); a table of contents follows the title.
    images
        PNG bytes per figure key (``FigureSpec.key``); figures without bytes are left out.
    title
        Page title (escaped).

    Returns
    -------
    str
        The page; it loads nothing from outside (figures are ``data:`` URIs, the CSS is inline).
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{_html_blocks(with_anchors(doc), images)}\n</body>\n</html>\n"
    )


_FRAGMENT_CSS = """
.es-nb h3 { margin: .3em 0; }
.es-nb div.scroll { overflow-x: auto; max-width: 100%; }
.es-nb table.es-nb-t { border-collapse: collapse; font-size: .85em; }
.es-nb table.es-nb-t th, .es-nb table.es-nb-t td { padding: .15em .5em; border-bottom: 1px solid #ddd;
  vertical-align: top; }
.es-nb table.es-nb-t td.r, .es-nb table.es-nb-t th.r { text-align: right; white-space: nowrap; }
.es-nb p.note { font-size: .8em; color: #666; margin: .1em 0; }
.es-nb details { margin: .4em 0; } .es-nb summary { cursor: pointer; font-weight: 600; }
.es-nb img { max-width: 640px; height: auto; }
"""


def _details(title: str, body: str, *, open_: bool = False) -> str:
    return f"<details{' open' if open_ else ''}><summary>{_esc(title)}</summary>\n{body}\n</details>"


def summary_html(
    summary: Summary, *, figure: bytes | None = None, details: Sequence[tuple[str, str]] = (), max_rows: int = 200
) -> str:
    """Render a summary as a self-contained HTML fragment: the at-a-glance table first, the rest collapsed.

    Parameters
    ----------
    summary
        The summary (:class:`eventstudy.summary.Summary`).
    figure
        PNG bytes of a figure, shown collapsed at the end (None: no figure).
    details
        More collapsed sections, as (title, HTML body) pairs, placed before the figure.
    max_rows
        Rows of the CARs by firm shown (the rest are counted in a note).

    Returns
    -------
    str
        A ``<div>`` with a scoped ``<style>``, no external resources: title, the study in one sentence, the
        at-a-glance table with its notes, the primary tests and the battery note; then, in ``<details>``,
        the CARs by firm, the exclusions by reason, ``details`` and the figure.
    """
    parts = [f'<div class="es-nb"><style>{_FRAGMENT_CSS}</style>', f"<h3>{_esc(summary.title)}</h3>"]
    parts.append(f"<p>{_esc(summary.sentence)}</p>")
    parts.append(_html_table(summary.glance_table(), "es-nb-t"))
    parts.append(f"<p>{_esc(summary.primary_text())}</p>")
    parts.append(f"<p>{_esc(summary.battery_note())}</p>")
    car = summary.car_table()
    n_firm = len(car.rows)
    parts.append(
        _details(
            f"Cumulative abnormal returns by firm ({n_firm})",
            _html_table(car.head(max_rows), "es-nb-t") if n_firm else "<p>None computed.</p>",
        )
    )
    lines = summary.exclusion_lines()
    parts.append(
        _details(
            f"Exclusions ({summary.exclusion_count()})",
            "<ul>" + "".join(f"<li>{_esc(line)}</li>" for line in lines) + "</ul>"
            if lines
            else "<p>None: no event, ticker or window was excluded.</p>",
        )
    )
    parts += [_details(title, body) for title, body in details]
    if figure is not None:
        parts.append(_details("Figure: AAR and CAAR, all events", _html_figure(figure, "AAR and CAAR, all events")))
    parts.append("</div>")
    return "\n".join(parts)


def notebook_fragment(result: ReportableResult) -> str:
    """The notebook view of a study result (Jupyter's ``_repr_html_``).

    :func:`summary_html` of the result's summary, with the settings, the conventions, every statistic over
    all events with its p-value (CAR windows and day 0) and the AAR/CAAR chart of all events (a base64 PNG,
    drawn only when it has a value) collapsed after the tables.

    Parameters
    ----------
    result
        A study result (duck-typed).

    Returns
    -------
    str
        An HTML fragment (a ``<div>`` with a scoped ``<style>``), no external resources.
    """
    details = [("Settings", _html_table(settings_table(result), "es-nb-t"))]
    conventions = "".join(f"<li>{_esc(c)}</li>" for c in result.conventions)
    details.append(("Statistical conventions", f"<ul>{conventions}</ul>"))
    if "group" in result.tests.columns and (result.tests["group"] == "all").any():
        body = _html_table(window_tests_table(result, "all"), "es-nb-t")  # every statistic with its p-value
        day0 = day_tests_table(result, "all", day=0)
        if day0.rows:
            body += "\n" + _html_table(day0, "es-nb-t")
        body += "\n<p>Every day of every test: <code>result.tests</code> (scope 'day').</p>"
        details.append(("All tests over all events (CAR windows and day 0)", body))
    aar = result.aar
    pooled = aar[aar["group"] == "all"] if "group" in aar.columns else aar.iloc[0:0]
    figure = None
    if np.isfinite(pooled["aar"].to_numpy(dtype=np.float64)).any():  # never an empty chart
        figure = figure_png(plot_aar(result, "all"), dpi=80)
    return summary_html(Summary.from_result(result), figure=figure, details=details)
