"""The value type per-symbol sources return, and the source protocols.

A :class:`PriceSeries` is one symbol's observed daily rows on its own exchange-local dates: either
prices (``kind="price"``; returns are computed later by :mod:`eventstudy.returns`) or returns supplied by
the user (``kind="return"``, e.g. CRSP-style files). Sources never fill, align or resample.

Every source implements :class:`PriceSource` (one symbol at a time). A source that holds many symbols in
one long layout (a returns file, a Parquet file, a DataFrame) also implements :class:`TableSource`, whose
``load_table`` gives all the symbols a study needs as one :class:`~eventstudy.data.table.PriceTable`
without a per-symbol object; the study uses it when present and otherwise loads symbol by symbol
(:func:`eventstudy.data.table.load_each`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from eventstudy._typing import FloatArray

if TYPE_CHECKING:
    from eventstudy.data.table import PriceTable
    from eventstudy.errors import PriceSourceError

SeriesKind = Literal["price", "return"]


@dataclass(frozen=True, eq=False)
class PriceSeries:
    """One symbol's observed daily rows.

    Parameters
    ----------
    symbol
        Ticker as the user wrote it (Yahoo symbol, e.g. ``0700.HK``).
    dates
        Exchange-local trading dates, tz-naive, unit ``ns``, strictly increasing and unique.
    values
        Adjusted close (``kind="price"``) or returns (``kind="return"``), one per date; float64, no NaN.
    kind
        ``"price"`` or ``"return"``.
    volume
        Traded volume per date (NaN where unknown), or ``None`` when the source has no volume at all.
    source
        Where the rows came from, e.g. ``"yahoo (store)"``, ``"csv:/path/0700.HK.csv"``.
    vintage
        When the data were produced (UTC ISO time of the download, or the file's modification time).
    price_field
        ``"adj_close"``, ``"close"`` or ``"return"``.
    notes
        Free-text remarks about cleaning (rows dropped, etc.), reported with the results.
    """

    symbol: str
    dates: pd.DatetimeIndex
    values: FloatArray
    kind: SeriesKind = "price"
    volume: FloatArray | None = None
    source: str = ""
    vintage: str | None = None
    price_field: str = "adj_close"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        dates = pd.DatetimeIndex(self.dates)
        if dates.tz is not None:
            raise ValueError(f"{self.symbol}: dates must be tz-naive exchange-local dates")
        dates = dates.as_unit("ns")
        values = np.asarray(self.values, dtype=np.float64)
        if values.shape != (len(dates),):
            raise ValueError(f"{self.symbol}: {len(dates)} dates but values of shape {values.shape}")
        if len(dates) > 1 and not (dates[1:] > dates[:-1]).all():
            raise ValueError(f"{self.symbol}: dates must be strictly increasing")
        object.__setattr__(self, "dates", dates)
        values.flags.writeable = False
        object.__setattr__(self, "values", values)
        if self.volume is not None:
            volume = np.asarray(self.volume, dtype=np.float64)
            volume.flags.writeable = False
            object.__setattr__(self, "volume", volume)

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def first_date(self) -> pd.Timestamp | None:
        """First observed date, or None for an empty series."""
        return self.dates[0] if len(self.dates) else None

    @property
    def last_date(self) -> pd.Timestamp | None:
        """Last observed date, or None for an empty series."""
        return self.dates[-1] if len(self.dates) else None


@runtime_checkable
class PriceSource(Protocol):
    """Anything that can deliver one symbol's daily rows.

    Implementations: :class:`~eventstudy.data.sources.YahooPrices`,
    :class:`~eventstudy.data.csv_prices.CsvPrices`, :class:`~eventstudy.data.returns_files.ReturnsFile`,
    :class:`~eventstudy.data.returns_files.ReturnsFrame`.
    """

    @property
    def description(self) -> str:
        """One line naming the source for reports (e.g. ``"Yahoo Finance via yfinance 1.7.0"``)."""
        ...

    def load(self, symbol: str, start: dt.date, end: dt.date) -> PriceSeries:
        """Return the rows of ``symbol`` covering at least ``start``..``end`` (inclusive) where available.

        Raises
        ------
        PriceSourceError
            When nothing usable exists for the symbol (reason in the exception).
        """
        ...


@runtime_checkable
class TableSource(Protocol):
    """A source that delivers the rows of many symbols at once, as one columnar table.

    Implementations: :class:`~eventstudy.data.returns_files.ReturnsFile`,
    :class:`~eventstudy.data.returns_files.ReturnsFrame` (and the other long-layout sources).
    """

    def load_table(
        self, symbols: Sequence[str], start: dt.date, end: dt.date
    ) -> tuple[PriceTable, dict[str, PriceSourceError]]:
        """Return the rows of ``symbols`` covering at least ``start``..``end`` where available.

        Returns
        -------
        table, failed
            The symbols with rows, in the order asked; for each symbol without usable rows its
            :class:`~eventstudy.errors.PriceSourceError` (never raised).
        """
        ...


__all__ = ["PriceSeries", "PriceSource", "SeriesKind", "TableSource"]
