"""Event bootstrap and wild bootstrap: reproducibility, size and power, and exact-enumeration oracles.

The oracles enumerate every resample of a small sample by hand (all N^N index tuples for the event
bootstrap, all 2^N sign vectors for the wild bootstrap) and compare the exact bootstrap p-value with
the engine's Monte Carlo p-value within Monte Carlo error. Property tests (hypothesis) check that every
resampling p-value is unchanged by a permutation of the rows and by a positive rescaling of the returns,
because the draws come from the groups' firm-event keys, not from their values or their row order.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from eventstudy.conventions import Conventions
from eventstudy.inference import InferenceData, StatTest, run_tests
from eventstudy.inference import resampling as resampling_module
from eventstudy.inference.base import REGISTRY, firm_event_keys, group_generator
from eventstudy.inference.resampling import BootstrapCaar, WildBootstrapBmp

TEXTBOOK = Conventions()


def panel(
    ar: np.ndarray,
    windows: tuple[tuple[int, int], ...] = ((0, 1),),
    conventions: Conventions = TEXTBOOK,
    ar_var: np.ndarray | None = None,
    keys: np.ndarray | None = None,
) -> InferenceData:
    """InferenceData with event ARs only (estimation quantities are placeholders); keys T000, T001, ..."""
    n, w = ar.shape
    keys = firm_event_keys(np.full(n, "ev"), [f"T{i:03d}" for i in range(n)]) if keys is None else keys
    rel = np.arange(w)
    ar_var = np.full(ar.shape, 1e-4) if ar_var is None else ar_var
    cols = [np.flatnonzero((rel >= a) & (rel <= b)) for a, b in windows]
    car = np.stack([ar[:, c].sum(axis=1) for c in cols], axis=1)
    car_var = np.stack([ar_var[:, c].sum(axis=1) for c in cols], axis=1)
    nat = np.datetime64("NaT")
    return InferenceData(
        ar=ar,
        ar_var=ar_var,
        car=car,
        car_var=car_var,
        df=np.full(n, 100),
        rel_days=rel,
        car_windows=windows,
        conventions=conventions,
        est_resid=np.full((n, 3), np.nan),
        est_dates=np.full((n, 3), nat, dtype="datetime64[D]"),
        est_market=np.full((n, 3), np.nan),
        evt_market=np.full((n, w), np.nan),
        evt_returns=np.full((n, w), np.nan),
        evt_dates=np.full((n, w), nat, dtype="datetime64[D]"),
        s2=np.full(n, 1e-4),
        n_obs=np.full(n, 102),
        k=2,
        xtx_inv=np.full((n, 2, 2), np.nan),
        event_design=np.full((n, w, 2), np.nan),
        markets=np.full(n, "XNYS", dtype=object),
        keys=keys,
    )


def pooled(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int64)


TESTS = (BootstrapCaar, WildBootstrapBmp)


@pytest.mark.parametrize("cls", TESTS, ids=lambda c: c.name)
class TestReproducibility:
    def test_same_seed_identical_different_seed_differs(self, cls: type[StatTest]) -> None:
        rng = np.random.default_rng(4)
        ar = rng.normal(0.002, 0.02, size=(25, 3))
        groups = np.repeat([0, 1], [12, 13])
        conv = Conventions().with_knobs(bootstrap_samples=400)
        a = cls().compute(panel(ar, conventions=conv), "day", groups, 2)
        b = cls().compute(panel(ar, conventions=conv), "day", groups, 2)
        np.testing.assert_array_equal(a.p_value, b.p_value)
        np.testing.assert_array_equal(a.statistic, b.statistic)
        c = cls().compute(panel(ar, conventions=conv.with_knobs(seed=7)), "day", groups, 2)
        assert not np.array_equal(a.p_value, c.p_value)
        np.testing.assert_array_equal(a.statistic, c.statistic)  # only the p-value is random

    def test_group_draws_do_not_depend_on_other_groups(self, cls: type[StatTest]) -> None:
        """A group's resamples are seeded by its firm-events: other groups and the row order do not matter."""
        rng = np.random.default_rng(8)
        first, second = rng.normal(0.004, 0.02, size=(15, 4)), rng.normal(0.0, 0.02, size=(12, 4))
        first_keys = firm_event_keys(np.full(15, "first"), [f"F{i:02d}" for i in range(15)])
        second_keys = firm_event_keys(np.full(12, "second"), [f"S{i:02d}" for i in range(12)])
        conv = Conventions().with_knobs(bootstrap_samples=300)
        both = cls().compute(
            panel(np.vstack([second, first]), conventions=conv, keys=np.r_[second_keys, first_keys]),
            "day",
            np.repeat([0, 1], [12, 15]),
            2,
        )
        alone = cls().compute(panel(first, conventions=conv, keys=first_keys), "day", pooled(15), 1)
        np.testing.assert_array_equal(both.p_value[1], alone.p_value[0])
        np.testing.assert_allclose(both.statistic[1], alone.statistic[0], rtol=1e-12)

    def test_only_groups_with_two_values_draw(self, cls: type[StatTest], monkeypatch: pytest.MonkeyPatch) -> None:
        """Groups that cannot have a defined cell (one firm-event, or one value per column) never seed a generator.

        A group's draws stay those it gets alone, whatever the number of small groups beside it.
        """
        rng = np.random.default_rng(12)
        big = rng.normal(0.003, 0.02, size=(9, 3))
        lone = rng.normal(0.0, 0.02, size=(40, 3))
        sparse = np.full((2, 3), np.nan)
        sparse[0, 0], sparse[1, 1] = 0.01, -0.02  # two firm-events, never two values in one column
        values = np.vstack([lone[:20], big, sparse, lone[20:]])
        groups = np.r_[np.arange(1, 21), np.zeros(9, dtype=int), [21, 21], np.arange(22, 42)]
        seeded: list[int] = []
        original = resampling_module.group_generator
        monkeypatch.setattr(resampling_module, "group_generator", lambda *a: seeded.append(len(a[2])) or original(*a))
        conv = Conventions().with_knobs(bootstrap_samples=200)
        keys = firm_event_keys(np.full(len(values), "ev"), [f"K{i:03d}" for i in range(len(values))])
        block = cls().compute(panel(values, conventions=conv, keys=keys), "day", groups, 42)
        assert seeded == [9]  # the group of 9 only
        alone = cls().compute(panel(big, conventions=conv, keys=keys[20:29]), "day", pooled(9), 1)
        np.testing.assert_array_equal(block.p_value[0], alone.p_value[0])
        assert np.isnan(block.p_value[1:]).all() and (block.reason[1:] != "").all()

    def test_both_scopes_from_one_set_of_draws(self, cls: type[StatTest], monkeypatch: pytest.MonkeyPatch) -> None:
        """The day and window scopes of a group are computed together from one generator, with the values each
        gets alone (the same draws a fresh computation of that scope makes)."""
        rng = np.random.default_rng(13)
        ar = rng.normal(0.002, 0.02, size=(14, 4))
        conv = Conventions().with_knobs(bootstrap_samples=250)
        windows = ((0, 1), (1, 3))
        seeded: list[int] = []
        original = resampling_module.group_generator
        monkeypatch.setattr(resampling_module, "group_generator", lambda *a: seeded.append(len(a[2])) or original(*a))
        data = panel(ar, windows, conv)
        day = cls().compute(data, "day", pooled(14), 1)
        window = cls().compute(data, "window", pooled(14), 1)
        assert seeded == [14]
        fresh = cls().compute(panel(ar, windows, conv), "window", pooled(14), 1)
        np.testing.assert_array_equal(window.p_value, fresh.p_value)
        np.testing.assert_array_equal(window.statistic, fresh.statistic)
        assert day.p_value.shape == (1, 4) and window.p_value.shape == (1, 2)

    def test_draws_follow_the_keys_not_the_values(self, cls: type[StatTest]) -> None:
        """Same firm-events with other values draw the same resamples; other firm-events draw others."""
        x = np.array([[0.031], [-0.004], [0.012], [0.020], [-0.011], [0.007]])
        conv = Conventions().with_knobs(bootstrap_samples=200)
        keys = firm_event_keys(np.full(6, "ev"), list("ABCDEF"))
        base = cls().compute(panel(x, ((0, 0),), conv, keys=keys), "day", pooled(6), 1)
        renamed = cls().compute(panel(x, ((0, 0),), conv, keys=np.char.add(keys.astype(str), "x")), "day", pooled(6), 1)
        assert base.p_value[0, 0] != renamed.p_value[0, 0]  # other identity, other stream (p has 1/201 steps)
        mirrored = cls().compute(panel(-x, ((0, 0),), conv, keys=keys), "day", pooled(6), 1)
        np.testing.assert_array_equal(mirrored.p_value, base.p_value)  # |T| and |T*| are sign-symmetric here

    def test_h0_symmetric_not_tiny_and_large_shift_minimal(self, cls: type[StatTest]) -> None:
        rng = np.random.default_rng(11)
        x = rng.normal(0.0, 0.02, size=(20, 1))
        symmetric = np.vstack([x, -x])  # exactly symmetric around 0
        conv = Conventions().with_knobs(bootstrap_samples=999)
        h0 = cls().compute(panel(symmetric, ((0, 0),), conv), "day", pooled(40), 1)
        assert h0.p_value[0, 0] > 0.5
        shifted = cls().compute(panel(x + 0.05, ((0, 0),), conv), "day", pooled(20), 1)
        assert shifted.p_value[0, 0] <= 2.0 / 1000
        assert shifted.p_value[0, 0] >= 1.0 / 1000  # never below 1 / (B + 1)
        assert shifted.distribution()[0, 0] == "empirical (B=999)"

    def test_degenerate_inputs_have_reasons(self, cls: type[StatTest]) -> None:
        ar = np.array([[0.01, np.nan], [0.01, np.nan], [0.01, 0.02]])
        block = cls().compute(panel(ar, ((0, 1),)), "day", pooled(3), 1)
        assert np.isnan(block.statistic).all()
        assert "zero cross-sectional variance" in block.reason[0, 0]
        assert "at least 2 events" in block.reason[0, 1]
        single = cls().compute(panel(ar[2:]), "window", pooled(1), 1)
        assert np.isnan(single.statistic).all() and "at least 2 events" in single.reason[0, 0]
        missing = cls().compute(panel(np.full((3, 2), np.nan)), "day", pooled(3), 1)
        assert missing.reason[0, 0].startswith("no event")
        assert (missing.distribution() == "").all()


