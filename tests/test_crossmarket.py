"""Tests of ``eventstudy.crossmarket``: another exchange's returns accumulated between the ticker's closes.

The expected assignments are written by hand from ``../shared/docs/METHODS.md`` §4.8 (HK day d gets the NY
days d_prev..d−1; NY day d gets the HK days y with d_prev < y ≤ d) and the published trading hours and
holidays: HKEX closes 16:00 HKT = 08:00 UTC (12:00 HKT = 04:00 UTC on half days), NYSE 16:00 ET = 21:00 UTC
under standard time and 20:00 UTC under daylight time (13:00 ET on its half days). Each scenario lists
both exchanges' sessions and close instants explicitly; the kernel runs on those instants, and
:func:`cross_market_regressor` on the same dates through exchange_calendars must agree. A second check
applies the METHODS wording, as date comparisons in pandas, to two full years of exchange_calendars
sessions.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from dataclasses import dataclass

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventstudy.crossmarket import accumulated_between_closes, cross_market_regressor, session_closes
from eventstudy.errors import InputError, UnknownNameError


@dataclass(frozen=True)
class Scenario:
    """Explicit sessions of two exchanges and, by hand, the other sessions each own return covers."""

    own_calendar: str
    own_closes: dict[str, str]  # the ticker's price dates -> close instant (UTC)
    other_calendar: str
    other_closes: dict[str, str]  # every session of the other exchange in the range -> close instant (UTC)
    covers: dict[str, list[str]]  # own date (rows 1..) -> the other sessions its return spans, by hand

    def other_returns(self) -> dict[str, float]:
        """Distinct returns of both signs, one per other session."""
        return {day: 0.004 * (k + 1) * (-1) ** k for k, day in enumerate(self.other_closes)}

    def expected(self) -> tuple[np.ndarray, np.ndarray]:
        returns = self.other_returns()
        values = [math.nan] + [math.prod(1 + returns[x] for x in self.covers[d]) - 1 for d in list(self.own_closes)[1:]]
        counts = [0] + [len(self.covers[d]) for d in list(self.own_closes)[1:]]
        return np.array(values), np.array(counts)


# --- HK stock with the S&P 500, January 2021 -----------------------------------------------------------
# Monday 2021-01-18 is Martin Luther King Jr. Day (NYSE closed, HKEX open). 2021-01-21 is left out of the
# ticker's dates as if a typhoon had closed HKEX without the calendar knowing: the 2021-01-22 return runs
# from the 2021-01-20 close.
HK_JAN_2021 = Scenario(
    own_calendar="XHKG",
    own_closes={
        "2021-01-11": "2021-01-11 08:00", "2021-01-12": "2021-01-12 08:00", "2021-01-13": "2021-01-13 08:00",
        "2021-01-14": "2021-01-14 08:00", "2021-01-15": "2021-01-15 08:00", "2021-01-18": "2021-01-18 08:00",
        "2021-01-19": "2021-01-19 08:00", "2021-01-20": "2021-01-20 08:00", "2021-01-22": "2021-01-22 08:00",
    },
    other_calendar="XNYS",
    other_closes={
        "2021-01-08": "2021-01-08 21:00", "2021-01-11": "2021-01-11 21:00", "2021-01-12": "2021-01-12 21:00",
        "2021-01-13": "2021-01-13 21:00", "2021-01-14": "2021-01-14 21:00", "2021-01-15": "2021-01-15 21:00",
        "2021-01-19": "2021-01-19 21:00", "2021-01-20": "2021-01-20 21:00", "2021-01-21": "2021-01-21 21:00",
        "2021-01-22": "2021-01-22 21:00", "2021-01-25": "2021-01-25 21:00",
    },
    covers={
        "2021-01-12": ["2021-01-11"],
        "2021-01-13": ["2021-01-12"],
        "2021-01-14": ["2021-01-13"],
        "2021-01-15": ["2021-01-14"],
        "2021-01-18": ["2021-01-15"],  # Monday: Friday's NY session
        "2021-01-19": [],  # d_prev = Monday 01-18, a NY holiday: no NY session, 0.0
        "2021-01-20": ["2021-01-19"],
        "2021-01-22": ["2021-01-20", "2021-01-21"],  # across the typhoon-style gap
    },
)  # fmt: skip

# --- US ADR with the HSI, January 2021: the ADR's Tuesday after MLK Day spans HK Monday and Tuesday ------
ADR_JAN_2021 = Scenario(
    own_calendar="XNYS",
    own_closes={
        "2021-01-12": "2021-01-12 21:00", "2021-01-13": "2021-01-13 21:00", "2021-01-14": "2021-01-14 21:00",
        "2021-01-15": "2021-01-15 21:00", "2021-01-19": "2021-01-19 21:00", "2021-01-20": "2021-01-20 21:00",
    },
    other_calendar="XHKG",
    other_closes={
        "2021-01-11": "2021-01-11 08:00", "2021-01-12": "2021-01-12 08:00", "2021-01-13": "2021-01-13 08:00",
        "2021-01-14": "2021-01-14 08:00", "2021-01-15": "2021-01-15 08:00", "2021-01-18": "2021-01-18 08:00",
        "2021-01-19": "2021-01-19 08:00", "2021-01-20": "2021-01-20 08:00", "2021-01-21": "2021-01-21 08:00",
        "2021-01-22": "2021-01-22 08:00",
    },
    covers={
        "2021-01-13": ["2021-01-13"],
        "2021-01-14": ["2021-01-14"],
        "2021-01-15": ["2021-01-15"],
        "2021-01-19": ["2021-01-18", "2021-01-19"],
        "2021-01-20": ["2021-01-20"],
    },
)  # fmt: skip

# --- Lunar New Year 2022: HKEX half day Monday 01-31 (12:00 HKT), closed 02-01..02-03; NYSE open ---------
HK_LNY_2022 = Scenario(
    own_calendar="XHKG",
    own_closes={
        "2022-01-27": "2022-01-27 08:00", "2022-01-28": "2022-01-28 08:00", "2022-01-31": "2022-01-31 04:00",
        "2022-02-04": "2022-02-04 08:00", "2022-02-07": "2022-02-07 08:00",
    },
    other_calendar="XNYS",
    other_closes={
        "2022-01-25": "2022-01-25 21:00", "2022-01-26": "2022-01-26 21:00", "2022-01-27": "2022-01-27 21:00",
        "2022-01-28": "2022-01-28 21:00", "2022-01-31": "2022-01-31 21:00", "2022-02-01": "2022-02-01 21:00",
        "2022-02-02": "2022-02-02 21:00", "2022-02-03": "2022-02-03 21:00", "2022-02-04": "2022-02-04 21:00",
        "2022-02-07": "2022-02-07 21:00", "2022-02-08": "2022-02-08 21:00", "2022-02-09": "2022-02-09 21:00",
    },
    covers={
        "2022-01-28": ["2022-01-27"],
        "2022-01-31": ["2022-01-28"],
        "2022-02-04": ["2022-01-31", "2022-02-01", "2022-02-02", "2022-02-03"],  # four NY sessions
        "2022-02-07": ["2022-02-04"],
    },
)  # fmt: skip

ADR_LNY_2022 = Scenario(
    own_calendar="XNYS",
    own_closes={
        "2022-01-28": "2022-01-28 21:00", "2022-01-31": "2022-01-31 21:00", "2022-02-01": "2022-02-01 21:00",
        "2022-02-02": "2022-02-02 21:00", "2022-02-03": "2022-02-03 21:00", "2022-02-04": "2022-02-04 21:00",
        "2022-02-07": "2022-02-07 21:00",
    },
    other_calendar="XHKG",
    other_closes={
        "2022-01-26": "2022-01-26 08:00", "2022-01-27": "2022-01-27 08:00", "2022-01-28": "2022-01-28 08:00",
        "2022-01-31": "2022-01-31 04:00", "2022-02-04": "2022-02-04 08:00", "2022-02-07": "2022-02-07 08:00",
        "2022-02-08": "2022-02-08 08:00", "2022-02-09": "2022-02-09 08:00",
    },
    covers={
        "2022-01-31": ["2022-01-31"],  # the HK half day
        "2022-02-01": [],
        "2022-02-02": [],
        "2022-02-03": [],
        "2022-02-04": ["2022-02-04"],
        "2022-02-07": ["2022-02-07"],
    },
)  # fmt: skip

# --- US daylight saving begins Sunday 2021-03-14: NYSE closes 21:00 UTC, then 20:00 UTC -----------------
HK_DST_MARCH_2021 = Scenario(
    own_calendar="XHKG",
    own_closes={
        "2021-03-11": "2021-03-11 08:00", "2021-03-12": "2021-03-12 08:00", "2021-03-15": "2021-03-15 08:00",
        "2021-03-16": "2021-03-16 08:00", "2021-03-17": "2021-03-17 08:00",
    },
    other_calendar="XNYS",
    other_closes={
        "2021-03-09": "2021-03-09 21:00", "2021-03-10": "2021-03-10 21:00", "2021-03-11": "2021-03-11 21:00",
        "2021-03-12": "2021-03-12 21:00", "2021-03-15": "2021-03-15 20:00", "2021-03-16": "2021-03-16 20:00",
        "2021-03-17": "2021-03-17 20:00", "2021-03-18": "2021-03-18 20:00", "2021-03-19": "2021-03-19 20:00",
    },
    covers={
        "2021-03-12": ["2021-03-11"],
        "2021-03-15": ["2021-03-12"],
        "2021-03-16": ["2021-03-15"],
        "2021-03-17": ["2021-03-16"],
    },
)  # fmt: skip

# --- US daylight saving ends Sunday 2021-11-07: NYSE closes 20:00 UTC, then 21:00 UTC; the ADR's side -----
ADR_DST_NOVEMBER_2021 = Scenario(
    own_calendar="XNYS",
    own_closes={
        "2021-11-04": "2021-11-04 20:00", "2021-11-05": "2021-11-05 20:00", "2021-11-08": "2021-11-08 21:00",
        "2021-11-09": "2021-11-09 21:00",
    },
    other_calendar="XHKG",
    other_closes={
        "2021-11-02": "2021-11-02 08:00", "2021-11-03": "2021-11-03 08:00", "2021-11-04": "2021-11-04 08:00",
        "2021-11-05": "2021-11-05 08:00", "2021-11-08": "2021-11-08 08:00", "2021-11-09": "2021-11-09 08:00",
        "2021-11-10": "2021-11-10 08:00", "2021-11-11": "2021-11-11 08:00",
    },
    covers={
        "2021-11-05": ["2021-11-05"],
        "2021-11-08": ["2021-11-08"],
        "2021-11-09": ["2021-11-09"],
    },
)  # fmt: skip

# --- Christmas 2020: HKEX half day 12-24 (12:00 HKT), NYSE half day 12-24 (13:00 EST); both closed 12-25 ---
ADR_CHRISTMAS_2020 = Scenario(
    own_calendar="XNYS",
    own_closes={
        "2020-12-22": "2020-12-22 21:00", "2020-12-23": "2020-12-23 21:00", "2020-12-24": "2020-12-24 18:00",
        "2020-12-28": "2020-12-28 21:00", "2020-12-29": "2020-12-29 21:00",
    },
    other_calendar="XHKG",
    other_closes={
        "2020-12-21": "2020-12-21 08:00", "2020-12-22": "2020-12-22 08:00", "2020-12-23": "2020-12-23 08:00",
        "2020-12-24": "2020-12-24 04:00", "2020-12-28": "2020-12-28 08:00", "2020-12-29": "2020-12-29 08:00",
        "2020-12-30": "2020-12-30 08:00", "2020-12-31": "2020-12-31 04:00",
    },
    covers={
        "2020-12-23": ["2020-12-23"],
        "2020-12-24": ["2020-12-24"],
        "2020-12-28": ["2020-12-28"],  # HKEX also closed 12-25 (Christmas) and 12-26 (Saturday)
        "2020-12-29": ["2020-12-29"],
    },
)  # fmt: skip

SCENARIOS = {
    "hk_stock_us_index_jan_2021": HK_JAN_2021,
    "adr_hsi_jan_2021": ADR_JAN_2021,
    "hk_stock_us_index_lunar_new_year_2022": HK_LNY_2022,
    "adr_hsi_lunar_new_year_2022": ADR_LNY_2022,
    "hk_stock_us_index_dst_march_2021": HK_DST_MARCH_2021,
    "adr_hsi_dst_november_2021": ADR_DST_NOVEMBER_2021,
    "adr_hsi_christmas_2020": ADR_CHRISTMAS_2020,
}


def _instants(closes: dict[str, str]) -> np.ndarray:
    return np.array(list(closes.values()), dtype="datetime64[ns]")


def _dates(closes: dict[str, str]) -> np.ndarray:
    return np.array(list(closes), dtype="datetime64[D]")


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_kernel_on_explicit_closes(scenario: Scenario) -> None:
    expected, counts = scenario.expected()
    returns = np.array(list(scenario.other_returns().values()))
    got, got_counts = accumulated_between_closes(
        _instants(scenario.own_closes), _instants(scenario.other_closes), returns
    )
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-16)
    np.testing.assert_array_equal(got_counts, counts)
    assert got[0] != got[0]  # row 0: NaN


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_calendar_regressor_equals_hand_assignment(scenario: Scenario) -> None:
    expected, counts = scenario.expected()
    got, got_counts = cross_market_regressor(
        scenario.own_calendar,
        _dates(scenario.own_closes),
        scenario.other_calendar,
        _dates(scenario.other_closes),
        np.array(list(scenario.other_returns().values())),
    )
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-16)
    np.testing.assert_array_equal(got_counts, counts)


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_explicit_closes_are_the_calendars(scenario: Scenario) -> None:
    """The hand-written instants are exchange_calendars' closes (half days and DST included)."""
    for calendar, closes in (
        (scenario.own_calendar, scenario.own_closes),
        (scenario.other_calendar, scenario.other_closes),
    ):
        days = list(closes)
        got = session_closes(calendar, days[0], days[-1])
        expected = pd.DatetimeIndex(list(closes.values()), name="close").tz_localize("UTC").as_unit("ns")
        if calendar == scenario.own_calendar and scenario is HK_JAN_2021:
            # the typhoon-style gap: 2021-01-21 is a session of XHKG but not one of the ticker's dates
            got = got[got != pd.Timestamp("2021-01-21 08:00", tz="UTC")]
        pd.testing.assert_index_equal(got, expected)


