"""Shared firm-days (``eventstudy.pooling``) against brute-force loops written here.

Every vectorised function is compared with the plain double loop over all (query, source) pairs that its
docstring describes, on random inputs with NaT, shared codes and equal dates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventstudy.pooling import (
    duplicate_of,
    event_window_mask,
    firm_event_flags,
    pooled_mask,
    precedence,
    range_matches,
)

NAT = np.datetime64("NaT", "D")


def _dates(rng: np.random.Generator, n: int, nat_share: float = 0.1) -> np.ndarray:
    days = np.datetime64("2021-01-01", "D") + rng.integers(0, 60, n)
    return np.where(rng.random(n) < nat_share, NAT, days)


class TestRangeMatches:
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_equals_the_double_loop(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        codes = rng.integers(-1, 4, 40)
        low = _dates(rng, 40)
        high = np.where(np.isnat(low), NAT, low + rng.integers(-2, 20, 40))
        source_codes = rng.integers(-1, 4, 70)
        source_dates = _dates(rng, 70)
        rows, sources = range_matches(codes, low, high, source_codes, source_dates)
        expected = sorted(
            (i, j)
            for i in range(40)
            for j in range(70)
            if codes[i] >= 0
            and codes[i] == source_codes[j]
            and not np.isnat(low[i])
            and not np.isnat(source_dates[j])
            and low[i] <= source_dates[j] <= high[i]
        )
        assert sorted(zip(rows.tolist(), sources.tolist(), strict=True)) == expected
        assert (np.diff(rows) >= 0).all()  # ordered by query row

    def test_ranges_beyond_every_source_match_nothing(self) -> None:
        d = np.array(["2021-03-01", "2021-03-05"], dtype="datetime64[D]")
        rows, _ = range_matches(np.array([0, 0]), d - 100, d - 50, np.array([0, 0]), d)  # wholly before
        assert len(rows) == 0
        rows, _ = range_matches(np.array([1]), d[:1], d[1:], np.array([0, 0]), d)  # another code
        assert len(rows) == 0

    def test_empty_inputs(self) -> None:
        empty = np.empty(0, dtype="datetime64[D]")
        rows, sources = range_matches(np.empty(0, dtype=np.int64), empty, empty, np.array([0]), np.array([NAT]))
        assert len(rows) == len(sources) == 0


def test_precedence_is_release_order_not_file_order() -> None:
    # by hand: date first; on 03-15 the timed events by instant (e_b 11:00Z before e_c 12:00Z), then the
    # date-only ones by id (e_a before e_z); e_0 on an earlier date comes first whatever its time
    ids = pd.Series(["e_z", "e_c", "e_a", "e_b", "e_0"])
    dates = pd.Series(pd.to_datetime(["2021-03-15", "2021-03-15", "2021-03-15", "2021-03-15", "2021-03-12"]))
    times = pd.Series(
        pd.to_datetime([None, "2021-03-15 12:00", None, "2021-03-15 11:00", "2021-03-12 23:00"]).tz_localize("UTC")
    )
    assert precedence(ids, dates, times).tolist() == [4, 2, 3, 1, 0]
    order = [3, 0, 4, 2, 1]
    shuffled = precedence(ids[order].reset_index(drop=True), dates[order], times[order].reset_index(drop=True))
    assert shuffled.tolist() == [1, 4, 0, 3, 2]


def test_duplicate_of_names_the_kept_firm_event_of_each_ticker_and_day() -> None:
    ids = pd.Series(["e1", "e1", "e2", "e3", "e3", "e4"])
    tickers = pd.Series(["A", "B", "A", "A", "B", "A"])
    days = np.array(
        ["2021-03-01", "2021-03-01", "2021-03-01", "2021-03-01", "2021-03-02", "NaT"], dtype="datetime64[D]"
    )
    assert duplicate_of(ids, tickers, days, np.arange(6)).tolist() == ["", "", "e1", "e1", "", ""]
    # e2 released first: it is kept and names nobody, the others name it
    assert duplicate_of(ids, tickers, days, np.array([1, 2, 0, 3, 4, 5])).tolist() == ["e2", "", "", "e2", "", ""]


class TestPooledMask:
    TICKERS = pd.Series(["A", "B", "A", "A", "C"])
    RANK = np.arange(5)
    DAYS = np.array(["2021-03-01", "2021-03-01", "2021-03-01", "2021-03-03", "2021-03-01"], dtype="datetime64[D]")
    OVERLAPS = np.array(["e9 (day +2)", "", "e9 (day +2)", "", ""], dtype=object)

    @pytest.mark.parametrize(
        ("rule", "expected"),
        [
            ("all", [True, True, True, True, True]),
            ("distinct", [True, True, False, True, True]),
            ("drop_overlapped", [False, True, False, True, True]),
        ],
    )
    def test_rules(self, rule: str, expected: list[bool]) -> None:
        assert pooled_mask(self.TICKERS, self.DAYS, self.OVERLAPS, rule, self.RANK).tolist() == expected

    def test_the_lowest_rank_is_kept(self) -> None:
        rank = np.array([4, 0, 1, 2, 3])  # row 2 comes before row 0 on A's 03-01
        kept = pooled_mask(self.TICKERS, self.DAYS, self.OVERLAPS, "distinct", rank)
        assert kept.tolist() == [False, True, True, True, True]

    def test_unknown_rule(self) -> None:
        with pytest.raises(ValueError, match="pooling"):
            pooled_mask(self.TICKERS, self.DAYS, self.OVERLAPS, "some", self.RANK)


def test_event_window_mask_equals_the_double_loop() -> None:
    rng = np.random.default_rng(8)
    n, length, width = 12, 30, 5
    tickers = pd.Series(rng.choice(["A", "B", "C"], n))
    start = np.datetime64("2021-01-04", "D") + rng.integers(0, 80, n)
    est = start[:, None] + np.arange(length)
    evt = (start + length + 10)[:, None] + np.arange(width)
    est = np.where(rng.random(est.shape) < 0.1, NAT, est)
    evt = np.where(rng.random(evt.shape) < 0.1, NAT, evt)
    got = event_window_mask(tickers, est, evt)
    expected = np.zeros(est.shape, dtype=bool)
    for i in range(n):
        for j in range(n):
            if i == j or tickers[i] != tickers[j] or np.isnat(evt[j]).all():
                continue
            first, last = evt[j][~np.isnat(evt[j])].min(), evt[j][~np.isnat(evt[j])].max()
            for k in range(length):
                if not np.isnat(est[i, k]) and first <= est[i, k] <= last:
                    expected[i, k] = True
    assert expected.any()
    np.testing.assert_array_equal(got, expected)


def test_firm_event_flags_text() -> None:
    # A in e1 (day 0 2021-03-10) and e2 (day 0 2021-03-09, day -1 of e1's window) and e3 (same day 0 as e1)
    window = np.datetime64("2021-03-08", "D") + np.arange(5)  # 03-08 .. 03-12, day -2 .. +2
    estimated = pd.DataFrame(
        {"event_id": ["e1", "e2"], "ticker": ["A", "A"], "day_zero": pd.to_datetime(["2021-03-10", "2021-03-09"])}
    )
    others = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e0"],
            "ticker": ["A", "A", "A", "A"],
            "day_zero": np.array(["2021-03-10", "2021-03-09", "2021-03-10", "2021-01-15"], dtype="datetime64[D]"),
        }
    )
    windows = np.stack([window, window - 1])
    fit_dates = np.stack([np.datetime64("2021-01-04", "D") + np.arange(40)] * 2)
    flags = firm_event_flags(estimated, windows, np.arange(-2, 3), fit_dates, others)
    assert flags["overlaps"].tolist() == ["e2 (day -1)", "e1 (day +1); e3 (day +1)"]
    assert flags["estimation_confounders"].tolist() == ["e0 (day 0 2021-01-15)"] * 2
    masked = firm_event_flags(estimated, windows, np.arange(-2, 3), fit_dates, others, masked=True)
    assert masked["estimation_confounders"].iloc[0] == "e0 (day 0 2021-01-15, window masked)"
    # a fourth event of A on 03-11: day +1 of e1's window and day +2 of e2's, a third text for e2
    fourth = pd.concat(
        [others, pd.DataFrame({"event_id": ["e4"], "ticker": ["A"], "day_zero": [np.datetime64("2021-03-11", "D")]})]
    )
    flags = firm_event_flags(estimated, windows, np.arange(-2, 3), fit_dates, fourth.reset_index(drop=True))
    assert flags["overlaps"].tolist() == ["e2 (day -1); e4 (day +1)", "e1 (day +1); e3 (day +1); e4 (day +2)"]


def test_estimation_confounders_equal_the_loop() -> None:
    """Random firm-events of three tickers: each row's confounder text equals a loop over all other events."""
    rng = np.random.default_rng(11)
    n = 60
    tickers = rng.choice(["A", "B", "C"], n)
    day0 = np.datetime64("2021-01-04", "D") + rng.integers(0, 200, n)
    ids = np.array([f"e{i:02d}" for i in range(n)], dtype=object)
    estimated = pd.DataFrame({"event_id": ids[:40], "ticker": tickers[:40], "day_zero": day0[:40]})
    others = pd.DataFrame({"event_id": ids, "ticker": tickers, "day_zero": day0})
    first = day0[:40] - rng.integers(20, 90, 40)
    fit_dates = np.stack([first, first + 30], axis=1)
    window = np.stack([day0[:40] + d for d in range(-2, 3)], axis=1)
    flags = firm_event_flags(estimated, window, np.arange(-2, 3), fit_dates, others)
    for i in range(40):
        hits = sorted(
            (day0[j], j)
            for j in range(n)
            if ids[j] != ids[i] and tickers[j] == tickers[i] and first[i] <= day0[j] <= first[i] + 30
        )
        expected = "; ".join(f"{ids[j]} (day 0 {d})" for d, j in hits)
        assert flags["estimation_confounders"].iloc[i] == expected
    assert (flags["estimation_confounders"].str.count(";") >= 1).any()  # rows with several texts occur


