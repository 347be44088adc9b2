"""Normal-return models: a model owns its regressors, builds its design, and is fitted (``docs/methods.md`` §4).

A model declares the panel series it reads by name (:attr:`NormalReturnModel.series`: ``"market"`` for the
ticker's benchmark, factor columns such as ``"mkt_rf"``, ``"smb"``, ``"rf"``) and builds its
:class:`Design` from them: the regression target (the return less an offset: the benchmark for
market-adjusted returns, the risk-free rate for factor models), the regressors besides the intercept, and
their event-window rows. Its coefficients have names (:meth:`NormalReturnModel.coef_names`), which the
parameters table, the reports and the notebook iterate over. Every linear model is fitted by one code path
(:func:`eventstudy._kernels.ols_windows`), so the forecast-error factor and the CAR variance follow from the
design rows rather than from per-model formulas. Adding a model is one class (its series, regressors and
names) plus the data of its series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._frozen import freeze_arrays
from eventstudy._typing import FloatArray, IntArray, Window
from eventstudy.conventions import Conventions
from eventstudy.donors import DonorPanel, OwnEvents, donor_windows, fit_donors
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.returns import (
    OTHER_MARKET,
    SPAN_SERIES,
    ReturnPanel,
    extra_name,
    market_shift_of,
    other_index,
    shifted_market_name,
)


@dataclass(frozen=True, eq=False)
class ModelFit:
    """Estimates and event-window predictions of a normal-return model for every event of a panel.

    Immutable: every array is read-only, also those of :meth:`take`.

    Attributes
    ----------
    model : str
        Registered model name.
    k : int
        Number of estimated coefficients.
    coef_names : tuple of str
        Name of each coefficient (``alpha`` first when the model has an intercept; ``beta`` for the market
        model's slope, ``beta_<factor>`` for factor models).
    coef : (N, k)
        Coefficients, in the order of ``coef_names``.
    xtx_inv : (N, k, k)
        (X'X)^-1 of each event's estimation design.
    n_obs, df : (N,)
        M_i and the single-event degrees of freedom M_i - k.
    s2 : (N,)
        Residual variance with the divisor of the conventions.
    r_squared : (N,)
        1 - SSR/TSS on the estimation window (NaN for models without regressors).
    residuals : (N, L_est)
        Estimation residuals.
    event_design : (N, W, k)
        Design rows x_it on the event-window days.
    expected : (N, W)
        Expected returns E[R_it] in the event window.
    abnormal : (N, W)
        AR_it = R_it - E[R_it].
    leverage : (N, W)
        C_it - 1: x_it'(X'X)^-1 x_it with ``fec_moments = "own_rows"``; for the market model with
        ``fec_moments = "index_window"`` 1/M_i + (R_mt - R̄_m)^2 / Σ (R_ms - R̄_m)^2 with the benchmark's
        moments over its own whole estimation window; zero when the forecast-error correction is off.
    fec_inverse : (N, k, k) or None
        The matrix Q_i with leverage = x_it' Q_i x_it, used for the CAR variance (``docs/methods.md``
        §5.3, g' Q_i g): (X_i'X_i)^-1 with own-row moments (then None, read :attr:`fec_matrix`), the
        moment matrix of :func:`eventstudy._kernels.index_window_fec` with ``"index_window"``.
    fec_moments : str
        The moments actually used: ``"own_rows"`` or ``"index_window"`` (models without a market
        regressor always use their own rows).
    regressor_gaps : (N,)
        Estimation days with a return but a missing regressor (e.g. no factor row that day); those days
        are left out of the fit.
    regressors : tuple of str
        Names of the design's columns besides the intercept (``("market",)`` for the market model, the
        factor columns for factor models, ``()`` for the constant-mean and market-adjusted models).
    diagnostic_names : tuple of str
        Names of the per-firm-event quantities in ``diagnostics`` (e.g. Scholes-Williams' three slopes and
        ρ̂_m, Dimson's summed beta), reported in the parameters table after the coefficients.
    diagnostics : (N, len(diagnostic_names)) or None
    ar_factor : (N, W) or None
        Each AR's variance in units of s² in place of the 1 of the OLS prediction variance, when the model's AR
        variances differ by day (GARCH: σ²_t / s²); the CAR variance puts Σ_{t∈w} of it in place of L. None:
        1 (or :attr:`span`).
    failures : (N,) object or None
        Why a firm-event could not be estimated, where the model knows better than "not estimable" (GARCH: the
        optimizer's status); "" for the others.
    span : (N, W) or None
        Trade-to-trade only (None for every other model): the sessions n_t each event-window return spans.
        The AR variance is s^2 (n_t + x_it' Q x_it), so ``leverage`` holds n_t - 1 + x_it' Q x_it, the CAR
        variance puts Σ n_t in place of L (``docs/methods.md`` §5.3), and a CAR whose first return spans
        more than one session is missing (:meth:`window_start_spans`).
    """

    model: str
    k: int
    coef_names: tuple[str, ...]
    coef: FloatArray
    xtx_inv: FloatArray
    n_obs: IntArray
    df: IntArray
    s2: FloatArray
    r_squared: FloatArray
    residuals: FloatArray
    event_design: FloatArray
    expected: FloatArray
    abnormal: FloatArray
    leverage: FloatArray
    regressor_gaps: IntArray
    fec_inverse: FloatArray | None = None
    fec_moments: str = "own_rows"
    regressors: tuple[str, ...] = ()
    diagnostic_names: tuple[str, ...] = ()
    diagnostics: FloatArray | None = None
    span: FloatArray | None = None
    ar_factor: FloatArray | None = None
    failures: np.ndarray | None = None

    def __post_init__(self) -> None:
        freeze_arrays(self)

    def take(self, rows: IntArray) -> ModelFit:
        """The fit restricted to the given firm-events (rows are independent, so nothing is refitted)."""
        values: dict[str, Any] = {
            name: (value[rows] if isinstance(value, np.ndarray) else value) for name, value in self.__dict__.items()
        }
        return ModelFit(**values)

    @property
    def sigma(self) -> FloatArray:
        """Residual standard deviation s_i."""
        return np.sqrt(self.s2)

    def cars(
        self, event_days: IntArray, windows: Sequence[Window], conventions: Conventions
    ) -> tuple[FloatArray, FloatArray]:
        """CARs and their variances for each window, two (N, len(windows)) arrays.

        CAR_i(w) = Σ_{t∈w} AR_it, NaN when any day of the window is missing (never zero-filled).
        The variance follows ``conventions.car_variance`` (``docs/methods.md`` §5.3) with the
        forecast-error moments of :attr:`fec_matrix`; with the correction off, ``"exact"`` reduces to
        L s^2 and ``"diag"`` to L s^2 as well, since C_it = 1. With trade-to-trade spans (:attr:`span`) L is
        Σ_{t∈w} n_t, and a window whose first return spans back before the window's start
        (:meth:`window_start_spans` > 1) has no CAR (boundary contamination, ``docs/methods.md`` §4.7).
        """
        values = np.empty((len(self.abnormal), len(windows)))
        variances = np.empty_like(values)
        method = (
            conventions.car_variance if conventions.fec else ("L_s2" if conventions.car_variance != "diag" else "diag")
        )
        for c, (start, end) in enumerate(windows):
            cols = np.flatnonzero((event_days >= start) & (event_days <= end))
            values[:, c] = kn.window_sums(self.abnormal, cols)
            variances[:, c] = kn.car_variance(
                self.s2,
                self.event_design[:, cols],
                self.fec_matrix,
                self.leverage[:, cols],
                method,
                self._diagonal(cols),
            )
        if self.span is not None:
            values[self.window_start_spans(event_days, windows) > 1] = np.nan
        variances[~np.isfinite(values)] = np.nan
        return values, variances

    def _diagonal(self, cols: IntArray) -> FloatArray | None:
        """Σ over the window's days of the AR variance factors (spans or :attr:`ar_factor`); None: L."""
        factor = self.span if self.span is not None else self.ar_factor
        return None if factor is None else kn.window_sums(factor, cols)

    def window_start_spans(self, event_days: IntArray, windows: Sequence[Window]) -> IntArray:
        """Sessions spanned by the first return of each window, (N, len(windows)); 0 without spans or return.

        A value n > 1 means the return on the window's first day runs n sessions back, to before the window
        starts: its CAR is boundary-contaminated (trade-to-trade, ``docs/methods.md`` §4.7).
        """
        out = np.zeros((len(self.abnormal), len(windows)), dtype=np.int64)
        if self.span is None:
            return out
        first = np.searchsorted(event_days, [start for start, _ in windows])
        spans = self.span[:, first]
        return np.where(np.isfinite(spans), spans, 0).astype(np.int64)

    @property
    def fec_matrix(self) -> FloatArray:
        """Q_i with C_it = 1 + x_it' Q_i x_it: ``fec_inverse`` when set, else (X_i'X_i)^-1."""
        return self.xtx_inv if self.fec_inverse is None else self.fec_inverse

    @property
    def ar_variance(self) -> FloatArray:
        """Var(AR_it) = s_i^2 C_it with C_it = 1 + leverage (``docs/methods.md`` §5.2)."""
        return self.s2[:, None] * (1.0 + self.leverage)


@dataclass(frozen=True, eq=False)
class Design:
    """A model's regression on one panel: ``y = R - offset = X b + e``, X = [1, regressors] or [regressors].

    Attributes
    ----------
    est_target : (N, L)
        The estimation-window target: the return less the model's offset (NaN where missing).
    est_regressors : (N, L, p)
        Estimation-window regressors besides the intercept, in the order of the model's regressors.
    evt_regressors : (N, W, p)
        Their event-window rows.
    evt_offset : (N, W) or None
        What is added back to the prediction: E[R_it] = offset_it + x_it' b (None: nothing).
    """

    est_target: FloatArray
    est_regressors: FloatArray
    evt_regressors: FloatArray
    evt_offset: FloatArray | None


@dataclass(frozen=True)
class NormalReturnModel:
    """A linear normal-return model fitted by OLS on each firm-event's estimation window.

    Subclasses set the class attributes below and, where the design is not "the benchmark as regressor",
    override :meth:`design`. Adding a model is one subclass plus the data of its series.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    intercept: ClassVar[bool] = True
    variance_note: ClassVar[str] = ""
    """How the AR variance is obtained when it is not the exact OLS prediction variance (the report states it)."""

    @property
    def series(self) -> tuple[str, ...]:
        """Names of the panel series the model reads (:meth:`eventstudy.returns.ReturnPanel.series`)."""
        return self.regressors

    @property
    def regressors(self) -> tuple[str, ...]:
        """Names of the design's columns besides the intercept, in order."""
        return ()

    @property
    def market_shifts(self) -> tuple[int, ...]:
        """Leads (+j) and lags (-j) of the benchmark return among :attr:`series` (gathered with the returns)."""
        return tuple(j for name in self.series if (j := market_shift_of(name)) is not None)

    @property
    def factor_series(self) -> tuple[str, ...]:
        """The factor columns and the risk-free rate: the series not gathered with the returns.

        The benchmark, its leads and lags, the spans and the other market come with the window gather.
        """
        return tuple(
            name
            for name in self.series
            if name not in ("market", OTHER_MARKET)
            and market_shift_of(name) is None
            and name not in SPAN_SERIES
            and not name.startswith("extra:")
        )

    @property
    def accumulated_extras(self) -> tuple[str, ...]:
        """Symbols accumulated between the ticker's closes like the other market (extra regressors)."""
        return ()

    @property
    def accumulated_extra_lags(self) -> int:
        """Lags (in rows) of each accumulated extra regressor that enter the design as well."""
        return 0

    @property
    def reads_other_market(self) -> bool:
        """Whether the model reads the other exchange's accumulated index return (``OTHER_MARKET``)."""
        return OTHER_MARKET in self.series

    def extra_symbols(self, tickers: Sequence[str]) -> tuple[str, ...]:
        """Price series the model needs besides the tickers and their benchmarks (the other market's index)."""
        if not self.reads_other_market:
            return ()
        return tuple(dict.fromkeys([*(other_index(t) for t in tickers), *self.accumulated_extras]))

    @property
    def reads_spans(self) -> bool:
        """Whether the model reads the return spans (:func:`eventstudy.returns.trade_spans`) among :attr:`series`."""
        return any(name in SPAN_SERIES for name in self.series)

    def coef_names(self) -> tuple[str, ...]:
        """Names of the coefficients: ``alpha`` for the intercept, ``beta_<regressor>`` for each slope."""
        return ("alpha",) * self.intercept + tuple(f"beta_{name}" for name in self.regressors)

    @property
    def k(self) -> int:
        """Number of estimated coefficients."""
        return int(self.intercept) + len(self.regressors)

    @property
    def single_market_regressor(self) -> bool:
        """True for α + β R_m designs fitted by plain OLS, the only ones the benchmark-window FEC moments apply to.

        A model that states its own variance (:attr:`variance_note`: Scholes-Williams, GARCH) is not plain OLS.
        """
        return self.intercept and self.regressors == ("market",) and not self.variance_note

    @property
    def fixed_coefficients(self) -> dict[str, float]:
        """Coefficients the model fixes rather than estimates, shown in the parameters table (e.g. β = 1)."""
        return {}

    def design(self, panel: ReturnPanel) -> Design:
        """The regression target, the regressors and their event-window rows, from the panel's series."""
        est, evt = panel.series_arrays(self.regressors)
        return Design(est_target=panel.est_returns, est_regressors=est, evt_regressors=evt, evt_offset=None)

    def fit(self, panel: ReturnPanel, conventions: Conventions) -> ModelFit:
        """Estimate on the panel's estimation windows and predict its event windows.

        Parameters
        ----------
        panel
            Aligned estimation and event-window returns (events x days) with the series the model reads.
        conventions
            Residual-variance divisor (``resid_ddof``), forecast-error switch (``fec``) and the moments of
            the forecast-error factor (``fec_moments``).

        Returns
        -------
        ModelFit
            Events that cannot be estimated carry NaN; the study turns them into exclusions.

        Raises
        ------
        InputError
            The panel lacks a series the model reads (e.g. a factor column).
        ValueError
            ``fec_moments = "index_window"`` for the market model on a panel without
            ``est_bench_own`` (a hand-built panel, or :func:`eventstudy.returns.build_panel` without
            ``bench_own=True``).

        Notes
        -----
        ``fec_moments = "index_window"`` (estudy2, ``docs/methods.md`` §8.2) only changes the market model:
        there C_it = 1 + 1/M_i + (R_mt - R̄_m)^2 / Σ_s (R_ms - R̄_m)^2 with R̄_m and the sum of squares over
        the benchmark's own returns of the whole estimation window (``panel.est_bench_own``) and M_i the
        security's own count. Every other model uses the exact leverage x_it'(X_i'X_i)^-1 x_it of its own
        regression rows (constant-mean: C = 1 + 1/M_i; market-adjusted: C = 1).
        """
        design = self.design(panel)
        ols = kn.ols_windows(design.est_target, design.est_regressors, self.intercept)
        s2 = kn.residual_variance(ols.ssr, ols.n_obs, conventions.ddof(self.k))
        event_design = kn.design(design.evt_regressors, self.intercept)
        predicted = kn.predict(event_design, ols.coef)
        expected = predicted if design.evt_offset is None else predicted + design.evt_offset
        abnormal = panel.evt_returns - expected
        moments = "own_rows"
        fec_inverse = None
        if conventions.fec and self.k:
            if conventions.fec_moments == "index_window" and self.single_market_regressor:
                if panel.est_bench_own is None:
                    raise ValueError(
                        "fec_moments='index_window' needs the benchmark's own estimation returns "
                        "(ReturnPanel.est_bench_own); build the panel with "
                        "eventstudy.returns.build_panel(..., bench_own=True)"
                    )
                lev, fec_inverse = kn.index_window_fec(panel.evt_market, ols.n_obs, panel.est_bench_own)
                fec_inverse = np.where(np.isfinite(ols.xtx_inv), fec_inverse, np.nan)
                lev = np.where(np.asarray(np.isfinite(ols.coef).all(axis=1))[:, None], lev, np.nan)
                moments = "index_window"
            else:
                lev = kn.leverage(event_design, ols.xtx_inv)
        else:
            lev = np.where(np.isfinite(abnormal), 0.0, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = 1.0 - ols.ssr / ols.tss if self.regressors else np.full(len(s2), np.nan)
        return ModelFit(
            model=self.name,
            k=self.k,
            coef_names=self.coef_names(),
            coef=ols.coef,
            xtx_inv=ols.xtx_inv,
            n_obs=ols.n_obs,
            df=ols.n_obs - self.k,
            s2=s2,
            r_squared=r2,
            residuals=ols.residuals,
            event_design=event_design,
            expected=expected,
            abnormal=abnormal,
            leverage=lev,
            regressor_gaps=regressor_gaps(panel.est_returns, design),
            fec_inverse=fec_inverse,
            fec_moments=moments,
            regressors=self.regressors,
        )


def regressor_gaps(returns: FloatArray, design: Design) -> IntArray:
    """Estimation days per firm-event with a return but a missing target offset or regressor, (N,).

    E.g. a day without a factor row or without the risk-free rate: the fit leaves it out.
    """
    complete = np.isfinite(design.est_target)
    if design.est_regressors.shape[2]:
        complete &= np.isfinite(design.est_regressors).all(axis=2)
    return (np.isfinite(returns) & ~complete).sum(axis=1).astype(np.int64)


@dataclass(frozen=True)
class MarketModel(NormalReturnModel):
    """Market model R_it = α_i + β_i R_mt + ε_it, OLS (``docs/methods.md`` §4.3); k = 2, coefficients alpha, beta."""

    name: ClassVar[str] = "market"
    label: ClassVar[str] = "market model (OLS on the benchmark)"

    @property
    def regressors(self) -> tuple[str, ...]:
        """The benchmark return."""
        return ("market",)

    def coef_names(self) -> tuple[str, ...]:
        """``alpha`` and ``beta`` (the names of the literature and of every peer tool)."""
        return ("alpha", "beta")


@dataclass(frozen=True)
class ConstantMean(NormalReturnModel):
    """Constant-mean model E[R_it] = μ_i, μ_i the estimation-window mean (``docs/methods.md`` §4.1); k = 1."""

    name: ClassVar[str] = "constant_mean"
    label: ClassVar[str] = "constant-mean model"


@dataclass(frozen=True)
class MarketAdjusted(NormalReturnModel):
    """Market-adjusted model AR_it = R_it - R_mt (``docs/methods.md`` §4.2); nothing estimated, k = 0.

    The residual variance is s_i^2 = Σ AR_it^2 / M_i over the estimation window (no demeaning, since no
    mean is estimated), and C_it = 1. The parameters table shows the fixed alpha = 0 and beta = 1.
    """

    name: ClassVar[str] = "market_adjusted"
    label: ClassVar[str] = "market-adjusted returns (R - R_m)"
    intercept: ClassVar[bool] = False

    @property
    def series(self) -> tuple[str, ...]:
        """The benchmark return, subtracted rather than regressed on."""
        return ("market",)

    @property
    def fixed_coefficients(self) -> dict[str, float]:
        """The fixed ``alpha = 0`` and ``beta = 1``."""
        return {"alpha": 0.0, "beta": 1.0}

    def design(self, panel: ReturnPanel) -> Design:
        """Target R - R_m, no regressors; the benchmark return added back to the (zero) prediction."""
        none = np.zeros(panel.est_returns.shape + (0,))
        return Design(
            est_target=panel.est_returns - panel.est_market,
            est_regressors=none,
            evt_regressors=np.zeros(panel.evt_returns.shape + (0,)),
            evt_offset=panel.evt_market,
        )


@dataclass(frozen=True)
class Dimson(NormalReturnModel):
    """Dimson (1979) aggregated coefficients: R_it = α + Σ_{j=-K}^{K} β_j R_m,t+j + ε (``docs/methods.md`` §4.6).

    One multiple regression on the benchmark return and its K lags and K leads (default K = 1), k = 2K + 2.
    The leads and lags are the benchmark returns of the previous and next rows of the ticker's aligned series
    (:func:`eventstudy.returns.gather_windows` ``market_shifts``). AR_it = R_it - α̂ - Σ_j β̂_j R_m,t+j (the full
    lead/lag equation), so the event window needs benchmark returns up to K rows after its end (a day without
    them has no AR). The forecast-error factor is exact (§5.2) with the lead/lag row as x_it. Coefficients
    ``alpha``, ``beta_lag<j>``, ``beta``, ``beta_lead<j>``; the summed ``beta_dimson`` = Σ_j β̂_j is reported.
    """

    name: ClassVar[str] = "dimson"
    label: ClassVar[str] = "Dimson (1979) lead/lag market model"
    lags: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.lags, bool) or not isinstance(self.lags, int) or not 1 <= self.lags <= 10:
            raise InputError(
                f"the Dimson model takes 1 to 10 leads and lags, got {self.lags!r}", parameter="lags", value=self.lags
            )

    @property
    def regressors(self) -> tuple[str, ...]:
        """The benchmark return K rows back to K rows ahead."""
        return tuple(shifted_market_name(j) for j in range(-self.lags, self.lags + 1))

    def coef_names(self) -> tuple[str, ...]:
        """``alpha``, then ``beta_lag<K>`` .. ``beta_lag1``, ``beta``, ``beta_lead1`` .. ``beta_lead<K>``."""
        return (
            "alpha",
            *("beta" if j == 0 else f"beta_{shifted_market_name(j)[7:]}" for j in range(-self.lags, self.lags + 1)),
        )

    def fit(self, panel: ReturnPanel, conventions: Conventions) -> ModelFit:
        """The OLS fit of :class:`NormalReturnModel` with the summed beta β_D = Σ_j β̂_j as a diagnostic."""
        fit = super().fit(panel, conventions)
        return replace(fit, diagnostic_names=("beta_dimson",), diagnostics=fit.coef[:, 1:].sum(axis=1)[:, None])


@dataclass(frozen=True)
class ScholesWilliams(MarketModel):
    """Scholes-Williams (1977) beta for non-synchronous trading (``docs/methods.md`` §4.5).

    On the estimation rows where the return and the benchmark return of the day before, the day and the day
    after are all present (the trimmed sample, M' rows): β⁻, β⁰, β⁺ are the slopes of three separate simple
    regressions of R_it on R_m,t-1, R_mt and R_m,t+1; ρ̂_m is the first-order autocorrelation of the benchmark
    return over the estimation rows where R_mt and R_m,t-1 are present, Σ (R_mt - R̄_m)(R_m,t-1 - R̄_m) /
    Σ (R_mt - R̄_m)^2 with R̄_m the mean of R_mt over those rows; β_SW = (β⁻ + β⁰ + β⁺) / (1 + 2 ρ̂_m) and
    α_SW = R̄_i - β_SW R̄_m (means over the trimmed sample). AR_it = R_it - α_SW - β_SW R_mt; s² = Σ e² /
    (M' - ddof) with the conventions' divisor (default M' - 2), df = M' - 2.

    Variance: β_SW is not an OLS coefficient, so the forecast-error factor and the CAR variance use the
    market-model formula on the trimmed sample (C_it = 1 + 1/M' + (R_mt - R̄_m)^2 / Σ (R_ms - R̄_m)^2), an
    approximation the report states. The benchmark-window moments (``fec_moments = "index_window"``) do not
    apply: the trimmed sample's own rows are used. Coefficients ``alpha`` and ``beta`` (α_SW, β_SW), as the
    market model's.
    """

    name: ClassVar[str] = "scholes_williams"
    label: ClassVar[str] = "Scholes-Williams (1977) market model"
    variance_note: ClassVar[str] = (
        "forecast-error factor and CAR variance from the market-model formula on the trimmed sample, an "
        "approximation (the Scholes-Williams beta is not an OLS coefficient)"
    )

    @property
    def series(self) -> tuple[str, ...]:
        """The benchmark return, and its values one row before and after."""
        return ("market_lag1", "market", "market_lead1")

    def fit(self, panel: ReturnPanel, conventions: Conventions) -> ModelFit:
        """The three slopes, ρ̂_m, β_SW and α_SW per firm-event, vectorised over all firm-events."""
        est, _ = panel.series_arrays(self.series)
        lag, market, lead = est[:, :, 0], est[:, :, 1], est[:, :, 2]
        y = panel.est_returns
        trimmed = np.isfinite(y) & np.isfinite(lag) & np.isfinite(market) & np.isfinite(lead)
        ols = kn.ols_windows(np.where(trimmed, y, np.nan), market[:, :, None], True)  # (X'X)^-1 and M' of [1, R_m]
        slopes = [
            _simple_slope(np.where(trimmed, y, np.nan), np.where(trimmed, x, np.nan)) for x in (lag, market, lead)
        ]
        rho = _autocorrelation(market, lag)
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = (slopes[0] + slopes[1] + slopes[2]) / (1.0 + 2.0 * rho)
            n = trimmed.sum(axis=1)
            y_mean = np.where(trimmed, y, 0.0).sum(axis=1) / n
            m_mean = np.where(trimmed, market, 0.0).sum(axis=1) / n
        alpha = y_mean - beta * m_mean
        usable = np.isfinite(ols.coef).all(axis=1) & np.isfinite(beta)
        coef = np.where(usable[:, None], np.stack([alpha, beta], axis=1), np.nan)
        residuals = np.where(trimmed & usable[:, None], y - coef[:, :1] - coef[:, 1:] * market, np.nan)
        ssr = np.where(usable, np.nansum(residuals**2, axis=1), np.nan)
        s2 = kn.residual_variance(ssr, ols.n_obs, conventions.ddof(self.k))
        event_design = kn.design(panel.evt_market[:, :, None], True)
        expected = kn.predict(event_design, coef)
        abnormal = panel.evt_returns - expected
        if conventions.fec:
            lev = kn.leverage(event_design, ols.xtx_inv)
        else:
            lev = np.where(np.isfinite(abnormal), 0.0, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = 1.0 - ssr / ols.tss
        diagnostics = np.stack([*slopes, rho], axis=1)
        return ModelFit(
            model=self.name,
            k=self.k,
            coef_names=self.coef_names(),
            coef=coef,
            xtx_inv=np.where(usable[:, None, None], ols.xtx_inv, np.nan),
            n_obs=ols.n_obs,
            df=ols.n_obs - self.k,
            s2=s2,
            r_squared=r2,
            residuals=residuals,
            event_design=event_design,
            expected=expected,
            abnormal=abnormal,
            leverage=lev,
            regressor_gaps=(np.isfinite(y) & np.isfinite(market) & ~trimmed).sum(axis=1).astype(np.int64),
            regressors=self.regressors,
            diagnostic_names=("beta_lag", "beta_0", "beta_lead", "rho_m"),
            diagnostics=diagnostics,
        )


def _simple_slope(y: FloatArray, x: FloatArray) -> FloatArray:
    """Slope of the simple regression of y on x per row, over the columns where both are present, (N,)."""
    both = np.isfinite(y) & np.isfinite(x)
    n = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        yc = np.where(both, y - np.where(both, y, 0.0).sum(axis=1, keepdims=True) / n[:, None], 0.0)
        xc = np.where(both, x - np.where(both, x, 0.0).sum(axis=1, keepdims=True) / n[:, None], 0.0)
        return np.einsum("nl,nl->n", xc, yc) / np.einsum("nl,nl->n", xc, xc)


def _autocorrelation(market: FloatArray, lag: FloatArray) -> FloatArray:
    """ρ̂_m = Σ (R_mt - R̄_m)(R_m,t-1 - R̄_m) / Σ (R_mt - R̄_m)^2 over the rows with both present, (N,)."""
    both = np.isfinite(market) & np.isfinite(lag)
    n = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(both, market, 0.0).sum(axis=1) / n
        now = np.where(both, market - mean[:, None], 0.0)
        before = np.where(both, lag - mean[:, None], 0.0)
        return np.einsum("nl,nl->n", now, before) / np.einsum("nl,nl->n", now, now)


T2T_INTERCEPTS: tuple[str, ...] = ("per_return", "per_day")
"""The intercept conventions of the trade-to-trade model (knob ``t2t_intercept``, ``docs/methods.md`` §4.7)."""


@dataclass(frozen=True)
class TradeToTrade(NormalReturnModel):
    """Trade-to-trade model for thinly traded securities, Maynes and Rumsey (1993) (``docs/methods.md`` §4.7).

    Each aligned return R_it spans n_t >= 1 sessions of the ticker's exchange and is paired with the
    benchmark's daily returns summed over the same sessions, R_m,span (:func:`eventstudy.returns.trade_spans`):

        R_it = α a(n_t) + β R_m,span,t + ε_it,   Var(ε_it) = σ² n_t,

    with a(n) = 1 (``intercept_convention = "per_return"``, the default: one α per observed return, as in a
    third-party transcription of Stata eventstudy2) or a(n) = n (``"per_day"``: a daily drift). Fitted by
    weighted least squares: y, a(n) and R_m,span are divided by √n_t and regressed without a separate
    constant (X̃ the transformed estimation design); s² = Σ ẽ² / (M - ddof) from the transformed residuals ẽ
    (default divisor M - 2), df = M - 2; R² is that of the transformed regression (about its mean).

    AR_it = R_it - α̂ a(n_t) - β̂ R_m,span,t; the estimation residuals are kept on the same (untransformed)
    scale. Var(AR_it) = s² (n_t + x_t'(X̃'X̃)^-1 x_t) with the untransformed row x_t = (a(n_t), R_m,span,t),
    and Var(CAR_i(w)) = s² (Σ_{t∈w} n_t + g'(X̃'X̃)^-1 g), g = Σ_{t∈w} x_t (``"exact"``; :attr:`ModelFit.span`).
    A CAR window whose first return spans more than one session is missing (boundary contamination).

    Diagnostics per firm-event: ``zero_return_share`` (returns exactly 0) and ``multi_session_share``
    (n_t > 1) among the estimation rows of the fit, and ``rho_m``, the benchmark's first-order
    autocorrelation as in :class:`ScholesWilliams` (its aligned return against the previous row's).

    Coefficients ``alpha`` (its column is a(n_t), not 1) and ``beta``; k = 2.

    References
    ----------
    Maynes, E. and Rumsey, J. (1993), "Conducting event studies with thinly traded stocks", Journal of Banking
    and Finance 17(1), 145-157.
    """

    name: ClassVar[str] = "trade_to_trade"
    label: ClassVar[str] = "trade-to-trade market model (Maynes and Rumsey 1993)"
    variance_note: ClassVar[str] = (
        "trade-to-trade WLS: Var(AR) = s^2 (n + x'(X~'X~)^-1 x) with n the sessions the return spans, x = (a(n), "
        "R_m,span) untransformed and X~ the estimation design divided by sqrt(n); CAR variance s^2 (sum of n + "
        "g'(X~'X~)^-1 g); a CAR whose first return spans back before the window start is missing"
    )
    intercept_convention: str = "per_return"

    def __post_init__(self) -> None:
        if self.intercept_convention not in T2T_INTERCEPTS:
            raise InputError(
                f"the trade-to-trade intercept convention must be one of {', '.join(T2T_INTERCEPTS)}, got "
                f"{self.intercept_convention!r}: per_return (a(n) = 1) or per_day (a(n) = n)",
                parameter="intercept_convention",
                value=self.intercept_convention,
            )

    @property
    def series(self) -> tuple[str, ...]:
        """The spans, the summed benchmark return, and the benchmark return and its lag (for ρ̂_m)."""
        return (*SPAN_SERIES, "market", "market_lag1")

    @property
    def regressors(self) -> tuple[str, ...]:
        """The summed benchmark return (the design's column besides the α column a(n))."""
        return (SPAN_SERIES[1],)

    @property
    def single_market_regressor(self) -> bool:
        """False: the benchmark-window FEC moments do not apply to a WLS design."""
        return False

    def coef_names(self) -> tuple[str, ...]:
        """``alpha`` and ``beta``."""
        return ("alpha", "beta")

    def intercept_column(self, span: FloatArray) -> FloatArray:
        """a(n): 1 (``per_return``) or n (``per_day``), NaN where n is missing."""
        return span if self.intercept_convention == "per_day" else np.where(np.isfinite(span), 1.0, np.nan)

    def fit(self, panel: ReturnPanel, conventions: Conventions) -> ModelFit:
        """WLS on the √n-transformed design per firm-event (:func:`eventstudy._kernels.ols_windows`, no constant)."""
        est, evt = panel.series_arrays(self.series)
        span, market_span, market, lag = (est[:, :, j] for j in range(4))
        y = panel.est_returns
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = 1.0 / np.sqrt(span)
        columns = np.stack([self.intercept_column(span), market_span], axis=2)
        ols = kn.ols_windows(y * scale, columns * scale[:, :, None], False)
        s2 = kn.residual_variance(ols.ssr, ols.n_obs, conventions.ddof(self.k))
        evt_span = evt[:, :, 0]
        event_design = np.stack([self.intercept_column(evt_span), evt[:, :, 1]], axis=2)
        expected = kn.predict(event_design, ols.coef)
        abnormal = panel.evt_returns - expected
        extra = evt_span - 1.0  # the spans' share of the AR variance beyond s^2
        lev = extra + kn.leverage(event_design, ols.xtx_inv) if conventions.fec else extra
        lev = np.where(np.isfinite(abnormal), lev, np.nan)
        used = np.isfinite(y) & np.isfinite(columns).all(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_used = used.sum(axis=1)
            zero_share = (used & (y == 0.0)).sum(axis=1) / n_used
            multi_share = (used & (span > 1.0)).sum(axis=1) / n_used
            r2 = 1.0 - ols.ssr / ols.tss
        return ModelFit(
            model=self.name,
            k=self.k,
            coef_names=self.coef_names(),
            coef=ols.coef,
            xtx_inv=ols.xtx_inv,
            n_obs=ols.n_obs,
            df=ols.n_obs - self.k,
            s2=s2,
            r_squared=r2,
            residuals=ols.residuals / scale,
            event_design=event_design,
            expected=expected,
            abnormal=abnormal,
            leverage=lev,
            regressor_gaps=(np.isfinite(y) & ~used).sum(axis=1).astype(np.int64),
            regressors=self.regressors,
            diagnostic_names=("zero_return_share", "multi_session_share", "rho_m"),
            diagnostics=np.stack([zero_share, multi_share, _autocorrelation(market, lag)], axis=1),
            span=np.where(np.isfinite(abnormal), evt_span, np.nan),
        )


@dataclass(frozen=True)
class Garch(MarketModel):
    """Market model with GARCH(1,1) errors, fitted by Kevin Sheppard's ``arch`` (:func:`eventstudy.garch.fit_garch`).

    R_it = α + β R_mt + ε_it, ε_it = σ_it z_it, σ²_it = ω + a ε²_i,t-1 + b σ²_i,t-1, normal maximum likelihood on
    each firm-event's estimation window. AR_it = R_it - α̂ - β̂ R_mt. Variance: each AR's variance is its
    one-step-ahead conditional variance σ²_it, the recursion continued through the event window's ARs (a missing
    day carried forward with its expectation); a CAR's variance is Σ_{t∈w} σ²_it, without a parameter-estimation
    term. s² is the mean conditional variance over the estimation rows, so that the AR variance factors are
    σ²_it / s² (:attr:`ModelFit.ar_factor`). df = M - 2 (the mean equation's coefficients). A fit that does not
    converge, or whose a + b reaches 1, is excluded with the optimizer's status. Coefficients ``alpha`` and
    ``beta`` of the mean equation, as the market model's; ω, a, b and the log-likelihood are diagnostics.
    """

    name: ClassVar[str] = "garch"
    label: ClassVar[str] = "market model with GARCH(1,1) errors (arch, normal likelihood)"
    variance_note: ClassVar[str] = (
        "GARCH(1,1): each abnormal return's variance is its one-step-ahead conditional variance (the recursion "
        "continued through the event window); a CAR's variance is the sum of them, without a parameter-estimation "
        "term"
    )

    def fit(self, panel: ReturnPanel, conventions: Conventions) -> ModelFit:
        """One ``arch`` fit per firm-event (the optimizer runs per series); the rest on arrays."""
        from eventstudy.garch import fit_garch

        fitted = fit_garch(
            panel.est_returns, panel.est_market[:, :, None], panel.evt_returns, panel.evt_market[:, :, None]
        )
        ok = fitted.converged
        est_var = fitted.est_sigma**2
        resid = fitted.est_residuals
        used = np.isfinite(resid)
        count = used.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s2 = np.where(ok, np.where(used, est_var, 0.0).sum(axis=1) / count, np.nan)
            factor = fitted.evt_sigma**2 / s2[:, None]
            ssr = np.where(used, resid, 0.0) ** 2
            y = np.where(used, panel.est_returns, 0.0)
            centred = np.where(used, y - (y.sum(axis=1) / count)[:, None], 0.0)
            r2 = np.where(ok, 1.0 - ssr.sum(axis=1) / (centred**2).sum(axis=1), np.nan)
        n = len(panel)
        abnormal = np.where(ok[:, None], fitted.abnormal, np.nan)
        return ModelFit(
            model=self.name,
            k=self.k,
            coef_names=self.coef_names(),
            coef=np.where(ok[:, None], fitted.coef, np.nan),
            xtx_inv=np.zeros((n, 2, 2)),
            n_obs=fitted.n_obs,
            df=fitted.n_obs - self.k,
            s2=s2,
            r_squared=r2,
            residuals=np.where(ok[:, None], resid, np.nan),
            event_design=kn.design(panel.evt_market[:, :, None], True),
            expected=panel.evt_returns - abnormal,
            abnormal=abnormal,
            leverage=factor - 1.0,  # the conditional variance, whatever the fec knob (no parameter term to drop)
            regressor_gaps=np.zeros(n, dtype=np.int64),
            regressors=self.regressors,
            diagnostic_names=("garch_omega", "garch_alpha", "garch_beta", "garch_loglik"),
            diagnostics=np.stack([fitted.omega, fitted.alpha, fitted.beta, fitted.loglik], axis=1),
            ar_factor=np.where(ok[:, None], factor, np.nan),
            failures=np.where(ok, "", "GARCH fit failed: " + fitted.status.astype(str).astype(object)),
        )


@dataclass(frozen=True)
class CrossMarket(NormalReturnModel):
    """Market model with the other exchange's index accumulated between the ticker's closes (``docs/methods.md`` §4.8).

    R_it = α + β R_mt + β_other R_other,t + Σ_x Σ_{l=0}^{lags} γ_x,l X_x,t-l + ε_it, OLS. For a Hong Kong (or any
    non-US) ticker the other index is the S&P 500 compounded over the NY sessions that close between the
    ticker's two closes (NY days d_prev..d-1 for HK day d); for a US listing (an ADR) it is the Hang Seng
    compounded over the HK sessions that close between its two closes (HK days d_prev+1..d). Extra regressors
    ``extras`` (an FX rate such as ``HKD=X``, a sector index such as ``KWEB``) are accumulated over the same
    intervals on their own calendars, each also ``extra_lags`` rows back (the augmented market model). The
    alignment comes from the exchanges' session closes (:func:`eventstudy.returns.accumulated_returns`), never
    from a calendar-date join; an interval in which a series did not trade contributes 0, one with a session
    without data a missing day. With ``orthogonalize`` the benchmark return is replaced by its residual from an
    OLS on [1, extras] over each firm-event's estimation rows (the same coefficients in the event window), so
    that β keeps its usual meaning; the ARs are unchanged (same column space). The forecast-error factor and
    CAR variance are exact (§5.2-5.3) with the design row. Coefficients ``alpha``, ``beta``, ``beta_other``,
    ``beta_<extra>`` (``beta_<extra>_lag<l>``).
    """

    name: ClassVar[str] = "cross_market"
    label: ClassVar[str] = "market model plus the other exchange's index between the ticker's closes (HK/NY)"
    extras: tuple[str, ...] = ()
    extra_lags: int = 0
    orthogonalize: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.extra_lags, bool) or not isinstance(self.extra_lags, int) or not 0 <= self.extra_lags <= 5:
            raise InputError(
                f"extra_lags must be a whole number from 0 to 5, got {self.extra_lags!r}",
                parameter="extra_lags",
                value=self.extra_lags,
            )
        if self.orthogonalize and not self.extras:
            raise InputError("orthogonalize needs extra regressors to orthogonalize on", parameter="orthogonalize")

    @property
    def accumulated_extras(self) -> tuple[str, ...]:
        """The extra regressors' symbols."""
        return tuple(self.extras)

    @property
    def accumulated_extra_lags(self) -> int:
        """Lags of each extra regressor."""
        return self.extra_lags

    @property
    def regressors(self) -> tuple[str, ...]:
        """The benchmark, the other market's accumulated index return, the extras and their lags."""
        extras = tuple(extra_name(x, lag) for x in self.extras for lag in range(self.extra_lags + 1))
        return ("market", OTHER_MARKET, *extras)

    def coef_names(self) -> tuple[str, ...]:
        """``alpha``, ``beta`` (own benchmark), ``beta_other`` (the other market), ``beta_<extra>[_lag<l>]``."""
        extras = tuple(
            f"beta_{x}" + (f"_lag{lag}" if lag else "") for x in self.extras for lag in range(self.extra_lags + 1)
        )
        return ("alpha", "beta", "beta_other", *extras)

    def design(self, panel: ReturnPanel) -> Design:
        """The regressors of :attr:`regressors`; the benchmark orthogonalized on the extras when asked."""
        est, evt = panel.series_arrays(self.regressors)
        if self.orthogonalize:
            z_est, z_evt = est[:, :, 2:], evt[:, :, 2:]
            fit = kn.ols_windows(est[:, :, 0], z_est, True)
            est = est.copy()
            evt = evt.copy()
            est[:, :, 0] -= kn.predict(kn.design(z_est, True), fit.coef)
            evt[:, :, 0] -= kn.predict(kn.design(z_evt, True), fit.coef)
        return Design(est_target=panel.est_returns, est_regressors=est, evt_regressors=evt, evt_offset=None)


FACTOR_LABELS: dict[str, str] = {
    "mkt_rf": "Mkt-RF",
    "smb": "SMB",
    "hml": "HML",
    "rmw": "RMW",
    "cma": "CMA",
    "mom": "MOM",
}
"""Display names of the Fama-French and Carhart factors (canonical column name -> label)."""

RISK_FREE = "rf"
"""The panel series of the daily risk-free rate of factor models."""


@dataclass(frozen=True)
class FactorModel(NormalReturnModel):
    """Factor model on excess returns, r_it = R_it - Rf_t = α_i + β_i' f_t + ε_it (``docs/methods.md`` §4.4).

    ``factors`` names the factor columns of the factor data (``mkt_rf``, ``smb``, ``hml``, ``rmw``, ``cma``,
    ``mom`` or user columns); coefficients are ``alpha`` and ``beta_<factor>`` (``beta_mkt`` for
    ``mkt_rf``); k = 1 + len(factors). The expected return is Rf_t + α_i + β_i' f_t, so
    AR_it = r_it - α_i - β_i' f_t. Days without a factor (or risk-free) value are left out of the fit and
    give a missing AR in the event window.
    """

    name: ClassVar[str] = "factors"
    label: ClassVar[str] = "factor model on excess returns (user-chosen factors)"
    factors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.factors:
            raise InputError("a factor model needs at least one factor column", parameter="factors")
        if RISK_FREE in self.factors or len(set(self.factors)) < len(self.factors):
            raise InputError(
                f"factor columns must be distinct and must not include the risk-free rate {RISK_FREE!r}: "
                f"{', '.join(self.factors)}",
                parameter="factors",
                value=self.factors,
            )

    @property
    def series(self) -> tuple[str, ...]:
        """The factor columns and the risk-free rate."""
        return (*self.factors, RISK_FREE)

    @property
    def regressors(self) -> tuple[str, ...]:
        """The factor columns."""
        return self.factors

    def coef_names(self) -> tuple[str, ...]:
        """``alpha`` and ``beta_<factor>``, with ``beta_mkt`` for the market excess return ``mkt_rf``."""
        return ("alpha", *(f"beta_{'mkt' if f == 'mkt_rf' else f}" for f in self.factors))

    def design(self, panel: ReturnPanel) -> Design:
        """Target R - Rf, the factors as regressors; Rf added back to the prediction."""
        est, evt = panel.series_arrays(self.series)
        return Design(
            est_target=panel.est_returns - est[:, :, -1],
            est_regressors=est[:, :, :-1],
            evt_regressors=evt[:, :, :-1],
            evt_offset=evt[:, :, -1],
        )


@dataclass(frozen=True)
class Capm(FactorModel):
    """CAPM on excess returns: r_it = α_i + β_i (Mkt-RF)_t + ε_it (``docs/methods.md`` §4.4); k = 2."""

    name: ClassVar[str] = "capm"
    label: ClassVar[str] = "CAPM on excess returns (Mkt-RF)"
    factors: tuple[str, ...] = ("mkt_rf",)


@dataclass(frozen=True)
class FamaFrench3(FactorModel):
    """Fama-French three-factor model (Mkt-RF, SMB, HML) on excess returns (``docs/methods.md`` §4.4); k = 4."""

    name: ClassVar[str] = "ff3"
    label: ClassVar[str] = "Fama-French 3-factor model (Mkt-RF, SMB, HML)"
    factors: tuple[str, ...] = ("mkt_rf", "smb", "hml")


@dataclass(frozen=True)
class FamaFrench5(FactorModel):
    """Fama-French five-factor model (Mkt-RF, SMB, HML, RMW, CMA) on excess returns (§4.4); k = 6."""

    name: ClassVar[str] = "ff5"
    label: ClassVar[str] = "Fama-French 5-factor model (Mkt-RF, SMB, HML, RMW, CMA)"
    factors: tuple[str, ...] = ("mkt_rf", "smb", "hml", "rmw", "cma")


@dataclass(frozen=True)
class Carhart(FactorModel):
    """Carhart four-factor model: FF3 plus momentum (MOM) on excess returns (§4.4); k = 5."""

    name: ClassVar[str] = "carhart"
    label: ClassVar[str] = "Carhart 4-factor model (Mkt-RF, SMB, HML, MOM)"
    factors: tuple[str, ...] = ("mkt_rf", "smb", "hml", "mom")


@dataclass(frozen=True)
class SyntheticControl(NormalReturnModel):
    """Synthetic control: E[R_it] = Σ_j w_ij R_jt, a convex combination of donor returns (``docs/methods.md`` §6.9).

    The donors' returns are the regressors, with weights w_ij >= 0, Σ_j w_ij = 1 fixed by the constrained least
    squares on the estimation window, without an intercept (:func:`eventstudy.synthetic.fit_weights`: scipy
    ``nnls`` with a heavily weighted sum-to-one row). Each firm-event's pool follows :mod:`eventstudy.donors`:
    the donor file's tickers (one exchange) less the firm, less tickers with their own event (``own_events``:
    ticker and event date) from the firm-event's first estimation date to its last event-window date, less
    donors with a missing return on a day used; donor returns over the firm's return intervals
    (``return_type``). AR_it = R_it - Σ_j w_ij R_jt.

    Variance: s² = Σ e² / (M - 1) over the M fit days, df = M - 1 (the ``resid_ddof`` knob does not apply),
    Var(AR) = s² and Var(CAR) = L s², without a forecast-error term for the fitted weights (the ``fec`` knob
    does not apply). A firm-event on another exchange than the donors', or with fewer than two donors, is
    excluded with the reason. No coefficients; ``n_donors`` and ``rmspe_pre`` are diagnostics.

    ``EventStudy(model="synthetic", donors=...)`` (``--model synthetic --donors FILE``) builds the model with the
    study's events and return type (:func:`with_donors`).
    """

    name: ClassVar[str] = "synthetic"
    label: ClassVar[str] = "synthetic control (convex combination of donor returns fitted on the estimation window)"
    intercept: ClassVar[bool] = False
    variance_note: ClassVar[str] = (
        "synthetic control: Var(AR) = s^2 = SSR / (M - 1) of the estimation-window residuals (df M - 1, whatever "
        "resid_ddof), Var(CAR) = L s^2; no forecast-error term for the fitted weights"
    )
    donors: DonorPanel | None = None
    own_events: tuple[tuple[str, str], ...] = ()
    return_type: str = "simple"

    def coef_names(self) -> tuple[str, ...]:
        """None: the weights differ in number and names by firm-event (``top_weights`` of ``result.synthetic``)."""
        return ()

    def fit(self, panel: ReturnPanel, conventions: Conventions) -> ModelFit:
        """One constrained fit per firm-event (:func:`eventstudy.donors.fit_donors`); the rest on arrays."""
        if self.donors is None:
            raise InputError(
                "the synthetic model needs donor prices: give --donors FILE (Python: EventStudy(model='synthetic', "
                "donors=DonorPanel.from_csv(FILE)))",
                parameter="--donors",
            )
        own = OwnEvents.of([t for t, _ in self.own_events], [d for _, d in self.own_events])
        est_donors, evt_donors = donor_windows(panel, self.donors, self.return_type)
        n, length = panel.est_returns.shape
        width = panel.evt_returns.shape[1]
        residuals = np.full((n, length), np.nan)
        abnormal = np.full((n, width), np.nan)
        n_donors = np.zeros(n)
        failures = np.full(n, "", dtype=object)
        for i in range(n):  # a constrained solve per firm-event is inherent
            fitted = fit_donors(panel, i, est_donors[i], evt_donors[i], self.donors, own, 2)
            n_donors[i] = len(fitted.pool)
            if fitted.fit is None:
                failures[i] = f"synthetic control not fitted: {fitted.reason}"
                continue
            residuals[i, fitted.pre_days] = fitted.fit.pre_residuals
            abnormal[i] = fitted.fit.abnormal
        used = np.isfinite(residuals)
        ok = failures == ""
        n_obs = np.where(ok, used.sum(axis=1), np.isfinite(panel.est_returns).sum(axis=1)).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            ssr = np.where(used, residuals, 0.0) ** 2
            ssr = ssr.sum(axis=1)
            s2 = np.where(ok & (n_obs > 1), ssr / (n_obs - 1), np.nan)
            y = np.where(used, panel.est_returns, 0.0)
            centred = np.where(used, y - (y.sum(axis=1) / n_obs)[:, None], 0.0)
            r2 = np.where(ok, 1.0 - ssr / (centred**2).sum(axis=1), np.nan)
            rmspe = np.where(ok, np.sqrt(ssr / n_obs), np.nan)
        return ModelFit(
            model=self.name,
            k=0,
            coef_names=(),
            coef=np.zeros((n, 0)),
            xtx_inv=np.zeros((n, 0, 0)),
            n_obs=n_obs,
            df=n_obs - 1,
            s2=s2,
            r_squared=r2,
            residuals=residuals,
            event_design=np.zeros((n, width, 0)),
            expected=panel.evt_returns - abnormal,
            abnormal=abnormal,
            leverage=np.where(np.isfinite(abnormal), 0.0, np.nan),
            regressor_gaps=np.zeros(n, dtype=np.int64),
            diagnostic_names=("n_donors", "rmspe_pre"),
            diagnostics=np.stack([n_donors, rmspe], axis=1),
            failures=failures,
        )


def with_donors(
    model: str | NormalReturnModel,
    donors: DonorPanel | None,
    own_events: Callable[[], Sequence[tuple[str, str]]],
    return_type: str,
) -> str | NormalReturnModel:
    """The synthetic model with the study's donors, own events (ticker, date) and return type; any other as it is.

    ``own_events`` gives the (ticker, ISO date) of every firm-event, asked only for the synthetic model (a
    Python list of 10^6 pairs took 0.8 s that every other study spent for nothing).

    Raises
    ------
    InputError
        The synthetic model without donor prices.
    """
    if model != "synthetic" and not isinstance(model, SyntheticControl):
        return model
    chosen = donors if donors is not None else getattr(model, "donors", None)
    if chosen is None:
        raise InputError(
            "the synthetic model needs donor prices: give --donors FILE, a wide price file of one exchange (Python: "
            "EventStudy(model='synthetic', donors=DonorPanel.from_csv(FILE)))",
            parameter="--donors",
        )
    return SyntheticControl(donors=chosen, own_events=tuple(own_events()), return_type=return_type)


def estimable(fit: ModelFit, min_estimation_obs: int) -> np.ndarray:
    """Firm-events with enough estimation returns and a positive, finite residual variance."""
    return (fit.n_obs >= min_estimation_obs) & np.isfinite(fit.s2) & (fit.s2 > 0)


MODELS: dict[str, type[NormalReturnModel]] = {
    cls.name: cls
    for cls in (
        MarketModel,
        ConstantMean,
        MarketAdjusted,
        Capm,
        FamaFrench3,
        FamaFrench5,
        Carhart,
        FactorModel,
        ScholesWilliams,
        Dimson,
        TradeToTrade,
        Garch,
        CrossMarket,
        SyntheticControl,
    )
}
"""Registered models by name (the ``--model`` choices)."""


def get_model(model: str | NormalReturnModel, factors: Sequence[str] | None = None) -> NormalReturnModel:
    """A model by name (:data:`MODELS`), or ``model`` itself when it is one already.

    ``factors`` chooses the columns of the ``factors`` model (e.g. ``("mkt_rf", "smb")``) and is refused by
    every other model.
    """
    if isinstance(model, NormalReturnModel):
        if factors is not None:
            raise InputError("factors are set on the model object itself", parameter="factors", value=factors)
        return model
    try:
        cls = MODELS[model]
    except (KeyError, TypeError):
        raise UnknownNameError("model", model, MODELS, parameter="--model") from None
    if cls is FactorModel:
        if factors is None:
            raise InputError(
                "the factors model needs its factor columns, e.g. factors=('mkt_rf', 'smb')",
                parameter="factors",
            )
        return FactorModel(factors=tuple(factors))
    if factors is not None:
        raise InputError(
            f"factors choose the columns of the 'factors' model, not of {model!r}", parameter="factors", value=factors
        )
    return cls()


__all__ = [
    "FACTOR_LABELS",
    "MODELS",
    "RISK_FREE",
    "T2T_INTERCEPTS",
    "Capm",
    "Carhart",
    "ConstantMean",
    "CrossMarket",
    "Design",
    "Dimson",
    "FactorModel",
    "FamaFrench3",
    "FamaFrench5",
    "Garch",
    "MarketAdjusted",
    "MarketModel",
    "ModelFit",
    "NormalReturnModel",
    "ScholesWilliams",
    "SyntheticControl",
    "TradeToTrade",
    "estimable",
    "get_model",
    "with_donors",
]
