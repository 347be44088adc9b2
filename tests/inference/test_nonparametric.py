"""Non-parametric tests against hand computations (per-event loops with numpy/scipy, not the engine).

Every expected value below is computed in the test from the METHODS.md §6.3 / §8.2 formulas with
plain loops over events and days, ``scipy.stats.rankdata`` for ranks, ``np.median`` for medians and
``scipy.stats.wilcoxon`` for the signed-rank test; the engine computes them on whole arrays with
group sums.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from eventstudy.conventions import ESTUDY2, Conventions
from eventstudy.inference import InferenceData, StatTest, run_tests
from eventstudy.inference import ranks as ranks_module
from eventstudy.inference.base import Scope, firm_event_keys
from eventstudy.inference.nonparametric import (
    CorradoRank,
    CorradoZivneySign,
    CowanRank,
    GeneralizedSign,
    GrankT,
    GrankZ,
    ModifiedRank,
    SignTest,
    Wilcoxon,
)
from eventstudy.inference.ranks import exact_signed_rank_pvalue

TEXTBOOK = Conventions()
ALL_TESTS = (
    SignTest,
    GeneralizedSign,
    CorradoRank,
    ModifiedRank,
    CorradoZivneySign,
    CowanRank,
    Wilcoxon,
    GrankT,
    GrankZ,
)


def panel(
    est: np.ndarray,
    ar: np.ndarray,
    rel_days: np.ndarray,
    windows: tuple[tuple[int, int], ...],
    conventions: Conventions = TEXTBOOK,
    s2: np.ndarray | None = None,
) -> InferenceData:
    """InferenceData from estimation residuals (N, L) and event ARs (N, W); CARs with variance L s^2."""
    n, length = est.shape
    w = ar.shape[1]
    m = np.isfinite(est).sum(axis=1)
    if s2 is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            s2 = np.nansum(est**2, axis=1) / (m - 2)
    cols = [np.flatnonzero((rel_days >= a) & (rel_days <= b)) for a, b in windows]
    car = np.stack([ar[:, c].sum(axis=1) for c in cols], axis=1)
    car_var = np.stack([s2 * len(c) for c in cols], axis=1)
    nat = np.datetime64("NaT")
    return InferenceData(
        ar=ar,
        ar_var=np.broadcast_to(s2[:, None], ar.shape).copy(),
        car=car,
        car_var=car_var,
        df=m - 2,
        rel_days=rel_days,
        car_windows=windows,
        conventions=conventions,
        est_resid=est,
        est_dates=np.full((n, length), nat, dtype="datetime64[D]"),
        est_market=np.full((n, length), np.nan),
        evt_market=np.full((n, w), np.nan),
        evt_returns=np.full((n, w), np.nan),
        evt_dates=np.full((n, w), nat, dtype="datetime64[D]"),
        s2=s2,
        n_obs=m,
        k=2,
        xtx_inv=np.full((n, 2, 2), np.nan),
        event_design=np.full((n, w, 2), np.nan),
        markets=np.full(n, "XNYS", dtype=object),
        keys=firm_event_keys(np.full(n, "ev"), [f"T{i:03d}" for i in range(n)]),
    )


def synthetic(
    seed: int = 7, n: int = 11, length: int = 60, w: int = 5, ties: bool = False, conventions: Conventions = TEXTBOOK
) -> InferenceData:
    """Random panel with unequal estimation lengths, missing estimation and event days, optional ties."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.01, 0.03, size=(n, 1))
    est = rng.standard_t(5, size=(n, length)) * scale
    ar = rng.standard_t(5, size=(n, w)) * scale + 0.004
    est[1, :12] = np.nan  # late listing
    est[4, 30:33] = np.nan  # gaps
    ar[2, 1] = np.nan  # missing event day
    ar[5, 4] = np.nan
    if ties:
        est = np.round(est, 2)
        ar = np.round(ar, 2)
    rel = np.arange(-(w // 2), w - w // 2)
    return panel(est, ar, rel, ((0, 0), (-1, 1), (rel[0], rel[-1])), conventions)


POOLED = np.zeros(11, dtype=np.int64)
GROUPS = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])


