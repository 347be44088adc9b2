"""The local price store: one SQLite file with every downloaded row and a log of every download.

Design (``docs/ECOSYSTEM.md`` §5):

* stdlib :mod:`sqlite3` in WAL mode, so that readers (a notebook) never block while a writer (the CLI)
  downloads, and readers always see a committed snapshot; ``PRAGMA synchronous=FULL``; a busy timeout
  for concurrent writers;
* every write is one ``BEGIN IMMEDIATE ... COMMIT`` transaction: an exception half-way through rolls
  back and leaves the rows already stored untouched;
* ``prices`` keeps raw ``close``, ``adj_close``, ``dividends`` and ``splits`` so that adjusted-price
  drift can be detected (:func:`adjustment_drift`); rows are upserted on ``(source, symbol, date)``;
* ``fetches`` is an append-only log of every download attempt, failures included (triggers refuse
  updates and deletes);
* ``meta`` holds the schema version.

The file lives in the user *data* directory (cache directories may be wiped); see
:func:`default_store_path`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

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
)

_UPSERT = (
    "INSERT INTO prices (source, symbol, date, "
    + ", ".join(PRICE_COLUMNS)
    + ", fetch_id) VALUES ("
    + ", ".join("?" * (len(PRICE_COLUMNS) + 4))
    + ") ON CONFLICT (source, symbol, date) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*PRICE_COLUMNS, "fetch_id"))
)


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
        What went wrong (the SQLite message).
    advice
        What the user can do about it.
    """

    def __init__(self, path: str | Path, problem: str, advice: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.advice = advice
        super().__init__(f"price store {self.path}: {problem}; {advice}")


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


@dataclass(frozen=True)
class FetchRecord:
    """One successful fetch of a symbol, as needed for coverage decisions."""

    requested_start: dt.date | None
    requested_end: dt.date | None
    fetched_at_utc: str

    @property
    def fetched_on(self) -> dt.date:
        """UTC calendar date of the fetch."""
        return dt.datetime.fromisoformat(self.fetched_at_utc).astimezone(dt.UTC).date()


@dataclass(frozen=True)
class Coverage:
    """What the store holds for one (source, symbol).

    Parameters
    ----------
    symbol, source
        The key.
    first_date, last_date
        First and last stored date.
    rows
        Number of stored rows.
    last_fetched_utc
        Time of the latest fetch whose rows are stored (status ``ok`` or ``rebased``), or None.
    fetches
        The successful fetches, oldest first.
    """

    symbol: str
    source: str
    first_date: dt.date
    last_date: dt.date
    rows: int
    last_fetched_utc: str | None
    fetches: tuple[FetchRecord, ...] = ()

    def head_covered(self, start: dt.date, slack_days: int = 7) -> bool:
        """Whether rows from ``start`` on are stored (allowing ``slack_days`` of non-trading days).

        Also true when an earlier successful fetch already asked for ``start`` or earlier: the symbol's
        history simply begins later (e.g. a listing after ``start``).
        """
        if self.first_date <= start + dt.timedelta(days=slack_days):
            return True
        return any(f.requested_start is not None and f.requested_start <= start for f in self.fetches)

    def tail_covered(self, end: dt.date, slack_days: int = 7) -> bool:
        """Whether rows up to ``end`` are stored (allowing ``slack_days`` of non-trading days).

        Also true when a successful fetch that asked for ``end`` or later happened after ``end``: Yahoo
        had nothing more (a suspension, a delisting, or a long closure).
        """
        if self.last_date >= end - dt.timedelta(days=slack_days):
            return True
        return any(f.requested_end is not None and f.requested_end >= end and f.fetched_on > end for f in self.fetches)

    def covers(self, start: dt.date, end: dt.date, slack_days: int = 7) -> bool:
        """Whether the store can serve ``start``..``end`` without a download."""
        return self.head_covered(start, slack_days) and self.tail_covered(end, slack_days)


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


def adjustment_drift(stored: pd.DataFrame, new: pd.DataFrame, rtol: float = 1e-6) -> str | None:
    r"""Say whether a new download disagrees with the stored adjusted-price vintage.

    Yahoo rebases ``Adj Close`` backwards whenever a dividend or split appears, so adjusted prices
    downloaded on different dates are not comparable (``docs/ECOSYSTEM.md`` §1.2, §5).

    Parameters
    ----------
    stored, new
        Frames indexed by date with ``adj_close``, ``dividends`` and ``splits`` columns.
    rtol
        Relative tolerance on ``adj_close`` for overlapping dates.

    Returns
    -------
    str or None
        A description of the first disagreement found, or None when the download is consistent.

    Notes
    -----
    Drift is reported when (a) the download has a dividend or split on a date after the first stored
    date that the store does not hold with the same amount (an action dated on or before the first
    stored date only adjusts earlier prices, none of which are stored), or (b) on dates present in
    both, :math:`|a_{new} - a_{stored}| > rtol \\cdot |a_{stored}|` for ``adj_close``.
    """
    if stored is None or stored.empty or new is None or new.empty:
        return None
    first_stored = stored.index.min()
    for column, label in (("dividends", "dividend"), ("splits", "split")):
        if column not in new.columns:
            continue
        amounts = pd.to_numeric(new[column], errors="coerce").fillna(0.0)
        actions = amounts[(amounts != 0) & (amounts.index > first_stored)]
        if actions.empty:
            continue
        old = pd.to_numeric(stored[column], errors="coerce").fillna(0.0) if column in stored.columns else None
        for day, amount in actions.items():
            previous = 0.0 if old is None else float(old.get(day, 0.0))
            if not np.isclose(previous, float(amount), rtol=1e-9, atol=0.0):
                return f"new {label} of {float(amount):g} on {pd.Timestamp(day).date()} not in the store"
    common = stored.index.intersection(new.index)
    if len(common):
        a_old = pd.to_numeric(stored.loc[common, "adj_close"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        a_new = pd.to_numeric(new.loc[common, "adj_close"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        ok = np.isfinite(a_old) & np.isfinite(a_new)
        rel = np.zeros(len(common))
        rel[ok] = np.abs(a_new[ok] - a_old[ok]) / np.abs(a_old[ok])
        bad = np.flatnonzero(rel > rtol)
        if len(bad):
            return (
                f"adj_close differs from the stored vintage on {len(bad)} of {len(common)} overlapping dates "
                f"(first {pd.Timestamp(common[bad[0]]).date()}, max relative difference {rel.max():.3g})"
            )
    return None


class PriceStore:
    """The SQLite price store.

    Parameters
    ----------
    path
        The store file; None means :func:`default_store_path` (``$EVENTSTUDY_STORE`` or the user data
        directory). Parent folders are created on the first write.
    busy_timeout
        Seconds a writer waits for another process's write transaction before giving up.

    Notes
    -----
    Each method opens its own short-lived connection, so one instance can be used from several threads
    and several processes can share the file. Reading methods on a file that does not exist return
    empty results and do not create it.

    Examples
    --------
    >>> store = PriceStore(tmp_path / "prices.sqlite")  # doctest: +SKIP
    >>> store.listing()  # doctest: +SKIP
    """

    def __init__(self, path: str | Path | None = None, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.busy_timeout = float(busy_timeout)
        self._schema_ready = False

    def __repr__(self) -> str:
        return f"PriceStore({str(self.path)!r})"

    # ------------------------------------------------------------------ connections

    def _unreadable(self, exc: BaseException) -> StoreError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
            return StoreError(
                self.path,
                f"busy ({text})",
                f"another process is writing to the store for more than {self.busy_timeout:g} s; retry later",
            )
        return StoreError(
            self.path,
            f"cannot be used as a price store ({type(exc).__name__}: {text})",
            "if the file is damaged, move it aside (e.g. rename it to prices.sqlite.bad) so that a new store "
            f"is created, or choose another file with --store PATH or ${ENV_STORE}",
        )

    @contextlib.contextmanager
    def _connect(self, *, create: bool) -> Iterator[sqlite3.Connection | None]:
        """Open a connection (autocommit; explicit transactions), or yield None for a missing file."""
        if not self.path.exists():
            if not create:
                yield None
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._unreadable(exc) from exc
        if self.path.exists() and self.path.is_dir():
            raise StoreError(self.path, "is a directory", f"give a file name, e.g. {self.path / STORE_FILENAME}")
        try:
            con = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from exc
        try:
            try:
                con.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                con.execute("PRAGMA synchronous = FULL")
                if not self._schema_ready:
                    self._init_schema(con)
            except sqlite3.DatabaseError as exc:
                raise self._unreadable(exc) from exc
            try:
                yield con
            except sqlite3.DatabaseError as exc:
                raise self._unreadable(exc) from exc
        finally:
            con.close()

    @contextlib.contextmanager
    def _transaction(self, con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE ... COMMIT``; any exception rolls everything back."""
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def _init_schema(self, con: sqlite3.Connection) -> None:
        """Create the tables on first use and check the schema version.

        Only a store without tables takes the write lock here, so that opening a store never waits for
        another process's write transaction.
        """
        mode = con.execute("PRAGMA journal_mode").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            con.execute("PRAGMA journal_mode = WAL")
        version = self._schema_version(con)
        if version is None:
            with self._transaction(con):
                for statement in _SCHEMA:
                    con.execute(statement)
                if self._schema_version(con) is None:
                    con.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                    con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('created_utc', ?)", (utc_now_iso(),))
            version = SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise StoreError(
                self.path,
                f"schema version {version} is newer than this eventstudy understands ({SCHEMA_VERSION})",
                "upgrade eventstudy, or choose another file with --store PATH",
            )
        self._schema_ready = True

    @staticmethod
    def _schema_version(con: sqlite3.Connection) -> int | None:
        has_meta = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        if has_meta is None:
            return None
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else int(row[0])

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
            When the file cannot be written. Any exception rolls the whole write back.
        """
        with self._connect(create=True) as con:
            assert con is not None
            with self._transaction(con):
                fetch_id = self._insert_fetch(con, symbol, info, len(frame))
                if replace:
                    con.execute("DELETE FROM prices WHERE source = ? AND symbol = ?", (info.source, symbol))
                con.executemany(_UPSERT, _frame_rows(info.source, symbol, frame, fetch_id))
        return fetch_id

    def log_fetch(self, symbol: str, info: FetchInfo, n_rows: int = 0) -> int:
        """Append a fetch to the log without storing rows (failures, discarded downloads).

        Returns
        -------
        int
            The new ``fetch_id``.
        """
        with self._connect(create=True) as con:
            assert con is not None
            with self._transaction(con):
                return self._insert_fetch(con, symbol, info, n_rows)

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
        """Log a failed download attempt.

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
        """
        with self._connect(create=False) as con:
            if con is None:
                return None
            rows = con.execute(
                "SELECT date, " + ", ".join(PRICE_COLUMNS) + ", fetch_id FROM prices "
                "WHERE source = ? AND symbol = ? ORDER BY date",
                (source, symbol),
            ).fetchall()
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
        """Return what is stored for a symbol, or None when no row is stored."""
        with self._connect(create=False) as con:
            if con is None:
                return None
            first, last, n = con.execute(
                "SELECT MIN(date), MAX(date), COUNT(*) FROM prices WHERE source = ? AND symbol = ?",
                (source, symbol),
            ).fetchone()
            fetches = con.execute(
                "SELECT requested_start, requested_end, fetched_at_utc FROM fetches "
                "WHERE source = ? AND symbol = ? AND status IN ("
                + ", ".join("?" * len(SUCCESS_STATUSES))
                + ") ORDER BY fetched_at_utc, fetch_id",
                (source, symbol, *SUCCESS_STATUSES),
            ).fetchall()
        if not n:
            return None
        records = tuple(FetchRecord(_to_date(a), _to_date(b), str(c)) for a, b, c in fetches)
        return Coverage(
            symbol=symbol,
            source=source,
            first_date=dt.date.fromisoformat(first),
            last_date=dt.date.fromisoformat(last),
            rows=int(n),
            last_fetched_utc=max((r.fetched_at_utc for r in records), default=None),
            fetches=records,
        )

    def symbols(self, source: str | None = None) -> list[str]:
        """Return the symbols with stored rows, sorted."""
        with self._connect(create=False) as con:
            if con is None:
                return []
            if source is None:
                rows = con.execute("SELECT DISTINCT symbol FROM prices ORDER BY symbol").fetchall()
            else:
                rows = con.execute(
                    "SELECT DISTINCT symbol FROM prices WHERE source = ? ORDER BY symbol", (source,)
                ).fetchall()
        return [r[0] for r in rows]

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
        with self._connect(create=False) as con:
            rows = [] if con is None else con.execute(sql, params).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=list(FETCH_LOG_COLUMNS))
        frame["fetch_id"] = frame["fetch_id"].astype(np.int64)
        frame["n_rows"] = frame["n_rows"].astype(np.int64)
        return frame

    def listing(self) -> pd.DataFrame:
        """Summarise the store, one row per (symbol, source), for ``eventstudy store ls``.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`LISTING_COLUMNS`: first and last stored date (ISO text, empty when only failed
            downloads exist), stored rows, time and yfinance version of the latest fetch whose rows are
            stored, and the number of download attempts (failures included). Sorted by symbol, source.
        """
        placeholders = ", ".join("?" * len(SUCCESS_STATUSES))
        sql = f"""
            WITH keys AS (
                SELECT source, symbol FROM prices GROUP BY source, symbol
                UNION SELECT source, symbol FROM fetches GROUP BY source, symbol
            ),
            p AS (
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
            SELECT k.symbol, k.source, p.first_date, p.last_date, COALESCE(p.rows, 0),
                   l.fetched_at_utc, l.yfinance_version, COALESCE(f.n_fetches, 0)
            FROM keys k
            LEFT JOIN p ON p.source = k.source AND p.symbol = k.symbol
            LEFT JOIN f ON f.source = k.source AND f.symbol = k.symbol
            LEFT JOIN last_ok l ON l.source = k.source AND l.symbol = k.symbol AND l.rn = 1
            ORDER BY k.symbol, k.source
        """
        with self._connect(create=False) as con:
            rows = [] if con is None else con.execute(sql, SUCCESS_STATUSES).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=list(LISTING_COLUMNS))
        frame["rows"] = frame["rows"].astype(np.int64)
        frame["n_fetches"] = frame["n_fetches"].astype(np.int64)
        return frame


__all__ = [
    "ENV_STORE",
    "FETCH_LOG_COLUMNS",
    "LISTING_COLUMNS",
    "PRICE_COLUMNS",
    "SCHEMA_VERSION",
    "Coverage",
    "FetchInfo",
    "FetchRecord",
    "PriceStore",
    "StoreError",
    "adjustment_drift",
    "default_store_path",
]
