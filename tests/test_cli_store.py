"""``eventstudy fetch``, ``store ls`` and ``run --offline`` on the SQLite store, with yfinance faked.

The fake stands in for ``yf.Ticker(...).history(auto_adjust=False, actions=True)`` with the real shape
(tz-aware midnight index in the exchange's zone, ``Adj Close``, ``Dividends``, ``Stock Splits``) and goes
through the package's own normalisation, so only the network is replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

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

    rows = {line.split()[0]: line for line in listing.splitlines()[2:]}
    assert set(rows) == {"AAA", "BBB", "NOPE", "^GSPC"}
    assert yfinance.__version__ in rows["AAA"] and "2023-07" in rows["AAA"]  # vintage and coverage shown
    assert " 0 " in rows["NOPE"]  # the failed download is logged, with no rows

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
