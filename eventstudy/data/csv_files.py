"""Reading CSV files as text cells, shared by the file-based sources.

One implementation of what :mod:`eventstudy.data.csv_prices` and :mod:`eventstudy.data.returns_files` both
need: the header line and its checks, the body as text cells with the line each record starts on (so every
:class:`~eventstudy.errors.InputError` can name its line), a check that every record has as many fields as
the header, and the file's vintage (modification time). What a cell means is decided by
:mod:`eventstudy.data.cleaning`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy._typing import BoolArray, IntArray
from eventstudy.errors import InputError

_NEWLINE, _COMMA, _QUOTE = 10, 44, 34
_EMPTY = np.zeros(256, dtype=bool)  # bytes that leave a line blank: blanks and commas
_EMPTY[[ord(c) for c in " \t\r,"]] = True
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, eq=False)
class CsvCells:
    """The body of a CSV file as text cells.

    Parameters
    ----------
    table
        One row per record after the header (blank lines included), text cells, the header's names.
    lines
        The 1-based line each record starts on (the header is line 1).
    blank
        Records holding nothing but blanks and commas (the sources skip them; their field count is not
        checked).
    """

    table: pd.DataFrame
    lines: IntArray
    blank: BoolArray


def file_vintage(path: Path) -> str:
    """Modification time of a file as a UTC ISO 8601 string (seconds)."""
    stamp = path.stat().st_mtime
    return dt.datetime.fromtimestamp(stamp, tz=dt.UTC).isoformat(timespec="seconds")


def read_header(path: Path) -> list[str]:
    """Return the names on the first line, stripped.

    Raises
    ------
    InputError
        When the file cannot be read, is not UTF-8 text or is empty (line 1).
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=path, line=1) from exc
    except (OSError, csv.Error) as exc:
        raise InputError(f"cannot read the file ({getattr(exc, 'strerror', None) or exc})", path=path) from exc
    if not header:
        raise InputError("empty file: expected a header line", path=path, line=1)
    return [h.strip() for h in header]


def check_header(path: Path, header: list[str], *, required: tuple[str, ...], allowed: tuple[str, ...] | None) -> None:
    """Check that ``header`` names each column once, only ``allowed`` ones, and every ``required`` one.

    Raises
    ------
    InputError
        At line 1, naming the column.
    """
    expected = ",".join(allowed or required)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError(f"column {name!r} appears twice; expected {expected}", path=path, line=1, column=name)
        seen.add(name)
        if allowed is not None and name not in allowed:
            raise InputError(
                f"unexpected column {name!r}; expected the header {expected}",
                path=path,
                line=1,
                column=name,
                value=name,
            )
    for name in required:
        if name not in seen:
            raise InputError(f"missing column {name!r}; expected the header {expected}", path=path, line=1, column=name)


def read_cells(path: Path, header: list[str], usecols: list[str] | None = None) -> CsvCells:
    """Read the body of a CSV file as text cells, checking that every record has the header's field count.

    Parameters
    ----------
    path
        The file; its first line is ``header`` (see :func:`read_header`).
    header
        The column names.
    usecols
        The columns to keep (all when None); the field count is checked on every column regardless.

    Returns
    -------
    CsvCells

    Raises
    ------
    InputError
        Naming the line of the first record with fewer or more fields than the header (blank lines are
        allowed), or when the file is not UTF-8 text or not CSV at all.

    Notes
    -----
    Files without a double quote are split into lines and fields with vectorised byte searches; files with
    quoted fields (which may hold commas and line breaks) are split by the :mod:`csv` module.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", path=path) from exc
    body = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
    try:
        fields, lines, blank = _split_quoted(body) if _QUOTE in body else plain_records(body)
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=path) from exc
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", path=path) from exc
    ragged = np.flatnonzero(~blank & (fields != len(header)))
    if len(ragged):
        k = int(ragged[0])
        raise InputError(
            f"this line has {int(fields[k])} comma-separated fields, the header has {len(header)}; give every "
            "row one field per header column (an empty value is nothing between two commas)",
            path=path,
            line=int(lines[k]),
        )
    try:
        table = pd.read_csv(
            io.BytesIO(body),
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8",
            header=0,
            names=header,
            usecols=usecols,
            index_col=False,
        )
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"malformed CSV ({exc}); every line needs {len(header)} comma-separated fields",
            path=path,
            line=int(match.group(1)) if match else None,
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=path) from exc
    if len(table) != len(lines):
        raise InputError(
            f"found {len(table)} rows but {len(lines)} lines after the header; save the file as plain CSV "
            "with one row per line",
            path=path,
        )
    return CsvCells(table=table.reset_index(drop=True), lines=lines, blank=blank)


def plain_records(body: bytes) -> tuple[IntArray, IntArray, BoolArray]:
    """Field count, line and blankness of each record after the header line, for a file without quotes.

    Vectorised byte searches (no Python loop over lines): a record is a line, its fields are separated by
    commas, and it is blank when it holds nothing but blanks, tabs, carriage returns and commas.
    """
    data = np.frombuffer(body, dtype=np.uint8)
    if len(data) and data[-1] != _NEWLINE:
        data = np.concatenate([data, np.array([_NEWLINE], dtype=np.uint8)])
    ends = np.flatnonzero(data == _NEWLINE)
    starts = np.concatenate([[0], ends[:-1] + 1])
    commas = np.flatnonzero(data == _COMMA)
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    empty = np.flatnonzero(_EMPTY[data])
    blank = np.searchsorted(empty, ends) - np.searchsorted(empty, starts) == ends - starts
    lines = np.arange(1, len(ends) + 1, dtype=np.int64)
    return fields[1:].astype(np.int64), lines[1:], blank[1:]


def _split_quoted(body: bytes) -> tuple[IntArray, IntArray, BoolArray]:
    """Field count, first line and blankness of each record after the header, by the csv module."""
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    next(reader, None)
    counts: list[int] = []
    last_lines: list[int] = [reader.line_num]
    blanks: list[bool] = []
    for row in reader:
        counts.append(len(row))
        last_lines.append(reader.line_num)
        blanks.append(not any(cell.strip() for cell in row))
    lines = np.asarray(last_lines[:-1], dtype=np.int64) + 1
    return np.asarray(counts, dtype=np.int64), lines, np.asarray(blanks, dtype=bool)


__all__ = ["CsvCells", "check_header", "file_vintage", "plain_records", "read_cells", "read_header"]