# ---------------------------------------------------------------------------------------------------
# hand computations
# ---------------------------------------------------------------------------------------------------


def hand_rank_family(data: InferenceData, rows: np.ndarray, kind: str, conv: Conventions) -> np.ndarray:
    """Day statistics of the rank-type tests for the events ``rows``, one loop per event and day."""
    combined = np.concatenate([data.est_resid, data.ar], axis=1)[rows]
    n_cols = combined.shape[1]
    scores = np.full(combined.shape, np.nan)
    t_i = []
    for r, row in enumerate(combined):
        ok = np.isfinite(row)
        t = ok.sum()
        t_i.append(t)
        if kind == "czsign":
            scores[r, ok] = np.sign(row[ok] - np.median(row[ok]))
        else:
            k = stats.rankdata(row[ok])  # average ranks for ties
            scores[r, ok] = k - (t + 1) / 2 if kind == "rank" else k / (t + 1) - 0.5
    n_all = len(rows)
    d = np.full(n_cols, np.nan)
    for c in range(n_cols):
        x = scores[np.isfinite(scores[:, c]), c]
        if len(x) == 0:
            continue
        s = x.sum() if conv.daily_sums == "present" else x.mean() * n_all
        d[c] = s / len(x) if kind == "rank" else s / np.sqrt(len(x))
    divisor = np.isfinite(d).sum() if conv.rank_scale == "days" else np.mean(t_i)
    scale = np.sqrt(np.nansum(d**2) / divisor)
    return d[data.est_resid.shape[1] :] / scale


def hand_grank(data: InferenceData, values: np.ndarray, rows: np.ndarray) -> tuple[float, float, int]:
    """GRANK Z, t and T for one column of SCARs (or SARs), METHODS.md §6.3 N8 step by step."""
    v = values[rows]
    ok = np.isfinite(v)
    scar_star = v[ok] / np.std(v[ok], ddof=1)
    gsar = (data.est_resid / np.sqrt(data.s2)[:, None])[rows][ok]
    length = gsar.shape[1]
    u = np.full((len(scar_star), length + 1), np.nan)
    for r in range(len(scar_star)):
        series = np.r_[gsar[r], scar_star[r]]
        good = np.isfinite(series)
        u[r, good] = stats.rankdata(series[good]) / (good.sum() + 1) - 0.5
    n = len(scar_star)
    terms = []
    for c in range(length + 1):
        col = u[np.isfinite(u[:, c]), c]
        if len(col):
            terms.append(len(col) / n * col.mean() ** 2)
    t_points = len(terms)
    z = u[:, -1].mean() / np.sqrt(np.sum(terms) / t_points)
    return z, z * np.sqrt((t_points - 2) / (t_points - 1 - z**2)), t_points


# ---------------------------------------------------------------------------------------------------
# sign tests
# ---------------------------------------------------------------------------------------------------


class TestSign:
    @pytest.mark.parametrize("scope", ["day", "window"])
    def test_by_hand_per_group(self, scope: Scope) -> None:
        data = synthetic()
        block = SignTest().compute(data, scope, GROUPS, 3)
        values = data.ar if scope == "day" else data.car
        for g in range(3):
            for c in range(values.shape[1]):
                x = values[g == GROUPS, c]
                x = x[np.isfinite(x)]
                n, w = len(x), (x > 0).sum()
                z = (w - n / 2) / np.sqrt(n / 4)
                np.testing.assert_allclose(block.statistic[g, c], z, rtol=1e-12)
                np.testing.assert_allclose(block.p_value[g, c], 2 * stats.norm.sf(abs(z)), rtol=1e-10)
                assert block.n[g, c] == n
        assert (block.distribution() == "N(0,1)").all()

    def test_zero_counts_as_non_positive(self) -> None:
        ar = np.array([[0.0], [0.01], [-0.02], [0.0]])
        data = panel(np.full((4, 20), 0.01) * np.resize([1, -1], 20), ar, np.array([0]), ((0, 0),))
        block = SignTest().compute(data, "day", np.zeros(4, dtype=np.int64), 1)
        np.testing.assert_allclose(block.statistic[0, 0], (1 - 2) / np.sqrt(1), rtol=1e-12)

    def test_mean_x_n_inflates_by_n_over_n_t(self) -> None:
        data = synthetic(conventions=TEXTBOOK.with_knobs(daily_sums="mean_x_n"))
        block = SignTest().compute(data, "day", POOLED, 1)
        for c in range(5):
            x = data.ar[:, c][np.isfinite(data.ar[:, c])]
            w = (x > 0).mean() * 11  # mean over the events present x N
            np.testing.assert_allclose(block.statistic[0, c], (w - 5.5) / np.sqrt(11 / 4), rtol=1e-12)
            assert block.n[0, c] == len(x)


