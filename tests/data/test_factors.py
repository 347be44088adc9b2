"""Tests of the factor data (``eventstudy.data.factors``) and the store's factor files.

Every input is written in the test in its exact layout: user CSV/Parquet files, Ken French's daily CSV (description
lines, blank line, header starting with a comma, right-aligned percent values, an annual block, the copyright
footer, CRLF) zipped as downloaded. Expected values come from the numbers written (divided by 100 for percent), from
pandas (reindex, outer merge) or from the shared files read with pandas. The network is never used: downloads go
through ``responses``, and a request nobody registered fails the test.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import responses

from eventstudy.cli import main as cli_main
from eventstudy.data.factors import (
    FRENCH_DATASETS,
    FRENCH_URL,
    FactorTable,
    canonical_name,
    factor_region,
    factor_regions,
    load_curated_factors,
    load_french,
    parse_french_csv,
    read_factor_file,
    read_french_zip,
)
from eventstudy.data.store import FetchInfo, PriceStore, StoreError
from eventstudy.errors import DataError, InputError, UnknownNameError

# ------------------------------------------------------------------------------------------ inputs

FF3_ROWS = [  # YYYYMMDD, Mkt-RF, SMB, HML, RF (percent)
    (20240102, -0.71, 0.36, 1.02, 0.02),
    (20240103, -0.97, -0.85, 0.21, 0.02),
    (20240104, -0.32, 0.23, 0.11, 0.02),
    (20240105, 0.13, 0.41, -99.99, 0.02),  # a missing HML
    (20240108, 1.51, -0.36, -0.76, 0.02),
]
MOM_ROWS = [(20240102, 1.15), (20240103, 0.24), (20240105, -0.32), (20240108, -1.10)]  # no 20240104


def french_text(
    columns: list[str],
    rows: list[tuple[float, ...]],
    *,
    program: str = "CMPT_ME_BEME_RETS_DAILY",
    vintage: str | None = "202601",
    annual: bool = False,
) -> str:
    """A daily file of Ken French's library in its layout, with CRLF line endings."""
    source = f"using the {vintage} CRSP database" if vintage else "from Bloomberg data"
    lines = [
        f"This file was created by {program} {source}.",
        "The Tbill return is the simple daily rate that, over the number of trading days",
        "in the month, compounds to 1-month TBill rate from Ibbotson and Associates Inc.",
        "",
        "," + ",".join(columns),
        *(f"{int(r[0])}," + ",".join(f"{v:8.2f}" for v in r[1:]) for r in rows),
        "",
    ]
    if annual:  # the second block of a monthly file: annual factors, never read
        lines += [" Annual Factors: January-December ", "," + ",".join(columns)]
        lines += ["2024," + ",".join(f"{v:8.2f}" for v in rows[0][1:]), ""]
    lines += ["Copyright 2026 Eugene F. Fama and Kenneth R. French", ""]
    return "\r\n".join(lines)


FF3_TEXT = french_text(["Mkt-RF", "SMB", "HML", "RF"], FF3_ROWS, annual=True)
MOM_TEXT = french_text(["Mom   "], MOM_ROWS, program="CMPT_ME_PRIOR_RETS_DAILY")


def zipped(text: str, member: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text.encode("ascii"))
    return buffer.getvalue()


def day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


def days(*texts: str) -> np.ndarray:
    return np.array([day(t) for t in texts], dtype=np.int64)


