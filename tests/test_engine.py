"""The chunked engine (eventstudy/engine.py): results independent of the chunk size and the executor.

Oracle: the same study run in one chunk (``chunk_size=0``), which is the unchunked pipeline. The synthetic
study is built so that every cross-chunk path is exercised: tickers with several events whose windows
mask each other's estimation rows (``mask_event_windows``), overlapping windows (pooling), two benchmarks,
and one exclusion of each engine stage (returns: the benchmark ends before day 0; estimation: a ticker
listed too late; CAR window: the data end inside the window). The fixture asserts each of these happens,
so the identity tests cannot pass vacuously.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import eventstudy as es
from eventstudy import engine
from eventstudy.cli import main
from eventstudy.engine import as_chunk_size, chunk_bounds, ticker_chunk_bounds, used_date_range
from eventstudy.errors import DataError, EstimationMemoryWarning, InputError
from eventstudy.executors import SerialExecutor

SESSIONS = pd.bdate_range("2020-01-01", periods=600)
TICKERS = [f"T{i:02d}" for i in range(12)]
SETTINGS: dict[str, Any] = dict(
    estimation_window=(-120, -11),
    event_window=(-5, 5),
    car_windows=((0, 0), (-1, 1), (0, 5)),
    min_estimation_obs=60,
    progress=False,
)
PARAMETRIC = ("cross_sectional_t", "patell_z", "bmp_t")


def _return_rows() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    market = rng.normal(0.0003, 0.01, len(SESSIONS))
    other = 0.5 * market + rng.normal(0.0, 0.008, len(SESSIONS))
    rows = [
        pd.DataFrame({"date": SESSIONS, "ticker": "M", "return": market}),
        pd.DataFrame({"date": SESSIONS[:520], "ticker": "N", "return": other[:520]}),  # N ends at session 519
    ]
    for i, ticker in enumerate(TICKERS):
        r = 0.0001 + (0.6 + 0.1 * i) * market + rng.normal(0.0, 0.015, len(SESSIONS))
        keep = np.ones(len(SESSIONS), dtype=bool)
        if ticker == "T02":
            keep[:255] = False  # listed late: about 45 estimation returns before the event at session 300
        if ticker == "T01":
            keep[403:] = False  # data end at session 402: the CAR window [0, 5] of the event at 400 misses days
        rows.append(pd.DataFrame({"date": SESSIONS[keep], "ticker": ticker, "return": r[keep]}))
    return pd.concat(rows, ignore_index=True)


def row(event_id: str, session: int, tickers: Sequence[str], benchmarks: Sequence[str]) -> dict[str, str]:
    """An events-file row: date-only event on a session, per-ticker benchmarks."""
    return {
        "event_id": event_id,
        "date": SESSIONS[session].strftime("%Y-%m-%d"),
        "tickers": ";".join(tickers),
        "benchmark": ";".join(benchmarks),
        "timezone": "America/New_York",
    }


def _event_rows() -> list[dict[str, str]]:
    return [
        row("a300", 300, TICKERS, ["M"] * 12),
        row("b330", 330, TICKERS[:6], ["M"] * 6),  # estimation rows [210, 319] hold a300's window
        row("c400", 400, ["T00", "T01", "T03", "T06"], ["M", "M", "N", "N"]),
        row("d560", 560, ["T07", "T05", "T04"], ["M", "N", "N"]),  # N has no row on or after day 0
        row("e302", 302, ["T00", "T07", "T09"], ["M", "M", "N"]),  # overlaps a300's window
    ]


def _events() -> tuple[es.Event, ...]:
    return es.events_from_frame(pd.DataFrame(_event_rows()))


RETURNS = es.ReturnsFrame(_return_rows(), description="synthetic returns")
EVENTS = _events()


def _run(**settings: Any) -> es.StudyResult:
    return es.EventStudy(EVENTS, RETURNS, **{**SETTINGS, **settings}).run()


PROFILES: dict[str, dict[str, Any]] = {
    "textbook": {},
    "masked": {"knobs": {"mask_event_windows": True, "pooling": "drop_overlapped"}},
    "estudy2": {"conventions": "estudy2"},
}
NUMERIC = ("car", "abnormal_returns", "parameters", "tests", "cross_correlation", "aar")
EXACT = ("exclusions", "event_days", "firm_events", "group_differences")


@pytest.fixture(scope="module", params=list(PROFILES))
def reference(request: pytest.FixtureRequest) -> tuple[str, es.StudyResult]:
    """The study in one chunk under a profile; asserts the fixture exercises every cross-chunk path."""
    name = request.param
    result = _run(chunk_size=0, **PROFILES[name])
    stages = set(result.exclusions["stage"])
    assert {"returns", "estimation"} <= stages
    assert any(s.startswith("CAR window") for s in stages)
    assert (result.firm_events["overlaps"] != "").any()
    return name, result


def assert_same_result(got: es.StudyResult, expected: es.StudyResult) -> None:
    """Every numeric frame equal to 1e-12 (relative), every label frame identical."""
    for name in NUMERIC:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), check_exact=False, rtol=1e-12)
    for name in EXACT:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), check_exact=True)


@pytest.mark.parametrize("chunk_size", [1, 7, 997, "N"])
def test_results_do_not_depend_on_the_chunk_size(reference: tuple[str, es.StudyResult], chunk_size: int | str) -> None:
    name, expected = reference
    size = expected.n_firm_events + len(expected.exclusions) if chunk_size == "N" else chunk_size
    assert_same_result(_run(chunk_size=size, **PROFILES[name]), expected)


@pytest.mark.parametrize("chunk_size", [0, 1, 7])
def test_rows_follow_the_events_file(chunk_size: int) -> None:
    """Firm-events in the order of the events file's (event, ticker) pairs, whatever order the chunks ran in.

    Oracle: the pairs in file order (event by event, tickers as listed), independent of the engine.
    """
    result = _run(chunk_size=chunk_size, **PROFILES["masked"])
    file_order = [(r["event_id"], t) for r in map(dict, _event_rows()) for t in r["tickers"].split(";")]
    rank = {pair: i for i, pair in enumerate(file_order)}
    for frame in (result.parameters, result.firm_events):
        pairs = list(zip(frame["event_id"], frame["ticker"], strict=True))
        assert pairs == sorted(pairs, key=rank.__getitem__)
    for _, stage in result.exclusions.groupby("stage", sort=False):
        pairs = list(zip(stage["event_id"], stage["ticker"], strict=True))
        assert pairs == sorted(pairs, key=rank.__getitem__)
    assert result.exclusions["stage"].iloc[-1].startswith("CAR window")


def test_one_unsplittable_chunk_keeps_the_file_order() -> None:
    """A study of one ticker with chunk_size 1: the chunks never split a ticker, so there is one chunk.

    Its rows must still be in file order (a300, b330, e302), with e302 (session 302) flagged as two days
    after a300 and a300 two days before e302 (hand count), and the same CARs as the study in one chunk.
    """
    events = es.events_from_frame(
        pd.DataFrame(
            [row("a300", 300, ["T00"], ["M"]), row("b330", 330, ["T00"], ["M"]), row("e302", 302, ["T00"], ["M"])]
        )
    )
    one = es.EventStudy(events, RETURNS, **{**SETTINGS, "chunk_size": 1}).run()
    assert one.firm_events[["event_id", "overlaps"]].values.tolist() == [
        ["a300", "e302 (day +2)"],
        ["b330", ""],
        ["e302", "a300 (day -2)"],
    ]
    whole = es.EventStudy(events, RETURNS, **{**SETTINGS, "chunk_size": 0}).run()
    pd.testing.assert_frame_equal(one.car, whole.car, check_exact=True)


def test_masking_reaches_across_chunks() -> None:
    """With one firm-event per chunk, b330's estimation rows inside a300's window are still masked.

    Hand count: b330's estimation window is relative days [-120, -11] around session 330, i.e. sessions
    210..319 (every ticker of b330 trades every session); a300's event window is sessions 295..305, all
    inside, so masking removes 11 returns from each b330 firm-event (T00 also loses e302's window, sessions
    297..307: 13 in all). T02 trades from session 255: 65 returns unmasked, 54 masked, below the minimum 60.
    """
    masked_run = _run(chunk_size=1, **PROFILES["masked"])
    masked = masked_run.parameters.set_index(["event_id", "ticker"])["n_obs"]
    plain = _run(chunk_size=1).parameters.set_index(["event_id", "ticker"])["n_obs"]
    lost = (plain - masked).loc["b330"].dropna()
    assert lost.to_dict() == {"T00": 13, "T01": 11, "T03": 11, "T04": 11, "T05": 11}
    assert plain.loc[("b330", "T03")] == 110 and plain.loc[("b330", "T02")] == 65
    reasons = masked_run.exclusions.set_index(["event_id", "ticker"])["reason"]
    assert reasons.loc[("b330", "T02")].startswith("insufficient estimation data: 54 returns")


class RecordingExecutor(SerialExecutor):
    """Serial, and remembers the chunks it ran."""

    def __init__(self) -> None:
        self.chunks: list[pd.DataFrame] = []

    def map(self, function: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any) -> list[Any]:
        self.chunks += [item.firm_events for item in items]
        return super().map(function, items, shared)


class ResultRecordingExecutor(SerialExecutor):
    """Serial, and remembers what each chunk handed back."""

    def __init__(self) -> None:
        self.results: list[Any] = []

    def map(self, function: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any) -> list[Any]:
        out = super().map(function, items, shared)
        self.results += out
        return out


def test_ticker_chunk_bounds_by_hand() -> None:
    tickers = np.array([0, 0, 0, 1, 2, 2, 2, 2, 2, 3, 4, 4])
    # targets 4, 8: the first ticker starts at or after them are 4 (ticker 2) and 9 (ticker 3)
    assert ticker_chunk_bounds(tickers, 4) == [(0, 4), (4, 9), (9, 12)]
    # targets 3, 6, 9: starts 3, 9, 9
    assert ticker_chunk_bounds(tickers, 3) == [(0, 3), (3, 9), (9, 12)]
    assert ticker_chunk_bounds(tickers, 1) == [(0, 3), (3, 4), (4, 9), (9, 10), (10, 12)]
    assert ticker_chunk_bounds(tickers, 0) == [(0, 12)]
    assert ticker_chunk_bounds(tickers, 12) == [(0, 12)]
    assert ticker_chunk_bounds(np.zeros(5, dtype=np.int64), 2) == [(0, 5)]
    assert ticker_chunk_bounds(np.zeros(0, dtype=np.int64), 2) == []


def test_chunks_are_sorted_by_ticker_and_day_zero_and_bounded() -> None:
    executor = RecordingExecutor()
    result = _run(chunk_size=4, executor=executor)
    frames = executor.chunks
    assert len(frames) > 1
    for frame in frames:  # whole tickers; the rows before the last ticker's fewer than the chunk size
        last = frame["ticker"].to_numpy()[-1]
        assert (frame["ticker"] != last).sum() < 4
    owners = [set(frame["ticker"]) for frame in frames]
    assert sum(len(o) for o in owners) == len(set().union(*owners))  # no ticker in two chunks
    together = pd.concat(frames, ignore_index=True)
    assert len(together) == result.n_firm_events + (result.exclusions["stage"].isin(["returns", "estimation"])).sum()
    keys = list(zip(together["ticker"], pd.to_datetime(together["day_zero"]), strict=True))
    assert keys == sorted(keys)


@pytest.mark.slow
def test_processes_executor_gives_the_same_result(reference: tuple[str, es.StudyResult]) -> None:
    name, expected = reference
    if name != "masked":
        pytest.skip("one profile is enough for the process pool (the masked one has two passes)")
    assert_same_result(_run(chunk_size=5, executor="processes", workers=2, **PROFILES[name]), expected)


class TestEstimationArrays:
    """The (N x L) estimation arrays are dropped unless a test reads them or the study keeps them."""

    def test_dropped_when_no_requested_test_reads_them(self) -> None:
        dropped = _run(tests=PARAMETRIC, chunk_size=3)
        kept = _run(tests=PARAMETRIC, chunk_size=3, keep_estimation=True)
        assert not dropped.estimation_kept and kept.estimation_kept
        n = dropped.n_firm_events
        for array in (dropped.panel.est_returns, dropped.panel.est_market, dropped.panel.est_dates):
            assert array.shape == (n, 0)
        assert dropped.fit.residuals.shape == (n, 0)
        assert kept.panel.est_returns.shape == kept.fit.residuals.shape == (n, 110)
        assert_same_result(dropped, kept)

    @pytest.mark.parametrize(("tests", "kept"), [(PARAMETRIC, False), (("bmp_t", "kp_bmp_t"), True)])
    def test_chunks_hand_back_residuals_and_dates_only_for_a_test_that_reads_them(
        self, tests: tuple[str, ...], kept: bool
    ) -> None:
        """The Kolari-Pynnönen r̄ table comes only with a KP test, so without one no chunk keeps (N x L) arrays."""
        executor = ResultRecordingExecutor()
        result = _run(tests=tests, chunk_size=3, executor=executor)
        parts = [part for part in executor.results if hasattr(part, "fit")]
        assert len(parts) > 1
        width = 110 if kept else 0
        for part in parts:
            assert part.fit.residuals.shape == part.panel.est_dates.shape == (len(part.rows), width)
            assert part.panel.est_returns.shape == (len(part.rows), width)
        assert result.estimation_kept is kept
        assert result.cross_correlation.empty is not kept
        default = _run(chunk_size=3)  # every test: the r̄ table and the parametric rows as with the KP test
        if kept:
            pd.testing.assert_frame_equal(result.cross_correlation, default.cross_correlation, rtol=1e-12)
        shared = default.tests[default.tests["test"].isin(tests)].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            result.tests.drop(columns=["p_holm", "p_bh"]), shared.drop(columns=["p_holm", "p_bh"]), rtol=1e-12
        )

    def test_kept_when_a_requested_test_reads_them(self) -> None:
        result = _run(tests=("grank_t",), chunk_size=3)
        assert result.estimation_kept
        assert result.panel.est_returns.shape == (result.n_firm_events, 110)

    def test_decomposable_readers_are_reduced_per_chunk_and_drop_them(self) -> None:
        """Rank, CDA and Lamb tests read the residuals inside each chunk: nothing (N x L) outlives a chunk.

        Their rows equal those of a run that keeps the arrays in one chunk (the tests on all rows at once).
        """
        readers = ("corrado_rank", "cowan_rank", "generalized_sign", "brown_warner_1985", "lamb")
        executor = ResultRecordingExecutor()
        chunked = _run(tests=readers, chunk_size=3, executor=executor)
        parts = [part for part in executor.results if hasattr(part, "fit")]
        assert len(parts) > 1 and all(part.fit.residuals.shape[1] == 0 for part in parts)
        assert not chunked.estimation_kept
        whole = _run(tests=readers, chunk_size=0, keep_estimation=True)
        assert whole.estimation_kept
        assert set(chunked.tests["test"]) == set(readers)
        pd.testing.assert_frame_equal(chunked.tests, whole.tests, rtol=1e-12)

    def test_parameters_state_the_estimation_dates_used(self) -> None:
        """estimation_start/end: the first and last session of the rows used, counted here from the calendar."""
        params = _run(tests=PARAMETRIC).parameters.set_index(["event_id", "ticker"])
        row = params.loc[("b330", "T03")]
        assert row["estimation_start"] == SESSIONS[330 - 120] and row["estimation_end"] == SESSIONS[330 - 11]


@pytest.mark.parametrize(
    ("rows", "stage"),
    [
        ([row("late", 560, ["T04", "T05"], ["N", "N"])], "returns"),
        ([row("young", 300, ["T02"], ["M"]), row("gone", 560, ["T04"], ["N"])], "estimation"),
    ],
)
def test_nothing_estimated_says_the_same_whatever_the_chunks(rows: list[dict[str, str]], stage: str) -> None:
    events = es.events_from_frame(pd.DataFrame(rows))
    messages = []
    for size in (0, 1):
        with pytest.raises(DataError) as info:
            es.EventStudy(events, RETURNS, **{**SETTINGS, "chunk_size": size}).run()
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert f"  {stage}, " in messages[0]


def test_cli_chunk_size_changes_no_table(tmp_path: Path) -> None:
    """``run --chunk-size`` writes the same tables byte for byte; a bad value is a usage error (exit 2)."""
    events, returns = tmp_path / "events.csv", tmp_path / "returns.csv"
    pd.DataFrame(_event_rows()).to_csv(events, index=False)
    _return_rows().to_csv(returns, index=False, date_format="%Y-%m-%d")
    common = ["run", str(events), "--returns", str(returns), "--formats", "csv", "--quiet", "--min-obs", "60"]
    common += ["--estimation", "-120:-11", "--window", "-5:5", "--tests", ",".join(PARAMETRIC)]
    assert main([*common, "--out", str(tmp_path / "one"), "--chunk-size", "0"]) == 0
    assert main([*common, "--out", str(tmp_path / "many"), "--chunk-size", "2"]) == 0
    for name in ("car", "abnormal_returns", "parameters", "tests", "exclusions", "event_days", "firm_events"):
        assert (tmp_path / "one" / f"{name}.csv").read_bytes() == (tmp_path / "many" / f"{name}.csv").read_bytes()
    assert main([*common, "--out", str(tmp_path / "bad"), "--chunk-size", "-3"]) == 2


@pytest.mark.parametrize("value", [-1, 2.5, "7", True])
def test_bad_chunk_size(value: object) -> None:
    with pytest.raises(InputError) as info:
        as_chunk_size(value)
    assert info.value.parameter == "chunk_size"
    with pytest.raises(InputError):
        es.EventStudy(EVENTS, RETURNS, chunk_size=value)  # type: ignore[arg-type]


def test_used_date_range_is_the_first_and_last_used_date() -> None:
    """Oracle: min and max of each row's used dates, by a loop over the rows."""
    rng = np.random.default_rng(3)
    days = np.datetime64("2021-01-04", "D") + np.cumsum(rng.integers(1, 4, size=(30, 25)), axis=1)
    dates = np.where(rng.random((30, 25)) < 0.1, np.datetime64("NaT", "D"), days)
    used = ~np.isnat(dates) & (rng.random((30, 25)) < 0.6)
    used[4] = False  # a row with none used
    used[5] = ~np.isnat(dates[5])  # every present row
    got = used_date_range(dates, used)
    for i in range(30):
        picked = dates[i][used[i]]
        expected = [picked.min(), picked.max()] if len(picked) else [np.datetime64("NaT")] * 2
        np.testing.assert_array_equal(got[i], np.array(expected, dtype="datetime64[D]"))
    assert got.dtype == np.dtype("datetime64[D]")


