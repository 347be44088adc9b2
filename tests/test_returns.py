"""Alignment of ticker and benchmark returns and the gathering of event-time windows, on hand-made series.

The randomised comparison with a per-pair reference implementation is in ``tests/test_panel_columnar.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventstudy.data.series import PriceSeries
from eventstudy.data.table import PriceTable
from eventstudy.returns import align_pairs, build_panel


def _series(symbol: str, dates: list[str], values: list[float], kind: str = "price", volume=None) -> PriceSeries:
    return PriceSeries(symbol, pd.DatetimeIndex(dates), np.array(values, dtype=float), kind=kind, volume=volume)  # type: ignore[arg-type]


def _table(series: dict[str, PriceSeries]) -> PriceTable:
    return PriceTable.from_series(series.values())


def _align(ticker: PriceSeries, benchmark: PriceSeries, return_type: str, alignment: str = "common") -> pd.DataFrame:
    """The aligned rows of one (ticker, benchmark) pair: date, returns, market, span, zero_volume."""
    table = PriceTable.from_series([ticker, benchmark] if ticker.symbol != benchmark.symbol else [ticker])
    codes = table.codes_for([ticker.symbol, benchmark.symbol])
    aligned = align_pairs(table, codes[:1], codes[1:], return_type, alignment)  # type: ignore[arg-type]
    return aligned.pair_frame(ticker.symbol, benchmark.symbol)


def test_common_dates_give_returns_over_the_same_interval() -> None:
    # the benchmark misses 01-03 (a holiday of its market): both returns then run 01-02 -> 01-06
    ticker = _series(
        "0700.HK",
        ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"],
        [100, 110, 99, 108.9],
        volume=np.array([1.0, 0.0, 5.0, 5.0]),
    )
    bench = _series("^HSI", ["2024-01-02", "2024-01-04", "2024-01-05"], [1000, 1010, 1000])
    out = _align(ticker, bench, "simple")
    np.testing.assert_array_equal(out["date"], pd.DatetimeIndex(["2024-01-04", "2024-01-05"]).values)
    np.testing.assert_allclose(out["returns"], [99 / 100 - 1, 108.9 / 99 - 1])
    np.testing.assert_allclose(out["market"], [1010 / 1000 - 1, 1000 / 1010 - 1])
    np.testing.assert_array_equal(out["span"], [2, 1])  # first return spans two of the ticker's rows
    np.testing.assert_array_equal(out["zero_volume"], [False, False])


@pytest.mark.parametrize("alignment", ["common", "date"])
def test_ticker_dates_before_and_after_every_benchmark_row(alignment: str) -> None:
    # the ticker trades two days before the benchmark's first row and two after its last: only the three
    # common dates pair up; by hand, the returns between them
    ticker = _series(
        "A",
        ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"],
        [10, 11, 12, 13, 14, 15, 16],
    )
    bench = _series("M", ["2024-01-03", "2024-01-04", "2024-01-05"], [100, 101, 99])
    out = _align(ticker, bench, "simple", alignment)
    np.testing.assert_array_equal(out["date"], pd.DatetimeIndex(["2024-01-04", "2024-01-05"]).values)
    np.testing.assert_allclose(out["returns"], [13 / 12 - 1, 14 / 13 - 1], rtol=1e-15)
    np.testing.assert_allclose(out["market"], [101 / 100 - 1, 99 / 101 - 1], rtol=1e-15)


def test_log_returns() -> None:
    ticker = _series("A", ["2024-01-02", "2024-01-03"], [100, 110])
    bench = _series("^GSPC", ["2024-01-02", "2024-01-03"], [10, 9])
    out = _align(ticker, bench, "log")
    np.testing.assert_allclose(out["returns"], [np.log(1.1)])
    np.testing.assert_allclose(out["market"], [np.log(0.9)])


def test_supplied_returns_are_joined_on_dates() -> None:
    ticker = _series("A", ["2024-01-02", "2024-01-03", "2024-01-04"], [0.01, -0.02, 0.03], kind="return")
    bench = _series("M", ["2024-01-03", "2024-01-04"], [0.001, 0.002], kind="return")
    out = _align(ticker, bench, "simple")
    np.testing.assert_allclose(out["returns"], [-0.02, 0.03])
    np.testing.assert_allclose(out["market"], [0.001, 0.002])
    log = _align(ticker, bench, "log")
    np.testing.assert_allclose(log["returns"], np.log1p([-0.02, 0.03]))


def test_build_panel_counts_rows_of_the_aligned_series() -> None:
    dates = pd.bdate_range("2024-01-01", periods=30)
    prices = 100 * np.cumprod(1 + 0.01 * np.sin(np.arange(30)))
    market = 50 * np.cumprod(1 + 0.005 * np.cos(np.arange(30)))
    series = {
        "A": _series("A", list(dates.astype(str)), list(prices)),
        "M": _series("M", list(dates.astype(str)), list(market)),
    }
    pairs = pd.DataFrame(
        {"event_id": ["e1", "e2"], "ticker": ["A", "A"], "benchmark": ["M", "M"], "day_zero": [dates[20], dates[3]]}
    )
    panel, excluded = build_panel(pairs, _table(series), (-10, -2), (-1, 2), "simple")
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


def test_panel_is_immutable() -> None:
    dates = list(pd.bdate_range("2024-01-01", periods=12).astype(str))
    series = {"A": _series("A", dates, list(range(1, 13))), "M": _series("M", dates, list(range(2, 14)))}
    pairs = pd.DataFrame({"event_id": ["e1", "e2"], "ticker": "A", "benchmark": "M", "day_zero": [dates[8], dates[6]]})
    panel, _ = build_panel(pairs, _table(series), (-4, -2), (-1, 1), "simple", bench_own=True)
    for p in (panel, panel.take(np.array([1]))):
        arrays = {name: v for name, v in vars(p).items() if isinstance(v, np.ndarray)}
        assert len(arrays) == 11  # every field but pairs
        for name, value in arrays.items():
            with pytest.raises(ValueError, match="read-only"):
                value.flat[0] = value.flat[0]
            assert not value.flags.writeable, name
    got = panel.pairs
    got.loc[0, "event_id"] = "changed"
    del got["ticker"]
    assert panel.pairs["event_id"].tolist() == ["e1", "e2"] and "ticker" in panel.pairs


def test_build_panel_moves_tau0_when_benchmark_lacks_day0_and_excludes_late_events() -> None:
    t_dates = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    series = {
        "A": _series("A", t_dates, [1, 2, 3, 4]),
        "M": _series("M", ["2024-01-02", "2024-01-03", "2024-01-05"], [1, 1, 1]),
    }
    pairs = pd.DataFrame(
        {
            "event_id": ["e1", "e2"],
            "ticker": ["A", "A"],
            "benchmark": ["M", "M"],
            "day_zero": pd.to_datetime(["2024-01-04", "2024-01-08"]),
        }
    )
    panel, excluded = build_panel(pairs, _table(series), (-2, -1), (0, 0), "simple")
    assert len(panel) == 1
    assert panel.pairs.loc[0, "aligned_day_zero"] == pd.Timestamp("2024-01-05")
    assert "no row on day 0" in panel.pairs.loc[0, "note"]
    assert excluded["event_id"].tolist() == ["e2"] and "on or after day 0" in excluded.loc[0, "reason"]


def test_date_alignment_runs_returns_across_a_missing_price() -> None:
    # the ticker has no price on 01-04; under "date" its 01-05 return runs 01-03 -> 01-05 (estudy2
    # multi_day = TRUE) while the benchmark's 01-05 return is its own 01-04 -> 01-05; 01-04 has no
    # ticker return, so the inner join on the date drops it
    ticker = _series("A", ["2024-01-02", "2024-01-03", "2024-01-05"], [100, 104, 97])
    bench = _series("M", ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], [10, 11, 12, 9])
    out = _align(ticker, bench, "log", "date")
    np.testing.assert_array_equal(out["date"], pd.DatetimeIndex(["2024-01-03", "2024-01-05"]).values)
    np.testing.assert_allclose(out["returns"], np.log([104 / 100, 97 / 104]), rtol=1e-15)
    np.testing.assert_allclose(out["market"], np.log([11 / 10, 9 / 12]), rtol=1e-15)
    np.testing.assert_array_equal(out["span"], [1, 1])
    common = _align(ticker, bench, "log", "common")  # the default pairs 01-03 -> 01-05 on both sides
    np.testing.assert_allclose(common["market"], np.log([11 / 10, 9 / 11]), rtol=1e-15)


def test_date_alignment_equals_common_when_both_series_share_dates() -> None:
    dates = list(pd.bdate_range("2024-01-01", periods=12).astype(str))
    rng = np.random.default_rng(3)
    ticker = _series("A", dates, list(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 12)))))
    bench = _series("M", dates, list(50 * np.exp(np.cumsum(rng.normal(0, 0.01, 12)))))
    for kind in ("simple", "log"):
        a, b = _align(ticker, bench, kind, "date"), _align(ticker, bench, kind, "common")  # type: ignore[arg-type]
        np.testing.assert_array_equal(a["date"], b["date"])
        np.testing.assert_array_equal(a["returns"], b["returns"])
        np.testing.assert_array_equal(a["market"], b["market"])


def test_unknown_alignment_is_rejected() -> None:
    ticker = _series("A", ["2024-01-02", "2024-01-03"], [1, 2])
    with pytest.raises(ValueError, match="alignment"):
        _align(ticker, ticker, "simple", "calendar")  # type: ignore[arg-type]


class TestBenchmarkOwnEstimationWindow:
    """``est_bench_own`` counts back from τ = 0 on the benchmark's own series (METHODS.md §8.2)."""

    def setup_method(self) -> None:
        self.dates = pd.bdate_range("2024-01-01", periods=40)
        rng = np.random.default_rng(7)
        self.bench = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, 40)))
        prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 40)))
        # ticker listed on dates[15] and without a price on dates[25]
        keep = np.r_[np.arange(15, 25), np.arange(26, 40)]
        self.series = {
            "A": _series("A", list(self.dates[keep].astype(str)), list(prices[keep])),
            "M": _series("M", list(self.dates.astype(str)), list(self.bench)),
        }
        self.pairs = pd.DataFrame(
            {"event_id": ["e"], "ticker": ["A"], "benchmark": ["M"], "day_zero": [self.dates[30]]}
        )
        self.own = np.log(self.bench[1:] / self.bench[:-1])  # benchmark return at dates[j] is own[j - 1]

    @pytest.mark.parametrize("alignment", ["common", "date"])
    def test_full_window_of_the_benchmark(self, alignment: str) -> None:
        panel, _ = build_panel(self.pairs, _table(self.series), (-20, -1), (0, 2), "log", alignment, bench_own=True)  # type: ignore[arg-type]
        assert panel.est_bench_own is not None
        # τ = 0 is dates[30] = own index 29; τ = -20..-1 are own[9..28], dates[10..29]
        np.testing.assert_allclose(panel.est_bench_own[0], self.own[9:29], rtol=1e-15)
        # the ticker's aligned window is shorter: returns on dates[16..24] and dates[26..29]
        assert np.isfinite(panel.est_returns[0]).sum() == 13
        assert np.isnan(panel.est_market[0, :7]).all()
        # the return on dates[26] runs across the missing dates[25]: under "common" the benchmark's
        # does too, under "date" the benchmark's is its own one-day return
        r26 = panel.est_market[0, -4]
        expected = self.own[25] + self.own[24] if alignment == "common" else self.own[25]
        np.testing.assert_allclose(r26, expected, rtol=1e-13)

    def test_date_alignment_market_is_the_benchmarks_own_return(self) -> None:
        panel, _ = build_panel(self.pairs, _table(self.series), (-20, -1), (0, 2), "log", "date", bench_own=True)
        dates = pd.DatetimeIndex(panel.est_dates[0][~np.isnat(panel.est_dates[0])])
        assert pd.Timestamp(self.dates[25]) not in dates and pd.Timestamp(self.dates[16]) == dates[0]
        market = panel.est_market[0][np.isfinite(panel.est_market[0])]
        positions = self.dates.get_indexer(dates) - 1
        np.testing.assert_allclose(market, self.own[positions], rtol=1e-15)

    def test_take_keeps_it(self) -> None:
        panel, _ = build_panel(self.pairs, _table(self.series), (-20, -1), (0, 2), "log", bench_own=True)
        assert panel.take(np.array([0])).est_bench_own is not None
