"""Listing pairs: the same company's home line and its ADR, compared event by event (``docs/methods.md`` §4.8).

A pair (e.g. 0700.HK and TCEHY) is two tickers of one event, each with its **own** day 0 on its own exchange
(the two markets never trade at the same time), its own normal-return model and CARs. :func:`pair_table` sets
the two CARs of each event and CAR window side by side and tests their difference.

Convention (stated in the report): Var(CAR_home - CAR_ADR) = σ̂²_home(w) + σ̂²_ADR(w) - 2 L ĉ, where σ̂²(w) is each
leg's CAR variance (the study's ``car_variance`` convention), L the window's length in days and ĉ the covariance
of the two legs' estimation-window residuals at equal event time τ (each leg's τ counted from its own day 0, so
τ pairs the returns that cover the same news on both markets), over the τ where both have a residual, divisor
M_c - 1 after demeaning on those rows. The covariance of the two legs' parameter estimates is neglected. The
difference's t statistic is referred to a t distribution with the smaller of the two legs' df. ADR returns do not
depend on the ADR ratio (it matters for price parity only), so the ratio is recorded but not used.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy._typing import FloatArray, IntArray, Window
from eventstudy.errors import InputError
from eventstudy.inference.base import two_sided_t

PAIR_COLUMNS = (
    "event_id",
    "home",
    "adr",
    "window_start",
    "window_end",
    "home_day_zero",
    "adr_day_zero",
    "car_home",
    "car_adr",
    "difference",
    "se",
    "t_stat",
    "p_value",
    "df",
    "residual_covariance",
    "n_common",
)
"""Columns of :func:`pair_table` (and ``pairs.csv``)."""


@dataclass(frozen=True)
class ListingPair:
    """A home-market line and its ADR (or any two listings of one company); ``ratio`` = home shares per ADR.

    ``fx``: the FX series quoting the home currency per US dollar (``HKD=X``); when given, the home line is
    studied in US dollars, (1 + R_home)(1 + R_FX) - 1 (:func:`eventstudy.returns.in_us_dollars`).
    """

    home: str
    adr: str
    ratio: float | None = None
    fx: str | None = None


def read_pairs(path: str | Path) -> tuple[ListingPair, ...]:
    """Listing pairs from a CSV file with the columns ``home``, ``adr`` and optionally ``ratio`` and ``fx``.

    Raises
    ------
    InputError
        A missing file or column, an empty ticker, a ratio that is not a positive number, or a ticker in two
        pairs; the message names the file, line and column.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read the pairs file {path}: {error.strerror}", path=path) from None
    rows = list(csv.DictReader(text.splitlines()))
    header = [c.strip() for c in (text.splitlines()[0].split(",") if text.strip() else [])]
    for column in ("home", "adr"):
        if column not in header:
            raise InputError(
                "the pairs file needs the columns home and adr (optional: ratio); it has "
                + (", ".join(header) or "none"),
                path=path,
                line=1,
                column=column,
            )
    pairs: list[ListingPair] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        home, adr = (row.get("home") or "").strip(), (row.get("adr") or "").strip()
        for column, value in (("home", home), ("adr", adr)):
            if not value:
                raise InputError("an empty ticker; give both tickers of the pair", path=path, line=line, column=column)
            if value in seen:
                raise InputError(
                    f"{value} is in two pairs (lines {seen[value]} and {line}); a ticker can be in one pair only",
                    path=path,
                    line=line,
                    column=column,
                )
            seen[value] = line
        ratio_text = (row.get("ratio") or "").strip()
        ratio = None
        if ratio_text:
            try:
                ratio = float(ratio_text)
            except ValueError:
                ratio = -1.0
            if not ratio > 0:
                raise InputError(
                    f"the ratio {ratio_text!r} is not a positive number (home shares per ADR)",
                    path=path,
                    line=line,
                    column="ratio",
                )
        pairs.append(ListingPair(home, adr, ratio, (row.get("fx") or "").strip() or None))
    return tuple(pairs)


