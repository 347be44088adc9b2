"""From observed rows to aligned (events x days) return arrays (``docs/methods.md`` §2–§3).

Returns are computed per ticker on its own dates, paired with its benchmark on the dates both have a
close (``alignment="common"``, the default), so both returns always span the same interval; with
``alignment="date"`` each series' returns are computed on its own dates and the two are inner-joined on
the date (estudy2's ``multi_day = TRUE``). Event time counts rows of that aligned series: τ = 0 is the
first aligned row on or after the ticker's day 0, and the estimation and event windows are gathered by
position.

The work is columnar and done in two steps, with no Python loop over pairs, symbols or firm-events:

1. :func:`align_pairs` aligns every distinct (ticker, benchmark) pair of series at once, from the rows of
   a :class:`~eventstudy.data.table.PriceTable`, into one flat :class:`AlignedTable` sorted by (pair,
   day); the benchmarks' own returns are computed once per benchmark;
2. :func:`gather_windows` places τ = 0 for any set of firm-events with one ``searchsorted`` on (pair,
   day) keys and gathers each window as one fancy index into the flat arrays, so a subset of firm-events
   (a chunk) costs only its own rows.

:func:`build_panel` chains the two.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from eventstudy._frozen import frame_fields, freeze_arrays
from eventstudy._typing import BoolArray, FloatArray, IntArray, Window
from eventstudy.calendars import session_counts
from eventstudy.data.table import PriceTable, row_keys, search_segments
from eventstudy.errors import InputError
from eventstudy.symbols import exchange_for

ReturnType = Literal["simple", "log"]
Alignment = Literal["common", "date"]
ALIGNMENTS: tuple[str, ...] = ("common", "date")

_NS_PER_DAY = 86_400_000_000_000
_NAT = np.iinfo(np.int64).min


def _ratio_returns(later: FloatArray, earlier: FloatArray, return_type: ReturnType) -> FloatArray:
    """``later / earlier - 1`` (simple) or ``log(later / earlier)`` (log), elementwise."""
    ratio = later / earlier
    return np.log(ratio) if return_type == "log" else ratio - 1.0


def own_returns(table: PriceTable, rows: IntArray, return_type: ReturnType) -> FloatArray:
    """The return ending at each given row, on its symbol's own series.

    Parameters
    ----------
    table
        Observed rows.
    rows
        Rows of the table, none of them the first row of a price symbol.
    return_type
        ``"simple"``: P_t / P_prev - 1 on consecutive rows of the symbol; ``"log"``: ln(P_t / P_prev).
        Supplied simple returns r are kept, or become ln(1 + r) under ``"log"``.
    """
    value = table.value
    if table.is_return.all():  # one kind of symbol (the usual case): no per-row lookup of the kind
        return np.log1p(value[rows]) if return_type == "log" else value[rows]
    if not table.is_return.any():
        return _ratio_returns(value[rows], value[rows - 1], return_type)
    supplied = table.is_return[table.codes[rows]]
    out = np.empty(len(rows), dtype=np.float64)
    priced = rows[~supplied]
    out[~supplied] = _ratio_returns(value[priced], value[priced - 1], return_type)
    given = value[rows[supplied]]
    out[supplied] = np.log1p(given) if return_type == "log" else given
    return out


@dataclass(frozen=True, eq=False)
class AlignedTable:
    """Aligned returns of G (ticker, benchmark) pairs of series, as one flat table sorted by (pair, day).

    Built by :func:`align_pairs`; read by :func:`gather_windows`. Pair ``g`` owns the rows
    ``offsets[g]:offsets[g + 1]``; its aligned returns, in date order, are the rows ``first[g]:offsets[g + 1]``.
    Under ``"common"`` alignment the row before them (``offsets[g]``, the first common date) starts the
    first return but ends none: it is kept in place (its values are not returns and are never gathered)
    so that the table is built without a compacting copy. The arrays are read-only.

    Attributes
    ----------
    table : PriceTable
        The observed rows the pairs were aligned from (symbol codes refer to it).
    ticker, benchmark : (G,) int64
        Symbol codes of each pair, sorted by (ticker, benchmark).
    offsets : (G + 1,) int64
        Row bounds of each pair.
    first : (G,) int64
        First row of each pair that ends a return (``offsets[g]`` or ``offsets[g] + 1``).
    day : (m,) int64
        End date of each return interval (days since 1970-01-01, exchange-local).
    returns, market : (m,) float64
        Ticker and benchmark returns over the same interval (``"common"``), or each on its own dates
        joined on the end date (``"date"``, and whenever one side holds supplied returns).
    span : (m,) int64
        Number of the ticker's own rows each return covers (1 normally; > 1 under ``"common"`` when the
        benchmark has no row on a day the ticker traded, so the return runs across it).
    zero_volume : (m,) bool
        Volume-0 flag of the ticker's row that ends the interval.
    own_offsets : (S + 1,) int64
        The benchmarks' own returns: those of symbol ``s`` are rows ``own_offsets[s]:own_offsets[s + 1]``
        of ``own_day`` and ``own_returns`` (none for a symbol that is no benchmark).
    own_day : (k,) int64
        End date of each of the benchmarks' own returns.
    own_returns : (k,) float64
        The benchmarks' own returns, on their own consecutive rows (``est_bench_own``).
    return_type : str
        ``"simple"`` or ``"log"``: how every return of the table was computed.
    """

    table: PriceTable
    ticker: IntArray
    benchmark: IntArray
    offsets: IntArray
    first: IntArray
    day: IntArray
    returns: FloatArray
    market: FloatArray
    span: IntArray
    zero_volume: BoolArray
    own_offsets: IntArray
    own_day: IntArray
    own_returns: FloatArray
    return_type: ReturnType = "simple"

    def __post_init__(self) -> None:
        freeze_arrays(self)

    def __len__(self) -> int:
        return len(self.day)

    @property
    def n_returns(self) -> IntArray:
        """Number of aligned returns of each pair, (G,)."""
        return self.offsets[1:] - self.first

    def pair_index(self, tickers: IntArray, benchmarks: IntArray) -> tuple[IntArray, BoolArray]:
        """Index of the pair of each (ticker code, benchmark code), and whether the pair was aligned."""
        n_symbols = len(self.table.symbols)
        keys = self.ticker * n_symbols + self.benchmark
        wanted = np.asarray(tickers, dtype=np.int64) * n_symbols + np.asarray(benchmarks, dtype=np.int64)
        pos = np.searchsorted(keys, wanted)
        found = (pos < len(keys)) & (np.asarray(tickers) >= 0) & (np.asarray(benchmarks) >= 0)
        found[found] = keys[pos[found]] == wanted[found]
        return pos, found

    def pair_frame(self, ticker: str, benchmark: str) -> pd.DataFrame:
        """One pair's aligned rows: date, returns, market, span, zero_volume (for inspection and tests)."""
        code = self.table.codes_for([ticker, benchmark])
        pos, found = self.pair_index(code[:1], code[1:])
        if not found[0]:
            raise KeyError(f"the pair {ticker}/{benchmark} was not aligned")
        rows = slice(int(self.first[pos[0]]), int(self.offsets[pos[0] + 1]))
        return pd.DataFrame(
            {
                "date": self.day[rows].astype("datetime64[D]").astype("datetime64[ns]"),
                "returns": self.returns[rows],
                "market": self.market[rows],
                "span": self.span[rows],
                "zero_volume": self.zero_volume[rows],
            }
        )


