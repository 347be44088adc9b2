"""CSV price folders: :class:`CsvPrices` and the parsing of its Yahoo-layout files.

A folder holds one ``<SYMBOL>.csv`` per symbol (``../shared/docs/DATA.md`` §2). :class:`CsvPrices` implements
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

from eventstudy.data.cleaning import (
    RowProblem,
    ValueKind,
    list_dates,
    list_lines,
    order_rows,
    parse_dates,
    parse_values,
    zero_volume,
)
from eventstudy.data.csv_files import check_header, file_vintage, read_cells, read_header
from eventstudy.data.series import PriceSeries
from eventstudy.errors import InputError, PriceSourceError

PriceField = Literal["adj_close", "close"]
ZeroVolumeRows = Literal["keep", "drop"]

YAHOO_CSV_COLUMNS: tuple[str, ...] = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")
"""Header of a Yahoo-layout price file (``../shared/docs/DATA.md`` §2)."""

_COLUMN_KIND: dict[str, ValueKind] = {
    "Open": "price",
    "High": "price",
    "Low": "price",
    "Close": "price",
    "Adj Close": "price",
    "Volume": "volume",
}
_FIELD_COLUMN: dict[str, str] = {"adj_close": "Adj Close", "close": "Close"}


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
        ``"adj_close"`` (default; split- and dividend-adjusted, see ``../shared/docs/DATA.md`` §4) or ``"close"``.
    zero_volume_rows
        ``"keep"`` (default) or ``"drop"``: drop equity rows with ``Volume == 0`` (Yahoo placeholder rows
        on Hong Kong half days, ``../shared/docs/DATA.md`` §5). Never applied to FX symbols (``...=X``, whose volume
        is always 0) nor to files without any volume.

    Raises
    ------
    InputError
        When ``folder`` is not a folder, or an option is invalid.

    Notes
    -----
    File layout: header ``Date,Open,High,Low,Close,Adj Close,Volume`` (the price column in use and
    ``Date`` are required; the others may be absent or empty), exchange-local trading dates, one row per
    line with one field per header column. Cells follow the rules of :mod:`eventstudy.data.cleaning`
    (empty tokens, the date range, prices between ``MIN_PRICE`` and ``MAX_PRICE``, volume >= 0). Rows
    without the chosen close are dropped and counted in ``notes``; unsorted files are sorted (noted).
    Wrong headers, rows with too few or too many fields, bad or out-of-range dates, duplicate dates,
    non-numeric, infinite or implausible prices and negative volumes raise
    :class:`~eventstudy.errors.InputError` with ``path``, ``line`` and ``column``. A ``<SYMBOL>.csv``
    that is a symbolic link to a file outside the folder is refused. Parsed files are cached per (file,
    modification time).

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
            When the file is malformed (see the class notes), or is a symbolic link to a file outside the
            folder (the message names the link, never its target).
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
        self._refuse_outside_link(path)
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

    def _refuse_outside_link(self, path: Path) -> None:
        """Refuse a symbolic link that leads out of the folder, without naming its target."""
        if path.is_symlink() and not path.resolve().is_relative_to(self.folder.resolve()):
            raise InputError(
                "this price file is a symbolic link to a file outside the price folder; refused, because "
                "--prices reads only files inside the folder. Copy the file into the folder instead",
                path=path,
            )

    # -- parsing ---------------------------------------------------------------------------------------

    def _parse(self, symbol: str, path: Path) -> PriceSeries:
        header = read_header(path)
        value_column = _FIELD_COLUMN[self.price_field]
        check_header(path, header, required=("Date", value_column), allowed=YAHOO_CSV_COLUMNS)
        cells = read_cells(path, header)
        rows = np.flatnonzero(~cells.blank)
        table = cells.table.iloc[rows]
        lines = cells.lines[rows]

        def check(problem: RowProblem | None, column: str) -> None:
            if problem is not None:
                raise InputError(
                    problem.message, path=path, line=int(lines[problem.row]), column=column, value=problem.value
                )

        dates, problem = parse_dates(table["Date"])
        check(problem, "Date")
        order = order_rows(dates.view(np.int64))
        if len(order.duplicates):
            k, first = int(order.duplicates[0]), int(order.firsts[0])
            raise InputError(
                f"duplicate date {dates[k].astype('datetime64[D]')} (first on line {lines[first]}); "
                "keep one row per date",
                path=path,
                line=int(lines[k]),
                column="Date",
                value=str(table["Date"].iloc[k]),
            )
        numbers: dict[str, np.ndarray] = {}
        for name in header:
            kind = _COLUMN_KIND.get(name)
            if kind is not None:
                numbers[name], _, problem = parse_values(table[name], kind)
                check(problem, name)
        volume = numbers.get("Volume")

        values = numbers[value_column]
        keep = ~np.isnan(values)
        notes: list[str] = []
        if not keep.all():
            notes.append(
                f"{int((~keep).sum())} row(s) without {value_column} dropped (lines {list_lines(lines[~keep])})"
            )
        if self.zero_volume_rows == "drop" and volume is not None and not np.isnan(volume).all():
            zero = keep & zero_volume(symbol, volume)
            if zero.any():
                notes.append(
                    f"{int(zero.sum())} row(s) with Volume 0 dropped (zero_volume_rows='drop'): "
                    f"{list_dates(dates[zero])}"
                )
                keep &= ~zero
        positions = order.order[keep[order.order]]
        if len(positions) == 0:
            raise PriceSourceError(symbol, "no data", f"{path} has no row with {value_column}")
        if not order.presorted and (np.diff(positions) < 0).any():
            notes.append("rows were not in date order; sorted")
        kept_volume = None if volume is None else volume[positions]
        return PriceSeries(
            symbol=symbol,
            dates=pd.DatetimeIndex(dates[positions], name="date"),
            values=values[positions],
            kind="price",
            volume=None if kept_volume is None or np.isnan(kept_volume).all() else kept_volume,
            source=f"csv:{path.resolve()}",
            vintage=file_vintage(path),
            price_field=self.price_field,
            notes=tuple(notes),
        )


__all__ = ["YAHOO_CSV_COLUMNS", "CsvPrices", "PriceField", "ZeroVolumeRows"]