class TestGeneralizedSign:
    @pytest.mark.parametrize("phat", ["event_mean", "pooled"])
    @pytest.mark.parametrize("scope", ["day", "window"])
    def test_by_hand(self, phat: str, scope: Scope) -> None:
        data = synthetic(conventions=TEXTBOOK.with_knobs(gsign_phat=phat))
        block = GeneralizedSign().compute(data, scope, GROUPS, 3)
        values = data.ar if scope == "day" else data.car
        for g in range(3):
            for c in range(values.shape[1]):
                rows = [i for i in np.flatnonzero(g == GROUPS) if np.isfinite(values[i, c])]
                pos = [np.sum(data.est_resid[i][np.isfinite(data.est_resid[i])] > 0) for i in rows]
                m = [np.isfinite(data.est_resid[i]).sum() for i in rows]
                p = np.mean(np.divide(pos, m)) if phat == "event_mean" else np.sum(pos) / np.sum(m)
                n, w = len(rows), sum(values[i, c] > 0 for i in rows)
                z = (w - n * p) / np.sqrt(n * p * (1 - p))
                np.testing.assert_allclose(block.statistic[g, c], z, rtol=1e-12)

    def test_equal_m_makes_both_phat_equal(self) -> None:
        rng = np.random.default_rng(1)
        data = panel(rng.normal(size=(6, 40)), rng.normal(size=(6, 3)), np.arange(3), ((0, 2),))
        pooled = GeneralizedSign().compute(data, "day", np.zeros(6, dtype=np.int64), 1)
        other = panel(
            data.est_resid, data.ar, data.rel_days, data.car_windows, TEXTBOOK.with_knobs(gsign_phat="pooled")
        )
        np.testing.assert_allclose(
            GeneralizedSign().compute(other, "day", np.zeros(6, dtype=np.int64), 1).statistic,
            pooled.statistic,
            rtol=1e-12,
        )

    def test_all_positive_estimation_gives_reason(self) -> None:
        data = panel(np.full((3, 20), 0.01), np.full((3, 2), 0.02), np.arange(2), ((0, 1),))
        block = GeneralizedSign().compute(data, "day", np.zeros(3, dtype=np.int64), 1)
        assert np.isnan(block.statistic).all()
        assert "0 or 1" in block.reason[0, 0]


# ---------------------------------------------------------------------------------------------------
# rank tests on the combined sample
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("conv", [TEXTBOOK, ESTUDY2], ids=["textbook", "estudy2"])
@pytest.mark.parametrize("ties", [False, True], ids=["no_ties", "ties"])
@pytest.mark.parametrize(
    ("cls", "kind"), [(CorradoRank, "rank"), (ModifiedRank, "mrank"), (CorradoZivneySign, "czsign")]
)
def test_rank_family_by_hand(cls: type[StatTest], kind: str, ties: bool, conv: Conventions) -> None:
    data = synthetic(ties=ties, conventions=conv)
    block = cls().compute(data, "day", GROUPS, 3)
    for g in range(3):
        expected = hand_rank_family(data, np.flatnonzero(g == GROUPS), kind, conv)
        np.testing.assert_allclose(block.statistic[g], expected, rtol=1e-10)
        np.testing.assert_allclose(block.p_value[g], 2 * stats.norm.sf(np.abs(expected)), rtol=1e-9)
        np.testing.assert_array_equal(block.n[g], np.isfinite(data.ar[g == GROUPS]).sum(axis=0))
    assert cls.scopes == ("day",)


