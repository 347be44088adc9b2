"""Test statistics: a registry of named tests computed on (events x days) arrays.

``run_tests`` evaluates the chosen tests for every group of firm-events (all events pooled as ``"all"``,
the user's groups such as ``"category=regulation"``, and each event id) on every event-window day and
every CAR window, returning arrays that :class:`eventstudy.results.StudyResult` turns into the tidy
``tests`` frame, together with the Kolari-Pynnönen cross-correlation table (``cross_correlation``).
The pooled groups (``"all"`` and the user's groups) use the firm-events the ``pooling`` knob keeps
(``docs/methods.md`` §3.5); each event's group uses all of its firm-events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventstudy._typing import BoolArray, IntArray
from eventstudy.inference import calendar_time as _calendar_time  # noqa: F401  (registers the tests)
from eventstudy.inference import clustered as _clustered  # noqa: F401  (registers the tests)
from eventstudy.inference import nonparametric as _nonparametric  # noqa: F401  (registers the tests)
from eventstudy.inference import parametric as _parametric  # noqa: F401  (registers the tests)
from eventstudy.inference import resampling as _resampling  # noqa: F401  (registers the tests)
from eventstudy.inference.base import REGISTRY, InferenceData, Scope, StatBlock, StatTest, get_tests, needs_estimation
from eventstudy.inference.clustered import kp_correlation_table


@dataclass(frozen=True, eq=False)
class TestTable:
    """Stacked results of several tests: one :class:`StatBlock` per (test, scope).

    ``group_labels`` name the rows of every block (``"all"``, then the user's groups, then the event
    ids); ``pooled_groups`` are those computed on the pooled firm-events (``"all"`` and the user's
    groups). Day blocks have one column per event-window day, window blocks one per CAR window.
    ``cross_correlation`` is the Kolari-Pynnönen r̄ per group and market scope
    (:func:`eventstudy.inference.clustered.kp_correlation_table`).
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
) -> TestTable:
    """Evaluate tests for all events pooled (group ``"all"``), for the user's groups and for each event id.

    The pooled groups are computed on ``data.take(rows)`` of the pooled rows, so each of their statistics
    equals the one of a study of those firm-events alone (the resampling tests draw from the same group
    keys, the KP r̄ pairs the same residuals). The Kolari-Pynnönen r̄ table is computed whatever tests
    are chosen (it is a property of the data that ``docs/methods.md`` §6.2, P10, asks to report); with
    the KP tests chosen it shares their computation.

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

    Notes
    -----
    A pooled group without any pooled firm-event (possible under ``pooling = "drop_overlapped"``) gets
    NaN statistics with the reason "no firm-event of the group is pooled".
    """
    tests = get_tests(names)
    codes = np.asarray(event_codes, dtype=np.int64)
    keep = np.ones(len(codes), dtype=bool) if pooled is None else np.asarray(pooled, dtype=bool)
    pooled_rows = np.flatnonzero(keep)
    pooled_data = data if len(pooled_rows) == len(codes) else data.take(pooled_rows)
    groupings: list[tuple[InferenceData, IntArray, tuple[str, ...]]] = [
        (pooled_data, np.zeros(len(pooled_rows), dtype=np.int64), ("all",))
    ]
    if group_labels:
        mine = np.asarray(group_codes, dtype=np.int64)[pooled_rows]
        in_group = np.flatnonzero(mine >= 0)
        group_data = pooled_data if len(in_group) == len(mine) else pooled_data.take(in_group)
        groupings.append((group_data, mine[in_group], tuple(group_labels)))
    groupings.append((data, codes, tuple(event_labels)))
    blocks: list[tuple[str, Scope, StatBlock]] = []
    for test in tests:
        for scope in test.scopes:
            by_event = test.compute(data, scope, codes, len(event_labels))
            parts = [_compute(test, scope, d, c, len(labels), by_event) for d, c, labels in groupings[:-1]]
            blocks.append((test.name, scope, _stack([*parts, by_event])))
    kp = [kp_correlation_table(d, c, labels, include_all=False) for d, c, labels in groupings if len(c)]
    labels = tuple(label for _, _, grouping in groupings for label in grouping)
    return TestTable(labels, tuple(blocks), pd.concat(kp, ignore_index=True), ("all",) + tuple(group_labels))


def _compute(
    test: StatTest, scope: Scope, data: InferenceData, codes: IntArray, n_groups: int, like: StatBlock
) -> StatBlock:
    """``test.compute`` for the groups that have rows; NaN rows with a reason for those that have none.

    ``like`` (the block of the same test and scope for the events) gives the width and the family when
    no group has a row.
    """
    present = np.zeros(n_groups, dtype=bool)
    present[codes] = True
    if present.all():
        return test.compute(data, scope, codes, n_groups)
    width = like.statistic.shape[1]
    fields: dict[str, np.ndarray] = {
        "statistic": np.full((n_groups, width), np.nan),
        "p_value": np.full((n_groups, width), np.nan),
        "n": np.zeros((n_groups, width), dtype=like.n.dtype),
        "df": np.full((n_groups, width), np.nan),
        "reason": np.full((n_groups, width), "no firm-event of the group is pooled", dtype=object),
    }
    if present.any():
        position = np.cumsum(present) - 1
        block = test.compute(data, scope, position[codes], int(present.sum()))
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
    "TestTable",
    "get_tests",
    "needs_estimation",
    "run_tests",
]
