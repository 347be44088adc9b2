"""Tests for clustered events, built from estimation-window residuals across events.

Brown and Warner's crude dependence adjustment (P6), Lamb's (1995) test (P11) and the Kolari-Pynnönen
(2010) adjustment of Patell Z and BMP t (P10), ``docs/methods.md`` §6.2. All three use the estimation
residuals of the events of a group jointly: the CDA and Lamb through the time series of the mean residual,
Kolari-Pynnönen through the average pairwise correlation of the residuals on common calendar dates. As in
:mod:`eventstudy.inference.parametric`, every quantity is computed for all groups at once with group sums,
and the Kolari-Pynnönen r̄ with the pairwise-correlation kernel of :mod:`eventstudy.inference.correlation`
(linear in the number of firm-events except for firm-events with gaps in their dates).
:func:`kp_correlation_table` reports r̄ and its number of pairs per group, and per market when a group
mixes markets (P10), as a tidy frame.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from eventstudy import _kernels as kn
from eventstudy._typing import FloatArray, IntArray
from eventstudy.inference.base import (
    KEY_SEPARATOR,
    InferenceData,
    Scope,
    StatBlock,
    StatTest,
    reasons,
    register,
    two_sided_normal,
    two_sided_t,
)
from eventstudy.inference.correlation import pairwise_correlation_sums
from eventstudy.inference.parametric import BmpT, PatellZ, sum_daily, sum_daily_sums
from eventstudy.inference.partials import (
    DecomposableTest,
    Firsts,
    Partial,
    first_rows,
    presence_patterns,
    window_lengths,
)

# --------------------------------------------------------------------------------------------------
# Crude dependence adjustment and Lamb
# --------------------------------------------------------------------------------------------------


def cda_sums(data: InferenceData, groups: IntArray, n_groups: int) -> dict[str, np.ndarray]:
    """Per group and estimation row τ, the residuals present and their sum (``est_count``, ``est_total``, (G, L)).

    They depend only on the estimation residuals and the grouping, so they are computed once per grouping
    and shared by both scopes, every CAR window and both tests (:meth:`InferenceData.memoized`, keyed by
    the codes in full).
    """
    codes = np.ascontiguousarray(groups, dtype=np.int64)

    def compute() -> dict[str, np.ndarray]:
        present = np.isfinite(data.est_resid)
        return {
            "est_count": kn.group_count(present, codes, n_groups),
            "est_total": kn.group_total(data.est_resid, codes, n_groups),
        }

    return data.memoized(("cda_sums", n_groups, codes.tobytes()), compute)


def cda_scale(sums: Mapping[str, np.ndarray]) -> tuple[FloatArray, IntArray]:
    """S_A and M_A of the crude dependence adjustment, per group, from :func:`cda_sums`.

    A_τ = mean_i e_iτ over the events of the group with a residual on estimation row τ (event time,
    i.e. rows of the estimation window; calendar time when the events are clustered);
    M_A = number of rows with at least one residual; S_A = sqrt(Σ_τ (A_τ - Ā)^2 / (M_A - 1)).

    Returns
    -------
    s_a, m_a : (n_groups,)
        NaN S_A where M_A < 2.
    """
    count, total = sums["est_count"], sums["est_total"]
    has = count > 0
    m_a = has.sum(axis=1).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(has, total / np.maximum(count, 1), 0.0)
        a_bar = a.sum(axis=1) / m_a
        ss = (np.where(has, a - a_bar[:, None], 0.0) ** 2).sum(axis=1)
        s_a = np.where(m_a >= 2, np.sqrt(ss / (m_a - 1)), np.nan)
    return s_a, m_a


def _scale_reasons(count: IntArray, s_a: FloatArray, m_a: IntArray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """NaN mask and reasons common to CDA and Lamb cells."""
    short_g = m_a < 2
    short = np.broadcast_to(short_g[:, None], count.shape)
    flat = np.broadcast_to((~short_g & ~(s_a > 0))[:, None], count.shape)
    why = reasons(
        (count == 0, f"no event has {what}"),
        (short, "fewer than 2 estimation days with a residual"),
        (flat, "zero variance of the mean estimation residual"),
    )
    return (count == 0) | short | flat, why


def cda_values(values: FloatArray, data: InferenceData, groups: IntArray, n_groups: int) -> dict[str, np.ndarray]:
    """The sums :func:`cda_kernel` needs: :func:`cda_sums`, and the count and total of ``values`` (N, D)."""
    count = kn.group_count(np.isfinite(values), groups, n_groups)
    return {**cda_sums(data, groups, n_groups), "count": count, "total": kn.group_total(values, groups, n_groups)}


def cda_kernel(sums: Mapping[str, np.ndarray], lengths: FloatArray, what: str) -> StatBlock:
    """T = mean_i X_i / (sqrt(L) S_A), X = AR (L = 1) or CAR (L days), reference t(M_A - 1) (:func:`cda_values`)."""
    s_a, m_a = cda_scale(sums)
    count, total = sums["count"], sums["total"]
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = (total / count) / (np.sqrt(lengths)[None, :] * s_a[:, None])
    undefined, why = _scale_reasons(count, s_a, m_a, what)
    statistic = np.where(undefined, np.nan, statistic)
    df = np.where(undefined, np.nan, np.broadcast_to(m_a[:, None] - 1.0, count.shape))
    return StatBlock(statistic, two_sided_t(statistic, df), count, df, why, "t")


def _market_leverage(data: InferenceData) -> FloatArray:
    """(R_mτ - R̄_m)^2 / Σ_s (R_ms - R̄_m)^2 per event and event-window day, (N, W); its design form otherwise.

    Market moments over the event's own regression rows (``fec_moments = "own_rows"``) or over the
    benchmark's own estimation-window returns (``"index_window"``; ``data.est_bench_own`` when present,
    else every estimation row with a benchmark return). For a model with other regressors (factor models)
    the same term from the model's design: the centred leverage x̃_iτ' S_i^-1 x̃_iτ = x_iτ'(X_i'X_i)^-1 x_iτ - 1/M_i,
    which is the market expression when the design is [1, R_m] (``docs/methods.md`` §5.2). Computed once
    per instance and knob value.
    """
    if not data.market_design:
        return data.memoized("design_leverage", lambda: _centred_design_leverage(data))
    key = ("market_leverage", data.conventions.fec_moments)
    return data.memoized(key, lambda: _own_market_leverage(data))


def _centred_design_leverage(data: InferenceData) -> FloatArray:
    """x_iτ'(X_i'X_i)^-1 x_iτ - 1/M_i from the event-window design rows (the intercept's share removed)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return kn.leverage(data.event_design, data.xtx_inv) - 1.0 / data.n_obs[:, None]


def _own_market_leverage(data: InferenceData) -> FloatArray:
    est_market = data.est_market
    if data.conventions.fec_moments == "index_window" and data.est_bench_own is not None:
        est_market = data.est_bench_own
    rows = np.isfinite(est_market)
    if data.conventions.fec_moments == "own_rows":
        rows &= np.isfinite(data.est_resid)
    n_rows = rows.sum(axis=1)
    market = np.where(rows, est_market, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = market.sum(axis=1) / n_rows
        ss = (np.where(rows, est_market - mean[:, None], 0.0) ** 2).sum(axis=1)
        lev = (data.evt_market - mean[:, None]) ** 2 / ss[:, None]
    return np.where(ss[:, None] > 0, lev, np.nan)


def lamb_sums(
    ar: FloatArray, data: InferenceData, groups: IntArray, n_groups: int
) -> tuple[dict[str, np.ndarray], dict[str, Firsts]]:
    """Per-group sums behind :func:`lamb_kernel`, and the first firm-event's market term under ``"first"``.

    Sums: :func:`cda_sums`, ``count`` and ``total`` of the ARs (N, W), ``size`` (events of the group) and
    ``n_obs_total`` (Σ_i M_i); under ``lamb_market = "own"`` also ``lev_total`` and ``lev_count``, the sum
    and number of the present events' own (R_miτ - R̄_mi)^2 / Σ_s (R_mis - R̄_mi)^2.
    """
    present = np.isfinite(ar)
    sums = {
        **cda_sums(data, groups, n_groups),
        "count": kn.group_count(present, groups, n_groups),
        "total": kn.group_total(ar, groups, n_groups),
        "size": kn.group_count(np.ones(len(groups), dtype=bool), groups, n_groups),
        "n_obs_total": kn.group_total(data.n_obs.astype(np.float64), groups, n_groups),
    }
    lev_i = _market_leverage(data)
    if data.conventions.lamb_market == "first" and len(groups):
        return sums, {"leverage": first_rows(lev_i, groups, n_groups)}
    sums["lev_total"] = kn.group_total(np.where(present, lev_i, np.nan), groups, n_groups)
    sums["lev_count"] = kn.group_count(present & np.isfinite(lev_i), groups, n_groups)
    return sums, {}


def lamb_kernel(sums: Mapping[str, np.ndarray], firsts: Mapping[str, Firsts]) -> StatBlock:
    """Lamb's daily t_τ = AAR_τ / (S_A sqrt(1 + 1/M̄ + (R_mτ - R̄_m)^2 / Σ_s (R_ms - R̄_m)^2)), N(0,1).

    From :func:`lamb_sums`. ``lamb_market = "first"`` takes R_m from the group's first event (lowest row);
    ``"own"`` averages each present event's own (R_miτ - R̄_mi)^2 / Σ_s (R_mis - R̄_mi)^2 over the events
    present that day. M̄ is the mean M_i over the group's events.
    """
    s_a, m_a = cda_scale(sums)
    count, total, size = sums["count"], sums["total"], sums["size"]
    if "leverage" in firsts:
        lev = np.where((size > 0)[:, None], firsts["leverage"].value, np.nan)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            lev = sums["lev_total"] / sums["lev_count"]
    with np.errstate(invalid="ignore", divide="ignore"):
        m_bar = sums["n_obs_total"] / size
        factor = 1.0 + 1.0 / m_bar[:, None] + lev
        statistic = (total / count) / (s_a[:, None] * np.sqrt(factor))
    undefined, why = _scale_reasons(count, s_a, m_a, "an abnormal return")
    no_market = ~undefined & ~np.isfinite(factor)
    why = np.where(no_market, "benchmark return or estimation-window market variance missing", why)
    statistic = np.where(undefined | no_market, np.nan, statistic)
    return StatBlock(statistic, two_sided_normal(statistic), count, np.full(count.shape, np.nan), why, "normal")


@register
class BrownWarner1985(DecomposableTest):
    """Brown and Warner's crude dependence adjustment (CDA): AAR over the time-series sd of the mean residual.

    Notes
    -----
    A_τ = mean_i e_iτ over the estimation window, aligned by estimation row (event time; for clustered
    events this is calendar time); M_A = rows with at least one residual; S_A = sd(A_τ) with divisor
    M_A - 1. Day: t_τ = AAR_τ / S_A. Window (``car_tests = "on_cars"``): t = CAAR(w) / (sqrt(L) S_A)
    over the events with a CAR in w. Reference t(M_A - 1) (``docs/methods.md`` §6.2, P6). With
    ``car_tests = "sum_daily"`` the window statistic is Σ_τ t_τ / sqrt(L') over the days with more than
    ``car_coverage`` of the events present (estudy2's ``car_brown_warner_1985``). S_A uses every event
    of the group. Robust to cross-correlation, not to event-induced variance.

    References
    ----------
    Brown, S. J. and J. B. Warner (1980), JFE 8(3), 205-258; (1985), "Using daily stock returns",
    JFE 14(1), 3-31.
    """

    name = "brown_warner_1985"
    needs_estimation = True
    label = "Brown-Warner CDA t"
    reference = "Brown and Warner (1980, 1985), JFE 8 and 14"

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        if scope == "day":
            return Partial.of(data.layout, n_groups, cda_values(data.ar, data, groups, n_groups))
        if data.conventions.car_tests == "sum_daily":  # the day sums, and what sum_daily needs
            size, patterns = sum_daily_sums(np.isfinite(data.ar), groups, n_groups)
            sums = {**cda_values(data.ar, data, groups, n_groups), "size": size}
            return Partial.of(data.layout, n_groups, sums, patterns={"present": patterns})
        return Partial.of(data.layout, n_groups, cda_values(data.car, data, groups, n_groups))

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        layout = partial.layout
        if scope == "window" and "size" not in partial.sums:
            return cda_kernel(partial.sums, window_lengths(layout), "a CAR")
        daily = cda_kernel(partial.sums, np.ones(len(layout.rel_days)), "an abnormal return")
        if scope == "day":
            return daily
        return sum_daily(daily, partial.sums["size"], partial.patterns["present"], layout)


@register
class Lamb(DecomposableTest):
    """Lamb (1995) test for clustered events sharing one benchmark: CDA with a forecast-error factor.

    Notes
    -----
    Day: t_τ = AAR_τ / (S_A sqrt(1 + 1/M̄ + (R_mτ - R̄_m)^2 / Σ_s (R_ms - R̄_m)^2)) ~ N(0,1), S_A as in the
    CDA, M̄ = mean_i M_i over the group (``docs/methods.md`` §6.2, P11). The factor is part of the test and
    is applied whatever the ``fec`` knob. For a model with regressors besides the benchmark (factor models)
    the market term is the design's centred leverage x_iτ'(X_i'X_i)^-1 x_iτ - 1/M_i, its generalisation.
    Benchmark: ``lamb_market = "first"`` uses the first event's
    series (R_mτ on the event days, its estimation mean and sum of squares) for every event (estudy2);
    ``"own"`` averages each present event's own term (R_miτ - R̄_mi)^2 / Σ_s (R_mis - R̄_mi)^2. Market
    moments run over the rows set by ``fec_moments``.

    Window: Σ_{τ∈w} t_τ / sqrt(L). With ``car_tests = "on_cars"`` the daily t_τ are computed on the
    events with a CAR in w (the same events every day); with ``"sum_daily"`` on all events present, over
    the days with more than ``car_coverage`` of them present (estudy2's ``car_lamb``).

    References
    ----------
    Lamb, R. P. (1995), "An exposure-based analysis of property-liability insurer stock values around
    Hurricane Andrew", Journal of Risk and Insurance 62(1), 111-123.
    """

    name = "lamb"
    needs_estimation = True
    label = "Lamb t"
    reference = "Lamb (1995), JRI 62(1)"

    def partial(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> Partial:
        sums, firsts = lamb_sums(data.ar, data, groups, n_groups)
        if scope == "day":
            return Partial.of(data.layout, n_groups, sums, firsts=firsts)
        if data.conventions.car_tests == "sum_daily":  # the day sums (with the group sizes), and the patterns
            patterns = presence_patterns(np.isfinite(data.ar), groups, n_groups)
            return Partial.of(data.layout, n_groups, sums, patterns={"present": patterns}, firsts=firsts)
        window_sums = {name: sums[name] for name in ("est_count", "est_total", "size", "n_obs_total")}
        for c in range(len(data.car_windows)):  # daily sums over the events with a CAR, under names ending in "/c"
            has_car = np.isfinite(data.car[:, c])
            window_sums[f"n_car/{c}"] = kn.group_count(has_car, groups, n_groups)
            masked, _ = lamb_sums(np.where(has_car[:, None], data.ar, np.nan), data, groups, n_groups)
            for name in ("count", "total", "lev_total", "lev_count"):
                if name in masked:
                    window_sums[f"{name}/{c}"] = masked[name]
        return Partial.of(data.layout, n_groups, window_sums, firsts=firsts)

    def finish(self, partial: Partial, scope: Scope) -> StatBlock:
        layout, sums = partial.layout, partial.sums
        if scope == "day":
            return lamb_kernel(sums, partial.firsts)
        if layout.conventions.car_tests == "sum_daily":
            return sum_daily(lamb_kernel(sums, partial.firsts), sums["size"], partial.patterns["present"], layout)
        n_groups, n_win = len(partial.groups), len(layout.car_windows)
        stat = np.full((n_groups, n_win), np.nan)
        n = np.zeros((n_groups, n_win), dtype=np.int64)
        why = np.full((n_groups, n_win), "", dtype=object)
        for c, window in enumerate(layout.car_windows):
            cols = layout.car_columns(window)
            n[:, c] = sums[f"n_car/{c}"]
            if not len(cols):
                why[:, c] = "the window has no event-window day"
                continue
            mine = {name[: -len(f"/{c}")]: value for name, value in sums.items() if name.endswith(f"/{c}")}
            daily = lamb_kernel({**sums, **mine}, partial.firsts)
            vals = daily.statistic[:, cols]
            stat[:, c] = vals.sum(axis=1) / np.sqrt(len(cols))
            first_bad = np.argmax(~np.isfinite(vals), axis=1)
            why[:, c] = np.where(np.isfinite(stat[:, c]), "", daily.reason[np.arange(n_groups), cols[first_bad]])
            why[:, c] = np.where(n[:, c] == 0, "no event has a CAR", why[:, c])
        return StatBlock(stat, two_sided_normal(stat), n, np.full(stat.shape, np.nan), why, "normal")


# --------------------------------------------------------------------------------------------------
# Kolari-Pynnönen
# --------------------------------------------------------------------------------------------------


def kp_mean_correlation(data: InferenceData, groups: IntArray, n_groups: int) -> tuple[FloatArray, IntArray]:
    """Average pairwise correlation r̄ of standardized estimation residuals within each group.

    It depends only on the estimation residuals and the grouping, so it is computed once per study
    and grouping and shared by both KP tests and both scopes (:meth:`InferenceData.memoized`).

    Parameters
    ----------
    data, n_groups
        As for :meth:`StatTest.compute`.
    groups : (N,)
        Group code per row; rows with a negative code are in no group.

    Returns
    -------
    r_bar : (n_groups,)
        Mean of ρ_ij over the unordered pairs i != j of the group with at least ``kp_min_overlap``
        common calendar dates; 0 where no pair qualifies.
    n_pairs : (n_groups,)
        Number of pairs averaged.

    Notes
    -----
    u_i(d) = e_i(d) / s_i, indexed by the exchange-local calendar date d of each estimation row
    (``est_dates``). ρ_ij is the Pearson correlation of u_i and u_j over the dates on which both have a
    residual (pairwise complete: each pair uses its own common dates, with its own means), and r̄ is the
    plain mean of the qualifying ρ_ij (``docs/methods.md`` §6.2, P10). The sum of the ρ_ij is computed
    exactly by :func:`eventstudy.inference.correlation.pairwise_correlation_sums`: within groups of
    firm-events with identical estimation dates (a balanced common window, e.g. the firms of one
    exchange around one event day) by the identity Σ_{i<j} ρ_ij = (||Σ_i z_i||^2 - N) / 2 for z_i
    standardized to unit length on the common dates, i.e. r̄ = (||Σ_i z_i||^2 / T - N) / (N (N - 1)) with
    divisor-T standardization; between firm-events whose estimation dates are complete runs of the
    group's dates, from prefix and suffix sums per offset between the runs; and pair by pair, on each
    pair's own common dates, for the pairs with a firm-event whose residuals have gaps, fewer rows or
    dates that skip a date of the group's axis (e.g. groups mixing exchanges with different holidays).
    The first two are linear in the number of firm-events, the third quadratic in the number of such
    firm-events. Rows without a finite, positive s_i are left out.
    """
    sums, pairs = kp_pair_sums(data, groups, n_groups)
    return np.where(pairs > 0, sums / np.maximum(pairs, 1), 0.0), pairs


def kp_pair_sums(data: InferenceData, groups: IntArray, n_groups: int) -> tuple[FloatArray, IntArray]:
    """Σ ρ_ij and the number of qualifying pairs per group (:func:`kp_mean_correlation` divides one by the other).

    Cached per instance under a key holding everything the value depends on besides the instance's arrays:
    the grouping (its codes in full, not a hash) and ``kp_min_overlap``.
    """
    codes = np.ascontiguousarray(groups, dtype=np.int64)
    key = ("kp_pair_sums", n_groups, codes.tobytes(), int(data.conventions.kp_min_overlap))
    return data.memoized(key, lambda: _kp_pair_sums(data, codes, n_groups))


def _kp_pair_sums(data: InferenceData, groups: IntArray, n_groups: int) -> tuple[FloatArray, IntArray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.sqrt(data.s2.astype(np.float64))
        u = data.est_resid / scale[:, None]
    good = np.isfinite(scale) & (scale > 0)
    return pairwise_correlation_sums(
        u, data.est_dates, np.where(good, groups, -1), n_groups, data.conventions.kp_min_overlap
    )


def _block_cells(data: InferenceData, groups: IntArray, n_groups: int) -> tuple[IntArray, int]:
    """Code of each row's (group, block) cell, g * B + b (-1 for rows in no group or no block), and B."""
    assert data.blocks is not None
    n_blocks = len(data.block_labels)
    codes = np.asarray(groups, dtype=np.int64)
    blocks = np.asarray(data.blocks, dtype=np.int64)
    inside = (codes >= 0) & (codes < n_groups) & (blocks >= 0)
    return np.where(inside, codes * n_blocks + blocks, -1), n_blocks


def kp_blocked_correlation(data: InferenceData, groups: IntArray, n_groups: int) -> tuple[FloatArray, IntArray]:
    """Block-wise Kolari-Pynnönen r̄ per group: cross-block correlations set to 0 (``data.blocks``).

    Returns
    -------
    r_bar : (n_groups,)
        r̄_B = Σ_{b} Σ_{i<j in block b} ρ_ij / P, P the number of pairs of the group (within and across
        blocks) with at least ``kp_min_overlap`` common dates and some variation of both series; 0 where
        P = 0.
    n_pairs : (n_groups,)
        P, the denominator.

    Notes
    -----
    The mean of the pooled r̄ (:func:`kp_mean_correlation`) with every cross-block ρ_ij replaced by 0:
    a qualifying pair across blocks counts in the denominator with the value 0, a pair that does not
    qualify (fewer than ``kp_min_overlap`` common dates) counts nowhere, as in the pooled r̄. Rows with a
    negative block code (in no block) only have cross-block pairs. The within-block sums come from the
    same linear-time kernel with the (group, block) cells as groups (Stata eventstudy2's ``KOLBlock``
    variant, ``docs/methods.md`` §6.2, P10).
    """
    cells, n_blocks = _block_cells(data, groups, n_groups)
    within, _ = kp_pair_sums(data, cells, n_groups * n_blocks)
    _, pairs = kp_pair_sums(data, groups, n_groups)
    total = within.reshape(n_groups, n_blocks).sum(axis=1)
    return np.where(pairs > 0, total / np.maximum(pairs, 1), 0.0), pairs


def kp_test_correlation(data: InferenceData, groups: IntArray, n_groups: int) -> tuple[FloatArray, IntArray]:
    """The r̄ the KP tests use and its number of pairs: block-wise when ``data.blocks`` is set, else pooled."""
    if data.blocks is None:
        return kp_mean_correlation(data, groups, n_groups)
    return kp_blocked_correlation(data, groups, n_groups)


KP_CORRELATION_COLUMNS = ("group", "market_scope", "block", "r_bar", "n_pairs", "n_firm_events", "in_tests")
"""Columns of :func:`kp_correlation_table` (and of ``cross_correlation.csv``)."""

BLOCKED_ROW = "(blocked)"
"""``block`` of the row holding the block-wise r̄ of a group (cross-block correlations 0)."""


def kp_correlation_table(
    data: InferenceData, event_codes: IntArray, event_labels: tuple[str, ...], *, include_all: bool = True
) -> pd.DataFrame:
    """Kolari-Pynnönen r̄ and its number of pairs per group, per market where a group mixes markets, per block.

    Parameters
    ----------
    data
        The study's arrays (``markets`` gives each firm-event's exchange, ``blocks`` its block, if any).
    event_codes : (N,)
        Code of each firm-event's event id, indexing ``event_labels``.
    event_labels
        Event ids.
    include_all
        Whether to begin with the group ``"all"`` of every row (False: only the groups of ``event_codes``,
        for a caller that pools another set of rows).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`KP_CORRELATION_COLUMNS`, per group (``"all"``, then each event id, as in the tests
        frame) in this order:

        - the pooled row: ``market_scope = "all"``, ``block = ""``, the r̄ of every pair of the group
          (:func:`kp_mean_correlation`);
        - when the group's firm-events are listed on more than one exchange, one row per exchange
          (``market_scope`` such as ``"XHKG"``, sorted by name, ``block = ""``) over that exchange's
          firm-events only;
        - when ``data.blocks`` is set: one row per block with firm-events in the group (``block`` its
          label, in the order of ``data.block_labels``, ``market_scope = "all"``), the r̄ of the pairs
          within the block, then the row ``block = "(blocked)"`` (:data:`BLOCKED_ROW`) with the block-wise r̄ of
          :func:`kp_blocked_correlation` (its ``n_pairs`` is the denominator: every qualifying pair of the
          group).

        ``r_bar`` is NaN where no pair has ``kp_min_overlap`` common dates (the KP tests then use r̄ = 0,
        i.e. no adjustment); ``n_firm_events`` counts the firm-events of the row's scope; ``in_tests`` marks
        the row whose r̄ the KP tests use (the pooled row, or the blocked row when there are blocks).

    Notes
    -----
    ``docs/methods.md`` §6.2, P10: HK and NY closes on one calendar date are not simultaneous (§4.8), so
    for a group that mixes the two markets the r̄ of its HK-only and US-only subsets is reported besides
    the r̄ of the whole group. The block rows share their computation with the KP tests (the same
    groupings and knob give the same cache keys).
    """
    markets = np.asarray(data.markets).astype(str)
    names, market = np.unique(markets, return_inverse=True)
    n_markets = len(names)
    frames = []
    groupings = ((("all",), np.zeros(len(markets), dtype=np.int64)), (event_labels, event_codes))
    for labels, codes in groupings[0 if include_all else 1 :]:
        codes = np.asarray(codes, dtype=np.int64)
        n_groups = len(labels)
        rows = _KpRows()
        r_all, pairs_all = kp_mean_correlation(data, codes, n_groups)
        size = kn.group_count(np.ones(len(codes), dtype=bool), codes, n_groups)
        rows.add(np.arange(n_groups), 0, "all", "", r_all, pairs_all, size, data.blocks is None)
        cells = codes * n_markets + market
        cell_size = kn.group_count(np.ones(len(codes), dtype=bool), cells, n_groups * n_markets)
        cell_size = cell_size.reshape(n_groups, n_markets)
        mixed = (cell_size > 0).sum(axis=1) > 1
        split = np.where(mixed[codes], cells, -1)  # rows of single-market groups are in no cell
        r_cell, pairs_cell = kp_mean_correlation(data, split, n_groups * n_markets)
        shown = np.flatnonzero(((cell_size > 0) & mixed[:, None]).ravel())
        scope = names.astype(object)[shown % n_markets]
        rows.add(
            shown // n_markets,
            1 + shown % n_markets,
            scope,
            "",
            r_cell[shown],
            pairs_cell[shown],
            cell_size.ravel()[shown],
            False,
        )
        if data.blocks is not None:
            blocks, n_blocks = _block_cells(data, codes, n_groups)
            r_block, pairs_block = kp_mean_correlation(data, blocks, n_groups * n_blocks)
            block_size = kn.group_count(np.ones(len(codes), dtype=bool), blocks, n_groups * n_blocks)
            used = np.flatnonzero(block_size > 0)
            label = np.asarray(data.block_labels, dtype=object)[used % n_blocks]
            rank = 1 + n_markets + used % n_blocks
            rows.add(used // n_blocks, rank, "all", label, r_block[used], pairs_block[used], block_size[used], False)
            r_blocked, pairs_blocked = kp_blocked_correlation(data, codes, n_groups)
            rank_blocked = 1 + n_markets + n_blocks
            rows.add(np.arange(n_groups), rank_blocked, "all", BLOCKED_ROW, r_blocked, pairs_blocked, size, True)
        frames.append(rows.frame(labels))
    return pd.concat(frames, ignore_index=True)[list(KP_CORRELATION_COLUMNS)]


class _KpRows:
    """Rows of :func:`kp_correlation_table` collected as arrays, sorted by group and rank within the group."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        group: IntArray,
        rank: int | IntArray,
        scope: object,
        block: object,
        r_bar: FloatArray,
        n_pairs: IntArray,
        size: IntArray,
        in_tests: bool,
    ) -> None:
        n = len(group)
        self.parts.append(
            {
                "group": np.asarray(group, dtype=np.int64),
                "rank": np.broadcast_to(np.asarray(rank, dtype=np.int64), (n,)),
                "market_scope": np.broadcast_to(np.asarray(scope, dtype=object), (n,)),
                "block": np.broadcast_to(np.asarray(block, dtype=object), (n,)),
                "r_bar": np.where(np.asarray(n_pairs) > 0, r_bar, np.nan),
                "n_pairs": np.asarray(n_pairs, dtype=np.int64),
                "n_firm_events": np.asarray(size, dtype=np.int64),
                "in_tests": np.full(n, in_tests),
            }
        )

    def frame(self, labels: tuple[str, ...]) -> pd.DataFrame:
        joined = {name: np.concatenate([part[name] for part in self.parts]) for name in self.parts[0]}
        order = np.lexsort((joined.pop("rank"), joined["group"]))
        columns = {name: values[order] for name, values in joined.items()}
        columns["group"] = np.asarray(labels, dtype=object)[columns["group"]]
        return pd.DataFrame(columns)


def _kp_adjust(base: StatBlock, data: InferenceData, groups: IntArray, n_groups: int) -> StatBlock:
    """Multiply a Patell or BMP block by ADJ = sqrt((1 - r̄) / (1 + (N - 1) r̄)), N the events per cell."""
    r_bar, pairs = kp_test_correlation(data, groups, n_groups)
    r = r_bar[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        adj = np.sqrt((1.0 - r) / (1.0 + (base.n - 1.0) * r))
    defined = np.isfinite(base.statistic)
    bad = defined & ~np.isfinite(adj)
    statistic = np.where(bad, np.nan, base.statistic * np.where(np.isfinite(adj), adj, 0.0))
    statistic = np.where(defined, statistic, np.nan)
    why = np.where(
        base.reason != "",
        base.reason,
        reasons(
            (bad, "Kolari-Pynnönen adjustment undefined: 1 + (N - 1) r̄ <= 0"),
            (
                np.broadcast_to((pairs == 0)[:, None], statistic.shape),
                f"no pair of events with at least {data.conventions.kp_min_overlap} common estimation dates: "
                "r̄ = 0 (no adjustment)",
            ),
        ),
    )
    df = np.where(np.isfinite(statistic), base.df, np.nan)
    p = two_sided_t(statistic, df) if base.family == "t" else two_sided_normal(statistic)
    return StatBlock(statistic, p, base.n, df, why, base.family)


@register
class KpPatellZ(StatTest):
    """Kolari-Pynnönen (2010) cross-correlation adjusted Patell Z.

    Notes
    -----
    Z_KP = Z_Patell sqrt((1 - r̄) / (1 + (N - 1) r̄)), N the events in the cell, r̄ the average
    pairwise correlation of the calendar-date-aligned standardized estimation residuals of the group
    (:func:`kp_mean_correlation`; pairs with fewer than ``kp_min_overlap`` common dates left out, the
    diagonal excluded), or, when the study names blocks (``kp_blocks``), the block-wise r̄ with the
    cross-block correlations set to 0 (:func:`kp_blocked_correlation`, :func:`kp_test_correlation`).
    Z_Patell follows every Patell knob. If no pair qualifies, r̄ = 0 (no adjustment) and the reason
    column says so while the statistic is still reported. Reference N(0,1)
    (``docs/methods.md`` §6.2, P10). r̄ measures something only when events share calendar dates.

    References
    ----------
    Kolari, J. W. and S. Pynnönen (2010), "Event study testing with cross-sectional correlation of
    abnormal returns", Review of Financial Studies 23(11), 3996-4025.
    """

    name = "kp_patell_z"
    needs_estimation = True
    uses_cross_correlation = True
    label = "KP-adjusted Patell Z"
    reference = "Kolari and Pynnönen (2010), RFS 23(11)"

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        return _kp_adjust(PatellZ().compute(data, scope, groups, n_groups), data, groups, n_groups)


@register
class KpBmpT(StatTest):
    """Kolari-Pynnönen (2010) cross-correlation adjusted BMP t.

    Notes
    -----
    t_KP = t_BMP sqrt((1 - r̄) / (1 + (N - 1) r̄)), with r̄ and N as for :class:`KpPatellZ`; reference as
    for BMP (t(N - 1), or N(0,1) with ``bmp_reference = "normal"``), ``docs/methods.md`` §6.2, P10.

    References
    ----------
    Kolari, J. W. and S. Pynnönen (2010), "Event study testing with cross-sectional correlation of
    abnormal returns", Review of Financial Studies 23(11), 3996-4025.
    """

    name = "kp_bmp_t"
    needs_estimation = True
    uses_cross_correlation = True
    label = "KP-adjusted BMP t"
    reference = "Kolari and Pynnönen (2010), RFS 23(11)"

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        return _kp_adjust(BmpT().compute(data, scope, groups, n_groups), data, groups, n_groups)


# --------------------------------------------------------------------------------------------------
# Two-way cluster-robust t of standardized abnormal returns (Dutta, Knif, Kolari and Pynnönen 2018)
# --------------------------------------------------------------------------------------------------


def firm_codes(data: InferenceData) -> IntArray:
    """Code of each firm-event's ticker: the part of its key (:attr:`InferenceData.keys`) after the separator."""
    keys = np.asarray(data.keys).astype(str)
    tickers = np.char.partition(keys, KEY_SEPARATOR)[:, 2] if len(keys) else keys
    return np.asarray(pd.factorize(tickers)[0], dtype=np.int64)


def _cluster_square_sums(
    resid: FloatArray, cell: IntArray, clusters: tuple[IntArray, ...], n_cells: int
) -> tuple[FloatArray, IntArray]:
    """Per cell, G/(G - 1) Σ_c (Σ_{i∈c} e_i)^2 over its clusters c (the values of ``clusters`` jointly), and G.

    ``resid``, ``cell`` and every array of ``clusters`` hold one entry per observation; NaN where G < 2.
    """
    columns = (np.asarray(cell, dtype=np.int64), *(np.asarray(c, dtype=np.int64) for c in clusters))
    order = np.lexsort(columns[::-1])  # by cell, then by the clusters' values
    starts = np.zeros(len(order), dtype=bool)
    starts[:1] = True
    for column in columns:
        ordered = column[order]
        starts[1:] |= ordered[1:] != ordered[:-1]
    cluster_of = np.cumsum(starts) - 1  # of each observation in sorted order
    sums = np.bincount(cluster_of, weights=np.asarray(resid)[order])
    owner = columns[0][order][starts]
    square = np.bincount(owner, weights=sums * sums, minlength=n_cells)
    count = np.bincount(owner, minlength=n_cells).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= 2, square * count / (count - 1.0), np.nan), count


def twoway_cluster_t(
    values: FloatArray, dates: np.ndarray, firms: IntArray, groups: IntArray, n_groups: int
) -> StatBlock:
    """Mean of ``values`` per group and column over its two-way (date, firm) cluster-robust standard error.

    Parameters
    ----------
    values : (N, D)
        Standardized abnormal returns (SAR, or SCAR per CAR window); NaN where missing.
    dates : (N, D) datetime64[D]
        Calendar date of each value (its first clustering); NaT leaves the value out.
    firms : (N,)
        Firm code of each row (the second clustering).
    groups : (N,)
        Group code per row; codes outside 0..n_groups-1 are in no group.
    n_groups
        Number of groups.

    Returns
    -------
    StatBlock
        t = ȳ / sqrt(V) per group and column, V = V_date + V_firm - V_date∩firm (Cameron, Gelbach and
        Miller 2011, eq. 2.11 for the constant-only regression y_i = β + e_i), each term the CRV1 variance
        of the mean, V_A = G_A/(G_A - 1) Σ_{c∈A} (Σ_{i∈c} e_i)^2 / n^2 with e_i = y_i - ȳ (the factor
        (n - 1)/(n - k) is 1 for k = 1), G_A the clusters of A in the cell and the intersection clusters
        the (date, firm) pairs. Reference t(G - 1), G = min(G_date, G_firm); undefined (NaN with a reason)
        where G < 2 or V <= 0.
    """
    width = values.shape[1]
    codes = np.asarray(groups, dtype=np.int64)
    day = np.asarray(dates).astype("datetime64[D]")
    in_group = (codes >= 0) & (codes < n_groups)
    present = np.isfinite(values) & ~np.isnat(day) & in_group[:, None]
    row, col = np.nonzero(present)
    y = values[row, col]
    cell = codes[row] * width + col
    n_cells = n_groups * width
    n = np.bincount(cell, minlength=n_cells).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(cell, weights=y, minlength=n_cells) / n
    resid = y - mean[cell]
    date, firm = day[row, col].view(np.int64), np.asarray(firms, dtype=np.int64)[row]
    v_date, g_date = _cluster_square_sums(resid, cell, (date,), n_cells)
    v_firm, g_firm = _cluster_square_sums(resid, cell, (firm,), n_cells)
    v_both, _ = _cluster_square_sums(resid, cell, (date, firm), n_cells)
    v_both = np.where(np.isfinite(v_both), v_both, 0.0)  # one (date, firm) cluster: its sum of e is 0
    g = np.minimum(g_date, g_firm)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (v_date + v_firm - v_both) / (n.astype(np.float64) ** 2)
        statistic = mean / np.sqrt(variance)
    few = (n > 0) & (g < 2)
    flat = (n > 0) & ~few & ~(variance > 0)
    why = reasons(
        (n == 0, "no event has a value"),
        (few & (g_date < 2), "fewer than 2 calendar dates (clusters) among the events"),
        (few, "fewer than 2 firms (clusters) among the events"),
        (flat, "two-way clustered variance V_date + V_firm - V_date&firm is not positive"),
    )
    undefined = (n == 0) | few | flat
    statistic = np.where(undefined, np.nan, statistic)
    df = np.where(undefined, np.nan, g - 1.0)
    shape = (n_groups, width)
    statistic, df = statistic.reshape(shape), df.reshape(shape)
    return StatBlock(statistic, two_sided_t(statistic, df), n.reshape(shape), df, why.reshape(shape), "t")


@register
class TwoWayClusteredT(StatTest):
    """Two-way (calendar date, firm) cluster-robust t of standardized abnormal returns (catalogue P14).

    Notes
    -----
    Day τ: y_i = SAR_iτ, clustered by the firm-event's exchange-local date of day τ and by its ticker.
    CAR window w: y_i = SCAR_i(w) (exact CAR variance, ``docs/methods.md`` §5.3), clustered by the
    exchange-local date of day 0 (the day closest to 0 when the event window lacks it) and by ticker.
    t = ȳ / sqrt(V_date + V_firm - V_date∩firm) (:func:`twoway_cluster_t`), each term a CRV1 variance of
    the mean with the small-sample factor G/(G - 1) of its own clusters; reference t(G - 1) with
    G = min(G_date, G_firm), as Cameron, Gelbach and Miller (2011) recommend (statsmodels' two-way
    ``cov_type="cluster"`` gives the same variance). NaN with a reason where G < 2 (e.g. an event whose
    firm-events share one day 0) or V <= 0.

    Source of the form: the paper's text was not available to us. Dutta, Knif, Kolari and Pynnönen (2018)
    propose a standardized test whose standard errors are cluster-robust in the manner of Cameron, Gelbach
    and Miller (2011) (their abstract, and the R package crseEventStudy of Köstlmeier and Pynnönen: a
    constant-only regression of standardized abnormal returns with one- or two-way clustered variance).
    This test is that construction derived from CGM and applied to this project's standardized ARs and
    CARs of short-window event studies; the paper's long-horizon standardization (returns over a
    volatility estimate, minus a control firm's) is not reproduced. The R package refers two-way t to
    t(min G) and we to t(min G - 1), the more conservative of the two. Robust to cross-correlation of
    events on one date and to correlation of a firm's events, not to correlation across dates (e.g.
    HK and US day 0s of one event on two dates are two clusters).

    References
    ----------
    Dutta, A., J. Knif, J. W. Kolari and S. Pynnönen (2018), "A robust and powerful test of abnormal
    stock returns in long-horizon event studies", Journal of Empirical Finance 47, 1-24.
    Cameron, A. C., J. B. Gelbach and D. L. Miller (2011), "Robust inference with multiway clustering",
    Journal of Business & Economic Statistics 29(2), 238-249.
    """

    name = "twoway_cluster_t"
    needs_estimation = False
    label = "two-way clustered t (date, firm)"
    reference = "Dutta, Knif, Kolari and Pynnönen (2018), JEF 47; Cameron, Gelbach and Miller (2011), JBES 29(2)"

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        firms = firm_codes(data)
        if scope == "day":
            return twoway_cluster_t(data.sar, data.evt_dates, firms, groups, n_groups)
        day_zero = data.evt_dates[:, int(np.argmin(np.abs(data.rel_days)))]
        dates = np.broadcast_to(day_zero[:, None], data.scar.shape)
        return twoway_cluster_t(data.scar, dates, firms, groups, n_groups)


__all__ = [
    "BLOCKED_ROW",
    "KP_CORRELATION_COLUMNS",
    "BrownWarner1985",
    "KpBmpT",
    "KpPatellZ",
    "Lamb",
    "TwoWayClusteredT",
    "cda_kernel",
    "cda_scale",
    "cda_sums",
    "cda_values",
    "firm_codes",
    "kp_blocked_correlation",
    "kp_correlation_table",
    "kp_mean_correlation",
    "kp_pair_sums",
    "kp_test_correlation",
    "lamb_kernel",
    "lamb_sums",
    "twoway_cluster_t",
]
