"""Calendar-time portfolio test (Jaffe 1974; Mandelker 1974), ``docs/methods.md`` §6.2, P13.

For each CAR window w and each group of firm-events, the portfolio on calendar date d holds, with equal
weights, the firm-events whose window w contains d (the exchange-local dates of the window's event-time
rows). Its return is regressed on the benchmark return over the dates with at least one holding, and the
intercept is tested with Newey-West (HAC) standard errors. One regression per group and window
(statsmodels OLS); the portfolio itself is built with array group sums, not per-event loops. The
regression needs :data:`~eventstudy.conventions.CALENDAR_TIME_MIN_DATES` calendar dates.
"""

from __future__ import annotations

import math

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._typing import FloatArray, IntArray
from eventstudy.conventions import CALENDAR_TIME_MIN_DATES
from eventstudy.inference.base import InferenceData, Scope, StatBlock, StatTest, register, two_sided_t

Q = 2  # coefficients of the portfolio regression: intercept and benchmark slope


def newey_west_lags(n_dates: int) -> int:
    """Bartlett-kernel lag truncation ⌊4 (T/100)^(2/9)⌋ of Newey and West (1994)."""
    return math.floor(4.0 * (n_dates / 100.0) ** (2.0 / 9.0))


def _intercept_test(y: FloatArray, x: FloatArray) -> tuple[float, float, str]:
    """HAC t statistic and df of the intercept of y = a + b x + u; NaN and a reason when undefined.

    Fewer than :data:`~eventstudy.conventions.CALENDAR_TIME_MIN_DATES` dates give NaN: the Newey-West
    standard error is a large-sample estimate.
    """
    from statsmodels.regression.linear_model import OLS

    n_dates = len(y)
    if n_dates < CALENDAR_TIME_MIN_DATES:
        return (
            np.nan,
            np.nan,
            f"only {n_dates} calendar dates with holdings: the Newey-West t needs at least {CALENDAR_TIME_MIN_DATES}",
        )
    if not np.ptp(x) > 0:
        return np.nan, np.nan, "benchmark return is constant across the portfolio dates"
    design = np.column_stack([np.ones(n_dates), x])
    fit = OLS(y, design).fit(cov_type="HAC", cov_kwds={"maxlags": newey_west_lags(n_dates)}, use_t=True)
    se = float(fit.bse[0])
    if not se > 0:
        return np.nan, np.nan, "zero residual variance of the portfolio regression"
    return float(fit.params[0]) / se, float(n_dates - Q), ""


def _single_portfolio(data: InferenceData, rows: IntArray, c: int) -> tuple[float, float, str]:
    """P2 on the equally weighted portfolio of a fully clustered cell, when the events share one design.

    When every firm-event of the cell has residuals on the same estimation dates with the same regressor
    rows, OLS is linear in the returns, so the portfolio's residuals are the mean residuals, its ARs the
    mean ARs, and its (X'X)^-1 and design rows those of any member: SCAR_p = mean_i CAR_i / σ̂_p(w) with
    s_p^2 = Σ_t ē_t^2 / (M - ddof) and the conventions' CAR variance, reference t(M - k).
    """
    conv = data.conventions
    cols = data.car_columns(data.car_windows[c])
    resid = data.est_resid[rows]
    used = np.isfinite(resid)
    same_rows = (used == used[0]).all() and (data.est_dates[rows][:, used[0]] == data.est_dates[rows[0], used[0]]).all()
    design = data.event_design[rows][:, cols]
    same_design = same_rows and bool(
        np.array_equal(
            data.est_market[rows][:, used[0]],
            np.broadcast_to(data.est_market[rows[0], used[0]], (len(rows), used[0].sum())),
        )
        and np.array_equal(design, np.broadcast_to(design[0], design.shape))
    )
    if not same_design:
        return (
            np.nan,
            np.nan,
            (
                "fully clustered on one date, but the single-portfolio variant needs every event to have residuals on "
                "the same estimation dates with the same regressors"
            ),
        )
    car = data.car[rows, c]
    if not np.isfinite(car).all():
        return np.nan, np.nan, "fully clustered on one date, but some events have no CAR in the window"
    m = int(used[0].sum())
    ddof = conv.ddof(data.k)
    if m - data.k < 1 or m - ddof < 1:
        return np.nan, np.nan, "too few estimation days for the portfolio's residual variance"
    mean_resid = resid[:, used[0]].mean(axis=0)
    s2 = np.array([mean_resid @ mean_resid / (m - ddof)])
    xtx_inv = data.xtx_inv[rows[:1]]
    x_window = design[:1]
    lev = kn.leverage(x_window, xtx_inv) if conv.fec else np.zeros((1, len(cols)))
    var = kn.car_variance(s2, x_window, xtx_inv, lev, conv.car_variance if conv.fec else "L_s2")[0]
    if not var > 0:
        return np.nan, np.nan, "zero residual variance of the portfolio"
    return float(car.mean() / np.sqrt(var)), float(m - data.k), ""


def _one_date_per_day(cell_dates: np.ndarray) -> bool:
    """Whether every window row (event-time day) falls on a single calendar date across the cell's events."""
    nat = np.isnat(cell_dates)
    days = cell_dates.view(np.int64)
    high = np.where(nat, np.iinfo(np.int64).min, days).max(axis=0)
    low = np.where(nat, np.iinfo(np.int64).max, days).min(axis=0)
    return bool((nat.all(axis=0) | (high == low)).all())


