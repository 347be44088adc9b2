"""Read and validate the events file.

An events file is a UTF-8 CSV (a byte-order mark is tolerated) with one row per event::

    event_id,date,time,timezone,headline,category,tickers,benchmark,source,time_approximate

Only ``event_id``, ``date`` and ``tickers`` are required; the other columns are optional but no unknown
column is accepted. The rules (``docs/EVENTS.md`` §4, ``docs/ECOSYSTEM.md`` §4):

- ``date`` is the local release date ``YYYY-MM-DD`` in ``timezone``.
- ``time`` is ``HH:MM`` or ``HH:MM:SS`` (24-hour clock, local to ``timezone``) or empty for a date-only
  event. A leading ``~`` (the notation of ``docs/EVENTS.md`` §4) is read as ``time_approximate = true``.
- ``timezone`` is an IANA name (``Asia/Hong_Kong``). When the column is absent every event is in UTC; when
  it is present a timed event must name its zone, and a date-only event with an empty cell is read in UTC.
- ``tickers`` is a ``;``-separated list of Yahoo symbols. ``benchmark`` is either one symbol for all the
  tickers or a ``;``-separated list aligned with ``tickers`` by position. An empty cell (or an empty item
  of a list) means the default benchmark by listing (:func:`default_benchmark`).
- ``time_approximate`` is ``true``/``false`` (any case) or empty.

Every problem raises :class:`~eventstudy.errors.InputError` carrying the file ``path``, the 1-based
``line`` (the header is line 1), the ``column`` name and the offending ``value``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from eventstudy.errors import InputError

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "Event",
    "default_benchmark",
    "event_ticker_pairs",
    "events_from_frame",
    "events_to_frame",
    "read_events",
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

_HEADER_TEXT = ",".join(COLUMNS)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TIME_RE = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?\Z")
_BAD_SYMBOL_RE = re.compile(r"[\s,]")

# Default benchmark by listing suffix (docs/ECOSYSTEM.md §4 rule 8).
_DEFAULT_BENCHMARK_BY_SUFFIX: dict[str, str] = {
    "HK": "^HSI",
    "TW": "^TWII",
    "TWO": "^TWII",
    "T": "^N225",
}
_US_DEFAULT_BENCHMARK = "^GSPC"


def default_benchmark(ticker: str) -> str | None:
    """Return the default benchmark index of a ticker, chosen by its listing.

    Parameters
    ----------
    ticker
        A Yahoo symbol such as ``"0700.HK"`` or ``"BABA"``.

    Returns
    -------
    str or None
        ``^HSI`` for ``.HK``, ``^TWII`` for ``.TW`` and ``.TWO``, ``^N225`` for ``.T``, ``^GSPC`` for a
        symbol without a suffix (a US listing). ``None`` for anything else (other suffixes, index symbols
        starting with ``^``, FX and futures symbols containing ``=``): the user must name a benchmark.

    Notes
    -----
    The mapping is the local-index pairing of ``docs/ECOSYSTEM.md`` §4, rule 8, which the market model
    of ``docs/METHODS.md`` §4 uses as the market return.

    Examples
    --------
    >>> default_benchmark("9988.HK"), default_benchmark("BABA"), default_benchmark("PRX.AS")
    ('^HSI', '^GSPC', None)
    """
    symbol = ticker.strip()
    if not symbol or symbol.startswith("^") or "=" in symbol:
        return None
    if "." not in symbol:
        return _US_DEFAULT_BENCHMARK
    suffix = symbol.rsplit(".", 1)[1].upper()
    return _DEFAULT_BENCHMARK_BY_SUFFIX.get(suffix)


@dataclass(frozen=True)
class Event:
    """One validated event.

    Parameters
    ----------
    event_id
        Unique identifier.
    date
        Local release date in ``timezone``.
    time
        Local release time, or ``None`` for a date-only event.
    timezone
        IANA time zone name of ``date`` and ``time``.
    headline, category, source
        Free text (may be empty).
    tickers
        The securities to study, at least one, no duplicates.
    benchmarks
        One benchmark symbol per ticker, aligned by position (same length as ``tickers``).
    time_approximate
        True when ``time`` is an inference rather than a sourced timestamp.
    line
        The 1-based line of the event in its file (the header is line 1); ``None`` when the event did not
        come from a file.
    """

    event_id: str
    date: dt.date
    time: dt.time | None
    timezone: str
    headline: str
    category: str
    tickers: tuple[str, ...]
    benchmarks: tuple[str, ...]
    source: str
    time_approximate: bool
    line: int | None = None

    def __post_init__(self) -> None:
        if len(self.tickers) != len(self.benchmarks):
            raise ValueError(
                f"event {self.event_id!r}: {len(self.tickers)} tickers but {len(self.benchmarks)} benchmarks; "
                "benchmarks must be aligned with tickers"
            )

    @property
    def timestamp(self) -> pd.Timestamp | None:
        """The release instant, tz-aware in ``timezone``; ``None`` for a date-only event.

        An ambiguous wall time (the repeated hour when daylight-saving time ends) is read as its first
        occurrence, the daylight-time one, as Python's ``fold=0`` does.
        """
        if self.time is None:
            return None
        naive = pd.Timestamp(dt.datetime.combine(self.date, self.time))
        return naive.tz_localize(self.timezone, ambiguous=True, nonexistent="raise")


# ---------------------------------------------------------------------------------------------------------
# reading


def read_events(path: str | Path) -> tuple[Event, ...]:
    """Read and validate an events CSV file.

    Parameters
    ----------
    path
        The CSV file (UTF-8, optionally with a byte-order mark). Quoted fields may contain commas and
        newlines; blank lines are skipped.

    Returns
    -------
    tuple of Event
        In file order; ``Event.line`` is the line where the row starts.

    Raises
    ------
    InputError
        For an unreadable or empty file, a bad header, or any invalid cell. The error carries ``path``,
        ``line`` (1-based, header = 1), ``column`` and ``value``. See the module docstring for the rules.

    Examples
    --------
    >>> events = read_events("events.csv")  # doctest: +SKIP
    >>> events[0].tickers, events[0].benchmarks  # doctest: +SKIP
    (('9988.HK', 'BABA', '9984.T'), ('^HSI', '^GSPC', '^N225'))
    """
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the events file ({exc.strerror or exc})", path=where) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            "the events file is not valid UTF-8; save it as UTF-8 (with or without a byte-order mark)",
            path=where,
            line=line,
            value=raw[exc.start : exc.end],
        ) from exc
    if not text.strip():
        raise InputError(
            f"the events file is empty; it needs a header line such as: {_HEADER_TEXT}", path=where, line=1
        )

    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_line = 1
    rows: list[list[str]] = []
    lines: list[int] = []
    previous_end = 0
    try:
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not record or all(not field.strip() for field in record):
                continue
            if header is None:
                header = _check_header(record, where, start)
                header_line = start
                continue
            if len(record) != len(header):
                raise InputError(
                    f"expected {len(header)} fields as in the header, found {len(record)}; "
                    "quote fields that contain commas",
                    path=where,
                    line=start,
                    value=record,
                )
            rows.append(record)
            lines.append(start)
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", path=where, line=reader.line_num) from exc
    if header is None:  # only blank records, e.g. ",,,"
        raise InputError(
            f"the events file is empty; it needs a header line such as: {_HEADER_TEXT}", path=where, line=1
        )
    if not rows:
        raise InputError("the events file has a header but no events", path=where, line=header_line)
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return _build_events(frame, where, np.asarray(lines, dtype=np.int64), from_file=True)


def events_from_frame(frame: pd.DataFrame, *, path: str = "<DataFrame>") -> tuple[Event, ...]:
    """Validate events given as a DataFrame with the columns of an events file.

    Parameters
    ----------
    frame
        One row per event, columns as in the events file (module docstring). Cells may be strings or
        missing values; ``date`` may also be a datetime column, ``time_approximate`` a boolean column, and
        ``tickers``/``benchmark`` cells lists or tuples of symbols.
    path
        The name used in error messages.

    Returns
    -------
    tuple of Event
        In row order, with ``Event.line = None``.

    Raises
    ------
    InputError
        As :func:`read_events`; ``line`` is the line the row would have in a CSV written with a header
        line (row position + 2).

    Notes
    -----
    Every check runs on whole columns (pandas date parsing and hashing, NumPy masks, C-level string maps)
    and reports the first offending row, so validating 100,000 rows takes well under a second; only the
    construction of the :class:`Event` objects is a loop.
    """
    columns = _check_header([str(c) for c in frame.columns], path, 1)
    if len(frame) == 0:
        raise InputError("no events: the frame has no rows", path=path, line=1)
    text = pd.DataFrame({name: _as_text(frame.iloc[:, i], name) for i, name in enumerate(columns)})
    lines = np.arange(2, len(text) + 2, dtype=np.int64)
    return _build_events(text, path, lines, from_file=False)


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
    if not obj.map(type).eq(str).all():
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


# ---------------------------------------------------------------------------------------------------------
# validation (vectorised) and construction


def _first(mask: np.ndarray) -> int | None:
    """Position of the first True in a boolean mask, or None."""
    if not mask.any():
        return None
    return int(np.argmax(mask))


def _strip(values: Iterable[str]) -> np.ndarray:
    """Strip every string of an iterable into an object array."""
    return np.array(list(map(str.strip, values)), dtype=object)


def _matches(pattern: re.Pattern[str], values: np.ndarray) -> np.ndarray:
    """Boolean array: does ``pattern`` match each string (from its start)?"""
    return np.fromiter(map(bool, map(pattern.match, values)), dtype=bool, count=len(values))


def _contains(pattern: re.Pattern[str], values: np.ndarray) -> np.ndarray:
    """Boolean array: does ``pattern`` occur anywhere in each string?"""
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


def _build_events(frame: pd.DataFrame, path: str, lines: np.ndarray, *, from_file: bool) -> tuple[Event, ...]:
    """Validate the string cells of an events table and build the events.

    Every check runs on whole columns (pandas parsing and hashing, NumPy masks, plain string maps) and
    reports the first offending row; only the construction of the :class:`Event` objects is a loop.
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

    # build the events
    ends = np.cumsum(n_tickers).tolist()
    bench_list = benchmarks.tolist()
    bench_tuples = [tuple(bench_list[e - k : e]) for e, k in zip(ends, n_tickers.tolist())]
    fromiso_time = dt.time.fromisoformat
    times = [fromiso_time(t) if t else None for t in time_text]
    lines_out = lines.tolist() if from_file else [None] * n
    return tuple(
        map(
            Event,
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
            lines_out,
        )
    )


