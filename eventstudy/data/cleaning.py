"""One set of rules for the rows of a price or return series, shared by every source.

The CSV price folders (:mod:`eventstudy.data.csv_prices`), the returns files and frames
(:mod:`eventstudy.data.returns_files`) and the Yahoo adapter (:mod:`eventstudy.data.yahoo`) all clean their
rows with the functions below. The functions are pure: they take columns or arrays and return cleaned
values, masks and the first problem found as data (a :class:`RowProblem` giving the row's position), never
raising. Each source decides what a problem means: the file sources turn it into an
:class:`~eventstudy.errors.InputError` naming the file, line and column; the Yahoo adapter, whose rows are
not the user's input, treats a value that breaks a rule as missing.

Rules
-----
Empty cells
    ``""``, ``null``, ``nan``, ``na``, ``n/a``, ``none`` and ``#n/a`` (any case, surrounding blanks
    ignored) are empty (:data:`MISSING_TOKENS`). A row without the value in use is dropped and noted.
Dates
    ``YYYY-MM-DD`` (a trailing time is ignored), ``YYYYMMDD`` (text or integer) or date/datetime values,
    between :data:`FIRST_DATE` and :data:`LAST_DATE` inclusive. That range lies well inside what pandas'
    ``datetime64[ns]`` can hold (1677-09-22 to 2262-04-11), so later window arithmetic cannot overflow.
Values
    Every non-empty value must be a finite number, and
    ``price``: :data:`MIN_PRICE` <= p <= :data:`MAX_PRICE` (so p > 0; the bounds keep any ratio of two
    prices, and its square, far from floating-point overflow); ``volume``: v >= 0; ``return`` (a simple
    return as a decimal): -1 < r <= :data:`MAX_RETURN` (a loss of 100 % or more is impossible; a gain of
    more than 10,000 % in a day is not a plausible daily return).
Return units (a warning, not an error)
    Returns look like percent when at least :data:`PERCENT_MIN_ROWS` rows, or at least
    :data:`PERCENT_MIN_SHARE` of the non-empty returns, have |r| >= 1; otherwise a single r > 1 (a gain
    of more than 100 % in a day) is still worth a warning. See :func:`units_problem`.
Order and duplicates
    Rows are put in key order (the date, or the (ticker, date) pair) by a stable sort; a key given twice
    is a duplicate (:func:`order_rows`). File sources reject duplicates; the Yahoo adapter keeps the first.
Zero volume
    A row with volume 0 may be dropped on request (Hong Kong half-day placeholders, ``../shared/docs/DATA.md`` §5),
    never for an FX symbol (``...=X``), whose volume is always 0 (:func:`zero_volume`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from eventstudy._typing import BoolArray, FloatArray, IntArray
from eventstudy.symbols import is_fx

ValueKind = Literal["price", "volume", "return"]

#: Cell texts that mean "empty" (compared after stripping blanks and lower-casing).
MISSING_TOKENS: frozenset[str] = frozenset({"", "null", "nan", "na", "n/a", "none", "#n/a"})
#: ``YYYY-MM-DD`` with an optional trailing time.
ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T][0-9:.+\-Z]*)?$")
#: First and last date a row may carry.
FIRST_DATE = np.datetime64("1800-01-01", "D")
LAST_DATE = np.datetime64("2199-12-31", "D")
#: Smallest and largest accepted price.
MIN_PRICE = 1e-10
MAX_PRICE = 1e12
#: Largest accepted simple daily return (+10,000 %).
MAX_RETURN = 100.0
#: Returns look like percent when this many rows, or this share of the rows, have |r| >= 1.
PERCENT_MIN_ROWS = 10
PERCENT_MIN_SHARE = 0.05

_MAX_LISTED = 5
_COMPACT_DATE_RE = r"\d{8}"


@dataclass(frozen=True)
class RowProblem:
    """The first row of a column that breaks a rule.

    Parameters
    ----------
    row
        Position of the row in the column (0-based), for the caller to turn into a line or row label.
    message
        What is wrong and what to do, without the location.
    value
        The offending cell as received.
    """

    row: int
    message: str
    value: object


def show(value: object) -> str:
    """``repr`` of a cell value without numpy's type wrapper (``np.float64(-2.0)`` -> ``-2.0``)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def is_missing(cells: pd.Series) -> BoolArray:
    """Mark the empty cells of a column.

    Parameters
    ----------
    cells
        Text cells, numbers or objects.

    Returns
    -------
    numpy.ndarray of bool
        True where the cell is NaN/None or, as text, one of :data:`MISSING_TOKENS`.
    """
    absent = np.asarray(cells.isna(), dtype=bool)
    if pd.api.types.is_numeric_dtype(cells.dtype):
        return absent
    text = cells.astype(str).str.strip().str.lower()
    return absent | np.asarray(text.isin(MISSING_TOKENS), dtype=bool)


