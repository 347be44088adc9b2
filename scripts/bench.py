#!/usr/bin/env python
"""Benchmark the event-study engine on the one-firm-per-event design, against a bare-numpy floor.

The design of earnings-announcement, M&A and CRSP studies (issue 8): N events of one firm each, a market
model on 240 estimation returns ([-250, -11]), an 11-day event window ([-5, +5]) and the default CAR windows
([0,0], [0,+1], [-1,+1], [0,+5], [-5,+5]). Synthetic data on real XNYS sessions from 1998: N / 100 stocks
(at least 1), each with about 100 events, one every 63 sessions (day 0 = 255 + 63 k + a uniform draw in
[0, 52], so event windows of one stock never overlap), returns R = alpha + beta R_m + sigma e against one
market ``^GSPC``. N = 10^6 is 10,000 stocks on about 6,570 sessions (66 M return rows). The data are
written once per (N, seed) under ``--data`` (default ``/tmp/eventstudy-bench``): ``returns.parquet``
(long ``date, ticker, return``: date32, dictionary-encoded ticker, float64; sorted by ticker and date, one
row group per 200 stocks), ``returns.csv`` (the same values, shortest round-trip decimals), ``events.csv``
(``event_id, date, tickers, benchmark`` in date order).

Runs per N, each in a fresh process (so its peak RSS is its own), ``--repeat`` times interleaved:

``cli``
    the whole process through the console script::

        eventstudy run events.csv --returns returns.parquet --estimation -250:-11 --window -5:5
            --tests cross_sectional_t,patell_z,bmp_t --formats csv --quiet --out DIR

    wall time from the parent (interpreter start, imports, reading, the study, writing the tables: per-firm-
    event tables above 100,000 rows as partitioned Parquet, the others CSV), peak RSS and CPU time of the
    child from ``wait4``;
``floor``
    ``scripts/bench_floor.py``: the same arithmetic in bare numpy reading ``returns.csv`` (see its
    docstring); its CARs must equal the CLI's to 1e-10 and its pooled statistics the CLI's to 1e-8
    (relative), which the script checks after each size (``CAR check``, ``stats check``; a failed check
    marks the row FAILED and makes the exit status 1);
``stages`` (first repeat only)
    ``scripts/bench_study.py``: the CLI's study through the API, with wall time and peak RSS per stage
    (``run``'s progress messages) and the exclusive time of its phases; "engine compute" = fit + CARs +
    inference inputs + tests, set against the floor's compute (fit, ARs, CARs, tests on gathered windows);
``default``, ``default_all`` (first repeat, N <= ``--default-max``)
    the same with every registered test (the default study), with ``event_tests`` auto (above 10,000 events
    only events of two or more firm-events get tests of their own: none here) and ``event_tests=all`` (every
    single-firm event tested as an event too, 24 tests x 16 days and windows per event);
``profile`` (``--profile N``, ``--profile-default N``)
    a cProfile of the study (peer statistics; the default study) at that N; the top entries are printed
    after the tables.

A run that exceeds ``--max-rss-gb`` (resident set of the child, sampled every 0.1 s) or ``--timeout`` is
killed and reported as such (the machine is shared); the stages it finished are still shown. Sizes above
``--repeat-max`` run once. ``--repo DIR`` measures the package of another checkout (e.g. ``git archive`` of
a commit, so work in progress in this one does not disturb the numbers); ``--cli-extra`` and
``--study-kw NAME=VALUE`` pass engine options (a chunk size, an executor) to the CLI and API runs.

Usage::

    python scripts/bench.py --quick                  # N = 1,000 and 4,000: a smoke test, well under a minute
    python scripts/bench.py --sizes 30000,100000,1000000 --repeat 2 --profile 100000
    python scripts/bench.py --sizes 30000 --json /tmp/bench.json
    git archive HEAD eventstudy | tar -x -C /tmp/snap && python scripts/bench.py --repo /tmp/snap

Tables go to stdout as markdown (paste into docs/benchmark.md); progress to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MARKET = "^GSPC"
EVENTS_PER_TICKER = 100
SPACING = 63
LEAD = 255
TAIL = 70
FIRST_SESSION = "1998-01-02"
TICKERS_PER_ROW_GROUP = 200
PEER_TESTS = "cross_sectional_t,patell_z,bmp_t"
CAR_WINDOWS = ((0, 0), (0, 1), (-1, 1), (0, 5), (-5, 5))
DATA_VERSION = 1
CAR_TOLERANCE = 1e-10
"""Largest |CAR(project) - CAR(floor)| accepted (the CSV tables carry 10 significant digits)."""
STATS_TOLERANCE = 1e-8
"""Largest relative difference of the pooled statistics accepted."""
HERE = Path(__file__).resolve().parent

TARGET_PROCESS_RATIO = 0.35
TARGET_COMPUTE_RATIO = 2.0
TARGET_DEFAULT_S = 10.0
TARGET_MILLION_S = 60.0
TARGET_MILLION_GB = 8.0


def say(message: str) -> None:
    """Progress on stderr."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- data


