"""The yfinance adapter: one call per symbol, normalisation of its output, and error mapping.

yfinance reports a failed download in three ways (``../shared/docs/ECOSYSTEM.md`` §0.2 and §1.4): it raises (rate
limit, DNS failure, HTTP error, ``IndexError`` on an empty result list, ...), it returns an empty frame, or
it returns a frame whose index is not a :class:`~pandas.DatetimeIndex`. This module turns each of them into
a :class:`~eventstudy.errors.PriceSourceError` with a short reason and a piece of advice, and turns a good
frame into the store's column layout with exchange-local, tz-naive dates.

Without a network yfinance raises a connection error for the first symbols only; for the next ones it logs
the connection error, then "possibly delisted; no timezone found", and returns an empty frame. Both shapes
get the reason ``"no network"`` (:data:`REASON_NO_NETWORK`), never "no data".

yfinance is imported lazily, inside :func:`fetch_history` only, so that offline runs never import it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata as importlib_metadata
from typing import Any, Protocol

import numpy as np
import pandas as pd

from eventstudy.data.cleaning import ValueKind, invalid_values, order_rows
from eventstudy.data.store import PRICE_COLUMNS
from eventstudy.errors import PriceSourceError

#: Columns of a normalised history frame, in order (see :func:`history_to_frame`): the store's columns.
HISTORY_COLUMNS: tuple[str, ...] = PRICE_COLUMNS

_RENAME: dict[str, str] = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
    "Dividends": "dividends",
    "Stock Splits": "splits",
}
_REQUIRED_RAW: tuple[str, ...] = ("Close", "Adj Close")
_VALUE_KIND: dict[str, ValueKind] = {
    "open": "price",
    "high": "price",
    "low": "price",
    "close": "price",
    "adj_close": "price",
    "volume": "volume",
}

REASON_RATE_LIMITED = "rate limited"
REASON_NO_NETWORK = "no network"
REASON_NETWORK = "network"
REASON_NO_DATA = "no data"
REASON_UNEXPECTED = "unexpected response"

_ADVICE_RATE_LIMITED = (
    "Yahoo is throttling requests; wait a few minutes and retry with fewer symbols, "
    "or work from the local store with --offline"
)
_ADVICE_NETWORK = (
    "check the internet connection, proxy or DNS blocker (fc.yahoo.com must resolve); "
    "without network use --offline with the local store, or --prices DIR with CSV files"
)
_ADVICE_NO_DATA = (
    "check the symbol and its exchange suffix (e.g. 0700.HK with four digits, 9984.T, 2330.TW) and that "
    "the date range contains trading days; without network use --offline or --prices DIR"
)
_ADVICE_UNEXPECTED = (
    "Yahoo's response had an unexpected shape; upgrade yfinance (pip install -U yfinance) and retry, "
    "or use --offline with the local store"
)


#: Exception classes (by name, anywhere in the class hierarchy) that mean Yahoo could not be reached at all:
#: the builtin, requests, urllib3 and curl_cffi connection, DNS, proxy, TLS-handshake and timeout errors.
_CONNECTION_CLASSES = frozenset(
    {
        "ConnectionError",
        "ConnectTimeout",
        "DNSError",
        "MaxRetryError",
        "NameResolutionError",
        "NewConnectionError",
        "ProxyError",
        "SSLError",
        "Timeout",
        "TimeoutError",
        "gaierror",
    }
)
#: libcurl codes of the same failures: resolve proxy (5), resolve host (6), connect (7), timeout (28),
#: TLS handshake (35), empty reply (52), send (55) and receive (56) errors.
_CURL_CONNECTION_CODES = frozenset({5, 6, 7, 28, 35, 52, 55, 56})
#: The same failures in the text yfinance logs ("Failed to get ticker 'X' reason: ...").
_CONNECTION_TEXT = re.compile(
    r"curl: \((?:5|6|7|28|35|52|55|56)\)|could not resolve|failed to connect|connection refused|"
    r"network is unreachable|no route to host|name or service not known|temporary failure in name resolution|"
    r"nodename nor servname|getaddrinfo failed|max retries exceeded|timed out",
    re.IGNORECASE,
)


class TickerLike(Protocol):
    """The part of ``yfinance.Ticker`` the adapter uses (lets tests inject fakes)."""

    def history(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """Return daily bars like ``yfinance.Ticker.history``."""
        ...


TickerFactory = Callable[[str, Any], TickerLike]
"""``(symbol, session) -> ticker``; the default builds ``yfinance.Ticker(symbol, session=session)``."""


def yfinance_version() -> str | None:
    """Return the installed yfinance version without importing yfinance.

    Returns
    -------
    str or None
        The distribution version (e.g. ``"1.7.0"``), or None when yfinance is not installed.
    """
    try:
        return importlib_metadata.version("yfinance")
    except importlib_metadata.PackageNotFoundError:
        return None


def _http_status(exc: BaseException) -> int | None:
    """Return the HTTP status code carried by an HTTP error of requests or curl_cffi, if any."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int | np.integer):
        return int(status)
    code = getattr(exc, "code", None)
    if isinstance(code, int) and 100 <= code < 600:
        return code
    return None


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def is_connection_failure(exc: BaseException) -> bool:
    """Whether an exception says that Yahoo could not be reached at all (no network, DNS, proxy, timeout).

    Parameters
    ----------
    exc
        An exception raised by yfinance or its HTTP stack (requests, urllib3, curl_cffi).

    Returns
    -------
    bool
        True for the connection, DNS, proxy, TLS-handshake and timeout errors of those libraries (by class
        name or libcurl code) and for an ``OSError`` whose text describes one; False for HTTP answers.
    """
    names = _class_names(exc)
    if "HTTPError" in names:
        return False
    if names & _CONNECTION_CLASSES:
        return True
    if "CurlError" in names and getattr(exc, "code", None) in _CURL_CONNECTION_CODES:
        return True
    return isinstance(exc, OSError) and _CONNECTION_TEXT.search(str(exc)) is not None


