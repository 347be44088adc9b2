"""Fixtures for the data-layer tests: CSV writers, a fake ``yfinance.Ticker`` and a fake Yahoo HTTP API.

Nothing here touches the network: layer B replaces ``yfinance.Ticker`` through ``ticker_factory``;
layer C drives the real yfinance through ``responses`` with a plain ``requests.Session`` and hand-made
``v8/finance/chart`` JSON (``../shared/docs/ECOSYSTEM.md`` §2).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

# ------------------------------------------------------------------------------------------ CSV helpers


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    """Return ``write(name, text) -> path`` writing a text file into a fresh folder."""
    folder = tmp_path / "prices"
    folder.mkdir()

    def write(name: str, text: str) -> Path:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


# ------------------------------------------------------------------------------------------ a small study

PRICE_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"


@dataclass
class StudyFiles:
    """A one-event study on hand-made data: ``AAA`` (a US listing) against ``^GSPC``, 60 business days.

    ``prices`` holds ``AAA.csv`` and ``^GSPC.csv``; ``returns`` is the long ``date,ticker,return`` file of
    the same series. ``options`` keeps the run small (a 20-day estimation window).
    """

    folder: Path
    events: Path
    prices: Path
    returns: Path
    dates: list[str]
    options: tuple[str, ...] = ("--estimation=-25:-6", "--min-obs=15", "--window=-3:3", "--car=0:1")

    def price_line(self, symbol: str, date: str) -> int:
        """The line of ``date`` in ``<symbol>.csv`` (the header is line 1)."""
        return self.dates.index(date) + 2

    def run_args(self, *source: str) -> list[str]:
        """Arguments of ``eventstudy run`` on this study with the given data option."""
        out = self.folder / "out"
        return ["run", str(self.events), *source, "--out", str(out), "--quiet", "--formats", "md", *self.options]


@pytest.fixture
def study_files(tmp_path: Path) -> StudyFiles:
    """Write :class:`StudyFiles` into ``tmp_path``; prices follow a seeded random walk."""
    rng = np.random.default_rng(20240615)
    dates = [str(d.date()) for d in pd.bdate_range("2024-04-01", periods=60)]
    closes = {
        "AAA": 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, len(dates)))),
        "^GSPC": 5000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, len(dates)))),
    }
    prices = tmp_path / "prices"
    prices.mkdir()
    returns_lines = ["date,ticker,return"]
    for symbol, close in closes.items():
        rows = [f"{d},{c:.4f},{c:.4f},{c:.4f},{c:.4f},{c:.4f},1000" for d, c in zip(dates, close, strict=True)]
        (prices / f"{symbol}.csv").write_text(PRICE_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
        simple = close[1:] / close[:-1] - 1.0
        returns_lines += [f"{d},{symbol},{r:.6f}" for d, r in zip(dates[1:], simple, strict=True)]
    returns = tmp_path / "returns.csv"
    returns.write_text("\n".join(returns_lines) + "\n", encoding="utf-8")
    events = tmp_path / "events.csv"
    events.write_text(f"event_id,date,tickers,benchmark\ne1,{dates[45]},AAA,^GSPC\n", encoding="utf-8")
    return StudyFiles(folder=tmp_path, events=events, prices=prices, returns=returns, dates=dates)


@pytest.fixture
def console_script() -> Callable[[list[str]], subprocess.CompletedProcess[str]]:
    """Return ``run(args)``: the installed ``eventstudy`` console script in a subprocess (text output)."""
    script = Path(sys.executable).with_name("eventstudy")
    if not script.is_file():
        pytest.skip(f"console script not installed next to {sys.executable}")

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=300, env=env, check=False)

    return run


# ------------------------------------------------------------------------------------------ layer B fake


def yf_frame(
    rows: list[tuple[str, float, float, float, float, float, int]],
    *,
    tz: str = "Asia/Hong_Kong",
    dividends: dict[str, float] | None = None,
    splits: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Build a frame shaped like ``Ticker.history(auto_adjust=False, actions=True)`` under pandas 3.

    ``rows`` are ``(date, open, high, low, close, adj_close, volume)``; the index is tz-aware
    ``datetime64[s, tz]`` at local midnight, named ``Date``.
    """
    index = pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows]).tz_localize(tz).as_unit("s")
    index.name = "Date"
    frame = pd.DataFrame(
        {
            "Open": [r[1] for r in rows],
            "High": [r[2] for r in rows],
            "Low": [r[3] for r in rows],
            "Close": [r[4] for r in rows],
            "Adj Close": [r[5] for r in rows],
            "Volume": np.array([r[6] for r in rows], dtype=np.int64),
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=index,
    )
    for day, amount in (dividends or {}).items():
        frame.loc[pd.Timestamp(day).tz_localize(tz), "Dividends"] = amount
    for day, ratio in (splits or {}).items():
        frame.loc[pd.Timestamp(day).tz_localize(tz), "Stock Splits"] = ratio
    return frame


def empty_yf_frame() -> pd.DataFrame:
    """What yfinance returns after a soft failure: an empty frame with an object Index."""
    return pd.DataFrame(columns=["Open", "High", "Low", "Close", "Adj Close", "Volume"], index=pd.Index([]))


@dataclass
class FakeYahoo:
    """A fake ``yfinance.Ticker`` factory serving per-symbol histories or exceptions.

    ``history(start=, end=)`` returns the rows with ``start <= date < end`` (yfinance's ``end`` is
    exclusive), like Yahoo. ``calls`` records ``(symbol, start, end)`` of each history call.
    """

    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)

    def __call__(self, symbol: str, session: Any) -> FakeTicker:
        self.sessions.append(session)
        return FakeTicker(self, symbol)

    def count(self, symbol: str) -> int:
        """Number of history calls for ``symbol``."""
        return sum(1 for c in self.calls if c[0] == symbol)