@register
class CalendarTimePortfolio(StatTest):
    """Calendar-time portfolio intercept test with Newey-West standard errors.

    Notes
    -----
    For window w = [τ1, τ2] the portfolio on exchange-local date d holds, with equal weights, the
    firm-events of the group whose rows τ1..τ2 fall on d and have a return. Its return R_p,d and the mean
    benchmark return of its holdings R_m,d (the common benchmark when the holdings share one) enter
    R_p,d = a + b R_m,d + u_d over the T dates with at least one holding (market model, q = 2). Raw
    returns are used: the inputs carry no risk-free rate. H0: a = 0, tested with statsmodels OLS
    ``cov_type="HAC"`` (Bartlett kernel, no small-sample correction), ``maxlags`` ⌊4 (T/100)^(2/9)⌋,
    reference t(T - q) (``docs/methods.md`` §6.2, P13).

    Minimum number of dates: Newey-West standard errors are consistent only as T grows, and with few
    dates the HAC variance is biased downward, so t(T - q) over-rejects. The regression t is reported
    only from :data:`~eventstudy.conventions.CALENDAR_TIME_MIN_DATES` = 30 dates with holdings; fewer
    give NaN with a reason. The threshold is the usual large-sample rule, not a value from the cited
    papers (the project's placebo simulation, ``docs/simulation.md``, still finds 6.9 % rejections at a
    nominal 5 % with about 50 dates).

    Markets: one calendar date is not one information set across exchanges (§4.8), so a portfolio holds
    one market only. When a group mixes markets, the portfolio is formed on the market with the most
    firm-events (ties: the first in sorted order) and the reason column says so while the statistic is
    reported; ``n`` counts the firm-events held.

    Fully clustered cells (every firm-event held has the same calendar dates in w, one event date): a
    regression over the window's own dates would fit the benchmark slope on the event days themselves,
    so the single-portfolio variant is used instead: the equally weighted portfolio's market model fitted
    over the estimation window and its standardized CAR (P2), t(M - k), with the reason column naming the
    variant. It is computed only when the events share estimation dates and regressors (then the
    portfolio's residuals are the mean residuals); otherwise NaN with a reason.

    References
    ----------
    Jaffe, J. F. (1974), "Special information and insider trading", Journal of Business 47(3), 410-428.
    Mandelker, G. (1974), "Risk and return: the case of merging firms", JFE 1(4), 303-335.
    Newey, W. K. and K. D. West (1994), "Automatic lag selection in covariance matrix estimation",
    Review of Economic Studies 61(4), 631-653.
    """

    name = "calendar_time_portfolio"
    label = "Calendar-time portfolio t"
    reference = "Jaffe (1974); Mandelker (1974)"
    scopes = ("window",)

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        n_win = len(data.car_windows)
        stat = np.full((n_groups, n_win), np.nan)
        df = np.full((n_groups, n_win), np.nan)
        n = np.zeros((n_groups, n_win), dtype=np.int64)
        why = np.full((n_groups, n_win), "", dtype=object)
        markets = np.asarray(data.markets).astype(str)
        dates = np.asarray(data.evt_dates).astype("datetime64[D]")
        order, bounds = kn.group_rows(groups, n_groups)
        for c, window in enumerate(data.car_windows):
            cols = data.car_columns(window)
            held = np.isfinite(data.evt_returns[:, cols]) & ~np.isnat(dates[:, cols])
            for g in range(n_groups):
                rows = order[bounds[g] : bounds[g + 1]]
                rows = rows[held[rows].any(axis=1)] if len(cols) else rows[:0]
                if not len(rows):
                    why[g, c] = "no firm-event has a return in the window"
                    continue
                names, counts = np.unique(markets[rows], return_counts=True)
                market = names[np.argmax(counts)]
                note = (
                    ""
                    if len(names) == 1
                    else (
                        f"mixes markets: portfolio formed on {market} only ({counts.max()} of {len(rows)} firm-events)"
                    )
                )
                rows = rows[markets[rows] == market]
                n[g, c] = len(rows)
                ok = held[rows]
                cell_dates = dates[rows][:, cols]
                if _one_date_per_day(cell_dates):
                    stat[g, c], df[g, c], fail = _single_portfolio(data, rows, c)
                    variant = "fully clustered: single-portfolio variant (P2 on the equally weighted portfolio)"
                else:
                    stat[g, c], df[g, c], fail = self._regression(data, rows, cols, ok, cell_dates)
                    variant = ""
                why[g, c] = "; ".join(t for t in (fail or variant, note) if t)
        return StatBlock(stat, two_sided_t(stat, df), n, df, why, "t")

    @staticmethod
    def _regression(
        data: InferenceData, rows: IntArray, cols: IntArray, ok: np.ndarray, cell_dates: np.ndarray
    ) -> tuple[float, float, str]:
        """Equal-weight portfolio and benchmark returns per date, then the HAC intercept test."""
        ret = data.evt_returns[rows][:, cols][ok]
        mkt = data.evt_market[rows][:, cols][ok]
        day, pos = np.unique(cell_dates[ok], return_inverse=True)
        pos = pos.ravel()
        with np.errstate(invalid="ignore", divide="ignore"):
            r_p = kn.group_total(ret, pos, len(day)) / kn.group_count(np.isfinite(ret), pos, len(day))
            r_m = kn.group_total(mkt, pos, len(day)) / kn.group_count(np.isfinite(mkt), pos, len(day))
        keep = np.isfinite(r_m)
        return _intercept_test(r_p[keep], r_m[keep])


__all__ = ["CalendarTimePortfolio", "newey_west_lags"]
