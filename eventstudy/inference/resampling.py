"""Resampling tests: event bootstrap of the CAAR and wild bootstrap of BMP (``docs/methods.md`` §6.4).

All B resamples of a group are drawn at once as a (B x N_g) matrix (resampling counts or Rademacher
weights) and applied to the group's (N_g x D) values with one matrix product, in chunks of bounded
size. Each group gets its own numpy ``Generator`` from
:func:`~eventstudy.inference.base.group_generator`: ``conventions.seed`` mixed with the test name and
the group's identity (the sorted firm-event keys of its rows, :attr:`InferenceData.keys`), and the
draws are applied to the group's rows in key order. So a run is reproducible; a group's draws depend
neither on the other groups nor on the row order nor on the values (p-values are invariant to reordering
the rows and to a positive rescaling of the returns); and the day and window scopes of one group share
the same resamples (one resample = one set of events, or one set of signs, for the whole AR path).

The empirical two-sided p-value is p = (1 + #{b : |T*_b| >= |T|}) / (B' + 1), B' the number of
resamples on which T* is defined (B unless a resample has no event with a value in the cell). The
``distribution`` column reads ``empirical (B=...)`` with that B'.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._typing import FloatArray, IntArray
from eventstudy.inference.base import (
    InferenceData,
    Scope,
    StatBlock,
    StatTest,
    group_generator,
    reasons,
    register,
)

_CHUNK_ELEMENTS = 2_000_000  # bound on the B x N_g draws held at once
_RELATIVE_TIE = 1e-12  # |T*| counts as >= |T| within this relative tolerance (rounding of equal statistics)


def _chunks(total: int, n_events: int) -> list[int]:
    """Sizes of the B-chunks so that each (chunk x N_g) draw stays below the element bound."""
    step = max(1, _CHUNK_ELEMENTS // max(1, n_events))
    return [min(step, total - start) for start in range(0, total, step)]


def empirical_pvalue(exceed: FloatArray, valid: FloatArray) -> FloatArray:
    """(1 + exceedances) / (valid resamples + 1); NaN where no resample was valid."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid > 0, (1.0 + exceed) / (valid + 1.0), np.nan)