def align_pairs(
    table: PriceTable,
    tickers: IntArray,
    benchmarks: IntArray,
    return_type: ReturnType = "simple",
    alignment: Alignment = "common",
) -> AlignedTable:
    """Pair every ticker with its benchmark, all distinct pairs at once (``docs/methods.md`` §2.2).

    Parameters
    ----------
    table
        Observed rows of every symbol.
    tickers, benchmarks : (N,) int64
        Symbol codes (into ``table``) of the pairs to align; repeated pairs are aligned once.
    return_type
        ``"simple"``: P_t / P_prev - 1; ``"log"``: ln(P_t / P_prev). Supplied simple returns r become
        ln(1 + r) under ``"log"``.
    alignment
        ``"common"`` (default): keep the ticker's rows whose date the benchmark also has and compute both
        returns between consecutive kept rows, so the two returns cover the same interval. ``"date"``:
        each series' returns on its own dates (a return runs across a missing price of that series),
        inner-joined on the date; where one series skipped a day the two intervals differ. This is
        estudy2's ``multi_day = TRUE`` and equals ``"common"`` when both series have the same dates.

    Returns
    -------
    AlignedTable

    Raises
    ------
    ValueError
        For an unknown ``alignment`` or a code that is not in ``table``.

    Notes
    -----
    User-supplied returns cannot be re-based, so a pair with a return series on either side is always
    joined on the date (a price series on the other side is turned into returns on its own dates first).

    The pairs' ticker rows are enumerated once (:meth:`~eventstudy.data.table.PriceTable.rows_of`) and
    each is matched to the benchmark's row of the same date by one index into a (benchmark x day) map of
    row numbers (a binary search on (symbol, day) keys when that map would exceed :data:`DENSE_CELLS`).
    Under ``"common"`` the returns are ``v[i] / v[j] - 1`` (or ``log(v[i] / v[j])``) between consecutive
    kept rows i > j of the same pair, the same floating-point operations as on each pair's own arrays, so
    the results do not depend on how the pairs are batched; the span is the difference of the ticker's row
    positions. Work and memory are linear in the ticker rows of the pairs.
    """
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    n_symbols = len(table.symbols)
    tickers = np.asarray(tickers, dtype=np.int64)
    benchmarks = np.asarray(benchmarks, dtype=np.int64)
    if len(tickers) and (min(tickers.min(), benchmarks.min()) < 0 or max(tickers.max(), benchmarks.max()) >= n_symbols):
        raise ValueError("align_pairs: every ticker and benchmark must be a symbol of the price table")
    pair_keys = np.unique(tickers * n_symbols + benchmarks)
    ticker, benchmark = pair_keys // n_symbols, pair_keys % n_symbols
    common = (alignment == "common") & ~table.is_return[ticker] & ~table.is_return[benchmark]
    index = _BenchmarkIndex.of(table, np.unique(benchmark))

    # Blocks of whole pairs of about BLOCK_ROWS ticker rows each: the temporaries of a block stay small (and
    # are reused), the results are written into arrays allocated once.
    lengths = table.row_counts[ticker]
    ends = np.cumsum(lengths)
    cuts = np.flatnonzero(np.diff((ends - lengths) // BLOCK_ROWS)) + 1
    blocks = np.concatenate([[0], cuts, [len(ticker)]]).astype(np.int64)
    total = int(ends[-1]) if len(ends) else 0
    out = _Aligned.empty(total)
    kept = np.zeros(len(ticker), dtype=np.int64)
    at = 0
    for lo, hi in itertools.pairwise(blocks):  # a few blocks per 10^7 rows, not one per pair
        part = slice(int(lo), int(hi))
        kept[part] = _align_block(table, ticker[part], benchmark[part], common[part], index, return_type, out, at)
        at += int(kept[part].sum())
    offsets = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)

    # The benchmarks' own returns, once per benchmark (est_bench_own): every row but the first of a price.
    counts = table.row_counts[index.codes]
    priced = ~table.is_return[index.codes] & (counts > 0)
    own_mask = np.ones(len(index.rows), dtype=bool)
    own_mask[(np.cumsum(counts) - counts)[priced]] = False
    own_rows = index.rows[own_mask]
    own_counts = np.zeros(n_symbols, dtype=np.int64)
    own_counts[index.codes] = counts - priced
    return AlignedTable(
        table=table,
        ticker=ticker,
        benchmark=benchmark,
        offsets=offsets,
        first=offsets[:-1] + (common & (kept > 0)),
        day=out.day[:at],
        returns=out.returns[:at],
        market=out.market[:at],
        span=out.span[:at],
        zero_volume=out.zero_volume[:at],
        own_offsets=np.concatenate([[0], np.cumsum(own_counts)]).astype(np.int64),
        own_day=table.day[own_rows],
        own_returns=own_returns(table, own_rows, return_type),
        return_type=return_type,
    )


BLOCK_ROWS = 1 << 21
"""Ticker rows :func:`align_pairs` aligns at a time (about 2 M: int64 temporaries of 16 MB)."""


@dataclass(frozen=True)
class _Aligned:
    """The output arrays of :func:`align_pairs`, filled block by block."""

    day: IntArray
    returns: FloatArray
    market: FloatArray
    span: IntArray
    zero_volume: BoolArray

    @classmethod
    def empty(cls, n: int) -> _Aligned:
        """Room for ``n`` rows (the ticker rows of all pairs; the rows kept are a prefix)."""
        return cls(
            np.empty(n, dtype=np.int64),
            np.empty(n, dtype=np.float64),
            np.empty(n, dtype=np.float64),
            np.empty(n, dtype=np.int64),
            np.empty(n, dtype=bool),
        )


def _align_block(
    table: PriceTable,
    ticker: IntArray,
    benchmark: IntArray,
    common: BoolArray,
    index: _BenchmarkIndex,
    return_type: ReturnType,
    out: _Aligned,
    at: int,
) -> IntArray:
    """Align a block of pairs into ``out`` from row ``at`` on; returns the number of rows kept per pair."""
    # Every row of every pair's ticker (pair g's at bounds[g]:bounds[g + 1]), with the benchmark's row that day.
    lengths = table.row_counts[ticker]
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    t_row = table.rows_of(ticker)
    day = table.day[t_row]
    b_row = index.find(benchmark, lengths, day)
    keep = b_row >= 0
    # Joined on the date, each side needs a return of its own: not the first row of a price series.
    joined = ~common & (lengths > 0)
    keep[bounds[:-1][joined & ~table.is_return[ticker]]] = False
    last = max(len(table) - 1, 0)
    bench_first_day = table.day[np.minimum(table.offsets[benchmark], last)]
    found_at, found = table.lookup(ticker, bench_first_day)
    on_first = joined & ~table.is_return[benchmark] & found
    on_first &= table.day[np.minimum(found_at, last)] == bench_first_day
    keep[(bounds[:-1] + found_at - table.offsets[ticker])[on_first]] = False
    if not keep.all():
        rows = np.flatnonzero(keep)
        lengths = np.diff(np.searchsorted(rows, bounds)).astype(np.int64)
        t_row, b_row, day = t_row[rows], b_row[rows], day[rows]

    # "common": each kept row but the first of its pair ends a return that starts at the previous kept row
    # (v[i] / v[j] - 1 or log(v[i] / v[j]), computed for every row from two shifted views; the value of the
    # first row of a pair is left unused). "date" and supplied returns: each side's own return that day.
    m = len(t_row)
    where = slice(at, at + m)
    returns, market, span = out.returns[where], out.market[where], out.span[where]
    returns[:1], market[:1], span[:1] = np.nan, np.nan, 1  # every other row is written below
    if common.any() and m > 1:
        for target, rows in ((returns, t_row), (market, b_row)):
            values = table.value[rows]
            with np.errstate(divide="ignore", invalid="ignore"):  # only across two pairs: left unused
                np.divide(values[1:], values[:-1], out=target[1:])
                if return_type == "log":
                    np.log(target[1:], out=target[1:])
                else:
                    np.subtract(target[1:], 1.0, out=target[1:])
        np.subtract(t_row[1:], t_row[:-1], out=span[1:])
    if not common.all():
        own = np.flatnonzero(~np.repeat(common, lengths)) if common.any() else slice(None)
        returns[own] = own_returns(table, t_row[own], return_type)
        market[own] = own_returns(table, b_row[own], return_type)
        span[own] = 1
    out.day[where] = day
    np.take(table.zero_volume, t_row, out=out.zero_volume[where])
    return lengths


DENSE_CELLS = 1 << 25
"""Largest (benchmarks x days) map :func:`align_pairs` builds to find a benchmark's row on a date (32 M cells,
256 MB); above it, a binary search on (symbol, day) keys does the same."""


@dataclass(frozen=True)
class _BenchmarkIndex:
    """The rows of the benchmarks by date, built once per :func:`align_pairs`.

    With few benchmarks (the usual case) a dense (benchmark x day) map of row numbers over the benchmarks'
    dates answers every date with one index; otherwise (:data:`DENSE_CELLS`) each date is searched among
    the benchmarks' sorted (symbol, day) keys. The map spans the benchmarks' own first to last day (not
    the table's, whose every row would be read once per chunk of the engine).
    """

    codes: IntArray  # the benchmarks' symbol codes, sorted
    rows: IntArray  # their rows, benchmark after benchmark
    first: int  # the benchmarks' first day
    width: int  # days from the benchmarks' first to their last day
    cells: IntArray | None  # (len(codes) * width,) row of each (benchmark, day), -1 for none; or None
    keys: IntArray | None  # the rows' sorted (symbol, day) keys, when there is no map

    @classmethod
    def of(cls, table: PriceTable, codes: IntArray) -> _BenchmarkIndex:
        """The index of the benchmarks ``codes`` (sorted, distinct)."""
        rows = table.rows_of(codes)
        days = table.day[rows]
        first = int(days.min()) if len(days) else 0
        width = int(days.max()) - first + 1 if len(days) else 1
        if len(codes) * width > DENSE_CELLS:
            owner = np.repeat(codes, table.row_counts[codes])
            return cls(codes, rows, first, width, None, row_keys(owner, table.day[rows]))
        cells = np.full(len(codes) * width, -1, dtype=np.int64)
        owner = np.repeat(np.arange(len(codes), dtype=np.int64), table.row_counts[codes])
        cells[owner * width + days - first] = rows
        return cls(codes, rows, first, width, cells, None)

    def find(self, benchmark: IntArray, lengths: IntArray, day: IntArray) -> IntArray:
        """Row of the pair's benchmark on each enumerated ticker date, -1 where the benchmark has none.

        ``benchmark`` and ``lengths`` are per pair (its benchmark, its number of dates); ``day`` holds the
        dates pair after pair.
        """
        one = len(self.codes) == 1
        if self.cells is not None:
            offset = day - self.first
            outside = (offset < 0) | (offset >= self.width)  # before or after every benchmark row
            np.clip(offset, 0, self.width - 1, out=offset)
            if not one:
                offset += np.repeat(np.searchsorted(self.codes, benchmark) * self.width, lengths)
            found = self.cells[offset]
            found[outside] = -1
            return found
        keys = self.keys
        if keys is None or not len(keys):
            return np.full(len(day), -1, dtype=np.int64)
        wanted = row_keys(self.codes[0] if one else np.repeat(benchmark, lengths), day)
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        return np.where(keys[at] == wanted, self.rows[at], -1)


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
    regressor_names : tuple of str
        Names of the further series a model may read besides ``"market"`` (factor columns, the risk-free
        rate, ...), attached by :func:`eventstudy.regressors.with_series`.
    est_regressors, evt_regressors : (N, L, q), (N, W, q) or None
        Those series on the estimation and event-window days, NaN where missing (None without any).
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
    regressor_names: tuple[str, ...] = ()
    est_regressors: FloatArray | None = None
    evt_regressors: FloatArray | None = None

    def __post_init__(self) -> None:
        freeze_arrays(self)

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def series_names(self) -> tuple[str, ...]:
        """Every series a model can read from this panel: ``"market"`` (the benchmark) and the regressors."""
        return ("market", *self.regressor_names)

    def series_arrays(self, names: tuple[str, ...]) -> tuple[FloatArray, FloatArray]:
        """The named series on the estimation and event-window days, (N, L, q) and (N, W, q).

        ``"market"`` is the ticker's aligned benchmark return; other names are the attached regressors.
        The market alone is returned as views (no copy).

        Raises
        ------
        InputError
            A name the panel does not hold (the message lists those it holds).
        """
        if names == ("market",):
            return self.est_market[:, :, None], self.evt_market[:, :, None]
        if not names:
            return np.zeros(self.est_returns.shape + (0,)), np.zeros(self.evt_returns.shape + (0,))
        missing = [n for n in names if n not in self.series_names]
        if missing:
            raise InputError(
                f"the model reads the series {', '.join(missing)}, which the returns do not provide (available: "
                f"{', '.join(self.series_names)}); factor models need factor data (--factors PATH or french)",
                parameter="model",
                value=missing[0],
            )
        est = [self.est_market if n == "market" else self._regressor(n, self.est_regressors) for n in names]
        evt = [self.evt_market if n == "market" else self._regressor(n, self.evt_regressors) for n in names]
        return np.stack(est, axis=2), np.stack(evt, axis=2)

    def _regressor(self, name: str, values: FloatArray | None) -> FloatArray:
        assert values is not None
        return values[:, :, self.regressor_names.index(name)]

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
            regressor_names=self.regressor_names,
            est_regressors=None if self.est_regressors is None else self.est_regressors[rows],
            evt_regressors=None if self.evt_regressors is None else self.evt_regressors[rows],
        )


