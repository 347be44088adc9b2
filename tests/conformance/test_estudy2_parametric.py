"""Parametric statistics on the estudy2 COVID-7 fixture (``docs/methods.md`` §8.2).

Inputs are estudy2's own log returns and abnormal returns (``estudy2_inputs.load``, estudy2 profile), so
the only thing under test is each statistic and its conventions:

- ``expected_parametric_tests.csv`` (estudy2 0.10.0): BW1980, BW1985 (CDA), cross-sectional t, Patell,
  BMP and Lamb for the five days of the pooled group;
- ``expected_car_parametric_tests.csv``: ``car_lamb`` and ``car_brown_warner_1985`` (Σ daily / sqrt(L)
  over days with more than 90 % coverage, ``car_tests = "sum_daily"``);
- ``eventstudy_R_0.50.0_KP.csv`` and ``_BMP.csv`` (the R package EventStudy 0.50.0): its BMP has no
  forecast-error factor and uses s_i^2 with divisor M_i - 2, so the test builds that variant from the same
  residuals (``resid_ddof = "k"``, ``fec = False``, ``car_variance = "L_s2"``); r̄ is the pairwise-complete
  Pearson correlation of the estimation ARs on common dates.

Tolerance: the CSVs hold doubles with 15 significant digits and the statistics are a few sums and
divisions of them, so a faithful recomputation agrees to about 1e-14 relative; rtol=1e-10 leaves room for
summation order and BLAS differences and still catches any convention error (a divisor M - 2 instead of
M - 1 moves s_i by 0.2 %). Values quoted in METHODS.md with 6 decimals are checked with atol=1e-6.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from estudy2_inputs import load  # type: ignore[import-not-found]
from scipy import stats

from eventstudy.conventions import Conventions
from eventstudy.inference import run_tests
from eventstudy.inference.clustered import kp_mean_correlation

pytestmark = pytest.mark.realdata

RTOL = 1e-10
POOLED = np.zeros(7, dtype=np.int64)
DAY_COLUMNS = {
    "brown_warner_1980": "bw_1980_stat",
    "brown_warner_1985": "bw_1985_stat",
    "cross_sectional_t": "t_test_stat",
    "patell_z": "pt_stat",
    "bmp_t": "bh_stat",
    "lamb": "lmb_stat",
}


def blocks(data, names):  # type: ignore[no-untyped-def]
    table = run_tests(data, np.zeros(len(data.ar), dtype=np.int64), ("covid",), names)
    return {(name, scope): block for name, scope, block in table.blocks}


@pytest.mark.parametrize("name", list(DAY_COLUMNS))
def test_day_statistics(shared_dir: Path, name: str) -> None:
    fx = load(shared_dir)
    expected = fx.expected("parametric_tests")[DAY_COLUMNS[name]].to_numpy()
    block = blocks(fx.data, (name,))[(name, "day")]
    np.testing.assert_allclose(block.statistic[0], expected, rtol=RTOL)  # row 0 = "all"
    assert (block.n[0] == 7).all() and (block.reason[0] == "").all()


def test_day_statistics_stars_agree(shared_dir: Path) -> None:
    """estudy2 prints stars only; our two-sided p-values must give the same stars (10/5/1 %).

    References differ slightly for the CDA: estudy2 uses t(M̄ - 1) = t(233.1), we t(M_A - 1) = t(239)
    (``docs/methods.md`` §6.2, P6); no star flips on this fixture.
    """
    fx = load(shared_dir)
    table = fx.expected("parametric_tests")
    got = blocks(fx.data, tuple(DAY_COLUMNS))
    for name, column in DAY_COLUMNS.items():
        p = got[(name, "day")].p_value[0]
        stars = np.select([p < 0.01, p < 0.05, p < 0.1], ["***", "**", "*"], "")
        expected = table[column.replace("_stat", "_signif")].fillna("").to_numpy()
        assert list(stars) == list(expected), name


def test_car_statistics(shared_dir: Path) -> None:
    fx = load(shared_dir)
    car = fx.expected("car_parametric_tests").set_index("name")["statistic"]
    got = blocks(fx.data, ("lamb", "brown_warner_1985"))
    np.testing.assert_allclose(got[("lamb", "window")].statistic[0, 0], car["car_lamb"], rtol=RTOL)
    np.testing.assert_allclose(
        got[("brown_warner_1985", "window")].statistic[0, 0], car["car_brown_warner_1985"], rtol=RTOL
    )
    np.testing.assert_allclose(car["car_lamb"], 3.846464, atol=1e-6)  # METHODS.md §8.2
    np.testing.assert_allclose(car["car_brown_warner_1985"], 3.948093, atol=1e-6)


def _eventstudy_r_variant(fx):  # type: ignore[no-untyped-def]
    """The fixture's residuals with R EventStudy's BMP conventions: s^2 on M - 2, no forecast-error factor."""
    d = fx.data
    s2 = np.nansum(d.est_resid**2, axis=1) / (d.n_obs - 2)
    conventions = Conventions(fec=False, car_variance="L_s2")
    return dataclasses.replace(
        d, s2=s2, ar_var=np.repeat(s2[:, None], 5, axis=1), car_var=5 * s2[:, None], conventions=conventions
    )


def test_kolari_pynnonen_bmp_against_eventstudy_r(shared_dir: Path) -> None:
    fx = load(shared_dir)
    data = _eventstudy_r_variant(fx)
    kp = pd.read_csv(fx.folder / "eventstudy_R_0.50.0_KP.csv")
    bmp = pd.read_csv(fx.folder / "eventstudy_R_0.50.0_BMP.csv")
    r_bar, pairs = kp_mean_correlation(data, POOLED, 1)
    assert pairs[0] == 21
    np.testing.assert_allclose(r_bar[0], 0.160240, atol=1e-6)  # METHODS.md §8.2
    np.testing.assert_allclose(np.sqrt((1 - r_bar[0]) / (1 + 6 * r_bar[0])), 0.654319, atol=1e-6)
    got = blocks(data, ("bmp_t", "kp_bmp_t"))
    np.testing.assert_allclose(got[("bmp_t", "day")].statistic[0], bmp["bmp_t"], rtol=RTOL)
    np.testing.assert_allclose(got[("kp_bmp_t", "day")].statistic[0], kp["kp_t"], rtol=RTOL)
    np.testing.assert_allclose(
        got[("kp_bmp_t", "day")].statistic[0], [0.788254, -0.769028, 0.049776, 1.417637, 5.661294], atol=1e-6
    )
    # cumulative [0, 4]: R's last cumulative row is our CAR window (L s^2 CAR variance)
    np.testing.assert_allclose(got[("bmp_t", "window")].statistic[0, 0], bmp["cbmp_t"].iloc[-1], rtol=RTOL)
    np.testing.assert_allclose(got[("kp_bmp_t", "window")].statistic[0, 0], kp["ckp_t"].iloc[-1], rtol=RTOL)


def test_kp_r_bar_does_not_depend_on_the_residual_scale(shared_dir: Path) -> None:
    fx = load(shared_dir)
    a = kp_mean_correlation(fx.data, POOLED, 1)[0]
    b = kp_mean_correlation(_eventstudy_r_variant(fx), POOLED, 1)[0]
    np.testing.assert_allclose(a, b, rtol=RTOL)


def test_single_portfolio_variant_on_the_five_full_histories(shared_dir: Path) -> None:
    """P13's fully clustered variant against statsmodels-free OLS on the fixture's own returns."""
    fx = load(shared_dir)
    keep = np.array([0, 3, 4, 5, 6])  # AMZN, NFLX, SHOP, FB, UPWK: 240 estimation returns each
    d = fx.data
    sub = dataclasses.replace(
        d,
        **{
            f.name: getattr(d, f.name)[keep]
            for f in dataclasses.fields(d)
            if isinstance(getattr(d, f.name), np.ndarray) and getattr(d, f.name).ndim and len(getattr(d, f.name)) == 7
        },
    )
    block = blocks(sub, ("calendar_time_portfolio",))[("calendar_time_portfolio", "window")]
    est = fx.returns.loc["2019-04-02":"2020-03-13"].iloc[:, keep].mean(axis=1)
    evt = fx.returns.loc["2020-03-16":"2020-03-20"].iloc[:, keep].mean(axis=1)
    m_est = fx.market.loc["2019-04-02":"2020-03-13"].to_numpy()
    m_evt = fx.market.loc["2020-03-16":"2020-03-20"].to_numpy()
    x = np.column_stack([np.ones(240), m_est])
    b = np.linalg.lstsq(x, est.to_numpy(), rcond=None)[0]
    e = est.to_numpy() - x @ b
    s2 = e @ e / (240 - 1)  # estudy2 profile: divisor M - 1
    g = np.array([5.0, m_evt.sum()])
    car = (evt.to_numpy() - np.column_stack([np.ones(5), m_evt]) @ b).sum()
    t = car / np.sqrt(s2 * (5 + g @ np.linalg.inv(x.T @ x) @ g))
    np.testing.assert_allclose(block.statistic[0, 0], t, rtol=1e-9)  # via ARs (1e-15) vs refit of returns
    assert block.df[0, 0] == 238
    np.testing.assert_allclose(block.p_value[0, 0], 2 * stats.t.sf(abs(t), 238), rtol=1e-8)


def test_calendar_time_on_all_seven_is_nan_with_reason(shared_dir: Path) -> None:
    block = blocks(load(shared_dir).data, ("calendar_time_portfolio",))[("calendar_time_portfolio", "window")]
    assert np.isnan(block.statistic[0, 0]) and "same estimation dates" in block.reason[0, 0]
