"""Sliced studies (eventstudy/sliced.py): the tables of a study run in slices of whole tickers.

Oracle: the same study run in one piece (:class:`eventstudy.EventStudy`), its tables written by the same
writer (``write_tables(..., "parquet")``) and read back; rows compared after sorting by their keys (a
sliced table comes slice by slice). The synthetic study of ``tests/test_engine.py`` exercises every
cross-firm-event path: events of up to 12 tickers (split across slices when slices are small), masked
estimation windows, overlapping windows and pooling, two benchmarks, one exclusion of each stage, and
the estudy2 profile's Lamb market of each group's first firm-event (which needs the study's row order
across slices).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_engine import PROFILES, RETURNS, SETTINGS, _event_rows, _return_rows, row  # type: ignore[import-not-found]

import eventstudy as es
from eventstudy import sliced
from eventstudy import spec as spec_module
from eventstudy.cli import main
from eventstudy.errors import InputError
from eventstudy.sliced import run_sliced, ticker_slices

TESTS = ("cross_sectional_t", "patell_z", "bmp_t", "j1", "sign", "corrado_rank", "brown_warner_1985", "lamb")
STUDY = {**{k: v for k, v in SETTINGS.items() if k != "progress"}, "tests": TESTS}
KEYS = ("event_id", "ticker", "day", "window_start", "window_end")


@pytest.fixture(scope="module")
def events_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.csv"
    pd.DataFrame(_event_rows()).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module", params=list(PROFILES))
def whole(
    request: pytest.FixtureRequest, events_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, es.StudyResult, Path]:
    """The study in one piece under a profile, its tables written as Parquet."""
    name = request.param
    result = es.EventStudy.from_csv(events_csv, RETURNS, progress=False, **STUDY, **PROFILES[name]).run()
    out = tmp_path_factory.mktemp(f"whole-{name}")
    result.write_tables(out, "parquet")
    return name, result, out


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [key for key in KEYS if key in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def assert_same_tables(got: Path, expected: Path, study: sliced.SlicedStudy, result: es.StudyResult) -> None:
    for name in sliced.SLICE_TABLES:
        a, b = pd.read_parquet(got / f"{name}.parquet"), pd.read_parquet(expected / f"{name}.parquet")
        pd.testing.assert_frame_equal(_sorted(a), _sorted(b), check_exact=False, rtol=1e-12, obj=name)
    tests = pd.read_parquet(got / "tests.parquet")
    pd.testing.assert_frame_equal(tests, pd.read_parquet(expected / "tests.parquet"), check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(study.tests, result.tests, check_exact=False, rtol=1e-12)
    for name in ("exclusions", "provenance", "knobs"):
        a, b = pd.read_csv(got / f"{name}.csv"), pd.read_csv(expected / f"{name}.csv")
        first = list(a.columns[:2])
        pd.testing.assert_frame_equal(
            a.sort_values(first).reset_index(drop=True), b.sort_values(first).reset_index(drop=True), obj=name
        )
    assert study.n_firm_events == result.n_firm_events


def test_ticker_slices_by_hand() -> None:
    tickers = np.array(["B", "A", "C", "A", "B", "D", "A", "E"], dtype=object)
    # sorted tickers A (3 pairs, starts at 0), B (2, at 3), C (1, at 5), D (1, at 6), E (1, at 7)
    # size 3: slices 0 (A), 1 (B, C: 3 // 3 = 1, 5 // 3 = 1), 2 (D, E: 6 // 3 = 2, 7 // 3 = 2)
    assert ticker_slices(tickers, 3).tolist() == [1, 0, 1, 0, 1, 2, 0, 2]
    # size 4: A 0, B 0 (3 // 4), C 1, D 1, E 1
    assert ticker_slices(tickers, 4).tolist() == [0, 0, 1, 0, 0, 1, 0, 1]
    assert ticker_slices(tickers, 1).tolist() == [1, 0, 2, 0, 1, 3, 0, 4]
    assert ticker_slices(tickers, 100).tolist() == [0] * 8
    assert ticker_slices(np.array([], dtype=object), 3).tolist() == []


@pytest.mark.parametrize("slice_size", [5, 12, 1000])
def test_sliced_tables_equal_the_study_in_one_piece(
    whole: tuple[str, es.StudyResult, Path], events_csv: Path, tmp_path: Path, slice_size: int
) -> None:
    name, result, expected = whole
    study = run_sliced(
        events_csv, RETURNS, tmp_path, slice_size=slice_size, output_format="parquet", **STUDY, **PROFILES[name]
    )
    assert study.n_slices == {5: 6, 12: 3, 1000: 1}[slice_size]
    assert_same_tables(tmp_path, expected, study, result)
    assert not list(tmp_path.glob(".*")), "the work folder is removed"


def test_small_slices_split_events_and_read_every_slice(events_csv: Path, tmp_path: Path) -> None:
    """With slices of about 5 firm-events, a300 (12 tickers) is in several slices and each wrote parts."""
    study = run_sliced(events_csv, RETURNS, tmp_path, slice_size=5, **STUDY)
    parts = sorted(p.name for p in (tmp_path / "car.parquet").iterdir())
    assert {p.split("-")[1] for p in parts} == {f"{k:05d}" for k in range(study.n_slices)}
    car = pd.read_parquet(tmp_path / "car.parquet")
    assert car.loc[car["event_id"] == "a300", "ticker"].nunique() > 5


@pytest.mark.slow
def test_processes_give_the_same_tables(
    whole: tuple[str, es.StudyResult, Path], events_csv: Path, tmp_path: Path
) -> None:
    name, result, expected = whole
    if name != "estudy2":
        pytest.skip("one profile is enough for the process pool")
    study = run_sliced(
        events_csv,
        RETURNS,
        tmp_path,
        slice_size=5,
        executor="processes",
        workers=2,
        output_format="parquet",
        **STUDY,
        **PROFILES[name],
    )
    assert_same_tables(tmp_path, expected, study, result)


@pytest.mark.parametrize(
    ("settings", "parameter", "words"),
    [
        ({"tests": ("bmp_t", "grank_t")}, "tests", "grank_t need every firm-event"),
        ({"groups": "category"}, "groups", "groups"),
        ({"keep_estimation": True}, "keep_estimation", "keep_estimation"),
        ({"output_format": "csv"}, "output_format", "Parquet"),
    ],
)
def test_what_a_sliced_study_refuses(
    events_csv: Path, tmp_path: Path, settings: dict[str, Any], parameter: str, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        run_sliced(events_csv, RETURNS, tmp_path, slice_size=5, **{**STUDY, **settings})
    assert caught.value.parameter == parameter and words in str(caught.value)
    assert not list(tmp_path.glob("*.parquet"))


def test_bad_events_fail_before_any_table(tmp_path: Path) -> None:
    rows = _event_rows()
    rows[3] = {**rows[3], "date": "2021-02-30"}
    events = tmp_path / "events.csv"
    pd.DataFrame(rows).to_csv(events, index=False)
    out = tmp_path / "out"
    with pytest.raises(InputError) as caught:
        run_sliced(events, RETURNS, out, slice_size=5, **STUDY)
    assert caught.value.line == 5 and caught.value.column == "date"  # header, then rows 0..3
    assert not out.exists() or not any(out.iterdir())


def test_a_failed_slice_leaves_the_old_tables_and_no_partial_ones(
    events_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slice that fails: no table of the run appears, an earlier run's tables stay, the work folder goes."""
    run_sliced(events_csv, RETURNS, tmp_path, slice_size=1000, **STUDY)
    before = pd.read_parquet(tmp_path / "car.parquet")
    real = sliced.slice_task

    def failing(task: sliced.SliceTask, shared: sliced.SliceShared) -> sliced.SliceOutcome:
        if task.number == 3:
            raise RuntimeError("worker lost")
        return real(task, shared)

    monkeypatch.setattr(sliced, "slice_task", failing)
    with pytest.raises(RuntimeError):
        run_sliced(events_csv, RETURNS, tmp_path, slice_size=5, **{**STUDY, "tests": ("bmp_t",)})
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "car.parquet"), before)
    tests = pd.read_csv(tmp_path / "tests.csv")
    assert set(tests["test"]) == set(TESTS)  # still the first run's
    assert not list(tmp_path.glob(".*"))


