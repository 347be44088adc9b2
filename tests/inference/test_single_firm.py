"""SQ and permutation tests of one firm-event: against direct per-row computations written here, and size.

The oracles loop over firm-events (allowed in tests): the SQ p-value is counted from the row's finite
residuals (or its L-day sums of consecutive present residuals), the permutation p-value from every L-subset
of the row's pool listed by ``itertools.combinations``. The Monte Carlo branch is checked against the exact
p-value within 3 Monte Carlo standard errors, and both tests' rejection rates at 5 % under iid normal data
against the binomial band.
"""

from __future__ import annotations

import hashlib
import itertools
import zlib

import numpy as np
import pytest

from eventstudy.errors import InputError, UnknownNameError
from eventstudy.inference import single_firm
from eventstudy.inference.single_firm import (
    consecutive_sums,
    key_streams,
    permutation_day_pvalues,
    permutation_pvalues,
    random_subsets,
    sq_car_pvalues,
    sq_pvalues,
    window_sums,
)


def residuals_with_gaps(rng: np.random.Generator, n: int, m: int, share_missing: float = 0.1) -> np.ndarray:
    values = rng.standard_t(4, size=(n, m))
    values[rng.random((n, m)) < share_missing] = np.nan
    return values


def direct_sq(x: float, reference: np.ndarray, alternative: str) -> float:
    """(1 + #{at least as extreme}) / (n + 1) over the finite reference values, by hand."""
    ref = reference[np.isfinite(reference)]
    if np.isnan(x) or len(ref) == 0:
        return np.nan
    extreme = {
        "two-sided": np.abs(ref) >= abs(x),
        "less": ref <= x,
        "greater": ref >= x,
    }[alternative]
    return (1 + int(extreme.sum())) / (len(ref) + 1)


def direct_window_sums(row: np.ndarray, length: int) -> np.ndarray:
    """Sums of `length` consecutive values, skipping every window with a missing day."""
    sums = [row[j : j + length].sum() for j in range(len(row) - length + 1)]
    present = [np.isfinite(row[j : j + length]).all() for j in range(len(row) - length + 1)]
    return np.array([s for s, ok in zip(sums, present, strict=True) if ok])


def direct_permutation(event: np.ndarray, residuals: np.ndarray) -> float:
    """Share of the L-subsets of the pool (values, by itertools) with |sum - L mean| >= |observed|."""
    pool = np.concatenate([residuals[np.isfinite(residuals)], event])
    length = len(event)
    centre = length * pool.mean()
    observed = abs(event.sum() - centre)
    sums = np.array([sum(c) for c in itertools.combinations(pool.tolist(), length)])
    return float(np.mean(np.abs(sums - centre) >= observed * (1 - 1e-12)))


