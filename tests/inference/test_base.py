"""The test registry's declarations: which tests read the estimation-window fields of InferenceData.

``StatTest.needs_estimation`` must not lie. A test that says False is computed on data whose estimation
fields are tripwires (arrays that raise on any read of their values) and on data whose estimation fields are
all missing, and both must give the block of the real data, under every knob value. A test that says True
must read them: with tripwires its computation raises. (``np.asarray`` of a tripwire returns a plain view
without asking it, so a read through ``np.asarray`` escapes the tripwire; the all-missing copy catches it.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from test_parametric_battery import simulate  # type: ignore[import-not-found]

from eventstudy.conventions import ESTUDY2, Conventions
from eventstudy.errors import UnknownNameError
from eventstudy.inference import REGISTRY, InferenceData, StatBlock
from eventstudy.inference.base import needs_estimation

ESTIMATION_FIELDS = ("est_resid", "est_dates", "est_market", "est_bench_own")


class EstimationRead(AssertionError):
    """Raised by a tripwire array when a computation reads its values."""


class Tripwire(np.ndarray):
    """An array whose shape may be asked but whose values raise on any read (ufunc, numpy function, index)."""

    def _trip(self, *args: Any, **kwargs: Any) -> Any:
        raise EstimationRead("an estimation-window field was read")

    __array_ufunc__ = _trip
    __array_function__ = _trip
    __getitem__ = _trip
    __iter__ = _trip
    __float__ = _trip
    astype = _trip
    tolist = _trip
    copy = _trip
    sum = _trip
    any = _trip
    all = _trip
    view = _trip


def tripwire(like: np.ndarray) -> Tripwire:
    return np.empty(like.shape, dtype=like.dtype).view(Tripwire)  # type: ignore[return-value]


def conventions_to_try() -> list[Conventions]:
    """The default profile, estudy2, and the default with each knob set to each of its other values."""
    flips = {
        "resid_ddof": ("1", "0"),
        "fec": (False,),
        "fec_moments": ("index_window",),
        "car_variance": ("diag", "L_s2"),
        "daily_sums": ("mean_x_n",),
        "patell_denominator": ("all",),
        "patell_car": ("csar",),
        "bmp_reference": ("normal",),
        "bw1980_n": ("all",),
        "bw1980_df": ("M-1",),
        "gsign_phat": ("pooled",),
        "rank_scale": ("mean_T",),
        "car_tests": ("sum_daily",),
        "lamb_market": ("first",),
        "kp_min_overlap": (5,),
    }
    base = Conventions(bootstrap_samples=199)
    out = [base, dataclasses.replace(ESTUDY2, bootstrap_samples=199)]
    out += [dataclasses.replace(base, **{knob: value}) for knob, values in flips.items() for value in values]
    return out


CONVENTIONS = conventions_to_try()


SPREAD = np.repeat([0, 3, 5, 9, 14, 20, 21, 30], 8)  # 64 firm-events, 8 to a date, 32 to a group
CLUSTERED = np.zeros(64, dtype=np.int64)  # every firm-event on the same dates


def study(conventions: Conventions, offsets: np.ndarray = SPREAD) -> tuple[InferenceData, np.ndarray]:
    """Two groups of firm-events on partly shared dates, with missing days, and the benchmark's own returns."""
    sim = simulate(seed=7, n=len(offsets), offsets=offsets, conventions=conventions)
    data = sim.data
    bench = np.where(np.isfinite(data.est_market), data.est_market, 0.001)
    data = dataclasses.replace(data, est_bench_own=bench)
    return data, np.array([0, 1] * 32, dtype=np.int64)


def blind(data: InferenceData, how: str) -> InferenceData:
    """``data`` with its estimation fields replaced by tripwires or by all-missing values."""
    fields = {name: getattr(data, name) for name in ESTIMATION_FIELDS}
    if how == "tripwire":
        return dataclasses.replace(data, **{name: tripwire(value) for name, value in fields.items()})
    missing = {
        name: np.full(value.shape, np.datetime64("NaT") if value.dtype.kind == "M" else np.nan, dtype=value.dtype)
        for name, value in fields.items()
    }
    return dataclasses.replace(data, **missing)


