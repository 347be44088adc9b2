#!/usr/bin/env python
"""Time the single-firm SQ and permutation p-values on the one-firm-per-event design (docs/benchmark.md).

The engine computes them per chunk from the chunk's estimation residuals
(:func:`eventstudy.inference.single_firm.single_firm_pvalues`); this script calls that function on arrays
of the engine's shapes without reading prices: N firm-events, M = 240 estimation residuals (Student t with 4
df, 2 % of them missing), the default event window [-10, +10] (W = 21 ARs) and the default CAR windows
(:data:`eventstudy.spec.DEFAULT_CAR_WINDOWS`: L = 1, 2, 3, 6, 11), in chunks of the engine's default size.
With M = 240 the windows of L = 1 are enumerated exactly and the others drawn (B = ``--draws``).

Usage::

    python scripts/bench_single_firm.py                      # N = 30,000, B = 1000
    python scripts/bench_single_firm.py --sizes 1000,5000,30000 --draws 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from eventstudy.engine import DEFAULT_CHUNK_SIZE
from eventstudy.inference.base import firm_event_keys
from eventstudy.inference.single_firm import DEFAULT_DRAWS, single_firm_pvalues
from eventstudy.spec import DEFAULT_CAR_WINDOWS

EVENT_DAYS = np.arange(-10, 11)


def arrays(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residuals (n, 240) with 2 % missing, ARs (n, 21), the CARs of the default windows and the keys."""
    rng = np.random.default_rng(seed)
    residuals = rng.standard_t(4, size=(n, 240)) * 0.02
    residuals[rng.random(residuals.shape) < 0.02] = np.nan
    abnormal = rng.standard_t(4, size=(n, len(EVENT_DAYS))) * 0.02
    days = EVENT_DAYS
    car = np.stack([abnormal[:, (days >= a) & (days <= b)].sum(axis=1) for a, b in DEFAULT_CAR_WINDOWS], axis=1)
    keys = firm_event_keys([f"e{i}" for i in range(n)], [f"T{i % 5000}" for i in range(n)])
    return residuals, abnormal, car, keys


def timed(n: int, tests: tuple[str, ...], draws: int) -> float:
    residuals, abnormal, car, keys = arrays(n)
    start = time.perf_counter()
    for a in range(0, n, DEFAULT_CHUNK_SIZE):
        rows = slice(a, a + DEFAULT_CHUNK_SIZE)
        single_firm_pvalues(
            abnormal[rows],
            residuals[rows],
            car[rows],
            EVENT_DAYS,
            DEFAULT_CAR_WINDOWS,
            keys[rows],
            tests,
            seed=20240601,
            draws=draws,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30000", help="comma-separated N (default 30000)")
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS, help="B of the permutation test (default 1000)")
    args = parser.parse_args()
    print(f"{'N':>8} {'sq (s)':>8} {'permutation (s)':>16} {'both (s)':>9} {'both per 1,000 (s)':>19}")
    for n in (int(s) for s in args.sizes.split(",")):
        sq = timed(n, ("sq",), args.draws)
        permutation = timed(n, ("permutation",), args.draws)
        both = timed(n, ("sq", "permutation"), args.draws)
        print(f"{n:>8,} {sq:>8.2f} {permutation:>16.2f} {both:>9.2f} {1000 * both / n:>19.3f}")


if __name__ == "__main__":
    main()