class FakeTicker:
    """One fake ticker produced by :class:`FakeYahoo`."""

    def __init__(self, owner: FakeYahoo, symbol: str) -> None:
        self._owner = owner
        self.ticker = symbol
        self.history_metadata: dict[str, Any] = {}

    def history(
        self, *, start: str, end: str, interval: str, auto_adjust: bool, actions: bool, repair: bool, **kwargs: Any
    ) -> pd.DataFrame:
        assert interval == "1d" and auto_adjust is False and actions is True and repair is False
        self._owner.calls.append((self.ticker, start, end))
        if self.ticker in self._owner.errors:
            raise self._owner.errors[self.ticker]
        full = self._owner.histories.get(self.ticker)
        if full is None:
            return empty_yf_frame()
        local = full.index.tz_localize(None)
        part = full[(local >= pd.Timestamp(start)) & (local < pd.Timestamp(end))]
        self.history_metadata = self._owner.metadata.get(
            self.ticker, {"currency": "HKD", "exchangeTimezoneName": str(full.index.tz)}
        )
        return part.copy()


@pytest.fixture
def fake_yahoo() -> FakeYahoo:
    """A fresh :class:`FakeYahoo`."""
    return FakeYahoo()


# ------------------------------------------------------------------------------------------ layer C


@pytest.fixture(scope="session")
def yf_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Relocate yfinance's on-disk caches into a temporary folder, once per test session."""
    yf = pytest.importorskip("yfinance")
    folder = tmp_path_factory.mktemp("py-yfinance")
    yf.set_tz_cache_location(str(folder))
    return folder


@pytest.fixture(autouse=True)
def _yf_clear_lru() -> Iterator[None]:
    """Clear yfinance's in-process response cache around every test (when yfinance is loaded)."""
    import sys

    data_module = sys.modules.get("yfinance.data")
    if data_module is not None:
        data_module.YfData.cache_get.cache_clear()
    yield
    data_module = sys.modules.get("yfinance.data")
    if data_module is not None:
        data_module.YfData.cache_get.cache_clear()


