"""eventstudy: measure how the market priced a piece of news.

Read dated events, join them with daily prices on each ticker's own exchange calendar, fit a
normal-return model (the market model by default) and report abnormal returns, cumulative abnormal
returns and their significance.

>>> import eventstudy as es                                                   # doctest: +SKIP
>>> result = es.EventStudy.from_csv("events.csv", prices=es.YahooPrices()).run()   # doctest: +SKIP

The public names are imported on first use, so ``import eventstudy`` stays fast for the command line.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Conventions": "eventstudy.conventions",
    "get_profile": "eventstudy.conventions",
    "CsvPrices": "eventstudy.data",
    "PriceStore": "eventstudy.data",
    "ReturnsFile": "eventstudy.data",
    "ReturnsFrame": "eventstudy.data",
    "YahooPrices": "eventstudy.data",
    "ParquetPrices": "eventstudy.data.parquet",
    "PriceSeries": "eventstudy.data.series",
    "PriceSource": "eventstudy.data.series",
    "DataError": "eventstudy.errors",
    "EventStudyError": "eventstudy.errors",
    "EventStudyWarning": "eventstudy.errors",
    "InputError": "eventstudy.errors",
    "PriceSourceError": "eventstudy.errors",
    "Event": "eventstudy.events",
    "events_from_frame": "eventstudy.events",
    "read_events": "eventstudy.events",
    "ConstantMean": "eventstudy.models",
    "MarketAdjusted": "eventstudy.models",
    "MarketModel": "eventstudy.models",
    "StudyResult": "eventstudy.results",
    "EventStudy": "eventstudy.study",
    "StudySpec": "eventstudy.spec",
}

__all__ = [
    "ConstantMean",
    "Conventions",
    "CsvPrices",
    "DataError",
    "Event",
    "EventStudy",
    "EventStudyError",
    "EventStudyWarning",
    "InputError",
    "MarketAdjusted",
    "MarketModel",
    "ParquetPrices",
    "PriceSeries",
    "PriceSource",
    "PriceSourceError",
    "PriceStore",
    "ReturnsFile",
    "ReturnsFrame",
    "StudyResult",
    "StudySpec",
    "YahooPrices",
    "events_from_frame",
    "get_profile",
    "read_events",
]

if TYPE_CHECKING:  # pragma: no cover
    from eventstudy.conventions import Conventions, get_profile
    from eventstudy.data import CsvPrices, PriceStore, ReturnsFile, ReturnsFrame, YahooPrices
    from eventstudy.data.parquet import ParquetPrices
    from eventstudy.data.series import PriceSeries, PriceSource
    from eventstudy.errors import DataError, EventStudyError, EventStudyWarning, InputError, PriceSourceError
    from eventstudy.events import Event, events_from_frame, read_events
    from eventstudy.models import ConstantMean, MarketAdjusted, MarketModel
    from eventstudy.results import StudyResult
    from eventstudy.spec import StudySpec
    from eventstudy.study import EventStudy


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'eventstudy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
