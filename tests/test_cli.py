"""The command line: exit codes, messages, and end-to-end runs of the seed events on real prices.

The real-data runs read ``../shared/data/curated/window_*`` (see ``docs/DATA.md``) through the
``shared_dir`` fixture: skipped locally without the folder, a failure in CI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventstudy.cli import main, parse_window
from eventstudy.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_parse_window() -> None:
    assert parse_window("-250:-11", "--estimation") == (-250, -11)
    with pytest.raises(InputError) as info:
        parse_window("5:1", "--car")
    assert info.value.parameter == "--car"
    with pytest.raises(InputError):
        parse_window("a:b", "--car")


def test_bad_events_file_exits_2_with_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,date,tickers\ne1,2021-13-01,BABA\n", encoding="utf-8")
    code = main(["run", str(bad), "--prices", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.csv:2" in err and "date" in err
    assert "Traceback" not in err


def test_bad_option_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(REPO / "events.csv"), "--prices", str(tmp_path), "--car", "3:1"])
    assert code == 2 and "--car" in capsys.readouterr().err
    assert main(["run", str(REPO / "events.csv"), "--model", "nope", "--prices", str(tmp_path)]) == 2
    assert main(["run"]) == 2  # argparse usage error


def test_no_usable_prices_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(REPO / "events.csv"), "--prices", str(tmp_path), "--quiet", "--out", str(tmp_path / "out")])
    assert code == 3
    assert "no usable prices" in capsys.readouterr().err


def test_unexpected_error_exits_70_and_debug_shows_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import eventstudy.study

    def boom(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    monkeypatch.setattr(eventstudy.study.EventStudy, "run", boom)
    args = ["run", str(REPO / "events.csv"), "--prices", str(tmp_path), "--quiet"]
    assert main(args) == 70
    err = capsys.readouterr().err
    assert "kaboom" in err and "Traceback" not in err
    assert main(["--debug", *args]) == 70
    assert "Traceback" in capsys.readouterr().err


def test_days_command_prints_day_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["days", str(REPO / "events.csv")]) == 0
    out = capsys.readouterr().out
    assert "xi_cfeac_platform_economy" in out and "2021-03-16" in out


def _hand_market_model_ar(folder: Path, ticker: str, bench: str, day0: str) -> float:
    """Market-model AR on day 0 computed directly from the CSV files with numpy (independent of the engine)."""
    t = pd.read_csv(folder / f"{ticker}.csv", index_col="Date")["Adj Close"].dropna()
    b = pd.read_csv(folder / f"{bench}.csv", index_col="Date")["Adj Close"].dropna()
    common = t.index.intersection(b.index)
    rt = t[common].to_numpy()
    rb = b[common].to_numpy()
    r_t, r_b = rt[1:] / rt[:-1] - 1, rb[1:] / rb[:-1] - 1
    dates = list(common[1:])
    i0 = dates.index(day0)
    est = slice(max(i0 - 250, 0), i0 - 10)  # relative days -250..-11
    beta, alpha = np.polyfit(r_b[est], r_t[est], 1)
    return float(r_t[i0] - alpha - beta * r_b[i0])


@pytest.mark.realdata
def test_seed_run_window_2019_2021(shared_dir: Path, tmp_path: Path) -> None:
    folder = shared_dir / "data" / "curated" / "window_2019_2021"
    out = tmp_path / "report"
    code = main(["run", str(REPO / "events.csv"), "--prices", str(folder), "--offline", "--quiet", "--out", str(out)])
    assert code == 0
    for name in (
        "event_days.csv",
        "parameters.csv",
        "abnormal_returns.csv",
        "car.csv",
        "tests.csv",
        "exclusions.csv",
        "report.md",
        "report.html",
        "report.pdf",
    ):
        assert (out / name).is_file(), name
    ar = pd.read_csv(out / "abnormal_returns.csv")
    row = ar[(ar.event_id == "xi_cfeac_platform_economy") & (ar.ticker == "0700.HK") & (ar.rel_day == 0)].iloc[0]
    assert row["date"] == "2021-03-16"
    expected = _hand_market_model_ar(folder, "0700.HK", "^HSI", "2021-03-16")
    assert row["abnormal_return"] == pytest.approx(expected, rel=1e-8)  # csv keeps 10 significant digits
    excl = pd.read_csv(out / "exclusions.csv")
    # MPNGY has no data; 9618.HK has only 86 estimation returns for E2; the 2025 events have no rows here
    assert ((excl.ticker == "MPNGY") & (excl.stage == "prices")).any()
    e2 = excl[(excl.event_id == "samr_platform_antitrust_draft") & (excl.ticker == "9618.HK")]
    assert e2["reason"].str.contains("insufficient estimation data: 86").all()
    assert (excl.event_id == "us_tariffs_can_mex_chn_signed").any()
    tests = pd.read_csv(out / "tests.csv")
    from eventstudy.inference import REGISTRY

    assert set(tests.test) == set(REGISTRY)  # every registered statistic, by default
    report = (out / "report.md").read_text(encoding="utf-8")
    assert all(name in report for name in REGISTRY)
    assert {"all", "xi_cfeac_platform_economy"} <= set(tests.group)
    assert "insufficient estimation data" in (out / "report.md").read_text(encoding="utf-8")


@pytest.mark.realdata
def test_seed_run_window_2023_2025(shared_dir: Path, tmp_path: Path) -> None:
    folder = shared_dir / "data" / "curated" / "window_2023_2025"
    out = tmp_path / "report"
    assert main(["run", str(REPO / "events.csv"), "--prices", str(folder), "--quiet", "--out", str(out)]) == 0
    ar = pd.read_csv(out / "abnormal_returns.csv")
    tsmc = ar[(ar.event_id == "us_tariffs_can_mex_chn_signed") & (ar.ticker == "2330.TW") & (ar.rel_day == 0)].iloc[0]
    assert tsmc["date"] == "2025-02-03"
    expected = _hand_market_model_ar(folder, "2330.TW", "^TWII", "2025-02-03")
    assert tsmc["abnormal_return"] == pytest.approx(expected, rel=1e-8)
    days = pd.read_csv(out / "event_days.csv")
    jpy = days[(days.event_id == "kato_fujitv_fx_watch") & (days.ticker == "JPY=X")].iloc[0]
    assert jpy["day_zero"] == "2025-02-03"
