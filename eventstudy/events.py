"""Read and validate the events file.

An events file is a UTF-8 CSV (a byte-order mark is tolerated) with one row per event::

    event_id,date,time,timezone,headline,category,tickers,benchmark,source,time_approximate

Only ``event_id``, ``date`` and ``tickers`` are required; the other columns are optional but no unknown
column is accepted. The rules (``docs/events.md`` §4, ``../shared/docs/ECOSYSTEM.md`` §4):

- ``event_id`` is any non-empty text, unique in the file (compared after stripping blanks). Its length is
  not limited: outputs that need a bounded name (figure files) derive one themselves.
- ``date`` is the local release date ``YYYY-MM-DD`` in ``timezone``, within
  :func:`eventstudy.calendars.event_date_range`: from 1700-01-01 (pandas' nanosecond timestamps, with
  room for the estimation window) to one year after today (the end of exchange_calendars' calendars).
  A date outside that range is an error. A date after today but inside it is accepted: such an event has
  no prices yet and the study reports it as an exclusion with that reason.
- ``time`` is ``HH:MM`` or ``HH:MM:SS`` (24-hour clock, local to ``timezone``) or empty for a date-only
  event. A leading ``~`` (the notation of ``docs/events.md`` §4) is read as ``time_approximate = true``.
- ``timezone`` is an IANA name (``Asia/Hong_Kong``). When the column is absent every event is in UTC; when
  it is present a timed event must name its zone, and a date-only event with an empty cell is read in UTC.
- ``tickers`` is a ``;``-separated list of Yahoo symbols. ``benchmark`` is either one symbol for all the
  tickers or a ``;``-separated list aligned with ``tickers`` by position. An empty cell (or an empty item
  of a list) means the default benchmark by listing (:func:`eventstudy.symbols.default_benchmark`).
  Through :func:`events_from_frame` the cells may be Python lists; a missing item (None, NaN) or a
  non-string item of a ticker list is an error, a missing item of a benchmark list means the default.
- ``time_approximate`` is ``true``/``false`` (any case) or empty.

Every problem raises :class:`~eventstudy.errors.InputError` carrying the file ``path``, the 1-based
``line`` (the header is line 1), the ``column`` name and the offending ``value``.

The checks themselves (header, cell text, the column and row rules) are in :mod:`eventstudy._event_validation`.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import attrgetter, is_not
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from eventstudy._event_validation import (
    COLUMNS,
    HEADER_TEXT,
    REQUIRED_COLUMNS,
    as_text,
    check_header,
    check_list_items,
    localize,
    validated_fields,
)
from eventstudy._typing import BoolArray, DateLike, IntArray
from eventstudy.data.csv_files import plain_records
from eventstudy.errors import InputError, UnknownNameError

_BOM = b"\xef\xbb\xbf"
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "Event",
    "EventCells",
    "event_ticker_pairs",
    "events_from_cells",
    "events_from_frame",
    "events_to_frame",
    "read_event_cells",
    "read_events",
    "select_events",
    "selection_text",
    "validated_symbols",
]


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
        newlines; blank lines are skipped. A file ending in ``.parquet`` (or ``.pq``) is read as a Parquet
        table with the same columns and validated as :func:`events_from_frame` validates a DataFrame
        (``line`` in errors is then the row position + 2, and ``Event.line`` is None).

    Returns
    -------
    tuple of Event
        In file order; ``Event.line`` is the line where the row starts.

    Raises
    ------
    InputError
        For an unreadable or empty file, a bad header, or any invalid cell. The error carries ``path``,
        ``line`` (1-based, header = 1), ``column`` and ``value``. See the module docstring for the rules.

    Notes
    -----
    Linear in the number of events: a file without double quotes whose first line is the header is split
    into records by byte searches and into cells by pandas' C parser; other files record by record by the
    :mod:`csv` module. Every check runs on whole columns; ticker and benchmark lists are split, and dates and
    times parsed, once per distinct cell, and events sharing them share those objects. Only the
    :class:`Event` objects are built one by one, with Python's cyclic garbage collector paused (10^6
    one-ticker events: about 3.5 s of CPU, half of it building the events, and 0.5 GB held).

    Examples
    --------
    >>> events = read_events("events.csv")  # doctest: +SKIP
    >>> events[0].tickers, events[0].benchmarks  # doctest: +SKIP
    (('9988.HK', 'BABA', '9984.T'), ('^HSI', '^GSPC', '^N225'))
    """
    with _gc_paused():
        cells = read_event_cells(path)
        return events_from_cells(cells)


