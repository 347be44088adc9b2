"""The columnar panel (``align_pairs`` then ``gather_windows``) against a per-pair reference written here.

The reference follows ``docs/methods.md`` §2.2–§3 literally, one (ticker, benchmark) pair and one firm-event
at a time: a pandas merge on the dates pairs a ticker with its benchmark (on the prices under "common", on
each side's own returns under "date" or with supplied returns), and Python loops place τ = 0 and read the
windows. Nothing of ``eventstudy.returns`` is used to compute an expected value.

The random designs have gaps in every series, benchmark holidays (dates the ticker has and the benchmark
lacks), firm-events whose day 0 the benchmark lacks, day 0 after the last row, supplied returns next to
prices, volume-0 rows, an FX symbol (whose volume is always 0 and never flagged), a ticker with two
benchmarks and a symbol that is its own benchmark.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import eventstudy.returns as returns_module
from eventstudy.data.series import PriceSeries
from eventstudy.data.table import PriceTable
from eventstudy.returns import ReturnPanel, align_pairs, build_panel, gather_windows

DATES = pd.bdate_range("2021-01-04", periods=160)
EST, EVT = (-40, -6), (-3, 4)
NOTE = " has no row on day 0; tau = 0 moved to the next common row"


# ------------------------------------------------------------------------------------------ the design
def _design(seed: int, n_firm_events: int = 70) -> tuple[dict[str, PriceSeries], pd.DataFrame]:
    rng = np.random.default_rng(seed)
    series: dict[str, PriceSeries] = {}
    kinds = {"T0": "price", "T1": "price", "T2": "return", "T3": "price", "JPY=X": "price", "M1": "price"}
    kinds["M2"] = "return" if seed % 2 else "price"
    for symbol, kind in kinds.items():
        keep = rng.random(len(DATES)) > rng.uniform(0.02, 0.25)
        keep[: rng.integers(0, 30)] = False  # listed late, or a download that starts late
        keep[len(DATES) - rng.integers(0, 20) :] = False
        n = int(keep.sum())
        if kind == "return":
            values = rng.normal(0.0, 0.02, n)
        else:
            values = 50 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
        volume = np.where(rng.random(n) < 0.1, 0.0, 1e6) if symbol != "T3" else None
        series[symbol] = PriceSeries(symbol, DATES[keep], values, kind=kind, volume=volume)  # type: ignore[arg-type]
    tickers = rng.choice(["T0", "T1", "T2", "T3", "JPY=X", "M1"], n_firm_events)
    benchmarks = rng.choice(["M1", "M2"], n_firm_events)
    benchmarks[tickers == "M1"] = "M1"  # the index studied against itself
    day_zero = DATES[rng.integers(0, len(DATES), n_firm_events)]
    # some day 0s on a date the benchmark lacks (τ = 0 moves) and past the ticker's last row (excluded)
    lacks = DATES.difference(series["M1"].dates)
    day_zero = np.where(rng.random(n_firm_events) < 0.2, rng.choice(lacks, n_firm_events), day_zero)
    day_zero[-1] = DATES[-1] + pd.Timedelta(days=3)
    pairs = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n_firm_events)],
            "ticker": tickers,
            "benchmark": benchmarks,
            "day_zero": pd.DatetimeIndex(day_zero),
        }
    )
    return series, pairs


# --------------------------------------------------------------------------------------- the reference
def _ratio(later: float, earlier: float, return_type: str) -> float:
    r = later / earlier
    return math.log(r) if return_type == "log" else r - 1.0


def _rows(s: PriceSeries) -> pd.DataFrame:
    """The series as a frame with its own row number and volume-0 flag (never for FX)."""
    zero = np.zeros(len(s), dtype=bool) if s.volume is None or s.symbol.endswith("=X") else s.volume == 0
    return pd.DataFrame({"date": s.dates, "value": s.values, "row": np.arange(len(s)), "zero": zero})


def _own(s: PriceSeries, return_type: str) -> pd.DataFrame:
    """The series' returns on its own dates: date, ret, zero."""
    rows = _rows(s)
    if s.kind == "return":
        ret = [math.log1p(v) if return_type == "log" else v for v in rows["value"]]
        return pd.DataFrame({"date": rows["date"], "ret": ret, "zero": rows["zero"]})
    values = rows["value"].tolist()
    ret = [_ratio(values[j], values[j - 1], return_type) for j in range(1, len(values))]
    return pd.DataFrame(
        {"date": rows["date"].iloc[1:].to_numpy(), "ret": ret, "zero": rows["zero"].iloc[1:].to_numpy()}
    )