def write(tmp_path: Path, text: str, name: str = "factors.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(call: object, *args: object, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value


# ------------------------------------------------------------------------------------------ user files


class TestReadFactorFile:
    def test_iso_dates_percent_detected_and_names_made_canonical(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "Date,Mkt-RF,SMB,HML,UMD,Sector ETF,RF\n"
            "2024-01-03,-0.97,-0.85,0.21,0.24,1.5,0.02\n"
            "2024-01-02,-0.71,0.36,1.02,1.15,-2.0,0.02\n"  # out of order: sorted by date
            "2024-01-04,-0.32,,-999,-99.99,0.5,0.02\n",  # empty and missing codes
        )
        table = read_factor_file(path)
        assert table.columns == ("mkt_rf", "smb", "hml", "mom", "sector_etf", "rf")
        np.testing.assert_array_equal(table.day, days("2024-01-02", "2024-01-03", "2024-01-04"))
        expected = np.array(
            [
                [-0.71, 0.36, 1.02, 1.15, -2.0, 0.02],
                [-0.97, -0.85, 0.21, 0.24, 1.5, 0.02],
                [-0.32] + [np.nan] * 3 + [0.5, 0.02],
            ]
        )
        np.testing.assert_array_equal(table.values, expected / 100.0)
        assert table.units == "percent" and table.region is None and table.vintage is None
        non_rf = np.abs(expected[:, :5][~np.isnan(expected[:, :5])])
        assert f"{np.median(non_rf):.4g}" in table.units_rule and "detected percent" in table.units_rule
        assert table.source == str(path)

    def test_yyyymmdd_integers_and_decimals_detected(self, tmp_path: Path) -> None:
        path = write(
            tmp_path, "date,mkt_rf,rf\n20240102,-0.0071,0.0002\n20240103,0.0097,0.0002\n20240104,0.012,0.0002\n"
        )
        table = read_factor_file(path, region="us")
        np.testing.assert_array_equal(table.day, days("2024-01-02", "2024-01-03", "2024-01-04"))
        np.testing.assert_array_equal(table.column("mkt_rf"), [-0.0071, 0.0097, 0.012])
        assert table.units == "decimal" and "0.0097" in table.units_rule and "at or below 0.05" in table.units_rule
        assert table.region == "us"

    def test_the_threshold_is_exclusive_and_rf_is_left_out_of_the_rule(self, tmp_path: Path) -> None:
        # median |mkt_rf| is exactly 0.05: decimal; the large rf values would say percent if they counted
        path = write(tmp_path, "date,mkt_rf,rf\n2024-01-02,0.05,3.0\n2024-01-03,-0.05,3.0\n2024-01-04,0.04,3.0\n")
        assert read_factor_file(path).units == "decimal"
        path = write(tmp_path, "date,mkt_rf,rf\n2024-01-02,0.051,0\n2024-01-03,-0.06,0\n", "b.csv")
        assert read_factor_file(path).units == "percent"

    @pytest.mark.parametrize(("declared", "factor"), [("percent", 0.01), ("decimal", 1.0)])
    def test_declared_units_win_over_the_rule(self, tmp_path: Path, declared: str, factor: float) -> None:
        path = write(tmp_path, "date,mkt_rf,rf\n2024-01-02,0.5,0.02\n2024-01-03,-0.003,0.02\n")
        table = read_factor_file(path, units=declared)
        np.testing.assert_array_equal(table.column("mkt_rf"), np.array([0.5, -0.003]) * factor)
        assert table.units == declared and table.units_rule == f"declared {declared} by the caller"

    @pytest.mark.parametrize(
        ("given", "canonical"),
        [
            ("Mkt-RF", "mkt_rf"),
            ("MKT_RF", "mkt_rf"),
            ("mkt-rf", "mkt_rf"),
            ("Mkt_RF", "mkt_rf"),
            ("MktRF", "mkt_rf"),
            ("Mom", "mom"),
            ("MOM", "mom"),
            ("UMD", "mom"),
            ("WML", "mom"),
            ("RF", "rf"),
            ("SMB", "smb"),
            ("HML", "hml"),
            ("RMW", "rmw"),
            ("CMA", "cma"),
            (" HK$/US$ (FX) ", "hk_us_fx"),
        ],
    )
    def test_canonical_names(self, given: str, canonical: str) -> None:
        assert canonical_name(given) == canonical

    def test_an_empty_unnamed_column_is_ignored_and_a_filled_one_refused(self, tmp_path: Path) -> None:
        table = read_factor_file(write(tmp_path, "date,mkt_rf,\n2024-01-02,0.001,\n"))  # trailing commas
        assert table.columns == ("mkt_rf",) and table.values.tolist() == [[0.001]]
        error = error_of(read_factor_file, write(tmp_path, "date,mkt_rf,\n2024-01-02,0.001,7\n", "b.csv"))
        assert error.line == 1 and "without a name" in error.message

    def test_parquet_with_datetime_dates(self, tmp_path: Path) -> None:
        frame = pd.DataFrame(
            {"Date": pd.to_datetime(["2024-01-03", "2024-01-02"]), "Mkt-RF": [0.5, -0.7], "RF": [0.02, 0.02]}
        )
        path = tmp_path / "factors.parquet"
        frame.to_parquet(path)
        table = read_factor_file(path)
        np.testing.assert_array_equal(table.day, days("2024-01-02", "2024-01-03"))
        np.testing.assert_array_equal(table.values, np.array([[-0.7, 0.02], [0.5, 0.02]]) / 100.0)

    def test_parquet_errors_name_the_row(self, tmp_path: Path) -> None:
        frame = pd.DataFrame({"date": ["2024-01-02", "2024-01-03", "2024-01-03"], "mkt_rf": [0.1, 0.2, 0.3]})
        path = tmp_path / "factors.parquet"
        frame.to_parquet(path)
        error = error_of(read_factor_file, path)
        assert error.line is None and error.message.startswith("row 3:") and "also on row 2" in error.message

    # -------------------------------------------------------------------- errors with file, line and column

    def test_no_date_column(self, tmp_path: Path) -> None:
        path = write(tmp_path, "day,mkt_rf\n2024-01-02,0.1\n")
        error = error_of(read_factor_file, path)
        assert (error.path, error.line) == (str(path), 1) and "no date column" in error.message

    def test_unparsable_date_names_its_line(self, tmp_path: Path) -> None:
        path = write(tmp_path, "date,mkt_rf\n2024-01-02,0.1\n\n2024-13-45,0.2\n")  # a blank line 3 is skipped
        error = error_of(read_factor_file, path)
        assert (error.line, error.column, error.value) == (4, "date", "2024-13-45")

    def test_duplicate_date_names_both_lines(self, tmp_path: Path) -> None:
        path = write(tmp_path, "date,mkt_rf\n20240102,0.1\n20240103,0.2\n20240102,0.3\n")
        error = error_of(read_factor_file, path)
        assert (error.line, error.column) == (4, "date") and "also on line 2" in error.message

    def test_non_numeric_value_names_line_and_column(self, tmp_path: Path) -> None:
        path = write(tmp_path, "date,Mkt-RF,SMB\n2024-01-02,0.1,0.2\n2024-01-03,0.1,1.2%\n")
        error = error_of(read_factor_file, path)
        assert (error.line, error.column, error.value) == (3, "SMB", "1.2%")
        assert str(error).startswith(f"{path}:3: column 'SMB': not a number")

    def test_no_factor_column(self, tmp_path: Path) -> None:
        error = error_of(read_factor_file, write(tmp_path, "date\n2024-01-02\n"))
        assert error.line == 1 and "no factor column" in error.message

    def test_two_columns_with_one_canonical_name(self, tmp_path: Path) -> None:
        error = error_of(read_factor_file, write(tmp_path, "date,Mom,UMD\n2024-01-02,0.1,0.1\n"))
        assert (error.line, error.column) == (1, "UMD") and "'Mom'" in error.message

    def test_unknown_units(self, tmp_path: Path) -> None:
        with pytest.raises(UnknownNameError, match="choose one of: auto, decimal, percent"):
            read_factor_file(write(tmp_path, "date,mkt_rf\n2024-01-02,0.1\n"), units="basis points")


# ------------------------------------------------------------------------------------------ French layout


class TestFrenchLayout:
    def test_daily_block_values_vintage_and_footer(self) -> None:
        table = parse_french_csv(FF3_TEXT, "F-F_Research_Data_Factors_daily.CSV", region="us")
        assert table.columns == ("mkt_rf", "smb", "hml", "rf")
        np.testing.assert_array_equal(
            table.day, [day(f"{r[0]}"[:4] + "-" + f"{r[0]}"[4:6] + "-" + f"{r[0]}"[6:]) for r in FF3_ROWS]
        )
        expected = np.array([r[1:] for r in FF3_ROWS]) / 100.0
        expected[3, 2] = np.nan  # -99.99
        np.testing.assert_array_equal(table.values, expected)
        assert (table.vintage, table.units, table.region) == ("202601", "percent", "us")
        assert "Ken French" in table.units_rule and "percent" in table.units_rule

    def test_lf_line_endings_and_no_vintage(self) -> None:
        text = french_text(["Mkt-RF", "RF"], [(20240102, 0.5, 0.02)], vintage=None).replace("\r\n", "\n")
        table = parse_french_csv(text, "x.csv")
        assert table.vintage is None and table.values.tolist() == [[0.005, 0.0002]]

    def test_momentum_file_with_padded_header(self) -> None:
        table = parse_french_csv(MOM_TEXT, "mom.csv")
        assert table.columns == ("mom",)
        np.testing.assert_array_equal(table.column("mom"), np.array([r[1] for r in MOM_ROWS]) / 100.0)

    def test_a_monthly_first_block_is_refused_with_its_line(self) -> None:
        text = french_text(["Mkt-RF", "RF"], [(202401, 0.5, 0.02), (202402, 0.4, 0.02)])
        error = error_of(parse_french_csv, text, "F-F_Research_Data_Factors.CSV")
        assert (error.path, error.line, error.value) == ("F-F_Research_Data_Factors.CSV", 6, "202401")
        assert "not daily" in error.message

    def test_a_bad_value_names_the_line_of_the_text(self) -> None:
        text = FF3_TEXT.replace("    0.23", "     n.a", 1)  # 20240104's SMB, line 8
        error = error_of(parse_french_csv, text, "ff3.csv")
        assert (error.line, error.column, error.value) == (8, "SMB", "n.a")

    def test_text_without_a_header_line(self) -> None:
        error = error_of(parse_french_csv, "<html><body>Not Found</body></html>", "https://example/x.zip")
        assert "no header line starting with ','" in error.message

    @pytest.mark.parametrize("member", ["F-F_Research_Data_Factors_daily.CSV", "F-F_Research_Data_Factors_daily.csv"])
    def test_zip_as_downloaded(self, member: str) -> None:
        table = read_french_zip(zipped(FF3_TEXT, member), "https://example/ff3.zip", region="us")
        assert table.source == f"https://example/ff3.zip:{member}"
        np.testing.assert_array_equal(table.values, parse_french_csv(FF3_TEXT, "x").values)

    def test_zip_errors(self) -> None:
        assert "not a zip archive" in error_of(read_french_zip, b"<html>", "u").message
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("a.csv", FF3_TEXT)
            archive.writestr("b.CSV", FF3_TEXT)
        assert "expected one CSV file" in error_of(read_french_zip, buffer.getvalue(), "u").message


# ------------------------------------------------------------------------------------------ the table


def _table(
    rows: list[tuple[str, float, float]], columns: tuple[str, str] = ("mkt_rf", "rf"), **kw: object
) -> FactorTable:
    return FactorTable(
        day=days(*(r[0] for r in rows)),
        values=np.array([r[1:] for r in rows], dtype=float),
        columns=columns,
        source=str(kw.pop("source", "t")),
        **kw,  # type: ignore[arg-type]
    )


class TestFactorTable:
    def test_at_equals_a_pandas_reindex(self) -> None:
        rng = np.random.default_rng(7)
        all_days = np.arange(day("2024-01-01"), day("2024-03-01"))
        kept = np.sort(rng.choice(all_days, 30, replace=False))
        table = FactorTable(day=kept, values=rng.normal(size=(30, 3)), columns=("a", "b", "c"), source="t")
        asked = np.concatenate([rng.choice(all_days, 59), [all_days[0] - 5, all_days[-1] + 5, np.iinfo(np.int64).min]])
        asked = asked.reshape(2, 31)  # any shape
        got = table.at(asked, ["c", "a"])
        frame = pd.DataFrame(table.values, index=table.day, columns=list(table.columns))
        expected = frame.reindex(asked.ravel())[["c", "a"]].to_numpy().reshape(2, 31, 2)
        assert got.shape == (2, 31, 2)
        np.testing.assert_array_equal(got, expected)

    def test_at_takes_datetime64_of_any_unit_as_its_date(self) -> None:
        table = _table([("2024-01-02", 0.1, 0.01), ("2024-01-03", 0.2, 0.02)])
        stamps = np.array(["2024-01-03T16:00", "NaT", "2024-01-02T00:00"], dtype="datetime64[ns]")
        np.testing.assert_array_equal(table.at(stamps, ["mkt_rf"])[:, 0], [0.2, np.nan, 0.1])

    def test_unknown_column_lists_the_columns(self) -> None:
        table = _table([("2024-01-02", 0.1, 0.0)])
        error = error_of(table.column, "smb")
        assert "'smb'" in error.message and "mkt_rf, rf" in error.message
        assert "mkt_rf, rf" in error_of(table.at, days("2024-01-02"), ["mom"]).message

    def test_arrays_are_read_only_copies(self) -> None:
        values = np.array([[0.1, 0.0]])
        table = FactorTable(day=days("2024-01-02"), values=values, columns=("mkt_rf", "rf"), source="t")
        values[0, 0] = 9.0
        assert table.values[0, 0] == 0.1
        with pytest.raises(ValueError, match="read-only"):
            table.values[0, 0] = 1.0
        with pytest.raises(ValueError, match="strictly increasing"):
            FactorTable(day=days("2024-01-03", "2024-01-02"), values=np.zeros((2, 1)), columns=("a",), source="t")

    def test_join_on_the_union_of_days_equals_an_outer_merge(self) -> None:
        ff3 = parse_french_csv(FF3_TEXT, "ff3", region="us")
        mom = parse_french_csv(MOM_TEXT, "mom", region="us")
        joined = ff3.join(mom)
        assert joined.columns == ("mkt_rf", "smb", "hml", "rf", "mom")
        merged = ff3.frame().merge(mom.frame(), on="date", how="outer").sort_values("date")
        pd.testing.assert_frame_equal(joined.frame(), merged.reset_index(drop=True))
        assert np.isnan(joined.at(days("2024-01-04"), ["mom"])[0, 0])  # the day the momentum file lacks
        assert (joined.source, joined.vintage, joined.region, joined.units) == ("ff3 + mom", "202601", "us", "percent")

    def test_join_keeps_a_shared_column_and_fills_the_days_it_lacks(self) -> None:
        left = _table([("2024-01-02", 0.1, 0.01), ("2024-01-03", 0.2, np.nan)])
        right = _table([("2024-01-03", 5.0, 0.02), ("2024-01-04", 6.0, 0.03)], ("smb", "rf"))
        joined = left.join(right)
        np.testing.assert_array_equal(joined.column("rf"), [0.01, 0.02, 0.03])
        np.testing.assert_array_equal(joined.column("mkt_rf"), [0.1, 0.2, np.nan])
        np.testing.assert_array_equal(joined.column("smb"), [np.nan, 5.0, 6.0])

    def test_join_refuses_disagreeing_rates_and_mixed_regions(self) -> None:
        left = _table([("2024-01-02", 0.1, 0.01)], source="a")
        right = _table([("2024-01-02", 0.3, 0.02)], ("smb", "rf"), source="b")
        error = error_of(left.join, right)
        assert error.column == "rf" and "2024-01-02" in error.message and "a (" in error.message
        us, apxj = _table([("2024-01-02", 0.1, 0.01)], region="us"), _table([("2024-01-02", 0.1, 0.01)], region="japan")
        assert "region" in error_of(us.join, apxj).message

    def test_frame(self) -> None:
        frame = _table([("2024-01-02", 0.1, 0.01)]).frame()
        assert list(frame.columns) == ["date", "mkt_rf", "rf"] and frame["date"].iloc[0] == pd.Timestamp("2024-01-02")


# ------------------------------------------------------------------------------------------ the store


@pytest.fixture
def store(tmp_path: Path) -> PriceStore:
    return PriceStore(tmp_path / "store" / "prices.sqlite")


def _file_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.glob(path.name + "*"))}


