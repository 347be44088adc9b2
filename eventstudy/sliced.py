"""Sliced studies: a study too large for one process, run as slices of whole tickers that write their own tables.

:class:`~eventstudy.study.EventStudy` holds every firm-event's arrays in one process (about 1 KB per
firm-event, and the price table of every symbol). :func:`run_sliced` runs the same study with bounded memory
in every process:

1. The client reads the events file as text cells (:func:`~eventstudy.events.read_event_cells`), validates
   them all (so bad input fails before any work, exit 2), numbers the events by their row, and splits the
   (event, ticker) pairs into **slices of whole tickers** (:func:`ticker_slices`): every firm-event of a
   ticker is in one slice, which is all the flags, the ``pooling`` knob and the ``mask_event_windows`` knob
   compare. An event whose tickers fall in several slices is in each of them with its tickers there. Each
   slice's cells are written to a file in the output's hidden work folder.
2. Each slice is a task of the executor (``serial``, ``processes``, ``dask``; retried where the executor
   retries): it reads its cells, validates and builds its events, loads the prices of its own symbols from
   the price source (a Parquet file is read by row groups of those tickers), runs
   :meth:`~eventstudy.study.EventStudy.run_slice` (day 0, exclusions, the engine with its per-chunk test
   sums) and writes its per-firm-event tables (``event_days``, ``parameters``, ``abnormal_returns``,
   ``car``, ``firm_events``) as Parquet parts, leaving out a table without rows. It hands back only the
   sums of the tests, the number of estimated firm-events per event, its exclusions and its provenance
   rows. A slice in which nothing can be estimated (its symbols have no prices, or every firm-event is
   excluded) is no error: it writes only its ``event_days`` rows and hands back its exclusions, as the
   study in one piece lists them.
3. When no slice estimated anything, the client raises :class:`~eventstudy.errors.DataError` (exit 3)
   with the exclusions of every slice counted by stage and reason, before any table is written.
   Otherwise it merges the sums (:func:`~eventstudy.inference.merge_tests`), keeps the events that get tests
   of their own (``event_tests``: counted over all slices), finishes the tests and writes ``tests``,
   ``exclusions``, ``provenance``, ``knobs`` and the (empty) ``cross_correlation`` and
   ``group_differences`` tables. Only then are the tables moved from the work folder to their names, so an
   interrupted run never leaves a table that looks complete; the work folder is removed.

The numbers are those of the study run in one piece (to rounding of the merged sums, 1e-12): the tests are
the decomposable ones (``StatTest.decomposable``), the events are numbered in file order, and pooling,
flags and day 0 depend only on same-ticker firm-events. What differs: the rows of a per-firm-event table
come slice by slice (tickers in sorted order, each slice in event order), not in file order; and a sliced
run computes neither user groups nor the tests that need every firm-event of a group at once (it says
which, exit 2), and has no report (tables only).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy._typing import IntArray
from eventstudy.data.series import PriceSource
from eventstudy.engine import nothing_estimated_message
from eventstudy.errors import DataError, InputError
from eventstudy.events import EventCells, events_from_cells, read_event_cells, validated_symbols
from eventstudy.executors import Executor, get_executor
from eventstudy.inference import finish_tests, merge_tests, no_cross_correlation
from eventstudy.inference.groups import GROUP_DIFFERENCE_COLUMNS
from eventstudy.outputs import OutputFormat, discard, in_place, table_path, write_tables
from eventstudy.results import EXCLUSION_COLUMNS, TEST_COLUMNS, tests_frame
from eventstudy.spec import StudySpec, as_single_firm_tests, resolve_event_tests, resolve_single_firm_tests
from eventstudy.study import EventNumbering, EventStudy, SliceSums

DEFAULT_SLICE_SIZE = 200_000
"""Firm-events per slice by default: a slice's process then holds about 0.5-1 GB."""

SLICE_TABLES = ("event_days", "parameters", "abnormal_returns", "car", "firm_events")
"""The per-firm-event tables each slice writes as Parquet parts (every other table is the client's)."""

REFUSED_SETTINGS = ("groups", "executor", "workers", "keep_estimation", "selection", "progress")
"""EventStudy settings a sliced run does not take (the executor is run_sliced's own)."""


@dataclass(frozen=True)
class SliceTask:
    """One slice: its number and the file of its events' cells."""

    number: int
    cells: str


@dataclass(frozen=True, eq=False)
class SliceShared:
    """What every slice task shares: the price source, the study settings, the numbering and the work folder."""

    prices: PriceSource
    settings: Mapping[str, Any]
    events_path: str
    from_file: bool
    columns: tuple[str, ...]
    n_events: int
    work: str


