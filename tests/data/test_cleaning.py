"""Tests of the shared row rules (``eventstudy.data.cleaning``) on hand-made columns.

Expected values are written out by hand from the rules in the module docstring, or come from a plain
Python enumeration (``sorted`` and a dict of first positions for :func:`order_rows`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from eventstudy.data.cleaning import (
    MAX_PRICE,
    MAX_RETURN,
    MIN_PRICE,
    invalid_values,
    is_missing,
    list_dates,
    list_lines,
    order_rows,
    parse_dates,
    parse_values,
    units_problem,
    zero_volume,
)


def _text(*cells: str) -> pd.Series:
    return pd.Series(list(cells), dtype=object)


class TestIsMissing:
    def test_tokens_any_case_and_blanks(self) -> None:
        cells = _text("", " ", "null", "NaN", " NA ", "n/a", "None", "#N/A", "0", "1.5", "nil")
        expected = [True] * 8 + [False] * 3
        np.testing.assert_array_equal(is_missing(cells), expected)

    def test_numbers_and_none(self) -> None:
        np.testing.assert_array_equal(is_missing(pd.Series([1.0, np.nan, 0.0])), [False, True, False])
        np.testing.assert_array_equal(is_missing(pd.Series(["a", None], dtype=object)), [False, True])


class TestParseDates:
    @pytest.mark.parametrize(
        "cells",
        [
            pytest.param(_text("2020-01-02", "2020-01-03 16:00:00"), id="iso-and-time"),
            pytest.param(_text("20200102", "20200103"), id="compact-text"),
            pytest.param(pd.Series([20200102, 20200103]), id="compact-int"),
            pytest.param(pd.Series(pd.to_datetime(["2020-01-02 09:30", "2020-01-03 00:00"])), id="datetime64"),
            pytest.param(
                pd.Series(pd.to_datetime(["2020-01-02 23:00", "2020-01-03 00:00"]).tz_localize("Asia/Hong_Kong")),
                id="tz-aware-keeps-local-date",
            ),
            pytest.param(pd.Series([dt.date(2020, 1, 2), dt.datetime(2020, 1, 3, 12)], dtype=object), id="objects"),
        ],
    )
    def test_formats(self, cells: pd.Series) -> None:
        dates, problem = parse_dates(cells)
        assert problem is None
        assert dates.dtype == np.dtype("datetime64[ns]")
        np.testing.assert_array_equal(dates, np.array(["2020-01-02", "2020-01-03"], dtype="datetime64[ns]"))

    @pytest.mark.parametrize(
        ("cell", "expected"),
        [
            ("1800-01-01", True),
            ("2199-12-31", True),
            ("1799-12-31", False),
            ("2200-01-01", False),
            ("9999-12-31", False),
            ("0001-01-01", False),
            ("99991231", False),
        ],
    )
    def test_supported_range_is_inclusive(self, cell: str, expected: bool) -> None:
        dates, problem = parse_dates(_text("2020-01-02", cell))
        if expected:
            assert problem is None
            assert dates[1] == np.datetime64(f"{cell[:4]}-{cell[5:7]}-{cell[8:10]}")
        else:
            assert problem is not None
            assert (problem.row, problem.value) == (1, cell)
            assert "outside the supported range 1800-01-01..2199-12-31" in problem.message
            assert np.isnat(dates[1])

    def test_far_dates_as_objects_and_datetime64(self) -> None:
        _, problem = parse_dates(pd.Series([dt.date(2020, 1, 2), dt.date(9999, 12, 31)], dtype=object))
        assert problem is not None and problem.row == 1 and "outside" in problem.message
        _, problem = parse_dates(pd.Series(pd.to_datetime(["1700-01-04", "2020-01-02"])))
        assert problem is not None and problem.row == 0 and "outside" in problem.message

    @pytest.mark.parametrize(
        ("cells", "row", "words"),
        [
            (_text("2020-01-02", "2020/01/03"), 1, "not a date: '2020/01/03'"),
            (_text("2020-02-30"), 0, "not a date"),
            (_text("2020-01-02", "  "), 1, "missing date"),
            (pd.Series(["2020-01-02", None], dtype=object), 1, "missing date"),
        ],
    )
    def test_first_bad_cell(self, cells: pd.Series, row: int, words: str) -> None:
        _, problem = parse_dates(cells)
        assert problem is not None
        assert problem.row == row
        assert words in problem.message


class TestParseValues:
    def test_missing_cells_are_nan_not_problems(self) -> None:
        values, missing, problem = parse_values(_text("1.5", "", "null", " 2 "), "price")
        assert problem is None
        np.testing.assert_array_equal(values, [1.5, np.nan, np.nan, 2.0])
        np.testing.assert_array_equal(missing, [False, True, True, False])

    @pytest.mark.parametrize(
        ("kind", "good", "bad", "words"),
        [
            ("price", str(MIN_PRICE), "0", "prices must be positive"),
            ("price", str(MAX_PRICE), "-3", "prices must be positive"),
            ("price", "1", "1e308", "implausible price '1e308'"),
            ("price", "1", "1.000001e12", "implausible price"),
            ("price", "1", "9e-11", "implausible price"),
            ("price", "1", "inf", "not a finite number: 'inf'"),
            ("price", "1", "-inf", "not a finite number"),
            ("price", "1", "abc", "not a number: 'abc'"),
            ("volume", "0", "-1", "volume cannot be negative"),
            ("volume", "1e15", "inf", "not a finite number"),
            ("return", "-0.999", "-1", "is <= -1"),
            ("return", str(MAX_RETURN), "100.5", "is above 100"),
            ("return", "0", "1e308", "is above 100"),
            ("return", "0", "0.0.1", "not a number: '0.0.1'"),
            ("return", "0", "1.2%", "not a number: '1.2%'"),
        ],
    )
    def test_rules(self, kind: str, good: str, bad: str, words: str) -> None:
        values, _, problem = parse_values(_text(good, good, bad), kind)  # type: ignore[arg-type]
        assert problem is not None, "the bad cell must be reported"
        assert (problem.row, problem.value) == (2, bad)
        assert words in problem.message
        assert values[0] == float(good)
        _, _, fine = parse_values(_text(good), kind)  # type: ignore[arg-type]
        assert fine is None

    def test_numeric_column(self) -> None:
        values, missing, problem = parse_values(pd.Series([0.01, np.nan, np.inf]), "return")
        np.testing.assert_array_equal(missing, [False, True, False])
        assert problem is not None and problem.row == 2 and "not a finite number" in problem.message
        assert values[0] == 0.01

    def test_invalid_values_leave_nan_alone(self) -> None:
        prices = np.array([np.nan, 1.0, 0.0, np.inf, 1e13, 1e-11])
        np.testing.assert_array_equal(invalid_values(prices, "price"), [False, False, True, True, True, True])
        volumes = np.array([np.nan, 0.0, -1.0, np.inf])
        np.testing.assert_array_equal(invalid_values(volumes, "volume"), [False, False, True, True])
        returns = np.array([np.nan, -0.5, -1.0, 100.0, 100.1, -np.inf])
        np.testing.assert_array_equal(invalid_values(returns, "return"), [False, False, True, False, True, True])


class TestUnitsProblem:
    def test_decimal_returns_pass(self) -> None:
        returns = np.array([0.01, -0.02, np.nan, 0.999, 1.0 - 1e-12])
        assert units_problem(returns) is None

    def test_five_percent_of_rows_look_like_percent(self) -> None:
        # 100 returns, 5 of them with |r| >= 1 (rows 10, 20, ...): 5 % -> percent.
        returns = np.full(100, 0.5)
        returns[[10, 20, 30, 40, 50]] = [1.0, 2.5, 1.2, 3.0, 1.0]
        problem = units_problem(returns)
        assert problem is not None
        assert problem.row == 10
        assert "5 of 100 returns" in problem.message and "look like percent" in problem.message

    def test_ten_rows_look_like_percent_in_a_long_column(self) -> None:
        returns = np.full(10_000, 0.001)
        returns[np.arange(100, 1100, 100)] = 1.5  # 10 rows = 0.1 %
        problem = units_problem(returns)
        assert problem is not None and problem.row == 100 and "look like percent" in problem.message

    def test_a_single_large_return(self) -> None:
        # 4 of 200 returns >= 1 (2 %, fewer than 10 rows): not percent, but r > 1 is still reported.
        returns = np.full(200, 0.002)
        returns[[7, 50, 90, 120]] = [1.0, 1.35, 1.0, 4.0]
        problem = units_problem(returns)
        assert problem is not None
        assert problem.row == 50  # the first r > 1 (r = 1 exactly is not above 1)
        assert "more than 100 % in one day (2 such rows)" in problem.message
        assert "percent" in problem.message

    @pytest.mark.parametrize("seed", range(12))
    def test_a_subset_with_every_large_return_gives_the_same_answer(self, seed: int) -> None:
        # Oracle: the check on the whole column; the subset holds the |r| >= 1 rows in order plus a few others.
        rng = np.random.default_rng(seed)
        returns = rng.normal(0.0, 0.02, 400)
        returns[rng.choice(400, 30, replace=False)] = np.nan
        returns[rng.choice(400, rng.integers(1, 25), replace=False)] = rng.choice([1.0, 1.7, -1.2, 3.0], 1)[0]
        whole = units_problem(returns)
        present = ~np.isnan(returns)
        keep = np.flatnonzero((present & (np.abs(np.where(present, returns, 0.0)) >= 1.0)) | (np.arange(400) % 50 == 0))
        part = units_problem(returns[keep], n_present=int(present.sum()))
        assert (whole is None) == (part is None)
        if whole is not None and part is not None:
            assert keep[part.row] == whole.row and part.message == whole.message and part.value == whole.value

    def test_empty_returns_are_not_counted(self) -> None:
        returns = np.full(40, np.nan)
        returns[:20] = 0.01
        returns[5] = 1.0  # 1 of 20 non-empty returns = 5 %
        problem = units_problem(returns)
        assert problem is not None and "1 of 20 returns" in problem.message


class TestOrderRows:
    @staticmethod
    def _oracle(keys: list[int]) -> tuple[list[int], list[int], list[int], list[int]]:
        order = sorted(range(len(keys)), key=lambda i: keys[i])  # Python's sort is stable
        first: dict[int, int] = {}
        duplicates, firsts = [], []
        for i, key in enumerate(keys):
            if key in first:
                duplicates.append(i)
                firsts.append(first[key])
            else:
                first[key] = i
        kept = [i for i in order if first[keys[i]] == i]
        return order, duplicates, firsts, kept

    @pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
    def test_matches_an_enumeration(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        keys = rng.integers(0, 15, size=40).tolist()
        order, duplicates, firsts, kept = self._oracle(keys)
        rows = order_rows(np.array(keys, dtype=np.int64))
        assert rows.order.tolist() == order
        assert rows.duplicates.tolist() == duplicates
        assert rows.firsts.tolist() == firsts
        assert rows.kept.tolist() == kept
        assert rows.presorted is False

    def test_sorted_unique_keys(self) -> None:
        rows = order_rows(np.array([3, 5, 9], dtype=np.int64))
        assert rows.presorted
        assert rows.order.tolist() == [0, 1, 2] and rows.kept.tolist() == [0, 1, 2]
        assert len(rows.duplicates) == 0 and len(rows.firsts) == 0

    def test_empty(self) -> None:
        rows = order_rows(np.zeros(0, dtype=np.int64))
        assert rows.presorted and len(rows.order) == 0 and len(rows.kept) == 0


class TestZeroVolume:
    def test_equity_rows_with_zero_volume(self) -> None:
        volume = np.array([100.0, 0.0, np.nan, 0.0])
        np.testing.assert_array_equal(zero_volume("0700.HK", volume), [False, True, False, True])

    @pytest.mark.parametrize("symbol", ["JPY=X", "mxn=x"])
    def test_never_for_fx(self, symbol: str) -> None:
        assert not zero_volume(symbol, np.zeros(3)).any()

    def test_no_volume(self) -> None:
        assert len(zero_volume("AAA", None)) == 0


def test_short_lists() -> None:
    dates = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08", "2020-01-09"])
    assert list_dates(dates[:2]) == "2020-01-02, 2020-01-03"
    assert list_dates(dates) == "2020-01-02, 2020-01-03, 2020-01-06, 2020-01-07, 2020-01-08 and 1 more"
    assert list_lines(np.array([3, 4])) == "3, 4"
    assert list_lines(np.arange(2, 9)) == "2, 3, 4, 5, 6 ..."