class TestStoreFactorFiles:
    def test_round_trip_serves_the_latest_download(self, store: PriceStore) -> None:
        old, new = zipped(FF3_TEXT, "a.CSV"), zipped(MOM_TEXT, "b.CSV")
        first = store.write_factor_file(
            "ds", "https://x/ds.zip", old, vintage="202512", fetched_at_utc="2026-01-01T00:00:00"
        )
        second = store.write_factor_file(
            "ds", "https://x/ds.zip", new, vintage="202601", fetched_at_utc="2026-02-01T00:00:00"
        )
        assert second > first
        stored = store.factor_file("ds")
        assert stored is not None and (stored.content, stored.fetched_at_utc, stored.vintage) == (
            new,
            "2026-02-01T00:00:00",
            "202601",
        )
        assert store.factor_file("other") is None
        assert store.listing().empty and store.failed_symbols() == []  # factor files are not price data

    def test_an_old_store_without_the_table_reads_as_empty_and_is_left_alone(self, store: PriceStore) -> None:
        frame = pd.DataFrame({"close": [1.0], "adj_close": [1.0]}, index=pd.DatetimeIndex(["2024-01-02"], name="date"))
        store.write("AAA", frame, FetchInfo(None, None))
        con = sqlite3.connect(store.path)
        con.execute("DROP TABLE factor_files")  # the layout before factor files existed
        con.execute("PRAGMA journal_mode = DELETE")
        con.close()
        before = _file_bytes(store.path)
        assert store.factor_file("ds") is None
        assert _file_bytes(store.path) == before  # reading changed nothing
        store.write_factor_file("ds", "u", b"zip", vintage=None)  # the first write adds the table
        stored = store.factor_file("ds")
        assert stored is not None and stored.content == b"zip" and stored.vintage is None
        assert store.listing()["symbol"].tolist() == ["AAA"]

    def test_store_ls_still_works(self, store: PriceStore, capsys: pytest.CaptureFixture[str]) -> None:
        store.write_factor_file("ds", "u", b"zip", vintage="202601")
        assert cli_main(["store", "ls", "--store", str(store.path)]) == 0
        out = capsys.readouterr().out
        assert "(empty)" in out and "no data stored" not in out

    def test_a_changed_file_is_refused(self, store: PriceStore) -> None:
        store.write_factor_file("ds", "u", b"zip", vintage=None)
        con = sqlite3.connect(store.path)
        con.execute("UPDATE factor_files SET content = ?", (b"zap",))
        con.commit()
        con.close()
        with pytest.raises(StoreError, match="damaged factor file 'ds'"):
            store.factor_file("ds")


