"""Normal-return models: settings -> ``fit(panel)`` -> :class:`ModelFit` (``docs/methods.md`` §4).

A model states how expected returns depend on the benchmark: an offset subtracted from the return
(the market-adjusted model), regressors and whether there is an intercept. The arithmetic is one code
path for every model (:func:`eventstudy._kernels.ols_windows`), so the forecast-error factor and the CAR
variance follow from the design rows rather than from per-model formulas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._frozen import freeze_arrays
from eventstudy._typing import FloatArray, IntArray, Window
from eventstudy.conventions import Conventions
from eventstudy.errors import UnknownNameError
from eventstudy.returns import ReturnPanel


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
    coef : (N, k)
        Coefficients (intercept first when present).
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
    """

    model: str
    k: int
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
    fec_inverse: FloatArray | None = None
    fec_moments: str = "own_rows"

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
        L s^2 and ``"diag"`` to L s^2 as well, since C_it = 1.
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
                self.s2, self.event_design[:, cols], self.fec_matrix, self.leverage[:, cols], method
            )
        variances[~np.isfinite(values)] = np.nan
        return values, variances

    @property
    def fec_matrix(self) -> FloatArray:
        """Q_i with C_it = 1 + x_it' Q_i x_it: ``fec_inverse`` when set, else (X_i'X_i)^-1."""
        return self.xtx_inv if self.fec_inverse is None else self.fec_inverse

    @property
    def ar_variance(self) -> FloatArray:
        """Var(AR_it) = s_i^2 C_it with C_it = 1 + leverage (``docs/methods.md`` §5.2)."""
        return self.s2[:, None] * (1.0 + self.leverage)


@dataclass(frozen=True)
class NormalReturnModel:
    """Base of the normal-return models; subclasses set the class attributes below."""

    name: ClassVar[str]
    label: ClassVar[str]
    intercept: ClassVar[bool]
    uses_market: ClassVar[bool]
    subtract_market: ClassVar[bool] = False

    @property
    def k(self) -> int:
        """Number of estimated coefficients."""
        return int(self.intercept) + int(self.uses_market and not self.subtract_market)

    @property
    def single_market_regressor(self) -> bool:
        """True for α + β R_m designs, the only ones the benchmark-window FEC moments apply to."""
        return self.intercept and self.uses_market and not self.subtract_market and self.k == 2

    def _regressors(self, market: FloatArray) -> FloatArray:
        if self.uses_market and not self.subtract_market:
            return market[:, :, None]
        return np.zeros(market.shape + (0,))

    def _target(self, returns: FloatArray, market: FloatArray) -> FloatArray:
        return returns - market if self.subtract_market else returns

    def fit(self, panel: ReturnPanel, conventions: Conventions) -> ModelFit:
        """Estimate on the panel's estimation windows and predict its event windows.

        Parameters
        ----------
        panel
            Aligned estimation and event-window returns (events x days).
        conventions
            Residual-variance divisor (``resid_ddof``), forecast-error switch (``fec``) and the moments of
            the forecast-error factor (``fec_moments``).

        Returns
        -------
        ModelFit
            Events that cannot be estimated carry NaN; the study turns them into exclusions.

        Raises
        ------
        ValueError
            ``fec_moments = "index_window"`` for the market model on a panel without
            ``est_bench_own`` (a hand-built panel, or :func:`eventstudy.returns.build_panel` without
            ``bench_own=True``).

        Notes
        -----
        ``fec_moments = "index_window"`` (estudy2, ``docs/methods.md`` §8.2) only changes models with a
        market regressor (the market model): there C_it = 1 + 1/M_i + (R_mt - R̄_m)^2 / Σ_s (R_ms - R̄_m)^2
        with R̄_m and the sum of squares over the benchmark's own returns of the whole estimation window
        (``panel.est_bench_own``) and M_i the security's own count. Models without a market regressor
        (constant-mean: C = 1 + 1/M_i; market-adjusted: C = 1) keep their own rows.
        """
        est_y = self._target(panel.est_returns, panel.est_market)
        ols = kn.ols_windows(est_y, self._regressors(panel.est_market), self.intercept)
        s2 = kn.residual_variance(ols.ssr, ols.n_obs, conventions.ddof(self.k))
        design = kn.design(self._regressors(panel.evt_market), self.intercept)
        predicted = kn.predict(design, ols.coef)
        expected = predicted + panel.evt_market if self.subtract_market else predicted
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
                lev = kn.leverage(design, ols.xtx_inv)
        else:
            lev = np.where(np.isfinite(abnormal), 0.0, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = 1.0 - ols.ssr / ols.tss if self.uses_market and not self.subtract_market else np.full(len(s2), np.nan)
        return ModelFit(
            model=self.name,
            k=self.k,
            coef=ols.coef,
            xtx_inv=ols.xtx_inv,
            n_obs=ols.n_obs,
            df=ols.n_obs - self.k,
            s2=s2,
            r_squared=r2,
            residuals=ols.residuals,
            event_design=design,
            expected=expected,
            abnormal=abnormal,
            leverage=lev,
            fec_inverse=fec_inverse,
            fec_moments=moments,
        )


@dataclass(frozen=True)
class MarketModel(NormalReturnModel):
    """Market model R_it = α_i + β_i R_mt + ε_it, OLS (``docs/methods.md`` §4.3); k = 2."""

    name: ClassVar[str] = "market"
    label: ClassVar[str] = "market model (OLS on the benchmark)"
    intercept: ClassVar[bool] = True
    uses_market: ClassVar[bool] = True


@dataclass(frozen=True)
class ConstantMean(NormalReturnModel):
    """Constant-mean model E[R_it] = μ_i, μ_i the estimation-window mean (``docs/methods.md`` §4.1); k = 1."""

    name: ClassVar[str] = "constant_mean"
    label: ClassVar[str] = "constant-mean model"
    intercept: ClassVar[bool] = True
    uses_market: ClassVar[bool] = False


@dataclass(frozen=True)
class MarketAdjusted(NormalReturnModel):
    """Market-adjusted model AR_it = R_it - R_mt (``docs/methods.md`` §4.2); nothing estimated, k = 0.

    The residual variance is s_i^2 = Σ AR_it^2 / M_i over the estimation window (no demeaning, since no
    mean is estimated), and C_it = 1.
    """

    name: ClassVar[str] = "market_adjusted"
    label: ClassVar[str] = "market-adjusted returns (R - R_m)"
    intercept: ClassVar[bool] = False
    uses_market: ClassVar[bool] = True
    subtract_market: ClassVar[bool] = True


def estimable(fit: ModelFit, min_estimation_obs: int) -> np.ndarray:
    """Firm-events with enough estimation returns and a positive, finite residual variance."""
    return (fit.n_obs >= min_estimation_obs) & np.isfinite(fit.s2) & (fit.s2 > 0)


MODELS: dict[str, type[NormalReturnModel]] = {cls.name: cls for cls in (MarketModel, ConstantMean, MarketAdjusted)}


def get_model(name: str) -> NormalReturnModel:
    """Instantiate a registered model by name (``market``, ``constant_mean``, ``market_adjusted``)."""
    try:
        return MODELS[name]()
    except KeyError:
        raise UnknownNameError("model", name, MODELS, parameter="--model") from None


__all__ = [
    "MODELS",
    "ConstantMean",
    "MarketAdjusted",
    "MarketModel",
    "ModelFit",
    "NormalReturnModel",
    "estimable",
    "get_model",
]