@dataclass(frozen=True, eq=False)
class SliceOutcome:
    """What a slice task hands back (its tables are in the work folder)."""

    number: int
    spec: StudySpec
    sums: SliceSums
    n_firm_events: int
    exclusions: pd.DataFrame
    provenance: pd.DataFrame


@dataclass(frozen=True, eq=False)
class SlicedStudy:
    """The result of :func:`run_sliced`: where the tables are, the tests, the exclusions and the counts.

    Attributes
    ----------
    out
        The output folder.
    paths
        The tables written, by name (``<name>.parquet`` folders for the per-firm-event tables).
    spec
        The study's settings.
    tests
        The ``tests`` table (as :attr:`eventstudy.results.StudyResult.tests`).
    exclusions
        Every exclusion (event_id, ticker, stage, reason), slice by slice.
    n_events, n_slices, n_firm_events
        Events of the file, slices, estimated firm-events.
    """

    out: Path
    paths: Mapping[str, Path]
    spec: StudySpec
    tests: pd.DataFrame
    exclusions: pd.DataFrame
    n_events: int
    n_slices: int
    n_firm_events: int

    def summary(self) -> str:
        """A few lines for people: what was estimated, what was excluded (by stage), where the tables are."""
        lines = [
            f"sliced study: {self.n_events:,} events in {self.n_slices:,} slices, "
            f"{self.n_firm_events:,} firm-events estimated, {len(self.exclusions):,} exclusions"
        ]
        if len(self.exclusions):
            counts = self.exclusions.groupby("stage", sort=False).size()
            lines.append("  excluded by stage: " + ", ".join(f"{stage} {n:,}" for stage, n in counts.items()))
        lines.append(f"tables in {self.out}: " + ", ".join(path.name for path in self.paths.values()))
        return "\n".join(lines)


