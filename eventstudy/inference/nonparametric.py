"""Non-parametric tests across events: sign, generalized sign, rank, Wilcoxon and GRANK tests.

Every test works on (events x days) arrays with per-group sums, for all groups at once. The rank-type
tests use each event's **combined sample**: its estimation residuals (in-sample ARs, ``est_resid``)
followed by its full event window (``ar``), T_i non-missing values (``docs/methods.md`` §6.3). Ranks are
taken within each event (average ranks for ties) on the whole (N x (L + W)) matrix at once.

Conventions (``docs/methods.md`` §8.1, §8.2, :class:`eventstudy.conventions.Conventions`):

- ``daily_sums = "present"``: a day's sum runs over the events present that day; ``"mean_x_n"``: it is
  (mean over the events present) x N, N the number of events of the group (estudy2; inflates the sum by
  N / N_t when some events are missing). It applies to the sign, generalized sign, Corrado rank, modified
  rank and Corrado-Zivney sign tests.
- ``rank_scale = "days"``: S(K), S_U and S_G divide the sum of squared daily statistics by T, the number
  of combined-sample days with at least one event; ``"mean_T"``: by the mean of T_i over the group's
  events (estudy2).
- ``gsign_phat``: ``"event_mean"`` averages each event's share of positive estimation ARs; ``"pooled"``
  pools all estimation ARs of the events.
- ``car_tests = "sum_daily"`` changes the Cowan cumulative rank test into estudy2's ``car_rank_test``
  (see :class:`CowanRank`). The other window-scope tests here have no estudy2 counterpart and always
  work on the events' CARs.

"N, the number of events of the group" is the number of the group's events with at least one value in
the combined sample. An event without a value on a day (or without a complete CAR in a window) is
left out of that cell; nothing is zero-filled. Undefined cells are NaN with a reason, never an error.

The array functions (combined sample, ranks, medians, day sums, signed ranks, GRANK's Z) are in
:mod:`eventstudy.inference.ranks`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Literal

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._typing import BoolArray, FloatArray, IntArray
from eventstudy.conventions import Conventions
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
from eventstudy.inference.partials import DecomposableTest, Partial, presence_patterns
from eventstudy.inference.ranks import (
    EXACT_SIGNED_RANK_MAX_N,
    combine_day_sums,
    combined_ranks,
    combined_sample,
    day_sums,
    exact_signed_rank_pvalue,
    grank,
    group_event_counts,
    rank_statistic,
    rank_sums,
    row_medians,
    signed_rank_cells,
)


def _normal_block(statistic: FloatArray, n: IntArray, why: np.ndarray) -> StatBlock:
    statistic = np.where(why == "", statistic, np.nan)
    return StatBlock(
        statistic, two_sided_normal(statistic), n.astype(np.int64), np.full(statistic.shape, np.nan), why, "normal"
    )


def _nothing(scope: Scope) -> str:
    return (
        "no event has an abnormal return on this day"
        if scope == "day"
        else "no event has a complete CAR in this window"
    )


# --------------------------------------------------------------------------------------------------
# Sign tests
# --------------------------------------------------------------------------------------------------


@register
class SignTest(DecomposableTest):
    """Sign test: the share of positive ARs (day) or CARs (window) against 1/2.

    Notes
    -----
    w = #{i : X_i > 0} (zeros count as non-positive) among the N events with a value;
    Z = (w - N/2) / sqrt(N/4) ~ N(0,1) (``docs/methods.md`` §6.3, N1). With ``daily_sums = "mean_x_n"``
    w is (share positive among the events present) x N and N is the group's number of events (estudy2).
    Robust to event-induced variance, not to cross-correlation.

    References
    ----------
    Brown, S. J. and J. B. Warner (1980), "Measuring security price performance", JFE 8, 205-258.
    """

    name = "sign"
    needs_estimation = True  # N of the group counts events with estimation residuals (group_event_counts)
    label = "Sign test"
    reference = "Brown and Warner (1980), JFE 8"

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        values = data.ar if scope == "day" else data.car
        positive = np.where(np.isfinite(values), (values > 0).astype(np.float64), np.nan)
        sums = {**day_sums(positive, groups, n_groups), "n_events": group_event_counts(data, groups, n_groups)}
        return Partial.of(data.layout, n_groups, sums)

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        conv, n_events = partial.layout.conventions, partial.sums["n_events"]
        w, count = combine_day_sums(partial.sums["total"], partial.sums["count"], n_events, conv)
        size = _sample_size(count, n_events, conv)
        with np.errstate(invalid="ignore", divide="ignore"):
            statistic = (w - size / 2.0) / np.sqrt(size / 4.0)
        return _normal_block(statistic, count, reasons((count == 0, _nothing(scope))))


def _sample_size(count: IntArray, n_events: IntArray, conventions: Conventions) -> FloatArray:
    """N in the sign-test formulas: N_t (events present) or, under "mean x N", the group's N."""
    if conventions.daily_sums == "mean_x_n":
        return np.broadcast_to(n_events[:, None], count.shape).astype(np.float64)
    return count.astype(np.float64)


