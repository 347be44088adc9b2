"""StudyResult: frame columns, derived views agree with each other, immutability, summary and HTML."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import eventstudy as es
from eventstudy.results import (
    ABNORMAL_RETURN_COLUMNS,
    CAR_COLUMNS,
    PARAMETER_COLUMNS,
    TEST_COLUMNS,
    factorized,
    text_column,
)

SESSIONS = pd.bdate_range("2022-01-03", periods=330)


def _study(**knobs: object) -> es.StudyResult:
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
        knobs=knobs or None,
    ).run()


@pytest.fixture(scope="module")
def result() -> es.StudyResult:
    return _study()


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


def _arrays(*holders: object) -> dict[str, np.ndarray]:
    return {
        f"{type(h).__name__}.{name}": value
        for h in holders
        for name, value in vars(h).items()
        if isinstance(value, np.ndarray)
    }


def test_result_is_immutable(result: es.StudyResult) -> None:
    with pytest.raises(AttributeError):
        result.title = "changed"  # type: ignore[misc]
    blocks = [block for _, _, block in result.test_table.blocks]
    taken = np.array([1, 0])
    arrays = _arrays(result, result.panel, result.fit, *blocks)
    arrays |= {f"take:{k}": v for k, v in _arrays(result.panel.take(taken), result.fit.take(taken)).items()}
    assert {"StudyResult.car_values", "ReturnPanel.evt_returns", "ModelFit.abnormal", "StatBlock.p_value"} <= set(
        arrays
    )
    for name, value in arrays.items():
        assert value.size, name
        with pytest.raises(ValueError, match="read-only"):
            value.flat[0] = value.flat[0]


def test_changing_what_a_user_gets_changes_no_later_view(result: es.StudyResult, tmp_path: Path) -> None:
    """Mutate every frame a caller can get; car.csv, summary() and the report tables stay as they were."""
    from eventstudy.report._tables import build_document
    from eventstudy.report.markdown import render_markdown

    before = {p.name: p.read_bytes() for p in result.to_csv(tmp_path / "before")}
    summary, report = str(result.summary()), render_markdown(build_document(result, []))
    car_before = result.car.loc[0, "car"]
    pairs_before = result.panel.pairs.copy()

    with warnings.catch_warnings():  # pandas 3 warns that this chained assignment cannot change anything
        warnings.simplefilter("ignore", pd.errors.ChainedAssignmentError)
        result.car.loc[0, "car"] = 99.0  # the example of issue 6
    car = result.car
    car.loc[0, "car"] = 99.0
    for name in ("abnormal_returns", "car", "car_path", "aar", "tests", "parameters"):
        frame = getattr(result, name)
        frame.iloc[:, -1] = frame.iloc[::-1, -1].to_numpy()  # reversed, so the dtype fits
        frame["extra"] = 1
        del frame[frame.columns[0]]
    for frame in result.frames().values():
        if len(frame) > 1:
            frame.iloc[0] = frame.iloc[-1]
        frame.columns = [f"x{i}" for i in range(frame.shape[1])]
    for name in ("event_days", "exclusions", "provenance", "events"):
        frame = getattr(result, name)
        if len(frame) > 1:
            frame.iloc[0] = frame.iloc[-1]
        frame.index = frame.index[::-1]
        frame["extra"] = 1
    pairs = result.panel.pairs
    pairs.loc[0, "event_id"] = "tampered"
    del pairs["ticker"]

    assert result.car.loc[0, "car"] == car_before != 99.0
    assert result.panel.pairs.equals(pairs_before)
    assert {p.name: p.read_bytes() for p in result.to_csv(tmp_path / "after")} == before
    assert str(result.summary()) == summary
    assert render_markdown(build_document(result, [])) == report


def test_summary_repr_and_html(result: es.StudyResult) -> None:
    text = str(result.summary())
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
        "firm_events",
        "group_differences",
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


def test_report_notes_state_the_adjustment_family_in_force(result: es.StudyResult) -> None:
    """Under adjust_family=events the tests tables no longer say 'adjusted across days' (issue 6)."""
    from eventstudy.conventions import ADJUST_FAMILY_TEXT
    from eventstudy.report._tables import build_document
    from eventstudy.report.markdown import md_escape, render_markdown

    events = _study(adjust_family="events")
    for res, family, other in ((events, "events", "days"), (result, "days", "events")):
        assert res.adjustment_note == ADJUST_FAMILY_TEXT[family]
        report = render_markdown(build_document(res, []))
        tables = report[report.index("## Test statistics") : report.index("## Model parameters")]
        assert tables.count(md_escape(ADJUST_FAMILY_TEXT[family])) == 3 + 1  # window tests of 3 groups; all day tests
        assert md_escape(ADJUST_FAMILY_TEXT[other]) not in report
    # and the adjusted p-values follow it: Holm over the two events' p-values of one test and window, by hand
    t = events.tests
    pair = t[(t["test"] == "cross_sectional_t") & (t["scope"] == "window") & (t["window_start"] == -1)]
    pair = pair[pair["group"] != "all"].sort_values("p_value")
    p1, p2 = pair["p_value"]
    np.testing.assert_allclose(pair["p_holm"], [min(1.0, 2 * p1), min(1.0, max(2 * p1, p2))], rtol=1e-12)


def test_text_column_equals_the_gathered_labels() -> None:
    labels = ("all", "E1", "", "E 2")
    codes = np.array([1, 1, 0, 3, 2, 1], dtype=np.int64)
    expected = pd.Series(np.array(labels, dtype=object)[codes])  # pandas infers the text dtype itself
    pd.testing.assert_series_equal(pd.Series(text_column(labels, codes)), expected)
    column = pd.Series(list(labels), dtype="str", index=[7, 3, 9, 4])  # a pandas text column: taken by position
    pd.testing.assert_series_equal(pd.Series(text_column(column, codes)), expected)
    uniques, back = factorized(np.array(["b", "a", "b", "", "a"], dtype=object))
    assert list(uniques) == ["b", "a", ""] and back.tolist() == [0, 1, 0, 2, 1]
