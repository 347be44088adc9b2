"""Tests of ParquetPrices: small Parquet files written in tmp_path, compared with their CSV twins and hand values.

The oracle of every comparison is a CSV twin read by ReturnsFile or CsvPrices (an independent reader of the
same rows) or numbers written in the test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from eventstudy.data import CsvPrices, ReturnsFile, parquet
from eventstudy.data.parquet import ParquetPrices, groups_holding, is_parquet
from eventstudy.errors import InputError, PriceSourceError, ReturnUnitsWarning

START, END = dt.date(2020, 1, 1), dt.date(2020, 12, 31)


def _day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


def _write(path: Path, frame: pd.DataFrame, **kwargs: Any) -> Path:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, **kwargs)
    return path


def _long() -> pd.DataFrame:
    """Shuffled long returns of two tickers; 2019-12-31 lies before START."""
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2020-01-03", "2020-01-02", "2020-01-06", "2020-01-02", "2019-12-31"]).date,
            "ticker": ["AAA", "BBB", "AAA", "AAA", "AAA"],
            "return": [0.02, -0.01, -0.005, 0.01, 0.5],
        }
    )


class TestLong:
    def test_rows_in_range_and_failures(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "r.parquet", _long())
        table, failed = ParquetPrices(path, kind="return").load_table(["BBB", "NOPE", "AAA"], START, END)
        assert table.symbols == ("BBB", "AAA")
        np.testing.assert_array_equal(table.offsets, [0, 1, 4])
        expected_days = [_day("2020-01-02"), _day("2020-01-02"), _day("2020-01-03"), _day("2020-01-06")]
        np.testing.assert_array_equal(table.day, expected_days)
        np.testing.assert_array_equal(table.value, [-0.01, 0.01, 0.02, -0.005])  # 2019-12-31 not read
        np.testing.assert_array_equal(table.is_return, [True, True])
        assert list(failed) == ["NOPE"] and failed["NOPE"].reason == "no data"
        prov = table.provenance
        assert list(prov["rows"]) == [1, 3] and list(prov["price_field"]) == ["return", "return"]
        assert set(prov["source"]) == {f"parquet:{path.resolve()}"}

    def test_only_the_rows_asked_for_are_read_and_checked(self, tmp_path: Path) -> None:
        frame = pd.concat(
            [_long(), pd.DataFrame({"date": [dt.date(2020, 1, 2), dt.date(2021, 6, 1)], "ticker": ["CCC", "AAA"]})],
            ignore_index=True,
        )
        frame["return"] = frame["return"].fillna(-5.0)  # impossible returns: another ticker, and after END
        path = _write(tmp_path / "r.parquet", frame)
        table, _ = ParquetPrices(path, kind="return").load_table(["AAA"], START, END)
        np.testing.assert_array_equal(table.value, [0.01, 0.02, -0.005])
        with pytest.raises(InputError):
            ParquetPrices(path, kind="return").load_table(["CCC"], START, END)

    def test_equals_the_csv_twin(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(8)
        dates = pd.bdate_range("2019-10-01", periods=200)
        frame = pd.DataFrame(
            {
                "date": np.tile(dates.values, 4),
                "ticker": np.repeat(["T0", "T1", "T2", "T3"], len(dates)),
                "return": np.round(rng.normal(0.0, 0.02, 4 * len(dates)), 6),
            }
        ).sample(frac=0.85, random_state=2)
        frame.iloc[::37, 2] = np.nan  # empty returns: dropped and counted
        csv = tmp_path / "r.csv"
        text = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d"))
        text.to_csv(csv, index=False, na_rep="")
        # several row groups, so the filters have groups to skip
        path = _write(tmp_path / "r.parquet", frame, row_group_size=64)
        wanted = ["T3", "T1"]
        got, _ = ParquetPrices(path, kind="return").load_table(wanted, START, END)
        twin, _ = ReturnsFile(csv).load_table(wanted, START, END)
        first, last = _day("2020-01-01"), _day("2020-12-31")
        in_range = (twin.day >= first) & (twin.day <= last)
        assert got.symbols == twin.symbols
        np.testing.assert_array_equal(got.day, twin.day[in_range])
        np.testing.assert_array_equal(got.value, twin.value[in_range])
        np.testing.assert_array_equal(got.codes, twin.codes[in_range])
        dropped = frame[frame["return"].isna() & frame["ticker"].isin(wanted)]
        dropped = dropped[(dropped["date"] >= "2020-01-01") & (dropped["date"] <= "2020-12-31")]
        counts = dropped["ticker"].value_counts()
        notes = dict(zip(got.provenance["symbol"], got.provenance["notes"], strict=True))
        for ticker in wanted:
            k = int(counts.get(ticker, 0))
            assert notes[ticker] == (f"{k} row(s) with an empty return dropped" if k else "")
            one = ParquetPrices(path, kind="return").load(ticker, START, END)  # the per-symbol edge keeps them
            assert one.notes == ((f"{k} row(s) with an empty return dropped",) if k else ())

    @pytest.mark.parametrize(
        "dates",
        [
            pytest.param(pd.to_datetime(["2020-01-02", "2020-01-03"]), id="timestamp"),
            pytest.param(pd.to_datetime(["2020-01-02 09:30", "2020-01-03 09:30"]).tz_localize("Asia/Tokyo"), id="tz"),
            pytest.param(["2020-01-02", "2020-01-03"], id="iso-text"),
            pytest.param([20200102, 20200103], id="yyyymmdd"),
        ],
    )
    def test_date_types(self, tmp_path: Path, dates: Any) -> None:
        frame = pd.DataFrame({"Date": dates, "Ticker": ["X", "X"], "RETURN": [0.1, 0.2]})
        path = _write(tmp_path / "r.parquet", frame)
        table, _ = ParquetPrices(path, kind="return").load_table(["X"], START, END)
        np.testing.assert_array_equal(table.day, [_day("2020-01-02"), _day("2020-01-03")])

    def test_timestamps_keep_their_local_date_at_the_range_edges(self, tmp_path: Path) -> None:
        # 2020-01-01 08:00 in Tokyo is 2019-12-31 23:00 UTC: its local date is inside the range
        stamps = pd.to_datetime(["2020-01-01 08:00", "2020-12-31 23:00", "2021-01-01 00:30"]).tz_localize("Asia/Tokyo")
        path = _write(tmp_path / "r.parquet", pd.DataFrame({"date": stamps, "ticker": "X", "return": [0.1, 0.2, 0.3]}))
        table, _ = ParquetPrices(path, kind="return").load_table(["X"], START, END)
        np.testing.assert_array_equal(table.value, [0.1, 0.2])

    def test_prices_and_integer_tickers(self, tmp_path: Path) -> None:
        frame = pd.DataFrame(
            {"date": pd.to_datetime(["2020-01-02", "2020-01-03"]).date, "ticker": [10107, 10107], "adj_close": [5, 6]}
        )
        path = _write(tmp_path / "p.parquet", frame)
        table, failed = ParquetPrices(path).load_table(["10107", "AAA"], START, END)
        assert table.symbols == ("10107",) and list(failed) == ["AAA"]
        np.testing.assert_array_equal(table.value, [5.0, 6.0])
        np.testing.assert_array_equal(table.is_return, [False])
        assert list(table.provenance["price_field"]) == ["adj_close"]

    @pytest.mark.parametrize("kind", [pa.decimal128(12, 4), pa.int64(), pa.float32()])
    def test_numeric_value_types_with_nulls(self, tmp_path: Path, kind: pa.DataType) -> None:
        table = pa.table(
            {
                "date": pa.array([dt.date(2020, 1, 2), dt.date(2020, 1, 3), dt.date(2020, 1, 6)]),
                "ticker": ["X", "X", "X"],
                "adj_close": pa.array([12.0, None, 15.0]).cast(kind),
            }
        )
        pq.write_table(table, tmp_path / "p.parquet")
        out, _ = ParquetPrices(tmp_path / "p.parquet").load_table(["X"], START, END)
        np.testing.assert_array_equal(out.value, [12.0, 15.0])
        assert list(out.provenance["notes"]) == ["1 row(s) with an empty adj_close dropped"]

    def test_load_one_symbol(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "r.parquet", _long())
        source = ParquetPrices(path, kind="return")
        series = source.load("AAA", START, END)
        assert list(series.dates) == list(pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06"]))
        np.testing.assert_array_equal(series.values, [0.01, 0.02, -0.005])
        with pytest.raises(PriceSourceError):
            source.load("NOPE", START, END)
        assert source.available_symbols() == ["AAA", "BBB"]

    def test_hive_dataset_folder(self, tmp_path: Path) -> None:
        folder = tmp_path / "returns"
        ds.write_dataset(
            pa.Table.from_pandas(_long(), preserve_index=False),
            folder,
            format="parquet",
            partitioning=ds.partitioning(pa.schema([("ticker", pa.string())]), flavor="hive"),
        )
        assert is_parquet(folder)
        table, failed = ParquetPrices(folder, kind="return").load_table(["AAA", "BBB"], START, END)
        assert table.symbols == ("AAA", "BBB") and not failed
        np.testing.assert_array_equal(table.value, [0.01, 0.02, -0.005, -0.01])


def _random_long(rng: np.random.Generator, layout: str) -> pd.DataFrame:
    """A ragged long file of up to 8 tickers with empty returns, in ticker-major, date-major or shuffled order."""
    tickers = [f"T{i}" for i in range(int(rng.integers(1, 9)))]
    dates = pd.bdate_range("2019-12-16", periods=int(rng.integers(5, 60))).date
    grid = pd.MultiIndex.from_product([tickers, dates], names=["ticker", "date"]).to_frame(index=False)
    frame = grid[rng.random(len(grid)) < 0.8].reset_index(drop=True)
    frame["return"] = np.where(rng.random(len(frame)) < 0.1, np.nan, rng.normal(0.0, 0.02, len(frame)))
    if layout == "date_major":
        frame = frame.sort_values(["date", "ticker"])
    elif layout == "shuffled":
        frame = frame.iloc[rng.permutation(len(frame))]
    return frame[["date", "ticker", "return"]].reset_index(drop=True)


class TestRowGroups:
    """The long layout is read one row group at a time; the oracle is pandas reading the whole file at once."""

    @pytest.mark.parametrize("layout", ["ticker_major", "date_major", "shuffled"])
    @pytest.mark.parametrize("seed", range(5))
    def test_equals_a_pandas_reading(self, tmp_path: Path, layout: str, seed: int) -> None:
        rng = np.random.default_rng(seed)
        frame = _random_long(rng, layout)
        path = _write(tmp_path / "r.parquet", frame, row_group_size=int(rng.integers(1, 40)))
        names = sorted(set(frame["ticker"]))
        wanted = [str(t) for t in rng.permutation(names + ["ZZZ"])][: int(rng.integers(1, len(names) + 2))]
        start = dt.date(2019, 12, 16) + dt.timedelta(days=int(rng.integers(0, 20)))
        end = start + dt.timedelta(days=int(rng.integers(0, 90)))
        table, failed = ParquetPrices(path, kind="return").load_table(wanted, start, end)

        read = pd.read_parquet(path)
        read = read[read["ticker"].isin(wanted) & (read["date"] >= start) & (read["date"] <= end)]
        empty = read[read["return"].isna()].groupby("ticker").size()
        read = read.dropna(subset=["return"]).assign(code=lambda f: f["ticker"].map(wanted.index))
        read = read.sort_values(["code", "date"])
        symbols = [t for t in wanted if t in set(read["ticker"])]
        assert table.symbols == tuple(symbols) and sorted(failed) == sorted(set(wanted) - set(symbols))
        sizes = read.groupby("code").size().to_numpy()
        np.testing.assert_array_equal(table.offsets, np.concatenate([[0], np.cumsum(sizes)]))
        days = np.array([_day(str(d)) for d in read["date"]], dtype=np.int64)
        np.testing.assert_array_equal(table.day, days)
        np.testing.assert_array_equal(table.value, read["return"].to_numpy())
        notes = [f"{empty[t]} row(s) with an empty return dropped" if t in empty.index else "" for t in symbols]
        assert list(table.provenance["notes"]) == notes

    @pytest.mark.parametrize("layout", ["ticker_major", "date_major", "shuffled"])
    def test_a_duplicate_in_a_later_row_group_names_its_first_repeat(self, tmp_path: Path, layout: str) -> None:
        rng = np.random.default_rng(11)
        frame = _random_long(rng, layout).dropna().reset_index(drop=True)
        repeats = frame.iloc[[3, 1]]  # appended at the end: row 3's key repeats first in file order
        path = _write(tmp_path / "d.parquet", pd.concat([frame, repeats]), row_group_size=4)
        with pytest.raises(InputError) as info:
            ParquetPrices(path, kind="return").load_table(sorted(set(frame["ticker"])), dt.date(2019, 1, 1), END)
        row = frame.iloc[3]
        assert f"row dated {row['date']}, ticker {row['ticker']}: duplicate (date, ticker)" in info.value.message

    def test_a_duplicate_across_a_row_group_boundary(self, tmp_path: Path) -> None:
        dates = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-07"]).date
        frame = pd.DataFrame({"date": dates, "ticker": "AAA", "return": [0.01, 0.02, 0.03, 0.04, 0.05]})
        path = _write(tmp_path / "d.parquet", frame, row_group_size=4)  # 2020-01-07 ends one group, starts the next
        with pytest.raises(InputError) as info:
            ParquetPrices(path, kind="return").load_table(["AAA"], START, END)
        assert "row dated 2020-01-07, ticker AAA: duplicate (date, ticker)" in info.value.message

    def test_a_bad_date_in_a_later_row_group_comes_before_a_bad_value(self, tmp_path: Path) -> None:
        # as when the rows are read at once: every date is checked before the values
        frame = pd.DataFrame(
            {
                "date": ["2020-01-02", "2020-01-03", "2020-01-06", "2020-02-30"],
                "ticker": ["AAA", "AAA", "AAA", "AAA"],
                "return": [0.01, -3.0, 0.02, 0.01],
            }
        )
        path = _write(tmp_path / "b.parquet", frame, row_group_size=2)
        with pytest.raises(InputError) as info:
            ParquetPrices(path, kind="return").load_table(["AAA"], START, END)
        assert info.value.column == "date" and "not a date" in info.value.message
        path = _write(tmp_path / "v.parquet", frame.assign(date="2020-01-02").iloc[[1]], row_group_size=2)
        with pytest.raises(InputError) as info:
            ParquetPrices(path, kind="return").load_table(["AAA"], START, END)
        assert info.value.column == "return" and "<= -1" in info.value.message


class TestWide:
    def test_equals_the_long_layout(self, tmp_path: Path) -> None:
        frame = pd.DataFrame(
            {
                "date": pd.to_datetime(["2020-01-03", "2020-01-02", "2020-01-06", "2019-12-31"]).date,
                "AAA": [10.0, 11.0, None, 9.0],
                "BBB": [20.0, None, 21.0, 19.0],
                "CCC": [1.0, 1.0, 1.0, 1.0],
            }
        )
        path = _write(tmp_path / "w.parquet", frame)
        table, failed = ParquetPrices(path).load_table(["BBB", "AAA", "ZZZ"], START, END)
        assert table.symbols == ("BBB", "AAA") and list(failed) == ["ZZZ"]
        np.testing.assert_array_equal(table.offsets, [0, 2, 4])
        np.testing.assert_array_equal(
            table.day, [_day(d) for d in ("2020-01-03", "2020-01-06", "2020-01-02", "2020-01-03")]
        )
        np.testing.assert_array_equal(table.value, [20.0, 21.0, 11.0, 10.0])
        assert "wide" in ParquetPrices(path).description

    def test_equals_the_csv_price_folder(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(5)
        dates = pd.bdate_range("2020-03-02", periods=30)
        closes = {s: np.round(50 * np.exp(np.cumsum(rng.normal(0, 0.01, 30))), 4) for s in ("AAA", "^GSPC")}
        folder = tmp_path / "csv"
        folder.mkdir()
        for symbol, close in closes.items():
            lines = ["Date,Adj Close"] + [f"{d.date()},{c}" for d, c in zip(dates, close, strict=True)]
            (folder / f"{symbol}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        path = _write(tmp_path / "w.parquet", pd.DataFrame({"date": dates, **closes}))
        table, _ = ParquetPrices(path).load_table(["AAA", "^GSPC"], START, END)
        for symbol in ("AAA", "^GSPC"):
            twin = CsvPrices(folder).load(symbol)
            series = table.series(symbol)
            np.testing.assert_array_equal(series.dates, twin.dates)
            np.testing.assert_array_equal(series.values, twin.values)


class TestBadInput:
    def _error(self, tmp_path: Path, frame: pd.DataFrame, kind: str = "return", **kwargs: Any) -> InputError:
        path = _write(tmp_path / "bad.parquet", frame, **kwargs)
        with pytest.raises(InputError) as info:
            ParquetPrices(path, kind=kind).load_table(["AAA", "BBB"], START, END)  # type: ignore[arg-type]
        assert info.value.path == str(path)
        return info.value

    def test_missing_value_column(self, tmp_path: Path) -> None:
        err = self._error(tmp_path, _long().rename(columns={"return": "ret"}))
        assert err.column == "return" and "missing column" in err.message

    def test_missing_ticker_column_with_a_value_column(self, tmp_path: Path) -> None:
        err = self._error(tmp_path, _long().drop(columns="ticker"))
        assert err.column == "ticker"

    def test_missing_date_column(self, tmp_path: Path) -> None:
        assert self._error(tmp_path, _long().drop(columns="date")).column == "date"

    def test_value_of_the_wrong_type(self, tmp_path: Path) -> None:
        err = self._error(tmp_path, _long().astype({"return": str}))
        assert err.column == "return" and "expected numbers" in err.message

    def test_date_of_the_wrong_type(self, tmp_path: Path) -> None:
        err = self._error(tmp_path, _long().assign(date=1.5))
        assert err.column == "date" and "expected a date" in err.message

    def test_wide_column_of_the_wrong_type(self, tmp_path: Path) -> None:
        frame = pd.DataFrame({"date": pd.to_datetime(["2020-01-02"]).date, "AAA": ["x"], "BBB": [1.0]})
        err = self._error(tmp_path, frame, kind="price")
        assert err.column == "AAA"

    def test_duplicate_date_and_ticker(self, tmp_path: Path) -> None:
        frame = pd.concat([_long(), _long().iloc[[1]]], ignore_index=True)
        err = self._error(tmp_path, frame)
        assert err.column == "date" and "duplicate (date, ticker)" in err.message
        assert "2020-01-02" in err.message and "BBB" in err.message

    def test_wide_duplicate_date(self, tmp_path: Path) -> None:
        frame = pd.DataFrame({"date": pd.to_datetime(["2020-01-02", "2020-01-02"]).date, "AAA": [1.0, 2.0]})
        err = self._error(tmp_path, frame, kind="price")
        assert err.column == "date" and "duplicate date 2020-01-02" in err.message

    @pytest.mark.parametrize(("value", "words"), [(-1.5, "<= -1"), (np.inf, "not a finite"), (150.0, "above 100")])
    def test_return_out_of_range(self, tmp_path: Path, value: float, words: str) -> None:
        frame = _long()
        frame.loc[2, "return"] = value  # AAA 2020-01-06
        err = self._error(tmp_path, frame)
        assert err.column == "return" and words in err.message
        assert "row dated 2020-01-06, ticker AAA" in err.message

    def test_wide_price_out_of_range(self, tmp_path: Path) -> None:
        frame = pd.DataFrame({"date": pd.to_datetime(["2020-01-02", "2020-01-03"]).date, "BBB": [1.0, -2.0]})
        err = self._error(tmp_path, frame, kind="price")
        assert err.column == "BBB" and "positive" in err.message and "2020-01-03" in err.message

    def test_bad_text_date(self, tmp_path: Path) -> None:
        frame = _long().assign(date=["2020-01-03", "2020-02-30", "2020-01-06", "2020-01-02", "2019-12-31"])
        err = self._error(tmp_path, frame)
        assert err.column == "date" and "not a date" in err.message and "ticker BBB" in err.message

    def test_not_parquet(self, tmp_path: Path) -> None:
        path = tmp_path / "fake.parquet"
        path.write_text("date,ticker,return\n", encoding="utf-8")
        with pytest.raises(InputError) as info:
            ParquetPrices(path, kind="return")
        assert info.value.path == str(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InputError) as info:
            ParquetPrices(tmp_path / "none.parquet")
        assert "not found" in info.value.message

    @pytest.mark.parametrize("row_group_size", [None, 5])
    def test_percent_returns_warn(self, tmp_path: Path, row_group_size: int | None) -> None:
        dates = pd.bdate_range("2020-01-02", periods=12).date
        values = [0.4, 1.2, -0.3, 2.5, 1.0, 0.2, 0.9, 3.1, 0.1, -0.8, 0.5, 0.6]  # 4 of 12 with |r| >= 1
        frame = pd.DataFrame({"date": dates, "ticker": "AAA", "return": values})
        path = _write(tmp_path / "pct.parquet", frame, row_group_size=row_group_size)
        with pytest.warns(ReturnUnitsWarning) as record:
            ParquetPrices(path, kind="return").load_table(["AAA"], START, END)
        warning = record[0].message
        assert isinstance(warning, ReturnUnitsWarning)
        assert warning.path == str(path) and warning.column == "return" and warning.value == 1.2
        assert "4 of 12 returns" in str(warning) and "row dated 2020-01-03, ticker AAA" in str(warning)


def test_is_parquet(tmp_path: Path) -> None:
    (tmp_path / "csvs").mkdir()
    (tmp_path / "csvs" / "A.csv").write_text("Date,Adj Close\n", encoding="utf-8")
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "A.csv").write_text("", encoding="utf-8")
    (tmp_path / "mixed" / "b.parquet").write_bytes(b"")
    (tmp_path / "pq").mkdir()
    (tmp_path / "pq" / "b.parquet").write_bytes(b"")
    assert is_parquet(tmp_path / "x.parquet") and is_parquet(tmp_path / "x.PQ") and is_parquet(tmp_path / "pq")
    assert not is_parquet(tmp_path / "csvs") and not is_parquet(tmp_path / "mixed")
    assert not is_parquet(tmp_path / "r.csv")


def test_public_name() -> None:
    import eventstudy

    assert eventstudy.ParquetPrices is ParquetPrices and "ParquetPrices" in eventstudy.__all__


class TestRowGroupPruning:
    """Row groups are skipped by their ticker column's min/max (pyarrow does not prune them for ``isin``)."""

    @staticmethod
    def _fragment(path: Path, tickers: list[list[object]], statistics: bool = True) -> object:
        frames = [pd.DataFrame({"date": dt.date(2020, 1, 2), "ticker": group, "return": 0.01}) for group in tickers]
        table = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
        sizes = [len(group) for group in tickers]
        with pq.ParquetWriter(path, table.schema, write_statistics=statistics) as writer:
            start = 0
            for size in sizes:  # one row group per list
                writer.write_table(table.slice(start, size))
                start += size
        (fragment,) = ds.dataset(path, format="parquet").get_fragments()
        return fragment

    def test_groups_holding_by_hand(self, tmp_path: Path) -> None:
        fragment = self._fragment(tmp_path / "t.parquet", [["A", "B"], ["C", "D", "F"], ["G"], ["H", "K"]])
        # [A, B], [C, F], [G, G], [H, K]: E lies in [C, F] (not held, but the statistics cannot tell)
        assert groups_holding(fragment, "ticker", ["B", "E"]) == [0, 1]
        assert groups_holding(fragment, "ticker", ["K", "A"]) == [0, 3]
        assert groups_holding(fragment, "ticker", ["Z", "0"]) == []
        assert groups_holding(fragment, "ticker", ["G"]) == [2]

    def test_integer_tickers(self, tmp_path: Path) -> None:
        fragment = self._fragment(tmp_path / "i.parquet", [[10, 12], [20, 25], [30]])
        assert groups_holding(fragment, "ticker", [11, 30]) == [0, 2]
        assert groups_holding(fragment, "ticker", [13, 19, 26]) == []

    def test_groups_without_statistics_are_kept(self, tmp_path: Path) -> None:
        fragment = self._fragment(tmp_path / "n.parquet", [["A"], ["B"]], statistics=False)
        assert groups_holding(fragment, "ticker", ["Z"]) == [0, 1]

    def test_a_study_of_a_few_tickers_reads_their_row_groups_only(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Ticker-major file of 50 tickers in groups of 2 tickers: 3 tickers read at most 3 of 25 groups."""
        names = [f"T{i:02d}" for i in range(50)]
        dates = pd.bdate_range("2020-01-01", periods=10).date
        frame = pd.DataFrame(
            {"date": np.tile(dates, 50), "ticker": np.repeat(names, 10), "return": np.linspace(-0.01, 0.01, 500)}
        )
        path = _write(tmp_path / "m.parquet", frame, row_group_size=20)
        read: list[int] = []

        def counting(fragment: Any, column: str, values: Any) -> list[int]:
            kept = groups_holding(fragment, column, values)
            read.extend(kept)
            return kept

        monkeypatch.setattr(parquet, "groups_holding", counting)
        table, failed = ParquetPrices(path, kind="return").load_table(["T07", "T30", "T31"], START, END)
        assert set(read) == {3, 15} and not failed  # T07 in group 3 (T06, T07), T30 and T31 in group 15
        assert table.symbols == ("T07", "T30", "T31") and len(table.day) == 30
        np.testing.assert_array_equal(table.value[:10], frame["return"].to_numpy()[70:80])