def _naive_local(dates: np.ndarray, times: np.ndarray) -> pd.DatetimeIndex:
    """Combine ``YYYY-MM-DD`` and ``HH:MM[:SS]`` strings into naive nanosecond timestamps."""
    text = [d + " " + (t if len(t) == 8 else t + ":00") for d, t in zip(dates, times)]
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
            name, ambiguous=np.ones(int(sel.sum()), dtype=bool), nonexistent=nonexistent  # type: ignore[arg-type]
        )
        out[sel] = aware.tz_convert("UTC").as_unit("ns").asi8
    return pd.DatetimeIndex(out.view("datetime64[ns]")).tz_localize("UTC")


# ---------------------------------------------------------------------------------------------------------
# views


def events_to_frame(events: Iterable[Event]) -> pd.DataFrame:
    """Return the events as a DataFrame with the events-file columns, for reports.

    Parameters
    ----------
    events
        Events as returned by :func:`read_events`.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS` in that order: ``date`` as ``YYYY-MM-DD`` text, ``time`` as ``HH:MM``
        (``HH:MM:SS`` when seconds are set) or ``""``, ``tickers`` and ``benchmark`` as ``;``-joined lists
        (``benchmark`` always one per ticker), ``time_approximate`` as bool. The frame reads back with
        :func:`events_from_frame` to the same events (apart from ``line``).
    """
    records = []
    for e in events:
        if e.time is None:
            time_text = ""
        else:
            time_text = e.time.strftime("%H:%M:%S" if e.time.second else "%H:%M")
        records.append(
            (
                e.event_id,
                e.date.isoformat(),
                time_text,
                e.timezone,
                e.headline,
                e.category,
                ";".join(e.tickers),
                ";".join(e.benchmarks),
                e.source,
                bool(e.time_approximate),
            )
        )
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    frame["time_approximate"] = frame["time_approximate"].astype(bool)
    return frame


