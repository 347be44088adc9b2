"""The simulation engine: :func:`simulate`, its sampling, the per-chunk study run and the worker processes.

Every sample is drawn, shifted by each δ and run through the study engine here; the p-values go to a
:class:`~eventstudy.simulate.results.SimulationResult`.

Design:

- each sample is one *group* of the inference engine, so one ``StatTest.compute`` call per test and
  scope evaluates a whole chunk of samples at once (the per-group half of
  :func:`eventstudy.inference.run_tests`; its pooled ``"all"`` group is skipped because it means
  nothing here and costs O(chunk²) for the pairwise Kolari-Pynnönen correlations);
- estimation and event-window returns are gathered straight from the (dates x tickers) matrix with
  numpy fancy indexing into a :class:`~eventstudy.returns.ReturnPanel`;
- the model is fitted, the estimable firm-events kept and their CARs computed by
  :func:`eventstudy.engine.fit_estimable`, the core the study's chunks run, and the test inputs are built as
  in ``EventStudy.run``, so the simulation measures exactly what ``eventstudy run`` computes;
- sample s is drawn with its own generator, ``SeedSequence(seed).spawn(n_samples)[s]``, and chunks
  of ``chunk_size`` samples are fixed, so results for a given seed do not depend on the number of
  worker processes (and the first m samples of a longer run equal a run with ``n_samples = m``);
- chunks run in spawned worker processes with one BLAS thread each
  (:data:`eventstudy.executors.WORKER_ENVIRONMENT`).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventstudy import _kernels as kn
from eventstudy._typing import BoolArray, FloatArray, IntArray, Window
from eventstudy.conventions import Conventions
from eventstudy.engine import fit_estimable, inference_data
from eventstudy.errors import InputError
from eventstudy.executors import worker_environment
from eventstudy.inference import get_tests
from eventstudy.returns import ReturnPanel, ReturnType
from eventstudy.simulate.panel import WidePanel
from eventstudy.simulate.results import SimulationResult, SimulationSpec
from eventstudy.spec import StudySpec, resolve_conventions
from eventstudy.symbols import exchange_for


@dataclass(frozen=True, eq=False)
class _Sampler:
    """Eligible day-0 rows grouped by ticker: ``rows[offsets[j]:offsets[j] + counts[j]]`` for ticker ``tickers[j]``."""

    tickers: IntArray
    counts: IntArray
    offsets: IntArray
    rows: IntArray

    @classmethod
    def from_mask(cls, mask: BoolArray) -> _Sampler:
        _, row_idx = np.nonzero(mask.T)  # ticker-major order, rows ascending within a ticker
        counts_all = mask.sum(axis=0)
        tickers = np.flatnonzero(counts_all > 0)
        counts = counts_all[tickers].astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return cls(tickers.astype(np.int64), counts, offsets, row_idx.astype(np.int64))

    def draw(self, rng: np.random.Generator, n_events: int) -> tuple[IntArray, IntArray]:
        """``n_events`` distinct tickers, uniformly; then one eligible day-0 row per ticker, uniformly."""
        pick = rng.choice(len(self.tickers), size=n_events, replace=False)
        within = np.floor(rng.random(n_events) * self.counts[pick]).astype(np.int64)
        return self.tickers[pick], self.rows[self.offsets[pick] + within]


@dataclass(frozen=True, eq=False)
class _Context:
    panel: WidePanel
    spec: SimulationSpec
    sampler: _Sampler
    markets: np.ndarray  # exchange of every panel column


@dataclass(frozen=True, eq=False)
class _ChunkOutput:
    samples: IntArray
    p_values: FloatArray  # (D, S, C)
    statistics: FloatArray  # (D, S, C)
    reasons: np.ndarray  # (D, S, C) object
    events_used: IntArray  # (D, S)
    draws: pd.DataFrame


def _cells(study: StudySpec) -> pd.DataFrame:
    """(test, scope, window_start, window_end) of every cell, in the column order of ``run_tests``' blocks."""
    days = np.arange(study.event_window[0], study.event_window[1] + 1)
    rows: list[tuple[str, str, int, int]] = []
    for test in get_tests(study.tests):
        for scope in test.scopes:
            spans = [(int(d), int(d)) for d in days] if scope == "day" else list(study.car_windows)
            rows += [(test.name, scope, a, b) for a, b in spans]
    return pd.DataFrame(rows, columns=["test", "scope", "window_start", "window_end"])