def chart_json(
    symbol: str,
    rows: list[tuple[str, float, float, float, float, float, int]],
    *,
    tz: str = "Asia/Hong_Kong",
    currency: str = "HKD",
    exchange: str = "HKG",
    open_time: str = "09:30",
    dividends: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Build a Yahoo ``v8/finance/chart`` answer for daily bars (the fields yfinance 1.7 reads)."""

    def epoch(day: str, time: str = open_time) -> int:
        return int(pd.Timestamp(f"{day} {time}").tz_localize(tz).timestamp())

    last_day = rows[-1][0] if rows else "2024-01-02"
    offset = int(pd.Timestamp(last_day).tz_localize(tz).utcoffset().total_seconds())  # type: ignore[union-attr]
    period = {"timezone": "HKT", "gmtoffset": offset}
    meta = {
        "currency": currency,
        "symbol": symbol,
        "exchangeName": exchange,
        "fullExchangeName": exchange,
        "instrumentType": "EQUITY",
        "firstTradeDate": epoch("2004-06-16"),
        "regularMarketTime": epoch(last_day, "16:08"),
        "hasPrePostMarketData": False,
        "gmtoffset": offset,
        "timezone": "HKT",
        "exchangeTimezoneName": tz,
        "regularMarketPrice": rows[-1][4] if rows else 1.0,
        "chartPreviousClose": rows[0][4] if rows else 1.0,
        "priceHint": 3,
        "currentTradingPeriod": {
            "pre": {**period, "start": epoch(last_day, "09:00"), "end": epoch(last_day, "09:30")},
            "regular": {**period, "start": epoch(last_day, "09:30"), "end": epoch(last_day, "16:00")},
            "post": {**period, "start": epoch(last_day, "16:00"), "end": epoch(last_day, "16:10")},
        },
        "dataGranularity": "1d",
        "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    result: dict[str, Any] = {
        "meta": meta,
        "timestamp": [epoch(r[0]) for r in rows],
        "indicators": {
            "quote": [
                {
                    "open": [r[1] for r in rows],
                    "high": [r[2] for r in rows],
                    "low": [r[3] for r in rows],
                    "close": [r[4] for r in rows],
                    "volume": [r[6] for r in rows],
                }
            ],
            "adjclose": [{"adjclose": [r[5] for r in rows]}],
        },
    }
    if dividends:
        result["events"] = {"dividends": {str(epoch(d)): {"amount": a, "date": epoch(d)} for d, a in dividends.items()}}
    return {"chart": {"result": [result], "error": None}}


NOT_FOUND = {
    "chart": {"result": None, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}
}


@dataclass
class YahooHttp:
    """State of the fake Yahoo HTTP API: per-symbol ``(status, body)`` and the chart URLs requested."""

    charts: dict[str, tuple[int, Any]]
    session: Any
    chart_requests: list[str]


@pytest.fixture
def yahoo_http(yf_cache_dir: Path) -> Iterator[YahooHttp]:
    """Intercept every HTTP request of a plain ``requests.Session`` with one ``responses`` callback."""
    requests = pytest.importorskip("requests")
    responses = pytest.importorskip("responses")
    charts: dict[str, tuple[int, Any]] = {}
    seen: list[str] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        url = request.url
        if "/v8/finance/chart/" in url:
            symbol = requests.utils.unquote(url.split("/chart/")[1].split("?")[0])
            seen.append(symbol)
            status, body = charts.get(symbol, (404, NOT_FOUND))
            return status, {"Content-Type": "application/json"}, body if isinstance(body, str) else json.dumps(body)
        if "getcrumb" in url:
            return 200, {}, "fake-crumb"
        return 404, {}, ""

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, re.compile(".*"), callback=callback)
        mock.add_callback(responses.POST, re.compile(".*"), callback=callback)
        yield YahooHttp(charts=charts, session=requests.Session(), chart_requests=seen)


@pytest.fixture
def make_yf_frame() -> Callable[..., pd.DataFrame]:
    """The :func:`yf_frame` builder."""
    return yf_frame


@pytest.fixture
def make_chart() -> Callable[..., dict[str, Any]]:
    """The :func:`chart_json` builder."""
    return chart_json
