"""Cross-sectional t, Patell Z and BMP t against hand computations (numpy/scipy, not the engine)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from eventstudy.conventions import Conventions
from eventstudy.inference import InferenceData, run_tests
from eventstudy.inference.base import firm_event_keys
from eventstudy.inference.parametric import BmpT, CrossSectionalT, PatellZ


def make_data(ar, ar_var, car, car_var, df, rel_days, windows, conventions=None) -> InferenceData:  # type: ignore[no-untyped-def]
    """InferenceData for tests that use only the event-window quantities (the rest is filled with NaN)."""
    conventions = Conventions() if conventions is None else conventions
    n, w = ar.shape
    nan_est = np.full((n, 5), np.nan)
    return InferenceData(
        ar,
        ar_var,
        car,
        car_var,
        df,
        rel_days,
        windows,
        conventions,
        est_resid=nan_est,
        est_dates=np.full((n, 5), np.datetime64("NaT"), dtype="datetime64[D]"),
        est_market=nan_est,
        evt_market=np.full((n, w), np.nan),
        evt_returns=np.full((n, w), np.nan),
        evt_dates=np.full((n, w), np.datetime64("NaT"), dtype="datetime64[D]"),
        s2=np.full(n, np.nan),
        n_obs=np.asarray(df) + 2,
        k=2,
        xtx_inv=np.full((n, 2, 2), np.nan),
        event_design=np.full((n, w, 2), np.nan),
        markets=np.full(n, "XNYS", dtype=object),
        keys=firm_event_keys(np.full(n, "ev"), [f"T{i:03d}" for i in range(n)]),
    )


def _data(seed: int = 3, n: int = 9, w: int = 4) -> InferenceData:
    rng = np.random.default_rng(seed)
    ar = rng.normal(0.002, 0.02, size=(n, w))
    ar[2, 1] = np.nan  # one missing day
    ar_var = rng.uniform(1e-4, 5e-4, size=(n, w))
    car = np.stack([ar[:, :2].sum(axis=1), ar.sum(axis=1)], axis=1)
    car_var = rng.uniform(3e-4, 2e-3, size=(n, 2))
    df = rng.integers(90, 240, size=n)
    return make_data(ar, ar_var, car, car_var, df, np.arange(-1, w - 1), ((-1, 0), (-1, w - 2)))


class TestCrossSectionalT:
    def test_day_matches_one_sample_t(self) -> None:
        data = _data()
        block = CrossSectionalT().compute(data, "day", np.zeros(9, dtype=np.int64), 1)
        for d in range(4):
            x = data.ar[:, d][np.isfinite(data.ar[:, d])]
            ref = stats.ttest_1samp(x, 0.0)
            np.testing.assert_allclose(block.statistic[0, d], ref.statistic, rtol=1e-12)
            np.testing.assert_allclose(block.p_value[0, d], ref.pvalue, rtol=1e-10)
            assert block.n[0, d] == len(x) and block.df[0, d] == len(x) - 1

    def test_window_uses_cars_and_groups(self) -> None:
        data = _data()
        groups = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2])
        block = CrossSectionalT().compute(data, "window", groups, 3)
        for g in range(3):
            for c in range(2):
                x = data.car[groups == g, c]
                x = x[np.isfinite(x)]
                np.testing.assert_allclose(block.statistic[g, c], stats.ttest_1samp(x, 0.0).statistic, rtol=1e-12)

    def test_single_event_is_nan_with_reason(self) -> None:
        data = _data()
        groups = np.array([0] * 8 + [1])
        block = CrossSectionalT().compute(data, "day", groups, 2)
        assert np.isnan(block.statistic[1]).all()
        assert "at least 2 events" in block.reason[1, 0]
        assert block.reason[0, 0] == ""


class TestPatellZ:
    def test_day_by_hand(self) -> None:
        data = _data()
        block = PatellZ().compute(data, "day", np.zeros(9, dtype=np.int64), 1)
        sar = data.ar / np.sqrt(data.ar_var)
        for d in range(4):
            ok = np.isfinite(sar[:, d])
            m_k = data.df[ok].astype(float)
            z = sar[ok, d].sum() / np.sqrt((m_k / (m_k - 2)).sum())
            np.testing.assert_allclose(block.statistic[0, d], z, rtol=1e-12)
            np.testing.assert_allclose(block.p_value[0, d], 2 * stats.norm.sf(abs(z)), rtol=1e-10)
        assert block.family == "normal"

    def test_window_is_clm_j2(self) -> None:
        data = _data()
        block = PatellZ().compute(data, "window", np.zeros(9, dtype=np.int64), 1)
        scar = data.car / np.sqrt(data.car_var)
        m_k = data.df.astype(float)
        for c in range(2):
            ok = np.isfinite(scar[:, c])
            j2 = scar[ok, c].sum() / np.sqrt((m_k[ok] / (m_k[ok] - 2)).sum())
            np.testing.assert_allclose(block.statistic[0, c], j2, rtol=1e-12)


class TestBmpT:
    def test_day_is_t_test_on_standardized_ars(self) -> None:
        data = _data()
        block = BmpT().compute(data, "day", np.zeros(9, dtype=np.int64), 1)
        sar = data.ar / np.sqrt(data.ar_var)
        for d in range(4):
            x = sar[:, d][np.isfinite(sar[:, d])]
            ref = stats.ttest_1samp(x, 0.0)
            np.testing.assert_allclose(block.statistic[0, d], ref.statistic, rtol=1e-12)
            np.testing.assert_allclose(block.p_value[0, d], ref.pvalue, rtol=1e-10)

    def test_zero_variance_is_nan_with_reason(self) -> None:
        ar = np.full((3, 1), 0.01)
        data = make_data(
            ar, np.full((3, 1), 1e-4), ar, np.full((3, 1), 1e-4), np.array([100, 100, 100]), np.array([0]), ((0, 0),)
        )
        block = BmpT().compute(data, "day", np.zeros(3, dtype=np.int64), 1)
        assert np.isnan(block.statistic[0, 0])
        assert "zero cross-sectional variance" in block.reason[0, 0]


def test_statistics_vary_across_days() -> None:
    """Guard against a scalar condition applied to a vector (METHODS.md §9, item 2)."""
    table = run_tests(_data(), np.zeros(9, dtype=np.int64), ("e1",), ("cross_sectional_t", "patell_z", "bmp_t"))
    for name, scope, block in table.blocks:
        if scope == "day":
            assert len(np.unique(np.round(block.statistic[0], 12))) == 4, name


def test_run_tests_groups_all_first() -> None:
    names = ("cross_sectional_t", "patell_z", "bmp_t")
    table = run_tests(_data(), np.array([0, 0, 0, 1, 1, 1, 1, 2, 2]), ("a", "b", "c"), names)
    assert table.group_labels == ("all", "a", "b", "c")
    assert {b[0] for b in table.blocks} == set(names)
    for _, _, block in table.blocks:
        assert block.statistic.shape[0] == 4


def test_unknown_test_name_lists_valid_names() -> None:
    from eventstudy.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="bmp_t"):
        run_tests(_data(), np.zeros(9, dtype=np.int64), ("e",), ("nope",))