def ticker_slices(tickers: np.ndarray, slice_size: int) -> IntArray:
    """The slice of each (event, ticker) pair: whole tickers in sorted order, about ``slice_size`` pairs a slice.

    A ticker's pairs all go to the slice in which its first pair falls when the pairs are counted ticker by
    ticker (``slice_size`` <= 0: one slice). Slices are numbered 0, 1, ... without gaps.
    """
    if not len(tickers):
        return np.zeros(0, dtype=np.int64)
    _, inverse, counts = np.unique(np.asarray(tickers, dtype=str), return_inverse=True, return_counts=True)
    if slice_size <= 0:
        return np.zeros(len(tickers), dtype=np.int64)
    first = np.cumsum(counts) - counts
    _, numbered = np.unique(first // slice_size, return_inverse=True)
    return np.asarray(numbered, dtype=np.int64)[inverse.ravel()]


def run_sliced(
    events: str | Path,
    prices: PriceSource,
    out: str | Path,
    *,
    slice_size: int = DEFAULT_SLICE_SIZE,
    executor: str | Executor = "serial",
    workers: int | None = None,
    output_format: OutputFormat = "auto",
    progress: Callable[[str], None] | None = None,
    **settings: Any,
) -> SlicedStudy:
    """Run the study of an events file in slices of whole tickers, each writing its tables (module docstring).

    Parameters
    ----------
    events
        The events file (CSV or Parquet), as for :func:`eventstudy.read_events`.
    prices
        The price source; each slice loads its own symbols from it (a Parquet returns or prices file reads
        only the row groups of those tickers).
    out
        The output folder of the tables.
    slice_size
        Firm-events per slice, about (whole tickers); bounds the memory of each task.
    executor, workers
        Where the slices run (:func:`eventstudy.executors.get_executor`).
    output_format
        How the client's tables (``tests`` and the small ones) are written (:func:`eventstudy.outputs.table_format`);
        the per-firm-event tables are always Parquet folders. ``"csv"`` is refused.
    progress
        Called with a short message at each stage; None: silent.
    **settings
        :class:`~eventstudy.study.EventStudy` settings (model, windows, ``tests``, ``conventions``, ``knobs``,
        ``chunk_size``, ``event_tests``, ...); not ``groups``.

    Raises
    ------
    InputError
        Bad events (before any work), a refused setting, a grouping, or a test that needs every firm-event
        of a group at once.
    DataError
        When nothing at all could be estimated in any slice (no prices, or every firm-event excluded); a
        slice with nothing estimable is not an error by itself.
    """
    say = progress or _silent
    if output_format == "csv":
        raise InputError(
            "a sliced study writes its per-firm-event tables as Parquet folders; output_format 'csv' is refused",
            parameter="output_format",
            value=output_format,
        )
    refused = sorted(set(settings) & set(REFUSED_SETTINGS))
    if refused:
        raise InputError(f"a sliced study does not take the setting {refused[0]!r}", parameter=refused[0])
    if settings.get("groups") is not None:
        raise InputError("a sliced study does not compute user groups", parameter="groups")
    run = get_executor(executor, workers=workers)
    out = Path(out)
    cells = read_event_cells(events)
    ids, tickers, benchmarks = validated_symbols(cells)
    n_events = len(ids)
    listed = np.fromiter(map(len, tickers), dtype=np.int64, count=n_events)
    row_of_pair = np.repeat(np.arange(n_events), listed)
    pair_tickers = np.array(list(chain.from_iterable(tickers)) + [None], dtype=object)[:-1]
    # "auto" settled by the whole study's size, not each slice's
    choice = as_single_firm_tests(settings.get("single_firm_tests", "auto"))
    settings["single_firm_tests"] = resolve_single_firm_tests(choice, len(pair_tickers))
    slices = ticker_slices(pair_tickers, slice_size)
    n_slices = int(slices.max()) + 1 if len(slices) else 0
    say(f"sliced: {n_events:,} events, {len(pair_tickers):,} firm-events in {n_slices:,} slices")

    out.mkdir(parents=True, exist_ok=True)
    work = out / f".sliced.{os.getpid()}-{uuid.uuid4().hex[:12]}.partial"
    (work / "cells").mkdir(parents=True)
    try:
        tasks = _write_slices(cells, work, slices, row_of_pair, listed, pair_tickers, benchmarks)
        shared = SliceShared(
            prices, dict(settings), cells.path, cells.from_file, tuple(cells.frame.columns), n_events, str(work)
        )
        del cells
        say(f"sliced: running {n_slices:,} slices ({run!r})")
        outcomes = sorted(run.map(slice_task, tasks, shared), key=lambda outcome: outcome.number)
        say("sliced: merging the tests of the slices")
        return _finish(outcomes, ids, out, work, output_format)
    finally:
        discard(work)


def _write_slices(
    cells: EventCells,
    work: Path,
    slices: IntArray,
    row_of_pair: IntArray,
    listed: IntArray,
    pair_tickers: np.ndarray,
    benchmarks: Sequence[tuple[str, ...]],
) -> list[SliceTask]:
    """Write each slice's event cells (tickers and benchmarks of an event split across slices cut to the slice's).

    The file holds the event's cells, its line, its code (its row), its number of tickers in the study and,
    for an event split across slices, the places of the slice's tickers in the event's list.
    """
    pair_benchmarks = np.array(list(chain.from_iterable(benchmarks)) + [None], dtype=object)[:-1]
    first_pair = np.cumsum(listed) - listed
    lowest = np.minimum.reduceat(slices, first_pair) if len(slices) else slices
    highest = np.maximum.reduceat(slices, first_pair) if len(slices) else slices
    split = lowest != highest  # events with tickers in several slices
    order = np.lexsort((row_of_pair, slices))
    bounds = np.searchsorted(slices[order], np.arange(int(slices.max()) + 2 if len(slices) else 1))
    tasks = []
    for number in range(len(bounds) - 1):
        pairs = order[bounds[number] : bounds[number + 1]]
        rows = np.unique(row_of_pair[pairs])
        frame = cells.frame.iloc[rows].reset_index(drop=True)
        cut = np.flatnonzero(split[rows])
        if len(cut):
            mine = pairs[split[row_of_pair[pairs]]]
            position = np.searchsorted(rows, row_of_pair[mine])
            ticker_cells = pd.Series(pair_tickers[mine]).groupby(position, sort=True).agg(";".join)
            bench_cells = pd.Series(pair_benchmarks[mine]).groupby(position, sort=True).agg(";".join)
            places = pd.Series((mine - first_pair[row_of_pair[mine]]).astype(str)).groupby(position, sort=True)
            frame.loc[ticker_cells.index, "tickers"] = ticker_cells.to_numpy()
            frame.loc[bench_cells.index, "benchmark"] = bench_cells.to_numpy()
            frame["_positions"] = ""
            frame.loc[ticker_cells.index, "_positions"] = places.agg(";".join).to_numpy()
        else:
            frame["_positions"] = ""
        frame["_line"] = cells.lines[rows]
        frame["_code"] = rows
        frame["_listed"] = listed[rows]
        path = work / "cells" / f"slice-{number:05d}.parquet"
        frame.to_parquet(path, index=False)
        tasks.append(SliceTask(number, str(path)))
    return tasks


def slice_task(task: SliceTask, shared: SliceShared) -> SliceOutcome:
    """Run one slice (in a worker): build its events, run it, write its tables; hand back its sums.

    Its per-firm-event tables go to ``<work>/s<number>/`` (replaced if a retry runs the slice again); a
    table without rows (every one but ``event_days`` in a slice with nothing estimable) writes no part, so
    that no part's columns are typed from an empty frame.
    """
    frame = pd.read_parquet(task.cells)
    cells = EventCells(
        frame[list(shared.columns)], frame["_line"].to_numpy(dtype=np.int64), shared.events_path, shared.from_file
    )
    events = events_from_cells(cells)
    settings = {"progress": False, **shared.settings}
    study = EventStudy(events, shared.prices, **settings)
    numbering = EventNumbering(
        ids=np.array([event.event_id for event in events], dtype=object),
        codes=frame["_code"].to_numpy(dtype=np.int64),
        n_listed=frame["_listed"].to_numpy(dtype=np.int64),
        positions=np.array(
            [tuple(map(int, p.split(";"))) if p else None for p in frame["_positions"]] + [None], dtype=object
        )[:-1],
        n_events=shared.n_events,
        event_tests=resolve_event_tests(study.spec.event_tests, shared.n_events),
    )
    result, sums = study.run_slice(numbering)
    tables = {name: frame for name in SLICE_TABLES if len(frame := getattr(result, name))}  # no empty parts
    write_tables(tables, Path(shared.work) / f"s{task.number:05d}", "parquet")
    return SliceOutcome(task.number, study.spec, sums, result.n_firm_events, result.exclusions, result.provenance)


def _finish(
    outcomes: list[SliceOutcome], ids: np.ndarray, out: Path, work: Path, output_format: OutputFormat
) -> SlicedStudy:
    """Merge the slices' test sums, write the client's tables, then move every table to its name.

    Raises
    ------
    DataError
        When no slice estimated anything (before any table is written): the exclusions of every slice
        counted by stage and reason (:func:`~eventstudy.engine.nothing_estimated_message`).
    """
    exclusions = pd.concat([outcome.exclusions for outcome in outcomes], ignore_index=True)
    if not any(outcome.n_firm_events for outcome in outcomes):
        raise DataError(nothing_estimated_message(exclusions))
    spec = outcomes[0].spec
    parts = [outcome.sums.partials for outcome in outcomes if outcome.sums.partials is not None]
    codes = np.concatenate([outcome.sums.event_codes for outcome in outcomes])
    counts = np.bincount(codes, weights=np.concatenate([o.sums.estimated for o in outcomes]), minlength=len(ids))
    event_tests = resolve_event_tests(spec.event_tests, len(ids))
    least = {"all": 1, "multi_firm": 2}.get(event_tests)
    tested = np.flatnonzero(counts >= least) if least is not None else np.zeros(0, dtype=np.int64)
    windows = tuple(range(spec.event_window[0], spec.event_window[1] + 1))
    if parts:
        table = finish_tests(merge_tests(parts), tuple(ids), tested_events=tested)
        tests = tests_frame(table, np.array(windows), spec.car_windows, spec.conventions)
    else:
        tests = pd.DataFrame(columns=list(TEST_COLUMNS))
    provenance = pd.concat([outcome.provenance for outcome in outcomes], ignore_index=True)
    provenance = provenance.drop_duplicates("symbol", keep="first").reset_index(drop=True)
    paths: dict[str, Path] = {}
    for name in SLICE_TABLES:
        path = table_path(out, name, "parquet")
        with in_place(path) as partial:
            partial.mkdir()
            for outcome in outcomes:
                folder = table_path(work / f"s{outcome.number:05d}", name, "parquet")
                for part in sorted(folder.iterdir()) if folder.is_dir() else ():
                    os.replace(part, partial / f"part-{outcome.number:05d}-{part.name.removeprefix('part-')}")
        discard(table_path(out, name, "csv"))
        paths[name] = path
    small = {
        "tests": tests,
        "cross_correlation": no_cross_correlation(),
        "group_differences": pd.DataFrame(columns=list(GROUP_DIFFERENCE_COLUMNS)),
        "exclusions": exclusions[list(EXCLUSION_COLUMNS)],
        "provenance": provenance,
        "knobs": spec.knob_table(),
    }
    for name, path in zip(small, write_tables(small, out, output_format), strict=True):
        paths[name] = path
    return SlicedStudy(
        out=out,
        paths=paths,
        spec=spec,
        tests=tests,
        exclusions=exclusions,
        n_events=len(ids),
        n_slices=len(outcomes),
        n_firm_events=sum(outcome.n_firm_events for outcome in outcomes),
    )


def _silent(message: str) -> None:
    """Progress sink that discards messages."""


__all__ = [
    "DEFAULT_SLICE_SIZE",
    "SLICE_TABLES",
    "SliceOutcome",
    "SliceShared",
    "SliceTask",
    "SlicedStudy",
    "run_sliced",
    "slice_task",
    "ticker_slices",
]
