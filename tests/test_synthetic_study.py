"""Synthetic controls in a study: ``EventStudy(donors=...)``, ``result.synthetic``, ``run --donors`` and the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_synthetic import _slsqp_weights  # type: ignore[import-not-found]

import eventstudy as es
from eventstudy.donors import SYNTHETIC_COLUMNS, DonorPanel
from eventstudy.study import EventStudy

DATES = pd.bdate_range("2020-01-01", "2021-06-30")
DONOR_TICKERS = ("0005.HK", "0388.HK", "0941.HK", "1299.HK", "2318.HK", "0883.HK")
SHOCK = 0.05


def write_hk_inputs(folder: Path) -> tuple[Path, Path]:
    """0700.HK = 0.6 x 0005.HK + 0.4 x 0388.HK + noise, plus a 5 % shock on 2021-03-02; ^HSI; six donors.

    Returns the events file (one date-only event on Monday 2021-03-01 at 20:00 Hong Kong time, so day 0 is
    2021-03-02) and the donors' wide price file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(21)
    market = rng.normal(0.0003, 0.01, len(DATES))
    donors = market[:, None] + rng.normal(0.0, 0.012, (len(DATES), len(DONOR_TICKERS)))
    treated = 0.6 * donors[:, 0] + 0.4 * donors[:, 1] + rng.normal(0.0, 0.002, len(DATES))
    treated[DATES.get_loc(pd.Timestamp("2021-03-02"))] += SHOCK
    wide = pd.DataFrame(100.0 * np.cumprod(1.0 + donors, axis=0), index=DATES, columns=list(DONOR_TICKERS))
    wide.index.name = "Date"
    wide.to_csv(folder / "wide.csv", date_format="%Y-%m-%d")
    for symbol, returns in (("0700.HK", treated), ("^HSI", market)):
        values = 50.0 * np.cumprod(1.0 + returns)
        frame = pd.DataFrame({"Date": DATES.strftime("%Y-%m-%d"), "Close": values, "Adj Close": values})
        frame.to_csv(folder / f"{symbol}.csv", index=False)
    events = folder / "events.csv"
    events.write_text(
        "event_id,date,time,timezone,tickers,benchmark\ne1,2021-03-01,20:00,Asia/Hong_Kong,0700.HK,^HSI\n",
        encoding="utf-8",
    )
    return events, folder / "wide.csv"


def test_study_synthetic_frame_recovers_the_shock(tmp_path: Path) -> None:
    events, wide = write_hk_inputs(tmp_path)
    study = EventStudy.from_csv(events, prices=es.CsvPrices(tmp_path), donors=DonorPanel.from_csv(wide), progress=False)
    result = study.run()
    frame = result.synthetic
    assert tuple(frame.columns) == SYNTHETIC_COLUMNS
    assert len(frame) == len(result.spec.car_windows)
    day0 = frame[(frame.window_start == 0) & (frame.window_end == 0)].iloc[0]
    assert day0["car_synthetic"] == pytest.approx(SHOCK, abs=0.008)
    assert day0["n_donors"] == len(DONOR_TICKERS)
    assert day0["n_pre"] == 240
    assert day0["top_weights"].startswith("0005.HK 0.6")
    assert day0["p_placebo"] == pytest.approx(1 / 7)  # the treated ranks first among 6 placebos
    assert day0["p_conformal"] < 0.01
    assert day0["ci_low"] < SHOCK < day0["ci_high"]
    car = result.car
    model = car[(car.window_start == 0) & (car.window_end == 0)]["car"].iloc[0]
    assert day0["car_model"] == model
    # an independent solve: SLSQP weights on donor returns from pandas (consecutive rows of the wide file)
    prices = pd.read_csv(wide, index_col=0, parse_dates=True).pct_change()
    est_dates = pd.DatetimeIndex(result.panel.est_dates[0])
    y = result.panel.est_returns[0]
    x = prices.loc[est_dates].to_numpy()
    weights = _slsqp_weights(y, x)
    evt = result.panel.event_days == 0
    evt_date = pd.DatetimeIndex(result.panel.evt_dates[0][evt])
    expected = float(result.panel.evt_returns[0][evt][0] - prices.loc[evt_date].to_numpy()[0] @ weights)
    assert day0["car_synthetic"] == pytest.approx(expected, abs=1e-6)
    assert "synthetic" in result.frames()