@dataclass(frozen=True)
class _Window:
    """A window of consecutive flat positions per firm-event, and where it leaves the firm-event's pair."""

    start: IntArray  # (n,) first position of each firm-event's window
    length: int
    partial: IntArray  # firm-events whose window leaves the pair's rows [lo, hi) (usually few)
    positions: IntArray  # (len(partial), length) their positions
    outside: BoolArray  # (len(partial), length) where these leave the pair

    @classmethod
    def of(cls, pos0: IntArray, lo: IntArray, hi: IntArray, days: IntArray) -> _Window:
        """The window ``pos0 + days`` of each firm-event (``days`` consecutive), ``[lo, hi)`` its pair's rows."""
        start = pos0 + days[0]
        length = len(days)
        partial = np.flatnonzero((start < lo) | (start + length > hi))
        positions = start[partial, None] + np.arange(length)[None, :]
        outside = (positions < lo[partial, None]) | (positions >= hi[partial, None])
        return cls(start, length, partial, positions, outside)

    def take(self, values: np.ndarray, fill: object) -> np.ndarray:
        """``values`` on each window, ``fill`` outside the pair.

        One copy of ``length`` consecutive values per firm-event, from a strided view (no index array).
        """
        n = len(values)
        if n >= self.length:
            blocks = np.lib.stride_tricks.sliding_window_view(values, self.length)
            out = blocks[np.clip(self.start, 0, n - self.length)]
        else:  # shorter than one window: every window leaves its pair
            out = np.full((len(self.start), self.length), fill, dtype=values.dtype)
        if len(self.partial):
            inside = np.take(values, self.positions, mode="clip") if n else out[self.partial]
            out[self.partial] = np.where(self.outside, np.asarray(fill, dtype=values.dtype), inside)
        return out


