"""Another exchange's returns accumulated between the closes of a ticker's own exchange.

The rule of ``../shared/docs/METHODS.md`` §4.8: a regressor from another exchange enters a ticker's model as
its return accumulated between the two consecutive closes of the ticker's own exchange that bound the
ticker's return. With the session closes as UTC instants this is one rule for both directions, with no
special cases for time zones, daylight saving, holidays or half days:

- a Hong Kong stock, HK day *d* (previous HK day *d_prev*): the US index compounded over the NY days *x*
  with *d_prev* ≤ *x* ≤ *d* − 1, because those NY closes fall between the two HK closes;
- a US-listed ADR, NY day *d*: the HSI compounded over the HK days *y* with *d_prev* < *y* ≤ *d*, because
  each HK close comes before the NY open of the same date.

HKEX and NYSE never trade at the same time (§4.8), so no session of one straddles a close of the other.

:func:`accumulated_between_closes` is the array kernel (close instants in, accumulated returns out);
:func:`session_closes` reads the close instants of an exchange_calendars calendar (early closes of half
days included), through :mod:`eventstudy.calendars`; :func:`cross_market_regressor` builds the regressor for
a ticker's return dates from both exchanges' sessions, never from calendar-date joins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eventstudy._typing import DateLike, FloatArray, IntArray
from eventstudy.calendars import _arrays_for
from eventstudy.errors import InputError

__all__ = ["accumulated_between_closes", "accumulated_over", "cross_market_regressor", "session_closes"]

_NS_PER_DAY = 86_400_000_000_000
_NAT = np.iinfo(np.int64).min

# The other exchange's sessions that can close between two own closes are dated at most this many days
# before the first or after the last own date: a session's close is at most a day and a few hours away from
# midnight UTC of its label under any exchange time zone (UTC−10 to UTC+14).
_MARGIN_DAYS = 2


# ---------------------------------------------------------------------------------------------------------
# the kernel


def accumulated_between_closes(
    own_closes: np.ndarray,
    other_closes: np.ndarray,
    other_returns: np.ndarray,
    *,
    log: bool = False,
) -> tuple[FloatArray, IntArray]:
    """The other market's return accumulated between consecutive closes of the ticker's own exchange.

    Parameters
    ----------
    own_closes
        ``(n,)`` close instants (UTC, ``datetime64``; a tz-aware index is converted to UTC) of the sessions
        that end the ticker's returns, strictly increasing.
    other_closes
        ``(m,)`` close instants (UTC) of the other exchange's sessions, strictly increasing. They must list
        every session of the other exchange between ``own_closes[0]`` and ``own_closes[-1]``: a session left
        out is taken as not held.
    other_returns
        ``(m,)`` return of each of the other exchange's sessions (close to close), simple returns, or log
        returns with ``log=True``; NaN = no data.
    log
        ``False``: compound simple returns, ``Π(1 + r) − 1``. ``True``: sum log returns, ``Σ r`` (the
        result is then a log return).

    Returns
    -------
    accumulated : ndarray of float, shape (n,)
        Row *d* ≥ 1: the other market's return accumulated over its sessions whose close lies in
        ``(own_closes[d-1], own_closes[d]]``. Row 0 is NaN: it has no previous close.
    sessions : ndarray of int, shape (n,)
        How many of the other market's sessions closed in that interval (row 0: 0).

    Raises
    ------
    InputError
        On arrays of the wrong shape, NaT instants, instants that do not increase, infinite returns, or
        a simple return ≤ −1 (it has no log).

    Notes
    -----
    Conventions:

    - Boundary: the interval is open at the previous own close and closed at this one, so an other
      session closing exactly at an own close belongs to the return ending at that close.
    - No other session in the interval: 0.0 with count 0. The other market did not trade, so nothing
      happened there (for example a NY holiday seen from Hong Kong).
    - Any session in the interval with a NaN return: NaN. Missing data is never treated as zero.

    Computation, with no loop over days: ``L_j = Σ_{i<j} log(1 + r_i)`` (NaN returns counted as 0 and
    counted separately in a running count ``K_j``); ``k_d`` = the number of other closes at or before
    ``own_closes[d]`` (``numpy.searchsorted``, ``side="right"``); row *d* is
    ``expm1(L[k_d] − L[k_{d−1}])``, or NaN when ``K[k_d] > K[k_{d−1}]``. The difference of running sums
    carries an absolute error of a few ulps of ``|L|`` (about 1e-15 for cumulative log levels below 10).
    """
    own = _utc_ns(own_closes, "own_closes")
    other = _utc_ns(other_closes, "other_closes")
    returns = np.asarray(other_returns, dtype=np.float64)
    if returns.shape != other.shape:
        raise InputError(
            f"other_returns has shape {returns.shape} but other_closes has {other.shape}; "
            "give one return per session of the other exchange",
            parameter="other_returns",
        )
    _check_returns(returns, np.isnan(returns), log=log)
    accumulated = np.full(len(own), np.nan)
    sessions = np.zeros(len(own), dtype=np.int64)
    accumulated[1:], sessions[1:] = accumulated_over(own[:-1], own[1:], other, returns, log=log)
    return accumulated, sessions


def accumulated_over(
    starts_ns: np.ndarray, ends_ns: np.ndarray, other_closes_ns: np.ndarray, other_returns: np.ndarray, *, log: bool
) -> tuple[FloatArray, IntArray]:
    """The other market's return over its sessions closing in (start, end], for any intervals at once.

    ``starts_ns``, ``ends_ns``: UTC nanoseconds, any order (each interval on its own); ``other_closes_ns``
    increasing with one return each (NaN = no data). The conventions of :func:`accumulated_between_closes`
    (0.0 without sessions, NaN with a NaN session); the returns are assumed checked. One cumulative sum and two
    binary searches per interval.
    """
    missing = np.isnan(other_returns)
    filled = np.where(missing, 0.0, other_returns)
    steps = filled if log else np.log1p(filled)
    level = np.concatenate(([0.0], np.cumsum(steps)))
    missing_before = np.concatenate(([0], np.cumsum(missing, dtype=np.int64)))
    start = np.searchsorted(other_closes_ns, starts_ns, side="right")  # other sessions closed at or before each
    stop = np.searchsorted(other_closes_ns, ends_ns, side="right")
    total = level[stop] - level[start]
    if not log:
        total = np.expm1(total)
    return np.where(missing_before[stop] > missing_before[start], np.nan, total), (stop - start).astype(np.int64)


def _utc_ns(values: np.ndarray, name: str) -> np.ndarray:
    """Instants as UTC nanoseconds (int64), checked to be one-dimensional, not NaT and strictly increasing."""
    if np.ndim(values) != 1:
        raise InputError(f"{name} must be one-dimensional; got shape {np.shape(values)}", parameter=name)
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    ns = index.as_unit("ns").asi8
    _check_increasing(ns, name, "instant")
    return ns


def _check_increasing(ns: np.ndarray, name: str, what: str) -> None:
    """Raise InputError at the first NaT or the first value not after its predecessor."""
    nat = np.flatnonzero(ns == _NAT)
    if len(nat):
        raise InputError(f"{name}[{int(nat[0])}] is missing (NaT); every {what} must be given", parameter=name)
    stalled = np.flatnonzero(ns[1:] <= ns[:-1])
    if len(stalled):
        i = int(stalled[0]) + 1
        raise InputError(
            f"{name}[{i}] = {_text(ns[i])} is not after {name}[{i - 1}] = {_text(ns[i - 1])}; "
            f"sort the {what}s and remove duplicates",
            parameter=name,
            value=_text(ns[i]),
        )


def _check_returns(returns: np.ndarray, missing: np.ndarray, *, log: bool) -> None:
    """Raise InputError at the first infinite return, or simple return ≤ −1."""
    bad = np.isinf(returns)
    if not log:
        bad |= ~missing & (returns <= -1.0)
    rows = np.flatnonzero(bad)
    if len(rows):
        i = int(rows[0])
        need = "finite log returns" if log else "finite simple returns above -1 (a loss of less than 100 %)"
        raise InputError(
            f"other_returns[{i}] = {float(returns[i])!r} cannot be accumulated; give {need}, or NaN for no data",
            parameter="other_returns",
            value=float(returns[i]),
        )


def _text(ns: np.integer | int) -> str:
    """ISO text of a nanosecond instant, to the second (a midnight as its date)."""
    stamp = pd.Timestamp(int(ns))
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()


# ---------------------------------------------------------------------------------------------------------
# calendars


def session_closes(calendar: str, start: DateLike, end: DateLike) -> pd.DatetimeIndex:
    """Close instants (UTC) of every session of an exchange calendar from ``start`` to ``end``.

    Parameters
    ----------
    calendar
        An exchange code of :func:`eventstudy.symbols.exchange_for` or an exchange_calendars name
        (``"XHKG"``, ``"XNYS"``, ...), read through :func:`eventstudy.calendars.get_calendar`'s cache.
    start, end
        First and last session dates (inclusive, exchange-local dates).

    Returns
    -------
    DatetimeIndex
        ``datetime64[ns, UTC]`` named ``"close"``, one instant per session in order: the calendar's
        ``closes``, so half days (XHKG on 24 December, 31 December and Lunar New Year's Eve: 12:00 HKT)
        close early.

    Raises
    ------
    InputError
        When ``start`` is after ``end`` or the range reaches outside the calendar (which ends one year after
        today); UnknownNameError for an unknown calendar.
    """
    lo = _day_ns(start, "start")
    hi = _day_ns(end, "end")
    if lo > hi:
        raise InputError(f"start {_text(lo)} is after end {_text(hi)}", parameter="start", value=_text(lo))
    sessions, closes = _calendar(calendar, lo)
    _check_covered(calendar, sessions, lo, hi)
    first, stop = np.searchsorted(sessions, lo, side="left"), np.searchsorted(sessions, hi, side="right")
    return pd.DatetimeIndex(closes[first:stop].view("datetime64[ns]"), name="close").tz_localize("UTC")


def cross_market_regressor(
    own_calendar: str,
    own_dates: np.ndarray,
    other_calendar: str,
    other_dates: np.ndarray,
    other_returns: np.ndarray,
    *,
    log: bool = False,
) -> tuple[FloatArray, IntArray]:
    """The other market's return accumulated over each of the ticker's returns (``METHODS.md`` §4.8).

    Parameters
    ----------
    own_calendar
        The ticker's exchange calendar (``"XHKG"`` for a ``.HK`` stock, ``"XNYS"`` for a US ADR).
    own_dates
        ``(n,)`` the dates of the ticker's price rows, strictly increasing exchange-local session dates
        (``datetime64``; a time of day is dropped). Row *i* ≥ 1 is the ticker's return from the close of
        ``own_dates[i-1]`` to the close of ``own_dates[i]``, whatever the sessions in between: after a
        missing day (a Yahoo gap, or a closure the calendar does not know, such as a typhoon) the interval
        runs from the close of the previous element of ``own_dates``, not of the previous session of the
        calendar, and accumulates over the whole span. Row 0 has no previous close and is NaN.
    other_calendar
        The other market's exchange calendar (``"XNYS"`` for the S&P 500, ``"XHKG"`` for the HSI).
    other_dates
        ``(m,)`` the other market's session dates with a return, strictly increasing.
    other_returns
        ``(m,)`` its return of each of those sessions (close to close; NaN = no data).
    log
        As in :func:`accumulated_between_closes`.

    Returns
    -------
    accumulated, sessions
        As in :func:`accumulated_between_closes`, one row per element of ``own_dates``: row *i* covers the
        other sessions closing in ``(close(own_dates[i-1]), close(own_dates[i])]``.

    Raises
    ------
    InputError
        When a date of ``own_dates`` or ``other_dates`` is not a session of its calendar (the message names
        it), dates do not increase, lengths differ, a return cannot be accumulated, or the dates reach
        outside the calendars.

    Notes
    -----
    Sessions come from exchange_calendars and closes are its UTC close instants (half days included), so
    daylight saving shifts, holidays and early closes need no special case. A session of the other
    calendar without a row in ``other_dates`` is missing data and makes the intervals containing it NaN: a
    gap in a Yahoo series is not a holiday. A session the exchange did not actually hold although the
    calendar lists it (XHKG 2023-09-01 and 2023-09-08, ``../shared/docs/ECOSYSTEM.md`` §3.2) is therefore
    NaN too; give it a row with return 0.0 to declare that nothing happened. A date in ``other_dates`` that
    is not a session of ``other_calendar`` is an error, since its return belongs to no close.
    """
    own_days = _days_ns(own_dates, "own_dates")
    other_days = _days_ns(other_dates, "other_dates")
    returns = np.asarray(other_returns, dtype=np.float64)
    if returns.shape != other_days.shape:
        raise InputError(
            f"other_returns has {returns.size} values but other_dates has {other_days.size}; give one return per date",
            parameter="other_returns",
        )
    if len(own_days) == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)

    own_sessions, own_session_closes = _calendar(own_calendar, own_days[0])
    own_closes = own_session_closes[_session_positions(own_sessions, own_days, own_calendar, "own_dates")]

    lo = own_days[0] - _MARGIN_DAYS * _NS_PER_DAY
    hi = own_days[-1] + _MARGIN_DAYS * _NS_PER_DAY
    earliest = lo if len(other_days) == 0 else min(lo, other_days[0])
    other_sessions, other_session_closes = _calendar(other_calendar, earliest)
    _check_covered(other_calendar, other_sessions, lo, hi)
    positions = _session_positions(other_sessions, other_days, other_calendar, "other_dates")
    on_sessions = np.full(len(other_sessions), np.nan)
    on_sessions[positions] = returns
    first, stop = np.searchsorted(other_sessions, lo, side="left"), np.searchsorted(other_sessions, hi, side="right")
    return accumulated_between_closes(
        own_closes.view("datetime64[ns]"),
        other_session_closes[first:stop].view("datetime64[ns]"),
        on_sessions[first:stop],
        log=log,
    )


def _calendar(calendar: str, earliest_ns: np.integer | int) -> tuple[np.ndarray, np.ndarray]:
    """Session labels (naive ns) and close instants (UTC ns) of a calendar covering ``earliest_ns``."""
    sessions, closes, _ = _arrays_for(calendar, pd.Timestamp(int(earliest_ns)))
    return sessions, closes


def _check_covered(calendar: str, sessions: np.ndarray, lo: np.integer | int, hi: np.integer | int) -> None:
    """Raise InputError when ``[lo, hi]`` reaches before the first or after the last session of the calendar."""
    if len(sessions) == 0 or lo < sessions[0] or hi > sessions[-1]:
        span = f"{_text(sessions[0])} to {_text(sessions[-1])}" if len(sessions) else "no sessions"
        raise InputError(
            f"dates {_text(lo)} to {_text(hi)} reach outside the {calendar} calendar ({span}); use dates inside it",
            parameter="calendar",
            value=calendar,
        )


def _session_positions(sessions: np.ndarray, days: np.ndarray, calendar: str, name: str) -> np.ndarray:
    """Positions of ``days`` in ``sessions``; InputError naming the first day that is not a session."""
    absent = np.flatnonzero(~np.isin(days, sessions))
    if len(absent):
        i = int(absent[0])
        raise InputError(
            f"{name}[{i}] = {_text(days[i])} is not a session of {calendar}; a return needs a session close "
            "(check the date and the calendar)",
            parameter=name,
            value=_text(days[i]),
        )
    return np.searchsorted(sessions, days, side="left")


def _days_ns(values: np.ndarray, name: str) -> np.ndarray:
    """Dates as naive midnight nanoseconds (int64), one-dimensional, not NaT and strictly increasing."""
    if np.ndim(values) != 1:
        raise InputError(f"{name} must be one-dimensional; got shape {np.shape(values)}", parameter=name)
    ns = np.asarray(values, dtype="datetime64[D]").astype("datetime64[ns]").view(np.int64)
    _check_increasing(ns, name, "date")
    return ns


def _day_ns(value: DateLike, name: str) -> int:
    """One date as naive midnight nanoseconds."""
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        raise InputError(f"{name} is missing; give a date", parameter=name)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return int(stamp.normalize().as_unit("ns").value)