class TestBootstrapCaar:
    def test_statistic_is_aar_and_caar(self) -> None:
        rng = np.random.default_rng(1)
        ar = rng.normal(0.003, 0.02, size=(10, 3))
        ar[3, 1] = np.nan
        data = panel(ar, ((0, 0), (0, 2)), Conventions().with_knobs(bootstrap_samples=50))
        day = BootstrapCaar().compute(data, "day", pooled(10), 1)
        np.testing.assert_allclose(day.statistic[0], np.nanmean(ar, axis=0), rtol=1e-12)
        np.testing.assert_array_equal(day.n[0], [10, 9, 10])
        window = BootstrapCaar().compute(data, "window", pooled(10), 1)
        np.testing.assert_allclose(window.statistic[0], [ar[:, 0].mean(), np.nanmean(ar.sum(axis=1))], rtol=1e-12)
        assert window.n[0, 1] == 9

    def test_pvalue_from_the_group_draws_by_hand_with_and_without_missing_values(self) -> None:
        """Each resample's mean over the drawn events that have a value, one resample at a time, from the
        group's documented stream (multinomial counts over the rows in key order); day 1 misses two ARs."""
        rng = np.random.default_rng(4)
        ar = np.c_[rng.normal(0.004, 0.02, size=7), [0.01, -0.02, np.nan, 0.015, -0.005, np.nan, 0.004]]
        b = 300
        conv = Conventions().with_knobs(bootstrap_samples=b)
        data = panel(ar, ((0, 1),), conv)
        block = BootstrapCaar().compute(data, "day", pooled(7), 1)
        counts = group_generator(conv, "bootstrap_caar", data.keys).multinomial(7, np.full(7, 1 / 7), size=b)
        order = np.argsort(data.keys.astype(str))  # draw j goes to the j-th row in key order (identity here)
        for day in range(2):
            x = ar[order, day]
            ok = np.isfinite(x)
            mean = x[ok].mean()
            star = [(row[ok] @ x[ok]) / row[ok].sum() - mean if row[ok].sum() > 0 else np.nan for row in counts]
            star = np.array(star)
            valid = np.isfinite(star)
            hits = np.count_nonzero(np.abs(star[valid]) >= abs(mean) * (1 - 1e-12))
            np.testing.assert_allclose(block.statistic[0, day], mean, rtol=1e-12)
            np.testing.assert_allclose(block.p_value[0, day], (1 + hits) / (valid.sum() + 1), rtol=1e-12)
            assert 0.1 < block.p_value[0, day] < 0.99  # resamples on both sides of |mean|: the counts matter

    def test_matches_exact_enumeration(self) -> None:
        x = np.array([0.031, -0.004, 0.012, 0.020, -0.011])
        mean = x.mean()
        tuples = np.array(list(itertools.product(range(5), repeat=5)))
        exact = np.mean(np.abs(x[tuples].mean(axis=1) - mean) >= abs(mean))
        b = 20000
        block = BootstrapCaar().compute(
            panel(x[:, None], ((0, 0),), Conventions().with_knobs(bootstrap_samples=b)), "day", pooled(5), 1
        )
        mc_se = np.sqrt(exact * (1 - exact) / b)
        assert abs(block.p_value[0, 0] - exact) < 4 * mc_se + 1 / b


