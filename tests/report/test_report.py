"""Tests of the reports: files, self-contained HTML, escaping, completeness, reproducibility."""

from __future__ import annotations

import html
import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from eventstudy.formatting import fmt_int, fmt_num, fmt_p, fmt_pct
from eventstudy.report import notebook_fragment, summary_text, write_report
from eventstudy.report._format import Heading
from eventstudy.report._tables import (
    build_document,
    day_tests_table,
    exclusions_table,
    figure_notes,
    figure_specs,
    render_figure,
    window_tests_table,
)
from eventstudy.report.html import render_html
from eventstudy.report.markdown import md_escape, render_markdown
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
        assert "figures/aar_all.png" in figures
        for e in EVENTS:  # per-event stems: a readable slug and 10 hex digits of a hash of the ids
            assert len([n for n in figures if re.fullmatch(rf"figures/aar_{e}_[0-9a-f]{{10}}\.png", n)]) == 1
        assert [n for n in figures if re.fullmatch(r"figures/car_ant_ipo_suspended_MXN_X_[0-9a-f]{10}\.png", n)]
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
    @pytest.mark.slow
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
        assert ADJUST_FAMILY_TEXT[family] in summary_text(result)


def _stems(specs) -> list[str]:
    return [s.key for s in specs]


class TestFigureCount:
    """Rendering stays bounded: per-event figures only up to 12 events and 40 firm-events."""

    @staticmethod
    def _fake(n_events: int, n_tickers: int = 2) -> SimpleNamespace:
        return make_fake_result(
            event_ids=[f"ev{i:02d}" for i in range(n_events)], tickers=[f"T{j}.HK" for j in range(n_tickers)]
        )

    def test_at_the_limits_every_figure_is_drawn(self) -> None:
        for n_events, n_tickers in ((12, 2), (4, 10)):  # 12 events / 24 firm-events; 4 events / 40 firm-events
            result = self._fake(n_events, n_tickers)
            specs = figure_specs(result)
            assert [s.kind for s in specs].count("car") == n_events * n_tickers
            assert [s.kind for s in specs].count("aar") == n_events + 1  # each event and all events
            assert len(specs) == 2 + n_events + n_events * n_tickers
            assert figure_notes(result, specs) == []

    @pytest.mark.parametrize(("n_events", "n_tickers"), [(13, 2), (5, 9)])  # 13 events; 45 firm-events
    def test_above_the_limits_only_summaries(self, n_events: int, n_tickers: int, tmp_path: Path) -> None:
        result = self._fake(n_events, n_tickers)
        paths = write_report(result, tmp_path, formats=("md",))
        assert [p.name for p in paths if p.suffix == ".png"] == ["aar_all.png", "heatmap_car_-1_1.png"]
        text = (tmp_path / "report.md").read_text(encoding="utf-8")
        note = (
            f"this study has {n_events} events and {n_events * n_tickers} firm-events, more than the 12 events or "
            f"40 firm-events up to which a report draws one figure per event and per firm-event. Not drawn: "
            f"{n_events} AAR/CAAR figures (one per event) and {n_events * n_tickers} CAR figures (one per firm-event)."
        )
        assert md_escape(note) in text
        assert "result.plot\\_car(event\\_id, ticker)" in text or "result.plot_car(event_id, ticker)" in text
        # and the way out draws them all
        assert len(figure_specs(result, per_event=True)) == 2 + n_events + n_events * n_tickers

    def test_heatmap_is_capped_in_the_report(self) -> None:
        result = self._fake(31, 1)
        (heatmap,) = [s for s in figure_specs(result) if s.kind == "heatmap"]
        assert heatmap.args["max_events"] == 30
        notes = figure_notes(result, figure_specs(result))
        assert any("The heat map shows the 30 events and 1 tickers with the largest |CAR|" in n for n in notes)
        fig = render_figure(result, heatmap)
        assert fig.axes[0].get_images()[0].get_array().shape == (30, 1)

    @pytest.mark.slow
    def test_odd_ids_give_safe_bounded_distinct_files(self, tmp_path: Path) -> None:
        events = ["x" * 300, "x" * 299 + "y", "a/../../b", "..", "騰訊控股"]
        result = make_fake_result(event_ids=events, tickers=["T/1", "T_1"])
        paths = write_report(result, tmp_path / "out", formats=("md",))
        pngs = [p for p in paths if p.suffix == ".png"]
        assert len(pngs) == 2 + 5 + 10 and len({p.name.lower() for p in pngs}) == len(pngs)
        for p in pngs:
            assert p.parent == tmp_path / "out" / "figures" and p.is_file()
            assert len(p.name) <= 100 and re.fullmatch(r"[a-z][A-Za-z0-9._-]*\.png", p.name)
        assert sorted(p.name for p in (tmp_path / "out" / "figures").iterdir()) == sorted(p.name for p in pngs)


def _empty(result: SimpleNamespace) -> SimpleNamespace:
    """The fake result as it would be if nothing had been estimated: every result frame without rows."""
    for name in ("abnormal_returns", "car", "car_path", "aar", "tests", "parameters"):
        setattr(result, name, getattr(result, name).iloc[0:0])
    return result


class TestNothingToDraw:
    def test_empty_result_report_says_so_and_draws_nothing(self, tmp_path: Path) -> None:
        result = _empty(make_fake_result())
        paths = write_report(result, tmp_path, formats=("md", "html"))
        assert [p.name for p in paths] == ["report.md", "report.html"]
        assert list((tmp_path / "figures").iterdir()) == []
        text = (tmp_path / "report.md").read_text(encoding="utf-8")
        assert "No figures: no abnormal return or CAR has a value to draw." in text
        frag = notebook_fragment(result)
        assert "<img" not in frag

    def test_missing_values_are_not_drawn_but_counted(self) -> None:
        result = make_fake_result()
        path = result.car_path.copy()
        path.loc[(path["event_id"] == EVENTS[0]) & (path["ticker"] == "MXN=X"), "car"] = float("nan")
        result.car_path = path
        specs = figure_specs(result)
        assert [s.args for s in specs if s.kind == "car"] == [
            {"event_id": e, "ticker": t}
            for e, t in ((EVENTS[0], "9988.HK"), (EVENTS[1], "9988.HK"), (EVENTS[1], "MXN=X"))
        ]
        assert figure_notes(result, specs) == [
            "Left out for want of data: 0 AAR/CAAR and 1 CAR figures whose every value is missing (a missing "
            "abnormal return on the first event-window day leaves the whole CAR path missing)."
        ]