def test_sq_hand_example() -> None:
    # reference 1..4, observed 2.5: |x_j| >= 2.5 for 3 and 4 -> (1 + 2) / 5; x_j <= 2.5: 1, 2 -> 3/5;
    # x_j >= -1: all four -> 5/5; two-sided at 0.5: all four -> 1
    reference = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert sq_pvalues(np.array([[2.5]]), reference)[0, 0] == pytest.approx(3 / 5)
    assert sq_pvalues(np.array([[2.5]]), reference, "less")[0, 0] == pytest.approx(3 / 5)
    assert sq_pvalues(np.array([[-1.0]]), reference, "greater")[0, 0] == pytest.approx(1.0)
    assert sq_pvalues(np.array([[9.0]]), reference)[0, 0] == pytest.approx(1 / 5)  # the smallest p for n = 4


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_sq_day_pvalues_match_direct_count(alternative: str) -> None:
    rng = np.random.default_rng(11)
    residuals = residuals_with_gaps(rng, 40, 60)
    residuals[3] = np.nan  # a firm-event without residuals: NaN
    observed = rng.normal(scale=2.0, size=(40, 5))
    observed[5, 2] = np.nan  # a missing event day: NaN
    observed[7, 1] = residuals[7, np.flatnonzero(np.isfinite(residuals[7]))[0]]  # a tie counts
    got = sq_pvalues(observed, residuals, alternative)  # type: ignore[arg-type]
    want = np.array([[direct_sq(x, residuals[i], alternative) for x in observed[i]] for i in range(40)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15, equal_nan=True)
    assert np.isnan(got[3]).all() and np.isnan(got[5, 2])


@pytest.mark.parametrize("length", [1, 2, 3, 11])
def test_sq_car_pvalues_match_sums_of_consecutive_present_days(length: int) -> None:
    rng = np.random.default_rng(12)
    residuals = residuals_with_gaps(rng, 25, 50)
    car = rng.normal(scale=3.0, size=25)
    got_sums = consecutive_sums(residuals, length)
    for i in range(25):
        row = got_sums[i]
        np.testing.assert_allclose(row[np.isfinite(row)], direct_window_sums(residuals[i], length), rtol=1e-12)
    want = np.array([direct_sq(car[i], direct_window_sums(residuals[i], length), "two-sided") for i in range(25)])
    np.testing.assert_allclose(sq_car_pvalues(car, residuals, length), want, rtol=0, atol=1e-15, equal_nan=True)


def test_window_sums_of_several_lengths_match_each_window_summed_alone() -> None:
    rng = np.random.default_rng(31)
    residuals = residuals_with_gaps(rng, 9, 14)
    got = [(length, sums.copy()) for length, sums in window_sums(residuals, [11, 3, 1, 3, 15, 6])]
    assert [length for length, _ in got] == [1, 3, 6, 11, 15]  # distinct, shortest first
    for length, sums in got:
        want = np.array([[residuals[i, j : j + length].sum() for j in range(14 - length + 1)] for i in range(9)])
        assert sums.shape == (9, max(14 - length + 1, 0))
        np.testing.assert_allclose(sums, want.reshape(sums.shape), rtol=1e-13, atol=1e-15)  # NaN where a day is missing
    finite = np.ones((2, 3))
    consecutive_sums(finite, 1)[0, 0] = 99.0
    assert finite[0, 0] == 1.0  # a copy, not the input


def test_consecutive_sums_shorter_history_than_window() -> None:
    assert consecutive_sums(np.ones((2, 3)), 4).shape == (2, 0)
    assert np.isnan(sq_car_pvalues(np.array([1.0, 2.0]), np.ones((2, 3)), 4)).all()


@pytest.mark.parametrize(("length", "m"), [(1, 12), (2, 12), (3, 9)])
def test_permutation_exact_matches_itertools(length: int, m: int) -> None:
    rng = np.random.default_rng(13 + length)
    n = 15
    residuals = residuals_with_gaps(rng, n, m, share_missing=0.2)  # pools of different sizes
    event = rng.normal(scale=1.5, size=(n, length))
    event[0] = residuals[0, np.isfinite(residuals[0])][:length]  # values tied with the pool
    keys = [f"ev|T{i}" for i in range(n)]
    got = permutation_pvalues(event, residuals, keys, seed=1)
    assert got.exact.all()
    want = [direct_permutation(event[i], residuals[i]) for i in range(n)]
    np.testing.assert_allclose(got.p_value, want, rtol=0, atol=1e-14)
    sizes = np.isfinite(residuals).sum(axis=1) + length
    np.testing.assert_array_equal(got.subsets, [len(list(itertools.combinations(range(s), length))) for s in sizes])


def test_permutation_monte_carlo_within_three_standard_errors_of_exact() -> None:
    rng = np.random.default_rng(14)
    residuals = rng.normal(size=(6, 30))
    event = rng.normal(size=(6, 3)) + np.array([[0.0], [0.5], [1.0], [1.5], [2.0], [0.2]])
    keys = [f"ev|T{i}" for i in range(6)]
    exact = permutation_pvalues(event, residuals, keys, seed=5)  # C(33, 3) = 5456 subsets
    draws = 20_000
    drawn = permutation_pvalues(event, residuals, keys, seed=5, draws=draws, exact_limit=0)
    assert exact.exact.all() and not drawn.exact.any()
    assert (drawn.subsets == draws).all()
    se = np.sqrt(exact.p_value * (1 - exact.p_value) / draws) + 1 / draws
    assert np.all(np.abs(drawn.p_value - exact.p_value) <= 3 * se), (drawn.p_value, exact.p_value)


def test_permutation_draws_depend_on_seed_and_key_only(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(15)
    residuals = residuals_with_gaps(rng, 12, 80)
    event = rng.normal(size=(12, 5))
    keys = [f"ev{i}|T{i}" for i in range(12)]
    full = permutation_pvalues(event, residuals, keys, seed=3, draws=300).p_value
    order = rng.permutation(12)[:7]
    subset = permutation_pvalues(event[order], residuals[order], [keys[i] for i in order], seed=3, draws=300).p_value
    np.testing.assert_array_equal(subset, full[order])
    monkeypatch.setattr(single_firm, "_BLOCK_ELEMENTS", 1)  # one row per block
    np.testing.assert_array_equal(permutation_pvalues(event, residuals, keys, seed=3, draws=300).p_value, full)
    other_seed = permutation_pvalues(event, residuals, keys, seed=4, draws=300).p_value
    assert not np.array_equal(other_seed, full)


MASK64 = 2**64 - 1


def splitmix_by_hand(z: int) -> int:
    """The SplitMix64 finalizer on Python integers (the documented constants)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def floyd_by_hand(stream: int, size: int, length: int, draw: int) -> list[int]:
    """One draw of the documented generator, written from the module docstring with Python integers."""
    k = (length + 1) // 2
    words = []
    for j in range(k):
        h = splitmix_by_hand((stream + (draw * k + j + 1) * 0x9E3779B97F4A7C15) & MASK64)
        words += [h >> 32, h & 0xFFFFFFFF]
    chosen: list[int] = []
    for u in range(length):
        top = size - length + u
        t = (words[u] * (top + 1)) >> 32
        chosen.append(top if t in chosen else t)
    return chosen


def test_random_subsets_follow_the_documented_generator() -> None:
    keys = ["ev1|AAA", "ev2|BBB", "ev 3|0700.HK"]
    streams = key_streams(keys, seed=42)
    tag = zlib.crc32(b"permutation")
    base = splitmix_by_hand((42 + tag) & MASK64)
    for key, stream in zip(keys, streams, strict=True):
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        assert int(stream) == splitmix_by_hand(base ^ int.from_bytes(digest, "little"))
    sizes = np.array([9, 30, 251])
    for length in (1, 2, 5):
        picks = random_subsets(streams, sizes, length, draws=40)
        for i in range(3):
            for b in range(40):
                assert picks[:, i, b].tolist() == floyd_by_hand(int(streams[i]), int(sizes[i]), length, b)


def test_random_subsets_are_uniform_distinct_and_inside_the_pool() -> None:
    streams = key_streams([f"ev|T{i}" for i in range(50)], seed=1)
    picks = random_subsets(streams, np.full(50, 6), 3, draws=4000)  # C(6, 3) = 20 subsets
    ordered = np.sort(picks, axis=0)
    assert (np.diff(ordered, axis=0) > 0).all() and ordered.min() >= 0 and ordered.max() <= 5
    codes = (ordered[0] * 36 + ordered[1] * 6 + ordered[2]).ravel()
    counts = np.unique(codes, return_counts=True)[1]
    assert len(counts) == 20
    expected = codes.size / 20
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 43.8  # the 0.999 quantile of chi-square with 19 df


def test_permutation_day_pvalues_match_one_day_enumeration() -> None:
    rng = np.random.default_rng(18)
    residuals = residuals_with_gaps(rng, 12, 40)
    residuals[4] = np.nan
    abnormal = rng.normal(scale=1.5, size=(12, 6))
    abnormal[2, 3] = np.nan
    abnormal[5, 0] = residuals[5, np.flatnonzero(np.isfinite(residuals[5]))[0]]  # tied with the pool
    got = permutation_day_pvalues(abnormal, residuals)
    for i in range(12):
        for d in range(6):
            if i == 4 or (i, d) == (2, 3):
                assert np.isnan(got[i, d])
            else:
                assert got[i, d] == pytest.approx(direct_permutation(abnormal[i, d : d + 1], residuals[i]), abs=1e-15)
    keys = [f"e|{i}" for i in range(12)]
    via_windows = permutation_pvalues(abnormal[:, 1:2], residuals, keys, seed=0).p_value
    np.testing.assert_allclose(got[:, 1], via_windows, rtol=0, atol=1e-15, equal_nan=True)


def test_permutation_missing_values_give_nan() -> None:
    residuals = np.arange(20.0).reshape(2, 10)
    residuals[1] = np.nan
    event = np.array([[1.0, np.nan], [1.0, 2.0]])
    got = permutation_pvalues(event, residuals, ["a", "b"], seed=0)
    assert np.isnan(got.p_value).all()
    np.testing.assert_array_equal(got.subsets, [0, 0])


def test_sq_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(16)
    residuals = residuals_with_gaps(rng, 9, 30)
    observed = rng.normal(size=(9, 4))
    whole = sq_pvalues(observed, residuals)
    monkeypatch.setattr(single_firm, "_BLOCK_ELEMENTS", 1)
    np.testing.assert_array_equal(sq_pvalues(observed, residuals), whole)


def rejection_band(n: int, level: float) -> tuple[float, float]:
    se = np.sqrt(level * (1 - level) / n)
    return level - 3 * se, level + 3 * se


def test_size_under_iid_normal_null() -> None:
    """Rejection at 5 % of iid normal data (event days from the same law) within the 3-SE binomial band."""
    rng = np.random.default_rng(17)
    n, m = 3000, 99
    residuals = rng.normal(size=(n, m))
    event = rng.normal(size=(n, 3))
    keys = [f"sim|T{i}" for i in range(n)]
    low, high = rejection_band(n, 0.05)
    rates = {
        # SQ, n = 99: P(p <= 0.05) = 5/100 exactly
        "sq_day": float(np.mean(sq_pvalues(event[:, :1], residuals) <= 0.05)),
        "sq_car": float(np.mean(sq_car_pvalues(event.sum(axis=1), residuals, 3) <= 0.05)),
        # exact (L = 1, P = 100 subsets) and Monte Carlo (L = 3)
        "perm_day": float(np.mean(permutation_pvalues(event[:, :1], residuals, keys, seed=9).p_value <= 0.05)),
        "perm_car": float(np.mean(permutation_pvalues(event, residuals, keys, seed=9, draws=199).p_value <= 0.05)),
    }
    assert all(low <= rate <= high for rate in rates.values()), (rates, (low, high))


def test_bad_input_raises_project_errors() -> None:
    with pytest.raises(UnknownNameError, match="alternative"):
        sq_pvalues(np.zeros((1, 1)), np.zeros((1, 3)), "both")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="one reference row per firm-event"):
        sq_pvalues(np.zeros((2, 1)), np.zeros((1, 3)))
    with pytest.raises(InputError, match="2-D"):
        sq_pvalues(np.zeros(2), np.zeros((2, 3)))
    with pytest.raises(InputError, match="at least 1 day"):
        consecutive_sums(np.zeros((1, 3)), 0)
    with pytest.raises(InputError, match="one of each per firm-event"):
        permutation_pvalues(np.zeros((2, 1)), np.zeros((2, 5)), ["a"], seed=0)
    with pytest.raises(InputError, match="draws must be"):
        permutation_pvalues(np.zeros((1, 1)), np.zeros((1, 5)), ["a"], seed=0, draws=0)


def test_single_firm_pvalues_need_keys_only_for_the_permutation_test() -> None:
    rng = np.random.default_rng(5)
    residuals = residuals_with_gaps(rng, 6, 30)
    abnormal, days = rng.normal(size=(6, 3)), np.array([-1, 0, 1])
    car = np.column_stack([abnormal[:, 1], abnormal.sum(axis=1)])
    windows = [(0, 0), (-1, 1)]
    args = (abnormal, residuals, car, days, windows)
    without = single_firm.single_firm_pvalues(*args, None, ("sq",), seed=1)
    with_keys = single_firm.single_firm_pvalues(*args, [f"e|{i}" for i in range(6)], ("sq",), seed=1)
    np.testing.assert_array_equal(without.car_sq, with_keys.car_sq)
    np.testing.assert_array_equal(without.car_sq[:, 1], sq_car_pvalues(car[:, 1], residuals, 3))
    with pytest.raises(InputError, match="firm-event keys"):
        single_firm.single_firm_pvalues(*args, None, ("permutation",), seed=1)
