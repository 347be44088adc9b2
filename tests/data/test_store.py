"""Tests of the SQLite price store and of YahooPrices on top of it (with a fake yfinance.Ticker).

Expected values come from the fake Yahoo histories written in the tests, never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import eventstudy.data.store as store_module
from eventstudy.data import PriceSource, PriceStore, YahooPrices
from eventstudy.data.store import (
    ENV_STORE,
    LISTING_COLUMNS,
    Coverage,
    FetchInfo,
    FetchRecord,
    StoreError,
    adjustment_drift,
    default_store_path,
)
from eventstudy.errors import DataError, EventStudyWarning, PriceSourceError

REPO = Path(__file__).resolve().parents[2]
SYMBOL = "0700.HK"


def _frame(
    dates: list[str], adj: list[float], *, close: list[float] | None = None, dividends: dict[str, float] | None = None
) -> pd.DataFrame:
    """A normalised history frame (the layout of yahoo.history_to_frame)."""
    index = pd.DatetimeIndex(pd.to_datetime(dates), name="date").as_unit("ns")
    frame = pd.DataFrame(
        {
            "open": np.nan,
            "high": np.nan,
            "low": np.nan,
            "close": close if close is not None else adj,
            "adj_close": adj,
            "volume": 1000.0,
            "dividends": 0.0,
            "splits": 0.0,
            "currency": "HKD",
            "exchange_tz": "Asia/Hong_Kong",
        },
        index=index,
    )
    for day, amount in (dividends or {}).items():
        frame.loc[pd.Timestamp(day), "dividends"] = amount
    return frame


def _info(start: str = "2024-01-01", end: str = "2024-01-31", **kwargs: Any) -> FetchInfo:
    return FetchInfo(dt.date.fromisoformat(start), dt.date.fromisoformat(end), yfinance_version="1.7.0", **kwargs)


@pytest.fixture
def store(tmp_path: Path) -> PriceStore:
    return PriceStore(tmp_path / "store" / "prices.sqlite")


# ============================================================================================ PriceStore


class TestPriceStoreBasics:
    def test_schema_wal_and_version(self, store: PriceStore) -> None:
        store.write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())
        con = sqlite3.connect(store.path)
        try:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert {"prices", "fetches", "meta"} <= tables
            assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "1"
            columns = [r[1] for r in con.execute("PRAGMA table_info(prices)")]
            assert columns == [
                "source",
                "symbol",
                "date",
                "open",
                "high",
                "low",
                "close",
                "adj_close",
                "volume",
                "dividends",
                "splits",
                "currency",
                "exchange_tz",
                "fetch_id",
            ]
        finally:
            con.close()

    def test_round_trip(self, store: PriceStore) -> None:
        frame = _frame(["2024-01-02", "2024-01-03"], [10.5, 11.25], close=[11.0, 11.5], dividends={"2024-01-03": 0.4})
        frame.loc[pd.Timestamp("2024-01-02"), "volume"] = np.nan
        fetch_id = store.write(SYMBOL, frame, _info())
        got = store.read(SYMBOL)
        assert got is not None
        assert list(got.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]
        assert got.index.dtype == "datetime64[ns]"
        np.testing.assert_array_equal(got["adj_close"], [10.5, 11.25])
        np.testing.assert_array_equal(got["close"], [11.0, 11.5])
        np.testing.assert_array_equal(got["volume"], [np.nan, 1000.0])
        np.testing.assert_array_equal(got["dividends"], [0.0, 0.4])
        assert list(got["currency"]) == ["HKD", "HKD"]
        assert list(got["fetch_id"]) == [fetch_id, fetch_id]

    def test_upsert_replaces_overlapping_dates(self, store: PriceStore) -> None:
        store.write(SYMBOL, _frame(["2024-01-02", "2024-01-03", "2024-01-04"], [1.0, 2.0, 3.0]), _info())
        second = store.write(SYMBOL, _frame(["2024-01-04", "2024-01-05"], [3.5, 4.0]), _info())
        got = store.read(SYMBOL)
        assert got is not None
        np.testing.assert_array_equal(got["adj_close"], [1.0, 2.0, 3.5, 4.0])
        assert got["fetch_id"].iloc[-2] == second

    def test_sources_are_kept_apart(self, store: PriceStore) -> None:
        store.write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())
        store.write(SYMBOL, _frame(["2024-01-02"], [9.0]), _info(source="other"))
        assert store.read(SYMBOL)["adj_close"].tolist() == [1.0]  # type: ignore[index]
        assert store.read(SYMBOL, source="other")["adj_close"].tolist() == [9.0]  # type: ignore[index]

    def test_missing_file_reads_empty_and_is_not_created(self, store: PriceStore) -> None:
        assert store.read(SYMBOL) is None
        assert store.coverage(SYMBOL) is None
        assert store.symbols() == []
        assert list(store.listing().columns) == list(LISTING_COLUMNS)
        assert store.listing().empty and store.fetch_log().empty
        assert not store.path.exists()

    def test_fetch_log_is_append_only(self, store: PriceStore) -> None:
        store.log_failure(SYMBOL, dt.date(2024, 1, 1), dt.date(2024, 1, 31), "network: DNS")
        con = sqlite3.connect(store.path)
        try:
            with pytest.raises(sqlite3.DatabaseError):
                con.execute("UPDATE fetches SET status = 'ok'")
            with pytest.raises(sqlite3.DatabaseError):
                con.execute("DELETE FROM fetches")
        finally:
            con.close()

    def test_fetch_log_and_listing(self, store: PriceStore) -> None:
        store.write(
            "A", _frame(["2024-01-02", "2024-01-03"], [1.0, 2.0]), _info(fetched_at_utc="2024-02-01T00:00:00+00:00")
        )
        store.write(
            "A",
            _frame(["2024-01-04"], [3.0]),
            FetchInfo(dt.date(2024, 1, 4), dt.date(2024, 1, 4), "2024-02-02T00:00:00+00:00", "1.8.0"),
        )
        store.log_failure(
            "A",
            dt.date(2024, 1, 5),
            dt.date(2024, 1, 9),
            "rate limited: 429",
            fetched_at_utc="2024-02-03T00:00:00+00:00",
        )
        store.log_failure("ZZZ", dt.date(2024, 1, 1), dt.date(2024, 1, 9), "no data: 404")

        log = store.fetch_log("A")
        assert list(log["status"]) == ["ok", "ok", "failed"]
        assert list(log["n_rows"]) == [2, 1, 0]
        assert list(log["requested_start"]) == ["2024-01-01", "2024-01-04", "2024-01-05"]
        assert log["error"].iloc[2] == "rate limited: 429"
        assert len(store.fetch_log()) == 4

        listing = store.listing().set_index("symbol")
        a = listing.loc["A"]
        assert (a["first_date"], a["last_date"], a["rows"], a["n_fetches"]) == ("2024-01-02", "2024-01-04", 3, 3)
        assert a["last_fetched_utc"] == "2024-02-02T00:00:00+00:00"  # the failure does not count
        assert a["yfinance_version"] == "1.8.0"
        z = listing.loc["ZZZ"]
        assert (z["rows"], z["n_fetches"]) == (0, 1)
        assert pd.isna(z["last_fetched_utc"])
        assert store.symbols() == ["A"]


class TestWriteSafety:
    @pytest.mark.parametrize("replace", [False, True])
    def test_interrupted_write_loses_nothing(
        self, store: PriceStore, monkeypatch: pytest.MonkeyPatch, replace: bool
    ) -> None:
        store.write(SYMBOL, _frame(["2024-01-02", "2024-01-03"], [1.0, 2.0]), _info())
        before_rows = store.read(SYMBOL)
        before_log = store.fetch_log()
        real_rows = store_module._frame_rows

        def failing_rows(*args: Any) -> Iterator[tuple[object, ...]]:
            for i, row in enumerate(real_rows(*args)):
                if i == 2:
                    raise RuntimeError("power cut in the middle of the write")
                yield row

        monkeypatch.setattr(store_module, "_frame_rows", failing_rows)
        new = _frame(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], [5.0, 6.0, 7.0, 8.0])
        with pytest.raises(RuntimeError, match="power cut"):
            store.write(SYMBOL, new, _info(), replace=replace)
        pd.testing.assert_frame_equal(store.read(SYMBOL), before_rows)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(store.fetch_log(), before_log)
        # The store is still writable afterwards.
        monkeypatch.setattr(store_module, "_frame_rows", real_rows)
        store.write(SYMBOL, new, _info())
        assert store.read(SYMBOL)["adj_close"].tolist() == [5.0, 6.0, 7.0, 8.0]  # type: ignore[index]

    def test_readers_see_the_last_commit_while_a_write_is_open(
        self, store: PriceStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store.write(SYMBOL, _frame(["2024-01-02", "2024-01-03"], [1.0, 2.0]), _info())
        mid_write, release = threading.Event(), threading.Event()
        real_rows = store_module._frame_rows

        def paused_rows(*args: Any) -> Iterator[tuple[object, ...]]:
            for i, row in enumerate(real_rows(*args)):
                if i == 1:
                    mid_write.set()
                    assert release.wait(10), "test did not release the writer"
                yield row

        monkeypatch.setattr(store_module, "_frame_rows", paused_rows)
        errors: list[BaseException] = []

        def writer() -> None:
            try:
                store.write(SYMBOL, _frame(["2024-01-02", "2024-01-03", "2024-01-04"], [5.0, 6.0, 7.0]), _info())
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            assert mid_write.wait(10)
            # Another connection in this process (a new PriceStore on the same file) ...
            during = PriceStore(store.path, busy_timeout=1).read(SYMBOL)
            assert during is not None and during["adj_close"].tolist() == [1.0, 2.0]
            # ... and another process both read the last committed state without waiting.
            code = (
                "import sqlite3, sys; con = sqlite3.connect(sys.argv[1], timeout=1); "
                "print(con.execute('SELECT COUNT(*), SUM(adj_close) FROM prices').fetchone())"
            )
            out = subprocess.run(
                [sys.executable, "-c", code, str(store.path)], capture_output=True, text=True, timeout=30, check=True
            )
            assert out.stdout.strip() == "(2, 3.0)"
        finally:
            release.set()
            thread.join(10)
        assert not errors
        assert store.read(SYMBOL)["adj_close"].tolist() == [5.0, 6.0, 7.0]  # type: ignore[index]


class TestUnusableStore:
    def test_corrupt_file(self, tmp_path: Path) -> None:
        path = tmp_path / "prices.sqlite"
        path.write_bytes(b"this is not an SQLite database " * 200)
        store = PriceStore(path)
        for call in (
            lambda: store.read(SYMBOL),
            store.listing,
            lambda: store.write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info()),
        ):
            with pytest.raises(DataError) as info:
                call()
            assert isinstance(info.value, StoreError)
            assert info.value.path == str(path)
            assert str(path) in str(info.value)
            assert "move it aside" in str(info.value)
        assert path.read_bytes().startswith(b"this is not")  # never overwritten

    def test_directory_instead_of_file(self, tmp_path: Path) -> None:
        with pytest.raises(DataError) as info:
            PriceStore(tmp_path).write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())
        assert str(tmp_path) in str(info.value)

    def test_newer_schema_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "prices.sqlite"
        PriceStore(path).log_failure(SYMBOL, None, None, "x")
        con = sqlite3.connect(path)
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        con.commit()
        con.close()
        with pytest.raises(DataError, match="newer"):
            PriceStore(path).read(SYMBOL)


class TestLocation:
    def test_env_variable(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_STORE, str(tmp_path / "mine.sqlite"))
        assert default_store_path() == tmp_path / "mine.sqlite"
        assert PriceStore().path == tmp_path / "mine.sqlite"

    def test_user_data_dir(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import platformdirs

        monkeypatch.delenv(ENV_STORE, raising=False)
        expected = Path(platformdirs.user_data_dir("eventstudy", appauthor=False)) / "prices.sqlite"
        assert default_store_path() == expected

    def test_argument_wins(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_STORE, str(tmp_path / "env.sqlite"))
        assert PriceStore(tmp_path / "arg.sqlite").path == tmp_path / "arg.sqlite"


class TestCoverage:
    @staticmethod
    def _cov(first: str, last: str, *fetches: tuple[str, str, str]) -> Coverage:
        return Coverage(
            SYMBOL,
            "yahoo",
            dt.date.fromisoformat(first),
            dt.date.fromisoformat(last),
            60,
            fetches[-1][2] if fetches else None,
            tuple(FetchRecord(dt.date.fromisoformat(a), dt.date.fromisoformat(b), c) for a, b, c in fetches),
        )

    @pytest.mark.parametrize(
        ("start", "end", "expected"),
        [
            ("2024-01-01", "2024-03-31", True),  # weekend/holiday slack at both ends
            ("2023-12-20", "2024-03-31", False),  # older rows missing
            ("2024-01-01", "2024-04-30", False),  # newer rows missing
            ("2024-02-01", "2024-02-29", True),  # inside
        ],
    )
    def test_slack(self, start: str, end: str, expected: bool) -> None:
        cov = self._cov("2024-01-02", "2024-03-28", ("2024-01-01", "2024-03-31", "2024-04-02T08:00:00+00:00"))
        assert cov.covers(dt.date.fromisoformat(start), dt.date.fromisoformat(end)) is expected

    def test_history_that_ends_early_is_covered_after_a_later_fetch(self) -> None:
        late = self._cov("2024-01-02", "2024-03-28", ("2024-01-01", "2024-06-30", "2024-07-05T08:00:00+00:00"))
        assert late.covers(dt.date(2024, 1, 1), dt.date(2024, 6, 30))
        early = self._cov("2024-01-02", "2024-03-28", ("2024-01-01", "2024-06-30", "2024-06-01T08:00:00+00:00"))
        assert not early.covers(dt.date(2024, 1, 1), dt.date(2024, 6, 30))

    def test_history_that_starts_late_is_covered_after_an_earlier_request(self) -> None:
        cov = self._cov("2020-06-18", "2020-12-31", ("2019-01-01", "2020-12-31", "2021-01-05T08:00:00+00:00"))
        assert cov.covers(dt.date(2019, 6, 1), dt.date(2020, 12, 31))
        assert not cov.covers(dt.date(2018, 6, 1), dt.date(2020, 12, 31))


class TestAdjustmentDrift:
    DATES = ("2024-01-02", "2024-01-03", "2024-01-04")

    def test_identical(self) -> None:
        assert adjustment_drift(_frame(self.DATES, [1.0, 2.0, 3.0]), _frame(self.DATES, [1.0, 2.0, 3.0])) is None

    def test_relative_tolerance(self) -> None:
        stored = _frame(self.DATES, [100.0, 100.0, 100.0])
        assert adjustment_drift(stored, _frame(self.DATES, [100.0, 100.00005, 100.0])) is None  # 5e-7
        message = adjustment_drift(stored, _frame(self.DATES, [100.0, 100.0002, 100.0]))  # 2e-6
        assert message is not None and "2024-01-03" in message

    def test_new_dividend(self) -> None:
        stored = _frame(self.DATES[:2], [1.0, 2.0])
        new = _frame(self.DATES, [1.0, 2.0, 3.0], dividends={"2024-01-04": 0.5})
        message = adjustment_drift(stored, new)
        assert message is not None and "dividend" in message and "2024-01-04" in message

    def test_known_dividend_is_not_drift(self) -> None:
        stored = _frame(self.DATES, [1.0, 2.0, 3.0], dividends={"2024-01-03": 0.5})
        new = _frame(self.DATES[1:], [2.0, 3.0], dividends={"2024-01-03": 0.5})
        assert adjustment_drift(stored, new) is None

    def test_dividend_before_stored_history_is_not_drift(self) -> None:
        stored = _frame(self.DATES[1:], [2.0, 3.0])
        new = _frame(self.DATES, [0.9, 2.0, 3.0], dividends={"2024-01-02": 0.1})
        assert adjustment_drift(stored, new) is None


# ============================================================================================ YahooPrices


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
        assert any("download failed (network)" in note for note in series.notes)
        log = yahoo.store.fetch_log(SYMBOL)
        assert list(log["status"]) == ["ok", "failed"]
        assert log["error"].iloc[1].startswith("network")

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

    def test_offline_never_imports_yfinance(self, tmp_path: Path) -> None:
        path = tmp_path / "prices.sqlite"
        store = PriceStore(path)
        store.write(SYMBOL, _frame(["2024-01-02", "2024-01-03"], [1.0, 2.0]), _info())
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
        assert lines[0] == "[1.0, 2.0]"
        assert lines[2] == "False False"
