"""Tests of eventstudy.report.drawing: the same bytes whether figures are drawn here or in worker processes."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from eventstudy.report import drawing
from eventstudy.report._tables import figure_specs

_spec = importlib.util.spec_from_file_location("_fake_study_result", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
make_fake_result = _fake.make_fake_result

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def serial() -> list[tuple[bytes, bytes]]:
    """Every figure of the fake report, drawn in this process one by one."""
    result = make_fake_result()
    return [drawing.draw_figure(result, spec, 150) for spec in figure_specs(result)]


def test_files_are_png_and_pdf(serial: list[tuple[bytes, bytes]]) -> None:
    assert len(serial) == 6  # all events, the heat map, and per event its AAR and CAR figures
    assert all(png.startswith(PNG_MAGIC) and pdf.startswith(b"%PDF-") for png, pdf in serial)


@pytest.mark.skipif(not drawing.sys.platform.startswith("linux"), reason="forked workers on Linux only")
def test_workers_give_the_same_bytes(serial: list[tuple[bytes, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drawing, "workers_for", lambda n: 2)
    result = make_fake_result()
    done: list[int] = []
    with drawing.draw_figures(result, figure_specs(result), 150) as started:
        assert list(started.files(done=done.append)) == serial
    assert done == list(range(1, len(serial) + 1))


@pytest.mark.skipif(not drawing.sys.platform.startswith("linux"), reason="forked workers on Linux only")
def test_a_failed_worker_is_redrawn_here(serial: list[tuple[bytes, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(index: int) -> tuple[bytes, bytes]:
        raise RuntimeError("worker lost")

    monkeypatch.setattr(drawing, "workers_for", lambda n: 2)
    monkeypatch.setattr(drawing, "_draw_in_worker", broken)  # inherited by the forked workers
    result = make_fake_result()
    with drawing.draw_figures(result, figure_specs(result), 150) as started:
        assert list(started.files()) == serial


def test_in_process_when_no_workers(serial: list[tuple[bytes, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drawing, "workers_for", lambda n: 0)
    result = make_fake_result()
    with drawing.draw_figures(result, figure_specs(result), 150) as started:
        assert list(started.files()) == serial


def test_workers_only_when_safe_and_worth_it(monkeypatch: pytest.MonkeyPatch) -> None:
    main = threading.main_thread()

    def threads(*names: str) -> None:
        alive = [main, *(SimpleNamespace(name=name) for name in names)]
        monkeypatch.setattr(threading, "enumerate", lambda: alive)

    monkeypatch.setattr(drawing.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    threads()
    linux = drawing.sys.platform.startswith("linux")
    assert drawing.workers_for(drawing.MIN_PARALLEL - 1) == 0  # too few figures to pay for a process
    assert drawing.workers_for(16) == (2 if linux else 0)
    threads("tqdm_monitor")  # left behind by the price download's progress bar: asleep, harmless
    assert drawing.workers_for(16) == (2 if linux else 0)
    threads("Thread-3 (heartbeat)")  # a notebook kernel: no fork
    assert drawing.workers_for(16) == 0
    threads()
    monkeypatch.setattr(drawing.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert drawing.workers_for(16) == 0  # one core: nothing to gain