def _reference_pair(t: PriceSeries, b: PriceSeries, return_type: str, alignment: str) -> pd.DataFrame:
    """One pair's aligned returns: date, ret, mkt, span, zero."""
    if alignment == "common" and t.kind == "price" and b.kind == "price":
        m = _rows(t).merge(_rows(b), on="date", suffixes=("_t", "_b"))
        out = [
            (
                m["date"].iloc[j],
                _ratio(m["value_t"].iloc[j], m["value_t"].iloc[j - 1], return_type),
                _ratio(m["value_b"].iloc[j], m["value_b"].iloc[j - 1], return_type),
                int(m["row_t"].iloc[j] - m["row_t"].iloc[j - 1]),
                bool(m["zero_t"].iloc[j]),
            )
            for j in range(1, len(m))
        ]
        return pd.DataFrame(out, columns=["date", "ret", "mkt", "span", "zero"])
    m = _own(t, return_type).merge(_own(b, return_type), on="date", suffixes=("_t", "_b"))
    return pd.DataFrame(
        {"date": m["date"], "ret": m["ret_t"], "mkt": m["ret_b"], "span": 1, "zero": m["zero_t"].astype(bool)}
    )


class Reference:
    """The panel of one firm-event at a time."""

    def __init__(self, series: dict[str, PriceSeries], pairs: pd.DataFrame, return_type: str, alignment: str) -> None:
        est_days, evt_days = range(EST[0], EST[1] + 1), range(EVT[0], EVT[1] + 1)
        self.kept: list[int] = []
        self.rows: dict[str, list[list[object]]] = {k: [] for k in ("est_r", "est_m", "est_d", "own", "evt_r")}
        self.rows.update({k: [] for k in ("evt_m", "evt_d", "span", "zero")})
        self.a0: list[pd.Timestamp] = []
        self.notes: list[str] = []
        self.excluded: list[int] = []
        aligned: dict[tuple[str, str], dict[str, list[object]]] = {}
        own: dict[str, dict[str, list[object]]] = {}
        rows = zip(pairs["ticker"], pairs["benchmark"], pairs["day_zero"], strict=True)
        for i, (ticker, bench, day0) in enumerate(rows):
            if (ticker, bench) not in aligned:
                frame = _reference_pair(series[ticker], series[bench], return_type, alignment)
                aligned[ticker, bench] = {c: frame[c].tolist() for c in frame.columns}
                own[bench] = {c: v.tolist() for c, v in _own(series[bench], return_type).items()}
            pair, bench_own = aligned[ticker, bench], own[bench]
            dates = pair["date"]
            tau0 = next((j for j, d in enumerate(dates) if d >= day0), None)
            if tau0 is None:
                self.excluded.append(i)
                continue
            self.kept.append(i)
            self.a0.append(dates[tau0])
            self.notes.append(f"{bench}{NOTE}" if dates[tau0] != day0 else "")

            def at(column: str, j: int, fill: object, frame: dict[str, list[object]] = pair) -> object:
                return frame[column][j] if 0 <= j < len(frame[column]) else fill

            own0 = next((j for j, d in enumerate(bench_own["date"]) if d >= dates[tau0]), len(bench_own["date"]))
            self.rows["est_r"].append([at("ret", tau0 + k, np.nan) for k in est_days])
            self.rows["est_m"].append([at("mkt", tau0 + k, np.nan) for k in est_days])
            self.rows["est_d"].append([at("date", tau0 + k, pd.NaT) for k in est_days])
            self.rows["own"].append([at("ret", own0 + k, np.nan, bench_own) for k in est_days])
            self.rows["evt_r"].append([at("ret", tau0 + k, np.nan) for k in evt_days])
            self.rows["evt_m"].append([at("mkt", tau0 + k, np.nan) for k in evt_days])
            self.rows["evt_d"].append([at("date", tau0 + k, pd.NaT) for k in evt_days])
            self.rows["span"].append([at("span", tau0 + k, 0) for k in evt_days])
            self.rows["zero"].append([at("zero", tau0 + k, False) for k in evt_days])

    def check(self, panel: ReturnPanel, excluded: pd.DataFrame, pairs: pd.DataFrame, return_type: str) -> None:
        # the log of numpy and of libm may round differently in the last place; simple returns are exact
        rtol = 1e-14 if return_type == "log" else 0.0
        for name, got in (
            ("est_r", panel.est_returns),
            ("est_m", panel.est_market),
            ("own", panel.est_bench_own),
            ("evt_r", panel.evt_returns),
            ("evt_m", panel.evt_market),
        ):
            expected = np.array(self.rows[name], dtype=float).reshape(len(self.kept), -1)
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=0, err_msg=name)
        est_dates = np.array([pd.DatetimeIndex(r).to_numpy() for r in self.rows["est_d"]]).reshape(len(self.kept), -1)
        np.testing.assert_array_equal(panel.est_dates, est_dates.astype("datetime64[D]"))
        evt_dates = np.array([pd.DatetimeIndex(r).to_numpy() for r in self.rows["evt_d"]]).reshape(len(self.kept), -1)
        np.testing.assert_array_equal(panel.evt_dates, evt_dates)
        np.testing.assert_array_equal(panel.evt_span, np.array(self.rows["span"]).reshape(len(self.kept), -1))
        np.testing.assert_array_equal(panel.evt_zero_volume, np.array(self.rows["zero"]).reshape(len(self.kept), -1))
        assert panel.pairs["event_id"].tolist() == pairs["event_id"].iloc[self.kept].tolist()
        assert list(panel.pairs["aligned_day_zero"]) == self.a0
        assert panel.pairs["note"].tolist() == self.notes
        assert excluded["event_id"].tolist() == pairs["event_id"].iloc[self.excluded].tolist()
        for i, reason in zip(self.excluded, excluded["reason"], strict=True):
            assert (
                reason == f"no common {pairs['ticker'].iloc[i]}/{pairs['benchmark'].iloc[i]} return on or after day 0"
            )