def gather_windows(
    aligned: AlignedTable,
    firm_events: pd.DataFrame,
    estimation_window: Window,
    event_window: Window,
    bench_own: bool = False,
    market_shifts: tuple[int, ...] = (),
    spans: bool = False,
    other_market: bool = False,
    extras: tuple[str, ...] = (),
    extra_lags: int = 0,
) -> tuple[ReturnPanel, pd.DataFrame]:
    """Gather estimation and event-window returns of firm-events from their aligned pairs.

    Parameters
    ----------
    aligned
        The aligned pairs (:func:`align_pairs`); every (ticker, benchmark) of ``firm_events`` among them.
    firm_events
        One row per firm-event with columns event_id, ticker, benchmark, day_zero (exchange-local date on
        the ticker's own rows).
    estimation_window, event_window
        Inclusive relative-day windows, counted in rows of the aligned series (``docs/methods.md`` §3).
    bench_own
        Also gather the benchmark's own estimation-window returns (``est_bench_own``), needed for
        ``fec_moments = "index_window"``; off by default to save an (N x L) array.
    market_shifts
        Leads (j > 0) and lags (j < 0) of the aligned benchmark return to attach as regressors
        (:func:`shifted_market_name`: ``market_lag1``, ``market_lead1``, ...): R_m,τ+j on every estimation
        and event-window day, counted in rows of the aligned pair (the previous or next common return
        interval), NaN where the shifted row leaves the pair. Thin-trading models read them (Dimson,
        Scholes-Williams, ``docs/methods.md`` §4.5-4.6).
    other_market
        Also attach :data:`OTHER_MARKET`, the other exchange's index return accumulated over each return
        (:func:`cross_market_returns`), read by the cross-market model.
    extras, extra_lags
        Series (symbols of the table) accumulated over each return like the other market (:func:`extra_name`),
        each also ``1..extra_lags`` rows back (with ``other_market`` only).
    spans
        Also attach the series :data:`SPAN` and :data:`MARKET_SPAN` of :func:`trade_spans` (the sessions each
        return spans and the benchmark's daily returns summed over them), read by the trade-to-trade model
        (``docs/methods.md`` §4.7); off by default, so other models pay nothing.

    Returns
    -------
    panel, exclusions
        The panel holds the firm-events that have an aligned row on or after day 0, in the order given;
        ``exclusions`` lists the others (columns event_id, ticker, stage, reason). The panel's ``pairs``
        gain ``aligned_day_zero`` and a ``note`` when τ = 0 had to move because the benchmark has no row on
        day 0.

    Raises
    ------
    ValueError
        When a firm-event's (ticker, benchmark) is not among the aligned pairs.

    Notes
    -----
    τ = 0 is the first aligned row of the pair on or after day 0, found for all firm-events with one
    ``numpy.searchsorted`` on (pair, day) keys. Each window is one fancy index into the flat aligned
    arrays, valid where the position stays inside the pair's rows (NaN, NaT, 0 or False elsewhere).
    ``est_bench_own`` counts back from τ = 0 on the benchmark's own return series.
    """
    est_days = np.arange(estimation_window[0], estimation_window[1] + 1)
    evt_days = np.arange(event_window[0], event_window[1] + 1)
    tickers = firm_events["ticker"].to_numpy(dtype=object)
    benchmarks = firm_events["benchmark"].to_numpy(dtype=object)
    t_code = aligned.table.codes_for(tickers)
    b_code = aligned.table.codes_for(benchmarks)
    pair, known = aligned.pair_index(t_code, b_code)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise ValueError(f"gather_windows: the pair {tickers[i]}/{benchmarks[i]} was not aligned")

    day_zero = np.asarray(pd.to_datetime(firm_events["day_zero"]).to_numpy(), dtype="datetime64[D]").view(np.int64)
    dated = day_zero != _NAT
    lo, hi = aligned.first[pair], aligned.offsets[pair + 1]
    pos0 = search_segments(aligned.day, lo, hi, np.where(dated, day_zero, 0))
    found = dated & (pos0 < hi)
    ok = np.flatnonzero(found)
    pair, pos0, lo, hi = pair[ok], pos0[ok], lo[ok], hi[ok]
    a0 = aligned.day[pos0] if len(aligned) else np.zeros(0, dtype=np.int64)

    est = _Window.of(pos0, lo, hi, est_days)
    est_returns = est.take(aligned.returns, np.nan)
    est_market = est.take(aligned.market, np.nan)
    est_dates = est.take(aligned.day, _NAT).view("datetime64[D]")
    del est
    est_bench = None
    if bench_own:
        b = b_code[ok]
        own_lo, own_hi = aligned.own_offsets[b], aligned.own_offsets[b + 1]
        own = _Window.of(search_segments(aligned.own_day, own_lo, own_hi, a0), own_lo, own_hi, est_days)
        est_bench = own.take(aligned.own_returns, np.nan)
        del own
    shifted_est, shifted_evt = [], []
    for shift in market_shifts:  # a few (2K) shifts, each one strided gather over all firm-events
        shifted_est.append(_Window.of(pos0, lo, hi, est_days + shift).take(aligned.market, np.nan))
        shifted_evt.append(_Window.of(pos0, lo, hi, evt_days + shift).take(aligned.market, np.nan))
    names = [shifted_market_name(j) for j in market_shifts]
    columns = {
        **(trade_spans(aligned) if spans else {}),
        **(cross_market_returns(aligned, extras) if other_market else {}),
    }
    lagged = {extra_name(symbol): symbol for symbol in extras} if other_market else {}
    for name, values in columns.items():
        for lag in range(1 + (extra_lags if name in lagged else 0)):  # the series, then its lags
            names.append(name if not lag else extra_name(lagged[name], lag))
            shifted_est.append(_Window.of(pos0, lo, hi, est_days - lag).take(values, np.nan))
            shifted_evt.append(_Window.of(pos0, lo, hi, evt_days - lag).take(values, np.nan))
    evt = _Window.of(pos0, lo, hi, evt_days)
    evt_day = evt.take(aligned.day, _NAT)
    evt_dates = np.where(evt_day == _NAT, _NAT, evt_day * _NS_PER_DAY).view("datetime64[ns]")

    out_pairs = firm_events[["event_id", "ticker", "benchmark", "day_zero"]].iloc[ok].reset_index(drop=True)
    out_pairs["aligned_day_zero"] = (a0 * _NS_PER_DAY).view("datetime64[ns]")
    notes = np.full(len(ok), "", dtype=object)
    moved = np.flatnonzero(a0 != day_zero[ok])
    notes[moved] = benchmarks[ok[moved]] + " has no row on day 0; tau = 0 moved to the next common row"
    out_pairs["note"] = notes
    panel = ReturnPanel(
        pairs=out_pairs,
        estimation_days=est_days,
        event_days=evt_days,
        est_returns=est_returns,
        est_market=est_market,
        est_dates=est_dates,
        evt_returns=evt.take(aligned.returns, np.nan),
        evt_market=evt.take(aligned.market, np.nan),
        evt_dates=evt_dates,
        evt_span=evt.take(aligned.span, 0),
        evt_zero_volume=evt.take(aligned.zero_volume, False),
        est_bench_own=est_bench,
        regressor_names=tuple(names),
        est_regressors=np.stack(shifted_est, axis=2) if names else None,
        evt_regressors=np.stack(shifted_evt, axis=2) if names else None,
    )
    dropped = np.flatnonzero(~found)
    exclusions = pd.DataFrame(
        {
            "event_id": firm_events["event_id"].to_numpy()[dropped],
            "ticker": tickers[dropped],
            "stage": "returns",
            "reason": "no common " + tickers[dropped] + "/" + benchmarks[dropped] + " return on or after day 0",
        }
    )
    return panel, exclusions


