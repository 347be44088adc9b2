"""Per-chunk sufficient statistics: merged partials give the tests of all firm-events.

Oracles: numpy's own two-pass moments and a Counter over rows (for the merge kernels), and ``run_tests`` on
all rows (for the chunked driver), whose statistics are tested against hand computations in the other
modules of this package. Chunks are random subsets of the rows (not runs), in 1, 7 and 997 pieces (with 40
rows, 997 pieces leave most chunks empty and every row alone), so groups are split across chunks and
chunks miss whole groups.

Tolerances: a group split across chunks adds its sums in another order and its moments with the
Chan/Pébay identities, so statistics agree to rounding, not bit for bit; rtol=1e-12 with atol=1e-12 on
statistics of order 1 leaves room for that and catches any formula or bookkeeping error (which moves the
digits at 1e-3 or more). Counts, reasons, families and reference distributions must be identical.
"""

from __future__ import annotations

import collections
import dataclasses
import pickle

import numpy as np
import pytest
from scipy import stats
from test_parametric_battery import simulate  # type: ignore[import-not-found]

from eventstudy.conventions import ESTUDY2, Conventions
from eventstudy.errors import InputError
from eventstudy.inference import (
    REGISTRY,
    InferenceData,
    TestTable,
    finish_tests,
    merge_tests,
    partial_tests,
    run_tests,
)
from eventstudy.inference.adjust import adjust_pvalues
from eventstudy.inference.partials import (
    DecomposableTest,
    Partial,
    Patterns,
    first_rows,
    merge,
    moments,
    presence_patterns,
)

DECOMPOSABLE = tuple(sorted(name for name, test in REGISTRY.items() if test.decomposable))
EVENT_LABELS = tuple(f"ev{i}" for i in range(10))  # ev9 has no firm-event
GROUP_LABELS = ("g0", "g1", "g2", "g3")  # g3 has no firm-event
N = 40


