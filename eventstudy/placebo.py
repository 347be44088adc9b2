"""Placebo (pseudo-event) p-values of the pooled CAARs and primary tests (``docs/methods.md`` §6.4 B3).

A finished study is rerun B times on pseudo day 0s drawn from its firm-events' own price histories, and
each pooled statistic (every event, ``"all"`` and the user's groups; the CAAR of every CAR window and the
primary test statistics) is compared with its B placebo values.

Draw rule
---------
- Clusters: events whose real event windows overlap in calendar time (chained: :func:`event_clusters`) are
  shifted together; an event whose window overlaps no other is a cluster of its own.
- Candidates of a cluster: the calendar dates d on which any of its estimated firm-events' aligned pairs
  (ticker and benchmark, :func:`~eventstudy.returns.align_pairs`) has a return; each gives the shift
  Δ = d - a, a the cluster's earliest real day 0. Under shift Δ, firm-event i's pseudo τ = 0 is the first
  aligned row of its pair on or after its real day 0 + Δ (calendar days), so the legs of an event on
  different exchanges, and the events of a cluster, keep their calendar distances.
- A shift is eligible for a firm-event when, at its pseudo τ = 0, (i) the whole event window lies inside
  the pair's aligned rows, (ii) the estimation window holds at least ``min_estimation_obs`` of them (the
  rule the real firm-event passed), and (iii) the pseudo event window shares no date with the real event
  window of any estimated firm-event of the same ticker in the study (its own and its other events'). The
  pseudo estimation window may contain real event windows (``mask_event_windows`` masks them, as in the
  study).
- A cluster's eligible shifts are those eligible for all of its firm-events. A firm-event with no eligible
  shift is left out (an exclusion with the reason); while a cluster's firm-events share no eligible shift,
  its firm-event with the fewest eligible shifts is left out.
- Replicate b of a cluster uses one shift Δ_kb for all its firm-events, drawn uniformly from its n_k
  eligible shifts S_k: Δ_kb = S_k[⌊U_kb · n_k⌋], U_kb the b-th uniform of the cluster's own stream
  ``SeedSequence([seed, CRC-32("placebo"), SHA-256 words of its event ids joined by " + "])``. One shift
  per cluster, rather than a draw per firm-event, keeps the cross-correlation of firm-events that share
  calendar dates (the seed's clustered events: several firms on one day, several events in one week). The
  draws depend only on the seed, the cluster's event ids and b: not on B, on chunking or on other clusters.
- Replicate b of an event pools its firm-events' replicate-b CARs; replicate b of ``"all"`` and of a user
  group those of its firm-events (the ones that enter the group in the study, ``firm_events.pooled``),
  each cluster on its own shift.

Statistics and p-values
-----------------------
Replicate 0 is the real day 0 run through the same code, so the observed statistics are computed exactly
like the placebo ones, over the firm-events that enter the placebo (equal to the study's when none is left
out). With T the observed statistic and T*_b the finite placebo values (n of them):

- two-sided p = (1 + #{b : |T*_b| >= |T|}) / (n + 1);
- p_upper = (1 + #{b : T*_b >= T}) / (n + 1), p_lower = (1 + #{b : T*_b <= T}) / (n + 1);
- percentile = 100 · #{b : T*_b <= T} / n.

Every pseudo firm-event goes through the study's own pipeline (:func:`~eventstudy.engine.model_windows`,
:func:`~eventstudy.engine.fit_estimable`, :func:`~eventstudy.engine.inference_data` and the registered
test's ``compute``), all B x N pseudo firm-events in chunks of about :data:`CHUNK_FIRM_EVENTS`.
"""

from __future__ import annotations

import hashlib
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from eventstudy._frozen import frame_fields
from eventstudy._typing import BoolArray, FloatArray, IntArray, Window
from eventstudy.data.table import PriceTable, search_segments
from eventstudy.engine import (
    Chunk,
    EngineInput,
    FirmEventContext,
    chunk_pairs,
    fit_estimable,
    inference_data,
    model_windows,
)
from eventstudy.inference import get_tests
from eventstudy.pooling import window_overlap_mask
from eventstudy.regressors import FactorData
from eventstudy.returns import AlignedTable
from eventstudy.spec import StudySpec, window_text

