"""The checks behind :mod:`eventstudy.events`: the header, the cell text and one validator per column.

:func:`check_header` rejects duplicated, unknown or missing columns (:data:`COLUMNS`,
:data:`REQUIRED_COLUMNS`); :func:`check_list_items` rejects missing or non-text items in ticker and
benchmark lists given as Python lists; :func:`as_text` turns a DataFrame column into the strings an events
file would hold; :func:`validated_fields` runs one validator per column (``_event_id``, ``_date``,
``_time``, ``_timezone``, ``_time_approximate``, ``_tickers``, ``_benchmark``) and returns the fields of the
events. Each validator works on whole arrays (pandas parsing and hashing, NumPy masks, plain string maps)
and raises :class:`~eventstudy.errors.InputError` with ``path``, ``line``, ``column`` and ``value`` at the
first offending row. :func:`naive_local` and :func:`localize` turn local wall times into UTC instants. The
rules themselves are listed in the docstring of :mod:`eventstudy.events`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from eventstudy._typing import BoolArray, IntArray
from eventstudy.calendars import out_of_range_message, outside_event_date_range
from eventstudy.errors import InputError
from eventstudy.symbols import default_benchmark, describe_default_benchmarks

__all__ = [
    "COLUMNS",
    "HEADER_TEXT",
    "REQUIRED_COLUMNS",
    "as_text",
    "check_header",
    "check_list_items",
    "localize",
    "naive_local",
    "validated_fields",
]

#: Every column an events file may have, in the canonical order.
COLUMNS: tuple[str, ...] = (
    "event_id",
    "date",
    "time",
    "timezone",
    "headline",
    "category",
    "tickers",
    "benchmark",
    "source",
    "time_approximate",
)
#: Columns that must be present.
REQUIRED_COLUMNS: tuple[str, ...] = ("event_id", "date", "tickers")
#: The canonical header line, quoted in messages about a bad or missing header.
HEADER_TEXT = ",".join(COLUMNS)

_LIST_COLUMNS: tuple[str, ...] = ("tickers", "benchmark")
_TIME_RE = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?\Z", re.ASCII)  # ASCII digits only
_BAD_SYMBOL_RE = re.compile(r"[\s,]")


# ---------------------------------------------------------------------------------------------------------
# header and cell text


def check_header(header: Sequence[str], path: str, line: int) -> list[str]:
    """Strip the column names and reject duplicated, unknown or missing columns.

    Parameters
    ----------
    header
        The column names as read.
    path, line
        Where the header is, for error messages.

    Returns
    -------
    list of str
        The stripped names (a leading byte-order mark removed), in file order.

    Raises
    ------
    InputError
        For a duplicated, unknown or missing required column, naming it and the expected header.
    """
    names = [str(h).strip() for h in header]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(
                f"column {name!r} appears twice in the header; expected header: {HEADER_TEXT}",
                path=path,
                line=line,
                column=name,
                value=name,
            )
        seen.add(name)
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise InputError(
            f"unknown column(s) {', '.join(repr(u) for u in unknown)}; allowed columns are {HEADER_TEXT} "
            f"(required: {', '.join(REQUIRED_COLUMNS)})",
            path=path,
            line=line,
            column=unknown[0],
            value=unknown,
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"missing required column(s) {', '.join(repr(m) for m in missing)}; expected header: "
            f"{HEADER_TEXT} (required: {', '.join(REQUIRED_COLUMNS)})",
            path=path,
            line=line,
            column=missing[0],
            value=list(names),
        )
    return names


def _is_missing(value: object) -> bool:
    """True for None, NaN, ``pd.NA`` and ``pd.NaT``."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _first_bad_item(cell: object, allow_missing: bool) -> int:
    """1-based position of the first item of a list cell that is not text (0: none, or not a list).

    A missing item (None, NaN) counts as bad unless ``allow_missing``.
    """
    if not isinstance(cell, (list, tuple)):
        return 0
    for k, item in enumerate(cell, start=1):
        if isinstance(item, str) or (allow_missing and _is_missing(item)):
            continue
        return k
    return 0


