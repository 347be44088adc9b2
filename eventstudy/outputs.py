"""Writing a study's tidy tables: CSV for small tables, partitioned Parquet for large per-firm-event tables.

Every table of :meth:`eventstudy.results.StudyResult.frames` is written under its name. The per-firm-event
tables (:data:`PER_FIRM_EVENT_TABLES`) are written as a Parquet dataset when asked (``"parquet"``) or, by
default (``"auto"``), when they hold more than :data:`LARGE_TABLE_ROWS` rows; every other table, and every
table under ``"csv"``, is a CSV file.

A Parquet table is a folder ``<name>.parquet/`` of files ``part-<bb>.parquet``, one per non-empty bucket:
the rows of one event id (``group`` for ``tests``) always fall in the same bucket, ``bb`` =
a fixed hash of the key modulo :data:`PARQUET_BUCKETS`, so a reader can take one event's rows from one file
and a writer can produce the buckets independently. Within a file the rows keep the table's order. Read the
whole table back with ``pandas.read_parquet("<name>.parquet")`` (rows then come bucket by bucket). Text
columns are written dictionary-encoded and without the Arrow schema, so they read back as text (not as
categories). Date columns are Parquet dates, instants
(time-zone aware columns) timestamps in UTC; the CSV writes them as ``YYYY-MM-DD`` and ISO 8601 text.

Every table appears atomically: a CSV file or a Parquet folder is written under a hidden temporary name in
the same folder (``.<name>.<pid>-<random>.partial``) and renamed into place (:func:`os.replace`) only when
complete, so an interrupted or failed write never leaves anything under a table's name that is not a
complete table; a failed write removes its temporary file or folder (a killed process can leave one behind,
hidden and named ``.partial``) and keeps the table of an earlier run. A folder being replaced is first
renamed to a hidden name, then removed, so the name never holds a half-deleted folder. Writing one form of
a table removes the other form left by an earlier run (``car.csv`` when ``car.parquet/`` is written, and
the reverse).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

OutputFormat = Literal["auto", "csv", "parquet"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("auto", "csv", "parquet")
"""Choices of the ``--output-format`` option."""

LARGE_TABLE_ROWS = 100_000
"""Under ``"auto"``, a per-firm-event table with more rows than this is written as Parquet."""

PER_FIRM_EVENT_TABLES: Mapping[str, str] = {
    "event_days": "event_id",
    "parameters": "event_id",
    "abnormal_returns": "event_id",
    "car": "event_id",
    "tests": "group",
    "firm_events": "event_id",
}
"""The tables that grow with the number of firm-events, and the column whose value picks a row's bucket."""

PARQUET_BUCKETS = 16
"""Number of buckets (at most files) of a Parquet table."""


def table_format(name: str, n_rows: int, output_format: OutputFormat = "auto") -> Literal["csv", "parquet"]:
    """The form a table is written in.

    Parameters
    ----------
    name
        The table's name (``"car"``, ``"knobs"``, ...).
    n_rows
        Its number of rows.
    output_format
        ``"csv"``: every table as CSV; ``"parquet"``: the per-firm-event tables as Parquet; ``"auto"``: those
        of them with more than :data:`LARGE_TABLE_ROWS` rows as Parquet.

    Examples
    --------
    >>> table_format("car", 150_000), table_format("car", 10), table_format("knobs", 10, "parquet")
    ('parquet', 'csv', 'csv')
    """
    if name not in PER_FIRM_EVENT_TABLES or output_format == "csv":
        return "csv"
    if output_format == "parquet" or n_rows > LARGE_TABLE_ROWS:
        return "parquet"
    return "csv"


def table_file(name: str, n_rows: int) -> str:
    """The file name a table of ``n_rows`` rows gets by default (``"auto"``), for a report to name it.

    Examples
    --------
    >>> table_file("car", 10), table_file("car", 200_000), table_file("knobs", 200_000)
    ('car.csv', 'car.parquet/', 'knobs.csv')
    """
    form = table_format(name, n_rows)
    return f"{name}.{form}" + ("/" if form == "parquet" else "")


def table_path(directory: Path, name: str, form: Literal["csv", "parquet"]) -> Path:
    """``<directory>/<name>.csv`` or the folder ``<directory>/<name>.parquet``."""
    return directory / f"{name}.{form}"


