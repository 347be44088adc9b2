"""Cross-sectional CAR regressions against statsmodels on hand-built designs, a hand two-way
Cameron–Gelbach–Miller covariance and a wild cluster bootstrap enumerated by refitting."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from test_results import _study  # type: ignore[import-not-found]

from eventstudy.errors import InputError, UnknownNameError
from eventstudy.regression import (
    DIAGNOSTIC_COLUMNS,
    TABLE_COLUMNS,
    parse_formula,
    regress_cars,
    wild_cluster_bootstrap,
)

N_EVENTS, TICKERS = 12, ("A", "B", "C", "D", "E", "F", "G")
CATEGORIES = ("policy", "earnings", "ipo")


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A CAR frame with two windows, an events table and a (event_id, ticker) regressor frame."""
    rng = np.random.default_rng(7)
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(N_EVENTS)],
            # 6 distinct dates: events two by two on the same day
            "date": [f"2021-0{1 + i // 2}-15" for i in range(N_EVENTS)],
            "category": [CATEGORIES[i % 3] for i in range(N_EVENTS)],
        }
    )
    pairs = [(e, t) for e in events["event_id"] for t in TICKERS if rng.random() < 0.7]
    n = len(pairs)
    car = pd.concat(
        [
            pd.DataFrame(
                {
                    "event_id": [p[0] for p in pairs],
                    "ticker": [p[1] for p in pairs],
                    "window_start": start,
                    "window_end": end,
                    "car": rng.normal(0.01, 0.03, n),
                    "se": rng.uniform(0.01, 0.04, n),
                }
            )
            for start, end in ((-1, 1), (0, 5))
        ],
        ignore_index=True,
    )
    data = pd.DataFrame(
        {"event_id": [p[0] for p in pairs], "ticker": [p[1] for p in pairs], "log_mcap": rng.normal(10, 1, n)}
    )
    return car, events, data


