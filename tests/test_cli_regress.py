"""``eventstudy regress`` on a finished run's folder equals ``StudyResult.regress`` on the run's result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_results import _study  # type: ignore[import-not-found]

import eventstudy as es
from eventstudy.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[es.StudyResult, Path]:
    result = _study()
    folder = tmp_path_factory.mktemp("run")
    result.to_csv(folder)
    result.events.assign(category=["policy", "earnings"]).to_csv(folder / "events.csv", index=False)
    pd.DataFrame({"ticker": ["AAA", "BBB", "CCC"], "size": [1.0, 2.5, 4.0]}).to_csv(folder / "size.csv", index=False)
    return result, folder


def test_regress_command_matches_the_api(run: tuple[es.StudyResult, Path], capsys: pytest.CaptureFixture[str]) -> None:
    result, folder = run
    out = folder / "regression.csv"
    args = [str(folder), "car[-5,5] ~ C(category) + size", "--events", str(folder / "events.csv")]
    args += ["--data", str(folder / "size.csv"), "--cluster", "ticker", "--wild-bootstrap", "99", "--out", str(out)]
    assert main(["regress", *args]) == 0
    assert "covariance: cluster by ticker (3 clusters)" in capsys.readouterr().out
    events = result.events.assign(category=["policy", "earnings"])
    size = pd.read_csv(folder / "size.csv")
    expected = es.regression.regress_cars(
        result.car,
        "car[-5,5] ~ C(category) + size",
        size,
        events=events,
        cov="cluster",
        cluster="ticker",
        wild_bootstrap=99,
    ).table
    written = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert written["term"].tolist() == ["Intercept", "C(category)[T.policy]", "size"]
    numbers = ["estimate", "se", "t", "p", "ci_low", "ci_high", "p_wild"]
    # car.csv holds the CARs to 10 significant digits (outputs.py writes "%.10g"): agreement to 1e-8, not 1e-15
    np.testing.assert_allclose(written[numbers], expected[numbers], rtol=1e-8)
    assert (written["n"] == 5).all() and (written["window"] == "[-5, +5]").all()


def test_regress_command_clusters_by_the_run_event_dates(
    run: tuple[es.StudyResult, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    result, folder = run
    assert main(["regress", str(folder), "car[-1,1] ~ 1", "--cluster", "event_date"]) == 0
    printed = capsys.readouterr().out
    expected = result.regress("car[-1,1] ~ 1", cov="cluster", cluster="event_date").table
    assert "(2 clusters)" in printed and f"{expected['estimate'].iloc[0]:.4g}" in printed


def test_regress_command_bad_input_exits_2(
    run: tuple[es.StudyResult, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, folder = run
    assert main(["regress", str(folder), "car[-2,2] ~ 1"]) == 2
    assert "CAR[-2, +2] is not among" in capsys.readouterr().err
    assert main(["regress", str(folder), "car[-1,1] ~ category"]) == 2
    assert "'category'" in capsys.readouterr().err
    assert main(["regress", str(tmp_path), "car ~ 1"]) == 2
    assert "car.csv is missing" in capsys.readouterr().err
