"""Two-way (date, firm) cluster-robust t of standardized abnormal returns (P14, ``twoway_cluster_t``).

Expected values: a hand Cameron-Gelbach-Miller computation with dictionaries of cluster sums
(V_date + V_firm - V_date∩firm), statsmodels' OLS on a constant with ``cov_type="cluster"`` (one- and
two-way), and the rejection rate under the null on simulated data with date and firm effects.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

import numpy as np
import statsmodels.api as sm
from scipy import stats
from test_parametric_battery import REL_DAYS, compute, simulate  # type: ignore[import-not-found]

from eventstudy.inference.base import firm_event_keys
from eventstudy.inference.clustered import firm_codes, twoway_cluster_t

RTOL = 1e-10
DAY = np.datetime64("2021-01-04")


def hand_cgm(y: np.ndarray, dates: np.ndarray, firms: np.ndarray) -> tuple[float, float, int]:
    """t, variance and G = min(G_date, G_firm) by loops: V_A = G_A/(G_A - 1) Σ_c (Σ_{i∈c} e_i)^2 / n^2."""
    n = len(y)
    mean = sum(y) / n
    resid = [v - mean for v in y]

    def term(keys: list[object]) -> tuple[float, int]:
        sums: dict[object, float] = defaultdict(float)
        for key, e in zip(keys, resid, strict=True):
            sums[key] += e
        g = len(sums)
        return g / (g - 1) * sum(s * s for s in sums.values()) / n**2, g

    v_date, g_date = term(list(dates))
    v_firm, g_firm = term(list(firms))
    v_both, _ = term(list(zip(dates, firms, strict=True)))
    variance = v_date + v_firm - v_both
    return mean / math.sqrt(variance), variance, min(g_date, g_firm)


def panel(seed: int, n: int = 60, n_dates: int = 9, n_firms: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y with date and firm effects, its dates (datetime64[D]) and firm codes."""
    rng = np.random.default_rng(seed)
    date = rng.integers(0, n_dates, n)
    firm = rng.integers(0, n_firms, n)
    y = rng.normal(0.2, 1.0, n) + rng.normal(0, 0.7, n_dates)[date] + rng.normal(0, 0.5, n_firms)[firm]
    return y, DAY + date, firm


def test_two_way_variance_against_hand_cgm_and_statsmodels() -> None:
    y, dates, firms = panel(3)
    block = twoway_cluster_t(y[:, None], dates[:, None], firms, np.zeros(len(y), dtype=np.int64), 1)
    t, variance, g = hand_cgm(y, dates, firms)
    np.testing.assert_allclose(block.statistic[0, 0], t, rtol=RTOL)
    assert block.df[0, 0] == g - 1 and block.n[0, 0] == len(y) and block.family == "t"
    np.testing.assert_allclose(block.p_value[0, 0], 2 * stats.t.sf(abs(t), g - 1), rtol=1e-9)
    groups = np.column_stack([(dates - DAY).astype(np.int64), firms])
    fit = sm.OLS(y, np.ones(len(y))).fit(cov_type="cluster", cov_kwds={"groups": groups})
    np.testing.assert_allclose(fit.bse[0] ** 2, variance, rtol=RTOL)
    np.testing.assert_allclose(block.statistic[0, 0], fit.tvalues[0], rtol=RTOL)


def test_one_way_case_equals_statsmodels_cluster_by_date() -> None:
    """Every firm-event its own firm: V_firm and V_date∩firm are both the HC1 term and cancel, V = V_date."""
    y, dates, _ = panel(5, n=40)
    firms = np.arange(len(y))
    block = twoway_cluster_t(y[:, None], dates[:, None], firms, np.zeros(len(y), dtype=np.int64), 1)
    codes = (dates - DAY).astype(np.int64)
    fit = sm.OLS(y, np.ones(len(y))).fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    np.testing.assert_allclose(block.statistic[0, 0], fit.tvalues[0], rtol=RTOL)
    assert block.df[0, 0] == len(np.unique(codes)) - 1 == fit.df_resid_inference
    np.testing.assert_allclose(block.p_value[0, 0], fit.pvalues[0], rtol=1e-9)


def test_groups_and_columns_are_separate_cells() -> None:
    parts = [panel(seed, n=30 + seed) for seed in range(3)]
    y = np.concatenate([p[0] for p in parts])
    dates = np.concatenate([p[1] for p in parts])
    firms = np.concatenate([p[2] for p in parts])
    groups = np.repeat(np.arange(3), [len(p[0]) for p in parts])
    y2 = np.column_stack([y, -2 * y + 1])  # a second column with the same clusters
    block = twoway_cluster_t(y2, np.column_stack([dates, dates]), firms, groups, 3)
    for g, (yg, dg, fg) in enumerate(parts):
        np.testing.assert_allclose(block.statistic[g, 0], hand_cgm(yg, dg, fg)[0], rtol=RTOL)
        np.testing.assert_allclose(block.statistic[g, 1], hand_cgm(-2 * yg + 1, dg, fg)[0], rtol=RTOL)