class TestWildBootstrapBmp:
    def test_statistic_is_bmp_t(self) -> None:
        rng = np.random.default_rng(2)
        ar = rng.normal(0.003, 0.02, size=(12, 2))
        ar_var = rng.uniform(1e-4, 4e-4, size=(12, 2))
        block = WildBootstrapBmp().compute(
            panel(ar, ar_var=ar_var, conventions=Conventions().with_knobs(bootstrap_samples=50)), "day", pooled(12), 1
        )
        for c in range(2):
            ref = stats.ttest_1samp(ar[:, c] / np.sqrt(ar_var[:, c]), 0.0)
            np.testing.assert_allclose(block.statistic[0, c], ref.statistic, rtol=1e-12)

    def test_matches_exact_sign_enumeration(self) -> None:
        x = np.array([2.1, -0.4, 1.3, 0.8, -1.1, 1.9, 0.2])
        t_obs = stats.ttest_1samp(x, 0.0).statistic
        signs = np.array(list(itertools.product([-1.0, 1.0], repeat=7)))
        t_all = np.array([stats.ttest_1samp(s * x, 0.0).statistic for s in signs])
        exact = np.mean(np.abs(t_all) >= abs(t_obs) * (1 - 1e-12))
        b = 20000
        data = panel(x[:, None], ((0, 0),), Conventions().with_knobs(bootstrap_samples=b), ar_var=np.ones((7, 1)))
        block = WildBootstrapBmp().compute(data, "day", pooled(7), 1)
        mc_se = np.sqrt(exact * (1 - exact) / b)
        assert abs(block.p_value[0, 0] - exact) < 4 * mc_se + 1 / b

    def test_window_uses_scar(self) -> None:
        rng = np.random.default_rng(3)
        ar = rng.normal(0.01, 0.02, size=(9, 2))
        data = panel(ar, ((0, 1),), Conventions().with_knobs(bootstrap_samples=50))
        block = WildBootstrapBmp().compute(data, "window", pooled(9), 1)
        np.testing.assert_allclose(
            block.statistic[0, 0],
            stats.ttest_1samp(data.car[:, 0] / np.sqrt(data.car_var[:, 0]), 0.0).statistic,
            rtol=1e-12,
        )


