"""Tests of CsvPrices on small files built in the tests.

Expected values are read off the hand-written CSV text; nothing is computed with the code under test.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eventstudy.cli import main
from eventstudy.data import CsvPrices, PriceSource
from eventstudy.errors import InputError, PriceSourceError

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
D0, D1 = dt.date(2020, 1, 1), dt.date(2020, 12, 31)

WriteCsv = Callable[[str, str], Path]
ConsoleScript = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _dates(*text: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in text]


class TestCsvPricesLoad:
    def test_values_volume_and_provenance(self, write_csv: WriteCsv) -> None:
        path = write_csv(
            "0700.HK.csv",
            HEADER
            + "2020-01-02,334.4,342.4,334.2,340.3,338.1,15176989\n"
            + "2020-01-03,345.3,347.1,339.2,340.8,338.6,16611161\n"
            + "2020-01-06,338.2,338.2,334.1,335.8,333.6,13150847\n",
        )
        os.utime(path, (1_700_000_000, 1_700_000_000))  # 2023-11-14 22:13:20 UTC
        series = CsvPrices(path.parent).load("0700.HK", dt.date(2020, 1, 3), dt.date(2020, 1, 3))
        # The whole file comes back (the caller cuts the window).
        assert list(series.dates) == _dates("2020-01-02", "2020-01-03", "2020-01-06")
        assert series.dates.dtype == "datetime64[ns]"
        np.testing.assert_array_equal(series.values, [338.1, 338.6, 333.6])
        assert series.volume is not None
        np.testing.assert_array_equal(series.volume, [15176989.0, 16611161.0, 13150847.0])
        assert series.kind == "price"
        assert series.price_field == "adj_close"
        assert series.source == f"csv:{path.resolve()}"
        assert series.vintage == "2023-11-14T22:13:20+00:00"
        assert series.notes == ()

    def test_close_field(self, write_csv: WriteCsv) -> None:
        path = write_csv("BABA.csv", HEADER + "2020-01-02,1,1,1,219.8,215.2,100\n2020-01-03,1,1,1,217.1,212.5,90\n")
        series = CsvPrices(path.parent, price_field="close").load("BABA", D0, D1)
        np.testing.assert_array_equal(series.values, [219.8, 217.1])
        assert series.price_field == "close"

    @pytest.mark.parametrize("symbol", ["^HSI", "JPY=X", "0700.HK", "BRK.B"])
    def test_symbols_with_special_characters(self, write_csv: WriteCsv, symbol: str) -> None:
        path = write_csv(f"{symbol}.csv", HEADER + "2020-01-02,1,1,1,2.5,2.5,0\n")
        series = CsvPrices(path.parent).load(symbol, D0, D1)
        assert series.symbol == symbol
        np.testing.assert_array_equal(series.values, [2.5])

    def test_available_symbols(self, write_csv: WriteCsv) -> None:
        for name in ("^HSI.csv", "JPY=X.csv", "0700.HK.csv", "notes.txt"):
            path = write_csv(name, HEADER)
        assert CsvPrices(path.parent).available_symbols() == ["0700.HK", "JPY=X", "^HSI"]

    def test_is_a_price_source(self, write_csv: WriteCsv) -> None:
        path = write_csv("A.csv", HEADER)
        source = CsvPrices(path.parent)
        assert isinstance(source, PriceSource)
        assert str(path.parent) in source.description

    def test_rows_without_close_are_dropped_and_noted(self, write_csv: WriteCsv) -> None:
        path = write_csv(
            "A.csv",
            HEADER
            + "2020-01-02,1,1,1,10,10,5\n"
            + "2020-01-03,null,null,null,null,null,null\n"  # classic Yahoo placeholder row (line 3)
            + "2020-01-06,1,1,1,11,,7\n"  # empty Adj Close (line 4)
            + "2020-01-07,1,1,1,12,12,\n",
        )
        series = CsvPrices(path.parent).load("A", D0, D1)
        assert list(series.dates) == _dates("2020-01-02", "2020-01-07")
        np.testing.assert_array_equal(series.values, [10.0, 12.0])
        assert series.volume is not None
        np.testing.assert_array_equal(series.volume, [5.0, np.nan])
        assert len(series.notes) == 1
        assert "2 row(s)" in series.notes[0] and "lines 3, 4" in series.notes[0]

    def test_close_only_file_has_no_volume(self, write_csv: WriteCsv) -> None:
        path = write_csv("KWEB.csv", HEADER + "2019-01-02,,,,31.21,31.21,\n2019-01-03,,,,30.11,30.11,\n")
        series = CsvPrices(path.parent).load("KWEB", D0, D1)
        assert series.volume is None
        np.testing.assert_array_equal(series.values, [31.21, 30.11])

    def test_minimal_header(self, write_csv: WriteCsv) -> None:
        path = write_csv("A.csv", "Date,Adj Close\n2020-01-02,3.5\n")
        series = CsvPrices(path.parent).load("A", D0, D1)
        assert series.volume is None
        np.testing.assert_array_equal(series.values, [3.5])

    def test_unsorted_rows_are_sorted_and_noted(self, write_csv: WriteCsv) -> None:
        path = write_csv(
            "A.csv", HEADER + "2020-01-06,1,1,1,3,3,30\n2020-01-02,1,1,1,1,1,10\n2020-01-03,1,1,1,2,2,20\n"
        )
        series = CsvPrices(path.parent).load("A", D0, D1)
        assert list(series.dates) == _dates("2020-01-02", "2020-01-03", "2020-01-06")
        np.testing.assert_array_equal(series.values, [1.0, 2.0, 3.0])
        np.testing.assert_array_equal(series.volume, [10.0, 20.0, 30.0])  # type: ignore[arg-type]
        assert any("sorted" in note for note in series.notes)

    def test_bom_and_windows_line_ends(self, write_csv: WriteCsv) -> None:
        path = write_csv("A.csv", "")
        path.write_bytes(("\ufeff" + HEADER + "2020-01-02,1,1,1,2,2.5,7\n").replace("\n", "\r\n").encode("utf-8"))
        series = CsvPrices(path.parent).load("A", D0, D1)
        np.testing.assert_array_equal(series.values, [2.5])
        np.testing.assert_array_equal(series.volume, [7.0])  # type: ignore[arg-type]

    def test_case_insensitive_file_match_is_noted(self, write_csv: WriteCsv) -> None:
        path = write_csv("BABA.csv", HEADER + "2020-01-02,1,1,1,2,2,1\n")
        series = CsvPrices(path.parent).load("baba", D0, D1)
        np.testing.assert_array_equal(series.values, [2.0])
        assert any("BABA.csv" in note for note in series.notes)

    def test_parsed_file_is_cached_until_it_changes(self, write_csv: WriteCsv) -> None:
        path = write_csv("A.csv", HEADER + "2020-01-02,1,1,1,2,2,1\n")
        source = CsvPrices(path.parent)
        first = source.load("A", D0, D1)
        assert source.load("A", D0, D1) is first
        path.write_text(HEADER + "2020-01-02,1,1,1,2,2,1\n2020-01-03,1,1,1,4,4,1\n", encoding="utf-8")
        os.utime(path, (1_800_000_000, 1_800_000_000))
        np.testing.assert_array_equal(source.load("A", D0, D1).values, [2.0, 4.0])


class TestZeroVolumeRows:
    BODY = (
        "2020-12-23,1,1,1,10,10,500\n"
        "2020-12-24,1,1,1,11,11,0\n"  # HK half-day placeholder
        "2020-12-28,1,1,1,12,12,600\n"
        "2020-12-31,1,1,1,13,13,0\n"
    )

    def test_keep_is_the_default(self, write_csv: WriteCsv) -> None:
        path = write_csv("0700.HK.csv", HEADER + self.BODY)
        assert len(CsvPrices(path.parent).load("0700.HK", D0, D1)) == 4

    def test_drop_equity_rows_with_zero_volume(self, write_csv: WriteCsv) -> None:
        path = write_csv("0700.HK.csv", HEADER + self.BODY)
        series = CsvPrices(path.parent, zero_volume_rows="drop").load("0700.HK", D0, D1)
        assert list(series.dates) == _dates("2020-12-23", "2020-12-28")
        np.testing.assert_array_equal(series.values, [10.0, 12.0])
        assert len(series.notes) == 1
        assert "2 row(s)" in series.notes[0] and "2020-12-24" in series.notes[0]

    def test_never_for_fx(self, write_csv: WriteCsv) -> None:
        path = write_csv("JPY=X.csv", HEADER + "2019-01-01,1,1,1,109.6,109.6,0\n2019-01-02,1,1,1,109.7,109.7,0\n")
        series = CsvPrices(path.parent, zero_volume_rows="drop").load("JPY=X", D0, D1)
        assert len(series) == 2
        assert series.notes == ()

    def test_never_when_volume_is_empty(self, write_csv: WriteCsv) -> None:
        path = write_csv("FXI.csv", HEADER + "2019-01-02,,,,41.1,41.1,\n2019-01-03,,,,40.2,40.2,\n")
        series = CsvPrices(path.parent, zero_volume_rows="drop").load("FXI", D0, D1)
        assert len(series) == 2
        assert series.volume is None


class TestCsvPricesErrors:
    def test_missing_file(self, write_csv: WriteCsv) -> None:
        path = write_csv("A.csv", HEADER)
        with pytest.raises(PriceSourceError) as info:
            CsvPrices(path.parent).load("MPNGY", D0, D1)
        err = info.value
        assert err.symbol == "MPNGY"
        assert err.reason == "no data"
        assert err.detail == f"no file {path.parent / 'MPNGY.csv'}; add it or choose another --prices folder"

    def test_missing_folder(self, tmp_path: Path) -> None:
        with pytest.raises(InputError) as info:
            CsvPrices(tmp_path / "nowhere")
        assert info.value.path == str(tmp_path / "nowhere")

    def test_path_separator_in_symbol(self, write_csv: WriteCsv) -> None:
        path = write_csv("A.csv", HEADER)
        with pytest.raises(PriceSourceError):
            CsvPrices(path.parent).load("../A", D0, D1)

    @pytest.mark.parametrize(
        ("text", "line", "column"),
        [
            pytest.param("Date,Open,High,Low,Close,AdjClose,Volume\n", 1, "AdjClose", id="unknown-column"),
            pytest.param("Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,1\n", 1, "Adj Close", id="no-adj-close"),
            pytest.param("Date,Close,Close,Adj Close\n", 1, "Close", id="repeated-column"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,1,1\n2020/01/03,1,1,1,1,1,1\n", 3, "Date", id="slash-date"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,1,1\n2020-13-45,1,1,1,1,1,1\n", 3, "Date", id="bad-date"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,1,1\n,1,1,1,1,1,1\n", 3, "Date", id="empty-date"),
            pytest.param(
                HEADER + "2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,1,1,1\n2020-01-02,1,1,1,1,1,1\n",
                4,
                "Date",
                id="duplicate-date",
            ),
            pytest.param(HEADER + "2020-01-02,1,1,1,abc,1,1\n", 2, "Close", id="text-price"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,1,0,1\n", 3, "Adj Close", id="zero"),
            pytest.param(HEADER + "2020-01-02,1,1,-2,1,1,1\n", 2, "Low", id="negative-price"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,1,-5\n", 2, "Volume", id="negative-volume"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,1,many\n", 2, "Volume", id="text-volume"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,inf,1\n", 2, "Adj Close", id="infinite"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,1,1e308,1\n", 3, "Adj Close", id="1e308"),
            pytest.param(HEADER + "2020-01-02,1e308,1,1,1,1,1\n", 2, "Open", id="1e308-open"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,-inf,1\n", 2, "Adj Close", id="minus-infinite"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,1,inf\n", 2, "Volume", id="infinite-volume"),
            pytest.param(HEADER + "2020-01-02,1,1,1,1,1,1\n9999-12-31,1,1,1,1,1,1\n", 3, "Date", id="year-9999"),
            pytest.param(HEADER + "0001-01-01,1,1,1,1,1,1\n2020-01-02,1,1,1,1,1,1\n", 2, "Date", id="year-1"),
        ],
    )
    def test_bad_file_names_file_line_and_column(self, write_csv: WriteCsv, text: str, line: int, column: str) -> None:
        path = write_csv("BAD.csv", text)
        with pytest.raises(InputError) as info:
            CsvPrices(path.parent).load("BAD", D0, D1)
        err = info.value
        assert err.path == str(path)
        assert err.line == line
        assert err.column == column
        assert str(path) in str(err)

    @pytest.mark.parametrize(
        ("row", "fields"),
        [("2020-01-03,1,1,1,1,1,1,9", 8), ("2020-01-03,1,1,1,1,1", 6), ("2020-01-03,1,1,1,1,,", 7)],
        ids=["one-more", "one-fewer", "empty-fields-are-fine"],
    )
    def test_ragged_row(self, write_csv: WriteCsv, row: str, fields: int) -> None:
        path = write_csv("BAD.csv", HEADER + "2020-01-02,1,1,1,1,1,1\n" + row + "\n2020-01-06,1,1,1,1,1,1\n")
        if fields == 7:
            assert len(CsvPrices(path.parent).load("BAD", D0, D1)) == 2  # the row without Adj Close is dropped
            return
        with pytest.raises(InputError) as info:
            CsvPrices(path.parent).load("BAD", D0, D1)
        assert info.value.path == str(path)
        assert info.value.line == 3
        assert f"{fields} comma-separated fields, the header has 7" in str(info.value)

    def test_value_error_names_the_value_and_the_rule(self, write_csv: WriteCsv) -> None:
        path = write_csv("BAD.csv", HEADER + "2020-01-02,1,1,1,1,1e308,1\n")
        with pytest.raises(InputError) as info:
            CsvPrices(path.parent).load("BAD", D0, D1)
        assert info.value.value == "1e308"
        assert "implausible price '1e308'" in str(info.value) and "1e+12" in str(info.value)

    def test_blank_lines_and_empty_rows_are_skipped(self, write_csv: WriteCsv) -> None:
        path = write_csv("A.csv", HEADER + "2020-01-02,1,1,1,1,2,1\n\n,,,,,,\n2020-01-03,1,1,1,1,3,1\n")
        series = CsvPrices(path.parent).load("A", D0, D1)
        np.testing.assert_array_equal(series.values, [2.0, 3.0])
        assert series.notes == ()

    def test_empty_file(self, write_csv: WriteCsv) -> None:
        path = write_csv("BAD.csv", "")
        with pytest.raises(InputError) as info:
            CsvPrices(path.parent).load("BAD", D0, D1)
        assert info.value.line == 1

    def test_file_without_rows_is_no_data(self, write_csv: WriteCsv) -> None:
        path = write_csv("EMPTY.csv", HEADER + "2020-01-02,,,,,,\n")
        with pytest.raises(PriceSourceError) as info:
            CsvPrices(path.parent).load("EMPTY", D0, D1)
        assert info.value.reason == "no data"

    @pytest.mark.parametrize(("name", "value"), [("price_field", "open"), ("zero_volume_rows", "skip")])
    def test_bad_options(self, tmp_path: Path, name: str, value: str) -> None:
        with pytest.raises(InputError) as info:
            CsvPrices(tmp_path, **{name: value})  # type: ignore[arg-type]
        assert info.value.parameter == name


class TestSymlinks:
    SECRET = "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,1,1,1,7.25,1\n"

    def test_link_to_a_file_outside_the_folder_is_refused(self, write_csv: WriteCsv, tmp_path: Path) -> None:
        outside = tmp_path / "private" / "holdings.csv"
        outside.parent.mkdir()
        outside.write_text(self.SECRET, encoding="utf-8")
        path = write_csv("B.csv", HEADER)
        link = path.parent / "AAA.csv"
        link.symlink_to(outside)
        with pytest.raises(InputError) as info:
            CsvPrices(path.parent).load("AAA", D0, D1)
        err = info.value
        assert err.path == str(link)  # the link inside the folder is named ...
        assert "symbolic link to a file outside the price folder" in err.message
        text = str(err)
        assert str(outside) not in text and "private" not in text and "holdings" not in text  # ... not its target
        assert "7.25" not in text

    def test_link_through_a_chain_is_resolved(self, write_csv: WriteCsv, tmp_path: Path) -> None:
        outside = tmp_path / "elsewhere.csv"
        outside.write_text(self.SECRET, encoding="utf-8")
        path = write_csv("B.csv", HEADER)
        (path.parent / "hop.csv").symlink_to(outside)
        (path.parent / "AAA.csv").symlink_to(path.parent / "hop.csv")
        with pytest.raises(InputError) as info:
            CsvPrices(path.parent).load("AAA", D0, D1)
        assert info.value.path == str(path.parent / "AAA.csv")

    def test_link_inside_the_folder_is_read(self, write_csv: WriteCsv) -> None:
        target = write_csv("TCEHY.csv", self.SECRET)
        (target.parent / "ALIAS.csv").symlink_to(target.name)  # a relative link to a file in the folder
        np.testing.assert_array_equal(CsvPrices(target.parent).load("ALIAS", D0, D1).values, [7.25])


class TestHostileFilesThroughTheCli:
    """Bad price files end in exit 2 naming the file and line, with no traceback and nothing written."""

    @staticmethod
    def _spoil(study: Any, case: str) -> str:
        """Damage ``AAA.csv`` (or replace it by a link); return the location the error must name."""
        path = study.prices / "AAA.csv"
        lines = path.read_text(encoding="utf-8").splitlines()
        day = study.dates[30]
        k = study.price_line("AAA", day) - 1
        if case == "symlink":
            outside = study.folder / "outside.csv"
            path.rename(outside)
            path.symlink_to(outside)
            return f"{path}:"
        if case == "ragged":
            lines[k] = lines[k].rsplit(",", 1)[0]
        elif case == "1e308":
            lines[k] = ",".join([*lines[k].split(",")[:5], "1e308", "1000"])
        elif case == "year-9999":
            lines.append("9999-12-31,1,1,1,1,1,1")
            k = len(lines) - 1
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return f"{path}:{k + 1}"

    @pytest.mark.parametrize("case", ["ragged", "1e308", "year-9999", "symlink"])
    def test_in_process(self, study_files: Any, capsys: pytest.CaptureFixture[str], case: str) -> None:
        where = self._spoil(study_files, case)
        code = main(study_files.run_args("--prices", str(study_files.prices)))
        err = capsys.readouterr().err
        assert code == 2, err
        assert where in err
        assert "Traceback" not in err and "internal error" not in err
        assert not (study_files.folder / "out").exists()
        if case == "symlink":
            assert "outside.csv" not in err

    @pytest.mark.parametrize(
        "case",
        ["ragged", pytest.param("1e308", marks=pytest.mark.slow), pytest.param("symlink", marks=pytest.mark.slow)],
    )
    def test_console_script(self, study_files: Any, console_script: ConsoleScript, case: str) -> None:
        where = self._spoil(study_files, case)
        done = console_script(study_files.run_args("--prices", str(study_files.prices)))
        assert done.returncode == 2, done.stderr
        assert where in done.stderr
        assert done.stderr.startswith("eventstudy: error: ")
        assert "Traceback" not in done.stderr
        assert not (study_files.folder / "out").exists()


@pytest.mark.realdata
def test_real_tencent_file(shared_dir: Path) -> None:
    """0700.HK of window A, checked against the file's own text (../shared/docs/DATA.md §5 for the Volume-0 days)."""
    folder = shared_dir / "data" / "curated" / "window_2019_2021"
    lines = (folder / "0700.HK.csv").read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")
    last = lines[-1].split(",")
    zero_days = [pd.Timestamp(row.split(",")[0]) for row in lines[1:] if row.split(",")[6] == "0"]

    series = CsvPrices(folder).load("0700.HK", dt.date(2020, 1, 1), dt.date(2021, 12, 31))
    assert len(series) == len(lines) - 1
    assert series.dates[0] == pd.Timestamp(first[0])
    assert series.dates[-1] == pd.Timestamp(last[0])
    assert series.values[0] == float(first[5])
    assert series.values[-1] == float(last[5])
    assert series.volume is not None and series.volume[0] == float(first[6])
    # ../shared/docs/DATA.md §5: half-day placeholder rows with Volume 0 on these dates.
    assert {pd.Timestamp("2020-12-24"), pd.Timestamp("2020-12-31"), pd.Timestamp("2021-02-11")} <= set(zero_days)

    dropped = CsvPrices(folder, zero_volume_rows="drop").load("0700.HK", dt.date(2020, 1, 1), dt.date(2021, 12, 31))
    assert len(dropped) == len(lines) - 1 - len(zero_days)
    assert not set(zero_days) & set(dropped.dates)
