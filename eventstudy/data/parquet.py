"""Prices or returns of many tickers in Parquet: :class:`ParquetPrices`.

A Parquet file, or a folder of Parquet files read as one dataset (hive partitions such as ``ticker=AAA/``
included), in one of two layouts:

long
    columns ``date``, ``ticker`` and the value: ``adj_close`` for prices, ``return`` for simple returns
    (names matched case-insensitively; other columns are never read);
wide
    a ``date`` column and one value column per ticker, named by the ticker (no ``ticker`` column).

Only what a study needs is read: the ``date``, ``ticker`` and value columns (long) or the ``date`` column and
the columns of the tickers asked for (wide), and a row filter on the tickers and on the date range is pushed
into the reader (:mod:`pyarrow.dataset`), so row groups that hold none of them are skipped. The rows read are
then checked by the rules of :mod:`eventstudy.data.cleaning`, as the CSV sources check theirs.

Types: ``date`` a date, a timestamp (a time-zone aware one keeps its local date), ``YYYY-MM-DD`` text or
``YYYYMMDD`` integers (the date range is pushed into the reader for dates and timestamps; text and integer
dates are filtered after reading); ``ticker`` text or integers; values numbers (a null is an empty value).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from eventstudy._typing import FloatArray, IntArray
from eventstudy.data.cleaning import RowProblem, order_rows, parse_dates, parse_values, units_problem
from eventstudy.data.csv_files import file_vintage
from eventstudy.data.series import PriceSeries
from eventstudy.data.table import PriceTable, provenance_frame, row_keys
from eventstudy.errors import InputError, PriceSourceError, ReturnUnitsWarning

ValueKind = Literal["price", "return"]

PARQUET_SUFFIXES = (".parquet", ".pq")
"""File (or dataset folder) name endings read as Parquet by the command line."""

VALUE_COLUMN: dict[str, str] = {"price": "adj_close", "return": "return"}
"""The value column of the long layout, per kind."""

_NS_PER_DAY = 86_400_000_000_000

READ_AHEAD = 2
"""Row groups read ahead in threads while the current one is converted (:meth:`ParquetPrices._row_groups`)."""
_Ints = npt.NDArray[np.signedinteger[Any]]  # int32 (rows read in pieces) or int64
_DATE_TYPES = "a date, a timestamp, YYYY-MM-DD text or YYYYMMDD integers"


def is_parquet(path: str | Path) -> bool:
    """Whether the command line reads ``path`` as Parquet.

    True for a file or folder whose name ends in :data:`PARQUET_SUFFIXES`, and for a folder that holds
    ``*.parquet`` files (at any depth, as a partitioned dataset) and no ``*.csv`` file.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return True
    if not path.is_dir():
        return False
    return next(path.glob("*.csv"), None) is None and next(path.rglob("*.parquet"), None) is not None