def _hand_design(car: pd.DataFrame, events: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    """Rows of CAR[-1,+1] with intercept, treatment dummies (reference: earnings, first in sort order), log_mcap."""
    rows = car[(car["window_start"] == -1) & (car["window_end"] == 1)]
    rows = rows.merge(events, on="event_id").merge(data, on=["event_id", "ticker"])
    return rows.assign(
        const=1.0,
        ipo=(rows["category"] == "ipo").astype(float),
        policy=(rows["category"] == "policy").astype(float),
    )


X_COLUMNS = ["const", "ipo", "policy", "log_mcap"]
FORMULA = "car[-1,1] ~ C(category) + log_mcap"


def _assert_matches(table: pd.DataFrame, fit: sm.regression.linear_model.RegressionResultsWrapper) -> None:
    np.testing.assert_allclose(table["estimate"], np.asarray(fit.params), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(table["se"], np.asarray(fit.bse), rtol=1e-10)
    np.testing.assert_allclose(table["t"], np.asarray(fit.tvalues), rtol=1e-10)
    np.testing.assert_allclose(table["p"], np.asarray(fit.pvalues), rtol=1e-10)
    np.testing.assert_allclose(table[["ci_low", "ci_high"]], np.asarray(fit.conf_int()), rtol=1e-10)


def test_parse_formula_reads_the_window_from_the_left_hand_side() -> None:
    assert parse_formula("car[-1,1] ~ C(category) + log_mcap") == ((-1, 1), "car ~ C(category) + log_mcap")
    assert parse_formula(" car[ -5 , +5 ]~x") == ((-5, 5), "car ~x")
    assert parse_formula("car ~ x") == (None, "car ~ x")
    for bad in ("cars ~ x", "car[1,-1] ~ x", "car[-1,1]", "car[-1] ~ x", "car ~ "):
        with pytest.raises(InputError) as caught:
            parse_formula(bad)
        assert caught.value.parameter == "formula" and caught.value.value == bad


@pytest.mark.parametrize("cov", ["HC0", "HC1", "HC2", "HC3"])
def test_ols_heteroskedasticity_robust_matches_statsmodels(cov: str) -> None:
    car, events, data = _inputs()
    hand = _hand_design(car, events, data)
    expected = sm.OLS(hand["car"].to_numpy(), hand[X_COLUMNS].to_numpy()).fit(cov_type=cov, use_t=True)
    result = regress_cars(car, FORMULA, data, events=events, cov=cov)  # type: ignore[arg-type]
    table = result.table
    assert tuple(table.columns) == TABLE_COLUMNS
    assert table["term"].tolist() == ["Intercept", "C(category)[T.ipo]", "C(category)[T.policy]", "log_mcap"]
    _assert_matches(table, expected)
    assert (table["n"] == len(hand)).all() and (table["window"] == "[-1, +1]").all()
    assert (table["cov_type"] == cov).all() and table["p_wild"].isna().all()


def test_wls_uses_inverse_car_variance_weights() -> None:
    car, events, data = _inputs()
    hand = _hand_design(car, events, data)
    expected = sm.WLS(hand["car"].to_numpy(), hand[X_COLUMNS].to_numpy(), weights=hand["se"].to_numpy() ** -2).fit(
        cov_type="HC1", use_t=True
    )
    _assert_matches(regress_cars(car, FORMULA, data, events=events, weights="wls").table, expected)


@pytest.mark.parametrize("key", ["event_date", "event_id", "ticker"])
@pytest.mark.parametrize("weights", ["ols", "wls"])
def test_one_way_clusters_match_statsmodels(key: str, weights: str) -> None:
    car, events, data = _inputs()
    hand = _hand_design(car, events, data)
    labels = hand["date" if key == "event_date" else key]
    codes = pd.factorize(labels)[0]
    w = hand["se"].to_numpy() ** -2 if weights == "wls" else np.ones(len(hand))
    expected = sm.WLS(hand["car"].to_numpy(), hand[X_COLUMNS].to_numpy(), weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": codes}, use_t=True
    )
    result = regress_cars(car, FORMULA, data, events=events, weights=weights, cov="cluster", cluster=key)  # type: ignore[arg-type]
    _assert_matches(result.table, expected)
    assert (result.table["n_clusters"] == str(labels.nunique())).all()
    assert result.cluster == (key,)


def test_two_way_clusters_match_a_hand_cameron_gelbach_miller_covariance() -> None:
    car, events, data = _inputs()
    hand = _hand_design(car, events, data)
    y, x = hand["car"].to_numpy(), hand[X_COLUMNS].to_numpy()
    n, k = x.shape
    bread = np.linalg.inv(x.T @ x)
    resid = y - x @ (bread @ x.T @ y)

    def one_way(labels: pd.Series) -> np.ndarray:
        g = labels.nunique()
        sums = pd.DataFrame(x * resid[:, None]).groupby(labels.to_numpy()).sum().to_numpy()
        return g / (g - 1) * (n - 1) / (n - k) * bread @ sums.T @ sums @ bread

    date, firm = hand["date"], hand["ticker"]
    both = date + "|" + firm
    cov = one_way(date) + one_way(firm) - one_way(both)
    result = regress_cars(car, FORMULA, data, events=events, cov="cluster", cluster=("event_date", "ticker"))
    table = result.table
    np.testing.assert_allclose(table["se"], np.sqrt(np.diag(cov)), rtol=1e-10)
    # t(min(G1, G2) - 1) reference distribution: 6 dates, 7 tickers
    t = table["estimate"] / np.sqrt(np.diag(cov))
    np.testing.assert_allclose(table["p"], 2 * stats.t.sf(np.abs(t), date.nunique() - 1), rtol=1e-10)
    assert (table["n_clusters"] == f"{date.nunique()} x {firm.nunique()}").all()


def _enumerated_wild_p(y: np.ndarray, x: np.ndarray, groups: np.ndarray, column: int, w: np.ndarray) -> float:
    """Refit statsmodels on y* = ŷ_r + v_g û_r for every Rademacher sign vector v (restricted under β_column = 0)."""
    restricted = sm.WLS(y, np.delete(x, column, axis=1), weights=w).fit()
    fitted, resid = restricted.fittedvalues, y - restricted.fittedvalues

    def t_of(values: np.ndarray) -> float:
        fit = sm.WLS(values, x, weights=w).fit(cov_type="cluster", cov_kwds={"groups": groups})
        return float(fit.tvalues[column])

    t_obs = t_of(y)
    g = groups.max() + 1
    t_star = np.array([t_of(fitted + np.array(v)[groups] * resid) for v in itertools.product((-1, 1), repeat=g)])
    return float(np.mean(np.abs(t_star) >= abs(t_obs) * (1 - 1e-9)))


@pytest.mark.parametrize("weighted", [False, True])
def test_wild_cluster_bootstrap_equals_exact_enumeration_by_refitting(weighted: bool) -> None:
    rng = np.random.default_rng(11)
    n, g = 30, 5
    groups = np.arange(n) % g
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = x @ np.array([0.1, 0.4, 0.0]) + rng.normal(size=n) + 0.5 * rng.normal(size=g)[groups]
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    for column in range(3):
        result = wild_cluster_bootstrap(y, x, groups, column, weights=w if weighted else None)
        assert result.exact and result.n_draws == 2**g
        assert result.p_value == _enumerated_wild_p(y, x, groups, column, w)
        t = sm.WLS(y, x, weights=w).fit(cov_type="cluster", cov_kwds={"groups": groups}).tvalues[column]
        assert result.t_stat == pytest.approx(t, rel=1e-10)
    # random signs converge to the enumeration: 20,000 draws, Monte Carlo se <= 0.0036
    drawn = wild_cluster_bootstrap(y, x, groups, 1, B=20_000, seed=3, exact_max_clusters=0)
    assert not drawn.exact and drawn.n_draws == 20_000
    assert abs(drawn.p_value - _enumerated_wild_p(y, x, groups, 1, np.ones(n))) < 0.012
    assert drawn == wild_cluster_bootstrap(y, x, groups, 1, B=20_000, seed=3, exact_max_clusters=0)


def test_regress_cars_reports_the_wild_bootstrap_for_every_term() -> None:
    car, events, data = _inputs()
    hand = _hand_design(car, events, data)
    dates = pd.factorize(hand["date"])[0]
    result = regress_cars(
        car, FORMULA, data, events=events, cov="cluster", cluster="event_date", wild_bootstrap=999, seed=1
    )
    y, x = hand["car"].to_numpy(), hand[X_COLUMNS].to_numpy()
    expected = [_enumerated_wild_p(y, x, dates, column, np.ones(len(y))) for column in range(4)]
    np.testing.assert_array_equal(result.table["p_wild"], expected)
    assert "p_wild" in result.summary()


def test_leverage_and_cooks_distance() -> None:
    car, events, data = _inputs()
    hand = _hand_design(car, events, data)
    x, y, w = hand[X_COLUMNS].to_numpy(), hand["car"].to_numpy(), hand["se"].to_numpy() ** -2
    ols = regress_cars(car, FORMULA, data, events=events).diagnostics
    assert tuple(ols.columns) == DIAGNOSTIC_COLUMNS
    influence = sm.OLS(y, x).fit().get_influence()
    np.testing.assert_allclose(ols["leverage"], influence.hat_matrix_diag, rtol=1e-10)
    np.testing.assert_allclose(ols["cooks_distance"], influence.cooks_distance[0], rtol=1e-10)
    assert ols[["event_id", "ticker"]].equals(hand[["event_id", "ticker"]].reset_index(drop=True))
    wls = regress_cars(car, FORMULA, data, events=events, weights="wls").diagnostics
    hat = w * np.einsum("ij,jk,ik->i", x, np.linalg.inv(x.T @ (w[:, None] * x)), x)
    np.testing.assert_allclose(wls["leverage"], hat, rtol=1e-10)
    assert wls["leverage"].sum() == pytest.approx(len(X_COLUMNS))


def test_regressors_keyed_by_ticker_or_event_and_the_window_argument() -> None:
    car, events, _data = _inputs()
    by_ticker = pd.DataFrame({"ticker": list(TICKERS), "size": np.arange(len(TICKERS), dtype=float)})
    result = regress_cars(car, "car ~ size", by_ticker, events=events, window=(0, 5))
    rows = car[car["window_start"] == 0].merge(by_ticker, on="ticker")
    expected = sm.OLS(rows["car"].to_numpy(), sm.add_constant(rows["size"].to_numpy())).fit(cov_type="HC1", use_t=True)
    _assert_matches(result.table, expected)
    assert (result.table["window"] == "[0, +5]").all()
    by_event = pd.DataFrame({"event_id": events["event_id"], "surprise": np.linspace(-1, 1, N_EVENTS)})
    result = regress_cars(car, "car[-1,1] ~ surprise", by_event)
    rows = car[car["window_start"] == -1].merge(by_event, on="event_id")
    expected = sm.OLS(rows["car"].to_numpy(), sm.add_constant(rows["surprise"].to_numpy())).fit(
        cov_type="HC1", use_t=True
    )
    _assert_matches(result.table, expected)


def test_bad_input_raises_input_error_naming_it() -> None:
    car, events, data = _inputs()
    with pytest.raises(InputError, match="log_mcapp") as caught:
        regress_cars(car, "car[-1,1] ~ C(category) + log_mcapp", data, events=events)
    assert caught.value.column == "log_mcapp"
    with pytest.raises(InputError, match=r"CAR\[-2, \+2\] is not among .*\[-1, \+1\], \[0, \+5\]"):
        regress_cars(car, "car[-2,2] ~ log_mcap", data, events=events)
    with pytest.raises(InputError, match="window"):
        regress_cars(car, "car[-1,1] ~ log_mcap", data, events=events, window=(0, 5))
    with pytest.raises(InputError, match="more than one row"):
        regress_cars(car, "car ~ log_mcap", pd.concat([data, data.iloc[:1]]), events=events)
    with pytest.raises(InputError, match="key column"):
        regress_cars(car, "car ~ log_mcap", data.drop(columns=["event_id", "ticker"]).assign(firm=1), events=events)
    with pytest.raises(UnknownNameError, match="sector"):
        regress_cars(car, "car ~ log_mcap", data, events=events, cov="cluster", cluster="sector")
    with pytest.raises(UnknownNameError, match="HC4"):
        regress_cars(car, "car ~ log_mcap", data, events=events, cov="HC4")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="one-way"):
        regress_cars(car, "car ~ log_mcap", data, events=events, wild_bootstrap=99)
    with pytest.raises(InputError, match="events table"):
        regress_cars(car, "car ~ log_mcap", data, cov="cluster", cluster="event_date")


def test_study_result_regress_uses_the_pooled_cars_and_the_events_table() -> None:
    result = _study()
    size = pd.DataFrame({"ticker": ["AAA", "BBB", "CCC"], "size": [1.0, 2.5, 4.0]})
    fitted = result.regress("car[-1,1] ~ size", size, cov="HC0")
    rows = result.car.query("window_start == -1 and window_end == 1").merge(size, on="ticker")
    expected = sm.OLS(rows["car"].to_numpy(), sm.add_constant(rows["size"].to_numpy())).fit(cov_type="HC0", use_t=True)
    _assert_matches(fitted.table, expected)
    assert fitted.window == (-1, 1) and fitted.table["n"].iloc[0] == result.n_firm_events == 5
    by_date = result.regress("car[-5,5] ~ 1", cov="cluster", cluster="event_date")
    assert by_date.table["n_clusters"].iloc[0] == "2"
    table = fitted.table
    table.loc[0, "estimate"] = 99.0
    assert fitted.table.loc[0, "estimate"] != 99.0
    text = fitted.summary()
    assert "CAR[-1, +1] regression (OLS)" in text and "size" in text and "Cook's distance" in text
