"""Donor pools for synthetic controls: a wide price file of one exchange, and the per-firm-event table.

:class:`DonorPanel` reads a wide price file (first column the date, one column per ticker of one exchange, e.g.
``../shared/data/curated/panel_hk_2020_2025/adj_close_wide.csv``). :func:`synthetic_table` fits a synthetic
control (:mod:`eventstudy.synthetic`) to every estimated firm-event on the donors' exchange, with these rules:

* the donor returns run over the same interval as the treated return: from the treated series' previous date
  in the windows to its date (the first day of a window that does not follow another: from the donor file's
  previous row); simple or log as the study's returns;
* the pool of a firm-event is the file's tickers minus the treated ticker, minus every ticker with its own
  event in the study (its date in the events file) between the first estimation date and the last event-window
  date of the firm-event, minus every donor with a missing return on a fit day (an estimation day with a
  treated return) or on an event-window day with a treated return;
* the weights are fitted on those estimation days; the table reports how many days and donors were used;
* firm-events on another exchange get no synthetic control, with a reason naming both exchanges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy._frozen import freeze_arrays
from eventstudy._typing import FloatArray, IntArray, Window
from eventstudy.errors import InputError
from eventstudy.returns import ReturnPanel
from eventstudy.symbols import exchange_for
from eventstudy.synthetic import (
    SyntheticFit,
    conformal_car,
    placebo_p_values,
    placebo_statistics,
    synthetic_fit,
    window_cars,
)

SYNTHETIC_COLUMNS = (
    "event_id",
    "ticker",
    "window_start",
    "window_end",
    "car_model",
    "car_synthetic",
    "rmspe_pre",
    "rmspe_post",
    "n_pre",
    "n_donors",
    "top_weights",
    "p_placebo",
    "p_conformal",
    "ci_low",
    "ci_high",
    "reason",
)
"""Columns of ``result.synthetic`` (``synthetic.csv``)."""

TOP_WEIGHTS = 5
"""How many of the largest donor weights ``top_weights`` lists."""

MIN_DONORS = 2
"""A firm-event needs at least this many usable donors."""


@dataclass(frozen=True, eq=False)
class DonorPanel:
    """Prices of donor tickers of one exchange on the file's dates.

    Attributes
    ----------
    path : str
        The file read.
    dates : (T,) datetime64[D]
        Strictly increasing.
    tickers : tuple of str
    prices : (T, D)
        NaN where missing or not positive.
    exchange : str
        The MIC every ticker trades on.
    """

    path: str
    dates: np.ndarray
    tickers: tuple[str, ...]
    prices: FloatArray
    exchange: str

    def __post_init__(self) -> None:
        freeze_arrays(self)

    @classmethod
    def from_csv(cls, path: str | Path) -> DonorPanel:
        """Read a wide price CSV: the first column dates (YYYY-MM-DD), then one price column per ticker.

        Raises
        ------
        InputError
            The file is missing or unreadable, a date is bad or repeated, there are fewer than
            :data:`MIN_DONORS` ticker columns, or the tickers trade on more than one exchange (or none known).
        """
        path = Path(path)
        if not path.is_file():
            raise InputError(
                f"donor price file {path} not found: give a wide CSV of prices (Date, then one column per ticker of "
                "one exchange), e.g. ../shared/data/curated/panel_hk_2020_2025/adj_close_wide.csv",
                parameter="--donors",
                value=str(path),
            )
        try:
            frame = pd.read_csv(path, index_col=0)
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            raise InputError(f"cannot read the donor prices: {exc}", path=path) from None
        try:
            dates = pd.to_datetime(frame.index, format="%Y-%m-%d")
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"the first column must hold dates YYYY-MM-DD: {exc}", path=path, column=str(frame.index.name)
            ) from None
        if not dates.is_monotonic_increasing or dates.has_duplicates:
            raise InputError("dates must be strictly increasing (sort the file, drop repeated dates)", path=path)
        tickers = tuple(str(c) for c in frame.columns)
        if len(tickers) < MIN_DONORS:
            raise InputError(f"a donor file needs at least {MIN_DONORS} ticker columns, got {len(tickers)}", path=path)
        exchanges = {t: exchange_for(t) for t in tickers}
        distinct = sorted({str(e) for e in exchanges.values()})
        if len(distinct) != 1 or distinct[0] == "None":
            examples = "; ".join(f"{t}: {e or 'unknown'}" for t, e in list(exchanges.items())[:5])
            raise InputError(
                f"the donors must all trade on one known exchange, found {', '.join(distinct)} ({examples}); give one "
                "file per exchange",
                path=path,
            )
        values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        return cls(
            path=str(path),
            dates=dates.to_numpy().astype("datetime64[D]"),
            tickers=tickers,
            prices=np.where(values > 0, values, np.nan),
            exchange=distinct[0],
        )

    @property
    def name(self) -> str:
        """The file name (reports name files, never where they lie)."""
        return Path(self.path).name

    def interval_returns(self, dates: np.ndarray, return_type: str) -> FloatArray:
        """Donor returns over the intervals of a treated series' dates, (N, K, D).

        ``dates`` (N, K) are consecutive rows of each treated series (NaT where none). The return on
        ``dates[i, c]`` runs from ``dates[i, c - 1]`` (from the file's previous row when c = 0 or that date is
        NaT or not in the file) to ``dates[i, c]``; NaN where a date is not in the file or a price is missing.
        """
        days = np.asarray(dates).astype("datetime64[D]")
        at = _positions(self.dates, days)
        before = np.concatenate([np.full((len(days), 1), -1), _positions(self.dates, days[:, :-1])], axis=1)
        before = np.where(before >= 0, before, at - 1)
        valid = (at >= 0) & (before >= 0)
        end = self.prices[np.where(valid, at, 0)]
        start = self.prices[np.where(valid, before, 0)]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = end / start
            out = np.log(ratio) if return_type == "log" else ratio - 1.0
        return np.where(valid[:, :, None], out, np.nan)


def _positions(grid: np.ndarray, days: np.ndarray) -> IntArray:
    """Index of each day in the sorted ``grid``, -1 where it is not there (or NaT)."""
    index = np.searchsorted(grid, days)
    inside = index < len(grid)
    found = inside & (grid[np.where(inside, index, 0)] == days) & ~np.isnat(days)
    return np.where(found, index, -1).astype(np.int64)


def _top_weights(tickers: Sequence[str], weights: FloatArray) -> str:
    """The :data:`TOP_WEIGHTS` largest weights as ``"0700.HK 0.31; 0005.HK 0.22"`` (weights >= 0.005)."""
    order = np.argsort(-weights, kind="stable")[:TOP_WEIGHTS]
    return "; ".join(f"{tickers[j]} {weights[j]:.2f}" for j in order if weights[j] >= 0.005)


def _window_masks(event_days: IntArray, windows: Sequence[Window]) -> FloatArray:
    """0/1 rows marking each window's days among the event days, (C, W)."""
    return np.array([(event_days >= a) & (event_days <= b) for a, b in windows], dtype=np.float64)


