"""Exports where papers are written (issue 7): the XLSX workbook and the booktabs TeX tables; and no report
format shows where the files lie on the machine."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from eventstudy.report import write_report
from eventstudy.report.tex import render_tex, tex_escape
from eventstudy.report.xlsx import PERCENT_FORMAT, SHEETS, render_xlsx, sheet_frames
from eventstudy.summary import Summary

_spec = importlib.util.spec_from_file_location("_fake_study_result", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
make_fake_result = _fake.make_fake_result
EVENTS, SCRIPT_HEADLINE, CJK_HEADLINE = _fake.EVENTS, _fake.SCRIPT_HEADLINE, _fake.CJK_HEADLINE


def _with_bootstrap(result: SimpleNamespace) -> SimpleNamespace:
    """Add bootstrap_caar rows (a statistic that is a return) to the fake result's tests."""
    tests = result.tests
    boot = tests[tests["test"] == "bmp_t"].assign(test="bootstrap_caar", statistic=-0.0123, distribution="empirical")
    result.tests = pd.concat([tests, boot], ignore_index=True)
    return result


# ----------------------------------------------------------------------------------------------------- XLSX
@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimpleNamespace]:
    result = _with_bootstrap(make_fake_result())
    path = render_xlsx(result, tmp_path_factory.mktemp("xlsx") / "report.xlsx")
    return path, result


def _equal(cell: object, value: object) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return cell is None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        ts = pd.Timestamp(value)
        ts = ts.tz_convert("UTC").tz_localize(None) if ts.tz is not None else ts
        return cell == ts.to_pydatetime()
    if isinstance(value, (bool, np.bool_)):
        return cell is bool(value)
    if value == "":
        return cell is None  # an empty text is an empty cell
    if isinstance(value, (int, np.integer)):
        return isinstance(cell, int) and cell == int(value)
    if isinstance(value, (float, np.floating)):  # openpyxl writes 16 significant digits: equal to 1 part in 1e15
        return isinstance(cell, (int, float)) and bool(np.isclose(cell, value, rtol=1e-15, atol=0.0))
    return cell == str(value)


def test_workbook_opens_with_its_sheets_and_frozen_headers(workbook: tuple[Path, SimpleNamespace]) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(workbook[0])
    assert wb.sheetnames == list(SHEETS)
    for name in SHEETS[:3]:
        ws = wb[name]
        assert ws.freeze_panes == "A2"
        assert all(cell.font.bold for cell in ws[1])


def test_cells_equal_the_frames(workbook: tuple[Path, SimpleNamespace]) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path, result = workbook
    wb = openpyxl.load_workbook(path)
    for name, frame in sheet_frames(result).items():
        rows = list(wb[name].iter_rows(values_only=True))
        assert list(rows[0]) == [str(c) for c in frame.columns]
        assert len(rows) == len(frame) + 1
        for got, values in zip(rows[1:], frame.itertuples(index=False, name=None), strict=True):
            bad = [(c, g, v) for c, g, v in zip(frame.columns, got, values, strict=True) if not _equal(g, v)]
            assert not bad, (name, bad)


def test_returns_carry_a_percent_format(workbook: tuple[Path, SimpleNamespace]) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(workbook[0])
    glance = wb["At a glance"]
    header = [c.value for c in glance[1]]
    for j, name in enumerate(header, start=1):
        formats = {glance.cell(row=i, column=j).number_format for i in range(2, glance.max_row + 1)}
        if str(name).startswith("CAAR "):
            assert formats == {PERCENT_FORMAT}, name
        elif str(name).startswith("p "):
            assert PERCENT_FORMAT not in formats, name
    car = wb["CAR"]
    header = [c.value for c in car[1]]
    assert car.cell(row=2, column=header.index("car") + 1).number_format == PERCENT_FORMAT
    assert car.cell(row=2, column=header.index("t_stat") + 1).number_format != PERCENT_FORMAT
    tests = wb["Tests"]
    header = [c.value for c in tests[1]]
    col_test, col_stat = header.index("test") + 1, header.index("statistic") + 1
    for i in range(2, tests.max_row + 1):
        is_return = tests.cell(row=i, column=col_test).value == "bootstrap_caar"
        assert (tests.cell(row=i, column=col_stat).number_format == PERCENT_FORMAT) is is_return


def test_workbook_is_byte_reproducible(workbook: tuple[Path, SimpleNamespace], tmp_path: Path) -> None:
    again = render_xlsx(workbook[1], tmp_path / "again.xlsx")
    assert again.read_bytes() == workbook[0].read_bytes()


# ------------------------------------------------------------------------------------------------------ TeX
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}]|%[^\n]*")


