"""Drawing a report's figures: each figure drawn once and saved as PNG and vector PDF, in worker processes when it pays.

A figure costs about half a second (matplotlib's layout and text), so a report with a dozen figures spends
most of its time here. :func:`draw_figures` spreads the figures over forked worker processes (one per
available core, at most :data:`MAX_WORKERS`) when forking is safe: a POSIX ``fork`` start method and no other
thread in this process (a notebook kernel or a progress-bar thread would make a fork unsafe, so those draw
in-process). Forked workers inherit the result, so nothing is pickled but the bytes coming back. The bytes do
not depend on where a figure was drawn.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from eventstudy.plots import figure_pdf, figure_png
from eventstudy.report._format import FigureSpec
from eventstudy.report._tables import render_figure

__all__ = ["MAX_WORKERS", "MIN_PARALLEL", "draw_figure", "draw_figures"]

MAX_WORKERS = 4
"""Most worker processes used to draw figures."""
MIN_PARALLEL = 4
"""Fewest figures for which worker processes are started (below, starting them costs more than it saves)."""

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
    if n_figures < MIN_PARALLEL or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if threading.active_count() > 1:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(MAX_WORKERS, cores, n_figures // 2)
    return workers if workers >= 2 else 0


def draw_figures(
    result: Any,
    specs: Sequence[FigureSpec],
    dpi: int,
    done: Callable[[int], None] | None = None,
) -> Iterator[tuple[bytes, bytes]]:
    """Draw every figure of ``specs``, yielding (PNG, PDF) bytes in the order of ``specs``.

    Parameters
    ----------
    result
        The study result the figures are drawn from.
    specs
        The figures (:func:`eventstudy.report._tables.figure_specs`).
    dpi
        Resolution of the PNGs.
    done
        Called with the number of figures finished so far, in order, as each one is yielded.

    Yields
    ------
    tuple of bytes
        PNG and PDF bytes of each figure, in order.

    Notes
    -----
    With :func:`workers_for` > 0 the figures are drawn in forked worker processes. A figure whose worker
    failed is drawn again in this process, so an error surfaces here with its own type and message.
    """
    workers = workers_for(len(specs))
    if not workers:
        for k, spec in enumerate(specs, start=1):
            yield draw_figure(result, spec, dpi)
            if done is not None:
                done(k)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(result, specs, dpi)
    ) as pool:
        futures: list[Future[tuple[bytes, bytes]]] = [pool.submit(_draw_in_worker, k) for k in range(len(specs))]
        for k, (spec, future) in enumerate(zip(specs, futures, strict=True), start=1):
            try:
                files = future.result()
            except Exception:  # the worker's error, or a broken pool: draw here to raise the real error
                files = draw_figure(result, spec, dpi)
            yield files
            if done is not None:
                done(k)
