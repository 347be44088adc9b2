"""Yahoo Finance prices through the local store: :class:`YahooPrices`.

Every source implements :class:`~eventstudy.data.series.PriceSource`: ``load(symbol, start, end)``
returns a :class:`~eventstudy.data.series.PriceSeries` of the symbol's observed rows and raises
:class:`~eventstudy.errors.PriceSourceError` when nothing usable exists for that symbol (the study turns
it into an exclusion). A malformed file is the user's input, so it raises
:class:`~eventstudy.errors.InputError` naming the file, line and column.

Sources never fill, align or resample; they may return more rows than ``start..end`` (the caller cuts).

The file sources live in their own modules, :mod:`eventstudy.data.csv_prices` (:class:`CsvPrices`) and
:mod:`eventstudy.data.returns_files` (:class:`ReturnsFrame`, :class:`ReturnsFile`); every source is also
importable from the :mod:`eventstudy.data` package.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data import yahoo as _yahoo
from eventstudy.data.cleaning import invalid_values, list_dates
from eventstudy.data.coverage import Coverage, adjustment_drift
from eventstudy.data.series import PriceSeries
from eventstudy.data.store import FetchInfo, PriceStore, utc_now_iso
from eventstudy.errors import EventStudyWarning, InputError, PriceSourceError


def _as_date(value: object, name: str) -> dt.date:
    """Coerce a date-like argument to :class:`datetime.date` (raises InputError naming ``name``)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(value).date()  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InputError(f"not a date: {value!r}", parameter=name, value=value) from exc