# ------------------------------------------------------------------------------------------ downloads


def _url(model: str, region: str = "us") -> str:
    return FRENCH_URL.format(dataset=FRENCH_DATASETS[(model, region)])


@pytest.fixture
def http() -> responses.RequestsMock:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock  # an unregistered URL raises ConnectionError: no test reaches the network


class TestLoadFrench:
    def test_dataset_names(self) -> None:
        assert FRENCH_DATASETS[("ff3", "us")] == "F-F_Research_Data_Factors_daily"
        assert FRENCH_DATASETS[("ff5", "us")] == "F-F_Research_Data_5_Factors_2x3_daily"
        assert FRENCH_DATASETS[("mom", "us")] == "F-F_Momentum_Factor_daily"
        assert FRENCH_DATASETS[("ff3", "asia_pacific_ex_japan")] == "Asia_Pacific_ex_Japan_3_Factors_Daily"
        assert FRENCH_DATASETS[("ff5", "japan")] == "Japan_5_Factors_Daily"
        assert FRENCH_DATASETS[("mom", "europe")] == "Europe_Mom_Factor_Daily"
        assert len(FRENCH_DATASETS) == 15
        assert (
            _url("ff3")
            == "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp/F-F_Research_Data_Factors_daily_CSV.zip"
        )

    def test_carhart_downloaded_stored_then_read_offline(self, store: PriceStore, http: responses.RequestsMock) -> None:
        http.add(responses.GET, _url("ff3"), body=zipped(FF3_TEXT, "F-F_Research_Data_Factors_daily.CSV"))
        http.add(responses.GET, _url("mom"), body=zipped(MOM_TEXT, "F-F_Momentum_Factor_daily.CSV"))
        online = load_french("carhart", "us", store)
        assert len(http.calls) == 2
        expected = parse_french_csv(FF3_TEXT, "a").join(parse_french_csv(MOM_TEXT, "b"))
        np.testing.assert_array_equal(online.day, expected.day)
        np.testing.assert_array_equal(online.values, expected.values)
        assert online.columns == ("mkt_rf", "smb", "hml", "rf", "mom") and online.region == "us"
        stored = store.factor_file("F-F_Momentum_Factor_daily")
        assert stored is not None and stored.vintage == "202601"
        offline = load_french("carhart", "us", store, offline=True)
        assert len(http.calls) == 2  # nothing downloaded
        np.testing.assert_array_equal(offline.values, online.values)
        assert offline.source.startswith("store:F-F_Research_Data_Factors_daily")
        again = load_french("ff3", "us", store)  # online, but the store has it
        assert len(http.calls) == 2 and again.columns == ("mkt_rf", "smb", "hml", "rf")

    def test_capm_is_the_market_and_the_risk_free_rate(self, store: PriceStore, http: responses.RequestsMock) -> None:
        http.add(responses.GET, _url("ff3", "japan"), body=zipped(FF3_TEXT, "Japan_3_Factors_Daily.csv"))
        table = load_french("capm", "japan", store)
        assert table.columns == ("mkt_rf", "rf") and table.region == "japan"
        np.testing.assert_array_equal(table.column("rf"), np.array([r[4] for r in FF3_ROWS]) / 100.0)

    def test_offline_without_a_stored_copy(self, store: PriceStore) -> None:
        with pytest.raises(DataError, match="F-F_Research_Data_5_Factors_2x3_daily is not in the store") as info:
            load_french("ff5", "us", store, offline=True)
        assert "--factors PATH" in str(info.value)

    def test_a_failed_download_says_what_to_do_and_stores_nothing(
        self, store: PriceStore, http: responses.RequestsMock
    ) -> None:
        http.add(responses.GET, _url("ff3"), status=503, body="busy")
        with pytest.raises(DataError, match="could not download the Ken French dataset") as info:
            load_french("ff3", "us", store)
        assert "--offline" in str(info.value) and "--factors PATH" in str(info.value)
        http.replace(responses.GET, _url("ff3"), body=b"<html>moved</html>")
        with pytest.raises(DataError, match="is not a Ken French daily file"):
            load_french("ff3", "us", store)
        assert store.factor_file(FRENCH_DATASETS[("ff3", "us")]) is None

    def test_a_timeout_is_a_data_error(self, store: PriceStore, http: responses.RequestsMock) -> None:
        http.add(responses.GET, _url("ff3"), body=requests.exceptions.ConnectTimeout("timed out"))
        with pytest.raises(DataError, match="ConnectTimeout"):
            load_french("ff3", "us", store, session=requests.Session(), timeout=1.0)

    def test_refresh_downloads_a_new_vintage(self, store: PriceStore, http: responses.RequestsMock) -> None:
        http.add(responses.GET, _url("ff3"), body=zipped(FF3_TEXT, "a.CSV"))
        load_french("ff3", "us", store)
        newer = french_text(["Mkt-RF", "SMB", "HML", "RF"], FF3_ROWS[:2], vintage="202602")
        http.replace(responses.GET, _url("ff3"), body=zipped(newer, "a.CSV"))
        table = load_french("ff3", "us", store, refresh=True)
        assert table.vintage == "202602" and len(table.day) == 2
        assert load_french("ff3", "us", store, offline=True).vintage == "202602"

    def test_bad_arguments(self, store: PriceStore) -> None:
        with pytest.raises(InputError, match="offline"):
            load_french("ff3", "us", store, offline=True, refresh=True)
        with pytest.raises(UnknownNameError, match="factor region"):
            load_french("ff3", "mars", store)
        with pytest.raises(UnknownNameError, match="factor model"):
            load_french("apt", "us", store)


