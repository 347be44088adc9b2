"""Executors return ``function(item, shared)`` for every item, in the items' order.

The expected values are the plain list comprehension over the toy functions below; the process-pool tests
also check where the work ran (worker pids) and how often ``shared`` was unpickled in each worker.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from eventstudy.errors import InputError, UnknownNameError, WorkerLostError
from eventstudy.executors import (
    DASK_INSTALL,
    EXECUTORS,
    WORKER_ENVIRONMENT,
    ProcessExecutor,
    SerialExecutor,
    get_executor,
)


class Loads:
    """A ``shared`` value that counts how many times it was unpickled in the current process."""

    count = 0  # per process: a class attribute of this module as imported there

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).count += 1
        self.__dict__.update(state)


def _scaled(item: int, shared: dict[str, int]) -> int:
    return item * shared["factor"]


def _where(item: int, shared: Loads) -> tuple[int, int, int, str | None]:
    time.sleep(0.02 * (item % 3))  # finish out of order
    return item * shared.factor, os.getpid(), Loads.count, os.environ.get("OPENBLAS_NUM_THREADS")


def _fails_on_three(item: int, shared: dict[str, int]) -> int:
    if item == 3:
        raise KeyError(f"item {item} has no price")
    return item * shared["factor"]


def _dies_once(item: int, shared: dict[str, str]) -> int:
    """Kill the worker on item 2 the first time it is run (a marker file remembers it across pools)."""
    marker = Path(shared["folder"]) / f"died-{item}"
    if item == 2 and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return item * 10


def _always_dies(item: int, shared: object) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return item


class TestSerialExecutor:
    def test_keeps_item_order_and_passes_shared(self) -> None:
        assert SerialExecutor().map(_scaled, [3, 1, 2], {"factor": 10}) == [30, 10, 20]

    def test_no_items(self) -> None:
        assert SerialExecutor().map(_scaled, [], {"factor": 10}) == []

    def test_an_exception_surfaces_as_itself(self) -> None:
        with pytest.raises(KeyError, match="item 3 has no price"):
            SerialExecutor().map(_fails_on_three, [1, 2, 3, 4], {"factor": 10})


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
class TestProcessExecutor:
    def test_item_order_shared_once_per_worker_and_worker_environment(self) -> None:
        items = list(range(12))
        before = {name: os.environ.get(name) for name in WORKER_ENVIRONMENT}
        out = ProcessExecutor(workers=2).map(_where, items, Loads(7))
        assert [o[0] for o in out] == [7 * i for i in items]
        pids = {o[1] for o in out}
        assert os.getpid() not in pids and 1 <= len(pids) <= 2
        assert {o[2] for o in out} == {1}  # unpickled once in each worker, not once per item
        assert {o[3] for o in out} == {WORKER_ENVIRONMENT["OPENBLAS_NUM_THREADS"]}
        assert {name: os.environ.get(name) for name in WORKER_ENVIRONMENT} == before  # the caller's, restored

    def test_no_items_starts_no_pool(self) -> None:
        assert ProcessExecutor(workers=2).map(_scaled, [], {"factor": 10}) == []

    def test_an_exception_surfaces_as_itself(self) -> None:
        with pytest.raises(KeyError, match="item 3 has no price"):
            ProcessExecutor(workers=2).map(_fails_on_three, [1, 2, 3, 4], {"factor": 10})

    def test_a_dead_worker_s_items_rerun_in_a_fresh_pool(self, tmp_path: Path) -> None:
        out = ProcessExecutor(workers=2, retries=1).map(_dies_once, [0, 1, 2, 3, 4], {"folder": str(tmp_path)})
        assert out == [0, 10, 20, 30, 40]
        assert (tmp_path / "died-2").exists()  # the worker did die once

    def test_workers_that_keep_dying_give_a_clear_error(self) -> None:
        with pytest.raises(WorkerLostError) as caught:
            ProcessExecutor(workers=1, retries=1).map(_always_dies, [1, 2], None)
        assert (caught.value.executor, caught.value.unfinished, caught.value.attempts) == ("processes", 2, 2)
        assert caught.value.exit_code == 1

    @pytest.mark.parametrize(("setting", "value"), [("workers", 0), ("workers", 1.5), ("retries", -1)])
    def test_bad_settings(self, setting: str, value: Any) -> None:
        with pytest.raises(InputError) as caught:
            ProcessExecutor(**{setting: value})
        assert (caught.value.parameter, caught.value.value) == (setting, value)


class TestGetExecutor:
    def test_names(self) -> None:
        assert EXECUTORS == ("serial", "processes", "dask")
        assert isinstance(get_executor(), SerialExecutor)
        processes = get_executor("processes", workers=3)
        assert isinstance(processes, ProcessExecutor) and processes.workers == 3
        assert get_executor("processes").workers == (os.cpu_count() or 1)

    def test_an_executor_passes_through(self) -> None:
        mine = SerialExecutor()
        assert get_executor(mine) is mine

    def test_unknown_name_lists_the_valid_ones(self) -> None:
        with pytest.raises(UnknownNameError) as caught:
            get_executor("proceses")
        assert caught.value.parameter == "executor" and caught.value.value == "proceses"
        assert caught.value.valid == ("dask", "processes", "serial")
        assert caught.value.exit_code == 2

    @pytest.mark.parametrize(
        ("executor", "settings", "parameter"),
        [
            ("serial", {"workers": 2}, "workers"),
            ("dask", {"workers": 2}, "workers"),
            ("serial", {"address": "tcp://127.0.0.1:8786"}, "scheduler"),
            ("processes", {"client": object()}, "scheduler"),
            (SerialExecutor(), {"workers": 2}, "executor"),
        ],
    )
    def test_settings_of_another_executor(self, executor: Any, settings: dict[str, Any], parameter: str) -> None:
        with pytest.raises(InputError) as caught:
            get_executor(executor, **settings)
        assert caught.value.parameter == parameter

    def test_dask_without_the_extra_names_the_install_command(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
        with pytest.raises(InputError) as caught:
            get_executor("dask", address="tcp://127.0.0.1:8786")
        assert (caught.value.parameter, caught.value.value) == ("executor", "dask")
        assert DASK_INSTALL in str(caught.value) and "eventstudy-toolkit[dask]" in DASK_INSTALL
