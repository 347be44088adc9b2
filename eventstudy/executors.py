"""Executors: where the chunks of a study run.

An executor maps a function over a sequence of work items and returns the results **in the items'
order**, whatever order they finished in. Every item is evaluated as ``function(item, shared)``: ``shared``
is the large read-only input all items need (e.g. the price table and the study settings), handed to the
executor once so that it can ship it to each worker once rather than once per item.

Results never depend on the executor: the function must be a pure function of its item and ``shared``
(the engine's chunks are; their resampling draws depend only on the seed, the test and the group's
identity, not on which chunk or worker computed them).

- :class:`SerialExecutor` (``"serial"``, the default) runs everything in the calling process, one item
  after the other.
- :class:`ProcessExecutor` (``"processes"``) runs the items in a pool of spawned worker processes on
  this machine; ``shared`` is pickled once per worker (the pool's initializer), the function and each
  item once per item, so the function must be importable (defined at module level). A worker that
  dies (killed, out of memory) breaks the pool: the items without a result run again in a fresh pool,
  up to ``retries`` times, then :class:`~eventstudy.errors.WorkerLostError`.
- :class:`DaskExecutor` (``"dask"``, the ``dask`` extra) runs the items as tasks of a Dask
  ``distributed`` cluster: ``shared`` is scattered to every worker once (``broadcast=True``), the items
  are mapped with ``retries`` (a task whose worker dies is rescheduled by the scheduler as well) and the
  results gathered in item order; a task whose workers keep dying gives
  :class:`~eventstudy.errors.WorkerLostError`. When the last copy of ``shared`` is lost with its worker
  (the scheduler then cancels the tasks that need it), ``shared`` is scattered again and the unfinished
  items run again, up to ``retries`` times.

An exception raised by the function is raised by ``map`` as itself (its type and message), after the
other items have been cancelled where the executor allows it.

:func:`get_executor` turns the name of the ``--executor`` option into an executor.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Literal, Protocol, TypeVar

from eventstudy.errors import InputError, UnknownNameError, WorkerLostError

Item = TypeVar("Item")
Result = TypeVar("Result")

ExecutorName = Literal["serial", "processes", "dask"]
EXECUTORS: tuple[ExecutorName, ...] = ("serial", "processes", "dask")
"""Choices of the ``--executor`` option."""

DASK_INSTALL = 'pip install "eventstudy-toolkit[dask]"'
"""The command that installs the ``dask`` extra (``pip install -e ".[dask]"`` in a checkout)."""

WORKER_ENVIRONMENT = {
    # one BLAS thread per worker: with a multi-threaded BLAS inside each of two workers on two cores, the
    # matrix products of some tests (Kolari-Pynnönen r̄) ran several times slower
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    # glibc malloc: keep freed blocks of up to 32 MB on the heap instead of returning them to the kernel
    # after every test call; this removed ~90 % of the page faults (system time 12 % -> 1 % of CPU time)
    "MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(256 * 1024 * 1024),
}
"""Environment of spawned worker processes (read by BLAS and malloc when a worker starts)."""


@contextmanager
def worker_environment() -> Iterator[None]:
    """Set :data:`WORKER_ENVIRONMENT` while worker processes start, then restore the caller's values.

    The workers are spawned (fresh interpreters), so BLAS and malloc read these variables when they load;
    the calling process is not affected.
    """
    saved = {name: os.environ.get(name) for name in WORKER_ENVIRONMENT}
    os.environ.update(WORKER_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Executor(Protocol):
    """Anything that maps ``function(item, shared)`` over items and returns the results in item order."""

    name: str

    def map(self, function: Callable[[Item, Any], Result], items: Sequence[Item], shared: Any) -> list[Result]:
        """``[function(item, shared) for item in items]``, evaluated wherever the executor runs work."""
        ...


class SerialExecutor:
    """Run every item in the calling process, in order."""

    name = "serial"

    def map(self, function: Callable[[Item, Any], Result], items: Sequence[Item], shared: Any) -> list[Result]:
        """``[function(item, shared) for item in items]``."""
        return [function(item, shared) for item in items]


_SHARED: Any = None
"""``shared`` of the current map, in a worker process of :class:`ProcessExecutor` (set by its initializer)."""


def _receive_shared(shared: Any) -> None:
    global _SHARED
    _SHARED = shared


def _call_with_shared(function: Callable[[Any, Any], Any], item: Any) -> Any:
    return function(item, _SHARED)


class ProcessExecutor:
    """Run the items in a pool of spawned worker processes on this machine.

    Parameters
    ----------
    workers
        Number of worker processes (at most one per item is started); default ``os.cpu_count()``.
    retries
        How many fresh pools may be started after a worker died, for the items that had no result.

    Raises
    ------
    InputError
        ``workers`` below 1 or ``retries`` below 0.

    Notes
    -----
    Workers are spawned (never forked) with :data:`WORKER_ENVIRONMENT`: one BLAS thread each. ``shared``
    reaches each worker once, as the argument of the pool's initializer; the function and an item are
    pickled per item, so the function must be defined at module level.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, retries: int = 3) -> None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InputError(
                f"the number of worker processes must be a whole number of at least 1, got {workers!r}",
                parameter="workers",
                value=workers,
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InputError(
                f"retries must be a whole number of at least 0, got {retries!r}", parameter="retries", value=retries
            )
        self.workers = workers
        self.retries = retries

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers}, retries={self.retries})"

    def map(self, function: Callable[[Item, Any], Result], items: Sequence[Item], shared: Any) -> list[Result]:
        """``[function(item, shared) for item in items]``, evaluated in worker processes.

        Raises
        ------
        WorkerLostError
            A worker died in the first pool and in each of the ``retries`` pools after it.
        Exception
            Whatever ``function`` raised for an item (the first one noticed), as itself.
        """
        results: dict[int, Result] = {}
        pending = list(range(len(items)))
        attempts = 0
        while pending:
            if attempts > self.retries:
                raise WorkerLostError(self.name, len(pending), attempts)
            attempts += 1
            results.update(self._run_pool(function, items, shared, pending))
            pending = [i for i in pending if i not in results]
        return [results[i] for i in range(len(items))]

    def _run_pool(
        self, function: Callable[[Item, Any], Result], items: Sequence[Item], shared: Any, indices: list[int]
    ) -> dict[int, Result]:
        """Results of the items at ``indices`` that finished before the pool broke (all of them if it did not)."""
        context = multiprocessing.get_context("spawn")
        with worker_environment():  # inherited by the workers, which start while the items are submitted
            pool = ProcessPoolExecutor(
                max_workers=min(self.workers, len(indices)),
                mp_context=context,
                initializer=_receive_shared,
                initargs=(shared,),
            )
            futures: dict[Future[Result], int] = {
                pool.submit(_call_with_shared, function, items[i]): i for i in indices
            }
        done: dict[int, Result] = {}
        try:
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in finished:
                error = future.exception()
                if error is None:
                    done[futures[future]] = future.result()
                elif not isinstance(error, BrokenProcessPool):
                    raise error
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for future, index in futures.items():  # finished after the first failure was noticed
            if index not in done and future.done() and not future.cancelled() and future.exception() is None:
                done[index] = future.result()
        return done


