"""The dask executor on a 2-worker local cluster: same results as the serial executor, retries after a killed worker.

One ``LocalCluster`` (2 worker processes, 1 thread and 1 GiB each, no dashboard) serves every test of the
session. The expected values are the plain list comprehension over the toy functions.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from eventstudy.errors import InputError
from eventstudy.executors import DaskExecutor, ProcessExecutor, SerialExecutor, get_executor

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A client of a 2-worker local cluster of processes with a memory limit per worker."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            memory_limit="1GiB",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


class Loads:
    """A ``shared`` value that counts how many times it was unpickled in the current process."""

    count = 0

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).count += 1
        self.__dict__.update(state)


def _scaled(item: int, shared: dict[str, int]) -> int:
    return item * shared["factor"]


def _where(item: int, shared: Loads) -> tuple[int, int, int]:
    return item * shared.factor, os.getpid(), Loads.count


def _slow(item: int, shared: dict[str, float]) -> int:
    time.sleep(shared["sleep"])
    return item * item


def _fails_on_three(item: int, shared: dict[str, int]) -> int:
    if item == 3:
        raise KeyError(f"item {item} has no price")
    return item * shared["factor"]


class TestDaskExecutor:
    def test_item_order_and_shared_once_per_worker(self, dask_client: Any) -> None:
        items = list(range(20))
        out = DaskExecutor(dask_client).map(_where, items, Loads(7))
        assert [o[0] for o in out] == [7 * i for i in items]
        pids = set(dask_client.run(os.getpid).values())
        assert {o[1] for o in out} <= pids and os.getpid() not in pids
        assert {o[2] for o in out} == {1}  # scattered once to each worker, not shipped with every task

    def test_same_results_as_serial_and_processes(self, dask_client: Any) -> None:
        items, shared = [5, 3, 8, 1, 9, 2], {"factor": 3}
        expected = [i * 3 for i in items]
        assert SerialExecutor().map(_scaled, items, shared) == expected
        assert ProcessExecutor(workers=2).map(_scaled, items, shared) == expected
        assert DaskExecutor(dask_client).map(_scaled, items, shared) == expected

    def test_no_items(self, dask_client: Any) -> None:
        assert DaskExecutor(dask_client).map(_scaled, [], {"factor": 3}) == []

    def test_an_exception_surfaces_as_itself(self, dask_client: Any) -> None:
        with pytest.raises(KeyError, match="item 3 has no price"):
            DaskExecutor(dask_client, retries=0).map(_fails_on_three, [1, 2, 3, 4], {"factor": 10})

    def test_by_scheduler_address_and_by_name(self, dask_client: Any) -> None:
        address = dask_client.scheduler.address
        executor = get_executor("dask", address=address)
        assert isinstance(executor, DaskExecutor) and executor.name == "dask"
        assert executor.map(_scaled, [1, 2, 3], {"factor": 2}) == [2, 4, 6]
        assert get_executor("dask", client=dask_client).map(_scaled, [4], {"factor": 2}) == [8]

    def test_default_client_of_the_process(self, dask_client: Any) -> None:
        assert distributed.default_client() is dask_client  # a new client becomes the default
        assert DaskExecutor().map(_scaled, [1, 2], {"factor": 5}) == [5, 10]

    def test_no_client_at_all(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def no_default() -> None:
            raise ValueError("No clients found")

        monkeypatch.setattr(distributed, "default_client", no_default)
        with pytest.raises(InputError) as caught:
            DaskExecutor().map(_scaled, [1], {"factor": 5})
        assert caught.value.parameter == "scheduler"

    def test_client_and_address_together(self, dask_client: Any) -> None:
        with pytest.raises(InputError) as caught:
            DaskExecutor(dask_client, address="tcp://127.0.0.1:1")
        assert caught.value.parameter == "scheduler"

    def test_a_killed_worker_still_gives_the_same_results(self, dask_client: Any) -> None:
        items = list(range(12))
        victim = min(dask_client.run(os.getpid).values())

        def kill_soon() -> None:
            time.sleep(0.4)  # the tasks sleep 0.25 s each: the victim is busy with one
            os.kill(victim, signal.SIGKILL)

        killer = threading.Thread(target=kill_soon)
        killer.start()
        out = DaskExecutor(dask_client, retries=3).map(_slow, items, {"sleep": 0.25})
        killer.join()
        assert out == [i * i for i in items]
        dask_client.wait_for_workers(2, timeout=30)  # the nanny restarts the killed worker
        assert victim not in set(dask_client.run(os.getpid).values())
