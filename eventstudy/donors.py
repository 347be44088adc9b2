"""Donor pools for synthetic controls: a wide price file of one exchange, and the per-firm-event table.

:class:`DonorPanel` reads a wide price file (first column the date, one column per ticker of one exchange, e.g.
``../shared/data/curated/panel_hk_2020_2025/adj_close_wide.csv``). :func:`synthetic_table` fits a synthetic
control (:mod:`eventstudy.synthetic`) to every estimated firm-event on the donors' exchange, with these rules:

* the donor returns run over the same interval as the treated return: from the treated series' previous date
  in the windows to its date (the first day of a window that does not follow another: from the donor file's
  previous row); simple or log as the study's returns;
* the pool of a firm-event is the file's tickers minus the treated ticker, minus every ticker with its own
  event in the study (a day 0 of ``event_days``) between the first estimation date and the last event-window
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
from eventstudy.synthetic import conformal_car, placebo_p_values, placebo_statistics, synthetic_fit, window_cars

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


def synthetic_table(
    panel: ReturnPanel,
    model_cars: FloatArray,
    windows: Sequence[Window],
    donors: DonorPanel,
    own_events: pd.DataFrame,
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
        ``ticker`` and ``day_zero`` of every firm-event of the study: donors with their own event in a
        firm-event's windows leave its pool.
    return_type
        ``"simple"`` or ``"log"``, as the study's returns.
    min_pre
        Fewest estimation days with the treated return and every pool donor present.

    Notes
    -----
    One synthetic fit, ``D`` placebo fits and the conformal grid per firm-event (:mod:`eventstudy.synthetic`).
    """
    n = len(panel)
    masks = _window_masks(panel.event_days, windows)
    n_windows = len(windows)
    tickers = panel.pairs["ticker"].to_numpy(dtype=object)
    contiguous = len(panel.estimation_days) and panel.estimation_days[-1] + 1 == panel.event_days[0]
    if contiguous:
        both = donors.interval_returns(
            np.concatenate([panel.est_dates, panel.evt_dates.astype("datetime64[D]")], axis=1), return_type
        )
        est_donors, evt_donors = both[:, : panel.est_dates.shape[1]], both[:, panel.est_dates.shape[1] :]
    else:
        est_donors = donors.interval_returns(panel.est_dates, return_type)
        evt_donors = donors.interval_returns(panel.evt_dates, return_type)
    events = own_events.dropna(subset=["day_zero"])
    event_days = pd.to_datetime(events["day_zero"]).to_numpy().astype("datetime64[D]")
    event_tickers = events["ticker"].to_numpy(dtype=object)
    column = {t: j for j, t in enumerate(donors.tickers)}
    rows: dict[str, list[object]] = {c: [] for c in SYNTHETIC_COLUMNS[4:]}
    for i in range(n):  # one constrained fit (and its placebos) per firm-event
        values = _firm_event_row(
            i,
            panel,
            masks,
            est_donors[i],
            evt_donors[i],
            donors,
            column,
            event_tickers,
            event_days,
            min_pre,
            tickers[i],
        )
        values["car_model"] = model_cars[i]
        for name in rows:
            rows[name].append(values[name])
    frame = pd.DataFrame(
        {
            "event_id": np.repeat(panel.pairs["event_id"].to_numpy(dtype=object), n_windows),
            "ticker": np.repeat(tickers, n_windows),
            "window_start": np.tile([a for a, _ in windows], n),
            "window_end": np.tile([b for _, b in windows], n),
        }
    )
    for name, parts in rows.items():
        frame[name] = (
            np.concatenate([np.broadcast_to(np.asarray(p, dtype=object), n_windows) for p in parts]) if n else []
        )
    for name in (
        "car_model",
        "car_synthetic",
        "rmspe_pre",
        "rmspe_post",
        "p_placebo",
        "p_conformal",
        "ci_low",
        "ci_high",
    ):
        frame[name] = frame[name].astype(np.float64)
    for name in ("n_pre", "n_donors"):
        frame[name] = frame[name].astype(np.int64)
    return frame[list(SYNTHETIC_COLUMNS)]


