#!/usr/bin/env python
"""Benchmark the event-study engine on synthetic firm-events.

For each size N (firm-events) the script builds, in a fresh subprocess, a synthetic market on real XNYS
sessions: one market return series (``^GSPC``) and ``--tickers`` stocks that follow a market model with
random alpha, beta and sigma, held in memory as a long ``date, ticker, return`` DataFrame. It draws N/10
date-only events of 10 distinct tickers each (event dates are sessions, so day 0 is the event date) and
runs the default study through the public API::

    EventStudy(events_from_frame(frame), ReturnsFrame(returns), estimation_window=(-250, -11),
               event_window=(-10, 10)).run()

i.e. a market model on 240 estimation returns, ARs over 21 event days, CARs over the five default windows
with exact variances, and the cross-sectional t, Patell Z and BMP t per day and per CAR window, per event
and pooled. It then reads the ``car`` and ``tests`` frames.

Reported per N:

- ``run()`` wall time: the first run in the fresh process (cold memory) and the best of ``--repeat``,
  and the time to build the ``car`` and ``tests`` frames;
- a phase breakdown of ``run()`` itself: its steps (pairs, calendar day 0, price loading, day 0 on the
  rows, return panel, model fit, CARs, tests) are wrapped with timers while it runs, so nothing is
  re-implemented here; the rest is exclusion bookkeeping and building the result;
- the engine's compute part (model fit + CARs + tests, from that breakdown) against a floor: the same
  arithmetic written with bare numpy on pre-gathered complete (N x 240) and (N x 21) arrays;
- peak memory: the process's peak resident set size (``getrusage``; the input data are part of it) with
  the resident size just before ``run()``, and the ``tracemalloc`` peak of the Python/numpy allocations
  made by ``run()``;
- a per-event statsmodels OLS loop, timed on at most ``--sm-events`` firm-events and extrapolated
  linearly to larger N (marked ``~``).

Usage::

    python scripts/bench.py                      # N = 1,000 / 10,000 / 100,000
    python scripts/bench.py --sizes 1000,20000
    python scripts/bench.py --quick              # small sizes, a smoke test (well under 30 s)
    python scripts/bench.py --profile            # also cProfile run() at the largest N (to stderr)

Progress goes to stderr when it is a terminal; the results table is printed to stdout, followed by the
same table as markdown. Wall times depend on what else runs on the machine: the notes give the load
average and the CPU time split of the first run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

MARKET = "^GSPC"
ESTIMATION = (-250, -11)
EVENT_WINDOW = (-10, 10)
TICKERS_PER_EVENT = 10
N_DATES = 3000
FIRST_SESSION = "2009-01-02"
TESTS = ("cross_sectional_t", "patell_z", "bmp_t")
TARGET_SECONDS = 5.0
TARGET_RSS_MB = 2048.0
TARGET_RATIO = 3.0

PHASES = (
    ("pairs", "pairs(): one row per (event, ticker)"),
    ("calendar", "calendar_day_zero() (without its own pairs() call)"),
    ("load", "load_prices()"),
    ("resolve", "resolve_day_zero() on the observed rows"),
    ("panel", "build_panel(): aligned return arrays"),
    ("fit", "market model fit (OLS, AR, leverage)"),
    ("cars", "CARs and exact variances"),
    ("tests", "run_tests(): 3 tests x (day, window) x groups"),
)


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- data


def make_data(n_firm_events: int, n_tickers: int, seed: int) -> tuple[Any, Any]:
    """Synthetic long returns frame and events frame.

    Returns
    -------
    returns : DataFrame
        ``date, ticker, return`` for ``n_tickers`` stocks and the market ``^GSPC`` on ``N_DATES`` XNYS
        sessions; stock returns follow R = alpha + beta R_m + sigma e.
    events : DataFrame
        ``event_id, date, tickers, benchmark``: ceil(N / 10) date-only events on sessions, each with 10
        distinct tickers (the last one may have fewer), benchmark ``^GSPC``.
    """
    import warnings

    import exchange_calendars as xcals
    import pandas as pd

    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        calendar = xcals.get_calendar("XNYS", start=FIRST_SESSION, end="2022-12-30")
    sessions = pd.DatetimeIndex(calendar.sessions[:N_DATES]).as_unit("ns")
    n_dates = len(sessions)
    market = rng.normal(0.0004, 0.011, n_dates)
    alpha = rng.normal(0.0, 0.0004, n_tickers)
    beta = rng.uniform(0.4, 1.6, n_tickers)
    sigma = rng.uniform(0.008, 0.03, n_tickers)
    stock = (
        alpha[:, None] + beta[:, None] * market[None, :] + sigma[:, None] * rng.standard_normal((n_tickers, n_dates))
    )
    names = np.array([f"S{i:05d}" for i in range(n_tickers)], dtype=object)
    returns = pd.DataFrame(
        {
            "date": np.concatenate([np.tile(sessions.values, n_tickers), sessions.values]),
            "ticker": np.concatenate([np.repeat(names, n_dates), np.full(n_dates, MARKET, dtype=object)]),
            "return": np.concatenate([stock.ravel(), market]),
        }
    )
    del stock

    n_events = math.ceil(n_firm_events / TICKERS_PER_EVENT)
    rounds = math.ceil(n_events * TICKERS_PER_EVENT / n_tickers)
    # Consecutive blocks of 10 within a permutation are distinct tickers (n_tickers is a multiple of 10).
    draws = np.concatenate([rng.permutation(n_tickers) for _ in range(rounds)])[: n_events * TICKERS_PER_EVENT]
    draws = draws.reshape(n_events, TICKERS_PER_EVENT)
    lead, lag = -ESTIMATION[0] + 5, EVENT_WINDOW[1] + 5
    day = rng.integers(lead, n_dates - lag, n_events)
    sizes = np.full(n_events, TICKERS_PER_EVENT)
    sizes[-1] = n_firm_events - TICKERS_PER_EVENT * (n_events - 1)
    events = pd.DataFrame(
        {
            "event_id": [f"E{i:06d}" for i in range(n_events)],
            "date": sessions[day].strftime("%Y-%m-%d"),
            "tickers": [";".join(names[row[:k]]) for row, k in zip(draws, sizes, strict=False)],
            "benchmark": MARKET,
        }
    )
    return returns, events


# -------------------------------------------------------------------------------------------- floor


def floor_compute(
    y_est: np.ndarray,
    x_est: np.ndarray,
    y_evt: np.ndarray,
    x_evt: np.ndarray,
    starts: np.ndarray,
    car_cols: list[tuple[int, int]],
) -> dict[str, np.ndarray]:
    """Bare numpy market model, AR, CAR (exact variance) and the three tests, on complete data.

    ``starts`` are the first rows of each event group (rows sorted by group). Returns the statistics and
    p-values so nothing is optimised away.
    """
    from scipy import special

    n, m = y_est.shape
    x_mean = x_est.mean(axis=1)
    y_mean = y_est.mean(axis=1)
    xc = x_est - x_mean[:, None]
    yc = y_est - y_mean[:, None]
    sxx = np.einsum("ij,ij->i", xc, xc)
    beta = np.einsum("ij,ij->i", xc, yc) / sxx
    alpha = y_mean - beta * x_mean
    resid = yc - beta[:, None] * xc
    s2 = np.einsum("ij,ij->i", resid, resid) / (m - 2)
    ar = y_evt - alpha[:, None] - beta[:, None] * x_evt
    dx = x_evt - x_mean[:, None]
    ar_var = s2[:, None] * (1.0 + 1.0 / m + dx * dx / sxx[:, None])
    sar = ar / np.sqrt(ar_var)
    zero = np.zeros((n, 1))
    cum_ar = np.concatenate([zero, np.cumsum(ar, axis=1)], axis=1)
    cum_dx = np.concatenate([zero, np.cumsum(dx, axis=1)], axis=1)
    lo = np.array([c[0] for c in car_cols])
    hi = np.array([c[1] + 1 for c in car_cols])
    length = (hi - lo).astype(np.float64)
    car = cum_ar[:, hi] - cum_ar[:, lo]
    g = cum_dx[:, hi] - cum_dx[:, lo]
    car_var = s2[:, None] * (length + length**2 / m + g * g / sxx[:, None])
    scar = car / np.sqrt(car_var)
    df = np.full(n, m - 2.0)
    patell_var = df / (df - 2.0)

    out: dict[str, np.ndarray] = {}
    for scope, raw, std in (("day", ar, sar), ("window", car, scar)):
        for label, reduce in (
            ("all", lambda v: v.sum(axis=0, keepdims=True)),
            ("group", lambda v: np.add.reduceat(v, starts, axis=0)),
        ):
            count = reduce(np.ones((n, 1)))
            codes = (
                np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n])) if label == "group" else np.zeros(n, int)
            )
            for name, values in (("cross_sectional_t", raw), ("bmp_t", std)):
                mean = reduce(values) / count
                dev = values - mean[codes]
                sd = np.sqrt(reduce(dev * dev) / (count - 1))
                t = mean / (sd / np.sqrt(count))
                out[f"{name}/{scope}/{label}"] = t
                out[f"{name}/{scope}/{label}/p"] = 2.0 * special.stdtr(count - 1, -np.abs(t))
            z = reduce(std) / np.sqrt(reduce(patell_var[:, None]))
            out[f"patell_z/{scope}/{label}"] = z
            out[f"patell_z/{scope}/{label}/p"] = 2.0 * special.ndtr(-np.abs(z))
    out["car_t"] = scar
    out["car_p"] = 2.0 * special.stdtr(df[:, None], -np.abs(scar))
    return out


# -------------------------------------------------------------------------------------- statsmodels


def statsmodels_loop(
    y_est: np.ndarray, x_est: np.ndarray, y_evt: np.ndarray, x_evt: np.ndarray, car_cols: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-event statsmodels OLS: fit, AR with forecast-error variance, CARs with exact variance.

    The cross-event statistics are then a few vectorised lines; the loop is what costs.
    """
    import statsmodels.api as sm

    n = len(y_est)
    ar = np.empty(y_evt.shape)
    sar = np.empty(y_evt.shape)
    scar = np.empty((n, len(car_cols)))
    for i in range(n):
        res = sm.OLS(y_est[i], sm.add_constant(x_est[i])).fit()
        design = sm.add_constant(x_evt[i], has_constant="add")
        pred = res.get_prediction(design)
        ar[i] = y_evt[i] - pred.predicted_mean
        sar[i] = ar[i] / np.sqrt(pred.se_mean**2 + res.scale)
        cov = res.cov_params()
        for c, (a, b) in enumerate(car_cols):
            g = design[a : b + 1].sum(axis=0)
            scar[i, c] = ar[i, a : b + 1].sum() / np.sqrt(res.scale * (b + 1 - a) + g @ cov @ g)
    return ar, sar, scar


