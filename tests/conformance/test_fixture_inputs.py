"""Sanity of the fixture loader against numbers printed in the fixture itself (METHODS.md §8.2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from estudy2_inputs import FIRMS, load  # type: ignore[import-not-found]

pytestmark = pytest.mark.realdata


def test_estimation_lengths_and_aar(shared_dir: Path) -> None:
    fx = load(shared_dir)
    coef = fx.expected("market_model_coefficients").set_index("Unnamed: 0")
    np.testing.assert_array_equal(fx.data.n_obs, coef.loc[list(FIRMS), "estimation_length"].to_numpy())
    aar = fx.expected("parametric_tests")["mean"].to_numpy()
    # AAR on the five event days equals the fixture's "mean" column (estudy2 output), to rounding
    np.testing.assert_allclose(fx.data.ar.mean(axis=0), aar, rtol=1e-12)