def study(conventions: Conventions, seed: int = 3) -> tuple[InferenceData, dict[str, np.ndarray]]:
    """Firm-events on partly shared dates with missing ARs, events, user groups and a pooling mask."""
    rng = np.random.default_rng(seed)
    offsets = np.repeat([0, 2, 5, 9, 14], N // 5)
    data = simulate(seed=seed, n=N, offsets=offsets, conventions=conventions).data
    ar = data.ar.copy()
    ar[rng.random(ar.shape) < 0.08] = np.nan
    car = data.car.copy()
    car[rng.random(car.shape) < 0.05] = np.nan
    bench = np.where(np.isfinite(data.est_market), data.est_market, 0.002)
    data = dataclasses.replace(data, ar=ar, car=car, est_bench_own=bench)
    labels = {
        "event_codes": np.sort(rng.integers(0, 9, N)),
        "pooled": rng.random(N) < 0.8,
        "group_codes": rng.integers(-1, 3, N),
    }
    return data, labels


def chunked(
    data: InferenceData, labels: dict[str, np.ndarray], n_chunks: int, seed: int, names: tuple[str, ...]
) -> TestTable:
    """finish_tests(merge_tests(...)) over a random split of the rows into ``n_chunks`` subsets."""
    rng = np.random.default_rng(seed)
    piece = rng.integers(0, n_chunks, N) if n_chunks > 1 else np.zeros(N, dtype=np.int64)
    if n_chunks >= N:
        piece = rng.permutation(n_chunks)[:N]  # every row alone, most chunks empty
    parts = []
    for k in range(n_chunks):
        rows = np.flatnonzero(piece == k)
        parts.append(
            partial_tests(
                data.take(rows),
                labels["event_codes"][rows],
                len(EVENT_LABELS),
                names,
                pooled=labels["pooled"][rows],
                group_codes=labels["group_codes"][rows],
                n_user_groups=len(GROUP_LABELS),
                rows=rows,
            )
        )
    return finish_tests(merge_tests(parts), EVENT_LABELS, GROUP_LABELS)


def whole(data: InferenceData, labels: dict[str, np.ndarray], names: tuple[str, ...]) -> TestTable:
    return run_tests(
        data,
        labels["event_codes"],
        EVENT_LABELS,
        names,
        pooled=labels["pooled"],
        group_codes=labels["group_codes"],
        group_labels=GROUP_LABELS,
    )


def assert_same_table(got: TestTable, expected: TestTable) -> None:
    assert got.group_labels == expected.group_labels
    assert got.pooled_groups == expected.pooled_groups
    assert [(n, s) for n, s, _ in got.blocks] == [(n, s) for n, s, _ in expected.blocks]
    for (name, scope, a), (_, _, b) in zip(got.blocks, expected.blocks, strict=True):
        where = f"{name} {scope}"
        np.testing.assert_array_equal(a.n, b.n, err_msg=where)
        np.testing.assert_array_equal(a.reason, b.reason, err_msg=where)
        assert a.family == b.family, where
        np.testing.assert_array_equal(a.distribution(), b.distribution(), err_msg=where)
        for field in ("statistic", "p_value", "df"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-12, atol=1e-12, err_msg=where)
        for method in ("holm", "bh"):  # families of days (one row) and of groups (one column)
            np.testing.assert_allclose(
                adjust_pvalues(a.p_value, method), adjust_pvalues(b.p_value, method), rtol=1e-12, atol=1e-12
            )
            np.testing.assert_allclose(
                adjust_pvalues(a.p_value.T, method), adjust_pvalues(b.p_value.T, method), rtol=1e-12, atol=1e-12
            )


def conventions_to_try() -> list[Conventions]:
    base = Conventions()
    flips = {
        "fec": False,
        "daily_sums": "mean_x_n",
        "patell_denominator": "all",
        "patell_car": "csar",
        "bmp_reference": "normal",
        "bw1980_n": "all",
        "bw1980_df": "M-1",
        "gsign_phat": "pooled",
        "rank_scale": "mean_T",
        "car_tests": "sum_daily",
        "lamb_market": "first",
    }
    out = [base, ESTUDY2, dataclasses.replace(ESTUDY2, car_coverage=0.5)]
    return out + [dataclasses.replace(base, **{knob: value}) for knob, value in flips.items()]


CONVENTIONS = conventions_to_try()


def test_the_decomposable_tests() -> None:
    expected = {
        "cross_sectional_t",
        "patell_z",
        "bmp_t",
        "j1",
        "j2",
        "brown_warner_1980",
        "brown_warner_1985",
        "skewness_adjusted_t",
        "sign",
        "generalized_sign",
        "corrado_rank",
        "modified_rank",
        "corrado_zivney_sign",
        "cowan_rank",
        "lamb",
    }
    assert set(DECOMPOSABLE) == expected
    for name, test in REGISTRY.items():
        assert isinstance(test, DecomposableTest) == test.decomposable, name


@pytest.mark.parametrize("n_chunks", [1, 7])
@pytest.mark.parametrize("conventions", CONVENTIONS, ids=lambda c: f"{c.name}-{abs(hash(c)) % 10_000}")
def test_chunks_give_the_tests_of_all_rows(conventions: Conventions, n_chunks: int) -> None:
    data, labels = study(conventions)
    expected = whole(data, labels, DECOMPOSABLE)
    for seed in (1, 2):
        assert_same_table(chunked(data, labels, n_chunks, seed, DECOMPOSABLE), expected)


@pytest.mark.parametrize("conventions", CONVENTIONS[:2], ids=["textbook", "estudy2"])
def test_every_row_its_own_chunk(conventions: Conventions) -> None:
    data, labels = study(conventions, seed=5)
    assert_same_table(chunked(data, labels, 997, 4, DECOMPOSABLE), whole(data, labels, DECOMPOSABLE))


def test_the_comparison_sees_a_wrong_merge() -> None:
    """Dropping one chunk's partials changes the result: the oracle comparison can fail."""
    data, labels = study(Conventions())
    names = ("cross_sectional_t", "sign")
    rows = [np.arange(0, 20), np.arange(20, N)]
    parts = [
        partial_tests(
            data.take(r),
            labels["event_codes"][r],
            len(EVENT_LABELS),
            names,
            pooled=labels["pooled"][r],
            group_codes=labels["group_codes"][r],
            n_user_groups=len(GROUP_LABELS),
        )
        for r in rows
    ]
    with pytest.raises(AssertionError):
        assert_same_table(finish_tests(merge_tests(parts[:1]), EVENT_LABELS, GROUP_LABELS), whole(data, labels, names))


def test_merging_is_associative() -> None:
    data, labels = study(ESTUDY2)
    pieces = np.array_split(np.random.default_rng(0).permutation(N), 5)
    parts = [
        partial_tests(
            data.take(r),
            labels["event_codes"][r],
            len(EVENT_LABELS),
            DECOMPOSABLE,
            pooled=labels["pooled"][r],
            group_codes=labels["group_codes"][r],
            n_user_groups=len(GROUP_LABELS),
            rows=r,
        )
        for r in pieces
    ]
    flat = finish_tests(merge_tests(parts), EVENT_LABELS, GROUP_LABELS)
    tree = finish_tests(
        merge_tests([merge_tests(parts[:2]), merge_tests([parts[2], merge_tests(parts[3:])])]),
        EVENT_LABELS,
        GROUP_LABELS,
    )
    assert_same_table(tree, flat)


def test_groups_missing_from_the_pooled_rows() -> None:
    data, labels = study(Conventions())
    labels = {**labels, "pooled": labels["group_codes"] != 1}  # g1 is never pooled
    table = chunked(data, labels, 7, 3, ("bmp_t",))
    assert_same_table(table, whole(data, labels, ("bmp_t",)))
    block = table.blocks[0][2]
    g1 = table.group_labels.index("g1")
    assert (block.reason[g1] == "no firm-event of the group is pooled").all()


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - set(DECOMPOSABLE)))
def test_a_test_that_needs_all_rows_is_refused(name: str) -> None:
    data, labels = study(Conventions())
    with pytest.raises(InputError) as caught:
        partial_tests(data, labels["event_codes"], len(EVENT_LABELS), ("bmp_t", name))
    assert caught.value.parameter == "tests"
    assert caught.value.value == name
    assert name in str(caught.value) and "gather" in str(caught.value)