CAAR = "caar"
"""The ``statistic`` of the CAAR rows of the placebo table."""

PLACEBO_COLUMNS = (
    "group",
    "window_start",
    "window_end",
    "statistic",
    "observed",
    "p_placebo",
    "p_lower",
    "p_upper",
    "percentile",
    "n_draws",
    "n_used",
    "firm_events",
    "mean_placebo",
    "sd_placebo",
)
"""Columns of ``result.placebo`` and ``placebo.csv``."""

PLACEBO_EXCLUSION_COLUMNS = ("event_id", "ticker", "reason")
PLACEBO_EVENT_COLUMNS = ("event_id", "cluster", "firm_events", "eligible_dates", "first_date", "last_date")
PLACEBO_DRAW_COLUMNS = ("draw", "event_id", "date")

PLACEBO_HISTORY_DAYS = 730
"""Calendar days of extra price history a study with placebo dates loads before and after its own range."""

CHUNK_FIRM_EVENTS = 16_000
"""Pseudo firm-events per fit (as ``engine.DEFAULT_CHUNK_SIZE``: the chunk's estimation arrays stay near 30 MB)."""

P_VALUE_RULE = (
    "two-sided p = (1 + #{b : |T*_b| >= |T|}) / (n + 1) over the n finite placebo values T*_b; "
    "one-sided p_upper = (1 + #{T*_b >= T}) / (n + 1), p_lower = (1 + #{T*_b <= T}) / (n + 1); "
    "percentile = 100 #{T*_b <= T} / n"
)

_NAT_DAY = np.iinfo(np.int64).min
_STREAM = zlib.crc32(b"placebo")


# ---------------------------------------------------------------------------------------------- pure functions
def pseudo_positions(
    day: IntArray,
    lo: IntArray,
    hi: IntArray,
    targets: IntArray,
    estimation_window: Window,
    event_window: Window,
    min_obs: int,
    blocked_first: IntArray,
    blocked_last: IntArray,
) -> tuple[IntArray, BoolArray]:
    """Pseudo τ = 0 of each query and whether it is eligible (the module's rule (i)-(iii)).

    Parameters
    ----------
    day : (m,) int64
        Dates (days since 1970-01-01) of a flat aligned table, increasing within each pair's rows.
    lo, hi : (Q,) int64
        The query's pair rows ``[lo, hi)`` (rows that end a return).
    targets : (Q,) int64
        The candidate calendar dates; τ = 0 is the first row on or after it.
    estimation_window, event_window
        Relative-day windows of the study.
    min_obs
        Estimation rows the pseudo estimation window must hold.
    blocked_first, blocked_last : (Q, K) int64
        First and last dates of the real event windows the pseudo event window must not touch (``_NAT_DAY``
        where none).

    Returns
    -------
    pos, ok : (Q,)
        The pseudo τ = 0 row and its eligibility.
    """
    pos = search_segments(day, lo, hi, targets)
    first_evt, last_evt = pos + event_window[0], pos + event_window[1]
    inside = (pos < hi) & (first_evt >= lo) & (last_evt < hi)
    est_rows = np.minimum(hi - 1, pos + estimation_window[1]) - np.maximum(lo, pos + estimation_window[0]) + 1
    ok = inside & (est_rows >= min_obs)
    top = max(len(day) - 1, 0)
    start = day[np.clip(first_evt, 0, top)] if len(day) else np.zeros(len(pos), dtype=np.int64)
    end = day[np.clip(last_evt, 0, top)] if len(day) else np.zeros(len(pos), dtype=np.int64)
    real = blocked_first != _NAT_DAY
    touches = real & (start[:, None] <= blocked_last) & (end[:, None] >= blocked_first)
    return pos, ok & ~touches.any(axis=1)


