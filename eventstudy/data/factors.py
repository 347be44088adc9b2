"""Daily factor returns for the factor models (CAPM, Fama–French 3 and 5, Carhart): files, Ken French, the store.

Sources (``docs/methods.md`` §4.4, ``../shared/docs/ECOSYSTEM.md`` §6):

* a user CSV or Parquet file (:func:`read_factor_file`): a ``date`` column and factor columns, in percent or
  decimals (declared, or detected by the rule of :func:`read_factor_file`);
* Ken French's data library in its own layout (:func:`parse_french_csv`, :func:`read_french_zip`), fetched over
  HTTP and kept in the SQLite store with its vintage (:func:`load_french`), or read from the store offline;
* the curated folder ``../shared/data/curated/factors/`` (:func:`load_curated_factors`).

Every reader returns a :class:`FactorTable`: the file's own calendar as int64 days, values as **decimals**
(percent files divided by 100), canonical lower-case column names (:data:`FACTOR_COLUMNS`), and where the values
came from (source, region, vintage, units and the sentence that says how the units were decided). Missing-value
codes of the French files (-99.99 and -999) and empty cells are NaN. :func:`factor_region` maps a ticker's
listing to the region of its factor set (Hong Kong and Taiwan to Asia Pacific ex Japan, Tokyo to Japan, US
listings to the US).
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventstudy._typing import FloatArray, IntArray
from eventstudy.data.cleaning import is_missing, order_rows, parse_dates, show
from eventstudy.data.csv_files import read_cells, read_header
from eventstudy.errors import DataError, InputError, UnknownNameError

if TYPE_CHECKING:
    import requests

    from eventstudy.data.store import PriceStore

FACTOR_COLUMNS: tuple[str, ...] = ("mkt_rf", "smb", "hml", "rmw", "cma", "mom", "rf")
"""Canonical names of the factor columns (other columns keep their lower-cased names)."""

FACTOR_MODELS: tuple[str, ...] = ("capm", "ff3", "ff5", "carhart", "mom")
"""Models the loaders assemble: CAPM is the FF3 file's ``mkt_rf`` and ``rf``; Carhart is FF3 joined with ``mom``."""

FRENCH_REGIONS: tuple[str, ...] = ("us", "asia_pacific_ex_japan", "japan", "europe", "developed")

_FRENCH_PREFIX = {"asia_pacific_ex_japan": "Asia_Pacific_ex_Japan", "japan": "Japan", "europe": "Europe"}
_FRENCH_PREFIX["developed"] = "Developed"

FRENCH_DATASETS: dict[tuple[str, str], str] = {
    ("ff3", "us"): "F-F_Research_Data_Factors_daily",
    ("ff5", "us"): "F-F_Research_Data_5_Factors_2x3_daily",
    ("mom", "us"): "F-F_Momentum_Factor_daily",
    **{(model, region): f"{prefix}_{part}_Daily" for region, prefix in _FRENCH_PREFIX.items()
       for model, part in (("ff3", "3_Factors"), ("ff5", "5_Factors"), ("mom", "Mom_Factor"))},
}  # fmt: skip
"""Dataset names of Ken French's data library for each (file, region): ``ff3``, ``ff5`` or ``mom`` daily files."""

FRENCH_URL = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp/{dataset}_CSV.zip"
"""Where a dataset's zipped CSV is downloaded from."""

MISSING_CODES: tuple[float, ...] = (-99.99, -999.0)
"""Values that mean "missing" in Ken French's files (read as NaN in every source)."""

PERCENT_THRESHOLD = 0.05
"""Auto units: a median |value| of the non-rf columns above this is percent, at or below it decimal."""

_UNITS = ("auto", "decimal", "percent")
_FRENCH_UNITS_RULE = "Ken French data-library files are in percent (docs/methods.md §4.4): values divided by 100"
_ALIASES = {"mkt_rf": "mkt_rf", "mktrf": "mkt_rf", "mom": "mom", "umd": "mom", "wml": "mom"}
_VINTAGE_RE = re.compile(r"\busing the (\d{6})\b")
_FOOTER_RE = re.compile(r"^copyright\b", re.IGNORECASE)

