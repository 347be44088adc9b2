"""From observed rows to aligned (events x days) return arrays (``docs/methods.md`` §2–§3).

Returns are computed per ticker on its own dates, paired with its benchmark on the dates both have a
close (``alignment="common"``, the default), so both returns always span the same interval; with
``alignment="date"`` each series' returns are computed on its own dates and the two are inner-joined on
the date (estudy2's ``multi_day = TRUE``). Event time counts rows of that aligned series: τ = 0 is the
first aligned row on or after the ticker's day 0, and the estimation and event windows are gathered by
position with one fancy-indexing step per (ticker, benchmark) pair of series, so the work grows with the
number of series, not with the number of events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from eventstudy import _kernels as kn
from eventstudy._frozen import frame_fields, freeze_arrays
from eventstudy._typing import BoolArray, FloatArray, IntArray, Window
from eventstudy.data.series import PriceSeries
from eventstudy.symbols import is_fx

ReturnType = Literal["simple", "log"]
Alignment = Literal["common", "date"]
ALIGNMENTS: tuple[str, ...] = ("common", "date")


@dataclass(frozen=True, eq=False)
class AlignedReturns:
    """A ticker's returns paired with its benchmark's over identical intervals.

    Attributes
    ----------
    dates : (T,) datetime64[ns]
        End date of each return interval (exchange-local).
    returns, market : (T,)
        Ticker and benchmark returns over the same intervals.
    span : (T,)
        Number of the ticker's own observed rows each return covers (1 normally; > 1 under
        ``alignment="common"`` when the benchmark has no row on a day the ticker traded, so the return runs
        across it; always 1 under ``alignment="date"`` and for supplied returns).
    zero_volume : (T,)
        True where the ticker's row has Volume 0 (kept by default, flagged; ``../shared/docs/DATA.md`` §5).
    """

    dates: np.ndarray
    returns: FloatArray
    market: FloatArray
    span: IntArray
    zero_volume: BoolArray


def _to_returns(values: FloatArray, return_type: ReturnType) -> FloatArray:
    ratio = values[1:] / values[:-1]
    return np.log(ratio) if return_type == "log" else ratio - 1.0


def align(
    ticker: PriceSeries, benchmark: PriceSeries, return_type: ReturnType, alignment: Alignment = "common"
) -> AlignedReturns:
    """Pair a ticker with its benchmark (``docs/methods.md`` §2.2).

    Parameters
    ----------
    ticker, benchmark
        Observed rows of the two symbols.
    return_type
        ``"simple"``: P_t / P_prev - 1; ``"log"``: ln(P_t / P_prev). Supplied simple returns r become
        ln(1 + r) under ``"log"``.
    alignment
        ``"common"`` (default): keep the dates on which both have a close and compute both returns
        between consecutive kept dates, so the two returns cover the same interval. ``"date"``: each
        series' returns on its own dates (a return runs across a missing price of that series), inner-
        joined on the date; where one series skipped a day the two intervals differ. This is estudy2's
        ``multi_day = TRUE`` and equals ``"common"`` when both series have the same dates.

    Notes
    -----
    User-supplied returns (``kind="return"``) cannot be re-based, so they are always joined on the date
    (a price series on the other side is turned into returns on its own dates first).
    """
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if alignment == "common" and ticker.kind == "price" and benchmark.kind == "price":
        common, t_idx, b_idx = np.intersect1d(
            ticker.dates.values, benchmark.dates.values, assume_unique=True, return_indices=True
        )
        returns = _to_returns(ticker.values[t_idx], return_type)
        market = _to_returns(benchmark.values[b_idx], return_type)
        return AlignedReturns(
            common[1:], returns, market, np.diff(t_idx).astype(np.int64), _zero_volume(ticker, t_idx[1:])
        )
    t_dates, t_ret, t_rows = _own_returns(ticker, return_type)
    b_dates, b_ret, _ = _own_returns(benchmark, return_type)
    common, t_idx, b_idx = np.intersect1d(t_dates, b_dates, assume_unique=True, return_indices=True)
    return AlignedReturns(
        common, t_ret[t_idx], b_ret[b_idx], np.ones(len(common), dtype=np.int64), _zero_volume(ticker, t_rows[t_idx])
    )


def _own_returns(series: PriceSeries, return_type: ReturnType) -> tuple[np.ndarray, FloatArray, IntArray]:
    """Returns on the series' own dates, with the row index of each return's end date."""
    rows = np.arange(len(series.dates))
    if series.kind == "return":
        values = np.log1p(series.values) if return_type == "log" else series.values
        return series.dates.values, values, rows
    return series.dates.values[1:], _to_returns(series.values, return_type), rows[1:]


def _zero_volume(series: PriceSeries, rows: IntArray) -> BoolArray:
    """Volume-0 flag of the given rows; never for FX (``=X``), whose volume is always 0."""
    if series.volume is None or is_fx(series.symbol):
        return np.zeros(len(rows), dtype=bool)
    return series.volume[rows] == 0


@frame_fields("pairs")
@dataclass(frozen=True, eq=False)
class ReturnPanel:
    """Aligned returns of N firm-events on their estimation and event windows.

    Row i of every array belongs to row i of ``pairs``. Missing days are NaN (NaT for dates). The panel is
    immutable: its arrays are read-only (also those of :meth:`take`) and ``pairs`` returns a copy on every
    read (``eventstudy._frozen``).

    Attributes
    ----------
    pairs : DataFrame
        event_id, ticker, benchmark, day_zero, aligned_day_zero (the date at τ = 0 of the aligned series).
    estimation_days, event_days : (L,), (W,)
        Relative days of the two windows.
    est_returns, est_market : (N, L)
    est_dates : (N, L) datetime64[D]
    est_bench_own : (N, L) or None
        The benchmark's own returns on the estimation window, counted back from τ = 0 on the
        benchmark's **own** return series (not the aligned one), so it includes days on which the ticker
        has no return. Used by ``fec_moments = "index_window"`` (``docs/methods.md`` §8.2). None for panels
        built by hand without it.
    evt_returns, evt_market : (N, W)
    evt_dates : (N, W) datetime64[ns]
    evt_span : (N, W)
        Rows of the ticker's own series each event-window return spans (0 where missing).
    evt_zero_volume : (N, W)
        Volume-0 flag of the event-window rows.
    """

    pairs: pd.DataFrame
    estimation_days: IntArray
    event_days: IntArray
    est_returns: FloatArray
    est_market: FloatArray
    est_dates: np.ndarray
    evt_returns: FloatArray
    evt_market: FloatArray
    evt_dates: np.ndarray
    evt_span: IntArray
    evt_zero_volume: BoolArray
    est_bench_own: FloatArray | None = None

    def __post_init__(self) -> None:
        freeze_arrays(self)

    def __len__(self) -> int:
        return len(self.pairs)

    def take(self, rows: IntArray) -> ReturnPanel:
        """Sub-panel of the given rows (used to drop excluded firm-events)."""
        return ReturnPanel(
            pairs=self.pairs.iloc[rows].reset_index(drop=True),
            estimation_days=self.estimation_days,
            event_days=self.event_days,
            est_returns=self.est_returns[rows],
            est_market=self.est_market[rows],
            est_dates=self.est_dates[rows],
            evt_returns=self.evt_returns[rows],
            evt_market=self.evt_market[rows],
            evt_dates=self.evt_dates[rows],
            evt_span=self.evt_span[rows],
            evt_zero_volume=self.evt_zero_volume[rows],
            est_bench_own=None if self.est_bench_own is None else self.est_bench_own[rows],
        )


def _gather(values: np.ndarray, positions: IntArray, fill: object) -> np.ndarray:
    """``values[positions]`` with ``fill`` where a position falls outside the series."""
    if len(values) and positions.size and positions.min() >= 0 and positions.max() < len(values):
        return values[positions]  # the usual case: the whole window lies inside the series
    inside = (positions >= 0) & (positions < len(values))
    out = (
        values[np.clip(positions, 0, max(len(values) - 1, 0))]
        if len(values)
        else np.empty(positions.shape, values.dtype)
    )
    return np.where(inside, out, np.asarray(fill, dtype=out.dtype))


def build_panel(
    pairs: pd.DataFrame,
    series: Mapping[str, PriceSeries],
    estimation_window: Window,
    event_window: Window,
    return_type: ReturnType = "simple",
    alignment: Alignment = "common",
    bench_own: bool = False,
) -> tuple[ReturnPanel, pd.DataFrame]:
    """Gather estimation and event-window returns for every (event, ticker) pair.

    Parameters
    ----------
    pairs
        One row per firm-event with columns event_id, ticker, benchmark, day_zero (exchange-local date
        on the ticker's own rows). Both symbols must be present in ``series``.
    series
        Loaded rows by symbol.
    estimation_window, event_window
        Inclusive relative-day windows, counted in rows of the aligned series (``docs/methods.md`` §3).
    return_type
        ``"simple"`` or ``"log"``.
    alignment
        ``"common"`` or ``"date"`` (:func:`align`; the conventions' ``alignment`` knob).
    bench_own
        Also gather the benchmark's own estimation-window returns (``est_bench_own``), needed for
        ``fec_moments = "index_window"``; off by default to save an (N x L) array.

    Returns
    -------
    panel, exclusions
        The panel holds the pairs that have an aligned row on or after day 0; ``exclusions`` lists the
        others (columns event_id, ticker, stage, reason). ``pairs`` gains ``aligned_day_zero`` and a
        ``note`` when τ = 0 had to move because the benchmark has no row on day 0.
    """
    est_days = np.arange(estimation_window[0], estimation_window[1] + 1)
    evt_days = np.arange(event_window[0], event_window[1] + 1)
    n = len(pairs)
    est_returns = np.full((n, len(est_days)), np.nan)
    est_market = np.full_like(est_returns, np.nan)
    est_dates = np.full(est_returns.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    est_bench_own = np.full_like(est_returns, np.nan) if bench_own else None
    evt_returns = np.full((n, len(evt_days)), np.nan)
    evt_market = np.full_like(evt_returns, np.nan)
    evt_dates = np.full(evt_returns.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    evt_span = np.zeros(evt_returns.shape, dtype=np.int64)
    evt_zero = np.zeros(evt_returns.shape, dtype=bool)
    aligned_day0 = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    notes = np.full(n, "", dtype=object)
    keep = np.ones(n, dtype=bool)
    reasons = np.full(n, "", dtype=object)

    day_zero = np.asarray(pd.to_datetime(pairs["day_zero"]).to_numpy(), dtype="datetime64[ns]")
    pair_codes, pair_keys = pd.factorize(pd.MultiIndex.from_frame(pairs[["ticker", "benchmark"]]))
    order, bounds = kn.group_rows(pair_codes, len(pair_keys))
    own_cache: dict[str, tuple[np.ndarray, FloatArray]] = {}
    for g, key in enumerate(pair_keys):
        ticker, benchmark = cast(tuple[str, str], key)
        rows = order[bounds[g] : bounds[g + 1]]
        aligned = align(series[ticker], series[benchmark], return_type, alignment)
        pos0 = np.searchsorted(aligned.dates, day_zero[rows], side="left")
        missing = pos0 >= len(aligned.dates)
        keep[rows[missing]] = False
        reasons[rows[missing]] = f"no common {ticker}/{benchmark} return on or after day 0"
        ok_rows = rows[~missing]
        pos0 = pos0[~missing]
        a0 = aligned.dates[pos0]
        aligned_day0[ok_rows] = a0
        moved = a0 != day_zero[ok_rows]
        notes[ok_rows[moved]] = f"{benchmark} has no row on day 0; tau = 0 moved to the next common row"
        est_pos = pos0[:, None] + est_days[None, :]
        evt_pos = pos0[:, None] + evt_days[None, :]
        est_returns[ok_rows] = _gather(aligned.returns, est_pos, np.nan)
        est_market[ok_rows] = _gather(aligned.market, est_pos, np.nan)
        est_dates[ok_rows] = _gather(aligned.dates.astype("datetime64[D]"), est_pos, np.datetime64("NaT"))
        if est_bench_own is not None:
            if benchmark not in own_cache:
                b_dates, b_ret, _ = _own_returns(series[benchmark], return_type)
                own_cache[benchmark] = (b_dates, b_ret)
            b_dates, b_ret = own_cache[benchmark]
            # τ = 0 is an aligned date, hence one of the benchmark's own return dates
            b_pos0 = np.searchsorted(b_dates, a0, side="left")
            est_bench_own[ok_rows] = _gather(b_ret, b_pos0[:, None] + est_days[None, :], np.nan)
        evt_returns[ok_rows] = _gather(aligned.returns, evt_pos, np.nan)
        evt_market[ok_rows] = _gather(aligned.market, evt_pos, np.nan)
        evt_dates[ok_rows] = _gather(aligned.dates, evt_pos, np.datetime64("NaT"))
        evt_span[ok_rows] = _gather(aligned.span, evt_pos, 0)
        evt_zero[ok_rows] = _gather(aligned.zero_volume, evt_pos, False)

    out_pairs = pairs[["event_id", "ticker", "benchmark", "day_zero"]].copy()
    out_pairs["aligned_day_zero"] = aligned_day0
    out_pairs["note"] = notes
    panel = ReturnPanel(
        pairs=out_pairs,
        estimation_days=est_days,
        event_days=evt_days,
        est_returns=est_returns,
        est_market=est_market,
        est_dates=est_dates,
        evt_returns=evt_returns,
        evt_market=evt_market,
        evt_dates=evt_dates,
        evt_span=evt_span,
        evt_zero_volume=evt_zero,
        est_bench_own=est_bench_own,
    )
    exclusions = pd.DataFrame(
        {
            "event_id": pairs["event_id"].to_numpy()[~keep],
            "ticker": pairs["ticker"].to_numpy()[~keep],
            "stage": "returns",
            "reason": reasons[~keep],
        }
    )
    return (panel if keep.all() else panel.take(np.flatnonzero(keep))), exclusions


__all__ = ["ALIGNMENTS", "AlignedReturns", "Alignment", "ReturnPanel", "ReturnType", "align", "build_panel"]
