"""Kolari-Pynnönen r̄ (P10): r̄ on clustered and calendar-spread events, its cache, the adjusted tests, the r̄ table.

The routes of the correlation kernel itself are tested in ``test_correlation.py``.

Expected values come from ``hand_rbar`` (pandas inner joins on calendar dates and ``np.corrcoef`` per pair)
and the hand formulas of ``test_parametric_battery.py``, never from the engine. Tolerance rtol=1e-10: same
formulas, different summation order.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_parametric_battery import RTOL, compute, hand_bmp, hand_patell, hand_rbar, simulate  # type: ignore[import-not-found]

from eventstudy.inference import clustered, run_tests
from eventstudy.inference.clustered import KP_CORRELATION_COLUMNS, kp_correlation_table, kp_mean_correlation

POOLED8 = np.zeros(8, dtype=np.int64)


class TestKolariPynnonen:
    def test_rbar_clustered_and_adjusted_statistics(self) -> None:
        d = simulate().data
        rbar, n_pairs = hand_rbar(d, np.arange(8), 30)
        got, pairs = kp_mean_correlation(d, np.zeros(8, dtype=np.int64), 1)
        np.testing.assert_allclose(got[0], rbar, rtol=RTOL)
        assert pairs[0] == n_pairs == 28
        assert rbar > 0.05  # the common factor shows up
        sar = d.ar / np.sqrt(d.ar_var)
        kp_bmp = compute(d, "kp_bmp_t", "day")
        kp_pz = compute(d, "kp_patell_z", "day")
        for t in range(5):
            n = np.isfinite(sar[:, t]).sum()
            adj = math.sqrt((1 - rbar) / (1 + (n - 1) * rbar))
            np.testing.assert_allclose(kp_bmp.statistic[0, t], hand_bmp(sar[:, t]) * adj, rtol=RTOL)
            np.testing.assert_allclose(
                kp_bmp.p_value[0, t], 2 * stats.t.sf(abs(hand_bmp(sar[:, t]) * adj), n - 1), rtol=1e-8
            )
            np.testing.assert_allclose(
                kp_pz.statistic[0, t], hand_patell(sar[:, t], d.df.astype(float)) * adj, rtol=RTOL
            )
        scar = d.car / np.sqrt(d.car_var)
        win = compute(d, "kp_bmp_t", "window")
        for c in range(3):
            n = np.isfinite(scar[:, c]).sum()
            adj = math.sqrt((1 - rbar) / (1 + (n - 1) * rbar))
            np.testing.assert_allclose(win.statistic[0, c], hand_bmp(scar[:, c]) * adj, rtol=RTOL)
        assert (kp_bmp.reason == "").all()

    def test_rbar_calendar_aligned_with_overlap_threshold_and_groups(self) -> None:
        offsets = np.array([0, 5, 40, 60, 0, 10, 55, 75])  # 0 vs 60: 20 common dates < 30, left out
        d = simulate(offsets=offsets).data
        groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
        got, pairs = kp_mean_correlation(d, groups, 2)
        for g in range(2):
            rbar, n_pairs = hand_rbar(d, np.flatnonzero(groups == g), 30)
            np.testing.assert_allclose(got[g], rbar, rtol=RTOL)
            assert pairs[g] == n_pairs
        assert pairs[0] < 6 and pairs[1] < 6

    def test_no_qualifying_pair_reports_unadjusted_with_reason(self) -> None:
        d = simulate(offsets=np.array([0, 70, 140, 210, 280, 350, 420, 490])).data
        kp = compute(d, "kp_bmp_t", "day")
        np.testing.assert_allclose(kp.statistic, compute(d, "bmp_t", "day").statistic, rtol=RTOL)
        assert "r̄ = 0" in kp.reason[0, 0]


class TestCache:
    OFFSETS = np.array([0, 5, 40, 60, 0, 10, 55, 75])  # common dates per pair from 20 to 80

    def test_replace_starts_with_an_empty_cache(self) -> None:
        """Regression: a copy made with dataclasses.replace and another kp_min_overlap returned the old r̄."""
        d = simulate(offsets=self.OFFSETS).data
        r30, p30 = kp_mean_correlation(d, POOLED8, 1)
        d60 = dataclasses.replace(d, conventions=d.conventions.with_knobs(kp_min_overlap=60))
        r60, p60 = kp_mean_correlation(d60, POOLED8, 1)
        for got, pairs, overlap in ((r30, p30, 30), (r60, p60, 60)):
            rbar, n_pairs = hand_rbar(d, np.arange(8), overlap)
            np.testing.assert_allclose(got[0], rbar, rtol=RTOL)
            assert pairs[0] == n_pairs
        assert p60[0] < p30[0] and not np.isclose(r60[0], r30[0])
        # the adjusted statistics of the copy use its own r̄
        sar = d.ar / np.sqrt(d.ar_var)
        n = np.isfinite(sar[:, 0]).sum()
        adj = math.sqrt((1 - r60[0]) / (1 + (n - 1) * r60[0]))
        np.testing.assert_allclose(
            compute(d60, "kp_bmp_t", "day").statistic[0, 0], hand_bmp(sar[:, 0]) * adj, rtol=RTOL
        )
        np.testing.assert_allclose(kp_mean_correlation(d, POOLED8, 1)[0], r30, rtol=0)  # the original keeps its value

    def test_key_holds_the_knob_and_the_grouping(self) -> None:
        d = simulate(offsets=self.OFFSETS).data
        r30, _ = kp_mean_correlation(d, POOLED8, 1)
        object.__setattr__(d, "conventions", d.conventions.with_knobs(kp_min_overlap=60))  # same instance
        r60, p60 = kp_mean_correlation(d, POOLED8, 1)
        rbar, n_pairs = hand_rbar(d, np.arange(8), 60)
        np.testing.assert_allclose(r60[0], rbar, rtol=RTOL)
        assert p60[0] == n_pairs and not np.isclose(r60[0], r30[0])
        split = np.array([0, 0, 0, 0, 1, 1, 1, 1])
        r_split, _ = kp_mean_correlation(d, split, 2)
        np.testing.assert_allclose(r_split[1], hand_rbar(d, np.arange(4, 8), 60)[0], rtol=RTOL)


class TestCorrelationTable:
    MARKETS = np.array(["XNYS", "XHKG", "XNYS", "XHKG", "XNYS", "XNYS", "XNYS", "XNYS", "XNYS", "XHKG"], dtype=object)
    CODES = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])  # event "a" mixes 3 NYSE and 2 HKEX; "b" has one HKEX
    OFFSETS = np.array([0, 3, 6, 9, 12, 20, 25, 30, 35, 40])

    def table(self) -> tuple[Any, pd.DataFrame]:
        d = simulate(n=10, offsets=self.OFFSETS, markets=self.MARKETS).data
        return d, kp_correlation_table(d, self.CODES, ("a", "b"))

    def test_rows_and_values_against_pandas(self) -> None:
        d, table = self.table()
        assert tuple(table.columns) == KP_CORRELATION_COLUMNS
        every = np.arange(10)
        a, b = np.flatnonzero(self.CODES == 0), np.flatnonzero(self.CODES == 1)
        expected = [
            ("all", "all", every),
            ("all", "XHKG", every[self.MARKETS == "XHKG"]),
            ("all", "XNYS", every[self.MARKETS == "XNYS"]),
            ("a", "all", a),
            ("a", "XHKG", a[self.MARKETS[a] == "XHKG"]),
            ("a", "XNYS", a[self.MARKETS[a] == "XNYS"]),
            ("b", "all", b),
            ("b", "XHKG", b[self.MARKETS[b] == "XHKG"]),
            ("b", "XNYS", b[self.MARKETS[b] == "XNYS"]),
        ]
        assert list(zip(table.group, table.market_scope, strict=True)) == [(g, m) for g, m, _ in expected]
        for row, (_, _, rows) in zip(table.itertuples(), expected, strict=True):
            rbar, n_pairs = hand_rbar(d, rows, 30)
            assert row.n_pairs == n_pairs and row.n_firm_events == len(rows)
            if n_pairs:
                np.testing.assert_allclose(row.r_bar, rbar, rtol=RTOL)
            else:
                assert np.isnan(row.r_bar)
        assert table.loc[(table.group == "b") & (table.market_scope == "XHKG"), "n_pairs"].item() == 0

    def test_run_tests_computes_the_table_only_for_a_kp_test(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without kp_patell_z / kp_bmp_t no r̄ is computed: an empty table with its columns, the tests unchanged."""
        d = simulate(n=10, offsets=self.OFFSETS).data
        with_kp = run_tests(d, self.CODES, ("a", "b"), ("bmp_t", "kp_patell_z"))
        assert len(with_kp.cross_correlation) == 3 and with_kp.cross_correlation["n_pairs"].gt(0).all()

        def no_rbar(*args: object) -> None:
            raise AssertionError("the r̄ was computed")

        monkeypatch.setattr(clustered, "_kp_pair_sums", no_rbar)
        fresh = simulate(n=10, offsets=self.OFFSETS).data  # no memoized r̄
        without = run_tests(fresh, self.CODES, ("a", "b"), ("bmp_t", "patell_z"))
        assert without.cross_correlation.empty
        assert tuple(without.cross_correlation.columns) == KP_CORRELATION_COLUMNS
        np.testing.assert_array_equal(without.blocks[0][2].statistic, with_kp.blocks[0][2].statistic)  # bmp_t, day

    def test_single_market_groups_have_one_row_and_run_tests_carries_the_table(self) -> None:
        d = simulate(n=10, offsets=self.OFFSETS).data  # every firm-event on NYSE
        table = run_tests(d, self.CODES, ("a", "b"), ("kp_bmp_t",)).cross_correlation
        assert list(zip(table.group, table.market_scope, strict=True)) == [("all", "all"), ("a", "all"), ("b", "all")]
        for group, rows in (("all", np.arange(10)), ("a", np.arange(5)), ("b", np.arange(5, 10))):
            rbar, n_pairs = hand_rbar(d, rows, 30)
            row = table[table.group == group].iloc[0]
            np.testing.assert_allclose(row.r_bar, rbar, rtol=RTOL)
            assert row.n_pairs == n_pairs and row.n_firm_events == len(rows)
