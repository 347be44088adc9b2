"""The README's seed reports open with the results at a glance, and its numbers are those of the CSVs (issue 7).

Uses the session's ``seed_reports`` (tests/conftest.py): both README seed commands run once per session.
The oracle is the CSVs the same run wrote: the mean of ``car.csv`` per event and window, and the distinct
(ticker, day 0) pairs of ``event_days.csv``; no code of the summary is called here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from eventstudy.formatting import fmt_pct

pytestmark = pytest.mark.realdata

SEEDS = ("seed_2020_2021", "seed_2025")


def _glance(md: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first table after '## Results at a glance' in report.md (cells unescaped)."""
    section = md[md.index("## Results at a glance") :]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    table = []
    for line in lines:
        if table and not line.startswith("|"):
            break
        table.append(line)
    cells = [[c.strip().replace("\\", "") for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in table]
    end = next((i for i, row in enumerate(cells[2:], start=2) if len(row) != len(cells[0])), len(cells))
    return cells[0], cells[2:end]


def _estimated(out: Path) -> pd.DataFrame:
    """Estimated firm-events (those in car.csv) with their day 0 (event_days.csv) in events-file order."""
    car = pd.read_csv(out / "car.csv")
    days = pd.read_csv(out / "event_days.csv")
    pairs = car[["event_id", "ticker"]].drop_duplicates()
    return pairs.merge(days[["event_id", "ticker", "day_zero"]], on=["event_id", "ticker"], how="left")


@pytest.mark.parametrize("name", SEEDS)
def test_report_opens_with_the_glance(seed_reports, name: str) -> None:
    seed = seed_reports[name]
    assert seed.run.returncode == 0, seed.run.stderr[-2000:]
    md = (seed.out / "report.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings[:2] == ["Results at a glance", "Cumulative abnormal returns by firm"]
    html = (seed.out / "report.html").read_text(encoding="utf-8")
    assert html.index(">Results at a glance</h2>") < html.index("<table")


@pytest.mark.parametrize("name", SEEDS)
def test_glance_equals_the_csvs(seed_reports, name: str) -> None:
    """Each event's CAAR cell is the mean of car.csv over the event's firm-events; firm-days are distinct pairs."""
    out = seed_reports[name].out
    header, rows = _glance((out / "report.md").read_text(encoding="utf-8"))
    car = pd.read_csv(out / "car.csv")
    estimated = _estimated(out)
    by_event = {row[0]: row for row in rows}
    events = list(pd.unique(car["event_id"]))
    assert set(events) <= set(by_event) and "all events" in by_event
    windows = [c for c in header if c.startswith("CAAR ")]
    assert windows
    for event in events:
        row = by_event[event]
        mine = car[car["event_id"] == event]
        for column in windows:
            a, b = (int(x) for x in re.findall(r"[-+]?\d+", column))
            cars = mine[(mine["window_start"] == a) & (mine["window_end"] == b)]["car"].dropna()
            cell = row[header.index(column)]
            assert cell.rstrip("*") == fmt_pct(cars.mean()), (event, column, cell)
        pairs = estimated[estimated["event_id"] == event]
        assert row[header.index("firm-events")] == str(len(pairs))
        assert row[header.index("firm-days")] == str(len(pairs.drop_duplicates(["ticker", "day_zero"])))
    pooled = by_event["all events"]
    assert pooled[header.index("firm-events")] == str(len(estimated))
    assert pooled[header.index("firm-days")] == str(len(estimated.drop_duplicates(["ticker", "day_zero"])))


def test_pooled_row_counts_each_firm_day_once(seed_reports) -> None:
    """2020-21: xi_cfeac and wsj_alibaba share 9988.HK and BABA on one day 0; 'all' averages each pair once."""
    out = seed_reports["seed_2020_2021"].out
    header, rows = _glance((out / "report.md").read_text(encoding="utf-8"))
    estimated = _estimated(out)
    events_order = {e: i for i, e in enumerate(pd.read_csv(out / "car.csv")["event_id"].drop_duplicates())}
    estimated = estimated.assign(o=estimated["event_id"].map(events_order)).sort_values("o", kind="stable")
    kept = estimated.drop_duplicates(["ticker", "day_zero"])
    assert len(kept) < len(estimated)  # the seed events do share firm-days
    car = pd.read_csv(out / "car.csv").merge(kept[["event_id", "ticker"]])
    cell = next(row for row in rows if row[0] == "all events")[header.index("CAAR [-1, +1]")]
    window = car[(car["window_start"] == -1) & (car["window_end"] == 1)]["car"]
    assert cell.rstrip("*") == fmt_pct(window.mean())


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str | None] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if re.fullmatch(r"h[2-4]", tag):
            self.ids.append(a.get("id"))
        elif tag == "a" and str(a.get("href", "")).startswith("#"):
            self.links.append(str(a["href"])[1:])


@pytest.mark.parametrize("name", SEEDS)
def test_html_has_an_anchor_and_a_contents_link_for_every_section(seed_reports, name: str) -> None:
    parser = _Anchors()
    parser.feed((seed_reports[name].out / "report.html").read_text(encoding="utf-8"))
    assert parser.ids and all(parser.ids) and len(set(parser.ids)) == len(parser.ids)
    assert parser.links == parser.ids


@pytest.mark.parametrize("name", SEEDS)
def test_no_report_shows_the_price_folder(seed_reports, shared_dir: Path, name: str) -> None:
    seed = seed_reports[name]
    folder = "window_2019_2021" if name == "seed_2020_2021" else "window_2023_2025"
    paths = {
        str(shared_dir / "data" / "curated" / folder),  # provenance resolves the path
        str((seed.run.cwd / ".." / "shared" / "data" / "curated" / folder).resolve()),
        str(seed.run.cwd),  # the working folder of the run
        "../shared/data/curated",  # the relative path as typed
    }
    texts = [(seed.out / f"report.{ext}").read_text(encoding="utf-8") for ext in ("md", "html")]
    pypdf = pytest.importorskip("pypdf")
    texts.append("\n".join(p.extract_text() or "" for p in pypdf.PdfReader(seed.out / "report.pdf").pages))
    for text in texts:
        assert [p for p in paths if p in text] == []
    assert folder in texts[0]  # the report still names the folder
