"""The dask executor on a 2-worker local cluster: same results as the serial executor, retries after a killed worker.

One ``LocalCluster`` (2 worker processes, 1 thread and 1 GiB each, HTTP server on a free port) serves every test of the
session. The expected values are the plain list comprehension over the toy functions.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eventstudy import EventStudy
from eventstudy.cli import main
from eventstudy.data import ReturnsFrame
from eventstudy.errors import InputError, WorkerLostError
from eventstudy.events import Event
from eventstudy.executors import DaskExecutor, SerialExecutor, get_executor

if os.environ.get("CI") == "true":  # CI installs the test extra, which holds the dask extra: never skip there
    import dask
    import distributed
else:
    distributed = pytest.importorskip("distributed", reason='the dask extra is not installed: pip install -e ".[dask]"')
    import dask

# A hung gather must fail its test, not stall the suite (seen once under heavy load); the cluster's start-up
# counts towards the first test that uses it. Slow: a cluster of processes starts (CI runs them all).
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A client of a 2-worker local cluster of processes with a memory limit per worker."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            memory_limit="1GiB",
            dashboard_address=":0",  # a free port: never the default 8787, which another cluster may hold
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def fresh_client() -> Iterator[Any]:
    """A client of a new 2-worker cluster, for a test that kills a worker.

    A killed worker's nanny starts a new one, but not always: in one CI run the new worker registered and was
    closed again at once, which left the shared cluster one worker short for the tests after it (and a broadcast
    then reached that single worker only). Each killing test therefore has a cluster of its own.
    """
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, memory_limit="1GiB", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        client.wait_for_workers(2, timeout=120)
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

    def test_same_results_as_serial(self, dask_client: Any) -> None:
        # (the processes executor on toy functions: tests/test_executors.py, whose workers import less)
        items, shared = [5, 3, 8, 1, 9, 2], {"factor": 3}
        expected = [i * 3 for i in items]
        assert SerialExecutor().map(_scaled, items, shared) == expected
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

    def test_no_scheduler_at_the_address(self) -> None:
        # a closed port: dask retries the refused connection until the connect timeout
        with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), pytest.raises(InputError) as caught:
            DaskExecutor(address="tcp://127.0.0.1:1").map(_scaled, [1], {"factor": 5})
        assert (caught.value.parameter, caught.value.value) == ("scheduler", "tcp://127.0.0.1:1")
        assert "cannot reach a Dask scheduler at tcp://127.0.0.1:1" in str(caught.value)

    def test_client_and_address_together(self, dask_client: Any) -> None:
        with pytest.raises(InputError) as caught:
            DaskExecutor(dask_client, address="tcp://127.0.0.1:1")
        assert caught.value.parameter == "scheduler"

    def test_a_killed_worker_still_gives_the_same_results(self, fresh_client: Any) -> None:
        items = list(range(12))
        victim = min(fresh_client.run(os.getpid).values())

        def kill_soon() -> None:
            time.sleep(0.4)  # the tasks sleep 0.25 s each: the victim is busy with one
            os.kill(victim, signal.SIGKILL)

        killer = threading.Thread(target=kill_soon)
        killer.start()
        out = DaskExecutor(fresh_client, retries=3).map(_slow, items, {"sleep": 0.25})
        killer.join()
        assert out == [i * i for i in items]
        assert victim not in set(fresh_client.run(os.getpid).values())


class _Future:
    """A finished or cancelled future of :class:`_LosingClient`."""

    def __init__(self, value: Any, cancelled: bool) -> None:
        self.value, self.status = value, "cancelled" if cancelled else "finished"

    def result(self) -> Any:
        if self.status == "cancelled":
            raise concurrent.futures.CancelledError("lost dependency")
        return self.value


class _LosingClient:
    """A client whose scattered ``shared`` is lost in its first ``losses`` maps: the tasks of such a map are
    cancelled (all but the first in the first map), as the scheduler cancels the tasks of scattered data whose
    last copy was on a worker that died."""

    def __init__(self, losses: int) -> None:
        self.losses, self.scatters = losses, 0
        self.mapped: list[list[Any]] = []

    def scatter(self, data: list[Any], broadcast: bool, hash: bool) -> list[Any]:
        self.scatters += 1
        return data

    def map(self, function: Any, items: list[Any], shareds: list[Any], pure: bool, retries: int) -> list[_Future]:
        self.mapped.append(items)
        lost, self.losses = self.losses > 0, self.losses - 1
        first = len(self.mapped) == 1
        return [
            _Future(function(i, s), lost and (k > 0 or not first))
            for k, (i, s) in enumerate(zip(items, shareds, strict=True))
        ]

    def cancel(self, futures: list[Any]) -> None:
        pass


class TestLostSharedData:
    def test_the_unfinished_items_run_again_after_a_new_scatter(self) -> None:
        client = _LosingClient(losses=1)
        assert DaskExecutor(client, retries=2).map(_scaled, [1, 2, 3], {"factor": 4}) == [4, 8, 12]
        assert client.mapped == [[1, 2, 3], [2, 3]] and client.scatters == 2

    def test_lost_more_often_than_the_retries(self) -> None:
        client = _LosingClient(losses=5)
        with pytest.raises(WorkerLostError) as caught:
            DaskExecutor(client, retries=2).map(_scaled, [1, 2, 3], {"factor": 4})
        assert (caught.value.unfinished, caught.value.attempts) == (2, 3) and client.scatters == 3


def _kills_its_worker(item: int, shared: object) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return item


def _set_allowed_failures(dask_scheduler: Any, n: int) -> int:
    """Set the scheduler's allowed-failures (lost workers a task may see before KilledWorker); the old value."""
    old = int(dask_scheduler.allowed_failures)
    dask_scheduler.allowed_failures = n
    return old