def test_finish_without_firm_events_is_an_input_error() -> None:
    data, labels = study(Conventions())
    empty = partial_tests(data.take(np.arange(0)), labels["event_codes"][:0], len(EVENT_LABELS), ("bmp_t",))
    with pytest.raises(InputError):
        finish_tests(merge_tests([empty, empty]), EVENT_LABELS)


def test_cross_correlation_is_passed_through() -> None:
    data, labels = study(Conventions())
    merged = merge_tests([partial_tests(data, labels["event_codes"], len(EVENT_LABELS), ("j1",))])
    assert list(finish_tests(merged, EVENT_LABELS).cross_correlation.columns) == list(
        whole(data, labels, ()).cross_correlation
    )
    table = whole(data, labels, ())
    assert (
        finish_tests(merged, EVENT_LABELS, cross_correlation=table.cross_correlation).cross_correlation
        is table.cross_correlation
    )


# --------------------------------------------------------------------------------------------------
# The merge kernels against numpy and a row count
# --------------------------------------------------------------------------------------------------


def layout() -> Partial:
    return Partial.of(simulate(n=3).data.layout, 0)


def test_merged_moments_equal_numpy_moments() -> None:
    rng = np.random.default_rng(11)
    values = 5.0 + rng.standard_normal((300, 3)) * np.array([1.0, 1e-6, 3.0])  # a tight column too
    values[rng.random(values.shape) < 0.1] = np.nan
    groups = rng.integers(0, 4, 300)
    chunk = rng.integers(0, 6, 300)
    base = layout().layout
    parts = []
    for k in range(6):
        rows = np.flatnonzero(chunk == k)
        present, local = np.unique(groups[rows], return_inverse=True)
        part = Partial.of(
            base, len(present), moments={"x": moments(values[rows], local.ravel(), len(present), third=True)}
        )
        parts.append(part.relabel(present, 4, rows))
    merged = merge(parts).moments["x"]
    for g in range(4):
        for c in range(3):
            x = values[groups == g, c]
            x = x[np.isfinite(x)]
            assert merged.count[g, c] == len(x)
            np.testing.assert_allclose(merged.total[g, c], x.sum(), rtol=1e-13)
            # deviations from a mean of 5 carry rounding of 5 x 2^-52, i.e. 1e-9 relative to a spread of 1e-6
            rtol = 1e-8 if c == 1 else 1e-12
            np.testing.assert_allclose(merged.ssd[g, c], len(x) * np.var(x), rtol=rtol)
            assert merged.m3 is not None  # near 0 for normal data: compared on the scale n sd^3
            scale = len(x) * np.std(x) ** 3
            np.testing.assert_allclose(merged.m3[g, c], len(x) * stats.moment(x, 3), rtol=0, atol=rtol * scale)


