"""Test statistics: a registry of named tests computed on (events x days) arrays.

``run_tests`` evaluates the chosen tests for every group of firm-events (all events pooled as ``"all"``,
the user's groups such as ``"category=regulation"``, and each event id) on every event-window day and
every CAR window, returning arrays that :class:`eventstudy.results.StudyResult` turns into the tidy
``tests`` frame, together with the Kolari-Pynnönen cross-correlation table (``cross_correlation``) when a
chosen test uses it.
The pooled groups (``"all"`` and the user's groups) use the firm-events the ``pooling`` knob keeps
(``docs/methods.md`` §3.5); each event's group uses all of its firm-events.

The tests whose statistics are functions of per-group sums (``StatTest.decomposable``) can also be
computed from chunks of firm-events: :func:`partial_tests` per chunk, :func:`merge_tests` of the chunks'
partials (in any tree), :func:`finish_tests` of the result gives the table :func:`run_tests` gives on all
firm-events (:mod:`eventstudy.inference.partials`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventstudy._typing import BoolArray, IntArray
from eventstudy.errors import InputError
from eventstudy.inference import calendar_time as _calendar_time  # noqa: F401  (registers the tests)
from eventstudy.inference import clustered as _clustered  # noqa: F401  (registers the tests)
from eventstudy.inference import nonparametric as _nonparametric  # noqa: F401  (registers the tests)
from eventstudy.inference import parametric as _parametric  # noqa: F401  (registers the tests)
from eventstudy.inference import resampling as _resampling  # noqa: F401  (registers the tests)
from eventstudy.inference.base import (
    REGISTRY,
    InferenceData,
    Scope,
    StatBlock,
    StatTest,
    get_tests,
    needs_cross_correlation,
    needs_estimation,
)
from eventstudy.inference.clustered import KP_CORRELATION_COLUMNS, kp_correlation_table
from eventstudy.inference.partials import DecomposableTest, Partial, merge


@dataclass(frozen=True, eq=False)
class TestTable:
    """Stacked results of several tests: one :class:`StatBlock` per (test, scope).

    ``group_labels`` name the rows of every block (``"all"``, then the user's groups, then the event
    ids); ``pooled_groups`` are those computed on the pooled firm-events (``"all"`` and the user's
    groups). Day blocks have one column per event-window day, window blocks one per CAR window.
    ``cross_correlation`` is the Kolari-Pynnönen r̄ per group and market scope
    (:func:`eventstudy.inference.clustered.kp_correlation_table`), or :func:`no_cross_correlation` (no rows)
    when no chosen test uses it.
    """

    __test__ = False  # not a pytest class

    group_labels: tuple[str, ...]
    blocks: tuple[tuple[str, Scope, StatBlock], ...]
    cross_correlation: pd.DataFrame
    pooled_groups: tuple[str, ...] = ("all",)


def run_tests(
    data: InferenceData,
    event_codes: IntArray,
    event_labels: tuple[str, ...],
    names: tuple[str, ...] | None = None,
    *,
    pooled: BoolArray | None = None,
    group_codes: IntArray | None = None,
    group_labels: tuple[str, ...] = (),
    event_rows: IntArray | None = None,
) -> TestTable:
    """Evaluate tests for all events pooled (group ``"all"``), for the user's groups and for each event id.

    The pooled groups are computed on ``data.take(rows)`` of the pooled rows, so each of their statistics
    equals the one of a study of those firm-events alone (the resampling tests draw from the same group
    keys, the KP r̄ pairs the same residuals). The Kolari-Pynnönen r̄ table (``docs/methods.md`` §6.2,
    P10) is computed when a chosen test uses it (:func:`~eventstudy.inference.base.needs_cross_correlation`:
    ``kp_patell_z``, ``kp_bmp_t``; the default, all tests, does), sharing their computation; otherwise it
    is :func:`no_cross_correlation`, and the estimation residuals and dates are not read by it (for very
    large studies the table alone would hold them and cost O(N T^2)).

    Parameters
    ----------
    data
        The study's arrays.
    event_codes : (N,)
        Code of each firm-event's event id, indexing ``event_labels``.
    event_labels
        Event ids.
    names
        Registered test names; all when None.
    pooled : (N,) bool, optional
        Firm-events of the pooled groups (``pooling`` knob); all rows when None.
    group_codes : (N,), optional
        Code of each firm-event's user group, indexing ``group_labels``; -1 for none.
    group_labels
        Labels of the user's groups (e.g. ``"category=regulation"``).
    event_rows
        Firm-events (rows of ``data``) whose event ids get their own tests, e.g. only those of events with
        two or more firm-events; None: every event. Events without a row here get no per-event rows in the
        table (the pooled groups are unaffected).

    Notes
    -----
    A pooled group without any pooled firm-event (possible under ``pooling = "drop_overlapped"``) gets
    NaN statistics with the reason "no firm-event of the group is pooled".
    """
    tests = get_tests(names)
    groupings = _groupings(data, event_codes, len(event_labels), pooled, group_codes, len(group_labels), event_rows)
    event_data, global_codes, _, _ = groupings[-1]
    tested = np.zeros(len(event_labels), dtype=bool)
    tested[global_codes] = True
    codes = (np.cumsum(tested) - 1)[global_codes]
    tested_events = tuple(np.asarray(event_labels, dtype=object)[tested])
    blocks: list[tuple[str, Scope, StatBlock]] = []
    for test in tests:
        for scope in test.scopes:
            by_event = test.compute(event_data, scope, codes, len(tested_events)) if len(tested_events) else None
            like = _shape_of(test, scope, data, by_event)
            parts = [_compute(test, scope, d, c, n, like) for d, c, n, _ in groupings[:-1]]
            blocks.append((test.name, scope, _stack(parts + ([by_event] if by_event is not None else []))))
    pooled_labels = ("all",) + tuple(group_labels)
    if needs_cross_correlation(names):
        pooled_sets = _pooled_label_sets(group_labels)
        named = [(d, c, labels) for (d, c, _, _), labels in zip(groupings[:-1], pooled_sets, strict=True)]
        kp = [kp_correlation_table(d, c, labels, include_all=False) for d, c, labels in named if len(c)]
        if len(codes):
            kp.append(kp_correlation_table(event_data, codes, tested_events, include_all=False))
        cross_correlation = pd.concat(kp, ignore_index=True)
    else:
        cross_correlation = no_cross_correlation()
    return TestTable(pooled_labels + tested_events, tuple(blocks), cross_correlation, pooled_labels)


def join_tables(tables: Sequence[TestTable], names: tuple[str, ...] | None) -> TestTable:
    """One :class:`TestTable` of the blocks of ``tables`` (same groups), in the order of the tests ``names``.

    E.g. the table of the tests reduced per chunk (:func:`finish_tests`) and that of the tests computed on
    the gathered firm-events (:func:`run_tests`); the Kolari-Pynnönen r̄ table is the one a table holds.
    """
    first = tables[0]
    for table in tables[1:]:
        if table.group_labels != first.group_labels or table.pooled_groups != first.pooled_groups:
            raise ValueError("the tables to join have different groups")
    position = {test.name: k for k, test in enumerate(get_tests(names))}
    blocks = sorted((block for table in tables for block in table.blocks), key=lambda block: position[block[0]])
    correlations = [table.cross_correlation for table in tables if len(table.cross_correlation)]
    cross_correlation = pd.concat(correlations, ignore_index=True) if correlations else no_cross_correlation()
    return TestTable(first.group_labels, tuple(blocks), cross_correlation, first.pooled_groups)


def _pooled_label_sets(group_labels: Sequence[str]) -> list[tuple[str, ...]]:
    """Labels of the pooled groupings: ``("all",)``, then the user's groups when there are any."""
    return [("all",)] + ([tuple(group_labels)] if group_labels else [])