def design(n: int) -> tuple[int, int]:
    """(stocks, sessions) of the design at N firm-events: N / 100 stocks with up to 100 events each."""
    tickers = max(1, math.ceil(n / EVENTS_PER_TICKER))
    per_ticker = math.ceil(n / tickers)
    return tickers, LEAD + SPACING * per_ticker + TAIL


def make_data(folder: Path, n: int, seed: int, *, csv: bool = True) -> dict[str, Any]:
    """Write the returns (Parquet, and CSV unless ``csv`` is False) and events of size N into ``folder``.

    Data already there is kept when it matches (and has the CSV if ``csv``).
    """
    meta_path = folder / "meta.json"
    tickers, n_sessions = design(n)
    meta: dict[str, Any] = {"version": DATA_VERSION, "n": n, "seed": seed, "tickers": tickers, "sessions": n_sessions}
    complete = not csv or (folder / "returns.csv").exists()
    existing = json.loads(meta_path.read_text()) if complete and meta_path.exists() else {}
    if {k: v for k, v in existing.items() if k in meta} == meta:
        return json.loads(meta_path.read_text())
    import warnings

    import exchange_calendars as xcals
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    say(f"writing data for N = {n:,} ({tickers:,} stocks x {n_sessions:,} sessions) to {folder}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        calendar = xcals.get_calendar("XNYS", start=FIRST_SESSION, end="2025-12-31")
    sessions = calendar.sessions[:n_sessions].to_numpy().astype("datetime64[D]")
    if len(sessions) < n_sessions:
        raise SystemExit(f"bench: the XNYS calendar has {len(sessions)} sessions, {n_sessions} needed")
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.011, n_sessions)
    names = np.array([f"S{i:05d}" for i in range(tickers)], dtype=object)

    # Events: slot k of stock t on session LEAD + 63 k + U[0, 52]; the first N slots in stock order.
    per_ticker = math.ceil(n / tickers)
    slots = LEAD + SPACING * np.arange(per_ticker)[None, :] + rng.integers(0, SPACING - 10, (tickers, per_ticker))
    day0 = slots.ravel()[:n]
    firm = np.repeat(np.arange(tickers), per_ticker)[:n]
    order = np.lexsort((firm, day0))
    events = pd.DataFrame(
        {
            "event_id": [f"E{i:07d}" for i in range(n)],
            "date": np.datetime_as_string(sessions[day0[order]], unit="D"),
            "tickers": names[firm[order]],
            "benchmark": MARKET,
        }
    )
    events.to_csv(folder / "events.csv", index=False)

    schema = pa.schema([("date", pa.date32()), ("ticker", pa.string()), ("return", pa.float64())])
    csv_options = pacsv.WriteOptions(quoting_style="none")
    with contextlib.ExitStack() as stack:
        parquet = stack.enter_context(pq.ParquetWriter(folder / "returns.parquet", schema))
        writer = (
            stack.enter_context(pacsv.CSVWriter(folder / "returns.csv", schema, write_options=csv_options))
            if csv
            else None
        )
        batches: list[tuple[np.ndarray, int | None]] = [(np.array([MARKET], dtype=object), None)]
        batches += [(names[i : i + TICKERS_PER_ROW_GROUP], i) for i in range(0, tickers, TICKERS_PER_ROW_GROUP)]
        for batch_names, first in batches:
            k = len(batch_names)
            if first is None:
                values = market
            else:
                alpha = rng.normal(0.0, 0.0004, k)
                beta = rng.uniform(0.4, 1.6, k)
                sigma = rng.uniform(0.008, 0.03, k)
                noise = rng.standard_normal((k, n_sessions))
                values = (alpha[:, None] + beta[:, None] * market + sigma[:, None] * noise).ravel()
            table = pa.table(
                {
                    "date": pa.array(np.tile(sessions, k)),
                    "ticker": pa.array(np.repeat(batch_names, n_sessions)),
                    "return": pa.array(values),
                },
                schema=schema,
            )
            parquet.write_table(table)
            if writer is not None:
                writer.write_table(table)
    meta["rows"] = (tickers + 1) * n_sessions
    meta["first"], meta["last"] = str(sessions[0]), str(sessions[-1])
    written = ("returns.parquet", "returns.csv") if csv else ("returns.parquet",)
    meta["mb"] = {name: (folder / name).stat().st_size / 2**20 for name in written}
    meta_path.write_text(json.dumps(meta))
    return meta


