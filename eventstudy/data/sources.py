"""Price sources: CSV folders, user-supplied returns, and Yahoo Finance through the local store.

Every source implements :class:`~eventstudy.data.series.PriceSource`: ``load(symbol, start, end)``
returns a :class:`~eventstudy.data.series.PriceSeries` of the symbol's observed rows and raises
:class:`~eventstudy.errors.PriceSourceError` when nothing usable exists for that symbol (the study turns
it into an exclusion). A malformed file is the user's input, so it raises
:class:`~eventstudy.errors.InputError` naming the file, line and column.

Sources never fill, align or resample; they may return more rows than ``start..end`` (the caller cuts).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from eventstudy.data import yahoo as _yahoo
from eventstudy.data.series import PriceSeries
from eventstudy.data.store import Coverage, FetchInfo, PriceStore, adjustment_drift, utc_now_iso
from eventstudy.errors import EventStudyWarning, InputError, PriceSourceError

PriceField = Literal["adj_close", "close"]
ZeroVolumeRows = Literal["keep", "drop"]

YAHOO_CSV_COLUMNS: tuple[str, ...] = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")
"""Header of a Yahoo-layout price file (``docs/DATA.md`` §2)."""

_PRICE_COLUMNS: tuple[str, ...] = ("Open", "High", "Low", "Close", "Adj Close")
_FIELD_COLUMN: dict[str, str] = {"adj_close": "Adj Close", "close": "Close"}
_MISSING_TOKENS = frozenset({"", "null", "nan", "na", "n/a", "none", "#n/a"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T][0-9:.+\-Z]*)?$")
_MAX_LISTED = 5
_NS_PER_DAY = 86_400_000_000_000


def _mtime_iso(path: Path) -> str:
    """Modification time of a file as a UTC ISO 8601 string (seconds)."""
    stamp = path.stat().st_mtime
    return dt.datetime.fromtimestamp(stamp, tz=dt.UTC).isoformat(timespec="seconds")


def _as_date(value: object, name: str) -> dt.date:
    """Coerce a date-like argument to :class:`datetime.date` (raises InputError naming ``name``)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(value).date()  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InputError(f"not a date: {value!r}", parameter=name, value=value) from exc


def _is_missing(cells: pd.Series) -> np.ndarray:
    """Vectorised test for empty or placeholder cells (``""``, ``null``, ``NaN``, ...)."""
    lowered = cells.str.strip().str.lower()
    return np.asarray(lowered.isin(_MISSING_TOKENS), dtype=bool)


