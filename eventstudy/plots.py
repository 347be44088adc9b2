"""Figures built from the tidy frames of a study result.

Every function takes a result (duck-typed: only the frames named in its docstring are read), draws on
``ax`` when one is given or on a new :class:`matplotlib.figure.Figure` otherwise, and returns the
Figure. Nothing touches pyplot state, so no figure is registered with a GUI manager or leaks between
calls; matplotlib is imported inside the functions. Conventions (docs/ECOSYSTEM.md §7.4): event time in
trading days with integer ticks, a dashed line at day 0 and a line at zero, returns in percent.

Text drawn on figures is transliterated to ASCII (matplotlib's default font has no CJK glyphs), and
mathtext parsing is turned off for it, so a ``$`` in an identifier prints as is.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from eventstudy.errors import InputError, UnknownNameError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PlottableResult", "figure_png", "plot_aar", "plot_car", "plot_car_heatmap", "save_figure"]

BAND_ALPHA = 0.2
"""Opacity of the 95 % confidence bands."""


class PlottableResult(Protocol):
    """The frames the plotting functions read (see ``eventstudy.results.StudyResult``)."""

    @property
    def car_path(self) -> pd.DataFrame: ...  # noqa: D102
    @property
    def aar(self) -> pd.DataFrame: ...  # noqa: D102
    @property
    def car(self) -> pd.DataFrame: ...  # noqa: D102


# --------------------------------------------------------------------------------------------------
# Text helpers shared with eventstudy.report
# --------------------------------------------------------------------------------------------------

_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ", "0123456789+-=()ni", strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₜᵢⱼₖₘₙ", "0123456789+-=()aeoxtijkmn", strict=True))
_ASCII_MAP = {
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "--",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2032": "'",
    "\u2033": "''",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u00d7": "x",
    "\u00b7": "*",
    "\u2022": "*",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u2248": "~",
    "\u00b1": "+/-",
    "\u2192": "->",
    "\u2190": "<-",
    "\u221a": "sqrt",
    "\u2211": "sum",
    "\u00b0": " deg",
    "\u00a7": "S",
    "\u20ac": "EUR",
    "\u00a3": "GBP",
    "\u00a5": "JPY",
    "\u3000": " ",
    "\u03b1": "alpha",
    "\u03b2": "beta",
    "\u03b3": "gamma",
    "\u03b4": "delta",
    "\u03b5": "epsilon",
    "\u03c1": "rho",
    "\u03c3": "sigma",
    "\u03c4": "tau",
    "\u03bc": "mu",
    "\u03bd": "nu",
    "\u03a3": "Sigma",
    "\u03a6": "Phi",
    "\u03c6": "phi",
    "\u03c7": "chi",
    "\u0394": "Delta",
    "\u03bb": "lambda",
}


def ascii_text(text: object, placeholder: str = "?") -> str:
    """Transliterate text to printable ASCII for matplotlib (PDF pages and figure labels).

    Matplotlib's default fonts lack CJK glyphs and emit a "Glyph missing" warning for them
    (docs/ECOSYSTEM.md §7.2). Superscripts become ``^2`` or ``^(-1)``, typographic punctuation its
    ASCII twin, Greek letters their names, accented letters lose the accent, and anything else
    (CJK, emoji) becomes ``placeholder``. Whitespace runs collapse to one space.

    Parameters
    ----------
    text
        Any value; it is converted with ``str`` first.
    placeholder
        Replacement for characters with no ASCII form.

    Returns
    -------
    str
    """
    s = str(text)
    out: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        for table, mark in ((_SUPERSCRIPTS, "^"), (_SUBSCRIPTS, "_")):
            if ch in table:
                j = i
                while j < len(s) and s[j] in table:
                    j += 1
                run = "".join(table[c] for c in s[i:j])
                out.append(mark + (run if len(run) == 1 else f"({run})"))
                i = j
                break
        else:
            if ch.isascii():
                out.append(ch if ch.isprintable() else " ")
            elif ch in _ASCII_MAP:
                out.append(_ASCII_MAP[ch])
            else:
                decomposed = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
                out.append(decomposed if decomposed and decomposed.isascii() else placeholder)
            i += 1
    return re.sub(r"\s+", " ", "".join(out)).strip()


def signed_day(day: int) -> str:
    """Format an event day with an explicit sign for positive days: ``1 -> "+1"``, ``0 -> "0"``."""
    return f"+{day}" if day > 0 else str(day)


def fmt_window(start: object, end: object | None = None) -> str:
    """Format an event-time window, e.g. ``(-1, 1) -> "[-1, +1]"``.

    Parameters
    ----------
    start
        The first day, or a ``(start, end)`` pair when ``end`` is None. A string is returned unchanged.
    end
        The last day.

    Returns
    -------
    str
    """
    if end is None:
        if isinstance(start, str):
            return start
        if isinstance(start, (tuple, list, np.ndarray)) and len(start) == 2:
            pair: Any = start
            start, end = pair[0], pair[1]
        else:
            return str(start)
    try:
        a, b = float(start), float(end)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if not (math.isfinite(a) and math.isfinite(b)):
        return "n/a"
    return f"[{signed_day(int(a))}, {signed_day(int(b))}]"


def _label(text: object) -> str:
    """ASCII text safe for legends and tick labels, where mathtext cannot be switched off per call."""
    return ascii_text(text).replace("$", r"\$")


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """Return a new constrained-layout Figure with one Axes, or the root Figure of ``ax``."""
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    root: Any = ax.figure
    while not isinstance(root, Figure):  # a SubFigure: walk up to the root Figure
        root = root.figure
    return root, ax


def _event_time_axes(ax: Axes, ylabel: str) -> None:
    """Integer event-day ticks, reference lines at day 0 and at zero, y axis in percent."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    ax.axvline(0, ls="--", color="0.35", lw=0.9, zorder=1)
    ax.axhline(0, color="0.35", lw=0.9, zorder=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Event day (trading days relative to day 0)", parse_math=False)
    ax.set_ylabel(ylabel, parse_math=False)
    ax.grid(True, axis="y", lw=0.4, alpha=0.5)


def _choices(values: Iterable[object]) -> list[str]:
    return [str(v) for v in dict.fromkeys(values)]


def plot_car(
    result: PlottableResult,
    event_id: str,
    ticker: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot the cumulative abnormal return path of one event with its 95 % confidence band.

    Parameters
    ----------
    result
        A study result; reads ``result.car_path`` (event_id, ticker, rel_day, car, ci_low, ci_high).
    event_id
        The event to plot.
    ticker
        One ticker of the event; ``None`` draws every ticker of the event (one line and band each,
        with a legend).
    ax
        Axes to draw on; a new Figure is created when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes.

    Raises
    ------
    UnknownNameError
        If the event, or the ticker within the event, has no CAR path.

    Notes
    -----
    The band is the one stored in the frame: CAR ± 1.96 times the exact CAR standard error
    s²(L + g'(X'X)⁻¹g) of docs/METHODS.md §5.3, cumulated from the start of the event window.
    """
    path = result.car_path
    sel = path[path["event_id"] == event_id]
    if sel.empty:
        raise UnknownNameError("event", str(event_id), _choices(path["event_id"]), parameter="event_id")
    if ticker is not None:
        tickers = _choices(sel["ticker"])
        sel = sel[sel["ticker"] == ticker]
        if sel.empty:
            raise UnknownNameError(f"ticker of event {event_id!r}", str(ticker), tickers, parameter="ticker")

    fig, ax = _figure_and_axes(ax, (7.0, 4.0))
    groups = list(sel.groupby("ticker", sort=False))
    single = len(groups) == 1
    for name, g in groups:
        g = g.sort_values("rel_day")
        x = g["rel_day"].to_numpy(dtype=float)
        (line,) = ax.plot(x, g["car"].to_numpy(dtype=float), marker="o", ms=3, lw=1.5, label=_label(name))
        ax.fill_between(
            x,
            g["ci_low"].to_numpy(dtype=float),
            g["ci_high"].to_numpy(dtype=float),
            color=line.get_color(),
            alpha=BAND_ALPHA,
            lw=0,
            label="95% confidence band" if single else None,
        )
    _event_time_axes(ax, "Cumulative abnormal return")
    what = _label(groups[0][0]) if single else f"{len(groups)} tickers"
    ax.set_title(f"CAR: {ascii_text(event_id)}, {what}", parse_math=False)
    if not single:
        ax.text(
            0.99,
            0.01,
            "shaded: 95% confidence bands",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color="0.3",
            parse_math=False,
        )
    ax.legend(loc="best", fontsize=8, frameon=False)
    return fig


def plot_aar(result: PlottableResult, group: str = "all", ax: Axes | None = None) -> Figure:
    """Plot average abnormal returns (bars) and their cumulative sum (line) for a group of events.

    Parameters
    ----------
    result
        A study result; reads ``result.aar`` (group, rel_day, n, aar, caar).
    group
        ``"all"`` or an event id.
    ax
        Axes to draw on; a new Figure is created when omitted.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    UnknownNameError
        If the group is not in ``result.aar``.

    Notes
    -----
    n, the number of events with an abnormal return on the day, labels a secondary x axis at the top
    (docs/METHODS.md §1: N_τ shrinks on days with missing returns).
    """
    aar = result.aar
    sel = aar[aar["group"] == group].sort_values("rel_day")
    if sel.empty:
        raise UnknownNameError("group", str(group), _choices(aar["group"]), parameter="group")

    fig, ax = _figure_and_axes(ax, (7.0, 4.0))
    x = sel["rel_day"].to_numpy(dtype=float)
    ax.bar(x, sel["aar"].to_numpy(dtype=float), width=0.7, color="C0", alpha=0.6, label="AAR", zorder=2)
    ax.plot(x, sel["caar"].to_numpy(dtype=float), color="C1", marker="o", ms=3, lw=1.5, label="CAAR", zorder=3)
    _event_time_axes(ax, "Average abnormal return")
    label = "all events" if str(group) == "all" else ascii_text(group)
    ax.set_title(f"AAR and CAAR: {label}", parse_math=False)

    from matplotlib.ticker import FixedFormatter, FixedLocator

    n = sel["n"].to_numpy(dtype=float)
    top = ax.secondary_xaxis("top")
    top.xaxis.set_major_locator(FixedLocator(x.tolist()))
    top.xaxis.set_major_formatter(FixedFormatter([str(int(v)) if np.isfinite(v) else "" for v in n]))
    top.tick_params(labelsize=7, length=2, labelcolor="0.3")
    top.set_xlabel("n (events with an abnormal return on the day)", fontsize=8, color="0.3", parse_math=False)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return fig


def plot_car_heatmap(
    result: PlottableResult,
    window: tuple[int, int] = (-1, 1),
    ax: Axes | None = None,
) -> Figure:
    """Plot CAR over one window as an events x tickers heat map.

    Parameters
    ----------
    result
        A study result; reads ``result.car`` (event_id, ticker, window_start, window_end, car).
    window
        The CAR window ``(start, end)``; it must be one of the windows in ``result.car``.
    ax
        Axes to draw on; a new Figure is created when omitted (sized to the table).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        A ``ValueError`` naming the available windows, when ``window`` is not among them.

    Notes
    -----
    The diverging colour map is centred at zero (red negative, blue positive) with limits ±max|CAR|.
    Cells show the CAR in percent; missing pairs and NaN CARs are grey and blank.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.ticker import PercentFormatter

    car = result.car
    start, end = int(window[0]), int(window[1])
    sel = car[(car["window_start"] == start) & (car["window_end"] == end)]
    if sel.empty:
        available = pd.unique(
            pd.Series(
                [fmt_window(a, b) for a, b in zip(car["window_start"], car["window_end"], strict=True)], dtype=object
            )
        )
        raise InputError(
            f"window {fmt_window(start, end)} is not among the CAR windows of this result; "
            f"available: {', '.join(available) if len(available) else 'none'}",
            parameter="window",
            value=window,
        )
    events = list(pd.unique(sel["event_id"]))
    tickers = list(pd.unique(sel["ticker"]))
    grid = (
        sel.groupby(["event_id", "ticker"], sort=False)["car"]
        .first()
        .unstack("ticker")
        .reindex(index=events, columns=tickers)
    )
    values = grid.to_numpy(dtype=float)
    finite = np.isfinite(values)
    vmax = float(np.max(np.abs(values[finite]))) if finite.any() else 0.0
    vmax = vmax if vmax > 0 else 0.01

    figsize = (min(16.0, 2.5 + 0.9 * len(tickers)), min(16.0, 1.6 + 0.45 * len(events)))
    fig, ax = _figure_and_axes(ax, (max(5.5, figsize[0]), max(3.0, figsize[1])))
    cmap = colormaps["RdBu"].with_extremes(bad="0.85")
    norm = Normalize(vmin=-vmax, vmax=vmax)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    ax.set_xticks(
        range(len(tickers)), labels=[_label(t) for t in tickers], rotation=45, ha="right", rotation_mode="anchor"
    )
    ax.set_yticks(range(len(events)), labels=[_label(e) for e in events])
    ax.set_xlabel("Ticker", parse_math=False)
    ax.set_ylabel("Event", parse_math=False)
    ax.set_title(f"CAR over {fmt_window(start, end)}", parse_math=False)
    for i in range(len(events)):
        for j in range(len(tickers)):
            v = values[i, j]
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{100 * v:.1f}%",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if abs(v) > 0.6 * vmax else "black",
                    parse_math=False,
                )
    cbar = fig.colorbar(image, ax=ax, format=PercentFormatter(1.0))
    cbar.set_label("Cumulative abnormal return", parse_math=False)
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Save a figure as a byte-reproducible PNG.

    Parameters
    ----------
    fig
        The figure.
    path
        Output file; its folder is created when missing.
    dpi
        Resolution (fixed, so the bytes do not depend on ``rcParams["savefig.dpi"]``).

    Returns
    -------
    pathlib.Path
        The path written.

    Notes
    -----
    ``metadata={"Software": None}`` drops the matplotlib version chunk, so two runs give identical
    bytes (docs/ECOSYSTEM.md §7.2).
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(figure_png(fig, dpi=dpi))
    return out


def figure_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """Return the PNG bytes :func:`save_figure` would write (used to embed figures in HTML)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()
