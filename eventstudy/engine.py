"""The firm-event engine: windows, fit, CARs, flags, pooling and test sums, chunk by chunk with bounded memory.

After day 0 is placed, a firm-event depends on the others only through firm-events of the same ticker (the
``mask_event_windows`` knob needs their event windows; the overlap and confounder flags and the
``pooling`` knob compare its windows with their day 0). The engine therefore runs the firm-event pipeline

    gather windows -> (mask other events' windows) -> model fit -> estimable? -> CARs
        -> flags and pooling -> per-group sums of the decomposable tests

as a pure function of one **chunk** of firm-events, :func:`estimate_chunk`, mapped over the chunks by an
:class:`~eventstudy.executors.Executor`, and puts the chunks' results back in the order of the firm-events
table it was given; the chunks' test sums (:func:`eventstudy.inference.partial_tests`) are merged
(:func:`eventstudy.inference.merge_tests`) for the study to finish. The result is the same whatever the
chunk size and executor (every kernel works row by row, and merged sums differ from sums over all rows
by rounding only), so ``chunk_size`` and ``executor`` are not convention knobs: they never change a number
beyond 1e-12.

With more than one chunk, the firm-events are sorted by (ticker, benchmark, day 0) and cut into chunks of
whole tickers (:func:`ticker_chunk_bounds`), so a chunk reads the rows of a few tickers and holds every
firm-event its flags and pooling compare; one chunk keeps the given order, so nothing needs putting back.
Every chunk aligns its own (ticker, benchmark) pairs (:func:`eventstudy.returns.align_pairs`) from the price
table, which is shared read-only by every chunk, so the aligned returns of the whole study (at 10^6
firm-events on 10,000 tickers, 66 M rows, 2.2 GB) never exist at once: only those of the chunk being
estimated.

Memory
------
The peak of the per-firm-event work is bounded by the chunk: the aligned returns of the chunk's pairs and
its estimation-window arrays (returns, benchmark returns, dates, the benchmark's own returns, residuals:
``chunk_size`` x L each, plus the OLS work arrays) exist only while the chunk is fitted. What a chunk hands
back:

- always: the event-window arrays (N x W), the fit's per-firm-event estimates and the CARs, which the
  outputs report;
- the single-firm SQ and permutation p-values (:mod:`eventstudy.inference.single_firm`) of each AR (N x W)
  and CAR (N x C), computed from the residuals inside the chunk (each row's from its own residuals and
  key, so they do not depend on the chunking);
- the per-group sums of the decomposable tests over the chunk (``FirmEventContext.tests``): the tests
  that read the estimation residuals among them (rank, sign, Brown-Warner 1985, Lamb) read them inside
  the chunk, so they cost no (N x L) array;
- the estimation returns, benchmark returns, dates and residuals (N x L each) only when a requested test
  computed on the gathered firm-events reads them (:func:`gathered_tests`,
  :func:`eventstudy.inference.base.needs_estimation`: GRANK, Kolari-Pynnönen, calendar-time portfolio)
  or ``keep_estimation`` is set; otherwise they
  are dropped as soon as the chunk is fitted and its CARs computed (:func:`without_estimation`), and the
  combined panel and fit hold zero-column arrays in their place (``panel.estimation_days`` empty,
  ``StudyResult.estimation_kept`` False). The first and last estimation date each fit used stay
  (``Estimates.estimation_dates``, N x 2).

With the serial executor each chunk's results are copied into the combined arrays (one row per
firm-event) as soon as the chunk is done, and released, so the peak is the combined arrays plus one chunk;
parallel executors hand back every chunk's results at once, which are then placed one after the other.
At 10^6 one-firm events (estimation [-250, -11], window [-5, +5], 5 CAR windows) the combined arrays are
about 1 KB per firm-event, 1 GB in all.

No array is stored as float32: every quantity the outputs report, and every input of a reported statistic,
must match the unchunked run to 1e-12, which float32 (about 1e-7) cannot. Dates stay ``datetime64[D]``
(8 bytes; int32 day numbers would be lossless but every consumer reads datetime64).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from eventstudy import _kernels as kn
from eventstudy._typing import BoolArray, FloatArray, IntArray, Window
from eventstudy.conventions import Conventions
from eventstudy.data.table import PriceTable
from eventstudy.errors import DataError, EstimationMemoryWarning, InputError
from eventstudy.executors import Executor, SerialExecutor
from eventstudy.inference import InferenceData, TestPartials, get_tests, merge_tests, partial_tests
from eventstudy.inference.base import firm_event_keys, needs_estimation
from eventstudy.inference.single_firm import SingleFirmArrays, single_firm_pvalues
from eventstudy.models import ModelFit, NormalReturnModel, estimable
from eventstudy.pooling import firm_event_flags, pooled_mask, window_overlap_mask
from eventstudy.regressors import FactorData, with_series
from eventstudy.results import exclusion_kinds, nanmax_dates, nanmin_dates
from eventstudy.returns import AlignedTable, ReturnPanel, align_pairs, gather_windows, in_us_dollars
from eventstudy.spec import StudySpec, resolve_single_firm_tests, window_text
from eventstudy.symbols import exchange_for

DEFAULT_CHUNK_SIZE = 16_000
"""Firm-events per chunk by default: an (N x 240) float64 estimation array of a chunk is 30.7 MB.