def write_tables(
    frames: Mapping[str, pd.DataFrame], directory: str | Path, output_format: OutputFormat = "auto"
) -> list[Path]:
    """Write each frame as ``<name>.csv`` or ``<name>.parquet/`` (:func:`table_format`) and return the paths.

    Parameters
    ----------
    frames
        Tables by name, in the order to write them.
    directory
        The output folder, created if missing.
    output_format
        ``"auto"`` (default), ``"csv"`` or ``"parquet"`` (:func:`table_format`).

    Returns
    -------
    list of pathlib.Path
        One path per table: a CSV file or a Parquet folder.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in frames.items():
        form = table_format(name, len(frame), output_format)
        path = table_path(out, name, form)
        if form == "parquet":
            write_parquet(frame, path, PER_FIRM_EVENT_TABLES[name])
        else:
            write_csv(frame, path)
        _discard(table_path(out, name, "csv" if form == "parquet" else "parquet"))
        paths.append(path)
    return paths


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """One table as CSV: floats with 10 significant digits, dates ``YYYY-MM-DD``, instants ISO 8601 (``Z``).

    The file appears under ``path`` only when complete (module docstring).
    """
    with in_place(path) as partial:
        with_iso_instants(frame).to_csv(partial, index=False, float_format="%.10g", date_format="%Y-%m-%d")


def write_parquet(frame: pd.DataFrame, folder: Path, key: str) -> None:
    """One table as a Parquet folder of hash buckets of ``key`` (module docstring), replaced in one rename.

    Parameters
    ----------
    frame
        The table.
    folder
        ``<name>.parquet``; replaced if it exists.
    key
        The column whose value picks each row's bucket.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = arrow_table(frame)
    # text columns dictionary-encoded: the gather below then moves integer indices, not the texts, and the
    # writer takes the dictionary as it is; the Arrow schema is not stored, so the files read back as text
    columns = [
        pc.dictionary_encode(c) if pa.types.is_large_string(c.type) or pa.types.is_string(c.type) else c
        for c in table.columns
    ]
    table = pa.Table.from_arrays(columns, names=table.column_names)
    bucket = bucket_of(frame[key])
    order = np.argsort(bucket, kind="stable")
    starts = np.searchsorted(bucket[order], np.arange(PARQUET_BUCKETS + 1))
    by_bucket = table.take(pa.array(order))  # one gather; each bucket is then a zero-copy slice
    with in_place(folder) as partial:
        partial.mkdir()
        for b in np.flatnonzero(np.diff(starts)):  # at most PARQUET_BUCKETS files
            part = by_bucket.slice(int(starts[b]), int(starts[b + 1] - starts[b]))
            pq.write_table(part, partial / f"part-{b:02d}.parquet", store_schema=False)
        if not len(frame):
            pq.write_table(table, partial / "part-00.parquet", store_schema=False)  # the columns of an empty table


def temporary_name(path: Path) -> Path:
    """A hidden name next to ``path``, unique to this call: ``.<name>.<pid>-<random>.partial``."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.partial")


@contextmanager
def in_place(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write a file or folder at; on success move it to ``path`` in one rename.

    Whatever is at ``path`` before (a file or a folder) stays there until the new one is complete and is
    then replaced; if the block raises, the temporary file or folder is removed and ``path`` is untouched.
    """
    partial = temporary_name(path)
    try:
        yield partial
        if partial.is_dir() or (path.is_dir() and not path.is_symlink()):
            _discard(path)  # os.replace puts a file over a file, but a folder only over nothing
        os.replace(partial, path)
    except BaseException:
        _remove(partial)
        raise


def _discard(path: Path) -> None:
    """Remove a file or folder, a folder by first renaming it to a hidden name (never half-deleted under ``path``)."""
    if path.is_dir() and not path.is_symlink():
        doomed = temporary_name(path)
        os.replace(path, doomed)
        _remove(doomed)
    else:
        path.unlink(missing_ok=True)


def _remove(path: Path) -> None:
    """Remove a file or folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def bucket_of(keys: pd.Series) -> np.ndarray:
    """The bucket (0 .. :data:`PARQUET_BUCKETS` - 1) of each key: a fixed 64-bit hash of its text.

    The hash is :func:`pandas.util.hash_array` with its default key, the same in every run and process, so
    the rows of a key always land in the same bucket. Each distinct key is hashed once.
    """
    codes, uniques = pd.factorize(keys.astype(str), sort=False)
    hashed = pd.util.hash_array(np.asarray(uniques, dtype=object))
    return np.asarray((hashed % np.uint64(PARQUET_BUCKETS)).astype(np.int64)[codes], dtype=np.int64)


def arrow_table(frame: pd.DataFrame) -> Any:
    """``frame`` as a :class:`pyarrow.Table` with the column types of a written table.

    Tz-naive datetime columns (they hold dates in these tables) become Parquet dates, instants (time-zone
    aware columns) UTC timestamps; the other columns are converted as pyarrow converts them.
    """
    import pyarrow as pa

    arrays = []
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            arrays.append(pa.array(values.dt.tz_convert("UTC")))
        elif pd.api.types.is_datetime64_dtype(values.dtype):
            days = values.to_numpy().astype("datetime64[D]")
            arrays.append(pa.array(days, type=pa.date32(), mask=np.isnat(days)))
        else:
            arrays.append(pa.array(values, from_pandas=True))
    return pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns])


def with_iso_instants(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every time-zone aware column as ISO 8601 text (``Z`` for UTC; ``""`` for NaT)."""
    aware = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    if not aware:
        return frame
    out = frame.copy()
    for column in aware:
        values = out[column]
        text = values.dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"\+0000$", "Z", regex=True)
        text = text.str.replace(r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True)
        out[column] = text.where(values.notna(), "")
    return out


__all__ = [
    "LARGE_TABLE_ROWS",
    "OUTPUT_FORMATS",
    "PARQUET_BUCKETS",
    "PER_FIRM_EVENT_TABLES",
    "OutputFormat",
    "arrow_table",
    "bucket_of",
    "in_place",
    "table_file",
    "table_format",
    "table_path",
    "temporary_name",
    "write_csv",
    "write_parquet",
    "write_tables",
]