def _list_dates(dates: pd.DatetimeIndex | np.ndarray) -> str:
    shown = [str(pd.Timestamp(d).date()) for d in dates[:_MAX_LISTED]]
    more = len(dates) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _show(value: object) -> str:
    """``repr`` of a cell value, without numpy's type wrapper (``np.float64(-2.0)`` -> ``-2.0``)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _safe_symbol(symbol: str) -> bool:
    return bool(symbol) and not any(ch in symbol for ch in "/\\\0") and symbol not in {".", ".."}


# ---------------------------------------------------------------------------------------------- CSV files


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
                raise PriceSourceError(
                    symbol, "no data", f"no file {path}; add it or choose another --prices folder"
                )
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
        if (
            self.zero_volume_rows == "drop"
            and volume is not None
            and not symbol.upper().endswith("=X")
        ):
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


def _check_header(
    path: Path, header: list[str], *, required: tuple[str, ...], allowed: tuple[str, ...] | None
) -> None:
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
            raise InputError(
                f"missing column {name!r}; expected the header {expected}", path=path, line=1, column=name
            )


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


# ---------------------------------------------------------------------------------------------- returns


class ReturnsFrame:
    """User-supplied simple returns held in memory, in long layout ``date, ticker, return``.

    Parameters
    ----------
    frame
        A long DataFrame with columns ``date`` (datetime64, ISO text or ``YYYYMMDD`` integers/text; a
        ``date`` index is accepted too), ``ticker`` and ``return`` (simple returns as decimals, 0.01 = 1 %).
        Column names are matched case-insensitively; other columns are ignored.
    description
        Name used in reports and error messages.

    Raises
    ------
    InputError
        Missing columns, missing or unparsable dates, missing tickers, non-numeric or infinite returns,
        returns <= -1, or a duplicate (date, ticker) pair; ``line`` is None and the message names the row.

    Notes
    -----
    Construction is vectorised (one factorisation of the tickers, one ``lexsort`` by (ticker, date)); each
    ticker's rows are a contiguous slice, so :meth:`load` costs O(rows of that ticker). Rows with an empty
    return are dropped and counted in that ticker's ``notes``. Missing days are not filled.
    """

    def __init__(self, frame: pd.DataFrame, description: str = "in-memory returns") -> None:
        self._description = description
        table = frame
        lowered = {str(c).strip().lower(): c for c in table.columns}
        if "date" not in lowered and str(table.index.name or "").strip().lower() == "date":
            table = table.reset_index()
            lowered = {str(c).strip().lower(): c for c in table.columns}
        missing = [c for c in ("date", "ticker", "return") if c not in lowered]
        if missing:
            raise InputError(
                f"missing column(s) {missing}; expected columns date, ticker, return",
                parameter=description,
                column=missing[0],
            )
        names = {key: str(lowered[key]) for key in ("date", "ticker", "return")}
        labels = table.index

        def locate(k: int) -> dict[str, Any]:
            return {"parameter": description, "line": None, "where": f"row {k} (index {labels[k]!r})"}

        self._build(
            table[lowered["date"]],
            table[lowered["ticker"]],
            table[lowered["return"]],
            locate=locate,
            names=names,
        )
        self._source = f"returns:{description}"
        self._vintage: str | None = None

    @property
    def description(self) -> str:
        """One line naming the source for reports."""
        return self._description

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._description!r}, {len(self._slices)} tickers, {len(self._values)} rows)"

    def available_symbols(self) -> list[str]:
        """Return the tickers present, sorted."""
        return sorted(self._slices)

    def __len__(self) -> int:
        return int(len(self._values))

    def load(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> PriceSeries:
        """Return every return row of ``symbol`` (``start``/``end`` are ignored; the caller cuts).

        Returns
        -------
        PriceSeries
            ``kind="return"``, ``price_field="return"``, no volume.

        Raises
        ------
        PriceSourceError
            ``"no data"`` for an unknown ticker or one whose returns are all empty.
        """
        span = self._slices.get(symbol)
        if span is None:
            raise PriceSourceError(
                symbol,
                "no data",
                f"ticker not in {self._description} ({len(self._slices)} tickers); check the spelling "
                "or add its returns",
            )
        lo, hi = span
        if hi == lo:
            raise PriceSourceError(symbol, "no data", f"every return of this ticker is empty in {self._description}")
        return PriceSeries(
            symbol=symbol,
            dates=pd.DatetimeIndex(self._dates[lo:hi]),
            values=self._values[lo:hi],
            kind="return",
            volume=None,
            source=self._source,
            vintage=self._vintage,
            price_field="return",
            notes=self._notes.get(symbol, ()),
        )

    # -- construction ----------------------------------------------------------------------------------

    def _build(
        self,
        date_col: pd.Series,
        ticker_col: pd.Series,
        return_col: pd.Series,
        *,
        locate: Callable[[int], dict[str, Any]],
        names: Mapping[str, str],
    ) -> None:
        """Validate the three columns, sort by (ticker, date) and index each ticker's slice."""

        def fail(k: int, message: str, column: str, value: object) -> InputError:
            where = locate(k)
            prefix = where.pop("where", None)
            text = f"{prefix}: {message}" if prefix else message
            return InputError(text, column=names[column], value=value, **where)

        n = len(date_col)
        dates = _returns_dates(date_col)
        bad = np.flatnonzero(np.isnat(dates))
        if len(bad):
            k = int(bad[0])
            value = date_col.iloc[k]
            raise fail(k, f"missing or unparsable date {_show(value)} (use YYYY-MM-DD or YYYYMMDD)", "date", value)

        codes, uniques = pd.factorize(ticker_col, use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int64)
        as_text = [str(u).strip() for u in uniques]
        bad = np.flatnonzero(codes < 0)
        if len(bad):
            k = int(bad[0])
            raise fail(k, "missing ticker", "ticker", ticker_col.iloc[k])
        empty_codes = [i for i, t in enumerate(as_text) if not t]
        if empty_codes:
            k = int(np.flatnonzero(codes == empty_codes[0])[0])
            raise fail(k, "missing ticker", "ticker", ticker_col.iloc[k])
        remap, text_uniques = pd.factorize(pd.Index(as_text, dtype=object))
        codes = np.asarray(remap, dtype=np.int64)[codes] if len(uniques) else codes
        tickers = [str(t) for t in text_uniques]

        values = _returns_values(return_col)
        missing = np.isnan(values) & _returns_missing(return_col)
        bad = np.flatnonzero(np.isnan(values) & ~missing | np.isinf(values))
        if len(bad):
            k = int(bad[0])
            value = return_col.iloc[k]
            raise fail(k, f"not a number: {_show(value)}", "return", value)
        bad = np.flatnonzero(values <= -1.0)
        if len(bad):
            k = int(bad[0])
            value = return_col.iloc[k]
            raise fail(
                k,
                f"return {_show(value)} is <= -1 (a loss of 100 % or more); returns must be simple returns "
                "as decimals (0.01 = 1 %), not percent or log returns",
                "return",
                value,
            )

        # One stable sort on a combined (ticker code, day number) key: faster than lexsort on two keys.
        day = dates.astype("datetime64[ns]").view(np.int64)
        day_number = (day - (day.min() if n else 0)) // _NS_PER_DAY
        key = (codes << 32) | day_number
        presorted = n < 2 or bool((key[1:] >= key[:-1]).all())  # the usual long layout
        order = np.arange(n) if presorted else np.argsort(key, kind="stable")
        key_s = key if presorted else key[order]
        codes_s = codes if presorted else codes[order]
        if n > 1:
            same = key_s[1:] == key_s[:-1]
            if same.any():
                later = order[np.flatnonzero(same) + 1]
                k = int(later.min())
                first = int(order[np.flatnonzero(same)[np.argmin(later)]])
                earlier_where = locate(first).get("line") or f"row {first}"
                raise fail(
                    k,
                    f"duplicate (date, ticker) = ({pd.Timestamp(dates[k]).date()}, {tickers[codes[k]]}); "
                    f"already given on {'line ' if isinstance(earlier_where, int) else ''}{earlier_where}",
                    "date",
                    str(date_col.iloc[k]),
                )

        del key, key_s, day, day_number
        keep = ~missing if presorted else ~missing[order]
        all_kept = bool(keep.all())
        dropped = None if all_kept else np.bincount(codes_s[~keep], minlength=len(tickers))
        if presorted and all_kept:
            # No reordering needed: copy once (the values may be a view of the caller's frame).
            self._dates = dates.astype("datetime64[ns]", copy=True)
            self._values = np.array(values, dtype=np.float64, copy=True)
        else:
            order = order[keep]
            codes_s = codes_s[keep]
            self._dates = dates.astype("datetime64[ns]", copy=False)[order]
            self._values = values[order]
        del order
        self._dates.flags.writeable = False
        self._values.flags.writeable = False
        counts = np.bincount(codes_s, minlength=len(tickers)) if len(codes_s) else np.zeros(len(tickers), int)
        bounds = np.concatenate(([0], np.cumsum(counts)))
        self._slices: dict[str, tuple[int, int]] = {
            t: (int(bounds[i]), int(bounds[i + 1])) for i, t in enumerate(tickers)
        }
        self._notes: dict[str, tuple[str, ...]] = {}
        if dropped is not None:
            for i in np.flatnonzero(dropped):
                self._notes[tickers[i]] = (f"{int(dropped[i])} row(s) with an empty return dropped",)


