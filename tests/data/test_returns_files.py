"""Tests of ReturnsFrame and ReturnsFile on small frames and files built in the tests.

Expected values are read off the hand-written data; nothing is computed with the code under test.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eventstudy.cli import main
from eventstudy.data import PriceSource, ReturnsFile, ReturnsFrame
from eventstudy.errors import InputError, PriceSourceError, ReturnUnitsWarning

D0, D1 = dt.date(2020, 1, 1), dt.date(2020, 12, 31)

WriteCsv = Callable[[str, str], Path]


def _dates(*text: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in text]


def _long_frame() -> pd.DataFrame:
    # Deliberately shuffled: two tickers, rows out of order.
    return pd.DataFrame(
        {
            "date": ["2020-01-03", "2020-01-02", "2020-01-06", "2020-01-02", "2020-01-03"],
            "ticker": ["AAA", "BBB", "AAA", "AAA", "BBB"],
            "return": [0.02, -0.01, -0.005, 0.01, 0.03],
        }
    )


class TestReturnsFrame:
    def test_load_sorted_slices(self) -> None:
        source = ReturnsFrame(_long_frame())
        a = source.load("AAA", D0, D1)
        assert list(a.dates) == _dates("2020-01-02", "2020-01-03", "2020-01-06")
        np.testing.assert_array_equal(a.values, [0.01, 0.02, -0.005])
        assert a.kind == "return" and a.price_field == "return" and a.volume is None
        b = source.load("BBB", D0, D1)
        assert list(b.dates) == _dates("2020-01-02", "2020-01-03")
        np.testing.assert_array_equal(b.values, [-0.01, 0.03])
        assert source.available_symbols() == ["AAA", "BBB"]
        assert source.description == "in-memory returns"
        assert isinstance(source, PriceSource)

    @pytest.mark.parametrize(
        "dates",
        [
            pytest.param(["2020-01-02", "2020-01-03"], id="iso-text"),
            pytest.param([20200102, 20200103], id="yyyymmdd-int"),
            pytest.param(["20200102", "20200103"], id="yyyymmdd-text"),
            pytest.param(pd.to_datetime(["2020-01-02", "2020-01-03"]), id="datetime64"),
            pytest.param(pd.to_datetime(["2020-01-02", "2020-01-03"]).tz_localize("America/New_York"), id="tz-aware"),
            pytest.param([dt.date(2020, 1, 2), dt.date(2020, 1, 3)], id="date-objects"),
        ],
    )
    def test_date_formats(self, dates: object) -> None:
        frame = pd.DataFrame({"Date": dates, "Ticker": ["X", "X"], "RETURN": [0.1, 0.2]})
        series = ReturnsFrame(frame).load("X", D0, D1)
        assert list(series.dates) == _dates("2020-01-02", "2020-01-03")
        assert series.dates.dtype == "datetime64[ns]"

    def test_date_index_is_accepted(self) -> None:
        frame = _long_frame().set_index("date")
        np.testing.assert_array_equal(ReturnsFrame(frame).load("BBB", D0, D1).values, [-0.01, 0.03])

    def test_numeric_tickers(self) -> None:
        frame = pd.DataFrame({"date": ["2020-01-02", "2020-01-02"], "ticker": [10107, 14593], "return": [0.1, 0.2]})
        np.testing.assert_array_equal(ReturnsFrame(frame).load("14593", D0, D1).values, [0.2])

    def test_empty_returns_are_dropped_and_noted(self) -> None:
        frame = _long_frame()
        frame.loc[0, "return"] = np.nan
        series = ReturnsFrame(frame).load("AAA", D0, D1)
        assert list(series.dates) == _dates("2020-01-02", "2020-01-06")
        assert series.notes == ("1 row(s) with an empty return dropped",)

    def test_unknown_ticker(self) -> None:
        with pytest.raises(PriceSourceError) as info:
            ReturnsFrame(_long_frame()).load("ZZZ", D0, D1)
        assert info.value.symbol == "ZZZ" and info.value.reason == "no data"

    @pytest.mark.parametrize(
        ("column", "row", "value"),
        [
            ("date", 1, "2020-02-30"),
            ("date", 2, None),
            ("ticker", 3, None),
            ("ticker", 3, "  "),
            ("return", 4, "1.2%"),
            ("return", 0, -1.0),
            ("return", 2, -1.5),
            ("return", 1, np.inf),
            ("return", 1, 1e308),
            ("return", 1, "1e308"),
            ("date", 3, "9999-12-31"),
            ("date", 3, dt.date(1, 1, 1)),
        ],
    )
    def test_bad_cells(self, column: str, row: int, value: object) -> None:
        frame = _long_frame().astype(object)
        frame.loc[row, column] = value
        with pytest.raises(InputError) as info:
            ReturnsFrame(frame, description="my returns")
        err = info.value
        assert err.column == column
        assert err.line is None
        assert f"row {row}" in str(err)
        assert err.parameter == "my returns"

    def test_duplicate_pair(self) -> None:
        frame = pd.concat([_long_frame(), _long_frame().iloc[[1]]], ignore_index=True)  # BBB 2020-01-02 again
        with pytest.raises(InputError) as info:
            ReturnsFrame(frame)
        assert "row 5" in str(info.value) and "row 1" in str(info.value)
        assert info.value.column == "date"

    def test_missing_column(self) -> None:
        with pytest.raises(InputError) as info:
            ReturnsFrame(_long_frame().drop(columns="ticker"))
        assert info.value.column == "ticker"

    def test_percent_values_warn_naming_the_row(self) -> None:
        frame = _long_frame()
        frame["return"] = [2.0, -1.0 + 0.5, -0.5, 1.0, 3.0]  # rows 0, 3, 4 have |r| >= 1: 3 of 5
        with pytest.warns(ReturnUnitsWarning) as record:
            source = ReturnsFrame(frame, description="my returns")
        assert len(record) == 1
        warning = record[0].message
        assert isinstance(warning, ReturnUnitsWarning)
        assert warning.parameter == "my returns" and warning.column == "return" and warning.value == 2.0
        assert "row 0" in str(warning) and "3 of 5 returns" in str(warning) and "percent" in str(warning)
        np.testing.assert_array_equal(source.load("AAA", D0, D1).values, [1.0, 2.0, -0.5])  # kept as given

    def test_decimal_returns_do_not_warn(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ReturnsFrame(_long_frame())

    def test_matches_a_pandas_groupby_on_many_rows(self) -> None:
        rng = np.random.default_rng(20261121)
        n_days, n_tickers = 400, 250
        dates = pd.bdate_range("2015-01-01", periods=n_days)
        frame = pd.DataFrame(
            {
                "date": np.tile(dates.values, n_tickers),
                "ticker": np.repeat([f"T{i:03d}" for i in range(n_tickers)], n_days),
                "return": rng.normal(0.0, 0.02, n_days * n_tickers),
            }
        ).sample(frac=0.9, random_state=7)
        source = ReturnsFrame(frame)
        for ticker in ("T000", "T123", "T249"):
            expected = frame[frame["ticker"] == ticker].sort_values("date")
            series = source.load(ticker, D0, D1)
            np.testing.assert_array_equal(series.dates.values, expected["date"].values)
            np.testing.assert_array_equal(series.values, expected["return"].values)


def _day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


class TestLoadTable:
    """``load_table``: the rows of many tickers as one PriceTable, checked against the hand-written frame."""

    def test_rows_offsets_and_failures(self) -> None:
        frame = _long_frame()
        frame.loc[4, "return"] = np.nan  # BBB 2020-01-03 empty: dropped and noted
        frame = pd.concat(
            [frame, pd.DataFrame({"date": ["2020-01-02"], "ticker": ["CCC"], "return": [np.nan]})], ignore_index=True
        )
        table, failed = ReturnsFrame(frame).load_table(["BBB", "ZZZ", "AAA", "CCC", "BBB"], D0, D1)
        assert table.symbols == ("BBB", "AAA")
        np.testing.assert_array_equal(table.offsets, [0, 1, 4])
        np.testing.assert_array_equal(
            table.day, [_day("2020-01-02"), _day("2020-01-02"), _day("2020-01-03"), _day("2020-01-06")]
        )
        np.testing.assert_array_equal(table.value, [-0.01, 0.01, 0.02, -0.005])
        np.testing.assert_array_equal(table.is_return, [True, True])
        assert not table.zero_volume.any()
        prov = table.provenance
        assert list(prov["symbol"]) == ["BBB", "AAA"] and list(prov["rows"]) == [1, 3]
        assert list(prov["price_field"]) == ["return", "return"]
        assert list(prov["notes"]) == ["1 row(s) with an empty return dropped", ""]
        assert list(prov["first_date"]) == _dates("2020-01-02", "2020-01-02")
        assert list(prov["last_date"]) == _dates("2020-01-02", "2020-01-06")
        assert sorted(failed) == ["CCC", "ZZZ"]
        assert failed["ZZZ"].reason == "no data" and "not in" in failed["ZZZ"].detail
        assert failed["CCC"].reason == "no data" and "empty" in failed["CCC"].detail

    def test_nothing_found(self) -> None:
        table, failed = ReturnsFrame(_long_frame()).load_table(["ZZZ"], D0, D1)
        assert table.symbols == () and len(table) == 0 and list(failed) == ["ZZZ"]
        np.testing.assert_array_equal(table.offsets, [0])

    def test_matches_a_pandas_sort_on_many_rows(self) -> None:
        rng = np.random.default_rng(20260101)
        n_days, n_tickers = 300, 120
        dates = pd.bdate_range("1965-06-01", periods=n_days)  # before and after 1970: negative day numbers too
        frame = pd.DataFrame(
            {
                "date": np.tile(dates.values, n_tickers),
                "ticker": np.repeat([f"T{i:03d}" for i in range(n_tickers)], n_days),
                "return": rng.normal(0.0, 0.02, n_days * n_tickers),
            }
        ).sample(frac=0.8, random_state=3)
        wanted = ["T077", "T003", "NOPE", "T119"]
        table, failed = ReturnsFrame(frame).load_table(wanted, D0, D1)
        assert table.symbols == ("T077", "T003", "T119") and list(failed) == ["NOPE"]
        expected = frame[frame["ticker"].isin(wanted)].assign(
            order=lambda f: f["ticker"].map({"T077": 0, "T003": 1, "T119": 2})
        )
        expected = expected.sort_values(["order", "date"])
        days = (expected["date"].to_numpy().astype("datetime64[D]")).astype(np.int64)
        np.testing.assert_array_equal(table.day, days)
        np.testing.assert_array_equal(table.value, expected["return"].to_numpy())
        np.testing.assert_array_equal(table.codes, expected["order"].to_numpy())
        for symbol in table.symbols:  # the per-symbol view gives what load() gives
            np.testing.assert_array_equal(table.series(symbol).dates, ReturnsFrame(frame).load(symbol).dates)


class TestReturnsFile:
    def test_load(self, write_csv: WriteCsv) -> None:
        path = write_csv(
            "crsp.csv",
            "date,ticker,return\n"
            "2020-01-03,AAA,0.02\n"
            "2020-01-02,BBB,-0.01\n"
            "\n"
            "20200106,AAA,-0.005\n"
            "2020-01-02,AAA,0.01\n"
            "2020-01-03,BBB,\n",
        )
        os.utime(path, (1_700_000_000, 1_700_000_000))
        source = ReturnsFile(path)
        assert isinstance(source, ReturnsFrame)
        a = source.load("AAA", D0, D1)
        assert list(a.dates) == _dates("2020-01-02", "2020-01-03", "2020-01-06")
        np.testing.assert_array_equal(a.values, [0.01, 0.02, -0.005])
        assert a.vintage == "2023-11-14T22:13:20+00:00"
        assert a.source == f"returns:{path.resolve()}"
        b = source.load("BBB", D0, D1)
        np.testing.assert_array_equal(b.values, [-0.01])
        assert b.notes == ("1 row(s) with an empty return dropped",)
        assert str(path) in source.description

    def test_extra_columns_and_header_case(self, write_csv: WriteCsv) -> None:
        path = write_csv("r.csv", "PERMNO,Date,Ticker,RET\n1,2020-01-02,AAA,0.5\n")
        with pytest.raises(InputError) as info:
            ReturnsFile(path)
        assert info.value.column == "return" and info.value.line == 1
        path = write_csv("r2.csv", "PERMNO,Date,Ticker,Return\n1,2020-01-02,AAA,0.5\n")
        np.testing.assert_array_equal(ReturnsFile(path).load("AAA", D0, D1).values, [0.5])

    @pytest.mark.parametrize(
        ("body", "line", "column"),
        [
            pytest.param("2020-01-02,AAA,0.1\n2020-01-32,AAA,0.1\n", 3, "date", id="bad-date"),
            pytest.param("2020-01-02,AAA,0.1\n\n2020-01-03,AAA,abc\n", 4, "return", id="text-after-blank"),
            pytest.param("2020-01-02,AAA,0.1\n2020-01-03,,0.1\n", 3, "ticker", id="no-ticker"),
            pytest.param("2020-01-02,AAA,0.1\n2020-01-03,AAA,-1.2\n", 3, "return", id="below-minus-one"),
            pytest.param(
                "2020-01-02,AAA,0.1\n2020-01-02,BBB,0.1\n2020-01-03,AAA,0.1\n2020-01-02,AAA,0.2\n",
                5,
                "date",
                id="duplicate",
            ),
        ],
    )
    def test_bad_rows(self, write_csv: WriteCsv, body: str, line: int, column: str) -> None:
        path = write_csv("r.csv", "date,ticker,return\n" + body)
        with pytest.raises(InputError) as info:
            ReturnsFile(path)
        err = info.value
        assert (err.path, err.line, err.column) == (str(path), line, column)

    def test_duplicate_names_first_line(self, write_csv: WriteCsv) -> None:
        path = write_csv("r.csv", "date,ticker,return\n2020-01-02,AAA,0.1\n2020-01-02,AAA,0.2\n")
        with pytest.raises(InputError) as info:
            ReturnsFile(path)
        assert "line 2" in str(info.value)

    @pytest.mark.parametrize(
        ("body", "line", "column", "words"),
        [
            pytest.param("2020-01-02,AAA,0.1\n2020-01-03,AAA,1e308\n", 3, "return", "is above 100", id="1e308"),
            pytest.param("2020-01-02,AAA,0.1\n2020-01-03,AAA,inf\n", 3, "return", "not a finite", id="inf"),
            pytest.param("2020-01-02,AAA,0.1\n9999-12-31,AAA,0.1\n", 3, "date", "outside the supported", id="9999"),
            pytest.param("00010101,AAA,0.1\n", 2, "date", "outside the supported", id="year-1"),
        ],
    )
    def test_absurd_values(self, write_csv: WriteCsv, body: str, line: int, column: str, words: str) -> None:
        path = write_csv("r.csv", "date,ticker,return\n" + body)
        with pytest.raises(InputError) as info:
            ReturnsFile(path)
        err = info.value
        assert (err.path, err.line, err.column) == (str(path), line, column)
        assert words in err.message

    @pytest.mark.parametrize(
        "body",
        ["2020-01-02,AAA,0.1\n2020-01-03,AAA\n", "2020-01-02,AAA,0.1\n2020-01-03,AAA,0.1,x\n"],
        ids=["fewer", "more"],
    )
    def test_ragged_line(self, write_csv: WriteCsv, body: str) -> None:
        path = write_csv("r.csv", "date,ticker,return\n" + body)
        with pytest.raises(InputError) as info:
            ReturnsFile(path)
        assert (info.value.path, info.value.line) == (str(path), 3)

    def test_percent_file_warns_naming_file_and_line(self, write_csv: WriteCsv) -> None:
        # 12 rows, returns in percent: lines 2..13; |r| >= 1 on lines 3, 5, 6, 9 (4 of 12 = 33 %).
        values = ["0.4", "1.2", "-0.3", "2.5", "1.0", "0.2", "0.9", "3.1", "0.1", "-0.8", "0.5", "0.6"]
        days = pd.bdate_range("2020-01-02", periods=len(values))
        body = "".join(f"{d.date()},AAA,{v}\n" for d, v in zip(days, values, strict=True))
        path = write_csv("pct.csv", "date,ticker,return\n" + body)
        with pytest.warns(ReturnUnitsWarning) as record:
            ReturnsFile(path)
        warning = record[0].message
        assert isinstance(warning, ReturnUnitsWarning)
        assert (warning.path, warning.line, warning.column, warning.value) == (str(path), 3, "return", "1.2")
        assert str(warning).startswith(f"{path}:3: column 'return': 4 of 12 returns have |r| >= 1")

    def test_one_large_return_warns(self, write_csv: WriteCsv) -> None:
        # 30 decimal returns, one of 1.35 on line 20: 1 of 30 = 3.3 % (< 5 %, < 10 rows) -> not percent.
        values = ["0.01"] * 30
        values[18] = "1.35"
        days = pd.bdate_range("2020-01-02", periods=len(values))
        body = "".join(f"{d.date()},AAA,{v}\n" for d, v in zip(days, values, strict=True))
        path = write_csv("big.csv", "date,ticker,return\n" + body)
        with pytest.warns(ReturnUnitsWarning) as record:
            ReturnsFile(path)
        warning = record[0].message
        assert isinstance(warning, ReturnUnitsWarning)
        assert (warning.line, warning.value) == (20, "1.35")
        assert "more than 100 % in one day" in str(warning) and "look like percent" not in str(warning)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InputError) as info:
            ReturnsFile(tmp_path / "none.csv")
        assert info.value.path == str(tmp_path / "none.csv")


class TestHostileFilesThroughTheCli:
    """Returns files with absurd values end in exit 2; percent-looking ones in a warning and a normal run."""

    @staticmethod
    def _rewrite(study: Any, line: int, value: str) -> None:
        lines = study.returns.read_text(encoding="utf-8").splitlines()
        lines[line - 1] = ",".join([*lines[line - 1].split(",")[:2], value])
        study.returns.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @pytest.mark.parametrize("value", ["1e308", "inf"])
    def test_absurd_return_in_process(self, study_files: Any, capsys: pytest.CaptureFixture[str], value: str) -> None:
        self._rewrite(study_files, 40, value)
        code = main(study_files.run_args("--returns", str(study_files.returns)))
        err = capsys.readouterr().err
        assert code == 2, err
        assert f"{study_files.returns}:40: column 'return'" in err
        assert "Traceback" not in err
        assert not (study_files.folder / "out").exists()

    def test_large_return_warns_in_process(self, study_files: Any, capsys: pytest.CaptureFixture[str]) -> None:
        self._rewrite(study_files, 7, "1.8")
        code = main(study_files.run_args("--returns", str(study_files.returns)))
        err = capsys.readouterr().err
        assert code == 0, err
        assert f"eventstudy: warning: {study_files.returns}:7: column 'return': return 1.8" in err
        assert "Traceback" not in err and "warnings.warn" not in err

    @pytest.mark.slow
    def test_percent_returns_warn_through_the_console_script(self, study_files: Any, console_script: Any) -> None:
        lines = study_files.returns.read_text(encoding="utf-8").splitlines()
        percent = [lines[0]] + [
            f"{d},{t},{abs(float(r)) * 100:.4f}" for d, t, r in (line.split(",") for line in lines[1:])
        ]
        study_files.returns.write_text("\n".join(percent) + "\n", encoding="utf-8")
        first = next(i for i, line in enumerate(percent[1:], start=2) if float(line.split(",")[2]) >= 1.0)
        done = console_script(study_files.run_args("--returns", str(study_files.returns)))
        assert done.returncode == 0, done.stderr
        assert f"eventstudy: warning: {study_files.returns}:{first}: column 'return':" in done.stderr
        assert "look like percent" in done.stderr
        assert "Traceback" not in done.stderr
