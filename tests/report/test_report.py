"""Tests of the reports: files, self-contained HTML, escaping, completeness, reproducibility."""

from __future__ import annotations

import html
import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from eventstudy.formatting import fmt_int, fmt_num, fmt_p, fmt_pct
from eventstudy.report import notebook_fragment, write_report
from eventstudy.report._format import Heading
from eventstudy.report._tables import (
    build_document,
    day_tests_table,
    window_tests_table,
)
from eventstudy.report.html import render_html
from eventstudy.report.markdown import md_escape, render_markdown

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
        pngs = [n for n in figures if n.endswith(".png")]
        assert sorted(figures) == sorted([*pngs, *(n[:-4] + ".pdf" for n in pngs)])  # each with a vector twin
        # one CAR figure per event (a panel per ticker)
        assert len([n for n in pngs if n.startswith("figures/car_")]) == result.car_path["event_id"].nunique()
        assert "figures/aar_all.png" in figures
        for e in EVENTS:  # per-event stems: a readable slug and 10 hex digits of a hash of the ids
            assert len([n for n in pngs if re.fullmatch(rf"figures/aar_{e}_[0-9a-f]{{10}}\.png", n)]) == 1
            assert len([n for n in pngs if re.fullmatch(rf"figures/car_{e}_[0-9a-f]{{10}}\.png", n)]) == 1
        assert len([n for n in pngs if "heatmap" in n]) == 1
        assert all(re.fullmatch(r"figures/[A-Za-z0-9._-]+\.(png|pdf)", n) for n in figures)
        assert all(p.read_bytes().startswith(PNG_MAGIC) for p in paths if p.suffix == ".png")

    def test_subset_of_formats(self, tmp_path: Path) -> None:
        paths = write_report(make_fake_result(exclusions=False), tmp_path, formats=("md",))
        assert [p.name for p in paths if p.parent.name != "figures"] == ["report.md"]
        assert not (tmp_path / "report.html").exists() and not (tmp_path / "report.pdf").exists()
        md = (tmp_path / "report.md").read_text(encoding="utf-8")
        section = md[md.index("## Exclusions") : md.index("## Settings")]
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
        external = [s for s in sources if not s.startswith("#")]  # links to the page's own anchors are fine
        assert external and all(s.startswith("data:image/png;base64,") for s in external)
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
        """Results first (issue 7): the glance and the CARs by firm, figures, then the rest and the appendix."""
        order = [
            "Results at a glance",
            "Cumulative abnormal returns by firm",
            "Figures",
            "Exclusions",
            "Settings",
            "Statistical conventions",
            "Data source and vintage",
            "Events and day 0",
            "Day-0 audit",
            "Appendix",
            "Exclusions in detail",
            "Cumulative abnormal returns with standard errors",
            "Test statistics",
            "Model parameters",
        ]
        positions = [page.index(f">{h}</h") for h in order]
        assert positions == sorted(positions)
        assert page.index('<h1 id="event-study-events-csv">Event study: events.csv</h1>') < positions[0]

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
        """One line per reason in the body (kind of reason, count, tickers); every row in the appendix."""
        section = text[text.index("## Exclusions") : text.index("## Settings")]
        assert "- prices: no prices for 0700.HK in the store -- 1 firm-event of 1 event (0700.HK)" in section
        appendix = text[text.index("### Exclusions in detail") : text.index("### Cumulative abnormal returns")]
        assert md_escape(EXCLUSION_REASON) in appendix
        assert "| tencent\\_next\\_target" not in appendix and "| tencent_next_target | 0700.HK | prices |" in appendix

    def test_no_exclusions_says_none_in_html_too(self) -> None:
        result = make_fake_result(exclusions=False)
        page = render_html(build_document(result, []), {}, result.title)
        section = page[page.index(">Exclusions</h2>") : page.index(">Settings</h2>")]
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


def test_notebook_fragment(fake_result: SimpleNamespace) -> None:
    frag = notebook_fragment(fake_result)
    assert "data:image/png;base64," in frag
    assert not re.search(r"""src\s*=\s*["'](?!data:)""", frag)
    assert html.escape(fake_result.title) in frag
    assert "no prices for 0700.HK in the store" in frag  # the exclusions by reason
    assert html.escape(SETTINGS["CAR variance"]) in frag
    assert frag.startswith("<div") and frag.rstrip().endswith("</div>")


def test_document_order_and_completeness(fake_result: SimpleNamespace) -> None:
    doc = build_document(fake_result)
    headings = [b for b in doc if isinstance(b, Heading)]
    texts = [h.text for h in headings]
    assert texts[0] == fake_result.title
    assert texts[1:3] == ["Results at a glance", "Cumulative abnormal returns by firm"]
    assert texts.index("Figures") < texts.index("Exclusions") < texts.index("Appendix")
    by_group = texts[texts.index("Test statistics") + 1 : texts.index("Model parameters")]
    assert by_group == [
        "All events (pooled)",
        f"2020-11-03 – {SCRIPT_HEADLINE} ({EVENTS[0]})",
        f"2021-03-12 – {CJK_HEADLINE} ({EVENTS[1]})",
    ]
    anchors = [h.anchor for h in headings]
    assert all(re.fullmatch(r"[a-z][a-z0-9-]*", a) for a in anchors) and len(set(anchors)) == len(anchors)


class TestAdjustmentFamilyNotes:
    """The tests tables state the multiple-testing family in force (issue 6: 'across days' under events)."""

    @pytest.mark.parametrize(("family", "other"), [("events", "days"), ("days", "events")])
    def test_notes_state_the_family_in_force(self, family: str, other: str) -> None:
        from eventstudy.conventions import ADJUST_FAMILY_TEXT

        result = make_fake_result(adjust_family=family)
        for table in (window_tests_table(result, "all"), day_tests_table(result, "all")):
            assert ADJUST_FAMILY_TEXT[family] in table.notes
            assert ADJUST_FAMILY_TEXT[other] not in table.notes
        text = render_markdown(build_document(result, []))
        assert md_escape(ADJUST_FAMILY_TEXT[family]) in text and md_escape(ADJUST_FAMILY_TEXT[other]) not in text
        assert "adjusted across" not in text  # the old fixed wording