def test_estudy2_rank_inflation_differs_from_textbook_when_events_are_missing() -> None:
    """With a missing event day, "mean x N" and the mean-T divisor change the digits (METHODS.md §8.2)."""
    a = CorradoRank().compute(synthetic(), "day", POOLED, 1).statistic
    b = CorradoRank().compute(synthetic(conventions=ESTUDY2), "day", POOLED, 1).statistic
    assert not np.allclose(a, b, rtol=1e-6)


class TestCowanRank:
    def test_textbook_by_hand_excludes_events_with_gaps(self) -> None:
        data = synthetic()
        block = CowanRank().compute(data, "window", GROUPS, 3)
        combined = np.concatenate([data.est_resid, data.ar], axis=1)
        length = data.est_resid.shape[1]
        for g in range(3):
            for c, (a, b) in enumerate(data.car_windows):
                cols = length + np.flatnonzero((data.rel_days >= a) & (data.rel_days <= b))
                rows = [i for i in np.flatnonzero(g == GROUPS) if np.isfinite(combined[i, cols]).all()]
                dev = np.full((len(rows), combined.shape[1]), np.nan)
                for r, i in enumerate(rows):
                    ok = np.isfinite(combined[i])
                    dev[r, ok] = stats.rankdata(combined[i, ok]) - (ok.sum() + 1) / 2
                d = np.array([np.nanmean(col) if np.isfinite(col).any() else np.nan for col in dev.T])
                s_k = np.sqrt(np.nansum(d**2) / np.isfinite(d).sum())
                z = d[cols].sum() / (np.sqrt(len(cols)) * s_k)
                np.testing.assert_allclose(block.statistic[g, c], z, rtol=1e-10)
                assert block.n[g, c] == len(rows)

    def test_sum_daily_estudy2_formula_and_coverage(self) -> None:
        data = synthetic(conventions=ESTUDY2)  # day index 1 has 10 of 11 events (91 % > 90 %), index 4 too
        data_low = synthetic(conventions=ESTUDY2.with_knobs(car_coverage=0.95))  # those days drop out
        for d_, coverage in ((data, 0.9), (data_low, 0.95)):
            block = CowanRank().compute(d_, "window", POOLED, 1)
            combined = np.concatenate([d_.est_resid, d_.ar], axis=1)
            ranks = np.full(combined.shape, np.nan)
            for i in range(11):
                ok = np.isfinite(combined[i])
                ranks[i, ok] = stats.rankdata(combined[i, ok])
            t_i = np.isfinite(ranks).sum(axis=1)
            k_bar = np.mean((t_i + 1) / 2)
            den = np.sqrt(sum((np.nanmean(col) - k_bar) ** 2 for col in ranks.T if np.isfinite(col).any()) / t_i.mean())
            length = d_.est_resid.shape[1]
            for c, (a, b) in enumerate(d_.car_windows):
                cols = [
                    length + j
                    for j in np.flatnonzero((d_.rel_days >= a) & (d_.rel_days <= b))
                    if np.isfinite(combined[:, length + j]).mean() > coverage
                ]
                if not cols:
                    assert np.isnan(block.statistic[0, c]) and "no window day" in block.reason[0, c]
                    continue
                window = ranks[:, cols]
                z = np.sqrt(len(cols)) * (np.nanmean(window) - k_bar) / den
                np.testing.assert_allclose(block.statistic[0, c], z, rtol=1e-10)


# ---------------------------------------------------------------------------------------------------
# Wilcoxon
# ---------------------------------------------------------------------------------------------------


