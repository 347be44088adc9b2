"""Trade-to-trade model (Maynes and Rumsey 1993) for thinly traded securities (``docs/methods.md`` §2.2, §4.7, §5.3).

- Spans and the summed benchmark against a hand-built example with an explicit session list (a two-day
  suspension, a day without a benchmark row, the 2021 Lunar New Year holidays) and pandas sums.
- The fit against ``statsmodels.WLS`` on the untransformed design [a(n), R_m,span] with weights 1/n, for both
  intercept conventions: coefficients, s², residuals, ARs, AR variances s² n + x'(X'WX)^-1 x and the exact CAR
  variance s² (Σ n + g'(X'WX)^-1 g).
- Through ``EventStudy`` on price files: boundary contamination as an exclusion, the diagnostics by hand, and
  ``eventstudy run --model trade_to_trade`` equal to the Python API.
- Real data: a ticker of the HK panel made thin by dropping its unchanged-price rows, against spans counted on
  the ^HSI dates and statsmodels WLS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy import EventStudy
from eventstudy.calendars import get_calendar
from eventstudy.conventions import get_profile
from eventstudy.data import CsvPrices
from eventstudy.data.table import PriceTable
from eventstudy.errors import InputError
from eventstudy.events import Event
from eventstudy.models import ModelFit, TradeToTrade, get_model
from eventstudy.returns import MARKET_SPAN, SPAN, ReturnPanel, align_pairs, gather_windows, trade_spans

RunCli = Callable[..., Any]
TEXTBOOK = get_profile("textbook")

# XHKG sessions of February 2021, written out by hand: Lunar New Year closed 12 and 15 February (11 February
# was a half day, still a session).
FEB_2021 = pd.to_datetime(
    [f"2021-02-{d:02d}" for d in (1, 2, 3, 4, 5, 8, 9, 10, 11, 16, 17, 18, 19, 22, 23, 24, 25, 26)]
)


def _sessions(start: str, end: str) -> pd.DatetimeIndex:
    """XHKG sessions (naive dates) to generate data on (the spans themselves are checked on a hand-made list)."""
    sessions = pd.DatetimeIndex(get_calendar("XHKG").sessions_in_range(start, end))
    return sessions.tz_localize(None) if sessions.tz is not None else sessions


def _days(dates: pd.DatetimeIndex) -> np.ndarray:
    return dates.values.astype("datetime64[D]").astype(np.int64)


def _table(series: dict[str, pd.Series]) -> PriceTable:
    """A price table of the given symbols (date-indexed price series)."""
    symbols = list(series)
    codes = np.concatenate([np.full(len(s), i) for i, s in enumerate(series.values())])
    days = np.concatenate([_days(pd.DatetimeIndex(s.index)) for s in series.values()])
    values = np.concatenate([s.to_numpy(float) for s in series.values()])
    return PriceTable.from_long(symbols, codes, days, values)


def _pair_spans(table: PriceTable, ticker: str, alignment: str = "common") -> pd.DataFrame:
    """The aligned returns of ticker/^HSI with their spans (date, span, market_span)."""
    codes = table.codes_for([ticker, "^HSI"])
    aligned = align_pairs(table, codes[:1], codes[1:], "simple", alignment)  # type: ignore[arg-type]
    spans = trade_spans(aligned)
    rows = slice(int(aligned.first[0]), int(aligned.offsets[1]))
    return pd.DataFrame(
        {
            "date": aligned.day[rows].astype("datetime64[D]").astype("datetime64[ns]"),
            SPAN: spans[SPAN][rows],
            MARKET_SPAN: spans[MARKET_SPAN][rows],
        }
    )


def _hand_sums(own: pd.Series, starts: pd.Series, ends: pd.Series) -> np.ndarray:
    """Σ of the benchmark's own daily returns dated in (start, end], one interval at a time."""
    return np.array([own[(own.index > s) & (own.index <= e)].sum() for s, e in zip(starts, ends, strict=True)])