_SUFFIX_REGION: dict[str, str] = {
    **dict.fromkeys(("HK", "TW", "TWO", "SS", "SZ", "KS", "KQ", "SI", "AX", "NZ"), "asia_pacific_ex_japan"),
    "T": "japan",
    **dict.fromkeys(
        ("AS", "L", "DE", "PA", "MI", "MC", "SW", "ST", "CO", "HE", "OL", "BR", "LS", "VI", "IR"), "europe"
    ),
}


@dataclass(frozen=True, eq=False)
class FactorTable:
    """Daily factor returns in decimals on the factor file's own calendar (read-only arrays).

    Parameters
    ----------
    day
        (D,) int64 days since 1970-01-01, strictly increasing.
    values
        (D, F) decimal returns; NaN where the source has no value.
    columns
        Canonical lower-case names (:data:`FACTOR_COLUMNS`; other columns lower-cased, non-alphanumerics as ``_``).
    source
        A file path, a URL, ``store:<dataset>``, or the sources of a join separated by `` + ``.
    region
        ``"us"``, ``"asia_pacific_ex_japan"``, ``"japan"``, ``"europe"``, ``"developed"``; None for a user file.
    vintage
        The French header's database month (``"... using the 202601 CRSP database"`` -> ``"202601"``), or None.
    units
        Units of the source, ``"percent"`` or ``"decimal"`` (``"mixed"`` after joining both); values are decimals.
    units_rule
        How the units were decided (declared, French files are percent, or detected and the rule).
    """

    day: IntArray
    values: FloatArray
    columns: tuple[str, ...]
    source: str
    region: str | None = None
    vintage: str | None = None
    units: str = "decimal"
    units_rule: str = "declared decimal by the caller"

    def __post_init__(self) -> None:
        day = np.array(self.day, dtype=np.int64)
        values = np.array(self.values, dtype=np.float64).reshape(len(day), len(self.columns))
        if len(day) > 1 and not bool((day[1:] > day[:-1]).all()):
            raise ValueError("FactorTable.day must be strictly increasing")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"FactorTable.columns must be distinct: {self.columns}")
        day.flags.writeable = False
        values.flags.writeable = False
        object.__setattr__(self, "day", day)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "columns", tuple(self.columns))

    def __repr__(self) -> str:
        span = f"{self.dates[0]}..{self.dates[-1]}" if len(self.day) else "no rows"
        return f"FactorTable({self.source!r}, {len(self.day)} days {span}, columns={self.columns}, units={self.units})"

    @property
    def dates(self) -> np.ndarray:
        """The days as ``datetime64[D]``."""
        return self.day.view("datetime64[D]")

    def _positions(self, names: Sequence[str]) -> list[int]:
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise InputError(
                f"no factor column {', '.join(map(repr, missing))}; the table has {', '.join(self.columns)}: "
                "choose a model whose factors the file holds, or give a file with these columns",
                parameter=self.source,
                value=missing[0],
            )
        return [self.columns.index(n) for n in names]

    def column(self, name: str) -> FloatArray:
        """The values of one column, shape (D,).

        Raises
        ------
        InputError
            The table has no such column (the message lists the columns it has).
        """
        return self.values[:, self._positions([name])[0]]

    def at(self, days: np.ndarray, names: Sequence[str]) -> FloatArray:
        """Values at the given days, shape ``days.shape + (len(names),)``; NaN where the table has no row.

        ``days`` are int64 days since 1970-01-01 of any shape (a day outside the table, such as the NaT
        placeholder ``iinfo(int64).min``, gives NaN); datetime64 values of any unit are taken as their date.
        One ``searchsorted`` over all days at once.
        """
        columns = self._positions(names)
        days = np.asarray(days)
        if days.dtype.kind == "M":
            days = np.where(np.isnat(days), np.datetime64("NaT", "D"), days.astype("datetime64[D]")).view(np.int64)
        days = days.astype(np.int64, copy=False)
        out = np.full((*days.shape, len(columns)), np.nan)
        if not len(self.day):
            return out
        position = np.minimum(np.searchsorted(self.day, days), len(self.day) - 1)
        found = self.day[position] == days
        out[found] = self.values[position[found]][:, columns]
        return out

    def select(self, names: Sequence[str]) -> FactorTable:
        """The table restricted to the columns ``names`` (in that order), on the same days."""
        columns = self._positions(names)
        return replace(self, values=self.values[:, columns], columns=tuple(names))

    def join(self, other: FactorTable) -> FactorTable:
        """Columns of both tables on the union of their days (NaN where one table lacks a day).

        A column both tables hold (``rf``) keeps this table's values and takes the other's on days this table
        lacks; where both have a value they must agree within 1e-9.

        Raises
        ------
        InputError
            A shared column whose values differ, or tables of two different regions.
        """
        if self.region is not None and other.region is not None and self.region != other.region:
            raise InputError(
                f"cannot join factors of the region {self.region} ({self.source}) with factors of the region "
                f"{other.region} ({other.source}); use files of one region",
                parameter="factors",
            )
        day = np.union1d(self.day, other.day)
        mine, theirs = np.searchsorted(day, self.day), np.searchsorted(day, other.day)
        added = [c for c in other.columns if c not in self.columns]
        values = np.full((len(day), len(self.columns) + len(added)), np.nan)
        values[mine, : len(self.columns)] = self.values
        values[theirs, len(self.columns) :] = other.select(added).values
        for name in (c for c in other.columns if c in self.columns):
            j = self.columns.index(name)
            incoming = np.full(len(day), np.nan)
            incoming[theirs] = other.column(name)
            differ = np.flatnonzero(np.abs(values[:, j] - incoming) > 1e-9)
            if len(differ):
                k = int(differ[0])
                raise InputError(
                    f"column {name} differs between {self.source} ({values[k, j]!r}) and {other.source} "
                    f"({incoming[k]!r}) on {day.view('datetime64[D]')[k]} ({len(differ)} days differ); "
                    "use files of the same vintage",
                    parameter="factors",
                    column=name,
                )
            values[:, j] = np.where(np.isnan(values[:, j]), incoming, values[:, j])
        return FactorTable(
            day=day,
            values=values,
            columns=(*self.columns, *added),
            source=f"{self.source} + {other.source}",
            region=self.region or other.region,
            vintage=self.vintage if self.vintage == other.vintage else _joined(self.vintage, other.vintage),
            units=self.units if self.units == other.units else "mixed",
            units_rule=self.units_rule
            if self.units_rule == other.units_rule
            else f"{self.source}: {self.units_rule}; {other.source}: {other.units_rule}",
        )

    def frame(self) -> pd.DataFrame:
        """``date`` (datetime64[ns]) and one column per factor, decimals (for reports and notebooks)."""
        frame = pd.DataFrame(np.array(self.values), columns=list(self.columns))
        frame.insert(0, "date", self.dates.astype("datetime64[ns]"))
        return frame


