"""CAR regressions a study runs itself (``EventStudy(regressions=...)``, ``run --regress``) and their report section.

Checked against statsmodels on the pooled CARs merged with the events by hand (pandas), against the wild
bootstrap's enumeration by refitting (``tests/test_regression.py``), and through the console script.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import eventstudy as es
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.events import events_to_frame
from eventstudy.regression import CarRegression
from eventstudy.report._tables import regression_blocks

SESSIONS = pd.bdate_range("2021-01-04", periods=420)
CATEGORIES = ["policy", "report", "policy", "report", "policy", "report"]
EVENT_ROWS = (280, 290, 300, 320, 340, 360)


def _returns() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    market = rng.normal(0.0003, 0.01, len(SESSIONS))
    rows = [pd.DataFrame({"date": SESSIONS, "ticker": "MKT", "return": market})]
    for ticker in ("AAA", "BBB", "CCC", "DDD"):
        noise = rng.normal(0, 0.015, len(SESSIONS))
        rows.append(pd.DataFrame({"date": SESSIONS, "ticker": ticker, "return": 0.8 * market + noise}))
    return pd.concat(rows, ignore_index=True)


def _events() -> list[es.Event]:
    return es.events_from_frame(
        pd.DataFrame(
            {
                "event_id": [f"e{i}" for i in range(len(EVENT_ROWS))],
                "date": [SESSIONS[row].strftime("%Y-%m-%d") for row in EVENT_ROWS],
                "tickers": ["AAA;BBB;CCC", "BBB;DDD", "AAA;CCC;DDD", "AAA;BBB", "CCC;DDD", "AAA;DDD"],
                "benchmark": "MKT",
                "timezone": "America/New_York",
                "category": CATEGORIES,
            }
        )
    )


def _study(regressions: list[CarRegression], prices: object | None = None) -> es.EventStudy:
    return es.EventStudy(
        _events(),
        prices or es.ReturnsFrame(_returns()),  # type: ignore[arg-type]
        estimation_window=(-200, -11),
        event_window=(-5, 5),
        car_windows=((0, 0), (-1, 1), (-5, 5)),
        progress=False,
        regressions=regressions,
    )


@pytest.fixture(scope="module")
def result() -> es.StudyResult:
    return _study(
        [
            CarRegression("car[-1,1] ~ C(category)"),
            CarRegression("car[-5,5] ~ 1", cov="HC3"),
            CarRegression("car[0,0] ~ C(category)", cluster=("event_id",), wild_bootstrap=None),
        ]
    ).run()


def _hand_frame(result: es.StudyResult, window: tuple[int, int]) -> pd.DataFrame:
    car = result.car
    rows = car[(car["window_start"] == window[0]) & (car["window_end"] == window[1])]
    pooled = result.firm_events.loc[result.firm_events["pooled"], ["event_id", "ticker"]]
    rows = rows.merge(pooled, on=["event_id", "ticker"])
    events = pd.DataFrame({"event_id": [f"e{i}" for i in range(6)], "category": CATEGORIES})
    events["date"] = [SESSIONS[row] for row in EVENT_ROWS]
    return rows.merge(events, on="event_id")


def test_clustered_regression_matches_statsmodels_on_a_hand_merge(result: es.StudyResult) -> None:
    frame = _hand_frame(result, (-1, 1))
    x = sm.add_constant((frame["category"] == "report").astype(float).to_numpy())
    groups = pd.factorize(frame["date"])[0]
    expected = sm.OLS(frame["car"].to_numpy(), x).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    table = result.regression[result.regression["formula"] == "car[-1,1] ~ C(category)"]
    np.testing.assert_allclose(table["estimate"], expected.params, rtol=1e-10)
    np.testing.assert_allclose(table["se"], expected.bse, rtol=1e-10)
    np.testing.assert_allclose(table["p"], expected.pvalues, rtol=1e-10)
    assert table["term"].tolist() == ["Intercept", "C(category)[T.report]"]
    assert (table["n_clusters"] == "6").all() and (table["n"] == len(frame)).all()
    # six clusters: all 64 Rademacher sign vectors; opposite vectors tie, so p is a multiple of 1/32
    assert np.allclose(table["p_wild"] * 32, np.round(table["p_wild"] * 32))
    fit = result.regression_fits[0]
    assert not isinstance(fit, InputError) and fit.reference_levels == (("C(category)", "policy"),)


def test_heteroskedasticity_robust_regression_and_the_api_agree(result: es.StudyResult) -> None:
    frame = _hand_frame(result, (-5, 5))
    expected = sm.OLS(frame["car"].to_numpy(), np.ones((len(frame), 1))).fit(cov_type="HC3", use_t=True)
    table = result.regression[result.regression["formula"] == "car[-5,5] ~ 1"]
    np.testing.assert_allclose(table["se"], expected.bse, rtol=1e-10)
    assert table["p_wild"].isna().all()  # no clusters, no wild bootstrap
    same = result.regress("car[-1,1] ~ C(category)", cov="cluster", cluster="event_date", wild_bootstrap=999, seed=0)
    first = result.regression[result.regression["formula"] == "car[-1,1] ~ C(category)"].reset_index(drop=True)
    pd.testing.assert_frame_equal(first.drop(columns=["formula", "estimator"]), same.table)


def test_regression_frame_is_written_and_documented(result: es.StudyResult, tmp_path: Path) -> None:
    assert list(result.regression.columns[:3]) == ["formula", "estimator", "term"]
    paths = result.to_csv(tmp_path)
    assert tmp_path / "regression.csv" in paths
    written = pd.read_csv(tmp_path / "regression.csv")
    np.testing.assert_allclose(written["estimate"], result.regression["estimate"], rtol=1e-9)
    plain = _study([]).run()
    assert "regression" not in plain.frames() and regression_blocks(plain) == []


def test_report_section_states_the_estimator_and_the_omitted_level(result: es.StudyResult) -> None:
    blocks = regression_blocks(result)
    text = "\n".join(str(block) for block in blocks)
    assert "Cross-sectional regression of CARs" in text
    assert "CRV1 clustered by event_date (6 clusters)" in text
    assert "category = report" in text and "omitted level (category = policy)" in text
    assert "HC3" in text and "regression.csv" in text
    assert "p (wild)" in text  # the clustered regressions show the bootstrap column


def test_a_regression_the_result_cannot_support_is_reported_not_raised() -> None:
    events = _events()[:1]  # one event: clustering by event date has one cluster
    study = es.EventStudy(
        events,
        es.ReturnsFrame(_returns()),
        estimation_window=(-200, -11),
        event_window=(-5, 5),
        car_windows=((-1, 1),),
        progress=False,
        regressions=[CarRegression("car[-1,1] ~ 1")],
    )
    result = study.run()
    (fit,) = result.regression_fits
    assert isinstance(fit, InputError) and "at least two clusters" in str(fit)
    assert result.regression.empty
    text = "\n".join(str(block) for block in regression_blocks(result))
    assert "car[-1,1] ~ 1: not fitted" in text


class _NoPrices:
    description = "a source that must not be read"

    def load(self, *args: object, **kwargs: object) -> object:
        raise AssertionError("prices read before the regression was checked")


@pytest.mark.parametrize(
    ("regression", "message"),
    [
        (CarRegression("car[-1,1] ~ C(sector)"), "'sector'"),
        (CarRegression("car[-2,2] ~ 1"), "CAR[-2, +2], which is not among the CAR windows"),
    ],
)
def test_a_bad_formula_fails_when_the_study_is_set_up(regression: CarRegression, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("+", r"\+")):
        _study([regression], prices=_NoPrices())


def test_car_regression_validates_its_options() -> None:
    with pytest.raises(UnknownNameError):
        CarRegression("car ~ 1", weights="gls")  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError):
        CarRegression("car ~ 1", cluster=("sector",))
    with pytest.raises(InputError, match="positive integer"):
        CarRegression("car ~ 1", wild_bootstrap=0)
    with pytest.raises(InputError, match="CAR regression formula reads"):
        CarRegression("ret ~ 1")
    two_way = CarRegression("car ~ 1", cluster=("event_date", "ticker"))
    assert two_way.wild_bootstrap is None and two_way.window == (-1, 1)  # no wild bootstrap for two-way
    assert CarRegression("car ~ 1", cov="HC1").wild_bootstrap is None
    assert "CRV1 clustered by event_date x ticker" in two_way.describe()


def test_run_regress_through_the_console_script(eventstudy_cli: object, tmp_path: Path) -> None:
    prices = tmp_path / "returns.csv"
    _returns().to_csv(prices, index=False)
    events = tmp_path / "events.csv"
    events_to_frame(_events()).to_csv(events, index=False)
    base = ["run", str(events), "--returns", str(prices), "--estimation", "-200:-11", "--window", "-5:5"]
    base += ["--car", "0:0", "--car", "-1:1", "--car", "-5:5", "--formats", "md", "--quiet"]
    out = tmp_path / "out"
    done = eventstudy_cli(*base, "--regress", "car[-1,1] ~ C(category)", "--out", str(out))  # type: ignore[operator]
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(out / "regression.csv")
    expected = _study([CarRegression("car[-1,1] ~ C(category)")]).run().regression
    np.testing.assert_allclose(written["estimate"], expected["estimate"], rtol=1e-9)
    np.testing.assert_allclose(written["p_wild"], expected["p_wild"], rtol=1e-9)
    assert "Cross-sectional regression of CARs" in (out / "report.md").read_text()
    two_way = eventstudy_cli(  # type: ignore[operator]
        *base,
        "--regress",
        "car[-1,1] ~ 1",
        "--regress-cluster",
        "event_date",
        "--regress-cluster",
        "ticker",
        "--out",
        str(tmp_path / "two"),
    )
    assert two_way.returncode == 0, two_way.stderr
    assert pd.read_csv(tmp_path / "two" / "regression.csv")["n_clusters"].iloc[0] == "6 x 4"
    bad = eventstudy_cli(*base, "--regress", "car[-1,1] ~ C(sector)", "--out", str(tmp_path / "bad"))  # type: ignore[operator]
    assert bad.returncode == 2 and "'sector'" in bad.stderr and "Traceback" not in bad.stderr
    negative = eventstudy_cli(  # type: ignore[operator]
        *base, "--regress", "car ~ 1", "--regress-wild-bootstrap", "-3", "--out", str(tmp_path / "neg")
    )
    assert negative.returncode == 2 and "--regress-wild-bootstrap" in negative.stderr
