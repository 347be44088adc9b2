"""The command line as users type it: argument parsing, exit statuses, messages, and the seed runs.

Argument parsing is tested through the installed console script in a subprocess (``eventstudy_cli``,
tests/conftest.py); messages and exit statuses where parsing is not the point run in-process through
``main([...])``, which is faster. Small inputs are synthetic prices built in code; the two seed runs of
the README on ``../shared/data/curated/window_*`` (``../shared/docs/DATA.md``) come from the session fixture
``seed_reports`` (rendered once per session), skipped locally without the shared folder and a failure in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eventstudy.cli import join_signed_values, main, parse_window, stage_printer
from eventstudy.errors import InputError

REPO = Path(__file__).resolve().parents[1]
DATES = pd.bdate_range("2020-01-01", "2021-12-31")
RunCli = Callable[..., Any]


def write_prices(folder: Path, start: str = "2020-01-01", symbols: tuple[str, ...] = ("A", "B")) -> Path:
    """Synthetic Yahoo-layout CSVs for ``symbols`` and the benchmark M (weekdays from ``start``) and an events file.

    The events file has one event, e1 on Monday 2021-03-01 (date only, New York), tickers A;B, benchmark M.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    market = rng.normal(0.0003, 0.01, len(DATES))
    keep = np.asarray(DATES) >= np.datetime64(start)
    columns = {"M": 1000 * np.exp(np.cumsum(market))}
    for i, symbol in enumerate(symbols):
        columns[symbol] = 50 * np.exp(np.cumsum(0.0002 + (1 + 0.2 * i) * market + rng.normal(0, 0.015, len(DATES))))
    for symbol, values in columns.items():
        frame = pd.DataFrame({"Date": DATES.strftime("%Y-%m-%d"), "Close": values, "Adj Close": values})
        frame[keep].to_csv(folder / f"{symbol}.csv", index=False)
    events = folder / "events.csv"
    events.write_text(
        "event_id,date,timezone,tickers,benchmark\ne1,2021-03-01,America/New_York,A;B,M\n", encoding="utf-8"
    )
    return events


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """Folder ``tmp_path/in`` with A, B, M prices for 2020-2021 and ``events.csv``; returns the events file."""
    return write_prices(tmp_path / "in")