def parse_dates(cells: pd.Series) -> tuple[np.ndarray, RowProblem | None]:
    """Parse a date column and check the supported range.

    Parameters
    ----------
    cells
        ``YYYY-MM-DD`` text (a trailing time is ignored), ``YYYYMMDD`` text or integers, datetime64
        (tz-aware values keep their local date) or date/datetime objects.

    Returns
    -------
    dates : numpy.ndarray of datetime64[ns]
        Midnight of each date; NaT where the cell is empty, unparsable or out of range.
    problem : RowProblem or None
        The first such cell: missing, not a date, or outside :data:`FIRST_DATE`..:data:`LAST_DATE`.
    """
    days = _as_days(cells)
    parsed = ~np.isnat(days)
    in_range = parsed & (days >= FIRST_DATE) & (days <= LAST_DATE)
    dates = np.where(in_range, days, np.datetime64("NaT")).astype("datetime64[ns]")
    bad = np.flatnonzero(~in_range)
    if not len(bad):
        return dates, None
    k = int(bad[0])
    value = cells.iloc[k]
    if parsed[k]:
        message = (
            f"date {days[k]} is outside the supported range {FIRST_DATE}..{LAST_DATE}; "
            "check the year (a placeholder such as 9999-12-31 or 0001-01-01 is not a trading day)"
        )
    elif is_missing(cells.iloc[[k]])[0]:
        message = "missing date"
    else:
        message = f"not a date: {show(value)} (use YYYY-MM-DD or YYYYMMDD)"
    return dates, RowProblem(k, message, value)


def _as_days(cells: pd.Series) -> np.ndarray:
    """Dates of a column as datetime64[D] (NaT where unparsable), without a nanosecond bound."""
    if isinstance(cells.dtype, pd.DatetimeTZDtype):
        cells = cells.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(cells.dtype):
        return np.asarray(cells.to_numpy().astype("datetime64[D]"))
    if pd.api.types.is_integer_dtype(cells.dtype):
        cells = cells.astype("int64").astype(str)
    if pd.api.types.is_string_dtype(cells.dtype) or pd.api.types.infer_dtype(cells, skipna=True) in (
        "string",
        "empty",
        "integer",
    ):
        text = cells.astype(str)
        # Fast path for plain YYYY-MM-DD cells; the others (blanks, a trailing time, YYYYMMDD) one by one.
        plain = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        days = np.asarray(plain.to_numpy().astype("datetime64[D]"))
        rest = np.flatnonzero(np.isnat(days) | (text.str.len() != 10).to_numpy(dtype=bool))
        if len(rest):
            days[rest] = _loose_days(text.iloc[rest].str.strip())
        return days
    try:
        parsed = pd.to_datetime(cells, errors="coerce")
    except (TypeError, ValueError, OverflowError):
        return np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[D]")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    return np.asarray(pd.Series(parsed).to_numpy().astype("datetime64[D]"))


