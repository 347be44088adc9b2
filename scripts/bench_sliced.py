r"""Benchmark a sliced study (``eventstudy run --slice-size``) on a local Dask cluster, memory-limited workers.

For each N (one firm per event, the design of ``scripts/bench.py``; data written Parquet-only by its
``make_data``), a ``distributed.LocalCluster`` of ``--workers`` worker processes (one thread each, nanny,
``--memory-limit`` each) is started, and the command line

    eventstudy run events.csv --returns returns.parquet --estimation=-250:-11 --window=-5:5 \
        --tests cross_sectional_t,patell_z,bmp_t --formats csv --slice-size S --executor dask --scheduler ADDRESS

runs as a child process. Every 0.5 s the script reads the resident memory of the client process and of
every worker process (their pids asked from the cluster; a restarted worker has a new pid). A worker that
goes over its limit is terminated by its nanny (at 95 %) and restarted, so "0 restarts" with the peaks below
the limit means the limit held. With ``--check N`` the study is also run in one piece at that N (the same
command without ``--slice-size``, serial) and the tables compared: ``tests`` to 1e-9 (10 significant digits
of the CSV), the per-firm-event tables after sorting to 1e-12.

Example (the figures of docs/benchmark.md)::

    python scripts/bench_sliced.py --sizes 1000000,10000000 --check 1000000 --workers 2 --memory-limit 4GiB \
        --slice-size 250000 --data /tmp/8-bench/data
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import cli_command, machine, make_data  # noqa: E402

KEYS = ("event_id", "ticker", "day", "window_start", "window_end")
TABLES = ("car", "abnormal_returns", "parameters", "firm_events", "event_days")


def say(message: str) -> None:
    print(f"bench_sliced: {message}", file=sys.stderr, flush=True)


def command(data: Path, out: Path, extra: list[str]) -> list[str]:
    """The CLI run of ``scripts/bench.py`` (peer statistics, tables only) with Parquet tables and ``extra``."""
    return cli_command(data, out, None, ["--output-format", "parquet", *extra])


class Sampler:
    """Peak RSS of a child process and of the cluster's workers, sampled every 0.5 s in a thread."""

    def __init__(self, pid: int, client: Any | None) -> None:
        self.pid = pid
        self.client = client
        self.client_peak = 0
        self.worker_peaks: dict[int, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _workers(self) -> list[int]:
        if self.client is None:
            return []
        try:
            return list(self.client.run(os.getpid, wait=True).values())
        except Exception:  # a worker restarting: try again at the next sample
            return list(self.worker_peaks)

    def _run(self) -> None:
        while not self.stop.is_set():
            for pid in [self.pid, *self._workers()]:
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                if pid == self.pid:
                    self.client_peak = max(self.client_peak, rss)
                else:
                    self.worker_peaks[pid] = max(self.worker_peaks.get(pid, 0), rss)
            time.sleep(0.5)

    def finish(self) -> None:
        """Stop sampling."""
        self.stop.set()
        self.thread.join()


def timed(argv: list[str], client: Any | None, log: Path) -> dict[str, Any]:
    """Run ``argv``, sampling memory; wall time, peaks, exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w") as sink:
        child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
        sampler = Sampler(child.pid, client)
        status = child.wait()
    wall = time.perf_counter() - start
    sampler.finish()
    return {
        "status": status,
        "wall_s": wall,
        "client_gb": sampler.client_peak / 2**30,
        "worker_gb": sorted((v / 2**30 for v in sampler.worker_peaks.values()), reverse=True),
        "worker_pids": len(sampler.worker_peaks),
    }


def compare(sliced: Path, whole: Path) -> dict[str, float]:
    """Largest relative difference per table between the sliced and the one-piece tables."""
    worst: dict[str, float] = {}
    for name in TABLES:
        a, b = pd.read_parquet(sliced / f"{name}.parquet"), pd.read_parquet(whole / f"{name}.parquet")
        keys = [k for k in KEYS if k in b.columns]
        a, b = a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, obj=name)
        numbers = [c for c in b.columns if b[c].dtype.kind == "f"]
        diff = [np.nanmax(np.abs(a[c] - b[c]) / np.maximum(1.0, np.abs(b[c]))) for c in numbers if b[c].notna().any()]
        worst[name] = float(max(diff, default=0.0))
    ta, tb = pd.read_parquet(sliced / "tests.parquet"), pd.read_parquet(whole / "tests.parquet")
    pd.testing.assert_frame_equal(ta, tb, check_exact=False, rtol=1e-12, obj="tests")
    worst["tests"] = float(
        np.nanmax(np.abs(ta["statistic"] - tb["statistic"]) / np.maximum(1.0, np.abs(tb["statistic"])))
    )
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated N (firm-events)")
    parser.add_argument("--check", type=int, default=0, metavar="N", help="also run N in one piece and compare")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GiB", help="per worker (dask's memory_limit)")
    parser.add_argument("--slice-size", type=int, default=250_000)
    parser.add_argument("--data", type=Path, default=Path("/tmp/eventstudy-bench"))
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    print(f"Machine: {machine()}\n")
    print("| N | slices of | workers x limit | wall | client peak | worker peaks | worker restarts | vs one piece |")
    print("|---|---:|---|---:|---:|---|---:|---|")
    failed = False
    for n in sorted(int(s) for s in args.sizes.split(",")):
        data = args.data / f"n{n}-seed{args.seed}"
        make_data(data, n, args.seed, csv=False)
        runs = data / "runs"
        shutil.rmtree(runs / "sliced", ignore_errors=True)
        with (
            LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, memory_limit=args.memory_limit
            ) as cluster,
            Client(cluster) as client,
        ):
            say(f"N = {n:,}: sliced run on {cluster.scheduler_address}")
            extra = ["--slice-size", str(args.slice_size), "--executor", "dask", "--scheduler"]
            sliced = timed(
                command(data, runs / "sliced", [*extra, cluster.scheduler_address]), client, runs / "logs" / "sliced"
            )
        restarts = sliced["worker_pids"] - args.workers
        versus = ""
        if n == args.check and sliced["status"] == 0:
            shutil.rmtree(runs / "whole", ignore_errors=True)
            say(f"N = {n:,}: the study in one piece")
            whole = timed(command(data, runs / "whole", []), None, runs / "logs" / "whole")
            worst = compare(runs / "sliced", runs / "whole")
            versus = (
                f"one piece {whole['wall_s']:.1f} s, {whole['client_gb']:.2f} GB; tables equal "
                f"(largest difference {max(worst.values()):.1e})"
            )
        failed |= sliced["status"] != 0
        print(
            f"| {n:,} | {args.slice_size:,} | {args.workers} x {args.memory_limit} | {sliced['wall_s']:.1f} s"
            f"{'' if sliced['status'] == 0 else ' (exit ' + str(sliced['status']) + ')'} | "
            f"{sliced['client_gb']:.2f} GB | {', '.join(f'{g:.2f}' for g in sliced['worker_gb'])} GB | "
            f"{restarts} | {versus} |",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
