"""The GARCH(1,1) normal-return model through ``EventStudy`` against direct ``arch`` fits per firm-event.

Returns are simulated with GARCH(1,1) errors around a market model on consecutive business days. For each
firm-event the expected numbers come from ``arch_model(y, x=market, mean="LS", vol="GARCH")`` on the estimation
window's returns read from the input frame by date (independent of the engine's gather), and the event-window
standard errors from the GARCH recursion written out by hand with arch's parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from arch import arch_model

from eventstudy import EventStudy
from eventstudy.data import ReturnsFrame
from eventstudy.events import Event

DATES = pd.bdate_range("2018-01-01", "2020-12-31")
SETTINGS = dict(estimation_window=(-400, -11), event_window=(-3, 3), car_windows=[(0, 0), (-1, 1)], progress=False)


def _inputs() -> tuple[pd.DataFrame, list[Event]]:
    rng = np.random.default_rng(41)
    n = len(DATES)
    market = rng.normal(0.0003, 0.01, n)
    parts = [pd.DataFrame({"date": DATES, "ticker": "M", "return": market})]
    for ticker, beta in (("A", 0.8), ("B", 1.3)):
        sigma2, eps = np.empty(n), np.empty(n)
        sigma2[0] = 1e-4
        for t in range(n):  # simulation only
            if t:
                sigma2[t] = 2e-6 + 0.08 * eps[t - 1] ** 2 + 0.9 * sigma2[t - 1]
            eps[t] = np.sqrt(sigma2[t]) * rng.standard_normal()
        parts.append(pd.DataFrame({"date": DATES, "ticker": ticker, "return": 0.0002 + beta * market + eps}))
    parts.append(pd.DataFrame({"date": DATES, "ticker": "FLAT", "return": 0.0}))  # nothing to fit
    events = [
        Event("e1", DATES[600].date(), None, "America/New_York", "", "", ("A", "B", "FLAT"), ("M",) * 3, "", False)
    ]
    return pd.concat(parts, ignore_index=True), events


def test_garch_study_against_direct_arch_fits() -> None:
    frame, events = _inputs()
    result = EventStudy(events, ReturnsFrame(frame), model="garch", min_estimation_obs=100, **SETTINGS).run()
    params = result.parameters.set_index("ticker")
    ar = result.abnormal_returns.set_index(["ticker", "rel_day"])
    wide = frame.pivot(index="date", columns="ticker", values="return").reset_index(drop=True)
    at = 600
    for ticker in ("A", "B"):
        est = wide.iloc[at - 400 : at - 10]
        model = arch_model(100 * est[ticker], x=100 * est[["M"]], mean="LS", vol="GARCH", p=1, q=1, rescale=False)
        fit = model.fit(disp="off")
        mu, slope, omega, a, b = fit.params.to_numpy()
        got = params.loc[ticker]
        np.testing.assert_allclose(
            got[["alpha", "beta", "garch_omega", "garch_alpha", "garch_beta"]].to_numpy(float),
            [mu / 100, slope, omega / 1e4, a, b],
            rtol=1e-4,
        )
        # the one-step-ahead variances through the event window, by hand from arch's last state
        sigma2 = omega + a * fit.resid.iloc[-1] ** 2 + b * fit.conditional_volatility.iloc[-1] ** 2
        evt = wide.iloc[at - 3 : at + 4]
        for tau, (r, m) in zip(range(-3, 4), zip(evt[ticker], evt["M"], strict=True), strict=True):
            e = 100 * r - mu - slope * 100 * m
            row = ar.loc[(ticker, tau)]
            np.testing.assert_allclose(row["abnormal_return"], e / 100, rtol=1e-4, atol=1e-7)
            np.testing.assert_allclose(row["se"], np.sqrt(sigma2) / 100, rtol=1e-4)
            sigma2 = omega + a * e**2 + b * sigma2
    car = result.car.set_index(["ticker", "window_start"])
    band = ar.loc["A"].loc[-1:1, "se"] ** 2
    np.testing.assert_allclose(car.loc[("A", -1), "se"] ** 2, band.sum(), rtol=1e-10)  # Σ σ²_t, no parameter term
    flat = result.exclusions[result.exclusions["ticker"] == "FLAT"]["reason"]
    assert flat.str.startswith("GARCH fit failed").all() and len(flat) == 1
    assert "one-step-ahead conditional variance" in result.spec.describe()["AR variance"]