class DaskExecutor:
    """Run the items as tasks on a Dask ``distributed`` cluster (the ``dask`` extra).

    Parameters
    ----------
    client
        A connected ``distributed.Client``; it stays open after :meth:`map`.
    address
        Otherwise the scheduler's address (``tcp://host:8786``): :meth:`map` connects a client for its
        own duration and closes it afterwards. With neither, the default client of this process
        (``distributed.default_client()``).
    retries
        How many times a failed task is run again (``Client.map(retries=)``); a task whose worker died is
        rescheduled by the scheduler in any case (up to ``distributed.scheduler.allowed-failures``).

    Raises
    ------
    InputError
        Both ``client`` and ``address``, ``retries`` below 0, or the ``dask`` extra not installed (the
        message names ``pip install "eventstudy-toolkit[dask]"``).

    Notes
    -----
    ``shared`` is scattered once to every worker (``Client.scatter(broadcast=True, hash=False)``) and the
    items are mapped with ``pure=False`` (no hashing of large items). The function is pickled with
    cloudpickle, so it need not be importable on the workers, but everything it imports must be.
    """

    name = "dask"

    def __init__(self, client: Any = None, address: str | None = None, retries: int = 3) -> None:
        import_distributed()
        if client is not None and address is not None:
            raise InputError(
                "give a Dask client or a scheduler address, not both", parameter="scheduler", value=address
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InputError(
                f"retries must be a whole number of at least 0, got {retries!r}", parameter="retries", value=retries
            )
        self.client = client
        self.address = address
        self.retries = retries

    def __repr__(self) -> str:
        where = f"address={self.address!r}" if self.address is not None else f"client={self.client!r}"
        return f"DaskExecutor({where}, retries={self.retries})"

    def map(self, function: Callable[[Item, Any], Result], items: Sequence[Item], shared: Any) -> list[Result]:
        """``[function(item, shared) for item in items]``, evaluated as tasks on the cluster's workers.

        Raises
        ------
        InputError
            No client given and none to connect to (no address, no default client), or no scheduler answers
            at ``address`` (within ``distributed.comm.timeouts.connect``, 30 s by default).
        WorkerLostError
            The workers running an item kept dying (``distributed.KilledWorker``: more than
            ``distributed.scheduler.allowed-failures`` times).
        Exception
            Whatever ``function`` raised for an item after its retries, as itself.
        """
        if not items:
            return []
        distributed = import_distributed()
        if self.address is not None:
            try:
                client = distributed.Client(self.address)
            except OSError as error:  # refused, unknown host or no answer within distributed.comm.timeouts.connect
                raise InputError(
                    f"cannot reach a Dask scheduler at {self.address} ({error}); check the address "
                    "(tcp://host:port) and that the scheduler is running",
                    parameter="scheduler",
                    value=self.address,
                ) from None
            with client:
                return self._map_on(client, function, items, shared)
        client = self.client
        if client is None:
            try:
                client = distributed.default_client()
            except ValueError:
                raise InputError(
                    "the dask executor needs a cluster and this process has no default Dask client: give the "
                    "scheduler's address (--scheduler tcp://host:port on the command line, address= in Python) or a "
                    "distributed.Client (client=)",
                    parameter="scheduler",
                    value=None,
                ) from None
        return self._map_on(client, function, items, shared)

    def _scatter(self, client: Any, shared: Any) -> Any:
        """Copy ``shared`` to every worker, again (up to ``retries`` times) when a worker dies during the copy.

        The broadcast talks to every worker; one killed meanwhile breaks it (a closed connection, or the
        scheduler no longer knowing the worker), while its nanny starts a new one.
        """
        for attempt in range(self.retries):
            try:
                return _scatter_once(client, shared)
            except (OSError, KeyError):
                time.sleep(0.5 * (attempt + 1))
        return _scatter_once(client, shared)  # the last attempt raises as itself

    def _map_on(
        self, client: Any, function: Callable[[Item, Any], Result], items: Sequence[Item], shared: Any
    ) -> list[Result]:
        """Scatter ``shared``, map the items, gather; again for the unfinished items if ``shared`` was lost.

        The scheduler cancels every task that needs scattered data whose last copy was on a worker that died
        (a broadcast reaches only the workers alive at that moment, so a cluster that was down to one worker
        loses it with that worker): those items run again after ``shared`` is scattered anew, up to
        ``retries`` times.
        """
        distributed = import_distributed()
        results: dict[int, Result] = {}
        for _ in range(self.retries + 1):
            pending = [i for i in range(len(items)) if i not in results]
            shared_future = self._scatter(client, shared)
            futures = client.map(
                function, [items[i] for i in pending], [shared_future] * len(pending), pure=False, retries=self.retries
            )
            try:
                for i, future in zip(pending, futures, strict=True):
                    results[i] = future.result()
                return [results[i] for i in range(len(items))]
            except CancelledError:  # the scattered copy of shared was lost with its last worker
                for i, future in zip(pending, futures, strict=True):
                    if future.status == "finished":
                        results[i] = future.result()
            except distributed.KilledWorker as error:  # a task's workers died allowed-failures + 1 times
                done = set(results) | {
                    i for i, future in zip(pending, futures, strict=True) if future.status == "finished"
                }
                raise WorkerLostError(self.name, len(items) - len(done), None) from error
            finally:
                client.cancel([*futures, shared_future])
        raise WorkerLostError(self.name, len(items) - len(results), self.retries + 1)


def _scatter_once(client: Any, shared: Any) -> Any:
    """``shared`` copied to every worker; its future."""
    (future,) = client.scatter([shared], broadcast=True, hash=False)  # a list: one future for the whole
    return future


def import_distributed() -> Any:
    """The ``distributed`` module, or an :class:`~eventstudy.errors.InputError` naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise InputError(
            f"the dask executor needs the dask extra, which is not installed: {DASK_INSTALL}",
            parameter="executor",
            value="dask",
        ) from None
    return distributed


def get_executor(
    executor: ExecutorName | str | Executor = "serial",
    *,
    workers: int | None = None,
    client: Any = None,
    address: str | None = None,
) -> Executor:
    """The executor of a name (:data:`EXECUTORS`), or ``executor`` itself if it is one already.

    Parameters
    ----------
    executor
        ``"serial"``, ``"processes"`` or ``"dask"``, or an object with ``name`` and ``map``.
    workers
        Worker processes of ``"processes"`` (default ``os.cpu_count()``).
    client, address
        The Dask client or scheduler address of ``"dask"``.

    Returns
    -------
    Executor

    Raises
    ------
    UnknownNameError
        An unknown name (the message lists the valid ones).
    InputError
        ``workers`` for another executor than ``"processes"``, ``client``/``address`` for another than
        ``"dask"``, or ``"dask"`` without the ``dask`` extra.

    Examples
    --------
    >>> get_executor("serial").name, get_executor("processes", workers=2).workers
    ('serial', 2)
    """
    if not isinstance(executor, str):
        if workers is not None or client is not None or address is not None:
            raise InputError(
                "workers, client and address are settings of an executor's name, not of an executor object",
                parameter="executor",
                value=getattr(executor, "name", executor),
            )
        return executor
    if executor not in EXECUTORS:
        raise UnknownNameError("executor", executor, EXECUTORS, parameter="executor")
    if workers is not None and executor != "processes":
        raise InputError(
            f"workers applies to the processes executor, not to {executor!r}", parameter="workers", value=workers
        )
    if (client is not None or address is not None) and executor != "dask":
        raise InputError(
            f"a Dask client or scheduler address applies to the dask executor, not to {executor!r}",
            parameter="scheduler",
            value=address if address is not None else client,
        )
    if executor == "processes":
        return ProcessExecutor(workers)
    if executor == "dask":
        return DaskExecutor(client=client, address=address)
    return SerialExecutor()


__all__ = [
    "DASK_INSTALL",
    "EXECUTORS",
    "WORKER_ENVIRONMENT",
    "DaskExecutor",
    "Executor",
    "ExecutorName",
    "ProcessExecutor",
    "SerialExecutor",
    "get_executor",
    "import_distributed",
    "worker_environment",
]