def test_one_part_per_group_keeps_its_moments_bit_for_bit() -> None:
    rng = np.random.default_rng(2)
    values = rng.standard_normal((50, 2))
    groups = np.repeat([0, 1], 25)
    base = layout().layout
    whole_moments = moments(values, groups, 2, third=True)
    parts = [
        Partial.of(
            base, 1, moments={"x": moments(values[groups == g], np.zeros(25, dtype=np.int64), 1, third=True)}
        ).relabel(np.array([g]), 2, np.flatnonzero(groups == g))
        for g in (1, 0)
    ]
    merged = merge(parts).moments["x"]
    single = [moments(values[groups == g], np.zeros(25, dtype=np.int64), 1, third=True) for g in (0, 1)]
    np.testing.assert_array_equal(merged.ssd, np.concatenate([m.ssd for m in single]))
    assert merged.m3 is not None and whole_moments.m3 is not None
    np.testing.assert_array_equal(merged.m3, np.concatenate([m.m3 for m in single if m.m3 is not None]))


def test_merged_patterns_count_the_rows() -> None:
    rng = np.random.default_rng(4)
    present = rng.random((200, 5)) < 0.7
    groups = rng.integers(-1, 3, 200)  # -1: in no group
    chunk = rng.integers(0, 4, 200)
    base = layout().layout
    parts = []
    for k in range(4):
        rows = np.flatnonzero((chunk == k) & (groups >= 0))
        codes, local = np.unique(groups[rows], return_inverse=True)
        part = Partial.of(base, len(codes), patterns={"p": presence_patterns(present[rows], local.ravel(), len(codes))})
        parts.append(part.relabel(codes, 3, rows))
    merged = merge(parts)
    got = collections.Counter()
    patterns = merged.patterns["p"]
    for g, row, count in zip(patterns.group, patterns.present, patterns.count, strict=True):
        got[(int(merged.groups[g]), tuple(row))] += int(count)
    expected = collections.Counter((int(g), tuple(row)) for g, row in zip(groups, present, strict=True) if g >= 0)
    assert got == expected
    assert len(patterns.group) == len(expected)  # each (group, pattern) once
    used = np.array([[True, False], [False, True], [True, True]])
    held = patterns.held(used, np.array([1, 3]), len(merged.groups))
    for g in range(3):
        mine = present[groups == g][:, [1, 3]] & used[g]
        assert held[g] == mine.any(axis=1).sum()