# ------------------------------------------------------------------------------------------ regions


@pytest.mark.parametrize(
    ("ticker", "region"),
    [
        ("0700.HK", "asia_pacific_ex_japan"),
        ("2330.TW", "asia_pacific_ex_japan"),
        ("6488.TWO", "asia_pacific_ex_japan"),
        ("600519.SS", "asia_pacific_ex_japan"),
        ("000001.SZ", "asia_pacific_ex_japan"),
        ("005930.KS", "asia_pacific_ex_japan"),
        ("035720.KQ", "asia_pacific_ex_japan"),
        ("D05.SI", "asia_pacific_ex_japan"),
        ("BHP.AX", "asia_pacific_ex_japan"),
        ("FPH.NZ", "asia_pacific_ex_japan"),
        ("7203.T", "japan"),
        ("TCEHY", "us"),
        ("BABA", "us"),
        ("BRK-B", "us"),
        ("ASML.AS", "europe"),
        ("HSBA.L", "europe"),
        ("SAP.DE", "europe"),
        ("MC.PA", "europe"),
        ("ENI.MI", "europe"),
        ("SAN.MC", "europe"),
        ("NESN.SW", "europe"),
        ("VOLV-B.ST", "europe"),
        ("NOVO-B.CO", "europe"),
        ("NOKIA.HE", "europe"),
        ("EQNR.OL", "europe"),
        ("ABI.BR", "europe"),
        ("EDP.LS", "europe"),
        ("OMV.VI", "europe"),
        ("RYA.IR", "europe"),
        ("RY.TO", "developed"),
        ("0700.hk", "asia_pacific_ex_japan"),
    ],
)
def test_factor_region(ticker: str, region: str) -> None:
    assert factor_region(ticker) == region