def test_a_task_that_keeps_killing_its_worker_is_a_worker_lost_error(fresh_client: Any) -> None:
    fresh_client.run_on_scheduler(_set_allowed_failures, n=0)  # give up after one lost worker (a cluster of its own)
    with pytest.raises(WorkerLostError) as caught:
        DaskExecutor(fresh_client, retries=0).map(_kills_its_worker, [1], None)
    assert (caught.value.executor, caught.value.unfinished, caught.value.attempts) == ("dask", 1, None)
    assert isinstance(caught.value.__cause__, distributed.KilledWorker) and caught.value.exit_code == 1


# ------------------------------------------------------------------------------ a whole study on each executor
DATES = pd.bdate_range("2019-01-01", "2021-12-31")
TICKERS = tuple(f"T{i:02d}" for i in range(14))
STUDY = dict(
    estimation_window=(-120, -11),
    event_window=(-5, 5),
    car_windows=[(0, 0), (-1, 1), (0, 5)],
    min_estimation_obs=60,
    progress=False,
)


def _returns_frame() -> pd.DataFrame:
    """Market M and 14 tickers on a market model (betas 0.5..1.8), a few days missing at random."""
    rng = np.random.default_rng(88)
    market = rng.normal(0.0003, 0.01, len(DATES))
    parts = [pd.DataFrame({"date": DATES, "ticker": "M", "return": market})]
    for i, ticker in enumerate(TICKERS):
        r = 0.0001 + (0.5 + 0.1 * i) * market + rng.normal(0, 0.015, len(DATES))
        keep = rng.random(len(DATES)) > 0.02
        parts.append(pd.DataFrame({"date": DATES[keep], "ticker": ticker, "return": r[keep]}))
    return pd.concat(parts, ignore_index=True)


def _returns() -> ReturnsFrame:
    return ReturnsFrame(_returns_frame())


def _events() -> list[Event]:
    """30 events of 1 to 3 tickers each (60 firm-events), some sharing dates and tickers."""
    rng = np.random.default_rng(7)
    days = DATES[(DATES >= "2020-03-01") & (DATES <= "2021-10-01")]
    events = []
    for k in range(30):
        day = days[rng.integers(len(days))] if k % 5 else days[100]  # every fifth event on the same day
        tickers = tuple(rng.choice(TICKERS, size=1 + k % 3, replace=False))
        events.append(
            Event(f"e{k:02d}", day.date(), None, "America/New_York", "", "", tickers, ("M",) * len(tickers), "", False)
        )
    return events