def positive_share(data: InferenceData) -> tuple[FloatArray, FloatArray]:
    """Per event: number of positive estimation residuals and M_i, the number of estimation residuals."""
    present = np.isfinite(data.est_resid)
    positive = (np.where(present, data.est_resid, 0.0) > 0).sum(axis=1).astype(np.float64)
    return positive, present.sum(axis=1).astype(np.float64)


@register
class GeneralizedSign(DecomposableTest):
    """Generalized sign test (Cowan 1992): positive ARs (CARs) against the estimation-window share p̂.

    Notes
    -----
    Z = (w - N p̂) / sqrt(N p̂ (1 - p̂)) ~ N(0,1), w as in the sign test (``docs/methods.md`` §6.3, N2).
    ``gsign_phat = "event_mean"``: p̂ = mean_i (1/M_i) Σ_est 1(e_it > 0); ``"pooled"``: the share of all
    estimation residuals of the events that are positive (estudy2). p̂ uses the events in the cell, or
    all events of the group under ``daily_sums = "mean_x_n"``. Events without estimation residuals are
    left out.

    References
    ----------
    Cowan, A. R. (1992), "Nonparametric event study tests", Review of Quantitative Finance and
    Accounting 2, 343-358.
    """

    name = "generalized_sign"
    needs_estimation = True
    label = "Generalized sign Z"
    reference = "Cowan (1992), RQFA 2"

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        values = data.ar if scope == "day" else data.car
        positive, m_i = positive_share(data)
        has_est = m_i > 0
        with_value = kn.group_sum(np.isfinite(values).astype(np.int64), groups, n_groups)
        values = np.where(has_est[:, None], values, np.nan)
        indicator = np.where(np.isfinite(values), (values > 0).astype(np.float64), np.nan)
        sums = {
            **day_sums(indicator, groups, n_groups),
            **self._phat_sums(data.conventions, np.isfinite(values), positive, m_i, has_est, groups, n_groups),
            "n_events": group_event_counts(data, groups, n_groups),
            "with_value": with_value,
        }
        return Partial.of(data.layout, n_groups, sums)

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        conv, sums = partial.layout.conventions, partial.sums
        n_events, with_value = sums["n_events"], sums["with_value"]
        w, count = combine_day_sums(sums["total"], sums["count"], n_events, conv)
        size = _sample_size(count, n_events, conv)
        with np.errstate(invalid="ignore", divide="ignore"):
            phat = np.broadcast_to(sums["phat_numerator"] / sums["phat_denominator"], count.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            statistic = (w - size * phat) / np.sqrt(size * phat * (1.0 - phat))
        degenerate = (count > 0) & ~((phat > 0) & (phat < 1))
        why = reasons(
            (with_value == 0, _nothing(scope)),
            (count == 0, "no event with a value has estimation residuals"),
            (degenerate, "estimation-window share of positive ARs is 0 or 1"),
        )
        return _normal_block(statistic, count, why)

    @staticmethod
    def _phat_sums(
        conventions: Conventions,
        present: BoolArray,
        positive: FloatArray,
        m_i: FloatArray,
        has_est: BoolArray,
        groups: IntArray,
        n_groups: int,
    ) -> dict[str, np.ndarray]:
        """Numerator and denominator of p̂ per group and column (or per group, a column, under "mean x N")."""
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(has_est, positive / m_i, 0.0)
        weight = (
            present.astype(np.float64) if conventions.daily_sums == "present" else has_est.astype(np.float64)[:, None]
        )
        if conventions.gsign_phat == "pooled":
            numerator, denominator = weight * positive[:, None], weight * m_i[:, None]
        else:
            numerator, denominator = weight * share[:, None], weight
        return {
            "phat_numerator": kn.group_sum(numerator, groups, n_groups),
            "phat_denominator": kn.group_sum(denominator, groups, n_groups),
        }


# --------------------------------------------------------------------------------------------------
# Rank and median-sign tests on the combined sample (day scope)
# --------------------------------------------------------------------------------------------------


class _CombinedSampleDayTest(DecomposableTest):
    """Day tests on per-event scores over the combined sample, scaled by their own time series."""

    scopes = ("day",)
    normalize: Literal["mean", "sqrt"]

    @abstractmethod
    def scores(self, data: InferenceData) -> FloatArray:
        """Per-event scores (N, L + W) over the combined sample, NaN where the AR is missing."""

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        sums = {**day_sums(self.scores(data), groups, n_groups), "n_events": group_event_counts(data, groups, n_groups)}
        return Partial.of(data.layout, n_groups, sums)

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        d, count, scale = rank_statistic(partial.sums, partial.layout.conventions, self.normalize)
        event = slice(d.shape[1] - len(partial.layout.rel_days), None)  # the combined sample ends with the event window
        with np.errstate(invalid="ignore", divide="ignore"):
            statistic = d[:, event] / scale[:, None]
        count_evt = count[:, event]
        flat = np.broadcast_to(~(scale > 0)[:, None], count_evt.shape)
        why = reasons(
            (count_evt == 0, _nothing("day")),
            (flat, "zero variance of the daily statistic over the combined sample (all values tied)"),
        )
        return _normal_block(statistic, count_evt, why)


@register
class CorradoRank(_CombinedSampleDayTest):
    """Corrado (1989) rank test on each event's combined estimation + event-window sample.

    Notes
    -----
    K_it = rank of AR_it within event i over its combined sample (T_i values, average ranks for ties),
    K̄_i = (T_i + 1)/2; D_t = (1/N_t) Σ_i (K_it - K̄_i); S(K) = sqrt((1/T) Σ_t D_t^2) over the combined
    days; Z_t = D_t / S(K) ~ N(0,1) (``docs/methods.md`` §6.3, N3). estudy2 (§8.2): D_t uses the
    "mean x N" day sum, D_t = (N/N_t) mean_i (K_it - K̄_i), and S(K) divides by mean_i T_i.

    Not robust to event-induced variance (``docs/methods.md`` §6.0): the ranks are taken on the raw ARs,
    so an event that raises their variance pushes the event-day ranks towards both extremes, and the
    event-day D_t varies more than S(K), estimated mostly from estimation days, allows; in simulations
    with an event-day variance increase it rejects 10-13 % at a nominal 5 %. :class:`GrankT`
    re-standardizes the event-window values and is robust. Partly robust to cross-correlation (S(K) is
    a time-series scale of the mean rank).

    References
    ----------
    Corrado, C. J. (1989), "A nonparametric test for abnormal security-price performance in event
    studies", JFE 23, 385-395.
    """

    name = "corrado_rank"
    needs_estimation = True
    label = "Corrado rank Z"
    reference = "Corrado (1989), JFE 23"
    normalize = "mean"

    def scores(self, data: InferenceData) -> FloatArray:
        ranks = combined_ranks(data)
        t_i = np.isfinite(ranks).sum(axis=1)
        return ranks - (t_i[:, None] + 1) / 2.0


@register
class ModifiedRank(_CombinedSampleDayTest):
    """Modified rank test (Corrado and Zivney 1992) with uniform ranks, robust to missing days.

    Notes
    -----
    U_it = K_it / (T_i + 1) - 1/2; S_U = sqrt((1/T) Σ_t ((1/sqrt(N_t)) Σ_i U_it)^2);
    Z_t = (1/sqrt(N_t)) Σ_i U_it / S_U ~ N(0,1) (``docs/methods.md`` §6.3, N4). estudy2: the day sum is
    "mean x N" and S_U divides by mean_i T_i.

    Not robust to event-induced variance (``docs/methods.md`` §6.0), for the reason given under
    :class:`CorradoRank`; use :class:`GrankT` when the event may change the variance.

    References
    ----------
    Corrado, C. J. and T. L. Zivney (1992), "The specification and power of the sign test in event
    study hypothesis tests using daily stock returns", JFQA 27(3), 465-478.
    Kolari, J. W. and S. Pynnönen (2011), "Nonparametric rank tests for event studies", JEF 18(5).
    """

    name = "modified_rank"
    needs_estimation = True
    label = "Modified rank Z"
    reference = "Corrado and Zivney (1992), JFQA 27(3)"
    normalize = "sqrt"

    def scores(self, data: InferenceData) -> FloatArray:
        ranks = combined_ranks(data)
        t_i = np.isfinite(ranks).sum(axis=1)
        return ranks / (t_i[:, None] + 1.0) - 0.5


@register
class CorradoZivneySign(_CombinedSampleDayTest):
    """Corrado and Zivney (1992) sign test: signs of ARs around each event's combined-sample median.

    Notes
    -----
    G_it = sign(AR_it - median_i), median_i over the combined sample (0 at the median itself);
    S_G = sqrt((1/T) Σ_t ((1/sqrt(N_t)) Σ_i G_it)^2); Z_t = (1/sqrt(N_t)) Σ_i G_it / S_G ~ N(0,1)
    (``docs/methods.md`` §6.3, N5). estudy2: the day sum is "mean x N" and S_G divides by mean_i T_i.

    References
    ----------
    Corrado, C. J. and T. L. Zivney (1992), JFQA 27(3), 465-478.
    """

    name = "corrado_zivney_sign"
    needs_estimation = True
    label = "Corrado-Zivney sign Z"
    reference = "Corrado and Zivney (1992), JFQA 27(3)"
    normalize = "sqrt"

    def scores(self, data: InferenceData) -> FloatArray:
        combined = combined_sample(data)
        return np.sign(combined - row_medians(combined)[:, None])


# --------------------------------------------------------------------------------------------------
# Cowan cumulative rank test (window scope)
# --------------------------------------------------------------------------------------------------


@register
class CowanRank(DecomposableTest):
    """Cowan (1992) cumulative rank test for a CAR window, from Corrado's daily rank deviations.

    Notes
    -----
    ``car_tests = "on_cars"`` (default): the events with an AR on every day of the window enter;
    D_t and S(K) are those of :class:`CorradoRank` on these events, and
    Z = Σ_{t∈w} D_t / (sqrt(L) S(K)) ~ N(0,1) (``docs/methods.md`` §6.3, N6).

    ``car_tests = "sum_daily"`` (estudy2's ``car_rank_test``, §8.2): all events of the group enter;
    over the L' window days on which more than ``car_coverage`` of the events have an AR,
    Z = sqrt(L') (K̄_w - mean_i K̄_i) / sqrt( Σ_t (mean_i K_it - mean_i K̄_i)^2 / mean_i T_i ),
    K̄_w the mean of all ranks on those days, the sum over all combined-sample days, no N/N_t inflation
    (the divisor is T instead of mean_i T_i when ``rank_scale = "days"``).

    Not robust to event-induced variance (``docs/methods.md`` §6.0), like the daily rank test it is
    built from (:class:`CorradoRank`); :class:`GrankT` on the window is.

    References
    ----------
    Cowan, A. R. (1992), "Nonparametric event study tests", RQFA 2, 343-358.
    """

    name = "cowan_rank"
    needs_estimation = True
    label = "Cowan cumulative rank Z"
    reference = "Cowan (1992), RQFA 2"
    scopes = ("window",)

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        ranks = combined_ranks(data)
        present = np.isfinite(ranks)
        t_i = present.sum(axis=1)
        present_count = present.astype(np.int64)
        n_event_days = len(data.rel_days)
        if data.conventions.car_tests == "sum_daily":
            with np.errstate(invalid="ignore", divide="ignore"):
                k_bar = np.where(t_i > 0, (t_i + 1) / 2.0, 0.0)
            daily = {
                **rank_sums(np.where(present, ranks, 0.0), present_count, groups, n_groups),
                "k_bar_total": kn.group_sum(k_bar, groups, n_groups),
                "n_events": group_event_counts(data, groups, n_groups),
            }
            patterns = presence_patterns(present[:, ranks.shape[1] - n_event_days :], groups, n_groups)
            return Partial.of(data.layout, n_groups, daily, patterns={"present": patterns})
        deviation = np.where(present, ranks - (t_i[:, None] + 1) / 2.0, 0.0)  # prepared once for every window
        member = (groups >= 0) & (groups < n_groups)
        offset = ranks.shape[1] - n_event_days
        sums: dict[str, np.ndarray] = {}  # the sums of CAR window c under names ending in "/c"
        for c, window in enumerate(data.car_windows):
            cols = offset + data.car_columns(window)
            complete = np.logical_and(present[:, cols].all(axis=1), len(cols) > 0) & member
            sums[f"n_events/{c}"] = kn.group_count(complete, groups, n_groups)
            for name, value in rank_sums(deviation, present_count, np.where(complete, groups, -1), n_groups).items():
                sums[f"{name}/{c}"] = value
        return Partial.of(data.layout, n_groups, sums)

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        layout, sums = partial.layout, partial.sums
        if "k_bar_total" in sums:
            return self._sum_daily(partial)
        columns = [layout.car_columns(w) for w in layout.car_windows]
        n_groups = len(partial.groups)
        shape = (n_groups, len(columns))
        statistic, count = np.full(shape, np.nan), np.zeros(shape, dtype=np.int64)
        flat = np.zeros(shape, dtype=bool)
        for c, cols in enumerate(columns):
            window = {name: sums[f"{name}/{c}"] for name in ("total", "count", "t_total", "n_events")}
            d, _, scale = rank_statistic(window, layout.conventions, "mean")
            offset = d.shape[1] - len(layout.rel_days)
            with np.errstate(invalid="ignore", divide="ignore"):
                statistic[:, c] = d[:, offset + cols].sum(axis=1) / (np.sqrt(len(cols)) * scale)
            count[:, c] = window["n_events"]
            flat[:, c] = ~(scale > 0)
        why = reasons(
            (np.broadcast_to(np.array([len(c) == 0 for c in columns]), shape), "the window has no event-window day"),
            (count == 0, _nothing("window")),
            (flat, "zero variance of the daily mean rank over the combined sample (all values tied)"),
        )
        return _normal_block(statistic, count, why)

    @staticmethod
    def _sum_daily(partial: Partial) -> StatBlock:
        layout, sums = partial.layout, partial.sums
        conventions = layout.conventions
        count, total, n_events = sums["count"], sums["total"], sums["n_events"]
        n_groups = len(partial.groups)
        offset = total.shape[1] - len(layout.rel_days)
        with np.errstate(invalid="ignore", divide="ignore"):
            k_bar = sums["k_bar_total"] / n_events
            dev = np.where(count > 0, total / count - k_bar[:, None], np.nan)
            if conventions.rank_scale == "mean_T":
                divisor = sums["t_total"] / n_events
            else:
                divisor = (count > 0).sum(axis=1).astype(np.float64)
            scale = np.sqrt(np.nansum(dev * dev, axis=1) / divisor)
            coverage = count / n_events[:, None]
        shape = (n_groups, len(layout.car_windows))
        statistic, n = np.full(shape, np.nan), np.zeros(shape, dtype=np.int64)
        n_days = np.zeros(shape, dtype=np.int64)
        for c, window in enumerate(layout.car_windows):
            cols = layout.car_columns(window)
            kept = coverage[:, offset + cols] > conventions.car_coverage  # (G, L)
            n_days[:, c] = kept.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_rank = (total[:, offset + cols] * kept).sum(axis=1) / (count[:, offset + cols] * kept).sum(axis=1)
                statistic[:, c] = np.sqrt(n_days[:, c]) * (mean_rank - k_bar) / scale
            n[:, c] = partial.patterns["present"].held(kept, cols, n_groups)
        flat = np.broadcast_to(~(scale > 0)[:, None], shape)
        why = reasons(
            (n_days == 0, f"no window day has more than {conventions.car_coverage:.0%} of the events"),
            (flat, "zero variance of the daily mean rank over the combined sample (all values tied)"),
        )
        return _normal_block(statistic, n, why)


# --------------------------------------------------------------------------------------------------
# Wilcoxon signed-rank test
# --------------------------------------------------------------------------------------------------


@register
class Wilcoxon(StatTest):
    """Wilcoxon (1945) signed-rank test across events on ARs (day) or CARs (window).

    Notes
    -----
    Zeros are dropped (N' values remain), |X_i| is ranked with average ranks for ties, and the
    statistic is W⁺, the sum of the ranks of the positive X_i (``docs/methods.md`` §6.3, N7). p-value:
    the exact signed-rank null when N' <= 50 and there are no ties (two-sided,
    2 min(P(W⁺ <= w), P(W⁺ >= w))); otherwise the normal approximation
    Z = (W⁺ - N'(N'+1)/4) / sqrt(N'(N'+1)(2N'+1)/24 - Σ_ties (t^3 - t)/48), without continuity
    correction. The ``distribution`` column names the null used in each cell.

    References
    ----------
    Wilcoxon, F. (1945), "Individual comparisons by ranking methods", Biometrics Bulletin 1(6), 80-83.
    """

    name = "wilcoxon"
    needs_estimation = False
    label = "Wilcoxon signed-rank W+"
    reference = "Wilcoxon (1945), Biometrics Bulletin 1(6)"

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        values = data.ar if scope == "day" else data.car
        count = kn.group_sum(np.isfinite(values).astype(np.int64), groups, n_groups)
        w_plus, n_prime, ties = signed_rank_cells(values, groups, n_groups)
        exact = (n_prime >= 1) & (n_prime <= EXACT_SIGNED_RANK_MAX_N) & (ties == 0)
        n_f = n_prime.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (w_plus - n_f * (n_f + 1) / 4.0) / np.sqrt(n_f * (n_f + 1) * (2 * n_f + 1) / 24.0 - ties / 48.0)
        p_value = np.where(exact, exact_signed_rank_pvalue(w_plus, n_prime), two_sided_normal(z))
        why = reasons((count == 0, _nothing(scope)), (n_prime == 0, "all values are zero"))
        statistic = np.where(why == "", w_plus, np.nan)
        p_value = np.where(why == "", p_value, np.nan)
        df = np.where(exact & (why == ""), n_f, np.nan)
        return StatBlock(statistic, p_value, count, df, why, "signed_rank")


class _GrankBase(StatTest):
    reference = "Kolari and Pynnönen (2011), JEF 18(5)"


@register
class GrankT(_GrankBase):
    """GRANK t of Kolari and Pynnönen (2011): generalized rank test for CARs (and single days).

    Notes
    -----
    t_grank = Z sqrt((T - 2) / (T - 1 - Z^2)) ~ t(T - 2), Z from :func:`grank`, T the number of time
    points (estimation days with an event plus the cumulated event day) (``docs/methods.md`` §6.3,
    N8). Robust to event-induced volatility (through the SCAR re-standardization) and to
    cross-correlation (through the time-series scale S_Ū). The day scope is the window of length 1.

    References
    ----------
    Kolari, J. W. and S. Pynnönen (2011), "Nonparametric rank tests for event studies", Journal of
    Empirical Finance 18(5), 953-971.
    """

    name = "grank_t"
    needs_estimation = True
    label = "GRANK t"

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        z, t_points, n, why = grank(data, scope, groups, n_groups)
        t_f = t_points.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            room = t_f - 1.0 - z * z
            statistic = z * np.sqrt((t_f - 2.0) / room)
        why = np.where(
            why != "",
            why,
            reasons(
                (t_points < 3, "needs at least 3 time points for t(T - 2)"),
                (~(room > 0), "|Z| too large for the t transformation (Z^2 >= T - 1)"),
            ),
        )
        statistic = np.where(why == "", statistic, np.nan)
        df = np.where(why == "", t_f - 2.0, np.nan)
        return StatBlock(statistic, two_sided_t(statistic, df), n, df, why, "t")


@register
class GrankZ(_GrankBase):
    """GRANK Z of Kolari and Pynnönen (2011): Ū_0 / S_Ū with a N(0,1) reference.

    Notes
    -----
    Z from :func:`grank` (``docs/methods.md`` §6.3, N8); asymptotically N(0,1). :class:`GrankT` is its
    small-sample t(T - 2) version.

    References
    ----------
    Kolari, J. W. and S. Pynnönen (2011), JEF 18(5), 953-971.
    """

    name = "grank_z"
    needs_estimation = True
    label = "GRANK Z"

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        z, _, n, why = grank(data, scope, groups, n_groups)
        return _normal_block(z, n, why)


__all__ = [
    "CorradoRank",
    "CorradoZivneySign",
    "CowanRank",
    "GeneralizedSign",
    "GrankT",
    "GrankZ",
    "ModifiedRank",
    "SignTest",
    "Wilcoxon",
]
