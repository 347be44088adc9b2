"""Series besides the benchmark that normal-return models read: factor columns and the risk-free rate.

A factor model (:class:`eventstudy.models.FactorModel`) reads named series such as ``mkt_rf``, ``smb`` and ``rf``
from the panel (:meth:`eventstudy.returns.ReturnPanel.series_arrays`). :func:`with_series` attaches them: each
firm-event's estimation and event-window returns are matched to the factor row of the **same date** (the date
that ends the return interval), in the factor table of the ticker's region (``docs/methods.md`` §4.4). A return
date without a factor row gets NaN: the fit leaves the day out (counted in the parameters table's
``regressor_gaps``) and an event-window day without factors has no abnormal return, so CARs over it are
excluded with a reason.

Conventions (stated in the report): a return that spans several trading days (the benchmark or the ticker
missed a day, ``docs/methods.md`` §2.2) is matched to the factors of its last day only; factor returns are
daily decimal returns (percent files are divided by 100 when read, :mod:`eventstudy.data.factors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from eventstudy._typing import FloatArray
from eventstudy.errors import DataError, InputError, UnknownNameError
from eventstudy.models import NormalReturnModel
from eventstudy.returns import ReturnPanel

if TYPE_CHECKING:
    from eventstudy.data.store import PriceStore


class FactorLookup(Protocol):
    """What :func:`with_series` reads of a factor table (:class:`eventstudy.data.factors.FactorTable`)."""

    @property
    def source(self) -> str:
        """Where the factors come from (file, URL or store entry)."""
        ...

    @property
    def vintage(self) -> str | None:
        """The data vintage, when the source states one."""
        ...

    @property
    def units(self) -> str:
        """Units of the source (``"percent"`` or ``"decimal"``; values are decimals)."""
        ...

    def at(self, days: np.ndarray, names: Sequence[str]) -> FloatArray:
        """Values at int64 days (any shape; NaN where the table has no row), shape ``days.shape + (len(names),)``."""
        ...


_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class FactorData:
    """Factor tables for a study: one per region, or one for every ticker.

    Attributes
    ----------
    by_region
        Factor table of each region (``"us"``, ``"asia_pacific_ex_japan"``, ``"japan"``, ...; the regions of
        :func:`eventstudy.data.factors.factor_region`).
    default
        The table for tickers whose region has none in ``by_region`` (a user file meant for every ticker).
    regions
        Region of a ticker where it differs from its listing's (``{"BABA": "asia_pacific_ex_japan"}``).
    unavailable
        Regions the study needs but has no factors for, with the reason; their tickers get no factor values,
        so their firm-events are excluded at estimation ("... days without regressor data").
    """

    by_region: Mapping[str, FactorLookup] = field(default_factory=dict)
    default: FactorLookup | None = None
    regions: Mapping[str, str] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)

    def region_of(self, tickers: pd.Series | np.ndarray) -> np.ndarray:
        """The factor region of each ticker: its override, else the region of its listing.

        ``"all"`` for every ticker when the data is one table for all of them (no regions, no overrides).
        """
        if not self.by_region and not self.regions:
            return np.full(len(tickers), "all", dtype=object)
        return regions_of(tickers, self.regions)

    def table_for(self, region: str, tickers: np.ndarray) -> FactorLookup | None:
        """The table of a region (else the default one); None for a region listed as :attr:`unavailable`.

        Raises
        ------
        DataError
            Neither a table of the region nor a default table; the message names the tickers and regions.
        """
        table = self.by_region.get(region, self.default)
        if table is None and region in self.unavailable:
            return None
        if table is None:
            have = ", ".join(sorted(self.by_region)) or "none"
            names = ", ".join(sorted(set(map(str, tickers)))[:10])
            raise DataError(
                f"no factor data for the region {region} (tickers {names}); the factor data holds the regions "
                f"{have}: give a factor file for every ticker (--factors FILE) or the region's file, or map the "
                "tickers to another region"
            )
        return table


def regions_of(tickers: pd.Series | np.ndarray, overrides: Mapping[str, str]) -> np.ndarray:
    """The factor region of each ticker: its override, else its listing's (``data.factors.factor_regions``)."""
    from eventstudy.data.factors import factor_regions  # the factor-data module, read only by factor studies

    tickers = pd.Series(np.asarray(tickers, dtype=object))
    listed = np.asarray(factor_regions(tickers), dtype=object)
    chosen = tickers.map(overrides).to_numpy(dtype=object)
    return np.where(pd.isna(chosen), listed, chosen)