def donor_windows(panel: ReturnPanel, donors: DonorPanel, return_type: str) -> tuple[FloatArray, FloatArray]:
    """Donor returns on every firm-event's estimation and event-window days, (N, L, D) and (N, W, D).

    :meth:`DonorPanel.interval_returns` on the two windows' dates, as one row when the event window follows the
    estimation window directly (its first return then runs from the last estimation date).
    """
    evt_dates = panel.evt_dates.astype("datetime64[D]")
    n_est = panel.est_dates.shape[1]
    if n_est and panel.estimation_days[-1] + 1 == panel.event_days[0]:
        both = donors.interval_returns(np.concatenate([panel.est_dates, evt_dates], axis=1), return_type)
        return both[:, :n_est], both[:, n_est:]
    return donors.interval_returns(panel.est_dates, return_type), donors.interval_returns(evt_dates, return_type)


@dataclass(frozen=True)
class OwnEvents:
    """The study's (ticker, event date) pairs: a donor with its own event in a firm-event's windows leaves its pool."""

    tickers: np.ndarray
    dates: np.ndarray

    @classmethod
    def of(
        cls, tickers: Sequence[str] | np.ndarray | pd.Series, dates: Sequence[object] | np.ndarray | pd.Series
    ) -> OwnEvents:
        """From parallel sequences of tickers and dates (anything ``pandas.to_datetime`` reads; missing dropped)."""
        days = pd.to_datetime(pd.Series(list(dates), dtype=object)).to_numpy().astype("datetime64[D]")
        keep = ~np.isnat(days)
        return cls(np.asarray(tickers, dtype=object)[keep], days[keep])

    def within(self, first: np.datetime64, last: np.datetime64) -> set[str]:
        """Tickers with an event date from ``first`` to ``last`` (inclusive)."""
        return set(self.tickers[(self.dates >= first) & (self.dates <= last)])