def error_from_exception(symbol: str, exc: BaseException) -> PriceSourceError:
    """Map an exception raised by yfinance (or its HTTP stack) to a :class:`PriceSourceError`.

    Classes are recognised by name so that neither yfinance nor curl_cffi needs to be imported here.

    Parameters
    ----------
    symbol
        The symbol being downloaded.
    exc
        The exception raised by ``Ticker.history``.

    Returns
    -------
    PriceSourceError
        With reason ``"rate limited"``, ``"no network"`` (:func:`is_connection_failure`), ``"network"``
        (an HTTP error status or another I/O error), ``"no data"`` or ``"unexpected response"``.
    """
    names = _class_names(exc)
    text = f"{type(exc).__name__}: {exc}".strip()
    if "YFRateLimitError" in names:
        return PriceSourceError(symbol, REASON_RATE_LIMITED, f"{text}; {_ADVICE_RATE_LIMITED}")
    if "YFTickerMissingError" in names:  # includes YFTzMissingError and YFPricesMissingError
        return PriceSourceError(symbol, REASON_NO_DATA, f"{text}; {_ADVICE_NO_DATA}")
    if "HTTPError" in names:
        status = _http_status(exc)
        if status == 429:
            return PriceSourceError(symbol, REASON_RATE_LIMITED, f"{text}; {_ADVICE_RATE_LIMITED}")
        if status == 404:
            return PriceSourceError(
                symbol, REASON_NO_DATA, f"Yahoo answered HTTP 404 (unknown or delisted symbol); {_ADVICE_NO_DATA}"
            )
        return PriceSourceError(
            symbol,
            REASON_NETWORK,
            f"Yahoo answered HTTP {status} ({type(exc).__name__}); retry later; {_ADVICE_NETWORK}",
        )
    if isinstance(exc, IndexError):
        # yfinance raises IndexError when Yahoo answers 200 with an empty result list.
        return PriceSourceError(symbol, REASON_NO_DATA, f"Yahoo returned an empty result ({text}); {_ADVICE_NO_DATA}")
    if is_connection_failure(exc):
        return PriceSourceError(symbol, REASON_NO_NETWORK, f"could not connect to Yahoo ({text}); {_ADVICE_NETWORK}")
    if isinstance(exc, OSError):
        # requests and curl_cffi exceptions derive from OSError.
        return PriceSourceError(symbol, REASON_NETWORK, f"{text}; {_ADVICE_NETWORK}")
    if "YFDataException" in names and "DOWN" in str(exc).upper():
        return PriceSourceError(symbol, REASON_NETWORK, f"{text}; retry later; {_ADVICE_NETWORK}")
    return PriceSourceError(symbol, REASON_UNEXPECTED, f"{text}; {_ADVICE_UNEXPECTED}")


