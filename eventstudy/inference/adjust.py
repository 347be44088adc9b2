"""Multiple-testing adjustment of p-values: Holm and Benjamini-Hochberg (``docs/methods.md`` §6.5).

:func:`adjust_pvalues` is the one implementation of both procedures, a pure array function over the last
axis; :func:`add_adjusted_pvalues` adds the columns ``p_holm`` and ``p_bh`` to the tidy ``tests`` frame by
laying each family out as one row of that array. With ``adjust_family = "days"`` a family is one (test,
group, scope): all event-window days of that test and group (day scope), or all its CAR windows (window
scope). With ``"events"`` a family is one (test, scope, day or window) across the event groups; the pooled
group ``all`` stays outside, and the user's groups form a family of their own. The family in words is
:data:`eventstudy.conventions.ADJUST_FAMILY_TEXT`, for results and reports.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import numpy as np
import pandas as pd

from eventstudy import _kernels as kn
from eventstudy._typing import FloatArray

AdjustMethod = Literal["holm", "bh"]

FAMILY_KEYS: dict[str, tuple[str, ...]] = {
    "days": ("test", "group", "scope"),
    "events": ("test", "scope", "window_start", "window_end", "_pooled"),
}
"""Columns of the tests frame that define one family, per ``adjust_family`` value."""


def adjust_pvalues(p: FloatArray, method: AdjustMethod) -> FloatArray:
    r"""Holm or Benjamini-Hochberg adjusted p-values along the last axis, ignoring NaN.

    Parameters
    ----------
    p : (..., m)
        p-values; NaN entries are not part of the family and stay NaN. Each row along the last axis is
        one family with m_row = its number of non-NaN entries.
    method
        ``"holm"``: step-down Holm (1979), controls the family-wise error rate;
        ``"bh"``: step-up Benjamini and Hochberg (1995), controls the false discovery rate.

    Returns
    -------
    Array of the shape of ``p``.

    Notes
    -----
    With the non-NaN p-values of a family sorted, p_(1) <= ... <= p_(m):

    .. math::

        \tilde p^{Holm}_{(j)} = \max_{k \le j} \min(1, (m - k + 1) p_{(k)}), \qquad
        \tilde p^{BH}_{(j)} = \min_{k \ge j} \min(1, m p_{(k)} / k).

    References
    ----------
    Holm, S. (1979), "A simple sequentially rejective multiple test procedure", Scandinavian Journal of
    Statistics 6(2), 65-70.
    Benjamini, Y. and Y. Hochberg (1995), "Controlling the false discovery rate", JRSS B 57(1), 289-300.

    Examples
    --------
    >>> adjust_pvalues(np.array([0.01, 0.04, np.nan, 0.03]), "holm")
    array([0.03, 0.06,  nan, 0.06])
    """
    if method not in ("holm", "bh"):
        raise ValueError(f"unknown adjustment method {method!r}; use 'holm' or 'bh'")
    values = np.asarray(p, dtype=np.float64)
    if values.ndim == 0 or values.shape[-1] == 0:
        return values.copy()
    order = np.argsort(values, axis=-1, kind="stable")  # NaN last
    ordered = np.take_along_axis(values, order, axis=-1)
    m = np.isfinite(values).sum(axis=-1, keepdims=True).astype(np.float64)
    k = np.arange(1, values.shape[-1] + 1, dtype=np.float64)
    finite = np.isfinite(ordered)
    if method == "holm":
        raw = np.minimum(1.0, (m - k + 1.0) * ordered)
        adjusted = np.maximum.accumulate(np.where(finite, raw, -np.inf), axis=-1)
    else:
        raw = np.minimum(1.0, m * ordered / k)
        reverse = np.flip(np.where(finite, raw, np.inf), axis=-1)
        adjusted = np.flip(np.minimum.accumulate(reverse, axis=-1), axis=-1)
    adjusted = np.where(finite, adjusted, np.nan)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


def add_adjusted_pvalues(tests: pd.DataFrame, family: str = "days", groups: Collection[str] = ()) -> pd.DataFrame:
    """Copy of the tidy ``tests`` frame with columns ``p_holm`` and ``p_bh`` appended.

    Parameters
    ----------
    tests
        The tests frame (columns at least ``test``, ``group``, ``scope``, ``p_value``).
    family
        ``conventions.adjust_family``; ``"days"``: one family per (test, group, scope), i.e. a test's
        event-window days (day scope) or its CAR windows (window scope). Rows with a NaN p-value are
        outside every family and get NaN.
    groups
        Labels of the user's groups (e.g. ``"category=regulation"``). With ``"events"`` they form a family
        of their own for each test and day (or CAR window), apart from the events.

    Returns
    -------
    pandas.DataFrame
        The same rows in the same order, plus ``p_holm`` and ``p_bh``.
    """
    if family not in FAMILY_KEYS:
        raise ValueError(f"unknown adjust_family {family!r}; valid: {', '.join(FAMILY_KEYS)}")
    out = tests.copy()
    # the pooled group never joins an across-events family: each of its rows is a family of its own
    group = out["group"].to_numpy()
    pooled = np.where(group == "all", np.arange(len(out)), np.where(np.isin(group, list(groups)), -2, -1))
    out["_pooled"] = pooled
    p = out["p_value"].to_numpy(dtype=np.float64)
    adjusted: dict[AdjustMethod, FloatArray] = {"holm": np.full(len(out), np.nan), "bh": np.full(len(out), np.nan)}
    rows = np.flatnonzero(np.isfinite(p))
    if len(rows):
        keys = out.iloc[rows][list(FAMILY_KEYS[family])]
        family_id = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy().astype(np.int64)
        n_families = int(family_id.max()) + 1
        order, bounds = kn.group_rows(family_id, n_families)
        size = np.diff(bounds)
        position = np.arange(len(order)) - np.repeat(bounds[:-1], size)  # place of each row in its family
        member = family_id[order]
        # families of similar size share one padded (families x width) array, width a power of two >= size
        width = 2 ** np.ceil(np.log2(size)).astype(np.int64)
        for w in np.unique(width):
            fams = np.flatnonzero(width == w)
            slot = np.full(n_families, -1, dtype=np.int64)
            slot[fams] = np.arange(len(fams))
            mine = slot[member] >= 0
            padded = np.full((len(fams), int(w)), np.nan)
            padded[slot[member[mine]], position[mine]] = p[rows[order[mine]]]
            for method, target in adjusted.items():
                values = adjust_pvalues(padded, method)
                target[rows[order[mine]]] = values[slot[member[mine]], position[mine]]
    out["p_holm"] = adjusted["holm"]
    out["p_bh"] = adjusted["bh"]
    return out.drop(columns="_pooled")


__all__ = ["FAMILY_KEYS", "AdjustMethod", "add_adjusted_pvalues", "adjust_pvalues"]
