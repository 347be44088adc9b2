"""Holm and Benjamini-Hochberg adjusted p-values against statsmodels' ``multipletests`` and by hand."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from eventstudy.conventions import ADJUST_FAMILY_TEXT
from eventstudy.inference.adjust import add_adjusted_pvalues, adjust_coded, adjust_pvalues

SM_METHOD = {"holm": "holm", "bh": "fdr_bh"}


@pytest.fixture(autouse=True)
def _no_full_collections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """statsmodels' Holm runs ``gc.collect()`` on every call: 0.3 s each amid the suite's session fixtures.

    A collection changes no number, so the oracle is the same without it (the tests took 45 s in the suite).
    """
    monkeypatch.setattr(gc, "collect", lambda generation=2: 0)
    yield


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_rows_match_statsmodels_ignoring_nan(method: str) -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, size=(6, 9)) ** 2
    p[1, [2, 5]] = np.nan
    p[3] = np.nan
    p[4, 0] = p[4, 1]  # ties
    out = adjust_pvalues(p, method)  # type: ignore[arg-type]
    for row, adj in zip(p, out, strict=True):
        ok = np.isfinite(row)
        assert np.isnan(adj[~ok]).all()
        if ok.any():
            np.testing.assert_array_equal(adj[ok], multipletests(row[ok], method=SM_METHOD[method])[1])


def test_small_example_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4)
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [0.03, 0.06, 0.06, 0.02], rtol=1e-12)
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), [0.02, 0.04, 0.04, 0.02], rtol=1e-12)


def test_edge_cases() -> None:
    assert adjust_pvalues(np.array([]), "holm").shape == (0,)
    assert np.isnan(adjust_pvalues(np.array([np.nan, np.nan]), "bh")).all()
    np.testing.assert_allclose(adjust_pvalues(np.array([0.3]), "holm"), [0.3])
    np.testing.assert_allclose(adjust_pvalues(np.array([0.6, 0.9]), "holm"), [1.0, 1.0])  # capped at 1
    with pytest.raises(ValueError, match="holm"):
        adjust_pvalues(np.array([0.1]), "bonferroni")  # type: ignore[arg-type]


def test_frame_families_are_test_group_scope() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for test in ("sign", "wilcoxon"):
        for group in ("all", "ev1"):
            for day in range(-2, 3):
                rows.append((group, "day", day, day, test, rng.uniform() ** 3))
            for a, b in ((0, 0), (-1, 1)):
                rows.append((group, "window", a, b, test, rng.uniform() ** 3))
    frame = pd.DataFrame(rows, columns=["group", "scope", "window_start", "window_end", "test", "p_value"])
    frame.loc[3, "p_value"] = np.nan
    shuffled = frame.sample(frac=1.0, random_state=1)
    out = add_adjusted_pvalues(shuffled)
    assert list(out.index) == list(shuffled.index)  # same rows, same order
    assert list(out.columns) == list(frame.columns) + ["p_holm", "p_bh"]
    assert out.loc[[3], ["p_holm", "p_bh"]].isna().all(axis=None)
    for _, fam in out.groupby(["test", "group", "scope"]):
        ok = fam["p_value"].notna()
        np.testing.assert_allclose(
            fam.loc[ok, "p_holm"], multipletests(fam.loc[ok, "p_value"], method="holm")[1], rtol=1e-12
        )
        np.testing.assert_allclose(
            fam.loc[ok, "p_bh"], multipletests(fam.loc[ok, "p_value"], method="fdr_bh")[1], rtol=1e-12
        )
    assert (out["p_holm"].dropna() >= out.loc[out["p_holm"].notna(), "p_value"]).all()
    assert "CAR windows" in ADJUST_FAMILY_TEXT["days"]


def test_frame_families_of_many_sizes_match_statsmodels() -> None:
    """Families of 1 to 37 rows (with ties and NaN), interleaved in the frame, each against statsmodels."""
    rng = np.random.default_rng(12)
    sizes = (1, 2, 3, 4, 5, 8, 9, 16, 17, 37)
    rows = [
        {"group": f"g{f}", "scope": "day", "test": "bmp_t", "p_value": rng.uniform() ** 4}
        for f, size in enumerate(sizes)
        for _ in range(size)
    ]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=4).reset_index(drop=True)
    frame.loc[frame.index[:3], "p_value"] = np.nan
    frame.loc[frame.index[5], "p_value"] = frame.loc[frame.index[6], "p_value"]  # a tie
    out = add_adjusted_pvalues(frame)
    for _, fam in out.groupby("group"):
        ok = fam["p_value"].notna()
        assert fam.loc[~ok, ["p_holm", "p_bh"]].isna().all(axis=None)
        if ok.any():
            p = fam.loc[ok, "p_value"]  # bit-identical: the same products and quotients as statsmodels
            np.testing.assert_array_equal(fam.loc[ok, "p_holm"], multipletests(p, method="holm")[1])
            np.testing.assert_array_equal(fam.loc[ok, "p_bh"], multipletests(p, method="fdr_bh")[1])


def test_many_families_of_every_size_class_match_statsmodels_bit_for_bit() -> None:
    """Families of 1 to 300 p-values (every size class; ties, NaN, a missing key) in one frame, each equal to
    statsmodels' multipletests on it; the events family keeps 'all' apart and puts the user's groups together.

    (Few families: statsmodels' multipletests runs a full garbage collection on every call.)
    """
    rng = np.random.default_rng(21)
    sizes = np.array([300, 129, 64, 33, 31, 17, 16, 15, 9, 8, 7, 5, 4, 3, 2, 1, 1, 2])
    family = np.repeat(np.arange(len(sizes)), sizes)
    p = rng.uniform(size=len(family)) ** 3
    p[rng.random(len(p)) < 0.1] = np.nan
    p[10:20] = p[10]  # ties inside the family of 300
    frame = pd.DataFrame(
        {"test": "bmp_t", "group": [f"g{f}" for f in family], "scope": np.where(family % 2, "day", None), "p_value": p}
    ).sample(frac=1.0, random_state=2)
    out = add_adjusted_pvalues(frame)
    for _, fam in out.groupby(["group", "scope"], dropna=False):
        ok = fam["p_value"].notna()
        if ok.any():
            expected = fam.loc[ok, "p_value"].to_numpy()
            np.testing.assert_array_equal(fam.loc[ok, "p_holm"], multipletests(expected, method="holm")[1])
            np.testing.assert_array_equal(fam.loc[ok, "p_bh"], multipletests(expected, method="fdr_bh")[1])
        assert fam.loc[~ok, ["p_holm", "p_bh"]].isna().all(axis=None)
    events = pd.DataFrame(
        {
            "test": "sign",
            "group": ["all", "e1", "e2", "category=a", "category=b", "e3"],
            "scope": "day",
            "window_start": 0,
            "window_end": 0,
            "p_value": [0.01, 0.02, 0.03, 0.04, 0.05, 0.5],
        }
    )
    out = add_adjusted_pvalues(events, "events", groups=("category=a", "category=b"))
    np.testing.assert_array_equal(out["p_holm"].iloc[[1, 2, 5]], multipletests([0.02, 0.03, 0.5], method="holm")[1])
    np.testing.assert_array_equal(out["p_bh"].iloc[[3, 4]], multipletests([0.04, 0.05], method="fdr_bh")[1])
    assert out["p_holm"].iloc[0] == 0.01  # 'all' is a family of one


def test_frame_without_finite_pvalues_and_unknown_family() -> None:
    frame = pd.DataFrame({"test": ["a"], "group": ["all"], "scope": ["day"], "p_value": [np.nan]})
    out = add_adjusted_pvalues(frame)
    assert np.isnan(out["p_holm"]).all() and np.isnan(out["p_bh"]).all()
    with pytest.raises(ValueError, match="days"):
        add_adjusted_pvalues(frame, family="tickers")


def test_events_family_adjusts_across_event_groups_only() -> None:
    """adjust_family="events": one family per (test, scope, day/window) across event ids; 'all' alone."""
    from statsmodels.stats.multitest import multipletests

    from eventstudy.inference.adjust import add_adjusted_pvalues

    rows = []
    p = {"all": 0.01, "e1": 0.02, "e2": 0.04, "e3": 0.30}
    for day, shift in ((0, 1.0), (1, 0.5)):
        for group, value in p.items():
            rows.append(
                {
                    "group": group,
                    "scope": "day",
                    "window_start": day,
                    "window_end": day,
                    "test": "bmp_t",
                    "p_value": value * shift,
                }
            )
    frame = pd.DataFrame(rows)
    out = add_adjusted_pvalues(frame, "events")
    assert list(out.columns) == [*frame.columns, "p_holm", "p_bh"]
    for day in (0, 1):
        events = out[(out.window_start == day) & (out.group != "all")]
        np.testing.assert_allclose(events["p_holm"], multipletests(events["p_value"], method="holm")[1], rtol=1e-12)
        np.testing.assert_allclose(events["p_bh"], multipletests(events["p_value"], method="fdr_bh")[1], rtol=1e-12)
        pooled = out[(out.window_start == day) & (out.group == "all")]
        np.testing.assert_allclose(pooled["p_holm"], pooled["p_value"])  # a family of one


@pytest.mark.parametrize("family", ["days", "events"])
def test_coded_families_match_statsmodels_per_family(family: str) -> None:
    # families spelled out by hand from the key columns, each adjusted by statsmodels on its own
    rng = np.random.default_rng(8)
    n = 400
    keys = {
        "test": rng.integers(0, 3, n),
        "group": rng.integers(0, 9, n),
        "scope": rng.integers(0, 2, n),
        "window_start": rng.integers(0, 4, n),
        "window_end": rng.integers(0, 2, n),
    }
    role = np.where(keys["group"] == 0, 0, np.where(keys["group"] < 3, 1, 2))  # all, two user groups, events
    p = rng.uniform(0, 0.3, n) ** 2
    p[rng.choice(n, 30, replace=False)] = np.nan
    p[5] = p[6]  # a tie
    holm, bh = adjust_coded(p, family, keys, role)
    if family == "days":
        label = [(keys["test"][i], keys["group"][i], keys["scope"][i]) for i in range(n)]
    else:
        pooled = [i if role[i] == 0 else -int(role[i]) for i in range(n)]  # each "all" row alone
        label = [
            (keys["test"][i], keys["scope"][i], keys["window_start"][i], keys["window_end"][i], pooled[i])
            for i in range(n)
        ]
    assert np.isnan(holm[np.isnan(p)]).all() and np.isnan(bh[np.isnan(p)]).all()
    for member in set(label):
        rows = np.array([i for i in range(n) if label[i] == member and np.isfinite(p[i])], dtype=np.int64)
        if len(rows):
            np.testing.assert_array_equal(holm[rows], multipletests(p[rows], method="holm")[1])
            np.testing.assert_array_equal(bh[rows], multipletests(p[rows], method="fdr_bh")[1])


def test_coded_rejects_an_unknown_family() -> None:
    with pytest.raises(ValueError, match="adjust_family"):
        adjust_coded(np.array([0.1]), "tickers", {}, np.array([2]))