def event_ticker_pairs(events: Sequence[Event]) -> pd.DataFrame:
    """Return one row per (event, ticker): the input of :func:`eventstudy.calendars.calendar_day_zero`.

    Parameters
    ----------
    events
        Validated events.

    Returns
    -------
    DataFrame
        Columns ``event_id``, ``ticker``, ``benchmark``, ``event_date`` (naive ``datetime64[ns]``, the
        local release date), ``event_time_utc`` (``datetime64[ns, UTC]``; NaT for date-only events) and
        ``timezone``, in event then ticker order.

    Notes
    -----
    Wall times are localised with pandas: an ambiguous time (the repeated hour when daylight-saving time
    ends) is read as its first occurrence, as :attr:`Event.timestamp` does.
    """
    events = list(events)
    counts = np.fromiter((len(e.tickers) for e in events), dtype=np.int64, count=len(events))
    ids = [e.event_id for e in events]
    zones = np.array([e.timezone for e in events], dtype=object)
    dates = np.array([e.date.isoformat() for e in events], dtype=object)
    timed = np.array([e.time is not None for e in events], dtype=bool)
    utc = pd.DatetimeIndex(np.full(len(events), np.datetime64("NaT", "ns"))).tz_localize("UTC")
    if timed.any():
        rows = np.flatnonzero(timed)
        times = np.array([events[i].time.strftime("%H:%M:%S") for i in rows], dtype=object)  # type: ignore[union-attr]
        utc_ns = utc.asi8.copy()
        utc_ns[rows] = _localize(_naive_local(dates[rows], times), zones[rows], nonexistent="raise").asi8
        utc = pd.DatetimeIndex(utc_ns.view("datetime64[ns]")).tz_localize("UTC")
    event_date = pd.to_datetime(pd.Series(dates, dtype=object), format="%Y-%m-%d").to_numpy().astype("datetime64[ns]")
    frame = pd.DataFrame(
        {
            "event_id": np.repeat(np.array(ids, dtype=object), counts),
            "ticker": np.array([t for e in events for t in e.tickers], dtype=object),
            "benchmark": np.array([b for e in events for b in e.benchmarks], dtype=object),
            "event_date": np.repeat(event_date, counts),
            "event_time_utc": utc[np.repeat(np.arange(len(events)), counts)],
            "timezone": np.repeat(zones, counts),
        }
    )
    return frame
