"""J1, J2, Brown-Warner 1980/1985, Lamb, skewness-adjusted t, and the Patell/BMP knobs.

The simulated world and the hand formulas here are shared with ``test_clustered.py`` (Kolari-Pynnönen) and
``test_calendar_time.py``.

Every expected value is a hand computation in this file (numpy loops over events and days, pandas joins
for calendar alignment), written from ``docs/methods.md`` §6.2, never from the engine's code. The data are
a simulated market model: firm returns load on a market return and on a common factor (so residuals are
cross-correlated), the models are fitted here by least squares, and InferenceData is assembled by hand.

Tolerances: the engine and the hand computations evaluate the same formulas with sums in a different
order, so they agree to a few ulps; rtol=1e-10 leaves room for that and still catches any convention
error (which moves the digits at 1e-3 or more).
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eventstudy.conventions import ESTUDY2, Conventions
from eventstudy.inference import InferenceData, run_tests
from eventstudy.inference import parametric as parametric_module
from eventstudy.inference.base import REGISTRY, firm_event_keys, group_generator

RTOL = 1e-10
START = np.datetime64("2021-01-04")
REL_DAYS = np.arange(-2, 3)
WINDOWS = ((0, 0), (-1, 1), (-2, 2))
MINE = (
    "j1",
    "j2",
    "brown_warner_1980",
    "brown_warner_1985",
    "lamb",
    "kp_patell_z",
    "kp_bmp_t",
    "skewness_adjusted_t",
    "skewness_adjusted_bootstrap",
    "calendar_time_portfolio",
    "cross_sectional_t",
    "patell_z",
    "bmp_t",
)


@dataclasses.dataclass
class Sim:
    """Simulated study: InferenceData plus the raw pieces the hand computations use."""

    data: InferenceData
    est_returns: np.ndarray  # (N, L)
    est_rows_market: np.ndarray  # (N, L) market on each estimation row (NaN where the return is missing)


def simulate(
    seed: int = 1,
    n: int = 8,
    l_est: int = 80,
    offsets: np.ndarray | None = None,
    conventions: Conventions | None = None,
    missing: bool = True,
    markets: np.ndarray | None = None,
) -> Sim:
    """Market-model world on consecutive calendar dates; event i's rows start ``offsets[i]`` days in."""
    rng = np.random.default_rng(seed)
    offsets = np.zeros(n, dtype=int) if offsets is None else np.asarray(offsets)
    w = len(REL_DAYS)
    n_dates = int(offsets.max()) + l_est + w
    calendar = START + np.arange(n_dates)
    market = rng.normal(0.0005, 0.01, n_dates)
    common = rng.normal(0.0, 0.012, n_dates)
    rows = offsets[:, None] + np.arange(l_est + w)
    alpha, beta, sigma = rng.normal(0, 0.001, n), rng.uniform(0.5, 1.5, n), rng.uniform(0.01, 0.03, n)
    ret = (
        alpha[:, None] + beta[:, None] * market[rows] + common[rows] + sigma[:, None] * rng.standard_normal(rows.shape)
    )
    ret[:, l_est + 2] += 0.01  # day 0 effect
    if missing:
        ret[0, :7] = np.nan  # shorter estimation sample: M_0 = l_est - 7
        ret[1, l_est + 1] = np.nan  # event 1 has no return on day -1
    m_all = market[rows]
    est_r, evt_r = ret[:, :l_est], ret[:, l_est:]
    est_m, evt_m = m_all[:, :l_est], m_all[:, l_est:]
    conventions = Conventions() if conventions is None else conventions
    ddof = conventions.ddof(2)
    resid = np.full((n, l_est), np.nan)
    s2, m_obs = np.empty(n), np.empty(n, dtype=np.int64)
    xtx_inv = np.empty((n, 2, 2))
    ar, lev = np.empty((n, w)), np.empty((n, w))
    for i in range(n):
        ok = np.isfinite(est_r[i])
        x = np.column_stack([np.ones(ok.sum()), est_m[i, ok]])
        b = np.linalg.lstsq(x, est_r[i, ok], rcond=None)[0]
        resid[i, ok] = est_r[i, ok] - x @ b
        m_obs[i] = ok.sum()
        s2[i] = resid[i, ok] @ resid[i, ok] / (m_obs[i] - ddof)
        xtx_inv[i] = np.linalg.inv(x.T @ x)
        xe = np.column_stack([np.ones(w), evt_m[i]])
        ar[i] = evt_r[i] - xe @ b
        lev[i] = np.einsum("wk,kj,wj->w", xe, xtx_inv[i], xe)
    design = np.stack([np.ones((n, w)), evt_m], axis=2)
    ar_var = s2[:, None] * (1 + lev) if conventions.fec else np.repeat(s2[:, None], w, axis=1)
    car = np.empty((n, len(WINDOWS)))
    car_var = np.empty_like(car)
    for c, (a, b_) in enumerate(WINDOWS):
        cols = np.flatnonzero((a <= REL_DAYS) & (b_ >= REL_DAYS))
        car[:, c] = ar[:, cols].sum(axis=1)
        g = design[:, cols].sum(axis=1)
        car_var[:, c] = s2 * (len(cols) + np.einsum("nk,nkj,nj->n", g, xtx_inv, g))
    car_var[~np.isfinite(car)] = np.nan
    est_dates = calendar[rows[:, :l_est]].astype("datetime64[D]")
    est_dates = np.where(np.isfinite(est_r), est_dates, np.datetime64("NaT"))
    data = InferenceData(
        ar=ar,
        ar_var=ar_var,
        car=car,
        car_var=car_var,
        df=m_obs - 2,
        rel_days=REL_DAYS,
        car_windows=WINDOWS,
        conventions=conventions,
        est_resid=resid,
        est_dates=est_dates,
        est_market=np.where(np.isfinite(est_r), est_m, np.nan),
        evt_market=evt_m,
        evt_returns=evt_r,
        evt_dates=calendar[rows[:, l_est:]].astype("datetime64[D]"),
        s2=s2,
        n_obs=m_obs,
        k=2,
        xtx_inv=xtx_inv,
        event_design=design,
        markets=np.full(n, "XNYS", dtype=object) if markets is None else markets,
        keys=firm_event_keys(np.full(n, "ev"), [f"T{i:03d}" for i in range(n)]),
    )
    return Sim(data, est_r, np.where(np.isfinite(est_r), est_m, np.nan))