def assert_same_block(got: StatBlock, expected: StatBlock) -> None:
    np.testing.assert_array_equal(got.statistic, expected.statistic)
    np.testing.assert_array_equal(got.p_value, expected.p_value)
    np.testing.assert_array_equal(got.n, expected.n)
    np.testing.assert_array_equal(got.df, expected.df)
    np.testing.assert_array_equal(got.reason, expected.reason)
    assert got.family == expected.family


def test_every_registered_test_declares_it() -> None:
    for name, test in REGISTRY.items():
        declared = [klass for klass in type(test).__mro__ if "needs_estimation" in vars(klass)]
        assert declared, name
        assert isinstance(test.needs_estimation, bool), name


def test_the_tripwire_trips() -> None:
    wire = tripwire(np.zeros((2, 3)))
    assert wire.shape == (2, 3)
    for read in (np.isfinite, lambda a: a[0], lambda a: np.concatenate([a, a]), lambda a: a.sum()):
        with pytest.raises(EstimationRead):
            read(wire)


@pytest.mark.parametrize("conventions", CONVENTIONS, ids=lambda c: f"{c.name}-{hash(c) % 10_000}")
@pytest.mark.parametrize("name", sorted(n for n, t in REGISTRY.items() if not t.needs_estimation))
def test_false_means_the_fields_are_not_read(name: str, conventions: Conventions) -> None:
    data, groups = study(conventions)
    test = REGISTRY[name]
    for scope in test.scopes:
        expected = test.compute(data, scope, groups, 2)
        assert np.isfinite(expected.statistic).any(), (name, scope)  # the comparison compares something
        for how in ("tripwire", "missing"):
            assert_same_block(test.compute(blind(data, how), scope, groups, 2), expected)


@pytest.mark.parametrize("conventions", [CONVENTIONS[0], CONVENTIONS[1]], ids=["textbook", "estudy2"])
@pytest.mark.parametrize("name", sorted(n for n, t in REGISTRY.items() if t.needs_estimation))
def test_true_means_the_fields_are_read(name: str, conventions: Conventions) -> None:
    test = REGISTRY[name]
    for scope in test.scopes:
        read = []
        for offsets in (SPREAD, CLUSTERED):  # the calendar-time test reads them for fully clustered groups only
            data, groups = study(conventions, offsets)
            try:
                test.compute(blind(data, "tripwire"), scope, groups, 2)
            except EstimationRead:
                read.append(offsets)
        assert read, (name, scope)


def test_needs_estimation_of_names() -> None:
    assert needs_estimation(("cross_sectional_t", "bmp_t", "patell_z")) is False
    assert needs_estimation(("cross_sectional_t", "grank_t")) is True
    assert needs_estimation(()) is False
    assert needs_estimation(None) is True  # all tests, among them the rank tests
    with pytest.raises(UnknownNameError):
        needs_estimation(("no_such_test",))


class TestTwoSidedT:
    """``two_sided_t`` against scipy's t distribution, cell by cell, serial and in threaded slices."""

    @pytest.mark.parametrize("threaded_size", [1_000_000, 10])
    def test_equals_scipy_t_sf(self, monkeypatch: pytest.MonkeyPatch, threaded_size: int) -> None:
        from scipy import stats

        from eventstudy.inference import base

        monkeypatch.setattr(base, "THREADED_SIZE", threaded_size)
        rng = np.random.default_rng(3)
        statistic = rng.standard_t(5, size=(7, 11)) * 3
        df = rng.integers(-1, 60, size=(7, 1)).astype(float)  # df <= 0 in some rows: NaN
        statistic[2, 3], statistic[4, 0] = np.nan, np.inf
        got = base.two_sided_t(statistic, df)
        expected = np.where(np.isfinite(statistic) & (df > 0), 2 * stats.t.sf(np.abs(statistic), df), np.nan)
        assert got.shape == (7, 11)
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
        assert np.isnan(got[2, 3]) and np.isnan(got[4, 0]) and np.isnan(got[(df <= 0).ravel()]).all()
