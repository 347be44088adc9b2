"""Inputs of the estudy2 COVID-7 fixture as engine arrays, built from the fixture files themselves.

The fixture (``../shared/fixtures/estudy2_covid7``, README there) gives the log returns estudy2 used and
its abnormal returns over the estimation window (2019-04-02..2020-03-13) and the event window
(2020-03-16..2020-03-20). This module turns them into :class:`eventstudy.inference.InferenceData` under
the ``estudy2`` conventions, so each test statistic can be checked against ``expected_*.csv`` on exactly
estudy2's inputs. The full pipeline (prices -> returns -> model -> tests) is checked separately in
``test_estudy2_pipeline.py``.

Conventions used here, from ``docs/methods.md`` §8.2: s_i = sd() of the estimation residuals (divisor
M_i - 1); the forecast-error factor 1 + 1/M_i + (R_mt - mean(R_m,est))^2 / Σ (R_m,est - mean)^2 with the
market moments over the index's whole estimation window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.conventions import ESTUDY2, Conventions
from eventstudy.inference import InferenceData
from eventstudy.inference.base import firm_event_keys

FIRMS = ("AMZN", "ZM", "UBER", "NFLX", "SHOP", "FB", "UPWK")
EST_START, EST_END = "2019-04-02", "2020-03-13"
EVT_START, EVT_END = "2020-03-16", "2020-03-20"


@dataclass(frozen=True)
class Fixture:
    """The fixture's frames and the InferenceData built from them."""

    folder: Path
    returns: pd.DataFrame
    market: pd.Series
    abnormal: pd.DataFrame
    data: InferenceData

    def expected(self, name: str) -> pd.DataFrame:
        """Read ``expected_<name>.csv`` (or another file by its full name) from the fixture folder."""
        path = self.folder / (name if name.endswith(".csv") else f"expected_{name}.csv")
        return pd.read_csv(path)


def load(shared_dir: Path, conventions: Conventions = ESTUDY2) -> Fixture:
    """Build the fixture's InferenceData (7 firms x 240 estimation days x 5 event days, one CAR window)."""
    folder = shared_dir / "fixtures" / "estudy2_covid7"
    returns = pd.read_csv(folder / "rates_log_returns.csv", index_col="date", parse_dates=True)[list(FIRMS)]
    market = pd.read_csv(folder / "index_log_returns_GSPC.csv", index_col="date", parse_dates=True)["^GSPC"]
    abnormal = pd.read_csv(folder / "expected_abnormal_returns.csv", index_col="date", parse_dates=True)[list(FIRMS)]

    est = slice(EST_START, EST_END)
    evt = slice(EVT_START, EVT_END)
    est_ar = abnormal.loc[est].to_numpy().T  # (7, 240)
    evt_ar = abnormal.loc[evt].to_numpy().T  # (7, 5)
    est_ret = returns.loc[est].to_numpy().T
    evt_ret = returns.loc[evt].to_numpy().T
    m_est_all = market.loc[est].to_numpy()
    m_evt = market.loc[evt].to_numpy()
    present = np.isfinite(est_ret)
    est_market = np.where(present, m_est_all[None, :], np.nan)

    n_obs = present.sum(axis=1)
    s2 = np.nansum(est_ar**2, axis=1) / (n_obs - 1)  # sd() of residuals with mean zero
    m_bar = m_est_all.mean()
    ss = ((m_est_all - m_bar) ** 2).sum()
    c = 1 + 1 / n_obs[:, None] + (m_evt[None, :] - m_bar) ** 2 / ss
    ar_var = s2[:, None] * c

    # own-rows OLS design quantities (for statistics that need (X'X)^-1)
    xtx_inv = np.empty((len(FIRMS), 2, 2))
    for i in range(len(FIRMS)):
        x = np.column_stack([np.ones(n_obs[i]), est_market[i, present[i]]])
        xtx_inv[i] = np.linalg.inv(x.T @ x)
    event_design = np.stack([np.ones((len(FIRMS), 5)), np.broadcast_to(m_evt, (len(FIRMS), 5))], axis=2)
    car = evt_ar.sum(axis=1, keepdims=True)
    g = event_design.sum(axis=1)
    car_var = (s2 * (5 + np.einsum("nk,nkj,nj->n", g, xtx_inv, g)))[:, None]
    est_dates = np.broadcast_to(abnormal.loc[est].index.values.astype("datetime64[D]"), est_ar.shape).copy()
    evt_dates = np.broadcast_to(abnormal.loc[evt].index.values.astype("datetime64[D]"), evt_ar.shape).copy()
    data = InferenceData(
        ar=evt_ar,
        ar_var=ar_var,
        car=car,
        car_var=car_var,
        df=n_obs - 2,
        rel_days=np.arange(5),
        car_windows=((0, 4),),
        conventions=conventions,
        est_resid=est_ar,
        est_dates=est_dates,
        est_market=est_market,
        evt_market=np.broadcast_to(m_evt, evt_ar.shape).copy(),
        evt_returns=evt_ret,
        evt_dates=evt_dates,
        s2=s2,
        n_obs=n_obs,
        k=2,
        xtx_inv=xtx_inv,
        event_design=event_design,
        markets=np.full(len(FIRMS), "XNYS", dtype=object),
        keys=firm_event_keys(np.full(len(FIRMS), "covid"), FIRMS),
    )
    return Fixture(folder, returns, market, abnormal, data)
