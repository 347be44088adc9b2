"""Observed daily rows of many symbols as one long columnar table (``PriceTable``).

The study's data path works on this table, not on per-symbol objects: one sorted array of day numbers, one
of values and one of flags for all symbols together, with the rows of symbol ``s`` at
``offsets[s]:offsets[s + 1]``. Calendars, day 0, the pairing of a ticker with its benchmark and the window
gathers are then vectorised operations over all symbols (``numpy.searchsorted`` on the composite key
:meth:`PriceTable.keys`, segment reductions over ``offsets``).

Per-symbol objects (:class:`~eventstudy.data.series.PriceSeries`) remain only at the edges where a source
really is per symbol (a Yahoo download, one CSV file per ticker): :meth:`PriceTable.from_series` stacks them
once. Long sources (a returns file, a Parquet file, a DataFrame) build the table directly with
:meth:`PriceTable.from_long`, with one sort and no per-symbol Python work.

Day numbers are exchange-local calendar dates counted in days since 1970-01-01 (``datetime64[D]`` as int64).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from eventstudy._frozen import freeze_arrays
from eventstudy._typing import BoolArray, FloatArray, IntArray
from eventstudy.data.series import PriceSeries, PriceSource
from eventstudy.errors import PriceSourceError
from eventstudy.symbols import is_fx

PROVENANCE_COLUMNS = ("symbol", "source", "vintage", "price_field", "first_date", "last_date", "rows", "notes")
"""Columns of :attr:`PriceTable.provenance` and of ``provenance.csv``."""

DAY_OFFSET = 1 << 20
"""Added to a day number in :meth:`PriceTable.keys` so that keys of dates before 1970 stay non-negative."""

KEY_STRIDE = 1 << 22
"""Distance between the key ranges of two symbols: ``key = code * KEY_STRIDE + day + DAY_OFFSET``.