def _loose_days(text: pd.Series) -> np.ndarray:
    """``YYYY-MM-DD`` with an optional trailing time, or ``YYYYMMDD``, as datetime64[D] (NaT otherwise)."""
    iso = text.str.match(ISO_DATE_RE)
    parsed = pd.to_datetime(text.str.slice(0, 10).where(iso), format="%Y-%m-%d", errors="coerce")
    compact = parsed.isna() & text.str.fullmatch(_COMPACT_DATE_RE)
    if compact.any():
        parsed = parsed.where(~compact, pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce"))
    return np.asarray(parsed.to_numpy().astype("datetime64[D]"))


def parse_values(cells: pd.Series, kind: ValueKind) -> tuple[FloatArray, BoolArray, RowProblem | None]:
    """Parse a numeric column and check the rule of its kind.

    Parameters
    ----------
    cells
        Text cells or numbers.
    kind
        ``"price"``, ``"volume"`` or ``"return"`` (see the module notes for each rule).

    Returns
    -------
    values : numpy.ndarray of float64
        The numbers; NaN where the cell is empty (and where it breaks a rule).
    missing : numpy.ndarray of bool
        The empty cells.
    problem : RowProblem or None
        The first non-empty cell that is not a finite number or breaks the rule of ``kind``.
    """
    if pd.api.types.is_numeric_dtype(cells.dtype) and not pd.api.types.is_bool_dtype(cells.dtype):
        values = cells.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
    else:
        # pandas parses numbers with surrounding blanks; only the cells that are not numbers can be empty.
        text = cells.astype(str) if pd.api.types.is_bool_dtype(cells.dtype) else cells
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.zeros(len(values), dtype=bool)
        unparsed = np.flatnonzero(np.isnan(values))
        missing[unparsed] = is_missing(cells.iloc[unparsed])
    invalid = invalid_values(values, kind) | (~missing & np.isnan(values))
    bad = np.flatnonzero(invalid)
    if not len(bad):
        return values, missing, None
    k = int(bad[0])
    value = cells.iloc[k]
    return values, missing, RowProblem(k, _value_message(float(values[k]), kind, value), value)


def invalid_values(values: FloatArray, kind: ValueKind) -> BoolArray:
    """Mark the values that break the rule of ``kind`` (NaN counts as empty, not invalid).

    Parameters
    ----------
    values
        The numbers, NaN where empty.
    kind
        ``"price"``: outside :data:`MIN_PRICE`..:data:`MAX_PRICE` or infinite; ``"volume"``: negative or
        infinite; ``"return"``: <= -1, above :data:`MAX_RETURN` or infinite.

    Returns
    -------
    numpy.ndarray of bool
    """
    with np.errstate(invalid="ignore"):
        if kind == "price":
            ok = (values >= MIN_PRICE) & (values <= MAX_PRICE)
        elif kind == "volume":
            ok = (values >= 0) & np.isfinite(values)
        else:
            ok = (values > -1.0) & (values <= MAX_RETURN)
    return np.asarray(~ok & ~np.isnan(values), dtype=bool)


def _value_message(number: float, kind: ValueKind, value: object) -> str:
    if np.isnan(number):
        return f"not a number: {show(value)}"
    if np.isinf(number):
        return f"not a finite number: {show(value)}"
    if kind == "price":
        if number <= 0:
            return f"prices must be positive, got {show(value)}"
        return (
            f"implausible price {show(value)}: prices must lie between {MIN_PRICE:g} and {MAX_PRICE:g}; "
            "check the units and the decimal separator"
        )
    if kind == "volume":
        return f"volume cannot be negative, got {show(value)}"
    if number <= -1.0:
        return (
            f"return {show(value)} is <= -1 (a loss of 100 % or more); returns must be simple returns "
            "as decimals (0.01 = 1 %), not percent or log returns"
        )
    return (
        f"return {show(value)} is above {MAX_RETURN:g} (a gain of more than {MAX_RETURN * 100:,.0f} % in a "
        "day); returns must be simple returns as decimals (0.01 = 1 %)"
    )


def units_problem(returns: FloatArray, *, n_present: int | None = None) -> RowProblem | None:
    """Check whether simple returns look like percent, or hold a single gain above 100 %.

    Parameters
    ----------
    returns
        Simple returns, NaN where empty, in row order.
    n_present
        The number of non-empty returns ``n`` when ``returns`` is a subset of the rows that holds every
        return with |r| >= 1 in row order (a reader that streams its rows keeps only those); None: counted
        in ``returns``. The row found indexes ``returns``.

    Returns
    -------
    RowProblem or None
        None when the units look right. Otherwise the first row concerned and a message:

        - *percent*: ``m`` rows have |r| >= 1 and ``m >= PERCENT_MIN_ROWS`` or
          ``m >= PERCENT_MIN_SHARE * n`` (``n`` the non-empty returns); the row is the first with |r| >= 1;
        - *a large return*: otherwise, some r > 1; the row is the first such.

    Notes
    -----
    A daily simple return of 1 is a gain of 100 %; in decimal data such days are rare (a few in a
    million stock-days), while in percent data a third or more of the rows exceed 1 in absolute value.
    """
    present = ~np.isnan(returns)
    n = int(present.sum()) if n_present is None else n_present
    large = present & (np.abs(np.where(present, returns, 0.0)) >= 1.0)
    m = int(large.sum())
    if m and (m >= PERCENT_MIN_ROWS or m >= PERCENT_MIN_SHARE * n):
        k = int(np.flatnonzero(large)[0])
        message = (
            f"{m} of {n} returns have |r| >= 1 (a move of 100 % or more in a day), the first here "
            f"({show(returns[k])}): the values look like percent; give simple returns as decimals "
            "(0.01 = 1 %), e.g. divide by 100"
        )
        return RowProblem(k, message, returns[k])
    above = np.flatnonzero(present & (np.where(present, returns, 0.0) > 1.0))
    if not len(above):
        return None
    k = int(above[0])
    more = f" ({len(above)} such rows)" if len(above) > 1 else ""
    message = (
        f"return {show(returns[k])} is a gain of more than 100 % in one day{more}; check that the returns "
        "are simple returns as decimals (0.01 = 1 %), not percent"
    )
    return RowProblem(k, message, returns[k])


@dataclass(frozen=True, eq=False)
class RowOrder:
    """Rows put in key order, with the keys given more than once.

    Parameters
    ----------
    order
        Positions that sort the rows by key (a stable sort: equal keys keep their input order).
    presorted
        True when the rows were already in non-decreasing key order (``order`` is then the identity).
    duplicates
        Input positions of the rows whose key an earlier row already has, ascending.
    firsts
        For each of ``duplicates``, the input position of the first row with that key.
    """

    order: IntArray
    presorted: bool
    duplicates: IntArray
    firsts: IntArray

    @property
    def kept(self) -> IntArray:
        """Positions of the first row of each key, in key order (what "keep the first" keeps)."""
        if not len(self.duplicates):
            return self.order
        drop = np.zeros(len(self.order), dtype=bool)
        drop[self.duplicates] = True
        return self.order[~drop[self.order]]


def order_rows(keys: IntArray) -> RowOrder:
    """Sort rows by an integer key (dates as ``int64`` nanoseconds, or a combined (ticker, day) key).

    Parameters
    ----------
    keys
        One integer key per row.

    Returns
    -------
    RowOrder
        The stable order and the duplicated keys (one sort, then a comparison of neighbours).
    """
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    presorted = n < 2 or bool((keys[1:] >= keys[:-1]).all())
    order = np.arange(n, dtype=np.int64) if presorted else np.argsort(keys, kind="stable").astype(np.int64)
    sorted_keys = keys if presorted else keys[order]
    repeat = np.zeros(n, dtype=bool)
    if n > 1:
        repeat[1:] = sorted_keys[1:] == sorted_keys[:-1]
    if not repeat.any():
        empty = np.zeros(0, dtype=np.int64)
        return RowOrder(order=order, presorted=presorted, duplicates=empty, firsts=empty)
    group_start = np.maximum.accumulate(np.where(repeat, 0, np.arange(n)))
    duplicates = order[repeat]
    firsts = order[group_start[repeat]]
    by_position = np.argsort(duplicates, kind="stable")
    return RowOrder(order=order, presorted=presorted, duplicates=duplicates[by_position], firsts=firsts[by_position])


def zero_volume(symbol: str, volume: FloatArray | None) -> BoolArray:
    """Mark the rows with volume 0 that may be dropped as placeholders.

    Parameters
    ----------
    symbol
        The symbol; FX symbols (:func:`eventstudy.symbols.is_fx`) always trade with volume 0, so none of
        their rows is marked.
    volume
        Volume per row (NaN where unknown), or None when the source has no volume.

    Returns
    -------
    numpy.ndarray of bool
        True where the volume is exactly 0 (all False for FX or without volume).
    """
    if volume is None:
        return np.zeros(0, dtype=bool)
    if is_fx(symbol):
        return np.zeros(len(volume), dtype=bool)
    return np.asarray(volume == 0, dtype=bool)


def list_dates(dates: pd.DatetimeIndex | np.ndarray) -> str:
    """A short list of dates for a note: the first five and how many more."""
    shown = [str(pd.Timestamp(d).date()) for d in dates[:_MAX_LISTED]]
    more = len(dates) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def list_lines(lines: IntArray) -> str:
    """A short list of line numbers for a note: the first five and ``...`` when there are more."""
    shown = ", ".join(str(int(x)) for x in lines[:_MAX_LISTED])
    return shown + (" ..." if len(lines) > _MAX_LISTED else "")


__all__ = [
    "FIRST_DATE",
    "ISO_DATE_RE",
    "LAST_DATE",
    "MAX_PRICE",
    "MAX_RETURN",
    "MIN_PRICE",
    "MISSING_TOKENS",
    "PERCENT_MIN_ROWS",
    "PERCENT_MIN_SHARE",
    "RowOrder",
    "RowProblem",
    "ValueKind",
    "invalid_values",
    "is_missing",
    "list_dates",
    "list_lines",
    "order_rows",
    "parse_dates",
    "parse_values",
    "show",
    "units_problem",
    "zero_volume",
]