def _joined(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return ", ".join(dict.fromkeys(kept)) if kept else None


def canonical_name(name: str) -> str:
    """The canonical name of a factor column: ``Mkt-RF`` -> ``mkt_rf``, ``UMD``/``WML``/``Mom`` -> ``mom``.

    Other names are lower-cased, with runs of non-alphanumerics replaced by ``_`` (``"Sector ETF"`` ->
    ``"sector_etf"``).
    """
    plain = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    return _ALIASES.get(plain, _ALIASES.get(plain.replace("_", ""), plain))


# ------------------------------------------------------------------------------------------ readers


def read_factor_file(
    path: str | Path, units: str = "auto", region: str | None = None, *, vintage: str | None = None
) -> FactorTable:
    """Read a user factor file: CSV or Parquet with a ``date`` column and factor columns.

    Parameters
    ----------
    path
        ``.parquet`` files are read with pyarrow, anything else as CSV. The date column is named ``date`` in
        any case; dates are ISO ``YYYY-MM-DD`` or ``YYYYMMDD`` (text or integers). Column names are made
        canonical (:func:`canonical_name`). Empty cells and the codes -99.99 and -999 are missing (NaN).
    units
        ``"percent"``, ``"decimal"`` or ``"auto"``. **Auto rule**: the median absolute value of all non-empty
        values of the columns other than ``rf`` above 0.05 means percent, otherwise decimal (a daily factor
        return has a median |x| near 0.005 as a decimal and 0.5 in percent: a 10× margin either side).
    region
        The region the factors belong to (None: a file meant for every ticker).
    vintage
        A vintage to record (e.g. the French database month), when the caller knows it.

    Returns
    -------
    FactorTable
        Rows in date order, values in decimals.

    Raises
    ------
    InputError
        With the file, line and column: no date column, a date that cannot be read, a date given twice, a value
        that is not a number, no factor column, two columns with the same canonical name, unknown ``units``.
    """
    path = Path(path)
    _check_units(units)
    if path.suffix.lower() == ".parquet":
        try:
            cells = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the Parquet file ({exc})", path=path) from exc
        cells.columns = [str(c).strip() for c in cells.columns]
        return _table(cells, None, where=str(path), units=units, region=region, vintage=vintage)
    header = read_header(path)
    body = read_cells(path, header)
    keep = ~body.blank
    return _table(
        body.table[keep].reset_index(drop=True),
        body.lines[keep],
        where=str(path),
        units=units,
        region=region,
        vintage=vintage,
    )


def parse_french_csv(text: str, source: str, *, region: str | None = None) -> FactorTable:
    """Parse a daily file of Ken French's data library in its own layout.

    The layout: description lines (the first usually says ``... using the 202601 CRSP database``: the
    vintage), a blank line, a header line starting with a comma (``,Mkt-RF,SMB,HML,RF``), one row per day
    (``19260701,    0.09,   -0.25,   -0.27,    0.01``), then possibly further blocks after a blank line (the
    annual factors of monthly files) and the copyright footer. CRLF or LF line endings.

    Only the **first** data block is read, and it must be daily (8-digit ``YYYYMMDD`` dates). Values are
    percent (divided by 100); -99.99 and -999 are missing.

    Raises
    ------
    InputError
        No header line, a first block that is not daily (e.g. ``192607``: monthly), a bad date or value (with
        the line of ``source``).
    """
    lines = text.splitlines()
    stripped = [line.strip() for line in lines]
    header_at = next((i for i, line in enumerate(stripped) if line.startswith(",")), None)
    if header_at is None:
        raise InputError(
            "no header line starting with ',' (such as ',Mkt-RF,SMB,HML,RF'): not a Ken French data-library "
            "CSV file; give a factor file with a date column instead (--factors PATH)",
            path=source,
        )
    end = next((i for i in range(header_at + 1, len(stripped)) if not stripped[i] or _FOOTER_RE.match(stripped[i])),
               len(stripped))  # fmt: skip
    block = "\n".join(lines[header_at:end])
    cells = pd.read_csv(io.StringIO(block), dtype=str, na_filter=False, skipinitialspace=True, index_col=False)
    cells.columns = ["date", *(str(c).strip() for c in cells.columns[1:])]
    row_lines = np.arange(header_at + 2, header_at + 2 + len(cells), dtype=np.int64)
    if not len(cells):
        raise InputError("the first data block after the header line is empty", path=source, line=header_at + 1)
    dates = cells["date"].str.strip()
    not_daily = np.flatnonzero(~dates.str.fullmatch(r"\d{8}").to_numpy(dtype=bool))
    if len(not_daily):
        k = int(not_daily[0])
        raise InputError(
            f"the first data block is not daily: date {dates.iloc[k]!r} is not YYYYMMDD (a monthly or annual "
            "file?); download the daily file (its dataset name ends in _daily or _Daily)",
            path=source,
            line=int(row_lines[k]),
            column="date",
            value=dates.iloc[k],
        )
    vintage = next((m.group(1) for line in stripped[:header_at] if (m := _VINTAGE_RE.search(line))), None)
    table = _table(
        cells, row_lines, where=source, units="percent", region=region, vintage=vintage, header_line=header_at + 1
    )
    return replace(table, units_rule=_FRENCH_UNITS_RULE)


def read_french_zip(data: bytes, source: str, *, region: str | None = None) -> FactorTable:
    """Parse a zipped Ken French CSV as downloaded (one ``.csv`` or ``.CSV`` member); see :func:`parse_french_csv`.

    Raises
    ------
    InputError
        Not a zip archive, not exactly one CSV member, or a member that :func:`parse_french_csv` refuses.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(members) != 1:
                raise InputError(
                    f"expected one CSV file in the zip archive, found {len(members)} ({', '.join(archive.namelist())})",
                    path=source,
                )
            raw = archive.read(members[0])
    except zipfile.BadZipFile as exc:
        raise InputError(f"not a zip archive ({exc}): expected Ken French's zipped CSV", path=source) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # the description lines may hold a Windows-1252 character; numbers are ASCII
    return parse_french_csv(text, f"{source}:{members[0]}", region=region)


def _check_units(units: str) -> None:
    if units not in _UNITS:
        raise UnknownNameError("units", units, _UNITS, parameter="units")


def _table(
    cells: pd.DataFrame,
    lines: IntArray | None,
    *,
    where: str,
    units: str,
    region: str | None,
    vintage: str | None,
    header_line: int = 1,
) -> FactorTable:
    """The one path from raw cells (text or typed) to a :class:`FactorTable` shared by every reader.

    ``lines`` holds the file line of each row (None for Parquet: messages name the 1-based row);
    ``header_line`` is the line of the column names.
    """

    def fail(message: str, row: int | None = None, column: str | None = None, value: object = None) -> InputError:
        """The error at a data row (its line, or ``row N`` for Parquet) or, with ``row`` None, at the header."""
        if lines is None:
            return InputError(message if row is None else f"row {row + 1}: {message}", path=where, column=column,
                              value=value)  # fmt: skip
        line = header_line if row is None else int(lines[row])
        return InputError(message, path=where, line=line, column=column, value=value)

    names = [str(c) for c in cells.columns]
    date_names = [n for n in names if n.strip().lower() == "date"]
    if len(date_names) != 1:
        found = "no date column" if not date_names else f"{len(date_names)} date columns"
        raise fail(f"{found} (columns: {', '.join(names)}); name the date column 'date'")
    unnamed = [n for n in names if not n.strip() and not is_missing(cells[n]).all()]
    if unnamed:
        raise fail("a column without a name holds values; give every factor column a name")
    raw = [n for n in names if n != date_names[0] and n.strip()]
    canonical = [canonical_name(n) for n in raw]
    for i, name in enumerate(canonical):
        if name in canonical[:i]:
            first = raw[canonical.index(name)]
            raise fail(f"columns {first!r} and {raw[i]!r} are both the factor {name}; keep one", column=raw[i])
    if not raw:
        raise fail(f"no factor column (columns: {', '.join(names)}); add columns such as Mkt-RF, SMB, HML, RF")
    dates, problem = parse_dates(cells[date_names[0]])
    if problem is not None:
        raise fail(problem.message, problem.row, date_names[0], problem.value)
    day = dates.astype("datetime64[D]").view(np.int64)
    order = order_rows(day)
    if len(order.duplicates):
        k, earlier = int(order.duplicates[0]), int(order.firsts[0])
        where_first = f"line {int(lines[earlier])}" if lines is not None else f"row {earlier + 1}"
        raise fail(f"date {dates[k].astype('datetime64[D]')} is given twice (also on {where_first})", k, date_names[0])
    values = np.empty((len(cells), len(raw)))
    for j, name in enumerate(raw):  # one vectorised parse per column (a handful)
        values[:, j], bad = _numbers(cells[name])
        if len(bad):
            k = int(bad[0])
            raise fail(f"not a number: {show(cells[name].iloc[k])}", k, name, cells[name].iloc[k])
    values[np.isin(values, MISSING_CODES)] = np.nan
    units, rule = _units(values, canonical, units)
    if units == "percent":
        values = values / 100.0
    return FactorTable(
        day=day[order.order],
        values=values[order.order],
        columns=tuple(canonical),
        source=where,
        region=region,
        vintage=vintage,
        units=units,
        units_rule=rule,
    )


def _numbers(cells: pd.Series) -> tuple[FloatArray, IntArray]:
    """Numbers of a column (NaN where empty) and the rows whose non-empty cell is not a finite number."""
    if pd.api.types.is_numeric_dtype(cells.dtype) and not pd.api.types.is_bool_dtype(cells.dtype):
        values = cells.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.flatnonzero(np.isinf(values))
    values = pd.to_numeric(cells.astype(str).str.strip(), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    bad[bad] = ~is_missing(cells[bad])
    return values, np.flatnonzero(bad)


def _units(values: FloatArray, columns: list[str], units: str) -> tuple[str, str]:
    """The units of the source and the sentence saying how they were decided (see :func:`read_factor_file`)."""
    if units != "auto":
        return units, f"declared {units} by the caller"
    factors = values[:, [j for j, c in enumerate(columns) if c != "rf"]]
    present = np.abs(factors[~np.isnan(factors)])
    if not len(present):
        raise InputError(
            "cannot detect the units: no value outside the rf column; declare them (units='percent' or 'decimal')",
            parameter="units",
        )
    median = float(np.median(present))
    detected = "percent" if median > PERCENT_THRESHOLD else "decimal"
    side = "above" if detected == "percent" else "at or below"
    return detected, (
        f"detected {detected}: the median |value| of the non-rf columns is {median:.4g}, {side} "
        f"{PERCENT_THRESHOLD} (daily factor returns: about 0.005 as decimals, 0.5 in percent)"
    )


# ------------------------------------------------------------------------------------------ loaders


def _parts(model: str) -> tuple[str, ...]:
    """The files a model needs: ``ff3``, ``ff5`` and/or ``mom``."""
    parts = {"capm": ("ff3",), "ff3": ("ff3",), "ff5": ("ff5",), "mom": ("mom",), "carhart": ("ff3", "mom")}
    if model not in parts:
        raise UnknownNameError("factor model", model, FACTOR_MODELS, parameter="model")
    return parts[model]


def _assemble(model: str, load_part: Callable[[str], FactorTable]) -> FactorTable:
    """The model's table from its files: one file, FF3 joined with momentum (Carhart), or FF3's mkt_rf + rf (CAPM)."""
    table = functools.reduce(FactorTable.join, [load_part(part) for part in _parts(model)])
    return table.select(("mkt_rf", "rf")) if model == "capm" else table


def load_curated_factors(folder: str | Path, model: str, region: str) -> FactorTable:
    """Factors of a model and region from a folder laid out like ``../shared/data/curated/factors/``.

    Files are ``{ff3,ff5,mom}_{region}_daily.csv`` (``Date`` ISO, factor columns in percent, as Ken French
    publishes them; ``../shared/docs/DATA.md`` §6.4). CAPM reads the FF3 file's ``mkt_rf`` and ``rf``; Carhart
    joins the FF3 and momentum files on the union of their days.

    Raises
    ------
    DataError
        The folder lacks a file the model needs (the message lists the files it has).
    UnknownNameError
        An unknown model.
    """
    folder = Path(folder)

    def load_part(part: str) -> FactorTable:
        path = folder / f"{part}_{region}_daily.csv"
        if not path.is_file():
            have = sorted(p.name for p in folder.glob("*_daily.csv")) if folder.is_dir() else []
            raise DataError(
                f"no {part} factor file for the region {region} in {folder} (expected {path.name}; the folder "
                f"has: {', '.join(have) or 'nothing'}); choose another model or region, or give a factor file "
                "with --factors PATH"
            )
        table = read_factor_file(path, units="percent", region=region)
        return replace(table, units_rule=f"declared percent: the curated folder holds Ken French's files ({path.name})")

    return _assemble(model, load_part)


def load_french(
    model: str,
    region: str,
    store: PriceStore,
    *,
    offline: bool = False,
    refresh: bool = False,
    session: requests.Session | None = None,
    timeout: float = 60.0,
) -> FactorTable:
    """Factors of a model and region from Ken French's data library, through the store.

    Each file the model needs (:data:`FRENCH_DATASETS`) is read from the store when it holds a copy (the
    latest download), unless ``refresh``; otherwise it is downloaded from :data:`FRENCH_URL` with
    ``requests``, checked by parsing it, and stored (content, time, vintage, SHA-256) before use.

    Parameters
    ----------
    model
        ``capm``, ``ff3``, ``ff5``, ``carhart`` or ``mom``.
    region
        One of :data:`FRENCH_REGIONS`.
    store
        The price store that keeps the downloaded files.
    offline
        Never download: a file missing from the store is an error.
    refresh
        Download again even when the store has a copy (not with ``offline``).
    session
        The HTTP session (a plain :class:`requests.Session` when None).
    timeout
        Seconds to wait for the server.

    Raises
    ------
    DataError
        Offline without a stored copy, or a download that failed or is not a French daily file; the message
        names the dataset and what to do.
    InputError
        ``offline`` with ``refresh``; UnknownNameError for an unknown model or region.
    """
    if offline and refresh:
        raise InputError("cannot refresh the French factor files offline; drop one of the two", parameter="refresh")
    if region not in FRENCH_REGIONS:
        raise UnknownNameError("factor region", region, FRENCH_REGIONS, parameter="region")

    def load_part(part: str) -> FactorTable:
        dataset = FRENCH_DATASETS[(part, region)]
        stored = None if refresh else store.factor_file(dataset)
        if stored is not None:
            return read_french_zip(stored.content, f"store:{dataset}", region=region)
        if offline:
            raise DataError(
                f"the Ken French dataset {dataset} is not in the store {store.path} and --offline forbids "
                "downloading it; run once online to store it, or give a factor file with --factors PATH"
            )
        url = FRENCH_URL.format(dataset=dataset)
        content = _download(url, dataset, session, timeout, store)
        try:
            table = read_french_zip(content, url, region=region)
        except InputError as exc:
            raise DataError(
                f"the download of {dataset} from {url} is not a Ken French daily file ({exc}); retry later, use "
                "--offline with a stored copy, or give a factor file with --factors PATH"
            ) from exc
        store.write_factor_file(dataset, url, content, vintage=table.vintage)
        return table

    return _assemble(model, load_part)


def _download(url: str, dataset: str, session: requests.Session | None, timeout: float, store: PriceStore) -> bytes:
    """The bytes at ``url``; DataError saying what to do when the request fails or the status is not 200."""
    import requests

    http = session if session is not None else requests.Session()
    try:
        response = http.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        stored = store.factor_file(dataset)
        have = f" (the store has a copy fetched {stored.fetched_at_utc})" if stored is not None else ""
        raise DataError(
            f"could not download the Ken French dataset {dataset} from {url} ({type(exc).__name__}: {exc}); "
            f"use --offline with a stored copy{have}, or give a factor file with --factors PATH"
        ) from exc
    return bytes(response.content)


# ------------------------------------------------------------------------------------------ regions


def factor_regions(tickers: pd.Series | np.ndarray | Sequence[Any]) -> np.ndarray:
    """The factor region of each ticker from its Yahoo suffix (vectorised); see :func:`factor_region`."""
    text = pd.Series(np.asarray(tickers, dtype=object)).astype(str).str.strip()
    suffix = text.str.extract(r"\.([A-Za-z]{1,4})$", expand=False).str.upper()
    listed = suffix.map(_SUFFIX_REGION).fillna("developed")
    return np.where(suffix.isna().to_numpy(dtype=bool), "us", listed.to_numpy(dtype=object)).astype(object)


def factor_region(ticker: str) -> str:
    """The factor region of a ticker's listing.

    ``.HK .TW .TWO .SS .SZ .KS .KQ .SI .AX .NZ`` -> ``"asia_pacific_ex_japan"``; ``.T`` -> ``"japan"``; no
    suffix (US listings, OTC ADRs included) -> ``"us"``; ``.AS .L .DE .PA .MI .MC .SW .ST .CO .HE .OL .BR .LS
    .VI .IR`` -> ``"europe"``; any other suffix -> ``"developed"``.
    """
    return str(factor_regions([ticker])[0])


__all__ = [
    "FACTOR_COLUMNS",
    "FACTOR_MODELS",
    "FRENCH_DATASETS",
    "FRENCH_REGIONS",
    "FRENCH_URL",
    "MISSING_CODES",
    "PERCENT_THRESHOLD",
    "FactorTable",
    "canonical_name",
    "factor_region",
    "factor_regions",
    "load_curated_factors",
    "load_french",
    "parse_french_csv",
    "read_factor_file",
    "read_french_zip",
]