@dataclass(frozen=True, eq=False)
class DonorFit:
    """One firm-event's synthetic control: its pool (donor columns), fit days and fit, or why there is none."""

    pool: IntArray
    pre_days: np.ndarray
    fit: SyntheticFit | None
    reason: str


def fit_donors(
    panel: ReturnPanel,
    i: int,
    est_donors: FloatArray,
    evt_donors: FloatArray,
    donors: DonorPanel,
    own_events: OwnEvents,
    min_pre: int,
) -> DonorFit:
    """The pool of firm-event ``i`` (the module's rules) and its synthetic control on the estimation window.

    ``est_donors`` (L, D) and ``evt_donors`` (W, D) are the firm-event's rows of :func:`donor_windows`. No fit
    (with the reason) on another exchange, with fewer than :data:`MIN_DONORS` donors or ``min_pre`` fit days.
    """
    ticker = str(panel.pairs["ticker"].iloc[i])
    y_pre, y_evt = panel.est_returns[i], panel.evt_returns[i]
    pre_days, evt_present = np.isfinite(y_pre), np.isfinite(y_evt)
    exchange = exchange_for(ticker) or "an unknown exchange"
    if exchange != donors.exchange:
        reason = f"{ticker} trades on {exchange}; the donors of {donors.name} trade on {donors.exchange}"
        return DonorFit(np.zeros(0, dtype=np.int64), pre_days, None, reason)
    dates = np.concatenate([panel.est_dates[i], panel.evt_dates[i].astype("datetime64[D]")])
    present = dates[~np.isnat(dates)]
    busy = own_events.within(present.min(), present.max()) if len(present) else set()
    complete = np.isfinite(est_donors[pre_days]).all(axis=0) & np.isfinite(evt_donors[evt_present]).all(axis=0)
    pool = np.flatnonzero(complete & ~np.isin(np.array(donors.tickers, dtype=object), [ticker, *busy]))
    n_pre = int(pre_days.sum())
    if len(pool) < MIN_DONORS or n_pre < min_pre:
        reason = f"{len(pool)} usable donors and {n_pre} estimation days (at least {MIN_DONORS} and {min_pre} needed)"
        return DonorFit(pool, pre_days, None, reason)
    evt_x = np.where(evt_present[:, None], evt_donors[:, pool], 0.0)  # days without the firm's return: AR missing
    fit = synthetic_fit(y_pre[pre_days], est_donors[pre_days][:, pool], y_evt, evt_x)
    return DonorFit(pool, pre_days, fit, "")


