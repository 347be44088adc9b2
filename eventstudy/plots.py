"""Figures built from the tidy frames of a study result.

Every function takes a result (duck-typed: only the frames named in its docstring are read), draws on
``ax`` when one is given or on a new :class:`matplotlib.figure.Figure` otherwise, and returns the
Figure. Nothing touches pyplot state, so no figure is registered with a GUI manager or leaks between
calls; matplotlib is imported inside the functions. Conventions (../shared/docs/ECOSYSTEM.md §7.4): event time in
trading days with integer ticks, a dashed line at day 0 and a line at zero, returns in percent. Titles name
the event by its date and headline (``result.events``), not only by its id.

Text drawn on figures is transliterated to ASCII (:func:`eventstudy.formatting.ascii_text`; matplotlib's
default font has no CJK glyphs), ids are cut to :data:`TEXT_MAX` characters and headlines to
:data:`TITLE_LINES` lines, and mathtext parsing is turned off for it, so a ``$`` in an identifier prints as is.
Numbers and windows are written by the package's one rule each (:mod:`eventstudy.formatting`,
:func:`eventstudy.spec.window_text`). An empty result, or a selection without a finite value, raises
:class:`~eventstudy.errors.DataError` rather than drawing an empty chart.

Files: :func:`figure_png` (raster, 150 dpi by default) and :func:`figure_pdf` (vector, TrueType fonts) return
byte-reproducible bytes; :func:`save_figure` writes PNG, PDF or SVG by the file's suffix.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from eventstudy.errors import DataError, InputError, UnknownNameError
from eventstudy.formatting import ascii_text, fmt_date, fmt_pct
from eventstudy.spec import window_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from eventstudy._typing import FloatArray, IntArray

__all__ = [
    "DPI",
    "PlottableResult",
    "caar_band",
    "figure_pdf",
    "figure_png",
    "plot_aar",
    "plot_car",
    "plot_car_heatmap",
    "save_figure",
]

BAND_ALPHA = 0.2
"""Opacity of the 95 % confidence bands."""
DPI = 150
"""Default resolution of PNG files."""
MISSING_COLOR = "0.86"
"""Face colour of heat-map cells of a firm-event without a CAR (excluded or missing); they are also hatched."""


class PlottableResult(Protocol):
    """The frames the plotting functions read (see ``eventstudy.results.StudyResult``).

    Optional frames, read when the result has them: ``events`` (event_id, date, headline: figure titles),
    ``event_days`` (event_id, ticker: which heat-map cells belong to an event), ``firm_events`` (event_id,
    ticker, group, pooled: which firm-events the CAAR band of ``"all"`` and of the user's groups uses).
    """

    @property
    def car_path(self) -> pd.DataFrame: ...  # noqa: D102
    @property
    def aar(self) -> pd.DataFrame: ...  # noqa: D102
    @property
    def car(self) -> pd.DataFrame: ...  # noqa: D102


TEXT_MAX = 40
"""Longest user text (an event id, a ticker) drawn on a figure; longer text is cut and ends in ``...``."""
TITLE_WIDTH = 80
"""Characters per line of an event's date and headline in a title."""
TITLE_LINES = 2
"""Lines of date and headline in a title at most; a longer headline is cut and ends in ``...``."""


def _text(text: object, limit: int = TEXT_MAX) -> str:
    """User text for a title: ASCII, at most ``limit`` characters."""
    s = ascii_text(text)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _label(text: object) -> str:
    """User text for legends and tick labels, where mathtext cannot be switched off per call."""
    return _text(text).replace("$", r"\$")


def _event_line(result: object, event_id: object) -> str:
    """``"<date> - <headline>"`` of an event from ``result.events`` (ASCII, wrapped); the id when unknown."""
    events = getattr(result, "events", None)
    if isinstance(events, pd.DataFrame) and {"event_id", "headline"} <= set(events.columns):
        row = events[events["event_id"] == event_id]
        if len(row):
            first = row.iloc[0]
            date = fmt_date(first["date"]) if "date" in row.columns else ""
            text = ascii_text(first["headline"])
            if text:
                line = f"{date} - {text}" if date else text
                return "\n".join(textwrap.wrap(line, TITLE_WIDTH, max_lines=TITLE_LINES, placeholder=" ..."))
    return _text(event_id)


def _event_date(result: object, event_id: object) -> str:
    events = getattr(result, "events", None)
    if isinstance(events, pd.DataFrame) and {"event_id", "date"} <= set(events.columns):
        row = events[events["event_id"] == event_id]
        if len(row):
            return fmt_date(row.iloc[0]["date"])
    return ""


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """Return a new constrained-layout Figure with one Axes, or the root Figure of ``ax``."""
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    return _root(ax), ax


def _root(ax: Axes) -> Figure:
    from matplotlib.figure import Figure

    root: Any = ax.figure
    while not isinstance(root, Figure):  # a SubFigure: walk up to the root Figure
        root = root.figure
    return root


def _event_time_axes(ax: Axes, ylabel: str, *, xlabel: bool = True) -> None:
    """Integer event-day ticks, reference lines at day 0 and at zero, y axis in percent."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    ax.axvline(0, ls="--", color="0.35", lw=0.9, zorder=1)
    ax.axhline(0, color="0.35", lw=0.9, zorder=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if xlabel:
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


def _grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns of a small-multiples grid: at most 4 columns, rows as even as possible."""
    if n <= 4:
        return 1, n
    rows = math.ceil(n / 4)
    cols = math.ceil(n / rows)
    return rows, cols


def _draw_path(ax: Axes, g: pd.DataFrame, color: str, label: str | None, band_label: str | None) -> None:
    g = g.sort_values("rel_day")
    x = g["rel_day"].to_numpy(dtype=float)
    ax.plot(x, g["car"].to_numpy(dtype=float), color=color, marker="o", ms=3, lw=1.5, label=label)
    ax.fill_between(
        x,
        g["ci_low"].to_numpy(dtype=float),
        g["ci_high"].to_numpy(dtype=float),
        color=color,
        alpha=BAND_ALPHA,
        lw=0,
        label=band_label,
    )


def plot_car(
    result: PlottableResult,
    event_id: str,
    ticker: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot the cumulative abnormal return path of an event with its 95 % confidence band.

    Parameters
    ----------
    result
        A study result; reads ``result.car_path`` (event_id, ticker, rel_day, car, ci_low, ci_high) and, for
        the title, ``result.events`` (date, headline) when present.
    event_id
        The event to plot.
    ticker
        One ticker of the event; ``None`` draws every ticker of the event, as small multiples (one panel
        per ticker, all panels sharing both axes) when there are several.
    ax
        Axes to draw on; a new Figure is created when omitted. Small multiples split the area of ``ax``
        into their panels (``ax`` must then belong to a grid of subplots).

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
    InputError
        If small multiples are asked for on an ``ax`` that is not a subplot.

    Notes
    -----
    The band is the one stored in the frame: CAR ± t_{0.975, M-k} times the exact CAR standard error
    s²(L + g'(X'X)⁻¹g) of docs/methods.md §5.3, cumulated from the start of the event window. A ticker whose
    path has no finite value gets no panel.
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
    finite = np.isfinite(sel["car"].to_numpy(dtype=np.float64))
    groups = [(name, g) for name, g in sel.groupby("ticker", sort=False) if finite[sel["ticker"] == name].any()]
    headline = _event_line(result, event_id)
    if len(groups) == 1:
        fig, ax = _figure_and_axes(ax, (7.0, 4.2))
        name, g = groups[0]
        _draw_path(ax, g, "C0", _label(name), "95% confidence band")
        _event_time_axes(ax, "Cumulative abnormal return")
        ax.set_title(f"{headline}\nCAR of {_text(name)}, event {_text(event_id)}", parse_math=False, fontsize=10)
        ax.legend(loc="best", fontsize=8, frameon=False)
        return fig
    return _small_multiples(groups, ax, headline, str(event_id))


PANEL_SIZE = (2.55, 1.75)
"""Width and height of one small-multiple panel's plotting area, in inches."""
PANEL_TEXT_MAX = 30
"""Longest ticker drawn as a panel title (a panel is narrower than a figure)."""


def _small_multiples(groups: list[tuple[Any, pd.DataFrame]], ax: Axes | None, headline: str, event_id: str) -> Figure:
    """One CAR panel per ticker in a grid, sharing both axes, under one title.

    A new figure gets fixed margins in inches (the labels are bounded: percent ticks, ids cut to
    :data:`TEXT_MAX`, a title of at most :data:`TITLE_LINES` + 1 lines), which lays out a grid of panels
    about a third faster than the constrained layout would; a given ``ax`` is split in place.
    """
    from matplotlib.figure import Figure

    rows, cols = _grid_shape(len(groups))
    what = f"CAR by ticker, event {_text(event_id)} (line: CAR; shaded: 95% confidence band)"
    title = "\n".join([headline, *textwrap.wrap(what, TITLE_WIDTH)])
    if ax is None:
        lines = title.count("\n") + 1
        left, right, bottom, gap_w = 0.85, 0.2, 0.5, 0.3
        top = 0.15 + 0.19 * lines + 0.25  # the title's lines, then the first row's panel titles
        gap_h = 0.3  # panel titles (tick labels show on the bottom panel of each column only)
        width = max(7.0, left + right + cols * PANEL_SIZE[0] + (cols - 1) * gap_w)  # room for the title
        height = top + bottom + rows * PANEL_SIZE[1] + (rows - 1) * gap_h
        fig = Figure(figsize=(width, height))
        holder: Any = fig
        grid: Any = fig.add_gridspec(
            rows,
            cols,
            left=left / width,
            right=1 - right / width,
            bottom=bottom / height,
            top=1 - top / height,
            wspace=gap_w * cols / (width - left - right - (cols - 1) * gap_w),
            hspace=gap_h / PANEL_SIZE[1],
        )
        fig.suptitle(title, y=1 - 0.12 / height, va="top", parse_math=False, fontsize=10)
    else:
        spec = ax.get_subplotspec()
        if spec is None:
            raise InputError(
                f"event {event_id!r} has {len(groups)} tickers, drawn as one panel each, and the given axes are not "
                "a subplot to split; pass ticker=... for one panel or omit ax",
                parameter="ax",
                value=type(ax).__name__,
            )
        fig = _root(ax)
        holder = ax.figure
        ax.remove()
        grid = spec.subgridspec(rows, cols)
        holder.suptitle(title, parse_math=False, fontsize=10)
    axes: list[Axes] = []
    for k, (name, g) in enumerate(groups):
        panel = holder.add_subplot(grid[k // cols, k % cols], sharex=axes[0] if axes else None)
        if axes:
            panel.sharey(axes[0])
        _draw_path(panel, g, "C0", None, None)
        bottom_of_column = k + cols >= len(groups)
        _event_time_axes(panel, "CAR" if k % cols == 0 else "", xlabel=bottom_of_column)
        if bottom_of_column:
            panel.set_xlabel("Event day", parse_math=False)
        else:
            panel.tick_params(labelbottom=False)
        if k % cols:
            panel.tick_params(labelleft=False)
        panel.set_title(_text(name, PANEL_TEXT_MAX), parse_math=False, fontsize=9)
        axes.append(panel)
    return fig


def caar_band(paths: FloatArray, level: float = 0.95) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    r"""Cross-sectional mean of CAR paths and its confidence band, day by day.

    Parameters
    ----------
    paths : (N, L)
        CAR_i(t) of N firm-events over L event days; NaN where a path has no value.
    level
        Two-sided confidence level.

    Returns
    -------
    n : (L,)
        Firm-events with a finite CAR_i(t).
    caar, low, high : (L,)
        CAAR(t) and the band; NaN where n < 2 (no cross-sectional spread).

    Notes
    -----
    .. math:: \mathrm{CAAR}(t) \pm t_{n_t-1,\,(1+\mathrm{level})/2}\; s_t / \sqrt{n_t},

    with CAAR(t) the mean of the finite CAR_i(t), s_t their standard deviation with divisor n_t − 1, and n_t
    their count: the cross-sectional (Brown-Warner 1985) band, which does not use the model's estimation-window
    variances and so allows event-induced variance. CAAR(t) equals the running sum of the AAR when no
    abnormal return is missing.
    """
    from scipy import stats

    values = np.asarray(paths, dtype=np.float64)
    finite = np.isfinite(values)
    n = finite.sum(axis=0)
    zeros = np.where(finite, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = zeros.sum(axis=0) / n
        dev = np.where(finite, values - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=0) / (n - 1))
        q = stats.t.ppf(0.5 + level / 2, np.where(n >= 2, n - 1, np.nan))
        half = q * sd / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    mean = np.where(n >= 1, mean, np.nan)
    return n.astype(np.int64), mean, mean - half, mean + half


def _member_paths(result: PlottableResult, group: object, days: np.ndarray) -> np.ndarray | None:
    """CAR paths (firm-events x ``days``) of the members of an AAR group; None when membership is unknown.

    With ``result.firm_events`` (columns ``pooled`` and ``group``): ``"all"`` is the pooled firm-events (one per
    distinct firm-day under the default pooling) and a user's group its pooled firm-events; without it,
    ``"all"`` is every firm-event of ``car_path``. An event id is all the event's firm-events.
    """
    path = result.car_path
    firm = getattr(result, "firm_events", None)
    firm = firm if isinstance(firm, pd.DataFrame) and "pooled" in firm.columns else None
    pooled = firm[firm["pooled"].astype(bool)] if firm is not None else None
    if pooled is not None and (str(group) == "all" or ("group" in pooled.columns and group in set(pooled["group"]))):
        members = pooled if str(group) == "all" else pooled[pooled["group"] == group]
        path = path.merge(members[["event_id", "ticker"]].drop_duplicates(), on=["event_id", "ticker"], how="inner")
    elif str(group) != "all":
        if group not in set(path["event_id"]):
            return None
        path = path[path["event_id"] == group]
    wide = path.set_index(["event_id", "ticker", "rel_day"])["car"].unstack("rel_day")
    return wide.reindex(columns=days).to_numpy(dtype=np.float64)


def _is_user_group(result: object, group: object) -> bool:
    firm = getattr(result, "firm_events", None)
    return isinstance(firm, pd.DataFrame) and "group" in firm.columns and group in set(firm["group"])


def plot_aar(result: PlottableResult, group: str = "all", ax: Axes | None = None) -> Figure:
    """Plot average abnormal returns (bars) and the CAAR (line) with its 95 % band for a group of events.

    Parameters
    ----------
    result
        A study result; reads ``result.aar`` (group, rel_day, n, aar, caar) and ``result.car_path`` (the
        members' CAR paths, for the band), and ``result.firm_events`` (``group``, ``pooled``) and
        ``result.events`` (title) when present.
    group
        ``"all"``, a user's group (``firm_events.group``) or an event id (another group of ``result.aar`` is
        drawn without a band).
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
    The line and band are :func:`caar_band` of the members' CAR paths: CAAR(t) ± t_{N-1, 0.975} ·
    sd(CAR_i(t)) / √N, cross-sectional, N the firm-events with a CAR on day t (``"all"`` and the user's groups
    use the firm-events marked ``pooled`` in ``result.firm_events`` when present, as the tests do: one per
    distinct firm-day under the default pooling; an event uses all its firm-events). Without member paths the line
    is ``aar.caar`` and no band is drawn. When n, the number of firm-events with an abnormal return on the
    day, varies across days it labels a secondary x axis at the top (docs/methods.md §1: N_τ shrinks on days
    with missing returns); the title gives the number of firm-events.
    """
    aar = result.aar
    _require_values(aar, "aar", "average abnormal returns")
    sel = aar[aar["group"] == group].sort_values("rel_day")
    if sel.empty:
        raise UnknownNameError("group", str(group), _choices(aar["group"]), parameter="group")
    _require_values(sel, "aar", f"average abnormal returns of group {group!r}")

    fig, ax = _figure_and_axes(ax, (7.0, 4.4))
    x = sel["rel_day"].to_numpy(dtype=float)
    ax.bar(x, sel["aar"].to_numpy(dtype=float), width=0.7, color="C0", alpha=0.6, label="AAR", zorder=2)
    members = _member_paths(result, group, sel["rel_day"].to_numpy())
    caar = sel["caar"].to_numpy(dtype=float)
    n_members = 0
    if members is not None and len(members):
        n_members = len(members)
        _, mean, low, high = caar_band(members)
        caar = mean
        if np.isfinite(low).any():
            ax.fill_between(x, low, high, color="C1", alpha=BAND_ALPHA, lw=0, label="95% band (cross-sectional)")
    ax.plot(x, caar, color="C1", marker="o", ms=3, lw=1.5, label="CAAR", zorder=3)
    _event_time_axes(ax, "AAR (bars) and CAAR (line)")
    count = f", {n_members} firm-events" if n_members else ""
    if str(group) == "all":
        title = f"AAR and CAAR: all events{count}"
    elif group in set(result.car_path["event_id"]) and not _is_user_group(result, group):
        title = f"{_event_line(result, group)}\nAAR and CAAR, event {_text(group)}{count}"
    else:
        title = f"AAR and CAAR: {_text(group)}{count}"
    ax.set_title(title, parse_math=False, fontsize=10)

    n = sel["n"].to_numpy(dtype=float)
    if len(np.unique(n[np.isfinite(n)])) > 1:  # n varies: say it day by day; else the title's count says it
        _n_axis(ax, x, n)
    ax.legend(loc="best", fontsize=8, frameon=False)
    return fig


def _n_axis(ax: Axes, x: np.ndarray, n: np.ndarray) -> None:
    """A secondary x axis at the top labelled with n, the firm-events with an abnormal return on each day."""
    from matplotlib.ticker import FixedFormatter, FixedLocator

    top = ax.secondary_xaxis("top")
    top.xaxis.set_major_locator(FixedLocator(x.tolist()))
    top.xaxis.set_major_formatter(FixedFormatter([str(int(v)) if np.isfinite(v) else "" for v in n]))
    top.tick_params(labelsize=7, length=2, labelcolor="0.3")
    top.set_xlabel("n (firm-events with an abnormal return on the day)", fontsize=8, color="0.3", parse_math=False)


def _largest(values: np.ndarray, axis: int, keep: int | None) -> np.ndarray:
    """Indices, in their original order, of the ``keep`` rows (axis 1) or columns (axis 0) of largest max |value|."""
    n = values.shape[0 if axis == 1 else 1]
    if keep is None or n <= keep:
        return np.arange(n)
    score = np.where(np.isfinite(values), np.abs(values), -np.inf).max(axis=axis)
    return np.sort(np.argsort(-score, kind="stable")[:keep])


def _expected_pairs(result: object, events: list[Any], tickers: list[Any]) -> np.ndarray:
    """(events x tickers) True where the ticker belongs to the event (``result.event_days``; all when unknown)."""
    days = getattr(result, "event_days", None)
    if not isinstance(days, pd.DataFrame) or not {"event_id", "ticker"} <= set(days.columns):
        return np.ones((len(events), len(tickers)), dtype=bool)
    # the drawn events and tickers only: no (all events x all tickers) table for a study of 10^5 events
    row = pd.Index(events, dtype=object).get_indexer(days["event_id"].astype(object))
    column = pd.Index(tickers, dtype=object).get_indexer(days["ticker"].astype(object))
    drawn = (row >= 0) & (column >= 0)
    grid = np.zeros((len(events), len(tickers)), dtype=bool)
    grid[row[drawn], column[drawn]] = True
    return grid


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
        A study result; reads ``result.car`` (event_id, ticker, window_start, window_end, car), and
        ``result.event_days`` (event_id, ticker) and ``result.events`` (date) when present.
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
    Vector cells (``pcolormesh``), first event at the top; rows are labelled with the event date and id. The
    diverging colour map is centred at zero (red negative, blue positive) with limits ±max|CAR|; cells show the
    CAR in percent. A cell of a firm-event without a CAR (excluded, or a missing value) is grey and hatched; a
    cell of a ticker that is not part of the event (per ``result.event_days``) is white. A legend below the
    map names both.
    """
    from matplotlib import colormaps
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch, Rectangle
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
    n_all_events, n_all_tickers = len(events), sel["ticker"].nunique()
    if max_events is not None and len(events) > max_events:
        # many events: keep the rows to draw before building the (events x tickers) grid, which would not fit
        score = sel["car"].abs().groupby(sel["event_id"], sort=False).max().reindex(events)
        largest = np.sort(np.argsort(-score.fillna(-np.inf).to_numpy(), kind="stable")[:max_events])
        events = [events[i] for i in largest]
        sel = sel[sel["event_id"].isin(set(events))]
    tickers = list(pd.unique(sel["ticker"]))
    grid = (
        sel.groupby(["event_id", "ticker"], sort=False)["car"]
        .first()
        .unstack("ticker")
        .reindex(index=events, columns=tickers)
    )
    n_events, n_tickers = n_all_events, n_all_tickers
    rows = _largest(grid.to_numpy(dtype=float), 1, max_events)
    grid = grid.iloc[rows]
    cols = _largest(grid.to_numpy(dtype=float), 0, max_tickers)
    grid = grid.iloc[:, cols]
    events, tickers = list(grid.index), list(grid.columns)
    values = grid.to_numpy(dtype=float)
    finite = np.isfinite(values)
    expected = _expected_pairs(result, events, tickers)
    vmax = float(np.max(np.abs(values[finite])))  # the rows kept include one with a finite CAR
    vmax = vmax if vmax > 0 else 0.01

    width = min(16.0, 3.2 + 0.9 * len(tickers))
    height = min(16.0, 2.4 + 0.45 * len(events))
    fig, ax = _figure_and_axes(ax, (max(6.0, width), max(3.4, height)))
    cmap = colormaps["RdBu"].with_extremes(bad="white")
    norm = Normalize(vmin=-vmax, vmax=vmax)
    edges_x = np.arange(len(tickers) + 1) - 0.5
    edges_y = np.arange(len(events) + 1) - 0.5
    mesh = ax.pcolormesh(edges_x, edges_y, np.ma.masked_invalid(values), cmap=cmap, norm=norm)
    missing = ~finite & expected
    handles = []
    if missing.any():
        ii, jj = np.nonzero(missing)
        rects = [Rectangle((j - 0.5, i - 0.5), 1.0, 1.0) for i, j in zip(ii.tolist(), jj.tolist(), strict=True)]
        ax.add_collection(
            PatchCollection(rects, facecolor=MISSING_COLOR, edgecolor="0.55", hatch="///", linewidth=0.0, zorder=2)
        )
        handles.append(
            Patch(facecolor=MISSING_COLOR, edgecolor="0.55", hatch="///", label="no CAR (excluded or missing)")
        )
    if (~finite & ~expected).any():
        handles.append(Patch(facecolor="white", edgecolor="0.55", label="ticker not in this event"))
    ax.set_xlim(edges_x[0], edges_x[-1])
    ax.set_ylim(edges_y[-1], edges_y[0])  # first event at the top
    ax.set_xticks(
        range(len(tickers)), labels=[_label(t) for t in tickers], rotation=45, ha="right", rotation_mode="anchor"
    )
    dates = [_event_date(result, e) for e in events]
    labels = [f"{d}  {_label(e)}" if d else _label(e) for d, e in zip(dates, events, strict=True)]
    ax.set_yticks(range(len(events)), labels=labels)
    ax.set_xlabel("Ticker", parse_math=False)
    ax.set_ylabel("Event", parse_math=False)
    kept = []
    if len(events) < n_events:
        kept.append(f"{len(events)} of {n_events} events")
    if len(tickers) < n_tickers:
        kept.append(f"{len(tickers)} of {n_tickers} tickers")
    cut = f" (largest |CAR|: {', '.join(kept)})" if kept else ""
    ax.set_title(f"CAR over {window_text((start, end))}{cut}", parse_math=False)
    size = 8 if len(tickers) <= 12 else 6
    for i, j in zip(*np.nonzero(finite), strict=True):
        v = values[i, j]
        ax.text(
            j,
            i,
            fmt_pct(v, 1),
            ha="center",
            va="center",
            fontsize=size,
            color="white" if abs(v) > 0.6 * vmax else "black",
            parse_math=False,
        )
    cbar = fig.colorbar(mesh, ax=ax, format=PercentFormatter(1.0))
    cbar.set_label("Cumulative abnormal return", parse_math=False)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False, ncols=len(handles))
    return fig


def figure_png(fig: Figure, *, dpi: int = DPI) -> bytes:
    """Return the figure as byte-reproducible PNG bytes.

    ``metadata={"Software": None}`` drops the matplotlib version chunk, so two runs give identical bytes
    (../shared/docs/ECOSYSTEM.md §7.2); the resolution is fixed (not ``rcParams["savefig.dpi"]``).
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def figure_pdf(fig: Figure) -> bytes:
    """Return the figure as a one-page vector PDF (byte-reproducible).

    Lines, areas and text stay vector paths (text in matplotlib's default Type 3 subset of DejaVu Sans, drawn
    from glyph outlines, so it prints sharp at any size; TrueType embedding would cost about 0.25 s per figure
    in font subsetting). ``CreationDate`` is dropped, so two runs give identical bytes.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf", metadata={"CreationDate": None})
    return buf.getvalue()


def _figure_svg(fig: Figure) -> bytes:
    """SVG bytes with a fixed id salt and no date, so two runs give identical bytes."""
    from matplotlib import rc_context

    buf = io.BytesIO()
    with rc_context({"svg.hashsalt": "eventstudy"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path, *, dpi: int = DPI) -> Path:
    """Save a figure as byte-reproducible PNG, PDF or SVG, by the suffix of ``path``.

    Parameters
    ----------
    fig
        The figure.
    path
        Output file, ending in ``.png``, ``.pdf`` or ``.svg``; its folder is created when missing.
    dpi
        Resolution of a PNG (fixed, so the bytes do not depend on ``rcParams["savefig.dpi"]``).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InputError
        For another suffix.
    """
    out = Path(path)
    writers = {".png": lambda f: figure_png(f, dpi=dpi), ".pdf": figure_pdf, ".svg": _figure_svg}
    suffix = out.suffix.lower()
    if suffix not in writers:
        raise InputError(
            f"cannot save a figure as {out.name!r}: give a file name ending in .png, .pdf or .svg",
            parameter="path",
            value=str(out),
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(writers[suffix](fig))
    return out
