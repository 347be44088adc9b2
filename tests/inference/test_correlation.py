"""The pairwise-correlation kernel behind the Kolari-Pynnönen r̄: every route against np.corrcoef pair by pair.

The oracle (``brute``) joins each pair's series on their calendar dates with pandas and takes
``np.corrcoef`` of the common values, pair by pair; it never calls the kernel. The designs are built so
that each route of the kernel (identical date sets, runs of consecutive dates, pair-by-pair products for
gapped or mixed-calendar series) carries pairs, which a spy on the routes checks. Tolerance atol=1e-12 on
sums of correlations (each |ρ| <= 1): the routes take the sums of squares in another order than
``np.corrcoef``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from eventstudy.inference import correlation as module
from eventstudy.inference.correlation import pairwise_correlation_sums

ATOL = 1e-12
START = np.datetime64("2022-01-03")


def brute(
    values: np.ndarray, dates: np.ndarray, groups: np.ndarray, n_groups: int, min_overlap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Σ ρ and the number of pairs per group: pandas inner join on dates, np.corrcoef per pair."""
    series = []
    for row, day in zip(values, dates, strict=True):
        ok = np.isfinite(row) & ~np.isnat(day)
        series.append(pd.Series(row[ok], index=day[ok]))
    sums, pairs = np.zeros(n_groups), np.zeros(n_groups, dtype=np.int64)
    for i, j in itertools.combinations(range(len(values)), 2):
        g = groups[i]
        if g != groups[j] or not 0 <= g < n_groups:
            continue
        joined = pd.concat([series[i], series[j]], axis=1, join="inner")
        a, b = joined.iloc[:, 0].to_numpy(), joined.iloc[:, 1].to_numpy()
        if len(joined) < min_overlap or np.ptp(a) == 0 or np.ptp(b) == 0:
            continue
        sums[g] += np.corrcoef(a, b)[0, 1]
        pairs[g] += 1
    return sums, pairs


def sessions(n: int, seed: int, skip_every: int = 0) -> np.ndarray:
    """A calendar of n dates: weekdays, without every ``skip_every``-th one (a holiday) when given."""
    days = np.busday_offset(START, np.arange(2 * n), roll="forward")
    if skip_every:
        days = np.delete(days, np.arange(seed % skip_every, len(days), skip_every))
    return days[:n].astype("datetime64[D]")


