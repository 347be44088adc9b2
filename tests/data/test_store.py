"""Tests of the SQLite price store (``eventstudy.data.store``).

Expected values are the rows written in each test; damaged rows, foreign databases and held locks are made
with the plain :mod:`sqlite3` module, never through the code under test. The concurrent first-use test is in
``test_store_concurrency.py``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import eventstudy.data.store as store_module
from eventstudy.data import PriceStore
from eventstudy.data.store import (
    ENV_STORE,
    LISTING_COLUMNS,
    FetchInfo,
    StoreError,
    default_store_path,
)
from eventstudy.errors import DataError

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
        assert list(listing.index) == ["A"]  # ZZZ's failed download is no data
        assert store.symbols() == ["A"]
        assert store.failed_symbols() == ["ZZZ"]


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


def _file_state(path: Path) -> tuple[bytes, int, list[str]]:
    """Bytes, modification time (ns) and the names of the files next to it (WAL and shared-memory files)."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


def _execute(path: Path, *statements: str) -> None:
    """Run statements on the file with plain sqlite3 (a hand edit or another program)."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def _reads(store: PriceStore) -> list[Callable[[], object]]:
    return [
        lambda: store.read(SYMBOL),
        lambda: store.coverage(SYMBOL),
        store.symbols,
        store.failed_symbols,
        store.fetch_log,
        store.listing,
    ]


class TestListingShowsDataOnly:
    def test_failures_do_not_shadow_a_later_success(self, store: PriceStore) -> None:
        store.log_failure(
            SYMBOL, dt.date(2024, 1, 1), dt.date(2024, 1, 31), "no network: x", fetched_at_utc="2024-02-01"
        )
        assert store.listing().empty and store.coverage(SYMBOL) is None
        assert store.failed_symbols() == [SYMBOL]
        store.write(SYMBOL, _frame(["2024-01-02", "2024-01-03"], [1.0, 2.0]), _info(fetched_at_utc="2024-02-02"))
        store.log_failure(
            SYMBOL, dt.date(2024, 2, 1), dt.date(2024, 2, 9), "no network: y", fetched_at_utc="2024-02-03"
        )
        listing = store.listing()
        assert listing["symbol"].tolist() == [SYMBOL]
        row = listing.iloc[0]
        assert (row["first_date"], row["last_date"], row["rows"], row["n_fetches"]) == (
            "2024-01-02",
            "2024-01-03",
            2,
            3,
        )
        assert row["last_fetched_utc"] == "2024-02-02"  # the later failure is not the vintage
        coverage = store.coverage(SYMBOL)
        assert coverage is not None and [f.fetched_at_utc for f in coverage.fetches] == ["2024-02-02"]
        assert store.failed_symbols() == []


class TestReadOnlyOpens:
    def test_zero_length_file_is_an_empty_store_and_is_left_alone(self, tmp_path: Path) -> None:
        path = tmp_path / "prices.sqlite"
        path.touch()
        store = PriceStore(path)
        before = _file_state(path)
        assert store.read(SYMBOL) is None and store.coverage(SYMBOL) is None
        assert store.listing().empty and store.fetch_log().empty and store.symbols() == []
        assert _file_state(path) == before
        store.write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())  # a write makes it a store
        assert store.read(SYMBOL)["adj_close"].tolist() == [1.0]  # type: ignore[index]

    def test_reading_a_store_changes_neither_its_tables_nor_its_journal_mode(self, store: PriceStore) -> None:
        store.write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())
        _execute(store.path, "PRAGMA journal_mode = DELETE")
        before = _file_state(store.path)
        for call in _reads(store):
            call()
        assert _file_state(store.path) == before
        store.write(SYMBOL, _frame(["2024-01-03"], [2.0]), _info())  # writing switches it back to WAL
        con = sqlite3.connect(store.path)
        try:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            con.close()


class TestForeignDatabase:
    @pytest.fixture
    def foreign(self, tmp_path: Path) -> Path:
        path = tmp_path / "notes.sqlite"
        _execute(path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes VALUES (1, 'keep')")
        return path

    def test_every_method_refuses_it_and_nothing_changes(self, foreign: Path) -> None:
        store = PriceStore(foreign)
        before = _file_state(foreign)
        calls = [*_reads(store), lambda: store.write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())]
        calls.append(lambda: store.log_failure(SYMBOL, None, None, "x"))
        for call in calls:
            with pytest.raises(DataError) as info:
                call()
            assert isinstance(info.value, StoreError)
            assert info.value.path == str(foreign)
            assert "is not an eventstudy price store" in str(info.value) and "notes" in str(info.value)
        assert _file_state(foreign) == before

    def test_a_wal_mode_database_keeps_its_bytes(self, foreign: Path) -> None:
        _execute(foreign, "PRAGMA journal_mode = WAL")
        before = foreign.read_bytes(), foreign.stat().st_mtime_ns
        with pytest.raises(StoreError, match="not an eventstudy price store"):
            PriceStore(foreign).listing()
        assert (foreign.read_bytes(), foreign.stat().st_mtime_ns) == before

    @pytest.mark.parametrize(
        "statements",
        [
            pytest.param(("CREATE TABLE meta (key TEXT, value TEXT)",), id="meta-only"),
            pytest.param(
                (
                    "CREATE TABLE meta (key TEXT, value TEXT)",
                    "CREATE TABLE fetches (x)",
                    "CREATE TABLE prices (x)",
                ),
                id="no-schema-version",
            ),
            pytest.param(
                (
                    "CREATE TABLE meta (key TEXT, value TEXT)",
                    "INSERT INTO meta VALUES ('schema_version', 'one')",
                    "CREATE TABLE fetches (x)",
                    "CREATE TABLE prices (x)",
                ),
                id="text-schema-version",
            ),
        ],
    )
    def test_lookalikes_are_refused(self, tmp_path: Path, statements: tuple[str, ...]) -> None:
        path = tmp_path / "prices.sqlite"
        _execute(path, *statements)
        before = _file_state(path)
        with pytest.raises(StoreError, match="not an eventstudy price store"):
            PriceStore(path).listing()
        with pytest.raises(StoreError, match="not an eventstudy price store"):
            PriceStore(path).write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())
        assert _file_state(path) == before


class TestDamagedRows:
    @pytest.fixture
    def damaged(self, store: PriceStore) -> Callable[[str], PriceStore]:
        """Write 0700.HK (3 rows) and 9988.HK, then apply a hand edit to the store file."""
        store.write(SYMBOL, _frame(["2024-01-02", "2024-01-03", "2024-01-04"], [1.0, 2.0, 3.0]), _info())
        store.write("9988.HK", _frame(["2024-01-02"], [7.0]), _info())

        def edit(statement: str) -> PriceStore:
            _execute(store.path, statement)
            return store

        return edit

    @pytest.mark.parametrize(
        ("statement", "row", "column"),
        [
            (
                "UPDATE prices SET date = '2024-13-45' WHERE date = '2024-01-03' AND symbol = '0700.HK'",
                "2024-13-45",
                "date",
            ),
            (
                "UPDATE prices SET date = '2024-02-30' WHERE date = '2024-01-03' AND symbol = '0700.HK'",
                "2024-02-30",
                "date",
            ),
            (
                "UPDATE prices SET date = '9999-12-31' WHERE date = '2024-01-04' AND symbol = '0700.HK'",
                "9999-12-31",
                "date",
            ),
            (
                "UPDATE prices SET date = '2024-1-3' WHERE date = '2024-01-03' AND symbol = '0700.HK'",
                "2024-1-3",
                "date",
            ),
            (
                "UPDATE prices SET adj_close = 'n/a' WHERE date = '2024-01-03' AND symbol = '0700.HK'",
                "2024-01-03",
                "adj_close",
            ),
            (
                "UPDATE prices SET volume = x'00ff' WHERE date = '2024-01-04' AND symbol = '0700.HK'",
                "2024-01-04",
                "volume",
            ),
            (
                "UPDATE prices SET fetch_id = 'one' WHERE date = '2024-01-02' AND symbol = '0700.HK'",
                "2024-01-02",
                "fetch_id",
            ),
            (
                "UPDATE prices SET fetch_id = 1.5 WHERE date = '2024-01-04' AND symbol = '0700.HK'",
                "2024-01-04",
                "fetch_id",
            ),
        ],
    )
    def test_named_with_store_symbol_and_row(
        self, damaged: Callable[[str], PriceStore], statement: str, row: str, column: str
    ) -> None:
        store = damaged(statement)
        for call in (lambda: store.read(SYMBOL), lambda: store.coverage(SYMBOL)):
            with pytest.raises(DataError) as info:
                call()
            err = info.value
            assert isinstance(err, StoreError)
            assert (err.path, err.symbol, err.row, err.column) == (str(store.path), SYMBOL, row, column)
            assert str(store.path) in str(err) and SYMBOL in str(err) and row in str(err)
        assert store.read("9988.HK")["adj_close"].tolist() == [7.0]  # type: ignore[index]
        assert store.listing()["symbol"].tolist() == [SYMBOL, "9988.HK"]  # ls still lists the store

    def test_a_numeric_text_is_stored_as_a_number_and_is_no_damage(self, damaged: Callable[[str], PriceStore]) -> None:
        store = damaged("UPDATE prices SET adj_close = '2.5' WHERE date = '2024-01-03'")  # REAL affinity converts it
        assert store.read(SYMBOL)["adj_close"].tolist() == [1.0, 2.5, 3.0]  # type: ignore[index]

    def test_counts_every_damaged_row(self, damaged: Callable[[str], PriceStore]) -> None:
        store = damaged("UPDATE prices SET close = 'x' WHERE symbol = '0700.HK'")
        with pytest.raises(StoreError, match=r"3 damaged rows") as info:
            store.read(SYMBOL)
        assert info.value.row == "2024-01-02" and info.value.value == "x"

    def test_damaged_download_log_is_named(self, damaged: Callable[[str], PriceStore]) -> None:
        store = damaged("DROP TRIGGER fetches_no_update")  # the append-only log refuses updates otherwise
        _execute(store.path, "UPDATE fetches SET requested_start = 'soon' WHERE fetch_id = 1")
        with pytest.raises(StoreError, match="damaged download log row 1") as info:
            store.coverage(SYMBOL)
        assert info.value.symbol == SYMBOL


class TestBusy:
    @staticmethod
    def _hold(
        path: Path, begin: str, release_after: float | None
    ) -> tuple[sqlite3.Connection, threading.Thread | None]:
        """Hold a lock with plain sqlite3 (another program); commit after ``release_after`` seconds."""
        con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        con.execute(begin)
        if release_after is None:
            return con, None
        thread = threading.Timer(release_after, lambda: con.execute("COMMIT"))
        thread.start()
        return con, thread

    def test_a_write_waits_at_most_busy_timeout_and_says_what_it_waited_for(self, store: PriceStore) -> None:
        store.write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())
        con, _ = self._hold(store.path, "BEGIN IMMEDIATE", None)
        try:
            started = time.monotonic()
            with pytest.raises(DataError) as info:
                PriceStore(store.path, busy_timeout=0.4).write(SYMBOL, _frame(["2024-01-03"], [2.0]), _info())
            elapsed = time.monotonic() - started
        finally:
            con.close()
        assert 0.4 <= elapsed < 3.0
        text = str(info.value)
        assert "busy: could not store 1 rows of 0700.HK" in text
        assert "busy_timeout 0.4 s" in text and "waited" in text and "retry" in text
        assert store.read(SYMBOL)["adj_close"].tolist() == [1.0]  # type: ignore[index]

    def test_creation_waiting_for_a_lock_names_that_stage(self, tmp_path: Path) -> None:
        path = tmp_path / "new.sqlite"
        path.touch()
        con, _ = self._hold(path, "BEGIN IMMEDIATE", None)  # another program writes the empty file
        try:
            with pytest.raises(StoreError, match="could not switch the store to WAL mode"):
                PriceStore(path, busy_timeout=0.3).write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())
        finally:
            con.close()

    def test_a_lock_released_within_busy_timeout_is_waited_for(self, tmp_path: Path) -> None:
        path = tmp_path / "new.sqlite"
        path.touch()
        con, timer = self._hold(path, "BEGIN EXCLUSIVE", 0.3)
        try:
            started = time.monotonic()
            PriceStore(path, busy_timeout=10).write(SYMBOL, _frame(["2024-01-02"], [1.0]), _info())
            assert time.monotonic() - started >= 0.25
        finally:
            assert timer is not None
            timer.join(5)
            con.close()
        assert PriceStore(path).read(SYMBOL)["adj_close"].tolist() == [1.0]  # type: ignore[index]
