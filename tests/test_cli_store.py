"""``eventstudy fetch``, ``store ls`` and ``run --offline`` on the SQLite store, with yfinance faked.

The fake stands in for ``yf.Ticker(...).history(auto_adjust=False, actions=True)`` with the real shape
(tz-aware midnight index in the exchange's zone, ``Adj Close``, ``Dividends``, ``Stock Splits``) and goes
through the package's own normalisation, so only the network is replaced. The no-network fake has the
shapes recorded from yfinance 1.7 without a network (see ``tests/data/test_yahoo.py``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import eventstudy.data.yahoo as yahoo
from eventstudy.cli import main


def _raw_history(symbol: str, start, end) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    dates = pd.bdate_range("2022-01-03", "2023-12-29")
    dates = dates[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))]
    seed = sum(map(ord, symbol))
    rng = np.random.default_rng(seed)
    close = 100 * np.cumprod(1 + rng.normal(0.0003, 0.012, len(dates)))
    index = pd.DatetimeIndex(dates).tz_localize("America/New_York").as_unit("s")
    index.name = "Date"
    return pd.DataFrame(
        {
            "Open": close,
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Adj Close": close,
            "Volume": np.full(len(dates), 1000, dtype=np.int64),
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=index,
    )


class _FakeTicker:
    calls: ClassVar[list[str]] = []

    def __init__(self, symbol: str, session=None) -> None:  # type: ignore[no-untyped-def]
        self.symbol = symbol
        self.history_metadata = {"exchangeTimezoneName": "America/New_York", "currency": "USD"}

    def history(self, start=None, end=None, **kwargs):  # type: ignore[no-untyped-def]
        assert kwargs.get("auto_adjust") is False and kwargs.get("actions") is True
        _FakeTicker.calls.append(self.symbol)
        if self.symbol == "NOPE":
            return pd.DataFrame()  # yfinance's "possibly delisted" empty frame
        return _raw_history(self.symbol, start, pd.Timestamp(end) - pd.Timedelta(days=1))


@pytest.fixture
def fake_yahoo(monkeypatch: pytest.MonkeyPatch) -> type[_FakeTicker]:
    real = yahoo.fetch_history

    def fetch(symbol, start, end, session=None, ticker_factory=None):  # type: ignore[no-untyped-def]
        return real(symbol, start, end, session=session, ticker_factory=_FakeTicker)

    monkeypatch.setattr(yahoo, "fetch_history", fetch)
    _FakeTicker.calls = []
    return _FakeTicker


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,date,time,timezone,tickers,benchmark\ne1,2023-06-14,10:00,America/New_York,AAA;BBB;NOPE,^GSPC\n",
        encoding="utf-8",
    )
    return path


def test_fetch_then_offline_run_reuses_the_store(
    fake_yahoo: type[_FakeTicker], events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "prices.sqlite"
    assert main(["fetch", str(events_file), "--store", str(store), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "AAA" in out and "NOPE" in out and "FAILED" in out
    assert sorted(set(fake_yahoo.calls)) == ["AAA", "BBB", "NOPE", "^GSPC"]

    assert main(["store", "ls", "--store", str(store)]) == 0
    listing = capsys.readouterr().out
    import yfinance

    lines = listing.splitlines()
    assert lines[-1] == "no data stored (every download failed; see the fetch log): NOPE"
    rows = {line.split()[0]: line for line in lines[2:-1]}
    assert set(rows) == {"AAA", "BBB", "^GSPC"}  # the failed download is not listed as data
    assert yfinance.__version__ in rows["AAA"] and "2023-07" in rows["AAA"]  # vintage and coverage shown

    fake_yahoo.calls = []
    out_dir = tmp_path / "report"
    code = main(
        [
            "run",
            str(events_file),
            "--offline",
            "--store",
            str(store),
            "--quiet",
            "--out",
            str(out_dir),
            "--formats",
            "md",
        ]
    )
    assert code == 0
    assert fake_yahoo.calls == []  # offline: no download at all
    excl = pd.read_csv(out_dir / "exclusions.csv")
    assert excl["ticker"].tolist() == ["NOPE"]
    assert "not in store (offline)" in excl.loc[0, "reason"]
    prov = pd.read_csv(out_dir / "provenance.csv")
    assert set(prov.loc[prov.rows > 0, "symbol"]) == {"AAA", "BBB", "^GSPC"}
    car = pd.read_csv(out_dir / "car.csv")
    assert set(car["ticker"]) == {"AAA", "BBB"}


def test_second_online_run_downloads_nothing(fake_yahoo: type[_FakeTicker], events_file: Path, tmp_path: Path) -> None:
    store = tmp_path / "prices.sqlite"
    args = ["run", str(events_file), "--store", str(store), "--quiet", "--out", str(tmp_path / "r"), "--formats", "md"]
    assert main(args) == 0
    first = sorted(fake_yahoo.calls)
    fake_yahoo.calls = []
    assert main(args) == 0
    assert fake_yahoo.calls == ["NOPE"]  # only the symbol with nothing stored is tried again
    assert "AAA" in first


def test_offline_with_empty_store_is_a_data_error(
    events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(events_file), "--offline", "--store", str(tmp_path / "none.sqlite"), "--quiet"])
    assert code == 3
    err = capsys.readouterr().err
    assert "not in store (offline)" in err and "AAA" in err


# ------------------------------------------------------------------------------------------ no network

CURL_7 = "Failed to perform, curl: (7) Failed to connect to query2.finance.yahoo.com:443 after 0 ms: Could not connect"
TICKERS = [f"T{i}" for i in range(9)]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """yfinance without a network, as recorded: two connection errors raised, then logged errors and empty frames."""
    from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError

    calls: list[str] = []

    class Ticker:
        history_metadata: ClassVar[dict[str, str]] = {}

        def __init__(self, symbol: str, session: Any = None) -> None:
            self.symbol = symbol

        def history(self, **kwargs: Any) -> pd.DataFrame:
            calls.append(self.symbol)
            if len(calls) <= 2:
                raise CurlConnectionError(CURL_7)
            logging.getLogger("yfinance").error(f"Failed to get ticker '{self.symbol}' reason: {CURL_7}")
            logging.getLogger("yfinance").error(f"${self.symbol}: possibly delisted; no timezone found")
            return pd.DataFrame(columns=["Open", "Close"], index=pd.Index([]))

    real = yahoo.fetch_history

    def fetch(symbol, start, end, session=None, ticker_factory=None):  # type: ignore[no-untyped-def]
        return real(symbol, start, end, session=session, ticker_factory=Ticker)

    monkeypatch.setattr(yahoo, "fetch_history", fetch)
    return calls


@pytest.fixture
def many_events(tmp_path: Path) -> Path:
    path = tmp_path / "many.csv"
    path.write_text(
        f"event_id,date,time,timezone,tickers,benchmark\ne1,2023-06-14,10:00,America/New_York,{';'.join(TICKERS)},^GSPC\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("command", ["run", "fetch"])
def test_no_network_exits_3_fast_with_one_summary_and_leaves_no_data(
    no_network: list[str], many_events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    store = tmp_path / "prices.sqlite"
    args = [command, str(many_events), "--store", str(store), "--quiet"]
    if command == "run":
        args += ["--out", str(tmp_path / "report"), "--formats", "md"]
    started = time.monotonic()
    assert main(args) == 3
    assert time.monotonic() - started < 30
    assert len(no_network) == 2  # two connection failures, then no symbol is tried
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "possibly delisted" not in text and "Traceback" not in text
    assert "no network: 10 symbols could not be fetched" in captured.err  # 9 tickers and ^GSPC
    assert captured.err.count("no network") == 1  # one summary line, not one line per symbol

    assert main(["store", "ls", "--store", str(store)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1] == "(empty)"  # no zero-row entries listed as data
    assert listing[2] == "no data stored (every download failed; see the fetch log): T0, T1"


# ------------------------------------------------------------------------------------------ store faults


def _state(path: Path) -> tuple[bytes, int, list[str]]:
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


def test_store_ls_and_offline_leave_a_foreign_sqlite_file_unchanged(
    events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    foreign = folder / "app.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO users VALUES (1, 'ann')")
    con.commit()
    con.close()
    before = _state(foreign)
    offline = ["run", str(events_file), "--offline", "--store", str(foreign), "--quiet", "--out", str(tmp_path / "r")]
    for args in (["store", "ls", "--store", str(foreign)], offline):
        assert main(args) == 3
        err = capsys.readouterr().err
        assert f"price store {foreign}: is not an eventstudy price store" in err and "users" in err
        assert "Traceback" not in err
        assert _state(foreign) == before


def test_damaged_row_is_exit_3_naming_store_symbol_and_row(
    fake_yahoo: type[_FakeTicker], events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "prices.sqlite"
    assert main(["fetch", str(events_file), "--store", str(store), "--quiet"]) == 0
    con = sqlite3.connect(store)
    con.execute("UPDATE prices SET adj_close = 'twelve' WHERE symbol = 'BBB' AND date = '2023-06-01'")
    con.commit()
    con.close()
    capsys.readouterr()
    args = ["run", str(events_file), "--offline", "--store", str(store), "--quiet", "--out", str(tmp_path / "r")]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert str(store) in err and "'BBB'" in err and "'2023-06-01'" in err and "adj_close" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["corrupt", "directory"])
def test_unusable_store_is_a_named_exit_3(
    kind: str, events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "prices.sqlite"
    if kind == "corrupt":
        store.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)  # a truncated header
    else:
        store.mkdir()
    offline = ["run", str(events_file), "--offline", "--store", str(store), "--quiet", "--out", str(tmp_path / "r")]
    for args in (["store", "ls", "--store", str(store)], offline):
        assert main(args) == 3
        err = capsys.readouterr().err
        assert f"price store {store}" in err and "Traceback" not in err