@dataclass(frozen=True, eq=False)
class EventCells:
    """The cells of an events table as text, before validation: what :func:`events_from_cells` validates.

    Attributes
    ----------
    frame
        One row per event, one text column per column of the file (header checked).
    lines : (E,) int64
        The line each row starts on (a Parquet file or a DataFrame: row position + 2).
    path
        The file's name for error messages.
    from_file
        Whether ``lines`` are lines of a CSV file (then ``Event.line`` holds them; else None).
    """

    frame: pd.DataFrame
    lines: IntArray
    path: str
    from_file: bool

    def take(self, rows: IntArray) -> EventCells:
        """The cells of some rows (e.g. a slice of a study), keeping their lines."""
        return EventCells(self.frame.iloc[rows].reset_index(drop=True), self.lines[rows], self.path, self.from_file)


def read_event_cells(path: str | Path) -> EventCells:
    """The cells of an events file (CSV or Parquet) as text, with the line of each row, before validation.

    Reading, header and field-count errors are raised here as in :func:`read_events`; the cells themselves are
    validated by :func:`events_from_cells`.
    """
    if Path(path).suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the events file as Parquet ({exc})", path=str(path)) from exc
        return _frame_cells(frame, str(path))
    return _read_events(str(path))


def events_from_cells(cells: EventCells) -> tuple[Event, ...]:
    """Validate the cells of an events table (:class:`EventCells`) and build the events, in row order.

    Raises
    ------
    InputError
        As :func:`read_events`, naming ``cells.path`` and the row's line.
    """
    with _gc_paused():
        return _build_events(cells.frame, cells.path, cells.lines, from_file=cells.from_file)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the rows and the events of a file are built.

    They are many small containers without reference cycles; with the collector on, each collection scans
    every container built so far again, which made reading a file of 10^6 events several times slower.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_plain(body: bytes, header: list[str], where: str) -> EventCells:
    """Read a file without quotes whose first line is the header: records split by byte searches, cells by pandas.

    The same checks and messages as the record-by-record reading of :func:`_read_events`, in whole-array
    operations (:func:`eventstudy.data.csv_files.plain_records`).
    """
    fields, lines, blank = plain_records(body)
    ragged = np.flatnonzero(~blank & (fields != len(header)))
    if len(ragged):
        k = int(ragged[0])
        record = body.split(b"\n")[int(lines[k]) - 1].decode("utf-8").rstrip("\r").split(",")
        raise InputError(
            f"expected {len(header)} fields as in the header, found {int(fields[k])}; quote fields that contain commas",
            path=where,
            line=int(lines[k]),
            value=record,
        )
    if blank.all():
        raise InputError("the events file has a header but no events", path=where, line=1)
    table = pd.read_csv(
        io.BytesIO(body),
        dtype=object,
        na_filter=False,
        skip_blank_lines=False,
        header=0,
        names=header,
        index_col=False,
        encoding="utf-8",
    )
    if len(table) != len(lines):
        raise InputError(
            f"found {len(table)} rows but {len(lines)} lines after the header; save the file as plain CSV with one "
            "event per line",
            path=where,
        )
    if blank.any():
        kept = np.flatnonzero(~blank)
        table, lines = table.iloc[kept].reset_index(drop=True), lines[kept]
    return EventCells(table, np.asarray(lines, dtype=np.int64), where, True)


def _read_events(where: str) -> EventCells:
    """The body of :func:`read_events`: read, split into records, check the header and the field counts."""
    try:
        raw = Path(where).read_bytes()
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
        raise InputError(f"the events file is empty; it needs a header line such as: {HEADER_TEXT}", path=where, line=1)
    body = raw.removeprefix(_BOM)
    first_line = text.split("\n", 1)[0]
    plain = b'"' not in body and body.count(b"\r") == body.count(b"\r\n")  # no quotes, no bare CR line ends
    if plain and first_line.replace(",", "").strip():
        return _read_plain(body, check_header(first_line.split(","), where, 1), where)

    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_line = 1
    rows: list[list[str]] = []
    ends: list[int] = [0]  # the last line of each record read, after the line before the first
    join = "".join
    try:
        for record in reader:  # the C reader; per record only a length and a blankness check
            ends.append(reader.line_num)
            if not join(record).strip():
                ends.pop()
                ends[-1] = reader.line_num
                continue
            if header is None:
                header = check_header(record, where, ends[-2] + 1)
                header_line = ends[-2] + 1
                del ends[:-1]
                continue
            if len(record) != len(header):
                raise InputError(
                    f"expected {len(header)} fields as in the header, found {len(record)}; "
                    "quote fields that contain commas",
                    path=where,
                    line=ends[-2] + 1,
                    value=record,
                )
            rows.append(record)
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", path=where, line=reader.line_num) from exc
    if header is None:  # only blank records, e.g. ",,,"
        raise InputError(f"the events file is empty; it needs a header line such as: {HEADER_TEXT}", path=where, line=1)
    if not rows:
        raise InputError("the events file has a header but no events", path=where, line=header_line)
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    lines = np.asarray(ends[:-1], dtype=np.int64) + 1  # a record starts after the previous one's last line
    return EventCells(frame, lines, where, True)