def no_cross_correlation() -> pd.DataFrame:
    """The ``cross_correlation`` table of a study that did not compute it: no rows, its columns."""
    return pd.DataFrame({column: [] for column in KP_CORRELATION_COLUMNS})


@dataclass(frozen=True, eq=False)
class TestPartials:
    """Sufficient statistics of decomposable tests over some firm-events, for every grouping of :func:`run_tests`.

    ``blocks`` hold, per (test, scope), one :class:`~eventstudy.inference.partials.Partial` per grouping
    (``"all"``, the user's groups when there are any, the events), None where the firm-events hold no row of
    that grouping. ``n_groups`` is the number of groups of each grouping (the events' is the number of the
    study's events, whichever are tested). ``shape`` holds, per block, the Partial of one firm-event alone
    when no grouping had a row (it gives the width and family of the NaN rows of groups without
    firm-events), else None. No labels: a chunk's partials cost memory in proportion to its own groups.
    Made by :func:`partial_tests`, combined by :func:`merge_tests`, turned into a :class:`TestTable` by
    :func:`finish_tests`.
    """

    __test__ = False  # not a pytest class

    n_groups: tuple[int, ...]
    blocks: tuple[tuple[str, Scope, tuple[Partial | None, ...]], ...]
    shape: tuple[Partial | None, ...]