class ParquetPrices:
    """Daily prices (``kind="price"``) or simple returns (``kind="return"``) of many tickers in Parquet.

    Parameters
    ----------
    path
        A Parquet file, or a folder of Parquet files read as one dataset (hive partition folders such as
        ``ticker=AAA/`` give a partition column).
    kind
        ``"price"`` (adjusted closes: long column ``adj_close``) or ``"return"`` (simple returns as decimals,
        0.01 = 1 %: long column ``return``).

    Raises
    ------
    InputError
        Naming the file (``path``) and the ``column``: a missing file, not Parquet, a missing ``date`` or
        value column, or a column of the wrong type.

    Notes
    -----
    The layout (long or wide, module docstring) is read from the schema on construction; rows are read by
    :meth:`load_table` (or :meth:`load` for one ticker), which checks what it reads: missing, unparsable or
    out-of-range dates, a duplicate (date, ticker), non-finite values, prices outside ``MIN_PRICE`` ..
    ``MAX_PRICE``, returns <= -1 or above ``MAX_RETURN`` raise :class:`~eventstudy.errors.InputError` naming
    the file, the column and the row by its date and ticker (row numbers of a filtered read mean nothing);
    returns that look like percent warn (:class:`~eventstudy.errors.ReturnUnitsWarning`). A null value is
    an empty value: in the long layout the row is dropped and counted in the ticker's ``notes``; in the wide
    layout it is a day without a row. Rows outside the date range asked for are not read (a source may
    return less than its whole history; the study asks for the range its windows need).

    Examples
    --------
    >>> source = ParquetPrices("crsp.parquet", kind="return")  # doctest: +SKIP
    >>> start, end = dt.date(2019, 1, 1), dt.date(2020, 12, 31)  # doctest: +SKIP
    >>> table, failed = source.load_table(["AAPL", "MSFT"], start, end)  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, kind: ValueKind = "price") -> None:
        if kind not in VALUE_COLUMN:
            raise InputError(f"kind must be 'price' or 'return', got {kind!r}", parameter="kind", value=kind)
        self.path = Path(path).expanduser()
        self.kind: ValueKind = kind
        if not self.path.exists():
            raise InputError(f"{kind} file not found", path=self.path)
        try:
            self._dataset = ds.dataset(self.path, format="parquet", partitioning="hive")
            schema = self._dataset.schema
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a readable Parquet file or folder ({exc})", path=self.path) from exc
        names = [n for n in schema.names if not n.startswith("__")]  # pandas' index columns
        lowered: dict[str, str] = {}
        for name in names:
            lowered.setdefault(name.strip().lower(), name)
        if "date" not in lowered:
            raise InputError(
                f"missing column 'date'; expected date,ticker,{VALUE_COLUMN[kind]} (long) or date plus one "
                "column per ticker (wide)",
                path=self.path,
                column="date",
            )
        self._date = lowered["date"]
        self._check_date_type(schema.field(self._date).type)
        self._wide = "ticker" not in lowered
        if self._wide:
            if VALUE_COLUMN[kind] in lowered:
                raise InputError(
                    f"missing column 'ticker': a file with a {VALUE_COLUMN[kind]!r} column is read in the long "
                    f"layout date,ticker,{VALUE_COLUMN[kind]}",
                    path=self.path,
                    column="ticker",
                )
            self._columns = [n for n in names if n != self._date]
            self._ticker = self._value = ""
        else:
            if VALUE_COLUMN[kind] not in lowered:
                raise InputError(
                    f"missing column {VALUE_COLUMN[kind]!r}; expected the columns date,ticker,{VALUE_COLUMN[kind]}",
                    path=self.path,
                    column=VALUE_COLUMN[kind],
                )
            self._ticker, self._value = lowered["ticker"], lowered[VALUE_COLUMN[kind]]
            ticker_type = schema.field(self._ticker).type
            if not (is_text_type(ticker_type) or pa.types.is_integer(ticker_type)):
                raise self._type_error(self._ticker, ticker_type, "text or integers")
            self._check_value_type(self._value, schema.field(self._value).type)
            self._columns = []
            if is_text_type(ticker_type):  # read as Parquet stores it: codes into a dictionary, no string per row
                options = ds.ParquetReadOptions(dictionary_columns=[self._ticker])
                self._dataset = ds.dataset(
                    self.path, format=ds.ParquetFileFormat(read_options=options), partitioning="hive"
                )
        self._source = f"parquet:{self.path.resolve()}"
        self._vintage = _vintage(self.path)

    # ------------------------------------------------------------------ source protocol
    @property
    def description(self) -> str:
        """One line naming the source for reports."""
        layout = "wide" if self._wide else "long"
        return f"Parquet {'returns' if self.kind == 'return' else 'prices'} {self.path} ({layout})"

    def __repr__(self) -> str:
        return f"ParquetPrices({str(self.path)!r}, kind={self.kind!r})"

    def available_symbols(self) -> list[str]:
        """Return the tickers present, sorted (the long layout reads the whole ticker column)."""
        if self._wide:
            return sorted(self._columns)
        tickers = self._dataset.to_table(columns=[self._ticker]).column(self._ticker)
        return sorted(str(t) for t in pc.unique(tickers).drop_null().to_pylist())

    def load(self, symbol: str, start: dt.date, end: dt.date) -> PriceSeries:
        """Return the rows of ``symbol`` dated ``start``..``end`` (inclusive), as :meth:`load_table` reads them.

        Raises
        ------
        PriceSourceError
            ``"no data"`` when the ticker has no row in the range.
        InputError
            As :meth:`load_table`.
        """
        table, failed = self.load_table([symbol], start, end)
        if symbol in failed:
            raise failed[symbol]
        return table.series(symbol)

    def load_table(
        self, symbols: Sequence[str], start: dt.date, end: dt.date
    ) -> tuple[PriceTable, dict[str, PriceSourceError]]:
        """Read the rows of ``symbols`` dated ``start``..``end`` (inclusive) as one table.

        Parameters
        ----------
        symbols
            The tickers wanted (duplicates read once); the table's symbols are those with at least one row
            in the range, in this order.
        start, end
            The calendar dates needed, inclusive.

        Returns
        -------
        table : PriceTable
            One row per (ticker, date) with a value; ``is_return`` from ``kind``; no volume flags; provenance
            with source ``parquet:<path>``, the file's modification time as vintage, and the rows dropped
            for an empty value in ``notes``.
        failed : dict of str to PriceSourceError
            ``"no data"`` for each ticker without a row in the range.

        Raises
        ------
        InputError
            For a bad row among those read (class notes), naming the file, the column and the row.

        Warns
        -----
        ReturnUnitsWarning
            When the returns read look like percent or hold a gain above 100 % in a day.
        """
        wanted = list(dict.fromkeys(symbols))
        first, last = _day_number(start), _day_number(end)
        if self._wide:
            return self._table(self._read_wide(wanted, first, last), start, end)
        return self._long_table(wanted, first, last, start, end)

    # ------------------------------------------------------------------ building the table
    def _table(self, rows: _Rows, start: dt.date, end: dt.date) -> tuple[PriceTable, dict[str, PriceSourceError]]:
        """Check, order and tabulate rows read in one piece (the wide layout, or long rows out of order)."""
        values, missing, problem = parse_values(pd.Series(rows.value), self.kind)
        self._check(problem, rows)
        order = order_rows(row_keys(rows.codes, rows.day))
        if len(order.duplicates):
            k = int(order.duplicates[0])
            raise InputError(
                f"{rows.label(k)}: duplicate (date, ticker); keep one row per ticker and date",
                path=self.path,
                column=self._date,
                value=str(np.datetime64(int(rows.day[k]), "D")),
            )
        if self.kind == "return":
            self._warn_units(rows, units_problem(values))
        kept = order.order[~missing[order.order]]
        n_codes = len(rows.wanted)
        counts = np.bincount(rows.codes[kept], minlength=n_codes)
        dropped = np.bincount(rows.codes[missing], minlength=n_codes)
        return self._tabulate(rows.wanted, counts, dropped, rows.day[kept], values[kept], start, end)

    def _long_table(
        self, wanted: list[str], first: int, last: int, start: dt.date, end: dt.date
    ) -> tuple[PriceTable, dict[str, PriceSourceError]]:
        """Read the long rows one row group at a time and place them in the table without sorting.

        A first pass reads the tickers and dates only (checking the dates): how many rows each ticker has,
        and whether each ticker's dates rise strictly (a file sorted by ticker and date, or by date and
        ticker; checked in O(n)). Then the (ticker, date) order of the table is the ticker order of the rows
        read, so a second pass checks each row group's values and places them in the table, and nothing
        larger than a row group is held besides the table. Otherwise (or with a duplicate) the rows are read
        at once and sorted (:meth:`_table`). Either way the checks and their order are those of one read:
        dates, then values (the first bad one in file order), duplicates, units.
        """
        n_codes = len(wanted)
        latest = np.full(n_codes, np.iinfo(np.int64).min, dtype=np.int64)  # each ticker's last day read
        counts = np.zeros(n_codes, dtype=np.int64)
        in_order = True
        for rows in self._read_long(wanted, first, last, values=False):
            counts += np.bincount(rows.codes, minlength=n_codes)
            in_order = in_order and _ascending_per_code(rows.codes, rows.day, latest)
        if not in_order:
            return self._table(_join(list(self._read_long(wanted, first, last)), wanted, self._value), start, end)
        day = np.empty(int(counts.sum()), dtype=np.int64)
        value = np.empty(len(day), dtype=np.float64)
        filled = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)  # next free row of each code
        dropped = np.zeros(n_codes, dtype=np.int64)
        large: list[_Rows] = []  # the returns with |r| >= 1, for the units check
        for rows in self._read_long(wanted, first, last):
            values, missing, problem = parse_values(pd.Series(rows.value), self.kind)
            self._check(problem, rows)
            dropped += np.bincount(rows.codes[missing], minlength=n_codes)
            big = np.flatnonzero(~missing & (np.abs(np.where(missing, 0.0, values)) >= 1.0))
            large.append(_Rows(rows.codes[big], rows.day[big], values[big], wanted, self._value))
            _place(rows.codes, rows.day, values, filled, day, value)
        if self.kind == "return":
            big_rows = _join(large, wanted, self._value)
            self._warn_units(big_rows, units_problem(big_rows.value, n_present=len(day) - int(dropped.sum())))
        if dropped.any():  # the empty values were placed too: drop them (the order stays)
            present = ~np.isnan(value)
            day, value = day[present], value[present]
        counts -= dropped
        return self._tabulate(wanted, counts, dropped, day, value, start, end)

    def _tabulate(
        self,
        wanted: Sequence[str],
        counts: IntArray,
        dropped: IntArray,
        day: IntArray,
        value: FloatArray,
        start: dt.date,
        end: dt.date,
    ) -> tuple[PriceTable, dict[str, PriceSourceError]]:
        """The table of rows in (code, day) order (``counts`` rows and ``dropped`` empty values per code)."""
        ok = counts > 0
        failed = {
            wanted[int(i)]: PriceSourceError(
                wanted[int(i)], "no data", f"no row of this ticker dated {start}..{end} in {self.description}"
            )
            for i in np.flatnonzero(~ok)
        }
        found = [wanted[int(i)] for i in np.flatnonzero(ok)]
        is_return = np.full(len(found), self.kind == "return", dtype=bool)
        offsets = np.concatenate([[0], np.cumsum(counts[ok])]).astype(np.int64)
        provenance = provenance_frame(
            found, offsets, day, is_return=is_return, source=self._source, vintage=self._vintage
        )
        with_drops = np.flatnonzero(dropped[ok])
        notes = np.full(len(found), "", dtype=object)
        notes[with_drops] = [f"{int(k)} row(s) with an empty {self._value} dropped" for k in dropped[ok][with_drops]]
        provenance["notes"] = notes
        table = PriceTable(  # the rows are in (code, day) order already: no second sort
            symbols=tuple(found),
            offsets=offsets,
            day=day,
            value=value,
            zero_volume=np.zeros(len(day), dtype=bool),
            is_return=is_return,
            provenance=provenance,
        )
        return table, failed

    def _warn_units(self, rows: _Rows, units: RowProblem | None) -> None:
        if units is not None:
            warnings.warn(
                ReturnUnitsWarning(
                    f"{rows.label(units.row)}: {units.message}",
                    path=self.path,
                    column=rows.column(units.row),
                    value=units.value,
                ),
                stacklevel=4,
            )

    # ------------------------------------------------------------------ reading
    def _date_filter(self, first: int, last: int) -> Any:
        """The date range as a filter the reader can push down, or None for text and integer dates.

        A timestamp's date is its local date, so the filter on the stored instant keeps one day more on
        each side; the caller cuts exactly.
        """
        kind = self._dataset.schema.field(self._date).type
        field = ds.field(self._date)
        if pa.types.is_date(kind):
            lo = pa.scalar(first, pa.int32()).cast(pa.date32())
            hi = pa.scalar(last, pa.int32()).cast(pa.date32())
            return (field >= lo) & (field <= hi)
        if pa.types.is_timestamp(kind):
            lo = pa.scalar((first - 1) * _NS_PER_DAY, pa.timestamp("ns", tz=kind.tz)).cast(kind)
            hi = pa.scalar((last + 2) * _NS_PER_DAY, pa.timestamp("ns", tz=kind.tz)).cast(kind)
            return (field >= lo) & (field < hi)
        return None

    def _days(self, column: pa.ChunkedArray, where: Callable[[int], str]) -> IntArray:
        """Day numbers of the date column read; bad dates raise, ``where(k)`` naming row ``k``."""
        if pa.types.is_date(column.type):  # pushed-down filter: every date is in the range asked for
            return np.asarray(column.cast(pa.date32()).cast(pa.int32()).to_numpy(), dtype=np.int64)
        dates, problem = parse_dates(column.to_pandas())
        if problem is not None:
            raise InputError(
                f"{where(problem.row)}: {problem.message}", path=self.path, column=self._date, value=problem.value
            )
        return dates.view(np.int64) // _NS_PER_DAY

    def _read_long(self, wanted: list[str], first: int, last: int, *, values: bool = True) -> Iterator[_Rows]:
        """The long rows of the tickers ``wanted`` in the range, one row group at a time, in file order.

        Codes index ``wanted`` (int32), days are int32 day numbers, values float64 (NaN: null; empty when
        ``values`` is False: the value column is then not read); rows of other tickers or dates are dropped.
        """
        ticker_type = self._dataset.schema.field(self._ticker).type
        if pa.types.is_integer(ticker_type):
            numbers = [int(s) for s in wanted if s.strip().lstrip("-").isdigit()]
            condition = ds.field(self._ticker).isin(pa.array(numbers, type=pa.int64()))
        else:
            condition = ds.field(self._ticker).isin(pa.array(wanted, type=pa.string()))
        dates = self._date_filter(first, last)
        lookup = pd.Index(wanted, dtype=object)
        columns = [self._date, self._ticker, self._value] if values else [self._date, self._ticker]
        keys = numbers if pa.types.is_integer(ticker_type) else wanted
        for read in self._row_groups(columns, condition if dates is None else condition & dates, keys):
            tickers = read.column(self._ticker)
            codes = _ticker_codes(tickers, lookup)

            def where(k: int, names: pa.ChunkedArray = tickers) -> str:
                return f"a row of ticker {names[k].as_py()}"

            day = self._days(read.column(self._date), where)
            value = _floats(read.column(self._value)) if values else np.empty(0)
            inside = (day >= first) & (day <= last) & (codes >= 0)
            if not inside.all():  # else no copy: the whole row group is wanted
                keep = np.flatnonzero(inside)
                codes, day, value = codes[keep], day[keep], value[keep] if values else value
            yield _Rows(codes, day.astype(np.int32), value, wanted, self._value)

    def _read_wide(self, wanted: list[str], first: int, last: int) -> _Rows:
        """The non-null cells of the columns of the tickers ``wanted`` in the range (codes index ``wanted``)."""
        available = set(self._columns)
        columns = [s for s in wanted if s in available]
        schema = self._dataset.schema
        for name in columns:
            self._check_value_type(name, schema.field(name).type)
        read = self._scan([self._date, *columns], self._date_filter(first, last))
        day = self._days(read.column(self._date), lambda k: f"row {k} of {self.path.name}")
        in_range = np.flatnonzero((day >= first) & (day <= last))
        day = day[in_range]
        repeated = order_rows(day)
        if len(repeated.duplicates):
            k = int(repeated.duplicates[0])
            raise InputError(
                f"duplicate date {np.datetime64(int(day[k]), 'D')} in the wide layout; keep one row per date",
                path=self.path,
                column=self._date,
                value=str(np.datetime64(int(day[k]), "D")),
            )
        matrix = np.empty((len(day), len(columns)), dtype=np.float64)
        for j, name in enumerate(columns):  # one numeric column per ticker asked for
            matrix[:, j] = _floats(read.column(name))[in_range]
        rows, cols = np.nonzero(~np.isnan(matrix))  # row-major: date, then ticker
        code_of = np.asarray(pd.Index(wanted, dtype=object).get_indexer(pd.Index(columns, dtype=object)), np.int64)
        return _Rows(code_of[cols], day[rows], matrix[rows, cols], wanted, None)

    def _row_groups(self, columns: list[str], condition: Any, tickers: Sequence[Any]) -> Iterator[pa.Table]:
        """The ``columns`` of the rows meeting ``condition``, one row group at a time, in file order.

        Row groups whose statistics rule the condition out are skipped, and so are those whose ticker
        column's minimum and maximum hold none of ``tickers`` (:func:`groups_holding`: pyarrow does not prune
        row groups by statistics for an ``isin`` condition, so without this a study of 2,500 tickers read
        all 662 M rows of a 100,000-ticker file); the order is that of a scan of the whole dataset. With a
        date column of dates the rows of a row group are not filtered one by one (the caller drops the other
        tickers and dates as it converts them, which costs less); with other date types they are, so that
        only the rows asked for have their dates parsed and checked.
        """
        schema = self._dataset.schema
        rows = None if pa.types.is_date(schema.field(self._date).type) else condition

        def read(group: Any) -> pa.Table:
            return group.to_table(schema=schema, columns=columns, filter=rows)

        try:
            groups = (
                group
                for fragment in self._dataset.get_fragments(filter=condition)
                for group in fragment.subset(
                    row_group_ids=groups_holding(fragment, self._ticker, tickers)
                ).split_by_row_group(filter=condition, schema=schema)
            )
            # the next row groups are decoded in threads (pyarrow releases the GIL) while the caller converts
            # the current one; at most READ_AHEAD row groups are held besides the one being used
            with ThreadPoolExecutor(max_workers=READ_AHEAD) as pool:
                pending: deque[Future[pa.Table]] = deque()
                for group in groups:
                    pending.append(pool.submit(read, group))
                    if len(pending) > READ_AHEAD:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise InputError(f"cannot read the Parquet data ({exc})", path=self.path) from exc

    def _scan(self, columns: list[str], condition: Any) -> pa.Table:
        try:
            return self._dataset.to_table(columns=columns, filter=condition)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise InputError(f"cannot read the Parquet data ({exc})", path=self.path) from exc

    # ------------------------------------------------------------------ checks
    def _check(self, problem: RowProblem | None, rows: _Rows) -> None:
        if problem is not None:
            raise InputError(
                f"{rows.label(problem.row)}: {problem.message}",
                path=self.path,
                column=rows.column(problem.row),
                value=problem.value,
            )

    def _check_date_type(self, kind: pa.DataType) -> None:
        date_like = pa.types.is_date(kind) or pa.types.is_timestamp(kind) or pa.types.is_integer(kind)
        if not (date_like or is_text_type(kind)):
            raise self._type_error(self._date, kind, _DATE_TYPES)

    def _check_value_type(self, column: str, kind: pa.DataType) -> None:
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind)):
            raise self._type_error(column, kind, "numbers")

    def _type_error(self, column: str, kind: pa.DataType, expected: str) -> InputError:
        return InputError(
            f"column {column!r} holds {kind}; expected {expected}", path=self.path, column=column, value=str(kind)
        )


@dataclass(frozen=True, eq=False)
class _Rows:
    """Rows read: ticker code (into ``wanted``), day number and value (NaN: empty), and how to name one.

    Codes and days are int32 in the pieces a long read keeps (half the memory of int64), int64 when joined.
    """

    codes: _Ints
    day: _Ints
    value: FloatArray
    wanted: Sequence[str]
    value_column: str | None  # the long layout's value column; None: wide, the ticker's own column

    def label(self, k: int) -> str:
        """``"row dated <date>, ticker <ticker>"``."""
        return f"row dated {np.datetime64(int(self.day[k]), 'D')}, ticker {self.wanted[int(self.codes[k])]}"

    def column(self, k: int) -> str:
        """The column holding the value of row ``k``."""
        return self.value_column or self.wanted[int(self.codes[k])]


def _join(pieces: Sequence[_Rows], wanted: Sequence[str], value_column: str | None) -> _Rows:
    """Rows read in pieces as one piece (codes and days as int64)."""
    parts = list(pieces) or [_Rows(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), wanted, value_column)]
    return _Rows(
        np.concatenate([p.codes for p in parts]).astype(np.int64),
        np.concatenate([p.day for p in parts]).astype(np.int64),
        np.concatenate([p.value for p in parts]).astype(np.float64),
        wanted,
        value_column,
    )


def groups_holding(fragment: Any, column: str, values: Sequence[Any]) -> list[int]:
    """Ids of the row groups of a Parquet file fragment whose ``column`` may hold one of ``values``.

    A row group is kept when its statistics' [min, max] of the column contains a value (a binary search of
    the sorted values), or when it has no statistics for the column.
    """
    fragment.ensure_complete_metadata()
    wanted = np.sort(np.asarray(list(values), dtype=object))
    kept = []
    for group in fragment.row_groups:
        bounds = (group.statistics or {}).get(column)
        if not bounds or bounds.get("min") is None or bounds.get("max") is None:
            kept.append(group.id)
            continue
        low = np.searchsorted(wanted, bounds["min"], side="left")
        if low < len(wanted) and wanted[low] <= bounds["max"]:
            kept.append(group.id)
    return kept


def _ticker_codes(tickers: pa.ChunkedArray, lookup: pd.Index) -> npt.NDArray[np.int32]:
    """Position of each row's ticker in ``lookup`` (-1: not there), looking up only the distinct tickers.

    A dictionary column (Parquet's own encoding) gives its codes as they are; other columns (integers,
    partition values) are dictionary-encoded as text in Arrow first.
    """
    parts = []
    for chunk in tickers.chunks:  # one chunk per row group read
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.cast(pa.string()).dictionary_encode()
        distinct = pd.Index(chunk.dictionary.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)
        of_distinct = np.append(lookup.get_indexer(distinct), -1).astype(np.int32)  # last slot: a null ticker
        index = pc.fill_null(chunk.indices, len(distinct)).to_numpy(zero_copy_only=False)
        parts.append(of_distinct[index])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


def _place(codes: _Ints, days: _Ints, values: FloatArray, filled: IntArray, day: IntArray, value: FloatArray) -> None:
    """Write rows into the table's arrays at the next free rows of their codes (``filled``, advanced).

    Within a code the rows keep their order, so the table is in (code, day) order when each code's rows
    come in rising date order.
    """
    order, starts, lengths = _code_runs(codes)
    if order is not None:
        codes, days, values = codes[order], days[order], values[order]
    run_codes = codes[starts]
    place = np.repeat(filled[run_codes] - starts, lengths) + np.arange(len(codes), dtype=np.int64)
    day[place] = days
    value[place] = values
    filled[run_codes] += lengths  # one run per code: no repeated index


def _ascending_per_code(codes: _Ints, day: _Ints, latest: IntArray) -> bool:
    """Whether each code's days increase strictly, within these rows and after ``latest`` (updated)."""
    order, starts, lengths = _code_runs(codes)
    if order is not None:
        codes, day = codes[order], day[order]
    rising = np.ones(len(day), dtype=bool)
    rising[1:] = day[1:] > day[:-1]
    rising[starts] = day[starts] > latest[codes[starts]]
    if not rising.all():
        return False
    ends = starts + lengths - 1
    latest[codes[ends]] = day[ends]
    return True