def exceedances(star: FloatArray, observed: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Count, per column, the resamples (rows) with |T*| >= |T| and those with a defined T*.

    |T*| >= |T| is taken within a relative tolerance of 1e-12, so that statistics equal up to rounding
    (the observed sample itself, a mirrored relabelling) count as exceedances.
    """
    finite = ~np.isnan(star)
    with np.errstate(invalid="ignore"):
        hit = finite & (np.abs(star) >= np.abs(observed) * (1.0 - _RELATIVE_TIE))
    return hit.sum(axis=0).astype(np.float64), finite.sum(axis=0).astype(np.float64)


def bootstrap_mean(
    parts: Sequence[FloatArray], rng: np.random.Generator, samples: int
) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
    """Event bootstrap of the cross-sectional mean of each array of ``parts`` (N_g, D), centred on the sample mean.

    Each resample draws N_g events with replacement (multinomial resampling counts, the same events for
    every column and every part: the parts are the day and window values of one group); the mean of each
    column runs over the drawn events that have a value.

    Returns
    -------
    list of (observed, exceed, valid), one per part, each (D,)
        The sample mean over the events present, #{b : |mean*_b - mean| >= |mean|} and the number of
        resamples with a defined mean.
    """
    n_events = parts[0].shape[0]
    present = [np.isfinite(values) for values in parts]
    filled = [np.where(ok, values, 0.0) for ok, values in zip(present, parts, strict=True)]
    weights = [ok.astype(np.float64) for ok in present]
    complete = [bool(ok.all()) for ok in present]
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = [f.sum(axis=0) / w.sum(axis=0) for f, w in zip(filled, weights, strict=True)]
    exceed = [np.zeros(values.shape[1]) for values in parts]
    valid = [np.zeros(values.shape[1]) for values in parts]
    probabilities = np.full(n_events, 1.0 / n_events)
    for size in _chunks(samples, n_events):
        counts = rng.multinomial(n_events, probabilities, size=size).astype(np.float64)
        for i in range(len(parts)):
            # every event present: each resample's count of drawn events is N_g exactly (sums of integers)
            drawn = float(n_events) if complete[i] else counts @ weights[i]
            with np.errstate(invalid="ignore", divide="ignore"):
                star = (counts @ filled[i]) / drawn - observed[i]
            hit, ok = exceedances(star, observed[i])
            exceed[i] += hit
            valid[i] += ok
    return list(zip(observed, exceed, valid, strict=True))


def wild_bootstrap_t(
    parts: Sequence[FloatArray], rng: np.random.Generator, samples: int
) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
    """Wild (Rademacher) bootstrap of the one-sample t statistic mean / (sd / sqrt(n)) of each column of each part.

    One weight v_i = ±1 per event multiplies the event's whole row, in every part (the day and window
    values of one group). Since v_i^2 = 1 the sum of squares is unchanged, so t* needs only Σ v_i x_i:
    t* = (S*/n) / sqrt((Q - S*^2/n) / ((n - 1) n)), Q = Σ x_i^2.

    Returns
    -------
    list of (observed, exceed, valid), one per part, each (D,)
        The t statistic on the original values (sd with divisor n - 1), #{b : |t*_b| >= |t|} and the
        number of resamples with a defined t*.
    """
    n_events = parts[0].shape[0]
    moments = []
    for values in parts:
        present = np.isfinite(values)
        filled = np.where(present, values, 0.0)
        n = present.sum(axis=0).astype(np.float64)
        total = filled.sum(axis=0)
        square = (filled * filled).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / n
            dev = np.where(present, values - mean, 0.0)
            observed = mean / np.sqrt((dev * dev).sum(axis=0) / (n - 1) / n)
        moments.append((filled, n, square, observed))
    exceed = [np.zeros(values.shape[1]) for values in parts]
    valid = [np.zeros(values.shape[1]) for values in parts]
    for size in _chunks(samples, n_events):
        signs = rng.integers(0, 2, size=(size, n_events)).astype(np.float64) * 2.0 - 1.0
        for i, (filled, n, square, observed) in enumerate(moments):
            s_star = signs @ filled
            with np.errstate(invalid="ignore", divide="ignore"):
                variance = np.maximum(square - s_star * s_star / n, 0.0) / (n - 1) / n
                star = (s_star / n) / np.sqrt(variance)
            hit, ok = exceedances(star, observed)
            exceed[i] += hit
            valid[i] += ok
    return [(m[3], e, v) for m, e, v in zip(moments, exceed, valid, strict=True)]


class _ResamplingTest(StatTest):
    """Shared loop over the groups that can have a defined cell: statistic, empirical p-value, B', reasons.

    Each such group draws from its own generator (module notes), so the loop visits only the groups with
    at least two values in some column (a group of one firm-event costs nothing); the counts, spreads and
    reasons of every group are array operations. Both scopes of a group use the same resamples, so they
    are computed together, from one set of draws, and kept for the second scope
    (:meth:`InferenceData.memoized`).
    """

    what_day: str
    what_window: str

    def values(self, data: InferenceData, scope: Scope) -> FloatArray:
        raise NotImplementedError

    def resample(
        self, parts: Sequence[FloatArray], rng: np.random.Generator, samples: int
    ) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
        raise NotImplementedError

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        codes = np.ascontiguousarray(groups, dtype=np.int64)
        conv = data.conventions
        key = (self.name, int(conv.seed), int(conv.bootstrap_samples), n_groups, codes.tobytes())
        return data.memoized(key, lambda: self._blocks(data, codes, n_groups))[scope]

    def _blocks(self, data: InferenceData, groups: IntArray, n_groups: int) -> dict[Scope, StatBlock]:
        scopes: tuple[Scope, ...] = ("day", "window")
        parts = [self.values(data, scope) for scope in scopes]
        samples = int(data.conventions.bootstrap_samples)
        moments = [kn.group_moments(values, groups, n_groups) for values in parts]
        found = [(np.full(m[0].shape, np.nan), np.zeros(m[0].shape), np.zeros(m[0].shape)) for m in moments]
        order, bounds = kn.group_rows(groups, n_groups, within=data.key_order)  # each group's rows in key order
        # only groups with 2 values in some column can have a defined cell: the others draw nothing
        drawing = np.zeros(n_groups, dtype=bool)
        for count, _, _ in moments:
            drawing |= count.max(axis=1, initial=0) >= 2
        for g in np.flatnonzero(drawing):
            rows = order[bounds[g] : bounds[g + 1]]
            rng = group_generator(data.conventions, self.name, data.keys[rows])
            for (statistic, exceed, valid), result in zip(
                found, self.resample([values[rows] for values in parts], rng, samples), strict=True
            ):
                statistic[g], exceed[g], valid[g] = result
        blocks = {}
        for scope, values, (count, _, ssd), (statistic, exceed, valid) in zip(
            scopes, parts, moments, found, strict=True
        ):
            largest = kn.group_max(np.abs(np.where(np.isfinite(values), values, 0.0)), groups, n_groups, 0.0)
            # a spread below rounding noise of the values is no spread (two-pass ssd of equal values may be ~1e-36)
            flat = ~(ssd > count * (_RELATIVE_TIE * largest) ** 2)
            what = self.what_day if scope == "day" else self.what_window
            why = reasons(
                (count == 0, f"no event has {what}"),
                (count < 2, f"needs at least 2 events with {what} to resample"),
                (flat, f"zero cross-sectional variance of {what}"),
                (valid == 0, "no resample has an event with a value"),
            )
            ok = why == ""
            p_value = np.where(ok, empirical_pvalue(exceed, valid), np.nan)
            blocks[scope] = StatBlock(
                np.where(ok, statistic, np.nan), p_value, count, np.where(ok, valid, np.nan), why, "empirical"
            )
        return blocks


@register
class BootstrapCaar(_ResamplingTest):
    """Event bootstrap of the AAR (day) and CAAR (window): resample events with replacement.

    Notes
    -----
    Statistic: AAR_t (day) or CAAR(w) = mean_i CAR_i(w) (window) over the events with a value. Each of
    the B resamples draws N_g events with replacement; T*_b = CAAR*_b - CAAR (the bootstrap
    distribution centred on the sample value, which imposes H0) and
    p = (1 + #{|T*_b| >= |CAAR|}) / (B + 1), two-sided (``docs/methods.md`` §6.4, B1). B and the seed
    come from ``conventions.bootstrap_samples`` and ``conventions.seed``; the draws from the group's
    identity (module notes), so the p-value is invariant to the row order and to a positive rescaling
    of the returns, and the statistic scales with them. Keeps each event's own distribution, not
    cross-event correlation.

    References
    ----------
    Efron, B. and R. J. Tibshirani (1993), *An Introduction to the Bootstrap*, Chapman & Hall.
    Lyon, J. D., B. M. Barber and C.-L. Tsai (1999), JF 54(1), 165-201.
    """

    name = "bootstrap_caar"
    needs_estimation = False
    label = "Event bootstrap CAAR"
    reference = "Efron and Tibshirani (1993); Lyon, Barber and Tsai (1999), JF 54(1)"
    what_day = "an AR"
    what_window = "a CAR"

    def values(self, data: InferenceData, scope: Scope) -> FloatArray:
        return data.ar if scope == "day" else data.car

    def resample(
        self, parts: Sequence[FloatArray], rng: np.random.Generator, samples: int
    ) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
        return bootstrap_mean(parts, rng, samples)


@register
class WildBootstrapBmp(_ResamplingTest):
    """Wild bootstrap of the BMP standardized cross-sectional t with Rademacher weights per event.

    Notes
    -----
    Statistic: BMP t = mean_i SAR_it / (sd_i SAR_it / sqrt(N)) (day) or the same on SCAR_i(w) (window),
    as :class:`eventstudy.inference.parametric.BmpT`. Each resample multiplies the whole AR path of
    event i by v_i = ±1 (probability 1/2 each), which multiplies its SARs and SCAR by v_i; t*_b is
    recomputed and p = (1 + #{|t*_b| >= |t|}) / (B + 1) (``docs/methods.md`` §6.4, B2). This imposes H0
    by symmetry and keeps each event's heteroskedasticity and serial dependence, not cross-event
    correlation. The signs are drawn from the group's identity (module notes), so statistic and p-value
    are invariant to the row order and to a positive rescaling of the returns.

    References
    ----------
    Boehmer, E., J. Musumeci and A. B. Poulsen (1991), JFE 30(2), 253-272.
    Mammen, E. (1993), "Bootstrap and wild bootstrap for high dimensional linear models", Annals of
    Statistics 21(1), 255-285.
    """

    name = "wild_bootstrap_bmp"
    needs_estimation = False
    label = "Wild bootstrap BMP t"
    reference = "Boehmer, Musumeci and Poulsen (1991), JFE 30(2); Mammen (1993), AoS 21(1)"
    what_day = "a standardized AR"
    what_window = "a standardized CAR"

    def values(self, data: InferenceData, scope: Scope) -> FloatArray:
        return data.sar if scope == "day" else data.scar

    def resample(
        self, parts: Sequence[FloatArray], rng: np.random.Generator, samples: int
    ) -> list[tuple[FloatArray, FloatArray, FloatArray]]:
        return wild_bootstrap_t(parts, rng, samples)


__all__ = [
    "BootstrapCaar",
    "WildBootstrapBmp",
    "bootstrap_mean",
    "empirical_pvalue",
    "exceedances",
    "wild_bootstrap_t",
]