def synthetic_table(
    panel: ReturnPanel,
    model_cars: FloatArray,
    windows: Sequence[Window],
    donors: DonorPanel,
    own_events: OwnEvents,
    return_type: str,
    min_pre: int,
) -> pd.DataFrame:
    """A synthetic control per estimated firm-event and CAR window (columns :data:`SYNTHETIC_COLUMNS`).

    Parameters
    ----------
    panel
        The study's aligned returns, with the estimation arrays (``keep_estimation``).
    model_cars : (N, C)
        The study model's CARs (``car_model``).
    windows
        The CAR windows.
    donors
        The donor prices.
    own_events
        The study's (ticker, event date) pairs: donors with their own event in a firm-event's windows leave
        its pool.
    return_type
        ``"simple"`` or ``"log"``, as the study's returns.
    min_pre
        Fewest estimation days with the firm's return (and every pool donor's).

    Notes
    -----
    One synthetic fit, ``D`` placebo fits and the conformal grid per firm-event and window
    (:mod:`eventstudy.synthetic`).
    """
    n = len(panel)
    masks = _window_masks(panel.event_days, windows)
    est_donors, evt_donors = donor_windows(panel, donors, return_type)
    columns: dict[str, list[object]] = {c: [] for c in SYNTHETIC_COLUMNS[5:]}
    for i in range(n):  # one constrained fit, its placebos and conformal grids per firm-event
        fitted = fit_donors(panel, i, est_donors[i], evt_donors[i], donors, own_events, min_pre)
        values = _inference(panel, i, fitted, est_donors[i], evt_donors[i], masks, donors.tickers)
        for name in columns:
            columns[name].append(values[name])
    n_windows = len(windows)
    frame = pd.DataFrame(
        {
            "event_id": np.repeat(panel.pairs["event_id"].to_numpy(dtype=object), n_windows),
            "ticker": np.repeat(panel.pairs["ticker"].to_numpy(dtype=object), n_windows),
            "window_start": np.tile(np.array([a for a, _ in windows], dtype=np.int64), n),
            "window_end": np.tile(np.array([b for _, b in windows], dtype=np.int64), n),
            "car_model": np.asarray(model_cars, dtype=np.float64).reshape(n * n_windows),
        }
    )
    for name, parts in columns.items():
        cells = [np.broadcast_to(np.asarray(p, dtype=object), n_windows) for p in parts]
        frame[name] = np.concatenate(cells) if n else np.array([], dtype=object)
    for name in ("car_synthetic", "rmspe_pre", "rmspe_post", "p_placebo", "p_conformal", "ci_low", "ci_high"):
        frame[name] = frame[name].astype(np.float64)
    for name in ("n_pre", "n_donors"):
        frame[name] = frame[name].astype(np.int64)
    frame["top_weights"] = frame["top_weights"].astype(str)
    frame["reason"] = frame["reason"].astype(str)
    return frame[list(SYNTHETIC_COLUMNS)]


def _inference(
    panel: ReturnPanel,
    i: int,
    fitted: DonorFit,
    est_donors: FloatArray,
    evt_donors: FloatArray,
    masks: FloatArray,
    tickers: tuple[str, ...],
) -> dict[str, object]:
    """The per-firm-event columns of :func:`synthetic_table`: scalars, or (C,) arrays for the per-window ones."""
    nan = np.full(len(masks), np.nan)
    n_pre = int(fitted.pre_days.sum())
    fit = fitted.fit
    if fit is None:
        return dict(
            car_synthetic=nan, rmspe_pre=np.nan, rmspe_post=nan, n_pre=n_pre, n_donors=len(fitted.pool),
            top_weights="", p_placebo=nan, p_conformal=nan, ci_low=nan, ci_high=nan, reason=fitted.reason,
        )  # fmt: skip
    y_pre, y_evt = panel.est_returns[i][fitted.pre_days], panel.evt_returns[i]
    pre_x, evt_x = est_donors[fitted.pre_days][:, fitted.pool], evt_donors[:, fitted.pool]
    cars = window_cars(fit.abnormal, masks)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmspe_post = np.sqrt(window_cars(fit.abnormal**2, masks) / masks.sum(axis=1))
        observed = np.abs(cars / fit.rmspe_pre)
    placebo = placebo_statistics(pre_x, np.where(np.isfinite(y_evt)[:, None], evt_x, 0.0), masks)
    conformal = np.full((len(masks), 3), np.nan)
    for c in np.flatnonzero(np.isfinite(cars)):  # one θ grid per window
        days = masks[c] > 0
        result = conformal_car(y_pre, pre_x, y_evt[days], evt_x[days], float(cars[c]), fit.rmspe_pre)
        conformal[c] = (result.p_value, result.ci_low, result.ci_high)
    return {
        "car_synthetic": cars,
        "rmspe_pre": fit.rmspe_pre,
        "rmspe_post": rmspe_post,
        "n_pre": n_pre,
        "n_donors": len(fitted.pool),
        "top_weights": _top_weights([tickers[j] for j in fitted.pool], fit.weights),
        "p_placebo": placebo_p_values(observed, placebo),
        "p_conformal": conformal[:, 0],
        "ci_low": conformal[:, 1],
        "ci_high": conformal[:, 2],
        "reason": np.where(np.isfinite(cars), "", "a day of the window has no return").astype(object),
    }


__all__ = [
    "MIN_DONORS",
    "SYNTHETIC_COLUMNS",
    "TOP_WEIGHTS",
    "DonorFit",
    "DonorPanel",
    "OwnEvents",
    "donor_windows",
    "fit_donors",
    "synthetic_table",
]
