"""Exchange calendars and the day 0 of each (event, ticker) pair.

Day 0 is the first regular trading day (an exchange_calendars *session*) of the ticker's own exchange
whose prices can reflect the news. The rules, from ``../shared/docs/ECOSYSTEM.md`` §4 and ``docs/methods.md`` §3:

1. Day 0 is computed per ticker, on the ticker's exchange calendar (:func:`eventstudy.symbols.exchange_for`).
2. Timestamped event at instant *T*: the first session whose close is strictly after *T*
   (:data:`RULE_TIMESTAMP`). Before the open -> that session; during trading, including the HK lunch
   break -> that session; at or after the close, including an early close on a half day -> the next
   session. This equals ``cal.minute_to_session(T, direction="next")`` of exchange_calendars.
3. Date-only event on date *D* (the local date in the event's time zone): the first session on or after
   *D* (:data:`RULE_DATE_ONLY`, with :data:`MOVED_SUFFIX` when *D* is not a session). This equals
   ``cal.date_to_session(D, direction="next")``.
4. FX symbols (``=X``, :func:`eventstudy.symbols.is_fx`) have no exchange close: the date-only rule
   against the weekday calendar ``24/5``, whether or not the event has a time (:data:`RULE_FX`). Yahoo's
   cut-off for daily FX bars is not known, so reports should state this assumption.
5. Symbols without a known calendar (index symbols not mapped, unknown suffixes): the data are the
   calendar, day 0 is the first price row on or after the event date (:data:`RULE_NO_CALENDAR`).
6. The observed price rows are the ground truth for returns: if the calendar's day 0 has no price row,
   day 0 moves to the next observed row and this is reported (:func:`resolve_day_zero`); sessions of the
   calendar that have no row are flagged by :func:`missing_sessions`.

The "after-hours news belongs to the next trading day" convention follows Berkman and Truong (2009).

References
----------
.. [1] Berkman, H. and Truong, C. (2009). Event day 0? After-hours earnings announcements. *Journal of
   Accounting Research* 47(1), 71-103.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import tempfile
import warnings
from pathlib import Path

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from eventstudy import _kernels as kn
from eventstudy._typing import DateLike
from eventstudy.data.table import PriceTable
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.symbols import FX_CALENDAR, exchange_for

__all__ = [
    "FIRST_EVENT_DATE",
    "MOVED_SUFFIX",
    "RULE_DATE_ONLY",
    "RULE_FX",
    "RULE_NO_CALENDAR",
    "RULE_TIMESTAMP",
    "calendar_cache_dir",
    "calendar_day_zero",
    "event_date_range",
    "get_calendar",
    "missing_sessions",
    "out_of_range_message",
    "outside_event_date_range",
    "resolve_day_zero",
    "session_counts",
]

#: Rule of a timestamped event (``../shared/docs/ECOSYSTEM.md`` §4 rule 2).
RULE_TIMESTAMP = "timestamp: first session closing after the event"
#: Rule of a date-only event (``../shared/docs/ECOSYSTEM.md`` §4 rule 3).
RULE_DATE_ONLY = "date-only: first session on or after the event date"
#: Rule of an FX symbol (``../shared/docs/ECOSYSTEM.md`` §4 rule 9).
RULE_FX = "fx: first weekday bar on or after the event date"
#: Rule of a symbol without a calendar, or an event outside the calendar's range.
RULE_NO_CALENDAR = "no calendar: first data row on or after the event date"
#: Appended to the date-only and FX rules when the event date is not a session.
MOVED_SUFFIX = " (moved from non-trading date)"

#: The earliest event date supported. pandas' nanosecond timestamps begin on 1677-09-21; calendars are built
#: from 1 January two years before the earliest event and the estimation window needs prices from more than
#: a year before day 0, so 1700 keeps every date the study computes inside pandas' range.
FIRST_EVENT_DATE = dt.date(1700, 1, 1)

# Exchanges without their own exchange_calendars calendar (4.13.2), and the calendar used for them.
# Shenzhen and Shanghai share trading hours and holidays.
_CALENDAR_ALIAS: dict[str, str] = {"XSHE": "XSHG"}

#: Environment variable naming the folder of the on-disk cache (:func:`calendar_cache_dir`).
ENV_CACHE = "EVENTSTUDY_CACHE"
_CACHE_OFF = ("off", "0", "none", "false")

_NS_PER_DAY = 86_400_000_000_000
_NAT = np.iinfo(np.int64).min

# The rules of calendar_day_zero by code: a date rule's moved variant follows it.
_RULES = np.array(
    [RULE_NO_CALENDAR, RULE_TIMESTAMP, RULE_DATE_ONLY, RULE_DATE_ONLY + MOVED_SUFFIX, RULE_FX, RULE_FX + MOVED_SUFFIX],
    dtype=object,
)
_RULE_TIMESTAMP, _RULE_DATE_ONLY, _RULE_FX = 1, 2, 4
_TEXT = pd.Series(["text"]).dtype  # the dtype pandas infers for text cells


# ---------------------------------------------------------------------------------------------------------
# calendars and their range


def event_date_range() -> tuple[dt.date, dt.date]:
    """The first and last event dates the calendars support.

    Returns
    -------
    tuple of datetime.date
        :data:`FIRST_EVENT_DATE` and the last date of exchange_calendars' default range, one year after
        today (``ExchangeCalendar.default_end()``, fixed when exchange_calendars is imported).

    Notes
    -----
    Calendars are built up to that last date, so a later day 0 cannot be placed. Event dates after today
    but within the range are accepted: they have no prices yet, and :func:`resolve_day_zero` reports them
    as ``"no data"`` with a reason. Dates outside the range are rejected by the events file checks
    (:mod:`eventstudy.events`) and by :func:`calendar_day_zero`.

    Examples
    --------
    >>> first, last = event_date_range()
    >>> first.isoformat(), last > dt.date.today()
    ('1700-01-01', True)
    """
    return FIRST_EVENT_DATE, xcals.ExchangeCalendar.default_end().date()


def outside_event_date_range(dates: pd.DatetimeIndex) -> np.ndarray:
    """Boolean mask of the (naive, any unit) dates outside :func:`event_date_range`; NaT is not flagged."""
    first, last = event_date_range()
    early = dates < pd.Timestamp(first)
    late = dates >= pd.Timestamp(last) + pd.Timedelta(days=1)
    return np.asarray(early | late, dtype=bool)


def out_of_range_message(date: dt.date) -> str:
    """Say that ``date`` is outside :func:`event_date_range`, why, and what to do (for error messages)."""
    first, last = event_date_range()
    if date < first:
        why = (
            "earlier dates, with the prices of their estimation window, do not fit pandas' nanosecond "
            "timestamps, which begin on 1677-09-21"
        )
    else:
        why = f"the exchange calendars end one year after today, on {last}, and an event after today has no prices yet"
    return (
        f"date {date.isoformat()} is outside the supported range {first.isoformat()} to {last.isoformat()}: "
        f"{why}; correct the date or remove the event"
    )


# The earliest start each calendar was built with (absent: exchange_calendars' default of 20 years back).
_calendar_start: dict[str, pd.Timestamp | None] = {}


@functools.cache
def _build_calendar(name: str, start: pd.Timestamp | None) -> xcals.ExchangeCalendar:
    """Build (once per name and start) an exchange_calendars calendar, silencing its pandas deprecations."""
    with warnings.catch_warnings():
        # exchange_calendars 4.13.2 under pandas 3.1 emits Pandas4Warning (a DeprecationWarning) while
        # building some calendars (XHKG); the results are correct (../shared/docs/ECOSYSTEM.md §9.2).
        warnings.simplefilter("ignore", DeprecationWarning)
        if start is None:
            return xcals.get_calendar(name)
        return xcals.get_calendar(name, start=start)


@functools.cache
def _calendar_arrays(name: str, start: pd.Timestamp | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Sessions (naive ns), closes (UTC ns) and time zone name of a calendar, kept in memory and on disk.

    Building a calendar takes exchange_calendars 0.15-0.4 s (its holiday rules, year by year), and every
    process used to pay it again for each exchange; the arrays are therefore also kept in
    :func:`calendar_cache_dir` (see :func:`_cache_file` for when a file is used).
    """
    path = _cache_file(name, start)
    cached = _read_cached(path) if path is not None else None
    if cached is not None:
        sessions, closes, tz = cached
    else:
        cal = _build_calendar(name, start)
        sessions = pd.DatetimeIndex(cal.sessions).as_unit("ns").asi8.copy()
        closes = pd.DatetimeIndex(cal.closes).tz_convert("UTC").as_unit("ns").asi8.copy()
        tz = str(cal.tz)
        if path is not None:
            _write_cached(path, sessions, closes, tz)
    sessions.flags.writeable = False
    closes.flags.writeable = False
    return sessions, closes, tz


