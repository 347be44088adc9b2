"""StudyResult: frame columns, derived views agree with each other, immutability, summary and HTML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import eventstudy as es
from eventstudy.results import ABNORMAL_RETURN_COLUMNS, CAR_COLUMNS, PARAMETER_COLUMNS, TEST_COLUMNS

SESSIONS = pd.bdate_range("2022-01-03", periods=330)


@pytest.fixture(scope="module")
def result() -> es.StudyResult:
    rng = np.random.default_rng(21)
    market = rng.normal(0.0002, 0.01, len(SESSIONS))
    rows = [pd.DataFrame({"date": SESSIONS, "ticker": "MKT", "return": market})]
    for _j, t in enumerate(("AAA", "BBB", "CCC")):
        rows.append(
            pd.DataFrame({"date": SESSIONS, "ticker": t, "return": 0.9 * market + rng.normal(0, 0.015, len(SESSIONS))})
        )
    returns = es.ReturnsFrame(pd.concat(rows, ignore_index=True))
    events = es.events_from_frame(
        pd.DataFrame(
            {
                "event_id": ["x", "y"],
                "date": [SESSIONS[280].strftime("%Y-%m-%d"), SESSIONS[300].strftime("%Y-%m-%d")],
                "tickers": ["AAA;BBB;CCC", "AAA;BBB"],
                "benchmark": "MKT",
                "timezone": "America/New_York",
            }
        )
    )
    return es.EventStudy(
        events,
        returns,
        estimation_window=(-250, -11),
        event_window=(-5, 5),
        car_windows=((0, 0), (-1, 1), (-5, 5)),
        progress=False,
        title="synthetic",
    ).run()


def test_frame_columns(result: es.StudyResult) -> None:
    assert tuple(result.abnormal_returns.columns) == ABNORMAL_RETURN_COLUMNS
    assert tuple(result.car.columns) == CAR_COLUMNS
    assert tuple(result.tests.columns) == TEST_COLUMNS
    assert tuple(result.parameters.columns) == PARAMETER_COLUMNS


def test_car_path_ends_at_the_full_window_car(result: es.StudyResult) -> None:
    last = result.car_path[result.car_path.rel_day == 5].set_index(["event_id", "ticker"])
    full = result.car[(result.car.window_start == -5) & (result.car.window_end == 5)].set_index(["event_id", "ticker"])
    np.testing.assert_allclose(last["car"], full.loc[last.index, "car"], rtol=1e-12)
    np.testing.assert_allclose(last["se"], full.loc[last.index, "se"], rtol=1e-12)


def test_car_se_matches_statsmodels_parameter_covariance(result: es.StudyResult) -> None:
    """se of CAR[-1,+1] = sqrt(L s^2 + g' Cov(b) g), from a statsmodels fit of the same rows."""
    ar = result.abnormal_returns
    one = ar[(ar.event_id == "x") & (ar.ticker == "BBB")].set_index("rel_day")
    panel = result.panel
    i = int(np.flatnonzero((panel.pairs.event_id == "x") & (panel.pairs.ticker == "BBB"))[0])
    ok = np.isfinite(panel.est_returns[i]) & np.isfinite(panel.est_market[i])
    fit = sm.OLS(panel.est_returns[i, ok], sm.add_constant(panel.est_market[i, ok])).fit()
    g = np.array([3.0, one.loc[[-1, 0, 1], "benchmark_return"].sum()])
    se = np.sqrt(3 * fit.mse_resid + g @ fit.cov_params() @ g)
    row = result.car[(result.car.event_id == "x") & (result.car.ticker == "BBB") & (result.car.window_start == -1)]
    np.testing.assert_allclose(row["se"].iloc[0], se, rtol=1e-9)
    np.testing.assert_allclose(row["car"].iloc[0], one.loc[[-1, 0, 1], "abnormal_return"].sum(), rtol=1e-12)


def test_aar_matches_abnormal_returns(result: es.StudyResult) -> None:
    ar = result.abnormal_returns
    by_hand = ar[ar.event_id == "x"].groupby("rel_day")["abnormal_return"].mean()
    mine = result.aar[result.aar.group == "x"].set_index("rel_day")
    np.testing.assert_allclose(mine["aar"], by_hand.loc[mine.index], rtol=1e-12)
    np.testing.assert_allclose(mine["caar"], by_hand.loc[mine.index].cumsum(), rtol=1e-12)


def test_result_is_immutable(result: es.StudyResult) -> None:
    with pytest.raises(AttributeError):
        result.title = "changed"  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.car_values[0, 0] = 1.0
    with pytest.raises(ValueError):
        result.fit.abnormal[0, 0] = 1.0


def test_summary_repr_and_html(result: es.StudyResult) -> None:
    text = result.summary()
    assert "synthetic" in text and "CAR" in text
    assert "2 events" in repr(result) and "conventions=textbook" in repr(result)
    html = result._repr_html_()
    assert "data:image/png;base64," in html and "<table" in html


def test_to_csv_writes_every_frame(result: es.StudyResult, tmp_path: Path) -> None:
    paths = result.to_csv(tmp_path)
    names = {p.stem for p in paths}
    assert names == {
        "event_days",
        "parameters",
        "abnormal_returns",
        "car",
        "tests",
        "cross_correlation",
        "exclusions",
        "provenance",
        "knobs",
    }
    knobs = pd.read_csv(tmp_path / "knobs.csv")
    assert knobs.loc[knobs.knob == "name", "value"].iloc[0] == "textbook"
    tests = pd.read_csv(tmp_path / "tests.csv")
    assert {"p_holm", "p_bh"} <= set(tests.columns)


def test_every_statistic_is_in_the_notebook_view_and_reports(result: es.StudyResult, tmp_path: Path) -> None:
    from eventstudy.inference import REGISTRY
    from eventstudy.report import write_report

    html = result._repr_html_()
    assert [name for name in REGISTRY if name not in html] == []
    write_report(result, tmp_path, formats=("md", "html"))
    for name in ("report.md", "report.html"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert [test for test in REGISTRY if test not in text] == [], name
