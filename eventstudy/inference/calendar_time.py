"""Calendar-time portfolio test (Jaffe 1974; Mandelker 1974), ``docs/methods.md`` §6.2, P13.

For each CAR window w and each group of firm-events, the portfolio on calendar date d holds, with equal
weights, the firm-events whose window w contains d (the exchange-local dates of the window's event-time
rows). Its return is regressed on the model's regressors over the dates with at least one holding (the
benchmark return for the market, constant-mean and market-adjusted models; the model's own design, e.g.
the factors on excess returns, otherwise), and the intercept is tested with Newey-West (HAC) standard
errors. Every group's portfolio, regression and HAC covariance are computed at once with segment sums over
the (group, date) cells, one pass per Newey-West lag; there is no loop over groups or events. The
regression needs :data:`~eventstudy.conventions.CALENDAR_TIME_MIN_DATES` calendar dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from eventstudy import _kernels as kn
from eventstudy._typing import FloatArray, IntArray
from eventstudy.conventions import CALENDAR_TIME_MIN_DATES
from eventstudy.inference.base import InferenceData, Scope, StatBlock, StatTest, reasons, register, two_sided_t

COLLINEAR_EIGENVALUE = 1e-10
"""X'X counts as singular when the smallest eigenvalue of the regressors' correlation matrix is below this."""

ROUNDING = 1e-12
"""Residuals with sqrt(Σ u²) below this share of sqrt(Σ y²) are a perfect fit (zero residual variance)."""

BENCHMARK = "the benchmark return"
"""Name of the single regressor of the market-design portfolio regression, in the reason texts."""


def newey_west_lags(n_dates: int | IntArray) -> IntArray:
    """Bartlett-kernel lag truncation ⌊4 (T/100)^(2/9)⌋ of Newey and West (1994), for one T or an array of T."""
    return np.floor(4.0 * (np.asarray(n_dates) / 100.0) ** (2.0 / 9.0)).astype(np.int64)


class InterceptTests(NamedTuple):
    """Per group: the HAC t of the intercept, the number of observations T, se(a) and why t is undefined."""

    statistic: FloatArray
    n_dates: FloatArray
    se: FloatArray
    why: np.ndarray


def intercept_tests(
    y: FloatArray, x: FloatArray, cell_group: IntArray, n_groups: int, names: Sequence[str] | None = None
) -> InterceptTests:
    """HAC t statistics of the intercepts of y = a + x'b + u, one regression per group, all at once.

    Parameters
    ----------
    y : (T_total,)
        Observations of every group, each group's in time order (consecutive, equally spaced periods).
    x : (T_total, p) or (T_total,)
        The p >= 0 regressors besides the intercept (a 1-d array is one regressor).
    cell_group : (T_total,)
        Group of each observation, non-decreasing.
    n_groups
        Number of groups.
    names
        The regressors' names for the reason texts (default ``regressor 1`` .. ``regressor p``).

    Returns
    -------
    InterceptTests
        a / se(a) (NaN where undefined), T, se(a) and the reason (empty where the t is defined), per group.

    Notes
    -----
    OLS by the centred formulas b = S_xx^-1 S_xy with S_xx = Σ (x_t - x̄)(x_t - x̄)', S_xy = Σ (x_t - x̄)(y_t - ȳ),
    a = ȳ - x̄'b (p = 0: a = ȳ). The covariance is the Newey-West sandwich (X'X)^-1 S (X'X)^-1 with
    S = Σ_t h_t h_t' + Σ_{l=1}^{L} (1 - l/(L+1)) Σ_t (h_t h_{t-l}' + h_{t-l} h_t'), h_t = (1, x_t')' u_t, the
    lags L of :func:`newey_west_lags` per group and no small-sample correction: statsmodels'
    ``OLS.fit(cov_type="HAC", cov_kwds={"maxlags": L})`` (``cov_hac_simple`` with ``use_correction=False``).
    Only the first row of (X'X)^-1 is needed, (1/T + x̄'S_xx^-1 x̄, -(S_xx^-1 x̄)') by the partitioned inverse.

    Undefined (NaN with a reason, first applicable): T < p + 2 (no residual degree of freedom), a regressor
    constant within the group, a singular X'X (smallest eigenvalue of the regressors' correlation matrix
    below :data:`COLLINEAR_EIGENVALUE`), and a perfect fit (sqrt(Σ u²) at most :data:`ROUNDING` sqrt(Σ y²):
    residuals of rounding size only) or a zero HAC variance of a.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    p = x.shape[1]
    labels = tuple(names) if names is not None else tuple(f"regressor {j + 1}" for j in range(p))
    count = np.bincount(cell_group, minlength=n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_bar = kn.group_sum(x, cell_group, n_groups) / count[:, None]
        y_bar = np.bincount(cell_group, weights=y, minlength=n_groups) / count
        dx, dy = x - x_bar[cell_group], y - y_bar[cell_group]
        sxx = kn.group_sum(dx[:, :, None] * dx[:, None, :], cell_group, n_groups)  # (G, p, p)
        sxy = kn.group_sum(dx * dy[:, None], cell_group, n_groups)  # (G, p)
        scale = np.sqrt(np.diagonal(sxx, axis1=1, axis2=2))  # (G, p)
        correlation = sxx / (scale[:, :, None] * scale[:, None, :])
    high = kn.group_max(x, cell_group, n_groups, np.nan)
    low = -kn.group_max(-x, cell_group, n_groups, np.nan)
    constant = ~(high - low > 0)  # (G, p); also every regressor of a group without rows
    invertible = ~constant.any(axis=1)
    smallest = np.linalg.eigvalsh(np.where(invertible[:, None, None], correlation, np.eye(p))).min(axis=1, initial=1.0)
    collinear = invertible & ~(smallest >= COLLINEAR_EIGENVALUE)
    invertible &= ~collinear
    sxx_inv = np.linalg.inv(np.where(invertible[:, None, None], sxx, np.eye(p)))
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.einsum("gij,gj->gi", sxx_inv, sxy)
        alpha = y_bar - np.einsum("gj,gj->g", x_bar, slope)
        u = y - alpha[cell_group] - np.einsum("tj,tj->t", x, slope[cell_group])
        h = np.column_stack([u, x * u[:, None]])  # (T_total, p + 1)
        meat = kn.group_sum(h[:, :, None] * h[:, None, :], cell_group, n_groups)
        lags = newey_west_lags(count.astype(np.int64))
        for lag in range(1, int(lags.max(initial=0)) + 1):
            same = cell_group[lag:] == cell_group[:-lag]
            g = cell_group[lag:][same]
            now, before = h[lag:][same], h[:-lag][same]
            gamma = now[:, :, None] * before[:, None, :]
            weight = np.where(lag <= lags[g], 1.0 - lag / (lags[g] + 1.0), 0.0)
            meat += kn.group_sum(gamma + gamma.transpose(0, 2, 1), g, n_groups, weights=weight)
        shift = np.einsum("gij,gj->gi", sxx_inv, x_bar)  # S_xx^-1 x̄
        bread_first = np.column_stack([1.0 / count + np.einsum("gj,gj->g", x_bar, shift), -shift])
        se = np.sqrt(np.einsum("gi,gij,gj->g", bread_first, meat, bread_first))
        statistic = alpha / se
    perfect = np.bincount(cell_group, weights=u * u, minlength=n_groups) <= ROUNDING**2 * np.bincount(
        cell_group, weights=y * y, minlength=n_groups
    )
    why = reasons(
        (count < p + 2, f"fewer than {p + 2} observations: no residual degree of freedom for {p + 1} coefficients"),
        *((constant[:, j], f"{name} is constant across the portfolio dates") for j, name in enumerate(labels)),
        (collinear, f"the regressors ({', '.join(labels)}) are collinear across the portfolio dates: X'X is singular"),
        (perfect | ~(se > 0), "zero residual variance of the portfolio regression"),
    )
    return InterceptTests(np.where(why == "", statistic, np.nan), count, se, why)


@register
class CalendarTimePortfolio(StatTest):
    """Calendar-time portfolio intercept test with Newey-West standard errors.

    Notes
    -----
    For window w = [τ1, τ2] the portfolio on exchange-local date d holds, with equal weights, the
    firm-events of the group whose rows τ1..τ2 fall on d and have a return (and, for a model with its own
    design, a target and every regressor). Its regression over the T dates with at least one holding is:

    - market design (market, constant-mean and market-adjusted models, ``InferenceData.market_design``):
      R_p,d = a + b R_m,d + u_d with R_p,d the mean raw return and R_m,d the mean benchmark return of the
      holdings that have one (the common benchmark when they share it), q = 2. Raw returns: the market
      model's inputs carry no risk-free rate.
    - any other design (factor models, Dimson leads and lags): ȳ_d = a + x̄_d'b + u_d with ȳ_d the mean of
      the model's event-window target ``evt_target`` (R - Rf for factor models, R when it has no offset) and
      x̄_d the mean of the holdings' design rows without the intercept (the last p =
      len(``design_regressors``) columns of ``event_design``), q = p + 1. The rows of one region's factors
      are the same for every holding on a date, so the mean is that common row; holdings of one exchange
      mapped to different factor regions (per-ticker overrides) enter with the mean of their rows. For a
      factor model a is the Jensen alpha of the calendar-time portfolio, as in Fama (1998).

    a is the calendar-time abnormal return per date; H0: a = 0, tested with the Newey-West covariance of
    statsmodels' ``cov_type="HAC"`` (Bartlett kernel, no small-sample correction), ``maxlags``
    ⌊4 (T/100)^(2/9)⌋, reference t(T - q) (``docs/methods.md`` §6.2, P13; :func:`intercept_tests`). A
    regressor constant over the portfolio dates or a singular X'X gives NaN with a reason naming it.

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
    regression over the window's own dates would fit the slopes on the event days themselves, so the
    single-portfolio variant is used instead: the model fitted to the equally weighted portfolio over the
    estimation window and its standardized CAR (P2), t(M - k), with the reason column naming the
    variant. It is computed only when the events share estimation dates and regressors (then the
    portfolio's residuals are the mean residuals); otherwise NaN with a reason.

    References
    ----------
    Jaffe, J. F. (1974), "Special information and insider trading", Journal of Business 47(3), 410-428.
    Mandelker, G. (1974), "Risk and return: the case of merging firms", JFE 1(4), 303-335.
    Fama, E. F. (1998), "Market efficiency, long-term returns, and behavioral finance", JFE 49(3), 283-306.
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
        nothing_held = "no firm-event has a return in the window"
        if not data.market_design:
            regressors = ", ".join(data.design_regressors)
            nothing_held = f"no firm-event has a target return and its regressors ({regressors}) in the window"
        for c, window in enumerate(data.car_windows):
            cols = data.car_columns(window)
            held = _complete(data, cols) & ~np.isnat(dates[:, cols])
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
            why[:, c] = np.where(n[:, c] == 0, nothing_held, joined)
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


def _complete(data: InferenceData, cols: IntArray) -> np.ndarray:
    """(N, len(cols)): the window rows a portfolio can hold (a return; for other designs target and regressors)."""
    if data.market_design:
        return np.isfinite(data.evt_returns[:, cols])
    target, regressors = _target_and_regressors(data)
    return np.isfinite(target[:, cols]) & np.isfinite(regressors[:, cols]).all(axis=2)


def _target_and_regressors(data: InferenceData) -> tuple[FloatArray, FloatArray]:
    """The event-window target (N, W) and regressors (N, W, p) of the portfolio regression (see the class)."""
    if data.market_design:
        return data.evt_returns, data.evt_market[:, :, None]
    target = data.evt_returns if data.evt_target is None else data.evt_target
    return target, data.event_design[:, :, data.k - len(data.design_regressors) :]


def _regression(
    data: InferenceData, cols: IntArray, held: np.ndarray, held_by: IntArray, n_groups: int
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Equal-weight portfolio target and regressors per (group, date), then every group's HAC intercept test.

    A cell's regressors are the means over its holdings with a value (every holding has them for other
    designs than the market's); cells without a value of a regressor are left out. Returns statistic,
    df (T - q) and reason per group (reasons for groups without rows are irrelevant).
    """
    rows, k = np.nonzero(held & (held_by >= 0)[:, None])
    group = held_by[rows]
    day = np.asarray(data.evt_dates).astype("datetime64[D]").view(np.int64)[rows, cols[k]]
    target, regressors = _target_and_regressors(data)
    ret = target[rows, cols[k]]
    x = regressors[rows, cols[k]]  # (holdings, p)
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
        present = np.isfinite(x)
        x_p = kn.group_sum(np.where(present, x, 0.0), cell, len(cells)) / kn.group_count(present, cell, len(cells))
    keep = np.isfinite(x_p).all(axis=1)
    names = (BENCHMARK,) if data.market_design else data.design_regressors
    tests = intercept_tests(r_p[keep], x_p[keep], cell_group[keep], n_groups, names)
    count = tests.n_dates
    few = np.char.add(
        np.char.add("only ", count.astype(np.int64).astype(str)),
        f" calendar dates with holdings: the Newey-West t needs at least {CALENDAR_TIME_MIN_DATES}",
    ).astype(object)
    why = np.where(count < CALENDAR_TIME_MIN_DATES, few, tests.why)
    ok = why == ""
    return np.where(ok, tests.statistic, np.nan), np.where(ok, count - (x_p.shape[1] + 1), np.nan), why


__all__ = ["CalendarTimePortfolio", "InterceptTests", "intercept_tests", "newey_west_lags"]