def load_factor_data(
    source: str | Path,
    model: NormalReturnModel,
    tickers: Sequence[str],
    *,
    store: PriceStore | None = None,
    offline: bool = False,
    regions: Mapping[str, str] | None = None,
) -> FactorData:
    """The factor data of a study: ``source`` a factor file, a folder of regional files, or ``"french"``.

    - a file (CSV or Parquet, :func:`eventstudy.data.factors.read_factor_file`): one table for every ticker;
    - a folder laid out like ``../shared/data/curated/factors/`` (:func:`~eventstudy.data.factors.load_curated_factors`)
      or ``"french"`` (Ken French's data library through the store, :func:`~eventstudy.data.factors.load_french`):
      one table per region of the tickers (:func:`~eventstudy.data.factors.factor_region` by listing, or
      ``regions``); a region without a file or dataset is :attr:`FactorData.unavailable` with the reason, so its
      firm-events are excluded rather than the study stopped.

    Raises
    ------
    InputError
        A missing path, or a folder or ``"french"`` for the ``factors`` model (user-chosen columns need a file).
    DataError
        Offline without a stored French file for any region (from :func:`~eventstudy.data.factors.load_french`).
    """
    from eventstudy.data.factors import load_curated_factors, load_french, read_factor_file
    from eventstudy.data.store import PriceStore

    overrides = dict(regions or {})
    text = str(source)
    path = Path(text)
    if text != "french" and path.is_file():
        return FactorData(default=read_factor_file(path), regions=overrides)
    if text != "french" and not path.is_dir():
        raise InputError(
            f"no factor file or folder {path}; give a factor CSV/Parquet file (date + factor columns), a folder of "
            "regional files like ../shared/data/curated/factors, or french",
            parameter="--factors",
            value=text,
        )
    if model.name not in ("capm", "ff3", "ff5", "carhart"):
        raise InputError(
            f"the {model.name} model reads the columns {', '.join(model.factor_series)} of a factor file: give "
            "--factors FILE (a folder or french serves capm, ff3, ff5 and carhart)",
            parameter="--factors",
            value=text,
        )
    needed = pd.unique(regions_of(pd.unique(np.asarray(tickers, dtype=object)), overrides))
    by_region: dict[str, FactorLookup] = {}
    unavailable: dict[str, str] = {}
    price_store = None
    for region in needed:  # a handful of regions
        try:
            if text == "french":
                price_store = price_store or store or PriceStore()
                by_region[region] = load_french(model.name, region, price_store, offline=offline)
            else:
                by_region[region] = load_curated_factors(path, model.name, region)
        except (DataError, UnknownNameError) as error:
            unavailable[region] = str(error)
    return FactorData(by_region=by_region, regions=overrides, unavailable=unavailable)


def with_series(panel: ReturnPanel, factors: FactorData, names: tuple[str, ...]) -> ReturnPanel:
    """The panel with the factor columns ``names`` attached on its estimation and event-window days.

    They are appended to any regressors the panel holds already (the benchmark's leads and lags).

    Each return date gets the value of the factor row of the same date in the table of the ticker's region
    (NaN where the table has no row that day or the return is missing). The work is one vectorised lookup
    per region present in the panel (a handful), not per firm-event.

    Raises
    ------
    DataError
        A region without factor data (:meth:`FactorData.table_for`).
    InputError
        A factor column the region's table lacks (the message lists the columns it has).
    """
    if not names:
        return panel
    regions = factors.region_of(panel.pairs["ticker"])
    est_days = _days(panel.est_dates)
    evt_days = _days(panel.evt_dates)
    est = np.full((*est_days.shape, len(names)), np.nan)
    evt = np.full((*evt_days.shape, len(names)), np.nan)
    tickers = panel.pairs["ticker"].to_numpy(dtype=object)
    for region in pd.unique(regions):  # one lookup per region (a handful), not per firm-event
        rows = np.flatnonzero(regions == region)
        table = factors.table_for(str(region), tickers[rows])
        if table is None:  # no factors for the region: no factor values (the fit reports the days)
            continue
        est[rows] = table.at(est_days[rows], names)
        evt[rows] = table.at(evt_days[rows], names)
    if panel.est_regressors is not None and panel.evt_regressors is not None:  # e.g. market leads and lags
        est = np.concatenate([panel.est_regressors, est], axis=2)
        evt = np.concatenate([panel.evt_regressors, evt], axis=2)
    return replace(panel, regressor_names=(*panel.regressor_names, *names), est_regressors=est, evt_regressors=evt)


def _days(dates: np.ndarray) -> np.ndarray:
    """Dates (datetime64 of any unit) as int64 days since 1970-01-01, NaT as the smallest int64."""
    days = np.asarray(dates).astype("datetime64[D]").view(np.int64)
    return np.where(np.isnat(np.asarray(dates)), _NAT, days)


__all__ = ["FactorData", "FactorLookup", "load_factor_data", "with_series"]