def stream_uniforms(seed: int, labels: Sequence[str], draws: int) -> FloatArray:
    """(draws, K) uniforms: column k is the first ``draws`` values of the stream of ``labels[k]`` (module docstring)."""
    out = np.empty((draws, len(labels)))
    for e, label in enumerate(labels):  # one generator per cluster: the draws never depend on the others
        digest = hashlib.sha256(str(label).encode("utf-8")).digest()
        words = [int(w) for w in np.frombuffer(digest, dtype="<u4")]
        out[:, e] = np.random.default_rng(np.random.SeedSequence([int(seed), _STREAM, *words])).random(draws)
    return out


def placebo_p_values(observed: FloatArray, draws: FloatArray) -> dict[str, np.ndarray]:
    """p-values, percentile and moments of observed statistics against their placebo values.

    Parameters
    ----------
    observed : (...)
        T per cell.
    draws : (B, ...)
        T*_b per cell; NaN draws are not counted.

    Returns
    -------
    dict
        ``p_placebo``, ``p_lower``, ``p_upper``, ``percentile``, ``n_used``, ``mean_placebo``, ``sd_placebo``
        (:data:`P_VALUE_RULE`; sd with divisor n - 1). NaN where T is NaN or no draw is finite.
    """
    finite = np.isfinite(draws)
    n = finite.sum(axis=0)
    with np.errstate(invalid="ignore"):
        above = (finite & (np.abs(draws) >= np.abs(observed))).sum(axis=0)
        upper = (finite & (draws >= observed)).sum(axis=0)
        lower = (finite & (draws <= observed)).sum(axis=0)
    valid = (n > 0) & np.isfinite(observed)
    values = np.where(finite, draws, 0.0)
    mean = values.sum(axis=0) / np.maximum(n, 1)
    squares = (np.where(finite, draws - mean, 0.0) ** 2).sum(axis=0)
    sd = np.sqrt(squares / np.maximum(n - 1, 1))

    def masked(x: np.ndarray, ok: np.ndarray) -> FloatArray:
        return np.where(ok, x, np.nan)

    return {
        "p_placebo": masked((1 + above) / (n + 1), valid),
        "p_lower": masked((1 + lower) / (n + 1), valid),
        "p_upper": masked((1 + upper) / (n + 1), valid),
        "percentile": masked(100.0 * lower / np.maximum(n, 1), valid),
        "n_used": n.astype(np.int64),
        "mean_placebo": masked(mean, n > 0),
        "sd_placebo": masked(sd, n > 1),
    }


# ---------------------------------------------------------------------------------------------- the plan
@dataclass(frozen=True, eq=False)
class _Plan:
    """Who enters the placebo and every firm-event's pseudo τ = 0 in every replicate."""

    members: IntArray  # (M,) rows of the study's estimated firm-events that enter
    event_of: IntArray  # (M,) their event codes
    positions: IntArray  # (B, M) pseudo τ = 0 rows in the aligned table
    dates: np.ndarray  # (B, E) datetime64[D] pseudo calendar date of each event (NaT: no placebo)
    exclusions: pd.DataFrame
    events: pd.DataFrame


def _day_numbers(dates: np.ndarray) -> IntArray:
    return np.asarray(dates, dtype="datetime64[D]").view(np.int64)


def _blocked_windows(codes: IntArray, first: IntArray, last: IntArray) -> tuple[IntArray, IntArray]:
    """Per firm-event, the (first, last) event-window dates of every firm-event of the same ticker, (N, K) each."""
    n = len(codes)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]) if n else np.zeros(0, np.int64)
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    width = int(rank.max(initial=-1)) + 1
    ticker_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    table_first = np.full((len(starts), max(width, 1)), _NAT_DAY, dtype=np.int64)
    table_last = table_first.copy()
    table_first[ticker_of, rank] = first[order]
    table_last[ticker_of, rank] = last[order]
    row_ticker = np.empty(n, dtype=np.int64)
    row_ticker[order] = ticker_of
    return table_first[row_ticker], table_last[row_ticker]