SPAN = "span"
"""The panel series of the span n_d of each return: sessions of the ticker's exchange it covers (§2.2 step 3)."""

MARKET_SPAN = "market_span"
"""The panel series of the benchmark's daily returns summed over each return's span, R_m,span (§4.7)."""

SPAN_SERIES: tuple[str, ...] = (SPAN, MARKET_SPAN)
"""The series :func:`gather_windows` attaches with ``spans=True``."""


def return_starts(aligned: AlignedTable) -> tuple[IntArray, BoolArray]:
    """The start date of every aligned return (flat, (m,)) and whether it is known.

    The previous kept date of the pair under ``"common"`` alignment; the ticker's own previous row when the pair
    is joined on the date (``"date"``, or supplied returns); unknown (NaT) for the first row of a supplied
    return series. The rows before each common pair's first return hold values that are never gathered.
    """
    table = aligned.table
    m = len(aligned)
    counts = np.diff(aligned.offsets)
    ticker = np.repeat(aligned.ticker, counts)
    start = np.empty(m, dtype=np.int64)
    start[1:] = aligned.day[:-1]
    start[:1] = _NAT
    known = np.ones(m, dtype=bool)
    joined = np.repeat(aligned.first == aligned.offsets[:-1], counts)  # pairs joined on the date
    if joined.any():
        rows, _ = table.lookup(ticker[joined], aligned.day[joined])  # the ticker's row on d
        has_previous = rows > table.offsets[ticker[joined]]
        start[joined] = np.where(has_previous, table.day[np.maximum(rows - 1, 0)], _NAT)
        known[joined] = has_previous
    return start, known


