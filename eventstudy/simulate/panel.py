"""The wide return panel that size and power simulations draw from (``../shared/docs/DATA.md`` §6.2).

:class:`WidePanel` holds daily simple returns of many tickers and one benchmark on a common date grid,
built from prices (files, a folder, or a synthetic normal panel), and finds the rows that can be day 0
for given estimation and event windows. :func:`default_panel_dir` locates the S&P 500 panel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy._typing import BoolArray, FloatArray, Window
from eventstudy.errors import DataError, InputError

DEFAULT_PANEL = Path("data") / "curated" / "panel_sp500_2010_2020"
"""The S&P 500 panel of ``../shared/docs/DATA.md`` §6.2, relative to the shared folder."""


def default_panel_dir() -> Path:
    """``$EVENTSTUDY_SHARED_DIR/data/curated/panel_sp500_2010_2020`` (shared folder default ``../shared``)."""
    return Path(os.environ.get("EVENTSTUDY_SHARED_DIR", Path("..") / "shared")) / DEFAULT_PANEL


@dataclass(frozen=True, eq=False)
class WidePanel:
    """Daily simple returns of many tickers and one benchmark on a common date grid.

    Attributes
    ----------
    dates : (T,) datetime64[ns]
        End date of each return interval.
    tickers : tuple of str
        Column labels.
    returns : (T, n)
        Ticker returns, NaN where either of the two prices bounding the interval is missing.
    market : (T,)
        Benchmark returns over the same intervals.
    market_name
        Benchmark symbol (``^GSPC``).
    source
        Where the data came from (files, or the parameters of a synthetic panel).
    """

    dates: np.ndarray
    tickers: tuple[str, ...]
    returns: FloatArray
    market: FloatArray
    market_name: str = "^GSPC"
    source: str = ""

    def __post_init__(self) -> None:
        # copies, so that making them read-only does not touch the caller's arrays
        dates = np.array(self.dates, dtype="datetime64[ns]")
        returns = np.array(self.returns, dtype=np.float64)
        market = np.array(self.market, dtype=np.float64)
        if returns.ndim != 2 or returns.shape != (len(dates), len(self.tickers)) or market.shape != (len(dates),):
            raise InputError(
                f"a wide panel needs returns of shape (dates, tickers) = ({len(dates)}, {len(self.tickers)}) and a "
                f"market series of length {len(dates)}; got {returns.shape} and {market.shape}",
                parameter="panel",
            )
        if len(dates) > 1 and not (dates[1:] > dates[:-1]).all():
            raise InputError("panel dates must be strictly increasing", parameter="panel")
        for name, value in (("dates", dates), ("returns", returns), ("market", market)):
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        object.__setattr__(self, "tickers", tuple(str(t) for t in self.tickers))

    @classmethod
    def from_prices(cls, prices: pd.DataFrame, market: pd.Series, *, source: str = "") -> WidePanel:
        """Simple returns of every price column and of the market on the price frame's dates.

        A return is P_t / P_{t-1} - 1 between two consecutive rows of the grid and is defined only where
        both prices exist (nothing is filled; ``docs/methods.md`` §2.2). The market is reindexed to the
        grid first, so a date it lacks makes both adjacent market returns NaN and keeps those days out
        of every drawn window. Non-positive prices count as missing.
        """
        prices = prices.sort_index()
        index = pd.DatetimeIndex(prices.index)
        values = prices.to_numpy(dtype=np.float64, na_value=np.nan)
        bench = pd.Series(market).sort_index().reindex(index).to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(values > 0, values, np.nan)
            bench = np.where(bench > 0, bench, np.nan)
            returns = values[1:] / values[:-1] - 1.0
            bench_ret = bench[1:] / bench[:-1] - 1.0
        return cls(index.values[1:], tuple(map(str, prices.columns)), returns, bench_ret, str(market.name), source)

    @classmethod
    def from_csv(cls, prices_path: str | Path, market_path: str | Path, market_column: str = "^GSPC") -> WidePanel:
        """Read a wide price file (first column ``Date``, one column per ticker; ``.gz`` is fine) and a market file.

        Raises
        ------
        DataError
            When a file is missing or the market column is absent.
        """
        for path in (prices_path, market_path):
            if not Path(path).is_file():
                raise DataError(f"panel file {path} not found")
        prices = pd.read_csv(prices_path, index_col=0, parse_dates=True)
        market = pd.read_csv(market_path, index_col=0, parse_dates=True)
        if market_column not in market.columns:
            raise DataError(f"{market_path}: no column {market_column!r}; columns are {', '.join(market.columns)}")
        source = f"{Path(prices_path).resolve()} with {market_column} from {Path(market_path).resolve()}"
        return cls.from_prices(prices, market[market_column], source=source)

    @classmethod
    def from_dir(cls, path: str | Path | None = None, market_column: str = "^GSPC") -> WidePanel:
        """Read ``adj_close_wide.csv.gz`` and ``market.csv`` from a folder (default: :func:`default_panel_dir`)."""
        folder = Path(path) if path is not None else default_panel_dir()
        return cls.from_csv(folder / "adj_close_wide.csv.gz", folder / "market.csv", market_column)

    @classmethod
    def normal(
        cls,
        n_tickers: int,
        n_days: int,
        sigma: float = 0.02,
        seed: int = 0,
        *,
        market_sigma: float = 0.01,
        beta: float = 1.0,
        start: str = "2000-01-03",
    ) -> WidePanel:
        """Synthetic panel: R_mt ~ N(0, market_sigma²), R_it = beta R_mt + ε_it with ε_it ~ N(0, sigma²) i.i.d.

        With ``beta = 1`` the market-adjusted abnormal return is exactly ε_it, so a CAR over L days has
        standard deviation sigma √L; this is the setting of the analytic J1 power (``docs/methods.md`` §7.1).
        Dates are consecutive business days from ``start``.
        """
        rng = np.random.default_rng(seed)
        market = rng.normal(0.0, market_sigma, n_days)
        returns = beta * market[:, None] + rng.normal(0.0, sigma, (n_days, n_tickers))
        width = len(str(n_tickers - 1))
        tickers = tuple(f"SIM{i:0{width}d}" for i in range(n_tickers))
        dates = pd.bdate_range(start, periods=n_days).values
        source = f"synthetic normal: sigma={sigma}, market_sigma={market_sigma}, beta={beta}, seed={seed}"
        return cls(dates, tickers, returns, market, "MKT", source)

    def eligible(self, estimation_window: Window, event_window: Window) -> BoolArray:
        """(T, n) mask of the rows that can be day 0: every estimation and event-window return present.

        Both the ticker's and the market's returns must exist on each of the windows' rows
        (``../shared/docs/DATA.md`` §6.2); days between the two windows, if any, are not required.
        """
        valid = np.isfinite(self.returns) & np.isfinite(self.market)[:, None]
        cum = np.vstack([np.zeros((1, valid.shape[1]), dtype=np.int64), np.cumsum(valid, axis=0)])
        n_rows = len(self.dates)
        out = np.zeros(valid.shape, dtype=bool)
        first = max(0, -min(estimation_window[0], event_window[0]))
        last = n_rows - 1 - max(0, max(estimation_window[1], event_window[1]))
        if last < first:
            return out
        rows = np.arange(first, last + 1)
        ok = np.ones((len(rows), valid.shape[1]), dtype=bool)
        for a, b in (estimation_window, event_window):
            ok &= (cum[rows + b + 1] - cum[rows + a]) == (b - a + 1)
        out[rows] = ok
        return out

    def between(self, start: str | None = None, end: str | None = None) -> WidePanel:
        """The panel restricted to returns dated from ``start`` to ``end`` (inclusive, ISO dates; None = open)."""
        lo = 0 if start is None else int(np.searchsorted(self.dates, np.datetime64(start, "ns"), side="left"))
        hi = (
            len(self.dates) if end is None else int(np.searchsorted(self.dates, np.datetime64(end, "ns"), side="right"))
        )
        note = f"{self.source}; returns dated {start or 'start'} to {end or 'end'}"
        return WidePanel(
            self.dates[lo:hi], self.tickers, self.returns[lo:hi], self.market[lo:hi], self.market_name, note
        )

    def describe(self) -> dict[str, str]:
        """Source, size and date range, for reports."""
        first = pd.Timestamp(self.dates[0]).date() if len(self.dates) else "n/a"
        last = pd.Timestamp(self.dates[-1]).date() if len(self.dates) else "n/a"
        return {
            "source": self.source,
            "benchmark": self.market_name,
            "tickers": str(len(self.tickers)),
            "return dates": f"{len(self.dates)} ({first} to {last})",
        }


__all__ = ["DEFAULT_PANEL", "WidePanel", "default_panel_dir"]
