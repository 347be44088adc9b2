"""Listing pairs: the pair table against a hand computation from the study's own CARs and residuals, and the file reader."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eventstudy import EventStudy
from eventstudy.data import ReturnsFrame
from eventstudy.errors import InputError
from eventstudy.events import Event
from eventstudy.pairs import PAIR_COLUMNS, ListingPair, read_pairs

RunCli = Callable[..., Any]
DATES = pd.bdate_range("2019-01-01", "2020-12-31")
SETTINGS = dict(
    estimation_window=(-120, -11),
    event_window=(-3, 3),
    car_windows=[(0, 0), (-1, 1)],
    min_estimation_obs=60,
    progress=False,
)


def _study(pairs: tuple[ListingPair, ...]) -> object:
    """Home line H and its ADR D share a common shock (correlated residuals); X is in no pair."""
    rng = np.random.default_rng(23)
    n = len(DATES)
    market = rng.normal(0.0003, 0.01, n)
    common = rng.normal(0, 0.01, n)
    parts = [pd.DataFrame({"date": DATES, "ticker": "M", "return": market})]
    for ticker, beta in (("H", 0.9), ("D", 1.1), ("X", 0.7)):
        noise = common if ticker != "X" else 0.0
        r = 0.0001 + beta * market + noise + rng.normal(0, 0.008, n)
        if ticker == "D":
            r[300] += 0.08  # the ADR reacts more on e1's day 0
        parts.append(pd.DataFrame({"date": DATES, "ticker": ticker, "return": r}))
    events = [
        Event("e1", DATES[300].date(), None, "America/New_York", "", "", ("H", "D", "X"), ("M",) * 3, "", False),
        Event("e2", DATES[420].date(), None, "America/New_York", "", "", ("D", "H"), ("M", "M"), "", False),
        Event("e3", DATES[460].date(), None, "America/New_York", "", "", ("H",), ("M",), "", False),
    ]
    returns = ReturnsFrame(pd.concat(parts, ignore_index=True))
    return EventStudy(events, returns, pairs=pairs, **SETTINGS).run()


def test_pair_table_against_a_hand_computation() -> None:
    result = _study((ListingPair("H", "D", 8.0),))
    table = result.listing_pairs  # type: ignore[attr-defined]
    assert tuple(table.columns) == PAIR_COLUMNS
    assert table[["event_id", "window_start"]].values.tolist() == [["e1", 0], ["e1", -1], ["e2", 0], ["e2", -1]]
    car = result.car.set_index(["event_id", "ticker", "window_start"])  # type: ignore[attr-defined]
    pairs = result.panel.pairs  # type: ignore[attr-defined]
    residuals = result.fit.residuals  # type: ignore[attr-defined]
    for row in table.itertuples():
        home = car.loc[(row.event_id, "H", row.window_start)]
        adr = car.loc[(row.event_id, "D", row.window_start)]
        h = int(np.flatnonzero((pairs["event_id"] == row.event_id) & (pairs["ticker"] == "H"))[0])
        a = int(np.flatnonzero((pairs["event_id"] == row.event_id) & (pairs["ticker"] == "D"))[0])
        both = np.isfinite(residuals[h]) & np.isfinite(residuals[a])
        covariance = np.cov(residuals[h][both], residuals[a][both])[0, 1]
        length = row.window_end - row.window_start + 1
        se = np.sqrt(home["se"] ** 2 + adr["se"] ** 2 - 2 * length * covariance)
        t = (home["car"] - adr["car"]) / se
        np.testing.assert_allclose(
            [row.car_home, row.car_adr, row.residual_covariance, row.se, row.t_stat],
            [home["car"], adr["car"], covariance, se, t],
            rtol=1e-10,
        )
        df = min(home["df"], adr["df"])
        np.testing.assert_allclose(row.p_value, 2 * stats.t.sf(abs(t), df), rtol=1e-10)
        assert row.n_common == both.sum() and row.df == df
    assert table["residual_covariance"].gt(0).all()  # the shared shock: the legs' residuals co-move
    e1 = table[(table["event_id"] == "e1") & (table["window_start"] == 0)].iloc[0]
    assert e1["difference"] < -0.03 and e1["p_value"] < 0.05  # the ADR's extra 8 % on day 0


def test_no_pairs_and_files(tmp_path: Path) -> None:
    result = _study(())
    assert result.listing_pairs.empty and "pairs" not in result.frames()  # type: ignore[attr-defined]
    path = tmp_path / "pairs.csv"
    path.write_text("home,adr,ratio,fx\n0700.HK,TCEHY,1,HKD=X\n9988.HK,BABA,8,\n3690.HK,MPNGY,,\n", encoding="utf-8")
    assert read_pairs(path) == (
        ListingPair("0700.HK", "TCEHY", 1.0, "HKD=X"),
        ListingPair("9988.HK", "BABA", 8.0),
        ListingPair("3690.HK", "MPNGY", None),
    )
    path.write_text("home,adr\n0700.HK,TCEHY\n0700.HK,BABA\n", encoding="utf-8")
    with pytest.raises(InputError, match="in two pairs") as caught:
        read_pairs(path)
    assert (caught.value.line, caught.value.column) == (3, "home")
    path.write_text("home,ratio\n0700.HK,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs the columns home and adr"):
        read_pairs(path)
    path.write_text("home,adr,ratio\n0700.HK,TCEHY,-2\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a positive number"):
        read_pairs(path)


def test_command_line_pairs(tmp_path: Path, eventstudy_cli: RunCli) -> None:
    """``eventstudy run --pairs FILE`` through the console script: pairs.csv and the report's pair section,
    the declared pair without data named with its reason; with --slice-size it is refused (exit 2)."""
    rng = np.random.default_rng(5)
    n = len(DATES)
    market = rng.normal(0.0003, 0.01, n)
    rows = [pd.DataFrame({"date": DATES, "ticker": "M", "return": market})]
    for ticker in ("H", "D"):
        rows.append(pd.DataFrame({"date": DATES, "ticker": ticker, "return": market + rng.normal(0, 0.01, n)}))
    frame = pd.concat(rows, ignore_index=True)
    frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")).to_csv(tmp_path / "returns.csv", index=False)
    day = DATES[300].date().isoformat()
    (tmp_path / "events.csv").write_text(
        f"event_id,date,timezone,tickers,benchmark\ne1,{day},America/New_York,H;D;Z,M\n", encoding="utf-8"
    )
    (tmp_path / "pairs.csv").write_text("home,adr\nH,D\nZ,ZZ\n", encoding="utf-8")
    common = ["run", "events.csv", "--returns", "returns.csv", "--pairs", "pairs.csv", "--estimation", "-120:-11"]
    common += ["--window", "-3:3", "--car", "0:0", "--car", "-1:1", "--min-obs", "60", "--quiet"]
    run = eventstudy_cli(*common, "--formats", "md", "--out", "out")
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(tmp_path / "out" / "pairs.csv")
    assert table[["event_id", "home", "adr"]].drop_duplicates().values.tolist() == [["e1", "H", "D"]]
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## Listing pairs: home line versus ADR" in report and "Z/ZZ: no event with both legs estimated" in report
    sliced = eventstudy_cli(*common, "--formats", "csv", "--slice-size", "10", "--out", "sliced")
    assert sliced.returncode == 2 and "--pairs" in sliced.stderr and "Traceback" not in sliced.stderr


def test_home_leg_in_us_dollars() -> None:
    """A pair with ``fx`` studies the home line in US dollars: its returns are (1 + R)/(1 + R_quote) - 1 with the
    FX quote accumulated between the line's closes. Checked against statsmodels on returns converted series by
    series with :func:`eventstudy.crossmarket.cross_market_regressor` (the FX series on its 24/5 calendar)."""
    import exchange_calendars as xcals
    import statsmodels.api as sm

    from eventstudy.crossmarket import cross_market_regressor

    with warnings.catch_warnings():  # exchange_calendars' own pandas deprecation, in building the test data
        warnings.simplefilter("ignore")
        sessions = xcals.get_calendar("XNYS").sessions_in_range("2019-01-02", "2020-12-30")
        fx_days = xcals.get_calendar("24/5").sessions_in_range("2019-01-02", "2020-12-30")
    rng = np.random.default_rng(9)
    n = len(sessions)
    market = rng.normal(0.0003, 0.01, n)
    home = 0.0001 + 0.9 * market + rng.normal(0, 0.01, n)
    adr = 0.0001 + 1.0 * market + rng.normal(0, 0.01, n)
    quote = rng.normal(0, 0.003, len(fx_days))
    frame = pd.concat(
        [
            pd.DataFrame({"date": sessions, "ticker": "M", "return": market}),
            pd.DataFrame({"date": sessions, "ticker": "H", "return": home}),
            pd.DataFrame({"date": sessions, "ticker": "D", "return": adr}),
            pd.DataFrame({"date": fx_days, "ticker": "JPY=X", "return": quote}),
        ],
        ignore_index=True,
    )
    day = sessions[300].date()
    event = Event("e1", day, None, "America/New_York", "", "", ("H", "D"), ("M", "M"), "", False)
    pair = ListingPair("H", "D", fx="JPY=X")
    result = EventStudy([event], ReturnsFrame(frame), pairs=(pair,), **SETTINGS).run()
    accumulated, _ = cross_market_regressor("XNYS", sessions.to_numpy(), "24/5", fx_days.to_numpy(), quote)
    dollars = pd.Series((1 + home) / (1 + accumulated) - 1, index=sessions)
    rows = pd.DataFrame({"r": dollars, "m": market}, index=sessions).iloc[300 - 120 : 300 - 10]
    fit = sm.OLS(rows["r"], sm.add_constant(rows["m"])).fit()
    params = result.parameters.set_index("ticker")
    np.testing.assert_allclose(params.loc["H", ["alpha", "beta"]].to_numpy(float), fit.params, rtol=1e-9)
    plain = EventStudy([event], ReturnsFrame(frame), **SETTINGS).run().parameters.set_index("ticker")
    assert params.loc["H", "beta"] != plain.loc["H", "beta"]  # converted
    np.testing.assert_allclose(params.loc["D", ["alpha", "beta"]], plain.loc["D", ["alpha", "beta"]], rtol=1e-12)
    assert len(result.listing_pairs) == 2
    assert any("H is studied in US dollars" in note and "JPY=X" in note for note in result.pair_notes)