def _return_panel(ctx: _Context, sample_ids: IntArray, tick: IntArray, row0: IntArray) -> ReturnPanel:
    """Gather the windows of the drawn firm-events from the wide matrix (all rows are known to be present)."""
    wide, study = ctx.panel, ctx.spec.study
    est_days = np.arange(study.estimation_window[0], study.estimation_window[1] + 1)
    evt_days = np.arange(study.event_window[0], study.event_window[1] + 1)
    est_rows = row0[:, None] + est_days[None, :]
    evt_rows = row0[:, None] + evt_days[None, :]
    day0 = wide.dates[row0]
    n_events = ctx.spec.n_events
    pairs = pd.DataFrame(
        {
            "event_id": [f"{s}:{j}" for s in sample_ids for j in range(n_events)],
            "ticker": np.asarray(wide.tickers, dtype=object)[tick],
            "benchmark": wide.market_name,
            "day_zero": day0,
            "aligned_day_zero": day0,
            "note": "",
        }
    )
    est_market = wide.market[est_rows]
    return ReturnPanel(
        pairs=pairs,
        estimation_days=est_days,
        event_days=evt_days,
        est_returns=wide.returns[est_rows, tick[:, None]],
        est_market=est_market,
        est_dates=wide.dates[est_rows].astype("datetime64[D]"),
        evt_returns=wide.returns[evt_rows, tick[:, None]],
        evt_market=wide.market[evt_rows],
        evt_dates=wide.dates[evt_rows],
        evt_span=np.ones(evt_rows.shape, dtype=np.int64),
        evt_zero_volume=np.zeros(evt_rows.shape, dtype=bool),
        est_bench_own=est_market,  # one date grid: the benchmark's own returns are the paired ones
    )


def _with_delta(base: ReturnPanel, delta: float, inject: FloatArray, return_type: str) -> ReturnPanel:
    """The panel with δ added to the simple event-window returns on the injection days, in the study's return type.

    Under ``return_type="log"`` every return r becomes ln(1 + r) after the injection, so the injected
    simple return R + δ enters as ln(1 + R + δ).
    """
    evt = base.evt_returns + delta * inject[None, :] if delta else base.evt_returns
    if return_type != "log":
        return dataclasses.replace(base, evt_returns=evt) if delta else base
    est_market = np.log1p(base.est_market)
    return dataclasses.replace(
        base,
        est_returns=np.log1p(base.est_returns),
        est_market=est_market,
        evt_returns=np.log1p(evt),
        evt_market=np.log1p(base.evt_market),
        est_bench_own=est_market,
    )


def _run_chunk(ctx: _Context, sample_ids: IntArray, seeds: Sequence[np.random.SeedSequence]) -> _ChunkOutput:
    """Draw the chunk's samples and run the study on them once per δ."""
    spec, study = ctx.spec, ctx.spec.study
    n_events = spec.n_events
    draws = [ctx.sampler.draw(np.random.default_rng(ss), n_events) for ss in seeds]
    tick = np.concatenate([d[0] for d in draws])
    row0 = np.concatenate([d[1] for d in draws])
    groups = np.repeat(np.arange(len(sample_ids), dtype=np.int64), n_events)
    tests = get_tests(study.tests)
    base = _return_panel(ctx, sample_ids, tick, row0)
    inject = np.isin(base.event_days, spec.inject_days).astype(np.float64)
    markets = ctx.markets[tick]

    n_cells = len(_cells(study))
    shape = (len(spec.deltas), len(sample_ids), n_cells)
    p_values = np.full(shape, np.nan)
    statistics = np.full(shape, np.nan)
    reasons = np.full(shape, "", dtype=object)
    used = np.zeros(shape[:2], dtype=np.int64)
    for d, delta in enumerate(spec.deltas):
        fitted = fit_estimable(_with_delta(base, delta, inject, str(study.return_type)), study)  # as the study's chunks
        panel, fit, keep = fitted.panel, fitted.fit, fitted.kept
        data = inference_data(
            panel, fit, fitted.car_values, fitted.car_var, study.car_windows, study.conventions, markets[keep]
        )
        used[d] = kn.group_count(np.ones(len(keep), dtype=bool), groups[keep], len(sample_ids))
        col = 0
        for test in tests:
            for scope in test.scopes:
                block = test.compute(data, scope, groups[keep], len(sample_ids))
                width = block.p_value.shape[1]
                expected = len(panel.event_days) if scope == "day" else len(study.car_windows)
                if block.p_value.shape != (len(sample_ids), expected):
                    raise RuntimeError(
                        f"test {test.name} ({scope}) returned a block of shape {block.p_value.shape}, "
                        f"expected {(len(sample_ids), expected)}"
                    )
                p_values[d, :, col : col + width] = block.p_value
                statistics[d, :, col : col + width] = block.statistic
                reasons[d, :, col : col + width] = block.reason
                col += width
    frame = pd.DataFrame(
        {
            "sample": np.repeat(sample_ids, n_events),
            "event": np.tile(np.arange(n_events), len(sample_ids)),
            "ticker": np.asarray(ctx.panel.tickers, dtype=object)[tick],
            "day_zero": ctx.panel.dates[row0],
        }
    )
    return _ChunkOutput(np.asarray(sample_ids), p_values, statistics, reasons, used, frame)