# ------------------------------------------------------------------------------------------- worker


def _rss_now_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5), so later peaks belong to ``run()``."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, value = math.inf, None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


class PhaseClock:
    """Exclusive wall time of named steps: time spent in a nested timed step is not counted twice."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[float] = []

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``fn`` so that its wall time is added to phase ``name``."""
        clock = self

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            clock._stack.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                child = clock._stack.pop()
                clock.times[name] = clock.times.get(name, 0.0) + elapsed - child
                clock.calls[name] = clock.calls.get(name, 0) + 1
                if clock._stack:
                    clock._stack[-1] += elapsed

        return timed


@contextlib.contextmanager
def phase_clock() -> Iterator[PhaseClock]:
    """Time the steps ``EventStudy.run()`` chains by wrapping them for the duration of the block.

    Nothing is re-implemented here: ``run()`` itself is timed, with its step functions (the public
    steps of ``EventStudy``, and the functions ``eventstudy.study`` calls) temporarily wrapped. A step
    that the package no longer has is skipped.
    """
    import eventstudy.study as study_module
    from eventstudy.models import get_model

    clock = PhaseClock()
    targets: list[tuple[str, Any, str]] = [
        ("pairs", study_module.EventStudy, "pairs"),
        ("calendar", study_module.EventStudy, "calendar_day_zero"),
        ("load", study_module.EventStudy, "load_prices"),
        ("resolve", study_module, "resolve_day_zero"),
        ("panel", study_module, "build_panel"),
        ("fit", type(get_model("market")), "fit"),
        ("cars", study_module.EventStudy, "_cars"),
        ("tests", study_module, "run_tests"),
    ]
    undo: list[tuple[Any, str, Any]] = []
    try:
        for name, owner, attr in targets:
            if not hasattr(owner, attr):
                continue
            own = vars(owner).get(attr, _MISSING)
            setattr(owner, attr, clock.wrap(name, getattr(owner, attr)))
            undo.append((owner, attr, own))
        yield clock
    finally:
        for owner, attr, own in reversed(undo):
            if own is _MISSING:
                delattr(owner, attr)
            else:
                setattr(owner, attr, own)


