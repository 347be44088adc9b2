"""Shared inputs and output blocks of the test statistics, and the name -> test registry."""

from __future__ import annotations

import hashlib
import os
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import ClassVar, Literal, TypeVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from eventstudy._typing import FloatArray, IntArray, Window
from eventstudy.conventions import Conventions
from eventstudy.errors import UnknownNameError

Scope = Literal["day", "window"]
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Layout:
    """The shape of a study that is not per firm-event: event-window days, CAR windows, knobs and k.

    What a test needs besides its per-group sums to finish a statistic
    (:meth:`eventstudy.inference.partials.DecomposableTest.finish`).
    """

    rel_days: IntArray
    car_windows: tuple[Window, ...]
    conventions: Conventions
    k: int

    def car_columns(self, window: Window) -> IntArray:
        """Event-window column indices of the days of ``window``."""
        return np.flatnonzero((self.rel_days >= window[0]) & (self.rel_days <= window[1]))


@dataclass(frozen=True, eq=False)
class InferenceData:
    """Everything a test statistic may use, as (events x days) and (events x windows) arrays.

    Row i of every array is firm-event i. "Estimation" arrays cover the estimation window (L days),
    "event" arrays the event window (W days); missing days are NaN (NaT for dates).

    Attributes
    ----------
    ar, ar_var : (N, W)
        Abnormal returns and their variances s_i^2 C_it (C_it = 1 when the correction is off).
    car, car_var : (N, C)
        CARs over the study's CAR windows and their variances (``docs/methods.md`` §5.3).
    df : (N,)
        M_i - k, the single-event degrees of freedom.
    rel_days : (W,)
        Relative days of the event window.
    car_windows : tuple of (start, end)
    conventions
        The knob values in force.
    est_resid : (N, L)
        Estimation-window residuals e_it (in-sample ARs), NaN on rows not used by the fit.
    est_dates : (N, L) datetime64[D]
        Exchange-local date of each estimation row (for calendar-time alignment).
    est_market, evt_market : (N, L), (N, W)
        Benchmark returns on the estimation and event-window rows.
    evt_returns : (N, W)
        Raw returns of the event-window rows.
    evt_dates : (N, W) datetime64[D]
        Exchange-local date of each event-window row.
    s2, n_obs : (N,)
        Residual variance and M_i.
    k
        Number of model coefficients.
    xtx_inv : (N, k, k)
        (X_i'X_i)^-1 of the estimation design.
    event_design : (N, W, k)
        Design rows x_it of the event-window days.
    markets : (N,)
        Exchange (MIC) of each firm-event's ticker, for tests that must not mix markets in one calendar
        date (``docs/methods.md`` §6.2, P13, §4.8).
    keys : (N,) str
        Identity of each firm-event, unique within the data and independent of the row order and of the
        values (the study passes :func:`firm_event_keys` of the event ids and tickers). The resampling
        tests seed each group from its sorted keys and map the draws to its rows in key order, so their
        p-values do not change when rows are reordered or returns rescaled.
    est_bench_own : (N, L) or None
        The benchmark's own returns over the estimation window, counted on the benchmark's own rows
        (including days on which the security has no return); used for market moments under
        ``fec_moments = "index_window"``.
    design_regressors : tuple of str
        Names of the model's regressors besides the intercept (``event_design[..., 1:]`` for models with
        an intercept): ``("market",)`` for the market model (the default), ``()`` for models without
        regressors, factor names for factor models. Tests built on the market model's design (Lamb's
        forecast-error term, the calendar-time regression) use the benchmark for the first two and the
        model's own design otherwise.
    evt_target : (N, W) or None
        The event-window regression target R - offset (excess returns R - Rf for factor models); None
        when it is the return itself.
    blocks : (N,) or None
        Kolari-Pynnönen block of each firm-event, indexing ``block_labels`` (-1: in no block); None (the
        default) when the study names no blocks and the KP tests use the pooled r̄
        (:func:`eventstudy.inference.clustered.kp_test_correlation`, ``docs/methods.md`` §6.2, P10).
    block_labels
        Names of the blocks (e.g. ``"market=XHKG"``).

    Quantities several tests share are cached per instance (:meth:`memoized`); a copy made with
    ``dataclasses.replace`` starts with an empty cache.
    """

    ar: FloatArray
    ar_var: FloatArray
    car: FloatArray
    car_var: FloatArray
    df: IntArray
    rel_days: IntArray
    car_windows: tuple[Window, ...]
    conventions: Conventions
    est_resid: FloatArray
    est_dates: np.ndarray
    est_market: FloatArray
    evt_market: FloatArray
    evt_returns: FloatArray
    evt_dates: np.ndarray
    s2: FloatArray
    n_obs: IntArray
    k: int
    xtx_inv: FloatArray
    event_design: FloatArray
    markets: np.ndarray
    keys: np.ndarray
    est_bench_own: FloatArray | None = None
    design_regressors: tuple[str, ...] = ("market",)
    evt_target: FloatArray | None = None
    blocks: IntArray | None = None
    block_labels: tuple[str, ...] = ()
    _memo: dict[object, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memoized(self, key: object, compute: Callable[[], T]) -> T:
        """Value of ``compute()`` cached under ``key`` for this instance (quantities several tests share).

        ``key`` must name every input the value depends on besides this instance's arrays (the grouping,
        the knobs read); the cache belongs to the instance, and ``dataclasses.replace`` gives a new one.
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]

    def take(self, rows: IntArray) -> InferenceData:
        """The data of some firm-events only (rows in the given order), with an empty cache.

        Every per-firm-event array is indexed by ``rows``; the windows, days, conventions and ``k`` are
        shared. A test computed on ``take(rows)`` equals the test on a study of those firm-events alone.
        """
        per_row: tuple[str, ...] = ("ar", "ar_var", "car", "car_var", "df", "est_resid", "est_dates", "est_market")
        per_row += (
            "evt_market",
            "evt_returns",
            "evt_dates",
            "s2",
            "n_obs",
            "xtx_inv",
            "event_design",
            "markets",
            "keys",
        )
        taken: dict[str, object] = {name: getattr(self, name)[rows] for name in per_row}
        taken["est_bench_own"] = None if self.est_bench_own is None else self.est_bench_own[rows]
        taken["evt_target"] = None if self.evt_target is None else self.evt_target[rows]
        taken["blocks"] = None if self.blocks is None else self.blocks[rows]
        return replace(self, **taken)  # type: ignore[arg-type]

    @property
    def market_design(self) -> bool:
        """True when the model's design is the benchmark alone or nothing (market, constant-mean, market-adjusted)."""
        return self.design_regressors in ((), ("market",))

    @cached_property
    def key_order(self) -> IntArray:
        """Row numbers sorted by :attr:`keys` (ties, which valid data do not have, in row order)."""
        return np.argsort(np.asarray(self.keys).astype(str), kind="stable").astype(np.int64)

    @cached_property
    def layout(self) -> Layout:
        """The study's days, CAR windows, knobs and k (everything here that is not per firm-event)."""
        return Layout(self.rel_days, self.car_windows, self.conventions, self.k)

    def car_columns(self, window: Window) -> IntArray:
        """Event-window column indices of the days of ``window`` (:meth:`Layout.car_columns`)."""
        return self.layout.car_columns(window)

    @cached_property
    def sar(self) -> FloatArray:
        """Standardized ARs, SAR_it = AR_it / sqrt(s_i^2 C_it) (``docs/methods.md`` §5.4)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.ar / np.sqrt(self.ar_var)

    @cached_property
    def scar(self) -> FloatArray:
        """Standardized CARs, SCAR_i(w) = CAR_i(w) / sqrt(Var CAR_i(w))."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.car / np.sqrt(self.car_var)


@dataclass(frozen=True, eq=False)
class StatBlock:
    """Values of one test for every group (rows) and day or window (columns).

    ``family`` is ``"t"`` (Student t with ``df`` degrees of freedom per cell) or ``"normal"`` (N(0,1),
    ``df`` NaN); ``reason`` is an empty string where the statistic is defined and says why where it is NaN.
    Two families carry a per-cell choice in ``df``: ``"signed_rank"`` (Wilcoxon: ``df`` finite where the
    exact signed-rank null was used, NaN where the normal approximation was) and ``"empirical"``
    (resampling: ``df`` holds the number of resamples B behind each p-value).
    """

    statistic: FloatArray
    p_value: FloatArray
    n: IntArray
    df: FloatArray
    reason: np.ndarray
    family: str

    def distribution(self) -> np.ndarray:
        """Reference distribution per cell as text: ``"t(12)"``, ``"N(0,1)"``, or ``""`` if undefined.

        ``"signed_rank"`` cells read "exact signed-rank" where ``df`` is finite and "N(0,1)" otherwise;
        ``"empirical"`` cells read "empirical (B=...)" with ``df`` holding the resamples used.
        """
        if self.family == "normal":
            return np.full(self.statistic.shape, "N(0,1)", dtype=object)
        if self.family == "signed_rank":
            text = np.where(np.isfinite(self.df), "exact signed-rank", "N(0,1)").astype(object)
            return np.where(np.isfinite(self.statistic), text, "").astype(object)
        fmt = "empirical (B={:.0f})" if self.family == "empirical" else "t({:.0f})"
        values, inverse = np.unique(self.df.ravel(), return_inverse=True)  # format each df once
        labels = np.array([fmt.format(v) if np.isfinite(v) else "" for v in values], dtype=object)
        text = labels[inverse.ravel()].reshape(self.statistic.shape)
        if self.family == "empirical":
            text = np.where(np.isfinite(self.statistic), text, "").astype(object)
        return text


def two_sided_t(statistic: FloatArray, df: FloatArray) -> FloatArray:
    """Two-sided p-value 2 P(T_df > |t|); NaN where the statistic or df is undefined.

    2 P(T > |t|) = 2 stdtr(df, -|t|), scipy.special's kernel (what stats.t.sf evaluates, without its
    overhead). Arrays of more than :data:`THREADED_SIZE` cells are evaluated in slices on one thread per
    core (the ufunc releases the GIL); every cell gets the same value either way.
    """
    statistic, df = np.broadcast_arrays(np.asarray(statistic, dtype=np.float64), np.asarray(df, dtype=np.float64))
    out = np.empty(statistic.shape)
    flat_t, flat_df, flat_out = statistic.reshape(-1), df.reshape(-1), out.reshape(-1)

    def fill(part: slice) -> None:
        t, d = flat_t[part], flat_df[part]
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(t) & (d > 0)
            p = 2.0 * special.stdtr(np.where(ok, d, 1.0), -np.abs(np.where(ok, t, 0.0)))
            flat_out[part] = np.where(ok, p, np.nan)

    n, workers = flat_out.size, os.cpu_count() or 1
    if n <= THREADED_SIZE or workers == 1:
        fill(slice(0, n))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fill, [slice(k * n // workers, (k + 1) * n // workers) for k in range(workers)]))
    return out


THREADED_SIZE = 1_000_000
"""Cells above which :func:`two_sided_t` evaluates its slices on one thread per core."""


def two_sided_normal(statistic: FloatArray) -> FloatArray:
    """Two-sided p-value 2 P(Z > |z|) = 2 Φ(−|z|) under N(0,1) (scipy.special.ndtr, what stats.norm.sf evaluates)."""
    return np.where(np.isfinite(statistic), 2.0 * special.ndtr(-np.abs(statistic)), np.nan)


def reasons(*conditions: tuple[np.ndarray, str]) -> np.ndarray:
    """First applicable reason per cell from (mask, text) pairs; empty string where none applies.

    The masks are combined into the index of the first one that holds (small integers), and the texts are
    looked up once: one pass over an object array whatever the number of conditions.
    """
    shape = np.broadcast_shapes(*(np.shape(mask) for mask, _ in conditions))
    first = np.zeros(shape, dtype=np.int8)
    for number, (mask, _) in reversed(list(enumerate(conditions, start=1))):
        first = np.where(mask, np.int8(number), first)
    texts = np.array([""] + [text for _, text in conditions], dtype=object)
    return texts[first]


class StatTest(ABC):
    """A registered test statistic.

    Subclasses set ``name`` (stable snake_case used in ``tests.csv``), ``label``, ``reference`` (the
    paper) and ``scopes``, and implement :meth:`compute` on a values array with group codes. The same
    implementation serves days and CAR windows; :meth:`inputs` picks the arrays for a scope.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    reference: ClassVar[str]
    scopes: ClassVar[tuple[Scope, ...]] = ("day", "window")
    needs_estimation: ClassVar[bool]
    """Whether :meth:`compute` reads an estimation-window field of :class:`InferenceData` (``est_resid``,
    ``est_dates``, ``est_market``, ``est_bench_own``, or a quantity memoized from them) under some knob
    value. Every registered test states it; a test with False gives the same block whatever those fields
    hold, so a caller may drop them (:func:`needs_estimation`)."""
    decomposable: ClassVar[bool] = False
    """Whether the statistic is a function of per-group sums that chunks of firm-events can compute apart and
    merge (:class:`eventstudy.inference.partials.DecomposableTest`). False for the tests that need the whole
    cross-section of a group at once: ranks across firm-events, resampling, calendar-time portfolios, the
    Kolari-Pynnönen r̄."""
    uses_cross_correlation: ClassVar[bool] = False
    """Whether the statistic uses the Kolari-Pynnönen r̄ of the group's estimation residuals; the r̄ table
    (``cross_correlation``) is computed only when a requested test does (:func:`needs_cross_correlation`)."""

    @abstractmethod
    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        """Statistic per group and column for the given scope."""


KEY_SEPARATOR = "\x1f"
"""Separator of the parts of a firm-event key (the ASCII unit separator, which no id or ticker holds)."""


def firm_event_keys(event_ids: ArrayLike, tickers: ArrayLike) -> np.ndarray:
    """Identity key of each firm-event, the event id and the ticker joined by :data:`KEY_SEPARATOR` (N,) str."""
    ids = np.asarray(event_ids, dtype=object).astype(str)
    names = np.asarray(tickers, dtype=object).astype(str)
    return np.char.add(np.char.add(ids, KEY_SEPARATOR), names).astype(object)


def group_generator(conventions: Conventions, test: str, keys: np.ndarray) -> np.random.Generator:
    """Seeded random generator of one group's resampling test, from the group's identity.

    Parameters
    ----------
    conventions
        Supplies ``seed``.
    test
        Registered test name (tests draw different streams).
    keys : (N_g,)
        The firm-event keys of the group's rows (:attr:`InferenceData.keys`), in any order.

    Notes
    -----
    The stream mixes ``conventions.seed``, a CRC-32 of the test name and the SHA-256 digest of the group's
    keys in sorted order. It depends on which firm-events form the group, not on their values, on their
    row order or on the other groups, so for a given seed a group draws the same resamples in any study
    that contains it (``docs/methods.md`` §6.4). The callers apply draw j to the group's j-th row in key
    order (:attr:`InferenceData.key_order`), which makes the p-values invariant to the row order and to
    a positive rescaling of the returns whenever the statistic is. CRC-32 and SHA-256 are stable across
    processes, unlike Python's salted ``hash``.
    """
    joined = "\x1e".join(sorted(str(k) for k in np.asarray(keys, dtype=object)))
    digest = hashlib.sha256(joined.encode("utf-8")).digest()
    words = [int(w) for w in np.frombuffer(digest, dtype="<u4")]
    return np.random.default_rng(np.random.SeedSequence([int(conventions.seed), zlib.crc32(test.encode()), *words]))


REGISTRY: dict[str, StatTest] = {}


def register(test: type[StatTest]) -> type[StatTest]:
    """Class decorator adding a test to :data:`REGISTRY` under its name."""
    REGISTRY[test.name] = test()
    return test


def needs_estimation(names: tuple[str, ...] | None) -> bool:
    """Whether any of the named tests (all registered tests when None) reads the estimation-window fields.

    This covers the Kolari-Pynnönen r̄ table too: :func:`eventstudy.inference.run_tests` computes it only
    for the tests that use it (:func:`needs_cross_correlation`), which read the estimation residuals.
    """
    return any(test.needs_estimation for test in get_tests(names))


def needs_cross_correlation(names: tuple[str, ...] | None) -> bool:
    """Whether any of the named tests (all registered tests when None) uses the Kolari-Pynnönen r̄."""
    return any(test.uses_cross_correlation for test in get_tests(names))


CROSS_CORRELATION_NOT_COMPUTED = "Kolari-Pynnönen cross-correlation not computed: no KP test was requested (--tests)"
"""What the summary (and the reports through it) say in place of the r̄ when no chosen test uses it."""


def get_tests(names: tuple[str, ...] | None) -> tuple[StatTest, ...]:
    """Tests by name (all registered tests when ``names`` is None); unknown names raise."""
    if names is None:
        return tuple(REGISTRY.values())
    missing = [n for n in names if n not in REGISTRY]
    if missing:
        raise UnknownNameError("test", missing[0], REGISTRY, parameter="--tests")
    return tuple(REGISTRY[n] for n in names)
