"""Tests of the yfinance adapter (``eventstudy.data.yahoo``).

Layer B fakes ``Ticker.history`` with frames of the real shapes; layer C drives the real yfinance through
``responses`` with hand-made ``v8/finance/chart`` JSON. No test touches the network. The no-network shapes
were recorded from yfinance 1.7 with curl_cffi behind an unreachable proxy: the first symbols raise
``curl_cffi.requests.exceptions.ConnectionError`` ("curl: (7) Failed to connect ..."); later ones log
"Failed to get ticker 'X' reason: ..." and "$X: possibly delisted; no timezone found" at ERROR level and
return an empty frame with an object index.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from eventstudy.data.yahoo import (
    HISTORY_COLUMNS,
    error_from_exception,
    fetch_history,
    history_to_frame,
    is_connection_failure,
)
from eventstudy.errors import PriceSourceError

HK_ROWS = [
    ("2024-01-02", 300.0, 305.0, 298.0, 301.0, 295.0, 1000),
    ("2024-01-03", 301.0, 303.0, 296.0, 297.5, 291.6, 1100),
    ("2024-01-04", 297.0, 299.0, 290.0, 292.0, 286.2, 1200),
]


# ============================================================================================ layer B


class TestHistoryToFrame:
    def test_hong_kong_dates_are_kept_local(self, make_yf_frame: Callable[..., pd.DataFrame]) -> None:
        raw = make_yf_frame(HK_ROWS, dividends={"2024-01-03": 2.4}, splits={"2024-01-04": 2.0})
        assert str(raw.index.dtype) == "datetime64[s, Asia/Hong_Kong]"  # the real yfinance shape
        frame = history_to_frame(raw, "0700.HK", {"currency": "HKD", "exchangeTimezoneName": "Asia/Hong_Kong"})
        # 2024-01-02 00:00+08:00 must stay 2024-01-02 (in UTC it would be 2024-01-01 16:00).
        assert list(frame.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-04")]
        assert frame.index.dtype == "datetime64[ns]"
        assert frame.index.name == "date"
        assert tuple(frame.columns) == HISTORY_COLUMNS
        np.testing.assert_array_equal(frame["close"], [301.0, 297.5, 292.0])
        np.testing.assert_array_equal(frame["adj_close"], [295.0, 291.6, 286.2])
        np.testing.assert_array_equal(frame["volume"], [1000.0, 1100.0, 1200.0])
        np.testing.assert_array_equal(frame["dividends"], [0.0, 2.4, 0.0])
        np.testing.assert_array_equal(frame["splits"], [0.0, 0.0, 2.0])
        assert set(frame["currency"]) == {"HKD"}
        assert set(frame["exchange_tz"]) == {"Asia/Hong_Kong"}

    def test_new_york_across_dst(self, make_yf_frame: Callable[..., pd.DataFrame]) -> None:
        rows = [(d, 1.0, 1.0, 1.0, 1.0, 1.0, 5) for d in ("2024-03-08", "2024-03-11", "2024-11-01", "2024-11-04")]
        frame = history_to_frame(make_yf_frame(rows, tz="America/New_York"), "BABA")
        assert [d.date().isoformat() for d in frame.index] == ["2024-03-08", "2024-03-11", "2024-11-01", "2024-11-04"]
        assert frame["currency"].isna().all()

    def test_missing_actions_columns_become_zero(self, make_yf_frame: Callable[..., pd.DataFrame]) -> None:
        raw = make_yf_frame(HK_ROWS).drop(columns=["Dividends", "Stock Splits"])
        frame = history_to_frame(raw, "0700.HK")
        np.testing.assert_array_equal(frame["dividends"], [0.0, 0.0, 0.0])

    def test_empty_frame_is_no_data(self) -> None:
        raw = pd.DataFrame(columns=["Open", "Close"], index=pd.Index([]))
        with pytest.raises(PriceSourceError) as info:
            history_to_frame(raw, "0700.HK", log_message="$0700.HK: possibly delisted; no timezone found")
        assert info.value.reason == "no data"
        assert "possibly delisted" in info.value.detail
        assert "0700.HK" in info.value.detail  # advice names the suffix form

    def test_non_date_index_is_unexpected(self) -> None:
        raw = pd.DataFrame({"Close": [1.0], "Adj Close": [1.0]}, index=pd.RangeIndex(1))
        with pytest.raises(PriceSourceError) as info:
            history_to_frame(raw, "X")
        assert info.value.reason == "unexpected response"

    def test_auto_adjusted_frame_is_unexpected(self, make_yf_frame: Callable[..., pd.DataFrame]) -> None:
        raw = make_yf_frame(HK_ROWS).drop(columns=["Adj Close"])
        with pytest.raises(PriceSourceError) as info:
            history_to_frame(raw, "X")
        assert info.value.reason == "unexpected response"

    def test_shared_row_rules(self, make_yf_frame: Callable[..., pd.DataFrame]) -> None:
        # eventstudy.data.cleaning: non-finite or implausible prices and negative volumes become NaN; rows
        # are sorted by date and a repeated date keeps its first row.
        rows = [
            ("2024-01-04", 297.0, 299.0, 290.0, np.inf, 286.2, 1200),
            ("2024-01-02", 300.0, 305.0, 298.0, 301.0, 1e308, -5),
            ("2024-01-03", -1.0, 303.0, 296.0, 297.5, 291.6, 1100),
            ("2024-01-03", 1.0, 1.0, 1.0, 1.0, 1.0, 1),
        ]
        raw = make_yf_frame(rows)
        frame = history_to_frame(raw, "0700.HK")
        assert [d.date().isoformat() for d in frame.index] == ["2024-01-02", "2024-01-03", "2024-01-04"]
        np.testing.assert_array_equal(frame["open"], [300.0, np.nan, 297.0])
        np.testing.assert_array_equal(frame["close"], [301.0, 297.5, np.nan])
        np.testing.assert_array_equal(frame["adj_close"], [np.nan, 291.6, 286.2])
        np.testing.assert_array_equal(frame["volume"], [np.nan, 1100.0, 1200.0])
        assert raw["Adj Close"].iloc[1] == 1e308  # the caller's frame is not changed


def _rate_limit() -> BaseException:
    from yfinance.exceptions import YFRateLimitError

    return YFRateLimitError()


def _dns_error() -> BaseException:
    from curl_cffi.requests.exceptions import DNSError

    return DNSError("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com")


def _http_error(status: int) -> Callable[[], BaseException]:
    def make() -> BaseException:
        import requests

        response = requests.Response()
        response.status_code = status
        return requests.HTTPError(f"{status} Client Error", response=response)

    return make


def _connection_error() -> BaseException:
    import requests

    return requests.ConnectionError("Max retries exceeded")


CURL_7 = (
    "Failed to perform, curl: (7) Failed to connect to query2.finance.yahoo.com:443 over proxy 127.0.0.1 after "
    "0 ms: Could not connect to server. See https://curl.se/libcurl/c/libcurl-errors.html first for more details."
)


def _curl_connection_error() -> BaseException:
    from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError

    return CurlConnectionError(CURL_7)


def _curl_timeout() -> BaseException:
    from curl_cffi.requests.exceptions import Timeout

    return Timeout("Failed to perform, curl: (28) Connection timed out after 10001 milliseconds")


def _prices_missing() -> BaseException:
    from yfinance.exceptions import YFPricesMissingError

    return YFPricesMissingError("X", "(1d 2024-01-01 -> 2024-01-05)")


@pytest.mark.parametrize(
    ("make_error", "reason"),
    [
        pytest.param(_rate_limit, "rate limited", id="YFRateLimitError"),
        pytest.param(_dns_error, "no network", id="curl-DNSError"),
        pytest.param(_curl_connection_error, "no network", id="curl-ConnectionError-7"),
        pytest.param(_curl_timeout, "no network", id="curl-Timeout-28"),
        pytest.param(lambda: OSError("Could not resolve host"), "no network", id="OSError-resolve"),
        pytest.param(lambda: OSError(24, "Too many open files"), "network", id="OSError-other"),
        pytest.param(_connection_error, "no network", id="requests-ConnectionError"),
        pytest.param(lambda: TimeoutError("timed out"), "no network", id="TimeoutError"),
        pytest.param(lambda: ConnectionRefusedError(111, "Connection refused"), "no network", id="refused"),
        pytest.param(_http_error(404), "no data", id="HTTP-404"),
        pytest.param(_http_error(429), "rate limited", id="HTTP-429"),
        pytest.param(_http_error(503), "network", id="HTTP-503"),
        pytest.param(lambda: IndexError("list index out of range"), "no data", id="IndexError"),
        pytest.param(_prices_missing, "no data", id="YFPricesMissingError"),
        pytest.param(lambda: KeyError("chart"), "unexpected response", id="KeyError"),
    ],
)
def test_exceptions_become_price_source_errors(
    fake_yahoo: Any, make_error: Callable[[], BaseException], reason: str
) -> None:
    error = make_error()
    fake_yahoo.errors["0700.HK"] = error
    with pytest.raises(PriceSourceError) as info:
        fetch_history("0700.HK", dt.date(2024, 1, 1), dt.date(2024, 1, 5), ticker_factory=fake_yahoo)
    assert info.value.symbol == "0700.HK"
    assert info.value.reason == reason
    assert info.value.detail
    assert info.value.__cause__ is error


def test_error_mapping_without_download() -> None:
    err = error_from_exception("X", RuntimeError("boom"))
    assert err.reason == "unexpected response" and "yfinance" in err.detail


class _SoftFailure:
    """A ticker whose ``history`` logs what yfinance logs and returns its empty frame."""

    history_metadata: ClassVar[dict[str, str]] = {}

    def __init__(self, *messages: str) -> None:
        self.messages = messages

    def history(self, **kwargs: Any) -> pd.DataFrame:
        for message in self.messages:
            logging.getLogger("yfinance").error(message)
        return pd.DataFrame(columns=["Open", "High", "Low", "Close", "Adj Close", "Volume"], index=pd.Index([]))


class TestNoNetwork:
    def test_logged_connection_failure_is_no_network_not_delisted(self) -> None:
        ticker = _SoftFailure(
            f"Failed to get ticker 'CCC' reason: {CURL_7}", "$CCC: possibly delisted; no timezone found"
        )
        with pytest.raises(PriceSourceError) as info:
            fetch_history("CCC", dt.date(2024, 1, 2), dt.date(2024, 1, 4), ticker_factory=lambda s, _: ticker)
        assert info.value.reason == "no network"
        assert "curl: (7)" in info.value.detail and "possibly delisted" not in info.value.detail
        assert "--offline" in info.value.detail  # the advice

    def test_delisted_without_a_connection_failure_is_no_data(self) -> None:
        ticker = _SoftFailure("$CCC: possibly delisted; no timezone found")
        with pytest.raises(PriceSourceError) as info:
            fetch_history("CCC", dt.date(2024, 1, 2), dt.date(2024, 1, 4), ticker_factory=lambda s, _: ticker)
        assert info.value.reason == "no data"

    @pytest.mark.parametrize(
        ("exc", "expected"),
        [
            pytest.param(OSError("[Errno -3] Temporary failure in name resolution"), True, id="gaierror-text"),
            pytest.param(OSError("No route to host"), True, id="no-route"),
            pytest.param(OSError(28, "No space left on device"), False, id="disk-full"),
            pytest.param(ValueError("Could not resolve host"), False, id="not-an-OSError"),
        ],
    )
    def test_connection_failure_classes(self, exc: BaseException, expected: bool) -> None:
        assert is_connection_failure(exc) is expected

    def test_http_errors_are_answers_not_connection_failures(self) -> None:
        assert is_connection_failure(_http_error(503)()) is False


class TestFetchHistory:
    def test_end_is_requested_exclusive(self, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]) -> None:
        fake_yahoo.histories["0700.HK"] = make_yf_frame(HK_ROWS)
        frame = fetch_history("0700.HK", dt.date(2024, 1, 2), dt.date(2024, 1, 3), ticker_factory=fake_yahoo)
        assert fake_yahoo.calls == [("0700.HK", "2024-01-02", "2024-01-04")]
        assert list(frame.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]
        assert set(frame["exchange_tz"]) == {"Asia/Hong_Kong"}

    def test_session_is_passed_to_the_factory(
        self, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        fake_yahoo.histories["0700.HK"] = make_yf_frame(HK_ROWS)
        session = object()
        fetch_history("0700.HK", dt.date(2024, 1, 2), dt.date(2024, 1, 4), session=session, ticker_factory=fake_yahoo)
        assert fake_yahoo.sessions == [session]

    def test_unknown_symbol_gives_no_data(self, fake_yahoo: Any) -> None:
        with pytest.raises(PriceSourceError) as info:
            fetch_history("0700", dt.date(2024, 1, 2), dt.date(2024, 1, 4), ticker_factory=fake_yahoo)
        assert info.value.reason == "no data"

    def test_yfinance_logs_and_deprecations_are_silenced(
        self, caplog: pytest.LogCaptureFixture, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        class NoisyTicker:
            history_metadata: ClassVar[dict[str, str]] = {}

            def history(self, **kwargs: Any) -> pd.DataFrame:
                logging.getLogger("yfinance").error("$9999.HK: possibly delisted; no timezone found")
                warnings.warn("inplace is deprecated", DeprecationWarning, stacklevel=1)
                return pd.DataFrame(columns=["Open"], index=pd.Index([]))

        logger = logging.getLogger("yfinance")
        handlers_before, level_before = list(logger.handlers), logger.level
        with caplog.at_level(logging.DEBUG), pytest.raises(PriceSourceError) as info:
            fetch_history(
                "9999.HK", dt.date(2024, 1, 2), dt.date(2024, 1, 4), ticker_factory=lambda s, _: NoisyTicker()
            )
        assert not [r for r in caplog.records if r.name.startswith("yfinance")]
        assert "possibly delisted" in info.value.detail
        assert logger.handlers == handlers_before and logger.level == level_before


# ============================================================================================ layer C


TENCENT = [
    ("2024-05-13", 370.0, 372.0, 366.0, 368.0, 364.6, 10_000),
    ("2024-05-14", 368.0, 371.0, 365.0, 369.2, 365.8, 11_000),
    ("2024-05-15", 369.0, 375.0, 368.0, 374.0, 374.0, 12_000),
    ("2024-05-16", 374.0, 380.0, 373.0, 378.6, 378.6, 13_000),
    ("2024-05-17", 378.0, 381.0, 374.0, 375.0, 375.0, 14_000),
]


class TestAgainstYahooJson:
    def test_hong_kong_symbol_with_dividend(self, yahoo_http: Any, make_chart: Callable[..., Any]) -> None:
        yahoo_http.charts["0700.HK"] = (200, make_chart("0700.HK", TENCENT, dividends={"2024-05-16": 3.4}))
        frame = fetch_history("0700.HK", dt.date(2024, 5, 13), dt.date(2024, 5, 17), session=yahoo_http.session)
        assert [d.date().isoformat() for d in frame.index] == [r[0] for r in TENCENT]
        assert frame.index.dtype == "datetime64[ns]"
        np.testing.assert_allclose(frame["adj_close"], [r[5] for r in TENCENT], rtol=0, atol=1e-9)
        np.testing.assert_allclose(frame["close"], [r[4] for r in TENCENT], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(frame["volume"], [r[6] for r in TENCENT])
        np.testing.assert_array_equal(frame["dividends"], [0.0, 0.0, 0.0, 3.4, 0.0])
        assert set(frame["currency"]) == {"HKD"}
        assert set(frame["exchange_tz"]) == {"Asia/Hong_Kong"}

    def test_unknown_symbol_404(self, yahoo_http: Any) -> None:
        with pytest.raises(PriceSourceError) as info:
            fetch_history("NOPE.HK", dt.date(2024, 5, 13), dt.date(2024, 5, 17), session=yahoo_http.session)
        assert info.value.reason == "no data"
        assert "NOPE.HK" in yahoo_http.chart_requests

    def test_rate_limited_429(self, yahoo_http: Any) -> None:
        yahoo_http.charts["9988.HK"] = (429, "Too Many Requests")
        with pytest.raises(PriceSourceError) as info:
            fetch_history("9988.HK", dt.date(2024, 5, 13), dt.date(2024, 5, 17), session=yahoo_http.session)
        assert info.value.reason == "rate limited"

    def test_empty_result_list(self, yahoo_http: Any) -> None:
        yahoo_http.charts["EMPTY.HK"] = (200, {"chart": {"result": [], "error": None}})
        with pytest.raises(PriceSourceError) as info:
            fetch_history("EMPTY.HK", dt.date(2024, 5, 13), dt.date(2024, 5, 17), session=yahoo_http.session)
        assert info.value.reason == "no data"

    def test_second_download_is_not_served_from_yfinance_cache(
        self, yahoo_http: Any, make_chart: Callable[..., Any]
    ) -> None:
        yahoo_http.charts["1810.HK"] = (200, make_chart("1810.HK", TENCENT))
        first = fetch_history("1810.HK", dt.date(2024, 5, 13), dt.date(2024, 5, 17), session=yahoo_http.session)
        rebased = [(r[0], r[1], r[2], r[3], r[4], r[5] * 0.99, r[6]) for r in TENCENT]
        yahoo_http.charts["1810.HK"] = (200, make_chart("1810.HK", rebased))
        second = fetch_history("1810.HK", dt.date(2024, 5, 13), dt.date(2024, 5, 17), session=yahoo_http.session)
        np.testing.assert_allclose(first["adj_close"], [r[5] for r in TENCENT], rtol=0, atol=1e-9)
        np.testing.assert_allclose(second["adj_close"], [r[5] * 0.99 for r in TENCENT], rtol=0, atol=1e-9)
