"""Tests of the reports: files, self-contained HTML, escaping, completeness, reproducibility."""

from __future__ import annotations

import html
import importlib.util
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from eventstudy.report import notebook_fragment, summary_text, write_report
from eventstudy.report._tables import (
    Heading,
    build_document,
    exclusions_table,
    fmt_cell,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_pct,
    stars,
)
from eventstudy.report.html import render_html
from eventstudy.report.markdown import md_escape
from eventstudy.report.pdf import render_pdf

# The fake result and its edge-case strings, loaded by path so that the name "conftest" never clashes.
_spec = importlib.util.spec_from_file_location("_fake_study_result", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
make_fake_result = _fake.make_fake_result
CJK_HEADLINE, EVENTS, EXCLUSION_REASON = _fake.CJK_HEADLINE, _fake.EVENTS, _fake.EXCLUSION_REASON
NAN_DAY_REASON, NAN_TEST_REASON = _fake.NAN_DAY_REASON, _fake.NAN_TEST_REASON
SCRIPT_HEADLINE, SETTINGS = _fake.SCRIPT_HEADLINE, _fake.SETTINGS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], SimpleNamespace]:
    """One full report (all formats) shared by the read-only tests."""
    out = tmp_path_factory.mktemp("report")
    result = make_fake_result()
    return out, write_report(result, out), result


class TestFiles:
    def test_all_files_written(self, report) -> None:
        out, paths, result = report
        names = [p.relative_to(out).as_posix() for p in paths]
        assert names[-3:] == ["report.md", "report.html", "report.pdf"]
        assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
        figures = [n for n in names if n.startswith("figures/")]
        pairs = result.car_path[["event_id", "ticker"]].drop_duplicates()
        assert len([n for n in figures if n.startswith("figures/car_")]) == len(pairs)
        assert {"figures/aar_all.png", *(f"figures/aar_{e}.png" for e in EVENTS)} <= set(figures)
        assert "figures/car_ant_ipo_suspended_MXN_X.png" in figures
        assert len([n for n in figures if "heatmap" in n]) == 1
        assert all(re.fullmatch(r"figures/[A-Za-z0-9._-]+\.png", n) for n in figures)
        assert all(p.read_bytes().startswith(PNG_MAGIC) for p in paths if p.suffix == ".png")

    def test_subset_of_formats(self, tmp_path: Path) -> None:
        paths = write_report(make_fake_result(exclusions=False), tmp_path, formats=("md",))
        assert [p.name for p in paths if p.suffix != ".png"] == ["report.md"]
        assert not (tmp_path / "report.html").exists() and not (tmp_path / "report.pdf").exists()
        md = (tmp_path / "report.md").read_text(encoding="utf-8")
        section = md[md.index("## Exclusions") : md.index("## Cumulative abnormal returns")]
        assert "None: no event, ticker or window was excluded." in section

    def test_unknown_format(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match=r"docx.*html, md, pdf"):
            write_report(make_fake_result(), tmp_path, formats=("md", "docx"))


class TestHtml:
    @pytest.fixture
    def page(self, report) -> str:
        return (report[0] / "report.html").read_text(encoding="utf-8")

    def test_self_contained(self, page: str) -> None:
        sources = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", page, flags=re.I)
        assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
        assert "<link" not in page.lower() and "@import" not in page and "url(" not in page

    def test_user_text_escaped(self, page: str) -> None:
        assert "<script" not in page.lower()
        assert html.escape(SCRIPT_HEADLINE) in page
        assert html.escape(CJK_HEADLINE) in page  # the original text, not transliterated

    def test_every_setting_convention_and_exclusion(self, page: str, report) -> None:
        result = report[2]
        for name, value in SETTINGS.items():
            assert f'<td class="l">{html.escape(name)}</td><td class="l">{html.escape(value)}</td>' in page
        for sentence in result.conventions:
            assert html.escape(sentence) in page
        for reason in result.exclusions["reason"]:
            assert html.escape(reason) in page

    def test_sections_in_order(self, page: str) -> None:
        order = [
            "Data source and vintage",
            "Settings",
            "Statistical conventions",
            "Events",
            "Day-0 audit",
            "Exclusions",
            "Cumulative abnormal returns",
            "Test statistics",
            "Model parameters",
            "Figures",
        ]
        positions = [page.index(f">{h}</h") for h in order]
        assert positions == sorted(positions)
        assert page.index("<h1>Event study: events.csv</h1>") < positions[0]

    def test_nan_statistics_keep_their_reason(self, page: str) -> None:
        assert html.escape(NAN_TEST_REASON) in page
        assert html.escape(NAN_DAY_REASON) in page

    def test_figures_embedded(self, page: str, report) -> None:
        n_png = len([p for p in report[1] if p.suffix == ".png"])
        assert page.count('<img src="data:image/png;base64,') == n_png


