"""Tests of the typeset PDF (eventstudy.report.pdf), read back with pypdf.

Oracles: the blocks the PDF was made from (every heading must be in the outline at its level, every id and
headline in the text), hand-made blocks for pagination and word breaking, and the report's Markdown/HTML
headings for the real seed report.
"""

from __future__ import annotations

import html
import importlib.util
import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from pypdf import PdfReader

from eventstudy.report import write_report
from eventstudy.report._format import Bullets, Heading, Paragraph, Table
from eventstudy.report._tables import build_document, exclusions_table
from eventstudy.report.pdf import render_pdf

_spec = importlib.util.spec_from_file_location("_fake_study_result", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
make_fake_result = _fake.make_fake_result
CJK_HEADLINE, EVENTS = _fake.CJK_HEADLINE, _fake.EVENTS


def outline(reader: PdfReader) -> list[tuple[str, int]]:
    """(title, depth) of every outline entry, in document order."""
    entries: list[tuple[str, int]] = []

    def walk(items: list, depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                entries.append((item.title, depth))

    walk(reader.outline, 0)
    return entries


def page_texts(reader: PdfReader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], SimpleNamespace]:
    """The fake study's full report (all formats)."""
    out = tmp_path_factory.mktemp("pdf")
    result = make_fake_result()
    return out, write_report(result, out), result


@pytest.fixture(scope="module")
def reader(report) -> PdfReader:
    return PdfReader(report[0] / "report.pdf")


class TestStructure:
    def test_every_heading_in_the_outline_at_its_level(self, report, reader: PdfReader) -> None:
        result = report[2]
        headings = [b for b in build_document(result) if isinstance(b, Heading)]
        assert outline(reader) == [(h.text, h.level - 1) for h in headings]  # the original text, CJK included

    def test_bookmarks_point_at_their_pages(self, reader: PdfReader) -> None:
        texts = page_texts(reader)

        def walk(items: list) -> None:
            for item in items:
                if isinstance(item, list):
                    walk(item)
                elif item.title.isascii() and "<" not in item.title:  # extracted text normalises some quotes
                    page = reader.get_destination_page_number(item)
                    assert item.title.split(" (")[0] in " ".join(texts[page].split())

        walk(reader.outline)

    def test_first_page_opens_with_the_glance(self, report, reader: PdfReader) -> None:
        first = page_texts(reader)[0]
        assert first.index(report[2].title) < first.index("Results at a glance")
        assert all(event in first for event in EVENTS)  # the at-a-glance rows

    def test_header_and_page_numbers(self, report, reader: PdfReader) -> None:
        texts = page_texts(reader)
        assert len(texts) > 2
        for k, text in enumerate(texts, start=1):
            assert f"page {k}" in text
            if k > 1:
                assert report[2].title in text  # the running header

    def test_skipped_levels_are_nested_one_deeper(self, tmp_path: Path) -> None:
        blocks = [Heading("Title", 1), Heading("Deep", 4), Heading("Section", 2), Heading("Sub", 3)]
        path = render_pdf(blocks, {}, tmp_path / "t.pdf", "t")
        assert outline(PdfReader(path)) == [("Title", 0), ("Deep", 1), ("Section", 1), ("Sub", 2)]

    def test_unknown_block_is_a_bug(self, tmp_path: Path) -> None:
        with pytest.raises(TypeError, match="no PDF rendering for block str"):
            render_pdf([Heading("t", 1), "not a block"], {}, tmp_path / "t.pdf", "t")  # type: ignore[list-item]


class TestText:
    def test_user_text_kept_cjk_included(self, reader: PdfReader) -> None:
        text = " ".join(" ".join(page_texts(reader)).split())
        assert "騰訊控股" in text  # set in the CJK font, not transliterated
        assert "<script>alert('x')</script>" in text  # plain text, escaped for ReportLab's markup

    def test_paragraphs_bullets_and_math_signs(self, tmp_path: Path) -> None:
        blocks = [
            Heading("T", 1),
            Paragraph("Variance s² with divisor M − k; ±1.96 σ."),
            Bullets(("first item", "second item")),
        ]
        text = PdfReader(render_pdf(blocks, {}, tmp_path / "t.pdf", "t")).pages[0].extract_text()
        assert "Variance s² with divisor M − k; ±1.96 σ." in text
        assert "first item" in text and "second item" in text

    def test_ids_are_not_split(self, tmp_path: Path) -> None:
        ids = ("politburo_antimonopoly_pledge", "xi_cfeac_platform_economy")
        words = "a headline long enough to need several lines in its column " * 12
        table = Table(("event", "headline"), tuple((i, words) for i in ids), ("l", "l"))
        text = PdfReader(render_pdf([table], {}, tmp_path / "t.pdf", "t")).pages[0].extract_text()
        lines = text.splitlines()
        assert all(any(line.startswith(i) for line in lines) for i in ids)
        assert len(lines) > 6  # the headlines wrapped inside their column

    def test_short_columns_keep_their_line_long_text_wraps(self, tmp_path: Path) -> None:
        note = "a long note that has to wrap inside its column " * 8
        rows = tuple((f"test_{k}", "exact signed-rank", "empirical (B=1000)", note) for k in range(3))
        table = Table(("test", "distribution", "reference", "note"), rows, ("l", "l", "l", "l"))
        lines = PdfReader(render_pdf([table], {}, tmp_path / "t.pdf", "t")).pages[0].extract_text().splitlines()
        # pypdf gives each cell line its own line: a short cell that wrapped would come out in pieces
        assert lines.count("exact signed-rank") == 3 and lines.count("empirical (B=1000)") == 3
        assert sum(line.startswith("has to wrap") for line in lines) == 3  # each note wrapped once

    def test_an_id_wider_than_the_page_breaks_after_underscores(self, tmp_path: Path) -> None:
        word = "_".join(f"part{k:02d}" for k in range(60))
        table = Table(("id",) * 8, ((word,) * 8,), ("l",) * 8)
        text = PdfReader(render_pdf([table], {}, tmp_path / "t.pdf", "t")).pages[0].extract_text()
        pieces = [line.strip() for line in text.splitlines() if "part" in line]
        assert len(pieces) > 8  # broken over several lines
        for line in pieces:
            for cell in re.findall(r"part\S*", line):
                assert re.fullmatch(r"(part\d\d_)*part\d\d_?", cell)  # whole parts only, broken after a "_"
        assert "".join(re.findall(r"part[\d_]+", text)).count("part") == 60 * 8

    def test_long_tables_repeat_their_header(self, tmp_path: Path) -> None:
        result = make_fake_result()
        many = result.exclusions.loc[[0] * 150].reset_index(drop=True)
        many["ticker"] = [f"T{i:03d}.HK" for i in range(150)]
        result.exclusions = many
        path = render_pdf([Heading("Exclusions", 2), exclusions_table(result)], {}, tmp_path / "long.pdf", "t")
        texts = page_texts(PdfReader(path))
        assert len(texts) >= 3  # 150 rows do not fit on one page: the table continues
        for text in texts:
            assert "event ticker stage reason" in " ".join(text.split())  # the header row on every page
        tickers = re.findall(r"T\d{3}\.HK", " ".join(texts))
        assert tickers == [f"T{i:03d}.HK" for i in range(150)]  # every row once, in order


class TestFiguresAndFiles:
    def test_figures_are_vector_forms(self, report, reader: PdfReader) -> None:
        paths = report[1]
        n_figures = len([p for p in paths if p.parent.name == "figures" and p.suffix == ".pdf"])
        forms, images = 0, 0
        for page in reader.pages:
            xobjects = page["/Resources"].get_object().get("/XObject", {})
            for ref in xobjects.values():
                kind = ref.get_object()["/Subtype"]
                forms += kind == "/Form"
                images += kind == "/Image"
        assert forms == n_figures and images == 0
        text = " ".join(page_texts(reader))
        assert all(f"Figure {k}." in text for k in range(1, n_figures + 1))

    def test_second_run_is_byte_identical(self, report, tmp_path: Path) -> None:
        out, paths, _ = report
        again = write_report(make_fake_result(), tmp_path)
        for first, second in zip(paths, again, strict=True):
            assert first.relative_to(out) == second.relative_to(tmp_path)
            assert first.read_bytes() == second.read_bytes(), first.name

    def test_document_info(self, report) -> None:
        info = PdfReader(report[0] / "report.pdf").metadata
        assert info is not None and info.title == report[2].title


def _html_headings(page: str) -> list[tuple[str, int]]:
    found = re.findall(r"<h([1-6])\b[^>]*>(.*?)</h\1>", page, flags=re.S)
    return [(html.unescape(re.sub(r"<[^>]+>", "", text)).strip(), int(level) - 1) for level, text in found]


@pytest.mark.realdata
def test_seed_report_pdf(seed_reports) -> None:
    """The README's 2020-21 report: a typeset PDF whose outline is the report's headings, glance first."""
    seed = seed_reports["seed_2020_2021"]
    assert seed.run.returncode == 0, seed.run.stderr[-2000:]
    reader = PdfReader(io.BytesIO((seed.out / "report.pdf").read_bytes()))
    entries = outline(reader)
    headings = _html_headings((seed.out / "report.html").read_text(encoding="utf-8"))
    assert entries and [e for e in headings if e in entries] == entries  # same headings, levels and order
    assert not [h for h in headings if h not in entries and h[1] < 3]  # no section missing from the outline
    first = reader.pages[0].extract_text()
    assert "Results at a glance" in first
    pngs = sorted((seed.out / "figures").glob("*.png"))
    assert pngs and all(p.with_suffix(".pdf").is_file() for p in pngs)  # every figure has its vector twin
