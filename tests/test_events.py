"""Tests of ``eventstudy.events``: the seed events file and every validation error.

Expected values are written by hand from ``docs/events.md`` §4.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventstudy.errors import InputError, UnknownNameError
from eventstudy.events import (
    COLUMNS,
    Event,
    event_ticker_pairs,
    events_from_frame,
    events_to_frame,
    read_events,
    select_events,
    selection_text,
)

EVENTS_CSV = Path(__file__).resolve().parents[1] / "events.csv"
EVENTSTUDY = Path(sys.executable).with_name("eventstudy")  # the console script of this environment
HEADER = "event_id,date,time,timezone,headline,category,tickers,benchmark,source,time_approximate"

SEED_IDS = [
    "ant_ipo_suspended",
    "samr_platform_antitrust_draft",
    "politburo_antimonopoly_pledge",
    "tencent_next_target_bbg",
    "xi_cfeac_platform_economy",
    "wsj_alibaba_media_divest",
    "pboc_data_jv_bbg",
    "trump_chip_tariff_pledge",
    "us_tariffs_can_mex_chn_signed",
    "us_tariff_pause_mexico",
    "us_tariff_pause_canada",
    "taiwan_moea_tariff_support",
    "kato_fujitv_fx_watch",
]
# event_id -> local time in docs/events.md §4 (all of them marked '~', i.e. approximate)
SEED_TIMES = {
    "ant_ipo_suspended": "21:00",
    "tencent_next_target_bbg": "15:00",
    "xi_cfeac_platform_economy": "19:00",
    "wsj_alibaba_media_divest": "08:00",
    "pboc_data_jv_bbg": "16:58",
    "trump_chip_tariff_pledge": "20:00",
    "us_tariff_pause_mexico": "10:00",
    "us_tariff_pause_canada": "17:40",
}


# ---------------------------------------------------------------------------------------------------------
# the seed file


@pytest.fixture(scope="module")
def seed() -> tuple[Event, ...]:
    return read_events(EVENTS_CSV)


def test_events_csv_header_is_exact() -> None:
    assert EVENTS_CSV.read_text(encoding="utf-8").splitlines()[0] == HEADER


def test_seed_events(seed: tuple[Event, ...]) -> None:
    assert [e.event_id for e in seed] == SEED_IDS
    assert [e.line for e in seed] == list(range(2, 15))
    for e in seed:
        assert len(e.tickers) == len(e.benchmarks) >= 1
        assert e.headline and e.category and e.source.count("http") >= 1
        if e.event_id in SEED_TIMES:
            assert e.time == dt.time.fromisoformat(SEED_TIMES[e.event_id])
            assert e.time_approximate is True
        else:
            assert e.time is None and e.timestamp is None
            assert e.time_approximate is False
    assert sum(len(e.tickers) for e in seed) == 72


def test_seed_tickers_and_benchmarks(seed: tuple[Event, ...]) -> None:
    by_id = {e.event_id: e for e in seed}
    ant = by_id["ant_ipo_suspended"]
    assert ant.date == dt.date(2020, 11, 3)
    assert ant.timezone == "Asia/Shanghai"
    assert ant.tickers == ("9988.HK", "BABA", "9984.T")
    assert ant.benchmarks == ("^HSI", "^GSPC", "^N225")
    assert ant.timestamp == pd.Timestamp("2020-11-03 13:00", tz="UTC")
    assert str(ant.timestamp.tz) == "Asia/Shanghai"
    tencent = by_id["tencent_next_target_bbg"]
    assert tencent.tickers == ("0700.HK", "TCEHY", "PRX.AS")
    assert tencent.benchmarks == ("^HSI", "^GSPC", "^AEX")
    signed = by_id["us_tariffs_can_mex_chn_signed"]
    assert signed.tickers[-2:] == ("MXN=X", "CAD=X")
    assert signed.benchmarks[-2:] == ("DX-Y.NYB", "DX-Y.NYB")
    assert signed.benchmarks[:7] == ("^TWII",) * 7
    assert by_id["kato_fujitv_fx_watch"].tickers == ("JPY=X",)
    assert by_id["kato_fujitv_fx_watch"].benchmarks == ("DX-Y.NYB",)
    assert by_id["taiwan_moea_tariff_support"].timezone == "Asia/Taipei"
    # 20:00 EST on 2025-01-27 is 01:00 UTC on 01-28
    assert by_id["trump_chip_tariff_pledge"].timestamp == pd.Timestamp("2025-01-28 01:00", tz="UTC")
    # US daylight time from 2021-03-14: 08:00 EDT = 12:00 UTC
    assert by_id["wsj_alibaba_media_divest"].timestamp == pd.Timestamp("2021-03-15 12:00", tz="UTC")


def test_event_ticker_pairs(seed: tuple[Event, ...]) -> None:
    pairs = event_ticker_pairs(seed)
    assert list(pairs.columns) == ["event_id", "ticker", "benchmark", "event_date", "event_time_utc", "timezone"]
    assert len(pairs) == 72
    assert pairs["event_date"].dtype == np.dtype("datetime64[ns]")
    assert str(pairs["event_time_utc"].dtype) == "datetime64[ns, UTC]"
    first = pairs.iloc[0]
    assert (first["event_id"], first["ticker"], first["benchmark"]) == ("ant_ipo_suspended", "9988.HK", "^HSI")
    assert first["event_time_utc"] == pd.Timestamp("2020-11-03 13:00", tz="UTC")
    assert first["event_date"] == pd.Timestamp("2020-11-03")
    samr = pairs[pairs["event_id"] == "samr_platform_antitrust_draft"]
    assert len(samr) == 9 and samr["event_time_utc"].isna().all()


# ---------------------------------------------------------------------------------------------------------
# defaults and conveniences


def _write(tmp_path: Path, text: str, name: str = "events.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_benchmark_defaults_single_and_list(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "event_id,date,tickers,benchmark\n"
        "a,2021-03-15,0700.HK;BABA;2330.TW;8035.T,\n"
        "b,2021-03-15,0700.HK;9988.HK,^HSCE\n"
        "c,2021-03-15,0700.HK;BABA;PRX.AS,^HSCE;;^AEX\n",
    )
    a, b, c = read_events(path)
    assert a.benchmarks == ("^HSI", "^GSPC", "^TWII", "^N225")
    assert b.benchmarks == ("^HSCE", "^HSCE")
    assert c.benchmarks == ("^HSCE", "^GSPC", "^AEX")  # an empty list item takes the default


def test_optional_columns_absent_and_utc_default(tmp_path: Path) -> None:
    path = _write(tmp_path, "event_id,date,tickers,time\nx,2021-03-15,BABA,14:30\n")
    (event,) = read_events(path)
    assert event.timezone == "UTC"
    assert event.timestamp == pd.Timestamp("2021-03-15 14:30", tz="UTC")
    assert (event.headline, event.category, event.source) == ("", "", "")
    assert event.benchmarks == ("^GSPC",)
    assert event.time_approximate is False


def test_date_only_row_with_empty_timezone_is_utc(tmp_path: Path) -> None:
    path = _write(tmp_path, f"{HEADER}\nx,2021-03-15,,,h,c,BABA,,s,\n")
    (event,) = read_events(path)
    assert event.timezone == "UTC" and event.time is None


def test_whitespace_bom_blank_lines_tilde_and_quoted_newlines(tmp_path: Path) -> None:
    text = (
        "\ufeff" + HEADER + "\n"
        '" a ", 2021-03-15 , ~ 15:00 ,Asia/Hong_Kong,"two\nline headline",cat, 0700.HK ; BABA , ^HSI ; ^GSPC ,src,\n'
        "\n"
        "b,2021-03-16,09:30:15,America/New_York,h,c,BABA,^GSPC,s,TRUE\n"
    )
    a, b = read_events(_write(tmp_path, text))
    assert a.event_id == "a"
    assert a.tickers == ("0700.HK", "BABA") and a.benchmarks == ("^HSI", "^GSPC")
    assert a.time == dt.time(15, 0) and a.time_approximate is True
    assert a.headline == "two\nline headline"
    assert (a.line, b.line) == (2, 5)  # row a spans lines 2-3, line 4 is blank
    assert b.time == dt.time(9, 30, 15) and b.time_approximate is True


def test_frame_round_trip(seed: tuple[Event, ...]) -> None:
    frame = events_to_frame(seed)
    assert list(frame.columns) == list(COLUMNS)
    assert frame.loc[0, "time"] == "21:00"
    assert frame.loc[1, "time"] == ""
    assert frame["time_approximate"].dtype == bool
    again = events_from_frame(frame)
    assert all(e.line is None for e in again)
    assert again == tuple(Event(**{**vars(e), "line": None}) for e in seed)


def test_events_from_frame_accepts_typed_columns() -> None:
    frame = pd.DataFrame(
        {
            "event_id": ["a", "b"],
            "date": pd.to_datetime(["2021-03-15", "2021-03-16"]),
            "time": ["08:00", np.nan],
            "timezone": ["America/New_York", None],
            "tickers": [["BABA", "0700.HK"], "TCEHY"],
            "time_approximate": [True, False],
        }
    )
    a, b = events_from_frame(frame)
    assert a.tickers == ("BABA", "0700.HK") and a.benchmarks == ("^GSPC", "^HSI")
    assert a.time_approximate is True and a.timestamp == pd.Timestamp("2021-03-15 12:00", tz="UTC")
    assert b.time is None and b.timezone == "UTC" and b.date == dt.date(2021, 3, 16)


def test_events_from_frame_with_pandas_text_columns() -> None:
    # pandas text (as read from Parquet) with missing cells: a missing headline is empty, a missing ticker an error
    frame = pd.DataFrame(
        {
            "event_id": ["a", "b"],
            "date": ["2021-03-15", "2021-03-16"],
            "tickers": ["BABA", "JD"],
            "headline": [" x ", None],
        }
    ).astype("string")
    a, b = events_from_frame(frame)
    assert (a.event_id, a.headline, b.headline, b.tickers, b.benchmarks) == ("a", "x", "", ("JD",), ("^GSPC",))
    with pytest.raises(InputError) as info:
        events_from_frame(frame.assign(tickers=pd.array(["BABA", pd.NA], dtype="string")))
    assert (info.value.line, info.value.column) == (3, "tickers")


def test_events_from_frame_errors_point_at_rows() -> None:
    frame = pd.DataFrame(
        {"event_id": ["a", "b", "c"], "date": ["2021-03-15", "2021-03-16", "15/03/2021"], "tickers": "BABA"}
    )
    with pytest.raises(InputError) as info:
        events_from_frame(frame, path="my frame")
    err = info.value
    assert (err.path, err.line, err.column, err.value) == ("my frame", 4, "date", "15/03/2021")
    with pytest.raises(InputError) as info:
        events_from_frame(frame.drop(columns="tickers"))
    assert (info.value.path, info.value.line, info.value.column) == ("<DataFrame>", 1, "tickers")


def test_ambiguous_local_time_is_the_first_occurrence(tmp_path: Path) -> None:
    # 01:30 happened twice in New York on 2021-11-07; the first time was EDT (UTC-4).
    path = _write(tmp_path, "event_id,date,time,timezone,tickers\na,2021-11-07,01:30,America/New_York,BABA\n")
    (event,) = read_events(path)
    assert event.timestamp == pd.Timestamp("2021-11-07 05:30", tz="UTC")
    pairs = event_ticker_pairs([event])
    assert pairs["event_time_utc"].iloc[0] == pd.Timestamp("2021-11-07 05:30", tz="UTC")


def test_unicode_white_space_around_cells_is_stripped(tmp_path: Path) -> None:
    # str.strip removes the no-break space, the em space and tabs as it removes blanks
    text = "event_id,date,time,timezone,tickers,benchmark\n\u00a0a\t,\u20032021-03-15,\t10:00 ,UTC , BABA ;JD\u00a0,\n"
    (event,) = read_events(_write(tmp_path, text))
    assert (event.event_id, event.date, event.time) == ("a", dt.date(2021, 3, 15), dt.time(10, 0))
    assert (event.timezone, event.tickers, event.benchmarks) == ("UTC", ("BABA", "JD"), ("^GSPC", "^GSPC"))


def test_rows_repeating_a_ticker_list_keep_their_own_benchmarks(tmp_path: Path) -> None:
    # Lists are split once per distinct cell; the benchmarks depend on the ticker and the benchmark cell.
    rows = [
        "a,2021-03-15,BABA;0700.HK,",
        "b,2021-03-15,BABA;0700.HK,^N225",
        "c,2021-03-16,BABA; 0700.HK,;^HSCE",
        "d,2021-03-15,0700.HK;BABA,",
        "e,2021-03-16,BABA;0700.HK,",
        "f,2021-03-15,BABA,^N225",
    ]
    events = read_events(_write(tmp_path, "event_id,date,tickers,benchmark\n" + "\n".join(rows) + "\n"))
    assert [e.tickers for e in events] == [("BABA", "0700.HK")] * 3 + [("0700.HK", "BABA")] + [("BABA", "0700.HK")] + [
        ("BABA",)
    ]
    assert [e.benchmarks for e in events] == [
        ("^GSPC", "^HSI"),
        ("^N225", "^N225"),
        ("^GSPC", "^HSCE"),
        ("^HSI", "^GSPC"),
        ("^GSPC", "^HSI"),
        ("^N225",),
    ]
    assert [e.date.day for e in events] == [15, 15, 16, 15, 16, 15]
    assert [e.line for e in events] == [2, 3, 4, 5, 6, 7]


def test_frame_and_pairs_text_by_hand() -> None:
    # HH:MM unless the seconds are set; microseconds are dropped from the text and from the UTC instant
    events = (
        Event("a", dt.date(1700, 1, 1), None, "UTC", "", "", ("A",), ("B",), "", False),
        Event(
            "b",
            dt.date(2021, 11, 7),
            dt.time(1, 30, 15, 999),
            "America/New_York",
            "h",
            "c",
            ("X", "Y"),
            ("M", "N"),
            "s",
            True,
        ),
        Event(
            "c",
            dt.date(2021, 3, 15),
            dt.time(19, 0, 0, 5),
            "Asia/Hong_Kong",
            "",
            "",
            ("0700.HK",),
            ("^HSI",),
            "",
            False,
        ),
        Event("d", dt.date(2020, 2, 29), dt.time(0, 0, 59), "UTC", "", "", ("Z",), ("M",), "", False),
    )
    frame = events_to_frame(events)
    assert frame["date"].tolist() == ["1700-01-01", "2021-11-07", "2021-03-15", "2020-02-29"]
    assert frame["time"].tolist() == ["", "01:30:15", "19:00", "00:00:59"]
    assert frame["tickers"].tolist() == ["A", "X;Y", "0700.HK", "Z"]
    assert frame["benchmark"].tolist() == ["B", "M;N", "^HSI", "M"]
    assert frame["time_approximate"].tolist() == [False, True, False, False]
    pairs = event_ticker_pairs(events)
    assert pairs["event_id"].tolist() == ["a", "b", "b", "c", "d"]
    assert pairs["ticker"].tolist() == ["A", "X", "Y", "0700.HK", "Z"]
    assert pairs["benchmark"].tolist() == ["B", "M", "N", "^HSI", "M"]
    assert pairs["event_date"].tolist()[:2] == [pd.Timestamp("1700-01-01"), pd.Timestamp("2021-11-07")]
    # 01:30:15 is ambiguous in New York on 2021-11-07: the first occurrence, EDT (UTC-4); HKT is UTC+8
    expected = [pd.NaT, "2021-11-07 05:30:15", "2021-11-07 05:30:15", "2021-03-15 11:00", "2020-02-29 00:00:59"]
    assert pairs["event_time_utc"].tolist()[1:] == [pd.Timestamp(t, tz="UTC") for t in expected[1:]]
    assert pd.isna(pairs["event_time_utc"].iloc[0])
    assert pairs["timezone"].tolist() == ["UTC", "America/New_York", "America/New_York", "Asia/Hong_Kong", "UTC"]


def test_event_requires_aligned_benchmarks() -> None:
    with pytest.raises(ValueError, match="aligned"):
        Event("a", dt.date(2021, 1, 4), None, "UTC", "", "", ("BABA", "JD"), ("^GSPC",), "", False)


# ---------------------------------------------------------------------------------------------------------
# validation errors: path, line, column and a helpful message

GOOD = "ok,2021-03-15,08:00,America/New_York,h,c,BABA,^GSPC,s,true"


@pytest.mark.parametrize(
    ("rows", "line", "column", "fragments"),
    [
        # event_id
        ([",2021-03-15,,,h,c,BABA,,s,"], 3, "event_id", ["empty event_id"]),
        (["ok,2021-03-16,,,h,c,BABA,,s,"], 3, "event_id", ["duplicate event_id 'ok'", "lines 2 and 3"]),
        # date
        (["x,2021-3-15,,,h,c,BABA,,s,"], 3, "date", ["invalid date '2021-3-15'", "YYYY-MM-DD"]),
        (["x,2021-02-30,,,h,c,BABA,,s,"], 3, "date", ["invalid date '2021-02-30'"]),
        (["x,15/03/2021,,,h,c,BABA,,s,"], 3, "date", ["YYYY-MM-DD"]),
        # time
        (["x,2021-03-15,25:00,UTC,h,c,BABA,,s,"], 3, "time", ["invalid time '25:00'", "HH:MM or HH:MM:SS"]),
        (["x,2021-03-15,9:30,UTC,h,c,BABA,,s,"], 3, "time", ["invalid time '9:30'"]),
        (["x,2021-03-15,~,UTC,h,c,BABA,,s,"], 3, "time", ["invalid time '~'"]),
        (["x,2021-03-14,02:30,America/New_York,h,c,BABA,,s,"], 3, "time", ["does not exist", "daylight-saving"]),
        # timezone
        (["x,2021-03-15,10:00,HKT,h,c,0700.HK,,s,"], 3, "timezone", ["unknown time zone 'HKT'", "IANA"]),
        (["x,2021-03-15,10:00,,h,c,0700.HK,,s,"], 3, "timezone", ["without a time zone"]),
        (["x,2021-03-15,,Mars/Olympus,h,c,0700.HK,,s,"], 3, "timezone", ["unknown time zone 'Mars/Olympus'"]),
        # tickers
        (["x,2021-03-15,,,h,c,,,s,"], 3, "tickers", ["empty ticker list"]),
        (["x,2021-03-15,,,h,c,  ,,s,"], 3, "tickers", ["empty ticker list"]),
        (["x,2021-03-15,,,h,c,BABA;;JD,,s,"], 3, "tickers", ["empty item at position 2", "of event 'x'"]),
        (["x,2021-03-15,,,h,c,BABA; JD ;BABA,,s,"], 3, "tickers", ["'BABA' appears more than once", "'x'"]),
        (['x,2021-03-15,,,h,c,"BABA,JD",,s,'], 3, "tickers", ["contains a space or a comma", "';'"]),
        # benchmark
        (["x,2021-03-15,,,h,c,BABA;JD,^GSPC;^GSPC;^HSI,s,"], 3, "benchmark", ["3 benchmarks for 2 tickers"]),
        (["x,2021-03-15,,,h,c,BABA;JD;PDD,^GSPC;^GSPC,s,"], 3, "benchmark", ["2 benchmarks for 3 tickers"]),
        (["x,2021-03-15,,,h,c,PRX.AS,,s,"], 3, "benchmark", ["'PRX.AS'", "give a benchmark"]),
        (["x,2021-03-15,,,h,c,BABA;JPY=X,^GSPC;,s,"], 3, "benchmark", ["'JPY=X'", "give a benchmark"]),
        # time_approximate
        (
            ["x,2021-03-15,10:00,UTC,h,c,BABA,,s,maybe"],
            3,
            "time_approximate",
            ["invalid time_approximate 'maybe'", "true, false"],
        ),
        (["x,2021-03-15,,UTC,h,c,BABA,,s,true"], 3, "time_approximate", ["time is empty"]),
        (["x,2021-03-15,~10:00,UTC,h,c,BABA,,s,false"], 3, "time_approximate", ["'~'"]),
        # structure
        (["x,2021-03-15,,,h,c,BABA,,s"], 3, None, ["expected 10 fields", "found 9"]),
        # digits other than ASCII (pandas would read the date; datetime.date.fromisoformat would not)
        (["x,\u0662\u0660\u0662\u0661-03-15,,,h,c,BABA,,s,"], 3, "date", ["invalid date", "YYYY-MM-DD"]),
        (["x,\uff12\uff10\uff12\uff11-03-15,,,h,c,BABA,,s,"], 3, "date", ["invalid date", "YYYY-MM-DD"]),
        (["x,2021-03-15,1\uff19:30,UTC,h,c,BABA,,s,"], 3, "time", ["invalid time", "HH:MM or HH:MM:SS"]),
        # white space other than blanks inside a symbol
        (["x,2021-03-15,,,h,c,BA\u2003BA,,s,"], 3, "tickers", ["contains a space or a comma"]),
        (["x,2021-03-15,,,h,c,BABA;JD,^GSPC;^G\u00a0SPC,s,"], 3, "benchmark", ["contains a space or a comma"]),
    ],
)
def test_bad_rows(tmp_path: Path, rows: list[str], line: int, column: str | None, fragments: list[str]) -> None:
    path = _write(tmp_path, "\n".join([HEADER, GOOD, *rows]) + "\n")
    with pytest.raises(InputError) as info:
        read_events(path)
    err = info.value
    assert err.path == str(path)
    assert err.line == line
    assert err.column == column
    for fragment in fragments:
        assert fragment in err.message
    assert str(path) in str(err) and f":{line}" in str(err)
    assert err.exit_code == 2


def test_error_line_counts_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    text = HEADER + '\na,2021-03-15,,,"multi\nline",c,BABA,,s,\n\nb,2021-13-01,,,h,c,BABA,,s,\n'
    with pytest.raises(InputError) as info:
        read_events(_write(tmp_path, text))
    assert (info.value.line, info.value.column, info.value.value) == (5, "date", "2021-13-01")


@pytest.mark.parametrize(
    ("header", "column", "fragments"),
    [
        ("event_id,date,time", "tickers", ["missing required column(s) 'tickers'", HEADER]),
        ("date,tickers", "event_id", ["missing required column(s) 'event_id'", HEADER]),
        ("event_id,date,tickers,benchmarks", "benchmarks", ["unknown column(s) 'benchmarks'", HEADER]),
        ("event_id,date,tickers,date", "date", ["appears twice"]),
    ],
)
def test_bad_header(tmp_path: Path, header: str, column: str, fragments: list[str]) -> None:
    path = _write(tmp_path, header + "\nx,2021-03-15,BABA\n")
    with pytest.raises(InputError) as info:
        read_events(path)
    err = info.value
    assert (err.path, err.line, err.column) == (str(path), 1, column)
    for fragment in fragments:
        assert fragment in err.message


@pytest.mark.parametrize("content", ["", "\ufeff", "\n\n  \n", ",,,\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(InputError) as info:
        read_events(path)
    assert (info.value.path, info.value.line) == (str(path), 1)
    assert "empty" in info.value.message and HEADER in info.value.message


def test_header_without_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "\n")
    with pytest.raises(InputError, match="no events") as info:
        read_events(path)
    assert info.value.line == 1


def test_not_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "\nx,2021-03-15,,,Caf\u00e9,c,BABA,,s,\n", encoding="latin-1")
    with pytest.raises(InputError, match="UTF-8") as info:
        read_events(path)
    assert info.value.line == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read") as info:
        read_events(tmp_path / "nope.csv")
    assert info.value.path == str(tmp_path / "nope.csv")


# ---------------------------------------------------------------------------------------------------------
# hostile events: dates outside the supported range, missing list items, long ids

# The supported range, written out independently of the code: from 1700-01-01 (chosen in
# eventstudy.calendars to keep estimation windows inside pandas' nanosecond range, which starts 1677-09-21)
# to the end of exchange_calendars' default calendars, one year after today (../shared/docs/ECOSYSTEM.md §3.2).
FIRST_DATE = dt.date(1700, 1, 1)
LAST_DATE = (pd.Timestamp(dt.date.today()) + pd.DateOffset(years=1)).date()
OUT_OF_RANGE = [
    ("2097-01-02", "late"),
    ("9999-12-31", "late"),
    ("0001-01-01", "early"),
    ("1699-12-31", "early"),
    ((LAST_DATE + dt.timedelta(days=1)).isoformat(), "late"),
]


@pytest.mark.parametrize(("date", "side"), OUT_OF_RANGE)
def test_date_outside_the_supported_range(tmp_path: Path, date: str, side: str) -> None:
    path = _write(tmp_path, "\n".join([HEADER, GOOD, f"far,{date},,,h,c,BABA,,s,"]) + "\n")
    with pytest.raises(InputError) as info:
        read_events(path)
    err = info.value
    assert (err.path, err.line, err.column, err.value) == (str(path), 3, "date", date)
    assert f"date {date} is outside the supported range {FIRST_DATE} to {LAST_DATE}" in err.message
    assert ("after today has no prices yet" in err.message) == (side == "late")
    assert ("1677-09-21" in err.message) == (side == "early")
    assert err.message.endswith("correct the date or remove the event")


@pytest.mark.parametrize(
    "dates",
    [
        ["2021-03-15", "2097-01-02"],
        [dt.date(2021, 3, 15), dt.date(1, 1, 1)],
        [dt.date(2021, 3, 15), dt.date(9999, 12, 31)],
        pd.to_datetime(["2021-03-15", "9999-12-31"]),  # datetime64[us]: pandas 3 holds any year
        pd.to_datetime(["2021-03-15", "2097-01-02"]).as_unit("ns"),
    ],
)
def test_date_outside_the_supported_range_through_the_python_api(dates: object) -> None:
    frame = pd.DataFrame({"event_id": ["ok", "far"], "date": dates, "tickers": "BABA"})
    with pytest.raises(InputError) as info:
        events_from_frame(frame, path="api")
    err = info.value
    assert (err.path, err.line, err.column) == ("api", 3, "date")
    assert "outside the supported range" in err.message


def test_dates_at_the_edges_of_the_range_and_in_the_future_are_accepted(tmp_path: Path) -> None:
    soon = dt.date.today() + dt.timedelta(days=30)  # no prices yet: the study excludes it with a reason
    rows = [f"a,{FIRST_DATE},BABA", f"b,{LAST_DATE},BABA", f"c,{soon},0700.HK"]
    events = read_events(_write(tmp_path, "event_id,date,tickers\n" + "\n".join(rows) + "\n"))
    assert [e.date for e in events] == [FIRST_DATE, LAST_DATE, soon]
    pairs = event_ticker_pairs(events)
    assert list(pairs["event_date"]) == [pd.Timestamp(FIRST_DATE), pd.Timestamp(LAST_DATE), pd.Timestamp(soon)]


@pytest.mark.parametrize(
    ("tickers", "position", "kind"),
    [
        (["BABA", None], 2, "missing"),
        ([np.nan, "BABA"], 1, "missing"),
        (("BABA", "JD", pd.NA), 3, "missing"),
        (["BABA", 700], 2, "a int, not a string"),
    ],
)
def test_ticker_list_items_must_be_symbols(tickers: list[object], position: int, kind: str) -> None:
    frame = pd.DataFrame(
        {"event_id": ["ok", "bad one"], "date": ["2021-03-15", "2021-03-16"], "tickers": [["JD"], tickers]}
    )
    with pytest.raises(InputError) as info:
        events_from_frame(frame, path="api")
    err = info.value
    assert (err.path, err.line, err.column) == ("api", 3, "tickers")
    assert f"item {position} of the ticker list of event 'bad one'" in err.message
    assert f"({kind})" in err.message
    assert isinstance(err.value, list) and len(err.value) == len(tickers)
    assert err.exit_code == 2


def test_a_missing_ticker_cell_is_an_empty_list() -> None:
    frame = pd.DataFrame({"event_id": ["a"], "date": ["2021-03-15"], "tickers": [None]})
    with pytest.raises(InputError, match="empty ticker list") as info:
        events_from_frame(frame)
    assert (info.value.line, info.value.column) == (2, "tickers")


def test_benchmark_list_items() -> None:
    # A missing benchmark item means the default, like an empty item; a non-string one is an error.
    frame = pd.DataFrame(
        {
            "event_id": ["a"],
            "date": ["2021-03-15"],
            "tickers": [["0700.HK", "BABA", "2330.TW"]],
            "benchmark": [["^HSCE", None, np.nan]],
        }
    )
    (event,) = events_from_frame(frame)
    assert event.benchmarks == ("^HSCE", "^GSPC", "^TWII")
    frame["benchmark"] = [[1.5, "^GSPC", "^TWII"]]
    with pytest.raises(InputError) as info:
        events_from_frame(frame, path="api")
    assert (info.value.line, info.value.column) == (2, "benchmark")
    assert "item 1 of the benchmark list of event 'a' is 1.5 (a float, not a string)" in info.value.message


def test_event_ids_have_no_length_limit(tmp_path: Path) -> None:
    long_id = "central-bank-statement-" * 13 + "x"  # 300 characters
    assert len(long_id) == 300
    (event,) = read_events(_write(tmp_path, f"event_id,date,tickers\n{long_id},2021-03-15,BABA\n"))
    assert event.event_id == long_id
    (again,) = events_from_frame(events_to_frame([event]))
    assert again.event_id == long_id


def _run_cli(tmp_path: Path, events: Path) -> subprocess.CompletedProcess[str]:
    prices = tmp_path / "prices"
    prices.mkdir(exist_ok=True)
    command = [str(EVENTSTUDY), "run", str(events), "--prices", str(prices), "--quiet", "--out", str(tmp_path / "out")]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    "date",
    [
        "9999-12-31",
        pytest.param("2097-01-02", marks=pytest.mark.slow),
        pytest.param("0001-01-01", marks=pytest.mark.slow),
    ],
)
def test_console_script_rejects_an_out_of_range_date(tmp_path: Path, date: str) -> None:
    events = _write(tmp_path, f"event_id,date,tickers\nok,2021-03-15,BABA\nfar,{date},BABA\n")
    done = _run_cli(tmp_path, events)
    assert done.returncode == 2, done.stderr
    assert f"{events}:3: column 'date'" in done.stderr
    assert f"date {date} is outside the supported range" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------------------
# selection (the seed file: 7 events in 2020-21, 6 in 2025; categories by hand from events.csv)
class TestSelectEvents:
    def test_by_date(self, seed: tuple[Event, ...]) -> None:
        early = select_events(seed, start="2020-01-01", end=dt.date(2021, 12, 31))
        assert [e.event_id for e in early] == SEED_IDS[:7]
        late = select_events(seed, start="2025-01-01")
        assert [e.event_id for e in late] == SEED_IDS[7:]
        # inclusive at both ends: the two 2021-03-15 events
        assert [e.event_id for e in select_events(seed, start="2021-03-15", end="2021-03-15")] == [
            "xi_cfeac_platform_economy",
            "wsj_alibaba_media_divest",
        ]

    def test_by_id_and_category(self, seed: tuple[Event, ...]) -> None:
        chosen = select_events(seed, ids=["pboc_data_jv_bbg,ant_ipo_suspended"])
        assert [e.event_id for e in chosen] == ["ant_ipo_suspended", "pboc_data_jv_bbg"]  # file order
        reports = select_events(seed, categories="regulatory_report")
        assert [e.event_id for e in reports] == [
            "tencent_next_target_bbg",
            "wsj_alibaba_media_divest",
            "pboc_data_jv_bbg",
        ]
        both = select_events(seed, categories=["policy_signal", "regulatory_report"], end="2021-03-15")
        assert [e.event_id for e in both] == [
            "politburo_antimonopoly_pledge",
            "tencent_next_target_bbg",
            "xi_cfeac_platform_economy",
            "wsj_alibaba_media_divest",
        ]

    def test_unknown_names_list_the_valid_ones(self, seed: tuple[Event, ...]) -> None:
        with pytest.raises(UnknownNameError) as info:
            select_events(seed, ids="ant_ipo_suspended,nope")
        assert info.value.parameter == "--events" and info.value.value == "nope"
        assert "pboc_data_jv_bbg" in str(info.value)
        with pytest.raises(UnknownNameError) as info:
            select_events(seed, categories="regulation")
        assert info.value.parameter == "--category" and "regulatory_report" in str(info.value)

    @pytest.mark.parametrize(
        ("kwargs", "parameter"),
        [
            ({"start": "2022-01-01", "end": "2024-12-31"}, "--from"),
            ({"start": "2021-13-01"}, "--from"),
            ({"end": "soon"}, "--to"),
            ({"start": "2021-01-01", "end": "2020-01-01"}, "--from"),
            ({"ids": "ant_ipo_suspended", "start": "2025-01-01"}, "--events"),
        ],
    )
    def test_bad_or_empty_selection(self, seed: tuple[Event, ...], kwargs: dict[str, str], parameter: str) -> None:
        with pytest.raises(InputError) as info:
            select_events(seed, **kwargs)  # type: ignore[arg-type]
        assert info.value.parameter == parameter

    def test_empty_selection_message_states_the_range(self, seed: tuple[Event, ...]) -> None:
        with pytest.raises(InputError, match=r"leaves no event.*run from 2020-11-03 to 2025-02-03"):
            select_events(seed, start="2022-01-01", end="2024-12-31")

    def test_selection_text(self) -> None:
        assert selection_text(13, 13) == ""
        assert selection_text(13, 7, start="2020-01-01", end="2021-12-31") == (
            "7 of 13 events: dated from 2020-01-01 to 2021-12-31"
        )
        assert selection_text(13, 2, ids=["a", "b"], categories="x,y") == "2 of 13 events: ids a, b; category x or y"


# ---------------------------------------------------------------------------------------------------------
# the two readers (byte-split plain files, csv-module files with quotes) and Parquet events


def _many_rows(n: int) -> list[str]:
    """Rows of one or two tickers, timed or not, some approximate, in several zones; one per event."""
    rows = []
    for i in range(n):
        day = dt.date(2020, 1, 1) + dt.timedelta(days=i % 700)
        if i % 3 == 0:
            rows.append(f"e{i},{day},~{i % 24:02d}:15,Asia/Hong_Kong,h{i},c{i % 4},0700.HK;BABA,,s,")
        elif i % 3 == 1:
            rows.append(f"e{i},{day},{i % 24:02d}:45:10,America/New_York,h{i},,BABA, ^GSPC ,s,false")
        else:
            rows.append(f"e{i},{day},,,h{i},c1,JD,,s,")
    return rows


def test_plain_and_quoted_files_read_alike(tmp_path: Path) -> None:
    rows = _many_rows(300)
    plain = read_events(_write(tmp_path, "\r\n".join([HEADER, *rows[:150], "  , ,", *rows[150:]]) + "\r\n"))
    # one quoted headline sends the same rows through the csv module, record by record
    quoted = [rows[0].replace(",h0,", ',"h0",'), *rows[1:]]
    other = tmp_path / "quoted"
    other.mkdir()
    slow = read_events(_write(other, "\n".join([HEADER, *quoted[:150], "  , ,", *quoted[150:]]) + "\n"))
    assert plain == slow  # every field, the line numbers included (line 152 is blank)
    assert [e.line for e in plain[148:152]] == [150, 151, 153, 154]
    # hand-read fields of three rows
    assert plain[0].tickers == ("0700.HK", "BABA") and plain[0].benchmarks == ("^HSI", "^GSPC")
    assert plain[0].time == dt.time(0, 15) and plain[0].time_approximate
    assert plain[1].benchmarks == ("^GSPC",) and plain[1].time == dt.time(1, 45, 10)
    assert plain[2].timezone == "UTC" and plain[2].time is None and plain[2].benchmarks == ("^GSPC",)


def test_plain_file_ragged_line_after_a_blank_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "\n".join([HEADER, GOOD, "", " ", "x,2021-03-15,,,h,c,BABA,,s"]) + "\n")
    with pytest.raises(InputError) as info:
        read_events(path)
    err = info.value
    assert (err.line, err.column) == (5, None)
    assert "expected 10 fields" in err.message and "found 9" in err.message
    assert err.value == ["x", "2021-03-15", "", "", "h", "c", "BABA", "", "s"]


def test_plain_file_with_header_only_or_blank_rows(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_events(_write(tmp_path, HEADER + "\n,,,\n\n"))
    assert "no events" in info.value.message and info.value.line == 1


def test_parquet_events_equal_the_csv(tmp_path: Path) -> None:
    rows = _many_rows(50)
    from_csv = read_events(_write(tmp_path, "\n".join([HEADER, *rows]) + "\n"))
    frame = pd.read_csv(tmp_path / "events.csv", dtype=str, keep_default_na=False)
    frame.to_parquet(tmp_path / "events.parquet", index=False)
    from_parquet = read_events(tmp_path / "events.parquet")
    assert from_parquet == tuple(Event(**{**vars(e), "line": None}) for e in from_csv)


def test_parquet_events_errors_name_the_file(tmp_path: Path) -> None:
    frame = pd.DataFrame({"event_id": ["a", "a"], "date": ["2021-03-15", "2021-03-16"], "tickers": ["BABA", "JD"]})
    frame.to_parquet(tmp_path / "events.parquet", index=False)
    with pytest.raises(InputError) as info:
        read_events(tmp_path / "events.parquet")
    assert info.value.path == str(tmp_path / "events.parquet") and info.value.column == "event_id"
    (tmp_path / "bad.parquet").write_text("not parquet", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_events(tmp_path / "bad.parquet")
    assert "Parquet" in info.value.message


def test_old_mac_line_ends_are_read_record_by_record(tmp_path: Path) -> None:
    rows = _many_rows(5)
    events = read_events(_write(tmp_path, "\r".join([HEADER, *rows]) + "\r"))
    assert [e.event_id for e in events] == [f"e{i}" for i in range(5)] and events[4].line == 6
