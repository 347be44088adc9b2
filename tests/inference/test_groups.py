"""Between-group difference tests of CARs against scipy and exact enumerations written here.

Oracles: ``scipy.stats.ttest_ind(equal_var=False)`` for Welch's t; ``scipy.stats.mannwhitneyu`` with
``method="exact"`` (no ties) and ``method="asymptotic"`` (ties, larger samples) for U; an enumeration of
all rank sets with ``itertools.combinations`` for the exact U distribution; and an enumeration of all
splits with ``itertools.combinations`` for the permutation test (random relabellings are checked against
that exact p-value within Monte Carlo error).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eventstudy.conventions import Conventions
from eventstudy.inference.base import firm_event_keys
from eventstudy.inference.groups import (
    DIFFERENCE_TESTS,
    EXACT_RANK_SUM_MAX_N,
    GROUP_DIFFERENCE_COLUMNS,
    group_differences,
    rank_sum_null,
)

WINDOWS = ((0, 0), (-1, 1))
LABELS = ("g=a", "g=b", "g=c")


def _keys(n: int) -> np.ndarray:
    return firm_event_keys([f"e{i}" for i in range(n)], [f"T{i}" for i in range(n)])


def _frame(car: np.ndarray, codes: np.ndarray, conventions: Conventions | None = None) -> pd.DataFrame:
    return group_differences(car, codes, LABELS, WINDOWS, _keys(len(codes)), conventions or Conventions())


def _cell(frame: pd.DataFrame, window: tuple[int, int], a: str, b: str, test: str) -> pd.Series:
    rows = frame[
        (frame.window_start == window[0])
        & (frame.window_end == window[1])
        & (frame.group_a == a)
        & (frame.group_b == b)
        & (frame.test == test)
    ]
    assert len(rows) == 1
    return rows.iloc[0]


def _samples(car: np.ndarray, codes: np.ndarray, column: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(car[:, column])
    return car[ok & (codes == a), column], car[ok & (codes == b), column]


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    """30 CARs in three groups (7, 6, 12) plus 5 firm-events in no group (-1); one CAR missing."""
    rng = np.random.default_rng(42)
    codes = np.repeat([0, 1, 2, -1], [7, 6, 12, 5])
    car = rng.normal(0.0, 0.02, size=(30, 2))
    car[codes == 1] += 0.015
    car[3, 1] = np.nan
    return car, rng.permutation(codes)


class TestLayout:
    def test_columns_and_order(self, sample: tuple[np.ndarray, np.ndarray]) -> None:
        car, codes = sample
        frame = _frame(car, codes)
        assert tuple(frame.columns) == GROUP_DIFFERENCE_COLUMNS
        assert len(frame) == len(WINDOWS) * 3 * len(DIFFERENCE_TESTS)
        first = frame.iloc[:3]
        assert list(first.test) == list(DIFFERENCE_TESTS)
        assert (first.group_a == "g=a").all() and (first.group_b == "g=b").all()
        assert list(
            frame.drop_duplicates(["window_start", "window_end"])[["window_start", "window_end"]].itertuples(
                index=False, name=None
            )
        ) == list(WINDOWS)

    def test_counts_means_difference(self, sample: tuple[np.ndarray, np.ndarray]) -> None:
        car, codes = sample
        frame = _frame(car, codes)
        for column, window in enumerate(WINDOWS):
            for a, b in itertools.combinations(range(3), 2):
                x, y = _samples(car, codes, column, a, b)
                row = _cell(frame, window, LABELS[a], LABELS[b], "welch_t")
                assert (row.n_a, row.n_b) == (len(x), len(y))
                assert row.mean_a == pytest.approx(np.mean(x), rel=1e-12)
                assert row.mean_b == pytest.approx(np.mean(y), rel=1e-12)
                assert row.difference == pytest.approx(np.mean(x) - np.mean(y), rel=1e-12, abs=1e-15)

    def test_fewer_than_two_groups_gives_an_empty_frame(self) -> None:
        frame = group_differences(
            np.zeros((3, 1)), np.zeros(3, dtype=np.int64), ("g=a",), ((0, 0),), _keys(3), Conventions()
        )
        assert frame.empty and tuple(frame.columns) == GROUP_DIFFERENCE_COLUMNS


class TestWelch:
    def test_matches_scipy(self, sample: tuple[np.ndarray, np.ndarray]) -> None:
        car, codes = sample
        frame = _frame(car, codes)
        for column, window in enumerate(WINDOWS):
            for a, b in itertools.combinations(range(3), 2):
                x, y = _samples(car, codes, column, a, b)
                expected = stats.ttest_ind(x, y, equal_var=False)
                row = _cell(frame, window, LABELS[a], LABELS[b], "welch_t")
                # closed forms in double precision on 6-12 values: agreement to rounding
                assert row.statistic == pytest.approx(expected.statistic, rel=1e-10)
                assert row.p_value == pytest.approx(expected.pvalue, rel=1e-9)
                assert row.distribution == f"t({expected.df:.2f})"

    def test_one_car_in_a_group_has_a_reason(self) -> None:
        car = np.array([[0.01], [0.02], [0.03], [0.05]])
        codes = np.array([0, 1, 1, 1])
        frame = group_differences(car, codes, ("g=a", "g=b"), ((0, 0),), _keys(4), Conventions())
        row = frame[frame.test == "welch_t"].iloc[0]
        assert np.isnan(row.statistic) and "at least 2 CARs" in row.reason
        assert np.isfinite(frame[frame.test == "mann_whitney_u"].iloc[0].p_value)


class TestMannWhitney:
    def test_exact_matches_scipy(self, sample: tuple[np.ndarray, np.ndarray]) -> None:
        car, codes = sample
        frame = _frame(car, codes)
        for column, window in enumerate(WINDOWS):
            for a, b in itertools.combinations(range(3), 2):
                x, y = _samples(car, codes, column, a, b)
                expected = stats.mannwhitneyu(x, y, method="exact")
                row = _cell(frame, window, LABELS[a], LABELS[b], "mann_whitney_u")
                assert row.statistic == expected.statistic
                assert row.p_value == pytest.approx(expected.pvalue, rel=1e-10)
                assert row.distribution == "exact rank-sum"

    def test_ties_use_the_corrected_normal_approximation(self) -> None:
        # the same CAR twice (two events sharing a firm-day, pooling = all) ties across the groups
        car = np.array([[0.01], [0.02], [0.02], [0.04], [0.02], [0.01], [0.05], [-0.01]])
        codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
        frame = group_differences(car, codes, ("g=a", "g=b"), ((0, 0),), _keys(8), Conventions())
        row = frame[frame.test == "mann_whitney_u"].iloc[0]
        expected = stats.mannwhitneyu(car[:4, 0], car[4:, 0], method="asymptotic", use_continuity=True)
        assert row.statistic == expected.statistic
        assert row.p_value == pytest.approx(expected.pvalue, rel=1e-12)
        assert row.distribution == "N(0,1)"

    def test_large_samples_use_the_normal_approximation(self) -> None:
        rng = np.random.default_rng(7)
        car = rng.normal(size=(EXACT_RANK_SUM_MAX_N + 10, 1))
        codes = np.r_[np.zeros(30, dtype=np.int64), np.ones(EXACT_RANK_SUM_MAX_N - 20, dtype=np.int64)]
        frame = group_differences(car, codes, ("g=a", "g=b"), ((0, 0),), _keys(len(codes)), Conventions())
        row = frame[frame.test == "mann_whitney_u"].iloc[0]
        expected = stats.mannwhitneyu(car[codes == 0, 0], car[codes == 1, 0], method="asymptotic")
        assert row.statistic == expected.statistic
        assert row.p_value == pytest.approx(expected.pvalue, rel=1e-12)

    @pytest.mark.parametrize(("n_a", "n"), [(1, 4), (3, 7), (4, 9), (5, 10)])
    def test_null_distribution_counts_every_rank_set(self, n_a: int, n: int) -> None:
        expected = np.zeros(n_a * (n - n_a) + 1)
        for ranks in itertools.combinations(range(1, n + 1), n_a):
            expected[sum(ranks) - n_a * (n_a + 1) // 2] += 1
        np.testing.assert_array_equal(rank_sum_null(n_a, n), expected)
        assert rank_sum_null(n_a, n).sum() == math.comb(n, n_a)


def _enumerated_pvalue(x: np.ndarray, y: np.ndarray) -> float:
    """Share of all splits of x ∪ y into |x| and |y| values whose |mean difference| >= the observed one."""
    values = np.concatenate([x, y])
    observed = abs(x.mean() - y.mean())
    hits = total = 0
    for chosen in itertools.combinations(range(len(values)), len(x)):
        mask = np.zeros(len(values), dtype=bool)
        mask[list(chosen)] = True
        total += 1
        hits += abs(values[mask].mean() - values[~mask].mean()) >= observed * (1 - 1e-12)
    return hits / total


class TestPermutation:
    def test_exact_enumeration(self) -> None:
        rng = np.random.default_rng(3)
        car = rng.normal(0, 0.02, size=(11, 1))
        car[:5] += 0.02
        codes = np.r_[np.zeros(5, dtype=np.int64), np.ones(6, dtype=np.int64)]  # C(11, 5) = 462 <= B = 1000
        frame = group_differences(car, codes, ("g=a", "g=b"), ((0, 0),), _keys(11), Conventions())
        row = frame[frame.test == "permutation"].iloc[0]
        assert row.p_value == pytest.approx(_enumerated_pvalue(car[:5, 0], car[5:, 0]), rel=1e-12)
        assert row.distribution == "permutation (exact, 462 splits)"
        assert row.statistic == pytest.approx(car[:5, 0].mean() - car[5:, 0].mean(), rel=1e-12)

    def test_random_relabellings_agree_with_the_enumeration(self) -> None:
        rng = np.random.default_rng(5)
        car = rng.normal(0, 0.02, size=(14, 1))
        car[:7] += 0.012
        codes = np.r_[np.zeros(7, dtype=np.int64), np.ones(7, dtype=np.int64)]  # C(14, 7) = 3432 > B
        conventions = Conventions(bootstrap_samples=2000, seed=11)
        frame = group_differences(car, codes, ("g=a", "g=b"), ((0, 0),), _keys(14), conventions)
        row = frame[frame.test == "permutation"].iloc[0]
        exact = _enumerated_pvalue(car[:7, 0], car[7:, 0])
        assert row.distribution == "permutation (B=2000)"
        # Monte Carlo standard error sqrt(p(1 - p)/B); 4 of them keeps a false alarm below 1e-4
        assert abs(row.p_value - exact) < 4 * math.sqrt(exact * (1 - exact) / 2000) + 1 / 2001

    def test_seeded_and_independent_of_row_order_and_other_groups(self, sample: tuple[np.ndarray, np.ndarray]) -> None:
        car, codes = sample
        conventions = Conventions(bootstrap_samples=200)  # group c (12) against a (7): random relabellings
        keys = _keys(len(codes))
        base = group_differences(car, codes, LABELS, WINDOWS, keys, conventions)
        again = group_differences(car, codes, LABELS, WINDOWS, keys, conventions)
        pd.testing.assert_frame_equal(base, again)
        order = np.random.default_rng(1).permutation(len(codes))
        shuffled = group_differences(car[order], codes[order], LABELS, WINDOWS, keys[order], conventions)
        pd.testing.assert_frame_equal(base, shuffled, rtol=1e-12)
        # dropping group b changes neither the a-c cells nor their random draws
        no_b = np.where(codes == 1, -1, codes)
        alone = group_differences(car, no_b, LABELS, WINDOWS, keys, conventions)
        ac = (base.group_a == "g=a") & (base.group_b == "g=c")
        pd.testing.assert_frame_equal(
            base[ac].reset_index(drop=True),
            alone[(alone.group_a == "g=a") & (alone.group_b == "g=c")].reset_index(drop=True),
        )
        other_seed = group_differences(car, codes, LABELS, WINDOWS, keys, Conventions(bootstrap_samples=200, seed=1))
        random_rows = base.distribution.str.startswith("permutation (B=")
        assert random_rows.any() and not np.array_equal(base.p_value[random_rows], other_seed.p_value[random_rows])

    def test_empty_group_in_a_window_has_a_reason(self) -> None:
        car = np.array([[0.01, np.nan], [0.02, 0.01], [0.03, 0.02], [0.04, np.nan]])
        codes = np.array([0, 1, 1, 0])
        frame = group_differences(car, codes, ("g=a", "g=b"), ((0, 0), (0, 1)), _keys(4), Conventions())
        second = frame[frame.window_end == 1]
        assert second.statistic.isna().all() and (second.reason == "a group has no CAR in this window").all()
        assert (second.n_a == 0).all() and (second.n_b == 2).all()