# ------------------------------------------------------------------------------------------ properties

RESAMPLING = ("bootstrap_caar", "wild_bootstrap_bmp", "skewness_adjusted_bootstrap")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(5, 24),
    n_groups=st.integers(1, 3),
    scale=st.floats(1e-3, 1e3),
    shuffle=st.randoms(use_true_random=False),
)
def test_pvalues_invariant_to_row_order_and_positive_rescaling(
    seed: int, n: int, n_groups: int, scale: float, shuffle: random.Random
) -> None:
    """Permuting the rows (with their keys and groups) or multiplying every return by c > 0 leaves every
    resampling p-value unchanged; the CAAR scales by c, the BMP and skewness-adjusted t do not change."""
    rng = np.random.default_rng(seed)
    ar = rng.normal(0.002, 0.02, size=(n, 3)) * rng.uniform(0.5, 2.0, size=(n, 1))
    ar[rng.uniform(size=ar.shape) < 0.1] = np.nan
    ar_var = rng.uniform(1e-4, 4e-4, size=(n, 3))
    groups = rng.integers(0, n_groups, size=n)
    conv = Conventions().with_knobs(bootstrap_samples=199, seed=seed % 1000)
    windows = ((0, 0), (0, 2))
    perm = np.array(shuffle.sample(range(n), n))
    keys = firm_event_keys(np.full(n, "ev"), [f"T{i:03d}" for i in range(n)])
    base = panel(ar, windows, conv, ar_var=ar_var, keys=keys)
    permuted = panel(ar[perm], windows, conv, ar_var=ar_var[perm], keys=keys[perm])
    scaled = panel(ar * scale, windows, conv, ar_var=ar_var * scale**2, keys=keys)
    for name in RESAMPLING:
        test = REGISTRY[name]
        for scope in test.scopes:
            ref = test.compute(base, scope, groups, n_groups)
            other = test.compute(permuted, scope, groups[perm], n_groups)
            np.testing.assert_array_equal(other.p_value, ref.p_value, err_msg=f"{name} {scope} permuted")
            np.testing.assert_allclose(other.statistic, ref.statistic, rtol=1e-9, err_msg=name)
            big = test.compute(scaled, scope, groups, n_groups)
            np.testing.assert_array_equal(big.p_value, ref.p_value, err_msg=f"{name} {scope} rescaled")
            factor = scale if name == "bootstrap_caar" else 1.0
            np.testing.assert_allclose(big.statistic, ref.statistic * factor, rtol=1e-9, err_msg=name)