def test_chunk_bounds_cover_every_item_once() -> None:
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_bounds(10, 0) == [(0, 10)]
    assert as_chunk_size(None) == 0


class TestEstimationMemoryWarning:
    """A study whose tests keep the estimation arrays warns when they are large for the machine's memory."""

    @staticmethod
    def _small_machine(monkeypatch: pytest.MonkeyPatch, gigabytes: float | None) -> None:
        memory = None if gigabytes is None else int(gigabytes * 2**30)
        monkeypatch.setattr(engine, "physical_memory", lambda: memory)

    def test_warns_naming_the_tests_and_the_size(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._small_machine(monkeypatch, 1e-7)  # about 100 bytes of memory
        with pytest.warns(EstimationMemoryWarning) as caught:
            result = _run(tests=["cross_sectional_t", "lamb", "grank_t", "kp_bmp_t"])
        length = SETTINGS["estimation_window"][1] - SETTINGS["estimation_window"][0] + 1
        (warning,) = caught
        text = str(warning.message)
        # counted: the firm-events that reach the estimation (prices around day 0), estimable or not
        found = re.search(rf"keeps 4 arrays of (\d+) firm-events x {length} days, about ([0-9.]+) GB", text)
        # lamb is reduced per chunk: its residuals never outlive a chunk, so it is not named
        assert found is not None and "2 of the tests (grank_t, kp_bmp_t)" in text and "--tests" in text
        n = int(found[1])
        assert result.n_firm_events <= n <= len(result.event_days)
        assert found[2] == f"{4 * 8 * n * length / 2**30:.1f}"

    @pytest.mark.parametrize(
        ("tests", "gigabytes"),
        [
            (["cross_sectional_t", "bmp_t"], 1e-7),
            (["lamb", "corrado_rank"], 1e-7),
            (["grank_z"], 64.0),
            (["grank_z"], None),
        ],
        ids=["no-test-reads-them", "read-per-chunk", "plenty-of-memory", "memory-unknown"],
    )
    def test_silent_otherwise(self, monkeypatch: pytest.MonkeyPatch, tests: list[str], gigabytes: float | None) -> None:
        self._small_machine(monkeypatch, gigabytes)
        with warnings.catch_warnings():
            warnings.simplefilter("error", EstimationMemoryWarning)
            _run(tests=tests)

    def test_the_command_line_shows_it(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        self._small_machine(monkeypatch, 1e-7)
        events, returns = tmp_path / "events.csv", tmp_path / "returns.csv"
        pd.DataFrame(_event_rows()).to_csv(events, index=False)
        _return_rows().to_csv(returns, index=False, date_format="%Y-%m-%d")
        args = ["run", str(events), "--returns", str(returns), "--formats", "csv", "--quiet", "--min-obs", "60"]
        args += ["--estimation", "-120:-11", "--window", "-5:5", "--tests", "grank_z", "--out", str(tmp_path / "o")]
        assert main(args) == 0
        err = capsys.readouterr().err
        assert "eventstudy: warning: 1 of the tests (grank_z) read the estimation-window residuals" in err