OTHER_MARKET = "other_market"
"""The panel series of the other exchange's index return accumulated over each return (§4.8)."""

US_EXCHANGES: frozenset[str] = frozenset({"XNYS", "XNAS", "XASE", "ARCX", "BATS", "OTC"})
"""Exchanges (MICs) whose tickers take the Hang Seng as the other market; every other ticker takes the S&P 500."""


def other_index(ticker: str) -> str:
    """The other market's index of a ticker: ``^HSI`` for a US listing (ADRs), ``^GSPC`` for any other listing."""
    return "^HSI" if exchange_for(ticker) in US_EXCHANGES else "^GSPC"


def extra_name(symbol: str, lag: int = 0) -> str:
    """The panel series of an extra regressor's accumulated return (``extra:KWEB``), ``lag`` rows back (``:lag1``)."""
    return f"extra:{symbol}" + (f":lag{lag}" if lag else "")


def cross_market_returns(aligned: AlignedTable, extras: tuple[str, ...] = ()) -> dict[str, FloatArray]:
    """The other market's index, and any extra series, accumulated over every aligned return (flat, (m,) each).

    :data:`OTHER_MARKET` takes each ticker's other index (:func:`other_index`); each symbol of ``extras`` (an FX
    rate, a sector index) becomes the series :func:`extra_name` for every ticker. See :func:`accumulated_returns`
    (``docs/methods.md`` §4.8).
    """
    out = {OTHER_MARKET: accumulated_returns(aligned, other_index)}
    for symbol in extras:
        out[extra_name(symbol)] = accumulated_returns(aligned, functools.partial(_same_symbol, symbol))
    return out


