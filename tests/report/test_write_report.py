"""Tests of write_report: which figures a report draws, their files, stale-file removal and stage messages.

Oracles: counts derived from the fake result's own ids (events x tickers), the files on disk, and the
messages recorded by a callback.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from eventstudy.report import MANIFEST_NAME, notebook_fragment, write_report
from eventstudy.report._tables import figure_notes, figure_specs, render_figure
from eventstudy.report.markdown import md_escape

_spec = importlib.util.spec_from_file_location("_fake_study_result", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
make_fake_result = _fake.make_fake_result
EVENTS = _fake.EVENTS


def _fake(n_events: int, n_tickers: int = 2) -> SimpleNamespace:
    return make_fake_result(
        event_ids=[f"ev{i:02d}" for i in range(n_events)], tickers=[f"T{j}.HK" for j in range(n_tickers)]
    )


def _figures(paths: list[Path]) -> list[str]:
    return [p.name for p in paths if p.parent.name == "figures"]


class TestFigureCount:
    """Rendering stays bounded: per-event figures only up to 12 events and 40 firm-events."""

    @pytest.mark.parametrize(("n_events", "n_tickers"), [(12, 2), (4, 10)])  # 24 and 40 firm-events
    def test_at_the_limits_every_figure_is_drawn(self, n_events: int, n_tickers: int) -> None:
        result = _fake(n_events, n_tickers)
        specs = figure_specs(result)
        kinds = [s.kind for s in specs]
        assert kinds.count("car") == n_events  # one CAR figure per event, a panel per ticker
        assert kinds.count("aar") == n_events + 1  # each event and all events
        assert len(specs) == 2 + 2 * n_events
        assert [s.args for s in specs if s.kind == "car"] == [{"event_id": f"ev{i:02d}"} for i in range(n_events)]
        assert figure_notes(result, specs) == []

    @pytest.mark.parametrize(("n_events", "n_tickers"), [(13, 2), (5, 9)])  # 13 events; 45 firm-events
    def test_above_the_limits_only_summaries(self, n_events: int, n_tickers: int, tmp_path: Path) -> None:
        result = _fake(n_events, n_tickers)
        paths = write_report(result, tmp_path, formats=("md",))
        assert _figures(paths) == ["aar_all.png", "aar_all.pdf", "heatmap_car_-1_1.png", "heatmap_car_-1_1.pdf"]
        text = (tmp_path / "report.md").read_text(encoding="utf-8")
        note = (
            f"this study has {n_events} events and {n_events * n_tickers} firm-events, more than the 12 events or "
            f"40 firm-events up to which a report draws the figures of each event. Not drawn: "
            f"{n_events} AAR/CAAR figures (one per event) and {n_events} CAR figures (one per event, a panel per "
            "ticker)."
        )
        assert md_escape(note) in text
        assert len(figure_specs(result, per_event=True)) == 2 + 2 * n_events  # the way out draws them all

    @pytest.mark.parametrize("per_event", [True, False])
    def test_user_groups_follow_all_events(self, per_event: bool) -> None:
        result = make_fake_result()
        firm = result.firm_events
        firm["group"] = firm["ticker"].map({"9988.HK": "market=HK", "MXN=X": "market=FX"})
        aar = result.aar
        extra = [aar[aar["group"] == "all"].assign(group=g) for g in ("market=HK", "market=FX")]
        result.aar = pd.concat([aar, *extra], ignore_index=True)
        specs = figure_specs(result, per_event=per_event)
        assert [s.args.get("group") for s in specs[:3]] == ["all", "market=HK", "market=FX"]
        assert "group market=HK" in specs[1].caption and "event " not in specs[1].caption
        assert [s.kind for s in specs].count("aar") == 3 + (len(EVENTS) if per_event else 0)  # never as events

    def test_heatmap_is_capped_in_the_report(self) -> None:
        result = _fake(31, 1)
        (heatmap,) = [s for s in figure_specs(result) if s.kind == "heatmap"]
        assert heatmap.args["max_events"] == 30
        notes = figure_notes(result, figure_specs(result))
        assert any("The heat map shows the 30 events and 1 tickers with the largest |CAR|" in n for n in notes)
        fig = render_figure(result, heatmap)
        assert len(fig.axes[0].get_yticklabels()) == 30

    @pytest.mark.slow
    def test_odd_ids_give_safe_bounded_distinct_files(self, tmp_path: Path) -> None:
        events = ["x" * 300, "x" * 299 + "y", "a/../../b", "..", "騰訊控股"]
        result = make_fake_result(event_ids=events, tickers=["T/1", "T_1"])
        paths = write_report(result, tmp_path / "out", formats=("md",))
        names = _figures(paths)
        assert len(names) == 2 * (2 + 5 + 5) and len({n.lower() for n in names}) == len(names)
        for p in paths[: len(names)]:
            assert p.parent == tmp_path / "out" / "figures" and p.is_file()
            assert len(p.name) <= 100 and re.fullmatch(r"[a-z][A-Za-z0-9._-]*\.(png|pdf)", p.name)
        assert sorted(p.name for p in (tmp_path / "out" / "figures").iterdir()) == sorted(names)


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
        assert "<img" not in notebook_fragment(result)

    def test_missing_values_are_not_drawn_but_counted(self) -> None:
        result = make_fake_result()
        path = result.car_path.copy()
        path.loc[(path["event_id"] == EVENTS[0]) & (path["ticker"] == "MXN=X"), "car"] = float("nan")
        result.car_path = path
        specs = figure_specs(result)
        assert [s.args for s in specs if s.kind == "car"] == [{"event_id": EVENTS[0]}, {"event_id": EVENTS[1]}]
        (first,) = [s for s in specs if s.args.get("event_id") == EVENTS[0]]
        assert "9988.HK" in first.caption and "MXN=X" not in first.caption  # the panel left out is not announced
        assert len(render_figure(result, first).axes) == 1
        assert figure_notes(result, specs) == [
            "Left out for want of data: 0 AAR/CAAR figures and 1 CAR panels whose every value is missing (a missing "
            "abnormal return on the first event-window day leaves the whole CAR path missing)."
        ]


class TestStaleFiles:
    """A rerun into a folder the tool wrote removes the old run's files it does not write again, nothing else."""

    def test_rerun_with_fewer_figures_removes_the_old_ones(self, tmp_path: Path) -> None:
        result = make_fake_result()
        first = write_report(result, tmp_path, formats=("md", "html"), per_event_figures=True)
        foreign = [tmp_path / "notes.txt", tmp_path / "figures" / "my_plot.png"]
        for path in foreign:
            path.write_text("mine", encoding="utf-8")
        second = write_report(result, tmp_path, formats=("md",), per_event_figures=False)
        kept = {p.relative_to(tmp_path).as_posix() for p in second}
        assert kept == {"figures/aar_all.png", "figures/aar_all.pdf"} | {
            f"figures/{n}" for n in _figures(second) if n.startswith("heatmap")
        } | {"report.md"}
        gone = [p for p in first if p.relative_to(tmp_path).as_posix() not in kept]
        assert gone and not any(p.exists() for p in gone)  # per-event figures and report.html
        assert all(p.exists() for p in second) and all(p.read_text(encoding="utf-8") == "mine" for p in foreign)
        assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted([*_figures(second), "my_plot.png"])

    def test_a_file_edited_since_is_kept(self, tmp_path: Path) -> None:
        result = make_fake_result()
        write_report(result, tmp_path, formats=("md", "html"))
        (tmp_path / "report.html").write_text("my edits", encoding="utf-8")
        write_report(result, tmp_path, formats=("md",))
        assert (tmp_path / "report.html").read_text(encoding="utf-8") == "my edits"

    def test_files_written_before_manifests_are_kept(self, tmp_path: Path) -> None:
        old = tmp_path / "figures" / "car_old_event_9988.HK_0123456789.png"
        old.parent.mkdir(parents=True)
        old.write_bytes(b"an old run's figure")
        write_report(make_fake_result(), tmp_path, formats=("md",))
        assert old.exists() and (tmp_path / MANIFEST_NAME).is_file()


class TestProgress:
    def test_stage_messages(self, tmp_path: Path) -> None:
        messages: list[str] = []
        result = make_fake_result()
        paths = write_report(result, tmp_path, formats=("tex", "pdf", "html", "xlsx", "md"), progress=messages.append)
        names = ["report.md", "report.html", "report.pdf", "report.xlsx", "report.tex"]
        assert [p.name for p in paths if p.parent == tmp_path] == names  # figures first, then in FORMATS order
        n = len(figure_specs(result))
        figures = [f"figures {k}/{n}" for k in range(1, n + 1)]
        # the documents that need no figure are written while the figures are drawn
        assert messages == ["report.md", "report.xlsx", "report.tex", *figures, "report.html", "report.pdf"]

    def test_silent_without_a_callback(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        write_report(make_fake_result(), tmp_path, formats=("md",))
        assert capsys.readouterr() == ("", "")