def test_study_without_donors_has_an_empty_synthetic_frame(tmp_path: Path) -> None:
    events, _ = write_hk_inputs(tmp_path)
    result = EventStudy.from_csv(events, prices=es.CsvPrices(tmp_path), progress=False).run()
    assert tuple(result.synthetic.columns) == SYNTHETIC_COLUMNS
    assert result.synthetic.empty
    assert "synthetic" not in result.frames()


def test_cli_run_with_donors_writes_synthetic_csv_and_the_report_section(tmp_path: Path, eventstudy_cli: Any) -> None:
    events, wide = write_hk_inputs(tmp_path / "in")
    out = tmp_path / "out"
    run = eventstudy_cli(
        "run", str(events), "--prices", str(events.parent), "--donors", str(wide), "--formats", "md", "--out", str(out)
    )
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out / "synthetic.csv")
    assert tuple(table.columns) == SYNTHETIC_COLUMNS
    day0 = table[(table.window_start == 0) & (table.window_end == 0)].iloc[0]
    assert day0["car_synthetic"] == pytest.approx(SHOCK, abs=0.008)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Synthetic control" in report
    assert "from the donor prices wide.csv" in report and str(tmp_path) not in report


def test_cli_missing_donors_file_exits_2_naming_it(tmp_path: Path, eventstudy_cli: Any) -> None:
    events, _ = write_hk_inputs(tmp_path / "in")
    missing = tmp_path / "no_such_donors.csv"
    run = eventstudy_cli(
        "run", str(events), "--prices", str(events.parent), "--donors", str(missing), "--out", str(tmp_path / "out")
    )
    assert run.returncode == 2
    assert "--donors" in run.stderr and "no_such_donors.csv" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out" / "synthetic.csv").exists()


@pytest.mark.realdata
def test_seed_hk_legs_against_the_hang_seng_panel(shared_dir: Path) -> None:
    """SAMR draft (2020-11-10): the four HK legs with the Hang Seng panel as donors."""
    repo = Path(__file__).resolve().parents[1]
    donors = DonorPanel.from_csv(shared_dir / "data" / "curated" / "panel_hk_2020_2025" / "adj_close_wide.csv")
    study = EventStudy.from_csv(
        repo / "events.csv",
        prices=es.CsvPrices(shared_dir / "data" / "curated" / "window_2019_2021"),
        ids="samr_platform_antitrust_draft",
        donors=donors,
        progress=False,
    )
    result = study.run()
    frame = result.synthetic
    headline = frame[(frame.window_start == -1) & (frame.window_end == 1)].set_index("ticker")
    hk = headline.loc[["0700.HK", "9988.HK", "3690.HK"]]
    assert (hk["reason"] == "").all()
    assert (hk["car_synthetic"] < 0).all()  # the platform sell-off of 2020-11-10/11
    assert ((hk["p_placebo"] > 0) & (hk["p_placebo"] <= 1)).all()
    assert ((hk["ci_low"] <= hk["car_synthetic"]) & (hk["car_synthetic"] <= hk["ci_high"])).all()
    # the other platform names have their own event that day: never donors
    for ticker in ("0700.HK", "9988.HK", "3690.HK"):
        assert not {"0700.HK", "9988.HK", "3690.HK", "9618.HK"} & {
            part.split()[0] for part in hk.loc[ticker, "top_weights"].split("; ")
        }
    assert headline.loc["BABA", "reason"] == "BABA trades on XNYS; the donors of adj_close_wide.csv trade on XHKG"


# ------------------------------------------------------------------ the normal-return model "synthetic"


