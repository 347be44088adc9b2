#!/usr/bin/env python
"""The project's side of the one-firm-per-event benchmark, in one process, stage by stage.

Runs the study the benchmark's command line runs (``eventstudy run EVENTS --returns returns.parquet
--estimation -250:-11 --window -5:5 --tests ... --formats csv``) through the public API: ``read_events``,
:class:`~eventstudy.data.parquet.ParquetPrices`, ``EventStudy(...).run(progress=...)`` and
``StudyResult.write_tables(out)``, and reports, as one JSON line on stdout:

- ``stages``: the intervals between the messages of ``run``'s ``progress`` callback (plus the imports, the
  events file and writing the tables), each with its wall time and its peak resident set size (the kernel's
  high-water mark ``VmHWM``, reset at the start of each stage through ``/proc/self/clear_refs``, so each
  peak belongs to its stage; without that file the peak is the process's so far);
- ``phases``: exclusive wall time of the package functions ``run`` chains (price loading, day 0, the return
  panel, the model fit, CARs, the inference inputs, the tests), found by name in every loaded
  ``eventstudy`` module and wrapped for the duration of the run (nothing re-implemented; a name the
  package no longer has is skipped); ``compute`` = fit + CARs + inference inputs + tests;
- each stage is also printed on stderr as one JSON line when it ends (with the name of the next), so a
  run killed for its memory or time still shows the stages it finished and the one it was in;
- with ``--profile PATH``, the ``pstats`` listing of a cProfile of ``run`` + ``write_tables`` (timings of
  a profiled run are inflated: use them for where the time goes, not how much).

Usage::

    python scripts/bench_study.py DATA_DIR --out DIR [--tests A,B | --all-tests] [--profile PATH]
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import functools  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ESTIMATION = (-250, -11)
EVENT_WINDOW = (-5, 5)
PEER_TESTS = "cross_sectional_t,patell_z,bmp_t"


def memory_mb() -> tuple[float, float]:
    """Peak (``VmHWM``) and current (``VmRSS``) resident set size of this process in MiB."""
    found: dict[str, float] = {}
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    found[line[:5]] = int(line.split()[1]) / 1024.0
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        return peak, float("nan")
    return found.get("VmHWM", float("nan")), found.get("VmRSS", float("nan"))


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5) so the next peak belongs to the next stage."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


class Stages:
    """Wall time and peak RSS of consecutive stages, each closed when the next one starts."""

    def __init__(self, first: str, started: float) -> None:
        self.rows: list[dict[str, Any]] = []
        self._name, self._start = first, started
        self.resettable = reset_peak()

    def next(self, name: str) -> None:
        """Close the current stage and start ``name``."""
        now = time.perf_counter()
        peak, rss = memory_mb()
        self.rows.append({"stage": self._name, "seconds": now - self._start, "peak_mb": peak, "rss_mb": rss})
        print(json.dumps({**self.rows[-1], "next": name}), file=sys.stderr, flush=True)
        self._name, self._start = name, now
        reset_peak()

    def message(self, text: str) -> None:
        """The ``progress`` callback of ``run``: each message starts a stage named by it."""
        self.next(f"run: {text}")


MODULE_PHASES = (
    ("day 0", "calendar_day_zero"),
    ("day 0", "resolve_day_zero"),
    ("panel", "build_panel"),
    ("panel", "align_pairs"),
    ("panel", "gather_windows"),
    ("engine, rest", "estimate"),
    ("inference inputs", "inference_data"),
    ("tests", "run_tests"),
)
"""(phase, function name) wrapped in every loaded ``eventstudy`` module that holds the function."""
COMPUTE = ("fit", "cars", "inference inputs", "tests")


class PhaseClock:
    """Exclusive wall time of named steps: time spent in a nested timed step is counted once, in the inner one."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[float] = []

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with its wall time added to phase ``name``."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._stack.pop()
                self.times[name] = self.times.get(name, 0.0) + elapsed - inner
                self.calls[name] = self.calls.get(name, 0) + 1
                if self._stack:
                    self._stack[-1] += elapsed

        return timed


