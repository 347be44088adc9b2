"""Tests of ``eventstudy.calendars``: calendars and their range, day 0 per (event, ticker), observed rows.

Expected days are written by hand: the per-market table of ``docs/events.md`` §5, and for the unit
cases the rules of ``../shared/docs/ECOSYSTEM.md`` §4 applied to the published HKEX/NYSE hours and holidays.
The only comparison against exchange_calendars itself is the consistency check of the vectorised rule
with ``minute_to_session``/``date_to_session`` on random instants, which ``../shared/docs/ECOSYSTEM.md`` §4 names
as the reference implementation.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from pathlib import Path

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from eventstudy import calendars
from eventstudy.calendars import (
    MOVED_SUFFIX,
    RULE_DATE_ONLY,
    RULE_FX,
    RULE_NO_CALENDAR,
    RULE_TIMESTAMP,
    calendar_day_zero,
    event_date_range,
    get_calendar,
    missing_sessions,
    resolve_day_zero,
)
from eventstudy.data.series import PriceSeries
from eventstudy.data.table import PriceTable
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.events import event_ticker_pairs, read_events
from eventstudy.symbols import FX_CALENDAR

EVENTS_CSV = Path(__file__).resolve().parents[1] / "events.csv"

# ---------------------------------------------------------------------------------------------------------
# docs/events.md §5, copied by hand. None = n/a, "?" = undetermined.
DAY0_TABLE: dict[str, dict[str, str | None]] = {
    #                                   HKEX          US            TWSE          TSE
    "ant_ipo_suspended":             {"HKEX": "2020-11-04", "US": "2020-11-03", "TWSE": None, "TSE": "2020-11-04"},
    "samr_platform_antitrust_draft": {"HKEX": "2020-11-10", "US": "2020-11-10", "TWSE": None, "TSE": None},
    "politburo_antimonopoly_pledge": {"HKEX": "?", "US": "2020-12-11", "TWSE": None, "TSE": None},
    "tencent_next_target_bbg":       {"HKEX": "2021-03-12", "US": "2021-03-12", "TWSE": None, "TSE": None},
    "xi_cfeac_platform_economy":     {"HKEX": "2021-03-16", "US": "2021-03-15", "TWSE": None, "TSE": None},
    "wsj_alibaba_media_divest":      {"HKEX": "2021-03-16", "US": "2021-03-15", "TWSE": None, "TSE": None},
    "pboc_data_jv_bbg":              {"HKEX": "2021-03-25", "US": "2021-03-24", "TWSE": None, "TSE": None},
    "trump_chip_tariff_pledge":      {"HKEX": "2025-01-28", "US": "2025-01-28", "TWSE": "2025-02-03", "TSE": "2025-01-28"},
    "us_tariffs_can_mex_chn_signed": {"HKEX": "2025-02-03", "US": "2025-02-03", "TWSE": "2025-02-03", "TSE": "2025-02-03"},
    "us_tariff_pause_mexico":        {"HKEX": "2025-02-04", "US": "2025-02-03", "TWSE": "2025-02-04", "TSE": "2025-02-04"},
    "us_tariff_pause_canada":        {"HKEX": "2025-02-04", "US": "2025-02-04", "TWSE": "2025-02-04", "TSE": "2025-02-04"},
    "taiwan_moea_tariff_support":    {"HKEX": None, "US": None, "TWSE": "2025-02-03", "TSE": None},
    "kato_fujitv_fx_watch":          {"HKEX": None, "US": None, "TWSE": None, "TSE": "2025-02-03"},
}  # fmt: skip

# FX and other venues (docs/events.md §5 "Other venues" and E9/E13): FX tickers take the first daily bar
# on or after the event date (../shared/docs/ECOSYSTEM.md §4 rule 9). E10 and E11 are dated Monday 2025-02-03, so
# their FX day 0 is that Monday by the same rule (the table has no FX column for them).
OTHER_VENUES: dict[tuple[str, str], str] = {
    ("tencent_next_target_bbg", "PRX.AS"): "2021-03-12",
    ("us_tariffs_can_mex_chn_signed", "MXN=X"): "2025-02-03",
    ("us_tariffs_can_mex_chn_signed", "CAD=X"): "2025-02-03",
    ("us_tariff_pause_mexico", "MXN=X"): "2025-02-03",
    ("us_tariff_pause_canada", "CAD=X"): "2025-02-03",
    ("kato_fujitv_fx_watch", "JPY=X"): "2025-02-03",
}

# The market of a ticker, by its Yahoo suffix, written out independently of exchange_for.
MARKET_OF_INDEX = {"^HSI": "HKEX", "^GSPC": "US", "^TWII": "TWSE", "^N225": "TSE"}


def _market(ticker: str) -> str | None:
    if ticker.endswith(".HK"):
        return "HKEX"
    if ticker.endswith(".TW"):
        return "TWSE"
    if ticker.endswith(".T"):
        return "TSE"
    if ticker.isalpha():
        return "US"
    return None


@pytest.fixture(scope="module")
def seed_table() -> pd.DataFrame:
    return calendar_day_zero(event_ticker_pairs(read_events(EVENTS_CSV)))


def _seed_pairs() -> list[tuple[str, str]]:
    return [(e.event_id, t) for e in read_events(EVENTS_CSV) for t in e.tickers]


@pytest.mark.parametrize(("event_id", "ticker"), _seed_pairs())
def test_seed_events_day0_matches_events_md_table(seed_table: pd.DataFrame, event_id: str, ticker: str) -> None:
    row = seed_table[(seed_table["event_id"] == event_id) & (seed_table["ticker"] == ticker)]
    assert len(row) == 1
    got = row["calendar_day_zero"].iloc[0]
    if (event_id, ticker) in OTHER_VENUES:
        assert got == pd.Timestamp(OTHER_VENUES[event_id, ticker])
        return
    market = _market(ticker)
    assert market is not None, f"no expectation for {ticker}"
    expected = DAY0_TABLE[event_id][market]
    assert expected is not None, f"EVENTS.md §5 says n/a for {market} but {event_id} lists {ticker}"
    if expected == "?":
        # politburo_antimonopoly_pledge on HKEX is undetermined in EVENTS.md: the readout time is unknown,
        # the CSV row is date-only, and the date-only rule gives the event date 2020-12-11 (a Friday
        # session). The alternative, 2020-12-14, needs an explicit time after 16:00 HKT.
        assert event_id == "politburo_antimonopoly_pledge"
        assert got == pd.Timestamp("2020-12-11")
        assert row["rule"].iloc[0] == RULE_DATE_ONLY
        return
    assert got == pd.Timestamp(expected)


DEFINITE_CELLS = [
    (event_id, index, cells[market])
    for event_id, cells in DAY0_TABLE.items()
    for index, market in MARKET_OF_INDEX.items()
    if cells[market] not in (None, "?")
]


@pytest.mark.parametrize(("event_id", "index", "expected"), DEFINITE_CELLS)
def test_every_definite_table_cell_via_the_market_index(event_id: str, index: str, expected: str) -> None:
    """Each definite cell of §5 through the market's index symbol.

    This also covers cells for markets where the event's CSV row lists no ticker (HKEX for E8-E11, US
    for E10, TSE for E10, E11 and E13).
    """
    pairs = event_ticker_pairs([e for e in read_events(EVENTS_CSV) if e.event_id == event_id])
    pairs = pairs.iloc[[0]].assign(ticker=index)
    got = calendar_day_zero(pairs)["calendar_day_zero"].iloc[0]
    assert got == pd.Timestamp(expected)


def test_seed_table_columns_rules_and_dtypes(seed_table: pd.DataFrame) -> None:
    assert list(seed_table.columns) == [
        "event_id",
        "ticker",
        "exchange",
        "event_date",
        "event_time_utc",
        "timezone",
        "event_time_exchange",
        "calendar_day_zero",
        "rule",
    ]
    assert len(seed_table) == 72
    assert seed_table["calendar_day_zero"].dtype == np.dtype("datetime64[ns]")
    assert seed_table["event_date"].dtype == np.dtype("datetime64[ns]")
    assert str(seed_table["event_time_utc"].dtype) == "datetime64[ns, UTC]"
    row = seed_table[(seed_table.event_id == "ant_ipo_suspended") & (seed_table.ticker == "9988.HK")].iloc[0]
    assert row["exchange"] == "XHKG"
    assert row["rule"] == RULE_TIMESTAMP
    assert row["event_time_exchange"] == "2020-11-03T21:00:00+08:00"  # 21:00 CST is 21:00 HKT
    row = seed_table[(seed_table.event_id == "ant_ipo_suspended") & (seed_table.ticker == "BABA")].iloc[0]
    assert row["event_time_exchange"] == "2020-11-03T08:00:00-05:00"  # 13:00 UTC, EST
    # TSE was closed on Culture Day 2020-11-03 (EVENTS.md E1).
    row = seed_table[(seed_table.event_id == "ant_ipo_suspended") & (seed_table.ticker == "9984.T")].iloc[0]
    assert row["calendar_day_zero"] == pd.Timestamp("2020-11-04")
    row = seed_table[(seed_table.event_id == "kato_fujitv_fx_watch")].iloc[0]
    assert row["exchange"] == FX_CALENDAR
    assert row["rule"] == RULE_FX + MOVED_SUFFIX  # Sunday -> Monday
    row = seed_table[(seed_table.event_id == "taiwan_moea_tariff_support")].iloc[0]
    assert row["rule"] == RULE_DATE_ONLY + MOVED_SUFFIX
    assert pd.isna(row["event_time_exchange"]) and pd.isna(row["event_time_utc"])


# ---------------------------------------------------------------------------------------------------------
# unit cases of rule 2 (timestamp) and rule 3 (date-only)


def _one(ticker: str, when: str | None, date: str | None = None, tz: str = "UTC") -> pd.Series:
    """Day-0 row of one pair; ``when`` is an ISO instant with offset, or None with ``date``."""
    if when is not None:
        instant = pd.Timestamp(when)
        local_date = instant.tz_convert(tz).tz_localize(None).normalize()
        utc = instant.tz_convert("UTC")
    else:
        local_date = pd.Timestamp(date)
        utc = pd.NaT
    pairs = pd.DataFrame(
        {
            "event_id": ["e"],
            "ticker": [ticker],
            "event_date": pd.DatetimeIndex([local_date]),
            "event_time_utc": pd.DatetimeIndex([utc], tz="UTC"),
            "timezone": [tz],
        }
    )
    return calendar_day_zero(pairs).iloc[0]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2024-03-12T08:00+08:00", "2024-03-12"),  # before the 09:30 open
        ("2024-03-12T10:15+08:00", "2024-03-12"),  # during the morning session
        ("2024-03-12T12:30+08:00", "2024-03-12"),  # lunch break 12:00-13:00
        ("2024-03-12T15:59:59+08:00", "2024-03-12"),  # one second before the close
        ("2024-03-12T16:00+08:00", "2024-03-13"),  # exactly at the 16:00 close -> next session
        ("2024-03-12T16:30+08:00", "2024-03-13"),  # after the close
        ("2024-12-24T11:59+08:00", "2024-12-24"),  # Christmas Eve half day, before the 12:00 close
        ("2024-12-24T13:00+08:00", "2024-12-27"),  # after the half-day close; 25/26 Dec are holidays
        ("2024-03-16T10:00+08:00", "2024-03-18"),  # Saturday -> Monday
        ("2024-03-15T20:00-04:00", "2024-03-18"),  # Friday evening in New York = Saturday 08:00 HKT
    ],
)
def test_timestamp_rule_on_xhkg(when: str, expected: str) -> None:
    row = _one("0700.HK", when, tz="Asia/Hong_Kong")
    assert row["exchange"] == "XHKG"
    assert row["rule"] == RULE_TIMESTAMP
    assert row["calendar_day_zero"] == pd.Timestamp(expected)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # 2021-03-12 (Fri) on EST: close 16:00 EST = 21:00 UTC
        ("2021-03-12T20:30+00:00", "2021-03-12"),
        ("2021-03-12T21:00+00:00", "2021-03-15"),
        # 2021-03-15 (Mon) on EDT since 03-14: close 16:00 EDT = 20:00 UTC
        ("2021-03-15T19:59+00:00", "2021-03-15"),
        ("2021-03-15T20:00+00:00", "2021-03-16"),
        ("2021-03-15T20:30+00:00", "2021-03-16"),  # would be before the close on EST
        # back to EST on 2021-11-07: Monday 11-08 closes at 21:00 UTC again
        ("2021-11-05T20:30+00:00", "2021-11-08"),  # Friday on EDT: 16:30 EDT, after the close
        ("2021-11-08T20:30+00:00", "2021-11-08"),  # Monday on EST: 15:30 EST, before the close
    ],
)
def test_timestamp_rule_on_xnys_across_dst(when: str, expected: str) -> None:
    row = _one("BABA", when, tz="America/New_York")
    assert row["exchange"] == "XNYS"
    assert row["calendar_day_zero"] == pd.Timestamp(expected)


@pytest.mark.parametrize(
    ("ticker", "date", "expected", "moved"),
    [
        ("0700.HK", "2024-03-12", "2024-03-12", False),
        ("0700.HK", "2024-03-16", "2024-03-18", True),  # Saturday
        ("0700.HK", "2025-01-29", "2025-02-03", True),  # Lunar New Year 01-29..01-31
        ("2330.TW", "2025-01-23", "2025-02-03", True),  # TWSE closed 01-23..02-02 (EVENTS.md §2 E8)
        ("BABA", "2025-01-09", "2025-01-10", True),  # NYSE national day of mourning
        ("^MXX", "2025-02-03", "2025-02-04", True),  # Mexico closed 2025-02-03 (EVENTS.md E9/E10)
    ],
)
def test_date_only_rule(ticker: str, date: str, expected: str, moved: bool) -> None:
    row = _one(ticker, None, date=date)
    assert row["calendar_day_zero"] == pd.Timestamp(expected)
    assert row["rule"] == RULE_DATE_ONLY + (MOVED_SUFFIX if moved else "")


def test_date_only_event_is_read_as_its_local_date() -> None:
    # A date-only Hong Kong event on Monday 2021-03-15 is day 0 = 2021-03-15 on NYSE as well, although
    # Monday in Hong Kong starts on Sunday in New York (../shared/docs/ECOSYSTEM.md §4 rule 3 and its caveat).
    row = _one("BABA", None, date="2021-03-15", tz="Asia/Hong_Kong")
    assert row["calendar_day_zero"] == pd.Timestamp("2021-03-15")


def test_fx_uses_the_weekday_rule_even_with_a_time() -> None:
    # 17:40 EST on Monday 2025-02-03 is after every equity close, but FX takes the event date's bar.
    row = _one("CAD=X", "2025-02-03T17:40-05:00", tz="America/New_York")
    assert row["exchange"] == FX_CALENDAR
    assert row["rule"] == RULE_FX
    assert row["calendar_day_zero"] == pd.Timestamp("2025-02-03")
    # Weekday calendar: 1 January is a bar (../shared/docs/ECOSYSTEM.md §3.1), a Saturday is not.
    assert _one("JPY=X", None, date="2025-01-01")["calendar_day_zero"] == pd.Timestamp("2025-01-01")
    row = _one("JPY=X", None, date="2025-02-01")
    assert row["calendar_day_zero"] == pd.Timestamp("2025-02-03")
    assert row["rule"] == RULE_FX + MOVED_SUFFIX


def test_symbol_without_calendar() -> None:
    row = _one("DX-Y.NYB", "2025-02-03T10:00-05:00", tz="America/New_York")
    assert row["exchange"] is None
    assert pd.isna(row["calendar_day_zero"])
    assert row["rule"] == RULE_NO_CALENDAR
    assert pd.isna(row["event_time_exchange"])


@pytest.mark.parametrize("text_dtype", ["str", "object"])
def test_rules_and_texts_of_several_pairs_by_hand(text_dtype: str) -> None:
    # The same rows whether the text columns are pandas text or Python objects, on any index.
    pairs = pd.DataFrame(
        {
            "event_id": ["a", "b", "c", "d"],
            "ticker": ["0700.HK", "BABA", "DX-Y.NYB", "JPY=X"],
            "event_date": pd.to_datetime(["2024-03-12", "2024-03-16", "2025-02-03", "2025-01-01"]),
            "event_time_utc": pd.to_datetime(["2024-03-12 08:30", None, None, None], utc=True),
            "timezone": ["Asia/Hong_Kong", "UTC", "UTC", "UTC"],
        },
        index=[7, 3, 5, 1],
    ).astype({"event_id": text_dtype, "ticker": text_dtype, "timezone": text_dtype})
    table = calendar_day_zero(pairs)
    assert table.index.tolist() == [0, 1, 2, 3]
    assert table["event_id"].tolist() == ["a", "b", "c", "d"]
    assert table["ticker"].tolist() == ["0700.HK", "BABA", "DX-Y.NYB", "JPY=X"]
    assert table["exchange"].tolist() == ["XHKG", "XNYS", None, FX_CALENDAR]
    # 16:30 HKT is after the 16:00 close; Saturday 2024-03-16 moves to Monday; 1 January is a weekday bar
    expected = [pd.Timestamp("2024-03-13"), pd.Timestamp("2024-03-18"), pd.NaT, pd.Timestamp("2025-01-01")]
    assert table["calendar_day_zero"].tolist()[:2] == expected[:2] and pd.isna(table["calendar_day_zero"].iloc[2])
    assert table["calendar_day_zero"].iloc[3] == expected[3]
    rules = [RULE_TIMESTAMP, RULE_DATE_ONLY + MOVED_SUFFIX, RULE_NO_CALENDAR, RULE_FX]
    assert table["rule"].tolist() == rules
    assert table["event_time_exchange"].tolist() == ["2024-03-12T16:30:00+08:00", None, None, None]
    assert table["timezone"].tolist() == ["Asia/Hong_Kong", "UTC", "UTC", "UTC"]


def test_no_pairs_give_an_empty_table() -> None:
    pairs = pd.DataFrame(
        {
            "event_id": pd.Series([], dtype=object),
            "ticker": pd.Series([], dtype=object),
            "event_date": pd.DatetimeIndex([]),
            "event_time_utc": pd.DatetimeIndex([], tz="UTC"),
            "timezone": pd.Series([], dtype=object),
        }
    )
    table = calendar_day_zero(pairs)
    assert len(table) == 0 and table.columns[-1] == "rule"
    assert table["calendar_day_zero"].dtype == np.dtype("datetime64[ns]")


def test_old_event_rebuilds_calendar_with_earlier_start() -> None:
    # 2001-09-11 08:46 EDT: NYSE stayed closed until Monday 2001-09-17. exchange_calendars' default range
    # (20 years back) does not reach 2001.
    row = _one("^GSPC", "2001-09-11T08:46-04:00", tz="America/New_York")
    assert row["calendar_day_zero"] == pd.Timestamp("2001-09-17")
    assert get_calendar("XNYS").first_session <= pd.Timestamp("2001-09-11")


def test_event_date_range() -> None:
    # From 1700-01-01 (the project's bound, inside pandas' nanosecond range) to the end of exchange_calendars'
    # default calendars, one year after today (../shared/docs/ECOSYSTEM.md §3.2).
    today = pd.Timestamp(dt.date.today())
    assert event_date_range() == (dt.date(1700, 1, 1), (today + pd.DateOffset(years=1)).date())
    assert get_calendar("XNYS").last_session <= today + pd.DateOffset(years=1)


@pytest.mark.parametrize(
    ("event_date", "shown"),
    [
        (pd.Timestamp("2097-01-02"), "2097-01-02"),
        (pd.Timestamp("9999-12-31"), "9999-12-31"),  # datetime64[us] in pandas 3
        (pd.Timestamp("1650-06-30"), "1650-06-30"),
    ],
)
def test_calendar_day_zero_rejects_dates_outside_the_range(event_date: pd.Timestamp, shown: str) -> None:
    pairs = pd.DataFrame(
        {
            "event_id": ["ok", "far"],
            "ticker": ["BABA", "0700.HK"],
            "event_date": pd.DatetimeIndex([pd.Timestamp("2021-03-15"), event_date]),
            "event_time_utc": pd.DatetimeIndex([pd.NaT, pd.NaT], tz="UTC"),
            "timezone": "UTC",
        }
    )
    with pytest.raises(InputError) as info:
        calendar_day_zero(pairs)
    err = info.value
    assert (err.parameter, err.column, err.value) == ("pairs", "event_date", dt.date.fromisoformat(shown))
    assert f"pairs row 1 (event 'far'): date {shown} is outside the supported range 1700-01-01" in err.message


def test_future_event_is_no_data_with_a_reason() -> None:
    # An event dated after today but inside the calendars' range: day 0 exists on the calendar, no price yet.
    soon = (pd.Timestamp(dt.date.today()) + pd.Timedelta(days=40)).strftime("%Y-%m-%d")
    table = calendar_day_zero(_pairs([("0700.HK", soon, None), ("DX-Y.NYB", soon, None)]))
    assert table["calendar_day_zero"].iloc[0] >= pd.Timestamp(soon)
    out = resolve_day_zero(table, _observed({"0700.HK": HK_OBSERVED, "DX-Y.NYB": HK_OBSERVED}))
    assert list(out["status"]) == ["no data", "no data"]
    assert out["reason"].iloc[0].startswith("calendar day 0 ")
    assert out["reason"].iloc[0].endswith(" is after the last price row 2023-09-29 (after today: no prices yet)")
    assert out["reason"].iloc[1] == (
        f"no exchange calendar: the event date {soon} is after the last price row 2023-09-29 (after today: no prices yet)"
    )


def test_missing_pair_column_is_an_input_error() -> None:
    with pytest.raises(InputError, match="event_time_utc"):
        calendar_day_zero(pd.DataFrame({"event_id": ["a"], "ticker": ["BABA"], "event_date": ["2021-01-04"]}))


# ---------------------------------------------------------------------------------------------------------
# consistency with exchange_calendars' own session lookups


@pytest.mark.parametrize(
    ("ticker", "name"), [("0700.HK", "XHKG"), ("BABA", "XNYS"), ("8035.T", "XTKS"), ("2330.TW", "XTAI")]
)
def test_vectorised_rule_equals_minute_to_session(ticker: str, name: str) -> None:
    rng = np.random.default_rng(20240312)
    lo = pd.Timestamp("2019-01-01", tz="UTC").value // 60_000_000_000
    hi = pd.Timestamp("2025-06-30", tz="UTC").value // 60_000_000_000
    minutes = rng.integers(lo, hi, size=300)
    # Add instants exactly at closes and at the HK lunch break to the random ones.
    cal = get_calendar(name, earliest="2019-01-01")
    closes = cal.closes[(cal.closes >= "2019-01-01") & (cal.closes <= "2025-06-30")]
    picked = pd.DatetimeIndex(closes.iloc[rng.integers(0, len(closes), size=20)])
    instants = pd.DatetimeIndex(minutes * 60_000_000_000, tz="UTC").append(picked.tz_convert("UTC"))
    pairs = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(instants))],
            "ticker": ticker,
            "event_date": instants.tz_localize(None).normalize(),
            "event_time_utc": instants,
            "timezone": "UTC",
        }
    )
    got = calendar_day_zero(pairs)["calendar_day_zero"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = [cal.minute_to_session(t, direction="next") for t in instants]
    assert list(got) == expected


def test_vectorised_date_rule_equals_date_to_session() -> None:
    rng = np.random.default_rng(7)
    days = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3650, size=300), unit="D")
    pairs = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(days))],
            "ticker": "0700.HK",
            "event_date": days,
            "event_time_utc": pd.DatetimeIndex([pd.NaT] * len(days), tz="UTC"),
            "timezone": "Asia/Hong_Kong",
        }
    )
    got = calendar_day_zero(pairs)["calendar_day_zero"]
    cal = get_calendar("XHKG")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = [cal.date_to_session(d, direction="next") for d in days]
    assert list(got) == expected


# ---------------------------------------------------------------------------------------------------------
# get_calendar and the supported range of event dates


def test_get_calendar_names() -> None:
    assert get_calendar("XHKG").name == "XHKG"
    assert get_calendar(FX_CALENDAR).name == "24/5"
    assert get_calendar("XSHE").name == "XSHG"  # no Shenzhen calendar in exchange_calendars 4.13
    with pytest.raises(UnknownNameError) as info:
        get_calendar("XXXX")
    assert "XHKG" in info.value.valid


# ---------------------------------------------------------------------------------------------------------
# resolve_day_zero and missing_sessions, on dates built here (HKEX closures 2023-09-01 and 2023-09-08,
# which exchange_calendars 4.13.2 still lists as sessions; ../shared/docs/ECOSYSTEM.md §3.2, ../shared/docs/DATA.md §5)

HK_OBSERVED = pd.bdate_range("2023-08-21", "2023-09-29").drop(pd.DatetimeIndex(["2023-09-01", "2023-09-08"]))


def _observed(dates: dict[str, pd.DatetimeIndex]) -> PriceTable:
    """A price table with a row (price 1) on each given date of each symbol."""
    return PriceTable.from_series(PriceSeries(s, d, np.ones(len(d))) for s, d in dates.items())


def _pairs(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """(ticker, local date, HKT time or None) -> pairs in Asia/Hong_Kong."""
    utc = [pd.Timestamp(f"{d} {t}", tz="Asia/Hong_Kong").tz_convert("UTC") if t else pd.NaT for _, d, t in rows]
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "ticker": [r[0] for r in rows],
            "event_date": pd.DatetimeIndex([r[1] for r in rows]),
            "event_time_utc": pd.DatetimeIndex(utc, tz="UTC"),
            "timezone": "Asia/Hong_Kong",
        }
    )


def test_resolve_day_zero_statuses() -> None:
    table = calendar_day_zero(
        _pairs(
            [
                ("0700.HK", "2023-09-05", None),  # a session with a row
                ("0700.HK", "2023-09-08", None),  # calendar session, HKEX closed (black rainstorm)
                ("0700.HK", "2023-09-07", "17:00"),  # after the close -> 09-08 -> moved
                ("0700.HK", "2023-08-31", "16:30"),  # -> 09-01 (typhoon) -> moved to 09-04
                ("0700.HK", "2023-10-05", None),  # after the last observed row
                ("9988.HK", "2023-09-05", None),  # no prices at all
                ("3690.HK", "2023-09-05", None),  # empty index
                ("DX-Y.NYB", "2023-09-02", None),  # no calendar: first row on/after Saturday 09-02
                ("DX-Y.NYB", "2023-09-05", "10:00"),  # no calendar, timed: its local date
                ("0700.HK", "2023-08-18", None),  # before the first observed row (2023-08-21)
                ("DX-Y.NYB", "2023-08-18", None),  # the same without a calendar
            ]
        )
    )
    assert table["calendar_day_zero"].iloc[1] == pd.Timestamp("2023-09-08")  # the calendar does not know
    observed = {
        "0700.HK": HK_OBSERVED,
        "3690.HK": pd.DatetimeIndex([]),
        "DX-Y.NYB": HK_OBSERVED,
    }
    out = resolve_day_zero(table, _observed(observed))
    assert list(out.columns) == [*table.columns, "day_zero", "status", "reason"]
    assert out["day_zero"].dtype == np.dtype("datetime64[ns]")
    expected = [
        ("2023-09-05", "ok", ""),
        ("2023-09-11", "moved", "calendar day 0 2023-09-08 has no price row; moved to next observed row"),
        ("2023-09-11", "moved", "calendar day 0 2023-09-08 has no price row; moved to next observed row"),
        ("2023-09-04", "moved", "calendar day 0 2023-09-01 has no price row; moved to next observed row"),
        (None, "no data", "calendar day 0 2023-10-05 is after the last price row 2023-09-29"),
        (None, "no data", "no price rows for 9988.HK"),
        (None, "no data", "no price rows for 3690.HK"),
        ("2023-09-04", "ok", None),
        ("2023-09-05", "ok", None),
        (None, "no data", "calendar day 0 2023-08-18 is before the first price row 2023-08-21"),
        (None, "no data", None),
    ]
    for i, (day, status, reason) in enumerate(expected):
        row = out.iloc[i]
        if day is None:
            assert pd.isna(row["day_zero"]), i
        else:
            assert row["day_zero"] == pd.Timestamp(day), i
        assert row["status"] == status, i
        if reason is not None:
            assert row["reason"] == reason, i
    assert "data calendar" in out["reason"].iloc[7]
    assert "no exchange calendar" in out["reason"].iloc[7]
    assert "event date 2023-08-18 is before the first price row 2023-08-21" in out["reason"].iloc[10]
    # The input table is not modified.
    assert "day_zero" not in table.columns


def test_missing_sessions_flags_hk_closures() -> None:
    got = missing_sessions("XHKG", HK_OBSERVED, "2023-08-21", "2023-09-29")
    pd.testing.assert_index_equal(got, pd.DatetimeIndex(["2023-09-01", "2023-09-08"]).as_unit("ns"))
    assert len(missing_sessions("XHKG", HK_OBSERVED, "2023-09-11", "2023-09-29")) == 0
    assert len(missing_sessions(None, HK_OBSERVED, "2023-08-21", "2023-09-29")) == 0


def _reference_day_zero(
    observed: list[pd.Timestamp], calendar: pd.Timestamp, event: pd.Timestamp, ticker: str, exchange: str | None
) -> tuple[pd.Timestamp | None, str, str]:
    """Day 0, status and reason of one pair by the rules of ``resolve_day_zero``'s docstring, one row at a time."""
    target = event if pd.isna(calendar) else calendar
    text = target.strftime("%Y-%m-%d")
    if not observed:
        return None, "no data", f"no price rows for {ticker}"
    what = "event date" if pd.isna(calendar) else "calendar day 0"
    if target < observed[0]:
        return None, "no data", f"{what} {text} is before the first price row {observed[0]:%Y-%m-%d}"
    after = next((d for d in observed if d >= target), None)
    future = " (after today: no prices yet)" if target > pd.Timestamp(dt.date.today()) else ""
    last = f"is after the last price row {observed[-1]:%Y-%m-%d}{future}"
    if not pd.isna(calendar):
        if after is None:
            return None, "no data", f"calendar day 0 {text} {last}"
        if after == target:
            return after, "ok", ""
        return after, "moved", f"calendar day 0 {text} has no price row; moved to next observed row"
    why = "no exchange calendar" if exchange is None else "event date outside the exchange calendar"
    if after is None:
        return None, "no data", f"{why}: the event date {text} {last}"
    return after, "ok", f"{why}: first observed row on or after the event date {text} (data calendar)"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resolve_day_zero_equals_a_row_by_row_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2023-01-02", periods=80)
    observed = {}
    for k in range(6):
        keep = rng.random(len(days)) > 0.2
        keep[: rng.integers(0, 20)] = False
        keep[len(days) - rng.integers(0, 20) :] = False
        observed[f"T{k}"] = days[keep]
    observed["EMPTY"] = days[:0]
    n = 300
    tickers = rng.choice([*observed, "ABSENT"], n)
    calendar = pd.DatetimeIndex(rng.choice(days, n)).where(rng.random(n) > 0.3)  # NaT: no calendar day 0
    event = pd.DatetimeIndex(rng.choice(pd.date_range("2022-12-20", "2023-05-10"), n))
    exchange = np.where(rng.random(n) > 0.5, None, "XNYS")
    table = pd.DataFrame({"ticker": tickers, "exchange": exchange, "event_date": event, "calendar_day_zero": calendar})
    out = resolve_day_zero(table, _observed(observed))
    for i in range(n):
        dates = list(observed.get(tickers[i], days[:0]))
        day, status, reason = _reference_day_zero(dates, calendar[i], event[i], tickers[i], exchange[i])
        assert (out["status"].iloc[i], out["reason"].iloc[i]) == (status, reason), i
        assert (pd.isna(out["day_zero"].iloc[i]) and day is None) or out["day_zero"].iloc[i] == day, i
    kinds = ("no price rows", "before the first", "has no price row", "calendar day 0 .* after", "data calendar")
    for kind in (*kinds, "no exchange calendar: the event date .* after", "outside the exchange calendar: the event"):
        assert out["reason"].str.contains(kind).any(), kind  # the design reaches every kind of reason