def test_synthetic_model_ars_are_the_synthetic_control(tmp_path: Path) -> None:
    events, wide = write_hk_inputs(tmp_path)
    donors = DonorPanel.from_csv(wide)
    result = EventStudy.from_csv(
        events, prices=es.CsvPrices(tmp_path), model="synthetic", donors=donors, progress=False
    ).run()
    table = result.synthetic.set_index(["window_start", "window_end"])
    car = result.car.set_index(["window_start", "window_end"])
    # the model's CARs are the table's synthetic CARs (same weights), and the table's car_model is the model's
    np.testing.assert_allclose(car["car"], table["car_synthetic"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(table["car_model"], table["car_synthetic"], rtol=0, atol=1e-15)
    assert car.loc[(0, 0), "car"] == pytest.approx(SHOCK, abs=0.008)
    # s^2 = SSR / (M - 1) of the estimation residuals, df = M - 1, Var(CAR) = L s^2
    residuals = result.fit.residuals[0][np.isfinite(result.fit.residuals[0])]
    m = len(residuals)
    s2 = np.sum(residuals**2) / (m - 1)
    assert result.fit.df[0] == m - 1 == 239
    assert result.fit.s2[0] == pytest.approx(s2, rel=1e-12)
    assert car.loc[(-1, 1), "se"] == pytest.approx(np.sqrt(3 * s2), rel=1e-12)
    assert car.loc[(-1, 1), "df"] == m - 1
    parameters = result.parameters
    assert parameters.loc[0, "model"] == "synthetic"
    assert parameters.loc[0, "n_donors"] == len(DONOR_TICKERS)
    assert parameters.loc[0, "rmspe_pre"] == pytest.approx(np.sqrt(np.mean(residuals**2)))
    assert "synthetic control" in result.settings["AR variance"]


def test_synthetic_model_excludes_firm_events_on_another_exchange(tmp_path: Path) -> None:
    events, wide = write_hk_inputs(tmp_path)
    us = pd.read_csv(tmp_path / "0700.HK.csv")
    us.to_csv(tmp_path / "AAA.csv", index=False)
    us.to_csv(tmp_path / "^GSPC.csv", index=False)
    events.write_text(
        "event_id,date,time,timezone,tickers,benchmark\ne1,2021-03-01,20:00,Asia/Hong_Kong,0700.HK;AAA,^HSI;^GSPC\n",
        encoding="utf-8",
    )
    study = EventStudy.from_csv(
        events, prices=es.CsvPrices(tmp_path), model="synthetic", donors=DonorPanel.from_csv(wide), progress=False
    )
    result = study.run()
    assert list(result.panel.pairs["ticker"]) == ["0700.HK"]
    reason = result.exclusions.set_index("ticker").loc["AAA", "reason"]
    assert reason == "synthetic control not fitted: AAA trades on XNYS; the donors of wide.csv trade on XHKG"


def test_synthetic_model_without_donors_is_refused(tmp_path: Path, eventstudy_cli: Any) -> None:
    events, _ = write_hk_inputs(tmp_path / "in")
    with pytest.raises(es.InputError, match="--donors"):
        EventStudy.from_csv(events, prices=es.CsvPrices(events.parent), model="synthetic")
    run = eventstudy_cli(
        "run", str(events), "--prices", str(events.parent), "--model", "synthetic", "--out", str(tmp_path / "out")
    )
    assert run.returncode == 2
    assert "--donors" in run.stderr and "Traceback" not in run.stderr


def test_cli_model_synthetic_with_donors(tmp_path: Path, eventstudy_cli: Any) -> None:
    events, wide = write_hk_inputs(tmp_path / "in")
    out = tmp_path / "out"
    run = eventstudy_cli(
        "run",
        str(events),
        "--prices",
        str(events.parent),
        "--model",
        "synthetic",
        "--donors",
        str(wide),
        "--formats",
        "md",
        "--out",
        str(out),
    )
    assert run.returncode == 0, run.stderr
    car = pd.read_csv(out / "car.csv")
    synthetic = pd.read_csv(out / "synthetic.csv")
    np.testing.assert_allclose(car["car"], synthetic["car_synthetic"], atol=1e-9)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "synthetic control (convex combination of donor returns" in report
