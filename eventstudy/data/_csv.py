"""Reading CSV files as text, shared by the file-based price sources.

One implementation of what :mod:`eventstudy.data.csv_prices` and :mod:`eventstudy.data.returns_files` both
need: the header line and its checks, the body as text cells whose row ``i`` is on line ``i + 2`` (so every
:class:`~eventstudy.errors.InputError` can name its line), the file's vintage (modification time), the
tokens that mean an empty cell and the ISO-date pattern. :func:`_list_dates` writes the short date lists of
the sources' ``notes`` (also used by :class:`~eventstudy.data.sources.YahooPrices`).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.errors import InputError

_MISSING_TOKENS = frozenset({"", "null", "nan", "na", "n/a", "none", "#n/a"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T][0-9:.+\-Z]*)?$")
_MAX_LISTED = 5


def _mtime_iso(path: Path) -> str:
    """Modification time of a file as a UTC ISO 8601 string (seconds)."""
    stamp = path.stat().st_mtime
    return dt.datetime.fromtimestamp(stamp, tz=dt.UTC).isoformat(timespec="seconds")


def _list_dates(dates: pd.DatetimeIndex | np.ndarray) -> str:
    shown = [str(pd.Timestamp(d).date()) for d in dates[:_MAX_LISTED]]
    more = len(dates) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _read_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=path, line=1) from exc
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", path=path) from exc
    if not header:
        raise InputError("empty file: expected a header line", path=path, line=1)
    return [h.strip() for h in header]


def _check_header(path: Path, header: list[str], *, required: tuple[str, ...], allowed: tuple[str, ...] | None) -> None:
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


def _read_cells(path: Path, header: list[str], usecols: list[str] | None = None) -> pd.DataFrame:
    """Read the body as text cells; row ``i`` of the result is line ``i + 2`` of the file."""
    try:
        table = pd.read_csv(
            path,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            header=0,
            names=header,
            usecols=usecols,
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
    return table.reset_index(drop=True)
