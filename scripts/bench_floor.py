#!/usr/bin/env python
"""The bare-numpy floor of the one-firm-per-event benchmark: the same study with nothing but numpy and pandas.

Reads the benchmark's ``returns.csv`` (long ``date,ticker,return``) and ``events.csv`` (``event_id,date,tickers,
benchmark``, one ticker per event, dates that are sessions) with :func:`pandas.read_csv` (C parser, ``ticker``
and ``date`` read as categories so each distinct text is converted once), places the returns on a dense
(symbol x session) grid, and, in chunks of firm-events (bounded memory), gathers the estimation [-250, -11]
and event [-5, +5] windows by fancy indexing, fits the market model by closed-form OLS (centred sums), and
computes abnormal returns with the forecast-error variance, CARs over the default windows with their exact
variance, and the three statistics of the peers (cross-sectional t, Patell Z, BMP t) per day and per CAR
window, pooled and per event. It writes the CARs (``cars.npy``, firm-events in events-file order x CAR
windows) and the pooled statistics (``pooled.json``) to ``--out`` for the benchmark's cross-check, and
prints its stage timings as one JSON line.

It is the honest lower bound: it imports nothing of ``eventstudy`` and assumes what the synthetic data
guarantee (every symbol has a return on every session; day 0 is a session) instead of checking it. It does
no exclusion bookkeeping, no audit table and writes no report tables.

Conventions (those of the project's ``textbook`` profile, docs/methods.md): OLS residual variance with the
m - 2 divisor (m = 240 estimation returns); AR variance s² (1 + 1/m + (x - x̄)² / Sxx); CAR variance
s² (L + L²/m + (Σx - L x̄)² / Sxx) over a window of L days; cross-sectional t and BMP t with the n - 1
divisor and Student t(n - 1) p-values; Patell Z = Σ SAR / sqrt(Σ (m-2)/(m-4)) with normal p-values.

Usage::

    python scripts/bench_floor.py DATA_DIR --out DIR [--chunk 65536]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

ESTIMATION = (-250, -11)
EVENT_WINDOW = (-5, 5)
CAR_WINDOWS = ((0, 0), (0, 1), (-1, 1), (0, 5), (-5, 5))
MARKET = "^GSPC"


def read_grid(path: Path) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Returns of every symbol on a dense (symbol x session) grid, the symbols and the sessions."""
    frame = pd.read_csv(path, dtype={"date": "category", "ticker": "category", "return": "float64"})
    dates = pd.to_datetime(frame["date"].cat.categories, format="%Y-%m-%d").to_numpy()
    order = np.argsort(dates)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    day = rank[frame["date"].cat.codes.to_numpy()]
    symbol = frame["ticker"].cat.codes.to_numpy()
    grid = np.full((len(frame["ticker"].cat.categories), len(dates)), np.nan)
    grid[symbol, day] = frame["return"].to_numpy()
    return grid, pd.Index(frame["ticker"].cat.categories), dates[order]


