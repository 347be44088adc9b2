"""Placebo (pseudo-event) p-values of the pooled CAARs and primary tests (``docs/methods.md`` §6.4 B3).

A finished study is rerun B times on pseudo day 0s drawn from its firm-events' own price histories, and
each pooled statistic (every event, ``"all"`` and the user's groups; the CAAR of every CAR window and the
primary test statistics) is compared with its B placebo values.

Draw rule
---------
- Candidates of an event: the calendar dates on which any of its estimated firm-events' aligned pairs
  (ticker and benchmark, :func:`~eventstudy.returns.align_pairs`) has a return. A candidate date D maps to
  each firm-event's own pseudo τ = 0: the first aligned row of its pair on or after D (so a US and a Hong
  Kong leg of one event both take their first session from D on).
- A candidate is eligible for a firm-event when, at that pseudo τ = 0, (i) the whole event window lies
  inside the pair's aligned rows, (ii) the estimation window holds at least ``min_estimation_obs`` of them
  (the rule the real firm-event passed), and (iii) the pseudo event window shares no date with the real
  event window of any estimated firm-event of the same ticker in the study (its own and its other events').
  The pseudo estimation window may contain real event windows (``mask_event_windows`` masks them, as in the
  study).
- An event's eligible dates are those eligible for all of its firm-events. A firm-event with no eligible
  date is left out (an exclusion with the reason); while an event's firm-events share no eligible date,
  its firm-event with the fewest eligible dates is left out.
- Replicate b of an event uses one common calendar date D_eb for all its firm-events, drawn uniformly from
  the event's eligible dates: D_eb = C_e[⌊U_eb · n_e⌋], U_eb the b-th uniform of the event's own stream,
  ``SeedSequence([seed, CRC-32("placebo"), SHA-256 words of the event id])``. A common date keeps the
  cross-correlation of an event's firm-events that share calendar dates (the seed's clustered events). The
  draws depend only on the seed, the event id and b: not on B, on chunking or on the other events.
- Replicate b of ``"all"`` and of a user group pools the replicate-b CARs of its firm-events (each event on
  its own pseudo date), over the firm-events that enter the group in the study (``firm_events.pooled``).

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
PLACEBO_EVENT_COLUMNS = ("event_id", "firm_events", "eligible_dates", "first_date", "last_date")
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


def event_uniforms(seed: int, event_ids: Sequence[str], draws: int) -> FloatArray:
    """(draws, E) uniforms: column e is the first ``draws`` values of event e's own stream (module docstring)."""
    out = np.empty((draws, len(event_ids)))
    for e, event_id in enumerate(event_ids):  # one generator per event: the draws never depend on the others
        digest = hashlib.sha256(str(event_id).encode("utf-8")).digest()
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