def test_spans_and_summed_benchmark_against_a_hand_built_session_list() -> None:
    rng = np.random.default_rng(3)
    hsi = pd.Series(20000 * np.cumprod(1 + rng.normal(0, 0.01, len(FEB_2021))), index=FEB_2021)
    hsi = hsi.drop(pd.Timestamp("2021-02-09"))  # the benchmark lacks a session the ticker has
    stock = pd.Series(50 * np.cumprod(1 + rng.normal(0, 0.02, len(FEB_2021))), index=FEB_2021)
    stock = stock.drop(pd.to_datetime(["2021-02-03", "2021-02-04"]))  # suspended two sessions
    table = _table({"8888.HK": stock, "XYZ.ZZ": stock, "^HSI": hsi})
    got = _pair_spans(table, "8888.HK")

    common = stock.index.intersection(hsi.index)
    starts, ends = pd.Series(common[:-1]), pd.Series(common[1:])
    sessions = pd.Series(FEB_2021)
    hand_n = [int(((sessions > s) & (sessions <= e)).sum()) for s, e in zip(starts, ends, strict=True)]
    assert list(got["date"]) == list(ends)
    assert hand_n == [1, 3, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]  # suspension: 3; no ^HSI row on 9 Feb: 2; holidays: 1
    np.testing.assert_array_equal(got[SPAN], hand_n)
    own = hsi.pct_change().dropna()
    np.testing.assert_allclose(got[MARKET_SPAN], _hand_sums(own, starts, ends), rtol=1e-12, atol=1e-17)

    # A ticker without a known exchange: the rows it spans (the suspension is invisible, the 9 Feb gap not).
    assert list(_pair_spans(table, "XYZ.ZZ")[SPAN]) == [1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]

    # Joined on the date: each return runs from the ticker's own previous row (the 10 Feb return from 9 Feb).
    joined = _pair_spans(table, "8888.HK", "date")
    previous = pd.Series(stock.index[:-1], index=stock.index[1:])
    starts_own = previous[joined["date"]].reset_index(drop=True)
    hand_own = [int(((sessions > s) & (sessions <= e)).sum()) for s, e in zip(starts_own, joined["date"], strict=True)]
    np.testing.assert_array_equal(joined[SPAN], hand_own)
    np.testing.assert_allclose(joined[MARKET_SPAN], _hand_sums(own, starts_own, joined["date"]), rtol=1e-12, atol=1e-17)


def _thin_panel(seed: int = 11) -> ReturnPanel:
    """A thin HK ticker (a third of the sessions without a trade) and ^HSI on every session; six events."""
    rng = np.random.default_rng(seed)
    sessions = _sessions("2019-01-02", "2020-12-31")
    market = rng.normal(0.0003, 0.012, len(sessions))
    daily = 0.0004 + 1.2 * market + rng.normal(0, 0.02, len(sessions))
    traded = rng.random(len(sessions)) > 0.35
    traded[0] = True
    hsi = pd.Series(25000 * np.cumprod(1 + market), index=sessions)
    stock = pd.Series(30 * np.cumprod(1 + daily), index=sessions)[traded]
    table = _table({"8888.HK": stock, "^HSI": hsi})
    day_zero = stock.index[[260, 270, 280, 290, 300, 310]]
    pairs = pd.DataFrame(
        {"event_id": [f"e{i}" for i in range(6)], "ticker": "8888.HK", "benchmark": "^HSI", "day_zero": day_zero}
    )
    codes = table.codes_for(["8888.HK", "^HSI"])
    aligned = align_pairs(table, codes[:1], codes[1:])
    panel, excluded = gather_windows(aligned, pairs, (-150, -11), (-5, 5), market_shifts=(-1,), spans=True)
    assert excluded.empty and len(panel) == 6
    return panel


CAR_WINDOWS = ((0, 0), (-1, 1), (0, 5), (-5, 5))


