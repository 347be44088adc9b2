"""Tests of the CSV reading shared by the file sources (``eventstudy.data.csv_files``).

Every expected line number and cell is read off the hand-written file text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from eventstudy.data.csv_files import check_header, file_vintage, read_cells, read_header
from eventstudy.errors import InputError

WriteCsv = Callable[[str, str], Path]


def _read(path: Path, usecols: list[str] | None = None) -> tuple[list[list[str]], list[int], list[bool]]:
    header = read_header(path)
    cells = read_cells(path, header, usecols)
    return cells.table.to_numpy().tolist(), cells.lines.tolist(), cells.blank.tolist()


class TestReadCells:
    def test_lines_and_blank_records(self, write_csv: WriteCsv) -> None:
        path = write_csv("a.csv", "a,b,c\n1,2,3\n\n4,5,6\n  \n,,\n7,8,9")  # no final line break
        rows, lines, blank = _read(path)
        assert rows == [["1", "2", "3"], ["", "", ""], ["4", "5", "6"], ["  ", "", ""], ["", "", ""], ["7", "8", "9"]]
        assert lines == [2, 3, 4, 5, 6, 7]
        assert blank == [False, True, False, True, True, False]

    def test_bom_and_windows_line_ends(self, write_csv: WriteCsv) -> None:
        path = write_csv("a.csv", "")
        path.write_bytes("\ufeffa,b\r\n1,2\r\n\r\n3,4\r\n".encode())
        rows, lines, blank = _read(path)
        assert read_header(path) == ["a", "b"]
        assert rows == [["1", "2"], ["", ""], ["3", "4"]]
        assert lines == [2, 3, 4]
        assert blank == [False, True, False]

    def test_quoted_fields_with_commas_and_line_breaks(self, write_csv: WriteCsv) -> None:
        path = write_csv("a.csv", 'a,b\n"x, y",1\n"two\nlines",2\n\n"z",3\n')
        rows, lines, blank = _read(path)
        assert rows == [["x, y", "1"], ["two\nlines", "2"], ["", ""], ["z", "3"]]
        assert lines == [2, 3, 5, 6]  # the record on lines 3-4 starts on line 3
        assert blank == [False, False, True, False]

    def test_usecols(self, write_csv: WriteCsv) -> None:
        path = write_csv("a.csv", "a,b,c\n1,2,3\n4,5,6\n")
        rows, lines, _ = _read(path, usecols=["a", "c"])
        assert rows == [["1", "3"], ["4", "6"]]
        assert lines == [2, 3]

    @pytest.mark.parametrize(
        ("text", "line", "count"),
        [
            pytest.param("a,b,c\n1,2,3\n4,5\n6,7,8\n", 3, 2, id="short"),
            pytest.param("a,b,c\n1,2,3\n\n4,5,6,7\n", 4, 4, id="long-after-blank"),
            pytest.param("a,b,c\n1,2,3,4\n5,6,7\n", 2, 4, id="long-first-row"),
            pytest.param("a,b,c\n1,2,3\n4\n", 3, 1, id="one-field"),
            pytest.param('a,b,c\n"x\ny",2,3\n"q",5\n', 4, 2, id="short-after-quoted-line-break"),
        ],
    )
    def test_ragged_record_names_its_line(self, write_csv: WriteCsv, text: str, line: int, count: int) -> None:
        path = write_csv("bad.csv", text)
        with pytest.raises(InputError) as info:
            read_cells(path, read_header(path))
        err = info.value
        assert (err.path, err.line) == (str(path), line)
        assert f"has {count} comma-separated fields, the header has 3" in err.message

    def test_short_record_is_found_when_its_missing_field_is_not_used(self, write_csv: WriteCsv) -> None:
        path = write_csv("bad.csv", "date,ticker,return,permno\n2020-01-02,A,0.1,7\n2020-01-03,A,0.2\n")
        with pytest.raises(InputError) as info:
            read_cells(path, read_header(path), usecols=["date", "ticker", "return"])
        assert info.value.line == 3

    def test_not_utf8(self, write_csv: WriteCsv) -> None:
        path = write_csv("a.csv", "")
        path.write_bytes(b"a,b\n1,\xff\n")
        with pytest.raises(InputError) as info:
            read_cells(path, ["a", "b"])
        assert info.value.path == str(path)
        assert "UTF-8" in info.value.message


class TestHeader:
    def test_read_header_strips_names(self, write_csv: WriteCsv) -> None:
        assert read_header(write_csv("a.csv", " Date , Adj Close\n")) == ["Date", "Adj Close"]

    def test_empty_file(self, write_csv: WriteCsv) -> None:
        with pytest.raises(InputError) as info:
            read_header(write_csv("a.csv", ""))
        assert info.value.line == 1

    @pytest.mark.parametrize(
        ("header", "column", "words"),
        [
            (["Date", "Date"], "Date", "appears twice"),
            (["Date", "Price"], "Price", "unexpected column"),
            (["Date"], "Close", "missing column"),
        ],
    )
    def test_check_header(self, header: list[str], column: str, words: str) -> None:
        with pytest.raises(InputError) as info:
            check_header(Path("x.csv"), header, required=("Date", "Close"), allowed=("Date", "Close", "Volume"))
        assert (info.value.line, info.value.column) == (1, column)
        assert words in info.value.message


def test_file_vintage(write_csv: WriteCsv) -> None:
    path = write_csv("a.csv", "a\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))  # 2023-11-14 22:13:20 UTC
    assert file_vintage(path) == "2023-11-14T22:13:20+00:00"


def test_many_rows_keep_their_lines(write_csv: WriteCsv) -> None:
    body = "".join(f"{i},{i * 2}\n" if i % 7 else "\n" for i in range(1, 5001))
    path = write_csv("a.csv", "a,b\n" + body)
    header = read_header(path)
    cells = read_cells(path, header)
    # Line k + 1 holds the number k (line 1 is the header); every seventh line is blank.
    numbers = np.arange(1, 5001)
    np.testing.assert_array_equal(cells.lines, numbers + 1)
    np.testing.assert_array_equal(cells.blank, numbers % 7 == 0)
    filled = ~cells.blank
    np.testing.assert_array_equal(cells.table["a"].to_numpy()[filled].astype(int), numbers[filled])
