"""Shared firm-days: duplicates, overlapping event windows, confounders in the estimation window, pooling.

Several events may touch the same ticker close together (``docs/methods.md`` §3.5):

- a **duplicate**: another event's firm-event with the same (ticker, day 0), e.g. two news items on one
  evening; its abnormal returns are the same numbers (with the same benchmark), so pooling both counts one
  observation twice;
- an **overlap**: another event's day 0 of the same ticker falls inside this firm-event's event window
  (but on another day), so the window's returns carry both news items;
- an **estimation confounder**: another event's day 0 of the same ticker falls inside the estimation
  rows used for the fit.

This module finds them with one sort and ``numpy.searchsorted`` over (ticker, date) keys
(:func:`range_matches`), labels them for ``event_days.csv`` and ``StudyResult.firm_events``
(:func:`firm_event_flags`), and decides which firm-events enter the pooled groups under the ``pooling``
knob (:func:`pooled_mask`). :func:`event_window_mask` gives the estimation rows that the
``mask_event_windows`` knob leaves out of the fit.

Of several firm-events on one (ticker, day 0) the one kept is the first in :func:`precedence`: the event
released first (earliest date; on one date a timed event by its instant, before the date-only ones), ties
broken by the event id. The rule does not depend on the order of the events file, so neither does any
pooled statistic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from eventstudy._typing import BoolArray, IntArray
from eventstudy.results import nanmax_dates, nanmin_dates


def range_matches(
    codes: IntArray, low: np.ndarray, high: np.ndarray, source_codes: IntArray, source_dates: np.ndarray
) -> tuple[IntArray, IntArray]:
    """Every (query, source) pair with the same code and the source date inside the query's date range.

    Parameters
    ----------
    codes : (Q,)
        Code of each query (e.g. its ticker); a negative code matches nothing.
    low, high : (Q,) datetime64[D]
        Inclusive date range of each query; NaT in either matches nothing.
    source_codes : (S,)
        Code of each source, on the same coding as ``codes``.
    source_dates : (S,) datetime64[D]
        Date of each source; NaT sources match nothing.

    Returns
    -------
    rows, sources : (P,) int64
        Query row and source row of every match, ordered by query row, then by source date, then by
        source row.

    Notes
    -----
    One stable sort of the sources by the composite key ``code * span + offset(date)`` and two
    ``numpy.searchsorted`` calls (the queries in key order, so that each search is short and stays in
    cache) give each query's matches as a contiguous run of the sorted sources; the runs are expanded with
    ``numpy.repeat``. Cost O((S + Q) log(S + Q) + P), without a loop.

    Examples
    --------
    >>> d = np.array(["2021-03-12", "2021-03-16", "2021-03-16"], dtype="datetime64[D]")
    >>> range_matches(np.array([0]), d[1:2] - 5, d[1:2] + 5, np.array([0, 0, 1]), d)
    (array([0, 0]), array([0, 1]))
    """
    codes = np.asarray(codes, dtype=np.int64)
    low = np.asarray(low, dtype="datetime64[D]")
    high = np.asarray(high, dtype="datetime64[D]")
    source_codes = np.asarray(source_codes, dtype=np.int64)
    source_dates = np.asarray(source_dates, dtype="datetime64[D]")
    usable = np.flatnonzero(~np.isnat(source_dates) & (source_codes >= 0))
    empty = np.empty(0, dtype=np.int64)
    if not len(usable) or not len(codes):
        return empty, empty
    days = source_dates[usable].astype(np.int64)
    first, last = int(days.min()), int(days.max())
    span = last - first + 3  # offsets 1..span-2 hold sources; 0 and span-1 lie before and after them all
    keys = source_codes[usable] * span + (days - first + 1)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    valid = ~np.isnat(low) & ~np.isnat(high) & (codes >= 0)
    low_off = np.clip(np.where(valid, low.astype(np.int64), first) - first + 1, 0, span - 1)
    high_off = np.clip(np.where(valid, high.astype(np.int64), first) - first + 1, 0, span - 1)
    # the queries searched in the order of their keys: each search starts where the previous one ended
    by_key = np.argsort(codes * span + low_off)
    start = np.empty(len(codes), dtype=np.int64)
    stop = np.empty(len(codes), dtype=np.int64)
    start[by_key] = np.searchsorted(sorted_keys, (codes * span + low_off)[by_key], side="left")
    stop[by_key] = np.searchsorted(sorted_keys, (codes * span + high_off)[by_key], side="right")
    counts = np.where(valid, np.maximum(stop - start, 0), 0)
    rows = np.repeat(np.arange(len(codes), dtype=np.int64), counts)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, usable[order[np.repeat(start, counts) + within]].astype(np.int64)


def _join_by_row(rows: IntArray, texts: np.ndarray, following: np.ndarray, n: int) -> np.ndarray:
    """``"; "``-joined texts per row (rows ascending in ``rows``), ``""`` for rows without any.

    ``following[i]`` is ``"; " + texts[i]``, the form a text takes after the first of its row. Joined column by
    column: the first text of every row, then the second text (with its separator) of the rows with two or
    more, and so on (as many passes as the most texts of one row, one concatenation each), with no per-row
    Python.
    """
    out = np.full(n, "", dtype=object)
    if len(rows):
        start = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        count = np.diff(np.r_[start, len(rows)])
        joined = np.asarray(texts, dtype=object)[start]
        for j in range(1, int(count.max())):
            more = count > j
            joined[more] = joined[more] + following[start[more] + j]
        out[rows[start]] = joined
    return out


def _source_texts(
    src: IntArray, n_sources: int, text: Callable[[IntArray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``text(sources)`` of each matched source, and with a ``"; "`` in front, built once per distinct source.

    ``src`` holds source rows in ``0..n_sources-1``; the distinct ones are found by marking them (no sort).
    """
    seen = np.zeros(n_sources, dtype=bool)
    seen[src] = True
    slot = np.cumsum(seen) - 1
    once = text(np.flatnonzero(seen))
    return once[slot[src]], ("; " + once)[slot[src]]