def _plan(
    aligned: AlignedTable,
    pair: IntArray,
    event_code: IntArray,
    event_ids: Sequence[str],
    tickers: np.ndarray,
    blocked: tuple[IntArray, IntArray],
    spec: StudySpec,
    draws: int,
    seed: int,
) -> _Plan:
    """Eligible dates per event (module rule), the left-out firm-events and the B draws."""
    n_events = len(event_ids)
    lo, hi = aligned.first[pair], aligned.offsets[pair + 1]
    lengths = hi - lo
    # candidates: the union of each event's pairs' dates, sorted by (event, date)
    flat = np.repeat(lo - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(int(lengths.sum()))
    base = int(aligned.day.min(initial=0))
    span = int(aligned.day.max(initial=0)) - base + 1
    keys = np.unique(np.repeat(event_code, lengths) * span + (aligned.day[flat] - base))
    cand_event, cand_day = keys // span, keys % span + base
    n_cand = np.bincount(cand_event, minlength=n_events)
    cand_offset = np.r_[0, np.cumsum(n_cand)[:-1]]
    # one query per (firm-event, candidate of its event)
    per_member = n_cand[event_code]
    member = np.repeat(np.arange(len(pair)), per_member)
    query_offset = np.r_[0, np.cumsum(per_member)[:-1]]
    candidate = cand_offset[event_code[member]] + np.arange(len(member)) - query_offset[member]
    pos, ok = pseudo_positions(
        aligned.day,
        lo[member],
        hi[member],
        cand_day[candidate],
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
    while True:  # events whose firm-events share no eligible date lose their firm-event with the fewest
        counted = ok & alive[member]
        shared = np.bincount(candidate[counted], minlength=len(cand_day))
        needed = np.bincount(event_code[alive], minlength=n_events)
        valid = (shared == needed[cand_event]) & (needed[cand_event] > 0)
        n_valid = np.bincount(cand_event[valid], minlength=n_events)
        stuck = np.flatnonzero((needed > 0) & (n_valid == 0))
        if not len(stuck):
            break
        for e in stuck:  # a few events, each one firm-event per pass
            rows = np.flatnonzero(alive & (event_code == e))
            drop = rows[np.argmin(n_ok[rows])]
            alive[drop] = False
            reasons[drop] = "no pseudo day 0 shared with the other firm-events of its event (left out of the placebo)"
    valid_index = np.flatnonzero(valid)
    valid_offset = np.r_[0, np.cumsum(n_valid)[:-1]]
    uniforms = event_uniforms(seed, event_ids, draws)
    pick = np.minimum(np.floor(uniforms * n_valid[None, :]).astype(np.int64), np.maximum(n_valid - 1, 0))
    has = n_valid > 0
    chosen = np.where(has[None, :], valid_index[np.minimum(valid_offset + pick, max(len(valid_index) - 1, 0))], -1)
    dates = np.where(has[None, :], cand_day[np.maximum(chosen, 0)], _NAT_DAY).view("datetime64[D]")
    members = np.flatnonzero(alive)
    member_event = event_code[members]
    query = query_offset[members][None, :] + chosen[:, member_event] - cand_offset[member_event][None, :]
    first_date = np.full(n_events, _NAT_DAY)
    last_date = np.full(n_events, _NAT_DAY)
    if len(valid_index):
        ends = valid_offset + np.maximum(n_valid - 1, 0)
        first_date[has] = cand_day[valid_index[valid_offset[has]]]
        last_date[has] = cand_day[valid_index[ends[has]]]
    events = pd.DataFrame(
        {
            "event_id": np.asarray(event_ids, dtype=object),
            "firm_events": np.bincount(member_event, minlength=n_events),
            "eligible_dates": n_valid,
            "first_date": first_date.view("datetime64[D]").astype("datetime64[ns]"),
            "last_date": last_date.view("datetime64[D]").astype("datetime64[ns]"),
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
    return _Plan(members, member_event, pos[query], dates, exclusions, events)


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
        :data:`PLACEBO_EVENT_COLUMNS`: per event, the firm-events that enter and the eligible pseudo dates.
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
            f"B = {self.n_draws:,} placebo replicates, seed {self.seed}. In replicate b each event gets one pseudo "
            "calendar date, drawn uniformly from the dates eligible for all its firm-events; each firm-event's "
            "pseudo day 0 is its first session on or after it, with the whole event window inside its prices, "
            "enough estimation returns and no date shared with a real event window of its ticker. The pooled "
            "groups combine the events' replicates. " + P_VALUE_RULE + " (T observed, T*_b placebo)."
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
    plan = _plan(
        aligned,
        pair,
        event_codes.astype(np.int64),
        event_ids,
        tickers,
        _blocked_windows(codes, real_first, real_last),
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
    real_day = np.asarray(pd.to_datetime(pairs["day_zero"]).to_numpy(), dtype="datetime64[D]")[members]
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
    "event_uniforms",
    "placebo_p_values",
    "pseudo_positions",
    "run_placebo",
]