class YahooPrices:
    """Yahoo Finance daily prices through yfinance, kept in the local SQLite store.

    Parameters
    ----------
    store
        A :class:`~eventstudy.data.store.PriceStore`, a path to its file, or None for the default location
        (``$EVENTSTUDY_STORE`` or the user data directory).
    offline
        Never download (and never import yfinance): serve only what the store holds.
    session
        HTTP session passed to yfinance (curl_cffi, or ``requests`` with yfinance >= 1.4).
    ticker_factory
        ``(symbol, session) -> ticker`` replacing ``yfinance.Ticker`` (tests).
    refresh
        Download even when the store already covers the requested range.

    Notes
    -----
    ``load(symbol, start, end)`` serves the store when it covers ``start..end``: the first stored date is
    at most 7 days after ``start`` (or an earlier download already asked for ``start``: the history begins
    later), and the last stored date is at most 7 days before ``end`` (or a download that asked for
    ``end`` ran after ``end``). Otherwise the missing part is downloaded, with 14 days of overlap so that
    the stored ``adj_close`` vintage can be checked. When the download shows a new dividend or split, or
    ``adj_close`` moved by more than 1e-6 (relative) on overlapping dates, the whole history is downloaded
    again and replaces the stored rows in one transaction (fetch status ``"rebased"``), so one consistent
    adjusted-price vintage is kept (``../shared/docs/ECOSYSTEM.md`` §5). Every attempt is logged in the store's
    ``fetches`` table. When a download fails and rows are stored, they are served with an
    :class:`~eventstudy.errors.EventStudyWarning` and a note. The series holds all stored rows (the caller
    cuts); rows whose ``adj_close`` is missing or breaks the price rule of :mod:`eventstudy.data.cleaning`
    are dropped and noted.

    No network: after :attr:`NO_NETWORK_AFTER` downloads in a row that could not connect to Yahoo (reason
    ``"no network"``), the next downloads are not attempted for :attr:`NO_NETWORK_RETRY_S` seconds after the
    last such failure: those symbols fail at once with reason ``"no network"`` (or are served from the store
    with a warning when rows are stored), so a run without network ends in seconds instead of trying every
    symbol. Skipped downloads are not logged in the store (nothing was attempted); a successful download
    resets the count.
    """

    OVERLAP_DAYS = 14
    SLACK_DAYS = 7
    NO_NETWORK_AFTER = 2
    """Consecutive connection failures after which downloads are no longer attempted."""
    NO_NETWORK_RETRY_S = 60.0
    """Seconds after the last connection failure before a download is attempted again."""

    def __init__(
        self,
        store: PriceStore | str | Path | None = None,
        offline: bool = False,
        session: Any = None,
        ticker_factory: _yahoo.TickerFactory | None = None,
        refresh: bool = False,
    ) -> None:
        self.store = store if isinstance(store, PriceStore) else PriceStore(store)
        self.offline = bool(offline)
        self.session = session
        self.ticker_factory = ticker_factory
        self.refresh = bool(refresh)
        self._connection_failures: list[PriceSourceError] = []
        self._last_connection_failure = 0.0

    @property
    def description(self) -> str:
        """One line naming the source for reports."""
        version = _yahoo.yfinance_version() or "(not installed)"
        text = f"Yahoo Finance via yfinance {version}; store {self.store.path}"
        return text + (" (offline)" if self.offline else "")

    def __repr__(self) -> str:
        return f"YahooPrices(store={str(self.store.path)!r}, offline={self.offline})"

    def load(self, symbol: str, start: dt.date, end: dt.date) -> PriceSeries:
        """Return the stored (downloading first if needed) daily prices of ``symbol``.

        Parameters
        ----------
        symbol
            Yahoo symbol.
        start, end
            Calendar dates (inclusive) the caller needs.

        Returns
        -------
        PriceSeries
            All stored rows of the symbol: ``kind="price"``, ``adj_close`` values, volume,
            ``source="yahoo"``, ``vintage`` = the latest successful download time (UTC).

        Raises
        ------
        PriceSourceError
            ``"not in store (offline)"``; or the download's reason (``"no data"``, ``"no network"``,
            ``"network"``, ``"rate limited"``, ``"unexpected response"``) when nothing is stored.
        StoreError
            When the store file cannot be used (a :class:`~eventstudy.errors.DataError`).
        """
        start_d = _as_date(start, "start")
        end_d = _as_date(end, "end")
        if end_d < start_d:
            raise InputError(f"end {end_d} is before start {start_d}", parameter="end", value=end)
        coverage = self.store.coverage(symbol)
        if self.offline:
            if coverage is None:
                raise PriceSourceError(
                    symbol,
                    "not in store (offline)",
                    "run `eventstudy fetch` with network access, or use --prices DIR",
                )
            notes = []
            if not coverage.covers(start_d, end_d, self.SLACK_DAYS):
                notes.append(
                    f"offline: the store holds {coverage.first_date}..{coverage.last_date} only, "
                    f"{start_d}..{end_d} was needed"
                )
            return self._series(symbol, coverage, notes)
        if coverage is not None and not self.refresh and coverage.covers(start_d, end_d, self.SLACK_DAYS):
            return self._series(symbol, coverage, [])
        notes = self._download(symbol, start_d, end_d, coverage)
        coverage = self.store.coverage(symbol)
        if coverage is None:
            raise PriceSourceError(symbol, "no data", "Yahoo returned no rows with prices")
        return self._series(symbol, coverage, notes)

    # -- internals -------------------------------------------------------------------------------------

    def _fetch_range(self, start: dt.date, end: dt.date, coverage: Coverage | None) -> tuple[dt.date, dt.date]:
        if coverage is None:
            return start, end
        if self.refresh:
            return min(start, coverage.first_date), max(end, coverage.last_date)
        overlap = dt.timedelta(days=self.OVERLAP_DAYS)
        head_missing = not coverage.head_covered(start, self.SLACK_DAYS)
        tail_missing = not coverage.tail_covered(end, self.SLACK_DAYS)
        if head_missing and not tail_missing:
            # Only older rows are missing: fetch up to the stored history, with overlap, so the stored
            # rows stay contiguous and the adj_close vintage can be compared.
            return start, coverage.first_date + overlap
        if tail_missing and not head_missing:
            return coverage.last_date - overlap, end
        return start, end

    def _fetch(self, symbol: str, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, str]:
        try:
            frame = _yahoo.fetch_history(symbol, start, end, session=self.session, ticker_factory=self.ticker_factory)
        except PriceSourceError as exc:
            if exc.reason == _yahoo.REASON_NO_NETWORK:
                self._connection_failures.append(exc)
                del self._connection_failures[: -self.NO_NETWORK_AFTER]  # the last few are enough
                self._last_connection_failure = time.monotonic()
            raise
        self._connection_failures.clear()
        return frame, utc_now_iso()

    def _not_attempted(self, symbol: str) -> PriceSourceError | None:
        """The error for a download skipped because the network is down, or None to try the download."""
        failures = self._connection_failures
        if len(failures) < self.NO_NETWORK_AFTER:
            return None
        age = time.monotonic() - self._last_connection_failure
        if age >= self.NO_NETWORK_RETRY_S:
            return None
        return PriceSourceError(
            symbol,
            _yahoo.REASON_NO_NETWORK,
            f"not attempted: the last {len(failures)} downloads ({', '.join(e.symbol for e in failures)}) "
            f"could not connect to Yahoo, the last one {age:.0f} s ago",
        )

    def _fallback(self, symbol: str, exc: PriceSourceError, coverage: Coverage | None, what: str) -> list[str]:
        if coverage is None:
            raise exc
        message = (
            f"{what} failed ({exc.reason}); using the stored prices "
            f"{coverage.first_date}..{coverage.last_date} as of {coverage.last_fetched_utc}"
        )
        warnings.warn(f"{symbol}: {message}", EventStudyWarning, stacklevel=4)
        return [f"{message}: {exc.detail}" if exc.detail else message]

    def _download(self, symbol: str, start: dt.date, end: dt.date, coverage: Coverage | None) -> list[str]:
        skipped = self._not_attempted(symbol)
        if skipped is not None:
            return self._fallback(symbol, skipped, coverage, "download")
        version = _yahoo.yfinance_version()
        lo, hi = self._fetch_range(start, end, coverage)
        try:
            frame, fetched_at = self._fetch(symbol, lo, hi)
        except PriceSourceError as exc:
            self.store.log_failure(symbol, lo, hi, f"{exc.reason}: {exc.detail}", yfinance_version=version)
            return self._fallback(symbol, exc, coverage, "download")
        stored = self.store.read(symbol) if coverage is not None else None
        drift = adjustment_drift(stored, frame) if stored is not None else None
        if drift is None or coverage is None:
            self.store.write(symbol, frame, FetchInfo(lo, hi, fetched_at, version))
            return []
        if lo <= coverage.first_date and hi >= coverage.last_date:
            self.store.write(
                symbol, frame, FetchInfo(lo, hi, fetched_at, version, status="rebased", error=drift), replace=True
            )
            return [f"adjusted prices re-based ({drift}); stored history replaced by the new download"]
        full_lo, full_hi = min(lo, coverage.first_date), max(hi, coverage.last_date)
        self.store.log_fetch(
            symbol,
            FetchInfo(
                lo,
                hi,
                fetched_at,
                version,
                status="drift",
                error=f"{drift}; rows not stored, full history {full_lo}..{full_hi} downloaded again",
            ),
            n_rows=len(frame),
        )
        try:
            full, fetched_at = self._fetch(symbol, full_lo, full_hi)
        except PriceSourceError as exc:
            self.store.log_failure(symbol, full_lo, full_hi, f"{exc.reason}: {exc.detail}", yfinance_version=version)
            return self._fallback(symbol, exc, coverage, f"full re-download after adjusted-price drift ({drift})")
        self.store.write(
            symbol, full, FetchInfo(full_lo, full_hi, fetched_at, version, status="rebased", error=drift), replace=True
        )
        return [f"adjusted prices re-based ({drift}); full history {full_lo}..{full_hi} downloaded again"]

    def _series(self, symbol: str, coverage: Coverage, notes: list[str]) -> PriceSeries:
        frame = self.store.read(symbol)
        if frame is None:  # pragma: no cover - coverage said rows exist; a concurrent writer replaced them
            raise PriceSourceError(symbol, "no data", f"no rows in the store {self.store.path}")
        adj = frame["adj_close"].to_numpy(dtype=np.float64, na_value=np.nan)
        keep = ~np.isnan(adj) & ~invalid_values(adj, "price")
        if not keep.all():
            notes = [
                *notes,
                f"{int((~keep).sum())} stored row(s) without a usable adj_close dropped: "
                f"{list_dates(frame.index[~keep])}",
            ]
        if not keep.any():
            raise PriceSourceError(symbol, "no data", "the stored rows have no adjusted close")
        volume: np.ndarray | None = frame["volume"].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
        if volume is not None and np.isnan(volume).all():
            volume = None
        return PriceSeries(
            symbol=symbol,
            dates=frame.index[keep],
            values=adj[keep],
            kind="price",
            volume=volume,
            source="yahoo",
            vintage=coverage.last_fetched_utc,
            price_field="adj_close",
            notes=tuple(notes),
        )


__all__ = ["YahooPrices"]