def events_from_frame(frame: pd.DataFrame, *, path: str = "<DataFrame>") -> tuple[Event, ...]:
    """Validate events given as a DataFrame with the columns of an events file.

    Parameters
    ----------
    frame
        One row per event, columns as in the events file (module docstring). Cells may be strings or
        missing values; ``date`` may also be a datetime column, ``time_approximate`` a boolean column, and
        ``tickers``/``benchmark`` cells lists or tuples of symbol strings (in a ``benchmark`` list a
        missing item, like an empty one, means the default benchmark).
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
        line (row position + 2). Also for a ticker list holding a missing (None, NaN) or non-string item,
        or a benchmark list holding a non-string item: the message names the event and the position.

    Notes
    -----
    Every check runs on whole columns (pandas date parsing and hashing, NumPy masks, C-level string maps)
    and reports the first offending row, so validating 100,000 rows takes well under a second; only the
    construction of the :class:`Event` objects is a loop.
    """
    return events_from_cells(_frame_cells(frame, path))


def validated_symbols(cells: EventCells) -> tuple[np.ndarray, list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Validate every cell (as :func:`events_from_cells`) without building events: ids, tickers, benchmarks.

    Returns the event ids (E,) and, per event, its tickers and their benchmarks (defaults filled in), for a
    caller that only needs the symbols of a large file (:mod:`eventstudy.sliced`).

    Raises
    ------
    InputError
        As :func:`read_events`.
    """
    fields = validated_fields(cells.frame, cells.path, cells.lines)
    ids, tickers, benchmarks = fields[0], fields[6], fields[7]
    return np.asarray(ids, dtype=object), list(tickers), list(benchmarks)


def _frame_cells(frame: pd.DataFrame, path: str) -> EventCells:
    """The cells of a DataFrame of events as text (header and list items checked), lines = row position + 2."""
    columns = check_header([str(c) for c in frame.columns], path, 1)
    if len(frame) == 0:
        raise InputError("no events: the frame has no rows", path=path, line=1)
    check_list_items(frame, columns, path)
    text = pd.DataFrame({name: as_text(frame.iloc[:, i], name) for i, name in enumerate(columns)})
    return EventCells(text, np.arange(2, len(text) + 2, dtype=np.int64), path, False)


def _build_events(frame: pd.DataFrame, path: str, lines: np.ndarray, *, from_file: bool) -> tuple[Event, ...]:
    """Validate the string cells of an events table and build the events.

    The checks (:func:`eventstudy._event_validation.validated_fields`, one validator per column) run on
    whole columns and report the first offending row; only the construction of the :class:`Event` objects
    is a loop.
    """
    fields = validated_fields(frame, path, lines)
    lines_out = lines.tolist() if from_file else [None] * len(frame)
    return tuple(map(Event, *fields, lines_out))


# ---------------------------------------------------------------------------------------------------------
# selection


def _as_date(value: DateLike, parameter: str) -> dt.date:
    """A date given as ``YYYY-MM-DD`` text, a date, a datetime or a Timestamp; InputError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64) and not np.isnat(value):
        return pd.Timestamp(value).date()
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(
            f"expected a date YYYY-MM-DD (e.g. 2020-01-01), got {value!r}", parameter=parameter, value=value
        ) from None