_MISSING = object()
COMPUTE_PHASES = ("fit", "cars", "tests")


def worker(n: int, n_tickers: int, seed: int, repeat: int, sm_events: int, profile: bool) -> dict[str, Any]:
    """Measure one size in this process; returns the numbers as a dict (printed as JSON)."""
    out: dict[str, Any] = {"n": n, "tickers": n_tickers}
    start = time.perf_counter()
    import eventstudy as es
    from eventstudy.spec import DEFAULT_CAR_WINDOWS

    returns, events_frame = make_data(n, n_tickers, seed)
    out["setup_s"] = time.perf_counter() - start
    out["source_s"], source = _best(lambda: es.ReturnsFrame(returns, description="synthetic returns"), 1)
    out["events_s"], events = _best(lambda: es.events_from_frame(events_frame), 1)

    def study(subset: Any = None) -> Any:
        return es.EventStudy(
            events if subset is None else subset,
            source,
            estimation_window=ESTIMATION,
            event_window=EVENT_WINDOW,
            car_windows=DEFAULT_CAR_WINDOWS,
            tests=TESTS,
            progress=False,
        )

    # Warm-up on one event: imports and the XNYS calendar are built once per process.
    start = time.perf_counter()
    study(events[:1]).run()
    out["warmup_s"] = time.perf_counter() - start

    runs: list[tuple[float, dict[str, float]]] = []
    result = None
    for i in range(repeat):
        gc.collect()
        if i == 0:
            out["rss_before_mb"] = _rss_now_mb()
            out["rss_peak_reset"] = _reset_peak_rss()
            out["loadavg_before"] = os.getloadavg()[0]
            usage = resource.getrusage(resource.RUSAGE_SELF)
        with phase_clock() as clock:
            start = time.perf_counter()
            done = study().run()
            elapsed = time.perf_counter() - start
        runs.append((elapsed, dict(clock.times)))
        out["phase_calls"] = dict(clock.calls)
        if i == 0:
            after = resource.getrusage(resource.RUSAGE_SELF)
            out["run_first_s"] = elapsed
            out["run_first_user_s"] = after.ru_utime - usage.ru_utime
            out["run_first_sys_s"] = after.ru_stime - usage.ru_stime
            out["rss_peak_run_mb"] = _peak_rss_mb()
            result = done
            out["frames_car_s"], car = _best(lambda r=done: r.car, 1)
            out["frames_tests_s"], tests = _best(lambda r=done: r.tests, 1)
            out["car_rows"], out["tests_rows"] = len(car), len(tests)
            del car, tests
            out["rss_peak_mb"] = _peak_rss_mb()
        del done
    assert result is not None
    out["run_s"] = min(r[0] for r in runs)
    out["phases"] = {name: min(r[1].get(name, math.nan) for r in runs) for name, _ in PHASES}
    out["compute_s"] = min(sum(r[1].get(name, math.nan) for name in COMPUTE_PHASES) for r in runs)
    out["rest_s"] = min(r[0] - sum(r[1].values()) for r in runs)
    out["n_estimated"] = int(result.n_firm_events)
    out["n_exclusions"] = len(result.exclusions)

    panel = result.panel
    arrays = [
        np.ascontiguousarray(a) for a in (panel.est_returns, panel.est_market, panel.evt_returns, panel.evt_market)
    ]
    assert all(np.isfinite(a).all() for a in arrays), "the floor assumes complete synthetic data"
    codes = panel.pairs["event_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    rel = panel.event_days
    car_cols = [(int(np.searchsorted(rel, a)), int(np.searchsorted(rel, b))) for a, b in DEFAULT_CAR_WINDOWS]
    out["floor_s"], floor = _best(lambda a=arrays: floor_compute(*a, starts, car_cols), max(repeat, 3))
    # Cross-check: the floor's pooled day-0 BMP t equals the engine's.
    engine_bmp = result.tests.query("group == 'all' and scope == 'day' and test == 'bmp_t' and window_start == 0")
    out["floor_check"] = float(
        abs(floor["bmp_t/day/all"][0, int(np.searchsorted(rel, 0))] - engine_bmp["statistic"].iloc[0])
    )
    del floor

    if sm_events:
        k = min(sm_events, n)
        sm_arrays = [a[:k] for a in arrays]
        statsmodels_loop(*[a[:2] for a in sm_arrays], car_cols)  # import and warm-up
        out["sm_events"] = k
        out["sm_s"], _ = _best(lambda: statsmodels_loop(*sm_arrays, car_cols), 1)
    del arrays, panel, result

    gc.collect()
    tracemalloc.start()
    study().run()
    out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        done = study().run()
        _ = done.car, done.tests
        profiler.disable()
        print(f"\n== cProfile of run() + car + tests frames, N = {n:,} ==", file=sys.stderr)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    return out


# ------------------------------------------------------------------------------------------- driver


def _fmt_s(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    if value < 0.1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    if markdown:
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    lines = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths, strict=False)))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False)))
        for r in rows
    ]
    return "\n".join(lines)


