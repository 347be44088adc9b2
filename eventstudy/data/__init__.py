"""Price data: the :class:`PriceSeries` value type, price sources and the local price store.

Sources (:class:`CsvPrices`, :class:`ReturnsFile`, :class:`ReturnsFrame`, :class:`YahooPrices`) implement
the :class:`PriceSource` protocol; :class:`PriceStore` is the SQLite store behind :class:`YahooPrices`.
Importing this package does not import yfinance.
"""

from __future__ import annotations

from eventstudy.data.coverage import Coverage, adjustment_drift
from eventstudy.data.csv_prices import CsvPrices
from eventstudy.data.returns_files import ReturnsFile, ReturnsFrame
from eventstudy.data.series import PriceSeries, PriceSource, SeriesKind
from eventstudy.data.sources import YahooPrices
from eventstudy.data.store import FetchInfo, PriceStore, StoreError, default_store_path

__all__ = [
    "Coverage",
    "CsvPrices",
    "FetchInfo",
    "PriceSeries",
    "PriceSource",
    "PriceStore",
    "ReturnsFile",
    "ReturnsFrame",
    "SeriesKind",
    "StoreError",
    "YahooPrices",
    "adjustment_drift",
    "default_store_path",
]
