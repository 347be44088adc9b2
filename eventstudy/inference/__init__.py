"""Test statistics: a registry of named tests computed on (events x days) arrays.

``run_tests`` evaluates the chosen tests for every group of events (each event id, and all events
pooled as ``"all"``) on every event-window day and every CAR window, returning arrays that
:class:`eventstudy.results.StudyResult` turns into the tidy ``tests`` frame, together with the
Kolari-Pynnönen cross-correlation table (``cross_correlation``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventstudy._typing import IntArray
from eventstudy.inference import calendar_time as _calendar_time  # noqa: F401  (registers the tests)
from eventstudy.inference import clustered as _clustered  # noqa: F401  (registers the tests)
from eventstudy.inference import nonparametric as _nonparametric  # noqa: F401  (registers the tests)
from eventstudy.inference import parametric as _parametric  # noqa: F401  (registers the tests)
from eventstudy.inference import resampling as _resampling  # noqa: F401  (registers the tests)
from eventstudy.inference.base import REGISTRY, InferenceData, Scope, StatBlock, StatTest, get_tests
from eventstudy.inference.clustered import kp_correlation_table


@dataclass(frozen=True, eq=False)
class TestTable:
    """Stacked results of several tests: one :class:`StatBlock` per (test, scope).

    ``group_labels`` name the rows of every block; day blocks have one column per event-window day,
    window blocks one per CAR window. ``cross_correlation`` is the Kolari-Pynnönen r̄ per group and market
    scope (:func:`eventstudy.inference.clustered.kp_correlation_table`).
    """

    __test__ = False  # not a pytest class

    group_labels: tuple[str, ...]
    blocks: tuple[tuple[str, Scope, StatBlock], ...]
    cross_correlation: pd.DataFrame


def run_tests(
    data: InferenceData, event_codes: IntArray, event_labels: tuple[str, ...], names: tuple[str, ...] | None = None
) -> TestTable:
    """Evaluate tests for all events pooled (group ``"all"``) and for each event id.

    The Kolari-Pynnönen r̄ table is computed whatever tests are chosen (it is a property of the data that
    ``docs/methods.md`` §6.2, P10, asks to report); with the KP tests chosen its "all" scope is shared with
    them.

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
    """
    tests = get_tests(names)
    n_events = len(event_labels)
    codes = np.asarray(event_codes, dtype=np.int64)
    pooled = np.zeros(len(codes), dtype=np.int64)
    blocks: list[tuple[str, Scope, StatBlock]] = []
    for test in tests:
        for scope in test.scopes:
            all_block = test.compute(data, scope, pooled, 1)
            by_event = test.compute(data, scope, codes, n_events)
            blocks.append((test.name, scope, _stack(all_block, by_event)))
    return TestTable(("all",) + tuple(event_labels), tuple(blocks), kp_correlation_table(data, codes, event_labels))


def _stack(first: StatBlock, second: StatBlock) -> StatBlock:
    fields = ("statistic", "p_value", "n", "df", "reason")
    stacked = {f: np.concatenate([getattr(first, f), getattr(second, f)]) for f in fields}
    return StatBlock(**stacked, family=first.family)


__all__ = ["REGISTRY", "InferenceData", "StatBlock", "StatTest", "TestTable", "get_tests", "run_tests"]