def _day_text(dates: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` of each date (``NaT`` for NaT), formatted once per distinct date."""
    days, inverse = np.unique(np.asarray(dates, dtype="datetime64[D]"), return_inverse=True)
    return np.datetime_as_string(days, unit="D").astype(object)[inverse]


def precedence(event_ids: pd.Series, event_dates: pd.Series, event_times_utc: pd.Series) -> IntArray:
    """Rank of each firm-event's event in release order: which of several on one firm-day is kept.

    Parameters
    ----------
    event_ids : (N,)
        Event id of each firm-event.
    event_dates : (N,) datetime64
        The event's date (local release date, as in the events file).
    event_times_utc : (N,) datetime64 (UTC)
        The release instant; NaT for a date-only event.

    Returns
    -------
    (N,) int64
        0 for the first firm-event in the order (event date, then release instant with date-only events
        after the timed ones of their date, then event id), 1 for the next, and so on; the firm-events of
        one event are consecutive (they never share a ticker, so never compete for a firm-day).
    """
    dates = pd.to_datetime(event_dates).to_numpy().astype("datetime64[D]").astype(np.int64)
    instants = pd.to_datetime(pd.Series(event_times_utc), utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]")
    ns = np.where(np.isnat(instants), np.iinfo(np.int64).max, instants.astype(np.int64))
    ids = np.asarray(event_ids, dtype=object).astype(str)
    order = np.lexsort((ids, ns, dates))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _first_per_firm_day(tickers: pd.Series, day_zero: np.ndarray, rank: IntArray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether it has the lowest ``rank`` of its (ticker, day 0), and the row holding that rank.

    One sort of the rows by (ticker, day 0, rank): each (ticker, day 0) is then a run whose first row holds
    the lowest rank. NaT days of a ticker form one run.
    """
    codes, _ = pd.factorize(np.asarray(tickers, dtype=object))
    day = np.asarray(day_zero).astype("datetime64[D]").view(np.int64)
    rank = np.asarray(rank)
    order = np.lexsort((rank, day, codes))
    run_start = np.r_[True, (np.diff(codes[order]) != 0) | (np.diff(day[order]) != 0)][: len(order)]
    holder = np.empty(len(order), dtype=np.int64)
    holder[order] = order[np.flatnonzero(run_start)][np.cumsum(run_start) - 1]
    return holder == np.arange(len(order)), holder


def duplicate_of(event_ids: pd.Series, tickers: pd.Series, day_zero: np.ndarray, rank: IntArray) -> np.ndarray:
    """Event id of the kept firm-event of the same (ticker, day 0), for every other one.

    Parameters
    ----------
    event_ids, tickers : (N,)
        The firm-events.
    day_zero : (N,) datetime64[D]
        Day 0 of each; NaT rows are never duplicates.
    rank : (N,)
        :func:`precedence` of each row; the lowest of a (ticker, day 0) is kept.

    Returns
    -------
    (N,) object
        ``""`` for the kept firm-event of each (ticker, day 0) and for NaT rows; the kept one's event id
        for the others.
    """
    first, kept = _first_per_firm_day(tickers, day_zero, rank)
    ids = np.asarray(event_ids, dtype=object)
    dated = ~np.isnat(np.asarray(day_zero).astype("datetime64[D]"))
    return np.where(~first & dated, ids[kept], "").astype(object)


def firm_event_flags(
    estimated: pd.DataFrame,
    window_dates: np.ndarray,
    window_days: IntArray,
    fit_dates: np.ndarray,
    others: pd.DataFrame,
    *,
    masked: bool = False,
) -> pd.DataFrame:
    """Overlaps and estimation confounders of each estimated firm-event, as text.

    Parameters
    ----------
    estimated : (N rows)
        The estimated firm-events: ``event_id``, ``ticker``, ``day_zero`` (datetime64).
    window_dates : (N, W) datetime64
        Date of each event-window row (NaT where missing).
    window_days : (W,)
        Relative day of each event-window column.
    fit_dates : (N, L) datetime64
        Dates of the estimation rows used in the fit (NaT elsewhere); only each row's first and last date
        are read, so an (N, 2) array of those two (the study's ``estimation_dates``) gives the same flags.
    others : (S rows)
        Every firm-event of the study with a day 0: ``event_id``, ``ticker``, ``day_zero``.
    masked
        Whether the estimation rows inside other events' windows were left out (``mask_event_windows``);
        stated in the confounder text.

    Returns
    -------
    DataFrame
        Two object columns of text. ``overlaps``: ``"; "``-joined ``"<event_id> (day <k>)"`` for each
        other event of the same ticker whose day 0 lies inside this firm-event's event window on another
        day than its day 0 (``k`` is its relative day in this window; ``"<event_id> (<date>)"`` when that
        date has no row);
        ``estimation_confounders``: ``"<event_id> (day 0 <date>)"`` for each other event of the same
        ticker whose day 0 lies between the first and the last estimation row used (with
        ``", window masked"`` when ``masked``). Rows as ``estimated``.
    """
    n = len(estimated)
    codes, _ = pd.factorize(pd.concat([estimated["ticker"], others["ticker"]], ignore_index=True))
    own, source = codes[:n], codes[n:]
    day0 = pd.to_datetime(estimated["day_zero"]).to_numpy().astype("datetime64[D]")
    other_day0 = pd.to_datetime(others["day_zero"]).to_numpy().astype("datetime64[D]")
    own_ids = estimated["event_id"].to_numpy(dtype=object)
    other_ids = others["event_id"].to_numpy(dtype=object)

    dates = np.asarray(window_dates).astype("datetime64[D]")
    first = nanmin_dates(dates)
    last = nanmax_dates(dates)
    rows, src = range_matches(own, first, last, source, other_day0)
    keep = (other_ids[src] != own_ids[rows]) & (other_day0[src] != day0[rows])
    rows, src = rows[keep], src[keep]
    hit = dates[rows] == other_day0[src][:, None]
    has_row = hit.any(axis=1)
    rel_column = hit.argmax(axis=1) if len(rows) else np.empty(0, dtype=np.int64)
    day_labels = np.array([f"day {day:+d}" for day in np.asarray(window_days).tolist()], dtype=object)
    where = np.where(has_row, day_labels[rel_column], _day_text(other_day0[src]))
    texts = other_ids[src] + " (" + where + ")"
    overlaps = _join_by_row(rows, texts, "; " + texts, n)

    fit = np.asarray(fit_dates).astype("datetime64[D]")
    rows, src = range_matches(own, nanmin_dates(fit), nanmax_dates(fit), source, other_day0)
    keep = other_ids[src] != own_ids[rows]
    rows, src = rows[keep], src[keep]
    suffix = ", window masked)" if masked else ")"
    texts, following = _source_texts(
        src, len(other_ids), lambda j: other_ids[j] + " (day 0 " + _day_text(other_day0[j]) + suffix
    )
    confounders = _join_by_row(rows, texts, following, n)
    # object columns: the texts stay the Python strings built here (no conversion to Arrow text and back)
    return pd.DataFrame({"overlaps": overlaps, "estimation_confounders": confounders}, dtype=object)


def pooled_mask(tickers: pd.Series, day_zero: np.ndarray, overlaps: np.ndarray, rule: str, rank: IntArray) -> BoolArray:
    """Which firm-events enter the pooled groups under the ``pooling`` knob (``docs/methods.md`` §3.5).

    Parameters
    ----------
    tickers : (N,)
        Ticker of each estimated firm-event.
    day_zero : (N,) datetime64
        Its day 0.
    overlaps : (N,)
        Text of :func:`firm_event_flags` (``""`` when no other event's day 0 is in the window).
    rule
        ``"all"``: every row; ``"distinct"``: the row of lowest ``rank`` of each (ticker, day 0);
        ``"drop_overlapped"``: those of ``"distinct"`` whose ``overlaps`` is empty.
    rank : (N,)
        :func:`precedence` of each row.

    Returns
    -------
    (N,) bool
    """
    if rule == "all":
        return np.ones(len(tickers), dtype=bool)
    first, _ = _first_per_firm_day(tickers, day_zero, rank)
    if rule == "distinct":
        return first
    if rule == "drop_overlapped":
        return first & (np.asarray(overlaps, dtype=object) == "")
    raise ValueError(f"unknown pooling rule {rule!r}")


def event_window_mask(tickers: pd.Series, est_dates: np.ndarray, evt_dates: np.ndarray) -> BoolArray:
    """Estimation rows inside the event window of another firm-event of the same ticker (``mask_event_windows``).

    Parameters
    ----------
    tickers : (N,)
        Ticker of each firm-event of the panel.
    est_dates : (N, L) datetime64
        Dates of the estimation rows (NaT where missing).
    evt_dates : (N, W) datetime64
        Dates of the event-window rows (NaT where missing).

    Returns
    -------
    (N, L) bool
        True where row i's estimation date d satisfies first_j <= d <= last_j for another firm-event j of
        the same ticker, [first_j, last_j] the dates of j's event-window rows.

    Notes
    -----
    Candidate pairs come from :func:`range_matches` on the day 0 (the middle of the window) within a
    margin of the longest window reach in calendar days, then the exact interval test; no loop over
    events or tickers.
    """
    codes, _ = pd.factorize(tickers)
    evt = np.asarray(evt_dates).astype("datetime64[D]")
    ids = np.arange(len(codes), dtype=np.int64)
    return window_overlap_mask(codes, ids, est_dates, codes, ids, nanmin_dates(evt), nanmax_dates(evt))


def window_overlap_mask(
    codes: IntArray,
    ids: IntArray,
    est_dates: np.ndarray,
    window_codes: IntArray,
    window_ids: IntArray,
    window_first: np.ndarray,
    window_last: np.ndarray,
) -> BoolArray:
    """Estimation rows inside another firm-event's event window of the same code (:func:`event_window_mask`).

    The firm-events queried and the firm-events whose windows mask them may be different sets (a chunk of
    the study and all of its firm-events), matched by their codes and told apart by their ids.

    Parameters
    ----------
    codes, ids : (N,)
        Ticker code and identity of each queried firm-event.
    est_dates : (N, L) datetime64
        Dates of its estimation rows (NaT where missing).
    window_codes, window_ids : (S,)
        Ticker code (same coding as ``codes``) and identity (same as ``ids``) of each masking firm-event.
    window_first, window_last : (S,) datetime64[D]
        First and last date of its event-window rows (NaT: none).

    Returns
    -------
    (N, L) bool
        True where row i's estimation date d satisfies first_j <= d <= last_j for a masking firm-event j
        with the same code and another id.
    """
    ids = np.asarray(ids)
    window_ids = np.asarray(window_ids)
    est = np.asarray(est_dates).astype("datetime64[D]")
    window_first = np.asarray(window_first, dtype="datetime64[D]")
    window_last = np.asarray(window_last, dtype="datetime64[D]")
    out = np.zeros(est.shape, dtype=bool)
    anchor = window_first  # any date inside the window works as the sort key
    ok = ~np.isnat(anchor)
    if not ok.any() or not est.size:
        return out
    reach = int((window_last[ok] - window_first[ok]).astype(np.int64).max())
    est_first, est_last = nanmin_dates(est), nanmax_dates(est)
    margin = np.timedelta64(reach, "D")
    rows, src = range_matches(codes, est_first - margin, est_last, window_codes, anchor)
    keep = (
        (ids[rows] != window_ids[src]) & (window_first[src] <= est_last[rows]) & (window_last[src] >= est_first[rows])
    )
    rows, src = rows[keep], src[keep]
    if not len(rows):
        return out
    inside = (est[rows] >= window_first[src][:, None]) & (est[rows] <= window_last[src][:, None])
    np.logical_or.at(out, rows, inside)
    return out


__all__ = [
    "duplicate_of",
    "event_window_mask",
    "firm_event_flags",
    "pooled_mask",
    "precedence",
    "range_matches",
    "window_overlap_mask",
]
