"""The local price store: one SQLite file with every downloaded row and a log of every download.

Design (``../shared/docs/ECOSYSTEM.md`` §5):

* stdlib :mod:`sqlite3` in WAL mode, so that readers (a notebook) never block while a writer (the CLI)
  downloads, and readers always see a committed snapshot; ``PRAGMA synchronous=FULL``;
* every write is one ``BEGIN IMMEDIATE ... COMMIT`` transaction: an exception half-way through rolls
  back and leaves the rows already stored untouched;
* several processes may create and write the same new file at the same moment: creating the store
  (WAL mode, tables, schema version) is idempotent and serialised by SQLite's write lock, and every
  operation is retried while another connection holds a lock, up to ``busy_timeout`` seconds in total
  (:class:`PriceStore`);
* reading opens the file read-only (``mode=ro``): reading never creates tables, never switches the
  journal mode and never changes a file that is not an eventstudy store (it is refused with a
  :class:`StoreError`), so ``eventstudy store ls`` and ``--offline`` runs leave any file as they found it;
* ``prices`` keeps raw ``close``, ``adj_close``, ``dividends`` and ``splits`` so that adjusted-price
  drift can be detected (:func:`eventstudy.data.coverage.adjustment_drift`); rows are upserted on
  ``(source, symbol, date)``;
  a row changed outside eventstudy (a date that is not ``YYYY-MM-DD``, text in a price column) is
  reported with the store, the symbol and the row, never served;
* ``fetches`` is an append-only log of every download attempt, failures included (triggers refuse
  updates and deletes); a failed attempt stores no rows and is not listed as data;
* ``meta`` holds the schema version;
* ``factor_files`` keeps every downloaded Ken French file whole (zip bytes, URL, time, vintage, SHA-256), so that
  factor models run offline from the store (:mod:`eventstudy.data.factors`). Stores made before the table existed
  read as holding no factor file; the first factor write adds the table.

The file lives in the user *data* directory (cache directories may be wiped); see
:func:`default_store_path`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import pandas as pd

from eventstudy.data.cleaning import FIRST_DATE, LAST_DATE
from eventstudy.data.coverage import Coverage, FetchRecord
from eventstudy.errors import DataError

SCHEMA_VERSION = 1
"""Version of the table layout written into the ``meta`` table."""

ENV_STORE = "EVENTSTUDY_STORE"
"""Environment variable that overrides the default store location."""

STORE_FILENAME = "prices.sqlite"

#: Statuses of a fetch whose rows are in ``prices``.
SUCCESS_STATUSES: tuple[str, ...] = ("ok", "rebased")

PRICE_COLUMNS: tuple[str, ...] = (
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
    "dividends",
    "splits",
    "currency",
    "exchange_tz",
)
_FLOAT_COLUMNS = PRICE_COLUMNS[:8]
_TEXT_COLUMNS = PRICE_COLUMNS[8:]

FETCH_LOG_COLUMNS: tuple[str, ...] = (
    "fetch_id",
    "source",
    "symbol",
    "requested_start",
    "requested_end",
    "fetched_at_utc",
    "yfinance_version",
    "n_rows",
    "status",
    "error",
)

LISTING_COLUMNS: tuple[str, ...] = (
    "symbol",
    "source",
    "first_date",
    "last_date",
    "rows",
    "last_fetched_utc",
    "yfinance_version",
    "n_fetches",
)

_FACTOR_FILES_TABLE = """
    CREATE TABLE IF NOT EXISTS factor_files (
        fetch_id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,
        url TEXT NOT NULL,
        fetched_at_utc TEXT NOT NULL,
        vintage TEXT,
        sha256 TEXT NOT NULL,
        content BLOB NOT NULL
    )