# ------------------------------------------------------------------------------------------- runner


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def run_child(
    command: list[str], max_rss_mb: float, timeout: float, logs: Path, repo: Path | None = None
) -> dict[str, Any]:
    """Run ``command`` in a fresh process; wall time, peak RSS and CPU time (``wait4``), killed past the limits.

    The child's stdout and stderr go to ``logs.out`` and ``logs.err``. With ``repo``, the package is imported
    from that checkout (``PYTHONPATH``), e.g. a ``git archive`` of a commit, so the measurement is not
    disturbed by work in progress in this one.
    """
    env = dict(os.environ, PYTHONPATH=str(repo)) if repo is not None else None
    logs.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs.with_suffix(".out"), logs.with_suffix(".err")
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with open(out_path, "w") as stdout, open(err_path, "w") as stderr:
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True, env=env)
    killed = ""
    sampled = 0.0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        sampled = max(sampled, rss_mb(child.pid))
        if not killed and sampled > max_rss_mb:
            killed = f"killed: RSS above {max_rss_mb / 1024:.1f} GB"
        elif not killed and time.perf_counter() - start > timeout:
            killed = f"killed: over {timeout:.0f} s"
        if killed:
            os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.1)
    wall = time.perf_counter() - start
    out, err = out_path.read_text(), err_path.read_text()
    child.returncode = os.waitstatus_to_exitcode(status)
    record: dict[str, Any] = {
        "wall_s": wall,
        "peak_mb": usage.ru_maxrss / 1024.0,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "exit": child.returncode,
        "killed": killed,
    }
    record["stages_seen"] = [json.loads(line) for line in err.splitlines() if line.startswith('{"stage"')]
    if child.returncode:
        record["stderr"] = err[-2000:]
        say(f"{logs.name} failed (exit {child.returncode}) {killed}")
        say(err[-2000:])
    else:
        lines = out.strip().splitlines()
        if lines and lines[-1].startswith("{"):
            record["report"] = json.loads(lines[-1])
    return record


def console_script(repo: Path | None) -> list[str]:
    """The ``eventstudy`` console script of this environment, or its equivalent run on ``repo``'s package."""
    if repo is not None:
        return [sys.executable, "-c", "import sys; from eventstudy.cli import main; sys.exit(main())"]
    beside = Path(sys.executable).parent / "eventstudy"
    return [str(beside) if beside.exists() else shutil.which("eventstudy") or "eventstudy"]