def _metadata_value(metadata: Mapping[str, Any] | None, key: str) -> str | None:
    if not metadata:
        return None
    try:
        value = metadata.get(key)
    except Exception:
        return None
    return value if isinstance(value, str) and value else None


def history_to_frame(
    raw: pd.DataFrame,
    symbol: str,
    metadata: Mapping[str, Any] | None = None,
    *,
    log_message: str | None = None,
) -> pd.DataFrame:
    """Normalise the output of ``yf.Ticker(sym).history(auto_adjust=False, actions=True)``.

    Parameters
    ----------
    raw
        The frame returned by yfinance: a tz-aware daily index at local midnight of the exchange
        (e.g. ``datetime64[s, Asia/Hong_Kong]``) and the columns ``Open, High, Low, Close, Adj Close,
        Volume, Dividends, Stock Splits`` (``Capital Gains`` for funds is ignored).
    symbol
        The symbol, for error messages.
    metadata
        ``Ticker.history_metadata`` when available; ``exchangeTimezoneName`` and ``currency`` are copied
        into the ``exchange_tz`` and ``currency`` columns.
    log_message
        The last error yfinance logged during the call, added to the error detail of an empty frame.

    Returns
    -------
    pandas.DataFrame
        Index ``date`` (tz-naive exchange-local dates, unit ``ns``, sorted, unique); columns
        :data:`HISTORY_COLUMNS`: float64 ``open, high, low, close, adj_close, volume, dividends, splits``
        (``dividends`` and ``splits`` are 0 on days without an action) and object ``currency``,
        ``exchange_tz`` (None when unknown).

    Raises
    ------
    PriceSourceError
        ``"no data"`` for an empty frame; ``"unexpected response"`` for a frame whose index is not a
        DatetimeIndex or that lacks ``Close``/``Adj Close``.

    Notes
    -----
    Prices and volumes that break the rules of :mod:`eventstudy.data.cleaning` (not finite, a price outside
    ``MIN_PRICE..MAX_PRICE``, a negative volume) become NaN; rows are sorted by date and a repeated date
    keeps its first row. The index is converted with ``index.tz_localize(None).normalize()``: the local
    wall-clock date is kept. Converting daily bars to UTC would move Hong Kong's 2024-01-02 00:00+08:00 to
    2024-01-01.
    """
    if not isinstance(raw, pd.DataFrame) or raw.empty:
        detail = "yfinance returned no rows"
        if log_message:
            detail += f" (yfinance said: {log_message})"
        raise PriceSourceError(symbol, REASON_NO_DATA, f"{detail}; {_ADVICE_NO_DATA}")
    if not isinstance(raw.index, pd.DatetimeIndex):
        raise PriceSourceError(
            symbol,
            REASON_UNEXPECTED,
            f"yfinance returned an index of type {type(raw.index).__name__}, not dates; {_ADVICE_UNEXPECTED}",
        )
    missing = [c for c in _REQUIRED_RAW if c not in raw.columns]
    if missing:
        raise PriceSourceError(
            symbol,
            REASON_UNEXPECTED,
            f"columns {missing} missing from yfinance's frame (was auto_adjust=True?); {_ADVICE_UNEXPECTED}",
        )
    index = raw.index
    if index.tz is not None:
        index = index.tz_localize(None)
    index = index.normalize().as_unit("ns")
    out = pd.DataFrame(index=pd.DatetimeIndex(index, name="date"))
    for raw_name, name in _RENAME.items():
        if raw_name in raw.columns:
            column = pd.to_numeric(raw[raw_name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            if name in _VALUE_KIND:  # eventstudy.data.cleaning's rules; a value that breaks them is missing
                column = np.where(invalid_values(column, _VALUE_KIND[name]), np.nan, column)
        elif name in ("dividends", "splits"):
            column = np.zeros(len(raw), dtype=np.float64)
        else:
            column = np.full(len(raw), np.nan, dtype=np.float64)
        out[name] = column
    out[["dividends", "splits"]] = out[["dividends", "splits"]].fillna(0.0)
    out["currency"] = pd.Series([_metadata_value(metadata, "currency")] * len(out), index=out.index, dtype=object)
    out["exchange_tz"] = pd.Series(
        [_metadata_value(metadata, "exchangeTimezoneName")] * len(out), index=out.index, dtype=object
    )
    out = out.iloc[order_rows(index.asi8).kept]  # date order, the first row of a repeated date
    return out


class _ErrorLogHandler(logging.Handler):
    """Keep the ERROR-level messages yfinance logs during one call (it reports soft failures that way)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    @property
    def last(self) -> str | None:
        """The last message, or None."""
        return self.messages[-1] if self.messages else None

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def _quiet_yfinance() -> Iterator[_ErrorLogHandler]:
    """Silence yfinance's logger and its DeprecationWarnings for the duration of one call."""
    logger = logging.getLogger("yfinance")
    handler = _ErrorLogHandler()
    old_level, old_propagate, old_handlers = logger.level, logger.propagate, list(logger.handlers)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield handler
    finally:
        logger.handlers = old_handlers
        logger.propagate = old_propagate
        logger.setLevel(old_level)


def _default_ticker_factory(symbol: str, session: Any) -> TickerLike:
    import yfinance as yf

    if session is None:
        return yf.Ticker(symbol)
    return yf.Ticker(symbol, session=session)


def _clear_yfinance_lru() -> None:
    """Clear yfinance's in-process response cache so that a re-download really downloads."""
    try:
        from yfinance.data import YfData
    except ImportError:  # pragma: no cover - yfinance is a hard dependency
        return
    YfData.cache_get.cache_clear()


def fetch_history(
    symbol: str,
    start: dt.date,
    end: dt.date,
    session: Any = None,
    ticker_factory: TickerFactory | None = None,
) -> pd.DataFrame:
    """Download one symbol's daily bars from Yahoo through yfinance and normalise them.

    Parameters
    ----------
    symbol
        Yahoo symbol, e.g. ``0700.HK``, ``^HSI``, ``JPY=X``.
    start, end
        First and last calendar date wanted, both **inclusive** (yfinance's ``end`` is exclusive, so
        ``end + 1 day`` is requested).
    session
        A curl_cffi or (yfinance >= 1.4) ``requests`` session, or None for yfinance's own. yfinance keeps
        the session in a process-wide singleton.
    ticker_factory
        ``(symbol, session) -> ticker`` with a ``history`` method and optionally ``history_metadata``;
        defaults to ``yfinance.Ticker``. Tests inject fakes here.

    Returns
    -------
    pandas.DataFrame
        The normalised frame of :func:`history_to_frame`.

    Raises
    ------
    PriceSourceError
        For every kind of failure (exception, empty frame, non-date index); see
        :func:`error_from_exception`. An empty frame after yfinance logged a connection failure has the
        reason ``"no network"``.

    Notes
    -----
    Calls ``history(start=, end=, interval="1d", auto_adjust=False, actions=True, repair=False)``. The
    in-process response cache of yfinance (``YfData.cache_get``) is cleared first, because a cached
    response would otherwise be returned for a deliberate re-download of the same range.
    """
    factory = ticker_factory or _default_ticker_factory
    with _quiet_yfinance() as log:
        _clear_yfinance_lru()
        try:
            ticker = factory(symbol, session)
            raw = ticker.history(
                start=start.isoformat(),
                end=(end + dt.timedelta(days=1)).isoformat(),
                interval="1d",
                auto_adjust=False,
                actions=True,
                repair=False,
            )
        except Exception as exc:
            raise error_from_exception(symbol, exc) from exc
        meta: Mapping[str, Any] | None = None
        if not isinstance(raw, pd.DataFrame) or raw.empty:
            cause = next((m for m in log.messages if _CONNECTION_TEXT.search(m)), None)
            if cause is not None:
                raise PriceSourceError(
                    symbol, REASON_NO_NETWORK, f"could not connect to Yahoo (yfinance said: {cause}); {_ADVICE_NETWORK}"
                )
        else:
            try:
                meta = getattr(ticker, "history_metadata", None)
            except Exception:
                meta = None
        return history_to_frame(raw, symbol, meta, log_message=log.last)


__all__ = [
    "HISTORY_COLUMNS",
    "REASON_NETWORK",
    "REASON_NO_DATA",
    "REASON_NO_NETWORK",
    "REASON_RATE_LIMITED",
    "REASON_UNEXPECTED",
    "TickerFactory",
    "TickerLike",
    "error_from_exception",
    "fetch_history",
    "history_to_frame",
    "is_connection_failure",
    "yfinance_version",
]