class TestMarkdown:
    @pytest.fixture
    def text(self, report) -> str:
        return (report[0] / "report.md").read_text(encoding="utf-8")

    def test_lists_exclusions(self, text: str) -> None:
        section = text[text.index("## Exclusions") : text.index("## Cumulative abnormal returns")]
        assert md_escape(EXCLUSION_REASON) in section
        assert "| tencent\\_next\\_target" not in section and "| tencent_next_target | 0700.HK | prices |" in section

    def test_no_exclusions_says_none_in_html_too(self) -> None:
        result = make_fake_result(exclusions=False)
        page = render_html(build_document(result, []), {}, result.title)
        section = page[page.index(">Exclusions</h2>") : page.index(">Cumulative abnormal returns</h2>")]
        assert "None: no event, ticker or window was excluded." in section

    def test_references_existing_pngs(self, text: str, report) -> None:
        out, paths, _ = report
        refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
        assert refs and all(not Path(r).is_absolute() for r in refs)
        assert all((out / r).is_file() for r in refs)
        assert {out / r for r in refs} == {p for p in paths if p.suffix == ".png"}

    def test_user_text_escaped(self, text: str) -> None:
        assert not re.search(r"(?<!\\)<", text)  # every "<" is backslash-escaped: no raw HTML
        assert r"\<script>" in text and r"\| HK leg too" in text

    def test_car_numbers_formatted(self, text: str, report) -> None:
        car = report[2].car.iloc[0]
        row = (
            f"| {car.ticker} | [0, 0] | {fmt_pct(car.car)} | {fmt_pct(car.se)} | {fmt_num(car.t_stat, 3)} "
            f"| {fmt_p(car.p_value)} | {fmt_int(car.df)} |"
        )
        assert row in text
        assert "\\<0.0001" in text  # small p-values are bounded, never 0.0000
        assert "0.0000 |" not in text


class TestPdf:
    def test_second_run_is_byte_identical(self, report, tmp_path: Path) -> None:
        out, paths, _ = report
        first = (out / "report.pdf").read_bytes()
        assert first.startswith(b"%PDF")
        assert b"CreationDate" not in first
        again = write_report(make_fake_result(), tmp_path, formats=("pdf",))
        assert (tmp_path / "report.pdf").read_bytes() == first
        pngs = {p.name: p.read_bytes() for p in paths if p.suffix == ".png"}
        assert {p.name: p.read_bytes() for p in again if p.suffix == ".png"} == pngs
        assert all(b"Software" not in data for data in pngs.values())

    def test_long_tables_paginate(self, tmp_path: Path) -> None:
        result = make_fake_result()
        many = result.exclusions.loc[[0] * 150].reset_index(drop=True)
        many["ticker"] = [f"T{i:03d}.HK" for i in range(150)]
        result.exclusions = many
        table = exclusions_table(result)
        path = render_pdf([Heading("Exclusions"), table], {}, tmp_path / "long.pdf", "t")
        data = path.read_bytes()
        n_pages = int(re.search(rb"/Type /Pages\s*/Kids \[[^\]]*\]\s*/Count (\d+)", data).group(1))
        assert n_pages >= 3  # 150 rows (two lines each) do not fit on one page: the table continues


def test_notebook_fragment(fake_result: SimpleNamespace) -> None:
    frag = notebook_fragment(fake_result, max_rows=5)
    assert "data:image/png;base64," in frag
    assert not re.search(r"""src\s*=\s*["'](?!data:)""", frag)
    assert html.escape(fake_result.title) in frag
    assert html.escape(EXCLUSION_REASON) in frag
    assert html.escape(SETTINGS["CAR variance"]) in frag
    assert f"{len(fake_result.car) - 5} more rows not shown" in frag
    assert frag.startswith("<div") and frag.rstrip().endswith("</div>")


def test_summary_text(fake_result: SimpleNamespace) -> None:
    text = summary_text(fake_result)
    assert text.startswith(fake_result.title + "\n")
    for name, value in SETTINGS.items():
        assert f"{name}: {value}" in text
    assert "Exclusions (1)" in text and "0700.HK" in text
    assert "Window tests: all events" in text
    assert fmt_pct(fake_result.car["car"].iloc[0]) in text
    empty = summary_text(make_fake_result(exclusions=False))
    assert "Exclusions (0)" in empty and "none" in empty


def test_document_order_and_completeness(fake_result: SimpleNamespace) -> None:
    doc = build_document(fake_result)
    headings = [b.text for b in doc if type(b).__name__ == "Heading"]
    assert headings[0] == fake_result.title
    assert headings.index("Exclusions") < headings.index("Cumulative abnormal returns") < headings.index("Figures")
    assert [h for h in headings if h.startswith("Group: ")] == ["Group: all events", *(f"Group: {e}" for e in EVENTS)]


@pytest.mark.parametrize(
    ("func", "value", "expected"),
    [
        (fmt_p, 0.01234, "0.0123"),
        (fmt_p, 0.00001, "<0.0001"),
        (fmt_p, 0.0001, "0.0001"),
        (fmt_p, math.nan, "n/a"),
        (fmt_pct, -0.012345, "-1.23%"),
        (fmt_pct, -0.00001, "0.00%"),
        (fmt_pct, None, "n/a"),
        (fmt_int, 238.0, "238"),
        (stars, 0.004, "***"),
        (stars, 0.2, ""),
        (fmt_cell, True, "yes"),
        (fmt_cell, "a\nb", "a b"),
    ],
)
def test_formatting_rules(func, value, expected: str) -> None:
    assert func(value) == expected