def cli_command(data: Path, out: Path, repo: Path | None, extra: list[str]) -> list[str]:
    """The whole-process command of the project (the issue's "peer statistics"), with ``extra`` options."""
    return [
        *console_script(repo),
        "run",
        str(data / "events.csv"),
        "--returns",
        str(data / "returns.parquet"),
        "--estimation=-250:-11",
        "--window=-5:5",
        "--tests",
        PEER_TESTS,
        "--formats",
        "csv",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]


def read_table(out: Path, name: str) -> pd.DataFrame:
    """A table the CLI wrote: ``<name>.csv`` or the Parquet folder ``<name>.parquet/``."""
    if (out / f"{name}.csv").exists():
        return pd.read_csv(out / f"{name}.csv")
    return pd.read_parquet(out / f"{name}.parquet")


def check(data: Path, cli_out: Path, floor_out: Path) -> dict[str, float]:
    """Max |CAR difference| and max relative difference of the pooled statistics, CLI against floor."""
    floor_cars = np.load(floor_out / "cars.npy")
    pooled = json.loads((floor_out / "pooled.json").read_text())
    ids = pd.read_csv(data / "events.csv", usecols=["event_id"])["event_id"]
    car = read_table(cli_out, "car")
    row = pd.Index(ids).get_indexer(car["event_id"])
    column = pd.MultiIndex.from_tuples(CAR_WINDOWS).get_indexer(
        pd.MultiIndex.from_arrays([car["window_start"], car["window_end"]])
    )
    found = np.zeros(floor_cars.shape, dtype=bool)
    found[row, column] = True
    car_diff = float(np.max(np.abs(car["car"].to_numpy() - floor_cars[row, column])))
    tests = read_table(cli_out, "tests")
    tests = tests[tests["group"] == "all"]
    worst = 0.0
    for scope, labels in (("day", [(d, d) for d in pooled["days"]]), ("window", pooled["windows"])):
        for test in PEER_TESTS.split(","):
            ours = tests[(tests["scope"] == scope) & (tests["test"] == test)].set_index(["window_start", "window_end"])
            theirs = np.asarray(pooled[f"{scope}/{test}/all"], dtype=float)
            mine = ours["statistic"].reindex(pd.MultiIndex.from_tuples([tuple(w) for w in labels])).to_numpy()
            relative = np.abs(mine - theirs) / np.maximum(np.abs(theirs), 1e-300)
            worst = max(worst, float(np.max(relative)) if np.isfinite(relative).all() else math.inf)
    missing = int((~found).sum())
    ok = car_diff <= CAR_TOLERANCE and worst <= STATS_TOLERANCE and not missing
    return {"car_diff": car_diff, "car_missing": missing, "stats_rel_diff": worst, "ok": ok}


# ------------------------------------------------------------------------------------------ render


