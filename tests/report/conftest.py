"""A fake study result built in code: 2 events x 2 tickers, event window [-2, +2].

The numbers are made up (seeded) but internally consistent: CAR paths cumulate the abnormal returns,
bands are CAR +/- 1.96 SE, the AAR is the cross-sectional mean. Edge cases the reports must handle:

- a headline with ``<script>``, a ``|``, a ``$`` and CJK characters;
- tickers with ``^`` and ``=`` (file names);
- one exclusion with a reason;
- one NaN window test and one NaN day test, each with a reason;
- a NaN CAR (a grey heat-map cell);
- settings with non-ASCII characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from eventstudy.conventions import ADJUST_FAMILY_TEXT
from eventstudy.pairs import PAIR_COLUMNS

EVENTS = ("ant_ipo_suspended", "tencent_next_target")
TICKERS = ("9988.HK", "MXN=X")
BENCHMARKS = {"9988.HK": "^HSI", "MXN=X": "DX-Y.NYB"}
DAYS = np.arange(-2, 3)
WINDOWS = ((0, 0), (-1, 1), (-2, 2))
SCRIPT_HEADLINE = "Shanghai exchange suspends Ant Group IPO <script>alert('x')</script> | HK leg too"
CJK_HEADLINE = "Bloomberg: 騰訊控股 (Tencent) seen as next target; $5bn fintech unit – “likely”"
EXCLUSION_REASON = "no prices for 0700.HK in the store (offline); run `eventstudy fetch` first"
NAN_TEST_REASON = "needs at least 3 events with a standardized CAR; got 2"
NAN_DAY_REASON = "cross-sectional sd is zero on this day"
SETTINGS = {
    "model": "market model (OLS)",
    "estimation_window": "[-250, -11]",
    "event_window": "[-2, +2]",
    "car_windows": "[0, 0]; [-1, +1]; [-2, +2]",
    "return_type": "simple",
    "residual variance divisor": "M - k",
    "forecast-error correction": "on",
    "CAR variance": "exact: s²(L + g'(X'X)⁻¹g)",
    "min_estimation_obs": "100",
    "prices": "CsvPrices(data/curated, Adj Close) <vintage 2026-11-01>",
}
CONVENTIONS = [
    "Residual variance s² divides the sum of squared residuals by M − k (k = 2 for the market model).",
    "Single-event t statistics are referred to t(M − k).",
    "Forecast-error correction C = 1 + x'(X'X)⁻¹x is applied to daily variances.",
    "Patell Z and J tests are referred to N(0,1); cross-sectional and BMP t to t(N − 1).",
]


def make_fake_result(
    *,
    exclusions: bool = True,
    adjust_family: str = "days",
    event_ids: Sequence[str] = EVENTS,
    tickers: Sequence[str] = TICKERS,
) -> SimpleNamespace:
    """Build the fake result (pure function of its arguments; seeded).

    ``event_ids`` and ``tickers`` make larger (or oddly named) results: every event has every ticker; the
    first event's dates and times are used for event 0, the second's for all others.
    """
    rng = np.random.default_rng(20201103)
    ar_rows, path_rows, car_rows, param_rows, day_rows = [], [], [], [], []
    for e_idx, ev in enumerate(event_ids):
        for tk in tickers:
            sigma = 0.02 if tk == "9988.HK" else 0.005
            ar = rng.normal(-0.01 if e_idx == 0 else 0.004, sigma, DAYS.size)
            dates = pd.bdate_range("2020-11-02" if e_idx == 0 else "2021-03-10", periods=DAYS.size)
            for d, day, a in zip(dates, DAYS, ar, strict=True):
                r_m = rng.normal(0, 0.01)
                ar_rows.append(
                    {
                        "event_id": ev,
                        "ticker": tk,
                        "benchmark": BENCHMARKS.get(tk, "^GSPC"),
                        "date": d,
                        "rel_day": int(day),
                        "return": a + 0.0002 + 1.1 * r_m,
                        "benchmark_return": r_m,
                        "expected_return": 0.0002 + 1.1 * r_m,
                        "abnormal_return": a,
                        "se": sigma,
                        "t_stat": a / sigma,
                        "p_value": 0.5,
                        "df": 237,
                    }
                )
            car_path = np.cumsum(ar)
            se_path = sigma * np.sqrt(np.arange(1, DAYS.size + 1) * 1.01)
            for day, c, s in zip(DAYS, car_path, se_path, strict=True):
                path_rows.append(
                    {
                        "event_id": ev,
                        "ticker": tk,
                        "rel_day": int(day),
                        "car": c,
                        "se": s,
                        "ci_low": c - 1.96 * s,
                        "ci_high": c + 1.96 * s,
                    }
                )
            for a, b in WINDOWS:
                mask = (a <= DAYS) & (b >= DAYS)
                car = float(ar[mask].sum())
                if e_idx == 1 and tk == "MXN=X" and (a, b) == (-1, 1):
                    car = float("nan")
                se = sigma * np.sqrt(mask.sum() * 1.01)
                t = car / se
                p = float("nan") if np.isnan(t) else (0.00004 if abs(t) > 4 else 0.6 / (1 + abs(t)))
                car_rows.append(
                    {
                        "event_id": ev,
                        "ticker": tk,
                        "window_start": a,
                        "window_end": b,
                        "car": car,
                        "se": se,
                        "t_stat": t,
                        "p_value": p,
                        "df": 238,
                    }
                )
            param_rows.append(
                {
                    "event_id": ev,
                    "ticker": tk,
                    "benchmark": BENCHMARKS.get(tk, "^GSPC"),
                    "model": "market",
                    "alpha": 0.0002,
                    "beta": 1.1,
                    "sigma": sigma,
                    "n_obs": 240,
                    "df": 238,
                    "r_squared": 0.41,
                    "estimation_start": pd.Timestamp("2019-11-01"),
                    "estimation_end": pd.Timestamp("2020-10-16"),
                    "estimation_window": "[-250, -11]",
                    "event_window": "[-2, +2]",
                }
            )
            day_rows.append(
                {
                    "event_id": ev,
                    "ticker": tk,
                    "benchmark": BENCHMARKS.get(tk, "^GSPC"),
                    "exchange": "XHKG" if tk == "9988.HK" else "FX",
                    "event_time_utc": pd.Timestamp("2020-11-03 13:00", tz="UTC")
                    if e_idx == 0
                    else pd.Timestamp("2021-03-12 07:00", tz="UTC"),
                    "event_time_exchange": "2020-11-03 21:00 HKT" if e_idx == 0 else "2021-03-12 15:00 HKT",
                    "calendar_day_zero": pd.Timestamp("2020-11-03") if e_idx == 0 else pd.Timestamp("2021-03-12"),
                    "day_zero": pd.Timestamp("2020-11-04") if e_idx == 0 else pd.Timestamp("2021-03-12"),
                    "rule": "after close -> next trading day" if e_idx == 0 else "before close -> same day",
                    "status": "ok",
                    "reason": "",
                }
            )
    abnormal = pd.DataFrame(ar_rows).drop(columns="df")
    car = pd.DataFrame(car_rows)
    car_path = pd.DataFrame(path_rows)

    aar_rows = []
    for group in ("all", *event_ids):
        sub = abnormal if group == "all" else abnormal[abnormal["event_id"] == group]
        by_day = sub.groupby("rel_day")["abnormal_return"].agg(["mean", "count"]).sort_index()
        n = by_day["count"].to_numpy()
        if len(event_ids) > 1 and group == event_ids[1]:
            n = n.copy()
            n[0] = 1  # a day with a missing return: n varies within the group
        caar = by_day["mean"].cumsum()
        for day, m, k, c in zip(by_day.index, by_day["mean"], n, caar, strict=True):
            aar_rows.append({"group": group, "rel_day": int(day), "n": int(k), "aar": m, "caar": c})
    aar = pd.DataFrame(aar_rows)

    test_rows = []
    names = {"cross_sectional_t": "t({n1})", "patell_z": "N(0,1)", "bmp_t": "t({n1})"}
    for group in ("all", *event_ids):
        n = 4 if group == "all" else 2
        for name, dist in names.items():
            for a, b in WINDOWS:
                stat = float(rng.normal(-1.5, 1.0))
                reason = ""
                if len(event_ids) > 1 and group == event_ids[1] and name == "bmp_t" and (a, b) == (0, 0):
                    stat, reason = float("nan"), NAN_TEST_REASON
                test_rows.append(
                    {
                        "group": group,
                        "scope": "window",
                        "window_start": a,
                        "window_end": b,
                        "test": name,
                        "statistic": stat,
                        "p_value": float("nan") if reason else 0.5 / (1 + abs(stat)),
                        "distribution": dist.format(n1=n - 1),
                        "n": n,
                        "reason": reason,
                    }
                )
            for day in DAYS:
                stat = float(rng.normal(0, 1.5))
                reason = ""
                if group == "all" and name == "cross_sectional_t" and day == 2:
                    stat, reason = float("nan"), NAN_DAY_REASON
                test_rows.append(
                    {
                        "group": group,
                        "scope": "day",
                        "window_start": int(day),
                        "window_end": int(day),
                        "test": name,
                        "statistic": stat,
                        "p_value": float("nan") if reason else (0.00001 if abs(stat) > 3 else 0.3),
                        "distribution": dist.format(n1=n - 1),
                        "n": n,
                        "reason": reason,
                    }
                )
    tests = pd.DataFrame(test_rows)

    first = np.arange(len(event_ids)) == 0
    events = pd.DataFrame(
        {
            "event_id": list(event_ids),
            "date": np.where(first, pd.Timestamp("2020-11-03"), pd.Timestamp("2021-03-12")),
            "time": np.where(first, "21:00", "15:00"),
            "timezone": np.where(first, "Asia/Shanghai", "Asia/Hong_Kong"),
            "time_approximate": True,
            "headline": np.where(first, SCRIPT_HEADLINE, CJK_HEADLINE),
            "category": np.where(first, "regulatory", "regulatory_report"),
        }
    )
    excl = pd.DataFrame(
        {
            "event_id": [event_ids[-1]] if exclusions else [],
            "ticker": ["0700.HK"] if exclusions else [],
            "stage": ["prices"] if exclusions else [],
            "reason": [EXCLUSION_REASON] if exclusions else [],
        },
        dtype=object,
    )
    provenance = pd.DataFrame(
        {
            "symbol": ["9988.HK", "MXN=X", "^HSI", "DX-Y.NYB"],
            "source": ["csv:data/curated"] * 4,
            "vintage": ["2026-11-01"] * 4,
            "price_field": ["Adj Close"] * 4,
            "first_date": [pd.Timestamp("2019-01-02")] * 4,
            "last_date": [pd.Timestamp("2021-12-31")] * 4,
            "rows": [740, 780, 740, 755],
            "notes": ["", "FX quote, 24h market", "", ""],
        }
    )
    days = pd.DataFrame(day_rows)
    firm_events = days[["event_id", "ticker", "exchange", "day_zero"]].assign(
        group="", duplicate_of="", overlaps="", estimation_confounders="", pooled=True
    )
    return SimpleNamespace(
        abnormal_returns=abnormal,
        firm_events=firm_events,
        listing_pairs=pd.DataFrame(columns=list(PAIR_COLUMNS)),
        pair_notes=(),
        group_differences=pd.DataFrame(
            columns=[
                "window_start",
                "window_end",
                "group_a",
                "group_b",
                "n_a",
                "n_b",
                "mean_a",
                "mean_b",
                "difference",
                "test",
                "statistic",
                "p_value",
                "distribution",
                "reason",
            ]
        ),
        car=car,
        car_path=car_path,
        aar=aar,
        tests=tests,
        event_days=days,
        parameters=pd.DataFrame(param_rows),
        exclusions=excl,
        provenance=provenance,
        events=events,
        settings=dict(SETTINGS),
        conventions=list(CONVENTIONS),
        adjustment_note=ADJUST_FAMILY_TEXT[adjust_family],
        title="Event study: events.csv",
    )


@pytest.fixture
def fake_result() -> SimpleNamespace:
    """Provide the fake result (with one exclusion)."""
    return make_fake_result()


@pytest.fixture(autouse=True)
def _agg_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headless: the code never uses pyplot, but make sure nothing could open a window."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