@pytest.fixture(scope="module")
def study_inputs() -> tuple[list[Event], ReturnsFrame]:
    return _events(), _returns()


def _tables(result: Any) -> dict[str, pd.DataFrame]:
    return {name: getattr(result, name) for name in ("car", "abnormal_returns", "tests", "parameters")}


@pytest.fixture(scope="module")
def reference(study_inputs: tuple[list[Event], ReturnsFrame]) -> dict[str, pd.DataFrame]:
    """The serial run in one chunk: every other executor and chunk size must give these tables."""
    events, returns = study_inputs
    result = EventStudy(events, returns, chunk_size=None, **STUDY).run()  # type: ignore[arg-type]
    assert result.n_firm_events > 50
    return _tables(result)


def _assert_same(tables: dict[str, pd.DataFrame], reference: dict[str, pd.DataFrame]) -> None:
    for name, expected in reference.items():
        assert len(expected) > 0, name
        # 1e-12: the bound for results across executors and chunk sizes (every kernel works row by row)
        pd.testing.assert_frame_equal(tables[name], expected, check_exact=False, rtol=1e-12, atol=1e-12, obj=name)


N = 60  # firm-events of _events() (10 events of 1, 2 and 3 tickers), checked by test_chunk_sizes_cover_every_case


@pytest.mark.parametrize(
    ("executor", "chunk_size"),
    [
        ("serial", 1),
        ("serial", 7),
        ("serial", 997),
        ("serial", N),
        ("dask", 1),
        ("dask", 7),
        ("dask", 997),
        ("dask", N),
        pytest.param("processes", 7, marks=pytest.mark.slow),  # spawning 2 workers that import eventstudy: 3-10 s
        pytest.param("processes", 1, marks=pytest.mark.slow),
        pytest.param("processes", 997, marks=pytest.mark.slow),
        pytest.param("processes", N, marks=pytest.mark.slow),
    ],
)
def test_study_identical_across_executors_and_chunk_sizes(
    executor: str,
    chunk_size: int,
    study_inputs: tuple[list[Event], ReturnsFrame],
    reference: dict[str, pd.DataFrame],
    dask_client: Any,
) -> None:
    events, returns = study_inputs
    chosen = DaskExecutor(dask_client) if executor == "dask" else get_executor(executor)
    result = EventStudy(events, returns, chunk_size=chunk_size, executor=chosen, **STUDY).run()  # type: ignore[arg-type]
    _assert_same(_tables(result), reference)


def test_chunk_sizes_cover_every_case(reference: dict[str, pd.DataFrame]) -> None:
    n = len(reference["parameters"])
    assert n == N  # chunk size N is one chunk; 997 > N; 7 leaves a short last chunk (60 = 8 x 7 + 4)


def _slowly(function: Any, item: Any, shared: Any) -> Any:
    time.sleep(0.15)
    return function(item, shared)


class KillingDask(DaskExecutor):
    """The dask executor with every chunk slowed to 0.15 s and one worker SIGKILLed 0.2 s into the first map."""

    killed: int | None = None

    def map(self, function: Any, items: Any, shared: Any) -> list[Any]:
        if self.killed is None:
            victim = min(self.client.run(os.getpid).values())
            self.killed = victim
            threading.Timer(0.2, os.kill, (victim, signal.SIGKILL)).start()
        return super().map(functools.partial(_slowly, function), items, shared)


def test_study_identical_after_a_worker_is_killed_mid_run(
    study_inputs: tuple[list[Event], ReturnsFrame], reference: dict[str, pd.DataFrame], fresh_client: Any
) -> None:
    events, returns = study_inputs
    executor = KillingDask(fresh_client, retries=3)
    result = EventStudy(events, returns, chunk_size=7, executor=executor, **STUDY).run()  # type: ignore[arg-type]
    _assert_same(_tables(result), reference)
    assert executor.killed is not None
    assert executor.killed not in set(fresh_client.run(os.getpid).values())