def fmt_s(value: float | None) -> str:
    """Seconds as text; '-' for a missing value."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value * 1000:.0f} ms" if value < 0.1 else f"{value:.2f} s"


def fmt_mb(value: float | None) -> str:
    """MiB as text, GB above 1,024."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value / 1024:.2f} GB" if value >= 1024 else f"{value:.0f} MB"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def best(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest successful run."""
    ok = [r for r in runs if not r["exit"]]
    return min(ok, key=lambda r: r["wall_s"]) if ok else None


def cell(run: dict[str, Any] | None, runs: list[dict[str, Any]]) -> str:
    """Wall time of the best run (all runs in brackets when repeated), or why there is none."""
    if run is None:
        if not runs:
            return "-"
        return f"{runs[0]['killed']} after {fmt_s(runs[0]['wall_s'])}" if runs[0]["killed"] else "failed"
    text = fmt_s(run["wall_s"])
    return text + (" (" + ", ".join(fmt_s(r["wall_s"]) for r in runs) + ")" if len(runs) > 1 else "")


def render(results: list[dict[str, Any]]) -> str:
    """The markdown tables: headline per N, stages, floor stages, targets, machine notes."""
    parts = []
    rows = []
    for r in results:
        cli, floor = best(r["cli"]), best(r["floor"])
        stages = r.get("stages", {}).get("report")
        floor_compute = floor["report"]["times"]["compute"] if floor else math.nan
        engine_compute = stages["compute_s"] if stages else math.nan
        default = r.get("default")
        rows.append(
            [
                f"{r['n']:,}",
                f"{r['meta']['tickers']:,} x {r['meta']['sessions']:,}",
                cell(cli, r["cli"]),
                fmt_mb(cli["peak_mb"]) if cli else "-",
                cell(floor, r["floor"]),
                fmt_mb(floor["peak_mb"]) if floor else "-",
                f"{cli['wall_s'] / floor['wall_s']:.2f}" if cli and floor else "-",
                fmt_s(engine_compute),
                fmt_s(floor_compute),
                f"{engine_compute / floor_compute:.1f}" if stages and floor else "-",
                (cell(best([default]), [default]) + f", {fmt_mb(default['peak_mb'])}") if default else "-",
                (cell(best([every]), [every]) + f", {fmt_mb(every['peak_mb'])}")
                if (every := r.get("default_all"))
                else "-",
                (
                    f"{r['check']['car_diff']:.1e} / {r['check']['stats_rel_diff']:.1e}"
                    + ("" if r["check"]["ok"] else " FAILED")
                )
                if r.get("check")
                else "-",
            ]
        )
    parts.append(
        table(
            [
                "N firm-events",
                "stocks x sessions",
                "project: whole process (CLI, Parquet)",
                "its peak RSS",
                "numpy floor: whole process (CSV)",
                "its peak RSS",
                "project / floor wall",
                "engine compute",
                "floor compute",
                "compute / floor",
                "default study (all tests): process, peak RSS",
                "same, every event tested (event_tests=all)",
                "CAR / stats check",
            ],
            rows,
        )
    )

    with_stages = [r for r in results if r.get("stages", {}).get("stages_seen")]
    if with_stages:
        names: list[str] = []
        for r in with_stages:
            for s in r["stages"]["stages_seen"]:
                key = _stage_key(s["stage"])
                if key not in names:
                    names.append(key)
        stage_rows = []
        for name in names:
            cells = []
            for r in with_stages:
                hits = [s for s in r["stages"]["stages_seen"] if _stage_key(s["stage"]) == name]
                cells.append(
                    f"{fmt_s(sum(s['seconds'] for s in hits))}, {fmt_mb(max(s['peak_mb'] for s in hits))}"
                    if hits
                    else "-"
                )
            stage_rows.append([name] + cells)
        stage_rows.append(
            ["whole process (wall, peak RSS)"]
            + [
                f"{fmt_s(r['stages']['wall_s'])}, {fmt_mb(r['stages']['peak_mb'])}"
                + (
                    f" ({r['stages']['killed']} in: {r['stages']['stages_seen'][-1]['next']})"
                    if r["stages"]["killed"]
                    else ""
                )
                for r in with_stages
            ]
        )
        parts.append(table(["stage (peer statistics, API)"] + [f"N={r['n']:,}" for r in with_stages], stage_rows))
        with_stages = [r for r in with_stages if r["stages"].get("report")]
    if with_stages:
        phase_names = sorted({p for r in with_stages for p in r["stages"]["report"]["phases"]}, key=_phase_order)
        phase_rows: list[list[str]] = [
            [f"{p} (x{max(r['stages']['report']['phase_calls'].get(p, 0) for r in with_stages)})"]
            + [fmt_s(r["stages"]["report"]["phases"].get(p)) for r in with_stages]
            for p in phase_names
        ]
        parts.append(table(["phase (exclusive wall time)"] + [f"N={r['n']:,}" for r in with_stages], phase_rows))

    floors = [(r["n"], run) for r in results if (run := best(r["floor"])) is not None]
    if floors:
        keys = ["read", "align", "gather", "compute", "write"]
        floor_rows = [[k] + [fmt_s(run["report"]["times"].get(k)) for _, run in floors] for k in keys]
        floor_rows.append(
            ["whole process (wall, peak RSS)"]
            + [f"{fmt_s(run['wall_s'])}, {fmt_mb(run['peak_mb'])}" for _, run in floors]
        )
        parts.append(table(["numpy floor stage"] + [f"N={n:,}" for n, _ in floors], floor_rows))

    parts.append(targets(results))
    parts.append(notes(results))
    return "\n\n".join(parts)


STAGE_LABELS = (
    ("run: calendar day", "run: pairs and calendar day 0"),
    ("run: prices: loading", "run: load prices"),
    ("run: prices: N of N symbols loaded", "run: day 0 on the rows, return panel"),
    ("run: estimation:", "run: model fit, CARs, flags, inference inputs"),
    ("run: tests:", "run: tests, the result"),
)
"""Stages named by the message of ``run``'s progress callback that starts them, as what they do."""


def _stage_key(stage: str) -> str:
    """A stage's label: what a known progress message starts, else the message with its counts as N."""
    text = re.sub(r"\d[\d,]*", "N", stage)
    return next((label for prefix, label in STAGE_LABELS if text.startswith(prefix)), text)


def _phase_order(name: str) -> int:
    order = ["day 0", "prices", "panel", "engine, rest", "fit", "cars", "inference inputs", "tests", "write tables"]
    return order.index(name) if name in order else len(order)


def targets(results: list[dict[str, Any]]) -> str:
    """The issue's targets against the measurements."""
    rows = []
    by_n = {r["n"]: r for r in results}
    for r in results:
        cli, floor = best(r["cli"]), best(r["floor"])
        if cli and floor:
            ratio = cli["wall_s"] / floor["wall_s"]
            rows.append(
                [
                    f"N={r['n']:,}: whole process <= {TARGET_PROCESS_RATIO} x the floor's",
                    f"{ratio:.2f}",
                    "met" if ratio <= TARGET_PROCESS_RATIO else "MISSED",
                ]
            )
        stages = r.get("stages", {}).get("report")
        if stages and floor:
            ratio = stages["compute_s"] / floor["report"]["times"]["compute"]
            rows.append(
                [
                    f"N={r['n']:,}: engine compute <= {TARGET_COMPUTE_RATIO:.0f} x the floor's",
                    f"{ratio:.1f}",
                    "met" if ratio <= TARGET_COMPUTE_RATIO else "MISSED",
                ]
            )
        for key, what in (
            ("default", f"default study (all tests) < {TARGET_DEFAULT_S:.0f} s (run(); whole process)"),
            ("default_all", "the same with every event tested (event_tests=all)"),
        ):
            run = r.get(key)
            if run:
                run_s = run.get("report", {}).get("run_s")
                rows.append(
                    [
                        f"N={r['n']:,}: {what}",
                        f"{fmt_s(run_s)}; {cell(best([run]), [run])}",
                        "met" if run_s is not None and run_s < TARGET_DEFAULT_S else "MISSED",
                    ]
                )
    if 1_000_000 in by_n:
        cli = best(by_n[1_000_000]["cli"])
        rows.append(
            [
                f"N=1,000,000: < {TARGET_MILLION_S:.0f} s wall and < {TARGET_MILLION_GB:.0f} GB peak RSS",
                f"{fmt_s(cli['wall_s'])}, {fmt_mb(cli['peak_mb'])}" if cli else cell(None, by_n[1_000_000]["cli"]),
                "met"
                if cli and cli["wall_s"] < TARGET_MILLION_S and cli["peak_mb"] < TARGET_MILLION_GB * 1024
                else "MISSED",
            ]
        )
    timed = [(r["n"], cli) for r in results if (cli := best(r["cli"])) is not None]
    if len(timed) > 1:
        rates = [f"{c['wall_s'] / n * 1e6:.0f}" for n, c in timed]
        rows.append(["cost linear in N: whole-process µs per firm-event, by N", " / ".join(rates), "see the rates"])
    return table(["target (issue 8)", "measured", "status"], rows)


def machine() -> str:
    """Cores, memory and CPU model of this machine."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "?")
        with open("/proc/meminfo") as handle:
            total = int(next(line for line in handle if line.startswith("MemTotal")).split()[1]) / 2**20
    except (OSError, StopIteration):
        total = math.nan
    return f"{os.cpu_count()} CPUs ({model}), {total:.0f} GB RAM, Linux {platform.release()}"


def notes(results: list[dict[str, Any]]) -> str:
    """Machine, load and the definitions of the columns."""
    import pyarrow

    loads = [f"{run['load_before']:.1f}" for r in results for kind in ("cli", "floor") for run in r[kind]]
    cpu = [
        f"N={r['n']:,}: project {cli['cpu_s']:.1f} s, floor {floor['cpu_s']:.1f} s"
        for r in results
        if (cli := best(r["cli"])) is not None and (floor := best(r["floor"])) is not None
    ]
    lines = [
        f"Machine: {machine()}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, pyarrow {pyarrow.__version__}.",
        "1-min load average before each timed run (CLI and floor, in run order): " + ", ".join(loads) + ".",
        "CPU time (user + sys) of the best runs: " + ("; ".join(cpu) or "-") + ".",
        "Design: one firm per event, estimation [-250, -11] (240 returns), event window [-5, +5], the 5 default CAR "
        "windows; project with the peers' statistics (cross-sectional t, Patell Z, BMP t) per day and per CAR "
        "window, pooled, and per event up to 10,000 events (above that, with event_tests auto, a single-firm event "
        "has no tests of its own: its CAR t is in car); the floor computes them per event at every N (as arrays, "
        "never written); the default study adds every other registered test.",
        "Whole process = wall time of a fresh process from the parent (interpreter start to exit); peak RSS = the "
        "child's ru_maxrss (wait4). Engine compute = model fit + CARs + inference inputs + tests (exclusive "
        "wall time of those functions in the API run); floor compute = fit, ARs, CARs and tests on gathered "
        "windows.",
        "CAR check = max |CAR(project) - CAR(floor)| over all firm-events and windows (CSV tables carry 10 "
        "significant digits, Parquet tables full precision); stats check = max relative difference of the "
        "pooled statistics.",
    ]
    return "\n".join(f"- {line}" for line in lines)


# -------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Write the data, run the processes, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="30000,100000", help="comma-separated N (firm-events)")
    parser.add_argument(
        "--quick", action="store_true", help="N = 1,000 and 4,000 (default study at 1,000 only): a smoke test"
    )
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of the CLI and the floor per N")
    parser.add_argument(
        "--repeat-max", type=int, default=100_000, metavar="N", help="sizes above N are run once (default 100,000)"
    )
    parser.add_argument("--data", type=Path, default=Path("/tmp/eventstudy-bench"), help="data cache folder")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--default-max", type=int, default=30_000, help="largest N of the default study run")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile the study at this N")
    parser.add_argument(
        "--profile-default", type=int, default=0, metavar="N", help="cProfile the default study at this N"
    )
    parser.add_argument("--max-rss-gb", type=float, default=12.0, help="kill a run whose RSS exceeds this")
    parser.add_argument("--timeout", type=float, default=900.0, help="kill a run that takes longer (seconds)")
    parser.add_argument("--no-floor", action="store_true", help="skip the numpy floor")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument(
        "--cli-extra", default="", help="more options for the CLI run, e.g. '--chunk-size 50000' (one string)"
    )
    parser.add_argument(
        "--study-kw",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="keyword of EventStudy for the API runs, repeatable (e.g. chunk_size=50000)",
    )
    parser.add_argument("--prepare", action="store_true", help="only write the data of every size")
    parser.add_argument(
        "--repo", type=Path, help="measure the package of this checkout (e.g. a git archive of a commit)"
    )
    args = parser.parse_args(argv)
    sizes = [1000, 4000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if any(n < 1 for n in sizes):
        parser.error("sizes must be positive")
    limit = args.max_rss_gb * 1024
    default_max = min(sizes) if args.quick else args.default_max
    study_kw = [part for kw in args.study_kw for part in ("--study-kw", kw)]

    results = []
    for n in sorted(sizes):
        data = args.data / f"n{n}-seed{args.seed}"
        meta = make_data(data, n, args.seed)
        if args.prepare:
            continue
        runs = data / "runs"
        record: dict[str, Any] = {"n": n, "meta": meta, "cli": [], "floor": []}
        for i in range(args.repeat if n <= args.repeat_max else 1):
            for kind in ("cli", "floor"):
                if kind == "floor" and args.no_floor:
                    continue
                out = runs / kind
                shutil.rmtree(out, ignore_errors=True)
                if kind == "cli":
                    command = cli_command(data, out, args.repo, shlex.split(args.cli_extra))
                else:
                    command = [sys.executable, str(HERE / "bench_floor.py"), str(data), "--out", str(out)]
                say(f"N = {n:,}: {kind} run {i + 1}")
                record[kind].append(run_child(command, limit, args.timeout, runs / "logs" / f"{kind}{i}", args.repo))
                say(f"N = {n:,}: {kind}: {fmt_s(record[kind][-1]['wall_s'])}, {fmt_mb(record[kind][-1]['peak_mb'])}")
        if best(record["cli"]) and best(record["floor"]):
            record["check"] = check(data, runs / "cli", runs / "floor")
            say(f"N = {n:,}: check {record['check']}")
        study = [sys.executable, str(HERE / "bench_study.py"), str(data), *study_kw, "--out"]
        say(f"N = {n:,}: stages")
        shutil.rmtree(runs / "stages", ignore_errors=True)
        record["stages"] = run_child(
            study + [str(runs / "stages")], limit, args.timeout, runs / "logs" / "stages", args.repo
        )
        if n <= default_max:
            # the default study as a user runs it (event_tests auto: above 10,000 events only events of two or
            # more firm-events are tested as events), and with every single-firm event tested as an event too
            for key, more in (("default", []), ("default_all", ["--study-kw", "event_tests=all"])):
                say(f"N = {n:,}: {key}")
                shutil.rmtree(runs / key, ignore_errors=True)
                record[key] = run_child(
                    study + [str(runs / key), "--all-tests", *more], limit, args.timeout, runs / "logs" / key, args.repo
                )
        for key, asked, more in (
            ("profile", args.profile, []),
            ("profile_default", args.profile_default, ["--all-tests"]),
        ):
            if n != asked:
                continue
            say(f"N = {n:,}: {key}")
            shutil.rmtree(runs / key, ignore_errors=True)
            listing = data / f"{key}.txt"
            listing.unlink(missing_ok=True)
            command = study + [str(runs / key), "--profile", str(listing), *more]
            run_child(command, limit, args.timeout, runs / "logs" / key, args.repo)
            record[key] = listing.read_text() if listing.exists() else ""
        results.append(record)

    if args.prepare:
        return 0
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    print(render(results))
    for r in results:
        for key, what in (("profile", "peer statistics"), ("profile_default", "default study, all tests")):
            if r.get(key):
                print(f"\ncProfile of the study at N = {r['n']:,} ({what}):\n\n```\n{r[key]}\n```")
    failed = [r["n"] for r in results if not best(r["cli"]) or not r.get("check", {"ok": True})["ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