def event_clusters(first: IntArray, last: IntArray, event_code: IntArray, n_events: int) -> IntArray:
    """Cluster code of each event: events whose real event windows overlap in calendar time, chained.

    Event e spans [min first, max last] of its firm-events' event-window dates (day numbers); sorted by the
    start of their spans, an event opens a new cluster when its span starts after every earlier span ended.
    Codes are numbered in that order.
    """
    start = np.full(n_events, np.iinfo(np.int64).max)
    end = np.full(n_events, np.iinfo(np.int64).min)
    dated = first != _NAT_DAY
    np.minimum.at(start, event_code[dated], first[dated])
    np.maximum.at(end, event_code[dated], last[dated])
    order = np.argsort(start, kind="stable")
    reach = np.maximum.accumulate(end[order])
    opens = np.r_[True, start[order][1:] > reach[:-1]]
    codes = np.empty(n_events, dtype=np.int64)
    codes[order] = np.cumsum(opens) - 1
    return codes


def _plan(
    aligned: AlignedTable,
    pair: IntArray,
    event_code: IntArray,
    event_ids: Sequence[str],
    tickers: np.ndarray,
    day_zero: IntArray,
    windows: tuple[IntArray, IntArray],
    spec: StudySpec,
    draws: int,
    seed: int,
) -> _Plan:
    """Eligible shifts per cluster of events (module rule), the left-out firm-events and the B draws."""
    n_events = len(event_ids)
    cluster_of = event_clusters(windows[0], windows[1], event_code, n_events)
    n_clusters = int(cluster_of.max(initial=-1)) + 1
    cluster = cluster_of[event_code]
    anchor = np.full(n_clusters, np.iinfo(np.int64).max)
    np.minimum.at(anchor, cluster, day_zero)
    lo, hi = aligned.first[pair], aligned.offsets[pair + 1]
    lengths = hi - lo
    # candidates: the union of each cluster's pairs' dates, sorted by (cluster, date); shift = date - anchor
    flat = np.repeat(lo - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(int(lengths.sum()))
    base = int(aligned.day.min(initial=0))
    span = int(aligned.day.max(initial=0)) - base + 1
    keys = np.unique(np.repeat(cluster, lengths) * span + (aligned.day[flat] - base))
    cand_cluster, cand_shift = keys // span, keys % span + base - anchor[keys // span]
    n_cand = np.bincount(cand_cluster, minlength=n_clusters)
    cand_offset = np.r_[0, np.cumsum(n_cand)[:-1]]
    # one query per (firm-event, candidate shift of its cluster)
    per_member = n_cand[cluster]
    member = np.repeat(np.arange(len(pair)), per_member)
    query_offset = np.r_[0, np.cumsum(per_member)[:-1]]
    candidate = cand_offset[cluster[member]] + np.arange(len(member)) - query_offset[member]
    blocked = _blocked_windows(aligned.table.codes_for(tickers), windows[0], windows[1])
    pos, ok = pseudo_positions(
        aligned.day,
        lo[member],
        hi[member],
        day_zero[member] + cand_shift[candidate],
        spec.estimation_window,
        spec.event_window,
        spec.min_estimation_obs,
        blocked[0][member],
        blocked[1][member],
    )
    n_ok = np.bincount(member[ok], minlength=len(pair))
    alive = n_ok > 0
    reasons = np.full(len(pair), "", dtype=object)
    reasons[~alive] = (
        f"no pseudo day 0 in its price history: none leaves the event window {window_text(spec.event_window)} "
        f"inside its aligned returns ({lengths[~alive].astype(str).astype(object)} of them), at least "
        f"{spec.min_estimation_obs} returns in the estimation window {window_text(spec.estimation_window)} and the "
        "event window clear of the real event windows of its ticker"
    )
    while True:  # clusters whose firm-events share no eligible shift lose their firm-event with the fewest
        counted = ok & alive[member]
        shared = np.bincount(candidate[counted], minlength=len(cand_shift))
        needed = np.bincount(cluster[alive], minlength=n_clusters)
        valid = (shared == needed[cand_cluster]) & (needed[cand_cluster] > 0)
        n_valid = np.bincount(cand_cluster[valid], minlength=n_clusters)
        stuck = np.flatnonzero((needed > 0) & (n_valid == 0))
        if not len(stuck):
            break
        # each stuck cluster drops its alive firm-event with the fewest eligible shifts (first by row on ties)
        rows = np.flatnonzero(alive & np.isin(cluster, stuck))
        rows = rows[np.lexsort((rows, n_ok[rows], cluster[rows]))]
        drop = rows[np.r_[True, cluster[rows][1:] != cluster[rows][:-1]]]
        alive[drop] = False
        reasons[drop] = (
            "no pseudo day 0 shared with the other firm-events of its event or of the events whose windows "
            "overlap it (left out of the placebo)"
        )
    valid_index = np.flatnonzero(valid)
    valid_offset = np.r_[0, np.cumsum(n_valid)[:-1]]
    by_cluster = np.argsort(cluster_of, kind="stable")  # events of each cluster in their order, one sort
    ids_sorted = np.asarray(event_ids, dtype=object)[by_cluster]
    bounds = np.searchsorted(cluster_of[by_cluster], np.arange(n_clusters + 1))
    labels = [" + ".join(ids_sorted[bounds[k] : bounds[k + 1]]) for k in range(n_clusters)]
    uniforms = stream_uniforms(seed, labels, draws)
    pick = np.minimum(np.floor(uniforms * n_valid[None, :]).astype(np.int64), np.maximum(n_valid - 1, 0))
    has = n_valid > 0
    chosen = np.where(has[None, :], valid_index[np.minimum(valid_offset + pick, max(len(valid_index) - 1, 0))], -1)
    members = np.flatnonzero(alive)
    query = query_offset[members][None, :] + chosen[:, cluster[members]] - cand_offset[cluster[members]][None, :]
    # each event's pseudo date: its earliest real day 0 shifted; the range over its cluster's eligible shifts
    event_day = np.full(n_events, np.iinfo(np.int64).max)
    np.minimum.at(event_day, event_code, day_zero)
    shift = np.where(has[None, :], cand_shift[np.maximum(chosen, 0)], 0)[:, cluster_of]
    dates = np.where(has[cluster_of][None, :], event_day[None, :] + shift, _NAT_DAY).view("datetime64[D]")
    ends = valid_offset + np.maximum(n_valid - 1, 0)
    first_shift = np.where(has, cand_shift[valid_index[np.minimum(valid_offset, max(len(valid_index) - 1, 0))]], 0)
    last_shift = np.where(has, cand_shift[valid_index[np.minimum(ends, max(len(valid_index) - 1, 0))]], 0)
    on = has[cluster_of]
    events = pd.DataFrame(
        {
            "event_id": np.asarray(event_ids, dtype=object),
            "cluster": np.asarray(labels, dtype=object)[cluster_of],
            "firm_events": np.bincount(event_code[members], minlength=n_events),
            "eligible_dates": n_valid[cluster_of],
            "first_date": _dates(np.where(on, event_day + first_shift[cluster_of], _NAT_DAY)),
            "last_date": _dates(np.where(on, event_day + last_shift[cluster_of], _NAT_DAY)),
        }
    )
    left_out = np.flatnonzero(~alive)
    exclusions = pd.DataFrame(
        {
            "event_id": np.asarray(event_ids, dtype=object)[event_code[left_out]],
            "ticker": tickers[left_out],
            "reason": reasons[left_out],
        },
        columns=list(PLACEBO_EXCLUSION_COLUMNS),
    )
    return _Plan(members, event_code[members], pos[query], dates, exclusions, events)


def _dates(days: IntArray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).view("datetime64[D]").astype("datetime64[ns]")


# ---------------------------------------------------------------------------------------------- the result
@frame_fields("table", "exclusions", "events", "draws")
@dataclass(frozen=True, eq=False)
class PlaceboResult:
    """The placebo p-values of a study (``result.placebo`` is :attr:`table`).

    Attributes
    ----------
    table
        :data:`PLACEBO_COLUMNS`: one row per group (events, ``"all"``, the user's groups), CAR window and
        statistic (:data:`CAAR`, a fraction, and each primary test named by the summary).
    exclusions
        :data:`PLACEBO_EXCLUSION_COLUMNS`: the firm-events left out of the placebo, and why.
    events
        :data:`PLACEBO_EVENT_COLUMNS`: per event, its cluster (the events shifted with it), the firm-events that
        enter, the number of eligible shifts and the first and last pseudo date of the event they give.
    draws
        :data:`PLACEBO_DRAW_COLUMNS`: the pseudo calendar date of every event in every replicate (1..B).
    n_draws, seed
        B and the seed.
    elapsed
        Seconds the placebo took.
    """

    table: pd.DataFrame
    exclusions: pd.DataFrame
    events: pd.DataFrame
    draws: pd.DataFrame
    n_draws: int
    seed: int
    elapsed: float = 0.0

    @property
    def rule(self) -> str:
        """The draw rule and the p-value in words (the report's note)."""
        return (
            f"B = {self.n_draws:,} placebo replicates, seed {self.seed}. In replicate b the real day 0s of each "
            "event, and of events whose windows overlap it, move together by one number of calendar days drawn "
            "uniformly from the shifts eligible for all their firm-events; each firm-event's pseudo day 0 is its "
            "first session on or after its shifted day 0, with the whole event window inside its prices, enough "
            "estimation returns and no date shared with a real event window of its ticker. The pooled groups "
            "combine the events' replicates. " + P_VALUE_RULE + " (T observed, T*_b placebo)."
        )


def empty_placebo_table() -> pd.DataFrame:
    """The placebo table of a study without placebo dates: no rows, :data:`PLACEBO_COLUMNS`."""
    return pd.DataFrame({column: [] for column in PLACEBO_COLUMNS})


# ---------------------------------------------------------------------------------------------- the study hook
def run_placebo(
    result: Any,
    prices: PriceTable,
    *,
    draws: int,
    seed: int,
    factors: FactorData | None = None,
    progress: bool | None = None,
) -> PlaceboResult:
    """Placebo p-values of a finished study's pooled statistics (module docstring).

    Parameters
    ----------
    result
        The study's :class:`~eventstudy.results.StudyResult` (its spec, estimated firm-events, pooling and
        groups, summary's primary tests).
    prices
        The price table the study was estimated from (the firm-events' histories).
    draws
        B, at least 1.
    seed
        Seed of the draws.
    factors
        The study's factor data (factor models).
    progress
        Progress bar on stderr; default only when stderr is a terminal.
    """
    started = time.perf_counter()
    spec: StudySpec = result.spec
    pairs = result.panel.pairs
    firm = result.firm_events
    event_codes, event_ids = pd.factorize(pairs["event_id"].astype(str), sort=False)
    event_ids = [str(e) for e in event_ids]
    frame = pairs[["event_id", "ticker", "benchmark", "day_zero"]].astype({"ticker": object, "benchmark": object})
    shared = EngineInput(prices, spec, True, FirmEventContext.of(frame, prices))
    aligned = chunk_pairs(Chunk(frame), shared)
    tickers = pairs["ticker"].to_numpy(dtype=object)
    pair, _ = aligned.pair_index(prices.codes_for(tickers), prices.codes_for(pairs["benchmark"]))
    codes = prices.codes_for(tickers)
    evt_dates = np.asarray(result.panel.evt_dates).astype("datetime64[D]")
    real_first, real_last = _window_days(evt_dates)
    day_zero = _day_numbers(pd.to_datetime(pairs["day_zero"]).to_numpy())
    plan = _plan(
        aligned,
        pair,
        event_codes.astype(np.int64),
        event_ids,
        tickers,
        day_zero,
        (real_first, real_last),
        spec,
        draws,
        seed,
    )

    # groups: the events (all their firm-events), "all" and the user's groups (the pooled firm-events)
    members = plan.members
    pooled = firm["pooled"].to_numpy(dtype=bool)[members]
    user = firm["group"].to_numpy(dtype=object)[members]
    user_labels = [str(g) for g in pd.unique(firm["group"]) if g != ""]
    user_code = pd.Index(user_labels, dtype=object).get_indexer(user)
    layers = [
        (plan.event_of, len(event_ids)),
        (np.where(pooled, 0, -1), 1),
        (np.where(pooled, user_code, -1), len(user_labels)),
    ]
    labels = [*event_ids, "all", *user_labels]
    tests = _primary_tests(result)

    n_rep, n_members, n_windows = draws + 1, len(members), len(spec.car_windows)
    cars = np.full((n_rep, n_members, n_windows), np.nan)
    stats = {name: np.full((n_rep, len(labels), n_windows), np.nan) for name in tests}
    real_day = day_zero[members].view("datetime64[D]")
    day_zeros = np.concatenate([real_day[None, :], aligned.day[plan.positions].view("datetime64[D]")])  # (B + 1, M)
    block = max(1, CHUNK_FIRM_EVENTS // max(n_members, 1))
    bar = _bar(progress, draws)
    try:
        for start in range(0, n_rep, block):
            stop = min(start + block, n_rep)
            _replicates(
                aligned,
                frame.iloc[members],
                day_zeros[start:stop],
                start,
                spec,
                factors,
                (real_first, real_last, codes),
                cars,
                stats,
                layers,
                tests,
            )
            if bar is not None:
                bar.update(stop - max(start, 1))
    finally:
        if bar is not None:
            bar.close()

    membership = np.zeros((len(labels), n_members), dtype=bool)
    offset = 0
    for layer_codes, n_layer in layers:
        rows = np.flatnonzero(layer_codes >= 0)
        membership[offset + layer_codes[rows], rows] = True
        offset += n_layer
    present = np.isfinite(cars)
    counts = np.einsum("gm,bmc->bgc", membership.astype(np.float64), present.astype(np.float64))
    sums = np.einsum("gm,bmc->bgc", membership.astype(np.float64), np.where(present, cars, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        caar = np.where(counts > 0, sums / counts, np.nan)
    table = _table({CAAR: caar, **stats}, labels, spec.car_windows, draws, membership.sum(axis=1))
    draw_frame = pd.DataFrame(
        {
            "draw": np.repeat(np.arange(1, draws + 1, dtype=np.int64), len(event_ids)),
            "event_id": np.tile(np.asarray(event_ids, dtype=object), draws),
            "date": plan.dates.ravel().astype("datetime64[ns]"),
        }
    )
    return PlaceboResult(
        table=table,
        exclusions=plan.exclusions,
        events=plan.events,
        draws=draw_frame,
        n_draws=draws,
        seed=int(seed),
        elapsed=time.perf_counter() - started,
    )


def _window_days(evt_dates: np.ndarray) -> tuple[IntArray, IntArray]:
    from eventstudy.results import nanmax_dates, nanmin_dates

    return _day_numbers(nanmin_dates(evt_dates)), _day_numbers(nanmax_dates(evt_dates))


def _primary_tests(result: Any) -> tuple[str, ...]:
    """The tests of slot 1 of the summary's primary tests (any group, any window) that have a window scope."""
    primary = result.summary().primary
    names = pd.unique(primary.loc[primary["slot"] == 1, "test"]) if len(primary) else []
    chosen = [t.name for t in get_tests(result.spec.tests)]
    return tuple(str(n) for n in names if n in chosen and "window" in get_tests((str(n),))[0].scopes)


def _replicates(
    aligned: AlignedTable,
    members: pd.DataFrame,
    days: np.ndarray,
    start: int,
    spec: StudySpec,
    factors: FactorData | None,
    real_windows: tuple[IntArray, IntArray, IntArray],
    cars: FloatArray,
    stats: dict[str, FloatArray],
    layers: list[tuple[IntArray, int]],
    tests: tuple[str, ...],
) -> None:
    """Windows, fit, CARs and primary statistics of replicates ``start .. start + len(days) - 1`` (in place)."""
    n_chunk, n_members = days.shape
    frame = pd.DataFrame(
        {
            "event_id": np.arange(n_chunk * n_members, dtype=np.int64),
            "ticker": np.tile(members["ticker"].to_numpy(dtype=object), n_chunk),
            "benchmark": np.tile(members["benchmark"].to_numpy(dtype=object), n_chunk),
            "day_zero": days.ravel(),
        }
    )
    panel, _ = model_windows(aligned, frame, spec)
    rows = panel.pairs["event_id"].to_numpy(dtype=np.int64)
    if spec.conventions.mask_event_windows:  # the real windows of the ticker, as the study masks them
        first, last, codes = real_windows
        row_codes = np.tile(aligned.table.codes_for(members["ticker"]), n_chunk)[rows]
        masked = window_overlap_mask(
            row_codes,
            np.full(len(rows), -1),
            panel.est_dates,
            codes,
            np.arange(len(codes)),
            first.view("datetime64[D]"),
            last.view("datetime64[D]"),
        )
        panel = replace(panel, est_returns=np.where(masked, np.nan, panel.est_returns))
    fitted = fit_estimable(panel, spec, factors)
    rows = rows[fitted.kept]
    replicate, member = np.divmod(rows, n_members)
    cars[start + replicate, member] = fitted.car_values
    if not tests:
        return
    data = inference_data(
        fitted.panel, fitted.fit, fitted.car_values, fitted.car_var, spec.car_windows, spec.conventions
    )
    for name in tests:
        (test,) = get_tests((name,))
        offset = 0
        for layer_codes, n_layer in layers:
            code = layer_codes[member]
            inside = np.flatnonzero(code >= 0)
            if n_layer and len(inside):
                groups = replicate[inside] * n_layer + code[inside]
                block = test.compute(data.take(inside), "window", groups, n_chunk * n_layer)
                values = np.asarray(block.statistic, dtype=np.float64).reshape(n_chunk, n_layer, -1)
                stats[name][start : start + n_chunk, offset : offset + n_layer] = values
            offset += n_layer


def _table(
    statistics: dict[str, FloatArray],
    labels: list[str],
    windows: tuple[Window, ...],
    draws: int,
    firm_events: IntArray,
) -> pd.DataFrame:
    """The placebo table from each statistic's (B + 1, G, C) values (replicate 0 observed)."""
    parts = []
    n_groups, n_windows = len(labels), len(windows)
    for name, values in statistics.items():
        result = placebo_p_values(values[0], values[1:])
        parts.append(
            pd.DataFrame(
                {
                    "group": np.repeat(np.asarray(labels, dtype=object), n_windows),
                    "window_start": np.tile(np.asarray([a for a, _ in windows], dtype=np.int64), n_groups),
                    "window_end": np.tile(np.asarray([b for _, b in windows], dtype=np.int64), n_groups),
                    "statistic": name,
                    "observed": values[0].ravel(),
                    **{
                        key: np.asarray(result[key]).ravel()
                        for key in ("p_placebo", "p_lower", "p_upper", "percentile")
                    },
                    "n_draws": np.int64(draws),
                    "n_used": np.asarray(result["n_used"]).ravel(),
                    "firm_events": np.repeat(firm_events.astype(np.int64), n_windows),
                    "mean_placebo": np.asarray(result["mean_placebo"]).ravel(),
                    "sd_placebo": np.asarray(result["sd_placebo"]).ravel(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[list(PLACEBO_COLUMNS)]


def _bar(progress: bool | None, total: int) -> Any:
    """A tqdm bar on stderr over the B replicates when asked, or by default on a terminal (quiet in CI and pipes)."""
    if not (progress if progress is not None else sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="placebo", unit="draw", file=sys.stderr, leave=False)


__all__ = [
    "CAAR",
    "PLACEBO_COLUMNS",
    "PLACEBO_DRAW_COLUMNS",
    "PLACEBO_EVENT_COLUMNS",
    "PLACEBO_EXCLUSION_COLUMNS",
    "PLACEBO_HISTORY_DAYS",
    "P_VALUE_RULE",
    "PlaceboResult",
    "empty_placebo_table",
    "event_clusters",
    "placebo_p_values",
    "pseudo_positions",
    "run_placebo",
    "stream_uniforms",
]