def _counting_slices(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make run_sliced record the estimated firm-events of each slice it runs (in the order they run)."""
    counts: list[int] = []
    real = sliced.slice_task

    def counting(task: sliced.SliceTask, shared: sliced.SliceShared) -> sliced.SliceOutcome:
        outcome = real(task, shared)
        counts.append(outcome.n_firm_events)
        return outcome

    monkeypatch.setattr(sliced, "slice_task", counting)
    return counts


@pytest.mark.parametrize(("slice_size", "chunk_size"), [(1, 0), (2, 0), (1, 1)])
def test_slices_with_nothing_estimable_leave_the_tables_of_the_study_in_one_piece(
    whole: tuple[str, es.StudyResult, Path],
    events_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    slice_size: int,
    chunk_size: int,
) -> None:
    """Under masking T02's firm-events are all excluded (tests/test_engine.py): its slice estimates nothing.

    That slice's exclusions and audit rows are those of the study in one piece, and the run goes on; with
    chunks of one firm-event, each of its two chunks estimates nothing too.
    """
    name, result, expected = whole
    counts = _counting_slices(monkeypatch)
    settings = {**STUDY, **PROFILES[name], "chunk_size": chunk_size}
    study = run_sliced(events_csv, RETURNS, tmp_path, slice_size=slice_size, output_format="parquet", **settings)
    if name == "masked":
        assert 0 in counts, "a slice with nothing estimable"
        t02 = result.exclusions[result.exclusions["ticker"] == "T02"]
        assert len(t02) == 2 and set(t02["stage"]) == {"estimation"}  # a300 and b330, as the fixture says
    assert_same_tables(tmp_path, expected, study, result)
    assert not list(tmp_path.glob(".*"))


def _unknown_symbol_rows() -> list[dict[str, str]]:
    """The synthetic events plus ticker YYY (no prices; benchmark M has) and ZZZ (benchmark NOPE: neither has).

    AAA (no prices) is the first ticker, so the first slice estimates nothing, and z320's tickers AAA and
    ZZZ are in different slices when they are small.
    """
    return [*_event_rows(), row("y310", 310, ["YYY"], ["M"]), row("z320", 320, ["ZZZ", "AAA"], ["NOPE", "M"])]


@pytest.mark.parametrize("slice_size", [1, 2])
def test_slices_of_symbols_without_prices_exclude_as_the_study_in_one_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slice_size: int
) -> None:
    """A slice whose tickers have no prices (AAA, YYY) or whose symbols have none at all (ZZZ) estimates nothing.

    Its firm-events are excluded at the prices stage, its audit rows say why, and the failed symbols are
    in the provenance, as in the study in one piece (whose tables are the oracle).
    """
    events = tmp_path / "events.csv"
    pd.DataFrame(_unknown_symbol_rows()).to_csv(events, index=False)
    result = es.EventStudy.from_csv(events, RETURNS, progress=False, **STUDY).run()
    expected = tmp_path / "whole"
    result.write_tables(expected, "parquet")
    unknown = result.exclusions[result.exclusions["ticker"].isin(["AAA", "YYY", "ZZZ"])]
    assert unknown[["event_id", "ticker", "stage"]].values.tolist() == [
        ["y310", "YYY", "prices"],
        ["z320", "ZZZ", "prices"],
        ["z320", "AAA", "prices"],
    ]
    counts = _counting_slices(monkeypatch)
    out = tmp_path / "sliced"
    study = run_sliced(events, RETURNS, out, slice_size=slice_size, output_format="parquet", **STUDY)
    # slices of 1: AAA (the first), YYY and ZZZ alone; of 2: AAA with T00, YYY with T11, ZZZ alone
    assert counts.count(0) == {1: 3, 2: 1}[slice_size] and (counts[0] == 0) == (slice_size == 1)
    assert_same_tables(out, expected, study, result)
    days = pd.read_parquet(out / "event_days.parquet").set_index("ticker")
    assert (days.loc[["AAA", "YYY", "ZZZ"], "status"] != "ok").all()


def test_a_study_with_nothing_estimable_exits_3_with_the_counted_exclusions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every slice estimates nothing: exit 3, the exclusions of all slices counted, no table, no work folder.

    Hand count: T02 at session 300 has 45 estimation returns (< 60: estimation), ZZZ (benchmark M) and YYY
    (benchmark NOPE) have no prices (prices, "no data"); three slices of one ticker each.
    """
    events = tmp_path / "events.csv"
    pd.DataFrame([row("z300", 300, ["T02", "ZZZ"], ["M", "M"]), row("y310", 310, ["YYY"], ["NOPE"])]).to_csv(
        events, index=False
    )
    returns = tmp_path / "returns.csv"
    _returns_csv(returns)
    out = tmp_path / "o"
    args = ["run", str(events), "--returns", str(returns), "--formats", "csv", "--min-obs", "60"]
    args += ["--estimation", "-120:-11", "--window", "-5:5", "--tests", "bmp_t", "--slice-size", "1"]
    assert main([*args, "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "nothing could be estimated: all 3 firm-events were excluded" in err
    assert "estimation, insufficient estimation data: 1 firm-event (e.g. z300 / T02" in err
    assert "prices, no data: 2 firm-events" in err
    assert "Traceback" not in err
    assert not out.exists() or not list(out.iterdir())


def _returns_csv(path: Path) -> None:
    _return_rows().to_csv(path, index=False, date_format="%Y-%m-%d")


class TestCommandLine:
    def test_run_with_slices(self, events_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        returns = tmp_path / "returns.csv"
        _returns_csv(returns)
        args = ["run", str(events_csv), "--returns", str(returns), "--formats", "csv", "--min-obs", "60"]
        args += ["--estimation", "-120:-11", "--window", "-5:5", "--car", "0:0", "--car", "-1:1", "--car", "0:5"]
        args += ["--tests", ",".join(TESTS), "--slice-size", "5", "--out", str(tmp_path / "o")]
        assert main(args) == 0
        printed = capsys.readouterr().out
        assert "sliced study: 5 events in 6 slices, 25 firm-events estimated, 4 exclusions" in printed
        expected = es.EventStudy.from_csv(events_csv, RETURNS, progress=False, **STUDY).run()
        car = _sorted(pd.read_parquet(tmp_path / "o" / "car.parquet"))
        np.testing.assert_allclose(car["car"], _sorted(expected.car)["car"], rtol=1e-12)

    @pytest.mark.parametrize(
        ("extra", "option"),
        [
            (["--formats", "md"], "--formats"),
            (["--formats", "csv", "--group-by", "category"], "--groups/--group-by"),
            (["--formats", "csv", "--from", "2021-01-01"], "--from"),
            (["--formats", "csv", "--slice-size", "0"], "--slice-size"),
        ],
    )
    def test_refused_options_exit_2(
        self, events_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], option: str
    ) -> None:
        returns = tmp_path / "returns.csv"
        _returns_csv(returns)
        args = ["run", str(events_csv), "--returns", str(returns), "--tests", "bmp_t", "--slice-size", "5", *extra]
        assert main([*args, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert option in err and "Traceback" not in err


def test_auto_single_firm_tests_are_settled_on_the_whole_study(
    events_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every slice is below the SQ limit, the study is not: no slice computes SQ (and with the limit at the
    study's size, every slice does)."""
    n_pairs = sum(len(event.tickers) for event in es.read_events(events_csv))
    monkeypatch.setattr(spec_module, "PERMUTATION_AUTO_LIMIT", 0)
    settings = {**STUDY, "single_firm_tests": "auto"}
    for limit, computed in ((n_pairs - 1, False), (n_pairs, True)):
        monkeypatch.setattr(spec_module, "SQ_AUTO_LIMIT", limit)
        out = tmp_path / str(limit)
        run_sliced(events_csv, RETURNS, out, slice_size=5, **settings)
        car = pd.read_parquet(out / "car.parquet")
        assert car["p_sq"].notna().any() == computed
        assert car["p_permutation"].isna().all()
