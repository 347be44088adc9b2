"""User-supplied returns: :class:`ReturnsFrame` (a long DataFrame) and :class:`ReturnsFile` (a long CSV).

Both hold simple returns in the long layout ``date, ticker, return`` (CRSP style) and implement
:class:`~eventstudy.data.series.PriceSource` with ``kind="return"``: ``load(symbol, start, end)`` returns
every return row of the ticker and raises :class:`~eventstudy.errors.PriceSourceError` for an unknown
ticker; ``load_table(symbols, start, end)`` returns the rows of many tickers at once as one
:class:`~eventstudy.data.table.PriceTable` (no per-ticker object) and the failures. Bad input raises
:class:`~eventstudy.errors.InputError` naming the row (or the file, line and column). Missing days are not
filled.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data.cleaning import RowProblem, order_rows, parse_dates, parse_values, units_problem
from eventstudy.data.csv_files import file_vintage, read_cells, read_header
from eventstudy.data.series import PriceSeries
from eventstudy.data.table import PriceTable, provenance_frame
from eventstudy.errors import InputError, PriceSourceError, ReturnUnitsWarning

_NS_PER_DAY = 86_400_000_000_000


class ReturnsFrame:
    """User-supplied simple returns held in memory, in long layout ``date, ticker, return``.

    Parameters
    ----------
    frame
        A long DataFrame with columns ``date`` (datetime64, ISO text or ``YYYYMMDD`` integers/text; a
        ``date`` index is accepted too), ``ticker`` and ``return`` (simple returns as decimals, 0.01 = 1 %).
        Column names are matched case-insensitively; other columns are ignored.
    description
        Name used in reports and error messages.

    Raises
    ------
    InputError
        Missing columns, missing, unparsable or out-of-range dates, missing tickers, non-numeric or
        infinite returns, returns <= -1 or above ``MAX_RETURN`` (100, i.e. +10,000 %), or a duplicate
        (date, ticker) pair; ``line`` is None and the message names the row.

    Warns
    -----
    ReturnUnitsWarning
        When the returns look like percent, or one of them is a gain of more than 100 % in a day (the rule
        of :func:`eventstudy.data.cleaning.units_problem`); the warning names the first row concerned.

    Notes
    -----
    Cells follow the rules of :mod:`eventstudy.data.cleaning`. Construction is vectorised (one
    factorisation of the tickers, one stable sort by (ticker, date)); each ticker's rows are a contiguous
    slice, so :meth:`load` costs O(rows of that ticker) and :meth:`load_table` one gather of the rows of the
    tickers asked for. Rows with an empty return are dropped and counted in that ticker's ``notes``.
    Missing days are not filled.
    """

    def __init__(self, frame: pd.DataFrame, description: str = "in-memory returns") -> None:
        self._description = description
        table = frame
        lowered = {str(c).strip().lower(): c for c in table.columns}
        if "date" not in lowered and str(table.index.name or "").strip().lower() == "date":
            table = table.reset_index()
            lowered = {str(c).strip().lower(): c for c in table.columns}
        missing = [c for c in ("date", "ticker", "return") if c not in lowered]
        if missing:
            raise InputError(
                f"missing column(s) {missing}; expected columns date, ticker, return",
                parameter=description,
                column=missing[0],
            )
        names = {key: str(lowered[key]) for key in ("date", "ticker", "return")}
        labels = table.index

        def locate(k: int) -> dict[str, Any]:
            return {"parameter": description, "line": None, "where": f"row {k} (index {labels[k]!r})"}

        self._build(
            table[lowered["date"]],
            table[lowered["ticker"]],
            table[lowered["return"]],
            locate=locate,
            names=names,
        )
        self._source = f"returns:{description}"
        self._vintage: str | None = None

    @property
    def description(self) -> str:
        """One line naming the source for reports."""
        return self._description

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._description!r}, {len(self._tickers)} tickers, {len(self._values)} rows)"

    def available_symbols(self) -> list[str]:
        """Return the tickers present, sorted."""
        return sorted(self._tickers)

    def __len__(self) -> int:
        return len(self._values)

    def load(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> PriceSeries:
        """Return every return row of ``symbol`` (``start``/``end`` are ignored; the caller cuts).

        Returns
        -------
        PriceSeries
            ``kind="return"``, ``price_field="return"``, no volume.

        Raises
        ------
        PriceSourceError
            ``"no data"`` for an unknown ticker or one whose returns are all empty.
        """
        code = int(self._tickers.get_indexer(pd.Index([symbol], dtype=object))[0])
        lo, hi = (int(self._bounds[code]), int(self._bounds[code + 1])) if code >= 0 else (0, 0)
        if hi == lo:
            raise self._failure(symbol, known=code >= 0)
        dropped = int(self._dropped[code])
        return PriceSeries(
            symbol=symbol,
            dates=pd.DatetimeIndex(self._dates[lo:hi]),
            values=self._values[lo:hi],
            kind="return",
            volume=None,
            source=self._source,
            vintage=self._vintage,
            price_field="return",
            notes=(_dropped_note(dropped),) if dropped else (),
        )

    def load_table(
        self, symbols: Sequence[str], start: dt.date | None = None, end: dt.date | None = None
    ) -> tuple[PriceTable, dict[str, PriceSourceError]]:
        """Return every return row of the tickers ``symbols`` as one table, and the tickers that failed.

        Parameters
        ----------
        symbols
            The tickers wanted (duplicates are read once); the table's symbols are those with at least one
            return, in this order.
        start, end
            Ignored, as in :meth:`load`: every row of a ticker is returned and the caller cuts.

        Returns
        -------
        table : PriceTable
            ``is_return`` True for every symbol, no volume flags, provenance as :meth:`load` gives it
            (source, vintage, ``price_field="return"``, the empty returns dropped in ``notes``).
        failed : dict of str to PriceSourceError
            ``"no data"`` for each unknown ticker or one whose returns are all empty (the error
            :meth:`load` raises).

        Notes
        -----
        The rows of each ticker are one contiguous slice of the sorted rows, so the table is one gather
        (``numpy.repeat`` of the slice starts) with no per-ticker Python object; only the failures are
        built one by one.
        """
        wanted = list(dict.fromkeys(symbols))
        codes = np.asarray(self._tickers.get_indexer(pd.Index(wanted, dtype=object)), dtype=np.int64)
        known = codes >= 0
        lo = np.where(known, self._bounds[np.maximum(codes, 0)], 0)
        hi = np.where(known, self._bounds[np.maximum(codes, 0) + 1], 0)
        ok = hi > lo
        failed = {wanted[i]: self._failure(wanted[i], known=bool(known[i])) for i in np.flatnonzero(~ok)}
        lengths = (hi - lo)[ok]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        rows = np.repeat(lo[ok] - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
        day = self._dates[rows].view(np.int64) // _NS_PER_DAY
        found = [wanted[i] for i in np.flatnonzero(ok)]
        is_return = np.ones(len(found), dtype=bool)
        provenance = provenance_frame(
            found, offsets, day, is_return=is_return, source=self._source, vintage=self._vintage or ""
        )
        dropped = self._dropped[codes[ok]]
        notes = np.full(len(found), "", dtype=object)
        with_drops = np.flatnonzero(dropped)
        notes[with_drops] = [_dropped_note(int(k)) for k in dropped[with_drops]]
        provenance["notes"] = notes
        table = PriceTable(
            symbols=tuple(found),
            offsets=offsets,
            day=day,
            value=self._values[rows],
            zero_volume=np.zeros(len(rows), dtype=bool),
            is_return=is_return,
            provenance=provenance,
        )
        return table, failed

    def _failure(self, symbol: str, *, known: bool) -> PriceSourceError:
        """The error of a ticker without returns: unknown, or every return of it empty."""
        if known:
            return PriceSourceError(symbol, "no data", f"every return of this ticker is empty in {self._description}")
        return PriceSourceError(
            symbol,
            "no data",
            f"ticker not in {self._description} ({len(self._tickers)} tickers); check the spelling or add its returns",
        )

    # -- construction ----------------------------------------------------------------------------------

    def _build(
        self,
        date_col: pd.Series,
        ticker_col: pd.Series,
        return_col: pd.Series,
        *,
        locate: Callable[[int], dict[str, Any]],
        names: Mapping[str, str],
    ) -> None:
        """Validate the three columns, sort by (ticker, date) and index each ticker's slice."""

        def located(k: int) -> tuple[dict[str, Any], str | None]:
            where = locate(k)
            return where, where.pop("where", None)

        def fail(k: int, message: str, column: str, value: object) -> InputError:
            where, prefix = located(k)
            return InputError(f"{prefix}: {message}" if prefix else message, column=names[column], value=value, **where)

        def check(problem: RowProblem | None, column: str) -> None:
            if problem is not None:
                raise fail(problem.row, problem.message, column, problem.value)

        dates, problem = parse_dates(date_col)
        check(problem, "date")

        codes, uniques = pd.factorize(ticker_col, use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int64)
        as_text = [str(u).strip() for u in uniques]
        bad = np.flatnonzero(codes < 0)
        if len(bad):
            k = int(bad[0])
            raise fail(k, "missing ticker", "ticker", ticker_col.iloc[k])
        empty_codes = [i for i, t in enumerate(as_text) if not t]
        if empty_codes:
            k = int(np.flatnonzero(codes == empty_codes[0])[0])
            raise fail(k, "missing ticker", "ticker", ticker_col.iloc[k])
        remap, text_uniques = pd.factorize(pd.Index(as_text, dtype=object))
        codes = np.asarray(remap, dtype=np.int64)[codes] if len(uniques) else codes
        tickers = [str(t) for t in text_uniques]

        values, missing, problem = parse_values(return_col, "return")
        check(problem, "return")

        # One stable sort on a combined (ticker code, day number) key; dates lie in cleaning's range, so
        # the day number fits in 32 bits.
        day = dates.view(np.int64)
        day_number = (day - (day.min() if len(day) else 0)) // _NS_PER_DAY
        rows = order_rows((codes << 32) | day_number)
        if len(rows.duplicates):
            k, first = int(rows.duplicates[0]), int(rows.firsts[0])
            earlier = locate(first).get("line") or f"row {first}"
            raise fail(
                k,
                f"duplicate (date, ticker) = ({dates[k].astype('datetime64[D]')}, {tickers[codes[k]]}); "
                f"already given on {'line ' if isinstance(earlier, int) else ''}{earlier}",
                "date",
                str(date_col.iloc[k]),
            )

        units = units_problem(values)
        if units is not None:
            where, prefix = located(units.row)
            message = f"{prefix}: {units.message}" if prefix else units.message
            value = return_col.iloc[units.row]
            warnings.warn(ReturnUnitsWarning(message, column=names["return"], value=value, **where), stacklevel=3)

        positions = rows.order[~missing[rows.order]]
        self._dates = dates[positions]
        self._values = values[positions]
        self._dates.flags.writeable = False
        self._values.flags.writeable = False
        counts = np.bincount(codes[positions], minlength=len(tickers))
        self._tickers = pd.Index(tickers, dtype=object)
        self._bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self._dropped = np.bincount(codes[missing], minlength=len(tickers)).astype(np.int64)