def render(results: list[dict[str, Any]], markdown: bool) -> str:
    """Main table, phase table, targets and notes, as plain text or markdown."""
    sm_rate = next((r["sm_s"] / r["sm_events"] for r in results if r.get("sm_events")), None)
    sm_n = next((r["sm_events"] for r in results if r.get("sm_events")), 0)
    header = [
        "N firm-events",
        "run() best",
        "run() first",
        "car+tests frames",
        "total",
        "µs / firm-event",
        "engine compute",
        "numpy floor",
        "compute / floor",
        "statsmodels loop*",
        "peak RSS",
        "RSS before run",
        "tracemalloc peak",
    ]
    rows = []
    for r in results:
        total = r["run_s"] + r["frames_car_s"] + r["frames_tests_s"]
        if sm_rate is None:
            sm = "-"
        elif r["n"] == sm_n:
            sm = _fmt_s(r["sm_s"])
        else:
            sm = "~" + _fmt_s(sm_rate * r["n"])
        rows.append(
            [
                f"{r['n']:,}",
                _fmt_s(r["run_s"]),
                _fmt_s(r["run_first_s"]),
                _fmt_s(r["frames_car_s"] + r["frames_tests_s"]),
                _fmt_s(total),
                f"{total / r['n'] * 1e6:.0f}",
                _fmt_s(r["compute_s"]),
                _fmt_s(r["floor_s"]),
                f"{r['compute_s'] / r['floor_s']:.1f}x",
                sm,
                f"{r['rss_peak_mb']:.0f} MB",
                f"{r['rss_before_mb']:.0f} MB",
                f"{r['tracemalloc_peak_mb']:.0f} MB",
            ]
        )
    parts = [_table(header, rows, markdown)]

    phase_header = ["phase of run()"] + [f"N={r['n']:,}" for r in results]
    phase_rows = []
    for key, label in PHASES:
        calls = max(r.get("phase_calls", {}).get(key, 0) for r in results)
        label = f"{label} x{calls}" if calls > 1 else label
        cells = []
        for r in results:
            value = r["phases"].get(key, math.nan)
            cells.append(f"{_fmt_s(value)} ({value / r['run_s']:.0%})" if math.isfinite(value) else "-")
        phase_rows.append([label] + cells)
    phase_rows.append(
        ["rest of run() (exclusions, audit table, result)"]
        + [f"{_fmt_s(max(r['rest_s'], 0.0))} ({max(r['rest_s'], 0.0) / r['run_s']:.0%})" for r in results]
    )
    phase_rows.append(["car frame"] + [_fmt_s(r["frames_car_s"]) for r in results])
    phase_rows.append(["tests frame"] + [_fmt_s(r["frames_tests_s"]) for r in results])
    parts.append(_table(phase_header, phase_rows, markdown))

    big = results[-1]
    big_frames = big["frames_car_s"] + big["frames_tests_s"]
    big_total = big["run_s"] + big_frames
    big_cold = big["run_first_s"] + big_frames
    target_rows = [
        [
            f"N={big['n']:,} in < {TARGET_SECONDS:.0f} s (run + frames), best run",
            _fmt_s(big_total),
            "met" if big_total < TARGET_SECONDS else "MISSED",
        ],
        [
            f"N={big['n']:,} in < {TARGET_SECONDS:.0f} s (run + frames), first run in a fresh process",
            _fmt_s(big_cold),
            "met" if big_cold < TARGET_SECONDS else "MISSED",
        ],
        [
            f"N={big['n']:,} in < 2 GB (peak RSS, input data included)",
            f"{big['rss_peak_mb']:.0f} MB",
            "met" if big["rss_peak_mb"] < TARGET_RSS_MB else "MISSED",
        ],
        [
            f"engine compute within {TARGET_RATIO:.0f}x of the numpy floor (worst N)",
            f"{max(r['compute_s'] / r['floor_s'] for r in results):.1f}x",
            "met" if all(r["compute_s"] / r["floor_s"] <= TARGET_RATIO for r in results) else "MISSED",
        ],
    ]
    if len(results) > 1:
        # Marginal cost per added firm-event between consecutive sizes: constant when the time is linear
        # (the fixed per-ticker cost cancels out).
        totals = [r["run_s"] + r["frames_car_s"] + r["frames_tests_s"] for r in results]
        marginal = [
            (totals[i + 1] - totals[i]) / (results[i + 1]["n"] - results[i]["n"]) * 1e6 for i in range(len(results) - 1)
        ]
        if min(marginal) <= 0:
            verdict = "n/a (sizes too close: timing noise dominates)"
        else:
            spread = max(marginal) / min(marginal)
            verdict = "met" if spread <= 1.5 else f"MISSED ({spread:.1f}x rise)"
        target_rows.append(
            [
                "linear in N (marginal µs per added firm-event between sizes)",
                " / ".join(f"{m:.0f}" for m in marginal),
                verdict,
            ]
        )
    parts.append(_table(["target", "measured", "status"], target_rows, markdown))

    notes = [
        f"Synthetic data: {results[0]['tickers']:,} tickers + {MARKET} on {N_DATES:,} XNYS sessions from "
        f"{FIRST_SESSION}; N/10 date-only events of {TICKERS_PER_EVENT} tickers; estimation {list(ESTIMATION)} "
        f"(240 returns), event window {list(EVENT_WINDOW)} (21 days), 5 CAR windows, 3 tests per day and window, "
        "per event and pooled.",
        "run() best = best of the repeats, first = the first full run in the process (cold memory), both after a "
        "one-event warm-up (imports, XNYS calendar); peak RSS is the "
        "process peak up to the end of the frames (the input DataFrame and ReturnsFrame are part of it; "
        "'RSS before run' is their share); tracemalloc peak covers the allocations of one run().",
        "engine compute = model fit + CARs + tests on the return panel; numpy floor = the same arithmetic on "
        "complete pre-gathered arrays (no missing-data handling).",
    ]
    if sm_rate is not None:
        notes.append(
            f"(*) statsmodels loop: per-event OLS fit, get_prediction and CAR variances on the same pre-gathered "
            f"arrays (no per-event pandas work), timed on {sm_n:,} firm-events; '~' values are extrapolated linearly."
        )
    notes.append(
        "first run() CPU (user / sys): "
        + "; ".join(f"N={r['n']:,}: {r['run_first_user_s']:.2f} / {r['run_first_sys_s']:.2f} s" for r in results)
        + " (sys is mostly first-touch page faults of fresh arrays); 1-min load average before the runs: "
        + ", ".join(f"{r['loadavg_before']:.1f}" for r in results)
        + " (other processes share the 2 cores)."
    )
    checks = [r["floor_check"] for r in results]
    notes.append(f"floor vs engine, pooled day-0 BMP t: max |difference| {max(checks):.1e}.")
    notes.append(
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {results[0].get('pandas', '?')}."
    )
    if markdown:
        parts.append("\n".join(f"- {n}" for n in notes))
    else:
        parts.append("\n".join(f"* {n}" for n in notes))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated N (firm-events)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--tickers", type=int, default=None, help="stocks in the synthetic universe (default 1000)")
    parser.add_argument("--repeat", type=int, default=None, help="repeats of run() per N, best reported (default 3)")
    parser.add_argument(
        "--sm-events", type=int, default=None, help="firm-events for the statsmodels loop (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--profile", action="store_true", help="cProfile run() at the largest N, to stderr")
    parser.add_argument("--json", metavar="PATH", help="also write the raw numbers as JSON")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.quick:
        sizes = [1000, 5000]
        tickers = args.tickers or 200
        sm_events = 100 if args.sm_events is None else args.sm_events
    else:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
        tickers = args.tickers or 1000
        sm_events = 1000 if args.sm_events is None else args.sm_events
    if tickers % TICKERS_PER_EVENT or tickers < TICKERS_PER_EVENT:
        parser.error(f"--tickers must be a positive multiple of {TICKERS_PER_EVENT}")
    if any(n < TICKERS_PER_EVENT for n in sizes):
        parser.error(f"sizes must be at least {TICKERS_PER_EVENT}")

    if args.worker is not None:
        repeat = args.repeat or 3
        import pandas as pd

        result = worker(args.worker, tickers, args.seed, repeat, args.sm_events or 0, args.profile)
        result["pandas"] = pd.__version__
        print(json.dumps(result))
        return 0

    results = []
    sm_done = False
    for i, n in enumerate(sorted(sizes)):
        _progress(f"bench: N = {n:,} ...")
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            str(n),
            "--tickers",
            str(tickers),
            "--seed",
            str(args.seed),
        ]
        if args.repeat:
            command += ["--repeat", str(args.repeat)]
        if not sm_done and sm_events:
            command += ["--sm-events", str(sm_events)]
            sm_done = True
        if args.profile and i == len(sizes) - 1:
            command.append("--profile")
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
        if done.returncode:
            print(f"bench: worker for N = {n:,} failed (exit {done.returncode})", file=sys.stderr)
            return 1
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = results[-1]
        _progress(
            f"bench: N = {n:,}: run() {_fmt_s(r['run_s'])}, compute {_fmt_s(r['compute_s'])}, "
            f"floor {_fmt_s(r['floor_s'])}"
        )

    print("Event-study benchmark (market model, AR, CAR, cross-sectional t, Patell Z, BMP t)\n")
    print(render(results, markdown=False))
    print("\n--- markdown ---\n")
    print(render(results, markdown=True))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