def calendar_cache_dir() -> Path | None:
    """The folder of the on-disk calendar cache, or None when it is switched off.

    ``$EVENTSTUDY_CACHE/calendars`` when that variable is set (``off``, ``0``, ``none`` or ``false`` switch
    the cache off), otherwise ``platformdirs.user_cache_dir("eventstudy")/calendars``. The files hold only what
    exchange_calendars computes from its own rules, so deleting the folder at any time is safe.
    """
    env = os.environ.get(ENV_CACHE, "").strip()
    if env.lower() in _CACHE_OFF:
        return None
    if env:
        return Path(env).expanduser() / "calendars"
    import platformdirs

    return Path(platformdirs.user_cache_dir("eventstudy", appauthor=False)) / "calendars"


def _cache_file(name: str, start: pd.Timestamp | None) -> Path | None:
    """The cache file of calendar ``name`` built from ``start``, or None when it must not be cached.

    Only exchange_calendars' own calendars are cached (not a calendar a user registered or overrode), and
    the file name holds everything the sessions depend on: the name, the start (or exchange_calendars'
    default), the default end (one year after the day exchange_calendars was imported) and the versions
    of exchange_calendars and pandas (whose holiday rules it uses). A new day or version is a new file.
    """
    folder = calendar_cache_dir()
    version = getattr(xcals, "__version__", None)
    # exchange_calendars' dispatcher has no public "is this built-in" query: read its tables, and treat
    # any change of their shape as "not built-in" (no cache)
    dispatcher = getattr(xcals.calendar_utils, "global_calendar_dispatcher", None)
    factory = getattr(dispatcher, "_calendar_factories", {}).get(name)
    built_in = (
        factory is not None
        and factory is getattr(xcals.calendar_utils, "_default_calendar_factories", {}).get(name)
        and name not in getattr(dispatcher, "_calendars", {name: None})
    )
    if folder is None or not version or not built_in:
        return None
    end = pd.Timestamp(xcals.exchange_calendar.GLOBAL_DEFAULT_END)
    first = "default" if start is None else f"{start:%Y%m%d}"
    return folder / f"{name}_{first}_{end:%Y%m%d}_xcals{version}_pandas{pd.__version__}.npz"