def pair_table(
    pairs: Sequence[ListingPair],
    firm_events: pd.DataFrame,
    car_values: FloatArray,
    car_var: FloatArray,
    df: IntArray,
    residuals: FloatArray,
    car_windows: Sequence[Window],
) -> pd.DataFrame:
    """Each event's home and ADR CARs per window, their difference and its t test (module docstring).

    Parameters
    ----------
    pairs
        The listing pairs.
    firm_events
        One row per estimated firm-event (rows of the arrays): event_id, ticker, day_zero.
    car_values, car_var : (N, C)
        CARs and their variances over ``car_windows``.
    df : (N,)
        Each firm-event's degrees of freedom M - k.
    residuals : (N, L)
        Estimation-window residuals in event time (NaN where none); zero columns when the study did not keep
        them (the covariance is then NaN and so is the test).

    Returns
    -------
    DataFrame
        :data:`PAIR_COLUMNS`, one row per (event with both legs estimated, pair, window), in event and pair order.
    """
    if not pairs or not len(firm_events):
        return pd.DataFrame(columns=list(PAIR_COLUMNS))
    legs = pd.DataFrame(
        [(k, p.home, "home") for k, p in enumerate(pairs)] + [(k, p.adr, "adr") for k, p in enumerate(pairs)],
        columns=["pair", "ticker", "leg"],
    )
    rows = firm_events[["event_id", "ticker", "day_zero"]].assign(row=np.arange(len(firm_events))).merge(legs)
    home = rows[rows["leg"] == "home"]
    adr = rows[rows["leg"] == "adr"]
    matched = home.merge(adr, on=["event_id", "pair"], suffixes=("_home", "_adr"))
    order = pd.Series(pd.factorize(firm_events["event_id"])[0], index=firm_events["event_id"].to_numpy())
    matched = matched.assign(position=order.groupby(level=0).first().reindex(matched["event_id"]).to_numpy())
    matched = matched.sort_values(["position", "pair"], kind="stable")
    h = matched["row_home"].to_numpy(dtype=np.int64)
    a = matched["row_adr"].to_numpy(dtype=np.int64)
    covariance, n_common = _residual_covariance(residuals, h, a)
    lengths = np.array([end - start + 1 for start, end in car_windows], dtype=np.float64)
    difference = car_values[h] - car_values[a]
    with np.errstate(invalid="ignore"):
        variance = car_var[h] + car_var[a] - 2.0 * lengths[None, :] * covariance[:, None]
        se = np.sqrt(np.where(variance > 0, variance, np.nan))
        t_stat = difference / se
    dof = np.minimum(df[h], df[a]).astype(np.float64)
    c = len(car_windows)
    windows = np.asarray(car_windows, dtype=np.int64).reshape(-1, 2)
    repeat = np.repeat(np.arange(len(matched)), c)
    return pd.DataFrame(
        {
            "event_id": matched["event_id"].to_numpy()[repeat],
            "home": matched["ticker_home"].to_numpy()[repeat],
            "adr": matched["ticker_adr"].to_numpy()[repeat],
            "window_start": np.tile(windows[:, 0], len(matched)),
            "window_end": np.tile(windows[:, 1], len(matched)),
            "home_day_zero": pd.to_datetime(matched["day_zero_home"]).to_numpy()[repeat],
            "adr_day_zero": pd.to_datetime(matched["day_zero_adr"]).to_numpy()[repeat],
            "car_home": car_values[h].ravel(),
            "car_adr": car_values[a].ravel(),
            "difference": difference.ravel(),
            "se": se.ravel(),
            "t_stat": t_stat.ravel(),
            "p_value": two_sided_t(t_stat, np.broadcast_to(dof[:, None], t_stat.shape)).ravel(),
            "df": dof[repeat],
            "residual_covariance": covariance[repeat],
            "n_common": n_common[repeat],
        },
        columns=list(PAIR_COLUMNS),
    )


def _residual_covariance(residuals: FloatArray, h: IntArray, a: IntArray) -> tuple[FloatArray, IntArray]:
    """ĉ = Σ (e_h - ē_h)(e_a - ē_a) / (M_c - 1) over the τ where both legs have a residual; and M_c."""
    if residuals.shape[1] == 0:
        return np.full(len(h), np.nan), np.zeros(len(h), dtype=np.int64)
    both = np.isfinite(residuals[h]) & np.isfinite(residuals[a])
    n = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        eh = np.where(both, residuals[h], 0.0)
        ea = np.where(both, residuals[a], 0.0)
        eh = np.where(both, eh - eh.sum(axis=1, keepdims=True) / n[:, None], 0.0)
        ea = np.where(both, ea - ea.sum(axis=1, keepdims=True) / n[:, None], 0.0)
        covariance = np.where(n > 1, np.einsum("nl,nl->n", eh, ea) / (n - 1), np.nan)
    return covariance, n.astype(np.int64)


__all__ = ["PAIR_COLUMNS", "ListingPair", "pair_table", "read_pairs"]