def _names(values: str | Iterable[str] | None) -> tuple[str, ...]:
    """Names given as one comma-separated text or as an iterable of texts (each may hold commas too)."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else list(values)
    return tuple(name.strip() for item in items for name in str(item).split(",") if name.strip())


def select_events(
    events: Sequence[Event],
    *,
    ids: str | Iterable[str] | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    categories: str | Iterable[str] | None = None,
) -> tuple[Event, ...]:
    """The events that pass every given filter, in their original order.

    Parameters
    ----------
    events
        Validated events (e.g. from :func:`read_events`).
    ids
        Event ids to keep, as an iterable or one comma-separated text (``"a,b"``); None keeps all.
    start, end
        Keep events whose ``date`` (the local release date) lies on or after ``start`` and on or before
        ``end``; ``YYYY-MM-DD`` text or a date.
    categories
        Categories to keep (exact match after stripping blanks), as for ``ids``.

    Returns
    -------
    tuple of Event

    Raises
    ------
    UnknownNameError
        An id or category that no event has; the message lists the valid ones (parameter ``--events`` or
        ``--category``).
    InputError
        A date that is not ``YYYY-MM-DD`` (``--from``/``--to``), ``start`` after ``end``, or a selection
        that leaves no event (the message states the filters and how many events each kept).

    Examples
    --------
    >>> kept = select_events(read_events("events.csv"), start="2020-01-01", end="2021-12-31")  # doctest: +SKIP
    """
    events = tuple(events)
    wanted_ids, wanted_categories = _names(ids), _names(categories)
    keep = np.ones(len(events), dtype=bool)
    if wanted_ids:
        known_ids = _field(events, "event_id")
        known = set(known_ids.tolist())
        for name in wanted_ids:
            if name not in known:
                raise UnknownNameError("event id", name, known_ids.tolist(), parameter="--events")
        keep &= pd.Series(known_ids, dtype=object).isin(wanted_ids).to_numpy()
    if wanted_categories:
        category = _field(events, "category")
        known_categories = sorted(set(category.tolist()) - {""})
        for name in wanted_categories:
            if name not in known_categories:
                raise UnknownNameError("category", name, known_categories, parameter="--category")
        keep &= pd.Series(category, dtype=object).isin(wanted_categories).to_numpy()
    first = None if start is None else _as_date(start, "--from")
    last = None if end is None else _as_date(end, "--to")
    if first is not None and last is not None and first > last:
        raise InputError(f"--from {first} is after --to {last}", parameter="--from", value=str(first))
    if first is not None or last is not None:
        day = _days(events)
        if first is not None:
            keep &= day >= first.toordinal()
        if last is not None:
            keep &= day <= last.toordinal()
    if not keep.any():
        raise InputError(
            f"the selection leaves no event: {selection_text(len(events), 0, ids, start, end, categories)}; "
            f"the events run from {min(e.date for e in events)} to {max(e.date for e in events)}",
            parameter="--events" if wanted_ids else "--category" if wanted_categories else "--from",
        )
    return events if keep.all() else tuple(compress(events, keep))


def selection_text(
    n_events: int,
    n_kept: int,
    ids: str | Iterable[str] | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    categories: str | Iterable[str] | None = None,
) -> str:
    """A selection in words, e.g. ``"7 of 13 events: dated 2020-01-01 to 2021-12-31"``; ``""`` without filters."""
    parts = []
    if ids is not None:
        parts.append("ids " + ", ".join(_names(ids)))
    if categories is not None:
        parts.append("category " + " or ".join(_names(categories)))
    if start is not None or end is not None:
        low = "" if start is None else f"from {_as_date(start, '--from')}"
        high = "" if end is None else f"to {_as_date(end, '--to')}"
        parts.append(" ".join(p for p in ("dated", low, high) if p))
    if not parts:
        return ""
    return f"{n_kept} of {n_events} events: " + "; ".join(parts)


# ---------------------------------------------------------------------------------------------------------
# views


class _Columns(NamedTuple):
    """The fields of a sequence of events gathered column by column (one C-level map per field)."""

    event_id: np.ndarray  # object
    day: np.ndarray  # datetime64[D], the local release date
    time: np.ndarray  # object: datetime.time or None
    timed: BoolArray
    timezone: np.ndarray  # object
    tickers: list[tuple[str, ...]]
    benchmarks: list[tuple[str, ...]]
    counts: IntArray  # tickers per event


def _columns(events: Sequence[Event]) -> _Columns:
    """Gather the fields the views need, without a Python-level loop over the events."""
    times = _field(events, "time")
    tickers = list(map(attrgetter("tickers"), events))
    return _Columns(
        event_id=_field(events, "event_id"),
        day=(_days(events) - _EPOCH_ORDINAL).astype("datetime64[D]"),
        time=times,
        timed=np.fromiter(map(is_not, times, repeat(None)), dtype=bool, count=len(times)),
        timezone=_field(events, "timezone"),
        tickers=tickers,
        benchmarks=list(map(attrgetter("benchmarks"), events)),
        counts=np.fromiter(map(len, tickers), dtype=np.int64, count=len(tickers)),
    )


def _field(events: Sequence[Event], name: str) -> np.ndarray:
    """One field of every event as a 1-D object array (one C-level map)."""
    out = np.empty(len(events), dtype=object)  # filled, not built from a list: tuple values stay whole
    out[:] = list(map(attrgetter(name), events))
    return out


def _days(events: Sequence[Event]) -> IntArray:
    """The proleptic Gregorian ordinal of each event's date (:meth:`datetime.date.toordinal`)."""
    return np.fromiter(map(dt.date.toordinal, map(attrgetter("date"), events)), dtype=np.int64, count=len(events))