# ------------------------------------------------------------------------------ the command line
def _write_cli_inputs(folder: Path, study_inputs: tuple[list[Event], ReturnsFrame]) -> Path:
    """The study's events as an events CSV and its returns as a long returns CSV (``returns.csv``)."""
    events, _ = study_inputs
    rows = [
        f"{e.event_id},{e.date.isoformat()},America/New_York,{';'.join(e.tickers)},{';'.join(e.benchmarks)}"
        for e in events
    ]
    path = folder / "events.csv"
    path.write_text("event_id,date,timezone,tickers,benchmark\n" + "\n".join(rows) + "\n", encoding="utf-8")
    returns = _returns_frame()
    returns.assign(date=returns["date"].dt.strftime("%Y-%m-%d")).to_csv(
        folder / "returns.csv", index=False, float_format="%.17g"
    )
    return path


def test_cli_dask_executor_at_a_scheduler_address(
    tmp_path: Path, study_inputs: tuple[list[Event], ReturnsFrame], dask_client: Any
) -> None:
    events = _write_cli_inputs(tmp_path, study_inputs)
    common = ["run", str(events), "--returns", str(tmp_path / "returns.csv"), "--quiet", "--formats", "csv"]
    common += ["--estimation", "-120:-11", "--window", "-5:5", "--car", "0:0", "--car", "-1:1", "--min-obs", "60"]
    assert main([*common, "--out", str(tmp_path / "serial")]) == 0
    address = dask_client.scheduler.address
    dask_run = ["--executor", "dask", "--scheduler", address, "--chunk-size", "7", "--out", str(tmp_path / "dask")]
    assert main([*common, *dask_run]) == 0
    for name in ("car", "abnormal_returns", "tests", "parameters", "event_days", "exclusions"):
        serial = (tmp_path / "serial" / f"{name}.csv").read_text(encoding="utf-8")
        assert (tmp_path / "dask" / f"{name}.csv").read_text(encoding="utf-8") == serial, name


def test_cli_scheduler_needs_the_dask_executor(
    tmp_path: Path, study_inputs: tuple[list[Event], ReturnsFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write_cli_inputs(tmp_path, study_inputs)
    code = main(
        ["run", str(events), "--returns", str(tmp_path / "returns.csv"), "--quiet", "--scheduler", "tcp://127.0.0.1:1"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler" in err and "Traceback" not in err


# ------------------------------------------------------------------------------ a sliced study on the cluster
SLICED_TESTS = ("cross_sectional_t", "patell_z", "bmp_t", "sign", "corrado_rank", "lamb")


def test_sliced_study_on_the_cluster_survives_a_killed_worker(
    tmp_path: Path, study_inputs: tuple[list[Event], ReturnsFrame], fresh_client: Any
) -> None:
    """Slices of whole tickers as Dask tasks (each loading its prices, writing its tables), one worker
    SIGKILLed mid-run: the tables equal the serial study in one piece (rows sorted; 1e-12)."""
    from eventstudy.sliced import run_sliced

    events_path = _write_cli_inputs(tmp_path, study_inputs)
    events, returns = study_inputs
    whole = EventStudy(events, returns, tests=SLICED_TESTS, **STUDY).run()  # type: ignore[arg-type]
    executor = KillingDask(fresh_client, retries=3)
    settings = {k: v for k, v in STUDY.items() if k != "progress"}
    out = tmp_path / "sliced"
    study = run_sliced(events_path, returns, out, slice_size=9, executor=executor, tests=SLICED_TESTS, **settings)
    assert study.n_slices > 3 and executor.killed is not None
    keys = ["event_id", "ticker", "window_start"]
    got = pd.read_parquet(out / "car.parquet").sort_values(keys).reset_index(drop=True)
    expected = whole.car.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_exact=False, rtol=1e-12, check_dtype=False)
    pd.testing.assert_frame_equal(study.tests, whole.tests, check_exact=False, rtol=1e-12, atol=1e-12)