_WORKER: _Context | None = None


def _init_worker(ctx: _Context) -> None:
    global _WORKER
    _WORKER = ctx


def _worker_chunk(sample_ids: IntArray, seeds: Sequence[np.random.SeedSequence]) -> _ChunkOutput:
    assert _WORKER is not None
    return _run_chunk(_WORKER, sample_ids, seeds)


def simulate(
    panel: WidePanel | None = None,
    *,
    n_samples: int = 250,
    n_events: int = 50,
    deltas: Sequence[float] = (0.0, 0.005, 0.01, 0.02),
    inject_days: Sequence[int] = (0,),
    estimation_window: Window = (-244, -6),
    event_window: Window = (-5, 5),
    car_windows: Sequence[Window] = ((0, 0), (-1, 1), (-5, 5)),
    model: str = "market",
    conventions: str | Conventions = "textbook",
    knobs: Mapping[str, object] | None = None,
    return_type: ReturnType | None = None,
    tests: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.01, 0.05, 0.10),
    seed: int = 1985,
    workers: int = 2,
    chunk_size: int = 10,
    min_estimation_obs: int = 100,
    progress: bool | None = None,
) -> SimulationResult:
    """Brown-Warner (1985) style placebo study: rejection rates of every test under H0 and with δ added.

    Parameters
    ----------
    panel
        Returns to draw from; default :meth:`WidePanel.from_dir` on the S&P 500 panel (``../shared/docs/DATA.md`` §6.2).
    n_samples, n_events
        R samples of N firm-events each. Within a sample the N tickers are distinct; each ticker's day 0
        is uniform over its rows whose whole estimation and event windows have returns.
    deltas
        Abnormal returns added to the simple returns on ``inject_days`` (R + δ); all δ reuse the same draws.
    inject_days
        Event days that receive δ.
    estimation_window, event_window, car_windows, model, conventions, knobs, tests, min_estimation_obs
        As for :class:`~eventstudy.EventStudy`; ``tests=None`` runs every registered test.
    return_type
        ``"simple"`` or ``"log"``; None takes the conventions' default. δ is always added to the simple
        returns; under ``"log"`` the returns are then transformed to ln(1 + R).
    alphas
        Levels of the two-sided tests.
    seed
        Sample s is drawn with ``default_rng(SeedSequence(seed).spawn(n_samples)[s])``.
    workers
        Worker processes; results are identical for any value.
    chunk_size
        Samples per engine call (fixed, so results do not depend on ``workers``).
    progress
        Progress bar on stderr; default only when stderr is a terminal.

    Returns
    -------
    SimulationResult

    Raises
    ------
    InputError
        Bad settings, or fewer tickers with an eligible day 0 than ``n_events``.

    Notes
    -----
    Monte Carlo SE of a rejection rate p over R samples: sqrt(p (1 - p) / R) (``docs/methods.md`` §7.1).
    Under δ = 0 a well-specified test at level α rejects in α ± 1.96 sqrt(α(1 - α)/R) of the runs 95 % of
    the time; §7.2 gates 250 x 50 placebo draws at [3.5 %, 6.5 %] for α = 5 %.

    References
    ----------
    Brown, S. J. and J. B. Warner (1985), "Using daily stock returns", JFE 14(1), 3-31.
    MacKinlay, A. C. (1997), "Event studies in economics and finance", JEL 35(1), 13-39.
    """
    started = time.perf_counter()
    conv = resolve_conventions(conventions, knobs)
    tests = tuple(t.name for t in get_tests(None if tests is None else tuple(tests)))  # fixed before workers start
    study = StudySpec(
        model=model,
        estimation_window=tuple(estimation_window),  # type: ignore[arg-type]
        event_window=tuple(event_window),  # type: ignore[arg-type]
        car_windows=tuple(tuple(w) for w in car_windows),  # type: ignore[misc]
        return_type=return_type,
        min_estimation_obs=min_estimation_obs,
        conventions=conv,
        tests=tests,
    )
    spec = SimulationSpec(
        study=study,
        n_samples=int(n_samples),
        n_events=int(n_events),
        deltas=tuple(float(d) for d in deltas),
        inject_days=tuple(int(d) for d in inject_days),
        alphas=tuple(float(a) for a in alphas),
        seed=int(seed),
        chunk_size=int(chunk_size),
    )
    _validate(spec, workers)
    if panel is None:
        panel = WidePanel.from_dir()
    mask = panel.eligible(study.estimation_window, study.event_window)
    sampler = _Sampler.from_mask(mask)
    if len(sampler.tickers) < spec.n_events:
        raise InputError(
            f"only {len(sampler.tickers)} tickers have a day 0 with complete estimation {study.estimation_window} and "
            f"event {study.event_window} windows; cannot draw {spec.n_events} distinct tickers per sample",
            parameter="n_events",
            value=spec.n_events,
        )
    markets = np.array([exchange_for(t) or "unknown" for t in panel.tickers], dtype=object)
    ctx = _Context(panel, spec, sampler, markets)
    cells = _cells(study)

    seeds = np.random.SeedSequence(spec.seed).spawn(spec.n_samples)
    chunks = [
        np.arange(s, min(s + spec.chunk_size, spec.n_samples), dtype=np.int64)
        for s in range(0, spec.n_samples, spec.chunk_size)
    ]
    shape = (len(spec.deltas), spec.n_samples, len(cells))
    p_values = np.full(shape, np.nan)
    statistics = np.full(shape, np.nan)
    reasons = np.full(shape, "", dtype=object)
    used = np.zeros(shape[:2], dtype=np.int64)
    draws: list[pd.DataFrame] = []

    def collect(out: _ChunkOutput) -> None:
        p_values[:, out.samples] = out.p_values
        statistics[:, out.samples] = out.statistics
        reasons[:, out.samples] = out.reasons
        used[:, out.samples] = out.events_used
        draws.append(out.draws)

    n_workers = min(int(workers), len(chunks))
    bar = None
    if progress if progress is not None else sys.stderr.isatty():
        from tqdm.auto import tqdm

        bar = tqdm(total=spec.n_samples, desc="simulate", unit="sample", file=sys.stderr, leave=False)
    try:
        if n_workers == 0:
            for chunk in chunks:
                out = _run_chunk(ctx, chunk, [seeds[i] for i in chunk])
                collect(out)
                if bar is not None:
                    bar.update(len(chunk))
        else:
            with worker_environment():  # inherited by the spawned workers at start-up
                pool = ProcessPoolExecutor(
                    max_workers=n_workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(ctx,),
                )
                futures = [pool.submit(_worker_chunk, chunk, [seeds[i] for i in chunk]) for chunk in chunks]
            with pool:
                for future in as_completed(futures):
                    out = future.result()
                    collect(out)
                    if bar is not None:
                        bar.update(len(out.samples))
    finally:
        if bar is not None:
            bar.close()

    info = panel.describe()
    info["eligible (ticker, day 0) pairs"] = f"{len(sampler.rows):,} over {len(sampler.tickers)} tickers"
    draw_frame = pd.concat(draws, ignore_index=True).sort_values(["sample", "event"], ignore_index=True)
    return SimulationResult(
        spec=spec,
        cells=cells,
        p_values=p_values,
        statistics=statistics,
        reasons=reasons,
        events_used=used,
        draws=draw_frame,
        panel_info=info,
        elapsed=time.perf_counter() - started,
        workers=n_workers,
    )


