"""CSV price folders: :class:`CsvPrices` and the parsing of its Yahoo-layout files.

A folder holds one ``<SYMBOL>.csv`` per symbol (``docs/DATA.md`` §2). :class:`CsvPrices` implements
:class:`~eventstudy.data.series.PriceSource`: ``load(symbol, start, end)`` returns the file's observed rows
and raises :class:`~eventstudy.errors.PriceSourceError` when nothing usable exists; a malformed file raises
:class:`~eventstudy.errors.InputError` naming the file, line and column. Nothing is filled or aligned.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from eventstudy.data._csv import (
    _DATE_RE,
    _MAX_LISTED,
    _MISSING_TOKENS,
    _check_header,
    _list_dates,
    _mtime_iso,
    _read_cells,
    _read_header,
)
from eventstudy.data.series import PriceSeries
from eventstudy.errors import InputError, PriceSourceError

PriceField = Literal["adj_close", "close"]
ZeroVolumeRows = Literal["keep", "drop"]

YAHOO_CSV_COLUMNS: tuple[str, ...] = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")
"""Header of a Yahoo-layout price file (``docs/DATA.md`` §2)."""

_PRICE_COLUMNS: tuple[str, ...] = ("Open", "High", "Low", "Close", "Adj Close")
_FIELD_COLUMN: dict[str, str] = {"adj_close": "Adj Close", "close": "Close"}


def _is_missing(cells: pd.Series) -> np.ndarray:
    """Vectorised test for empty or placeholder cells (``""``, ``null``, ``NaN``, ...)."""
    lowered = cells.str.strip().str.lower()
    return np.asarray(lowered.isin(_MISSING_TOKENS), dtype=bool)


def _safe_symbol(symbol: str) -> bool:
    return bool(symbol) and not any(ch in symbol for ch in "/\\\0") and symbol not in {".", ".."}


class CsvPrices:
    """A folder of Yahoo-layout daily price files, one ``<SYMBOL>.csv`` per symbol.

    Parameters
    ----------
    folder
        The folder, e.g. ``../shared/data/curated/window_2019_2021``. File names equal the symbols,
        including ``^``, ``=`` and ``.`` (``^HSI.csv``, ``JPY=X.csv``, ``0700.HK.csv``).
    price_field
        ``"adj_close"`` (default; split- and dividend-adjusted, see ``docs/DATA.md`` §4) or ``"close"``.
    zero_volume_rows
        ``"keep"`` (default) or ``"drop"``: drop equity rows with ``Volume == 0`` (Yahoo placeholder rows
        on Hong Kong half days, ``docs/DATA.md`` §5). Never applied to FX symbols (``...=X``, whose volume
        is always 0) nor to files without any volume.

    Raises
    ------
    InputError
        When ``folder`` is not a folder, or an option is invalid.

    Notes
    -----
    File layout: header ``Date,Open,High,Low,Close,Adj Close,Volume`` (the price column in use and
    ``Date`` are required; the others may be absent or empty), ISO dates (exchange-local trading dates),
    positive prices. Rows without the chosen close are dropped and counted in ``notes``; unsorted files are
    sorted (noted). Wrong headers, bad dates, duplicate dates, non-numeric or non-positive prices and
    negative volumes raise :class:`~eventstudy.errors.InputError` with ``path``, ``line`` and ``column``.
    Parsed files are cached per (file, modification time).

    Examples
    --------
    >>> src = CsvPrices("../shared/data/curated/window_2019_2021")  # doctest: +SKIP
    >>> src.load("0700.HK", dt.date(2020, 1, 1), dt.date(2020, 12, 31)).values[:2]  # doctest: +SKIP
    """

    def __init__(
        self,
        folder: str | Path,
        price_field: PriceField = "adj_close",
        zero_volume_rows: ZeroVolumeRows = "keep",
    ) -> None:
        if price_field not in _FIELD_COLUMN:
            raise InputError(
                f"price_field must be one of {sorted(_FIELD_COLUMN)}, got {price_field!r}",
                parameter="price_field",
                value=price_field,
            )
        if zero_volume_rows not in ("keep", "drop"):
            raise InputError(
                f"zero_volume_rows must be 'keep' or 'drop', got {zero_volume_rows!r}",
                parameter="zero_volume_rows",
                value=zero_volume_rows,
            )
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise InputError(
                "price folder not found; give a folder of <SYMBOL>.csv files (--prices DIR)",
                path=self.folder,
            )
        self.price_field: PriceField = price_field
        self.zero_volume_rows: ZeroVolumeRows = zero_volume_rows
        self._cache: dict[tuple[str, str, int, int], PriceSeries] = {}

    @property
    def description(self) -> str:
        """One line naming the source for reports."""
        return f"CSV price files in {self.folder} ({self.price_field})"

    def __repr__(self) -> str:
        return f"CsvPrices({str(self.folder)!r}, price_field={self.price_field!r})"

    def available_symbols(self) -> list[str]:
        """Return the symbols with a file in the folder, sorted."""
        return sorted(p.name[: -len(".csv")] for p in self.folder.glob("*.csv") if not p.name.startswith("."))

    def path_for(self, symbol: str) -> Path:
        """Return the file that holds ``symbol`` (it may not exist)."""
        return self.folder / f"{symbol}.csv"

    def load(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> PriceSeries:
        """Return every row of ``<folder>/<symbol>.csv`` that has the chosen close.

        Parameters
        ----------
        symbol
            Yahoo symbol, equal to the file name without ``.csv``.
        start, end
            Ignored: the whole file is returned and the caller cuts the window.

        Returns
        -------
        PriceSeries
            ``kind="price"``, values from ``Adj Close`` (or ``Close``), ``volume`` (NaN where empty, None
            when the file has no volume at all), ``source="csv:<path>"``, ``vintage`` = the file's
            modification time (UTC).

        Raises
        ------
        PriceSourceError
            ``"no data"`` when the file does not exist or has no usable row.
        InputError
            When the file is malformed (see the class notes).
        """
        if not _safe_symbol(symbol):
            raise PriceSourceError(symbol, "no data", "not a valid symbol for a file name")
        path = self.path_for(symbol)
        notes: list[str] = []
        if not path.is_file():
            matches = [s for s in self.available_symbols() if s.lower() == symbol.lower()]
            if len(matches) != 1:
                raise PriceSourceError(symbol, "no data", f"no file {path}; add it or choose another --prices folder")
            path = self.path_for(matches[0])
            notes.append(f"file name matched case-insensitively: {path.name}")
        stat = path.stat()
        key = (str(path), self.zero_volume_rows, stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._parse(symbol, path)
            self._cache[key] = cached
        if notes:
            return PriceSeries(
                symbol=cached.symbol,
                dates=cached.dates,
                values=cached.values,
                kind=cached.kind,
                volume=cached.volume,
                source=cached.source,
                vintage=cached.vintage,
                price_field=cached.price_field,
                notes=(*notes, *cached.notes),
            )
        return cached

    # -- parsing ---------------------------------------------------------------------------------------

    def _parse(self, symbol: str, path: Path) -> PriceSeries:
        header = _read_header(path)
        value_column = _FIELD_COLUMN[self.price_field]
        _check_header(path, header, required=("Date", value_column), allowed=YAHOO_CSV_COLUMNS)
        table = _read_cells(path, header)
        notes: list[str] = []

        blank = np.ones(len(table), dtype=bool)
        for name in header:
            blank &= np.asarray(table[name].str.strip() == "", dtype=bool)
        if blank.any():
            table = table.loc[~blank]
        lines = table.index.to_numpy() + 2  # row i of the body is on line i + 2 (header on line 1)

        dates = _parse_iso_dates(table["Date"], path=path, lines=lines, column="Date")
        duplicated = dates.duplicated(keep="first")
        if duplicated.any():
            k = int(np.flatnonzero(duplicated)[0])
            first = int(np.flatnonzero(dates == dates[k])[0])
            raise InputError(
                f"duplicate date {dates[k].date()} (first on line {lines[first]}); keep one row per date",
                path=path,
                line=int(lines[k]),
                column="Date",
                value=str(table["Date"].iloc[k]),
            )

        numbers: dict[str, np.ndarray] = {}
        for name in _PRICE_COLUMNS:
            if name in header:
                numbers[name] = _parse_numbers(table[name], path=path, lines=lines, column=name, positive=True)
        volume: np.ndarray | None = None
        if "Volume" in header:
            volume = _parse_numbers(table["Volume"], path=path, lines=lines, column="Volume", positive=False)
            if np.isnan(volume).all():
                volume = None

        values = numbers[value_column]
        keep = ~np.isnan(values)
        if not keep.all():
            notes.append(
                f"{int((~keep).sum())} row(s) without {value_column} dropped "
                f"(lines {', '.join(str(x) for x in lines[~keep][:_MAX_LISTED])}"
                f"{' ...' if (~keep).sum() > _MAX_LISTED else ''})"
            )
        if self.zero_volume_rows == "drop" and volume is not None and not symbol.upper().endswith("=X"):
            zero = keep & (volume == 0)
            if zero.any():
                notes.append(
                    f"{int(zero.sum())} row(s) with Volume 0 dropped (zero_volume_rows='drop'): "
                    f"{_list_dates(dates[zero])}"
                )
                keep &= ~zero

        dates = dates[keep]
        values = values[keep]
        if volume is not None:
            volume = volume[keep]
            if np.isnan(volume).all():
                volume = None
        if len(dates) == 0:
            raise PriceSourceError(symbol, "no data", f"{path} has no row with {value_column}")
        if len(dates) > 1 and not (dates[1:] > dates[:-1]).all():
            order = np.argsort(dates.asi8, kind="stable")
            dates = dates[order]
            values = values[order]
            if volume is not None:
                volume = volume[order]
            notes.append("rows were not in date order; sorted")
        return PriceSeries(
            symbol=symbol,
            dates=dates,
            values=values,
            kind="price",
            volume=volume,
            source=f"csv:{path.resolve()}",
            vintage=_mtime_iso(path),
            price_field=self.price_field,
            notes=tuple(notes),
        )


def _parse_iso_dates(cells: pd.Series, *, path: Path | None, lines: np.ndarray, column: str) -> pd.DatetimeIndex:
    """Parse ``YYYY-MM-DD`` cells (a trailing time is ignored); InputError at the first bad cell."""
    text = cells.str.strip()
    good = np.asarray(text.str.match(_DATE_RE), dtype=bool)
    parsed = pd.to_datetime(text.str.slice(0, 10).where(good), format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero(np.asarray(parsed.isna(), dtype=bool))
    if len(bad):
        k = int(bad[0])
        value = str(cells.iloc[k])
        raise InputError(
            f"{'missing date' if not value.strip() else f'not an ISO date (YYYY-MM-DD): {value!r}'}",
            path=path,
            line=int(lines[k]),
            column=column,
            value=value,
        )
    return pd.DatetimeIndex(parsed, name="date").as_unit("ns")


def _parse_numbers(
    cells: pd.Series, *, path: Path | None, lines: np.ndarray, column: str, positive: bool
) -> np.ndarray:
    """Parse numeric cells (empty or ``null`` -> NaN); InputError at the first non-numeric/invalid cell."""
    missing = _is_missing(cells)
    numbers = pd.to_numeric(cells.str.strip().where(~missing), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = ~missing & ~np.isfinite(numbers)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"not a number: {cells.iloc[k]!r}", path=path, line=int(lines[k]), column=column, value=cells.iloc[k]
        )
    invalid = ~missing & ((numbers <= 0) if positive else (numbers < 0))
    if invalid.any():
        k = int(np.flatnonzero(invalid)[0])
        what = "prices must be positive" if positive else "volume cannot be negative"
        raise InputError(
            f"{what}, got {cells.iloc[k]!r}", path=path, line=int(lines[k]), column=column, value=cells.iloc[k]
        )
    return numbers


__all__ = ["YAHOO_CSV_COLUMNS", "CsvPrices", "PriceField", "ZeroVolumeRows"]
