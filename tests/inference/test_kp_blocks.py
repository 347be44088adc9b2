"""Block-wise Kolari-Pynnönen r̄ (P10, variant ``kp_blocks``): the blocked mean, its table rows, the KP tests.

Expected values come from plain loops over the pairs of a group: pandas inner joins on calendar dates and
``np.corrcoef`` per pair (``hand_pairs``), never from the engine's correlation kernel.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from test_parametric_battery import RTOL, compute, hand_bmp, simulate  # type: ignore[import-not-found]

from eventstudy.inference import run_tests
from eventstudy.inference.base import InferenceData
from eventstudy.inference.clustered import (
    BLOCKED_ROW,
    KP_CORRELATION_COLUMNS,
    kp_blocked_correlation,
    kp_correlation_table,
    kp_mean_correlation,
)

OFFSETS = np.array([0, 5, 40, 60, 0, 10, 55, 75])  # 0 vs 60 and 0 vs 75: fewer than 30 common dates
BLOCKS = np.array([0, 0, 1, 1, 0, 2, 1, -1])  # row 7 is in no block
LABELS = ("b=x", "b=y", "b=z")
MIN_OVERLAP = 30


def blocked_data() -> InferenceData:
    d = simulate(offsets=OFFSETS, markets=np.array(["XHKG"] * 4 + ["XNYS"] * 4, dtype=object)).data
    return dataclasses.replace(d, blocks=BLOCKS, block_labels=LABELS)


def hand_pairs(data: InferenceData, rows: np.ndarray) -> list[tuple[int, int, float]]:
    """(i, j, ρ_ij) of every pair of ``rows`` with at least MIN_OVERLAP common dates (pandas join, np.corrcoef)."""
    series = {}
    for i in rows:
        ok = np.isfinite(data.est_resid[i])
        series[i] = pd.Series(data.est_resid[i, ok] / math.sqrt(data.s2[i]), index=data.est_dates[i, ok])
    out = []
    for a, i in enumerate(rows):
        for j in rows[a + 1 :]:
            joined = pd.concat([series[i], series[j]], axis=1, join="inner")
            if len(joined) >= MIN_OVERLAP:
                out.append((int(i), int(j), float(np.corrcoef(joined.iloc[:, 0], joined.iloc[:, 1])[0, 1])))
    return out


def hand_blocked(data: InferenceData, rows: np.ndarray) -> tuple[float, int]:
    """Σ of the within-block ρ over the number of all qualifying pairs (cross-block pairs count as 0)."""
    pairs = hand_pairs(data, rows)
    within = [rho for i, j, rho in pairs if BLOCKS[i] >= 0 and BLOCKS[i] == BLOCKS[j]]
    return (sum(within) / len(pairs) if pairs else 0.0), len(pairs)


def hand_block_rbar(data: InferenceData, rows: np.ndarray, block: int) -> tuple[float, int]:
    """Plain mean r̄ of the pairs within one block."""
    pairs = hand_pairs(data, rows[BLOCKS[rows] == block])
    return (float(np.mean([rho for *_, rho in pairs])) if pairs else math.nan), len(pairs)


class TestBlockedRbar:
    def test_blocked_rbar_against_pair_loops(self) -> None:
        d = blocked_data()
        groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
        got, n_pairs = kp_blocked_correlation(d, groups, 2)
        for g in range(2):
            want, count = hand_blocked(d, np.flatnonzero(groups == g))
            np.testing.assert_allclose(got[g], want, rtol=RTOL)
            assert n_pairs[g] == count
        pooled, _ = kp_blocked_correlation(d, np.zeros(8, dtype=np.int64), 1)
        want, count = hand_blocked(d, np.arange(8))
        np.testing.assert_allclose(pooled[0], want, rtol=RTOL)
        assert 0 < count < 28  # some pairs have fewer than 30 common dates
        assert 0 < pooled[0] < kp_mean_correlation(d, np.zeros(8, dtype=np.int64), 1)[0]  # cross-block ρ > 0 dropped

    def test_one_block_is_the_pooled_rbar_and_no_block_is_zero(self) -> None:
        d = blocked_data()
        pooled = kp_mean_correlation(d, np.zeros(8, dtype=np.int64), 1)
        same = dataclasses.replace(d, blocks=np.zeros(8, dtype=np.int64), block_labels=("b=one",))
        np.testing.assert_allclose(
            kp_blocked_correlation(same, np.zeros(8, dtype=np.int64), 1)[0], pooled[0], rtol=RTOL
        )
        alone = dataclasses.replace(d, blocks=np.arange(8), block_labels=tuple(f"b={i}" for i in range(8)))
        r_bar, n_pairs = kp_blocked_correlation(alone, np.zeros(8, dtype=np.int64), 1)
        assert r_bar[0] == 0.0 and n_pairs[0] == pooled[1][0]

    def test_take_keeps_the_blocks(self) -> None:
        d = blocked_data()
        part = d.take(np.array([4, 0, 1]))
        np.testing.assert_array_equal(part.blocks, BLOCKS[[4, 0, 1]])
        assert part.block_labels == LABELS
        assert dataclasses.replace(d, blocks=None).take(np.arange(3)).blocks is None


class TestBlockedTests:
    def test_kp_tests_use_the_blocked_rbar(self) -> None:
        d = blocked_data()
        r_bar, _ = hand_blocked(d, np.arange(8))
        sar = d.ar / np.sqrt(d.ar_var)
        kp_bmp = compute(d, "kp_bmp_t", "day")
        for t in range(5):
            n = np.isfinite(sar[:, t]).sum()
            adj = math.sqrt((1 - r_bar) / (1 + (n - 1) * r_bar))
            np.testing.assert_allclose(kp_bmp.statistic[0, t], hand_bmp(sar[:, t]) * adj, rtol=RTOL)
        pooled = compute(dataclasses.replace(d, blocks=None, block_labels=()), "kp_bmp_t", "day")
        assert np.all(np.abs(kp_bmp.statistic) > np.abs(pooled.statistic))  # a smaller r̄, a smaller correction


class TestBlockRows:
    def test_table_rows_against_pair_loops(self) -> None:
        d = blocked_data()
        codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
        table = kp_correlation_table(d, codes, ("a", "b"))
        assert tuple(table.columns) == KP_CORRELATION_COLUMNS
        for group, rows in (("all", np.arange(8)), ("a", np.arange(4)), ("b", np.arange(4, 8))):
            mine = table[table.group == group]
            block_rows = mine[(mine.block != "") & (mine.block != BLOCKED_ROW)]
            present = sorted({int(b) for b in BLOCKS[rows] if b >= 0})
            assert list(block_rows.block) == [LABELS[b] for b in present]
            for b in present:
                row = block_rows[block_rows.block == LABELS[b]].iloc[0]
                want, count = hand_block_rbar(d, rows, b)
                assert row.n_pairs == count and row.n_firm_events == (BLOCKS[rows] == b).sum()
                np.testing.assert_allclose(row.r_bar, want, rtol=RTOL, equal_nan=True)
            blocked = mine[mine.block == BLOCKED_ROW].iloc[0]
            want, count = hand_blocked(d, rows)
            np.testing.assert_allclose(blocked.r_bar, want, rtol=RTOL)
            assert blocked.n_pairs == count and blocked.n_firm_events == len(rows)
            assert list(mine.in_tests) == [False] * (len(mine) - 1) + [True]  # the blocked row, last
            assert mine.iloc[0].market_scope == "all" and mine.iloc[0].block == ""  # the pooled row first

    def test_no_blocks_no_block_rows(self) -> None:
        d = dataclasses.replace(blocked_data(), blocks=None, block_labels=())
        table = kp_correlation_table(d, np.array([0, 0, 0, 0, 1, 1, 1, 1]), ("a", "b"))
        assert (table.block == "").all()
        assert list(table.in_tests) == [row.market_scope == "all" for row in table.itertuples()]

    def test_run_tests_carries_the_block_rows(self) -> None:
        d = blocked_data()
        table = run_tests(d, np.array([0, 0, 0, 0, 1, 1, 1, 1]), ("a", "b"), ("kp_bmp_t",)).cross_correlation
        assert list(table[table.block == BLOCKED_ROW].group) == ["all", "a", "b"]
        assert table.in_tests.sum() == 3


@pytest.mark.parametrize("block", [np.array([0, 0, 0, 0, 0, 0, 0, 0]), BLOCKS])
def test_blocked_rbar_is_invariant_to_row_order(block: np.ndarray) -> None:
    d = dataclasses.replace(blocked_data(), blocks=block)
    order = np.array([7, 3, 5, 0, 6, 2, 4, 1])
    got = kp_blocked_correlation(d, np.zeros(8, dtype=np.int64), 1)
    again = kp_blocked_correlation(d.take(order), np.zeros(8, dtype=np.int64), 1)
    np.testing.assert_allclose(again[0], got[0], rtol=RTOL)
    assert again[1][0] == got[1][0]