def _returns_dates(col: pd.Series) -> np.ndarray:
    """Vectorised date parsing for returns: datetime64, ``YYYYMMDD`` integers, ISO or ``YYYYMMDD`` text."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return np.asarray(col.dt.tz_localize(None).dt.normalize().to_numpy(dtype="datetime64[ns]"))
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return np.asarray(col.dt.normalize().to_numpy(dtype="datetime64[ns]"))
    if pd.api.types.is_integer_dtype(col.dtype):
        text = col.astype("int64").astype(str)
        parsed = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
        return np.asarray(parsed.to_numpy(dtype="datetime64[ns]"))
    if pd.api.types.is_string_dtype(col.dtype) or pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
        text = col.astype(str).str.strip()
        iso = text.str.match(_DATE_RE)
        parsed = pd.to_datetime(text.str.slice(0, 10).where(iso), format="%Y-%m-%d", errors="coerce")
        compact = parsed.isna() & text.str.fullmatch(r"\d{8}")
        if compact.any():
            parsed = parsed.where(~compact, pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce"))
        return np.asarray(parsed.to_numpy(dtype="datetime64[ns]"))
    try:
        parsed = pd.to_datetime(col, errors="coerce")
    except (TypeError, ValueError):
        return np.full(len(col), np.datetime64("NaT"), dtype="datetime64[ns]")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    return np.asarray(pd.Series(parsed).dt.normalize().to_numpy(dtype="datetime64[ns]"))


def _returns_missing(col: pd.Series) -> np.ndarray:
    """Cells that are empty (NaN, None, ``""``, ``null``...): dropped, not errors."""
    if pd.api.types.is_numeric_dtype(col.dtype):
        return np.asarray(col.isna(), dtype=bool)
    text = col.astype(str).str.strip().str.lower()
    return np.asarray(col.isna(), dtype=bool) | np.asarray(text.isin(_MISSING_TOKENS), dtype=bool)


def _returns_values(col: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    text = col.astype(str).str.strip()
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


class ReturnsFile(ReturnsFrame):
    """User-supplied simple returns in a long CSV file ``date,ticker,return`` (CRSP style).

    Parameters
    ----------
    path
        The CSV file. The header must contain ``date``, ``ticker`` and ``return`` (any case; other columns
        are ignored). Dates ``YYYY-MM-DD`` or ``YYYYMMDD``; returns are simple returns as decimals
        (0.01 = 1 %); an empty return is dropped (noted).

    Raises
    ------
    InputError
        As :class:`ReturnsFrame`, with ``path``, ``line`` (1-based, header on line 1) and ``column``.

    Notes
    -----
    The file is parsed once, on construction, by the same code as :class:`ReturnsFrame`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise InputError("returns file not found", path=self.path)
        header = _read_header(self.path)
        lowered: dict[str, str] = {}
        for name in header:
            key = name.lower()
            if key in lowered and key in ("date", "ticker", "return"):
                raise InputError(f"column {name!r} appears twice", path=self.path, line=1, column=name)
            lowered.setdefault(key, name)
        for key in ("date", "ticker", "return"):
            if key not in lowered:
                raise InputError(
                    f"missing column {key!r}; expected the header date,ticker,return",
                    path=self.path,
                    line=1,
                    column=key,
                )
        names = {key: lowered[key] for key in ("date", "ticker", "return")}
        table = _read_cells(self.path, header, usecols=list(names.values()))
        text = {key: table[name] for key, name in names.items()}
        blank = np.ones(len(table), dtype=bool)
        for col in text.values():
            blank &= np.asarray(col.str.strip() == "", dtype=bool)
        positions = np.flatnonzero(~blank)
        lines = positions + 2
        path = self.path

        def locate(k: int) -> dict[str, Any]:
            return {"path": path, "line": int(lines[k])}

        self._description = f"returns file {self.path}"
        self._build(
            text["date"].iloc[positions].reset_index(drop=True),
            text["ticker"].iloc[positions].reset_index(drop=True),
            text["return"].iloc[positions].reset_index(drop=True),
            locate=locate,
            names=names,
        )
        self._source = f"returns:{self.path.resolve()}"
        self._vintage = _mtime_iso(self.path)

    def __repr__(self) -> str:
        return f"ReturnsFile({str(self.path)!r})"


