"""Parametric tests across events: cross-sectional t, Patell Z, BMP t (``docs/METHODS.md`` §6.2).

Each test is computed for every group of events (an event id, or all events pooled) at once, on
(events x days) arrays for the day scope and (events x windows) arrays for the CAR-window scope, using
per-group sums (:func:`eventstudy._kernels.group_moments`). An event without a value on a day or in a
window is left out of that cell (N shrinks); nothing is zero-filled.
"""

from __future__ import annotations

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._typing import IntArray
from eventstudy.inference.base import (
    InferenceData,
    Scope,
    StatBlock,
    StatTest,
    reasons,
    register,
    two_sided_normal,
    two_sided_t,
)


def _mean_over_sd(values: np.ndarray, groups: IntArray, n_groups: int, what: str) -> StatBlock:
    """t = mean / (sd / sqrt(N)) within groups, sd with divisor N - 1, reference t(N - 1)."""
    count, total, ssd = kn.group_moments(values, groups, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        sd = np.sqrt(ssd / (count - 1))
        statistic = mean / (sd / np.sqrt(count))
    few = count < 2
    flat = ~few & ~(sd > 0)
    statistic = np.where(few | flat, np.nan, statistic)
    df = np.where(few, np.nan, count - 1.0)
    why = reasons(
        (count == 0, f"no event has {what}"),
        (few, f"needs at least 2 events with {what}"),
        (flat, f"zero cross-sectional variance of {what}"),
    )
    return StatBlock(statistic, two_sided_t(statistic, df), count, df, why, "t")


@register
class CrossSectionalT(StatTest):
    """Cross-sectional t (Brown and Warner 1985): AAR / (S / sqrt(N)), S the cross-sectional sd of AR.

    Notes
    -----
    Day: t_τ = AAR_τ / (S_τ / sqrt(N_τ)); window: mean_i CAR_i / (sd_i CAR_i / sqrt(N_w)). The sd uses
    divisor N - 1 and the reference is t(N - 1) (``docs/METHODS.md`` §6.2, P7). Robust to event-induced
    variance, not to cross-correlation.

    References
    ----------
    Brown, S. J. and J. B. Warner (1985), "Using daily stock returns", JFE 14(1), 3-31.
    """

    name = "cross_sectional_t"
    label = "Cross-sectional t"
    reference = "Brown and Warner (1985), JFE 14"

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        values = data.ar if scope == "day" else data.car
        return _mean_over_sd(values, groups, n_groups, "an AR" if scope == "day" else "a CAR")


@register
class PatellZ(StatTest):
    """Patell (1976) Z: sum of standardized ARs over the sqrt of the sum of their variances.

    Notes
    -----
    Day: Z_τ = Σ_i SAR_iτ / sqrt(Σ_i (M_i - k)/(M_i - k - 2)); window: the same with SCAR_i(w)
    (exact CAR variance, so it coincides with CLM's J2). Both sums run over the events present in the
    cell. Reference N(0,1) (``docs/METHODS.md`` §6.2, P8). Events with M_i - k <= 2 have no finite
    variance of the t-distributed SAR and are left out of the cell.

    References
    ----------
    Patell, J. M. (1976), "Corporate forecasts of earnings per share and stock price behavior",
    Journal of Accounting Research 14(2), 246-276.
    """

    name = "patell_z"
    label = "Patell Z"
    reference = "Patell (1976), JAR 14(2)"

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        values = data.sar if scope == "day" else data.scar
        df = data.df.astype(np.float64)[:, None]
        usable = np.isfinite(values) & (df > 2)
        variance = np.where(usable, df / np.where(df > 2, df - 2.0, 1.0), np.nan)
        count, total, _ = kn.group_moments(np.where(usable, values, np.nan), groups, n_groups)
        _, var_total, _ = kn.group_moments(variance, groups, n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            statistic = np.where(count > 0, total / np.sqrt(var_total), np.nan)
        why = reasons((count == 0, "no event with a standardized value and M - k > 2"))
        return StatBlock(statistic, two_sided_normal(statistic), count, np.full(statistic.shape, np.nan), why, "normal")


@register
class BmpT(StatTest):
    """Boehmer, Musumeci and Poulsen (1991) standardized cross-sectional t.

    Notes
    -----
    Day: t_τ = mean_i SAR_iτ / (sd_i SAR_iτ / sqrt(N_τ)); window: the same on SCAR_i(w). The sd uses
    divisor N - 1 and the reference is t(N - 1) (``docs/METHODS.md`` §6.2, P9). SARs include the
    forecast-error correction when the conventions turn it on.

    References
    ----------
    Boehmer, E., J. Musumeci and A. B. Poulsen (1991), "Event-study methodology under conditions of
    event-induced variance", JFE 30(2), 253-272.
    """

    name = "bmp_t"
    label = "BMP t"
    reference = "Boehmer, Musumeci and Poulsen (1991), JFE 30(2)"

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        values = data.sar if scope == "day" else data.scar
        return _mean_over_sd(values, groups, n_groups, "a standardized AR" if scope == "day" else "a standardized CAR")