def write_panel(folder: Path) -> Path:
    """A tiny wide price panel for ``simulate --panel``: 12 tickers and the market ^GSPC on 400 weekdays."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2015-01-02", periods=400)
    market = rng.normal(0.0, 0.01, len(dates))
    prices = {f"T{i:02d}": 30 * np.exp(np.cumsum(market + rng.normal(0, 0.02, len(dates)))) for i in range(12)}
    pd.DataFrame(prices, index=pd.Index(dates, name="Date")).to_csv(folder / "adj_close_wide.csv.gz")
    pd.DataFrame({"^GSPC": 2000 * np.exp(np.cumsum(market))}, index=pd.Index(dates, name="Date")).to_csv(
        folder / "market.csv"
    )
    return folder


def assert_parsed(stderr: str) -> None:
    """The options were parsed: the error (if any) comes from validation, not from argparse."""
    assert "usage:" not in stderr and "expected one argument" not in stderr, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr


# ------------------------------------------------------------------------------------ parsing helpers
def test_parse_window() -> None:
    assert parse_window("-250:-11", "--estimation") == (-250, -11)
    with pytest.raises(InputError) as info:
        parse_window("5:1", "--car")
    assert info.value.parameter == "--car"
    with pytest.raises(InputError):
        parse_window("a:b", "--car")


def test_join_signed_values_joins_only_values_of_window_options() -> None:
    argv = ["run", "e.csv", "--estimation", "-250:-11", "--car", "0:1", "--car", "-1:1", "--delta", "-0.5%"]
    assert join_signed_values(argv) == [
        "run",
        "e.csv",
        "--estimation=-250:-11",
        "--car",
        "0:1",
        "--car=-1:1",
        "--delta=-0.5%",
    ]
    # an option after a window option, a value of another option and everything after "--" stay as they are
    assert join_signed_values(["--car", "--quiet", "--min-obs", "-5", "--", "--car", "-1:1"]) == [
        "--car",
        "--quiet",
        "--min-obs",
        "-5",
        "--",
        "--car",
        "-1:1",
    ]


# ------------------------------------------------------------------- the console script, as typed
def test_run_with_negative_windows_typed_with_a_space(inputs: Path, eventstudy_cli: RunCli) -> None:
    folder = inputs.parent
    out = folder / "out"
    run = eventstudy_cli(
        "run",
        "events.csv",
        "--prices",
        ".",
        "--estimation",
        "-120:-11",
        "--window",
        "-5:5",
        "--car",
        "-1:1",
        "--car",
        "0:1",
        "--min-obs",
        "60",
        "--formats",
        "md",
        "--out",
        "out",
        cwd=folder,
    )
    assert run.returncode == 0, run.stderr
    parameters = pd.read_csv(out / "parameters.csv")
    assert set(parameters["estimation_window"]) == {"[-120, -11]"}
    assert set(parameters["n_obs"]) == {120 - 11 + 1}  # full history: every day of [-120, -11]
    ar = pd.read_csv(out / "abnormal_returns.csv")
    assert sorted(set(ar["rel_day"])) == list(range(-5, 6))
    car = pd.read_csv(out / "car.csv")
    assert set(zip(car["window_start"], car["window_end"], strict=True)) == {(-1, 1), (0, 1)}
    # --formats md: only report.md is written, and only report.md is announced
    assert (out / "report.md").is_file() and not (out / "report.html").exists() and not (out / "report.pdf").exists()
    assert "report.md" in run.stdout and "report.html" not in run.stdout and "report.pdf" not in run.stdout


def test_equals_form_still_works(inputs: Path, eventstudy_cli: RunCli) -> None:
    # a CAR window outside the event window: the validation error echoes both parsed windows
    run = eventstudy_cli(
        "run", "events.csv", "--prices", ".", "--estimation=-250:-11", "--window=-5:5", "--car=-6:6", cwd=inputs.parent
    )
    assert run.returncode == 2
    assert_parsed(run.stderr)
    assert "--car" in run.stderr and "(-6, 6)" in run.stderr and "(-5, 5)" in run.stderr


def test_fetch_parses_negative_windows(inputs: Path, eventstudy_cli: RunCli) -> None:
    run = eventstudy_cli("fetch", "events.csv", "--estimation", "-5:-1", "--window", "-5:5", cwd=inputs.parent)
    assert run.returncode == 2
    assert_parsed(run.stderr)
    assert "--estimation" in run.stderr and "(-5, -1)" in run.stderr and "(-5, 5)" in run.stderr


@pytest.mark.slow  # a simulation end to end
def test_simulate_parses_negative_windows_and_delta(tmp_path: Path, eventstudy_cli: RunCli) -> None:
    panel = write_panel(tmp_path / "panel")
    run = eventstudy_cli(
        "simulate",
        "--panel",
        str(panel),
        "--estimation",
        "-120:-6",
        "--window",
        "-5:5",
        "--workers",
        "0",
        "--car",
        "-1:1",
        "--delta",
        "-0.5%",
        "--samples",
        "2",
        "--events",
        "4",
        "--tests",
        "cross_sectional_t",
        "--out",
        str(tmp_path / "sim"),
        "--quiet",
    )
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(tmp_path / "sim" / "simulation.csv")
    assert set(table["delta"]) == {-0.005}
    assert {(-1, 1)} <= set(zip(table["window_start"], table["window_end"], strict=True))


def test_misspelt_option_suggests_the_nearest(eventstudy_cli: RunCli) -> None:
    run = eventstudy_cli("run", "events.csv", "--estimaton", "-250:-11")
    assert run.returncode == 2
    assert "did you mean --estimation?" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["simulate", "--sampels", "3"], "did you mean --samples?"),
        (["store", "ls", "--stroe", "x.sqlite"], "did you mean --store?"),
        (["run", "events.csv", "--est", "-250:-11"], "did you mean --estimation?"),  # no abbreviations
        (["simulate", "--e", "5"], "did you mean --end or --events or --estimation?"),
        (["days", "events.csv", "--zzzzzz"], "unrecognized arguments: --zzzzzz"),  # nothing close
    ],
)
def test_misspelt_option_messages(argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert hint in err and "Traceback" not in err


def test_debug_is_accepted_after_the_subcommand(eventstudy_cli: RunCli, capsys: pytest.CaptureFixture[str]) -> None:
    days = eventstudy_cli("days", str(REPO / "events.csv"), "--debug")
    assert days.returncode == 0, days.stderr
    assert "xi_cfeac_platform_economy" in days.stdout and "2021-03-16" in days.stdout
    store = str(days.cwd / "none.sqlite")
    assert main(["store", "ls", "--store", store, "--debug"]) == 0
    assert main(["--debug", "store", "ls", "--store", store]) == 0
    assert "does not exist yet" in capsys.readouterr().out


@pytest.mark.slow
def test_closed_pipe_is_not_a_bug(console_script_path: Path) -> None:
    # `eventstudy days events.csv | head -1` where the reader has gone before the table is printed
    process = subprocess.Popen(
        [str(console_script_path), "days", str(REPO / "events.csv")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "internal error" not in err and "Traceback" not in err and "Exception ignored" not in err


# --------------------------------------------------------------- exit statuses and messages (in-process)
def _run_args(events: Path, *extra: str) -> list[str]:
    return ["run", str(events), "--prices", str(events.parent), "--quiet", "--formats", "md", *extra]


@pytest.fixture
def no_study_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any call of EventStudy.run fail the test: the checks must come before any work."""
    import eventstudy.study

    def forbidden(self):  # type: ignore[no-untyped-def]
        raise AssertionError("EventStudy.run was called before the output folder was checked")

    monkeypatch.setattr(eventstudy.study.EventStudy, "run", forbidden)


