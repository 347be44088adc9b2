"""Calendar-time portfolio test (Jaffe 1974; Mandelker 1974), ``docs/methods.md`` §6.2, P13.

For each CAR window w and each group of firm-events, the portfolio on calendar date d holds, with equal
weights, the firm-events whose window w contains d (the exchange-local dates of the window's event-time
rows). Its return is regressed on the benchmark return over the dates with at least one holding, and the
intercept is tested with Newey-West (HAC) standard errors. Every group's portfolio, regression and HAC
covariance are computed at once with segment sums over the (group, date) cells, one pass per Newey-West
lag; there is no loop over groups or events. The regression needs
:data:`~eventstudy.conventions.CALENDAR_TIME_MIN_DATES` calendar dates.
"""

from __future__ import annotations

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._typing import FloatArray, IntArray
from eventstudy.conventions import CALENDAR_TIME_MIN_DATES
from eventstudy.inference.base import InferenceData, Scope, StatBlock, StatTest, reasons, register, two_sided_t

Q = 2  # coefficients of the portfolio regression: intercept and benchmark slope


def newey_west_lags(n_dates: int | IntArray) -> IntArray:
    """Bartlett-kernel lag truncation ⌊4 (T/100)^(2/9)⌋ of Newey and West (1994), for one T or an array of T."""
    return np.floor(4.0 * (np.asarray(n_dates) / 100.0) ** (2.0 / 9.0)).astype(np.int64)