def _firm_event_row(
    i: int,
    panel: ReturnPanel,
    masks: FloatArray,
    est_donors: FloatArray,
    evt_donors: FloatArray,
    donors: DonorPanel,
    column: dict[str, int],
    event_tickers: np.ndarray,
    event_days: np.ndarray,
    min_pre: int,
    ticker: str,
) -> dict[str, object]:
    """The synthetic-control columns of one firm-event: scalars, or (C,) arrays for the per-window ones."""
    n_windows = len(masks)
    nan = np.full(n_windows, np.nan)
    empty: dict[str, object] = dict(
        car_synthetic=nan,
        rmspe_pre=np.nan,
        rmspe_post=nan,
        n_pre=0,
        n_donors=0,
        top_weights="",
        p_placebo=nan,
        p_conformal=nan,
        ci_low=nan,
        ci_high=nan,
    )
    exchange = exchange_for(ticker) or "an unknown exchange"
    if exchange != donors.exchange:
        return {
            **empty,
            "reason": (f"{ticker} trades on {exchange}; the donors of {donors.name} trade on {donors.exchange}"),
        }
    y_pre, y_evt = panel.est_returns[i], panel.evt_returns[i]
    dates = np.concatenate([panel.est_dates[i], panel.evt_dates[i].astype("datetime64[D]")])
    present = dates[~np.isnat(dates)]
    first, last = present.min(), present.max()
    busy = set(event_tickers[(event_days >= first) & (event_days <= last)])
    pre_days, evt_present = np.isfinite(y_pre), np.isfinite(y_evt)
    complete = np.isfinite(est_donors[pre_days]).all(axis=0) & np.isfinite(evt_donors[evt_present]).all(axis=0)
    pool = np.array(
        [column[t] for t in donors.tickers if t != ticker and t not in busy and complete[column[t]]], dtype=np.int64
    )
    n_pre = int(pre_days.sum())
    if len(pool) < MIN_DONORS or n_pre < min_pre:
        return {
            **empty,
            "n_pre": n_pre,
            "n_donors": len(pool),
            "reason": (
                f"{len(pool)} usable donors and {n_pre} estimation days (at least {MIN_DONORS} and {min_pre} needed)"
            ),
        }
    pre_x, evt_x = est_donors[pre_days][:, pool], evt_donors[:, pool]
    fit = synthetic_fit(y_pre[pre_days], pre_x, y_evt, np.where(evt_present[:, None], evt_x, 0.0))
    cars = window_cars(fit.abnormal, masks)
    with np.errstate(invalid="ignore", divide="ignore"):
        rmspe_post = np.sqrt(window_cars(fit.abnormal**2, masks) / masks.sum(axis=1))
        observed = np.abs(cars / fit.rmspe_pre)
    placebo = placebo_statistics(pre_x, np.where(evt_present[:, None], evt_x, 0.0), masks)
    conformal = np.full((n_windows, 3), np.nan)
    for c in np.flatnonzero(np.isfinite(cars)):  # one θ grid per window
        days = masks[c] > 0
        result = conformal_car(y_pre[pre_days], pre_x, y_evt[days], evt_x[days], float(cars[c]), fit.rmspe_pre)
        conformal[c] = (result.p_value, result.ci_low, result.ci_high)
    return {
        "car_synthetic": cars,
        "rmspe_pre": fit.rmspe_pre,
        "rmspe_post": rmspe_post,
        "n_pre": n_pre,
        "n_donors": len(pool),
        "top_weights": _top_weights([donors.tickers[j] for j in pool], fit.weights),
        "p_placebo": placebo_p_values(observed, placebo),
        "p_conformal": conformal[:, 0],
        "ci_low": conformal[:, 1],
        "ci_high": conformal[:, 2],
        "reason": "" if np.isfinite(cars).all() else "a CAR window with a missing return has no synthetic CAR",
    }


__all__ = ["MIN_DONORS", "SYNTHETIC_COLUMNS", "TOP_WEIGHTS", "DonorPanel", "synthetic_table"]
