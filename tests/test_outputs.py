"""Writing the tables: CSV or partitioned Parquet, checked by reading the files back with pandas and pyarrow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from eventstudy import outputs
from eventstudy.outputs import part_bounds, table_format, write_tables


def _car(n_events: int = 40) -> pd.DataFrame:
    ids = np.repeat([f"ev{i:03d}" for i in range(n_events)], 2)
    return pd.DataFrame(
        {
            "event_id": ids,
            "ticker": np.tile(["AAA", "BBB"], n_events),
            "car": np.linspace(-0.1, 0.1, 2 * n_events),
            "df": np.arange(2 * n_events, dtype=np.int64),
            "day_zero": pd.to_datetime(["2020-01-02"] * (2 * n_events)).where(np.arange(2 * n_events) != 3),
            "event_time_utc": pd.to_datetime(["2020-01-02 11:00"] * (2 * n_events)).tz_localize("Asia/Hong_Kong"),
        }
    )


def _fails_on_second_call(real: Any) -> Any:
    """``real`` that raises ``OSError("disk full")`` on its second call (a table half written)."""
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    return failing


def _frames() -> dict[str, pd.DataFrame]:
    return {"car": _car(), "knobs": pd.DataFrame({"knob": ["fec"], "value": ["on"]})}


class TestTableFormat:
    @pytest.mark.parametrize(
        ("name", "rows", "choice", "expected"),
        [
            ("car", 100_000, "auto", "csv"),
            ("car", 100_001, "auto", "parquet"),
            ("abnormal_returns", 5, "parquet", "parquet"),
            ("tests", 10**7, "csv", "csv"),
            ("knobs", 10**7, "auto", "csv"),
            ("exclusions", 1, "parquet", "csv"),
        ],
    )
    def test_rule(self, name: str, rows: int, choice: Any, expected: str) -> None:
        assert table_format(name, rows, choice) == expected


class TestWriteTables:
    def test_csv_by_default_for_small_tables(self, tmp_path: Path) -> None:
        paths = write_tables(_frames(), tmp_path)
        assert paths == [tmp_path / "car.csv", tmp_path / "knobs.csv"]
        back = pd.read_csv(tmp_path / "car.csv", keep_default_na=False)
        assert back["day_zero"].tolist()[:4] == ["2020-01-02", "2020-01-02", "2020-01-02", ""]
        assert back["event_time_utc"].iloc[0] == "2020-01-02T11:00:00+08:00"  # ISO 8601 with its offset

    def test_parquet_round_trip(self, tmp_path: Path) -> None:
        frame = _car()
        paths = write_tables(_frames(), tmp_path, "parquet")
        assert paths == [tmp_path / "car.parquet", tmp_path / "knobs.csv"]
        back = pd.read_parquet(tmp_path / "car.parquet")
        back = back.sort_values("df").reset_index(drop=True)
        pd.testing.assert_series_equal(back["event_id"], frame["event_id"], check_dtype=False)
        np.testing.assert_array_equal(back["car"].to_numpy(), frame["car"].to_numpy())
        np.testing.assert_array_equal(back["df"].to_numpy(), frame["df"].to_numpy())
        # dates as Parquet dates (NaT a null), instants as UTC timestamps
        schema = pq.read_schema(next((tmp_path / "car.parquet").glob("*.parquet")))
        assert str(schema.field("day_zero").type) == "date32[day]"
        assert str(schema.field("event_time_utc").type).startswith("timestamp") and "UTC" in str(
            schema.field("event_time_utc").type
        )
        assert back["day_zero"].isna().tolist() == [i == 3 for i in range(len(frame))]
        assert (back["event_time_utc"] == pd.Timestamp("2020-01-02 03:00", tz="UTC")).all()

    def test_parts_hold_consecutive_rows_and_whole_events(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(outputs, "PARQUET_PART_ROWS", 7)  # 400 rows of 2-row events: parts of 8 rows
        frame = _car(200)
        write_tables({"car": frame}, tmp_path, "parquet")
        files = sorted((tmp_path / "car.parquet").glob("part-*.parquet"))
        assert [f.name for f in files[:2]] == ["part-00000.parquet", "part-00001.parquet"] and len(files) == 50
        parts = [pd.read_parquet(f) for f in files]
        assert all(len(part) == 8 for part in parts)
        pd.testing.assert_frame_equal(
            pd.concat(parts, ignore_index=True)[["event_id", "car"]], frame[["event_id", "car"]]
        )
        seen: dict[str, str] = {}
        for f, part in zip(files, parts, strict=True):
            for event in part["event_id"]:
                assert seen.setdefault(event, f.name) == f.name  # each event in one file
        pd.testing.assert_series_equal(pd.read_parquet(tmp_path / "car.parquet")["car"], frame["car"])  # in order

    @pytest.mark.parametrize(
        ("keys", "rows", "bounds"),
        [
            (list("aabbbcdd"), 2, [(0, 2), (2, 5), (5, 8)]),  # each part: 2 rows, then up to the next change
            (list("aabbbcdd"), 3, [(0, 5), (5, 8)]),
            (list("aabbbcdd"), 8, [(0, 8)]),
            (["x"] * 10, 3, [(0, 10)]),  # a run longer than a part stays whole
            ([], 5, [(0, 0)]),  # one empty part: the columns of an empty table
        ],
    )
    def test_part_bounds(self, keys: list[str], rows: int, bounds: list[tuple[int, int]]) -> None:
        assert part_bounds(pd.Series(keys, dtype="str"), rows) == bounds

    def test_text_columns_read_back_as_the_frames_text(self, tmp_path: Path) -> None:
        # written dictionary-encoded without the Arrow schema: read back as text, not as categories
        frame = _car(30)
        write_tables({"car": frame}, tmp_path, "parquet")
        back = pd.read_parquet(tmp_path / "car.parquet").sort_values("df", ignore_index=True)
        assert back["event_id"].dtype == frame["event_id"].dtype and back["ticker"].dtype == frame["ticker"].dtype
        pd.testing.assert_frame_equal(back[["event_id", "ticker"]], frame[["event_id", "ticker"]])
        for part in (tmp_path / "car.parquet").glob("part-*.parquet"):
            assert not str(pq.read_schema(part).field("event_id").type).startswith("dictionary")

    def test_auto_switches_above_the_threshold(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(outputs, "LARGE_TABLE_ROWS", 79)
        assert write_tables({"car": _car(40)}, tmp_path)[0].name == "car.parquet"  # 80 rows
        assert write_tables({"car": _car(39)}, tmp_path)[0].name == "car.csv"  # 78 rows

    def test_one_form_replaces_the_other(self, tmp_path: Path) -> None:
        write_tables(_frames(), tmp_path, "csv")
        write_tables(_frames(), tmp_path, "parquet")
        assert not (tmp_path / "car.csv").exists() and (tmp_path / "car.parquet").is_dir()
        write_tables(_frames(), tmp_path, "csv")
        assert (tmp_path / "car.csv").is_file() and not (tmp_path / "car.parquet").exists()

    def test_an_interrupted_write_leaves_the_old_table(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(outputs, "PARQUET_PART_ROWS", 50)  # 400 rows: eight part files
        write_tables({"car": _car(5)}, tmp_path, "parquet")
        monkeypatch.setattr(pq, "write_table", _fails_on_second_call(pq.write_table))
        with pytest.raises(OSError, match="disk full"):
            write_tables({"car": _car(200)}, tmp_path, "parquet")
        assert len(pd.read_parquet(tmp_path / "car.parquet")) == 10  # the previous, complete table
        assert sorted(p.name for p in tmp_path.iterdir()) == ["car.parquet"]  # the partial folder removed
        monkeypatch.undo()
        write_tables({"car": _car(200)}, tmp_path, "parquet")
        assert len(pd.read_parquet(tmp_path / "car.parquet")) == 400
        assert sorted(p.name for p in tmp_path.iterdir()) == ["car.parquet"]

    def test_a_failed_first_parquet_write_leaves_nothing(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(outputs, "PARQUET_PART_ROWS", 50)
        monkeypatch.setattr(pq, "write_table", _fails_on_second_call(pq.write_table))
        with pytest.raises(OSError, match="disk full"):
            write_tables({"car": _car(200)}, tmp_path, "parquet")
        assert list(tmp_path.iterdir()) == []

    def test_a_failed_csv_write_leaves_no_file_and_keeps_the_old_one(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        real = pd.DataFrame.to_csv

        def half_then_fail(frame: pd.DataFrame, path: Any, **kwargs: Any) -> None:
            real(frame.iloc[: len(frame) // 2], path, **kwargs)  # half the rows are on disk ...
            raise OSError("disk full")  # ... when the disk fills up

        write_tables({"knobs": _frames()["knobs"]}, tmp_path)
        monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
        with pytest.raises(OSError, match="disk full"):
            write_tables(_frames(), tmp_path, "csv")  # car.csv is new, knobs.csv exists
        assert sorted(p.name for p in tmp_path.iterdir()) == ["knobs.csv"]
        assert pd.read_csv(tmp_path / "knobs.csv").to_dict("list") == {"knob": ["fec"], "value": ["on"]}

    def test_a_killed_writer_leaves_only_a_hidden_partial(self, tmp_path: Path) -> None:
        # the process dies (no exception handler runs) after the first part file of car.parquet is written
        code = (
            "import os, sys, pandas as pd, pyarrow.parquet as pq\n"
            "from eventstudy import outputs\n"
            "from eventstudy.outputs import write_tables\n"
            "outputs.PARQUET_PART_ROWS = 10\n"
            "real = pq.write_table\n"
            "def die(*args, **kwargs):\n"
            "    real(*args, **kwargs)\n"
            "    os._exit(9)\n"
            "pq.write_table = die\n"
            "frame = pd.DataFrame({'event_id': [f'e{i}' for i in range(50)], 'car': range(50)})\n"
            "write_tables({'car': frame}, sys.argv[1], 'parquet')\n"
        )
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
        assert done.returncode == 9
        names = [p.name for p in tmp_path.iterdir()]
        assert len(names) == 1 and names[0].startswith(".car.parquet.") and names[0].endswith(".partial")
        assert 0 < len(list((tmp_path / names[0]).iterdir())) < 5  # it died with some of the five parts written

    def test_a_successful_write_leaves_no_temporary_files(self, tmp_path: Path) -> None:
        write_tables(_frames(), tmp_path, "parquet")
        write_tables(_frames(), tmp_path, "parquet")  # replaces car.parquet/ and knobs.csv
        assert sorted(p.name for p in tmp_path.iterdir()) == ["car.parquet", "knobs.csv"]

    def test_empty_table_keeps_its_columns(self, tmp_path: Path) -> None:
        write_tables({"car": _car(0)}, tmp_path, "parquet")
        back = pd.read_parquet(tmp_path / "car.parquet")
        assert len(back) == 0 and list(back.columns) == list(_car(0).columns)