def test_group_generator_depends_on_the_set_of_keys_only() -> None:
    keys = firm_event_keys(np.array(["a", "a", "b"]), np.array(["X", "Y", "X"]))
    conv = Conventions().with_knobs(seed=5)
    first = group_generator(conv, "bootstrap_caar", keys).integers(0, 2**31, size=4)
    np.testing.assert_array_equal(group_generator(conv, "bootstrap_caar", keys[::-1]).integers(0, 2**31, size=4), first)
    assert not np.array_equal(group_generator(conv, "bootstrap_caar", keys[:2]).integers(0, 2**31, size=4), first)
    assert not np.array_equal(group_generator(conv, "wild_bootstrap_bmp", keys).integers(0, 2**31, size=4), first)
    other_seed = conv.with_knobs(seed=6)
    assert not np.array_equal(group_generator(other_seed, "bootstrap_caar", keys).integers(0, 2**31, size=4), first)
    assert list(keys) == ["a\x1fX", "a\x1fY", "b\x1fX"]


def test_run_tests_reproducible_and_labelled() -> None:
    rng = np.random.default_rng(6)
    data = panel(rng.normal(0.002, 0.02, size=(14, 3)), ((0, 2),), Conventions().with_knobs(bootstrap_samples=200))
    codes = np.repeat([0, 1], 7)
    one = run_tests(data, codes, ("a", "b"), ("bootstrap_caar", "wild_bootstrap_bmp"))
    two = run_tests(data, codes, ("a", "b"), ("bootstrap_caar", "wild_bootstrap_bmp"))
    for (n1, s1, b1), (n2, s2, b2) in zip(one.blocks, two.blocks, strict=True):
        assert (n1, s1) == (n2, s2)
        np.testing.assert_array_equal(b1.p_value, b2.p_value)
        assert (b1.distribution() == "empirical (B=200)").all()