def _seconds_of_day(times: np.ndarray) -> IntArray:
    """Seconds since midnight of an object array of :class:`datetime.time` (microseconds dropped)."""
    n = len(times)
    hours = np.fromiter(map(attrgetter("hour"), times), dtype=np.int64, count=n)
    minutes = np.fromiter(map(attrgetter("minute"), times), dtype=np.int64, count=n)
    seconds = np.fromiter(map(attrgetter("second"), times), dtype=np.int64, count=n)
    return hours * 3600 + minutes * 60 + seconds


def _time_text(seconds: IntArray) -> np.ndarray:
    """``HH:MM``, or ``HH:MM:SS`` when the seconds are not zero, of seconds since midnight (object array)."""
    stamps = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")  # 1970-01-01THH:MM:SS
    chars = stamps.astype("U19").view("U1").reshape(-1, 19)
    with_seconds = chars[:, 11:19].copy().view("U8").ravel()
    without = chars[:, 11:16].copy().view("U5").ravel()
    return np.where(seconds % 60 != 0, with_seconds, without).astype(object)


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

    Notes
    -----
    Built column by column (a C-level map per field, whole-array text for dates and times): 10^6 events in
    one to two seconds, most of it pandas turning the text columns into its string arrays.
    """
    events = tuple(events)
    cols = _columns(events)
    time_text = np.full(len(events), "", dtype=object)
    time_text[cols.timed] = _time_text(_seconds_of_day(cols.time[cols.timed]))
    return pd.DataFrame(
        {
            "event_id": cols.event_id,
            "date": np.datetime_as_string(cols.day).astype(object),
            "time": time_text,
            "timezone": cols.timezone,
            "headline": _field(events, "headline"),
            "category": _field(events, "category"),
            "tickers": np.array(list(map(";".join, cols.tickers)), dtype=object),
            "benchmark": np.array(list(map(";".join, cols.benchmarks)), dtype=object),
            "source": _field(events, "source"),
            "time_approximate": np.fromiter(
                map(bool, map(attrgetter("time_approximate"), events)), dtype=bool, count=len(events)
            ),
        },
        columns=list(COLUMNS),
    )


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
    Wall times (to the second) are localised with pandas: an ambiguous time (the repeated hour when
    daylight-saving time ends) is read as its first occurrence, as :attr:`Event.timestamp` does. Built
    column by column, without a Python-level loop over the events.
    """
    cols = _columns(tuple(events))
    event_ns = cols.day.astype("datetime64[ns]")
    utc_ns = np.full(len(event_ns), np.iinfo(np.int64).min, dtype=np.int64)
    if cols.timed.any():
        local_ns = event_ns[cols.timed].astype(np.int64) + _seconds_of_day(cols.time[cols.timed]) * 1_000_000_000
        local = pd.DatetimeIndex(local_ns.view("datetime64[ns]"))
        utc_ns[cols.timed] = localize(local, cols.timezone[cols.timed], nonexistent="raise").asi8
    utc = pd.DatetimeIndex(utc_ns.view("datetime64[ns]")).tz_localize("UTC")
    return pd.DataFrame(
        {
            "event_id": np.repeat(cols.event_id, cols.counts),
            "ticker": np.array(list(chain.from_iterable(cols.tickers)), dtype=object),
            "benchmark": np.array(list(chain.from_iterable(cols.benchmarks)), dtype=object),
            "event_date": np.repeat(event_ns, cols.counts),
            "event_time_utc": utc[np.repeat(np.arange(len(event_ns)), cols.counts)],
            "timezone": np.repeat(cols.timezone, cols.counts),
        }
    )
