"""Self-contained HTML report and the Jupyter fragment.

Figures are embedded as base64 PNG (``data:`` URIs), the style sheet is inline, and every piece of
user text (titles, headlines, settings, reasons) goes through :func:`html.escape`. No template engine:
the page is assembled from the blocks of :func:`eventstudy.report._tables.build_document`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

import numpy as np

from eventstudy.plots import figure_png, plot_aar
from eventstudy.report._format import Block, Bullets, FigureRef, Heading, Paragraph, Table
from eventstudy.report._tables import (
    ReportableResult,
    car_table,
    day_tests_table,
    exclusions_table,
    settings_table,
    window_tests_table,
)

__all__ = ["notebook_fragment", "png_data_uri", "render_html"]

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1200px; margin: 2em auto; padding: 0 1.5em; line-height: 1.45; }
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
    parts = [f'<table class="{css_class}">']
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
    parts.append("</tbody></table>")
    parts += [f'<p class="note">{_esc(n)}</p>' for n in table.notes]
    return "\n".join(parts)


def _html_figure(data: bytes, caption: str) -> str:
    return (
        f'<figure><img src="{png_data_uri(data)}" alt="{_esc(caption)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _html_blocks(doc: Sequence[Block], images: Mapping[str, bytes]) -> str:
    out: list[str] = []
    for block in doc:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{_esc(block.text)}</h{block.level}>")
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
        Blocks from :func:`eventstudy.report._tables.build_document`.
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
        f"{_html_blocks(doc, images)}\n</body>\n</html>\n"
    )


_FRAGMENT_CSS = """
.es-nb h3 { margin: .3em 0; } .es-nb h4 { margin: .8em 0 .2em; }
.es-nb table.es-nb-t { border-collapse: collapse; font-size: .85em; }
.es-nb table.es-nb-t th, .es-nb table.es-nb-t td { padding: .15em .5em; border-bottom: 1px solid #ddd; }
.es-nb table.es-nb-t td.r, .es-nb table.es-nb-t th.r { text-align: right; }
.es-nb p.note { font-size: .8em; color: #666; margin: .1em 0; }
.es-nb img { max-width: 640px; height: auto; }
"""


def notebook_fragment(result: ReportableResult, max_rows: int = 20) -> str:
    """Render a compact, self-contained HTML fragment for Jupyter's ``_repr_html_``.

    It holds the title, the settings, the exclusions, the CAR table (at most ``max_rows`` rows), every
    statistic over all events with its p-value (CAR windows and day 0), and the AAR/CAAR chart of all
    events as a base64 PNG.

    Parameters
    ----------
    result
        A study result (duck-typed).
    max_rows
        Maximum rows of each table; the rest are counted in a note.

    Returns
    -------
    str
        An HTML fragment (a ``<div>`` with a scoped ``<style>``), no external resources.
    """
    parts = [f'<div class="es-nb"><style>{_FRAGMENT_CSS}</style>', f"<h3>{_esc(result.title)}</h3>"]
    settings = settings_table(result)  # never truncated: every setting matters for reading the numbers
    parts += ["<h4>Settings</h4>", _html_table(settings, "es-nb-t")]
    excl = exclusions_table(result)
    parts.append(f"<h4>Exclusions ({len(excl.rows)})</h4>")
    parts.append(
        _html_table(excl.head(max_rows), "es-nb-t")
        if excl.rows
        else "<p>None: no event, ticker or window was excluded.</p>"
    )
    car = car_table(result)
    parts.append("<h4>Cumulative abnormal returns</h4>")
    parts.append(_html_table(car.head(max_rows), "es-nb-t") if car.rows else "<p>None computed.</p>")
    if "group" in result.tests.columns and (result.tests["group"] == "all").any():
        tests = window_tests_table(result, "all")
        parts.append("<h4>Tests over all events (CAR windows)</h4>")
        parts.append(_html_table(tests, "es-nb-t"))  # every statistic with its p-value: never truncated
        day0 = day_tests_table(result, "all", day=0)
        if day0.rows:
            parts.append("<h4>Tests over all events (day 0)</h4>")
            parts.append(_html_table(day0, "es-nb-t"))
        parts.append("<p>Every day of every test: <code>result.tests</code> (scope 'day').</p>")
    aar = result.aar
    pooled = aar[aar["group"] == "all"] if "group" in aar.columns else aar.iloc[0:0]
    if np.isfinite(pooled["aar"].to_numpy(dtype=np.float64)).any():  # never an empty chart
        data = figure_png(plot_aar(result, "all"), dpi=80)
        parts += ["<h4>AAR and CAAR, all events</h4>", _html_figure(data, "AAR (bars) and CAAR (line), all events")]
    parts.append("</div>")
    return "\n".join(parts)
