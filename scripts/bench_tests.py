#!/usr/bin/env python
"""Benchmark every registered test statistic on the one-firm-per-event design.

The design of earnings-announcement, M&A and CRSP studies (issue 8): N events of one firm each, a market
model on 240 estimation returns, an 11-day event window (-5..5) and the default CAR windows. The test
inputs are built the way ``EventStudy.run`` builds them, without reading prices: a synthetic market of
business days and ``min(N, 10,000)`` stocks following R = alpha + beta R_m + sigma e, one ticker and one
day 0 drawn per event, a :class:`~eventstudy.returns.ReturnPanel` gathered from that matrix, the
registered market model fitted on it (:func:`eventstudy.models.get_model`), CARs with exact variances
(:meth:`~eventstudy.models.ModelFit.cars`) and :func:`eventstudy.study.inference_data`.

For each N the script times, per registered test, ``compute`` for all its scopes on the pooled group
(``"all"``, one group of N rows) and on the per-event groups (N groups of one row), i.e. the work
``run_tests`` does for that test, each test on a fresh copy of the data (no cache shared between tests);
then the Kolari-Pynnönen r̄ table (:func:`~eventstudy.inference.clustered.kp_correlation_table`); then all
the tests and the r̄ table on one data instance, so that the quantities several tests share (ranks, r̄,
GRANK, the CDA scale) are computed once, as in ``run_tests``; and Holm/BH
(:func:`~eventstudy.inference.adjust.add_adjusted_pvalues`) on the resulting tests frame. Each
test runs in a forked child process with a time limit (``--timeout``), so a slow statistic is reported
as ``>limit`` instead of stopping the run.

Usage::

    python scripts/bench_tests.py                          # N = 1,000 / 10,000 / 30,000
    python scripts/bench_tests.py --large                  # also N = 100,000
    python scripts/bench_tests.py --sizes 2000 --tests kp_bmp_t,grank_t
    python scripts/bench_tests.py --sizes 3000 --firms 10 --gaps 0.2 --markets 2 --digest

``--firms``, ``--gaps`` (share of firm-events with missing estimation returns), ``--markets`` (firm-
events split over XNYS and XHKG with their own date grids) and ``--profile`` vary the design;
``--digest`` adds a SHA-256 of every test's output blocks (statistic, p-value, n, df, reason) to the
table and ``--save DIR`` writes them to ``DIR/<N>_<test>.npz``, to check that a change leaves the results
bit-identical (or within rounding). Tables go to stdout (plain text, then markdown).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import multiprocessing
import os
import platform
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import pandas as pd

ESTIMATION = (-250, -11)
EVENT_WINDOW = (-5, 5)
N_DATES = 3000
MAX_TICKERS = 10_000
MARKET = "^GSPC"
SHARED = "all tests + r̄ table, one instance"


def make_data(
    n: int, firms: int, gaps: float, markets: int, seed: int, profile: str = "textbook"
) -> tuple[Any, np.ndarray, tuple[str, ...]]:
    """Synthetic test inputs: the InferenceData, the event code of each row and the event ids."""
    from eventstudy.conventions import get_profile
    from eventstudy.models import estimable, get_model
    from eventstudy.returns import ReturnPanel
    from eventstudy.spec import DEFAULT_CAR_WINDOWS
    from eventstudy.study import inference_data

    rng = np.random.default_rng(seed)
    n_tickers = max(firms, min(n, MAX_TICKERS))
    grids = [np.busday_offset("2005-01-03", np.arange(N_DATES), roll="forward")]
    if markets > 1:  # a second exchange: weekdays shifted by one holiday every 25 days
        other = np.busday_offset("2005-01-03", np.arange(N_DATES + N_DATES // 12), roll="forward")
        grids.append(np.delete(other, np.arange(7, len(other), 25))[:N_DATES])
    market = rng.normal(0.0004, 0.011, N_DATES)
    alpha = rng.normal(0.0, 0.0004, n_tickers)
    beta = rng.uniform(0.4, 1.6, n_tickers)
    sigma = rng.uniform(0.008, 0.03, n_tickers)
    stock = alpha + beta * market[:, None] + sigma * rng.standard_normal((N_DATES, n_tickers))
    exchange = np.where(np.arange(n_tickers) % markets == 0, "XNYS", "XHKG")

    n_events = math.ceil(n / firms)
    tick = np.concatenate([rng.choice(n_tickers, size=firms, replace=False) for _ in range(n_events)])[:n]
    event = np.repeat(np.arange(n_events), firms)[:n]
    est_days = np.arange(ESTIMATION[0], ESTIMATION[1] + 1)
    evt_days = np.arange(EVENT_WINDOW[0], EVENT_WINDOW[1] + 1)
    row0 = rng.integers(-ESTIMATION[0] + 5, N_DATES - EVENT_WINDOW[1] - 5, n_events)[event]
    est_rows = row0[:, None] + est_days
    evt_rows = row0[:, None] + evt_days
    grids_arr = np.stack(grids)
    grid_of = (exchange[tick] == "XHKG").astype(np.int64)[:, None]  # the date grid of each row's exchange
    est_returns = stock[est_rows, tick[:, None]]
    holes = rng.random(n) < gaps
    est_returns[holes, rng.integers(0, len(est_days), int(holes.sum()))] = np.nan
    ids = np.array([f"E{i:07d}" for i in range(n_events)], dtype=object)
    names = np.array([f"S{i:05d}" for i in range(n_tickers)], dtype=object)
    day0 = grids_arr[grid_of[:, 0], row0]
    panel = ReturnPanel(
        pairs=pd.DataFrame(
            {
                "event_id": ids[event],
                "ticker": names[tick],
                "benchmark": MARKET,
                "day_zero": day0,
                "aligned_day_zero": day0,
                "note": "",
            }
        ),
        estimation_days=est_days,
        event_days=evt_days,
        est_returns=est_returns,
        est_market=market[est_rows],
        est_dates=grids_arr[grid_of, est_rows].astype("datetime64[D]"),
        evt_returns=stock[evt_rows, tick[:, None]],
        evt_market=market[evt_rows],
        evt_dates=grids_arr[grid_of, evt_rows].astype("datetime64[ns]"),
        evt_span=np.ones(evt_rows.shape, dtype=np.int64),
        evt_zero_volume=np.zeros(evt_rows.shape, dtype=bool),
        est_bench_own=market[est_rows],
    )
    conventions = get_profile(profile)
    fit = get_model("market").fit(panel, conventions)
    keep = np.flatnonzero(estimable(fit, 100))
    panel, fit = panel.take(keep), fit.take(keep)
    car, car_var = fit.cars(panel.event_days, DEFAULT_CAR_WINDOWS, conventions)
    data = inference_data(panel, fit, car, car_var, DEFAULT_CAR_WINDOWS, conventions, exchange[tick][keep])
    codes, labels = pd.factorize(panel.pairs["event_id"], sort=False)
    return data, codes.astype(np.int64), tuple(labels)


def _digest(blocks: list[Any]) -> str:
    h = hashlib.sha256()
    for block in blocks:
        for field in (block.statistic, block.p_value, block.n, block.df):
            h.update(np.ascontiguousarray(field).tobytes())
        h.update("\x1e".join(map(str, block.reason.ravel())).encode())
    return h.hexdigest()[:16]


def _run_test(name: str, data: Any, codes: np.ndarray, n_groups: int, save: str, out: Connection) -> None:
    """Child process: time one test on the pooled and per-event groups, send back timing, p-values and digest."""
    import dataclasses

    from eventstudy.inference import REGISTRY

    test = REGISTRY[name]
    fresh = dataclasses.replace(data)  # empty cache: no quantity shared with another test
    pooled = np.zeros(len(codes), dtype=np.int64)
    start = time.perf_counter()
    blocks = []
    for scope in test.scopes:
        blocks.append((scope, test.compute(fresh, scope, pooled, 1), test.compute(fresh, scope, codes, n_groups)))
    seconds = time.perf_counter() - start
    digest = _digest([b for _, first, second in blocks for b in (first, second)])
    if save:
        arrays = {
            f"{scope}_{part}_{field}": np.asarray(getattr(block, field)).astype(str if field == "reason" else None)
            for scope, first, second in blocks
            for part, block in (("pooled", first), ("events", second))
            for field in ("statistic", "p_value", "n", "df", "reason")
        }
        savez: Any = np.savez_compressed  # (its stubs take the array keywords for its own options)
        savez(os.path.join(save, f"{len(codes)}_{name}.npz"), **arrays)
    p = [(scope, np.concatenate([first.p_value, second.p_value])) for scope, first, second in blocks]
    out.send((seconds, digest, p))
    out.close()


def _timed_child(target: Any, args: tuple[Any, ...], timeout: float) -> Any:
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, child))
    process.start()
    child.close()
    result = parent.recv() if parent.poll(timeout) else None
    if result is None:
        process.kill()
    process.join()
    return result


def _run_kp_table(data: Any, codes: np.ndarray, labels: tuple[str, ...], out: Connection) -> None:
    import dataclasses

    from eventstudy.inference.clustered import kp_correlation_table

    start = time.perf_counter()
    table = kp_correlation_table(dataclasses.replace(data), codes, labels)
    out.send((time.perf_counter() - start, hashlib.sha256(table.to_csv().encode()).hexdigest()[:16], []))
    out.close()


def _run_all(data: Any, codes: np.ndarray, labels: tuple[str, ...], names: Any, out: Connection) -> None:
    """Child process: every chosen test on one data instance (quantities shared as in ``run_tests``) and the r̄ table."""
    from eventstudy.inference import get_tests
    from eventstudy.inference.clustered import kp_correlation_table

    pooled = np.zeros(len(codes), dtype=np.int64)
    start = time.perf_counter()
    for test in get_tests(names):
        for scope in test.scopes:
            test.compute(data, scope, pooled, 1)
            test.compute(data, scope, codes, len(labels))
    kp_correlation_table(data, codes, labels)
    out.send((time.perf_counter() - start, "", []))
    out.close()


def tests_frame(p_values: dict[str, list[tuple[str, np.ndarray]]], data: Any, labels: tuple[str, ...]) -> pd.DataFrame:
    """The tidy tests frame's key columns and p-values, laid out as ``StudyResult.tests`` does."""
    groups = np.array(("all",) + labels, dtype=object)
    windows = np.array(data.car_windows).reshape(-1, 2)
    frames = []
    for name, blocks in p_values.items():
        for scope, p in blocks:
            g, d = p.shape
            starts = data.rel_days if scope == "day" else windows[:, 0]
            ends = data.rel_days if scope == "day" else windows[:, 1]
            frames.append(
                pd.DataFrame(
                    {
                        "group": np.repeat(groups, d),
                        "scope": scope,
                        "window_start": np.tile(starts, g),
                        "window_end": np.tile(ends, g),
                        "test": name,
                        "p_value": p.ravel(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def bench_size(n: int, args: argparse.Namespace) -> dict[str, tuple[float | None, str]]:
    """Seconds (None when over the limit) and digest per test, plus the KP table and Holm/BH rows."""
    from eventstudy.inference import get_tests
    from eventstudy.inference.adjust import add_adjusted_pvalues

    start = time.perf_counter()
    data, codes, labels = make_data(n, args.firms, args.gaps, args.markets, args.seed, args.profile)
    print(f"# N = {n:,}: inputs built in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    names = tuple(args.tests.split(",")) if args.tests else None
    rows: dict[str, tuple[float | None, str]] = {}
    p_values: dict[str, list[tuple[str, np.ndarray]]] = {}
    for test in get_tests(names):
        result = _timed_child(_run_test, (test.name, data, codes, len(labels), args.save), args.timeout)
        if result is None:
            rows[test.name] = (None, "")
            shape = [(scope, len(labels) + 1) for scope in test.scopes]
            width = {"day": len(data.rel_days), "window": len(data.car_windows)}
            rng = np.random.default_rng(0)  # stand-in p-values of the right shape for the Holm/BH timing
            p_values[test.name] = [(scope, rng.random((g, width[scope]))) for scope, g in shape]
        else:
            rows[test.name] = (result[0], result[1])
            p_values[test.name] = result[2]
        seconds = rows[test.name][0]
        shown = f"{seconds:.2f} s" if seconds is not None else f">{args.timeout:g} s"
        print(f"#   {test.name}: {shown}", file=sys.stderr, flush=True)
    result = _timed_child(_run_kp_table, (data, codes, labels), args.timeout)
    rows["kp_correlation_table"] = (None, "") if result is None else (result[0], result[1])
    result = _timed_child(_run_all, (data, codes, labels, names), args.timeout)
    rows[SHARED] = (None, "") if result is None else (result[0], "")
    frame = tests_frame(p_values, data, labels)
    start = time.perf_counter()
    adjusted = add_adjusted_pvalues(frame, "days")
    rows["holm_bh (family days)"] = (time.perf_counter() - start, _frame_digest(adjusted))
    start = time.perf_counter()
    adjusted = add_adjusted_pvalues(frame, "events")
    rows["holm_bh (family events)"] = (time.perf_counter() - start, _frame_digest(adjusted))
    print(f"#   Holm/BH on a tests frame of {len(frame):,} rows", file=sys.stderr, flush=True)
    return rows


def _frame_digest(frame: pd.DataFrame) -> str:
    values = frame[["p_holm", "p_bh"]].to_numpy()
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,30000", help="comma-separated N (firm-events)")
    parser.add_argument("--large", action="store_true", help="also N = 100,000")
    parser.add_argument("--tests", default="", help="comma-separated test names (default: all registered)")
    parser.add_argument("--firms", type=int, default=1, help="firms per event (default 1)")
    parser.add_argument("--gaps", type=float, default=0.0, help="share of firm-events with a missing estimation day")
    parser.add_argument("--markets", type=int, choices=(1, 2), default=1, help="exchanges (2: XNYS and XHKG)")
    parser.add_argument("--profile", default="textbook", help="conventions profile (textbook, estudy2, ...)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per test before it is stopped")
    parser.add_argument("--digest", action="store_true", help="print a SHA-256 of each test's output")
    parser.add_argument("--save", default="", help="directory to save each test's output arrays in (.npz)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([100_000] if args.large else [])

    results = {n: bench_size(n, args) for n in sizes}
    names = [name for name in next(iter(results.values())) if name != SHARED] + [SHARED]
    header = ["test"] + [f"N={n:,}" for n in sizes] + (["digest"] if args.digest else [])
    table = []
    for name in names:
        cells = [name]
        for n in sizes:
            seconds = results[n][name][0]
            cells.append(f"{seconds:.2f}" if seconds is not None else f">{args.timeout:g}")
        if args.digest:
            cells.append(" ".join(results[n][name][1] or "-" for n in sizes))
        table.append(cells)
    separate = [{k: v for k, v in results[n].items() if k != SHARED} for n in sizes]
    totals = ["sum of the rows above"] + [
        f"{sum(v[0] for v in rows.values() if v[0] is not None):.2f}"
        + ("+" if any(v[0] is None for v in rows.values()) else "")
        for rows in separate
    ]
    table.insert(len(table) - 1, totals + ([""] if args.digest else []))
    load = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}; load average {load[0]:.2f} {load[1]:.2f}; "
        f"design: {args.firms} firm(s) per event, gaps {args.gaps:g}, {args.markets} market(s), profile "
        f"{args.profile}, seed {args.seed}"
    )
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in table:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