Day numbers of the supported dates (1700-01-01 to 2199-12-31, :mod:`eventstudy.data.cleaning`) lie within
(-DAY_OFFSET, KEY_STRIDE - DAY_OFFSET), so keys of different symbols never overlap, and up to 2**41 symbols fit
in an int64.
"""


@dataclass(frozen=True, eq=False)
class PriceTable:
    """Observed daily rows of many symbols, sorted by (symbol code, day).

    Attributes
    ----------
    symbols : tuple of str
        Symbol of each code, e.g. ``("0700.HK", "^HSI")``; code ``s`` is ``symbols[s]``.
    offsets : (S + 1,) int64
        The rows of symbol ``s`` are ``offsets[s]:offsets[s + 1]`` (empty for a symbol without rows).
    day : (n,) int64
        Exchange-local date of each row as days since 1970-01-01, strictly increasing within a symbol.
    value : (n,) float64
        Adjusted close (a price symbol) or the supplied return (a return symbol); finite.
    zero_volume : (n,) bool
        True where the row traded a volume of 0 (never for FX symbols, whose volume is always 0, nor for
        sources without volume).
    is_return : (S,) bool
        True for a symbol whose values are supplied returns rather than prices.
    provenance : DataFrame
        One row per symbol with a row in the table, columns :data:`PROVENANCE_COLUMNS` (source, vintage,
        price field, first and last date, number of rows, cleaning notes).

    Notes
    -----
    The arrays are read-only. A table is built once per study; every later step indexes into it.
    """

    symbols: tuple[str, ...]
    offsets: IntArray
    day: IntArray
    value: FloatArray
    zero_volume: BoolArray
    is_return: BoolArray
    provenance: pd.DataFrame

    def __post_init__(self) -> None:
        n_symbols = len(self.symbols)
        if self.offsets.shape != (n_symbols + 1,) or self.is_return.shape != (n_symbols,):
            raise ValueError(
                f"PriceTable: {n_symbols} symbols need offsets of length {n_symbols + 1} and is_return of length "
                f"{n_symbols}, got {self.offsets.shape} and {self.is_return.shape}"
            )
        n = int(self.offsets[-1]) if n_symbols else 0
        if not (self.day.shape == self.value.shape == self.zero_volume.shape == (n,)):
            raise ValueError(f"PriceTable: offsets end at row {n} but the row arrays differ in length")
        freeze_arrays(self)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_series(cls, series: Iterable[PriceSeries]) -> PriceTable:
        """Stack per-symbol series (from a per-symbol source) into one table, in the order given."""
        items = list(series)
        lengths = np.array([len(s) for s in items], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        day = _concat([s.dates.values.astype("datetime64[D]").astype(np.int64) for s in items], np.int64)
        value = _concat([s.values for s in items], np.float64)
        zero = _concat([_zero_volume(s) for s in items], np.bool_)
        return cls(
            symbols=tuple(s.symbol for s in items),
            offsets=offsets,
            day=day,
            value=value,
            zero_volume=zero,
            is_return=np.array([s.kind == "return" for s in items], dtype=bool),
            provenance=provenance_of_series(items),
        )

    @classmethod
    def from_long(
        cls,
        symbols: Sequence[str],
        codes: IntArray,
        day: IntArray,
        value: FloatArray,
        *,
        zero_volume: BoolArray | None = None,
        is_return: BoolArray | None = None,
        provenance: pd.DataFrame | None = None,
    ) -> PriceTable:
        """Build a table from long rows in any order: one stable sort on (code, day), no per-symbol loop.

        Parameters
        ----------
        symbols
            Symbol of each code.
        codes, day, value : (n,)
            Symbol code, day number (days since 1970-01-01) and value of each row.
        zero_volume : (n,), optional
            Volume-0 flags (all False when None).
        is_return : (S,), optional
            Per symbol, whether the values are returns (all False: prices, when None).
        provenance : DataFrame, optional
            Columns :data:`PROVENANCE_COLUMNS`; when None, built with an empty source and notes.

        Raises
        ------
        ValueError
            When a symbol has two rows on one day (sources remove duplicates before building the table,
            with a note or an error naming the file and line).
        """
        codes = np.asarray(codes, dtype=np.int64)
        day = np.asarray(day, dtype=np.int64)
        keys = codes * KEY_STRIDE + day + DAY_OFFSET
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
            dup = int(np.flatnonzero(keys[1:] == keys[:-1])[0])
            code, d = divmod(int(keys[dup]) - DAY_OFFSET, KEY_STRIDE)
            raise ValueError(f"PriceTable: {symbols[code]} has two rows on {np.datetime64(d, 'D')}")
        counts = np.bincount(codes, minlength=len(symbols)).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        zero = np.zeros(len(day), dtype=bool) if zero_volume is None else np.asarray(zero_volume, dtype=bool)[order]
        flags = np.zeros(len(symbols), dtype=bool) if is_return is None else np.asarray(is_return, dtype=bool)
        sorted_day = day[order]
        if provenance is None:
            provenance = provenance_frame(symbols, offsets, sorted_day, is_return=flags)
        return cls(
            symbols=tuple(symbols),
            offsets=offsets,
            day=sorted_day,
            value=np.asarray(value, dtype=np.float64)[order],
            zero_volume=zero,
            is_return=flags,
            provenance=provenance,
        )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.day)

    @cached_property
    def code_of(self) -> dict[str, int]:
        """Code of each symbol."""
        return {symbol: code for code, symbol in enumerate(self.symbols)}

    @cached_property
    def codes(self) -> IntArray:
        """Symbol code of each row, (n,)."""
        out = np.repeat(np.arange(len(self.symbols), dtype=np.int64), np.diff(self.offsets))
        out.flags.writeable = False
        return out

    @cached_property
    def keys(self) -> IntArray:
        """Sorted composite key of each row, ``code * KEY_STRIDE + day + DAY_OFFSET`` (:func:`row_keys`)."""
        out = row_keys(self.codes, self.day)
        out.flags.writeable = False
        return out

    @cached_property
    def symbol_index(self) -> pd.Index:
        """The symbols as a pandas Index (hash lookups for :meth:`codes_for`)."""
        return pd.Index(self.symbols, dtype=object)

    def codes_for(self, symbols: Sequence[str] | pd.Series | np.ndarray) -> IntArray:
        """Code of each given symbol, -1 for a symbol not in the table.

        One factorisation of the input and one hash lookup per distinct symbol, so a column of 10^6 tickers
        drawn from 10^4 symbols costs a single pass.
        """
        labels, distinct = pd.factorize(np.asarray(symbols, dtype=object))
        found = np.asarray(self.symbol_index.get_indexer(pd.Index(distinct, dtype=object)), dtype=np.int64)
        return np.where(labels >= 0, found[labels] if len(found) else -1, -1).astype(np.int64)

    def rows_of(self, codes: IntArray) -> IntArray:
        """The rows of the given symbols, concatenated in the order of ``codes`` (a repeated code repeats them).

        Symbol ``codes[k]``'s rows come ``row_counts[codes[k]]`` long, one after the other.
        """
        codes = np.asarray(codes, dtype=np.int64)
        starts = self.offsets[codes]
        lengths = self.offsets[codes + 1] - starts
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        return np.arange(total, dtype=np.int64) + np.repeat(starts - ends + lengths, lengths)

    @property
    def row_counts(self) -> IntArray:
        """Number of rows of each symbol, (S,)."""
        return np.diff(self.offsets)

    def lookup(
        self, codes: IntArray, days: IntArray, side: Literal["left", "right"] = "left"
    ) -> tuple[IntArray, BoolArray]:
        """Position of the first row of symbol ``codes[i]`` on or after ``days[i]`` (``side="left"``).

        Returns
        -------
        rows, found
            ``rows[i]`` is a row index into the table; ``found[i]`` is False when the symbol has no row on or
            after that day (``rows[i]`` is then the symbol's end offset). With ``side="right"`` the first row
            strictly after the day.

        Notes
        -----
        A bisection within each symbol's rows (:func:`search_segments`), so no (n,) key array is built.
        """
        codes = np.asarray(codes, dtype=np.int64)
        ends = self.offsets[codes + 1]
        rows = search_segments(self.day, self.offsets[codes], ends, np.asarray(days, dtype=np.int64), side)
        return rows, rows < ends

    def series(self, symbol: str) -> PriceSeries:
        """One symbol's rows as a :class:`PriceSeries` (for per-symbol callers at the edges and in tests)."""
        code = self.code_of[symbol]
        rows = slice(int(self.offsets[code]), int(self.offsets[code + 1]))
        meta = self.provenance.set_index("symbol").loc[symbol] if len(self.provenance) else None
        return PriceSeries(
            symbol=symbol,
            dates=pd.DatetimeIndex(self.day[rows].astype("datetime64[D]")).as_unit("ns"),
            values=self.value[rows],
            kind="return" if self.is_return[code] else "price",
            volume=np.where(self.zero_volume[rows], 0.0, np.nan),
            source="" if meta is None else str(meta["source"]),
            vintage=None if meta is None else (str(meta["vintage"]) or None),
            price_field="return" if self.is_return[code] else ("" if meta is None else str(meta["price_field"])),
            notes=() if meta is None or not str(meta["notes"]) else tuple(str(meta["notes"]).split("; ")),
        )


def load_each(
    source: PriceSource, symbols: Sequence[str], start: dt.date, end: dt.date, *, progress: bool = False
) -> tuple[PriceTable, dict[str, PriceSourceError]]:
    """Load the symbols one by one from a per-symbol source and stack them into one table.

    The edge of the data path for sources that really are per symbol (a Yahoo download, one CSV file per
    ticker): each :meth:`~eventstudy.data.series.PriceSource.load` gives a
    :class:`~eventstudy.data.series.PriceSeries`, and :meth:`PriceTable.from_series` stacks them once.

    Parameters
    ----------
    source
        A per-symbol price source.
    symbols
        The symbols to load, each once, in the order the table keeps.
    start, end
        The calendar dates needed (inclusive), passed to the source.
    progress
        Show a progress bar (on standard error) naming the symbol being loaded.

    Returns
    -------
    table, failed
        The symbols that loaded, in the order given; the :class:`~eventstudy.errors.PriceSourceError` of
        each symbol that did not (never raised).
    """
    loaded: list[PriceSeries] = []
    failed: dict[str, PriceSourceError] = {}
    iterator: Iterable[str] = symbols
    bar = None
    if progress and len(symbols) > 1:
        from tqdm.auto import tqdm

        bar = tqdm(symbols, desc="prices", unit="symbol", file=sys.stderr, leave=False)
        iterator = bar
    for symbol in iterator:
        if bar is not None:
            bar.set_postfix_str(symbol)
        try:
            loaded.append(source.load(symbol, start, end))
        except PriceSourceError as exc:
            failed[symbol] = exc
    if bar is not None:
        bar.close()
    return PriceTable.from_series(loaded), failed


def search_segments(
    values: IntArray, lo: IntArray, hi: IntArray, targets: IntArray, side: Literal["left", "right"] = "left"
) -> IntArray:
    """For each query, the first position in its sorted segment whose value reaches the target.

    Parameters
    ----------
    values : (n,)
        Values sorted within each segment ``values[lo[i]:hi[i]]`` (e.g. the days of one symbol).
    lo, hi : (m,)
        Segment bounds of each query.
    targets : (m,)
        The values searched.
    side
        ``"left"``: the first position with ``values[p] >= targets[i]``; ``"right"``: ``values[p] > targets[i]``.

    Returns
    -------
    (m,) int64
        The position, ``hi[i]`` when no value of the segment reaches the target (as ``numpy.searchsorted``
        within each segment).

    Notes
    -----
    A vectorised bisection: each pass halves every open segment, so about log2(longest segment) passes over
    the queries, and nothing of the size of ``values`` is allocated.
    """
    lo = np.array(lo, dtype=np.int64)
    hi = np.array(hi, dtype=np.int64)
    targets = np.asarray(targets)
    open_ = np.flatnonzero(lo < hi)
    while len(open_):
        a, b = lo[open_], hi[open_]
        mid = (a + b) // 2
        value = values[mid]
        right = value < targets[open_] if side == "left" else value <= targets[open_]
        a = np.where(right, mid + 1, a)
        b = np.where(right, b, mid)
        lo[open_], hi[open_] = a, b
        open_ = open_[a < b]
    return lo


def row_keys(codes: IntArray, days: IntArray) -> IntArray:
    """Composite (symbol, day) keys, ``code * KEY_STRIDE + day + DAY_OFFSET``: sorted by symbol, then day."""
    return np.asarray(codes, dtype=np.int64) * KEY_STRIDE + np.asarray(days, dtype=np.int64) + DAY_OFFSET


def provenance_of_series(series: Sequence[PriceSeries]) -> pd.DataFrame:
    """Provenance rows (:data:`PROVENANCE_COLUMNS`) of per-symbol series, one row each."""
    return pd.DataFrame(
        {
            "symbol": [s.symbol for s in series],
            "source": [s.source for s in series],
            "vintage": [s.vintage or "" for s in series],
            "price_field": [s.price_field for s in series],
            "first_date": pd.DatetimeIndex([s.first_date for s in series], dtype="datetime64[ns]"),
            "last_date": pd.DatetimeIndex([s.last_date for s in series], dtype="datetime64[ns]"),
            "rows": np.array([len(s) for s in series], dtype=np.int64),
            "notes": ["; ".join(s.notes) for s in series],
        },
        columns=list(PROVENANCE_COLUMNS),
    )


def provenance_frame(
    symbols: Sequence[str],
    offsets: IntArray,
    day: IntArray,
    *,
    is_return: BoolArray,
    source: str = "",
    vintage: str = "",
) -> pd.DataFrame:
    """Provenance rows of a long table built in one piece (one source and vintage for every symbol)."""
    counts = np.diff(offsets)
    has = counts > 0
    first = np.where(has, day[np.minimum(offsets[:-1], max(len(day) - 1, 0))] if len(day) else 0, 0)
    last = np.where(has, day[np.maximum(offsets[1:] - 1, 0)] if len(day) else 0, 0)
    nat = np.datetime64("NaT", "ns")
    return pd.DataFrame(
        {
            "symbol": list(symbols),
            "source": source,
            "vintage": vintage,
            "price_field": np.where(is_return, "return", "adj_close"),
            "first_date": np.where(has, first.astype("datetime64[D]").astype("datetime64[ns]"), nat),
            "last_date": np.where(has, last.astype("datetime64[D]").astype("datetime64[ns]"), nat),
            "rows": counts.astype(np.int64),
            "notes": "",
        },
        columns=list(PROVENANCE_COLUMNS),
    )


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)


def _zero_volume(series: PriceSeries) -> BoolArray:
    if series.volume is None or is_fx(series.symbol):
        return np.zeros(len(series), dtype=bool)
    return np.asarray(series.volume == 0, dtype=bool)


__all__ = [
    "DAY_OFFSET",
    "KEY_STRIDE",
    "PROVENANCE_COLUMNS",
    "PriceTable",
    "load_each",
    "provenance_frame",
    "row_keys",
    "search_segments",
]