def _validate(spec: SimulationSpec, workers: int) -> None:
    checks: list[tuple[bool, str, str, object]] = [
        (spec.n_samples >= 1, "n_samples", "must be at least 1", spec.n_samples),
        (spec.n_events >= 2, "n_events", "must be at least 2", spec.n_events),
        (
            len(spec.deltas) >= 1 and all(math.isfinite(d) for d in spec.deltas),
            "deltas",
            "need at least one finite value",
            spec.deltas,
        ),
        (len(set(spec.deltas)) == len(spec.deltas), "deltas", "must be distinct", spec.deltas),
        (
            len(spec.alphas) >= 1 and all(0 < a < 1 for a in spec.alphas),
            "alphas",
            "must lie strictly between 0 and 1",
            spec.alphas,
        ),
        (spec.chunk_size >= 1, "chunk_size", "must be at least 1", spec.chunk_size),
        (int(workers) >= 0, "workers", "must be 0 (run in this process) or more", workers),
    ]
    window = spec.study.event_window
    checks.append(
        (
            len(spec.inject_days) >= 1 and all(window[0] <= d <= window[1] for d in spec.inject_days),
            "inject_days",
            f"must lie inside the event window {window}",
            spec.inject_days,
        )
    )
    for ok, parameter, message, value in checks:
        if not ok:
            raise InputError(f"{parameter} {message}, got {value!r}", parameter=parameter, value=value)


__all__ = ["simulate"]