# ---------------------------------------------------------------------------------------------- Yahoo


class YahooPrices:
    """Yahoo Finance daily prices through yfinance, kept in the local SQLite store.

    Parameters
    ----------
    store
        A :class:`~eventstudy.data.store.PriceStore`, a path to its file, or None for the default location
        (``$EVENTSTUDY_STORE`` or the user data directory).
    offline
        Never download (and never import yfinance): serve only what the store holds.
    session
        HTTP session passed to yfinance (curl_cffi, or ``requests`` with yfinance >= 1.4).
    ticker_factory
        ``(symbol, session) -> ticker`` replacing ``yfinance.Ticker`` (tests).
    refresh
        Download even when the store already covers the requested range.

    Notes
    -----
    ``load(symbol, start, end)`` serves the store when it covers ``start..end``: the first stored date is
    at most 7 days after ``start`` (or an earlier download already asked for ``start``: the history begins
    later), and the last stored date is at most 7 days before ``end`` (or a download that asked for
    ``end`` ran after ``end``). Otherwise the missing part is downloaded, with 14 days of overlap so that
    the stored ``adj_close`` vintage can be checked. When the download shows a new dividend or split, or
    ``adj_close`` moved by more than 1e-6 (relative) on overlapping dates, the whole history is downloaded
    again and replaces the stored rows in one transaction (fetch status ``"rebased"``), so one consistent
    adjusted-price vintage is kept (``docs/ECOSYSTEM.md`` §5). Every attempt is logged in the store's
    ``fetches`` table. When a download fails and rows are stored, they are served with an
    :class:`~eventstudy.errors.EventStudyWarning` and a note. The series holds all stored rows (the caller
    cuts); rows without a positive ``adj_close`` are dropped and noted.
    """

    OVERLAP_DAYS = 14
    SLACK_DAYS = 7

    def __init__(
        self,
        store: PriceStore | str | Path | None = None,
        offline: bool = False,
        session: Any = None,
        ticker_factory: _yahoo.TickerFactory | None = None,
        refresh: bool = False,
    ) -> None:
        self.store = store if isinstance(store, PriceStore) else PriceStore(store)
        self.offline = bool(offline)
        self.session = session
        self.ticker_factory = ticker_factory
        self.refresh = bool(refresh)

    @property
    def description(self) -> str:
        """One line naming the source for reports."""
        version = _yahoo.yfinance_version() or "(not installed)"
        text = f"Yahoo Finance via yfinance {version}; store {self.store.path}"
        return text + (" (offline)" if self.offline else "")

    def __repr__(self) -> str:
        return f"YahooPrices(store={str(self.store.path)!r}, offline={self.offline})"

    def load(self, symbol: str, start: dt.date, end: dt.date) -> PriceSeries:
        """Return the stored (downloading first if needed) daily prices of ``symbol``.

        Parameters
        ----------
        symbol
            Yahoo symbol.
        start, end
            Calendar dates (inclusive) the caller needs.

        Returns
        -------
        PriceSeries
            All stored rows of the symbol: ``kind="price"``, ``adj_close`` values, volume,
            ``source="yahoo"``, ``vintage`` = the latest successful download time (UTC).

        Raises
        ------
        PriceSourceError
            ``"not in store (offline)"``; or the download's reason (``"no data"``, ``"network"``,
            ``"rate limited"``, ``"unexpected response"``) when nothing is stored.
        StoreError
            When the store file cannot be used (a :class:`~eventstudy.errors.DataError`).
        """
        start_d = _as_date(start, "start")
        end_d = _as_date(end, "end")
        if end_d < start_d:
            raise InputError(f"end {end_d} is before start {start_d}", parameter="end", value=end)
        coverage = self.store.coverage(symbol)
        if self.offline:
            if coverage is None:
                raise PriceSourceError(
                    symbol,
                    "not in store (offline)",
                    "run `eventstudy fetch` with network access, or use --prices DIR",
                )
            notes = []
            if not coverage.covers(start_d, end_d, self.SLACK_DAYS):
                notes.append(
                    f"offline: the store holds {coverage.first_date}..{coverage.last_date} only, "
                    f"{start_d}..{end_d} was needed"
                )
            return self._series(symbol, coverage, notes)
        if coverage is not None and not self.refresh and coverage.covers(start_d, end_d, self.SLACK_DAYS):
            return self._series(symbol, coverage, [])
        notes = self._download(symbol, start_d, end_d, coverage)
        coverage = self.store.coverage(symbol)
        if coverage is None:
            raise PriceSourceError(symbol, "no data", "Yahoo returned no rows with prices")
        return self._series(symbol, coverage, notes)

    # -- internals -------------------------------------------------------------------------------------

    def _fetch_range(self, start: dt.date, end: dt.date, coverage: Coverage | None) -> tuple[dt.date, dt.date]:
        if coverage is None:
            return start, end
        if self.refresh:
            return min(start, coverage.first_date), max(end, coverage.last_date)
        overlap = dt.timedelta(days=self.OVERLAP_DAYS)
        head_missing = not coverage.head_covered(start, self.SLACK_DAYS)
        tail_missing = not coverage.tail_covered(end, self.SLACK_DAYS)
        if head_missing and not tail_missing:
            # Only older rows are missing: fetch up to the stored history, with overlap, so the stored
            # rows stay contiguous and the adj_close vintage can be compared.
            return start, coverage.first_date + overlap
        if tail_missing and not head_missing:
            return coverage.last_date - overlap, end
        return start, end

    def _fetch(self, symbol: str, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, str]:
        frame = _yahoo.fetch_history(
            symbol, start, end, session=self.session, ticker_factory=self.ticker_factory
        )
        return frame, utc_now_iso()

    def _fallback(self, symbol: str, exc: PriceSourceError, coverage: Coverage | None, what: str) -> list[str]:
        if coverage is None:
            raise exc
        message = (
            f"{what} failed ({exc.reason}); using the stored prices "
            f"{coverage.first_date}..{coverage.last_date} as of {coverage.last_fetched_utc}"
        )
        warnings.warn(f"{symbol}: {message}", EventStudyWarning, stacklevel=4)
        return [f"{message}: {exc.detail}" if exc.detail else message]

    def _download(self, symbol: str, start: dt.date, end: dt.date, coverage: Coverage | None) -> list[str]:
        version = _yahoo.yfinance_version()
        lo, hi = self._fetch_range(start, end, coverage)
        try:
            frame, fetched_at = self._fetch(symbol, lo, hi)
        except PriceSourceError as exc:
            self.store.log_failure(symbol, lo, hi, f"{exc.reason}: {exc.detail}", yfinance_version=version)
            return self._fallback(symbol, exc, coverage, "download")
        stored = self.store.read(symbol) if coverage is not None else None
        drift = adjustment_drift(stored, frame) if stored is not None else None
        if drift is None or coverage is None:
            self.store.write(symbol, frame, FetchInfo(lo, hi, fetched_at, version))
            return []
        if lo <= coverage.first_date and hi >= coverage.last_date:
            self.store.write(
                symbol, frame, FetchInfo(lo, hi, fetched_at, version, status="rebased", error=drift), replace=True
            )
            return [f"adjusted prices re-based ({drift}); stored history replaced by the new download"]
        full_lo, full_hi = min(lo, coverage.first_date), max(hi, coverage.last_date)
        self.store.log_fetch(
            symbol,
            FetchInfo(
                lo,
                hi,
                fetched_at,
                version,
                status="drift",
                error=f"{drift}; rows not stored, full history {full_lo}..{full_hi} downloaded again",
            ),
            n_rows=len(frame),
        )
        try:
            full, fetched_at = self._fetch(symbol, full_lo, full_hi)
        except PriceSourceError as exc:
            self.store.log_failure(
                symbol, full_lo, full_hi, f"{exc.reason}: {exc.detail}", yfinance_version=version
            )
            return self._fallback(symbol, exc, coverage, f"full re-download after adjusted-price drift ({drift})")
        self.store.write(
            symbol, full, FetchInfo(full_lo, full_hi, fetched_at, version, status="rebased", error=drift), replace=True
        )
        return [f"adjusted prices re-based ({drift}); full history {full_lo}..{full_hi} downloaded again"]

    def _series(self, symbol: str, coverage: Coverage, notes: list[str]) -> PriceSeries:
        frame = self.store.read(symbol)
        if frame is None:  # pragma: no cover - coverage said rows exist; a concurrent writer replaced them
            raise PriceSourceError(symbol, "no data", f"no rows in the store {self.store.path}")
        adj = frame["adj_close"].to_numpy(dtype=np.float64, na_value=np.nan)
        keep = np.isfinite(adj) & (adj > 0)
        if not keep.all():
            notes = [
                *notes,
                f"{int((~keep).sum())} stored row(s) without a positive adj_close dropped: "
                f"{_list_dates(frame.index[~keep])}",
            ]
        if not keep.any():
            raise PriceSourceError(symbol, "no data", "the stored rows have no adjusted close")
        volume: np.ndarray | None = frame["volume"].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
        if volume is not None and np.isnan(volume).all():
            volume = None
        return PriceSeries(
            symbol=symbol,
            dates=frame.index[keep],
            values=adj[keep],
            kind="price",
            volume=volume,
            source="yahoo",
            vintage=coverage.last_fetched_utc,
            price_field="adj_close",
            notes=tuple(notes),
        )


__all__ = [
    "YAHOO_CSV_COLUMNS",
    "CsvPrices",
    "PriceField",
    "ReturnsFile",
    "ReturnsFrame",
    "YahooPrices",
    "ZeroVolumeRows",
]