class TestWilcoxon:
    @pytest.mark.parametrize("ties", [False, True], ids=["exact", "ties_normal"])
    @pytest.mark.parametrize("scope", ["day", "window"])
    def test_against_scipy(self, ties: bool, scope: Scope) -> None:
        data = synthetic(ties=ties)
        block = Wilcoxon().compute(data, scope, GROUPS, 3)
        values = data.ar if scope == "day" else data.car
        labels = block.distribution()
        for g in range(3):
            for c in range(values.shape[1]):
                x = values[g == GROUPS, c]
                x = x[np.isfinite(x) & (x != 0)]
                a = np.abs(x)
                has_ties = len(np.unique(a)) < len(a)
                w_plus = stats.rankdata(a)[x > 0].sum()
                assert block.statistic[g, c] == w_plus
                method = "approx" if has_ties else "exact"
                ref = stats.wilcoxon(x, zero_method="wilcox", correction=False, method=method)
                np.testing.assert_allclose(block.p_value[g, c], ref.pvalue, rtol=1e-10)
                assert labels[g, c] == ("N(0,1)" if has_ties else "exact signed-rank")
        if ties:
            assert (labels == "N(0,1)").any()

    def test_exact_table_matches_scipy(self) -> None:
        rng = np.random.default_rng(5)
        for n in (1, 2, 5, 13, 30, 50):
            x = rng.permutation(np.arange(1, n + 1)) * rng.choice([-1.0, 1.0], size=n)
            w_plus = stats.rankdata(np.abs(x))[x > 0].sum()
            ref = stats.wilcoxon(x, method="exact")
            np.testing.assert_allclose(
                exact_signed_rank_pvalue(np.array([w_plus]), np.array([n]))[0], ref.pvalue, rtol=1e-10
            )

    def test_large_n_uses_normal(self) -> None:
        rng = np.random.default_rng(2)
        ar = rng.normal(0.001, 0.01, size=(60, 1))
        data = panel(rng.normal(size=(60, 10)), ar, np.array([0]), ((0, 0),))
        block = Wilcoxon().compute(data, "day", np.zeros(60, dtype=np.int64), 1)
        ref = stats.wilcoxon(ar[:, 0], correction=False, method="approx")
        np.testing.assert_allclose(block.p_value[0, 0], ref.pvalue, rtol=1e-10)
        assert block.distribution()[0, 0] == "N(0,1)"

    def test_zeros_dropped_and_all_zero(self) -> None:
        ar = np.array([[0.0, 0.0], [0.02, 0.0], [-0.01, 0.0], [0.03, np.nan]])
        data = panel(np.random.default_rng(0).normal(size=(4, 10)), ar, np.arange(2), ((0, 1),))
        block = Wilcoxon().compute(data, "day", np.zeros(4, dtype=np.int64), 1)
        assert block.statistic[0, 0] == 2 + 3  # ranks of 0.02 and 0.03 among |0.02|, |0.01|, |0.03|
        assert np.isnan(block.statistic[0, 1]) and block.reason[0, 1] == "all values are zero"
        assert block.distribution()[0, 1] == ""


# ---------------------------------------------------------------------------------------------------
# GRANK
# ---------------------------------------------------------------------------------------------------


