"""``run_tests`` with per-event rows for some events only.

Oracle: ``run_tests`` itself with every event, cell by cell and bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_partials import EVENT_LABELS, GROUP_LABELS, study  # type: ignore[import-not-found]

from eventstudy.conventions import Conventions
from eventstudy.inference import TestTable, run_tests

FIELDS = ("statistic", "p_value", "n", "df", "reason")


def _table(event_rows: np.ndarray | None = None) -> TestTable:
    data, labels = study(Conventions())
    return run_tests(
        data,
        labels["event_codes"],
        EVENT_LABELS,
        None,  # every registered test
        pooled=labels["pooled"],
        group_codes=labels["group_codes"],
        group_labels=GROUP_LABELS,
        event_rows=event_rows,
    )


@pytest.fixture(scope="module")
def plain() -> TestTable:
    return _table()


def test_event_rows_keep_those_events_rows_and_every_pooled_row(plain: TestTable) -> None:
    _, labels = study(Conventions())
    codes = labels["event_codes"]
    kept_events = {1, 4, 6}
    table = _table(event_rows=np.flatnonzero(np.isin(codes, list(kept_events))))
    pooled = len(plain.pooled_groups)
    kept = [plain.group_labels.index(EVENT_LABELS[e]) for e in sorted(kept_events)]
    assert table.group_labels == plain.group_labels[:pooled] + tuple(EVENT_LABELS[e] for e in sorted(kept_events))
    rows = list(range(pooled)) + kept
    for (_, _, got), (name, scope, expected) in zip(table.blocks, plain.blocks, strict=True):
        for field in FIELDS:
            np.testing.assert_array_equal(
                getattr(got, field), getattr(expected, field)[rows], err_msg=f"{name} {scope} {field}"
            )


def test_no_event_rows_leave_the_pooled_groups(plain: TestTable) -> None:
    table = _table(event_rows=np.zeros(0, dtype=np.int64))
    pooled = len(plain.pooled_groups)
    assert table.group_labels == plain.pooled_groups
    for (_, _, got), (_, _, expected) in zip(table.blocks, plain.blocks, strict=True):
        np.testing.assert_array_equal(got.statistic, expected.statistic[:pooled])
        np.testing.assert_array_equal(got.reason, expected.reason[:pooled])
