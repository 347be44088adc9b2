"""Size and power simulations (``eventstudy.simulate``, ``docs/methods.md`` §7).

Oracles: the analytic power of J1 (MacKinlay 1997; ``docs/methods.md`` §7.1) computed here from the
normal cdf, the nominal level under H0 with simulated i.i.d. normal returns, returns computed by hand,
and the study's own panel builder (:func:`eventstudy.returns.build_panel`) for the gathered windows.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eventstudy.cli import main
from eventstudy.data.series import PriceSeries
from eventstudy.data.table import PriceTable
from eventstudy.errors import DataError, InputError
from eventstudy.inference import REGISTRY
from eventstudy.returns import build_panel
from eventstudy.simulate import DEFAULT_PANEL, TABLE_COLUMNS, SimulationResult, WidePanel, simulate

EST, EVT = (-244, -6), (-5, 5)


def j1_power(delta: float, n: int, sigma: float, alpha: float = 0.05) -> float:
    """Φ(-z + δ√N/σ) + Φ(-z - δ√N/σ), ``docs/methods.md`` §7.1."""
    z = stats.norm.ppf(1 - alpha / 2)
    shift = delta * math.sqrt(n) / sigma
    return float(stats.norm.cdf(-z + shift) + stats.norm.cdf(-z - shift))


def cell(
    result: SimulationResult, test: str, scope: str, window: tuple[int, int], delta: float, alpha: float
) -> pd.Series:
    tab = result.table
    rows = tab[
        (tab["test"] == test)
        & (tab["scope"] == scope)
        & (tab["window_start"] == window[0])
        & (tab["window_end"] == window[1])
        & np.isclose(tab["delta"], delta)
        & np.isclose(tab["alpha"], alpha)
    ]
    assert len(rows) == 1, (test, scope, window, delta, alpha)
    return rows.iloc[0]


# --------------------------------------------------------------------------------------------------
# The panel
# --------------------------------------------------------------------------------------------------


def test_returns_are_nan_aware_and_never_filled() -> None:
    dates = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08"])
    prices = pd.DataFrame({"A": [10.0, 11.0, np.nan, 12.1, 12.1], "B": [np.nan, 5.0, 4.0, 5.0, 0.0]}, index=dates)
    market = pd.Series([100.0, 101.0, 102.01, 101.0, 100.0], index=dates, name="^GSPC")
    panel = WidePanel.from_prices(prices, market)
    assert panel.tickers == ("A", "B")
    np.testing.assert_array_equal(panel.dates, dates.values[1:])
    expected = np.array(
        [
            [11.0 / 10.0 - 1, np.nan],  # B has no price on the first date
            [np.nan, 4.0 / 5.0 - 1],  # A missing on 01-06: no return ending there ...
            [np.nan, 5.0 / 4.0 - 1],  # ... nor one starting there (no fill across the gap)
            [0.0, np.nan],  # a zero price counts as missing
        ]
    )
    np.testing.assert_allclose(panel.returns, expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(panel.market, [0.01, 0.01, 101.0 / 102.01 - 1, 100.0 / 101.0 - 1], rtol=1e-12)
    assert panel.market_name == "^GSPC"


def test_market_missing_a_date_blocks_both_adjacent_returns() -> None:
    dates = pd.bdate_range("2021-03-01", periods=5)
    prices = pd.DataFrame({"A": [1.0, 1.1, 1.2, 1.3, 1.4]}, index=dates)
    market = pd.Series([10.0, 10.5, 11.0, 11.5], index=dates.delete(2), name="M")
    panel = WidePanel.from_prices(prices, market)
    assert np.isnan(panel.market[1]) and np.isnan(panel.market[2])
    assert np.isfinite(panel.market[[0, 3]]).all()
    assert not panel.eligible((-1, -1), (0, 0))[[1, 2, 3]].any()


def test_eligible_requires_both_whole_windows() -> None:
    returns = np.ones((12, 2)) * 0.01
    returns[5, 1] = np.nan
    panel = WidePanel(pd.bdate_range("2022-01-03", periods=12).values, ("X", "Y"), returns, np.full(12, 0.001))
    mask = panel.eligible((-4, -3), (-1, 1))  # day -2 lies between the windows and is not required
    # X: day 0 needs rows t-4 .. t+1 inside 0..11
    np.testing.assert_array_equal(np.flatnonzero(mask[:, 0]), np.arange(4, 11))
    # Y: row 5 must not be in {t-4, t-3} or {t-1, t, t+1}; t = 7 has it on day -2
    np.testing.assert_array_equal(np.flatnonzero(mask[:, 1]), [7, 10])


def test_from_csv_reads_gzip_and_reports_missing_files(tmp_path: Path) -> None:
    folder = _write_panel(tmp_path, n_tickers=4, n_days=40)
    panel = WidePanel.from_dir(folder)
    assert panel.returns.shape == (39, 4) and panel.market_name == "^GSPC"
    assert "adj_close_wide.csv.gz" in panel.source
    with pytest.raises(DataError, match="no column"):
        WidePanel.from_dir(folder, market_column="^HSI")
    with pytest.raises(DataError, match="not found"):
        WidePanel.from_dir(tmp_path / "nowhere")


def test_normal_panel_has_known_market_adjusted_sigma() -> None:
    panel = WidePanel.normal(50, 2000, sigma=0.02, seed=3, market_sigma=0.01, beta=1.0)
    resid = panel.returns - panel.market[:, None]
    assert resid.std() == pytest.approx(0.02, rel=0.01)  # 100,000 draws: sd of the estimate ~0.2 %
    assert panel.market.std() == pytest.approx(0.01, rel=0.05)


def test_between_keeps_the_dated_rows() -> None:
    panel = WidePanel.normal(3, 30, seed=0, start="2021-01-04")
    cut = panel.between("2021-01-11", "2021-01-15")
    np.testing.assert_array_equal(cut.dates, pd.bdate_range("2021-01-11", "2021-01-15").values)
    np.testing.assert_array_equal(cut.returns, panel.returns[5:10])
    assert len(panel.between(end="2021-01-05").dates) == 2 and len(panel.between("2021-02-12").dates) == 1


def test_gathered_windows_equal_the_study_panel_builder() -> None:
    """The fancy-indexed panel of a simulation holds what build_panel gathers for the same pairs."""
    from eventstudy.simulate import _Context, _return_panel, _Sampler

    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2015-01-01", periods=700)
    prices = pd.DataFrame(
        np.exp(np.cumsum(rng.normal(0, 0.01, (700, 6)), axis=0)) * 50, index=dates, columns=[f"T{i}" for i in range(6)]
    )
    prices.iloc[350, 2] = np.nan  # a gap: windows over it are not eligible
    market = pd.Series(np.exp(np.cumsum(rng.normal(0, 0.008, 700))) * 1000, index=dates, name="^GSPC")
    wide = WidePanel.from_prices(prices, market)
    result = simulate(
        wide, n_samples=3, n_events=6, deltas=(0.0,), tests=("cross_sectional_t",), workers=0, progress=False
    )
    draws = result.draws
    assert len(draws) == 18 and draws.groupby("sample")["ticker"].nunique().eq(6).all()

    ctx = _Context(wide, result.spec, _Sampler.from_mask(wide.eligible(EST, EVT)), np.array(["XNYS"] * 6, dtype=object))
    tick = np.array([wide.tickers.index(t) for t in draws["ticker"]])
    row0 = np.searchsorted(wide.dates, draws["day_zero"].to_numpy())
    ours = _return_panel(ctx, np.arange(3), tick, row0)

    series = {c: PriceSeries(c, prices.index[prices[c].notna()], prices[c].dropna().to_numpy()) for c in prices}
    series["^GSPC"] = PriceSeries("^GSPC", market.index, market.to_numpy())
    pairs = pd.DataFrame(
        {
            "event_id": ours.pairs["event_id"],
            "ticker": draws["ticker"],
            "benchmark": "^GSPC",
            "day_zero": draws["day_zero"],
        }
    )
    theirs, excluded = build_panel(pairs, PriceTable.from_series(series.values()), EST, EVT, "simple", bench_own=True)
    assert excluded.empty
    for name in ("est_returns", "est_market", "evt_returns", "evt_market", "evt_span", "est_bench_own"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-12, atol=0, err_msg=name)
    np.testing.assert_array_equal(ours.est_dates, theirs.est_dates)
    np.testing.assert_array_equal(ours.evt_dates, theirs.evt_dates)
    assert np.isfinite(ours.est_returns).all() and np.isfinite(ours.evt_returns).all()


# --------------------------------------------------------------------------------------------------
# Statistics of the simulation
# --------------------------------------------------------------------------------------------------


def test_power_formula_matches_the_methods_table() -> None:
    # METHODS.md §7.1 table, sigma = 2 %, N = 20: 0.20, 0.61, 0.92, 0.99 (rounded)
    assert [round(j1_power(d, 20, 0.02), 2) for d in (0.005, 0.01, 0.015, 0.02)] == [0.20, 0.61, 0.92, 0.99]


J1_NAMES = [
    pytest.param("j1", marks=pytest.mark.skipif("j1" not in REGISTRY, reason="j1 not registered yet")),
    "patell_z",
]


@pytest.fixture(scope="module")
def j1_run() -> SimulationResult:
    """Market-adjusted model on R_it = R_mt + ε_it, ε ~ N(0, 2 %²): AR = ε, σ(CAR over L days) = 2 % √L."""
    panel = WidePanel.normal(400, 700, sigma=0.02, seed=7, market_sigma=0.01, beta=1.0)
    names = tuple(n for n in ("j1", "patell_z") if n in REGISTRY)
    return simulate(
        panel,
        n_samples=500,
        n_events=20,
        deltas=(0.0, 0.005, 0.01),
        car_windows=((0, 0), (-1, 1)),
        model="market_adjusted",
        tests=names,
        alphas=(0.05,),
        seed=2024,
        workers=0,
        progress=False,
    )


@pytest.mark.parametrize("name", J1_NAMES)
@pytest.mark.parametrize(
    ("scope", "window", "length"), [("day", (0, 0), 1), ("window", (0, 0), 1), ("window", (-1, 1), 3)]
)
@pytest.mark.parametrize("delta", [0.0, 0.005, 0.01])
def test_j1_power_matches_the_analytic_function(
    j1_run: SimulationResult, name: str, scope: str, window: tuple[int, int], length: int, delta: float
) -> None:
    """Monte Carlo power within 4 MC standard errors of Φ(-z + δ√N/σ) + Φ(-z - δ√N/σ).

    J1 uses the estimated s_i (M = 239 estimation days), so its null is N(0,1) only asymptotically; the
    difference is far below the Monte Carlo error of R = 500. Patell Z with equal variances is
    sqrt((M - 2)/M) J1 here, i.e. the same test to 0.4 %.
    """
    expected = j1_power(delta, 20, 0.02 * math.sqrt(length))
    row = cell(j1_run, name, scope, window, delta, 0.05)
    assert row["n_valid"] == 500
    se = math.sqrt(expected * (1 - expected) / 500)
    assert abs(row["rejection_rate"] - expected) <= 4 * se, (row["rejection_rate"], expected, se)


def test_size_under_h0_on_normal_returns_for_every_registered_test() -> None:
    """With i.i.d. normal returns every registered test rejects at its nominal level (within 4 MC SE)."""
    panel = WidePanel.normal(300, 400, sigma=0.02, seed=5, market_sigma=0.01, beta=0.8)
    n = 200
    result = simulate(
        panel,
        n_samples=n,
        n_events=20,
        deltas=(0.0,),
        alphas=(0.05, 0.10),
        seed=99,
        workers=0,
        chunk_size=25,
        progress=False,
    )
    tab = result.table
    shown = (tab["scope"] == "window") | (tab["window_start"] == 0)
    tab = tab[shown & (tab["n_valid"] > 0)]
    assert set(tab["test"]) >= {"cross_sectional_t", "patell_z", "bmp_t"}
    band = 4 * np.sqrt(tab["alpha"] * (1 - tab["alpha"]) / tab["n_valid"])
    off = tab[(tab["rejection_rate"] - tab["alpha"]).abs() > band]
    assert off.empty, off[
        ["test", "scope", "window_start", "window_end", "alpha", "rejection_rate", "n_valid"]
    ].to_string()
    assert (tab["n_valid"] == n).all(), tab.loc[tab["n_valid"] < n, ["test", "reason"]].drop_duplicates().to_string()


@pytest.mark.slow
def test_results_do_not_depend_on_workers_and_extend_by_prefix() -> None:
    """Fixed chunks and one seed per sample: the worker count changes nothing (every registered test)."""
    panel = WidePanel.normal(60, 320, sigma=0.02, seed=1)
    settings = dict(n_events=8, deltas=(0.0, 0.01), seed=42, chunk_size=2, progress=False)
    one = simulate(panel, n_samples=6, workers=1, **settings)
    two = simulate(panel, n_samples=6, workers=2, **settings)
    np.testing.assert_array_equal(one.p_values, two.p_values)
    np.testing.assert_array_equal(one.statistics, two.statistics)
    pd.testing.assert_frame_equal(one.table, two.table)
    pd.testing.assert_frame_equal(one.draws, two.draws)
    assert one.to_markdown() == two.to_markdown()
    # in this process (BLAS threads as configured): same draws and table, p-values equal up to rounding
    here = simulate(panel, n_samples=6, workers=0, **settings)
    pd.testing.assert_frame_equal(here.draws, one.draws)
    pd.testing.assert_frame_equal(here.table, one.table)
    np.testing.assert_allclose(here.p_values, one.p_values, rtol=1e-9, atol=1e-12)
    # the first 4 samples of a 6-sample run are the 4-sample run
    four = simulate(panel, n_samples=4, workers=0, **settings)
    np.testing.assert_allclose(four.p_values, here.p_values[:, :4], rtol=1e-9, atol=1e-12)


def test_bad_settings_raise_input_errors() -> None:
    panel = WidePanel.normal(30, 400, seed=0)
    with pytest.raises(InputError) as info:
        simulate(panel, n_events=31, workers=0)
    assert info.value.parameter == "n_events"
    for kwargs, parameter in (
        ({"inject_days": (7,)}, "inject_days"),
        ({"alphas": (0.0,)}, "alphas"),
        ({"deltas": (0.0, 0.0)}, "deltas"),
        ({"n_samples": 0}, "n_samples"),
        ({"workers": -1}, "workers"),
    ):
        with pytest.raises(InputError) as info:
            simulate(panel, n_events=5, **kwargs)  # type: ignore[arg-type]
        assert info.value.parameter == parameter
    with pytest.raises(InputError):
        simulate(panel, n_events=5, tests=("no_such_test",))


def test_table_markdown_and_plot() -> None:
    panel = WidePanel.normal(60, 400, seed=2)
    result = simulate(
        panel,
        n_samples=8,
        n_events=8,
        deltas=(0.0, 0.02),
        tests=("cross_sectional_t", "bmp_t"),
        workers=0,
        progress=False,
    )
    tab = result.table
    assert tuple(tab.columns) == TABLE_COLUMNS
    # 2 tests x (11 days + 3 windows) x 2 deltas x 3 alphas
    assert len(tab) == 2 * 14 * 2 * 3
    assert (tab["n_samples"] == 8).all()
    p = tab["rejection_rate"]
    np.testing.assert_allclose(tab["mc_se"], np.sqrt(p * (1 - p) / tab["n_valid"]), rtol=1e-12)
    text = result.to_markdown(alphas=(0.05,))
    assert "| test | day / CAR window | δ = 0 % | δ = 2 % | n |" in text
    assert "| bmp_t | CAR [-1, +1] |" in text
    assert "| bmp_t | day 0 = CAR [0, 0] |" in text  # identical day and one-day window rows are merged
    assert "α = 1 %" not in text
    placebo = result.placebo_days(alphas=(0.05,))
    assert list(placebo["test"]) == ["cross_sectional_t", "bmp_t"]
    assert (placebo["n_days"] == 10).all() and (placebo["n_valid"] == 80).all()  # days -5..5 except 0, 8 samples
    assert "**Placebo days**" in result.report_markdown()
    fig = result.plot_power()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 4  # day 0 and three CAR windows
    assert all(ax.get_ylabel().startswith("Rejection rate") for ax in axes)
    assert axes[0].yaxis.get_major_formatter().__class__.__name__ == "PercentFormatter"
    assert "cross_sectional_t" in [t.get_text() for t in fig.legends[0].get_texts()]


# --------------------------------------------------------------------------------------------------
# Command line and real data
# --------------------------------------------------------------------------------------------------


def _write_panel(folder: Path, n_tickers: int, n_days: int) -> Path:
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2018-01-01", periods=n_days)
    prices = pd.DataFrame(
        np.exp(np.cumsum(rng.normal(0, 0.01, (n_days, n_tickers)), axis=0)) * 20,
        index=pd.Index(dates, name="Date"),
        columns=[f"S{i}" for i in range(n_tickers)],
    )
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "adj_close_wide.csv.gz", "wt", encoding="utf-8") as fh:
        prices.to_csv(fh)
    market = pd.DataFrame(
        {"^GSPC": np.exp(np.cumsum(rng.normal(0, 0.008, n_days))) * 3000}, index=pd.Index(dates, name="Date")
    )
    market.to_csv(folder / "market.csv")
    return folder


def test_cli_simulate_writes_table_markdown_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    panel_dir = _write_panel(tmp_path / "panel", n_tickers=12, n_days=300)
    out = tmp_path / "out"
    args = ["simulate", "--panel", str(panel_dir), "--samples", "4", "--events", "5", "--delta", "0", "--delta", "1%",
            "--tests", "cross_sectional_t,bmp_t", "--workers", "0", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "δ = 1 %" in printed and "simulation.csv" in printed
    table = pd.read_csv(out / "simulation.csv")
    assert tuple(table.columns) == TABLE_COLUMNS
    assert sorted(table["delta"].unique()) == [0.0, 0.01]
    assert (out / "power.png").read_bytes()[:4] == b"\x89PNG"
    assert "4 x 5" in (out / "simulation.md").read_text(encoding="utf-8")


def test_cli_simulate_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--panel", str(tmp_path), "--quiet"]) == 3
    assert "not found" in capsys.readouterr().err
    panel_dir = _write_panel(tmp_path / "panel", n_tickers=6, n_days=300)
    assert main(["simulate", "--panel", str(panel_dir), "--delta", "1pc", "--quiet"]) == 2
    assert "--delta" in capsys.readouterr().err
    assert main(["simulate", "--panel", str(panel_dir), "--events", "50", "--quiet", "--workers", "0"]) == 2
    assert "n_events" in capsys.readouterr().err
    assert main(["simulate", "--panel", str(panel_dir), "--end", "2018-13-01", "--quiet"]) == 2
    # too short a period for a 250-day window: no eligible day 0
    assert (
        main(
            ["simulate", "--panel", str(panel_dir), "--end", "2018-06-01", "--events", "2", "--quiet", "--workers", "0"]
        )
        == 2
    )


@pytest.mark.slow
@pytest.mark.realdata
def test_real_panel_smoke(shared_dir: Path) -> None:
    """20 samples x 20 events on the S&P 500 panel (``../shared/docs/DATA.md`` §6.2) with every registered test."""
    panel = WidePanel.from_dir(shared_dir / DEFAULT_PANEL)
    assert panel.returns.shape == (2768, 476)
    result = simulate(panel, n_samples=20, n_events=20, deltas=(0.0, 0.02), seed=3, workers=2, progress=False)
    tab = result.table
    assert set(tab["test"]) == set(REGISTRY)
    assert tab["rejection_rate"].dropna().between(0, 1).all()
    assert (result.events_used == 20).all()
    # day 0 lies inside the panel with full windows: 244 trading days before, 5 after
    rows = np.searchsorted(panel.dates, result.draws["day_zero"].to_numpy())
    assert rows.min() >= 244 and rows.max() <= len(panel.dates) - 6
    # a 2 % abnormal return on day 0 with N = 20 is detected nearly always (σ of daily ARs ≈ 1-2 %)
    for name in ("cross_sectional_t", "patell_z", "bmp_t"):
        assert cell(result, name, "day", (0, 0), 0.02, 0.05)["rejection_rate"] >= 0.8
