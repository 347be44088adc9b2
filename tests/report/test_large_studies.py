"""Reports of large studies: capped at-a-glance, by-firm and appendix tables that say what they leave out.

The fake result of tests/report/conftest.py with many events; the caps are lowered so the tables stay small.
The expected rows are chosen here from the result's car frame with pandas (largest |mean CAR| per event and
largest |CAR| per firm-event over [-1, +1]), never by the code under test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from eventstudy import summary as summary_module
from eventstudy.report import _tables
from eventstudy.report._format import Paragraph, Table
from eventstudy.report._tables import build_document, figure_specs
from eventstudy.summary import Summary

_spec = importlib.util.spec_from_file_location("_fake_study_result", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
make_fake_result = _fake.make_fake_result

EVENT_IDS = tuple(f"ev{i:02d}" for i in range(12))
HEADLINE = (-1, 1)


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    monkeypatch.setattr(summary_module, "GLANCE_MAX_EVENTS", 4)
    monkeypatch.setattr(summary_module, "FIRM_CAR_MAX_ROWS", 5)
    monkeypatch.setattr(_tables, "REPORT_MAX_ROWS", 7)
    return make_fake_result(event_ids=EVENT_IDS)


def _headline_car(result: SimpleNamespace) -> pd.DataFrame:
    car = result.car
    return car[(car["window_start"] == HEADLINE[0]) & (car["window_end"] == HEADLINE[1])]


def _largest_events(result: SimpleNamespace, k: int) -> list[str]:
    caar = _headline_car(result).dropna(subset=["car"]).groupby("event_id")["car"].mean().abs()
    top = set(caar.sort_values(ascending=False).index[:k])
    return [e for e in EVENT_IDS if e in top]  # shown in events-file order


def _largest_firm_events(result: SimpleNamespace, k: int) -> set[tuple[str, str]]:
    car = _headline_car(result).assign(size=lambda f: f["car"].abs()).sort_values("size", ascending=False)
    return set(zip(car["event_id"].iloc[:k], car["ticker"].iloc[:k], strict=True))


def test_glance_shows_the_events_with_the_largest_caar_and_the_pooled_row(large: SimpleNamespace) -> None:
    summary = Summary.from_result(large)
    expected = _largest_events(large, 4)
    assert summary.groups["group"].tolist() == [*expected, "all"]
    assert (summary.events_total, summary.firm_events_total) == (12, 24)
    table = summary.glance_table()
    assert [row[0] for row in table.rows][:4] == expected and len(table.rows) == 5
    note = next(n for n in table.notes if "events shown" in n)
    assert "4 of 12 events shown (8 omitted)" in note and "car.csv and tests.csv" in note and "[-1, +1]" in note
    # the sentence still counts the whole study
    assert "12 events" in summary.sentence and "24 firm-events" in summary.sentence
    # the pooled row's CAAR is over every firm-event, not only those shown
    pooled = summary.caar[(summary.caar["group"] == "all") & (summary.caar["window_start"] == HEADLINE[0])]
    everything = _headline_car(large)["car"].dropna()
    np.testing.assert_allclose(pooled["caar"].iloc[0], everything.mean(), rtol=1e-12)
    assert int(pooled["n"].iloc[0]) == len(everything)


def test_by_firm_table_keeps_the_largest_cars(large: SimpleNamespace) -> None:
    summary = Summary.from_result(large)
    shown = set(zip(summary.firm_car["event_id"], summary.firm_car["ticker"], strict=True))
    assert shown == _largest_firm_events(large, 5)
    table = summary.car_table()
    assert len(table.rows) == 5
    assert any("5 of 24 firm-events shown (19 omitted)" in n and "car.csv" in n for n in table.notes)


def test_small_studies_are_not_capped() -> None:
    result = make_fake_result(event_ids=EVENT_IDS)
    summary = Summary.from_result(result)
    assert summary.groups["group"].tolist() == [*EVENT_IDS, "all"]
    assert len(summary.car_table().rows) == 24
    assert not any("omitted" in n for n in (*summary.glance_table().notes, *summary.car_table().notes))


def test_appendix_tables_are_capped_with_a_note(large: SimpleNamespace) -> None:
    doc = build_document(large, figure_specs(large, per_event=False))
    tables = [b for b in doc if isinstance(b, Table)]
    capped = [t for t in tables if any("rows (" in n and "omitted" in n for n in t.notes)]
    # the day-0 audit (24 rows) and the parameters (24 rows) are cut to 7 rows; events (12) too
    assert len(capped) >= 3 and all(len(t.rows) == 7 for t in capped)
    notes = [n for t in capped for n in t.notes if "omitted" in n]
    assert any("of 24 rows (17 omitted); every row: event_days.csv" in n for n in notes)
    assert any("every row: parameters.csv" in n for n in notes)
    assert any("of 12 rows (5 omitted); every row: the events file" in n for n in notes)
    # CARs and tests per event only for the events at a glance, with a note
    paragraphs = [b.text for b in doc if isinstance(b, Paragraph)]
    assert any("The 4 events shown at a glance (8 of 12 omitted); every event: car.csv" in p for p in paragraphs)
    assert any("every event: tests.csv" in p for p in paragraphs)
    anchors = {str(getattr(b, "anchor", "")) for b in doc}
    shown = _largest_events(large, 4)
    assert {f"car-{e}" for e in shown} <= anchors and {f"tests-{e}" for e in shown} <= anchors
    assert not any(f"car-{e}" in anchors or f"tests-{e}" in anchors for e in EVENT_IDS if e not in shown)


def test_large_tables_are_named_as_parquet_folders(large: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    from eventstudy import outputs

    monkeypatch.setattr(outputs, "LARGE_TABLE_ROWS", 10)  # car has 36 rows, tests more
    summary = Summary.from_result(large)
    note = next(n for n in summary.glance_table().notes if "events shown" in n)
    assert "car.parquet/ and tests.parquet/" in note


def test_xlsx_sheets_hold_the_first_rows_and_say_where_the_rest_is(
    large: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    from eventstudy.report import xlsx

    monkeypatch.setattr(xlsx, "XLSX_MAX_ROWS", 10)
    path = xlsx.render_xlsx(large, tmp_path / "report.xlsx")
    book = load_workbook(path, read_only=True)
    assert len(list(book["CAR"].iter_rows())) == 1 + 10  # the header and the first 10 of 36 rows
    first = [row[0].value for row in book["CAR"].iter_rows(min_row=2, max_row=3)]
    assert first == list(large.car["event_id"].iloc[:2])
    about = [row[0].value for row in book["About"].iter_rows()]
    assert f"CAR: the first 10 of {len(large.car)} rows; every row: car.csv." in about
    assert f"Tests: the first 10 of {len(large.tests)} rows; every row: tests.csv." in about


def test_notes_name_the_files_the_tables_were_written_as(large: SimpleNamespace) -> None:
    # --output-format parquet writes even small per-firm-event tables as Parquet folders: the notes say so
    doc = build_document(large, figure_specs(large, per_event=False), output_format="parquet")
    notes = [n for b in doc if isinstance(b, Table) for n in b.notes]
    paragraphs = [b.text for b in doc if isinstance(b, Paragraph)]
    assert any("every row: event_days.parquet/" in n for n in notes)
    assert any("every row: parameters.parquet/" in n for n in notes)
    assert any("every event: car.parquet/" in p for p in paragraphs)
    assert not any("event_days.csv" in n or "parameters.csv" in n for n in notes)
    summary = Summary.from_result(large, "parquet")
    assert (summary.car_file, summary.tests_file) == ("car.parquet/", "tests.parquet/")
    glance_note = next(n for n in summary.glance_table().notes if "events shown" in n)
    assert "car.parquet/ and tests.parquet/" in glance_note
    assert Summary.from_result(large, "csv").car_file == "car.csv"


def test_write_report_passes_the_output_format_on(large: SimpleNamespace, tmp_path: Path) -> None:
    from eventstudy.report import write_report

    write_report(large, tmp_path, formats="md", per_event_figures=False, output_format="parquet")
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "car.parquet/" in text and "car.csv" not in text


def test_figure_notes_count_what_is_left_out_of_a_large_study() -> None:
    """60 events x 2 tickers with some all-NaN CAR paths and AAR groups: the counts against a pandas group-by."""
    result = make_fake_result(event_ids=tuple(f"ev{i:02d}" for i in range(60)))
    path = result.car_path
    blank = path["event_id"].isin(["ev03", "ev07"]) & (path["ticker"] == path["ticker"].iloc[0])
    result.car_path = path.assign(car=path["car"].mask(blank))
    aar = result.aar
    result.aar = aar.assign(aar=aar["aar"].mask(aar["group"].isin(["ev05", "ev07"])))
    specs = figure_specs(result)
    assert [s.kind for s in specs] == ["aar", "heatmap"]  # per-event figures off above 12 events
    drawable_paths = result.car_path.groupby(["event_id", "ticker"])["car"].agg(lambda s: s.notna().any())
    drawable_groups = result.aar.groupby("group")["aar"].agg(lambda s: s.notna().any()).drop("all")
    events_with_paths = drawable_paths[drawable_paths].index.get_level_values("event_id").nunique()
    notes = _tables.figure_notes(result, specs)
    assert (
        f"this study has 60 events and {len(drawable_paths)} firm-events" in notes[0]
        and f"Not drawn: {int(drawable_groups.sum())} AAR/CAAR figures (one per event) and {events_with_paths} CAR "
        "figures"
        in notes[0]
    )
    assert (int(drawable_groups.sum()), events_with_paths, len(drawable_paths)) == (58, 60, 120)
    assert notes[-1].startswith(
        f"Left out for want of data: {int((~drawable_groups).sum())} AAR/CAAR figures and "
        f"{int((~drawable_paths).sum())} CAR panels"
    )
    assert int((~drawable_paths).sum()) == 2