@pytest.mark.parametrize("case", ["existing file", "events file", "under a file"])
def test_unusable_out_exits_2_naming_the_path(
    inputs: Path, case: str, no_study_run: None, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = inputs.parent / "notes.txt"
    afile.write_text("keep me\n", encoding="utf-8")
    out = {"existing file": afile, "events file": inputs, "under a file": afile / "report"}[case]
    before = {p: p.read_bytes() for p in inputs.parent.iterdir() if p.is_file()}
    assert main(_run_args(inputs, "--out", str(out))) == 2
    err = capsys.readouterr().err
    assert "--out" in err and str(out) in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in inputs.parent.iterdir() if p.is_file()} == before  # nothing written or lost


def test_simulate_out_naming_a_file_exits_2_before_loading_the_panel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "table.csv"
    afile.write_text("keep me\n", encoding="utf-8")
    assert main(["simulate", "--panel", str(tmp_path / "no-panel"), "--out", str(afile)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and str(afile) in err and "no-panel" not in err  # the panel was never read
    assert afile.read_text(encoding="utf-8") == "keep me\n"


def test_read_only_out_folder_exits_2(inputs: Path, no_study_run: None, capsys: pytest.CaptureFixture[str]) -> None:
    locked = inputs.parent / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this user may write to a read-only folder (root); see the simulated variant")
        assert main(_run_args(inputs, "--out", str(locked / "report"))) == 2
        err = capsys.readouterr().err
        assert "--out" in err and "read-only" in err and str(locked) in err
    finally:
        locked.chmod(0o755)


def test_read_only_out_folder_exits_2_simulated(
    inputs: Path, no_study_run: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the operating system says the folder is not writable (as it does to anyone but root)
    locked = inputs.parent / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    assert main(_run_args(inputs, "--out", str(locked / "report"))) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "read-only" in err and str(locked) in err
    assert not (locked / "report").exists()


def test_nothing_estimated_exits_3_with_reasons_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # prices start on 2021-02-01: day 0 (2021-03-01) has 19 returns before it, of which rel. days
    # -19..-11 (9 returns) fall in [-120, -11]; fewer than 60, for both A and B. ZZZ has no file at all.
    events = write_prices(tmp_path / "in", start="2021-02-01")
    events.write_text(
        "event_id,date,timezone,tickers,benchmark\ne1,2021-03-01,America/New_York,A;B;ZZZ,M\n", encoding="utf-8"
    )
    returns_before_day0 = len(pd.bdate_range("2021-02-02", "2021-02-26"))
    in_window = returns_before_day0 - 10
    assert in_window == 9
    out = tmp_path / "out"
    code = main(_run_args(events, "--estimation", "-120:-11", "--window", "-5:5", "--min-obs", "60", "--out", str(out)))
    err = capsys.readouterr().err
    assert code == 3
    assert "nothing could be estimated: all 3 firm-events were excluded" in err
    assert (
        f"estimation, insufficient estimation data: 2 firm-events (e.g. e1 / A: insufficient estimation data: {in_window} returns in [-120, -11], minimum 60)"
        in err
    )
    assert "prices, no data: 1 firm-event (e.g. e1 / ZZZ" in err
    assert "Traceback" not in err
    assert not out.exists()  # no report, no empty chart


@pytest.mark.parametrize(
    ("option", "value", "bound"),
    [("--estimation", "-100000:-11", "(-100000, -11)"), ("--window", "-5:100000", "(-5, 100000)")],
)
def test_huge_window_offsets_exit_2_with_the_bound(
    inputs: Path, option: str, value: str, bound: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_run_args(inputs, option, value)) == 2
    err = capsys.readouterr().err
    assert option in err and bound in err and "5,000 trading days" in err and "Traceback" not in err


@pytest.mark.parametrize(("value", "text"), [("4", "at least k + 3 = 5"), ("241", "exceeds the 240 trading days")])
def test_min_obs_outside_its_range_exits_2(
    inputs: Path, value: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_run_args(inputs, "--min-obs", value)) == 2
    err = capsys.readouterr().err
    assert "eventstudy: error: --min-obs:" in err and text in err


def test_bad_events_file_exits_2_with_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,date,tickers\ne1,2021-13-01,BABA\n", encoding="utf-8")
    code = main(["run", str(bad), "--prices", str(tmp_path), "--quiet", "--out", str(tmp_path / "out")])
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
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_unexpected_error_exits_70_and_debug_shows_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    import eventstudy.study

    def boom(self, progress=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    monkeypatch.setattr(eventstudy.study.EventStudy, "run", boom)
    args = ["run", str(REPO / "events.csv"), "--prices", str(tmp_path), "--quiet", "--out", str(tmp_path / "out")]
    assert main(args) == 70
    err = capsys.readouterr().err
    assert "kaboom" in err and "Traceback" not in err
    assert main(["--debug", *args] if where == "before" else [*args, "--debug"]) == 70
    assert "Traceback" in capsys.readouterr().err


# ------------------------------------------------------------------------- the seed runs (README)
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


REPORT_FILES = (
    "event_days.csv",
    "parameters.csv",
    "abnormal_returns.csv",
    "car.csv",
    "tests.csv",
    "exclusions.csv",
    "report.md",
    "report.html",
    "report.pdf",
)


@pytest.mark.slow
@pytest.mark.realdata
def test_seed_run_window_2019_2021(shared_dir: Path, seed_reports: dict[str, Any]) -> None:
    seed = seed_reports["seed_2020_2021"]
    assert seed.run.returncode == 0, seed.run.stderr
    out = seed.out
    for name in REPORT_FILES:
        assert (out / name).is_file(), name
    assert all(f"reports/seed_2020_2021/report.{kind}" in seed.run.stdout for kind in ("md", "html", "pdf"))
    folder = shared_dir / "data" / "curated" / "window_2019_2021"
    ar = pd.read_csv(out / "abnormal_returns.csv")
    row = ar[(ar.event_id == "xi_cfeac_platform_economy") & (ar.ticker == "0700.HK") & (ar.rel_day == 0)].iloc[0]
    assert row["date"] == "2021-03-16"
    expected = _hand_market_model_ar(folder, "0700.HK", "^HSI", "2021-03-16")
    assert row["abnormal_return"] == pytest.approx(expected, rel=1e-8)  # csv keeps 10 significant digits
    excl = pd.read_csv(out / "exclusions.csv")
    # MPNGY has no data; 9618.HK has only 86 estimation returns for E2; the 2025 events are not selected
    assert ((excl.ticker == "MPNGY") & (excl.stage == "prices")).any()
    e2 = excl[(excl.event_id == "samr_platform_antitrust_draft") & (excl.ticker == "9618.HK")]
    assert e2["reason"].str.contains("insufficient estimation data: 86").all()
    assert not excl.event_id.str.startswith(("us_", "trump_", "taiwan_", "kato_")).any()
    assert set(excl.stage) == {"prices", "estimation"}  # no event outside the price range
    assert "China platform regulation, 2020-21" in (out / "report.md").read_text(encoding="utf-8")
    tests = pd.read_csv(out / "tests.csv")
    from eventstudy.inference import REGISTRY

    assert set(tests.test) == set(REGISTRY)  # every registered statistic, by default
    report = (out / "report.md").read_text(encoding="utf-8")
    assert all(name in report for name in REGISTRY)
    assert {"all", "xi_cfeac_platform_economy"} <= set(tests.group)
    assert "insufficient estimation data" in report
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
    # the listing pairs of pairs.csv: the Tencent and Alibaba lines against their ADRs, Meituan's ADR without data
    pairs = pd.read_csv(out / "pairs.csv")
    assert {("0700.HK", "TCEHY"), ("9988.HK", "BABA")} == set(zip(pairs["home"], pairs["adr"], strict=True))
    xi = pairs[(pairs.event_id == "xi_cfeac_platform_economy") & (pairs.home == "0700.HK")].iloc[:1]
    assert xi[["home_day_zero", "adr_day_zero"]].values.tolist() == [["2021-03-16", "2021-03-15"]]  # own day 0s
    assert "## Listing pairs: home line versus ADR" in report and "3690.HK/MPNGY: no event with both legs" in report


@pytest.mark.slow
@pytest.mark.realdata
def test_seed_run_window_2023_2025(shared_dir: Path, seed_reports: dict[str, Any]) -> None:
    seed = seed_reports["seed_2025"]
    assert seed.run.returncode == 0, seed.run.stderr
    out = seed.out
    for name in REPORT_FILES:
        assert (out / name).is_file(), name
    folder = shared_dir / "data" / "curated" / "window_2023_2025"
    ar = pd.read_csv(out / "abnormal_returns.csv")
    tsmc = ar[(ar.event_id == "us_tariffs_can_mex_chn_signed") & (ar.ticker == "2330.TW") & (ar.rel_day == 0)].iloc[0]
    assert tsmc["date"] == "2025-02-03"
    expected = _hand_market_model_ar(folder, "2330.TW", "^TWII", "2025-02-03")
    assert tsmc["abnormal_return"] == pytest.approx(expected, rel=1e-8)
    days = pd.read_csv(out / "event_days.csv")
    jpy = days[(days.event_id == "kato_fujitv_fx_watch") & (days.ticker == "JPY=X")].iloc[0]
    assert jpy["day_zero"] == "2025-02-03"


# ------------------------------------------------------------------------- selection, titles, groups
def write_three_events(folder: Path) -> Path:
    """Prices of A, B, M (``write_prices``) and three events: r1 (A;B), p1 (A), r2 (B), two categories."""
    write_prices(folder)
    events = folder / "three.csv"
    events.write_text(
        "event_id,date,timezone,category,tickers,benchmark\n"
        "r1,2021-03-01,America/New_York,regulatory,A;B,M\n"
        "p1,2021-06-01,America/New_York,policy,A,M\n"
        "r2,2021-09-15,America/New_York,regulatory,B;A,M\n",
        encoding="utf-8",
    )
    return events


def test_selection_title_and_groups_through_the_console_script(tmp_path: Path, eventstudy_cli: RunCli) -> None:
    events = write_three_events(tmp_path / "in")
    run = eventstudy_cli(
        "run", str(events), "--prices", str(tmp_path / "in"), "--formats", "md", "--out", "out",
        "--from", "2021-02-01", "--to", "2021-12-31", "--category", "regulatory,policy", "--events", "r1,p1",
        "--events", "r2", "--title", "Three synthetic events", "--group-by", "category",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "5 firm-events of 3 events estimated, 5 pooled; 0 exclusions." in run.stdout
    out = tmp_path / "out"
    assert "Three synthetic events" in (out / "report.md").read_text(encoding="utf-8")
    groups = list(dict.fromkeys(pd.read_csv(out / "tests.csv")["group"]))
    assert groups == ["all", "category=regulatory", "category=policy", "r1", "p1", "r2"]
    differences = pd.read_csv(out / "group_differences.csv")
    assert set(differences["test"]) == {"welch_t", "mann_whitney_u", "permutation"}
    assert set(zip(differences.group_a, differences.group_b, strict=True)) == {
        ("category=regulatory", "category=policy")
    }
    assert "eventstudy: prices" not in run.stderr  # a pipe: no stage messages
    narrow = eventstudy_cli(
        "run", str(events), "--prices", str(tmp_path / "in"), "--formats", "md", "--out", "narrow", "--quiet",
        "--category", "regulatory", "--to", "2021-06-30",
    )  # fmt: skip
    assert narrow.returncode == 0, narrow.stderr
    assert set(pd.read_csv(tmp_path / "narrow" / "car.csv")["event_id"]) == {"r1"}
    knobs = pd.read_csv(tmp_path / "narrow" / "knobs.csv").set_index("knob")["value"]
    assert knobs["pooling"] == "distinct"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (("--events", "r1,zz"), "--events: unknown event id 'zz'; choose one of: p1, r1, r2"),
        (("--category", "trade"), "--category: unknown category 'trade'; choose one of: policy, regulatory"),
        (("--from", "2022-01-01"), "the selection leaves no event"),
        (("--to", "2021-02-30"), "--to: expected a date YYYY-MM-DD"),
        (("--group-by", "sector"), "--group-by: unknown grouping column 'sector'"),
    ],
)
def test_bad_selection_or_grouping_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], fragment: str
) -> None:
    events = write_three_events(tmp_path / "in")
    code = main(["run", str(events), "--prices", str(tmp_path / "in"), "--out", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_groups_file_errors_name_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write_three_events(tmp_path / "in")
    groups = tmp_path / "groups.csv"
    groups.write_text("ticker,listing\nA,one\nQQQ,two\n", encoding="utf-8")
    code = main(["run", str(events), "--prices", str(tmp_path / "in"), "--groups", str(groups), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "groups.csv:3" in err and "QQQ" in err
    assert main(["run", str(events), "--groups", str(groups), "--group-by", "category"]) == 2  # one or the other
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(("tty", "env", "flag", "shown"), [
    (True, {}, (), True),
    (False, {}, (), False),
    (True, {"CI": "true"}, (), False),
    (True, {}, ("--quiet",), False),
])  # fmt: skip
def test_stage_messages_only_on_a_terminal(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tty: bool,
    env: dict[str, str],
    flag: tuple[str, ...],
    shown: bool,
) -> None:
    events = write_prices(tmp_path / "in")
    monkeypatch.delenv("CI", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    args = ["run", str(events), "--prices", str(tmp_path / "in"), "--formats", "md", "--out", str(tmp_path / "o")]
    assert main([*args, *flag]) == 0
    err = capsys.readouterr().err
    stages = [line.split(":")[1].strip() for line in err.splitlines() if line.startswith("eventstudy: ")]
    if shown:
        assert stages[:4] == ["prices", "prices", "estimation", "tests"], err
    else:
        assert stages == [], err


def test_a_counter_rewrites_one_terminal_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    show = stage_printer(quiet=False)
    assert show is not None
    for message in ("tests", "figures 1/3", "figures 2/3", "report.md", "figures 3/3", "report.html"):
        show(message)
    err = capsys.readouterr().err
    assert err == (
        "eventstudy: tests\n"
        "\reventstudy: figures 1/3\reventstudy: figures 2/3\n"  # another message ends the counter's line
        "eventstudy: report.md\n"
        "\reventstudy: figures 3/3\n"  # a complete count ends its line
        "eventstudy: report.html\n"
    )


@pytest.mark.slow
@pytest.mark.realdata
def test_seed_2020_2021_flags_shared_firm_days(seed_reports: dict[str, Any]) -> None:
    """The Xi and WSJ events share 9988.HK's and BABA's day 0; TCEHY's Tencent report is day -1 of the Xi event."""
    out = seed_reports["seed_2020_2021"].out
    firm = pd.read_csv(out / "firm_events.csv", keep_default_na=False).set_index(["event_id", "ticker"])
    for ticker in ("9988.HK", "BABA"):
        assert firm.loc[("wsj_alibaba_media_divest", ticker), "duplicate_of"] == "xi_cfeac_platform_economy"
        assert not firm.loc[("wsj_alibaba_media_divest", ticker), "pooled"]
        assert firm.loc[("xi_cfeac_platform_economy", ticker), "pooled"]
    assert "tencent_next_target_bbg (day -1)" in firm.loc[("xi_cfeac_platform_economy", "TCEHY"), "overlaps"]
    assert "xi_cfeac_platform_economy (day +1)" in firm.loc[("tencent_next_target_bbg", "TCEHY"), "overlaps"]
    days = pd.read_csv(out / "event_days.csv", keep_default_na=False).set_index(["event_id", "ticker"])
    assert days.loc[("wsj_alibaba_media_divest", "BABA"), "duplicate_of"] == "xi_cfeac_platform_economy"
    assert "tencent_next_target_bbg (day -1)" in days.loc[("xi_cfeac_platform_economy", "TCEHY"), "overlaps"]
    assert days.loc[("xi_cfeac_platform_economy", "TCEHY"), "event_time_utc"] == "2021-03-15T11:00:00Z"


@pytest.mark.slow
@pytest.mark.realdata
def test_seed_2025_counts_each_firm_day_once(seed_reports: dict[str, Any]) -> None:
    """2317.TW is in five 2025 events on two day 0s (02-03, 02-04): it enters "all" twice, not five times."""
    out = seed_reports["seed_2025"].out
    firm = pd.read_csv(out / "firm_events.csv", keep_default_na=False)
    foxconn = firm[firm.ticker == "2317.TW"]
    assert len(foxconn) == 5 and sorted(foxconn.day_zero.unique()) == ["2025-02-03", "2025-02-04"]
    pooled = firm[firm.pooled]
    assert sorted(pooled[pooled.ticker == "2317.TW"].day_zero) == ["2025-02-03", "2025-02-04"]
    distinct = firm.drop_duplicates(["ticker", "day_zero"])
    assert len(pooled) == len(distinct) < len(firm)
    # the pooled statistics count the distinct firm-days with an AR on day 0
    ar = pd.read_csv(out / "abnormal_returns.csv")
    day0 = ar[(ar.rel_day == 0) & ar.abnormal_return.notna()].merge(pooled[["event_id", "ticker"]])
    tests = pd.read_csv(out / "tests.csv")
    cell = tests[(tests.group == "all") & (tests.scope == "day") & (tests.window_start == 0)]
    assert cell.loc[cell.test == "cross_sectional_t", "n"].item() == len(day0)
    assert set(pd.read_csv(out / "exclusions.csv").stage) <= {"prices", "estimation"}


# ------------------------------------------------------------------------------------ large-study options
def _wide_prices(folder: Path) -> pd.DataFrame:
    """The A, B, M closes of :func:`write_prices` as one wide frame (date + one column per ticker)."""
    closes = {s: pd.read_csv(folder / f"{s}.csv")["Adj Close"].to_numpy() for s in ("A", "B", "M")}
    dates = pd.to_datetime(pd.read_csv(folder / "A.csv")["Date"]).dt.date
    return pd.DataFrame({"date": dates, **closes})


def test_tables_only_parquet_tables_and_chosen_tests(inputs: Path, eventstudy_cli: RunCli) -> None:
    folder = inputs.parent
    common = ("run", "events.csv", "--prices", ".", "--car", "-1:1", "--car", "0:0", "--quiet")
    csv_run = eventstudy_cli(*common, "--formats", "csv", "--out", "csv", cwd=folder)
    assert csv_run.returncode == 0, csv_run.stderr
    # --formats csv: the tables, no report and no figures
    written = sorted(p.name for p in (folder / "csv").iterdir())
    assert "report.md" not in written and "figures" not in written and "car.csv" in written
    assert all(name.endswith(".csv") for name in written)

    pq_run = eventstudy_cli(
        *common,
        "--formats",
        "csv",
        "--output-format",
        "parquet",
        "--tests",
        "bmp_t, grank_t",
        "--out",
        "pq",
        cwd=folder,
    )
    assert pq_run.returncode == 0, pq_run.stderr
    out = folder / "pq"
    for name in ("abnormal_returns", "car", "parameters", "firm_events", "event_days", "tests"):
        assert (out / f"{name}.parquet").is_dir() and not (out / f"{name}.csv").exists(), name
    for name in ("exclusions", "provenance", "knobs", "cross_correlation"):
        assert (out / f"{name}.csv").is_file(), name
    # the same numbers as the CSV run (the CSV writes 10 significant digits)
    car_csv = pd.read_csv(folder / "csv" / "car.csv")
    car_pq = pd.read_parquet(out / "car.parquet").sort_values(["ticker", "window_start"]).reset_index(drop=True)
    car_csv = car_csv.sort_values(["ticker", "window_start"]).reset_index(drop=True)
    np.testing.assert_allclose(car_pq["car"], car_csv["car"], rtol=1e-9)  # 10 significant digits in the CSV
    assert list(car_pq["ticker"]) == list(car_csv["ticker"])
    # --tests: only the tests named
    assert set(pd.read_parquet(out / "tests.parquet")["test"]) == {"bmp_t", "grank_t"}
    assert len(set(pd.read_csv(folder / "csv" / "tests.csv")["test"])) > 2


def test_unknown_test_or_format_exits_2(inputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = inputs.parent
    args = ["run", str(inputs), "--prices", str(folder), "--out", str(folder / "out"), "--quiet"]
    assert main([*args, "--tests", "bmp_t,no_such_test"]) == 2
    err = capsys.readouterr().err
    assert "--tests" in err and "no_such_test" in err and "bmp_t" in err
    assert main([*args, "--formats", "md,docx"]) == 2
    err = capsys.readouterr().err
    assert "--formats" in err and "'docx'" in err and "csv" in err
    assert main([*args, "--tests", " , "]) == 2
    assert "--tests" in capsys.readouterr().err
    assert not (folder / "out").exists()


def test_parquet_prices_and_returns_give_the_csv_results(inputs: Path, eventstudy_cli: RunCli) -> None:
    folder = inputs.parent
    wide = _wide_prices(folder)
    wide.to_parquet(folder / "wide.parquet", index=False)
    returns = (
        wide.set_index("date").pct_change().iloc[1:].reset_index().melt("date", var_name="ticker", value_name="return")
    )
    returns.to_csv(folder / "returns.csv", index=False)
    returns.to_parquet(folder / "returns.parquet", index=False)
    common = ("run", "events.csv", "--formats", "csv", "--quiet")
    runs = {
        "csv_prices": ("--prices", "."),
        "pq_prices": ("--prices", "wide.parquet"),
        "csv_returns": ("--returns", "returns.csv"),
        "pq_returns": ("--returns", "returns.parquet"),
    }
    for out, source in runs.items():
        run = eventstudy_cli(*common, *source, "--out", out, cwd=folder)
        assert run.returncode == 0, (out, run.stderr)
    for table in ("car", "abnormal_returns", "parameters", "tests"):
        text = {out: (folder / out / f"{table}.csv").read_text(encoding="utf-8") for out in runs}
        assert text["pq_prices"] == text["csv_prices"], table
        assert text["pq_returns"] == text["csv_returns"], table
    provenance = pd.read_csv(folder / "pq_prices" / "provenance.csv")
    assert provenance["source"].str.startswith("parquet:").all()


def test_bad_parquet_column_exits_2_naming_file_and_column(inputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = inputs.parent
    frame = _wide_prices(folder).melt("date", var_name="ticker", value_name="close")  # not adj_close
    frame.to_parquet(folder / "long.parquet", index=False)
    code = main(["run", str(inputs), "--prices", str(folder / "long.parquet"), "--out", str(folder / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{folder / 'long.parquet'}" in err and "adj_close" in err and "Traceback" not in err