def _same_symbol(symbol: str, _ticker: str) -> str:
    """``symbol``, whatever the ticker (the series of an extra regressor)."""
    return symbol


def accumulated_returns(aligned: AlignedTable, symbol_for: Callable[[str], str]) -> FloatArray:
    """Another series' return accumulated over every aligned return of each ticker (flat, (m,)).

    Each return of a ticker runs from the close of its start date (:func:`return_starts`) to the close of its
    date on the ticker's exchange; the series ``symbol_for(ticker)`` enters as its session returns compounded
    over its sessions closing in that interval (:func:`eventstudy.crossmarket.accumulated_over`: 0.0 when it did
    not trade, NaN when a session in the interval has no data row). Close instants come from both exchanges'
    calendars (half days included; FX on the 24/5 calendar), never from a calendar-date join. A series of the
    ticker's own exchange therefore gives its own return over the same sessions. NaN where the ticker or the
    series has no known exchange, the series has no rows, or a date is not a session of its calendar. The work is
    one vectorised pass per (ticker exchange, series) combination (a handful).
    """
    from eventstudy.calendars import _arrays_for
    from eventstudy.crossmarket import accumulated_over

    table = aligned.table
    counts = np.diff(aligned.offsets)
    start, known = return_starts(aligned)
    out = np.full(len(aligned), np.nan)
    codes, pair_ticker = np.unique(aligned.ticker, return_inverse=True)
    symbols = [table.symbols[c] for c in codes]
    exchanges = np.array([exchange_for(t) or "" for t in symbols], dtype=object)
    others = np.array([symbol_for(t) for t in symbols], dtype=object)
    row_exchange = np.repeat(exchanges[pair_ticker], counts)
    row_other = np.repeat(others[pair_ticker], counts)
    for exchange, index in sorted(set(zip(exchanges, others, strict=True))):  # a handful of combinations
        code = int(table.codes_for([index])[0])
        index_exchange = exchange_for(index)
        rows = np.flatnonzero((row_exchange == exchange) & (row_other == index) & known & (start != _NAT))
        if not exchange or code < 0 or index_exchange is None or not len(rows) or table.row_counts[code] < 2:
            continue
        own_sessions, own_closes, _ = _arrays_for(exchange, pd.Timestamp(int(start[rows].min()), unit="D"))
        begin = _close_of(own_sessions, own_closes, start[rows])
        end = _close_of(own_sessions, own_closes, aligned.day[rows])
        index_rows = table.rows_of(np.array([code]))[1:]  # every row but the first ends a return
        index_days = table.day[index_rows] * _NS_PER_DAY
        sessions, closes, _ = _arrays_for(index_exchange, pd.Timestamp(int(index_days.min())))
        on_sessions = np.full(len(sessions), np.nan)
        at = np.searchsorted(sessions, index_days)
        valid = (at < len(sessions)) & (sessions[np.minimum(at, len(sessions) - 1)] == index_days)
        on_sessions[at[valid]] = own_returns(table, index_rows[valid], aligned.return_type)
        values, _ = accumulated_over(begin, end, closes, on_sessions, log=aligned.return_type == "log")
        out[rows] = np.where(np.isnan(begin) | np.isnan(end), np.nan, values)
    return out


def in_us_dollars(aligned: AlignedTable, fx_of: Mapping[str, str]) -> AlignedTable:
    """The aligned table with the returns of the tickers of ``fx_of`` converted to US dollars (§4.8).

    ``fx_of`` maps a ticker to the FX series quoting its currency per US dollar (``HKD=X``: HKD per USD). The FX
    return is accumulated over each of the ticker's return intervals like the other market
    (:func:`accumulated_returns`, FX on its 24/5 calendar), and the return in dollars is
    (1 + R_local) / (1 + R_quote) - 1 = (1 + R_local)(1 + R_FX) - 1 with R_FX the dollar return of one unit of the
    local currency (log returns: r_local - r_quote). An interval without FX data gives a missing return. The
    benchmark is not converted.
    """
    quote = accumulated_returns(aligned, lambda ticker: fx_of.get(ticker, ""))
    counts = np.diff(aligned.offsets)
    converted = np.isin(np.repeat(aligned.ticker, counts), aligned.table.codes_for(list(fx_of)))
    if aligned.return_type == "log":
        dollars = aligned.returns - quote
    else:
        dollars = (1.0 + aligned.returns) / (1.0 + quote) - 1.0
    return replace(aligned, returns=np.where(converted, dollars, aligned.returns))


def _close_of(sessions: np.ndarray, closes: np.ndarray, days: IntArray) -> FloatArray:
    """UTC close (ns, as float with NaN) of each day (days since the epoch) that is a session; NaN otherwise."""
    ns = days * _NS_PER_DAY
    at = np.clip(np.searchsorted(sessions, ns), 0, max(len(sessions) - 1, 0))
    found = (days != _NAT) & (sessions[at] == ns)
    return np.where(found, closes[at].astype(np.float64), np.nan)