def check_list_items(frame: pd.DataFrame, columns: Sequence[str], path: str) -> None:
    """Reject list cells of ``tickers`` or ``benchmark`` with an item that is not a symbol string.

    Parameters
    ----------
    frame
        The events as given to :func:`eventstudy.events.events_from_frame`.
    columns
        The checked column names of ``frame``, in its order (:func:`check_header`).
    path
        The name used in error messages.

    Raises
    ------
    InputError
        At the first row whose ``tickers`` list holds a missing item (None, NaN) or a non-string item, or
        whose ``benchmark`` list holds a non-string item; the message names the event and the 1-based
        position, ``line`` is the row position + 2 (as in a CSV file with a header line). A missing item of
        a ``benchmark`` list is allowed: like an empty item it means the default benchmark.
    """
    for index, name in enumerate(columns):
        if name not in _LIST_COLUMNS:
            continue
        cells = frame.iloc[:, index].reset_index(drop=True)
        if pd.api.types.infer_dtype(cells, skipna=True) in ("string", "empty"):
            continue  # text and missing cells only (one C-level scan): no list to check
        positions = cells.map(lambda cell, name=name: _first_bad_item(cell, allow_missing=name == "benchmark"))
        rows = np.flatnonzero(positions.to_numpy(dtype=np.int64))
        if not len(rows):
            continue
        row = int(rows[0])
        k = int(positions.iloc[row])
        item = cells.iloc[row][k - 1]
        event_id = str(frame.iloc[row, columns.index("event_id")]).strip() if "event_id" in columns else ""
        kind = "ticker" if name == "tickers" else "benchmark"
        what = "missing" if _is_missing(item) else f"a {type(item).__name__}, not a string"
        raise InputError(
            f"item {k} of the {kind} list of event {event_id!r} is {item!r} ({what}); every {kind} must be a "
            "Yahoo symbol string such as '0700.HK': give the symbol or remove the item",
            path=path,
            line=row + 2,
            column=name,
            value=list(cells.iloc[row]),
        )


def as_text(series: pd.Series, name: str) -> pd.Series:
    """Turn one frame column into Python strings, with ``""`` for missing cells.

    Parameters
    ----------
    series
        One column of an events DataFrame.
    name
        Its column name: ``date`` cells that are datetimes become ``YYYY-MM-DD``, ``tickers`` and
        ``benchmark`` lists are joined with ``;`` (a missing item becomes an empty item), booleans of
        ``time_approximate`` become ``true``/``false``.

    Returns
    -------
    Series
        Object dtype, one string per cell, indexed from 0.
    """
    values = series.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.dt.strftime("%Y-%m-%d") if name == "date" else values.astype(str)
        return text.astype(object).where(values.notna(), "")
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.map({True: "true", False: "false"}).astype(object)
    obj = values.astype(object)
    if pd.api.types.infer_dtype(obj, skipna=False) == "string":  # every cell is text (one C-level scan)
        return obj
    obj = obj.map(lambda v: _cell_to_text(v, name))
    return obj.where(obj.notna(), "").astype(str).astype(object)


def _cell_to_text(value: object, name: str) -> object:
    """Convert one non-string cell (a list of symbols, a bool, a date or time object) to text."""
    if isinstance(value, (list, tuple)) and name in _LIST_COLUMNS:
        try:
            return ";".join(value)  # the items were checked by check_list_items: text, or missing benchmarks
        except TypeError:
            return ";".join("" if _is_missing(v) else str(v) for v in value)
    if isinstance(value, (bool, np.bool_)) and name == "time_approximate":
        return "true" if value else "false"
    if isinstance(value, dt.datetime) and name == "date":
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------------------------------------
# array helpers


def _first(mask: np.ndarray) -> int | None:
    """Position of the first True in a boolean mask, or None."""
    if not mask.any():
        return None
    return int(np.argmax(mask))


def _has_space(text: str) -> bool:
    """Whether ``text`` holds any white space (what ``str.strip`` and ``str.split`` remove), in one C scan."""
    words = text.split(maxsplit=1)
    return bool(text) and (len(words) != 1 or len(words[0]) != len(text))


