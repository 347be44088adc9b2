"""Figures built from the tidy frames of a study result.

Every function takes a result (duck-typed: only the frames named in its docstring are read), draws on
``ax`` when one is given or on a new :class:`matplotlib.figure.Figure` otherwise, and returns the
Figure. Nothing touches pyplot state, so no figure is registered with a GUI manager or leaks between
calls; matplotlib is imported inside the functions. Conventions (../shared/docs/ECOSYSTEM.md §7.4): event time in
trading days with integer ticks, a dashed line at day 0 and a line at zero, returns in percent.

Text drawn on figures is transliterated to ASCII (:func:`eventstudy.formatting.ascii_text`; matplotlib's
default font has no CJK glyphs), cut to :data:`TEXT_MAX` characters, and mathtext parsing is turned off for
it, so a ``$`` in an identifier prints as is. Numbers and windows are written by the package's one rule
each (:mod:`eventstudy.formatting`, :func:`eventstudy.spec.window_text`). An empty result, or a selection
without a finite value, raises :class:`~eventstudy.errors.DataError` rather than drawing an empty chart.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from eventstudy.errors import DataError, InputError, UnknownNameError
from eventstudy.formatting import ascii_text, fmt_pct
from eventstudy.spec import window_text

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


TEXT_MAX = 40
"""Longest user text (an event id, a ticker) drawn on a figure; longer text is cut and ends in ``...``."""


def _text(text: object) -> str:
    """User text for a title: ASCII, at most :data:`TEXT_MAX` characters."""
    s = ascii_text(text)
    return s if len(s) <= TEXT_MAX else s[: TEXT_MAX - 3] + "..."


def _label(text: object) -> str:
    """User text for legends and tick labels, where mathtext cannot be switched off per call."""
    return _text(text).replace("$", r"\$")


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


def _require_values(frame: pd.DataFrame, column: str, what: str) -> None:
    """Raise :class:`DataError` instead of drawing an empty chart when ``column`` has no finite value."""
    if frame.empty:
        raise DataError(f"nothing to draw: the result has no {what} (no firm-event was estimated)")
    if not np.isfinite(frame[column].to_numpy(dtype=np.float64)).any():
        raise DataError(f"nothing to draw: every value of the {what} is missing")


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
    DataError
        If the result has no CAR path at all, or the selected one has no finite value (no empty chart).

    Notes
    -----
    The band is the one stored in the frame: CAR ± 1.96 times the exact CAR standard error
    s²(L + g'(X'X)⁻¹g) of docs/methods.md §5.3, cumulated from the start of the event window.
    """
    path = result.car_path
    _require_values(path, "car", "CAR paths")
    sel = path[path["event_id"] == event_id]
    if sel.empty:
        raise UnknownNameError("event", str(event_id), _choices(path["event_id"]), parameter="event_id")
    if ticker is not None:
        tickers = _choices(sel["ticker"])
        sel = sel[sel["ticker"] == ticker]
        if sel.empty:
            raise UnknownNameError(f"ticker of event {event_id!r}", str(ticker), tickers, parameter="ticker")
    _require_values(sel, "car", f"CAR path of event {event_id!r}" + ("" if ticker is None else f", {ticker}"))

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
    what = _text(groups[0][0]) if single else f"{len(groups)} tickers"
    ax.set_title(f"CAR: {_text(event_id)}, {what}", parse_math=False)
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
    DataError
        If the result has no AAR at all, or the group's are all missing (no empty chart).

    Notes
    -----
    n, the number of events with an abnormal return on the day, labels a secondary x axis at the top
    (docs/methods.md §1: N_τ shrinks on days with missing returns).
    """
    aar = result.aar
    _require_values(aar, "aar", "average abnormal returns")
    sel = aar[aar["group"] == group].sort_values("rel_day")
    if sel.empty:
        raise UnknownNameError("group", str(group), _choices(aar["group"]), parameter="group")
    _require_values(sel, "aar", f"average abnormal returns of group {group!r}")

    fig, ax = _figure_and_axes(ax, (7.0, 4.0))
    x = sel["rel_day"].to_numpy(dtype=float)
    ax.bar(x, sel["aar"].to_numpy(dtype=float), width=0.7, color="C0", alpha=0.6, label="AAR", zorder=2)
    ax.plot(x, sel["caar"].to_numpy(dtype=float), color="C1", marker="o", ms=3, lw=1.5, label="CAAR", zorder=3)
    _event_time_axes(ax, "Average abnormal return")
    label = "all events" if str(group) == "all" else _text(group)
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


def _largest(values: np.ndarray, axis: int, keep: int | None) -> np.ndarray:
    """Indices, in their original order, of the ``keep`` rows (axis 1) or columns (axis 0) of largest max |value|."""
    n = values.shape[0 if axis == 1 else 1]
    if keep is None or n <= keep:
        return np.arange(n)
    score = np.where(np.isfinite(values), np.abs(values), -np.inf).max(axis=axis)
    return np.sort(np.argsort(-score, kind="stable")[:keep])


def plot_car_heatmap(
    result: PlottableResult,
    window: tuple[int, int] = (-1, 1),
    ax: Axes | None = None,
    *,
    max_events: int | None = None,
    max_tickers: int | None = None,
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
    max_events, max_tickers
        Draw at most this many rows (the events whose largest |CAR| is largest) and columns (the tickers
        with the largest |CAR| among those rows), in their original order; the title says what was kept.
        ``None`` draws every event or ticker.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        A ``ValueError`` naming the available windows, when ``window`` is not among them.
    DataError
        If the result has no CAR, or none over ``window`` has a value (no empty chart).

    Notes
    -----
    The diverging colour map is centred at zero (red negative, blue positive) with limits ±max|CAR|.
    Cells show the CAR in percent; missing pairs and NaN CARs are grey and blank.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.ticker import PercentFormatter

    car = result.car
    _require_values(car, "car", "CARs")
    start, end = int(window[0]), int(window[1])
    sel = car[(car["window_start"] == start) & (car["window_end"] == end)]
    if sel.empty:
        available = pd.unique(
            pd.Series(
                [window_text((int(a), int(b))) for a, b in zip(car["window_start"], car["window_end"], strict=True)],
                dtype=object,
            )
        )
        raise InputError(
            f"window {window_text((start, end))} is not among the CAR windows of this result; "
            f"available: {', '.join(available) if len(available) else 'none'}",
            parameter="window",
            value=window,
        )
    _require_values(sel, "car", f"CARs over {window_text((start, end))}")
    events = list(pd.unique(sel["event_id"]))
    tickers = list(pd.unique(sel["ticker"]))
    grid = (
        sel.groupby(["event_id", "ticker"], sort=False)["car"]
        .first()
        .unstack("ticker")
        .reindex(index=events, columns=tickers)
    )
    n_events, n_tickers = len(events), len(tickers)
    rows = _largest(grid.to_numpy(dtype=float), 1, max_events)
    grid = grid.iloc[rows]
    cols = _largest(grid.to_numpy(dtype=float), 0, max_tickers)
    grid = grid.iloc[:, cols]
    events, tickers = list(grid.index), list(grid.columns)
    values = grid.to_numpy(dtype=float)
    finite = np.isfinite(values)
    vmax = float(np.max(np.abs(values[finite])))  # the rows kept include one with a finite CAR
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
    kept = []
    if len(events) < n_events:
        kept.append(f"{len(events)} of {n_events} events")
    if len(tickers) < n_tickers:
        kept.append(f"{len(tickers)} of {n_tickers} tickers")
    cut = f" (largest |CAR|: {', '.join(kept)})" if kept else ""
    ax.set_title(f"CAR over {window_text((start, end))}{cut}", parse_math=False)
    for i in range(len(events)):
        for j in range(len(tickers)):
            v = values[i, j]
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    fmt_pct(v, 1),
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
    bytes (../shared/docs/ECOSYSTEM.md §7.2).
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