def test_factor_regions_vectorised() -> None:
    tickers = pd.Series(["0700.HK", "TCEHY", "7203.T", "SAP.DE", "RY.TO"])
    got = factor_regions(tickers)
    assert got.tolist() == [factor_region(t) for t in tickers]
    assert factor_regions(np.array([], dtype=object)).tolist() == []


# ------------------------------------------------------------------------------------------ the shared folder


@pytest.fixture
def factors_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "curated" / "factors"


@pytest.mark.realdata
class TestCuratedFolder:
    def test_us_ff3_value_on_2020_03_16(self, factors_dir: Path) -> None:
        raw = pd.read_csv(factors_dir / "ff3_us_daily.csv")
        row = raw.loc[raw["Date"] == "2020-03-16"]
        table = load_curated_factors(factors_dir, "ff3", "us")
        got = table.at(days("2020-03-16"), ["mkt_rf", "smb", "hml", "rf"])[0]
        np.testing.assert_array_equal(got, row[["Mkt-RF", "SMB", "HML", "RF"]].to_numpy()[0] / 100.0)
        assert got[0] < -0.1  # the 16 March 2020 crash, read as a decimal
        assert (table.region, table.units, len(table.day)) == ("us", "percent", len(raw))
        assert "declared percent" in table.units_rule

    def test_auto_units_agree_with_the_declared_percent(self, factors_dir: Path) -> None:
        for path in sorted(factors_dir.glob("*_daily.csv")):
            assert read_factor_file(path).units == "percent", path.name

    def test_carhart_joins_momentum_on_the_union_of_days(self, factors_dir: Path) -> None:
        ff3 = pd.read_csv(factors_dir / "ff3_us_daily.csv")
        mom = pd.read_csv(factors_dir / "mom_us_daily.csv")
        merged = ff3.merge(mom, on="Date", how="outer").sort_values("Date")
        table = load_curated_factors(factors_dir, "carhart", "us")
        assert table.columns == ("mkt_rf", "smb", "hml", "rf", "mom")
        np.testing.assert_array_equal(
            table.day, pd.to_datetime(merged["Date"]).to_numpy().astype("datetime64[D]").view(np.int64)
        )
        np.testing.assert_array_equal(table.column("mom"), merged["Mom"].to_numpy() / 100.0)
        np.testing.assert_array_equal(table.column("rf"), merged["RF"].to_numpy() / 100.0)

    def test_capm_and_asia_pacific(self, factors_dir: Path) -> None:
        capm = load_curated_factors(factors_dir, "capm", "us")
        assert capm.columns == ("mkt_rf", "rf")
        ff5 = load_curated_factors(factors_dir, "ff5", "asia_pacific_ex_japan")
        raw = pd.read_csv(factors_dir / "ff5_asia_pacific_ex_japan_daily.csv")
        assert ff5.columns == ("mkt_rf", "smb", "hml", "rmw", "cma", "rf") and ff5.region == "asia_pacific_ex_japan"
        np.testing.assert_array_equal(ff5.column("cma"), raw["CMA"].to_numpy() / 100.0)

    def test_a_missing_file_lists_the_folder(self, factors_dir: Path) -> None:
        with pytest.raises(DataError, match=r"mom_asia_pacific_ex_japan_daily\.csv") as info:
            load_curated_factors(factors_dir, "carhart", "asia_pacific_ex_japan")
        assert "ff3_us_daily.csv" in str(info.value) and "mom_us_daily.csv" in str(info.value)