def _strip(values: np.ndarray) -> np.ndarray:
    """Strip every string of an object array; the array itself when no cell holds any white space.

    One scan of the joined cells decides whether any cell needs stripping (10^6 cells: a few milliseconds
    instead of a method call per cell).
    """
    if not _has_space("".join(values)):
        return values
    return np.array(list(map(str.strip, values)), dtype=object)


def _matches(pattern: re.Pattern[str], values: np.ndarray) -> BoolArray:
    """Boolean array: whether ``pattern`` matches each string from its start."""
    return np.fromiter(map(bool, map(pattern.match, values)), dtype=bool, count=len(values))


def _bad_symbols(values: np.ndarray) -> BoolArray:
    """Boolean array: whether each symbol holds white space or a comma (:data:`_BAD_SYMBOL_RE`).

    One scan of the joined symbols decides whether any holds one; only then is each symbol searched.
    """
    joined = "".join(values)
    if "," not in joined and not _has_space(joined):
        return np.zeros(len(values), dtype=bool)
    return np.fromiter(map(bool, map(_BAD_SYMBOL_RE.search, values)), dtype=bool, count=len(values))


def _iso_dates(values: np.ndarray) -> BoolArray:
    """Boolean array: whether each string is ``YYYY-MM-DD`` in ASCII digits.

    Whole-array test on the code points of the ten-character cells. Other digits (``"٢٠٢١-03-15"``) are
    rejected here: pandas would read them but :meth:`datetime.date.fromisoformat` would not.
    """
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    ok = lengths == 10
    if ok.any():
        points = values[ok].astype("U10").view(np.uint32).reshape(-1, 10)
        digits = (points >= ord("0")) & (points <= ord("9"))
        dashes = points[:, [4, 7]] == ord("-")
        ok[ok] = digits[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & dashes.all(axis=1)
    return ok


def _equals(values: np.ndarray, text: str) -> BoolArray:
    """Boolean array ``values == text`` for an object array of strings."""
    return np.asarray(values == text, dtype=bool)


def _per_distinct(values: np.ndarray, convert: Callable[[Any], Any]) -> tuple[np.ndarray, IntArray]:
    """``convert`` applied once per distinct value: the results (object array) and each value's code.

    ``results[codes]`` is the converted value of every row; rows with equal values share one object
    (10^6 events on a few thousand dates hold a few thousand date objects).
    """
    codes, distinct = pd.factorize(values)
    results = np.empty(len(distinct), dtype=object)
    results[:] = list(map(convert, np.asarray(distinct, dtype=object)))
    return results, codes.astype(np.int64)


class _Lists(NamedTuple):
    """``;``-lists split into stripped items."""

    per_row: list[tuple[str, ...]]  # the items of each row (rows with the same cell share one tuple)
    items: np.ndarray  # every item, flat in row order (object array)
    counts: IntArray  # the number of items of each row
    row_of_item: IntArray  # the row of each item
    cell_code: IntArray  # the code of each row's cell among the distinct cells


def _split_list(cell: str) -> tuple[str, ...]:
    """The stripped items of one ``;``-list."""
    return tuple(map(str.strip, cell.split(";"))) if ";" in cell else (cell,)


def _split_lists(cells: np.ndarray) -> _Lists:
    """Split the ``;``-lists of an object array of stripped strings into stripped items.

    Each distinct cell is split once (:func:`_per_distinct`), so a file of 10^6 events on 10^4 ticker lists
    splits 10^4 cells and holds 10^4 tuples; the flat items are gathered from the distinct cells' items.
    """
    lists, codes = _per_distinct(cells, _split_list)
    per_row: list[tuple[str, ...]] = lists[codes].tolist()
    distinct_counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    counts = distinct_counts[codes]
    rows = np.arange(len(cells))
    if (distinct_counts == 1).all():
        items = np.array(list(chain.from_iterable(lists)) + [None], dtype=object)[:-1][codes]
        return _Lists(per_row, items, counts, rows, codes)
    flat = np.array(list(chain.from_iterable(lists)) + [None], dtype=object)[:-1]
    first_item = np.cumsum(distinct_counts) - distinct_counts  # of each distinct cell in ``flat``
    row_start = np.cumsum(counts) - counts  # of each row in the items
    take = np.repeat(first_item[codes] - row_start, counts) + np.arange(int(counts.sum()))
    return _Lists(per_row, flat[take], counts, np.repeat(rows, counts), codes)


# ---------------------------------------------------------------------------------------------------------
# one validator per column


@dataclass(frozen=True)
class _Table:
    """The string cells of an events table under validation, and the line each row came from."""

    frame: pd.DataFrame
    path: str
    lines: IntArray

    def has(self, name: str) -> bool:
        """Whether the table has the column."""
        return name in self.frame.columns

    def column(self, name: str) -> np.ndarray:
        """The stripped cells of a column (object array); empty strings for an absent column."""
        if self.has(name):
            return _strip(np.asarray(self.frame[name].to_numpy(dtype=object), dtype=object))
        return np.full(len(self.frame), "", dtype=object)

    def error(self, pos: int, column: str, message: str, value: object) -> InputError:
        """An :class:`InputError` for row ``pos`` of ``column``."""
        return InputError(message, path=self.path, line=int(self.lines[pos]), column=column, value=value)


class _Times(NamedTuple):
    """The ``time`` column read: cells as given, times without ``~``, and masks."""

    raw: np.ndarray  # the stripped cells, '~' kept (for messages)
    text: np.ndarray  # HH:MM or HH:MM:SS, or "" for a date-only event
    has_time: BoolArray
    tilde: BoolArray  # marked approximate with a leading '~'


def _event_id(table: _Table) -> np.ndarray:
    """``event_id``: non-empty and unique; any length (outputs that need a bounded name derive one)."""
    event_id = table.column("event_id")
    pos = _first(_equals(event_id, ""))
    if pos is not None:
        raise table.error(pos, "event_id", "empty event_id; every event needs a unique identifier", "")
    pos = _first(pd.Series(event_id, dtype=object).duplicated(keep="first").to_numpy())
    if pos is not None:
        value = event_id[pos]
        first = int(np.argmax(_equals(event_id, value)))
        raise table.error(
            pos,
            "event_id",
            f"duplicate event_id {value!r} on lines {int(table.lines[first])} and {int(table.lines[pos])}; "
            "event ids must be unique",
            value,
        )
    return event_id


def _date(table: _Table) -> np.ndarray:
    """``date``: ``YYYY-MM-DD``, a real calendar date, inside :func:`eventstudy.calendars.event_date_range`."""
    date = table.column("date")
    parsed = pd.DatetimeIndex(pd.to_datetime(date, format="%Y-%m-%d", errors="coerce"))
    pos = _first(~_iso_dates(date) | np.asarray(parsed.isna()))
    if pos is not None:
        raise table.error(
            pos,
            "date",
            f"invalid date {date[pos]!r}; expected YYYY-MM-DD, a real calendar date (e.g. 2021-03-15)",
            date[pos],
        )
    pos = _first(outside_event_date_range(parsed))
    if pos is not None:
        raise table.error(pos, "date", out_of_range_message(dt.date.fromisoformat(date[pos])), date[pos])
    return date


def _time(table: _Table) -> _Times:
    """``time``: empty, or ``HH:MM``/``HH:MM:SS`` on a 24-hour clock; a leading ``~`` marks it approximate."""
    raw = table.column("time")
    tilde = np.zeros(len(raw), dtype=bool)
    if "~" in "".join(raw):
        tilde = np.fromiter(map(str.startswith, raw, repeat("~")), dtype=bool, count=len(raw))
    text = _strip(np.array([v.lstrip("~") for v in raw], dtype=object)) if tilde.any() else raw
    has_time = ~_equals(text, "")
    timed = np.flatnonzero(has_time)
    bad_time = np.zeros(len(raw), dtype=bool)
    bad_time[timed] = ~_matches(_TIME_RE, text[timed])
    pos = _first(bad_time | (tilde & ~has_time))
    if pos is not None:
        raise table.error(
            pos,
            "time",
            f"invalid time {raw[pos]!r}; expected HH:MM or HH:MM:SS on a 24-hour clock, local to the "
            "timezone column, or an empty cell for a date-only event",
            raw[pos],
        )
    return _Times(raw, text, has_time, tilde)


def _timezone(table: _Table, times: _Times) -> np.ndarray:
    """``timezone``: an IANA name; required for a timed event when the column exists; UTC otherwise."""
    n = len(times.text)
    if not table.has("timezone"):
        return np.full(n, "UTC", dtype=object)
    zones = table.column("timezone")
    empty = _equals(zones, "")
    pos = _first(times.has_time & empty)
    if pos is not None:
        raise table.error(
            pos,
            "timezone",
            f"time {times.text[pos]!r} is given without a time zone; give an IANA time zone such as "
            "'Asia/Hong_Kong' or 'America/New_York'",
            "",
        )
    zones = np.where(empty, "UTC", zones).astype(object)
    for name in pd.unique(zones):
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pos = int(np.argmax(_equals(zones, name)))
            raise table.error(
                pos,
                "timezone",
                f"unknown time zone {name!r}; use an IANA name such as 'Asia/Hong_Kong', 'America/New_York' "
                "or 'UTC' (abbreviations such as HKT or EST are not accepted)",
                name,
            ) from None
    return zones


def _local_time_exists(table: _Table, date: np.ndarray, times: _Times, zones: np.ndarray) -> None:
    """``time`` against ``timezone``: a wall time in a daylight-saving gap does not exist."""
    if not times.has_time.any():
        return
    rows = np.flatnonzero(times.has_time)
    local = naive_local(date[rows], times.text[rows])
    gap = _first(np.asarray(localize(local, zones[rows], nonexistent="NaT").isna()))
    if gap is not None:
        pos = int(rows[gap])
        raise table.error(
            pos,
            "time",
            f"local time {times.text[pos]} on {date[pos]} does not exist in {zones[pos]} (it falls in the "
            "daylight-saving gap); correct the time or the time zone",
            times.text[pos],
        )


def _time_approximate(table: _Table, times: _Times) -> BoolArray:
    """``time_approximate``: true/false (any case) or empty, consistent with the time and its ``~``."""
    raw = table.column("time_approximate")
    lowered = np.array(list(map(str.lower, raw)), dtype=object)
    is_true = _equals(lowered, "true")
    pos = _first(~(is_true | _equals(lowered, "false") | _equals(lowered, "")))
    if pos is not None:
        raise table.error(
            pos,
            "time_approximate",
            f"invalid time_approximate {raw[pos]!r}; expected true, false or an empty cell",
            raw[pos],
        )
    pos = _first(is_true & ~times.has_time)
    if pos is not None:
        raise table.error(
            pos,
            "time_approximate",
            "time_approximate is true but the time is empty; give the approximate time or clear the flag",
            raw[pos],
        )
    pos = _first(times.tilde & _equals(lowered, "false"))
    if pos is not None:
        raise table.error(
            pos,
            "time_approximate",
            f"time {times.raw[pos]!r} is marked approximate with '~' but time_approximate is false",
            raw[pos],
        )
    return is_true | times.tilde


def _tickers(table: _Table, event_id: np.ndarray) -> _Lists:
    """``tickers``: a non-empty ``;``-list without empty items, spaces, commas or duplicates."""
    cells = table.column("tickers")
    pos = _first(_equals(cells, ""))
    if pos is not None:
        raise table.error(pos, "tickers", "empty ticker list; give one or more tickers separated by ';'", "")
    lists = _split_lists(cells)
    item = _first(_equals(lists.items, ""))
    if item is not None:
        pos = int(lists.row_of_item[item])
        position = lists.per_row[pos].index("") + 1
        raise table.error(
            pos,
            "tickers",
            f"empty item at position {position} of the ticker list {cells[pos]!r} of event {event_id[pos]!r}; "
            "separate tickers with a single ';'",
            cells[pos],
        )
    item = _first(_bad_symbols(lists.items))
    if item is not None:
        pos = int(lists.row_of_item[item])
        raise table.error(
            pos,
            "tickers",
            f"ticker {lists.items[item]!r} contains a space or a comma; separate tickers with ';'",
            cells[pos],
        )
    multi = np.flatnonzero(lists.counts > 1)
    n_distinct = np.fromiter((len(set(lists.per_row[i])) for i in multi.tolist()), dtype=np.int64, count=len(multi))
    repeated = multi[n_distinct != lists.counts[multi]]
    pos = int(repeated[0]) if len(repeated) else None
    if pos is not None:
        row_items = lists.per_row[pos]
        twice = next(t for i, t in enumerate(row_items) if t in row_items[:i])
        raise table.error(
            pos,
            "tickers",
            f"ticker {twice!r} appears more than once in event {event_id[pos]!r}",
            cells[pos],
        )
    return lists


def _benchmark(table: _Table, tickers: _Lists) -> list[tuple[str, ...]]:
    """``benchmark``: empty (defaults), one symbol for all tickers, or a ``;``-list aligned with them.

    Returns one benchmark per ticker, per event; an empty cell or an empty item of a list takes
    :func:`eventstudy.symbols.default_benchmark` of its ticker.
    """
    cells = table.column("benchmark")
    lists = _split_lists(cells)
    n_bench = np.where(_equals(cells, ""), 0, lists.counts)
    pos = _first((n_bench > 1) & (n_bench != tickers.counts))
    if pos is not None:
        raise table.error(
            pos,
            "benchmark",
            f"{n_bench[pos]} benchmarks for {tickers.counts[pos]} tickers; give one benchmark for all tickers, "
            "one per ticker in the same order, or leave the cell empty for the default by listing",
            cells[pos],
        )
    item = _first(_bad_symbols(lists.items))
    if item is not None:
        pos = int(lists.row_of_item[item])
        raise table.error(
            pos,
            "benchmark",
            f"benchmark {lists.items[item]!r} contains a space or a comma; separate benchmarks with ';'",
            cells[pos],
        )
    # One benchmark per ticker; "" stands for the default by listing (an empty cell or an empty list item).
    item_n_bench = n_bench[tickers.row_of_item]
    benchmarks = np.full(len(tickers.items), "", dtype=object)
    single = item_n_bench == 1
    benchmarks[single] = cells[tickers.row_of_item[single]]
    listed = item_n_bench > 1
    if listed.any():
        benchmarks[listed] = lists.items[n_bench[lists.row_of_item] > 1]
    _fill_default_benchmarks(table, tickers, benchmarks)
    # The benchmarks of a row follow from its ticker cell and its benchmark cell: one tuple per distinct pair.
    pair_codes = pd.factorize(tickers.cell_code * (int(lists.cell_code.max()) + 1) + lists.cell_code)[0]
    # factorize numbers the pairs in order of first appearance: a pair's first row raises the running maximum
    first_row = np.flatnonzero(np.diff(np.maximum.accumulate(pair_codes), prepend=-1) > 0)
    starts = (np.cumsum(tickers.counts) - tickers.counts)[first_row].tolist()
    flat = benchmarks.tolist()
    distinct = np.empty(len(first_row), dtype=object)
    distinct[:] = [tuple(flat[b : b + k]) for b, k in zip(starts, tickers.counts[first_row].tolist(), strict=True)]
    per_row: list[tuple[str, ...]] = distinct[pair_codes].tolist()
    return per_row


def _fill_default_benchmarks(table: _Table, tickers: _Lists, benchmarks: np.ndarray) -> None:
    """Replace each ``""`` of ``benchmarks`` (one per ticker item) by the ticker's default, in place."""
    needs_default = _equals(benchmarks, "")
    if not needs_default.any():
        return
    wanted = tickers.items[needs_default]
    defaults = {t: default_benchmark(t) for t in pd.unique(wanted)}
    filled = np.array([defaults[t] for t in wanted], dtype=object)
    j = _first(np.fromiter((f is None for f in filled), dtype=bool, count=len(filled)))
    if j is not None:
        pos = int(tickers.row_of_item[np.flatnonzero(needs_default)[j]])
        raise table.error(
            pos,
            "benchmark",
            f"no default benchmark for ticker {wanted[j]!r} (defaults exist only for "
            f"{describe_default_benchmarks()}); give a benchmark for it in the benchmark column",
            wanted[j],
        )
    benchmarks[needs_default] = filled


def validated_fields(frame: pd.DataFrame, path: str, lines: IntArray) -> tuple[Iterable[Any], ...]:
    """Validate the string cells of an events table and return the fields of its events.

    Parameters
    ----------
    frame
        One row per event, string cells (:func:`as_text`), columns checked by :func:`check_header`.
    path
        The file (or name) for error messages.
    lines
        The 1-based line of each row (the header is line 1).

    Returns
    -------
    tuple
        One iterable per field of :class:`~eventstudy.events.Event`, in field order from ``event_id`` to
        ``time_approximate`` (``line`` is the caller's).

    Raises
    ------
    InputError
        At the first offending row of the first column that fails, in the order ``event_id``, ``date``,
        ``time``, ``timezone`` (and the daylight-saving gap of ``time``), ``time_approximate``, ``tickers``,
        ``benchmark``.
    """
    table = _Table(frame, path, lines)
    event_id = _event_id(table)
    date = _date(table)
    times = _time(table)
    zones = _timezone(table, times)
    _local_time_exists(table, date, times, zones)
    approximate = _time_approximate(table, times)
    tickers = _tickers(table, event_id)
    benchmarks = _benchmark(table, tickers)
    return (
        event_id,
        _dates(date),
        _times_of_day(times),
        zones,
        table.column("headline"),
        table.column("category"),
        tickers.per_row,
        benchmarks,
        table.column("source"),
        approximate.tolist(),
    )


def _dates(text: np.ndarray) -> list[dt.date]:
    """The ``date`` of each event as a :class:`datetime.date` (one object per distinct date)."""
    days, codes = _per_distinct(text, dt.date.fromisoformat)
    out: list[dt.date] = days[codes].tolist()
    return out


def _times_of_day(times: _Times) -> list[dt.time | None]:
    """The ``time`` of each event: a :class:`datetime.time` (one object per distinct time), or None."""
    out = np.full(len(times.text), None, dtype=object)
    if times.has_time.any():
        clock, codes = _per_distinct(times.text[times.has_time], dt.time.fromisoformat)
        out[times.has_time] = clock[codes]
    return list(out)


# ---------------------------------------------------------------------------------------------------------
# local wall times


def naive_local(dates: np.ndarray, times: np.ndarray) -> pd.DatetimeIndex:
    """Combine ``YYYY-MM-DD`` and ``HH:MM[:SS]`` strings into naive nanosecond timestamps.

    Parameters
    ----------
    dates, times
        Object arrays of equal length.

    Returns
    -------
    DatetimeIndex
        Naive ``datetime64[ns]`` local wall times.
    """
    text = [d + " " + (t if len(t) == 8 else t + ":00") for d, t in zip(dates, times, strict=True)]
    return pd.DatetimeIndex(pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S")).as_unit("ns")


def localize(local: pd.DatetimeIndex, zones: np.ndarray, *, nonexistent: str) -> pd.DatetimeIndex:
    """Localise naive wall times, each in its own zone, and return them in UTC.

    Parameters
    ----------
    local
        Naive wall times.
    zones
        The IANA zone of each (object array, same length).
    nonexistent
        ``"NaT"`` or ``"raise"``, passed to pandas for a wall time in a daylight-saving gap.

    Returns
    -------
    DatetimeIndex
        ``datetime64[ns, UTC]``. An ambiguous wall time is read as its first (daylight-time) occurrence.
    """
    out = np.full(len(local), np.iinfo(np.int64).min, dtype=np.int64)
    for name in pd.unique(zones):
        sel = zones == name
        aware = local[sel].tz_localize(
            name,
            ambiguous=np.ones(int(sel.sum()), dtype=bool),
            nonexistent=nonexistent,
        )
        out[sel] = aware.tz_convert("UTC").as_unit("ns").asi8
    return pd.DatetimeIndex(out.view("datetime64[ns]")).tz_localize("UTC")