def test_merged_firsts_are_the_lowest_rows() -> None:
    rng = np.random.default_rng(8)
    values = rng.standard_normal((120, 3))
    groups = rng.integers(0, 5, 120)
    groups[groups == 4] = 3  # group 4 has no row
    chunk = rng.integers(0, 7, 120)
    base = layout().layout
    parts = []
    for k in range(7):
        rows = np.flatnonzero(chunk == k)
        codes, local = np.unique(groups[rows], return_inverse=True)
        firsts = {"v": first_rows(values[rows], local.ravel(), len(codes))}
        parts.append(Partial.of(base, len(codes), firsts=firsts).relabel(codes, 5, rows))
    merged = merge(parts).select(np.arange(5))
    got = merged.firsts["v"]
    for g in range(5):
        mine = np.flatnonzero(groups == g)
        if len(mine):
            assert got.row[g] == mine[0]
            np.testing.assert_array_equal(got.value[g], values[mine[0]])
        else:
            assert got.row[g] == -1 and np.isnan(got.value[g]).all()


def test_select_keeps_the_chosen_groups_renumbered() -> None:
    """select(codes) equals the partial computed on the rows of those groups alone, numbered 0, 1, ..."""
    rng = np.random.default_rng(8)
    values = rng.standard_normal((120, 3))
    present = rng.random((120, 3)) < 0.6
    groups = rng.integers(0, 6, 120)
    groups[groups == 5] = 4  # group 5 has no row
    base = layout().layout

    def part_of(rows: np.ndarray, codes: np.ndarray, n_groups: int) -> Partial:
        return Partial.of(
            base,
            n_groups,
            sums={"s": kn_sum(values[rows], codes, n_groups)},
            moments={"x": moments(values[rows], codes, n_groups, third=True)},
            patterns={"p": presence_patterns(present[rows], codes, n_groups)},
            firsts={"v": first_rows(values[rows], codes, n_groups)},
        )

    chunk = rng.integers(0, 3, 120)
    parts = []
    for k in range(3):
        rows = np.flatnonzero(chunk == k)
        codes, local = np.unique(groups[rows], return_inverse=True)
        parts.append(part_of(rows, local.ravel(), len(codes)).relabel(codes, 6, rows))
    chosen = np.array([1, 3, 5])
    got = merge(parts).select(chosen)
    mine = np.flatnonzero(np.isin(groups, chosen))
    expected = part_of(mine, np.searchsorted(chosen, groups[mine]), 3).relabel(np.arange(3), 3, mine)
    assert got.n_groups == 3 and list(got.groups) == [0, 1, 2]
    np.testing.assert_allclose(got.sums["s"], expected.sums["s"], rtol=1e-13)
    for field in ("count", "total", "ssd", "m3"):
        np.testing.assert_allclose(getattr(got.moments["x"], field), getattr(expected.moments["x"], field), rtol=1e-12)
    assert got.moments["x"].count[2].sum() == 0  # group 5: no row

    def counted(p: Patterns) -> list[tuple[int, bytes, int]]:
        return sorted(zip(p.group.tolist(), map(bytes, p.present), p.count.tolist(), strict=True))

    assert counted(got.patterns["p"]) == counted(expected.patterns["p"])
    np.testing.assert_array_equal(got.firsts["v"].row, expected.firsts["v"].row)
    np.testing.assert_array_equal(got.firsts["v"].value, expected.firsts["v"].value)


def kn_sum(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group column sums by a Python loop (the oracle of the kernel's group sums)."""
    out = np.zeros((n_groups, values.shape[1]))
    for row, code in zip(values, codes, strict=True):
        out[code] += row
    return out


def test_partials_travel_between_processes() -> None:
    """Executors pickle what a chunk returns: the merged result of unpickled partials is the same."""
    data, labels = study(ESTUDY2)
    pieces = np.array_split(np.arange(N), 3)
    parts = [
        partial_tests(
            data.take(r), labels["event_codes"][r], len(EVENT_LABELS), DECOMPOSABLE, pooled=labels["pooled"][r], rows=r
        )
        for r in pieces
    ]
    travelled = [pickle.loads(pickle.dumps(p)) for p in parts]
    assert_same_table(
        finish_tests(merge_tests(travelled), EVENT_LABELS), finish_tests(merge_tests(parts), EVENT_LABELS)
    )