def test_duplicate_of_and_distinct_pooling_equal_the_loop() -> None:
    """Random tickers, days (some NaT) and ranks: the kept row of each (ticker, day 0) by a loop."""
    rng = np.random.default_rng(5)
    n = 80
    tickers = pd.Series(rng.choice(["A", "B", "C"], n))
    day0 = np.where(rng.random(n) < 0.15, NAT, np.datetime64("2021-03-01", "D") + rng.integers(0, 6, n))
    rank = rng.permutation(n)
    ids = pd.Series([f"e{i:02d}" for i in range(n)])
    kept_of = {}
    for i in sorted(range(n), key=lambda i: rank[i]):
        kept_of.setdefault((tickers[i], str(day0[i])), i)
    expected_first = [kept_of[(tickers[i], str(day0[i]))] == i for i in range(n)]
    expected_dup = [
        "" if first or np.isnat(day0[i]) else ids[kept_of[(tickers[i], str(day0[i]))]]
        for i, first in enumerate(expected_first)
    ]
    assert duplicate_of(ids, tickers, day0, rank).tolist() == expected_dup
    distinct = pooled_mask(tickers, day0, np.full(n, "", dtype=object), "distinct", rank)
    assert distinct.tolist() == expected_first
    assert not all(expected_first)  # duplicates occur