def _code_runs(codes: _Ints) -> tuple[IntArray | None, IntArray, IntArray]:
    """The rows grouped by code: an order (None when each code's rows are one run already), run starts, lengths.

    Within a code the rows keep their order (a stable sort); the runs of the grouped rows are one per code.
    """
    n = len(codes)
    starts = np.flatnonzero(codes[1:] != codes[:-1]) + 1 if n else np.empty(0, dtype=np.int64)
    starts = np.concatenate([[0], starts]).astype(np.int64) if n else starts
    order = None
    if len(np.unique(codes[starts])) < len(starts):  # a code in two runs: group them
        order = np.argsort(codes, kind="stable").astype(np.int64)
        grouped = codes[order]
        starts = np.concatenate([[0], np.flatnonzero(grouped[1:] != grouped[:-1]) + 1]).astype(np.int64)
    return order, starts, np.diff(np.append(starts, n)).astype(np.int64)


def is_text_type(kind: pa.DataType) -> bool:
    """Whether an Arrow type holds text: string, large or view string, or a dictionary of them."""
    if pa.types.is_dictionary(kind):
        return is_text_type(kind.value_type)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind))


def _floats(column: pa.ChunkedArray) -> FloatArray:
    """A numeric column (floats, integers or decimals) as float64, NaN for a null."""
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _day_number(day: dt.date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def _vintage(path: Path) -> str:
    """Modification time of the file, or the latest of the Parquet files of a folder (UTC ISO 8601)."""
    files = [path] if path.is_file() else list(path.rglob("*.parquet")) or [path]
    return file_vintage(max(files, key=lambda f: f.stat().st_mtime))


__all__ = [
    "PARQUET_SUFFIXES",
    "VALUE_COLUMN",
    "ParquetPrices",
    "ValueKind",
    "groups_holding",
    "is_parquet",
    "is_text_type",
]