class TestGrank:
    @pytest.mark.parametrize("scope", ["day", "window"])
    def test_by_hand(self, scope: Scope) -> None:
        data = synthetic(ties=False)
        t_block = GrankT().compute(data, scope, GROUPS, 3)
        z_block = GrankZ().compute(data, scope, GROUPS, 3)
        values = data.sar if scope == "day" else data.scar
        for g in range(3):
            for c in range(values.shape[1]):
                z, t, t_points = hand_grank(data, values[:, c], np.flatnonzero(g == GROUPS))
                np.testing.assert_allclose(z_block.statistic[g, c], z, rtol=1e-10)
                np.testing.assert_allclose(t_block.statistic[g, c], t, rtol=1e-10)
                np.testing.assert_allclose(t_block.p_value[g, c], 2 * stats.t.sf(abs(t), t_points - 2), rtol=1e-9)
                assert t_block.distribution()[g, c] == f"t({t_points - 2})"
        assert (z_block.distribution() == "N(0,1)").all()

    def test_cumulated_value_tied_with_estimation_values(self) -> None:
        """SCAR* = (0, 1, 2) ties with integer estimation GSARs (s = 1): average ranks must be used."""
        rng = np.random.default_rng(12)
        est = rng.integers(-2, 3, size=(3, 25)).astype(np.float64)
        est[0, :4] = np.nan
        data = panel(est, np.array([[0.0], [1.0], [2.0]]), np.array([0]), ((0, 0),), s2=np.ones(3))
        scopes: tuple[Scope, ...] = ("day", "window")
        for scope in scopes:
            values = data.sar if scope == "day" else data.scar
            z, t, _ = hand_grank(data, values[:, 0], np.arange(3))
            np.testing.assert_allclose(
                GrankZ().compute(data, scope, np.zeros(3, dtype=np.int64), 1).statistic[0, 0], z, rtol=1e-12
            )
            np.testing.assert_allclose(
                GrankT().compute(data, scope, np.zeros(3, dtype=np.int64), 1).statistic[0, 0], t, rtol=1e-12
            )

    @pytest.mark.parametrize("rows_per_block", [1, 2])
    def test_rows_in_blocks_with_ties_in_some(self, monkeypatch: pytest.MonkeyPatch, rows_per_block: int) -> None:
        """Row blocks of the rank shifts, the tie term present in some blocks only: the same Z and t by hand."""
        rng = np.random.default_rng(13)
        est = rng.integers(-2, 3, size=(5, 25)).astype(np.float64)
        est[0, :4] = np.nan
        est[3] += 0.25  # rows 3 and 4 hold no value that their SAR equals
        est[4] += 0.5
        # day 0: mean 0 and sample sd 1, so the re-standardized values are these and the integers tie with them
        ar = np.array([[-1.0, 0.1], [-1.0, 1.3], [1.0, -0.7], [1.0, 0.9], [0.0, 0.2]])
        data = panel(est, ar, np.array([0, 1]), ((0, 0), (0, 1)), s2=np.ones(5))
        tied = [bool(np.isin(ar[r, 0], est[r])) for r in range(5)]
        assert tied == [True, True, True, False, False]
        monkeypatch.setattr(ranks_module, "_BLOCK_CELLS", rows_per_block * est.shape[1])
        scopes: tuple[Scope, ...] = ("day", "window")
        for scope in scopes:
            values = data.sar if scope == "day" else data.scar
            z_block = GrankZ().compute(data, scope, np.zeros(5, dtype=np.int64), 1)
            t_block = GrankT().compute(data, scope, np.zeros(5, dtype=np.int64), 1)
            for c in range(values.shape[1]):
                z, t, _ = hand_grank(data, values[:, c], np.arange(5))
                np.testing.assert_allclose(z_block.statistic[0, c], z, rtol=1e-12)
                np.testing.assert_allclose(t_block.statistic[0, c], t, rtol=1e-12)

    def test_one_event_groups_have_reason(self) -> None:
        data = synthetic()
        block = GrankT().compute(data, "window", np.arange(11), 11)
        assert np.isnan(block.statistic).all()
        assert "at least 2 events" in block.reason[0, 0]

    def test_groups_of_one_and_rows_of_no_group_beside_others_and_one_computation(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Firm-events that enter no cell leave the others' values alone; GRANK t and Z share one computation."""
        data = synthetic(ties=False)
        groups = GROUPS.copy()
        groups[3], groups[7] = 3, -1  # a group of one firm-event, a firm-event of no group
        calls: list[object] = []
        original = ranks_module._grank
        monkeypatch.setattr(ranks_module, "_grank", lambda *a: calls.append(a) or original(*a))
        t_block = GrankT().compute(data, "window", groups, 4)
        z_block = GrankZ().compute(data, "window", groups, 4)
        assert len(calls) == 1
        for g in range(3):
            for c in range(data.scar.shape[1]):
                z, t, _ = hand_grank(data, data.scar[:, c], np.flatnonzero(groups == g))
                np.testing.assert_allclose(z_block.statistic[g, c], z, rtol=1e-10)
                np.testing.assert_allclose(t_block.statistic[g, c], t, rtol=1e-10)
        assert np.isnan(t_block.statistic[3]).all() and "at least 2 events" in t_block.reason[3, 0]


# ---------------------------------------------------------------------------------------------------
# robustness: degenerate inputs give NaN with a reason, never an error or a warning
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_TESTS, ids=lambda c: c.name)
class TestRobustness:
    def test_all_zero_returns(self, cls: type[StatTest]) -> None:
        data = panel(np.zeros((4, 30)), np.zeros((4, 3)), np.arange(3), ((0, 2),), s2=np.full(4, 1e-4))
        for scope in cls.scopes:
            block = cls().compute(data, scope, np.zeros(4, dtype=np.int64), 1)
            undefined = ~np.isfinite(block.statistic)
            assert undefined.all() or cls in (SignTest, CorradoRank, ModifiedRank, CorradoZivneySign, CowanRank)
            assert (block.reason[undefined] != "").all()
            assert (block.reason[~undefined] == "").all()

    @pytest.mark.parametrize("n", [1, 2])
    def test_one_or_two_events(self, cls: type[StatTest], n: int) -> None:
        data = synthetic()
        rows = np.arange(n)
        small = panel(data.est_resid[rows], data.ar[rows], data.rel_days, data.car_windows)
        for scope in cls.scopes:
            block = cls().compute(small, scope, np.zeros(n, dtype=np.int64), 1)
            undefined = ~np.isfinite(block.statistic)
            assert (block.reason[undefined] != "").all()
            assert np.isfinite(block.p_value[~undefined]).all()
            assert ((block.p_value[~undefined] >= 0) & (block.p_value[~undefined] <= 1)).all()

    def test_missing_day_for_everyone(self, cls: type[StatTest]) -> None:
        data = synthetic()
        ar = data.ar.copy()
        ar[:, 2] = np.nan
        gap = panel(data.est_resid, ar, data.rel_days, data.car_windows)
        for scope in cls.scopes:
            block = cls().compute(gap, scope, GROUPS, 3)
            if scope == "day":
                assert np.isnan(block.statistic[:, 2]).all()
                assert (block.n[:, 2] == 0).all()
                assert all(r.startswith("no event") for r in block.reason[:, 2])
                assert np.isfinite(block.statistic[:, [0, 1, 3, 4]]).all() or cls in (GrankT, GrankZ)

    def test_event_order_and_duplicate_firms_do_not_matter(self, cls: type[StatTest]) -> None:
        """Statistics are keyed by event rows only (METHODS.md §9, items 1 and 23)."""
        data = synthetic()
        order = np.random.default_rng(9).permutation(11)
        shuffled = panel(data.est_resid[order], data.ar[order], data.rel_days, data.car_windows)
        for scope in cls.scopes:
            a = cls().compute(data, scope, GROUPS, 3)
            b = cls().compute(shuffled, scope, GROUPS[order], 3)
            # the group sums add the rows in another order: a statistic that is 0 exactly may be off by an ulp
            np.testing.assert_allclose(a.statistic, b.statistic, rtol=1e-12, atol=1e-14)


def test_day_statistics_vary_across_days() -> None:
    """Guard against a scalar condition applied to a vector (METHODS.md §9, item 2)."""
    names = tuple(c.name for c in ALL_TESTS)
    table = run_tests(synthetic(), POOLED, ("e",), names)
    for name, scope, block in table.blocks:
        if scope == "day":
            assert len(np.unique(np.round(block.statistic[0], 10))) > 2, name


def test_registered_names_and_scopes() -> None:
    from eventstudy.inference import REGISTRY

    scopes = {c.name: REGISTRY[c.name].scopes for c in ALL_TESTS}
    assert scopes == {
        "sign": ("day", "window"),
        "generalized_sign": ("day", "window"),
        "corrado_rank": ("day",),
        "modified_rank": ("day",),
        "corrado_zivney_sign": ("day",),
        "cowan_rank": ("window",),
        "wilcoxon": ("day", "window"),
        "grank_t": ("day", "window"),
        "grank_z": ("day", "window"),
    }