# ---------------------------------------------------------------------------------------------------------
# the on-disk calendar cache


@pytest.fixture
def calendar_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache folder for this test, and no calendar arrays in memory before or after it."""
    monkeypatch.setenv(calendars.ENV_CACHE, str(tmp_path / "cache"))
    calendars._calendar_arrays.cache_clear()
    yield tmp_path / "cache" / "calendars"
    calendars._calendar_arrays.cache_clear()


def _built_by_exchange_calendars(name: str, start: pd.Timestamp) -> tuple[np.ndarray, np.ndarray, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cal = xcals.get_calendar(name, start=start)
    sessions = pd.DatetimeIndex(cal.sessions).as_unit("ns").asi8
    return sessions, pd.DatetimeIndex(cal.closes).tz_convert("UTC").as_unit("ns").asi8, str(cal.tz)


def _no_build(name: str, start: object) -> None:
    raise AssertionError(f"calendar {name} was built instead of read from the cache")


def test_calendar_arrays_are_written_once_then_read_without_building(
    calendar_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = pd.Timestamp("2016-01-01")
    first = calendars._calendar_arrays("XHKG", start)
    files = list(calendar_cache.glob("*.npz"))
    assert [f.name.split("_")[:2] for f in files] == [["XHKG", "20160101"]]
    assert not list(calendar_cache.glob("*.tmp"))  # written whole, then renamed
    calendars._calendar_arrays.cache_clear()
    monkeypatch.setattr(calendars, "_build_calendar", _no_build)
    again = calendars._calendar_arrays("XHKG", start)
    want = _built_by_exchange_calendars("XHKG", start)
    for got in (first, again):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[2] == want[2] == "Asia/Hong_Kong"
        assert not got[0].flags.writeable
    # a later start is another file
    calendars._calendar_arrays.cache_clear()
    monkeypatch.undo()
    monkeypatch.setenv(calendars.ENV_CACHE, str(calendar_cache.parent))
    calendars._calendar_arrays("XHKG", pd.Timestamp("2018-01-01"))
    assert len(list(calendar_cache.glob("XHKG_*.npz"))) == 2


@pytest.mark.parametrize("damage", [b"", b"not a numpy file", "wrong arrays"])
def test_a_damaged_cache_file_is_rebuilt_and_replaced(calendar_cache: Path, damage: bytes | str) -> None:
    start = pd.Timestamp("2017-01-01")
    path = calendars._cache_file("XNYS", start)
    assert path is not None and path.parent == calendar_cache
    calendar_cache.mkdir(parents=True)
    if isinstance(damage, bytes):
        path.write_bytes(damage)
    else:  # a valid .npz of the wrong content: unsorted sessions
        with path.open("wb") as f:
            np.savez(f, sessions=np.array([3, 2, 1]), closes=np.array([1, 2, 3]), tz=np.array("UTC"))
    got = calendars._calendar_arrays("XNYS", start)
    want = _built_by_exchange_calendars("XNYS", start)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert calendars._read_cached(path) is not None  # the file now holds the calendar


def test_no_cache_file_when_switched_off_or_unwritable_or_not_built_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calendar_cache: Path
) -> None:
    start = pd.Timestamp("2019-01-01")
    monkeypatch.setenv(calendars.ENV_CACHE, "off")
    assert calendars.calendar_cache_dir() is None and calendars._cache_file("XNYS", start) is None
    # a folder that cannot be made (a file is in the way): the calendar is still given, nothing written
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    monkeypatch.setenv(calendars.ENV_CACHE, str(blocker))
    sessions = calendars._calendar_arrays("XNYS", start)[0]
    np.testing.assert_array_equal(sessions, _built_by_exchange_calendars("XNYS", start)[0])
    assert blocker.is_file()
    # a calendar the user replaced is not exchange_calendars' own: never cached
    monkeypatch.setenv(calendars.ENV_CACHE, str(calendar_cache.parent))
    dispatcher = xcals.calendar_utils.global_calendar_dispatcher
    replaced = type("Replaced", (dispatcher._calendar_factories["XNYS"],), {})
    monkeypatch.setitem(dispatcher._calendar_factories, "XNYS", replaced)
    assert calendars._cache_file("XNYS", start) is None
    assert calendars._cache_file("XHKG", start) is not None


def test_default_cache_folder_is_the_user_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(calendars.ENV_CACHE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert calendars.calendar_cache_dir() == tmp_path / "eventstudy" / "calendars"