def _read_cached(path: Path) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The arrays of a cache file, or None when it is missing or not a valid file (it is then rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            sessions, closes, tz = stored["sessions"], stored["closes"], str(stored["tz"])
    except (OSError, ValueError, KeyError, EOFError):
        return None
    valid = (
        sessions.dtype == np.int64
        and closes.dtype == np.int64
        and sessions.ndim == closes.ndim == 1
        and len(sessions) == len(closes) > 0
        and bool(np.all(np.diff(sessions) > 0))
        and bool(tz)
    )
    return (sessions, closes, tz) if valid else None


def _write_cached(path: Path, sessions: np.ndarray, closes: np.ndarray, tz: str) -> None:
    """Write a cache file whole or not at all (a temporary file, renamed).

    A folder that cannot be written only means that the next process builds the calendar again.
    """
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp", delete=False) as f:
            temporary = f.name
            np.savez(f, sessions=sessions, closes=closes, tz=np.array(tz))
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _calendar_name(exchange: str) -> str:
    name = _CALENDAR_ALIAS.get(exchange, exchange)
    if name not in xcals.get_calendar_names():
        raise UnknownNameError("exchange calendar", exchange, xcals.get_calendar_names(), parameter="exchange")
    return name


def _bound_min(name: str) -> pd.Timestamp | None:
    """The earliest start exchange_calendars accepts for a calendar (None: no limit)."""
    factories = getattr(xcals.calendar_utils, "_default_calendar_factories", {})
    factory = factories.get(name)
    if isinstance(factory, type) and hasattr(factory, "bound_min"):
        bound = factory.bound_min()
    else:  # not a built-in calendar class: ask an instance
        bound = _build_calendar(name, _start_for(name, None)).bound_min()
    return None if bound is None else pd.Timestamp(bound).normalize()


def _start_for(name: str, earliest: DateLike | None) -> pd.Timestamp | None:
    """The start to build ``name`` with so that it covers ``earliest``.

    Without ``earliest``: the start already in use, else exchange_calendars' default (``None``: 20 years
    back). With it: the start in use if that calendar's first session is on or before ``earliest``;
    otherwise 1 January two years before ``earliest`` (clipped to the calendar's lower bound), which then
    becomes the start in use. So a calendar is rebuilt only when a call needs earlier dates.
    """
    if earliest is None:
        return _calendar_start.setdefault(name, None)
    need = pd.Timestamp(earliest)
    if need.tzinfo is not None:
        need = need.tz_localize(None)
    need_ns = need.normalize().as_unit("ns").value
    first = None
    if name in _calendar_start:
        current = _calendar_start[name]
        sessions = _calendar_arrays(name, current)[0]
        first = sessions[0] if len(sessions) else None
        if first is not None and need_ns >= first:
            return current
    start = pd.Timestamp(year=need.year - 2, month=1, day=1)
    bound = _bound_min(name)
    if bound is not None and start < bound:
        start = bound
    if first is not None and start.as_unit("ns").value >= first:
        return _calendar_start[name]  # the calendar in use already starts at the lower bound
    _calendar_start[name] = start
    return start


def get_calendar(exchange: str, *, earliest: DateLike | None = None) -> xcals.ExchangeCalendar:
    """Return the (cached) exchange_calendars calendar of an exchange code.

    Parameters
    ----------
    exchange
        A code returned by :func:`eventstudy.symbols.exchange_for` (``"XHKG"``, ``"24/5"``, ``"XSHE"``, ...) or any
        exchange_calendars name.
    earliest
        The earliest date the caller needs. One calendar per name is kept in use (cached with
        ``functools.lru_cache``). If none is in use yet, or the one in use starts after ``earliest``, a
        calendar starting on 1 January two years before ``earliest`` (clipped to the calendar's lower
        bound) is built and becomes the one in use; exchange_calendars' default of 20 years back is too
        short for old events. Without ``earliest``, the calendar in use is returned, or one with
        exchange_calendars' default range (20 years back to one year ahead) if none was built yet.

    Returns
    -------
    exchange_calendars.ExchangeCalendar

    Raises
    ------
    UnknownNameError
        When exchange_calendars has no such calendar.

    Notes
    -----
    XSHE (Shenzhen) has no calendar in exchange_calendars 4.13.2 and is served by XSHG. The pandas 3.1
    ``Pandas4Warning`` that exchange_calendars emits while building is silenced locally.
    """
    name = _calendar_name(exchange)
    return _build_calendar(name, _start_for(name, earliest))


def _arrays_for(exchange: str, earliest: DateLike | None) -> tuple[np.ndarray, np.ndarray, str]:
    name = _calendar_name(exchange)
    return _calendar_arrays(name, _start_for(name, earliest))


# ---------------------------------------------------------------------------------------------------------
# day 0 by the calendar


def _as_naive_ns(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Dates as naive midnight nanoseconds (int64, NaT = int64 min); tz-aware input keeps its local date."""
    idx = pd.DatetimeIndex(pd.to_datetime(values))
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    return idx.normalize().as_unit("ns").asi8


def _local_iso(utc_ns: np.ndarray, tz: str) -> np.ndarray:
    """ISO 8601 local wall times with UTC offset (``2021-03-15T19:00:00+08:00``) of UTC instants."""
    aware = pd.DatetimeIndex(utc_ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)
    local_ns = aware.tz_localize(None).as_unit("ns").asi8
    wall = np.datetime_as_string(local_ns.view("datetime64[ns]"), unit="s").astype(object)
    offset_min = (local_ns - utc_ns) // 60_000_000_000
    unique, inverse = np.unique(offset_min, return_inverse=True)
    suffix = np.array(
        [f"{'+' if m >= 0 else '-'}{abs(int(m)) // 60:02d}:{abs(int(m)) % 60:02d}" for m in unique], dtype=object
    )
    return wall + suffix[inverse.ravel()]


_PAIR_COLUMNS = ("event_id", "ticker", "event_date", "event_time_utc", "timezone")


def _check_event_dates(pairs: pd.DataFrame) -> None:
    """Raise :class:`InputError` for a pair without an event date or with one outside the calendars' range."""
    dates = pd.DatetimeIndex(pd.to_datetime(pairs["event_date"]))
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    missing = np.flatnonzero(np.asarray(dates.isna()))
    if len(missing):
        raise InputError(
            f"pairs row {int(missing[0])} has no event_date; every pair needs the local event date",
            parameter="pairs",
            column="event_date",
            value=pairs["event_id"].iloc[int(missing[0])],
        )
    outside = np.flatnonzero(outside_event_date_range(dates))
    if len(outside):
        row = int(outside[0])
        day = dates[row].date()
        raise InputError(
            f"pairs row {row} (event {pairs['event_id'].iloc[row]!r}): {out_of_range_message(day)}",
            parameter="pairs",
            column="event_date",
            value=day,
        )


def calendar_day_zero(pairs: pd.DataFrame) -> pd.DataFrame:
    """Day 0 of each (event, ticker) pair by the rules of the ticker's exchange calendar.

    Parameters
    ----------
    pairs
        One row per (event, ticker) with columns ``event_id``, ``ticker``, ``event_date`` (naive
        datetime64: the local release date in the event's time zone), ``event_time_utc`` (tz-aware UTC
        instant, NaT for a date-only event) and ``timezone`` (the event's IANA zone), e.g. from
        :func:`eventstudy.events.event_ticker_pairs`. Other columns are ignored.

    Returns
    -------
    DataFrame
        One row per pair, in input order, with columns:

        ``event_id``, ``ticker``
            As given.
        ``exchange``
            :func:`eventstudy.symbols.exchange_for` of the ticker (``None`` when there is no calendar).
        ``event_date``
            The event date (naive ``datetime64[ns]``).
        ``event_time_utc``
            The instant (``datetime64[ns, UTC]``; NaT for date-only events).
        ``timezone``
            The event's time zone.
        ``event_time_exchange``
            The instant as local wall time at the exchange, ISO 8601 with the UTC offset
            (``"2021-03-15T19:00:00+08:00"``; UTC for FX, whose weekday calendar is kept in UTC); missing
            for date-only events and symbols without a calendar.
        ``calendar_day_zero``
            Day 0 by the calendar (naive ``datetime64[ns]`` session label); NaT under
            :data:`RULE_NO_CALENDAR`.
        ``rule``
            :data:`RULE_TIMESTAMP`, :data:`RULE_DATE_ONLY`, :data:`RULE_FX` (the last two with
            :data:`MOVED_SUFFIX` when the event date is not a session) or :data:`RULE_NO_CALENDAR` (no
            calendar for the symbol, or an event outside the calendar's range).

    Raises
    ------
    InputError
        When a required column is missing, or a pair has no ``event_date`` or one outside
        :func:`event_date_range`.

    Notes
    -----
    Timestamp rule: day 0 is ``sessions[k]`` with ``k = min{i : close_i > T}``, closes being the actual
    closes of exchange_calendars (early closes of half days included), so an event exactly at the close
    belongs to the next session; date-only rule: ``k = min{i : session_i >= D}``
    (``../shared/docs/ECOSYSTEM.md`` §4, ``docs/methods.md`` §3). Both are evaluated with ``numpy.searchsorted``
    per exchange, so 100,000 pairs take a fraction of a second; the results equal
    ``cal.minute_to_session(T, direction="next")`` and ``cal.date_to_session(D, direction="next")``.

    Examples
    --------
    >>> from eventstudy.events import read_events, event_ticker_pairs        # doctest: +SKIP
    >>> table = calendar_day_zero(event_ticker_pairs(read_events("events.csv")))  # doctest: +SKIP
    """
    missing = [c for c in _PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise InputError(
            f"pairs lacks column(s) {', '.join(missing)}; expected {', '.join(_PAIR_COLUMNS)}",
            parameter="pairs",
            value=list(pairs.columns),
        )
    n = len(pairs)
    tickers = pairs["ticker"].to_numpy(dtype=object)
    ticker_codes, unique_tickers = pd.factorize(tickers)
    exchange_of_unique = np.array([exchange_for(str(t)) for t in unique_tickers], dtype=object)
    exchange = exchange_of_unique[ticker_codes] if n else np.array([], dtype=object)

    _check_event_dates(pairs)
    date_ns = _as_naive_ns(pairs["event_date"])
    time_utc = pd.DatetimeIndex(pd.to_datetime(pairs["event_time_utc"], utc=True)).as_unit("ns")
    time_ns = time_utc.asi8
    has_time = time_ns != _NAT

    day0 = np.full(n, _NAT, dtype=np.int64)
    rule = np.zeros(n, dtype=np.int8)  # a position in _RULES
    local_text = np.full(n, None, dtype=object)

    exchange_codes, exchanges = pd.factorize(exchange)  # None -> -1 (no calendar)
    order, bounds = kn.group_rows(exchange_codes, len(exchanges))  # code -1 (no calendar) is in no group
    for code, exch in enumerate(exchanges):
        rows = order[bounds[code] : bounds[code + 1]]
        earliest = pd.Timestamp(date_ns[rows].min() - _NS_PER_DAY)
        sessions, closes, tz = _arrays_for(exch, earliest)
        if len(sessions) == 0:
            continue
        fx = exch == FX_CALENDAR
        by_time = has_time[rows] & (not fx)
        k = np.where(
            by_time,
            np.searchsorted(closes, time_ns[rows], side="right"),
            np.searchsorted(sessions, date_ns[rows], side="left"),
        )
        # Outside the calendar: after its last session, or an event date before its first session.
        inside = (k < len(sessions)) & (date_ns[rows] >= sessions[0])
        kk = np.minimum(k, len(sessions) - 1)
        found = sessions[kk]
        day0[rows[inside]] = found[inside]
        moved = found != date_ns[rows]
        by_date = _RULE_FX if fx else _RULE_DATE_ONLY
        rule_code = np.where(by_time, _RULE_TIMESTAMP, np.where(moved, by_date + 1, by_date)).astype(np.int8)
        rule[rows[inside]] = rule_code[inside]
        timed_rows = rows[inside & has_time[rows]]
        if len(timed_rows):
            local_text[timed_rows] = _local_iso(time_ns[timed_rows], tz)

    return pd.DataFrame(
        {
            "event_id": _text_column(pairs["event_id"]),
            "ticker": _text_column(pairs["ticker"]),
            "exchange": pd.Series(exchange, dtype=object),  # None (not NaN) for "no calendar"
            "event_date": date_ns.view("datetime64[ns]"),
            "event_time_utc": time_utc,
            "timezone": _text_column(pairs["timezone"]),
            "event_time_exchange": pd.Series(local_text, dtype=object),  # None for date-only events
            "calendar_day_zero": day0.view("datetime64[ns]"),
            "rule": _RULES[rule],
        }
    )


def _text_column(series: pd.Series) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """The cells of a text column for a new frame: as they are when already pandas text, else as objects.

    The frame infers the dtype of object cells (text when they all are text and there is at least one);
    passing non-empty pandas text on as it is gives the same column without converting it to Python
    strings and back (10^6 rows: about 0.1 s per column).
    """
    if series.dtype == _TEXT and len(series):
        return series.array
    return series.to_numpy(dtype=object)


# ---------------------------------------------------------------------------------------------------------
# day 0 against the observed price rows


def _observed_days(index: pd.DatetimeIndex | None) -> np.ndarray:
    """Sorted unique day numbers (days since 1970-01-01) of observed price dates (local dates kept)."""
    if index is None or len(index) == 0:
        return np.empty(0, dtype=np.int64)
    if isinstance(index, pd.DatetimeIndex) and index.tz is None:
        ns = index.as_unit("ns").asi8  # already naive: skip the parse and normalise round trip
    else:
        ns = _as_naive_ns(index)
    ns = ns[ns != _NAT]
    days = ns // _NS_PER_DAY  # floor division also drops any time of day
    if len(days) > 1 and (days[1:] > days[:-1]).all():
        return days
    return np.unique(days)


def _day_text(days: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` text (object array) of day numbers (days since 1970-01-01)."""
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).view("datetime64[D]")).astype(object)


def _join_text(rows: np.ndarray, parts: tuple[str | np.ndarray, ...]) -> np.ndarray:
    """Elementwise concatenation of text parts at ``rows``.

    A ``str`` part is the same on every row; an (object) array part is taken at ``rows``.
    """
    out = np.full(len(rows), "", dtype=object)
    for part in parts:
        out = out + (part if isinstance(part, str) else part[rows])
    return out


def resolve_day_zero(table: pd.DataFrame, prices: PriceTable) -> pd.DataFrame:
    """Place each calendar day 0 on the ticker's observed price rows.

    Parameters
    ----------
    table
        The output of :func:`calendar_day_zero`.
    prices
        The observed rows of every loaded symbol (exchange-local dates). A ticker that is not in the table,
        or has no rows in it, has no data.

    Returns
    -------
    DataFrame
        ``table`` plus three columns:

        ``day_zero``
            The day 0 used for returns (naive ``datetime64[ns]``; NaT when there is no data).
        ``status``
            ``"ok"``, ``"moved"`` or ``"no data"``.
        ``reason``
            ``""`` for a calendar day 0 that has a price row; otherwise why and what was done, e.g.
            ``"calendar day 0 2023-09-08 has no price row; moved to next observed row"``.

    Notes
    -----
    Rules (``../shared/docs/ECOSYSTEM.md`` §4 rule 6, ``docs/methods.md`` §3):

    - no observed dates for the ticker -> ``"no data"``;
    - the calendar day 0 has a price row -> that day, ``"ok"``;
    - otherwise the next observed row after it -> ``"moved"``; none, because the day is after the
      ticker's last price row -> ``"no data"``, the reason naming that row and adding "after today: no
      prices yet" for a day after today (an event dated in the future, :func:`event_date_range`);
    - a calendar day 0 (or event date) before the ticker's first price row -> ``"no data"``: it is not
      moved to the first row (a later listing, or prices downloaded from too late a start);
    - no calendar day 0 (:data:`RULE_NO_CALENDAR`) -> the first observed row on or after the event date
      (the event's local date) -> ``"ok"``, the reason noting that the data served as the calendar.

    All pairs are placed with one :meth:`~eventstudy.data.table.PriceTable.lookup` (a ``numpy.searchsorted``
    on (ticker, day) keys); the reasons are built, by array concatenation, only for the rows that need one.
    """
    n = len(table)
    tickers = table["ticker"].to_numpy(dtype=object)
    codes = prices.codes_for(tickers)
    has_data = np.append(prices.row_counts, 0)[codes] > 0  # code -1 (not loaded) reads the appended 0

    cal_ns = pd.DatetimeIndex(table["calendar_day_zero"]).as_unit("ns").asi8
    date_ns = _as_naive_ns(table["event_date"])
    by_calendar = cal_ns != _NAT
    target_ns = np.where(by_calendar, cal_ns, date_ns)
    target_days = target_ns // _NS_PER_DAY

    # On the ticker's rows: the first row on or after the target, unless the target is before the first row
    # (a later listing, or a download that starts too late: the returns there say nothing about the event).
    data = np.flatnonzero(has_data)
    rows, found = prices.lookup(codes[data], target_days[data])
    first_row = prices.offsets[codes[data]]
    last_row = prices.offsets[codes[data] + 1] - 1
    first_day = np.zeros(n, dtype=np.int64)
    last_day = np.zeros(n, dtype=np.int64)
    first_day[data] = prices.day[first_row]
    last_day[data] = prices.day[last_row]
    before_first = has_data & (target_days < first_day)
    hit = np.zeros(n, dtype=bool)
    hit[data] = found & ~before_first[data]
    found_days = np.zeros(n, dtype=np.int64)
    found_days[data] = prices.day[np.minimum(rows, last_row)]
    exact = hit & (found_days == target_days)

    day_zero = np.where(hit, found_days * _NS_PER_DAY, _NAT).astype(np.int64)
    status = np.full(n, "no data", dtype=object)
    status[by_calendar & exact] = "ok"
    status[by_calendar & hit & ~exact] = "moved"
    status[~by_calendar & hit] = "ok"

    # Reasons, only for the rows that need one: six kinds, each one concatenation of text arrays.
    reason = np.full(n, "", dtype=object)
    need = np.flatnonzero(~(by_calendar & exact))
    when = _day_text(target_days[need])
    first_text = _day_text(first_day[need])
    last_text = _day_text(last_day[need])
    today_ns = pd.Timestamp(dt.date.today()).as_unit("ns").value
    future = np.where(target_ns[need] > today_ns, " (after today: no prices yet)", "").astype(object)
    no_calendar = pd.isna(table["exchange"]).to_numpy()[need]
    why = np.where(no_calendar, "no exchange calendar: ", "event date outside the exchange calendar: ").astype(object)
    calendar = by_calendar[need]
    what = np.where(calendar, "calendar day 0 ", "event date ").astype(object)
    data_, before_, hit_ = has_data[need], before_first[need], hit[need]
    placed = data_ & ~before_
    kinds: tuple[tuple[np.ndarray, tuple[str | np.ndarray, ...]], ...] = (
        (~data_, ("no price rows for ", tickers[need])),
        (data_ & before_, (what, when, " is before the first price row ", first_text)),
        (placed & calendar & hit_, ("calendar day 0 ", when, " has no price row; moved to next observed row")),
        (placed & calendar & ~hit_, ("calendar day 0 ", when, " is after the last price row ", last_text, future)),
        (placed & ~calendar & hit_, (why, "first observed row on or after the event date ", when, " (data calendar)")),
        (
            placed & ~calendar & ~hit_,
            (why, "the event date ", when, " is after the last price row ", last_text, future),
        ),
    )
    texts = np.full(len(need), "", dtype=object)
    for mask, parts in kinds:
        rows_of_kind = np.flatnonzero(mask)
        texts[rows_of_kind] = _join_text(rows_of_kind, parts)
    reason[need] = texts

    out = table.copy()
    out["day_zero"] = day_zero.view("datetime64[ns]")
    out["status"] = status
    out["reason"] = reason
    return out


def missing_sessions(
    exchange: str | None, observed: pd.DatetimeIndex, start: DateLike, end: DateLike
) -> pd.DatetimeIndex:
    """Sessions of the exchange calendar in ``[start, end]`` that have no observed price row.

    This is the "expected trading day missing in the data" flag of ``../shared/docs/ECOSYSTEM.md`` §4 rule 6:
    Yahoo drops days, and calendars miss ad-hoc closures (HKEX 2023-09-01 and 2023-09-08,
    ``../shared/docs/ECOSYSTEM.md`` §3.2).

    Parameters
    ----------
    exchange
        An exchange code (:func:`eventstudy.symbols.exchange_for`); ``None`` (no calendar) gives an empty index.
    observed
        Dates of the price rows (naive, or tz-aware at the exchange: the local date is used).
    start, end
        Inclusive bounds.

    Returns
    -------
    DatetimeIndex
        Naive ``datetime64[ns]`` session labels, sorted.
    """
    if exchange is None:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    lo = _as_naive_ns(pd.DatetimeIndex([pd.Timestamp(start)]))[0]
    hi = _as_naive_ns(pd.DatetimeIndex([pd.Timestamp(end)]))[0]
    sessions, _, _ = _arrays_for(exchange, pd.Timestamp(lo))
    window = sessions[(sessions >= lo) & (sessions <= hi)]
    seen = _observed_days(observed) * _NS_PER_DAY
    missing = window[~np.isin(window, seen)]
    return pd.DatetimeIndex(missing.view("datetime64[ns]"))


def session_counts(exchange: str, after: np.ndarray, through: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number of sessions of an exchange in each interval (after, through] of day numbers.

    Parameters
    ----------
    exchange
        An exchange code (:func:`eventstudy.symbols.exchange_for`) or exchange_calendars name.
    after, through : (n,) int64
        Interval bounds as days since 1970-01-01 (exchange-local dates); ``after`` is excluded, ``through``
        included.

    Returns
    -------
    counts, covered : (n,) int64, (n,) bool
        The sessions in each interval (the span n_d of a return from ``after``'s close to ``through``'s,
        ``docs/methods.md`` §2.2 step 3), and whether the calendar's sessions cover the interval (a
        count outside the calendar's range is not reliable).

    Notes
    -----
    Two binary searches on the calendar's sorted session days; the calendar is built to cover the
    earliest ``after`` (:func:`get_calendar`).
    """
    after = np.asarray(after, dtype=np.int64)
    through = np.asarray(through, dtype=np.int64)
    if not len(after):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    earliest = pd.Timestamp(np.datetime64(int(after.min()), "D"))
    sessions, _, _ = _arrays_for(exchange, earliest)
    days = sessions // _NS_PER_DAY
    counts = np.searchsorted(days, through, side="right") - np.searchsorted(days, after, side="right")
    covered = (after >= days[0]) & (through <= days[-1]) if len(days) else np.zeros(len(after), dtype=bool)
    return counts.astype(np.int64), covered