That is under 32 MB, the largest block glibc's malloc learns to keep on its heap after freeing it (its
dynamic mmap threshold), so from the second chunk on the chunk's (N x L) arrays reuse the pages of the
previous chunk's instead of being mapped, zero-filled by the kernel and unmapped again (at 10^6
firm-events with 20,000 per chunk, 450,000 page faults and about 5 s of system time in the estimation).
"""


@dataclass(frozen=True, eq=False)
class EventWindows:
    """Event-window date range of every firm-event with windows (read by the ``mask_event_windows`` knob).

    Attributes
    ----------
    rows : (S,) int64
        Row of each firm-event in the engine's firm-events table.
    codes : (S,) int64
        Its ticker's code in the price table.
    first, last : (S,) datetime64[D]
        First and last date of its event-window rows (NaT when it has none).
    """

    rows: IntArray
    codes: IntArray
    first: np.ndarray
    last: np.ndarray


@dataclass(frozen=True, eq=False)
class FirmEventContext:
    """What the chunks need, besides prices, to flag, pool and test their firm-events.

    The arrays have one entry per row of the engine's firm-events table.

    Attributes
    ----------
    event_ids : (N,) object
        Event id of each firm-event.
    rank : (N,) int64
        Its :func:`~eventstudy.pooling.precedence` (the ``pooling`` knob keeps the lowest of a firm-day).
    others
        Every firm-event of the study with a day 0 (``event_id``, ``ticker``, ``day_zero``): the events
        whose day 0 :func:`~eventstudy.pooling.firm_event_flags` looks for in each window, in a stable order
        of ``other_codes``.
    other_codes : (S,) int64
        Code of each of ``others``' tickers in the price table, increasing (-1 rows left out: a ticker
        without prices has no estimated firm-event to flag).
    tests
        The decomposable tests (``StatTest.decomposable``) each chunk reduces to per-group sums
        (:func:`~eventstudy.inference.partial_tests`); empty: none.
    event_codes : (N,) int64
        Code of each firm-event's event (0..n_events-1) for those tests.
    n_events
        Number of event codes.
    group_codes : (N,) int64
        Code of its user group (0..n_user_groups-1; -1: none).
    n_user_groups
        Number of user groups.
    tested : (N,) bool
        Whether its event may get tests of its own (``event_tests``).
    study_rows : (N,) int64, optional
        Increasing keys of the firm-events in the order of the whole study, when the engine's table is part
        of a larger study (a slice); None: the engine's rows. Lamb's ``lamb_market = "first"`` takes each
        group's first firm-event in this order.
    """

    event_ids: np.ndarray
    rank: IntArray
    others: pd.DataFrame
    other_codes: IntArray
    tests: tuple[str, ...] = ()
    event_codes: IntArray | None = None
    n_events: int = 0
    group_codes: IntArray | None = None
    n_user_groups: int = 0
    tested: BoolArray | None = None
    study_rows: IntArray | None = None

    @classmethod
    def of(
        cls, firm_events: pd.DataFrame, prices: PriceTable, others: pd.DataFrame | None = None, **tests: Any
    ) -> FirmEventContext:
        """The context of ``firm_events`` (event_id, ticker, day_zero), their own order as precedence.

        ``others`` (the flags' sources) is the given frame or, by default, the firm-events themselves;
        ``tests`` set the test attributes (``tests``, ``event_codes``, ...).
        """
        others = firm_events[["event_id", "ticker", "day_zero"]] if others is None else others
        codes = prices.codes_for(others["ticker"])
        order = np.argsort(codes, kind="stable")
        order = order[codes[order] >= 0]
        return cls(
            event_ids=firm_events["event_id"].to_numpy(dtype=object),
            rank=np.arange(len(firm_events), dtype=np.int64),
            others=others.iloc[order].reset_index(drop=True),
            other_codes=codes[order],
            **tests,
        )


@dataclass(frozen=True, eq=False)
class EngineInput:
    """The read-only input every chunk shares (handed to the executor once).

    Attributes
    ----------
    prices
        Observed rows of every symbol; each chunk aligns its own (ticker, benchmark) pairs from them.
    spec
        The study's settings.
    keep_estimation
        Whether each chunk hands back its estimation returns, benchmark returns, dates and residuals.
    context
        Event ids, precedence, the flags' sources and the per-chunk tests of the firm-events.
    windows
        Event windows of every firm-event, when ``mask_event_windows`` is on (else None).
    factors
        Factor tables of the model's series besides the benchmark (factor models), else None.
    single_firm_tests
        The single-firm tests each chunk computes from its residuals (``spec.single_firm_tests`` resolved).
    """

    prices: PriceTable
    spec: StudySpec
    keep_estimation: bool
    context: FirmEventContext
    windows: EventWindows | None = None
    factors: FactorData | None = None
    single_firm_tests: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Chunk:
    """Some firm-events: their rows in the engine's firm-events table and those rows.

    ``firm_events`` has the columns event_id, ticker, benchmark, day_zero, with ``event_id`` replaced by the
    row number (int64), so that every row the window gather keeps or excludes carries its row.
    """

    firm_events: pd.DataFrame


@dataclass(frozen=True, eq=False)
class ChunkEstimates:
    """What :func:`estimate_chunk` hands back for one chunk.

    Attributes
    ----------
    rows : (n,) int64
        Row (in the engine's firm-events table) of each estimated firm-event, in chunk order.
    n_windowed
        Firm-events of the chunk with windows (before the estimability check).
    panel, fit
        The estimated firm-events' panel (``pairs.event_id`` holds rows, not ids) and fit.
    estimation_dates : (n, 2) datetime64[D]
        First and last date of the estimation rows used by the fit.
    car_values, car_var : (n, C)
        CARs and their variances.
    overlaps, estimation_confounders : (n,) object
        The firm-events' flags (:func:`~eventstudy.pooling.firm_event_flags`).
    pooled : (n,) bool
        Whether each enters the pooled groups (:func:`~eventstudy.pooling.pooled_mask`).
    excluded
        Exclusions of the returns, estimation and CAR stages, each with columns row, ticker, stage, reason.
    partials
        The per-group sums of the context's tests over the chunk (None without tests).
    single_firm
        The SQ and permutation p-values of the firm-events' ARs and CARs (zero columns for a test not run).
    """

    rows: IntArray
    n_windowed: int
    panel: ReturnPanel
    fit: ModelFit
    estimation_dates: np.ndarray
    car_values: FloatArray
    car_var: FloatArray
    overlaps: np.ndarray
    estimation_confounders: np.ndarray
    pooled: BoolArray
    excluded: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
    partials: TestPartials | None
    single_firm: SingleFirmArrays


@dataclass(frozen=True, eq=False)
class Estimates:
    """The estimated firm-events of a study, rows in the order of the firm-events table given to :func:`estimate`.

    Attributes
    ----------
    panel, fit
        The panel and fit of the estimated firm-events.
    estimation_dates : (N, 2) datetime64[D]
        First and last date of the estimation rows used by each fit.
    car_values, car_var : (N, C)
        CARs over the study's CAR windows and their variances.
    exclusions
        Exclusions of the returns, the estimation and the CAR stages (columns event_id, ticker, stage,
        reason), each in firm-event order.
    rows : (N,) int64
        Row of each estimated firm-event in the firm-events table given to :func:`estimate` (increasing).
    overlaps, estimation_confounders : (N,) object
        The flags of :func:`~eventstudy.pooling.firm_event_flags`.
    pooled : (N,) bool
        :func:`~eventstudy.pooling.pooled_mask` under the ``pooling`` knob.
    test_partials
        The merged per-group sums of the context's tests over every chunk (None without tests).
    single_firm
        The SQ and permutation p-values of the ARs and CARs
        (:func:`~eventstudy.inference.single_firm.single_firm_pvalues`).
    """

    panel: ReturnPanel
    fit: ModelFit
    estimation_dates: np.ndarray
    car_values: FloatArray
    car_var: FloatArray
    exclusions: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
    rows: IntArray
    overlaps: np.ndarray
    estimation_confounders: np.ndarray
    pooled: BoolArray
    test_partials: TestPartials | None
    single_firm: SingleFirmArrays


def as_chunk_size(value: object) -> int:
    """A valid ``chunk_size``: a whole number >= 0 (0 and None: one chunk, given as 0).

    Raises
    ------
    InputError
        For anything else (a negative number, a fraction, text), naming the parameter.
    """
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(
            f"chunk_size must be a whole number of firm-events >= 0 (0 or None: one chunk), got {value!r}",
            parameter="chunk_size",
            value=value,
        )
    return int(value)


def chunk_bounds(n: int, chunk_size: int) -> list[tuple[int, int]]:
    """Half-open bounds of consecutive chunks of at most ``chunk_size`` of ``n`` items (0: one chunk)."""
    size = chunk_size or max(n, 1)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def ticker_chunk_bounds(tickers: IntArray, chunk_size: int) -> list[tuple[int, int]]:
    """Half-open bounds of consecutive chunks of about ``chunk_size`` rows that never split a ticker.

    ``tickers`` are the rows' ticker codes, each ticker's rows consecutive (sorted). A chunk ends at the
    first ticker boundary at or after each multiple of ``chunk_size`` (0: one chunk), so a chunk holds every
    firm-event of its tickers (the flags and the pooling compare a firm-event with the others of its
    ticker only) and exceeds ``chunk_size`` by less than one ticker's firm-events.
    """
    n = len(tickers)
    if not chunk_size or n <= chunk_size:
        return [(0, n)] if n else []
    starts = np.flatnonzero(np.r_[True, tickers[1:] != tickers[:-1]])
    at = np.searchsorted(starts, np.arange(chunk_size, n, chunk_size))
    cuts = np.unique(starts[at[at < len(starts)]])
    edges = np.r_[0, cuts[cuts > 0], n]
    return [(int(start), int(end)) for start, end in pairwise(edges)]


def estimate(
    firm_events: pd.DataFrame,
    prices: PriceTable,
    spec: StudySpec,
    *,
    excluded_before: pd.DataFrame,
    context: FirmEventContext | None = None,
    executor: Executor | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    keep_estimation: bool = False,
    progress: Callable[[str], None] | None = None,
    allow_empty: bool = False,
    factors: FactorData | None = None,
) -> Estimates:
    """Windows, fit, estimability, CARs, flags, pooling and per-chunk test sums of every firm-event, by chunks.

    Parameters
    ----------
    firm_events
        One row per firm-event: event_id, ticker, benchmark, day_zero (both symbols in ``prices``).
    prices
        Observed rows of every symbol.
    spec
        The study's settings (windows, model, conventions, tests).
    excluded_before
        Exclusions made before this stage (columns event_id, ticker, stage, reason), for the message of
        :class:`~eventstudy.errors.DataError`.
    context
        Event ids, precedence, the flags' sources and the tests reduced per chunk (:class:`FirmEventContext`);
        None: :meth:`FirmEventContext.of` the firm-events alone, no tests.
    executor
        Where the chunks run; :class:`~eventstudy.executors.SerialExecutor` when None.
    chunk_size
        Firm-events per chunk, about (0: one chunk; :func:`ticker_chunk_bounds`). Never changes a result.
    keep_estimation
        Keep the estimation returns, benchmark returns, dates and residuals even when no test outside the
        context's reads them.
    progress
        Called with one message as the estimation starts.
    allow_empty
        Return estimates of no firm-event (with every stage's exclusions) when none can be estimated,
        instead of raising: a slice of a larger study (:mod:`eventstudy.sliced`), which decides over all its
        slices.
    factors
        The factor tables of a model that reads series besides the benchmark (:mod:`eventstudy.regressors`).

    Returns
    -------
    Estimates
        Rows in the order of ``firm_events``; the exclusions of each stage in that order too.

    Raises
    ------
    DataError
        When no firm-event has windows, or none can be estimated (the message counts every exclusion);
        not with ``allow_empty``.
    """
    _require_firm_events(len(firm_events), [excluded_before], allow_empty)
    conv = spec.conventions
    context = FirmEventContext.of(firm_events, prices) if context is None else context
    ticker = prices.codes_for(firm_events["ticker"])
    benchmark = prices.codes_for(firm_events["benchmark"])
    day_zero = np.asarray(pd.to_datetime(firm_events["day_zero"]).to_numpy(), dtype="datetime64[D]").view(np.int64)
    several = bool(chunk_size) and len(firm_events) > chunk_size
    order = np.lexsort((day_zero, benchmark, ticker)) if several else np.arange(len(firm_events))
    bounds = ticker_chunk_bounds(ticker[order], chunk_size) or [(0, 0)]  # no firm-event: one empty chunk
    if len(bounds) == 1:  # one chunk after all (tickers are never split): in firm-event order, as _Placed takes it
        order = np.arange(len(firm_events))
    if progress is not None:
        progress(
            f"estimation: {spec.normal_model.label} for {len(firm_events)} firm-events"
            + (f" in {len(bounds)} chunks" if len(bounds) > 1 else "")
        )
    labels = firm_events[["event_id", "ticker", "benchmark", "day_zero"]]
    # the chunks' symbols as Python strings, converted once (not in every chunk's lookups and gathers)
    numbered = labels.astype({"ticker": object, "benchmark": object}).assign(
        event_id=np.arange(len(firm_events), dtype=np.int64)
    )
    chunks = [Chunk(numbered.iloc[order[a:b]]) for a, b in bounds]
    del numbered
    run = executor or SerialExecutor()
    gathered = gathered_tests(spec.tests, context.tests)
    if not keep_estimation:
        warn_kept_estimation(len(firm_events), spec.estimation_window, gathered)
    series_beyond_market(spec.normal_model, factors)  # before any work: a missing factor source is an input error
    shared = EngineInput(
        prices,
        spec,
        keep_estimation or needs_estimation(gathered),
        context,
        factors=factors,
        single_firm_tests=resolve_single_firm_tests(spec.single_firm_tests, len(firm_events)),
    )
    if conv.mask_event_windows:
        shared = replace(shared, windows=_event_windows(run.map(event_window_range, chunks, shared)))
    placed = _Placed(len(firm_events))
    for part in _chunk_results(run, chunks, shared):
        placed.add(part)

    ids = firm_events["event_id"].to_numpy(dtype=object)
    returns_stage, estimation_stage, car_stage = (_exclusions(stage, ids) for stage in placed.excluded)
    exclusions = [excluded_before, returns_stage]
    _require_firm_events(placed.n_windowed, exclusions, allow_empty)
    exclusions.append(estimation_stage)
    kept = np.sort(np.concatenate(placed.rows))
    _require_firm_events(len(kept), exclusions, allow_empty)
    panel, fit, per_row = placed.result(labels, kept)
    return Estimates(
        panel=replace(panel, pairs=panel.pairs.assign(event_id=ids[kept])),
        fit=fit,
        estimation_dates=per_row["estimation_dates"],
        car_values=per_row["car_values"],
        car_var=per_row["car_var"],
        exclusions=(returns_stage, estimation_stage, car_stage),
        rows=kept,
        overlaps=per_row["overlaps"],
        estimation_confounders=per_row["estimation_confounders"],
        pooled=per_row["pooled"],
        test_partials=merge_tests(placed.partials) if placed.partials else None,
        single_firm=SingleFirmArrays(**{name: per_row[f"single_firm.{name}"] for name in _SINGLE_FIRM_NAMES}),
    )


def gathered_tests(names: tuple[str, ...] | None, per_chunk: tuple[str, ...]) -> tuple[str, ...]:
    """The requested tests (``names``; None: all) that are not reduced per chunk: they read the gathered arrays."""
    return tuple(test.name for test in get_tests(names) if test.name not in per_chunk)


def _chunk_results(run: Executor, chunks: list[Chunk], shared: EngineInput) -> Iterator[ChunkEstimates]:
    """The results of :func:`estimate_chunk` for the chunks, one at a time, in chunk order.

    A :class:`~eventstudy.executors.SerialExecutor` maps one chunk at a time, so that each chunk's results
    are placed (:class:`_Placed`) and released before the next chunk runs: the chunks' results never exist
    all at once next to the combined arrays (at 10^6 firm-events about 1 GB each). Other executors run the
    chunks in parallel, in one map.
    """
    if isinstance(run, SerialExecutor):
        for chunk in chunks:
            yield from run.map(estimate_chunk, [chunk], shared)
        return
    parts = run.map(estimate_chunk, chunks, shared)
    parts.reverse()
    while parts:
        yield parts.pop()


def event_window_range(chunk: Chunk, shared: EngineInput) -> EventWindows:
    """First and last event-window date of a chunk's firm-events with windows (the mask's first pass)."""
    spec = shared.spec
    panel, _ = gather_windows(chunk_pairs(chunk, shared), chunk.firm_events, (0, 0), spec.event_window)
    dates = panel.evt_dates.astype("datetime64[D]")
    return EventWindows(
        rows=panel.pairs["event_id"].to_numpy(dtype=np.int64),
        codes=shared.prices.codes_for(panel.pairs["ticker"]),
        first=nanmin_dates(dates),
        last=nanmax_dates(dates),
    )


@dataclass(frozen=True, eq=False)
class Fitted:
    """A panel's model fit reduced to its estimable firm-events, with their CARs (:func:`fit_estimable`).

    Attributes
    ----------
    panel, fit
        The estimable firm-events' panel (with the model's series attached) and fit.
    kept, dropped : int64
        Positions, in the panel given, of the estimable firm-events and of the others.
    reasons : (len(dropped),) object
        Why each dropped firm-event could not be estimated.
    car_values, car_var : (len(kept), C)
        CARs over the CAR windows and their variances.
    """

    panel: ReturnPanel
    fit: ModelFit
    kept: IntArray
    dropped: IntArray
    reasons: np.ndarray
    car_values: FloatArray
    car_var: FloatArray


def series_beyond_market(model: NormalReturnModel, factors: FactorData | None) -> tuple[str, ...]:
    """The series ``model`` reads besides the benchmark and its leads and lags (to attach from ``factors``).

    Raises
    ------
    InputError
        The model reads such series and no factor data was given.
    """
    extra = model.factor_series
    if extra and factors is None:
        raise InputError(
            f"the {model.name} model reads {', '.join(extra)}, which need factor data: give factors= (Python) or "
            "--factors PATH|french (command line)",
            parameter="factors",
        )
    return extra


def fit_estimable(panel: ReturnPanel, spec: StudySpec, factors: FactorData | None = None) -> Fitted:
    """Series, fit, estimability and CARs of a panel: the core the study's chunks and ``simulate`` share.

    The model's series besides the benchmark are attached from ``factors``
    (:func:`~eventstudy.regressors.with_series`); firm-events that are not :func:`~eventstudy.models.estimable`
    are dropped with a reason ("insufficient estimation data: M returns in [a, b], minimum m", or "model not
    estimable ..."; either followed by the days without regressor data when a series had gaps); the CARs and
    their variances follow the conventions (:meth:`~eventstudy.models.ModelFit.cars`).
    """
    model = spec.normal_model
    extra = series_beyond_market(model, factors)
    if extra:
        assert factors is not None  # series_beyond_market raised otherwise
        panel = with_series(panel, factors, extra)
    fit = model.fit(panel, spec.conventions)
    usable = estimable(fit, spec.min_estimation_obs)
    bad = np.flatnonzero(~usable)
    short = fit.n_obs[bad] < spec.min_estimation_obs
    reasons = np.where(
        short,
        "insufficient estimation data: "
        + fit.n_obs[bad].astype(str).astype(object)
        + f" returns in {window_text(spec.estimation_window)}, minimum {spec.min_estimation_obs}",
        "model not estimable (constant or zero-variance returns in the estimation window)",
    )
    if fit.failures is not None:  # the model's own reason (e.g. a GARCH fit that did not converge)
        own = fit.failures[bad]
        reasons = np.where((own != "") & ~short, own, reasons)
    gaps = fit.regressor_gaps[bad]
    if gaps.any():
        reasons = np.where(
            gaps > 0, reasons + "; " + gaps.astype(str).astype(object) + " days without regressor data", reasons
        )
    keep = np.flatnonzero(usable)
    if len(bad):
        panel, fit = panel.take(keep), fit.take(keep)
    car_values, car_var = fit.cars(panel.event_days, spec.car_windows, spec.conventions)
    return Fitted(panel, fit, keep, bad, reasons, car_values, car_var)


def model_windows(
    aligned: AlignedTable, firm_events: pd.DataFrame, spec: StudySpec
) -> tuple[ReturnPanel, pd.DataFrame]:
    """The study's windows of some firm-events with every series its model reads (``returns.gather_windows``).

    The benchmark's own estimation returns under ``fec_moments = "index_window"``, and the market's leads and
    lags, trade spans, other market and accumulated extras the normal-return model asks for. Shared by the
    study's chunks and the placebo dates (:mod:`eventstudy.placebo`).
    """
    model = spec.normal_model
    return gather_windows(
        aligned,
        firm_events,
        spec.estimation_window,
        spec.event_window,
        bench_own=spec.conventions.fec_moments == "index_window",
        market_shifts=model.market_shifts,
        spans=model.reads_spans,
        other_market=model.reads_other_market,
        extras=model.accumulated_extras,
        extra_lags=model.accumulated_extra_lags,
    )


def estimate_chunk(chunk: Chunk, shared: EngineInput) -> ChunkEstimates:
    """Windows, fit, estimability and CARs of one chunk of firm-events (a pure function of its inputs).

    The steps are those of the whole study on the chunk's rows: :func:`~eventstudy.returns.gather_windows`;
    with ``mask_event_windows`` the estimation rows inside another firm-event's event window (of any chunk)
    set to NaN (:func:`~eventstudy.pooling.window_overlap_mask`); the model fit; firm-events that are not
    :func:`~eventstudy.models.estimable` excluded ("insufficient estimation data" or "model not
    estimable"); the CARs, with one exclusion per firm-event and CAR window that misses a day. The
    estimation-window arrays (returns, benchmark returns, dates, residuals) are dropped unless
    ``shared.keep_estimation``.
    """
    spec = shared.spec
    conv = spec.conventions
    panel, returns_excluded = model_windows(chunk_pairs(chunk, shared), chunk.firm_events, spec)
    pairs = panel.pairs  # a copy on each read
    rows = pairs["event_id"].to_numpy(dtype=np.int64)
    tickers = pairs["ticker"].to_numpy()
    n_windowed = len(rows)
    if shared.windows is not None:
        others = shared.windows
        codes = shared.prices.codes_for(tickers)
        masked = window_overlap_mask(codes, rows, panel.est_dates, others.codes, others.rows, others.first, others.last)
        panel = replace(panel, est_returns=np.where(masked, np.nan, panel.est_returns))
    fitted = fit_estimable(panel, spec, shared.factors)
    bad, reasons = fitted.dropped, fitted.reasons
    estimation_excluded = _excluded(rows[bad], tickers[bad], "estimation", reasons)
    panel, fit, car_values, car_var = fitted.panel, fitted.fit, fitted.car_values, fitted.car_var
    rows, tickers = rows[fitted.kept], tickers[fitted.kept]
    estimation_dates = used_date_range(panel.est_dates, np.isfinite(fit.residuals))
    missing, window = np.nonzero(~np.isfinite(car_values))
    labels = np.array([f"CAR window {window_text(w)}" for w in spec.car_windows], dtype=object)
    car_excluded = _excluded(
        rows[missing],
        tickers[missing],
        labels[window],
        missing_car_reasons(fit.window_start_spans(panel.event_days, spec.car_windows)[missing, window]),
    )
    context = shared.context
    day_zero = pd.to_datetime(panel.pairs["day_zero"]).to_numpy()
    flags = firm_event_flags(
        pd.DataFrame({"event_id": context.event_ids[rows], "ticker": tickers, "day_zero": day_zero}),
        panel.evt_dates,
        panel.event_days,
        estimation_dates,
        _others_of(context, shared.prices.codes_for(tickers)),
        masked=conv.mask_event_windows,
    )
    overlaps = flags["overlaps"].to_numpy()
    pooled = pooled_mask(pd.Series(tickers), day_zero, overlaps, conv.pooling, context.rank[rows])
    partials = None
    if context.tests:
        assert context.event_codes is not None and context.group_codes is not None and context.tested is not None
        named = replace(panel, pairs=panel.pairs.assign(event_id=context.event_ids[rows]))
        data = inference_data(named, fit, car_values, car_var, spec.car_windows, conv)
        partials = partial_tests(
            data,
            context.event_codes[rows],
            context.n_events,
            context.tests,
            pooled=pooled,
            group_codes=context.group_codes[rows],
            n_user_groups=context.n_user_groups,
            event_rows=np.flatnonzero(context.tested[rows]),
            rows=rows if context.study_rows is None else context.study_rows[rows],
        )
    permutation = "permutation" in shared.single_firm_tests  # only its draws read the keys
    single_firm = single_firm_pvalues(
        fit.abnormal,
        fit.residuals,
        car_values,
        panel.event_days,
        spec.car_windows,
        firm_event_keys(context.event_ids[rows], tickers) if permutation else None,
        shared.single_firm_tests,
        seed=conv.seed,
        draws=spec.permutation_draws,
    )
    if not shared.keep_estimation:
        panel, fit = without_estimation(panel, fit)
    returns_excluded = returns_excluded.rename(columns={"event_id": "row"})
    return ChunkEstimates(
        rows=rows,
        n_windowed=n_windowed,
        panel=panel,
        fit=fit,
        estimation_dates=estimation_dates,
        car_values=car_values,
        car_var=car_var,
        overlaps=overlaps,
        estimation_confounders=flags["estimation_confounders"].to_numpy(),
        pooled=pooled,
        excluded=(returns_excluded, estimation_excluded, car_excluded),
        partials=partials,
        single_firm=single_firm,
    )


def missing_car_reasons(first_spans: IntArray) -> np.ndarray:
    """Why each missing CAR is missing, from the sessions its window's first return spans (``window_start_spans``).

    More than one: boundary contamination of a trade-to-trade window (``docs/methods.md`` §4.7); otherwise an
    abnormal return of the window is missing.
    """
    reasons = np.full(
        len(first_spans), "abnormal return missing on at least one day of the window (no price row)", dtype=object
    )
    contaminated = np.flatnonzero(first_spans > 1)
    reasons[contaminated] = (
        "first return of the window spans "
        + first_spans[contaminated].astype(str).astype(object)
        + " sessions back to before the window start (trade-to-trade)"
    )
    return reasons


def _others_of(context: FirmEventContext, ticker_codes: IntArray) -> pd.DataFrame:
    """The flags' sources of the tickers ``ticker_codes``: the rows of ``others`` in their range of codes.

    The range may hold other tickers' rows too (tickers between the lowest and the highest code); the flags
    match a firm-event with the sources of its own ticker only, so they change nothing.
    """
    if not len(ticker_codes):
        return context.others.iloc[:0]
    low, high = np.searchsorted(context.other_codes, [ticker_codes.min(), ticker_codes.max()], side="left")
    high = np.searchsorted(context.other_codes, ticker_codes.max(), side="right")
    return context.others.iloc[low:high]


def inference_data(
    panel: ReturnPanel,
    fit: ModelFit,
    car_values: np.ndarray,
    car_var: np.ndarray,
    car_windows: tuple[Window, ...],
    conventions: Conventions,
    markets: np.ndarray | None = None,
) -> InferenceData:
    """The arrays every test statistic reads, from a panel, its model fit and its CARs (rows aligned).

    ``markets`` (the exchange of each firm-event's ticker) default to :func:`ticker_markets` of the pairs.
    """
    return InferenceData(
        ar=fit.abnormal,
        ar_var=fit.ar_variance,
        car=car_values,
        car_var=car_var,
        df=fit.df,
        rel_days=panel.event_days,
        car_windows=car_windows,
        conventions=conventions,
        est_resid=fit.residuals,
        est_dates=panel.est_dates,
        est_market=panel.est_market,
        evt_market=panel.evt_market,
        evt_returns=panel.evt_returns,
        evt_dates=panel.evt_dates.astype("datetime64[D]"),
        s2=fit.s2,
        n_obs=fit.n_obs,
        k=fit.k,
        xtx_inv=fit.xtx_inv,
        event_design=fit.event_design,
        markets=ticker_markets(panel.pairs["ticker"]) if markets is None else markets,
        keys=firm_event_keys(panel.pairs["event_id"], panel.pairs["ticker"]),
        est_bench_own=panel.est_bench_own,
        design_regressors=fit.regressors,
        evt_target=None
        if fit.regressors in ((), ("market",))
        else panel.evt_returns - (fit.expected - kn.predict(fit.event_design, fit.coef)),
    )


def ticker_markets(tickers: pd.Series) -> np.ndarray:
    """Exchange (MIC) of each ticker, ``"unknown"`` without a calendar; one lookup per distinct ticker."""
    codes, unique = pd.factorize(tickers)
    names = np.array([exchange_for(t) or "unknown" for t in unique], dtype=object)
    return names[codes]


MEMORY_WARNING_SHARE = 0.25
"""The share of the machine's memory above which keeping the estimation arrays for the tests is warned of."""


def warn_kept_estimation(n_firm_events: int, estimation_window: Window, tests: tuple[str, ...]) -> None:
    """Warn (:class:`~eventstudy.errors.EstimationMemoryWarning`) when the tests' estimation arrays are large.

    Of the ``tests`` that read the gathered arrays (those not reduced per chunk), those that read the
    estimation-window residuals (``StatTest.needs_estimation``: the Kolari-Pynnönen, GRANK and
    calendar-time tests) make the engine keep four (firm-events x L) float64 or datetime64 arrays
    (returns, benchmark returns, dates, residuals; L the estimation window's length) until the tests have
    run. Above :data:`MEMORY_WARNING_SHARE` of the machine's physical memory (:func:`physical_memory`; no
    warning where it is unknown) the warning names those tests, the size and what to do; the study runs on.
    """
    readers = [test.name for test in get_tests(tests) if test.needs_estimation]
    memory = physical_memory()
    if not readers or memory is None:
        return
    length = estimation_window[1] - estimation_window[0] + 1
    size = 4 * 8 * n_firm_events * length
    if size <= MEMORY_WARNING_SHARE * memory:
        return
    warnings.warn(
        EstimationMemoryWarning(
            f"{len(readers)} of the tests ({', '.join(readers)}) read the estimation-window residuals, so the "
            f"study keeps 4 arrays of {n_firm_events:,} firm-events x {length} days, about {size / 2**30:.1f} GB, "
            f"{size / memory:.0%} of this machine's {memory / 2**30:.0f} GB of memory, with their temporaries on "
            "top; leave them out (--tests, EventStudy(tests=...)) or run the study on a machine with more memory"
        ),
        stacklevel=3,
    )


def physical_memory() -> int | None:
    """The machine's physical memory in bytes (``sysconf``), or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def used_date_range(dates: np.ndarray, used: np.ndarray) -> np.ndarray:
    """First and last date of the used rows of each firm-event, (N, 2) datetime64[D] (NaT for none used).

    Parameters
    ----------
    dates : (N, L) datetime64[D]
        Dates of the estimation rows, increasing along each row where present (a window of consecutive
        rows of one aligned pair).
    used : (N, L) bool
        The rows the fit used.

    Notes
    -----
    Because the dates increase along a row, the earliest and latest used dates are those of the first and
    last used column, found with two ``argmax`` over the (N, L) mask: no (N, L) copy of the dates.
    """
    n, width = used.shape
    rows = np.arange(n)
    first = used.argmax(axis=1)
    last = width - 1 - used[:, ::-1].argmax(axis=1)
    out = np.stack([dates[rows, first], dates[rows, last]], axis=1).astype("datetime64[D]")
    out[~used.any(axis=1)] = np.datetime64("NaT")
    return out


def chunk_pairs(chunk: Chunk, shared: EngineInput) -> AlignedTable:
    """The chunk's distinct (ticker, benchmark) pairs aligned (:func:`~eventstudy.returns.align_pairs`)."""
    prices, spec = shared.prices, shared.spec
    tickers = prices.codes_for(chunk.firm_events["ticker"])
    benchmarks = prices.codes_for(chunk.firm_events["benchmark"])
    aligned = align_pairs(prices, tickers, benchmarks, spec.resolved_return_type, spec.conventions.alignment)
    return in_us_dollars(aligned, spec.in_us_dollars) if spec.in_us_dollars else aligned


def without_estimation(panel: ReturnPanel, fit: ModelFit) -> tuple[ReturnPanel, ModelFit]:
    """Panel and fit without any (N x L) estimation array: zero columns in place of each.

    The estimation returns, benchmark returns and dates of the panel (``estimation_days`` empty, no
    benchmark's own returns) and the residuals of the fit.
    """
    empty = np.empty((len(panel), 0))
    panel = replace(
        panel,
        estimation_days=panel.estimation_days[:0],
        est_returns=empty,
        est_market=empty,
        est_dates=empty.astype("datetime64[D]"),
        est_bench_own=None,
        est_regressors=None if panel.est_regressors is None else np.empty((len(panel), 0, len(panel.regressor_names))),
    )
    return panel, replace(fit, residuals=empty)


def _excluded(rows: IntArray, tickers: np.ndarray, stage: object, reason: object) -> pd.DataFrame:
    return pd.DataFrame({"row": rows, "ticker": tickers, "stage": stage, "reason": reason})


def _exclusions(parts: Sequence[pd.DataFrame], ids: np.ndarray) -> pd.DataFrame:
    """One stage's exclusions of every chunk in firm-event order, the row numbers turned back into event ids."""
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.iloc[np.argsort(frame["row"].to_numpy(dtype=np.int64), kind="stable")]
    return pd.DataFrame(
        {
            "event_id": ids[frame["row"].to_numpy(dtype=np.int64)],
            "ticker": frame["ticker"].to_numpy(dtype=object),
            "stage": frame["stage"].to_numpy(dtype=object),
            "reason": frame["reason"].to_numpy(dtype=object),
        }
    )


def _event_windows(parts: Sequence[EventWindows]) -> EventWindows:
    return EventWindows(
        rows=np.concatenate([p.rows for p in parts]),
        codes=np.concatenate([p.codes for p in parts]),
        first=np.concatenate([p.first for p in parts]),
        last=np.concatenate([p.last for p in parts]),
    )


_PANEL_ROWS = (
    "est_returns",
    "est_market",
    "est_dates",
    "evt_returns",
    "evt_market",
    "evt_dates",
    "evt_span",
    "evt_zero_volume",
    "est_bench_own",
    "est_regressors",
    "evt_regressors",
)
"""The per-firm-event arrays of a :class:`~eventstudy.returns.ReturnPanel`."""
_CHUNK_ROWS = ("estimation_dates", "car_values", "car_var", "overlaps", "estimation_confounders", "pooled")
"""The per-firm-event arrays of a :class:`ChunkEstimates` besides its panel, fit and single-firm p-values."""
_SINGLE_FIRM_NAMES = tuple(f.name for f in fields(SingleFirmArrays))
"""The arrays of :class:`~eventstudy.inference.single_firm.SingleFirmArrays` (placed as ``single_firm.<name>``)."""
_GATHERED_PAIRS = ("aligned_day_zero", "note")
"""The columns :func:`~eventstudy.returns.gather_windows` adds to the firm-events of a panel's ``pairs``."""


class _Placed:
    """The chunks' per-firm-event arrays placed by firm-event row, chunk after chunk.

    Each array of a chunk's results (the panel's, the fit's, the CARs', the two columns the window gather
    adds to the pairs) is copied into an array with one row per firm-event of the engine's table, at the
    chunk's rows; :meth:`result` then moves the estimated rows to the front, in firm-event order. A single
    chunk (whose rows are in order: :func:`estimate` sorts only when there are several) is used as it is,
    without a copy.
    """

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows
        self.rows: list[IntArray] = []
        self.partials: list[TestPartials] = []
        self.excluded: tuple[list[pd.DataFrame], ...] = ([], [], [])
        self.n_windowed = 0
        self.first: ChunkEstimates | None = None  # the first chunk, until a second one comes
        self.arrays: dict[str, np.ndarray] = {}
        self.fixed: dict[str, Any] = {}  # what every chunk has alike: the windows' days, the fit's settings

    def add(self, part: ChunkEstimates) -> None:
        """Take in one chunk's results (placed at once, except the first chunk's until a second one comes)."""
        self.rows.append(part.rows)
        if part.partials is not None:
            self.partials.append(part.partials)
        self.n_windowed += part.n_windowed
        for stage, frame in zip(self.excluded, part.excluded, strict=True):
            stage.append(frame)
        if self.first is None and not self.arrays:
            self.first = part
            self.fixed = {
                "estimation_days": part.panel.estimation_days,
                "event_days": part.panel.event_days,
                "regressor_names": part.panel.regressor_names,
                **{name: a for name, a in vars(part.fit).items() if not isinstance(a, np.ndarray)},
            }
            return
        if self.first is not None:
            first, self.first = self.first, None
            self.arrays = {
                name: np.empty((self.n_rows, *a.shape[1:]), dtype=a.dtype) for name, a in _row_arrays(first).items()
            }
            self._place(first)
        self._place(part)

    def _place(self, part: ChunkEstimates) -> None:
        for name, values in _row_arrays(part).items():
            self.arrays[name][part.rows] = values

    def result(self, labels: pd.DataFrame, kept: IntArray) -> tuple[ReturnPanel, ModelFit, dict[str, np.ndarray]]:
        """The panel, fit and other per-firm-event arrays of the rows ``kept`` (increasing), in that order.

        The panel's ``pairs`` are those rows of the firm-events table ``labels`` (event_id, ticker,
        benchmark, day_zero, with their dtypes as given; the chunks' pairs are row subsets of it) with the
        columns ``aligned_day_zero`` and ``note`` placed like the arrays.
        """
        if self.first is not None:  # a single chunk keeps the firm-events' order: its rows are ``kept``
            values = _row_arrays(self.first)
        else:
            values = {name: _compact(a, kept) for name, a in self.arrays.items()}
        pairs = labels.iloc[kept].reset_index(drop=True).assign(**{n: values.pop(n) for n in _GATHERED_PAIRS})
        panel_rows: dict[str, Any] = {n[len("panel.") :]: a for n, a in values.items() if n.startswith("panel.")}
        fit_rows: dict[str, Any] = {n[len("fit.") :]: a for n, a in values.items() if n.startswith("fit.")}
        days = ("estimation_days", "event_days", "regressor_names")
        panel = ReturnPanel(pairs=pairs, **{n: self.fixed[n] for n in days}, **panel_rows)
        fit = ModelFit(**{n: v for n, v in self.fixed.items() if n not in days}, **fit_rows)
        single_firm = [f"single_firm.{name}" for name in _SINGLE_FIRM_NAMES]
        return panel, fit, {name: values[name] for name in (*_CHUNK_ROWS, *single_firm)}


def _row_arrays(part: ChunkEstimates) -> dict[str, np.ndarray]:
    """Every per-firm-event array of a chunk's results, by name.

    ``panel.<name>``, ``fit.<name>``, ``single_firm.<name>``, the CARs and estimation dates, and the gathered
    columns of the panel's pairs.
    """
    gathered = part.panel.pairs  # a copy on each read
    panel = {f"panel.{n}": a for n in _PANEL_ROWS if (a := getattr(part.panel, n)) is not None}
    fit = {f"fit.{n}": a for n, a in vars(part.fit).items() if isinstance(a, np.ndarray)}
    return {
        **panel,
        **fit,
        **{n: getattr(part, n) for n in _CHUNK_ROWS},
        **{f"single_firm.{n}": getattr(part.single_firm, n) for n in _SINGLE_FIRM_NAMES},
        **{n: gathered[n].to_numpy() for n in _GATHERED_PAIRS},
    }


def _compact(values: np.ndarray, kept: IntArray, block: int = 1 << 16) -> np.ndarray:
    """The rows ``kept`` (increasing) of ``values`` moved to its first rows in place; the view of those rows.

    Row ``kept[i] >= i``, so copying block by block from the front never overwrites a row still to be read.
    """
    if len(kept) and kept[-1] == len(kept) - 1:  # every row up to the last kept: nothing moves
        return values[: len(kept)]
    for start in range(0, len(kept), block):
        rows = kept[start : start + block]
        values[start : start + len(rows)] = values[rows]
    return values[: len(kept)]


def _require_firm_events(n_left: int, exclusions: list[pd.DataFrame], allow_empty: bool) -> None:
    """Raise :class:`DataError` summarising ``exclusions`` when no firm-event is left to estimate (unless allowed)."""
    if n_left or allow_empty:
        return
    excluded = pd.concat([e for e in exclusions if len(e)], ignore_index=True)
    raise DataError(nothing_estimated_message(excluded))


def nothing_estimated_message(excluded: pd.DataFrame) -> str:
    """The message of a study in which every firm-event was excluded: counts by stage and reason.

    Parameters
    ----------
    excluded
        Exclusion rows (columns ``event_id``, ``ticker``, ``stage``, ``reason``).

    Returns
    -------
    str
        One line per (stage, kind of reason) with the number of firm-events and one example; the kind is
        :func:`eventstudy.results.exclusion_kinds` (``"MPNGY: no data (...)"`` and ``"0700.HK: no data
        (...)"`` count together as ``no data``).
    """
    summary = (
        excluded.assign(kind=exclusion_kinds(excluded["reason"]))
        .groupby(["stage", "kind"], sort=False)
        .agg(
            n=("reason", "size"), event_id=("event_id", "first"), ticker=("ticker", "first"), reason=("reason", "first")
        )
        .reset_index()
    )
    lines = [f"nothing could be estimated: all {len(excluded)} firm-events were excluded"]
    lines += [
        f"  {row.stage}, {row.kind}: {row.n} firm-event{'s' if row.n != 1 else ''} "
        f"(e.g. {row.event_id} / {row.ticker}: {row.reason})"
        for row in summary.itertuples(index=False)
    ]
    lines.append(
        "check the price data, widen the estimation window or lower the minimum number of estimation returns "
        "(--min-obs)"
    )
    return "\n".join(lines)


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MEMORY_WARNING_SHARE",
    "Chunk",
    "ChunkEstimates",
    "EngineInput",
    "Estimates",
    "EventWindows",
    "FirmEventContext",
    "as_chunk_size",
    "chunk_bounds",
    "chunk_pairs",
    "estimate",
    "estimate_chunk",
    "event_window_range",
    "gathered_tests",
    "inference_data",
    "model_windows",
    "nothing_estimated_message",
    "physical_memory",
    "ticker_chunk_bounds",
    "ticker_markets",
    "used_date_range",
    "warn_kept_estimation",
    "without_estimation",
]
