"""The estudy2 COVID-7 fixture through the public engine: prices -> returns -> market model -> tests.

``test_fixture_inputs.py`` checks the test statistics on estudy2's own inputs; this module builds the
same study from the closing prices with :class:`eventstudy.EventStudy` under ``conventions="estudy2"``
(``docs/methods.md`` §8.2) and compares every intermediate the fixture publishes: log returns, the
market-model coefficients and estimation lengths, the abnormal returns in the estimation and event
windows, and every pooled day and CAR-window statistic of ``expected_parametric_tests.csv``,
``expected_nonparametric_tests.csv`` and ``expected_car_*_tests.csv``.

Study design (fixture README): one date-only event on 2020-03-16 (America/New_York), the seven tickers
against ^GSPC, estimation window [-240, -1] (2019-04-02..2020-03-13 on the trading days of the
aligned series), event window [0, +4] (2020-03-16..20), CAR window [0, +4]. ZM and UBER listed in 2019,
so fewer than 240 of their estimation rows exist (227 and 212).

Tolerances. The fixture's CSVs hold estudy2's doubles written with 15 significant digits, so a
faithful recomputation can only agree to a few units of 1e-15 relative. Returns are one ``log`` of a
ratio of the same stored closes; they agree to 5e-16 (atol 1e-15 on values of order 1e-2).
Coefficients, ARs and statistics pass through an OLS on 212-240 rows and a few divisions, whose
rounding error is around 1e-14 relative; 1e-10 (relative, with a 1e-12 absolute floor for ARs near
zero) leaves room for that and for BLAS differences while still catching any convention error, which
shows up at 1e-4 or more (e.g. a divisor M - 2 instead of M - 1 moves s_i by 0.2 %).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventstudy import EventStudy
from eventstudy.data.series import PriceSeries
from eventstudy.errors import PriceSourceError
from eventstudy.events import Event
from eventstudy.inference import REGISTRY
from eventstudy.results import StudyResult

pytestmark = pytest.mark.realdata

FIRMS = ("AMZN", "ZM", "UBER", "NFLX", "SHOP", "FB", "UPWK")
INDEX = "^GSPC"
EVENT_DATES = pd.bdate_range("2020-03-16", "2020-03-20")
EST_START, EST_END = "2019-04-02", "2020-03-13"
RTOL = 1e-10  # see the module docstring
RETURN_ATOL = 1e-15

# engine test name -> (fixture file, column) of the day statistics (METHODS.md §8.2, fixture README)
DAY_STATISTICS = {
    "cross_sectional_t": ("parametric_tests", "t_test_stat"),
    "patell_z": ("parametric_tests", "pt_stat"),
    "bmp_t": ("parametric_tests", "bh_stat"),
    "brown_warner_1980": ("parametric_tests", "bw_1980_stat"),
    "brown_warner_1985": ("parametric_tests", "bw_1985_stat"),
    "lamb": ("parametric_tests", "lmb_stat"),
    "sign": ("nonparametric_tests", "sign_stat"),
    "generalized_sign": ("nonparametric_tests", "gsign_stat"),
    "corrado_zivney_sign": ("nonparametric_tests", "csign_stat"),
    "corrado_rank": ("nonparametric_tests", "rank_stat"),
    "modified_rank": ("nonparametric_tests", "mrank_stat"),
    "wilcoxon": ("nonparametric_tests", "wlcx_stat"),
}
# engine test name -> (fixture file, row name) of the CAR-window statistics over 2020-03-16..20
CAR_STATISTICS = {
    "lamb": ("car_parametric_tests", "car_lamb"),
    "brown_warner_1985": ("car_parametric_tests", "car_brown_warner_1985"),
    "cowan_rank": ("car_nonparametric_tests", "car_rank_test"),
}


class FixturePrices:
    """A price source serving the fixture's closes (Yahoo ``Close``) as price series.

    NA rows are dropped, so ZM and UBER start at their 2019 listings.
    """

    description = "estudy2 0.10.0 fixture closes (prices_close.csv, index_prices_close_GSPC.csv)"

    def __init__(self, folder: Path) -> None:
        firms = pd.read_csv(folder / "prices_close.csv", index_col="date", parse_dates=True)
        index = pd.read_csv(folder / "index_prices_close_GSPC.csv", index_col="date", parse_dates=True)
        self.frame = pd.concat([firms, index], axis=1)

    def load(self, symbol: str, start: dt.date, end: dt.date) -> PriceSeries:
        if symbol not in self.frame:
            raise PriceSourceError(symbol, "no data", "not in the fixture")
        column = self.frame[symbol].loc[pd.Timestamp(start) : pd.Timestamp(end)].dropna()
        return PriceSeries(
            symbol,
            pd.DatetimeIndex(column.index),
            column.to_numpy(),
            kind="price",
            price_field="close",
            source="fixture",
        )


@pytest.fixture(scope="module")
def folder(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "estudy2_covid7"


@pytest.fixture(scope="module")
def result(folder: Path) -> StudyResult:
    event = Event(
        event_id="covid_lockdown",
        date=dt.date(2020, 3, 16),
        time=None,
        timezone="America/New_York",
        headline="COVID-19 lockdowns (estudy2 vignette)",
        category="",
        tickers=FIRMS,
        benchmarks=(INDEX,) * len(FIRMS),
        source="",
        time_approximate=False,
    )
    study = EventStudy(
        [event],
        FixturePrices(folder),
        estimation_window=(-240, -1),
        event_window=(0, 4),
        car_windows=[(0, 4)],
        min_estimation_obs=30,
        conventions="estudy2",
        tests=tuple(dict.fromkeys(name for name in (*DAY_STATISTICS, *CAR_STATISTICS) if name in REGISTRY)),
        progress=False,
        keep_estimation=True,  # the returns of the estimation window are compared with estudy2's below
    )
    return study.run()


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, index_col=0, parse_dates=name != "expected_market_model_coefficients.csv")


def test_design_and_profile(result: StudyResult) -> None:
    assert result.exclusions.empty
    assert result.panel.pairs["ticker"].tolist() == list(FIRMS)
    assert result.spec.return_type == "log" and result.spec.conventions.name == "estudy2"
    assert result.settings["knob: alignment"] == "date"
    assert result.settings["knob: fec_moments"] == "index_window"
    assert result.fit.fec_moments == "index_window"
    for row in range(len(FIRMS)):
        np.testing.assert_array_equal(result.panel.evt_dates[row], EVENT_DATES.values)


def test_log_returns_match_estudy2_rates(result: StudyResult, folder: Path) -> None:
    rates = _csv(folder, "rates_log_returns.csv")
    index = _csv(folder, "index_log_returns_GSPC.csv")[INDEX]
    panel = result.panel
    worst = 0.0
    for row, firm in enumerate(FIRMS):
        for dates, values, market in (
            (panel.est_dates[row], panel.est_returns[row], panel.est_market[row]),
            (panel.evt_dates[row].astype("datetime64[D]"), panel.evt_returns[row], panel.evt_market[row]),
        ):
            present = ~np.isnat(dates)
            when = pd.DatetimeIndex(dates[present])
            np.testing.assert_allclose(values[present], rates.loc[when, firm].to_numpy(), rtol=0, atol=RETURN_ATOL)
            np.testing.assert_allclose(market[present], index.loc[when].to_numpy(), rtol=0, atol=RETURN_ATOL)
            worst = max(worst, float(np.abs(values[present] - rates.loc[when, firm].to_numpy()).max()))
        # every estimation-window return of the fixture is in the panel, and nothing else
        expected = rates.loc[EST_START:EST_END, firm].dropna()
        got = pd.Series(panel.est_returns[row], index=pd.DatetimeIndex(panel.est_dates[row])).dropna()
        assert got.index.equals(expected.index)
    # the benchmark's own estimation window: all 240 index returns 2019-04-02..2020-03-13 for every firm
    own = index.loc[EST_START:EST_END].to_numpy()
    assert panel.est_bench_own is not None
    np.testing.assert_allclose(
        panel.est_bench_own, np.broadcast_to(own, panel.est_bench_own.shape), rtol=0, atol=RETURN_ATOL
    )
    assert worst <= RETURN_ATOL


def test_market_model_coefficients_and_lengths(result: StudyResult, folder: Path) -> None:
    coef = _csv(folder, "expected_market_model_coefficients.csv").loc[list(FIRMS)]
    params = result.parameters.set_index("ticker").loc[list(FIRMS)]
    np.testing.assert_array_equal(params["n_obs"].to_numpy(), coef["estimation_length"].to_numpy())
    assert (
        params.loc["AMZN", "n_obs"] == 240 and params.loc["ZM", "n_obs"] == 227 and params.loc["UBER", "n_obs"] == 212
    )
    np.testing.assert_allclose(params["alpha"].to_numpy(), coef["alpha"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(params["beta"].to_numpy(), coef["beta"].to_numpy(), rtol=RTOL)
    assert params.loc["AMZN", "alpha"] == pytest.approx(0.000134189146723, rel=1e-11)
    assert params.loc["AMZN", "beta"] == pytest.approx(0.864635122598, rel=1e-11)
    assert params.loc["ZM", "estimation_start"] > pd.Timestamp(EST_START)
    assert params.loc["AMZN", "estimation_start"] == pd.Timestamp(EST_START)
    assert (params["estimation_end"] == pd.Timestamp(EST_END)).all()


def test_event_window_abnormal_returns(result: StudyResult, folder: Path) -> None:
    expected = _csv(folder, "expected_abnormal_returns.csv").loc[EVENT_DATES, list(FIRMS)].to_numpy().T
    np.testing.assert_allclose(result.fit.abnormal, expected, rtol=RTOL, atol=1e-12)
    frame = result.abnormal_returns.pivot(index="date", columns="ticker", values="abnormal_return")
    np.testing.assert_allclose(frame.loc[EVENT_DATES, list(FIRMS)].to_numpy().T, expected, rtol=RTOL, atol=1e-12)


def test_estimation_window_abnormal_returns_are_the_residuals(result: StudyResult, folder: Path) -> None:
    expected = _csv(folder, "expected_abnormal_returns.csv")
    for row, firm in enumerate(FIRMS):
        resid = pd.Series(result.fit.residuals[row], index=pd.DatetimeIndex(result.panel.est_dates[row])).dropna()
        want = expected.loc[EST_START:EST_END, firm].dropna()
        assert resid.index.equals(want.index), firm
        np.testing.assert_allclose(resid.to_numpy(), want.to_numpy(), rtol=RTOL, atol=1e-12, err_msg=firm)


def test_forecast_error_factor_uses_the_index_window(result: StudyResult, folder: Path) -> None:
    # C_it = 1 + 1/M_i + (R_mt - mean)^2 / SS with the index moments over its 240 estimation returns,
    # computed here from the fixture's own index returns (METHODS.md §8.2, "FEC moments")
    index = _csv(folder, "index_log_returns_GSPC.csv")[INDEX]
    est = index.loc[EST_START:EST_END].to_numpy()
    r_m = index.loc[EVENT_DATES].to_numpy()
    m_i = result.fit.n_obs.astype(float)
    c = 1 + 1 / m_i[:, None] + (r_m[None, :] - est.mean()) ** 2 / ((est - est.mean()) ** 2).sum()
    np.testing.assert_allclose(1 + result.fit.leverage, c, rtol=1e-13)


def _registered(name: str) -> None:
    assert name in REGISTRY, f"test {name!r} is not registered (known: {', '.join(REGISTRY)})"


@pytest.mark.parametrize("test_name", list(DAY_STATISTICS))
def test_pooled_day_statistics(result: StudyResult, folder: Path, test_name: str) -> None:
    _registered(test_name)
    stem, column = DAY_STATISTICS[test_name]
    expected = pd.read_csv(folder / f"expected_{stem}.csv", parse_dates=["date"])
    np.testing.assert_array_equal(expected["date"].to_numpy(), EVENT_DATES.values)
    tests = result.tests
    got = tests[(tests.group == "all") & (tests.scope == "day") & (tests.test == test_name)].sort_values("window_start")
    np.testing.assert_array_equal(got["window_start"].to_numpy(), np.arange(5))
    np.testing.assert_allclose(got["statistic"].to_numpy(), expected[column].to_numpy(), rtol=RTOL)


@pytest.mark.parametrize("test_name", list(CAR_STATISTICS))
def test_pooled_car_statistics(result: StudyResult, folder: Path, test_name: str) -> None:
    _registered(test_name)
    stem, row = CAR_STATISTICS[test_name]
    expected = pd.read_csv(folder / f"expected_{stem}.csv").set_index("name").loc[row]
    assert (expected["car_start"], expected["car_end"]) == ("2020-03-16", "2020-03-20")
    tests = result.tests
    got = tests[(tests.group == "all") & (tests.scope == "window") & (tests.test == test_name)]
    assert got[["window_start", "window_end"]].to_numpy().tolist() == [[0, 4]]
    np.testing.assert_allclose(got["statistic"].to_numpy(), [expected["statistic"]], rtol=RTOL)
