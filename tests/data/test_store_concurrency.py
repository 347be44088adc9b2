"""Several processes creating and writing the same new price store at the same moment (issue 11).

Worker processes meet on a :class:`multiprocessing.Barrier` before each new store file, so that they open
a file that does not exist yet together; each then writes its own symbol's rows, logs a failed download
and (every other worker) lists the store. The parent checks every store with plain :mod:`sqlite3`: every
row with the value its writer computed from (worker, store, day), every log entry, one schema version,
WAL mode and ``PRAGMA integrity_check`` = ``ok``. Before the fix, 24 of the 4,800 writes of this workload
over 400 stores (``EVENTSTUDY_TEST_NEW_STORES=400``) failed at once with "database is locked": the switch to
WAL mode answers SQLITE_BUSY without waiting when another process holds the new file.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

N_WORKERS = 6
N_STORES = int(os.environ.get("EVENTSTUDY_TEST_NEW_STORES", "30"))  # raise it for a longer fault run
N_DAYS = 5
DATES = pd.bdate_range("2024-01-02", periods=N_DAYS)


def _value(worker: int, store: int, day: int) -> float:
    return 1000.0 * worker + store + day / 10.0


def _worker(worker: int, folder: str, barrier: Any, results: Any) -> None:
    """Create-and-write each new store after all workers reached the barrier; report errors as text."""
    from eventstudy.data.store import FetchInfo, PriceStore

    errors: list[str] = []
    writes = 0
    for store_no in range(N_STORES):
        store = PriceStore(Path(folder) / f"store{store_no}.sqlite", busy_timeout=30)
        frame = pd.DataFrame(
            {"adj_close": [_value(worker, store_no, day) for day in range(N_DAYS)], "close": 1.0},
            index=pd.DatetimeIndex(DATES, name="date"),
        )
        try:
            barrier.wait(60)
            if worker % 2:
                store.listing()  # a reader racing the creation
            store.write(f"S{worker}", frame, FetchInfo(dt.date(2024, 1, 1), dt.date(2024, 1, 31)))
            store.log_failure(f"F{worker}", None, None, "no network: test")
            writes += 2
        except Exception as exc:  # every failure is a finding: report it, keep going
            errors.append(f"store {store_no}: {type(exc).__name__}: {exc}")
    results.put((worker, writes, errors))


def test_processes_creating_the_same_new_stores_at_once(tmp_path: Path) -> None:
    # fork starts the workers in milliseconds on Linux; spawn (macOS, Windows) re-imports pandas in each.
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    barrier = ctx.Barrier(N_WORKERS)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(i, str(tmp_path), barrier, results), daemon=True) for i in range(N_WORKERS)
    ]
    for process in workers:
        process.start()
    reports = [results.get(timeout=60 + 2 * N_STORES) for _ in workers]  # ~0.1 s per store here
    for process in workers:
        process.join(30)

    errors = [f"worker {w}: {e}" for w, _, errs in reports for e in errs]
    assert not errors, "\n".join(errors[:10])
    assert sum(n for _, n, _ in reports) == 2 * N_WORKERS * N_STORES
    assert all(p.exitcode == 0 for p in workers)

    expected_dates = [d.date().isoformat() for d in DATES]
    for store_no in range(N_STORES):
        con = sqlite3.connect(tmp_path / f"store{store_no}.sqlite")
        try:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert con.execute("SELECT key, value FROM meta WHERE key = 'schema_version'").fetchall() == [
                ("schema_version", "1")
            ]
            assert con.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 2  # schema_version, created_utc
            rows = con.execute("SELECT symbol, date, adj_close FROM prices ORDER BY symbol, date").fetchall()
            assert len(rows) == N_WORKERS * N_DAYS
            for worker in range(N_WORKERS):
                mine = [r for r in rows if r[0] == f"S{worker}"]
                assert [r[1] for r in mine] == expected_dates
                np.testing.assert_array_equal(
                    [r[2] for r in mine], [_value(worker, store_no, day) for day in range(N_DAYS)]
                )
            log = con.execute("SELECT symbol, status, n_rows FROM fetches ORDER BY symbol").fetchall()
            assert sorted(log) == sorted(
                [(f"F{w}", "failed", 0) for w in range(N_WORKERS)] + [(f"S{w}", "ok", N_DAYS) for w in range(N_WORKERS)]
            )
        finally:
            con.close()