def world(
    starts: np.ndarray, length: int, seed: int = 0, calendars: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Series on runs of consecutive calendar dates from ``starts``; a common factor makes them correlated."""
    rng = np.random.default_rng(seed)
    n_dates = int(starts.max()) + length
    factor = rng.normal(size=n_dates)
    rows = starts[:, None] + np.arange(length)
    loading = rng.uniform(0.2, 1.0, size=(len(starts), 1))
    values = loading * factor[rows] + rng.normal(size=rows.shape)
    grids = [sessions(n_dates, seed), sessions(n_dates, seed + 1, skip_every=9)]
    which = np.zeros(len(starts), dtype=int) if calendars is None else calendars
    dates = np.stack(grids)[which[:, None], rows]
    return values, dates


@pytest.fixture
def routes(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Number of pairs each route of the kernel counted (summed over groups)."""
    seen = {"_same_dates": 0, "_runs": 0, "_pairwise": 0}
    for name in seen:
        original = getattr(module, name)

        def spy(*args: object, _name: str = name, _original: object = original) -> tuple[np.ndarray, np.ndarray]:
            result = _original(*args)  # type: ignore[operator]
            seen[_name] += int(result[1].sum())
            return result

        monkeypatch.setattr(module, name, spy)
    yield seen


def check(values: np.ndarray, dates: np.ndarray, groups: np.ndarray, n_groups: int, min_overlap: int) -> None:
    got_sums, got_pairs = pairwise_correlation_sums(values, dates, groups, n_groups, min_overlap)
    sums, pairs = brute(values, dates, groups, n_groups, min_overlap)
    np.testing.assert_array_equal(got_pairs, pairs)
    np.testing.assert_allclose(got_sums, sums, rtol=0, atol=ATOL)


class TestAgainstCorrcoef:
    def test_balanced_window_is_the_identity_and_equals_corrcoef(self, routes: dict[str, int]) -> None:
        values, dates = world(np.zeros(12, dtype=int), 40)
        sums, pairs = pairwise_correlation_sums(values, dates, np.zeros(12, dtype=int), 1, 30)
        r = np.corrcoef(values)
        assert pairs[0] == 66
        np.testing.assert_allclose(sums[0] / pairs[0], r[np.triu_indices(12, 1)].mean(), rtol=0, atol=ATOL)
        # the identity of the issue: z standardized with divisor T, r̄ = (||Σ z||^2 / T - N) / (N (N - 1))
        z = (values - values.mean(axis=1, keepdims=True)) / values.std(axis=1, keepdims=True)
        identity = ((z.sum(axis=0) ** 2).sum() / 40 - 12) / (12 * 11)
        np.testing.assert_allclose(sums[0] / pairs[0], identity, rtol=0, atol=ATOL)
        assert routes == {"_same_dates": 66, "_runs": 0, "_pairwise": 0}

    def test_ragged_runs_with_shared_starts(self, routes: dict[str, int]) -> None:
        starts = np.array([0, 0, 3, 7, 7, 7, 12, 20, 33, 33, 45, 60])
        values, dates = world(starts, 40, seed=1)
        check(values, dates, np.zeros(12, dtype=int), 1, 30)
        check(values, dates, np.zeros(12, dtype=int), 1, 2)
        assert routes["_runs"] > 0 and routes["_same_dates"] > 0 and routes["_pairwise"] == 0

    def test_overlap_threshold_is_exact_at_the_boundary(self) -> None:
        starts = np.array([0, 10, 11, 12])
        values, dates = world(starts, 40, seed=2)
        for min_overlap in (28, 29, 30, 31):  # common dates 30, 29, 28 (with the first) and 39, 38, 39
            check(values, dates, np.zeros(4, dtype=int), 1, min_overlap)
        assert pairwise_correlation_sums(values, dates, np.zeros(4, dtype=int), 1, 29)[1][0] == 5

    def test_gaps_missing_dates_and_short_series_go_pair_by_pair(self, routes: dict[str, int]) -> None:
        starts = np.random.default_rng(3).integers(0, 50, size=16)
        values, dates = world(starts, 40, seed=3)
        values[0, 5] = np.nan  # a gap inside the window
        values[1, :4] = np.nan  # a shorter series (leading rows missing)
        dates = dates.copy()
        dates[2, 10] = np.datetime64("NaT")  # a row without a date
        values[3, 20:] = values[3, 20]  # constant over part of the window
        check(values, dates, np.zeros(16, dtype=int), 1, 20)
        assert routes["_pairwise"] > 0 and routes["_runs"] > 0

    def test_identical_gapped_date_sets_are_one_bucket(self, routes: dict[str, int]) -> None:
        """Series with the same gap on the same dates pair by the identity; with others pair by pair."""
        starts = np.array([0, 0, 0, 5, 9])
        values, dates = world(starts, 40, seed=7)
        values[:3, 12] = np.nan  # the first three share their dates, gap included
        check(values, dates, np.zeros(5, dtype=int), 1, 20)
        assert routes["_same_dates"] == 3 and routes["_pairwise"] == 6 and routes["_runs"] == 1

    def test_mixed_calendars(self, routes: dict[str, int]) -> None:
        starts = np.array([0, 2, 5, 5, 9, 14, 14, 20, 3, 8])
        calendars = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0])
        values, dates = world(starts, 45, seed=4, calendars=calendars)
        check(values, dates, np.zeros(10, dtype=int), 1, 25)
        by_calendar = calendars.astype(np.int64)  # one group per calendar: every series a run of its axis
        check(values, dates, by_calendar, 2, 25)
        assert routes["_pairwise"] > 0

    def test_groups_rows_outside_any_group_and_identical_sets_across_groups(self) -> None:
        starts = np.array([0, 0, 0, 4, 4, 9, 0, 0, 4, 13, 2, 2])
        values, dates = world(starts, 35, seed=5)
        values[5, 17] = np.nan
        groups = np.array([0, 0, 1, 1, 0, 0, 2, -1, 2, 2, 5, 1])  # -1 and 5 (>= n_groups) are in no group
        check(values, dates, groups, 3, 20)

    def test_degenerate_inputs(self) -> None:
        values, dates = world(np.array([0, 3]), 10)
        empty = pairwise_correlation_sums(values[:0], dates[:0], np.zeros(0, dtype=int), 2, 5)
        assert empty[0].tolist() == [0.0, 0.0] and empty[1].tolist() == [0, 0]
        lone = pairwise_correlation_sums(values, dates, np.array([0, 1]), 2, 5)  # one series per group
        assert lone[1].tolist() == [0, 0]
        values[1] = np.nan
        assert pairwise_correlation_sums(values, dates, np.zeros(2, dtype=int), 1, 1)[1][0] == 0
        short = world(np.array([0, 1, 2]), 3)
        check(*short, np.zeros(3, dtype=int), 1, 1)  # overlaps of 1 and 2 dates: only the latter count

    def test_row_order_does_not_matter(self) -> None:
        starts = np.random.default_rng(6).integers(0, 30, size=20)
        values, dates = world(starts, 30, seed=6)
        values[4, 3] = np.nan
        groups = np.random.default_rng(7).integers(0, 3, size=20)
        first = pairwise_correlation_sums(values, dates, groups, 3, 10)
        perm = np.random.default_rng(8).permutation(20)
        second = pairwise_correlation_sums(values[perm], dates[perm], groups[perm], 3, 10)
        np.testing.assert_array_equal(first[1], second[1])
        np.testing.assert_allclose(first[0], second[0], rtol=0, atol=ATOL)