@pytest.mark.parametrize("convention", ["per_return", "per_day"])
def test_fit_against_statsmodels_wls_on_the_untransformed_design(convention: str) -> None:
    panel = _thin_panel()
    fit = TradeToTrade(intercept_convention=convention).fit(panel, TEXTBOOK)
    est, evt = panel.series_arrays((SPAN, MARKET_SPAN))
    cars, car_var = fit.cars(panel.event_days, CAR_WINDOWS, TEXTBOOK)
    contaminated = 0
    for i in range(len(panel)):
        n, msp, y = est[i, :, 0], est[i, :, 1], panel.est_returns[i]
        use = np.isfinite(y) & np.isfinite(n)
        a = np.ones(use.sum()) if convention == "per_return" else n[use]
        x = np.column_stack([a, msp[use]])
        wls = sm.WLS(y[use], x, weights=1.0 / n[use]).fit()
        np.testing.assert_allclose(fit.coef[i], wls.params, rtol=1e-9)
        np.testing.assert_allclose(fit.s2[i], wls.scale, rtol=1e-9)
        np.testing.assert_allclose(fit.residuals[i, use], wls.resid, rtol=1e-8, atol=1e-14)
        assert fit.n_obs[i] == use.sum() and fit.df[i] == use.sum() - 2

        n_evt, msp_evt = evt[i, :, 0], evt[i, :, 1]
        x_evt = np.column_stack([np.ones(len(n_evt)) if convention == "per_return" else n_evt, msp_evt])
        cov = wls.cov_params()  # s² (X'WX)^-1
        np.testing.assert_allclose(fit.abnormal[i], panel.evt_returns[i] - x_evt @ wls.params, rtol=1e-9)
        ar_var = wls.scale * n_evt + np.einsum("wk,kj,wj->w", x_evt, cov, x_evt)
        np.testing.assert_allclose(fit.ar_variance[i], ar_var, rtol=1e-9)
        for c, (start, end) in enumerate(CAR_WINDOWS):
            cols = (panel.event_days >= start) & (panel.event_days <= end)
            if n_evt[cols][0] > 1:  # the first return reaches back before the window: no CAR
                contaminated += 1
                assert np.isnan(cars[i, c]) and np.isnan(car_var[i, c])
                continue
            g = x_evt[cols].sum(axis=0)
            np.testing.assert_allclose(cars[i, c], fit.abnormal[i, cols].sum(), rtol=1e-12)
            np.testing.assert_allclose(car_var[i, c], wls.scale * n_evt[cols].sum() + g @ cov @ g, rtol=1e-9)
    assert 0 < contaminated < len(panel) * len(CAR_WINDOWS)
    assert (est[:, :, 0] > 1).any()  # the spans were not all one


def test_the_diag_and_no_fec_car_variances_keep_the_spans() -> None:
    panel = _thin_panel()
    fit = TradeToTrade().fit(panel, TEXTBOOK)
    n_evt = panel.series_arrays((SPAN,))[1][:, :, 0]
    spans_only = fit.s2[:, None] * n_evt
    no_fec = TradeToTrade().fit(panel, replace(TEXTBOOK, fec=False))
    np.testing.assert_allclose(no_fec.ar_variance, spans_only, rtol=1e-12)
    _, var_off = no_fec.cars(panel.event_days, ((-5, 5),), replace(TEXTBOOK, fec=False))
    ok = np.isfinite(var_off[:, 0])
    np.testing.assert_allclose(var_off[ok, 0], spans_only[ok].sum(axis=1), rtol=1e-12)
    _, var_diag = fit.cars(panel.event_days, ((-5, 5),), replace(TEXTBOOK, car_variance="diag"))
    np.testing.assert_allclose(var_diag[ok, 0], fit.ar_variance[ok].sum(axis=1), rtol=1e-12)


def _write_yahoo(folder: Path, symbol: str, prices: pd.Series) -> None:
    pd.DataFrame(
        {
            "Date": prices.index.strftime("%Y-%m-%d"),
            "Open": prices.to_numpy(),
            "High": prices.to_numpy(),
            "Low": prices.to_numpy(),
            "Close": prices.to_numpy(),
            "Adj Close": prices.to_numpy(),
            "Volume": 1000,
        }
    ).to_csv(folder / f"{symbol}.csv", index=False, float_format="%.12g")


SETTINGS = dict(
    estimation_window=(-120, -11), event_window=(-3, 3), car_windows=[(0, 0), (-1, 1)], min_estimation_obs=60
)