"""
"""Downloaded factor files (:meth:`PriceStore.write_factor_file`); also created by the first factor write to an
older store."""

_SCHEMA: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS fetches (
        fetch_id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        symbol TEXT NOT NULL,
        requested_start TEXT,
        requested_end TEXT,
        fetched_at_utc TEXT NOT NULL,
        yfinance_version TEXT,
        n_rows INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        error TEXT
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS fetches_symbol ON fetches (source, symbol, fetched_at_utc)
    """,
    """
    CREATE TRIGGER IF NOT EXISTS fetches_no_update BEFORE UPDATE ON fetches
    BEGIN SELECT RAISE(ABORT, 'fetches is an append-only log'); END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS fetches_no_delete BEFORE DELETE ON fetches
    BEGIN SELECT RAISE(ABORT, 'fetches is an append-only log'); END
    """,
    """
    CREATE TABLE IF NOT EXISTS prices (
        source TEXT NOT NULL,
        symbol TEXT NOT NULL,
        date TEXT NOT NULL,
        open REAL,
        high REAL,
        low REAL,
        close REAL,
        adj_close REAL,
        volume REAL,
        dividends REAL,
        splits REAL,
        currency TEXT,
        exchange_tz TEXT,
        fetch_id INTEGER REFERENCES fetches (fetch_id),
        PRIMARY KEY (source, symbol, date)
    ) WITHOUT ROWID
    """,
    _FACTOR_FILES_TABLE,
)

_UPSERT = (
    "INSERT INTO prices (source, symbol, date, "
    + ", ".join(PRICE_COLUMNS)
    + ", fetch_id) VALUES ("
    + ", ".join("?" * (len(PRICE_COLUMNS) + 4))
    + ") ON CONFLICT (source, symbol, date) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*PRICE_COLUMNS, "fetch_id"))
)


_STORE_TABLES: tuple[str, ...] = ("meta", "fetches", "prices")
"""Tables every eventstudy store has; a database with other tables only is not a price store."""

_DATE_OK = "(typeof(date) = 'text' AND date(date, '+0 days') IS date AND date BETWEEN ? AND ?)"
_DAMAGED_ROWS = (
    f"SELECT date, {_DATE_OK}, "
    + ", ".join(f"{c}, typeof({c})" for c in (*_FLOAT_COLUMNS, "fetch_id"))
    + f" FROM prices WHERE source = ? AND symbol = ? AND (NOT {_DATE_OK} OR "
    + " OR ".join(f"typeof({c}) NOT IN ('real', 'integer', 'null')" for c in _FLOAT_COLUMNS)
    + " OR typeof(fetch_id) NOT IN ('integer', 'null')) ORDER BY date"
)
"""Every row of one (source, symbol) that was changed outside eventstudy.

A good row has a canonical ``YYYY-MM-DD`` text date of a real calendar day (``date(d, '+0 days')``
normalises 2024-02-30 to 2024-03-01, so the comparison fails for impossible days) within
:data:`eventstudy.data.cleaning.FIRST_DATE`..:data:`~eventstudy.data.cleaning.LAST_DATE` (the
date rule of every price source), numbers or NULL in the price columns and an
integer or NULL ``fetch_id``. Parameters: the date bounds (twice), source, symbol.
"""

#: SQLite result codes (low byte of the extended code) that mean "another connection holds a lock".
_TRANSIENT_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_PROTOCOL})
_FIRST_PAUSE = 0.002
_MAX_PAUSE = 0.1

T = TypeVar("T")


class _StillLocked(Exception):
    """``PRAGMA journal_mode = WAL`` answered with the old mode: another connection holds the file."""


