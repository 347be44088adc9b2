"""Tests of YahooPrices (``eventstudy.data.sources``): the store in front of a fake ``yfinance.Ticker``.

Expected values come from the fake Yahoo histories written in the tests (close = 100 + i, adj_close =
close * factor), never from the code under test. The no-network fakes have the shapes recorded from
yfinance 1.7 with the network down (a connection error raised for the first symbols; for the next ones the
error logged, then "possibly delisted; no timezone found" and an empty frame).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eventstudy.data import PriceSource, PriceStore, YahooPrices
from eventstudy.errors import EventStudyWarning, PriceSourceError

REPO = Path(__file__).resolve().parents[2]
SYMBOL = "0700.HK"


def _hk_history(
    make_yf_frame: Callable[..., pd.DataFrame],
    start: str,
    end: str,
    factor: float,
    dividends: dict[str, float] | None = None,
    rebase: tuple[str, float] | None = None,
) -> pd.DataFrame:
    """Fake Yahoo history: close = 100 + i, adj_close = close * factor (times ``rebase`` before its date)."""
    dates = [d.date().isoformat() for d in pd.bdate_range(start, end)]
    rows = []
    for i, day in enumerate(dates):
        close = 100.0 + i
        adj = close * factor
        if rebase is not None and day < rebase[0]:
            adj *= rebase[1]
        rows.append((day, close, close, close, close, adj, 1000 + i))
    return make_yf_frame(rows, dividends=dividends)


@pytest.fixture
def yahoo(tmp_path: Path, fake_yahoo: Any) -> YahooPrices:
    return YahooPrices(store=tmp_path / "prices.sqlite", ticker_factory=fake_yahoo)


class TestYahooPrices:
    def test_download_then_reuse(
        self, yahoo: YahooPrices, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-31", 0.5)
        first = yahoo.load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        assert fake_yahoo.calls == [(SYMBOL, "2024-01-02", "2024-01-13")]
        assert [d.date().isoformat() for d in first.dates] == [
            "2024-01-02",
            "2024-01-03",
            "2024-01-04",
            "2024-01-05",
            "2024-01-08",
            "2024-01-09",
            "2024-01-10",
            "2024-01-11",
            "2024-01-12",
        ]
        np.testing.assert_array_equal(first.values, [50.0, 50.5, 51.0, 51.5, 52.0, 52.5, 53.0, 53.5, 54.0])
        np.testing.assert_array_equal(first.volume, [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008])  # type: ignore[arg-type]
        assert first.source == "yahoo" and first.kind == "price" and first.price_field == "adj_close"
        log = yahoo.store.fetch_log(SYMBOL)
        assert first.vintage == log["fetched_at_utc"].iloc[-1]

        again = yahoo.load(SYMBOL, dt.date(2024, 1, 6), dt.date(2024, 1, 12))
        assert fake_yahoo.count(SYMBOL) == 1  # served from the store
        np.testing.assert_array_equal(again.values, first.values)
        assert isinstance(yahoo, PriceSource)

    def test_provenance(self, yahoo: YahooPrices, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]) -> None:
        import yfinance

        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-12", 0.5)
        fake_yahoo.histories["^HSI"] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-05", 1.0)
        yahoo.load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        yahoo.load("^HSI", dt.date(2024, 1, 2), dt.date(2024, 1, 5))
        log = yahoo.store.fetch_log()
        assert list(log["symbol"]) == [SYMBOL, "^HSI"]
        assert list(log["n_rows"]) == [9, 4]
        assert list(log["status"]) == ["ok", "ok"]
        assert set(log["yfinance_version"]) == {yfinance.__version__}
        assert list(log["requested_end"]) == ["2024-01-12", "2024-01-05"]
        listing = yahoo.store.listing().set_index("symbol")
        assert listing.loc[SYMBOL, "rows"] == 9 and listing.loc["^HSI", "last_date"] == "2024-01-05"
        stored = yahoo.store.read(SYMBOL)
        assert stored is not None and set(stored["exchange_tz"]) == {"Asia/Hong_Kong"}
        assert f"yfinance {yfinance.__version__}" in yahoo.description
        assert str(yahoo.store.path) in yahoo.description

    def test_tail_download_without_drift(
        self, yahoo: YahooPrices, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2023-12-01", "2024-01-31", 0.5)
        yahoo.load(SYMBOL, dt.date(2023, 12, 1), dt.date(2024, 1, 12))
        series = yahoo.load(SYMBOL, dt.date(2023, 12, 1), dt.date(2024, 1, 31))
        # Only the tail is fetched, from 14 days before the last stored date (overlap check).
        assert fake_yahoo.calls[1] == (SYMBOL, "2023-12-29", "2024-02-01")
        assert len(fake_yahoo.calls) == 2
        expected_dates = pd.bdate_range("2023-12-01", "2024-01-31")
        assert list(series.dates) == list(expected_dates)
        np.testing.assert_allclose(series.values, (100.0 + np.arange(len(expected_dates))) * 0.5, rtol=0, atol=1e-12)
        assert list(yahoo.store.fetch_log(SYMBOL)["status"]) == ["ok", "ok"]

    def test_new_dividend_rebases_the_whole_history(
        self, yahoo: YahooPrices, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2023-12-01", "2024-01-12", 0.5)
        yahoo.load(SYMBOL, dt.date(2023, 12, 1), dt.date(2024, 1, 12))
        # Yahoo now has a dividend on 2024-01-22 and has rebased every earlier adj_close by 0.99.
        fake_yahoo.histories[SYMBOL] = _hk_history(
            make_yf_frame, "2023-12-01", "2024-01-26", 0.5, dividends={"2024-01-22": 1.0}, rebase=("2024-01-22", 0.99)
        )
        series = yahoo.load(SYMBOL, dt.date(2023, 12, 1), dt.date(2024, 1, 26))
        assert fake_yahoo.calls[1:] == [
            (SYMBOL, "2023-12-29", "2024-01-27"),  # tail with overlap: drift detected
            (SYMBOL, "2023-12-01", "2024-01-27"),  # the full history again
        ]
        dates = pd.bdate_range("2023-12-01", "2024-01-26")
        close = 100.0 + np.arange(len(dates))
        expected = np.where(dates < pd.Timestamp("2024-01-22"), close * 0.5 * 0.99, close * 0.5)
        assert list(series.dates) == list(dates)
        np.testing.assert_allclose(series.values, expected, rtol=0, atol=1e-12)
        stored = yahoo.store.read(SYMBOL)
        assert stored is not None and stored["fetch_id"].nunique() == 1  # one vintage
        log = yahoo.store.fetch_log(SYMBOL)
        assert list(log["status"]) == ["ok", "drift", "rebased"]
        assert "dividend" in log["error"].iloc[2]
        assert any("re-based" in note for note in series.notes)

    def test_refresh_with_drift_replaces_in_one_download(
        self, tmp_path: Path, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        path = tmp_path / "prices.sqlite"
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-12", 0.5)
        YahooPrices(path, ticker_factory=fake_yahoo).load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-12", 0.4)
        series = YahooPrices(path, ticker_factory=fake_yahoo, refresh=True).load(
            SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 1, 12)
        )
        assert fake_yahoo.count(SYMBOL) == 2
        np.testing.assert_allclose(series.values, (100.0 + np.arange(9)) * 0.4, rtol=0, atol=1e-12)
        assert list(PriceStore(path).fetch_log()["status"]) == ["ok", "rebased"]

    def test_failed_download_falls_back_to_the_store(
        self, yahoo: YahooPrices, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-12", 0.5)
        yahoo.load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        fake_yahoo.errors[SYMBOL] = OSError("Could not resolve host: query2.finance.yahoo.com")
        with pytest.warns(EventStudyWarning, match="download failed"):
            series = yahoo.load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 2, 29))
        assert len(series) == 9
        assert any("download failed (no network)" in note for note in series.notes)
        log = yahoo.store.fetch_log(SYMBOL)
        assert list(log["status"]) == ["ok", "failed"]
        assert log["error"].iloc[1].startswith("no network")

    def test_failed_download_without_stored_rows_raises(self, yahoo: YahooPrices, fake_yahoo: Any) -> None:
        from yfinance.exceptions import YFRateLimitError

        fake_yahoo.errors["9988.HK"] = YFRateLimitError()
        with pytest.raises(PriceSourceError) as info:
            yahoo.load("9988.HK", dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        assert info.value.reason == "rate limited"
        assert list(yahoo.store.fetch_log("9988.HK")["status"]) == ["failed"]

    def test_unknown_symbol(self, yahoo: YahooPrices) -> None:
        with pytest.raises(PriceSourceError) as info:
            yahoo.load("0700", dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        assert info.value.reason == "no data"


class TestOffline:
    def test_missing_symbol_names_it(self, tmp_path: Path) -> None:
        def no_network(symbol: str, session: Any) -> Any:
            raise AssertionError("offline mode must not download")

        source = YahooPrices(tmp_path / "prices.sqlite", offline=True, ticker_factory=no_network)
        with pytest.raises(PriceSourceError) as info:
            source.load("MPNGY", dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        err = info.value
        assert err.symbol == "MPNGY"
        assert err.reason == "not in store (offline)"
        assert err.detail == "run `eventstudy fetch` with network access, or use --prices DIR"
        assert source.description.endswith("(offline)")

    def test_stored_symbol_is_served(
        self, tmp_path: Path, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        path = tmp_path / "prices.sqlite"
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-12", 0.5)
        YahooPrices(path, ticker_factory=fake_yahoo).load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        offline = YahooPrices(PriceStore(path), offline=True, ticker_factory=fake_yahoo)
        series = offline.load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 3, 29))
        assert fake_yahoo.count(SYMBOL) == 1
        np.testing.assert_array_equal(series.values, [50.0, 50.5, 51.0, 51.5, 52.0, 52.5, 53.0, 53.5, 54.0])
        assert any("offline" in note for note in series.notes)  # the range is not fully covered

    def test_stored_rows_that_break_the_price_rule_are_dropped_and_noted(self, tmp_path: Path) -> None:
        from eventstudy.data.store import FetchInfo

        store = PriceStore(tmp_path / "prices.sqlite")
        dates = pd.bdate_range("2024-01-02", periods=6)
        adj = [1.0, 0.0, -2.0, np.inf, 2e12, 3.0]  # zero, negative, infinite and above 1e12 break the rule
        frame = pd.DataFrame({"adj_close": adj, "close": adj}, index=pd.DatetimeIndex(dates, name="date"))
        store.write(SYMBOL, frame, FetchInfo(dates[0].date(), dates[-1].date()))
        series = YahooPrices(store, offline=True).load(SYMBOL, dates[0].date(), dates[-1].date())
        np.testing.assert_array_equal(series.values, [1.0, 3.0])
        assert list(series.dates) == [dates[0], dates[5]]
        assert "4 stored row(s) without a usable adj_close dropped: 2024-01-03, 2024-01-04, 2024-01-05, 2024-01-08" in (
            series.notes
        )

    def test_offline_never_imports_yfinance(
        self, tmp_path: Path, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        path = tmp_path / "prices.sqlite"
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-03", 0.01)
        YahooPrices(path, ticker_factory=fake_yahoo).load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 1, 3))
        code = (
            "import sys, datetime as dt\n"
            "from eventstudy.data import YahooPrices\n"
            f"s = YahooPrices({str(path)!r}, offline=True)\n"
            "print(s.load('0700.HK', dt.date(2024, 1, 2), dt.date(2024, 1, 3)).values.tolist())\n"
            "print(s.description)\n"
            "print('yfinance' in sys.modules, 'curl_cffi' in sys.modules)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, cwd=REPO
        )
        lines = out.stdout.strip().splitlines()
        assert lines[0] == "[1.0, 1.01]"  # adj_close = (100 + i) * 0.01
        assert lines[2] == "False False"


CURL_7 = (
    "Failed to perform, curl: (7) Failed to connect to query2.finance.yahoo.com:443 over proxy 127.0.0.1 after "
    "0 ms: Could not connect to server."
)


def _no_network_factory(calls: list[str], raise_first: int = 2) -> Callable[[str, Any], Any]:
    """yfinance with the network down, as recorded: the first symbols raise, later ones log and return nothing."""
    import logging

    from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError

    class Ticker:
        history_metadata: dict[str, Any] = {}  # noqa: RUF012 - the fake's attribute, like yfinance's

        def __init__(self, symbol: str) -> None:
            self.symbol = symbol

        def history(self, **kwargs: Any) -> pd.DataFrame:
            calls.append(self.symbol)
            if len(calls) <= raise_first:
                raise CurlConnectionError(CURL_7)
            logging.getLogger("yfinance").error(f"Failed to get ticker '{self.symbol}' reason: {CURL_7}")
            logging.getLogger("yfinance").error(f"${self.symbol}: possibly delisted; no timezone found")
            return pd.DataFrame(columns=["Open", "Close", "Adj Close"], index=pd.Index([]))

    return lambda symbol, session: Ticker(symbol)


SYMBOLS = [f"{n:04d}.HK" for n in range(1, 11)]


class TestNoNetwork:
    def _load_all(self, source: YahooPrices) -> dict[str, PriceSourceError]:
        failed = {}
        for symbol in SYMBOLS:
            with pytest.raises(PriceSourceError) as info:
                source.load(symbol, dt.date(2024, 1, 2), dt.date(2024, 1, 12))
            failed[symbol] = info.value
        return failed

    @pytest.mark.parametrize("raise_first", [2, 0], ids=["exceptions-first", "logged-only"])
    def test_stops_after_two_connection_failures(self, tmp_path: Path, raise_first: int) -> None:
        calls: list[str] = []
        source = YahooPrices(tmp_path / "prices.sqlite", ticker_factory=_no_network_factory(calls, raise_first))
        failed = self._load_all(source)
        assert calls == SYMBOLS[:2]  # NO_NETWORK_AFTER = 2 attempts, then nothing is tried
        assert {e.reason for e in failed.values()} == {"no network"}
        assert all("possibly delisted" not in e.detail for e in failed.values())
        assert all(failed[s].detail.startswith("not attempted: the last 2 downloads") for s in SYMBOLS[2:])
        store = source.store
        assert store.listing().empty  # nothing listed as data
        assert store.failed_symbols() == SYMBOLS[:2]  # only real attempts are logged
        assert list(store.fetch_log()["status"]) == ["failed", "failed"]

    def test_tries_again_after_the_pause(self, tmp_path: Path) -> None:
        calls: list[str] = []
        source = YahooPrices(tmp_path / "prices.sqlite", ticker_factory=_no_network_factory(calls, raise_first=0))
        self._load_all(source)
        assert len(calls) == 2
        source.NO_NETWORK_RETRY_S = 0.0  # the pause is over: the next load tries again
        with pytest.raises(PriceSourceError):
            source.load("0001.HK", dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        assert len(calls) == 3

    def test_a_success_resets_the_count(
        self, tmp_path: Path, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        calls: list[str] = []
        down = _no_network_factory(calls, raise_first=0)
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-12", 0.5)
        source = YahooPrices(tmp_path / "prices.sqlite", ticker_factory=down)
        period = (dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        with pytest.raises(PriceSourceError):
            source.load("0001.HK", *period)  # connection failure 1
        source.ticker_factory = fake_yahoo
        assert len(source.load(SYMBOL, *period)) == 9  # a success
        source.ticker_factory = down
        for symbol in ("0002.HK", "0003.HK"):  # failures 1 and 2 after the success: both attempted
            with pytest.raises(PriceSourceError):
                source.load(symbol, *period)
        assert calls == ["0001.HK", "0002.HK", "0003.HK"]
        with pytest.raises(PriceSourceError, match="not attempted"):
            source.load("0004.HK", *period)
        assert len(calls) == 3

    def test_no_data_failures_do_not_stop_downloads(self, yahoo: YahooPrices, fake_yahoo: Any) -> None:
        failed = self._load_all(yahoo)  # the fake has no history for any of them: "possibly delisted"
        assert [c[0] for c in fake_yahoo.calls] == SYMBOLS
        assert {e.reason for e in failed.values()} == {"no data"}

    def test_stored_rows_are_served_with_a_warning(
        self, tmp_path: Path, fake_yahoo: Any, make_yf_frame: Callable[..., pd.DataFrame]
    ) -> None:
        path = tmp_path / "prices.sqlite"
        fake_yahoo.histories[SYMBOL] = _hk_history(make_yf_frame, "2024-01-02", "2024-01-12", 0.5)
        YahooPrices(path, ticker_factory=fake_yahoo).load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 1, 12))
        calls: list[str] = []
        source = YahooPrices(path, ticker_factory=_no_network_factory(calls))
        self._load_all(source)  # trips the breaker
        with pytest.warns(EventStudyWarning, match="download failed \\(no network\\)"):
            series = source.load(SYMBOL, dt.date(2024, 1, 2), dt.date(2024, 2, 29))  # needs a (skipped) download
        assert calls == SYMBOLS[:2]
        np.testing.assert_array_equal(series.values, [50.0, 50.5, 51.0, 51.5, 52.0, 52.5, 53.0, 53.5, 54.0])
        assert any("not attempted" in note for note in series.notes)
