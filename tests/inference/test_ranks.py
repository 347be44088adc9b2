"""Average ranks within rows against ``scipy.stats.rankdata`` (the oracle; the kernel no longer calls it)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from eventstudy.inference.ranks import average_ranks


def oracle(values: np.ndarray) -> np.ndarray:
    """scipy's average ranks along the last axis, NaN left out and kept as NaN."""
    return np.asarray(stats.rankdata(values, axis=-1, nan_policy="omit"), dtype=np.float64)


class TestAverageRanks:
    def test_rows_without_ties(self) -> None:
        values = np.random.default_rng(1).normal(size=(50, 31))
        ranks = average_ranks(values)
        np.testing.assert_array_equal(ranks, oracle(values))
        np.testing.assert_array_equal(np.sort(ranks, axis=1), np.broadcast_to(np.arange(1.0, 32), (50, 31)))

    def test_ties_missing_values_zeros_of_both_signs_and_infinities(self) -> None:
        rng = np.random.default_rng(2)
        values = rng.integers(-3, 4, size=(40, 25)).astype(np.float64)  # many ties in every row
        values[rng.random(values.shape) < 0.2] = np.nan
        values[0] = np.nan  # a row without any value
        values[1, :5] = [0.0, -0.0, 0.0, -0.0, 1.0]  # -0.0 ties with 0.0
        values[2, :4] = [np.inf, -np.inf, np.inf, 2.0]  # infinities are ranked, not left out
        values[3] = 7.0  # one run over the whole row
        values[4, :] = np.nan
        values[4, 10] = 5.0  # a single value
        ranks = average_ranks(values)
        np.testing.assert_array_equal(ranks, oracle(values))
        assert np.isnan(ranks[0]).all() and ranks[4, 10] == 1.0 and (ranks[3] == 13.0).all()

    def test_three_dimensional_input_ranks_each_slice(self) -> None:
        rng = np.random.default_rng(3)
        values = rng.integers(0, 5, size=(6, 4, 9)).astype(np.float64)
        values[2, 1, 3:] = np.nan
        np.testing.assert_array_equal(average_ranks(values), oracle(values))

    @pytest.mark.parametrize("shape", [(0, 5), (3, 0)])
    def test_empty(self, shape: tuple[int, int]) -> None:
        ranks = average_ranks(np.zeros(shape))
        assert ranks.shape == shape