def _is_transient(exc: BaseException) -> bool:
    """Whether an error only says that another connection holds a lock (worth retrying)."""
    if isinstance(exc, _StillLocked):
        return True
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _TRANSIENT_CODES
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def utc_now_iso() -> str:
    """Return the current UTC time as an ISO 8601 string with microseconds (sortable as text)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def default_store_path() -> Path:
    """Return where the price store lives unless the caller names a file.

    Returns
    -------
    pathlib.Path
        ``$EVENTSTUDY_STORE`` when that variable is set and not empty, otherwise
        ``platformdirs.user_data_dir("eventstudy")/prices.sqlite``.
    """
    env = os.environ.get(ENV_STORE, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("eventstudy", appauthor=False)) / STORE_FILENAME


class StoreError(DataError):
    """The store file cannot be opened, read or written; names the file and what to do.

    Parameters
    ----------
    path
        The store file.
    problem
        What went wrong.
    advice
        What the user can do about it.
    symbol, row, column, value
        For a damaged row: the symbol, the row's stored date (as text), the column and the stored value.
    """

    def __init__(
        self,
        path: str | Path,
        problem: str,
        advice: str,
        *,
        symbol: str | None = None,
        row: str | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.advice = advice
        self.symbol = symbol
        self.row = row
        self.column = column
        self.value = value
        super().__init__(f"price store {self.path}: {problem}; {advice}")


class StoredFactorFile(NamedTuple):
    """The latest stored copy of a downloaded factor file (:meth:`PriceStore.factor_file`)."""

    content: bytes
    fetched_at_utc: str
    vintage: str | None


@dataclass(frozen=True)
class FetchInfo:
    """Facts about one download, written to the ``fetches`` log.

    Parameters
    ----------
    requested_start, requested_end
        The range asked for, both inclusive.
    fetched_at_utc
        When the download happened (ISO 8601, UTC); defaults to now.
    yfinance_version
        The yfinance version used, when the source is Yahoo.
    source
        Source label, ``"yahoo"`` by default.
    status
        ``"ok"``, ``"rebased"`` (full history replaced after adjusted-price drift), ``"drift"`` (rows
        not stored because they disagreed with the stored vintage) or ``"failed"``.
    error
        Error or remark text.
    """

    requested_start: dt.date | None
    requested_end: dt.date | None
    fetched_at_utc: str = field(default_factory=utc_now_iso)
    yfinance_version: str | None = None
    source: str = "yahoo"
    status: str = "ok"
    error: str | None = None


def _to_date(value: object) -> dt.date | None:
    if value is None or value == "":
        return None
    return dt.date.fromisoformat(str(value)[:10])


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if v != v else float(v) for v in values.tolist()]  # v != v is NaN


def _frame_rows(source: str, symbol: str, frame: pd.DataFrame, fetch_id: int) -> Iterator[tuple[object, ...]]:
    """Yield the rows of a normalised history frame as ``prices`` tuples (NaN becomes NULL)."""
    dates = pd.DatetimeIndex(frame.index).strftime("%Y-%m-%d").tolist()
    n = len(frame)
    columns: list[list[object]] = []
    for name in _FLOAT_COLUMNS:
        if name in frame.columns:
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            columns.append(list(_nullable(values)))
        else:
            columns.append([None] * n)
    for name in _TEXT_COLUMNS:
        if name in frame.columns:
            columns.append([None if (v is None or v != v) else str(v) for v in frame[name].tolist()])
        else:
            columns.append([None] * n)
    for i in range(n):
        yield (source, symbol, dates[i], *(col[i] for col in columns), fetch_id)


class PriceStore:
    """The SQLite price store.

    Parameters
    ----------
    path
        The store file; None means :func:`default_store_path` (``$EVENTSTUDY_STORE`` or the user data
        directory). Parent folders are created on the first write.
    busy_timeout
        Seconds one operation (a read, a write, the creation of the store) may wait in total for other
        processes' locks before it fails with a :class:`StoreError` saying so.

    Notes
    -----
    Each method opens its own short-lived connection, so one instance can be used from several threads
    and several processes can share the file.

    *Reading* methods open the file read-only. On a file that does not exist, or an SQLite database
    without any table (e.g. a zero-length file), they return empty results and do not create anything.
    A database whose tables are not those of a price store is refused with a :class:`StoreError`
    without being changed.

    *Writing* methods create the file and its schema when needed. Creation is safe when several
    processes open the same new file at once: the layout is checked first (a foreign database is refused
    before anything is written), the switch to WAL mode is retried while another connection holds the
    file, and the tables are created inside ``BEGIN IMMEDIATE`` with idempotent statements
    (``CREATE ... IF NOT EXISTS``, ``INSERT OR IGNORE``), after checking again under the lock.

    Every operation is retried, with short randomised pauses, while SQLite reports that another
    connection holds a lock (``SQLITE_BUSY``, ``SQLITE_LOCKED``, ``SQLITE_PROTOCOL``); each attempt waits
    inside SQLite for the time that remains of ``busy_timeout``. A write is retried only as a whole
    transaction that was rolled back, so nothing is written twice.

    Examples
    --------
    >>> store = PriceStore(tmp_path / "prices.sqlite")  # doctest: +SKIP
    >>> store.listing()  # doctest: +SKIP
    """

    def __init__(self, path: str | Path | None = None, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.busy_timeout = float(busy_timeout)

    def __repr__(self) -> str:
        return f"PriceStore({str(self.path)!r})"

    # ------------------------------------------------------------------ connections

    def _unusable(self, exc: BaseException) -> StoreError:
        return StoreError(
            self.path,
            f"cannot be used as a price store ({type(exc).__name__}: {exc})",
            "if the file is damaged, move it aside (e.g. rename it to prices.sqlite.bad) so that a new store "
            f"is created, or choose another file with --store PATH or ${ENV_STORE}",
        )

    def _busy(self, operation: str, waited: float, attempts: int, exc: BaseException) -> StoreError:
        return StoreError(
            self.path,
            f"busy: could not {operation}: other connections held a lock on the store during the {waited:.1f} s "
            f"this process waited (busy_timeout {self.busy_timeout:g} s, {attempts} attempts; SQLite: {exc})",
            "another eventstudy process (a fetch, a run or a notebook) is writing to this store; let it finish "
            "and retry, or allow a longer wait with PriceStore(path, busy_timeout=SECONDS)",
        )

    def _not_a_store(self, tables: set[str], what: str) -> StoreError:
        shown = ", ".join(sorted(tables)[:6]) + (" ..." if len(tables) > 6 else "")
        return StoreError(
            self.path,
            f"is not an eventstudy price store ({what}; its tables: {shown})",
            "eventstudy leaves it unchanged; name the store file with --store PATH or "
            f"${ENV_STORE}, or a new file to start an empty store",
        )

    def _run(self, operation: str, work: Callable[[sqlite3.Connection], T], *, write: bool) -> T | None:
        """Run ``work`` on a fresh connection, retrying while other connections hold a lock.

        Returns None without calling ``work`` when reading a missing file or a database without tables.
        ``operation`` completes "could not ..." in the busy message; the stage of store creation that
        was waiting is named instead when that is where the time went.
        """
        started = time.monotonic()
        pause = _FIRST_PAUSE
        attempts = 0
        while True:
            attempts += 1
            stage = [operation]
            remaining = max(self.busy_timeout - (time.monotonic() - started), 0.001)
            try:
                return self._attempt(work, write=write, timeout=remaining, stage=stage)
            except (sqlite3.Error, _StillLocked) as exc:
                waited = time.monotonic() - started
                if not _is_transient(exc):
                    raise self._unusable(exc) from exc
                if waited >= self.busy_timeout:
                    raise self._busy(stage[-1], waited, attempts, exc) from exc
            time.sleep(min(pause * (0.5 + random.random()), max(self.busy_timeout - waited, 0.0)))
            pause = min(2.0 * pause, _MAX_PAUSE)

    def _attempt(
        self, work: Callable[[sqlite3.Connection], T], *, write: bool, timeout: float, stage: list[str]
    ) -> T | None:
        if self.path.is_dir():
            raise StoreError(self.path, "is a directory", f"give a file name, e.g. {self.path / STORE_FILENAME}")
        if write:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._unusable(exc) from exc
            con = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        elif not self.path.exists():
            return None
        else:
            uri = self.path.absolute().as_uri() + "?mode=ro"
            con = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        try:
            if write:
                con.execute("PRAGMA synchronous = FULL")
                self._prepare_for_writing(con, stage)
            elif self._schema_version(con) is None:
                return None
            stage.append(stage[0])
            return work(con)
        finally:
            con.close()

    def _prepare_for_writing(self, con: sqlite3.Connection, stage: list[str]) -> None:
        """Make the file a WAL-mode store with the current tables (idempotent; safe under concurrency)."""
        stage.append("read the store's layout")
        version = self._schema_version(con)
        stage.append("switch the store to WAL mode")
        mode = con.execute("PRAGMA journal_mode").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise _StillLocked(f"journal mode stayed {mode[0] if mode else None!r}")
        if version is None:
            stage.append("create the store's tables")
            with _transaction(con):
                if self._schema_version(con) is None:  # nobody created them while we waited for the lock
                    for statement in _SCHEMA:
                        con.execute(statement)
                    con.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                    con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('created_utc', ?)", (utc_now_iso(),))

    def _schema_version(self, con: sqlite3.Connection) -> int | None:
        """Return the store's schema version, or None for a database without any table.

        Raises
        ------
        StoreError
            For a database that is not a price store (tables missing, no readable schema version) or a
            store written by a newer eventstudy.
        """
        tables = {str(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return None
        missing = [t for t in _STORE_TABLES if t not in tables]
        if missing:
            raise self._not_a_store(tables, f"no table {', '.join(missing)}")
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row is not None else None
        except (sqlite3.OperationalError, TypeError, ValueError) as exc:
            if _is_transient(exc):
                raise
            version = None
        if version is None:
            raise self._not_a_store(tables, "no schema version in its meta table")
        if version > SCHEMA_VERSION:
            raise StoreError(
                self.path,
                f"schema version {version} is newer than this eventstudy understands ({SCHEMA_VERSION})",
                "upgrade eventstudy, or choose another file with --store PATH",
            )
        return version

    def _check_rows(self, con: sqlite3.Connection, symbol: str, source: str) -> None:
        """Raise a :class:`StoreError` naming the first row of ``symbol`` changed outside eventstudy."""
        lo, hi = str(FIRST_DATE), str(LAST_DATE)
        bad = con.execute(_DAMAGED_ROWS, (lo, hi, source, symbol, lo, hi)).fetchall()
        if not bad:
            return
        first = bad[0]
        date, date_ok = first[0], first[1]
        if not date_ok:
            column, value = "date", date
            what = f"a date that is not a calendar day YYYY-MM-DD between {lo} and {hi}: {date!r}"
        else:
            allowed = {**dict.fromkeys(_FLOAT_COLUMNS, ("real", "integer", "null")), "fetch_id": ("integer", "null")}
            cells = dict(zip(allowed, zip(first[2::2], first[3::2], strict=True), strict=True))
            column = next(n for n, (_, kind) in cells.items() if kind not in allowed[n])
            value, kind = cells[column]
            what = f"column {column} holds {kind} {value!r} instead of {'an integer' if kind == 'real' else 'a number'}"
        more = f" ({len(bad)} damaged rows)" if len(bad) > 1 else ""
        raise StoreError(
            self.path,
            f"damaged row of symbol {symbol!r} (source {source}), row dated {date!r}: {what}{more}",
            "the file was changed outside eventstudy; fix or delete the row with an SQLite tool, or move the "
            "store aside (e.g. rename it to prices.sqlite.bad) and run `eventstudy fetch` again",
            symbol=symbol,
            row=str(date),
            column=column,
            value=value,
        )

    # ------------------------------------------------------------------ writing

    def write(self, symbol: str, frame: pd.DataFrame, info: FetchInfo, *, replace: bool = False) -> int:
        """Store a download's rows and log the fetch, in one transaction.

        Parameters
        ----------
        symbol
            The symbol.
        frame
            Rows indexed by date with columns from :data:`PRICE_COLUMNS` (missing ones are stored NULL);
            the layout of :func:`eventstudy.data.yahoo.history_to_frame`.
        info
            Facts about the download; ``info.source`` is part of the key.
        replace
            Delete every stored row of ``(info.source, symbol)`` first (used after adjusted-price drift so
            that one consistent vintage is kept).

        Returns
        -------
        int
            The ``fetch_id`` of the new ``fetches`` row, also stored on every written price row.

        Raises
        ------
        StoreError
            When the file cannot be written (damaged, not a price store, or busy for longer than
            ``busy_timeout``). Any exception rolls the whole write back.
        """

        def work(con: sqlite3.Connection) -> int:
            with _transaction(con):
                fetch_id = self._insert_fetch(con, symbol, info, len(frame))
                if replace:
                    con.execute("DELETE FROM prices WHERE source = ? AND symbol = ?", (info.source, symbol))
                con.executemany(_UPSERT, _frame_rows(info.source, symbol, frame, fetch_id))
            return fetch_id

        fetch_id = self._run(f"store {len(frame)} rows of {symbol}", work, write=True)
        assert fetch_id is not None
        return fetch_id

    def log_fetch(self, symbol: str, info: FetchInfo, n_rows: int = 0) -> int:
        """Append a fetch to the log without storing rows (failures, discarded downloads).

        Returns
        -------
        int
            The new ``fetch_id``.
        """

        def work(con: sqlite3.Connection) -> int:
            with _transaction(con):
                return self._insert_fetch(con, symbol, info, n_rows)

        fetch_id = self._run(f"log a download of {symbol}", work, write=True)
        assert fetch_id is not None
        return fetch_id

    def log_failure(
        self,
        symbol: str,
        requested_start: dt.date | None,
        requested_end: dt.date | None,
        error: str,
        *,
        source: str = "yahoo",
        yfinance_version: str | None = None,
        status: str = "failed",
        fetched_at_utc: str | None = None,
    ) -> int:
        """Log a failed download attempt (no rows are stored, and none are listed).

        Returns
        -------
        int
            The new ``fetch_id``.
        """
        info = FetchInfo(
            requested_start=requested_start,
            requested_end=requested_end,
            fetched_at_utc=fetched_at_utc or utc_now_iso(),
            yfinance_version=yfinance_version,
            source=source,
            status=status,
            error=error,
        )
        return self.log_fetch(symbol, info, 0)

    def write_factor_file(
        self, dataset: str, url: str, content: bytes, *, vintage: str | None, fetched_at_utc: str | None = None
    ) -> int:
        """Keep a downloaded factor file (its bytes, URL, time, vintage and SHA-256), in one transaction.

        Every download is a new row; :meth:`factor_file` serves the latest. A store made before factor files
        existed gets the ``factor_files`` table here.

        Returns
        -------
        int
            The new row's ``fetch_id``.
        """

        def work(con: sqlite3.Connection) -> int:
            with _transaction(con):
                con.execute(_FACTOR_FILES_TABLE)
                cur = con.execute(
                    "INSERT INTO factor_files (dataset, url, fetched_at_utc, vintage, sha256, content) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        dataset,
                        url,
                        fetched_at_utc or utc_now_iso(),
                        vintage,
                        hashlib.sha256(content).hexdigest(),
                        sqlite3.Binary(content),
                    ),
                )
                assert cur.lastrowid is not None
                return int(cur.lastrowid)

        fetch_id = self._run(f"store the factor file {dataset}", work, write=True)
        assert fetch_id is not None
        return fetch_id

    @staticmethod
    def _insert_fetch(con: sqlite3.Connection, symbol: str, info: FetchInfo, n_rows: int) -> int:
        cur = con.execute(
            "INSERT INTO fetches (source, symbol, requested_start, requested_end, fetched_at_utc, "
            "yfinance_version, n_rows, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                info.source,
                symbol,
                _iso(info.requested_start),
                _iso(info.requested_end),
                info.fetched_at_utc,
                info.yfinance_version,
                int(n_rows),
                info.status,
                info.error,
            ),
        )
        fetch_id = cur.lastrowid
        assert fetch_id is not None
        return int(fetch_id)

    # ------------------------------------------------------------------ reading

    def read(self, symbol: str, source: str = "yahoo") -> pd.DataFrame | None:
        """Return the stored rows of a symbol, or None when there are none.

        Returns
        -------
        pandas.DataFrame or None
            Index ``date`` (tz-naive, unit ``ns``, increasing); columns :data:`PRICE_COLUMNS` plus
            ``fetch_id``.

        Raises
        ------
        StoreError
            When the file cannot be read or is not a price store, or when a row of the symbol was changed
            outside eventstudy (fields ``symbol``, ``row``, ``column``, ``value`` name it).
        """

        def work(con: sqlite3.Connection) -> list[tuple[object, ...]]:
            self._check_rows(con, symbol, source)
            return con.execute(
                "SELECT date, " + ", ".join(PRICE_COLUMNS) + ", fetch_id FROM prices "
                "WHERE source = ? AND symbol = ? ORDER BY date",
                (source, symbol),
            ).fetchall()

        rows = self._run(f"read the rows of {symbol}", work, write=False)
        if not rows:
            return None
        frame = pd.DataFrame.from_records(rows, columns=["date", *PRICE_COLUMNS, "fetch_id"])
        index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date"), format="%Y-%m-%d"), name="date").as_unit("ns")
        frame.index = index
        for name in _FLOAT_COLUMNS:
            frame[name] = pd.to_numeric(frame[name]).astype(np.float64)
        for name in _TEXT_COLUMNS:
            frame[name] = frame[name].astype(object)
        frame["fetch_id"] = frame["fetch_id"].astype("Int64")
        return frame

    def coverage(self, symbol: str, source: str = "yahoo") -> Coverage | None:
        """Return what is stored for a symbol, or None when no row is stored.

        Raises
        ------
        StoreError
            As :meth:`read`, also for a damaged row of the download log.
        """

        def work(con: sqlite3.Connection) -> tuple[tuple[object, ...], list[tuple[object, ...]]]:
            self._check_rows(con, symbol, source)
            span = con.execute(
                "SELECT MIN(date), MAX(date), COUNT(*) FROM prices WHERE source = ? AND symbol = ?",
                (source, symbol),
            ).fetchone()
            fetches = con.execute(
                "SELECT fetch_id, requested_start, requested_end, fetched_at_utc FROM fetches "
                "WHERE source = ? AND symbol = ? AND status IN ("
                + ", ".join("?" * len(SUCCESS_STATUSES))
                + ") ORDER BY fetched_at_utc, fetch_id",
                (source, symbol, *SUCCESS_STATUSES),
            ).fetchall()
            return span, fetches

        found = self._run(f"read the coverage of {symbol}", work, write=False)
        if found is None or not found[0][2]:
            return None
        (first, last, n), fetches = found
        records = tuple(self._fetch_record(symbol, row) for row in fetches)
        return Coverage(
            symbol=symbol,
            source=source,
            first_date=dt.date.fromisoformat(str(first)),
            last_date=dt.date.fromisoformat(str(last)),
            rows=int(str(n)),
            last_fetched_utc=max((r.fetched_at_utc for r in records), default=None),
            fetches=records,
        )

    def _fetch_record(self, symbol: str, row: tuple[object, ...]) -> FetchRecord:
        fetch_id, start, end, fetched_at = row
        try:
            record = FetchRecord(_to_date(start), _to_date(end), str(fetched_at))
            record.fetched_on  # noqa: B018 - parse now, so that a damaged time fails here with its row
        except (TypeError, ValueError) as exc:
            raise StoreError(
                self.path,
                f"damaged download log row {fetch_id} of symbol {symbol!r}: {exc}",
                "the file was changed outside eventstudy; move the store aside (e.g. rename it to "
                "prices.sqlite.bad) and run `eventstudy fetch` again",
                symbol=symbol,
                row=f"fetch {fetch_id}",
            ) from exc
        return record

    def factor_file(self, dataset: str) -> StoredFactorFile | None:
        """The latest stored download of a factor file, or None (also for a store without factor files).

        Raises
        ------
        StoreError
            When the stored bytes no longer match their SHA-256 (the file was changed outside eventstudy).
        """

        def work(con: sqlite3.Connection) -> tuple[object, ...] | None:
            if (
                con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'factor_files'").fetchone()
                is None
            ):
                return None
            row: tuple[object, ...] | None = con.execute(
                "SELECT content, fetched_at_utc, vintage, sha256, fetch_id FROM factor_files WHERE dataset = ? "
                "ORDER BY fetched_at_utc DESC, fetch_id DESC LIMIT 1",
                (dataset,),
            ).fetchone()
            return row

        row = self._run(f"read the factor file {dataset}", work, write=False)
        if row is None:
            return None
        content, fetched_at, vintage, sha256, fetch_id = row
        if not isinstance(content, bytes) or hashlib.sha256(content).hexdigest() != sha256:
            raise StoreError(
                self.path,
                f"damaged factor file {dataset!r} (row {fetch_id}): its bytes do not match their SHA-256",
                "the file was changed outside eventstudy; download it again (refresh) or give a factor file with "
                "--factors PATH",
                symbol=dataset,
                row=f"factor file {fetch_id}",
            )
        return StoredFactorFile(content, str(fetched_at), None if vintage is None else str(vintage))

    def symbols(self, source: str | None = None) -> list[str]:
        """Return the symbols with stored rows, sorted."""

        def work(con: sqlite3.Connection) -> list[tuple[object, ...]]:
            if source is None:
                return con.execute("SELECT DISTINCT symbol FROM prices ORDER BY symbol").fetchall()
            return con.execute(
                "SELECT DISTINCT symbol FROM prices WHERE source = ? ORDER BY symbol", (source,)
            ).fetchall()

        return [str(r[0]) for r in self._run("list the stored symbols", work, write=False) or []]

    def failed_symbols(self, source: str | None = None) -> list[str]:
        """Return the symbols whose download attempts are logged but that have no stored row, sorted.

        These are not part of :meth:`listing`: a failed download leaves no data.
        """
        sql = (
            "SELECT DISTINCT f.symbol FROM fetches f WHERE (? IS NULL OR f.source = ?) AND NOT EXISTS "
            "(SELECT 1 FROM prices p WHERE p.source = f.source AND p.symbol = f.symbol) ORDER BY f.symbol"
        )
        rows = self._run(
            "list the failed downloads", lambda con: con.execute(sql, (source, source)).fetchall(), write=False
        )
        return [str(r[0]) for r in rows or []]

    def fetch_log(self, symbol: str | None = None, source: str | None = None) -> pd.DataFrame:
        """Return the download log (oldest first), optionally for one symbol and/or source.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`FETCH_LOG_COLUMNS`.
        """
        where, params = [], []
        if symbol is not None:
            where.append("symbol = ?")
            params.append(symbol)
        if source is not None:
            where.append("source = ?")
            params.append(source)
        sql = "SELECT " + ", ".join(FETCH_LOG_COLUMNS) + " FROM fetches"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY fetch_id"
        rows = self._run("read the download log", lambda con: con.execute(sql, params).fetchall(), write=False)
        frame = pd.DataFrame.from_records(rows or [], columns=list(FETCH_LOG_COLUMNS))
        frame["fetch_id"] = frame["fetch_id"].astype(np.int64)
        frame["n_rows"] = frame["n_rows"].astype(np.int64)
        return frame

    def listing(self) -> pd.DataFrame:
        """Summarise the stored data, one row per (symbol, source) with stored rows, for ``eventstudy store ls``.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`LISTING_COLUMNS`: first and last stored date (ISO text), stored rows, time and
            yfinance version of the latest fetch whose rows are stored, and the number of download attempts
            (failures included). Sorted by symbol, source. A symbol whose downloads all failed has no row
            here (see :meth:`failed_symbols` and :meth:`fetch_log`).
        """
        placeholders = ", ".join("?" * len(SUCCESS_STATUSES))
        sql = f"""
            WITH p AS (
                SELECT source, symbol, MIN(date) AS first_date, MAX(date) AS last_date, COUNT(*) AS rows
                FROM prices GROUP BY source, symbol
            ),
            f AS (
                SELECT source, symbol, COUNT(*) AS n_fetches FROM fetches GROUP BY source, symbol
            ),
            last_ok AS (
                SELECT source, symbol, fetched_at_utc, yfinance_version,
                       ROW_NUMBER() OVER (PARTITION BY source, symbol
                                          ORDER BY fetched_at_utc DESC, fetch_id DESC) AS rn
                FROM fetches WHERE status IN ({placeholders})
            )
            SELECT p.symbol, p.source, p.first_date, p.last_date, p.rows,
                   l.fetched_at_utc, l.yfinance_version, COALESCE(f.n_fetches, 0)
            FROM p
            LEFT JOIN f ON f.source = p.source AND f.symbol = p.symbol
            LEFT JOIN last_ok l ON l.source = p.source AND l.symbol = p.symbol AND l.rn = 1
            ORDER BY p.symbol, p.source
        """
        rows = self._run("list the store", lambda con: con.execute(sql, SUCCESS_STATUSES).fetchall(), write=False)
        frame = pd.DataFrame.from_records(rows or [], columns=list(LISTING_COLUMNS))
        frame["rows"] = frame["rows"].astype(np.int64)
        frame["n_fetches"] = frame["n_fetches"].astype(np.int64)
        return frame


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE ... COMMIT``; any exception (a failed ``COMMIT`` included) rolls everything back.

    ``BEGIN IMMEDIATE`` takes the write lock at once, waiting up to the connection's busy timeout, so that
    a transaction never has to upgrade a read lock (which SQLite may refuse without waiting).
    """
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        raise


__all__ = [
    "ENV_STORE",
    "FETCH_LOG_COLUMNS",
    "LISTING_COLUMNS",
    "PRICE_COLUMNS",
    "SCHEMA_VERSION",
    "FetchInfo",
    "PriceStore",
    "StoreError",
    "StoredFactorFile",
    "default_store_path",
    "utc_now_iso",
]