def market_model_chunk(
    y_est: np.ndarray, x_est: np.ndarray, y_evt: np.ndarray, x_evt: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Closed-form OLS per row, ARs, standardized ARs, CARs and standardized CARs of one chunk."""
    m = y_est.shape[1]
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
    sar = ar / np.sqrt(s2[:, None] * (1.0 + 1.0 / m + dx * dx / sxx[:, None]))
    zero = np.zeros((len(ar), 1))
    cum_ar = np.concatenate([zero, np.cumsum(ar, axis=1)], axis=1)
    cum_dx = np.concatenate([zero, np.cumsum(dx, axis=1)], axis=1)
    lo = np.array([a - EVENT_WINDOW[0] for a, _ in CAR_WINDOWS])
    hi = np.array([b - EVENT_WINDOW[0] + 1 for _, b in CAR_WINDOWS])
    length = (hi - lo).astype(np.float64)
    car = cum_ar[:, hi] - cum_ar[:, lo]
    g = cum_dx[:, hi] - cum_dx[:, lo]
    scar = car / np.sqrt(s2[:, None] * (length + length**2 / m + g * g / sxx[:, None]))
    return ar, sar, car, scar


def statistics(raw: np.ndarray, std: np.ndarray, df: float, starts: np.ndarray) -> dict[str, np.ndarray]:
    """Cross-sectional t, Patell Z and BMP t of every column, pooled (``all``) and per event (``event``)."""
    n = len(raw)
    out: dict[str, np.ndarray] = {}
    codes = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    patell_var = np.full((n, 1), df / (df - 2.0))
    for label, reduce, code in (
        ("all", lambda v: v.sum(axis=0, keepdims=True), np.zeros(n, dtype=np.int64)),
        ("event", lambda v: np.add.reduceat(v, starts, axis=0), codes),
    ):
        count = reduce(np.ones((n, 1)))
        for name, values in (("cross_sectional_t", raw), ("bmp_t", std)):
            mean = reduce(values) / count
            dev = values - mean[code]
            with np.errstate(divide="ignore", invalid="ignore"):
                t = mean / (np.sqrt(reduce(dev * dev) / (count - 1)) / np.sqrt(count))
                out[f"{name}/{label}"] = t
                out[f"{name}/{label}/p"] = 2.0 * special.stdtr(count - 1, -np.abs(t))
        z = reduce(std) / np.sqrt(reduce(patell_var))
        out[f"patell_z/{label}"] = z
        out[f"patell_z/{label}/p"] = 2.0 * special.ndtr(-np.abs(z))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the floor on DATA_DIR; print the stage timings as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="benchmark data folder (returns.csv, events.csv)")
    parser.add_argument("--out", type=Path, required=True, help="folder for cars.npy and pooled.json")
    parser.add_argument("--chunk", type=int, default=65_536, help="firm-events per chunk")
    args = parser.parse_args(argv)
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = times.get(name, 0.0) + now - clock
        clock = now

    grid, symbols, sessions = read_grid(args.data / "returns.csv")
    events = pd.read_csv(args.data / "events.csv", dtype=str)
    lap("read")
    firm = symbols.get_indexer(pd.Index(events["tickers"]))
    market = symbols.get_indexer(pd.Index(events["benchmark"]))
    day0 = np.searchsorted(sessions, pd.to_datetime(events["date"], format="%Y-%m-%d").to_numpy())
    est_offsets = np.arange(ESTIMATION[0], ESTIMATION[1] + 1)
    evt_offsets = np.arange(EVENT_WINDOW[0], EVENT_WINDOW[1] + 1)
    ids = events["event_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    lap("align")

    n = len(events)
    parts: list[tuple[np.ndarray, ...]] = []
    for lo in range(0, n, args.chunk):
        rows = slice(lo, min(lo + args.chunk, n))
        est = day0[rows, None] + est_offsets
        evt = day0[rows, None] + evt_offsets
        f, b = firm[rows, None], market[rows, None]
        arrays = grid[f, est], grid[b, est], grid[f, evt], grid[b, evt]
        lap("gather")
        parts.append(market_model_chunk(*arrays))
        lap("compute")
    ar, sar, car, scar = (np.concatenate(p) for p in zip(*parts, strict=True))
    df = float(len(est_offsets) - 2)
    stats = {f"day/{k}": v for k, v in statistics(ar, sar, df, starts).items()}
    stats.update({f"window/{k}": v for k, v in statistics(car, scar, df, starts).items()})
    car_p = 2.0 * special.stdtr(df, -np.abs(scar))
    lap("compute")
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "cars.npy", car)
    pooled = {key: stats[key][0].tolist() for key in stats if "/all" in key}
    pooled["days"] = evt_offsets.tolist()
    pooled["windows"] = [list(w) for w in CAR_WINDOWS]
    (args.out / "pooled.json").write_text(json.dumps(pooled))
    lap("write")
    finite = bool(np.isfinite(car).all() and np.isfinite(car_p).all())
    print(json.dumps({"times": times, "n": n, "finite": finite, "compute_of": ["fit", "ar", "car", "tests"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
