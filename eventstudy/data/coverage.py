"""What the price store holds for a symbol, and whether a new download agrees with it.

:class:`Coverage` decides whether the stored rows (and the earlier successful downloads) serve a date
range without a download; :func:`adjustment_drift` decides whether a new download's adjusted prices
belong to the same vintage as the stored ones (``../shared/docs/ECOSYSTEM.md`` §1.2, §5). Both are pure: the store
builds a :class:`Coverage` from its tables, and :class:`~eventstudy.data.sources.YahooPrices` acts on them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FetchRecord:
    """One successful fetch of a symbol, as needed for coverage decisions."""

    requested_start: dt.date | None
    requested_end: dt.date | None
    fetched_at_utc: str

    @property
    def fetched_on(self) -> dt.date:
        """UTC calendar date of the fetch."""
        return dt.datetime.fromisoformat(self.fetched_at_utc).astimezone(dt.UTC).date()


@dataclass(frozen=True)
class Coverage:
    """What the store holds for one (source, symbol).

    Parameters
    ----------
    symbol, source
        The key.
    first_date, last_date
        First and last stored date.
    rows
        Number of stored rows.
    last_fetched_utc
        Time of the latest fetch whose rows are stored (status ``ok`` or ``rebased``), or None.
    fetches
        The successful fetches, oldest first.
    """

    symbol: str
    source: str
    first_date: dt.date
    last_date: dt.date
    rows: int
    last_fetched_utc: str | None
    fetches: tuple[FetchRecord, ...] = ()

    def head_covered(self, start: dt.date, slack_days: int = 7) -> bool:
        """Whether rows from ``start`` on are stored (allowing ``slack_days`` of non-trading days).

        Also true when an earlier successful fetch already asked for ``start`` or earlier: the symbol's
        history simply begins later (e.g. a listing after ``start``).
        """
        if self.first_date <= start + dt.timedelta(days=slack_days):
            return True
        return any(f.requested_start is not None and f.requested_start <= start for f in self.fetches)

    def tail_covered(self, end: dt.date, slack_days: int = 7) -> bool:
        """Whether rows up to ``end`` are stored (allowing ``slack_days`` of non-trading days).

        Also true when a successful fetch that asked for ``end`` or later happened after ``end``: Yahoo
        had nothing more (a suspension, a delisting, or a long closure).
        """
        if self.last_date >= end - dt.timedelta(days=slack_days):
            return True
        return any(f.requested_end is not None and f.requested_end >= end and f.fetched_on > end for f in self.fetches)

    def covers(self, start: dt.date, end: dt.date, slack_days: int = 7) -> bool:
        """Whether the store can serve ``start``..``end`` without a download."""
        return self.head_covered(start, slack_days) and self.tail_covered(end, slack_days)


def adjustment_drift(stored: pd.DataFrame, new: pd.DataFrame, rtol: float = 1e-6) -> str | None:
    r"""Say whether a new download disagrees with the stored adjusted-price vintage.

    Yahoo rebases ``Adj Close`` backwards whenever a dividend or split appears, so adjusted prices
    downloaded on different dates are not comparable (``../shared/docs/ECOSYSTEM.md`` §1.2, §5).

    Parameters
    ----------
    stored, new
        Frames indexed by date with ``adj_close``, ``dividends`` and ``splits`` columns.
    rtol
        Relative tolerance on ``adj_close`` for overlapping dates.

    Returns
    -------
    str or None
        A description of the first disagreement found, or None when the download is consistent.

    Notes
    -----
    Drift is reported when (a) the download has a dividend or split on a date after the first stored
    date that the store does not hold with the same amount (an action dated on or before the first
    stored date only adjusts earlier prices, none of which are stored), or (b) on dates present in
    both, :math:`|a_{new} - a_{stored}| > rtol \\cdot |a_{stored}|` for ``adj_close``.
    """
    if stored is None or stored.empty or new is None or new.empty:
        return None
    first_stored = stored.index.min()
    for column, label in (("dividends", "dividend"), ("splits", "split")):
        if column not in new.columns:
            continue
        amounts = pd.to_numeric(new[column], errors="coerce").fillna(0.0)
        actions = amounts[(amounts != 0) & (amounts.index > first_stored)]
        if actions.empty:
            continue
        old = pd.to_numeric(stored[column], errors="coerce").fillna(0.0) if column in stored.columns else None
        for day, amount in actions.items():
            previous = 0.0 if old is None else float(old.get(day, 0.0))
            if not np.isclose(previous, float(amount), rtol=1e-9, atol=0.0):
                return f"new {label} of {float(amount):g} on {pd.Timestamp(day).date()} not in the store"
    common = stored.index.intersection(new.index)
    if len(common):
        a_old = pd.to_numeric(stored.loc[common, "adj_close"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        a_new = pd.to_numeric(new.loc[common, "adj_close"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        ok = np.isfinite(a_old) & np.isfinite(a_new)
        rel = np.zeros(len(common))
        rel[ok] = np.abs(a_new[ok] - a_old[ok]) / np.abs(a_old[ok])
        bad = np.flatnonzero(rel > rtol)
        if len(bad):
            return (
                f"adj_close differs from the stored vintage on {len(bad)} of {len(common)} overlapping dates "
                f"(first {pd.Timestamp(common[bad[0]]).date()}, max relative difference {rel.max():.3g})"
            )
    return None


__all__ = ["Coverage", "FetchRecord", "adjustment_drift"]