def partial_tests(
    data: InferenceData,
    event_codes: IntArray,
    n_events: int,
    names: tuple[str, ...] | None = None,
    *,
    pooled: BoolArray | None = None,
    group_codes: IntArray | None = None,
    n_user_groups: int = 0,
    event_rows: IntArray | None = None,
    rows: IntArray | None = None,
) -> TestPartials:
    """Per-group sufficient statistics of the tests over one chunk of firm-events (arguments of :func:`run_tests`).

    ``data`` holds the chunk's firm-events only; ``event_codes`` (0..n_events-1) and ``group_codes``
    (0..n_user_groups-1, -1 for none) are the study's codes, not the chunk's; ``pooled`` marks the chunk's
    pooled firm-events and ``event_rows`` those whose events may get tests of their own (None: all;
    :func:`finish_tests` picks the tested events). ``rows`` (default 0..N-1) gives the firm-events' rows in
    the study (the ``data`` row order :func:`run_tests` would see; Lamb's ``lamb_market = "first"`` takes
    each group's first firm-event in that order). Partials of chunks that split the study's firm-events in
    any way combine with :func:`merge_tests`, and :func:`finish_tests` of the result equals
    :func:`run_tests` on all firm-events (to rounding: a group split across chunks adds its sums in another
    order).

    Raises
    ------
    InputError
        A test that is not decomposable (``StatTest.decomposable`` False: ranks across firm-events,
        resampling, calendar-time portfolios, the Kolari-Pynnönen r̄) needs all firm-events of a group at
        once.
    """
    tests = get_tests(names)
    for test in tests:
        if not isinstance(test, DecomposableTest):
            raise InputError(
                f"the test {test.name!r} needs all firm-events of a group at once and cannot be computed from "
                "per-chunk sums; gather the rows and use run_tests, or leave the test out",
                parameter="tests",
                value=test.name,
            )
    groupings = _groupings(data, event_codes, n_events, pooled, group_codes, n_user_groups, event_rows)
    study_rows = np.arange(len(data.ar), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    no_row = not any(len(codes) for _, codes, _, _ in groupings)
    first = np.zeros(1, dtype=np.int64)
    blocks: list[tuple[str, Scope, tuple[Partial | None, ...]]] = []
    shapes: list[Partial | None] = []
    for test in tests:
        assert isinstance(test, DecomposableTest)  # checked above
        for scope in test.scopes:
            parts = tuple(_partial(test, scope, d, c, n, study_rows[positions]) for d, c, n, positions in groupings)
            blocks.append((test.name, scope, parts))
            shape = no_row and len(study_rows) > 0
            shapes.append(_partial(test, scope, data.take(first), first, 1, study_rows[:1]) if shape else None)
    return TestPartials(tuple(n for _, _, n, _ in groupings), tuple(blocks), tuple(shapes))


def _partial(
    test: DecomposableTest, scope: Scope, data: InferenceData, codes: IntArray, n_groups: int, rows: IntArray
) -> Partial | None:
    """``test.partial`` over the groups with rows here, relabelled to the study's codes and rows (None: no row)."""
    if not len(codes):
        return None
    present, local = np.unique(codes, return_inverse=True)
    return test.partial(data, scope, local.ravel(), len(present)).relabel(present, n_groups, rows)


def merge_tests(partials: Sequence[TestPartials]) -> TestPartials:
    """The :class:`TestPartials` of the union of the disjoint chunks of ``partials`` (same tests and groupings).

    Linear in the size of the partials (:func:`eventstudy.inference.partials.merge`); merging is
    associative, so partials can be merged in a tree, in any grouping of consecutive chunks.
    """
    first = partials[0]
    blocks = []
    for b, (name, scope, _) in enumerate(first.blocks):
        merged = []
        for g in range(len(first.n_groups)):
            present = [part for part in (p.blocks[b][2][g] for p in partials) if part is not None]
            merged.append(merge(present) if present else None)
        blocks.append((name, scope, tuple(merged)))
    shapes = tuple(next((p.shape[b] for p in partials if p.shape[b] is not None), None) for b in range(len(blocks)))
    return TestPartials(first.n_groups, tuple(blocks), shapes)


def finish_tests(
    merged: TestPartials,
    event_labels: Sequence[str],
    group_labels: Sequence[str] = (),
    *,
    tested_events: IntArray | None = None,
    cross_correlation: pd.DataFrame | None = None,
) -> TestTable:
    """The :class:`TestTable` of :func:`run_tests` from the merged partials of all firm-events.

    ``event_labels`` name the study's event codes and ``group_labels`` the user's groups, as given to
    :func:`partial_tests`. ``tested_events`` (increasing codes) are the events that get rows of their own
    (None: every event with a firm-event in the partials); each must have one. Groups of the pooled
    groupings without a firm-event get NaN with the reason "no firm-event of the group is pooled", as in
    :func:`run_tests`. The Kolari-Pynnönen r̄ table is not made of per-group sums: pass the one computed on
    the gathered estimation residuals (:func:`~eventstudy.inference.clustered.kp_correlation_table`) as
    ``cross_correlation``; without it the table's ``cross_correlation`` is an empty frame with its columns.

    Raises
    ------
    InputError
        No firm-event at all in the partials.
    """
    if tested_events is None:
        events_part = merged.blocks[0][2][-1] if merged.blocks else None
        tested_events = np.zeros(0, dtype=np.int64) if events_part is None else events_part.groups
    tested = np.asarray(tested_events, dtype=np.int64)
    blocks: list[tuple[str, Scope, StatBlock]] = []
    for (name, scope, parts), shape in zip(merged.blocks, merged.shape, strict=True):
        test = REGISTRY[name]
        assert isinstance(test, DecomposableTest)  # partial_tests made these
        events = parts[-1]
        by_event = test.finish(events.select(tested), scope) if events is not None and len(tested) else None
        finished = [None if part is None else test.finish(part, scope) for part in parts[:-1]]
        like = next((block for block in (by_event, *finished) if block is not None), None)
        if like is None:
            if shape is None:
                raise InputError("the partials hold no firm-event: nothing to finish", parameter="partials", value=0)
            like = test.finish(shape, scope)
        stacked = []
        for part, block, n_groups in zip(parts[:-1], finished, merged.n_groups[:-1], strict=True):
            present = np.zeros(n_groups, dtype=bool)
            if part is not None:
                present[part.groups] = True
            stacked.append(block if block is not None and present.all() else _place(block, present, like))
        blocks.append((name, scope, _stack(stacked + ([by_event] if by_event is not None else []))))
    if cross_correlation is None:
        cross_correlation = no_cross_correlation()
    pooled_labels = ("all",) + tuple(group_labels)
    labels = pooled_labels + tuple(np.asarray(event_labels, dtype=object)[tested])
    return TestTable(labels, tuple(blocks), cross_correlation, pooled_labels)


Grouping = tuple[InferenceData, IntArray, int, IntArray]


def _groupings(
    data: InferenceData,
    event_codes: IntArray,
    n_events: int,
    pooled: BoolArray | None,
    group_codes: IntArray | None,
    n_user_groups: int,
    event_rows: IntArray | None = None,
) -> list[Grouping]:
    """The data, group codes, number of groups and rows of each grouping: "all", the user's groups, the events.

    The pooled groupings hold the pooled rows only (``data.take``), the user's groups the pooled rows with a
    group; the events' grouping holds every row, or the ``event_rows`` only, with the study's event codes.
    The rows are the positions in ``data`` of the grouping's.
    """
    codes = np.asarray(event_codes, dtype=np.int64)
    keep = np.ones(len(codes), dtype=bool) if pooled is None else np.asarray(pooled, dtype=bool)
    pooled_rows = np.flatnonzero(keep)
    pooled_data = data if len(pooled_rows) == len(codes) else data.take(pooled_rows)
    groupings: list[Grouping] = [(pooled_data, np.zeros(len(pooled_rows), dtype=np.int64), 1, pooled_rows)]
    if n_user_groups:
        mine = np.asarray(group_codes, dtype=np.int64)[pooled_rows]
        in_group = np.flatnonzero(mine >= 0)
        group_data = pooled_data if len(in_group) == len(mine) else pooled_data.take(in_group)
        groupings.append((group_data, mine[in_group], n_user_groups, pooled_rows[in_group]))
    if event_rows is None:
        groupings.append((data, codes, n_events, np.arange(len(codes), dtype=np.int64)))
        return groupings
    rows = np.asarray(event_rows, dtype=np.int64)
    groupings.append((data if len(rows) == len(codes) else data.take(rows), codes[rows], n_events, rows))
    return groupings


def _shape_of(test: StatTest, scope: Scope, data: InferenceData, by_event: StatBlock | None) -> Callable[[], StatBlock]:
    """A block giving the width and family of ``test`` and ``scope`` (for groups without rows), when asked.

    The events' block when there is one; else the test on the first firm-event alone, computed only if
    a group without rows needs it.
    """
    if by_event is not None:
        return lambda: by_event
    first = np.zeros(1, dtype=np.int64)
    return lambda: test.compute(data.take(first), scope, first, 1)


def _compute(
    test: StatTest, scope: Scope, data: InferenceData, codes: IntArray, n_groups: int, like: Callable[[], StatBlock]
) -> StatBlock:
    """``test.compute`` for the groups that have rows; NaN rows with a reason for those that have none.

    ``like()`` (a block of the same test and scope, :func:`_shape_of`) gives the width and the family of
    the groups without rows.
    """
    present = np.zeros(n_groups, dtype=bool)
    present[codes] = True
    if present.all():
        return test.compute(data, scope, codes, n_groups)
    position = np.cumsum(present) - 1
    block = test.compute(data, scope, position[codes], int(present.sum())) if present.any() else None
    return _place(block, present, like())


def _place(block: StatBlock | None, present: BoolArray, like: StatBlock) -> StatBlock:
    """A block of every group from the ``block`` of the groups that are ``present`` (in group order).

    The other groups get NaN with the reason "no firm-event of the group is pooled"; ``like`` (the block of
    the same test and scope for the events) gives the width and the family.
    """
    n_groups = len(present)
    width = like.statistic.shape[1]
    fields: dict[str, np.ndarray] = {
        "statistic": np.full((n_groups, width), np.nan),
        "p_value": np.full((n_groups, width), np.nan),
        "n": np.zeros((n_groups, width), dtype=like.n.dtype),
        "df": np.full((n_groups, width), np.nan),
        "reason": np.full((n_groups, width), "no firm-event of the group is pooled", dtype=object),
    }
    if block is not None:
        for name, values in fields.items():
            values[present] = getattr(block, name)
    return StatBlock(**fields, family=like.family)


def _stack(parts: list[StatBlock]) -> StatBlock:
    fields = ("statistic", "p_value", "n", "df", "reason")
    stacked = {f: np.concatenate([getattr(p, f) for p in parts]) for f in fields}
    return StatBlock(**stacked, family=parts[0].family)


__all__ = [
    "REGISTRY",
    "InferenceData",
    "StatBlock",
    "StatTest",
    "TestPartials",
    "TestTable",
    "finish_tests",
    "get_tests",
    "join_tables",
    "merge_tests",
    "needs_estimation",
    "no_cross_correlation",
    "partial_tests",
    "run_tests",
]