def _targets() -> list[tuple[str, Any, str]]:
    """(phase, owner, attribute) of every phase: module functions by name, and the methods of the classes."""
    from eventstudy.models import ModelFit, get_model
    from eventstudy.results import StudyResult
    from eventstudy.study import EventStudy

    modules = [m for name, m in sorted(sys.modules.items()) if name.startswith("eventstudy") and m is not None]
    found = [(phase, m, attr) for m in modules for phase, attr in MODULE_PHASES if callable(getattr(m, attr, None))]
    return [
        *found,
        ("day 0", EventStudy, "calendar_day_zero"),
        ("prices", EventStudy, "load_prices"),
        ("fit", type(get_model("market")), "fit"),
        ("cars", ModelFit, "cars"),
        ("write tables", StudyResult, "write_tables"),
    ]


@contextmanager
def phase_clock() -> Iterator[PhaseClock]:
    """Wrap every phase function wherever a loaded module or class holds it; undo on exit."""
    clock = PhaseClock()
    undo: list[tuple[Any, str, Any]] = []
    wrapped: dict[int, Callable[..., Any]] = {}
    missing = object()
    try:
        for phase, owner, attr in _targets():
            original = getattr(owner, attr, None)
            if original is None:
                continue
            if id(original) not in wrapped:
                wrapped[id(original)] = clock.wrap(phase, original)
            undo.append((owner, attr, vars(owner).get(attr, missing)))
            setattr(owner, attr, wrapped[id(original)])
        yield clock
    finally:
        for owner, attr, own in reversed(undo):
            if own is missing:
                delattr(owner, attr)
            else:
                setattr(owner, attr, own)


def keyword(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` as a keyword argument: integers as int, anything else as text."""
    name, _, value = text.partition("=")
    return name.strip(), int(value) if value.strip().lstrip("-").isdigit() else value.strip()


def main(argv: list[str] | None = None) -> int:
    """Run the study on DATA_DIR and print its stages as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="benchmark data folder (returns.parquet, events.csv)")
    parser.add_argument("--out", type=Path, required=True, help="output folder of the tables")
    parser.add_argument("--tests", default=PEER_TESTS, help="comma-separated test names (default: the peers')")
    parser.add_argument("--all-tests", action="store_true", help="every registered test (the default study)")
    parser.add_argument(
        "--study-kw", action="append", default=[], metavar="NAME=VALUE", help="keyword of EventStudy, repeatable"
    )
    parser.add_argument("--profile", type=Path, help="cProfile run + write_tables; pstats listing to this file")
    args = parser.parse_args(argv)

    stages = Stages("imports", START)
    import eventstudy as es
    from eventstudy.data.parquet import ParquetPrices

    stages.next("read events")
    events = es.read_events(args.data / "events.csv")
    study = es.EventStudy(
        events,
        ParquetPrices(args.data / "returns.parquet", kind="return"),
        estimation_window=ESTIMATION,
        event_window=EVENT_WINDOW,
        tests=None if args.all_tests else tuple(args.tests.split(",")),
        progress=False,
        **dict(keyword(text) for text in args.study_kw),
    )
    stages.next("run: calendar day 0")
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    with phase_clock() as clock:
        started = time.perf_counter()
        result = study.run(progress=stages.message)
        run_s = time.perf_counter() - started
        stages.next("write tables")
        result.write_tables(args.out)
    stages.next("end")
    if profiler is not None:
        import pstats

        profiler.disable()
        text = io.StringIO()
        listing = pstats.Stats(profiler, stream=text)
        listing.sort_stats("tottime").print_stats(30)
        listing.sort_stats("cumulative").print_stats(40)
        args.profile.write_text(text.getvalue())
    print(
        json.dumps(
            {
                "stages": stages.rows,
                "peak_reset": stages.resettable,
                "phases": clock.times,
                "phase_calls": clock.calls,
                "compute_s": sum(clock.times.get(name, 0.0) for name in COMPUTE),
                "run_s": run_s,
                "total_s": time.perf_counter() - START,
                "n_firm_events": int(result.n_firm_events),
                "n_exclusions": len(result.exclusions),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