def trade_spans(aligned: AlignedTable) -> dict[str, FloatArray]:
    """The span n_d of every aligned return and the benchmark's daily returns summed over it (flat, (m,) each).

    Each return of a pair runs from its start date (the previous kept date of the pair under ``"common"``
    alignment; the ticker's own previous row when the pair is joined on the date, ``"date"`` or supplied
    returns) to its date d (``docs/methods.md`` §2.2 step 3, §4.7):

    - :data:`SPAN`: n_d = the number of sessions of the ticker's exchange in (start, d]
      (:func:`eventstudy.calendars.session_counts`, at least 1: a row on a day the calendar does not know
      still ends one trading day). A ticker without a known exchange (:func:`eventstudy.symbols.exchange_for`
      is None), or an interval outside its calendar's range, gets the number of the ticker's own rows the
      return covers instead (``AlignedTable.span``: 1 unless the benchmark lacked rows the ticker has), which
      cannot see days on which the ticker has no row at all.
    - :data:`MARKET_SPAN`: R_m,span = Σ R_ms over the benchmark's own daily returns (``own_day``,
      ``own_returns``) dated in (start, d], from one cumulative sum and two binary searches per return.
      Simple returns are summed, not compounded (Maynes and Rumsey 1993); with log returns the sum is the
      log return over the interval.

    Both are NaN where the start is unknown (the first row of a supplied return series) or the benchmark's
    rows begin after the start (its summed return would miss days). The rows before each common pair's first
    return (``AlignedTable.first``) hold values that are never gathered.
    """
    table = aligned.table
    counts = np.diff(aligned.offsets)
    benchmark = np.repeat(aligned.benchmark, counts)
    start, known = return_starts(aligned)
    bench_first = table.day[np.minimum(table.offsets[benchmark], max(len(table) - 1, 0))]
    known &= start >= bench_first

    span = aligned.span.astype(np.float64)  # rows spanned: the fallback without a calendar
    codes, pair_ticker = np.unique(aligned.ticker, return_inverse=True)
    exchanges = np.array([exchange_for(table.symbols[c]) or "" for c in codes], dtype=object)  # per ticker
    row_exchange = np.repeat(exchanges[pair_ticker], counts)
    for exchange in sorted(set(exchanges) - {""}):  # a few exchanges, each one vectorised search
        rows = np.flatnonzero((row_exchange == exchange) & known)
        sessions, covered = session_counts(exchange, start[rows], aligned.day[rows])
        span[rows] = np.where(covered, np.maximum(sessions, 1), span[rows])

    own = np.where(np.isfinite(aligned.own_returns), aligned.own_returns, 0.0)
    total = np.concatenate([[0.0], np.cumsum(own)])
    gaps = np.concatenate([[0], np.cumsum(~np.isfinite(aligned.own_returns))])
    lo, hi = aligned.own_offsets[benchmark], aligned.own_offsets[benchmark + 1]
    begin = search_segments(aligned.own_day, lo, hi, np.where(known, start, 0), "right")
    end = search_segments(aligned.own_day, lo, hi, aligned.day, "right")
    market_span = total[end] - total[begin]
    market_span[gaps[end] > gaps[begin]] = np.nan
    span[~known] = np.nan
    market_span[~known] = np.nan
    return {SPAN: span, MARKET_SPAN: market_span}


def shifted_market_name(shift: int) -> str:
    """The series name of the benchmark return ``shift`` rows later: ``market_lead1`` (+1), ``market_lag2`` (-2)."""
    if shift == 0:
        return "market"
    return f"market_lead{shift}" if shift > 0 else f"market_lag{-shift}"


def market_shift_of(name: str) -> int | None:
    """The shift of a :func:`shifted_market_name`, or None for any other series name."""
    for prefix, sign in (("market_lead", 1), ("market_lag", -1)):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            return sign * int(name[len(prefix) :])
    return None


def build_panel(
    pairs: pd.DataFrame,
    table: PriceTable,
    estimation_window: Window,
    event_window: Window,
    return_type: ReturnType = "simple",
    alignment: Alignment = "common",
    bench_own: bool = False,
) -> tuple[ReturnPanel, pd.DataFrame]:
    """Gather estimation and event-window returns for every (event, ticker) pair.

    :func:`align_pairs` on the distinct (ticker, benchmark) pairs, then :func:`gather_windows`.

    Parameters
    ----------
    pairs
        One row per firm-event with columns event_id, ticker, benchmark, day_zero (exchange-local date
        on the ticker's own rows). Both symbols must be in ``table``.
    table
        Observed rows of every symbol.
    estimation_window, event_window
        Inclusive relative-day windows, counted in rows of the aligned series (``docs/methods.md`` §3).
    return_type
        ``"simple"`` or ``"log"``.
    alignment
        ``"common"`` or ``"date"`` (:func:`align_pairs`; the conventions' ``alignment`` knob).
    bench_own
        Also gather the benchmark's own estimation-window returns (``est_bench_own``).

    Returns
    -------
    panel, exclusions
        As :func:`gather_windows`.

    Raises
    ------
    ValueError
        When a ticker or benchmark is not in ``table``, or for an unknown ``alignment``.
    """
    tickers = table.codes_for(pairs["ticker"])
    benchmarks = table.codes_for(pairs["benchmark"])
    if (tickers < 0).any() or (benchmarks < 0).any():
        i = int(np.flatnonzero((tickers < 0) | (benchmarks < 0))[0])
        missing = pairs["ticker"].iloc[i] if tickers[i] < 0 else pairs["benchmark"].iloc[i]
        raise ValueError(f"build_panel: {missing} has no rows in the price table")
    aligned = align_pairs(table, tickers, benchmarks, return_type, alignment)
    return gather_windows(aligned, pairs, estimation_window, event_window, bench_own)


__all__ = [
    "ALIGNMENTS",
    "MARKET_SPAN",
    "OTHER_MARKET",
    "SPAN",
    "SPAN_SERIES",
    "AlignedTable",
    "Alignment",
    "ReturnPanel",
    "ReturnType",
    "accumulated_returns",
    "align_pairs",
    "build_panel",
    "cross_market_returns",
    "extra_name",
    "gather_windows",
    "in_us_dollars",
    "market_shift_of",
    "other_index",
    "own_returns",
    "return_starts",
    "shifted_market_name",
    "trade_spans",
]