# -------------------------------------------------------------------------------------------- the tests
# the default; benchmarks' rows found by a search on keys instead of the dense map; pairs in blocks of ~50 rows
SETTINGS = {"default": {}, "key-search": {"DENSE_CELLS": 0}, "small-blocks": {"BLOCK_ROWS": 50}}


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("alignment", ["common", "date"])
@pytest.mark.parametrize("return_type", ["simple", "log"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_panel_equals_the_per_pair_reference(
    seed: int, return_type: str, alignment: str, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SETTINGS[setting].items():
        monkeypatch.setattr(returns_module, name, value)
    series, pairs = _design(seed)
    table = PriceTable.from_series(series.values())
    panel, excluded = build_panel(pairs, table, EST, EVT, return_type, alignment, bench_own=True)  # type: ignore[arg-type]
    reference = Reference(series, pairs, return_type, alignment)
    assert reference.excluded and any(reference.notes)  # the design reaches both
    reference.check(panel, excluded, pairs, return_type)


def test_any_subset_of_firm_events_gathers_the_same_rows() -> None:
    """A chunk of firm-events, in any order, reads its rows of the panel from the same aligned table."""
    series, pairs = _design(5)
    table = PriceTable.from_series(series.values())
    aligned = align_pairs(table, table.codes_for(pairs["ticker"]), table.codes_for(pairs["benchmark"]), "log")
    full, _ = gather_windows(aligned, pairs, EST, EVT, bench_own=True)
    chunk = pairs.iloc[np.random.default_rng(0).permutation(len(pairs))[:25]]
    part, excluded = gather_windows(aligned, chunk, EST, EVT, bench_own=True)
    where = full.pairs.reset_index().set_index("event_id")["index"]
    rows = where.reindex(part.pairs["event_id"]).to_numpy()
    assert set(excluded["event_id"]) == set(chunk["event_id"]) - set(where.index)
    for name in ("est_returns", "est_market", "est_bench_own", "evt_returns", "evt_span", "evt_zero_volume"):
        np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[rows], err_msg=name)
    np.testing.assert_array_equal(part.est_dates, full.est_dates[rows])


def test_series_shorter_than_a_window() -> None:
    # 6 prices: 5 returns in all, fewer than one window (35 and 8 days) holds
    dates = DATES[:6]
    series = {
        "A": PriceSeries("A", dates, np.array([10.0, 11.0, 12.0, 11.0, 12.5, 13.0])),
        "M": PriceSeries("M", dates, np.array([100.0, 101.0, 99.0, 100.0, 102.0, 101.0])),
    }
    pairs = pd.DataFrame({"event_id": ["e"], "ticker": ["A"], "benchmark": ["M"], "day_zero": [dates[5]]})
    panel, excluded = build_panel(pairs, PriceTable.from_series(series.values()), EST, EVT, "simple", bench_own=True)
    Reference(series, pairs, "simple", "common").check(panel, excluded, pairs, "simple")
    assert np.isnan(panel.est_returns).all()  # τ = 0 is the 5th and last return: nothing at τ <= -6
    # τ = -3..0 are the returns 2..5 (by hand), τ = 1..4 lie after the last row
    np.testing.assert_array_equal(panel.evt_returns[0, :4], [12 / 11 - 1, 11 / 12 - 1, 12.5 / 11 - 1, 13 / 12.5 - 1])
    assert np.isnan(panel.evt_returns[0, 4:]).all()


def test_no_firm_events() -> None:
    series, pairs = _design(3)
    panel, excluded = build_panel(pairs.iloc[:0], PriceTable.from_series(series.values()), EST, EVT, bench_own=True)
    assert len(panel) == 0 and panel.est_returns.shape == (0, EST[1] - EST[0] + 1) and excluded.empty
    assert panel.est_bench_own is not None and panel.est_bench_own.shape == (0, EST[1] - EST[0] + 1)


def test_unknown_symbols_and_settings_are_refused() -> None:
    series, pairs = _design(4)
    table = PriceTable.from_series([series["T0"], series["M1"]])
    with pytest.raises(ValueError, match="T1 has no rows in the price table"):
        build_panel(pairs.assign(ticker="T1"), table, EST, EVT)
    codes = np.array([0])
    with pytest.raises(ValueError, match="alignment"):
        align_pairs(table, codes, codes, "simple", "calendar")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="symbol of the price table"):
        align_pairs(table, np.array([2]), codes)
    aligned = align_pairs(table, codes, np.array([1]))
    with pytest.raises(ValueError, match="M1/T0 was not aligned"):
        gather_windows(aligned, pairs.assign(ticker="M1", benchmark="T0"), EST, EVT)
