#!/usr/bin/env python
"""Benchmark the README's first seed report: wall time of the whole command, and where the time goes.

The command is read from the README (the first ``eventstudy run`` of its first code block: the 2020-21 seed
study on the shared offline prices), run from the repository folder with ``--out`` pointed at a temporary
folder and ``--formats`` set to every format the installed package writes (``eventstudy.report.FORMATS``),
``--repeat`` times, each in a fresh process. Reported: the wall time of each run (the target is under 15 s on
the 2-core machine), its CPU time (user + system, from ``getrusage`` of the child), the 1-minute load average
before it (other processes share the cores: wall times move with it), and the files and PDF pages written.

``--stages`` then times the same study in one process, stage by stage: imports, ``run()``, the CSV files,
and ``write_report``'s stages through its ``progress`` callback (figures, each document).

``--repo`` measures another checkout (e.g. an older commit unpacked with ``git archive``) with its own README
and code: every process runs as ``python -c`` in the checkout's folder, so ``import eventstudy`` finds that
checkout's package first and the virtual environment's other packages serve both.

Usage::

    python scripts/bench_report.py                    # 3 runs of the README command, all formats
    python scripts/bench_report.py --stages           # plus the stage breakdown
    python scripts/bench_report.py --repo /tmp/old --repeat 2

Results go to stdout as markdown tables (paste them into docs/benchmark.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

STAGES = r"""
import json, sys, time
t0 = time.perf_counter()
from eventstudy import cli
import eventstudy.report as report
events = [("imports", t0), ("imports done", time.perf_counter())]
original = report.write_report
def spy(result, out, formats, progress=None, **kw):
    events.append(("write_report", time.perf_counter()))
    paths = original(result, out, formats, progress=lambda m: events.append((m, time.perf_counter())), **kw)
    events.append(("end", time.perf_counter()))
    return paths
report.write_report = spy  # the CLI imports it from eventstudy.report when it runs
cli._cmd_run(cli.build_parser().parse_args(sys.argv[1:]))
print(json.dumps(events))
"""


def readme_command(repo: Path) -> list[str]:
    """Arguments after ``eventstudy`` of the README's first ``eventstudy run`` command."""
    text = (repo / "README.md").read_text(encoding="utf-8")
    match = re.search(r"eventstudy run (.+?)(?: && |\n)", text)
    if match is None:
        raise SystemExit(f"no 'eventstudy run' command in {repo / 'README.md'}")
    return ["run", *shlex.split(match.group(1))]


def with_out(args: list[str], out: Path, formats: str) -> list[str]:
    """The command with ``--out`` replaced by ``out`` and ``--formats`` set."""
    result: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("--out", "--formats"):
            skip = True
            continue
        result.append(arg)
    return [*result, "--out", str(out), "--formats", formats]


def environment() -> dict[str, str]:
    return dict(os.environ, MPLBACKEND="Agg")


def all_formats(python: str, repo: Path, env: dict[str, str]) -> str:
    code = "from eventstudy.report import FORMATS; print(','.join(FORMATS))"
    done = subprocess.run([python, "-c", code], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def pdf_pages(path: Path) -> int | None:
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    return len(PdfReader(path).pages) if path.is_file() else None


def run_once(python: str, command: list[str], formats: str, repo: Path, env: dict[str, str]) -> dict[str, float]:
    """One run of the command in a fresh process: wall and CPU seconds, load average, files, PDF pages."""
    code = "import sys; from eventstudy.cli import main; sys.exit(main(sys.argv[1:]))"
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        out = Path(tmp) / "report"
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([python, "-c", code, *with_out(command, out, formats)], cwd=repo, env=env)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"the command failed with exit {done.returncode}")
        return {
            "wall": wall,
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "load": load,
            "files": float(sum(1 for p in out.rglob("*") if p.is_file())),
            "pages": float(pdf_pages(out / "report.pdf") or 0),
        }


def stages(python: str, command: list[str], formats: str, repo: Path, env: dict[str, str]) -> list[tuple[str, float]]:
    """Seconds per stage of one run in one process (write_report's stages from its progress messages)."""
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        args = with_out(command, Path(tmp) / "report", formats)
        done = subprocess.run([python, "-c", STAGES, *args], cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the stage run failed:\n{done.stderr[-3000:]}")
    events = [(name, float(t)) for name, t in json.loads(done.stdout.strip().splitlines()[-1])]
    labels = {"imports": "imports (eventstudy, matplotlib, ...)", "imports done": "run() and the CSV files"}
    labels["write_report"] = "figure list and document blocks (figures start drawing)"
    rows: dict[str, float] = {}
    for (name, start), (_, end) in itertools.pairwise(events):
        if name.startswith("figures "):
            label = "figures: collected, written (and waited for)"
        elif name.startswith("report."):
            alongside = name in ("report.md", "report.xlsx", "report.tex")
            label = f"{name} ({'while the figures are drawn' if alongside else 'after the figures'})"
        else:
            label = labels.get(name, name)
        rows[label] = rows.get(label, 0.0) + end - start
    drawn = [t for name, t in events if name.startswith("figures ")]
    if drawn:
        first = dict(events)["write_report"]
        rows[f"(figure phase: {len(drawn)} figures, PNG + PDF each, from start to the last one)"] = drawn[-1] - first
    return list(rows.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout to measure (default: this one)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with the package's dependencies")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the whole command (default 3)")
    parser.add_argument("--formats", default="all", help="report formats (default: every format of the package)")
    parser.add_argument("--stages", action="store_true", help="also time the stages in one process")
    opts = parser.parse_args(argv)
    repo = opts.repo.resolve()
    env = environment()
    formats = all_formats(opts.python, repo, env) if opts.formats == "all" else opts.formats
    command = readme_command(repo)
    shown = shlex.join(with_out(command, Path("<tmp>"), formats))
    print(f"Command (the README's first, run in {repo}): eventstudy {shown}\n")
    print("| run | wall | CPU (user + sys) | load avg (1 min) before | files | PDF pages |")
    print("|---:|---:|---:|---:|---:|---:|")
    walls = []
    for k in range(1, opts.repeat + 1):
        r = run_once(opts.python, command, formats, repo, env)
        walls.append(r["wall"])
        row = f"{r['wall']:.1f} s | {r['cpu']:.1f} s | {r['load']:.2f} | {r['files']:.0f} | {r['pages']:.0f}"
        print(f"| {k} | {row} |")
    print(f"\nbest {min(walls):.1f} s, median {sorted(walls)[len(walls) // 2]:.1f} s (target: under 15 s)")
    if opts.stages:
        rows = stages(opts.python, command, formats, repo, env)
        print("\n| stage | seconds |\n|---|---:|")
        for name, seconds in rows:
            print(f"| {name} | {seconds:.2f} |")
        print(f"| total | {sum(t for name, t in rows if not name.startswith('(')):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