def intercept_tests(y: FloatArray, x: FloatArray, cell_group: IntArray, n_groups: int) -> tuple[FloatArray, ...]:
    """HAC t statistics of the intercepts of y = a + b x + u, one regression per group, all at once.

    Parameters
    ----------
    y, x : (T_total,)
        Observations of every group, each group's in time order (consecutive, equally spaced periods).
    cell_group : (T_total,)
        Group of each observation, non-decreasing.
    n_groups
        Number of groups.

    Returns
    -------
    statistic, n_dates, x_spread, se : (n_groups,)
        a / se(a) (NaN where undefined), the number of observations T, max x - min x and se(a).

    Notes
    -----
    OLS by the centred formulas b = Σ (x - x̄)(y - ȳ) / Σ (x - x̄)^2, a = ȳ - b x̄. The covariance is the
    Newey-West sandwich (X'X)^-1 S (X'X)^-1 with S = Σ_t h_t h_t' + Σ_{l=1}^{L} (1 - l/(L+1))
    Σ_t (h_t h_{t-l}' + h_{t-l} h_t'), h_t = x_t u_t (x_t = (1, x_t)), the lags L of
    :func:`newey_west_lags` per group and no small-sample correction: statsmodels' ``OLS.fit(cov_type="HAC",
    cov_kwds={"maxlags": L})`` (``cov_hac_simple`` with ``use_correction=False``).
    """
    count = np.bincount(cell_group, minlength=n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_bar = np.bincount(cell_group, weights=x, minlength=n_groups) / count
        y_bar = np.bincount(cell_group, weights=y, minlength=n_groups) / count
        dx, dy = x - x_bar[cell_group], y - y_bar[cell_group]
        sxx = np.bincount(cell_group, weights=dx * dx, minlength=n_groups)
        slope = np.bincount(cell_group, weights=dx * dy, minlength=n_groups) / sxx
        alpha = y_bar - slope * x_bar
        u = y - alpha[cell_group] - slope[cell_group] * x
        h = np.stack([u, x * u], axis=1)  # (T_total, 2)
        lags = newey_west_lags(count.astype(np.int64))
        meat = np.zeros((n_groups, 2, 2))
        for i in range(2):
            for j in range(2):
                meat[:, i, j] = np.bincount(cell_group, weights=h[:, i] * h[:, j], minlength=n_groups)
        for lag in range(1, int(lags.max(initial=0)) + 1):
            same = cell_group[lag:] == cell_group[:-lag]
            g = cell_group[lag:][same]
            weight = 1.0 - lag / (lags[g] + 1.0)
            usable = lag <= lags[g]
            for i in range(2):
                for j in range(2):
                    gamma = h[lag:, i][same] * h[:-lag, j][same] + h[:-lag, i][same] * h[lag:, j][same]
                    meat[:, i, j] += np.bincount(g, weights=np.where(usable, weight * gamma, 0.0), minlength=n_groups)
        sum_x = np.bincount(cell_group, weights=x, minlength=n_groups)
        sum_x2 = np.bincount(cell_group, weights=x * x, minlength=n_groups)
        det = count * sum_x2 - sum_x * sum_x
        bread_first = np.stack([sum_x2, -sum_x], axis=1) / det[:, None]  # first row of (X'X)^-1
        var_a = np.einsum("gi,gij,gj->g", bread_first, meat, bread_first)
        se = np.sqrt(var_a)
        statistic = alpha / se
    high = kn.group_max(x, cell_group, n_groups, np.nan)
    low = -kn.group_max(-x, cell_group, n_groups, np.nan)
    return statistic, count, high - low, se


@register
class CalendarTimePortfolio(StatTest):
    """Calendar-time portfolio intercept test with Newey-West standard errors.

    Notes
    -----
    For window w = [τ1, τ2] the portfolio on exchange-local date d holds, with equal weights, the
    firm-events of the group whose rows τ1..τ2 fall on d and have a return. Its return R_p,d and the mean
    benchmark return of its holdings R_m,d (the common benchmark when the holdings share one) enter
    R_p,d = a + b R_m,d + u_d over the T dates with at least one holding (market model, q = 2). Raw
    returns are used: the inputs carry no risk-free rate. H0: a = 0, tested with the Newey-West
    covariance of statsmodels' ``cov_type="HAC"`` (Bartlett kernel, no small-sample correction),
    ``maxlags`` ⌊4 (T/100)^(2/9)⌋, reference t(T - q) (``docs/methods.md`` §6.2, P13;
    :func:`intercept_tests`).

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
    needs_estimation = True
    label = "Calendar-time portfolio t"
    reference = "Jaffe (1974); Mandelker (1974)"
    scopes = ("window",)

    def compute(self, data: InferenceData, scope: Scope, groups: IntArray, n_groups: int) -> StatBlock:
        n_win = len(data.car_windows)
        stat = np.full((n_groups, n_win), np.nan)
        df = np.full((n_groups, n_win), np.nan)
        n = np.zeros((n_groups, n_win), dtype=np.int64)
        why = np.full((n_groups, n_win), "", dtype=object)
        names, market = np.unique(np.asarray(data.markets).astype(str), return_inverse=True)
        market = market.ravel()
        codes = np.asarray(groups, dtype=np.int64)
        member = (codes >= 0) & (codes < n_groups)
        dates = np.asarray(data.evt_dates).astype("datetime64[D]")
        for c, window in enumerate(data.car_windows):
            cols = data.car_columns(window)
            held = np.isfinite(data.evt_returns[:, cols]) & ~np.isnat(dates[:, cols])
            has = member & held.any(axis=1)
            cell = np.where(has, codes * len(names) + market, 0)
            counts = np.bincount(cell[has], minlength=n_groups * len(names)).reshape(n_groups, len(names))
            chosen = counts.argmax(axis=1)  # the market with the most firm-events, the first name on a tie
            n[:, c] = counts.max(axis=1, initial=0)
            own = np.where(member, codes, 0)  # a valid index for every row (rows of no group are never held)
            held_by = np.where(has & (market == chosen[own]), codes, -1)
            clustered = _one_date_per_day(dates[:, cols], held_by, n_groups) & (n[:, c] > 0)
            single = _single_portfolio(data, np.where(clustered[own], held_by, -1), n_groups, c)
            regression = _regression(data, cols, held, np.where(clustered[own], -1, held_by), n_groups)
            stat[:, c] = np.where(clustered, single[0], regression[0])
            df[:, c] = np.where(clustered, single[1], regression[1])
            variant = "fully clustered: single-portfolio variant (P2 on the equally weighted portfolio)"
            first = np.where(clustered, np.where(single[2] != "", single[2], variant), regression[2])
            mixed = (counts > 0).sum(axis=1) > 1
            note = np.char.add(
                np.char.add(np.char.add("mixes markets: portfolio formed on ", names[chosen]), " only ("),
                np.char.add(np.char.add(n[:, c].astype(str), " of "), counts.sum(axis=1).astype(str)),
            )
            note = np.where(mixed, np.char.add(note, " firm-events)"), "").astype(object)
            joined = np.where(note == "", first, np.where(first == "", note, first + "; " + note))
            why[:, c] = np.where(n[:, c] == 0, "no firm-event has a return in the window", joined)
            stat[n[:, c] == 0, c] = np.nan
            df[n[:, c] == 0, c] = np.nan
        return StatBlock(stat, two_sided_t(stat, df), n, df, why, "t")


def _one_date_per_day(window_dates: np.ndarray, held_by: IntArray, n_groups: int) -> np.ndarray:
    """Per group: every window row (event-time day) of its firm-events falls on one calendar date."""
    nat = np.isnat(window_dates)
    days = window_dates.view(np.int64)
    lowest, highest = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    high = kn.group_max(np.where(nat, lowest, days), held_by, n_groups, lowest)
    low = -kn.group_max(-np.where(nat, highest, days), held_by, n_groups, -highest)
    return np.asarray(((high == lowest) | (high == low)).all(axis=1))


def _single_portfolio(
    data: InferenceData, held_by: IntArray, n_groups: int, c: int
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """P2 on the equally weighted portfolio of each fully clustered group, when its events share one design.

    When every firm-event of the group has residuals on the same estimation dates with the same regressor
    rows, OLS is linear in the returns, so the portfolio's residuals are the mean residuals, its ARs the
    mean ARs, and its (X'X)^-1 and design rows those of any member: SCAR_p = mean_i CAR_i / σ̂_p(w) with
    s_p^2 = Σ_t ē_t^2 / (M - ddof) and the conventions' CAR variance, reference t(M - k). The first
    firm-event (lowest row) of each group stands for the shared design. Returns statistic, df and reason.
    """
    conv = data.conventions
    cols = data.car_columns(data.car_windows[c])
    rows = np.flatnonzero((held_by >= 0) & (held_by < n_groups))
    undefined = np.full(n_groups, np.nan)
    if not len(rows):
        return undefined, undefined, np.full(n_groups, "", dtype=object)
    order, bounds = kn.group_rows(held_by, n_groups)
    size = np.diff(bounds)
    lead = order[np.minimum(bounds[:-1], len(order) - 1)]  # each group's first firm-event (any row if none)
    first = lead[held_by[rows]]
    other = first != rows  # only firm-events besides their group's first are compared with it
    mine, theirs = rows[other], first[other]
    used_mine, used_theirs = np.isfinite(data.est_resid[mine]), np.isfinite(data.est_resid[theirs])
    same = (used_mine == used_theirs).all(axis=1)
    same &= ((data.est_dates[mine] == data.est_dates[theirs]) | ~used_theirs).all(axis=1)
    same &= ((data.est_market[mine] == data.est_market[theirs]) | ~used_theirs).all(axis=1)
    design = data.event_design[:, cols]
    same &= (design[mine] == design[theirs]).all(axis=(1, 2))
    car = data.car[:, c]
    differs = kn.group_count(~same, held_by[mine], n_groups) > 0
    no_car = kn.group_count(~np.isfinite(car[rows]), held_by[rows], n_groups) > 0
    m = np.isfinite(data.est_resid[lead]).sum(axis=1)
    ddof = conv.ddof(data.k)
    short = (m - data.k < 1) | (m - ddof < 1)
    resid = data.est_resid[rows]
    resid_total = kn.group_sum(np.where(np.isfinite(resid), resid, 0.0), held_by[rows], n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_resid = resid_total / size[:, None]
        s2 = np.einsum("gl,gl->g", mean_resid, mean_resid) / (m - ddof)
        x_window = design[lead]
        xtx_inv = data.xtx_inv[lead]
        lev = kn.leverage(x_window, xtx_inv) if conv.fec else np.zeros((n_groups, len(cols)))
        var = kn.car_variance(s2, x_window, xtx_inv, lev, conv.car_variance if conv.fec else "L_s2")
        statistic = (kn.group_sum(car[rows], held_by[rows], n_groups) / size) / np.sqrt(var)
    why = reasons(
        (
            differs,
            "fully clustered on one date, but the single-portfolio variant needs every event to have residuals on "
            "the same estimation dates with the same regressors",
        ),
        (no_car, "fully clustered on one date, but some events have no CAR in the window"),
        (short, "too few estimation days for the portfolio's residual variance"),
        (~(var > 0), "zero residual variance of the portfolio"),
    )
    ok = (size > 0) & (why == "")
    return np.where(ok, statistic, undefined), np.where(ok, m - float(data.k), undefined), why


def _regression(
    data: InferenceData, cols: IntArray, held: np.ndarray, held_by: IntArray, n_groups: int
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Equal-weight portfolio and benchmark returns per (group, date), then every group's HAC intercept test.

    Returns statistic, df (T - q) and reason per group (reasons for groups without rows are irrelevant).
    """
    rows, k = np.nonzero(held & (held_by >= 0)[:, None])
    group = held_by[rows]
    day = np.asarray(data.evt_dates).astype("datetime64[D]").view(np.int64)[rows, cols[k]]
    ret = data.evt_returns[rows, cols[k]]
    mkt = data.evt_market[rows, cols[k]]
    if len(day):
        key = group * (int(day.max()) - int(day.min()) + 1) + (day - int(day.min()))
        cells, cell = np.unique(key, return_inverse=True)  # (group, date) cells in group, then date order
        cell = cell.ravel()
    else:
        cells, cell = np.zeros(0, np.int64), np.zeros(0, np.int64)
    cell_group = np.zeros(len(cells), dtype=np.int64)
    cell_group[cell] = group
    with np.errstate(invalid="ignore", divide="ignore"):
        r_p = np.bincount(cell, weights=ret, minlength=len(cells)) / np.bincount(cell, minlength=len(cells))
        present = np.isfinite(mkt)
        r_m = np.bincount(cell, weights=np.where(present, mkt, 0.0), minlength=len(cells)) / np.bincount(
            cell, weights=present, minlength=len(cells)
        )
    keep = np.isfinite(r_m)
    statistic, count, spread, se = intercept_tests(r_p[keep], r_m[keep], cell_group[keep], n_groups)
    short = count < CALENDAR_TIME_MIN_DATES
    few = np.char.add(
        np.char.add("only ", count.astype(np.int64).astype(str)),
        f" calendar dates with holdings: the Newey-West t needs at least {CALENDAR_TIME_MIN_DATES}",
    ).astype(object)
    why = np.where(
        short,
        few,
        reasons(
            (~(spread > 0), "benchmark return is constant across the portfolio dates"),
            (~(se > 0), "zero residual variance of the portfolio regression"),
        ),
    )
    ok = why == ""
    return np.where(ok, statistic, np.nan), np.where(ok, count - Q, np.nan), why


__all__ = ["CalendarTimePortfolio", "intercept_tests", "newey_west_lags"]