def compute(data: InferenceData, name: str, scope: str, groups: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    groups = np.zeros(len(data.ar), dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    return REGISTRY[name].compute(data, scope, groups, int(groups.max()) + 1)  # type: ignore[arg-type]


def cols_of(window: tuple[int, int]) -> np.ndarray:
    return np.flatnonzero((window[0] <= REL_DAYS) & (window[1] >= REL_DAYS))


# ------------------------------------------------------------------------------------------ hand formulas


def hand_cda_scale(resid: np.ndarray) -> tuple[float, int]:
    """S_A, M_A: sd (ddof 1) of the per-row mean residual over rows with any residual."""
    a = [resid[np.isfinite(resid[:, t]), t].mean() for t in range(resid.shape[1]) if np.isfinite(resid[:, t]).any()]
    return float(np.std(a, ddof=1)), len(a)


def hand_rbar(data: InferenceData, rows: np.ndarray, min_overlap: int) -> tuple[float, int]:
    """Mean Pearson correlation over pairs with >= min_overlap common calendar dates (pandas inner join)."""
    series = []
    for i in rows:
        ok = np.isfinite(data.est_resid[i])
        series.append(pd.Series(data.est_resid[i, ok] / math.sqrt(data.s2[i]), index=data.est_dates[i, ok]))
    rhos = []
    for a in range(len(rows)):
        for b in range(a + 1, len(rows)):
            joined = pd.concat([series[a], series[b]], axis=1, join="inner")
            if len(joined) >= min_overlap:
                rhos.append(np.corrcoef(joined.iloc[:, 0], joined.iloc[:, 1])[0, 1])
    return (float(np.mean(rhos)) if rhos else 0.0), len(rhos)


def hand_bmp(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean() / (x.std(ddof=1) / math.sqrt(len(x))))


def hand_patell(x: np.ndarray, m_k: np.ndarray) -> float:
    ok = np.isfinite(x)
    return float(x[ok].sum() / math.sqrt((m_k[ok] / (m_k[ok] - 2)).sum()))


def hand_tsa(x: np.ndarray) -> float:
    n = len(x)
    sd = x.std(ddof=1)
    s = x.mean() / sd
    gamma = ((x - x.mean()) ** 3).sum() / (n * sd**3)
    return float(math.sqrt(n) * (s + gamma * s**2 / 3 + gamma / (6 * n)))


# ------------------------------------------------------------------------------------------ tests


class TestJ1J2:
    def test_j1_day_and_window(self) -> None:
        d = simulate().data
        day = compute(d, "j1", "day")
        for t in range(5):
            ok = np.isfinite(d.ar[:, t])
            z = d.ar[ok, t].sum() / math.sqrt(d.ar_var[ok, t].sum())
            np.testing.assert_allclose(day.statistic[0, t], z, rtol=RTOL)
            np.testing.assert_allclose(day.p_value[0, t], 2 * stats.norm.sf(abs(z)), rtol=RTOL)
            assert day.n[0, t] == ok.sum()
        win = compute(d, "j1", "window")
        for c in range(3):
            ok = np.isfinite(d.car[:, c])
            caar = d.car[ok, c].mean()
            j1 = caar / math.sqrt(d.car_var[ok, c].sum() / ok.sum() ** 2)
            np.testing.assert_allclose(win.statistic[0, c], j1, rtol=RTOL)
        assert win.family == "normal"

    def test_j1_single_event_is_its_standardized_ar(self) -> None:
        d = simulate().data
        block = compute(d, "j1", "day", np.arange(8))
        np.testing.assert_allclose(block.statistic[3], d.ar[3] / np.sqrt(d.ar_var[3]), rtol=RTOL)

    def test_j2_matches_formula_and_patell_window(self) -> None:
        d = simulate().data
        j2 = compute(d, "j2", "window")
        scar = d.car / np.sqrt(d.car_var)
        for c in range(3):
            np.testing.assert_allclose(j2.statistic[0, c], hand_patell(scar[:, c], d.df.astype(float)), rtol=RTOL)
        np.testing.assert_allclose(j2.statistic, compute(d, "patell_z", "window").statistic, rtol=RTOL)
        assert REGISTRY["j2"].scopes == ("window",)

    def test_j2_ignores_patell_knobs(self) -> None:
        d = simulate().data
        knobbed = dataclasses.replace(
            d, conventions=Conventions().with_knobs(patell_car="csar", patell_denominator="all")
        )
        np.testing.assert_allclose(
            compute(knobbed, "j2", "window").statistic, compute(d, "j2", "window").statistic, rtol=RTOL
        )


class TestBrownWarner1980:
    def test_day_present_and_df(self) -> None:
        d = simulate().data
        block = compute(d, "brown_warner_1980", "day")
        for t in range(5):
            ok = np.isfinite(d.ar[:, t])
            stat = d.ar[ok, t].mean() / (math.sqrt(d.s2[ok].sum()) / ok.sum())
            df = d.n_obs[ok].mean() - 2
            np.testing.assert_allclose(block.statistic[0, t], stat, rtol=RTOL)
            np.testing.assert_allclose(block.df[0, t], df, rtol=RTOL)
            np.testing.assert_allclose(block.p_value[0, t], 2 * stats.t.sf(abs(stat), df), rtol=1e-8)

    def test_day_estudy2_knobs(self) -> None:
        d = simulate(conventions=Conventions().with_knobs(bw1980_n="all", bw1980_df="M-1")).data
        block = compute(d, "brown_warner_1980", "day")
        t = 1  # event 1 is missing: AAR over 7 events, variance sum over all 8
        stat = np.nanmean(d.ar[:, t]) / (math.sqrt(d.s2.sum()) / 8)
        np.testing.assert_allclose(block.statistic[0, t], stat, rtol=RTOL)
        np.testing.assert_allclose(block.df[0, t], d.n_obs.mean() - 1, rtol=RTOL)
        assert block.n[0, t] == 7

    def test_window_on_cars(self) -> None:
        d = simulate().data
        block = compute(d, "brown_warner_1980", "window")
        for c, window in enumerate(WINDOWS):
            ok = np.isfinite(d.car[:, c])
            length = len(cols_of(window))
            stat = d.car[ok, c].mean() / (math.sqrt((length * d.s2[ok]).sum()) / ok.sum())
            np.testing.assert_allclose(block.statistic[0, c], stat, rtol=RTOL)
            assert block.n[0, c] == ok.sum()

    def test_window_sum_daily_with_coverage(self) -> None:
        # coverage on day -1 is 7/8 = 87.5 %: excluded at car_coverage 0.9, kept at 0.8
        for coverage, expect_days in ((0.9, {-2, 0, 1, 2}), (0.8, {-2, -1, 0, 1, 2})):
            d = simulate(conventions=Conventions().with_knobs(car_tests="sum_daily", car_coverage=coverage)).data
            daily = compute(d, "brown_warner_1980", "day").statistic[0]
            block = compute(d, "brown_warner_1980", "window")
            for c, window in enumerate(WINDOWS):
                days = [t for t in cols_of(window) if REL_DAYS[t] in expect_days]
                np.testing.assert_allclose(block.statistic[0, c], daily[days].sum() / math.sqrt(len(days)), rtol=RTOL)


class TestBrownWarner1985:
    def test_day_and_window(self) -> None:
        d = simulate().data
        s_a, m_a = hand_cda_scale(d.est_resid)
        day = compute(d, "brown_warner_1985", "day")
        np.testing.assert_allclose(day.statistic[0], np.nanmean(d.ar, axis=0) / s_a, rtol=RTOL)
        np.testing.assert_allclose(day.df[0], m_a - 1)
        assert m_a == 80  # event 0 misses 7 rows, the others cover them
        win = compute(d, "brown_warner_1985", "window")
        for c, window in enumerate(WINDOWS):
            ok = np.isfinite(d.car[:, c])
            np.testing.assert_allclose(
                win.statistic[0, c], d.car[ok, c].mean() / (math.sqrt(len(cols_of(window))) * s_a), rtol=RTOL
            )

    def test_groups_use_their_own_residuals(self) -> None:
        d = simulate().data
        groups = np.array([0, 0, 0, 1, 1, 1, 1, 1])
        block = compute(d, "brown_warner_1985", "day", groups)
        for g in range(2):
            s_a, _ = hand_cda_scale(d.est_resid[groups == g])
            np.testing.assert_allclose(block.statistic[g], np.nanmean(d.ar[groups == g], axis=0) / s_a, rtol=RTOL)

    def test_sum_daily(self) -> None:
        d = simulate(conventions=ESTUDY2).data
        daily = compute(d, "brown_warner_1985", "day").statistic[0]
        block = compute(d, "brown_warner_1985", "window")
        days = [t for t in cols_of((-2, 2)) if REL_DAYS[t] != -1]  # day -1 has 7/8 < 90 % coverage
        np.testing.assert_allclose(block.statistic[0, 2], daily[days].sum() / 2.0, rtol=RTOL)
        assert block.n[0, 2] == 8

    def test_sum_daily_names_the_daily_reason_per_group(self) -> None:
        """A group whose daily statistic is undefined gets the daily reason, prefixed, in its own row."""
        d = simulate(conventions=ESTUDY2).data
        resid = d.est_resid.copy()
        resid[:4, 1:] = np.nan  # group 0: one estimation row with a residual, no S_A
        d = dataclasses.replace(d, est_resid=resid)
        block = compute(d, "brown_warner_1985", "window", np.array([0, 0, 0, 0, 1, 1, 1, 1]))
        assert block.reason[0, 0] == (
            "daily statistic undefined on a day of the window: fewer than 2 estimation days with a residual"
        )
        assert np.isnan(block.statistic[0]).all() and (block.reason[1] == "").all()


class TestLamb:
    @staticmethod
    def factor(sim: Sim, i: int, m_bar: float) -> np.ndarray:
        rows = np.isfinite(sim.data.est_resid[i])
        m = sim.est_rows_market[i, rows]
        return 1 + 1 / m_bar + (sim.data.evt_market[i] - m.mean()) ** 2 / ((m - m.mean()) ** 2).sum()

    def test_day_first_market(self) -> None:
        sim = simulate(
            offsets=np.array([0, 0, 0, 0, 3, 3, 3, 3]), conventions=Conventions().with_knobs(lamb_market="first")
        )
        d = sim.data
        groups = np.array([1, 1, 1, 1, 0, 0, 0, 0])  # group 0's first event is row 4
        block = compute(d, "lamb", "day", groups)
        for g, first in ((0, 4), (1, 0)):
            members = groups == g
            s_a, _ = hand_cda_scale(d.est_resid[members])
            expected = np.nanmean(d.ar[members], axis=0) / (
                s_a * np.sqrt(self.factor(sim, first, d.n_obs[members].mean()))
            )
            np.testing.assert_allclose(block.statistic[g], expected, rtol=RTOL)

    def test_day_own_market_and_windows(self) -> None:
        sim = simulate(offsets=np.array([0, 0, 0, 0, 3, 3, 3, 3]))
        d = sim.data
        s_a, _ = hand_cda_scale(d.est_resid)
        m_bar = d.n_obs.mean()
        own = np.array([self.factor(sim, i, m_bar) for i in range(8)])  # (8, 5)
        present = np.isfinite(d.ar)
        expected = np.array(
            [d.ar[present[:, t], t].mean() / (s_a * np.sqrt(own[present[:, t], t].mean())) for t in range(5)]
        )
        block = compute(d, "lamb", "day")
        np.testing.assert_allclose(block.statistic[0], expected, rtol=RTOL)
        # on_cars window: daily t on the events with a CAR in the window, summed / sqrt(L)
        win = compute(d, "lamb", "window")
        for c, window in enumerate(WINDOWS):
            keep = np.isfinite(d.car[:, c])
            cols = cols_of(window)
            t_days = [d.ar[keep, t].mean() / (s_a * np.sqrt(own[keep, t].mean())) for t in cols]
            np.testing.assert_allclose(win.statistic[0, c], sum(t_days) / math.sqrt(len(cols)), rtol=RTOL)
            assert win.n[0, c] == keep.sum()


class TestSkewnessAdjusted:
    def test_formula_per_group(self) -> None:
        d = simulate(n=64).data
        groups = np.repeat([0, 1], 32)
        block = compute(d, "skewness_adjusted_t", "window", groups)
        for g in range(2):
            for c in range(3):
                x = d.car[groups == g, c]
                x = x[np.isfinite(x)]
                np.testing.assert_allclose(block.statistic[g, c], hand_tsa(x), rtol=RTOL)
                np.testing.assert_allclose(block.p_value[g, c], 2 * stats.norm.sf(abs(hand_tsa(x))), rtol=1e-8)
        assert (block.reason == "").all()

    def test_minimum_number_of_events_for_the_normal_reference(self) -> None:
        """N = 30 events with a CAR: reported; N = 29 (event 1 misses day -1): NaN with a reason."""
        d = simulate(n=30).data
        block = compute(d, "skewness_adjusted_t", "window")
        assert block.n[0].tolist() == [30, 29, 29]
        x = d.car[:, 0]
        np.testing.assert_allclose(block.statistic[0, 0], hand_tsa(x), rtol=RTOL)
        np.testing.assert_allclose(block.p_value[0, 0], 2 * stats.norm.sf(abs(hand_tsa(x))), rtol=1e-8)
        for c in (1, 2):
            assert np.isnan(block.statistic[0, c]) and np.isnan(block.p_value[0, c])
            assert "at least 30 events" in block.reason[0, c] and "asymptotic" in block.reason[0, c]

    def test_two_events_are_not_referred_to_the_normal(self) -> None:
        """The issue's case: N = 2 gave p = 0.012 from N(0,1) where t(1) gives 0.24; now undefined."""
        d = simulate().data
        block = compute(d, "skewness_adjusted_t", "window", np.array([0, 0, 1, 1, 2, 2, 3, 3]))
        assert np.isnan(block.statistic).all() and np.isnan(block.p_value).all()
        assert "at least 30 events" in block.reason[0, 0]
        # the numbers behind the threshold: the statistic under both references, t(29) vs N(0,1)
        t_sa = stats.norm.isf(0.012 / 2)
        np.testing.assert_allclose(2 * stats.t.sf(t_sa, 1), 0.24, atol=0.005)
        np.testing.assert_allclose(stats.t.ppf(0.975, 29), 2.045, atol=5e-4)

    def test_bootstrap_p_value_by_hand(self) -> None:
        conv = Conventions().with_knobs(bootstrap_samples=400, seed=11)
        d = simulate(n=20, conventions=conv).data
        block = compute(d, "skewness_adjusted_bootstrap", "window")
        for c in range(3):
            rows = np.flatnonzero(np.isfinite(d.car[:, c]))  # keys T000.. sort in row order
            x = d.car[rows, c]
            t = hand_tsa(x)
            nb = math.ceil(len(x) / 4)
            rng = group_generator(conv, "skewness_adjusted_bootstrap", d.keys[rows])  # seed, test, firm-events
            draws = (x - x.mean())[rng.integers(0, len(x), size=(400, nb))]
            t_star = np.array([hand_tsa(row) for row in draws if np.ptp(row) > 0])
            p = min(
                1.0,
                2 * min((1 + (t_star <= t).sum()) / (len(t_star) + 1), (1 + (t_star >= t).sum()) / (len(t_star) + 1)),
            )
            np.testing.assert_allclose(block.statistic[0, c], t, rtol=RTOL)
            np.testing.assert_allclose(block.p_value[0, c], p, rtol=RTOL)
            assert block.df[0, c] == len(t_star)
        again = compute(d, "skewness_adjusted_bootstrap", "window")
        np.testing.assert_array_equal(again.p_value, block.p_value)
        assert block.distribution()[0, 0] == "empirical (B=400)"

    def test_bootstrap_draws_only_for_cells_with_five_cars(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Cells with fewer than 5 CARs never seed a generator; the others keep the draws they get alone."""
        conv = Conventions().with_knobs(bootstrap_samples=300, seed=5)
        d = simulate(n=26, conventions=conv).data
        groups = np.r_[np.zeros(12, dtype=int), np.arange(1, 15)]  # a group of 12, then 14 of one firm-event
        seeded: list[int] = []
        original = parametric_module.group_generator
        monkeypatch.setattr(parametric_module, "group_generator", lambda *a: seeded.append(len(a[2])) or original(*a))
        block = compute(d, "skewness_adjusted_bootstrap", "window", groups)
        assert seeded == [12, 11, 11]  # one generator per window of the group of 12 (event 1 misses day -1)
        alone = REGISTRY["skewness_adjusted_bootstrap"].compute(d.take(np.arange(12)), "window", np.zeros(12, int), 1)
        np.testing.assert_array_equal(block.p_value[0], alone.p_value[0])
        assert np.isnan(block.p_value[1:]).all()


class TestPatellBmpKnobs:
    def test_mean_x_n_and_denominator_all(self) -> None:
        conv = Conventions().with_knobs(daily_sums="mean_x_n", patell_denominator="all")
        d = simulate(conventions=conv).data
        block = compute(d, "patell_z", "day")
        sar = d.ar / np.sqrt(d.ar_var)
        m = d.n_obs.astype(float)
        for t in range(5):
            z = np.nanmean(sar[:, t]) * 8 / math.sqrt(((m - 2) / (m - 4)).sum())
            np.testing.assert_allclose(block.statistic[0, t], z, rtol=RTOL)

    def test_csar_window(self) -> None:
        d = simulate(conventions=Conventions().with_knobs(patell_car="csar")).data
        block = compute(d, "patell_z", "window")
        sar = d.ar / np.sqrt(d.ar_var)
        for c, window in enumerate(WINDOWS):
            cols = cols_of(window)
            csar = sar[:, cols].sum(axis=1) / math.sqrt(len(cols))
            np.testing.assert_allclose(block.statistic[0, c], hand_patell(csar, d.df.astype(float)), rtol=RTOL)

    def test_bmp_normal_reference(self) -> None:
        d = simulate(conventions=Conventions().with_knobs(bmp_reference="normal")).data
        for name in ("bmp_t", "kp_bmp_t"):
            block = compute(d, name, "day")
            assert block.family == "normal"
            np.testing.assert_allclose(block.p_value, 2 * stats.norm.sf(np.abs(block.statistic)), rtol=RTOL)


# ------------------------------------------------------------------------------------------ robustness


def _degenerate_sets() -> list[tuple[str, InferenceData, np.ndarray]]:
    sim = simulate()
    d = sim.data
    flat_ar = np.full_like(d.ar, 0.01)
    zero_var = dataclasses.replace(
        d,
        ar=flat_ar,
        car=np.tile(flat_ar[:, :1], (1, 3)),
        est_resid=np.where(np.isfinite(d.est_resid), 0.0, np.nan),
        s2=np.zeros(8),
        ar_var=np.zeros_like(d.ar),
        car_var=np.zeros_like(d.car),
        evt_returns=np.full_like(d.ar, 0.01),
    )
    missing_day = dataclasses.replace(
        d, ar=np.where(np.arange(5) == 2, np.nan, d.ar), car=np.where(np.arange(3) >= 1, np.nan, d.car)
    )
    short = dataclasses.replace(d, n_obs=np.full(8, 4), df=np.full(8, 2))
    return [
        ("singletons and pairs", d, np.array([0, 1, 1, 2, 2, 2, 3, 4])),
        ("zero variance", zero_var, np.zeros(8, dtype=np.int64)),
        ("missing day", missing_day, np.array([0, 0, 0, 0, 1, 1, 1, 1])),
        ("M - k <= 2", short, np.zeros(8, dtype=np.int64)),
    ]


@pytest.mark.parametrize("case", range(4))
def test_degenerate_cells_are_nan_with_reason(case: int) -> None:
    label, data, groups = _degenerate_sets()[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = run_tests(data, groups, tuple(f"e{g}" for g in range(groups.max() + 1)), MINE)
    for name, scope, block in table.blocks:
        undefined = ~np.isfinite(block.statistic)
        assert (block.reason[undefined] != "").all(), (label, name, scope)
        assert np.isnan(block.p_value[undefined]).all(), (label, name, scope)


def test_expected_nan_reasons() -> None:
    cases = {c[0]: c for c in _degenerate_sets()}
    _, d, groups = cases["singletons and pairs"]
    bmp = compute(d, "bmp_t", "day", groups)
    assert np.isnan(bmp.statistic[0]).all() and "at least 2" in bmp.reason[0, 0]
    assert np.isfinite(bmp.statistic[1, [0, 2, 3, 4]]).all()  # N = 2 is defined
    assert "at least 2" in bmp.reason[1, 1]  # event 1 has no AR on day -1: N = 1 left
    assert np.isfinite(compute(d, "j1", "day", groups).statistic[0]).all()  # one event: its own z
    _, z, g0 = cases["zero variance"]
    assert "zero residual variance" in compute(z, "brown_warner_1980", "day", g0).reason[0, 0]
    assert "zero variance of the mean estimation residual" in compute(z, "brown_warner_1985", "day", g0).reason[0, 0]
    assert "zero variance" in compute(z, "j1", "window", g0).reason[0, 0]
    assert "zero cross-sectional variance" in compute(z, "skewness_adjusted_t", "window", g0).reason[0, 0]
    _, m, g1 = cases["missing day"]
    assert "no event has an abnormal return" in compute(m, "brown_warner_1985", "day", g1).reason[0, 2]
    assert "no event has a CAR" in compute(m, "lamb", "window", g1).reason[0, 1]
    _, s, g2 = cases["M - k <= 2"]
    assert "M - k > 2" in compute(s, "j2", "window", g2).reason[0, 0]


def test_day_statistics_vary_across_days() -> None:
    """Guard against a scalar condition applied to a vector (METHODS.md §9, item 2)."""
    d = simulate().data
    for name in ("j1", "brown_warner_1980", "brown_warner_1985", "lamb", "kp_patell_z", "kp_bmp_t"):
        assert len(np.unique(np.round(compute(d, name, "day").statistic[0], 12))) == 5, name


def test_invariant_to_event_order() -> None:
    """Permuting the events changes nothing (METHODS.md §9, item 23); Lamb 'first' excluded by design."""
    d = simulate(offsets=np.array([0, 3, 6, 9, 12, 15, 18, 21])).data
    perm = np.random.default_rng(2).permutation(8)
    fields = {f.name: getattr(d, f.name) for f in dataclasses.fields(d) if f.init}
    permuted = InferenceData(
        **{
            k: (v[perm] if isinstance(v, np.ndarray) and v.ndim and len(v) == 8 and k != "rel_days" else v)
            for k, v in fields.items()
        }
    )
    groups = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    for name in MINE:
        for scope in REGISTRY[name].scopes:
            a, b = compute(d, name, scope, groups), compute(permuted, name, scope, groups[perm])
            np.testing.assert_allclose(a.statistic, b.statistic, rtol=1e-9, err_msg=name)
