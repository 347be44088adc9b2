"""scripts/single_firm_size.py: size of the single-firm t, SQ and permutation tests with one firm-event per sample.

Checks: the t, SQ and day 0 permutation p-values of a sample equal the same firm-event run through
``EventStudy`` on its own returns (the script gathers windows from the wide matrix as ``simulate`` does, the
study from prices; the drawn CAR permutation p-values differ by design, their keys differ); rejection rates on
iid normal returns inside the 3-SE binomial band at 5 %; the real S&P panel runs (a few hundred samples);
bad input exits 2.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

import eventstudy as es
from eventstudy.simulate.panel import DEFAULT_PANEL, WidePanel
from eventstudy.spec import StudySpec

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "single_firm_size.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("single_firm_size", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["single_firm_size"] = module
    spec.loader.exec_module(module)
    return module


STUDY = StudySpec(estimation_window=(-150, -6), event_window=(-5, 5), car_windows=((-1, 1),), permutation_draws=200)


def test_pvalues_equal_the_study_of_the_same_firm_event(script: ModuleType) -> None:
    panel = WidePanel.normal(40, 600, seed=5)
    frame = script.pvalues(panel, STUDY, 3, seed=11, draws=200)
    first = frame[frame["sample"] == 0].set_index("cell")
    ticker = first["ticker"].iloc[0]
    # the sample's day 0 as the script drew it (simulate's sampler and seeding)
    sampler = script._Sampler.from_mask(panel.eligible(STUDY.estimation_window, STUDY.event_window))
    _, row0 = sampler.draw(np.random.default_rng(np.random.SeedSequence(11).spawn(3)[0]), 1)
    day0 = pd.Timestamp(panel.dates[row0[0]])
    returns = pd.DataFrame(
        {
            "date": np.concatenate([panel.dates, panel.dates]),
            "ticker": [ticker] * len(panel.dates) + ["MKT"] * len(panel.dates),
            "return": np.concatenate([panel.returns[:, panel.tickers.index(ticker)], panel.market]),
        }
    )
    event = es.events_from_frame(
        pd.DataFrame(
            [{"event_id": "sample 0", "date": day0.strftime("%Y-%m-%d"), "tickers": ticker, "benchmark": "MKT"}]
        )
    )
    result = es.EventStudy(
        event,
        es.ReturnsFrame(returns, description="synthetic"),
        estimation_window=(-150, -6),
        event_window=(-5, 5),
        car_windows=((-1, 1),),
        permutation_draws=200,
        knobs={"seed": 11},
        progress=False,
    ).run()
    car = result.car.iloc[0]
    day = result.abnormal_returns.set_index("rel_day").loc[0]
    for cell, row in (("CAR [-1, +1]", car), ("day 0", day)):
        assert first.loc[cell, "t"] == pytest.approx(row["p_value"], rel=1e-9)
        assert first.loc[cell, "SQ"] == pytest.approx(row["p_sq"], rel=1e-12)
    assert first.loc["day 0", "permutation"] == pytest.approx(day["p_permutation"], rel=1e-12)


def test_size_on_iid_normal_returns(script: ModuleType) -> None:
    frame = script.pvalues(WidePanel.normal(300, 800, seed=7), STUDY, 600, seed=3, draws=200)
    table = script.rejection_table(frame, (0.05,))
    se = np.sqrt(0.05 * 0.95 / 600)
    rates = table[list(script.TESTS)].to_numpy()
    assert (table["R"] == 600).all()
    assert np.all(np.abs(rates - 0.05) <= 3 * se), table


@pytest.mark.realdata
def test_runs_on_the_sp500_panel(script: ModuleType, shared_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "size.csv"
    code = script.main(
        ["--samples", "200", "--draws", "200", "--panel", str(shared_dir / DEFAULT_PANEL)]
        + [
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = pd.read_csv(out)
    assert set(table["cell"]) == {"day 0", "CAR [-1, +1]"} and (table["R"] == 200).all()


def test_bad_input_exits_2(script: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert script.main(["--samples", "0", "--iid-normal"]) == 2
    assert "--samples" in capsys.readouterr().err
    assert script.main(["--car=3:1", "--iid-normal"]) == 2