def _parse_tex(text: str) -> list[str]:
    """Check braces balance and environments nest; return the environments in order of \\begin."""
    depth, stack, begun = 0, [], []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            assert depth >= 0, text[max(0, match.start() - 80) : match.start() + 10]
        elif token in (r"\begin", r"\end"):
            name = re.match(r"\{([^}]*)\}", text[match.end() :]).group(1)
            if token == r"\begin":
                stack.append(name)
                begun.append(name)
            else:
                assert stack and stack.pop() == name, name
    assert depth == 0 and not stack
    return begun


def test_tex_parses_and_uses_booktabs(tmp_path: Path) -> None:
    result = make_fake_result()
    text = render_tex(result, tmp_path / "report.tex").read_text(encoding="utf-8")
    assert _parse_tex(text) == ["table", "tabular", "longtable"]
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert text.count(rule) >= 2, rule
    assert r"\label{tab:eventstudy-glance}" in text and r"\label{tab:eventstudy-car}" in text


def test_tex_escapes_user_text(tmp_path: Path) -> None:
    result = make_fake_result()
    text = render_tex(result, tmp_path / "report.tex").read_text(encoding="utf-8")
    for raw in (SCRIPT_HEADLINE, CJK_HEADLINE, *EVENTS):
        assert tex_escape(raw) in text
    assert "<script>" not in text and not re.search(r"(?<!\\)\$5bn", text) and "ant_ipo" not in text
    assert r"\$5bn" in text and r"ant\_ipo\_suspended" in text and r"\textbar{}" in text
    # outside comments, every &, %, $, #, _ is either escaped or ours (column separators, math minus/stars)
    body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    stripped = re.sub(r"\\[&%$#_{}]|\$-\$|\$\^\{\*+\}\$|\{%$", "", body, flags=re.M)  # ours: {% ends a line
    assert not re.search(r"[%$#_]", stripped)
    summary = Summary.from_result(result)
    glance = body[body.index(r"\begin{tabular}") : body.index(r"\end{tabular}")]
    car = body[body.index(r"\endfoot") : body.index(r"\end{longtable}")]
    for part, table in ((glance, summary.glance_table()), (car, summary.car_table())):
        rows = [line for line in part.splitlines() if line.endswith(r"\\")]
        assert len(rows) == len(table.rows) + (1 if part is glance else 0)  # the header row of the tabular
        assert all(len(re.findall(r"(?<!\\)&", row)) == len(table.columns) - 1 for row in rows)


def test_tex_numbers(tmp_path: Path) -> None:
    result = make_fake_result()
    text = render_tex(result, tmp_path / "report.tex").read_text(encoding="utf-8")
    car = result.car.iloc[0]
    value = f"{100 * abs(car.car):.2f}"
    assert re.search(rf"(\$-\$)?{re.escape(value)}\\%", text)
    assert re.search(r"\\%\$\^\{\*+\}\$", text)  # stars as superscripts


# ----------------------------------------------------------------------------------------- no machine paths
def test_no_report_format_shows_the_price_folder(tmp_path: Path) -> None:
    """Settings, provenance and exclusion reasons name the price folder; no report shows its path (issue 7)."""
    folder = (tmp_path / "machine" / "prices" / "window_2019_2021").resolve()
    result = make_fake_result()
    result.settings = {**result.settings, "prices": f"CSV price files in {folder} (adj_close)"}
    result.provenance = result.provenance.assign(source=[f"csv:{folder}/{s}.csv" for s in result.provenance.symbol])
    result.exclusions = result.exclusions.assign(reason=f"MPNGY: no data (no file {folder}/MPNGY.csv; add it)")
    out = tmp_path / "out"
    write_report(result, out, formats=("md", "html", "pdf"))
    render_xlsx(result, out / "report.xlsx")
    render_tex(result, out / "report.tex")
    texts = {
        "md": (out / "report.md").read_text(encoding="utf-8"),
        "html": (out / "report.html").read_text(encoding="utf-8"),
        "tex": (out / "report.tex").read_text(encoding="utf-8"),
        "pdf": _pdf_text(out / "report.pdf"),
        "xlsx": _xlsx_text(out / "report.xlsx"),
    }
    for name, text in texts.items():
        assert str(folder) not in text and str(tmp_path) not in text, name
    assert "window_2019_2021" in texts["md"] and "csv:9988.HK.csv" in texts["md"]
    assert "CSV price files in window_2019_2021 (adj_close)" in texts["md"]


def _pdf_text(path: Path) -> str:
    pypdf = pytest.importorskip("pypdf")
    return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(path).pages)


def _xlsx_text(path: Path) -> str:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.load_workbook(path, read_only=True)
    return "\n".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row)
