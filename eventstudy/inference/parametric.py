"""Parametric tests across events (``docs/methods.md`` §6.2, P3-P5, P7-P9, P12).

Cross-sectional t, Patell Z, BMP t, CLM's J1 and J2, Brown and Warner's (1980) independence test and the
skewness-adjusted t. Tests built from estimation residuals across events (crude dependence adjustment,
Lamb, Kolari-Pynnönen) are in :mod:`eventstudy.inference.clustered`; the calendar-time portfolio test is in
:mod:`eventstudy.inference.calendar_time`.

Each test is computed for every group of events (an event id, or all events pooled) at once, on
(events x days) arrays for the day scope and (events x windows) arrays for the CAR-window scope, using
the per-group sums of :mod:`eventstudy._kernels` (``group_sum`` and the counts, totals and moments built on
it). One implementation serves both scopes: the
window scope feeds CARs (and their variances, or a window length) into the same kernel as the day scope
feeds ARs. An event without a value on a day or in a window is left out of that cell (N shrinks); nothing
is zero-filled. Undefined cells are NaN with a reason, never an exception or a warning.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._typing import BoolArray, FloatArray, IntArray
from eventstudy.conventions import SKEWNESS_T_MIN_EVENTS
from eventstudy.inference.base import (
    InferenceData,
    Layout,
    Scope,
    StatBlock,
    StatTest,
    group_generator,
    reasons,
    register,
    two_sided_normal,
    two_sided_t,
)
from eventstudy.inference.partials import (
    DecomposableTest,
    Moments,
    Partial,
    Patterns,
    moments,
    presence_patterns,
    window_lengths,
)

# --------------------------------------------------------------------------------------------------
# Window helpers shared by the parametric modules
# --------------------------------------------------------------------------------------------------


def window_sums(values: FloatArray, data: InferenceData) -> FloatArray:
    """Sums of a per-day quantity (N, W) over each CAR window, (N, C); NaN if any day is missing."""
    out = np.full((values.shape[0], len(data.car_windows)), np.nan)
    for c, window in enumerate(data.car_windows):
        cols = data.car_columns(window)
        if len(cols):
            out[:, c] = kn.window_sums(values, cols)
    return out


def pct(share: float) -> str:
    """A coverage share as text, e.g. 0.9 -> '90%'."""
    return f"{100 * share:g}%"


def sum_daily_sums(present: BoolArray, groups: IntArray, n_groups: int) -> tuple[IntArray, Patterns]:
    """What :func:`sum_daily` needs of the firm-events: the group sizes and their presence patterns.

    ``present`` (N, W) says which firm-events enter the daily statistic on each day.
    """
    return kn.group_count(np.ones(len(groups), dtype=bool), groups, n_groups), presence_patterns(
        present, groups, n_groups
    )


def sum_daily(daily: StatBlock, size: IntArray, patterns: Patterns, layout: Layout) -> StatBlock:
    """Window statistics as Σ (daily statistic) / sqrt(number of days), over well-covered days.

    Parameters
    ----------
    daily
        Day-scope block of the test, (n_groups, W); ``daily.n`` counts the events present each day.
    size, patterns
        Firm-events per group and their presence patterns (:func:`sum_daily_sums`).
    layout
        The study's windows and knobs.

    Returns
    -------
    StatBlock
        (n_groups, C). For window w the days used are those of w on which more than
        ``car_coverage`` of the group's events are present; the statistic is
        Σ_{τ used} t_τ / sqrt(#used) (estudy2's ``car_lamb`` / ``car_brown_warner_1985``,
        ``docs/methods.md`` §8.2). The reference is the daily one; for a t reference the smallest daily
        df over the used days is taken (all equal when coverage is complete). ``n`` counts the events
        present on at least one used day.
    """
    conv = layout.conventions
    n_groups = len(size)
    with np.errstate(invalid="ignore", divide="ignore"):
        covered = (daily.n / size.astype(np.float64)[:, None]) > conv.car_coverage
    n_win = len(layout.car_windows)
    stat = np.full((n_groups, n_win), np.nan)
    df = np.full((n_groups, n_win), np.nan)
    n = np.zeros((n_groups, n_win), dtype=np.int64)
    why = np.full((n_groups, n_win), "", dtype=object)
    for c, window in enumerate(layout.car_windows):
        cols = layout.car_columns(window)
        if not len(cols):
            why[:, c] = "the window has no event-window day"
            continue
        used = covered[:, cols]
        vals = daily.statistic[:, cols]
        n_days = used.sum(axis=1)
        undefined = used & ~np.isfinite(vals)
        bad = undefined.any(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            stat[:, c] = np.where(used, vals, 0.0).sum(axis=1) / np.sqrt(n_days)
        stat[(n_days == 0) | bad, c] = np.nan
        if daily.family == "t":
            day_df = np.where(used, daily.df[:, cols], np.inf).min(axis=1)
            df[:, c] = np.where(np.isfinite(day_df) & ~bad, day_df, np.nan)
        n[:, c] = patterns.held(used, cols, n_groups)
        first_bad = np.argmax(undefined, axis=1)
        daily_reason = daily.reason[np.arange(n_groups), cols[first_bad]]
        bad_text = "daily statistic undefined on a day of the window: " + daily_reason.astype(object)
        why[:, c] = np.where(
            n_days == 0,
            f"no day of the window has more than {pct(conv.car_coverage)} of the events present",
            np.where(bad, bad_text, ""),
        )
    p = two_sided_t(stat, df) if daily.family == "t" else two_sided_normal(stat)
    return StatBlock(stat, p, n, df, why, daily.family)


def _normal_block(statistic: FloatArray, n: IntArray, why: np.ndarray) -> StatBlock:
    return StatBlock(statistic, two_sided_normal(statistic), n, np.full(statistic.shape, np.nan), why, "normal")


# --------------------------------------------------------------------------------------------------
# Kernels (one per statistic, serving day and window scope): per-group sums, then the statistic
# --------------------------------------------------------------------------------------------------


def mean_over_sd(m: Moments, what: str, reference: str = "t") -> StatBlock:
    """T = mean / (sd / sqrt(N)) within groups, sd with divisor N - 1, reference t(N - 1) or N(0,1)."""
    count, total, ssd = m.count, m.total, m.ssd
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        sd = np.sqrt(ssd / (count - 1))
        statistic = mean / (sd / np.sqrt(count))
    few = count < 2
    flat = ~few & ~(sd > 0)
    statistic = np.where(few | flat, np.nan, statistic)
    why = reasons(
        (count == 0, f"no event has {what}"),
        (few, f"needs at least 2 events with {what}"),
        (flat, f"zero cross-sectional variance of {what}"),
    )
    if reference == "normal":
        return _normal_block(statistic, count, why)
    df = np.where(few, np.nan, count - 1.0)
    return StatBlock(statistic, two_sided_t(statistic, df), count, df, why, "t")


def ratio_sums(values: FloatArray, variances: FloatArray, groups: IntArray, n_groups: int) -> dict[str, np.ndarray]:
    """Per-group sums behind :func:`ratio_of_sums`: count, Σ X_i and Σ Var X_i over the events with both."""
    present = np.isfinite(values) & np.isfinite(variances) & (variances >= 0)
    return {
        "count": kn.group_count(present, groups, n_groups),
        "total": kn.group_total(np.where(present, values, np.nan), groups, n_groups),
        "var_total": kn.group_total(np.where(present, variances, np.nan), groups, n_groups),
    }


def ratio_of_sums(sums: Mapping[str, np.ndarray], what: str) -> StatBlock:
    """Z = Σ_i X_i / sqrt(Σ_i Var X_i) over the events with both, reference N(0,1) (CLM's J1)."""
    count, total, var_total = sums["count"], sums["total"], sums["var_total"]
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = total / np.sqrt(var_total)
    flat = (count > 0) & ~(var_total > 0)
    statistic = np.where((count == 0) | flat, np.nan, statistic)
    why = reasons((count == 0, f"no event has {what} and its variance"), (flat, f"zero variance of {what}"))
    return _normal_block(statistic, count, why)


def patell_sums(
    values: FloatArray,
    data: InferenceData,
    groups: IntArray,
    n_groups: int,
    *,
    denominator: str = "present",
    mean_x_n: bool = False,
) -> dict[str, np.ndarray]:
    """Per-group sums behind :func:`patell_kernel`, the Patell (1976) form.

    Parameters
    ----------
    values : (N, D)
        SAR (day), SCAR or CSAR (window); events with M_i - k <= 2 are left out.
    denominator
        ``"present"``: Σ (M_i - k)/(M_i - k - 2) over the events present in the cell (``var_total``
        (G, D)); ``"all"``: the estudy2 form Σ (M_i - 2)/(M_i - 4) over every event of the group with
        M_i > 4 (``var_total`` (G,)).
    mean_x_n
        Also count the usable events of each group (``n_all``), for estudy2's "mean x N" day sums.
    """
    m_k = data.df.astype(np.float64)
    usable = m_k > 2
    present = np.isfinite(values) & usable[:, None]
    sums = {
        "count": kn.group_count(present, groups, n_groups),
        "total": kn.group_total(np.where(present, values, np.nan), groups, n_groups),
    }
    if mean_x_n:
        sums["n_all"] = kn.group_count(usable, groups, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        if denominator == "all":
            m = data.n_obs.astype(np.float64)
            var_i = np.where(m > 4, (m - 2.0) / np.where(m > 4, m - 4.0, 1.0), np.nan)
        else:
            var_i = np.where(present, m_k[:, None] / np.where(usable, m_k - 2.0, 1.0)[:, None], np.nan)
    sums["var_total"] = kn.group_total(var_i, groups, n_groups)
    return sums


def patell_kernel(sums: Mapping[str, np.ndarray]) -> StatBlock:
    """Σ_i standardized value / sqrt(Σ_i Var), the Patell (1976) form, reference N(0,1).

    From :func:`patell_sums`: with ``n_all`` the sum is replaced by (mean over the events present) x
    (number of usable events of the group), estudy2's "mean x N" day sums; a ``var_total`` per group
    (denominator ``"all"``) serves every column.
    """
    count, total = sums["count"], sums["total"]
    if "n_all" in sums:
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total / count * sums["n_all"].astype(np.float64)[:, None]
    var_total = sums["var_total"]
    if var_total.ndim == 1:
        var_total = np.broadcast_to(var_total[:, None], count.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = np.where(count > 0, total / np.sqrt(var_total), np.nan)
    flat = (count > 0) & ~(var_total > 0)
    statistic = np.where(flat, np.nan, statistic)
    why = reasons(
        (count == 0, "no event with a standardized value and M - k > 2"),
        (flat, "no event with M > 4 for the variance sum"),
    )
    return _normal_block(statistic, count, why)


def bw1980_sums(
    values: FloatArray, lengths: FloatArray, data: InferenceData, groups: IntArray, n_groups: int
) -> dict[str, np.ndarray]:
    """Per-group sums behind :func:`bw1980_kernel`, X = AR (L = 1) or CAR (L days).

    ``count`` and ``total`` over the events with a value and a residual variance; ``n_denom``,
    ``var_total`` (Σ_i L s_i^2) and ``m_total`` (Σ_i M_i) over the denominator's events: the same
    (``bw1980_n = "present"``) or every event of the group with a residual variance (``"all"``).
    """
    s2 = data.s2.astype(np.float64)
    has_s2 = np.isfinite(s2) & (s2 >= 0)
    present = np.isfinite(values) & has_s2[:, None]
    in_denom = np.broadcast_to(has_s2[:, None], values.shape) if data.conventions.bw1980_n == "all" else present
    return {
        "count": kn.group_count(present, groups, n_groups),
        "total": kn.group_total(np.where(present, values, np.nan), groups, n_groups),
        "n_denom": kn.group_count(in_denom, groups, n_groups),
        "var_total": kn.group_total(np.where(in_denom, s2[:, None] * lengths[None, :], np.nan), groups, n_groups),
        "m_total": kn.group_total(np.where(in_denom, data.n_obs.astype(np.float64)[:, None], np.nan), groups, n_groups),
    }


def bw1980_kernel(sums: Mapping[str, np.ndarray], layout: Layout) -> StatBlock:
    """Brown-Warner (1980) t = mean_i X_i / (sqrt(Σ_i L s_i^2) / N), from :func:`bw1980_sums`.

    ``bw1980_n = "present"`` sums the variances over the events with a value in the cell, ``"all"`` over
    every event of the group (estudy2); the numerator is always the mean over the events present. The
    reference is t(M̄ - k) (``bw1980_df = "M-k"``) or t(M̄ - 1), M̄ the mean M_i of the denominator's events.
    """
    count, total, var_total = sums["count"], sums["total"], sums["var_total"]
    n_denom = sums["n_denom"].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = (total / count) / (np.sqrt(var_total) / n_denom)
        m_bar = sums["m_total"] / n_denom
    df = m_bar - (layout.k if layout.conventions.bw1980_df == "M-k" else 1)
    flat = (count > 0) & ~(var_total > 0)
    no_df = (count > 0) & ~flat & ~(df > 0)
    statistic = np.where((count == 0) | flat | no_df, np.nan, statistic)
    df = np.where(np.isfinite(statistic), df, np.nan)
    why = reasons(
        (count == 0, "no event with an abnormal return and a residual variance"),
        (flat, "zero residual variance"),
        (no_df, "mean estimation length too short for the degrees of freedom"),
    )
    return StatBlock(statistic, two_sided_t(statistic, df), count, df, why, "t")


def skewness_adjusted(m: Moments) -> tuple[FloatArray, IntArray, np.ndarray]:
    """Hall-Johnson skewness-adjusted t per group and column, with counts and reasons.

    t_sa = sqrt(N) (S + γ S^2 / 3 + γ / (6N)), S = mean / sd (ddof 1), γ = Σ (x - mean)^3 / (N sd^3),
    from the group moments with the third (:func:`~eventstudy.inference.partials.moments`).
    Defined for N >= 2 and sd > 0; the tests apply their own minimum N for the reference they use.
    """
    count, total, ssd, m3 = m.count, m.total, m.ssd, m.m3
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        sd = np.sqrt(ssd / (count - 1))
        s = mean / sd
        gamma = m3 / (count * sd**3)
        statistic = np.sqrt(count) * (s + gamma * s**2 / 3.0 + gamma / (6.0 * count))
    few = count < 2
    flat = ~few & ~(sd > 0)
    statistic = np.where(few | flat, np.nan, statistic)
    why = reasons(
        (count == 0, "no event has a CAR"),
        (few, "needs at least 2 events with a CAR"),
        (flat, "zero cross-sectional variance of CAR"),
    )
    return statistic, count, why


# --------------------------------------------------------------------------------------------------
# Registered tests
# --------------------------------------------------------------------------------------------------


@register
class CrossSectionalT(DecomposableTest):
    """Cross-sectional t (Brown and Warner 1985): AAR / (S / sqrt(N)), S the cross-sectional sd of AR.

    Notes
    -----
    Day: t_τ = AAR_τ / (S_τ / sqrt(N_τ)); window: mean_i CAR_i / (sd_i CAR_i / sqrt(N_w)). The sd uses
    divisor N - 1 and the reference is t(N - 1) (``docs/methods.md`` §6.2, P7). Robust to event-induced
    variance, not to cross-correlation.

    References
    ----------
    Brown, S. J. and J. B. Warner (1985), "Using daily stock returns", JFE 14(1), 3-31.
    """

    name = "cross_sectional_t"
    needs_estimation = False
    label = "Cross-sectional t"
    reference = "Brown and Warner (1985), JFE 14"

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        values = data.ar if scope == "day" else data.car
        return Partial.of(data.layout, n_groups, moments={"x": moments(values, groups, n_groups)})

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        return mean_over_sd(partial.moments["x"], "an AR" if scope == "day" else "a CAR")


@register
class PatellZ(DecomposableTest):
    """Patell (1976) Z: sum of standardized ARs over the sqrt of the sum of their variances.

    Notes
    -----
    Day: Z_τ = Σ_i SAR_iτ / sqrt(Σ_i (M_i - k)/(M_i - k - 2)), reference N(0,1)
    (``docs/methods.md`` §6.2, P8). Window: the same with SCAR_i(w) (``patell_car = "scar"``, exact CAR
    variance, so it coincides with CLM's J2) or with CSAR_i = Σ_{τ∈w} SAR_iτ / sqrt(L)
    (``patell_car = "csar"``). Events with M_i - k <= 2 have no finite variance of the t-distributed SAR
    and are left out. Knobs: ``patell_denominator = "present"`` sums the variances over the events
    present in the cell, ``"all"`` sums (M_i - 2)/(M_i - 4) over every event of the group (estudy2);
    ``daily_sums = "mean_x_n"`` (day scope) replaces Σ_i SAR_iτ by (mean over the events present) x N
    (estudy2).

    References
    ----------
    Patell, J. M. (1976), "Corporate forecasts of earnings per share and stock price behavior",
    Journal of Accounting Research 14(2), 246-276.
    """

    name = "patell_z"
    needs_estimation = False
    label = "Patell Z"
    reference = "Patell (1976), JAR 14(2)"

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        conv = data.conventions
        if scope == "day":
            values = data.sar
        elif conv.patell_car == "csar":
            with np.errstate(invalid="ignore", divide="ignore"):
                values = window_sums(data.sar, data) / np.sqrt(window_lengths(data.layout))[None, :]
        else:
            values = data.scar
        sums = patell_sums(
            values,
            data,
            groups,
            n_groups,
            denominator=conv.patell_denominator,
            mean_x_n=scope == "day" and conv.daily_sums == "mean_x_n",
        )
        return Partial.of(data.layout, n_groups, sums)

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        return patell_kernel(partial.sums)


@register
class BmpT(DecomposableTest):
    """Boehmer, Musumeci and Poulsen (1991) standardized cross-sectional t.

    Notes
    -----
    Day: t_τ = mean_i SAR_iτ / (sd_i SAR_iτ / sqrt(N_τ)); window: the same on SCAR_i(w). The sd uses
    divisor N - 1 and the reference is t(N - 1), or N(0,1) with ``bmp_reference = "normal"``
    (``docs/methods.md`` §6.2, P9). SARs include the forecast-error correction when the conventions turn
    it on.

    References
    ----------
    Boehmer, E., J. Musumeci and A. B. Poulsen (1991), "Event-study methodology under conditions of
    event-induced variance", JFE 30(2), 253-272.
    """

    name = "bmp_t"
    needs_estimation = False
    label = "BMP t"
    reference = "Boehmer, Musumeci and Poulsen (1991), JFE 30(2)"

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        values = data.sar if scope == "day" else data.scar
        return Partial.of(data.layout, n_groups, moments={"x": moments(values, groups, n_groups)})

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        what = "a standardized AR" if scope == "day" else "a standardized CAR"
        return mean_over_sd(partial.moments["x"], what, partial.layout.conventions.bmp_reference)


@register
class J1(DecomposableTest):
    """CLM's J1: the average abnormal return over its standard error, reference N(0,1).

    Notes
    -----
    Window: J1 = CAAR(w) / sqrt((1/N_w^2) Σ_i σ̂_i^2(w)) = Σ_i CAR_i(w) / sqrt(Σ_i σ̂_i^2(w)), with
    σ̂_i^2(w) the CAR variance of the conventions (``car_variance``, exact by default, §5.3). Day: the
    same with AR_iτ and σ̂_i^2 = s_i^2 C_iτ (C_iτ = 1 when the forecast-error correction is off). Sums run
    over the events with a value in the cell (``docs/methods.md`` §6.2, P3). Not robust to event-induced
    variance or cross-correlation. A single event gives its own standardized AR (CAR).

    References
    ----------
    Campbell, J. Y., A. W. Lo and A. C. MacKinlay (1997), *The Econometrics of Financial Markets*,
    Princeton University Press, ch. 4, eq. (4.4.22).
    """

    name = "j1"
    needs_estimation = False
    label = "J1 (CLM)"
    reference = "Campbell, Lo and MacKinlay (1997), ch. 4"

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        if scope == "day":
            return Partial.of(data.layout, n_groups, ratio_sums(data.ar, data.ar_var, groups, n_groups))
        return Partial.of(data.layout, n_groups, ratio_sums(data.car, data.car_var, groups, n_groups))

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        return ratio_of_sums(partial.sums, "an AR" if scope == "day" else "a CAR")


@register
class J2(DecomposableTest):
    """CLM's J2: the sum of standardized CARs over the sqrt of the sum of their variances.

    Notes
    -----
    J2 = Σ_i SCAR_i(w) / sqrt(Σ_i (M_i - k)/(M_i - k - 2)) ~ N(0,1), over the events with a CAR in w and
    M_i - k > 2 (``docs/methods.md`` §6.2, P4, generalized to unequal M_i). It ignores the Patell knobs
    (``patell_car``, ``patell_denominator``, ``daily_sums``), so under the default profile it equals
    ``patell_z``'s window value and under others it stays CLM's J2. Window scope only.

    References
    ----------
    Campbell, J. Y., A. W. Lo and A. C. MacKinlay (1997), *The Econometrics of Financial Markets*,
    Princeton University Press, ch. 4, eq. (4.4.24).
    """

    name = "j2"
    needs_estimation = False
    label = "J2 (CLM)"
    reference = "Campbell, Lo and MacKinlay (1997), ch. 4"
    scopes = ("window",)

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        return Partial.of(data.layout, n_groups, patell_sums(data.scar, data, groups, n_groups))

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        return patell_kernel(partial.sums)


@register
class BrownWarner1980(DecomposableTest):
    """Brown and Warner (1980) t under cross-sectional independence, without forecast-error factor.

    Notes
    -----
    Day: t_τ = AAR_τ / (sqrt(Σ_i s_i^2) / N), reference t(M̄ - k) with M̄ = mean_i M_i
    (``docs/methods.md`` §6.2, P5; it is J1 for one day without C_iτ). ``bw1980_n`` chooses N and the
    sum: the events present that day (default) or all events of the group (estudy2); ``bw1980_df = "M-1"``
    gives t(M̄ - 1).

    Window: with ``car_tests = "sum_daily"``, Σ_τ t_τ / sqrt(L') over the L' days of the window on which
    more than ``car_coverage`` of the events are present (as estudy2 does for its CAR tests); otherwise
    (``"on_cars"``) this module's definition t = CAAR(w) / (sqrt(Σ_i L s_i^2) / N_w), over the N_w events
    whose AR is present on every day of w (with ``bw1980_n = "all"``: every event of the group in the
    denominator), reference as for the day.

    References
    ----------
    Brown, S. J. and J. B. Warner (1980), "Measuring security price performance", JFE 8(3), 205-258.
    """

    name = "brown_warner_1980"
    needs_estimation = False
    label = "Brown-Warner (1980) t"
    reference = "Brown and Warner (1980), JFE 8"

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        if scope == "day":
            return Partial.of(
                data.layout, n_groups, bw1980_sums(data.ar, np.ones(data.ar.shape[1]), data, groups, n_groups)
            )
        if data.conventions.car_tests == "sum_daily":  # the day sums, and what sum_daily needs
            sums = bw1980_sums(data.ar, np.ones(data.ar.shape[1]), data, groups, n_groups)
            size, patterns = sum_daily_sums(np.isfinite(data.ar) & np.isfinite(data.s2)[:, None], groups, n_groups)
            return Partial.of(data.layout, n_groups, {**sums, "size": size}, patterns={"present": patterns})
        return Partial.of(
            data.layout, n_groups, bw1980_sums(data.car, window_lengths(data.layout), data, groups, n_groups)
        )

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        daily = bw1980_kernel(partial.sums, partial.layout)
        if scope == "day" or "size" not in partial.sums:
            return daily
        return sum_daily(daily, partial.sums["size"], partial.patterns["present"], partial.layout)


@register
class SkewnessAdjustedT(DecomposableTest):
    """Skewness-adjusted t of Hall (1992) as used by Lyon, Barber and Tsai (1999), on CARs.

    Notes
    -----
    For X_i = CAR_i(w): S = X̄ / sd(X) (divisor N - 1), γ̂ = Σ_i (X_i - X̄)^3 / (N sd(X)^3),
    t_sa = sqrt(N) (S + γ̂ S^2 / 3 + γ̂ / (6N)), reference N(0,1) (``docs/methods.md`` §6.2, P12).
    Window scope only.

    Minimum N: the N(0,1) reference is asymptotic (Hall 1992 derives t_sa from an Edgeworth expansion in
    N^(-1/2)), so the statistic is reported only for at least
    :data:`~eventstudy.conventions.SKEWNESS_T_MIN_EVENTS` = 30 events with a CAR; below that it is NaN
    with a reason (METHODS: "small N: undefined or bootstrap only"; use ``skewness_adjusted_bootstrap``,
    which needs 5). The threshold is the usual large-sample rule, not a value from the cited papers: at
    N = 30 the 97.5 % quantiles of t(N - 1) and N(0,1) are 2.045 and 1.960, while at N = 2 a statistic
    with normal p = 0.012 would have p = 0.24 under t(1). It also needs a positive sd.

    References
    ----------
    Hall, P. (1992), *The Bootstrap and Edgeworth Expansion*, Springer. Lyon, J. D., B. M. Barber and
    C.-L. Tsai (1999), "Improved methods for tests of long-run abnormal stock returns", JF 54(1), 165-201.
    """

    name = "skewness_adjusted_t"
    needs_estimation = False
    label = "Skewness-adjusted t"
    reference = "Hall (1992); Lyon, Barber and Tsai (1999), JF 54(1)"
    scopes = ("window",)

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        return Partial.of(data.layout, n_groups, moments={"car": moments(data.car, groups, n_groups, third=True)})

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        statistic, count, why = skewness_adjusted(partial.moments["car"])
        small = np.isfinite(statistic) & (count < SKEWNESS_T_MIN_EVENTS)
        why = np.where(
            small,
            f"the N(0,1) reference is asymptotic: needs at least {SKEWNESS_T_MIN_EVENTS} events with a CAR "
            "(skewness_adjusted_bootstrap needs 5)",
            why,
        )
        return _normal_block(np.where(small, np.nan, statistic), count, why)


@register
class SkewnessAdjustedBootstrap(StatTest):
    """Skewness-adjusted t with bootstrap critical values (Lyon, Barber and Tsai 1999).

    Notes
    -----
    The statistic is :class:`SkewnessAdjustedT`'s t_sa. Its p-value comes from B = ``bootstrap_samples``
    resamples of size N_b = ⌈N/4⌉ drawn with replacement from the centred CARs X_i - X̄, t_sa* computed on
    each with N_b; the two-sided p-value is equal-tailed,
    p = min(1, 2 min((1 + #{t* <= t_sa}), (1 + #{t* >= t_sa})) / (B' + 1)), so that rejecting at α is
    the same as t_sa falling outside the α/2 and 1 - α/2 bootstrap quantiles (``docs/methods.md`` §6.2,
    P12, and §6.4). Resamples with zero spread (no t*) are dropped (B' <= B). Needs N_b >= 2, i.e. N >= 5.
    The random stream of each group and window comes from
    :func:`~eventstudy.inference.base.group_generator` (seed, test name and the keys of the firm-events
    with a CAR in the window), and the draws index those CARs in key order, so the p-value depends
    neither on the order of computation, nor on the other events, nor on the row order, nor on a positive
    rescaling of the returns (t_sa is scale-free). ``family`` is ``"empirical"`` with ``df`` holding B'.

    References
    ----------
    Lyon, J. D., B. M. Barber and C.-L. Tsai (1999), "Improved methods for tests of long-run abnormal
    stock returns", JF 54(1), 165-201.
    """

    name = "skewness_adjusted_bootstrap"
    needs_estimation = False
    label = "Skewness-adjusted t (bootstrap)"
    reference = "Lyon, Barber and Tsai (1999), JF 54(1)"
    scopes = ("window",)

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        conv = data.conventions
        statistic, count, why = skewness_adjusted(moments(data.car, groups, n_groups, third=True))
        p_value = np.full(statistic.shape, np.nan)
        draws = np.full(statistic.shape, np.nan)
        order, bounds = kn.group_rows(groups, n_groups, within=data.key_order)  # each group's rows in key order
        # each cell with a statistic and 5 CARs draws from its own generator; the other cells draw nothing
        for g, c in zip(*np.nonzero(np.isfinite(statistic) & (count >= 5)), strict=True):
            rows = order[bounds[g] : bounds[g + 1]]
            rows = rows[np.isfinite(data.car[rows, c])]
            x = data.car[rows, c]
            rng = group_generator(conv, self.name, data.keys[rows])
            t_star = _bootstrap_tsa(x - x.mean(), conv.bootstrap_samples, rng)
            if len(t_star) == 0:
                continue
            draws[g, c] = len(t_star)
            below = (1 + np.count_nonzero(t_star <= statistic[g, c])) / (len(t_star) + 1)
            above = (1 + np.count_nonzero(t_star >= statistic[g, c])) / (len(t_star) + 1)
            p_value[g, c] = min(1.0, 2.0 * min(below, above))
        small = np.isfinite(statistic) & (count < 5)
        no_draw = np.isfinite(statistic) & ~small & ~np.isfinite(p_value)
        why = np.where(small, "bootstrap needs at least 5 events (resample size ceil(N/4) >= 2)", why)
        why = np.where(no_draw, "every bootstrap resample had zero spread", why)
        statistic = np.where(small | no_draw, np.nan, statistic)
        draws = np.where(np.isfinite(statistic), draws, np.nan)
        return StatBlock(statistic, p_value, count, draws, why, "empirical")


def _bootstrap_tsa(centred: FloatArray, n_boot: int, rng: np.random.Generator) -> FloatArray:
    """t_sa* of ``n_boot`` resamples of size ⌈N/4⌉ from a centred sample; resamples of equal values dropped."""
    n = len(centred)
    nb = -(-n // 4)
    chunk = max(1, min(n_boot, (1 << 21) // nb))
    out = []
    for start in range(0, n_boot, chunk):
        draws = centred[rng.integers(0, n, size=(min(chunk, n_boot - start), nb))]
        mean = draws.mean(axis=1)
        dev = draws - mean[:, None]
        square = dev * dev
        sd = np.sqrt(square.sum(axis=1) / (nb - 1))
        ok = draws.max(axis=1) > draws.min(axis=1)  # equal values have zero spread, whatever the rounding of sd
        s = mean[ok] / sd[ok]
        gamma = (square * dev).sum(axis=1)[ok] / (nb * sd[ok] ** 3)  # cubes as products: 20x faster than **3
        out.append(np.sqrt(nb) * (s + gamma * s**2 / 3.0 + gamma / (6.0 * nb)))
    return np.concatenate(out)


__all__ = [
    "J1",
    "J2",
    "BmpT",
    "BrownWarner1980",
    "CrossSectionalT",
    "PatellZ",
    "SkewnessAdjustedBootstrap",
    "SkewnessAdjustedT",
    "bw1980_kernel",
    "bw1980_sums",
    "mean_over_sd",
    "patell_kernel",
    "patell_sums",
    "ratio_of_sums",
    "ratio_sums",
    "skewness_adjusted",
    "sum_daily",
    "sum_daily_sums",
    "window_sums",
]