def _dropped_note(count: int) -> str:
    """The provenance note of a ticker whose empty returns were dropped."""
    return f"{count} row(s) with an empty return dropped"


class ReturnsFile(ReturnsFrame):
    """User-supplied simple returns in a long CSV file ``date,ticker,return`` (CRSP style).

    Parameters
    ----------
    path
        The CSV file. The header must contain ``date``, ``ticker`` and ``return`` (any case; other columns
        are ignored). Dates ``YYYY-MM-DD`` or ``YYYYMMDD``; returns are simple returns as decimals
        (0.01 = 1 %); an empty return is dropped (noted).

    Raises
    ------
    InputError
        As :class:`ReturnsFrame`, with ``path``, ``line`` (1-based, header on line 1) and ``column``; also
        for a line with fewer or more fields than the header.

    Warns
    -----
    ReturnUnitsWarning
        As :class:`ReturnsFrame`, with ``path`` and ``line``.

    Notes
    -----
    The file is parsed once, on construction, by the same code as :class:`ReturnsFrame`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise InputError("returns file not found", path=self.path)
        header = read_header(self.path)
        lowered: dict[str, str] = {}
        for name in header:
            key = name.lower()
            if key in lowered and key in ("date", "ticker", "return"):
                raise InputError(f"column {name!r} appears twice", path=self.path, line=1, column=name)
            lowered.setdefault(key, name)
        for key in ("date", "ticker", "return"):
            if key not in lowered:
                raise InputError(
                    f"missing column {key!r}; expected the header date,ticker,return",
                    path=self.path,
                    line=1,
                    column=key,
                )
        names = {key: lowered[key] for key in ("date", "ticker", "return")}
        cells = read_cells(self.path, header, usecols=list(names.values()))
        positions = np.flatnonzero(~cells.blank)
        lines = cells.lines[positions]
        text = {key: cells.table[name].iloc[positions].reset_index(drop=True) for key, name in names.items()}
        path = self.path

        def locate(k: int) -> dict[str, Any]:
            return {"path": path, "line": int(lines[k])}

        self._description = f"returns file {self.path}"
        self._build(text["date"], text["ticker"], text["return"], locate=locate, names=names)
        self._source = f"returns:{self.path.resolve()}"
        self._vintage = file_vintage(self.path)

    def __repr__(self) -> str:
        return f"ReturnsFile({str(self.path)!r})"


__all__ = ["ReturnsFile", "ReturnsFrame"]
