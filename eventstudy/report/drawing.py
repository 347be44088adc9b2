"""Drawing a report's figures: each drawn once, saved as PNG and vector PDF, in worker processes when it pays.

A figure costs a few tenths of a second (matplotlib's layout and text), so a report with a dozen figures
spends much of its time here. :func:`draw_figures` spreads the figures over forked worker processes (one per
available core, at most :data:`MAX_WORKERS`) when forking is safe: on Linux (macOS forbids forking once some
system libraries have started; Windows cannot fork), from the main thread, and with no other thread in this
process but :data:`IDLE_THREADS` (a notebook kernel's threads make a fork unsafe, so a notebook draws
in-process). Forked workers inherit the
result, so nothing is pickled but the bytes coming back, and the bytes do not depend on where a figure was
drawn.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from eventstudy.plots import figure_pdf, figure_png
from eventstudy.report._format import FigureSpec
from eventstudy.report._tables import render_figure

__all__ = ["IDLE_THREADS", "MAX_WORKERS", "MIN_PARALLEL", "FigureDrawing", "draw_figure", "draw_figures", "workers_for"]

MAX_WORKERS = 4
"""Most worker processes used to draw figures."""
MIN_PARALLEL = 4
"""Fewest figures for which worker processes are started (below, starting them costs more than it saves)."""

IDLE_THREADS = frozenset({"tqdm_monitor"})
"""Threads that may be alive at a fork without making it unsafe: they sleep, and the workers never touch what
they lock (tqdm's monitor, left running by a progress bar of the price download)."""

_job: tuple[Any, Sequence[FigureSpec], int] | None = None
"""The work of a forked worker process (set by its initializer; unused in the parent process)."""


def draw_figure(result: Any, spec: FigureSpec, dpi: int) -> tuple[bytes, bytes]:
    """Draw one figure and return its PNG bytes (at ``dpi``) and its one-page vector PDF bytes.

    The constrained layout is computed once, for the PNG, and then frozen, so the PDF does not lay the figure
    out again (and has the same layout).
    """
    fig = render_figure(result, spec)
    png = figure_png(fig, dpi=dpi)
    fig.set_layout_engine("none")
    return png, figure_pdf(fig)


def _start_worker(result: Any, specs: Sequence[FigureSpec], dpi: int) -> None:
    global _job
    _job = (result, specs, dpi)


def _draw_in_worker(index: int) -> tuple[bytes, bytes]:
    assert _job is not None, "called outside a worker process"
    result, specs, dpi = _job
    return draw_figure(result, specs[index], dpi)


def workers_for(n_figures: int) -> int:
    """Worker processes :func:`draw_figures` uses for ``n_figures`` figures (0: draw in this process)."""
    if n_figures < MIN_PARALLEL or not sys.platform.startswith("linux"):
        return 0  # fork is the start method that shares the result for free; on macOS it is unsafe
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and t.name not in IDLE_THREADS]
    if others or threading.current_thread() is not threading.main_thread():
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(MAX_WORKERS, cores, n_figures // 2)
    return workers if workers >= 2 else 0


class FigureDrawing:
    """The figures of a report being drawn: in worker processes from the start, or here when asked for.

    Created by :func:`draw_figures`; use as a context manager (leaving it stops the workers) and read the
    files with :meth:`files`. Meanwhile this process is free for other work (the documents that need no
    figure), which then runs alongside the workers.
    """

    def __init__(self, result: Any, specs: Sequence[FigureSpec], dpi: int) -> None:
        self._result, self._specs, self._dpi = result, list(specs), dpi
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[tuple[bytes, bytes]]] = []
        workers = workers_for(len(self._specs))
        if workers:
            self._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(result, self._specs, dpi),
            )
            self._futures = [self._pool.submit(_draw_in_worker, k) for k in range(len(self._specs))]

    def __enter__(self) -> FigureDrawing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (figures not yet drawn are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def files(self, done: Callable[[int], None] | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Yield (PNG, PDF) bytes of each figure in the order of the specs, waiting for each as needed.

        ``done`` is called with the number of figures finished so far as each one is yielded. A figure whose
        worker failed is drawn again here, so an error surfaces with its own type and message.
        """
        for k, spec in enumerate(self._specs, start=1):
            if self._futures:
                try:
                    files = self._futures[k - 1].result()
                except Exception:  # the worker's error, or a broken pool: draw here to raise the real error
                    files = draw_figure(self._result, spec, self._dpi)
            else:
                files = draw_figure(self._result, spec, self._dpi)
            yield files
            if done is not None:
                done(k)


def draw_figures(result: Any, specs: Sequence[FigureSpec], dpi: int) -> FigureDrawing:
    """Start drawing every figure of ``specs`` (PNG at ``dpi`` and vector PDF each).

    Parameters
    ----------
    result
        The study result the figures are drawn from.
    specs
        The figures (:func:`eventstudy.report._tables.figure_specs`).
    dpi
        Resolution of the PNGs.

    Returns
    -------
    FigureDrawing
        With :func:`workers_for` > 0 the figures are already being drawn in forked worker processes;
        otherwise they are drawn in this process as :meth:`FigureDrawing.files` reaches them. The bytes are
        the same either way.
    """
    return FigureDrawing(result, specs, dpi)
