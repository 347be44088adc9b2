"""Writing a study's tidy tables: CSV for small tables, partitioned Parquet for large per-firm-event tables.

Every table of :meth:`eventstudy.results.StudyResult.frames` is written under its name. The per-firm-event
tables (:data:`PER_FIRM_EVENT_TABLES`) are written as a Parquet dataset when asked (``"parquet"``) or, by
default (``"auto"``), when they hold more than :data:`LARGE_TABLE_ROWS` rows; every other table, and every
table under ``"csv"``, is a CSV file.

A Parquet table is a folder ``<name>.parquet/`` of files ``part-<nnnnn>.parquet`` holding consecutive rows of
the table, in its order, at most about :data:`PARQUET_PART_ROWS` rows each; a part ends only where the key
column (``event_id``, ``group`` for ``tests``) changes, so the consecutive rows of one event are never split
(in the per-firm-event tables every event's rows are consecutive, so each event lies in one file). Read the
whole table back, in order, with ``pandas.read_parquet("<name>.parquet")``. Text columns are written with
Parquet's dictionary encoding (each file its own dictionary) and without the Arrow schema, so they read back
as text (not as categories); numbers are written plain. Date columns are Parquet dates, instants (time-zone
aware columns) timestamps in UTC; the CSV writes them as ``YYYY-MM-DD`` and ISO 8601 text.

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
from concurrent.futures import ThreadPoolExecutor
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
"""The tables that grow with the number of firm-events, and the key column whose runs a part never splits."""

PARQUET_PART_ROWS = 2_000_000
"""Rows of a Parquet part file before the next part starts (at the next change of the key column)."""


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


def table_file(name: str, n_rows: int, output_format: OutputFormat = "auto") -> str:
    """The file name a table of ``n_rows`` rows gets under ``output_format``, for a report to name it.

    Examples
    --------
    >>> table_file("car", 10), table_file("car", 200_000), table_file("knobs", 200_000)
    ('car.csv', 'car.parquet/', 'knobs.csv')
    >>> table_file("car", 10, "parquet"), table_file("car", 200_000, "csv")
    ('car.parquet/', 'car.csv')
    """
    form = table_format(name, n_rows, output_format)
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
        discard(table_path(out, name, "csv" if form == "parquet" else "parquet"))
        paths.append(path)
    return paths


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """One table as CSV: floats with 10 significant digits, dates ``YYYY-MM-DD``, instants ISO 8601 (``Z``).

    The file appears under ``path`` only when complete (module docstring).
    """
    with in_place(path) as partial:
        with_iso_instants(frame).to_csv(partial, index=False, float_format="%.10g", date_format="%Y-%m-%d")


def write_parquet(frame: pd.DataFrame, folder: Path, key: str) -> None:
    """One table as a Parquet folder of consecutive-row parts (module docstring), replaced in one rename.

    Parameters
    ----------
    frame
        The table.
    folder
        ``<name>.parquet``; replaced if it exists.
    key
        The column whose runs of equal values a part never splits (:func:`part_bounds`).
    """
    import pyarrow.parquet as pq

    from eventstudy.data.parquet import is_text_type

    table = arrow_table(frame)
    # Parquet's dictionary encoding for the text columns only; numbers are written plain
    text = [name for name, kind in zip(table.column_names, table.schema.types, strict=True) if is_text_type(kind)]
    bounds = part_bounds(frame[key], PARQUET_PART_ROWS)

    def write_part(number: int) -> None:
        start, stop = bounds[number]
        part = table.slice(start, stop - start)  # zero-copy
        pq.write_table(part, partial / f"part-{number:05d}.parquet", store_schema=False, use_dictionary=text)

    with in_place(folder) as partial:
        partial.mkdir()
        if len(bounds) == 1:
            write_part(0)
        else:  # pyarrow encodes and compresses without the GIL: the parts are written in parallel
            with ThreadPoolExecutor(max_workers=min(len(bounds), os.cpu_count() or 1)) as pool:
                list(pool.map(write_part, range(len(bounds))))


def part_bounds(keys: pd.Series, rows: int) -> list[tuple[int, int]]:
    """Half-open row ranges of the parts: each ends at the first change of ``keys`` after ``rows`` rows or more.

    One part (``[(0, 0)]``, the columns of an empty table) when there are no rows; a run of one key longer
    than ``rows`` stays whole in one part.
    """
    n = len(keys)
    if n <= rows:
        return [(0, n)]
    values = keys.array  # compared as arrays (Arrow compute for text), no Python object per row
    differs = np.asarray(pd.array(values[1:] != values[:-1]).fillna(True), dtype=bool)
    changes = np.flatnonzero(differs) + 1  # the first row of every run but the first
    bounds: list[tuple[int, int]] = []
    start = 0
    while n - start > rows:  # once per part
        at = int(np.searchsorted(changes, start + rows))  # the first change at or after `rows` rows of the part
        if at == len(changes):
            break
        bounds.append((start, int(changes[at])))
        start = int(changes[at])
    return [*bounds, (start, n)]


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
            discard(path)  # os.replace puts a file over a file, but a folder only over nothing
        os.replace(partial, path)
    except BaseException:
        _remove(partial)
        raise


def discard(path: Path) -> None:
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
    "PARQUET_PART_ROWS",
    "PER_FIRM_EVENT_TABLES",
    "OutputFormat",
    "arrow_table",
    "discard",
    "in_place",
    "part_bounds",
    "table_file",
    "table_format",
    "table_path",
    "temporary_name",
    "write_csv",
    "write_parquet",
    "write_tables",
]