def test_dst_shift_of_the_other_closes_does_not_change_the_assignment() -> None:
    """Moving every NY close by an hour either way (daylight saving) leaves each NY session in its HK interval."""
    scenario = HK_JAN_2021
    returns = np.array(list(scenario.other_returns().values()))
    own = _instants(scenario.own_closes)
    base = accumulated_between_closes(own, _instants(scenario.other_closes), returns)
    for hours in (-1, 1):
        shifted = _instants(scenario.other_closes) + np.timedelta64(hours, "h")
        moved = accumulated_between_closes(own, shifted, returns)
        np.testing.assert_array_equal(moved[0], base[0])
        np.testing.assert_array_equal(moved[1], base[1])


# ---------------------------------------------------------------------------------------------------------
# the METHODS §4.8 wording on two full years of exchange_calendars sessions


@functools.cache
def _xcals(name: str) -> xcals.ExchangeCalendar:
    """An exchange_calendars calendar built here, not through eventstudy (its pandas 3.1 deprecation silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return xcals.get_calendar(name)


def _calendar_closes(name: str, start: str, end: str) -> pd.Series:
    """Session label -> close instant (UTC), from exchange_calendars' own session methods."""
    cal = _xcals(name)
    sessions = cal.sessions_in_range(start, end)
    return pd.Series([cal.session_close(s) for s in sessions], index=sessions)