def _price_files(folder: Path) -> tuple[pd.Series, pd.Series, list[Event]]:
    """^HSI on every session; 8888.HK with unchanged prices on some days and a suspension of the two sessions
    before the first event's day 0; two events."""
    rng = np.random.default_rng(5)
    sessions = _sessions("2020-01-02", "2021-06-30")
    market = rng.normal(0.0002, 0.012, len(sessions))
    hsi = pd.Series(25000 * np.cumprod(1 + market), index=sessions)
    daily = 0.9 * market + rng.normal(0, 0.02, len(sessions))
    daily[rng.random(len(sessions)) < 0.1] = 0.0  # no price change
    stock = pd.Series(np.round(30 * np.cumprod(1 + daily), 8), index=sessions)
    traded = rng.random(len(sessions)) > 0.2
    traded[[199, 200]] = False  # suspended the two sessions before the first day 0
    traded[[0, 201, 198, 300]] = True
    stock = stock[traded]
    _write_yahoo(folder, "^HSI", hsi)
    _write_yahoo(folder, "8888.HK", stock)
    events = [
        Event("e1", sessions[201].date(), None, "Asia/Hong_Kong", "", "", ("8888.HK",), ("^HSI",), "", False),
        Event("e2", sessions[300].date(), None, "Asia/Hong_Kong", "", "", ("8888.HK",), ("^HSI",), "", False),
    ]
    return hsi, stock, events


def test_study_excludes_boundary_contaminated_cars_and_reports_diagnostics(tmp_path: Path) -> None:
    hsi, stock, events = _price_files(tmp_path)
    result = EventStudy(events, CsvPrices(tmp_path), model="trade_to_trade", progress=False, **SETTINGS).run()
    excluded = result.exclusions.set_index(["event_id", "stage"])["reason"]
    assert excluded.loc[("e1", "CAR window [0, 0]")] == (
        "first return of the window spans 3 sessions back to before the window start (trade-to-trade)"
    )
    assert ("e1", "CAR window [-1, +1]") not in excluded.index  # the long return lies inside the window
    car = result.car.set_index(["event_id", "window_start", "window_end"])["car"]
    assert np.isnan(car.loc[("e1", 0, 0)]) and np.isfinite(car.loc[("e1", -1, 1)])

    params = result.parameters.set_index("event_id")
    assert list(params.columns[params.columns.get_loc("alpha") :][:5]) == [
        "alpha",
        "beta",
        "zero_return_share",
        "multi_session_share",
        "rho_m",
    ]
    common = stock.index.intersection(hsi.index)
    r = stock[common].pct_change()
    m = hsi[common].pct_change()
    sessions = hsi.index  # ^HSI trades every session here
    n = pd.Series(np.diff(np.searchsorted(sessions, common)), index=common[1:])
    for event in events:
        at = int(np.searchsorted(common, pd.Timestamp(event.date)))  # τ = 0 row among the common dates
        rows = common[at - 120 : at - 10]
        got = params.loc[event.event_id]
        assert got["n_obs"] == len(rows)
        np.testing.assert_allclose(got["zero_return_share"], (r[rows] == 0).mean(), rtol=1e-12)
        np.testing.assert_allclose(got["multi_session_share"], (n[rows] > 1).mean(), rtol=1e-12)
        now, before = m[rows].to_numpy(), m.shift(1)[rows].to_numpy()
        rho = np.sum((now - now.mean()) * (before - now.mean())) / np.sum((now - now.mean()) ** 2)
        np.testing.assert_allclose(got["rho_m"], rho, rtol=1e-9)
        assert (n[rows] > 1).any() and (r[rows] == 0).any()
    assert "trade-to-trade WLS" in result.spec.describe()["AR variance"]


def test_model_settings_and_registry() -> None:
    model = get_model("trade_to_trade")
    assert model == TradeToTrade("per_return") and model.k == 2 and model.coef_names() == ("alpha", "beta")
    assert model.factor_series == () and model.reads_spans and model.market_shifts == (-1,)
    assert not get_model("scholes_williams").reads_spans and not get_model("market").reads_spans
    with pytest.raises(InputError, match="per_return"):
        TradeToTrade("per_week")


def test_other_models_carry_no_spans() -> None:
    panel = _thin_panel()
    fit = get_model("market").fit(panel, TEXTBOOK)
    assert fit.span is None
    assert (fit.window_start_spans(panel.event_days, CAR_WINDOWS) == 0).all()
    assert isinstance(fit, ModelFit)


