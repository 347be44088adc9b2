"""User-supplied returns: :class:`ReturnsFrame` (a long DataFrame) and :class:`ReturnsFile` (a long CSV).

Both hold simple returns in the long layout ``date, ticker, return`` (CRSP style) and implement
:class:`~eventstudy.data.series.PriceSource` with ``kind="return"``: ``load(symbol, start, end)`` returns
every return row of the ticker and raises :class:`~eventstudy.errors.PriceSourceError` for an unknown
ticker. Bad input raises :class:`~eventstudy.errors.InputError` naming the row (or the file, line and
column). Missing days are not filled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data._csv import _DATE_RE, _MISSING_TOKENS, _mtime_iso, _read_cells, _read_header
from eventstudy.data.series import PriceSeries
from eventstudy.errors import InputError, PriceSourceError

_NS_PER_DAY = 86_400_000_000_000


def _show(value: object) -> str:
    """``repr`` of a cell value, without numpy's type wrapper (``np.float64(-2.0)`` -> ``-2.0``)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


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
        return len(self._values)

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


__all__ = ["ReturnsFile", "ReturnsFrame"]
