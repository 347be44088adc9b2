"""Alignment of ticker and benchmark returns and the gathering of event-time windows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eventstudy.data.series import PriceSeries
from eventstudy.returns import align, build_panel


def _series(symbol: str, dates: list[str], values: list[float], kind: str = "price", volume=None) -> PriceSeries:
    return PriceSeries(symbol, pd.DatetimeIndex(dates), np.array(values, dtype=float), kind=kind, volume=volume)  # type: ignore[arg-type]


def test_common_dates_give_returns_over_the_same_interval() -> None:
    # the benchmark misses 01-03 (a holiday of its market): both returns then run 01-02 -> 01-06
    ticker = _series("0700.HK", ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], [100, 110, 99, 108.9],
                     volume=np.array([1.0, 0.0, 5.0, 5.0]))
    bench = _series("^HSI", ["2024-01-02", "2024-01-04", "2024-01-05"], [1000, 1010, 1000])
    out = align(ticker, bench, "simple")
    np.testing.assert_array_equal(out.dates, pd.DatetimeIndex(["2024-01-04", "2024-01-05"]).values)
    np.testing.assert_allclose(out.returns, [99 / 100 - 1, 108.9 / 99 - 1])
    np.testing.assert_allclose(out.market, [1010 / 1000 - 1, 1000 / 1010 - 1])
    np.testing.assert_array_equal(out.span, [2, 1])  # first return spans two of the ticker's rows
    np.testing.assert_array_equal(out.zero_volume, [False, False])


def test_log_returns() -> None:
    ticker = _series("A", ["2024-01-02", "2024-01-03"], [100, 110])
    bench = _series("^GSPC", ["2024-01-02", "2024-01-03"], [10, 9])
    out = align(ticker, bench, "log")
    np.testing.assert_allclose(out.returns, [np.log(1.1)])
    np.testing.assert_allclose(out.market, [np.log(0.9)])


def test_supplied_returns_are_joined_on_dates() -> None:
    ticker = _series("A", ["2024-01-02", "2024-01-03", "2024-01-04"], [0.01, -0.02, 0.03], kind="return")
    bench = _series("M", ["2024-01-03", "2024-01-04"], [0.001, 0.002], kind="return")
    out = align(ticker, bench, "simple")
    np.testing.assert_allclose(out.returns, [-0.02, 0.03])
    np.testing.assert_allclose(out.market, [0.001, 0.002])
    log = align(ticker, bench, "log")
    np.testing.assert_allclose(log.returns, np.log1p([-0.02, 0.03]))


def test_build_panel_counts_rows_of_the_aligned_series() -> None:
    dates = pd.bdate_range("2024-01-01", periods=30)
    prices = 100 * np.cumprod(1 + 0.01 * np.sin(np.arange(30)))
    market = 50 * np.cumprod(1 + 0.005 * np.cos(np.arange(30)))
    series = {"A": _series("A", list(dates.astype(str)), list(prices)), "M": _series("M", list(dates.astype(str)), list(market))}
    pairs = pd.DataFrame({"event_id": ["e1", "e2"], "ticker": ["A", "A"], "benchmark": ["M", "M"],
                          "day_zero": [dates[20], dates[3]]})
    panel, excluded = build_panel(pairs, series, (-10, -2), (-1, 2), "simple")
    assert excluded.empty and len(panel) == 2
    returns = prices[1:] / prices[:-1] - 1  # return at dates[j] is index j - 1
    # e1: day 0 = dates[20] -> return index 19; event window rel -1..2 -> indices 18..21
    np.testing.assert_allclose(panel.evt_returns[0], returns[18:22])
    np.testing.assert_allclose(panel.est_returns[0], returns[9:18])
    assert panel.evt_dates[0, 1] == dates[20]
    # e2: day 0 = dates[3] -> index 2; estimation rows before the first return are missing (NaN)
    assert np.isnan(panel.est_returns[1, :8]).all()
    np.testing.assert_allclose(panel.est_returns[1, 8], returns[0])  # rel day -2 is the first return
    np.testing.assert_allclose(panel.evt_returns[1], returns[1:5])


def test_build_panel_moves_tau0_when_benchmark_lacks_day0_and_excludes_late_events() -> None:
    t_dates = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    series = {"A": _series("A", t_dates, [1, 2, 3, 4]), "M": _series("M", ["2024-01-02", "2024-01-03", "2024-01-05"], [1, 1, 1])}
    pairs = pd.DataFrame({"event_id": ["e1", "e2"], "ticker": ["A", "A"], "benchmark": ["M", "M"],
                          "day_zero": pd.to_datetime(["2024-01-04", "2024-01-08"])})
    panel, excluded = build_panel(pairs, series, (-2, -1), (0, 0), "simple")
    assert len(panel) == 1
    assert panel.pairs.loc[0, "aligned_day_zero"] == pd.Timestamp("2024-01-05")
    assert "no row on day 0" in panel.pairs.loc[0, "note"]
    assert excluded["event_id"].tolist() == ["e2"] and "on or after day 0" in excluded.loc[0, "reason"]