def test_command_line_runs_trade_to_trade(tmp_path: Path, eventstudy_cli: RunCli) -> None:
    """``eventstudy run --model trade_to_trade`` through the console script equals the Python API."""
    prices = tmp_path / "prices"
    prices.mkdir()
    _, _, events = _price_files(prices)
    lines = [f"{e.event_id},{e.date.isoformat()},Asia/Hong_Kong,8888.HK,^HSI" for e in events]
    (tmp_path / "events.csv").write_text("event_id,date,timezone,tickers,benchmark\n" + "\n".join(lines) + "\n")
    run = eventstudy_cli(
        "run",
        "events.csv",
        "--prices",
        "prices",
        "--offline",
        "--model",
        "trade_to_trade",
        "--estimation",
        "-120:-11",
        "--window",
        "-3:3",
        "--car",
        "0:0",
        "--car",
        "-1:1",
        "--min-obs",
        "60",
        "--formats",
        "csv",
        "--quiet",
        "--out",
        "out",
    )
    assert run.returncode == 0, run.stderr
    written = pd.read_csv(tmp_path / "out" / "parameters.csv")
    expected = EventStudy(events, CsvPrices(prices), model="trade_to_trade", progress=False, **SETTINGS).run()
    names = ["alpha", "beta", "zero_return_share", "multi_session_share", "rho_m", "sigma"]
    np.testing.assert_allclose(written[names].to_numpy(float), expected.parameters[names].to_numpy(float), rtol=1e-9)
    reasons = pd.read_csv(tmp_path / "out" / "exclusions.csv")["reason"]
    assert reasons.str.contains("spans 3 sessions back to before the window start").any()


@pytest.mark.realdata
def test_real_hk_ticker_made_thin_against_hsi_sessions_and_wls(shared_dir: Path) -> None:
    """3988.HK (Bank of China, about one day in eight without a price change) with its unchanged-price rows
    dropped, as if no trade had happened: spans counted on the ^HSI dates, the fit against statsmodels WLS.

    The estimation windows end before September 2023: exchange_calendars 4.13.2 lists the HKEX closures of
    2023-09-01 and 2023-09-08 as sessions (``../shared/docs/ECOSYSTEM.md`` §3.2), where the calendar's span
    exceeds the ^HSI count by one."""
    panel_dir = shared_dir / "data" / "curated" / "panel_hk_2020_2025"
    wide = pd.read_csv(panel_dir / "adj_close_wide.csv", parse_dates=["Date"], index_col="Date")
    hsi = pd.read_csv(panel_dir / "market_HSI.csv", parse_dates=["Date"], index_col="Date")["^HSI"].dropna()
    prices = wide["3988.HK"].dropna()
    prices = prices[prices.diff() != 0]  # the first row (NaN diff) stays
    table = _table({"3988.HK": prices, "^HSI": hsi})
    codes = table.codes_for(["3988.HK", "^HSI"])
    aligned = align_pairs(table, codes[:1], codes[1:])
    common = prices.index.intersection(hsi.index)
    pairs = pd.DataFrame(
        {"event_id": ["a", "b"], "ticker": "3988.HK", "benchmark": "^HSI", "day_zero": common[[400, 700]]}
    )
    panel, _ = gather_windows(aligned, pairs, (-250, -11), (-5, 5), market_shifts=(-1,), spans=True)
    fit = TradeToTrade().fit(panel, TEXTBOOK)
    n_hand = pd.Series(np.diff(np.searchsorted(hsi.index, common)), index=common[1:])
    m_own = hsi.pct_change()
    est = panel.series_arrays((SPAN, MARKET_SPAN))[0]
    for i, at in enumerate((400, 700)):
        rows = common[at - 250 : at - 10]
        np.testing.assert_array_equal(est[i, :, 0], n_hand[rows])  # the XHKG calendar agrees with ^HSI's dates
        starts = pd.Series(common[at - 251 : at - 11])
        np.testing.assert_allclose(est[i, :, 1], _hand_sums(m_own, starts, pd.Series(rows)), rtol=1e-10)
        y = prices[common].pct_change()[rows].to_numpy()
        wls = sm.WLS(y, np.column_stack([np.ones(len(rows)), est[i, :, 1]]), weights=1.0 / est[i, :, 0]).fit()
        np.testing.assert_allclose(fit.coef[i], wls.params, rtol=1e-9)
        np.testing.assert_allclose(fit.s2[i], wls.scale, rtol=1e-9)
        assert (est[i, :, 0] > 1).mean() > 0.05  # thin: many multi-session returns
        print(f"3988.HK event {i}: alpha, beta = {wls.params}, share n > 1 = {(est[i, :, 0] > 1).mean():.3f}")