def test_missing_values_and_undefined_cells() -> None:
    y, dates, firms = panel(7, n=20)
    y[[2, 5]] = np.nan
    dates = dates.copy()
    dates[7] = np.datetime64("NaT")
    block = twoway_cluster_t(y[:, None], dates[:, None], firms, np.zeros(20, dtype=np.int64), 1)
    keep = np.isfinite(y) & ~np.isnat(dates)
    np.testing.assert_allclose(block.statistic[0, 0], hand_cgm(y[keep], dates[keep], firms[keep])[0], rtol=RTOL)
    assert block.n[0, 0] == keep.sum()
    one_date = twoway_cluster_t(y[:, None], np.full((20, 1), DAY), firms, np.zeros(20, dtype=np.int64), 1)
    assert np.isnan(one_date.statistic[0, 0]) and "fewer than 2 calendar dates" in one_date.reason[0, 0]
    one_firm = twoway_cluster_t(y[:, None], dates[:, None], np.zeros(20, dtype=np.int64), np.zeros(20, np.int64), 1)
    assert np.isnan(one_firm.statistic[0, 0]) and "fewer than 2 firms" in one_firm.reason[0, 0]
    empty = twoway_cluster_t(np.full((3, 1), np.nan), dates[:3, None], firms[:3], np.zeros(3, dtype=np.int64), 1)
    assert empty.reason[0, 0] == "no event has a value" and empty.n[0, 0] == 0


def test_registered_test_clusters_by_day_zero_date_and_ticker() -> None:
    """Day τ: SAR on its own dates; CAR windows: SCAR on the day-0 date; firms from the keys' tickers."""
    sim = simulate(n=12, offsets=np.array([0, 0, 0, 3, 3, 3, 7, 7, 9, 9, 12, 12]))
    tickers = ["A", "B", "C", "A", "B", "D", "A", "C", "B", "D", "A", "E"]
    d = dataclasses.replace(sim.data, keys=firm_event_keys([f"e{i}" for i in range(12)], tickers))
    firms = firm_codes(d)
    assert list(firms) == [0, 1, 2, 0, 1, 3, 0, 2, 1, 3, 0, 4]
    sar, scar = d.ar / np.sqrt(d.ar_var), d.car / np.sqrt(d.car_var)
    day = compute(d, "twoway_cluster_t", "day")
    for t in range(len(REL_DAYS)):
        ok = np.isfinite(sar[:, t])
        want = hand_cgm(sar[ok, t], d.evt_dates[ok, t], np.array(tickers)[ok])[0]
        np.testing.assert_allclose(day.statistic[0, t], want, rtol=RTOL)
    window = compute(d, "twoway_cluster_t", "window")
    day_zero = d.evt_dates[:, list(REL_DAYS).index(0)]
    for c in range(scar.shape[1]):
        ok = np.isfinite(scar[:, c])
        want = hand_cgm(scar[ok, c], day_zero[ok], np.array(tickers)[ok])[0]
        np.testing.assert_allclose(window.statistic[0, c], want, rtol=RTOL)


def test_size_under_the_null_with_date_and_firm_effects() -> None:
    """2,000 samples of 120 SARs on 15 dates and 20 firms with common date and firm shocks, mean 0.

    The two-way test rejects near α (within 3 Monte Carlo standard errors of 5 %, plus the t(G - 1)
    approximation's slack); the plain cross-sectional t, which ignores the clusters, rejects far more often.
    """
    alpha = 0.05
    rng = np.random.default_rng(20240601)
    reps, n, n_dates, n_firms = 2000, 120, 15, 20
    date = rng.integers(0, n_dates, (reps, n))
    firm = rng.integers(0, n_firms, (reps, n))
    date_shock = rng.normal(0, 0.6, (reps, n_dates))
    firm_shock = rng.normal(0, 0.4, (reps, n_firms))
    rows = np.arange(reps)[:, None]
    y = date_shock[rows, date] + firm_shock[rows, firm] + rng.standard_normal((reps, n))
    groups = np.repeat(np.arange(reps), n)
    block = twoway_cluster_t(y.reshape(-1, 1), (DAY + date).reshape(-1, 1), firm.ravel(), groups, reps)
    rejected = np.mean(block.p_value[:, 0] < alpha)
    se = math.sqrt(alpha * (1 - alpha) / reps)
    assert abs(rejected - alpha) < 3 * se + 0.02, rejected
    naive = y.mean(axis=1) / (y.std(axis=1, ddof=1) / math.sqrt(n))
    assert np.mean(2 * stats.t.sf(np.abs(naive), n - 1) < alpha) > 0.2  # the clusters matter here (about 0.31)