def test_two_years_match_the_methods_date_rule() -> None:
    """HK day d: NY days x with d_prev ≤ x ≤ d − 1; NY day d: HK days y with d_prev < y ≤ d (METHODS §4.8)."""
    hk = _calendar_closes("XHKG", "2020-01-01", "2021-12-31")
    ny = _calendar_closes("XNYS", "2019-12-20", "2022-01-10")
    rng = np.random.default_rng(7)
    ny_returns = pd.Series(rng.normal(0, 0.012, len(ny)), index=ny.index)
    hk_returns = pd.Series(rng.normal(0, 0.015, len(hk)), index=hk.index)

    def by_dates(own: pd.Index, other: pd.Series, hk_side: bool) -> tuple[list[float], list[int]]:
        values, counts = [math.nan], [0]
        for prev, day in itertools.pairwise(own):
            covered = (
                (other.index >= prev) & (other.index < day) if hk_side else (other.index > prev) & (other.index <= day)
            )
            values.append(float(np.prod(1 + other[covered].to_numpy()) - 1))
            counts.append(int(covered.sum()))
        return values, counts

    hk_days = hk.index.to_numpy().astype("datetime64[D]")
    got, got_counts = cross_market_regressor(
        "XHKG", hk_days, "XNYS", ny.index.to_numpy().astype("datetime64[D]"), ny_returns.to_numpy()
    )
    values, counts = by_dates(hk.index, ny_returns, hk_side=True)
    np.testing.assert_allclose(got, values, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(got_counts, counts)
    assert max(counts) >= 3 and min(counts[1:]) == 0  # holidays on both sides occur in 2020-21

    ny_own = ny.loc["2020-01-01":"2021-12-31"]
    got, got_counts = cross_market_regressor(
        "XNYS", ny_own.index.to_numpy().astype("datetime64[D]"), "XHKG", hk_days, hk_returns.to_numpy()
    )
    values, counts = by_dates(ny_own.index, hk_returns, hk_side=False)
    np.testing.assert_allclose(got, values, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(got_counts, counts)


# ---------------------------------------------------------------------------------------------------------
# session_closes


@pytest.mark.parametrize(
    ("calendar", "day", "close_utc"),
    [
        ("XHKG", "2024-12-24", "2024-12-24 04:00"),  # Christmas Eve half day, 12:00 HKT
        ("XHKG", "2024-12-23", "2024-12-23 08:00"),
        ("XHKG", "2022-01-31", "2022-01-31 04:00"),  # Lunar New Year's Eve half day
        ("XNYS", "2021-11-26", "2021-11-26 18:00"),  # day after Thanksgiving, 13:00 EST
        ("XNYS", "2021-07-02", "2021-07-02 20:00"),  # daylight time
        ("XNYS", "2021-12-02", "2021-12-02 21:00"),  # standard time
    ],
)
def test_session_closes_known_dates(calendar: str, day: str, close_utc: str) -> None:
    got = session_closes(calendar, day, day)
    assert list(got) == [pd.Timestamp(close_utc, tz="UTC")]
    assert list(got) == list(_calendar_closes(calendar, day, day))


def test_session_closes_equal_exchange_calendars_over_a_range() -> None:
    got = session_closes("XHKG", "2020-12-20", "2021-02-20")  # starts on a Sunday
    direct = _calendar_closes("XHKG", "2020-12-20", "2021-02-20")
    pd.testing.assert_index_equal(got, pd.DatetimeIndex(direct.to_list(), name="close").as_unit("ns"))
    # by hand: 8 sessions 2020-12-21..31 (25 Dec closed), 20 in January (1 Jan closed), 13 in 1..19 February
    # (Lunar New Year: 12 and 15 Feb closed)
    assert str(got.tz) == "UTC" and len(got) == 8 + 20 + 13


def test_session_closes_errors() -> None:
    with pytest.raises(InputError, match="is after end"):
        session_closes("XNYS", "2021-02-01", "2021-01-01")
    with pytest.raises(UnknownNameError):
        session_closes("XXXX", "2021-01-01", "2021-02-01")
    with pytest.raises(InputError, match="reach outside the XNYS calendar"):
        session_closes("XNYS", "2021-01-01", "2200-01-01")


# ---------------------------------------------------------------------------------------------------------
# the kernel: boundaries, NaN, log returns, bad input

OWN = np.array(["2021-01-04 08:00", "2021-01-05 08:00", "2021-01-06 08:00", "2021-01-07 08:00"], dtype="datetime64[ns]")


def test_boundary_close_at_own_close_counts_in_that_interval() -> None:
    other = np.array(["2021-01-04 08:00", "2021-01-05 08:00", "2021-01-05 08:00:00.000000001"], dtype="datetime64[ns]")
    got, counts = accumulated_between_closes(OWN, other, np.array([0.1, 0.2, 0.3]))
    # 01-04 08:00 is the first own close itself: before row 1's interval (01-04 08:00, 01-05 08:00]
    np.testing.assert_allclose(got[1:], [0.2, 0.3, 0.0], rtol=1e-14)
    np.testing.assert_array_equal(counts, [0, 1, 1, 0])


def test_nan_propagates_and_zero_sessions_give_zero() -> None:
    other = np.array(["2021-01-04 21:00", "2021-01-05 21:00", "2021-01-05 23:00"], dtype="datetime64[ns]")
    got, counts = accumulated_between_closes(OWN, other, np.array([0.01, np.nan, 0.02]))
    assert got[1] == pytest.approx(0.01, rel=1e-14)
    assert np.isnan(got[2])  # one of its two sessions has no data
    assert got[3] == 0.0 and counts[3] == 0
    np.testing.assert_array_equal(counts, [0, 1, 2, 0])


def test_log_returns_are_summed() -> None:
    other = np.array(
        ["2021-01-04 21:00", "2021-01-05 10:00", "2021-01-05 21:00", "2021-01-06 21:00"], dtype="datetime64[ns]"
    )
    simple = np.array([0.01, -0.03, 0.05, 0.2])
    got_simple, _ = accumulated_between_closes(OWN, other, simple)
    got_log, counts = accumulated_between_closes(OWN, other, np.log1p(simple), log=True)
    np.testing.assert_allclose(
        got_log[1:], [math.log(1.01), math.log(0.97) + math.log(1.05), math.log(1.2)], rtol=1e-14
    )
    np.testing.assert_allclose(got_simple[1:], [0.01, 0.97 * 1.05 - 1, 0.2], rtol=1e-13)
    np.testing.assert_allclose(np.expm1(got_log), got_simple, rtol=1e-13)
    np.testing.assert_array_equal(counts, [0, 1, 2, 1])


def test_tz_aware_instants_are_read_in_utc() -> None:
    own = pd.DatetimeIndex(OWN).tz_localize("UTC").tz_convert("Asia/Hong_Kong")  # 16:00 HKT
    other = pd.DatetimeIndex(["2021-01-04 16:00", "2021-01-05 16:00"]).tz_localize("America/New_York")
    got, counts = accumulated_between_closes(own, other, np.array([0.01, 0.02]))
    np.testing.assert_allclose(got[1:], [0.01, 0.02, 0.0], rtol=1e-14)
    np.testing.assert_array_equal(counts, [0, 1, 1, 0])


def test_empty_and_single_rows() -> None:
    got, counts = accumulated_between_closes(OWN[:1], OWN[:0], np.array([]))
    assert np.isnan(got).all() and counts.tolist() == [0]
    got, counts = accumulated_between_closes(OWN[:0], OWN, np.zeros(4))
    assert got.shape == (0,) and counts.shape == (0,)


@pytest.mark.parametrize(
    ("own", "other", "returns", "match"),
    [
        (OWN[::-1], OWN, np.zeros(4), r"own_closes\[1\] = 2021-01-06T08:00:00 is not after"),
        (OWN, OWN[[0, 0, 1, 2]], np.zeros(4), r"other_closes\[1\] .* is not after"),
        (OWN, OWN, np.zeros(3), "other_returns has shape"),
        (OWN, OWN, np.array([0.0, -1.0, 0.0, 0.0]), r"other_returns\[1\] = -1.0 cannot be accumulated"),
        (OWN, OWN, np.array([0.0, 0.0, np.inf, 0.0]), r"other_returns\[2\] = inf"),
        (np.array(["2021-01-04", "NaT"], dtype="datetime64[ns]"), OWN, np.zeros(4), r"own_closes\[1\] is missing"),
    ],
)
def test_kernel_bad_input(own: np.ndarray, other: np.ndarray, returns: np.ndarray, match: str) -> None:
    with pytest.raises(InputError, match=match):
        accumulated_between_closes(own, other, returns)


def test_infinite_log_return_is_rejected_but_below_minus_one_is_fine_in_logs() -> None:
    got, _ = accumulated_between_closes(OWN[:2], OWN[1:2], np.array([-1.5]), log=True)
    assert got[1] == -1.5
    with pytest.raises(InputError, match="finite log returns"):
        accumulated_between_closes(OWN[:2], OWN[1:2], np.array([-np.inf]), log=True)


# ---------------------------------------------------------------------------------------------------------
# cross_market_regressor: data against the calendar


def test_other_session_missing_from_the_data_is_nan() -> None:
    """A NY session without a row (a Yahoo gap, not a holiday) makes only its HK interval NaN."""
    own = _dates(HK_JAN_2021.own_closes)
    returns = HK_JAN_2021.other_returns()
    del returns["2021-01-13"]
    got, counts = cross_market_regressor(
        "XHKG", own, "XNYS", np.array(list(returns), dtype="datetime64[D]"), np.array(list(returns.values()))
    )
    expected, expected_counts = HK_JAN_2021.expected()
    row = list(HK_JAN_2021.own_closes).index("2021-01-14")
    assert np.isnan(got[row])
    keep = np.arange(len(own)) != row
    np.testing.assert_allclose(got[keep], expected[keep], rtol=1e-13, atol=1e-16)
    np.testing.assert_array_equal(counts, expected_counts)  # the calendar's sessions are still counted


def test_zero_return_row_declares_a_session_that_was_not_held() -> None:
    """XHKG lists 2023-09-08 although HKEX was closed (black rainstorm): a 0.0 row says nothing happened.

    exchange_calendars 4.13.2 has the error (../shared/docs/ECOSYSTEM.md §3.2); once a release with its fix
    (PR #603) is installed, 2023-09-08 is no session and the first call raises instead: update this test then.
    """
    ny_own = np.array(["2023-09-06", "2023-09-07", "2023-09-08", "2023-09-11"], dtype="datetime64[D]")
    hk = np.array(["2023-09-05", "2023-09-06", "2023-09-07", "2023-09-11", "2023-09-12"], dtype="datetime64[D]")
    hk_returns = np.array([0.01, 0.02, -0.03, 0.04, 0.05])
    got, _ = cross_market_regressor("XNYS", ny_own, "XHKG", hk, hk_returns)
    assert np.isnan(got[2])  # the calendar's 2023-09-08 session has no row
    with_zero = np.insert(hk, 3, np.datetime64("2023-09-08")), np.insert(hk_returns, 3, 0.0)
    got, counts = cross_market_regressor("XNYS", ny_own, "XHKG", *with_zero)
    np.testing.assert_allclose(got[1:], [-0.03, 0.0, 0.04], rtol=1e-14)  # HK 09-07, 09-08 (declared 0), 09-11
    np.testing.assert_array_equal(counts, [0, 1, 1, 1])


@pytest.mark.parametrize(
    ("own_dates", "other_dates", "match"),
    [
        (["2021-01-15", "2021-01-16"], ["2021-01-15"], r"own_dates\[1\] = 2021-01-16 is not a session of XHKG"),
        (
            ["2021-01-15", "2021-01-19"],
            ["2021-01-15", "2021-01-18"],
            r"other_dates\[1\] = 2021-01-18 is not a session of XNYS",
        ),
        (["2021-01-15", "2021-01-15"], ["2021-01-15"], r"own_dates\[1\] = 2021-01-15 is not after"),
    ],
)
def test_dates_that_are_not_sessions_are_errors(own_dates: list[str], other_dates: list[str], match: str) -> None:
    with pytest.raises(InputError, match=match):
        cross_market_regressor(
            "XHKG",
            np.array(own_dates, dtype="datetime64[D]"),
            "XNYS",
            np.array(other_dates, dtype="datetime64[D]"),
            np.zeros(len(other_dates)),
        )


def test_regressor_length_mismatch_and_empty() -> None:
    days = np.array(["2021-01-15"], dtype="datetime64[D]")
    with pytest.raises(InputError, match="other_returns has 2 values but other_dates has 1"):
        cross_market_regressor("XHKG", days, "XNYS", days, np.zeros(2))
    got, counts = cross_market_regressor("XHKG", days[:0], "XNYS", days, np.zeros(1))
    assert got.shape == (0,) and counts.shape == (0,)


# ---------------------------------------------------------------------------------------------------------
# properties

_instant_sets = st.lists(st.integers(0, 10_000), min_size=2, max_size=40, unique=True).map(sorted)


@settings(max_examples=200, deadline=None)
@given(
    own=_instant_sets,
    other=st.lists(st.integers(0, 10_000), max_size=60, unique=True).map(sorted),
    seed=st.integers(0, 2**32 - 1),
)
def test_compounding_all_intervals_equals_compounding_the_covered_sessions(
    own: list[int], other: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.uniform(-0.5, 0.5, len(other))
    own_ns, other_ns = np.array(own, dtype="datetime64[ns]"), np.array(other, dtype="datetime64[ns]")
    got, counts = accumulated_between_closes(own_ns, other_ns, returns)
    covered = (np.array(other) > own[0]) & (np.array(other) <= own[-1])
    assert np.prod(1 + got[1:]) == pytest.approx(np.prod(1 + returns[covered]), rel=1e-10)
    assert counts[1:].sum() == covered.sum()
    got_log, _ = accumulated_between_closes(own_ns, other_ns, np.log1p(returns), log=True)
    assert got_log[1:].sum() == pytest.approx(np.log1p(returns[covered]).sum(), rel=1e-10, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    own=_instant_sets,
    other=st.lists(st.integers(0, 10_000), max_size=60, unique=True).map(sorted),
    seed=st.integers(0, 2**32 - 1),
)
def test_each_row_equals_a_direct_product_over_its_interval(own: list[int], other: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.uniform(-0.5, 0.5, len(other))
    returns[rng.random(len(other)) < 0.1] = np.nan
    got, counts = accumulated_between_closes(
        np.array(own, dtype="datetime64[ns]"), np.array(other, dtype="datetime64[ns]"), returns
    )
    at = np.array(other)
    for d in range(1, len(own)):
        inside = (at > own[d - 1]) & (at <= own[d])
        assert counts[d] == inside.sum()
        if np.isnan(returns[inside]).any():
            assert np.isnan(got[d])
        else:
            assert got[d] == pytest.approx(np.prod(1 + returns[inside]) - 1, rel=1e-10, abs=1e-12)
