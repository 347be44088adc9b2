"""The checks behind :mod:`eventstudy.events`: the header, the cell text and every column and row rule.

:func:`_check_header` rejects duplicated, unknown or missing columns (:data:`COLUMNS`,
:data:`REQUIRED_COLUMNS`); :func:`_as_text` turns a DataFrame column into the strings an events file would
hold; :func:`_validated_fields` checks every column on whole arrays (pandas parsing and hashing, NumPy
masks, plain string maps), raises :class:`~eventstudy.errors.InputError` with ``path``, ``line``, ``column``
and ``value`` at the first offending row, and returns the fields of the events. :func:`_naive_local` and
:func:`_localize` turn local wall times into UTC instants. The rules themselves are listed in the
docstring of :mod:`eventstudy.events`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from eventstudy.errors import InputError

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

_HEADER_TEXT = ",".join(COLUMNS)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TIME_RE = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?\Z")
_BAD_SYMBOL_RE = re.compile(r"[\s,]")


def _check_header(header: Sequence[str], path: str, line: int) -> list[str]:
    """Strip the column names and reject duplicated, unknown or missing columns."""
    names = [str(h).strip() for h in header]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(
                f"column {name!r} appears twice in the header; expected header: {_HEADER_TEXT}",
                path=path,
                line=line,
                column=name,
                value=name,
            )
        seen.add(name)
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise InputError(
            f"unknown column(s) {', '.join(repr(u) for u in unknown)}; allowed columns are {_HEADER_TEXT} "
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
            f"{_HEADER_TEXT} (required: {', '.join(REQUIRED_COLUMNS)})",
            path=path,
            line=line,
            column=missing[0],
            value=list(names),
        )
    return names


def _as_text(series: pd.Series, name: str) -> pd.Series:
    """Turn one frame column into Python strings, with ``""`` for missing cells."""
    values = series.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.dt.strftime("%Y-%m-%d") if name == "date" else values.astype(str)
        return text.astype(object).where(values.notna(), "")
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.map({True: "true", False: "false"}).astype(object)
    obj = values.astype(object)
    if not obj.map(lambda v: type(v) is str).all():
        obj = obj.map(lambda v: _cell_to_text(v, name))
    return obj.where(obj.notna(), "").astype(str).astype(object)


def _cell_to_text(value: object, name: str) -> object:
    """Convert one non-string cell (a list of symbols, a bool, a date or time object) to text."""
    if isinstance(value, (list, tuple)) and name in ("tickers", "benchmark"):
        return ";".join(str(v) for v in value)
    if isinstance(value, (bool, np.bool_)) and name == "time_approximate":
        return "true" if value else "false"
    if isinstance(value, dt.datetime) and name == "date":
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value


def _first(mask: np.ndarray) -> int | None:
    """Position of the first True in a boolean mask, or None."""
    if not mask.any():
        return None
    return int(np.argmax(mask))


def _strip(values: Iterable[str]) -> np.ndarray:
    """Strip every string of an iterable into an object array."""
    return np.array(list(map(str.strip, values)), dtype=object)


def _matches(pattern: re.Pattern[str], values: np.ndarray) -> np.ndarray:
    """Boolean array: whether ``pattern`` matches each string from its start."""
    return np.fromiter(map(bool, map(pattern.match, values)), dtype=bool, count=len(values))


def _contains(pattern: re.Pattern[str], values: np.ndarray) -> np.ndarray:
    """Boolean array: whether ``pattern`` occurs anywhere in each string."""
    return np.fromiter(map(bool, map(pattern.search, values)), dtype=bool, count=len(values))


def _equals(values: np.ndarray, text: str) -> np.ndarray:
    """Boolean array ``values == text`` for an object array of strings."""
    return np.asarray(values == text, dtype=bool)


def _split_lists(cells: np.ndarray) -> tuple[list[tuple[str, ...]], list[str], np.ndarray]:
    """Split ``;``-lists into stripped items.

    Returns the items per row (tuples), all items flat in row order, and the item count per row.
    """
    strip = str.strip
    per_row = [tuple(map(strip, c.split(";"))) for c in cells]
    counts = np.fromiter(map(len, per_row), dtype=np.int64, count=len(per_row))
    return per_row, list(chain.from_iterable(per_row)), counts


def _validated_fields(
    frame: pd.DataFrame, path: str, lines: np.ndarray, default_benchmark: Callable[[str], str | None]
) -> tuple[Iterable[Any], ...]:
    """Validate the string cells of an events table and return the fields of its events.

    Every check runs on whole columns (pandas parsing and hashing, NumPy masks, plain string maps) and
    reports the first offending row. ``default_benchmark`` names the benchmark of a ticker whose
    benchmark is left empty. The result holds one iterable per field of :class:`~eventstudy.events.Event`,
    in field order from ``event_id`` to ``time_approximate`` (``line`` is the caller's).
    """
    n = len(frame)

    def col(name: str) -> np.ndarray:
        if name in frame.columns:
            return _strip(frame[name].to_numpy(dtype=object))
        return np.full(n, "", dtype=object)

    def fail(pos: int, column: str, message: str, value: object) -> InputError:
        return InputError(message, path=path, line=int(lines[pos]), column=column, value=value)

    event_id = col("event_id")
    date = col("date")
    time_raw = col("time")
    timezone = col("timezone")
    tickers_cell = col("tickers")
    bench_cell = col("benchmark")
    approx_raw = col("time_approximate")
    approx_cell = np.array(list(map(str.lower, approx_raw)), dtype=object)

    # event_id: non-empty and unique
    pos = _first(_equals(event_id, ""))
    if pos is not None:
        raise fail(pos, "event_id", "empty event_id; every event needs a unique identifier", "")
    pos = _first(pd.Series(event_id).duplicated(keep="first").to_numpy())
    if pos is not None:
        value = event_id[pos]
        first = int(np.argmax(_equals(event_id, value)))
        raise fail(
            pos,
            "event_id",
            f"duplicate event_id {value!r} on lines {int(lines[first])} and {int(lines[pos])}; "
            "event ids must be unique",
            value,
        )

    # date: YYYY-MM-DD and a real calendar date
    parsed_date = pd.to_datetime(date, format="%Y-%m-%d", errors="coerce")
    pos = _first(~_matches(_DATE_RE, date) | np.asarray(parsed_date.isna()))
    if pos is not None:
        raise fail(
            pos,
            "date",
            f"invalid date {date[pos]!r}; expected YYYY-MM-DD, a real calendar date (e.g. 2021-03-15)",
            date[pos],
        )

    # time: optional, HH:MM or HH:MM:SS; a leading '~' marks an approximate time
    tilde = np.fromiter((v.startswith("~") for v in time_raw), dtype=bool, count=n)
    time_text = _strip(v.lstrip("~") for v in time_raw) if tilde.any() else time_raw
    has_time = ~_equals(time_text, "")
    pos = _first((has_time & ~_matches(_TIME_RE, time_text)) | (tilde & ~has_time))
    if pos is not None:
        raise fail(
            pos,
            "time",
            f"invalid time {time_raw[pos]!r}; expected HH:MM or HH:MM:SS on a 24-hour clock, local to the "
            "timezone column, or an empty cell for a date-only event",
            time_raw[pos],
        )

    # timezone: an IANA name; required (when the column exists) for timed events
    if "timezone" in frame.columns:
        empty_zone = _equals(timezone, "")
        pos = _first(has_time & empty_zone)
        if pos is not None:
            raise fail(
                pos,
                "timezone",
                f"time {time_text[pos]!r} is given without a time zone; give an IANA time zone such as "
                "'Asia/Hong_Kong' or 'America/New_York'",
                "",
            )
        timezone = np.where(empty_zone, "UTC", timezone).astype(object)
    else:
        timezone = np.full(n, "UTC", dtype=object)
    for name in pd.unique(timezone):
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pos = int(np.argmax(_equals(timezone, name)))
            raise fail(
                pos,
                "timezone",
                f"unknown time zone {name!r}; use an IANA name such as 'Asia/Hong_Kong', 'America/New_York' "
                "or 'UTC' (abbreviations such as HKT or EST are not accepted)",
                name,
            ) from None
    if has_time.any():
        rows = np.flatnonzero(has_time)
        local = _naive_local(date[rows], time_text[rows])
        gap = _first(np.asarray(_localize(local, timezone[rows], nonexistent="NaT").isna()))
        if gap is not None:
            pos = int(rows[gap])
            raise fail(
                pos,
                "time",
                f"local time {time_text[pos]} on {date[pos]} does not exist in {timezone[pos]} (it falls in the "
                "daylight-saving gap); correct the time or the time zone",
                time_text[pos],
            )

    # time_approximate: true/false/empty, consistent with the time and a '~' prefix
    is_true = _equals(approx_cell, "true")
    pos = _first(~(is_true | _equals(approx_cell, "false") | _equals(approx_cell, "")))
    if pos is not None:
        raise fail(
            pos,
            "time_approximate",
            f"invalid time_approximate {approx_raw[pos]!r}; expected true, false or an empty cell",
            approx_raw[pos],
        )
    pos = _first(is_true & ~has_time)
    if pos is not None:
        raise fail(
            pos,
            "time_approximate",
            "time_approximate is true but the time is empty; give the approximate time or clear the flag",
            approx_raw[pos],
        )
    pos = _first(tilde & _equals(approx_cell, "false"))
    if pos is not None:
        raise fail(
            pos,
            "time_approximate",
            f"time {time_raw[pos]!r} is marked approximate with '~' but time_approximate is false",
            approx_raw[pos],
        )
    approximate = is_true | tilde

    # tickers: a non-empty list without empty items, other separators or duplicates
    pos = _first(_equals(tickers_cell, ""))
    if pos is not None:
        raise fail(pos, "tickers", "empty ticker list; give one or more tickers separated by ';'", "")
    ticker_tuples, ticker_items, n_tickers = _split_lists(tickers_cell)
    tickers_arr = np.array(ticker_items, dtype=object)
    row_of_item = np.repeat(np.arange(n), n_tickers)
    item = _first(_equals(tickers_arr, ""))
    if item is not None:
        pos = int(row_of_item[item])
        position = [t.strip() for t in tickers_cell[pos].split(";")].index("") + 1
        raise fail(
            pos,
            "tickers",
            f"empty item at position {position} of the ticker list {tickers_cell[pos]!r}; separate tickers "
            "with a single ';'",
            tickers_cell[pos],
        )
    item = _first(_contains(_BAD_SYMBOL_RE, tickers_arr))
    if item is not None:
        pos = int(row_of_item[item])
        raise fail(
            pos,
            "tickers",
            f"ticker {tickers_arr[item]!r} contains a space or a comma; separate tickers with ';'",
            tickers_cell[pos],
        )
    pos = _first(np.fromiter(map(len, map(set, ticker_tuples)), dtype=np.int64, count=n) != n_tickers)
    if pos is not None:
        row_items = ticker_tuples[pos]
        twice = next(t for i, t in enumerate(row_items) if t in row_items[:i])
        raise fail(
            pos,
            "tickers",
            f"ticker {twice!r} appears more than once in event {event_id[pos]!r}",
            tickers_cell[pos],
        )

    # benchmark: empty (defaults), one symbol for all tickers, or a list aligned with the tickers
    _, bench_items, n_bench = _split_lists(bench_cell)
    bench_arr = np.array(bench_items, dtype=object)
    n_bench = np.where(_equals(bench_cell, ""), 0, n_bench)
    pos = _first((n_bench > 1) & (n_bench != n_tickers))
    if pos is not None:
        raise fail(
            pos,
            "benchmark",
            f"{n_bench[pos]} benchmarks for {n_tickers[pos]} tickers; give one benchmark for all tickers, one "
            "per ticker in the same order, or leave the cell empty for the default by listing",
            bench_cell[pos],
        )
    item = _first(_contains(_BAD_SYMBOL_RE, bench_arr))
    if item is not None:
        pos = int(np.repeat(np.arange(n), np.maximum(n_bench, 1))[item])
        raise fail(
            pos,
            "benchmark",
            f"benchmark {bench_arr[item]!r} contains a space or a comma; separate benchmarks with ';'",
            bench_cell[pos],
        )
    # One benchmark per ticker; "" stands for the default by listing (an empty cell or an empty list item).
    item_n_bench = n_bench[row_of_item]
    benchmarks = np.full(len(tickers_arr), "", dtype=object)
    single = item_n_bench == 1
    benchmarks[single] = bench_cell[row_of_item[single]]
    listed = item_n_bench > 1
    if listed.any():
        bench_rows = np.repeat(np.arange(n), np.maximum(n_bench, 1))
        benchmarks[listed] = bench_arr[n_bench[bench_rows] > 1]
    needs_default = _equals(benchmarks, "")
    if needs_default.any():
        wanted = tickers_arr[needs_default]
        defaults = {t: default_benchmark(t) for t in pd.unique(wanted)}
        filled = np.array([defaults[t] for t in wanted], dtype=object)
        j = _first(np.fromiter((f is None for f in filled), dtype=bool, count=len(filled)))
        if j is not None:
            pos = int(row_of_item[np.flatnonzero(needs_default)[j]])
            raise fail(
                pos,
                "benchmark",
                f"no default benchmark for ticker {wanted[j]!r} (defaults exist only for .HK -> ^HSI, "
                ".TW/.TWO -> ^TWII, .T -> ^N225 and US symbols without a suffix -> ^GSPC); give a benchmark "
                "for it in the benchmark column",
                wanted[j],
            )
        benchmarks[needs_default] = filled

    # the fields of the events
    ends = np.cumsum(n_tickers).tolist()
    bench_list = benchmarks.tolist()
    bench_tuples = [tuple(bench_list[e - k : e]) for e, k in zip(ends, n_tickers.tolist(), strict=False)]
    fromiso_time = dt.time.fromisoformat
    times = [fromiso_time(t) if t else None for t in time_text]
    return (
        event_id,
        map(dt.date.fromisoformat, date),
        times,
        timezone,
        col("headline"),
        col("category"),
        ticker_tuples,
        bench_tuples,
        col("source"),
        approximate.tolist(),
    )


def _naive_local(dates: np.ndarray, times: np.ndarray) -> pd.DatetimeIndex:
    """Combine ``YYYY-MM-DD`` and ``HH:MM[:SS]`` strings into naive nanosecond timestamps."""
    text = [d + " " + (t if len(t) == 8 else t + ":00") for d, t in zip(dates, times, strict=False)]
    return pd.DatetimeIndex(pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S")).as_unit("ns")


def _localize(local: pd.DatetimeIndex, zones: np.ndarray, *, nonexistent: str) -> pd.DatetimeIndex:
    """Localise naive wall times, each in its own zone, and return them in UTC.

    An ambiguous wall time is read as its first (daylight-time) occurrence; ``nonexistent`` is passed to
    pandas (``"NaT"`` or ``"raise"``).
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
