"""PriceTable: the long columnar table of observed rows, checked against hand-built expectations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from eventstudy.data.series import PriceSeries
from eventstudy.data.table import DAY_OFFSET, KEY_STRIDE, PriceTable, load_each, row_keys, search_segments
from eventstudy.errors import PriceSourceError


def _day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


def _series(symbol: str, dates: list[str], values: list[float], volume: list[float] | None = None) -> PriceSeries:
    return PriceSeries(
        symbol, pd.DatetimeIndex(dates), np.array(values), volume=None if volume is None else np.array(volume)
    )


class TestFromSeries:
    def test_rows_offsets_and_flags(self) -> None:
        a = _series("AAA", ["2024-01-02", "2024-01-03", "2024-01-05"], [10.0, 11.0, 12.0], [5.0, 0.0, 7.0])
        b = _series("JPY=X", ["2024-01-02", "2024-01-03"], [150.0, 151.0], [0.0, 0.0])
        c = _series("EMPTY", [], [])
        table = PriceTable.from_series([a, b, c])
        assert table.symbols == ("AAA", "JPY=X", "EMPTY")
        np.testing.assert_array_equal(table.offsets, [0, 3, 5, 5])
        np.testing.assert_array_equal(
            table.day,
            [_day("2024-01-02"), _day("2024-01-03"), _day("2024-01-05"), _day("2024-01-02"), _day("2024-01-03")],
        )
        np.testing.assert_array_equal(table.value, [10.0, 11.0, 12.0, 150.0, 151.0])
        # volume 0 flagged for the stock, never for FX (its volume is always 0)
        np.testing.assert_array_equal(table.zero_volume, [False, True, False, False, False])
        np.testing.assert_array_equal(table.codes, [0, 0, 0, 1, 1])
        assert list(table.provenance["rows"]) == [3, 2, 0]
        assert table.provenance["first_date"].iloc[0] == pd.Timestamp("2024-01-02")
        assert pd.isna(table.provenance["last_date"].iloc[2])

    def test_arrays_are_read_only(self) -> None:
        table = PriceTable.from_series([_series("AAA", ["2024-01-02"], [1.0])])
        with pytest.raises(ValueError, match="read-only"):
            table.value[0] = 2.0

    def test_series_round_trip(self) -> None:
        a = _series("AAA", ["2024-01-02", "2024-01-04"], [10.0, 12.0])
        back = PriceTable.from_series([a]).series("AAA")
        assert list(back.dates) == list(a.dates)
        np.testing.assert_array_equal(back.values, a.values)
        assert back.notes == ()

    def test_series_keeps_the_cleaning_notes(self) -> None:
        a = _series("AAA", ["2024-01-02"], [10.0])
        noted = PriceSeries(a.symbol, a.dates, a.values, notes=("2 row(s) with an empty close dropped", "rebased"))
        assert PriceTable.from_series([noted]).series("AAA").notes == noted.notes


class TestFromLong:
    def test_one_sort_gives_symbol_then_day_order(self) -> None:
        symbols = ["B", "A"]
        codes = np.array([1, 0, 1, 0, 1])
        days = np.array(
            [_day("2024-01-05"), _day("2024-01-03"), _day("2024-01-02"), _day("2024-01-02"), _day("2024-01-03")]
        )
        values = np.array([5.0, 2.0, 3.0, 1.0, 4.0])
        table = PriceTable.from_long(symbols, codes, days, values)
        np.testing.assert_array_equal(table.offsets, [0, 2, 5])
        np.testing.assert_array_equal(table.value, [1.0, 2.0, 3.0, 4.0, 5.0])
        assert list(table.provenance["rows"]) == [2, 3]
        assert table.provenance["last_date"].iloc[1] == pd.Timestamp("2024-01-05")

    def test_duplicate_day_is_refused(self) -> None:
        with pytest.raises(ValueError, match="A has two rows on 2024-01-02"):
            PriceTable.from_long(["A"], np.array([0, 0]), np.array([_day("2024-01-02")] * 2), np.array([1.0, 2.0]))

    def test_dates_before_1970_sort_correctly(self) -> None:
        days = np.array([_day("1969-12-31"), _day("1800-01-02"), _day("1970-01-01")])
        table = PriceTable.from_long(["A"], np.zeros(3, dtype=np.int64), days, np.array([2.0, 1.0, 3.0]))
        np.testing.assert_array_equal(table.value, [1.0, 2.0, 3.0])


class TestLookup:
    def test_first_row_on_or_after(self) -> None:
        a = _series("AAA", ["2024-01-02", "2024-01-04"], [10.0, 12.0])
        b = _series("BBB", ["2024-01-03"], [5.0])
        table = PriceTable.from_series([a, b])
        rows, found = table.lookup(
            np.array([0, 0, 0, 1, 1]),
            np.array(
                [_day("2024-01-01"), _day("2024-01-03"), _day("2024-01-05"), _day("2024-01-03"), _day("2024-01-04")]
            ),
        )
        np.testing.assert_array_equal(rows, [0, 1, 2, 2, 3])
        np.testing.assert_array_equal(found, [True, True, False, True, False])

    def test_keys_of_neighbouring_symbols_never_overlap(self) -> None:
        last_of_first = row_keys(np.array([0]), np.array([_day("2199-12-31")]))
        first_of_second = row_keys(np.array([1]), np.array([_day("1700-01-01")]))
        assert last_of_first[0] < first_of_second[0]
        assert _day("1700-01-01") > -DAY_OFFSET and _day("2199-12-31") < KEY_STRIDE - DAY_OFFSET


class TestCodesAndRows:
    def test_codes_for_names_absent_symbols_minus_one(self) -> None:
        table = PriceTable.from_series([_series("AAA", ["2024-01-02"], [1.0]), _series("BBB", ["2024-01-02"], [2.0])])
        codes = table.codes_for(pd.Series(["BBB", "ZZZ", "AAA", "BBB"]))
        np.testing.assert_array_equal(codes, [1, -1, 0, 1])
        assert table.codes_for([]).shape == (0,)

    def test_rows_of_concatenates_in_the_order_given(self) -> None:
        a = _series("AAA", ["2024-01-02", "2024-01-03", "2024-01-04"], [1.0, 2.0, 3.0])
        e = _series("EMPTY", [], [])
        b = _series("BBB", ["2024-01-02", "2024-01-05"], [4.0, 5.0])
        table = PriceTable.from_series([a, e, b])  # rows: AAA 0..2, BBB 3..4
        np.testing.assert_array_equal(table.rows_of(np.array([2, 0, 1, 2])), [3, 4, 0, 1, 2, 3, 4])
        assert table.rows_of(np.array([], dtype=np.int64)).shape == (0,)


class _PerSymbol:
    """A per-symbol source: AAA and BBB load, anything else fails."""

    description = "test source"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def load(self, symbol: str, start: dt.date, end: dt.date) -> PriceSeries:
        self.asked.append(symbol)
        if symbol not in ("AAA", "BBB"):
            raise PriceSourceError(symbol, "no data", "not in the test source")
        return _series(symbol, ["2024-01-02", "2024-01-03"], [1.0, 2.0] if symbol == "AAA" else [3.0, 4.0])


class TestLoadEach:
    def test_stacks_loaded_symbols_and_collects_failures(self) -> None:
        source = _PerSymbol()
        table, failed = load_each(source, ["BBB", "NOPE", "AAA"], dt.date(2024, 1, 1), dt.date(2024, 1, 31))
        assert source.asked == ["BBB", "NOPE", "AAA"]
        assert table.symbols == ("BBB", "AAA")
        np.testing.assert_array_equal(table.value, [3.0, 4.0, 1.0, 2.0])
        assert list(failed) == ["NOPE"] and failed["NOPE"].reason == "no data"

    def test_progress_bar_on_request(self, capsys: pytest.CaptureFixture[str]) -> None:
        load_each(_PerSymbol(), ["AAA", "BBB"], dt.date(2024, 1, 1), dt.date(2024, 1, 31), progress=True)
        assert "prices" in capsys.readouterr().err
        load_each(_PerSymbol(), ["AAA", "BBB"], dt.date(2024, 1, 1), dt.date(2024, 1, 31))
        assert capsys.readouterr().err == ""


class TestSearchSegments:
    @pytest.mark.parametrize("side", ["left", "right"])
    def test_equals_searchsorted_within_each_segment(self, side: str) -> None:
        rng = np.random.default_rng(4)
        lengths = rng.integers(0, 40, 30)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        values = np.concatenate([np.sort(rng.integers(0, 60, k)) for k in lengths]).astype(np.int64)
        segment = rng.integers(0, 30, 500)
        targets = rng.integers(-5, 65, 500)
        got = search_segments(values, offsets[segment], offsets[segment + 1], targets, side)  # type: ignore[arg-type]
        expected = [
            offsets[g] + np.searchsorted(values[offsets[g] : offsets[g + 1]], t, side=side)  # type: ignore[call-overload]
            for g, t in zip(segment, targets, strict=True)
        ]
        np.testing.assert_array_equal(got, expected)