class TestChunksAndBlocks:
    """The size knobs of the kernel change how the work is cut, never the result."""

    def design(self) -> tuple[np.ndarray, np.ndarray]:
        starts = np.random.default_rng(9).integers(0, 120, size=40)
        values, dates = world(starts, 50, seed=9)
        values[::7, 11] = np.nan  # some gapped series, scattered over the calendar
        return values, dates

    def test_runs_in_many_blocks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        values, dates = self.design()
        whole = pairwise_correlation_sums(values, dates, np.zeros(40, dtype=int), 1, 15)
        monkeypatch.setattr(module, "_RUN_CELLS", 1)  # one run per block
        cut = pairwise_correlation_sums(values, dates, np.zeros(40, dtype=int), 1, 15)
        np.testing.assert_array_equal(cut[1], whole[1])
        np.testing.assert_allclose(cut[0], whole[0], rtol=0, atol=ATOL)
        check(values, dates, np.zeros(40, dtype=int), 1, 15)

    def test_axis_numbering_without_the_cell_array(self, monkeypatch: pytest.MonkeyPatch) -> None:
        values, dates = self.design()
        monkeypatch.setattr(module, "_AXIS_CELLS", 0)  # number the dates with np.unique instead
        check(values, dates, np.arange(40) % 3, 3, 15)

    @pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
    def test_pairwise_blocks(self, monkeypatch: pytest.MonkeyPatch, sparse: bool) -> None:
        values, dates = self.design()
        values[:, 20] = np.nan  # every series gapped: all pairs go pair by pair
        seen: list[tuple[int, bool]] = []
        original = module._event_block

        def spy(row: np.ndarray, col: np.ndarray, value: np.ndarray, shape: tuple[int, int], sp: bool) -> object:
            seen.append((shape[0], sp))
            return original(row, col, value, shape, sp)

        monkeypatch.setattr(module, "_event_block", spy)
        monkeypatch.setattr(module, "_BLOCK_CELLS", 3 * 4096)  # 3 series per block, partners 3 x 4096 cells
        monkeypatch.setattr(module, "_DENSE_FILL", 2.0 if sparse else 0.0)  # force the matrix kind
        check(values, dates, np.zeros(40, dtype=int), 1, 15)
        assert min(size for size, _ in seen) <= 3 and len(seen) >= 2 * 40 // 3  # many small blocks
        assert {kind for _, kind in seen} == {sparse}


class TestStaggeredOneFirmPerEvent:
    """The design of earnings-announcement studies: one firm per event, days 0 staggered over one calendar.

    Every series is a run of consecutive sessions, a run starts at every session and some starts are shared
    by a few firm-events, so nearly every pair goes through the runs route; the blocks of runs are cut
    small enough that the ring of earlier runs' sums wraps around many times, and it holds exactly the
    runs a block pairs with.
    """

    def design(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(11)
        starts = np.r_[np.arange(36), rng.integers(0, 36, 24)]  # a run at every session, some of 2 to 4
        values, dates = world(rng.permutation(starts), 40, seed=11)
        return values, dates

    @pytest.mark.parametrize("run_cells", [1 << 22, 1, 3 * 10 * 40], ids=["one-block", "one-run", "three-runs"])
    def test_equals_corrcoef_pair_by_pair(
        self, monkeypatch: pytest.MonkeyPatch, routes: dict[str, int], run_cells: int
    ) -> None:
        values, dates = self.design()
        monkeypatch.setattr(module, "_RUN_CELLS", run_cells)  # 10 offsets x 40 dates per run
        check(values, dates, np.zeros(len(values), dtype=int), 1, 30)
        assert routes["_runs"] > 10 * routes["_same_dates"] and routes["_pairwise"] == 0

    @pytest.mark.parametrize("piece", [1, 3, 7])
    def test_offsets_in_pieces_on_their_dates_only(
        self, monkeypatch: pytest.MonkeyPatch, routes: dict[str, int], piece: int
    ) -> None:
        """X and Y of a piece of offsets on the dates of its smallest δ only, the ring's slots reused meanwhile.

        With a 5-date overlap there are 35 offsets, so a slot of the ring is written by run after run with
        pieces that leave its dates below δ as an earlier run left them: those must never be read.
        """
        values, dates = self.design()
        monkeypatch.setattr(module, "_PIECE_WINDOWS", piece)
        monkeypatch.setattr(module, "_RUN_CELLS", 2 * 35 * 40)  # two runs per block: the ring wraps often
        check(values, dates, np.zeros(len(values), dtype=int), 1, 5)
        assert routes["_runs"] > 10 * routes["_same_dates"] and routes["_pairwise"] == 0

    def test_row_blocks_of_a_few_series(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The date axis, the identical-date buckets and the runs' rows worked through in blocks of 3 rows."""
        values, dates = self.design()
        values[5:8] = values[8]  # three more members of the bucket of series 8: one identity sum over blocks
        dates[5:8] = dates[8]
        monkeypatch.setattr(module, "_BLOCK_CELLS", 3 * 40)
        check(values, dates, np.arange(len(values)) % 2, 2, 25)
