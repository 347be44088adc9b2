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


def _section_table(md: str, heading: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first table of the section ``## heading`` of report.md (cells unescaped)."""
    section = md[md.index(f"## {heading}\n") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    lines = [line for line in section.splitlines() if line.startswith("|")]
    first = [lines[0]]
    for line in lines[1:]:
        if line.count("|") != lines[0].count("|"):
            break
        first.append(line)
    cells = [[c.strip().replace("\\", "") for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in first]
    return cells[0], cells[2:]


def test_seed_2020_2021_report_shows_issue_10s_inference(seed_reports) -> None:
    """Single-firm SQ/permutation p's, synthetic CARs of the HK legs, placebo p's per event, the CAR regression.

    Oracles: the run's own CSVs for the cells, and statsmodels on car.csv merged with events.csv by hand for
    the regression (clustered by event date).
    """
    import numpy as np
    import statsmodels.api as sm

    seed = seed_reports["seed_2020_2021"]
    assert seed.run.returncode == 0, seed.run.stderr[-2000:]
    out = seed.out
    md = (out / "report.md").read_text(encoding="utf-8")
    car = pd.read_csv(out / "car.csv")
    headline = car[(car["window_start"] == -1) & (car["window_end"] == 1)]

    header, rows = _section_table(md, "Single-firm tests")
    assert header[2:6] == ["CAR [-1, +1]", "p (t)", "p (SQ)", "p (perm.)"]
    assert len(rows) == len(headline)
    p_sq = headline.set_index(["event_id", "ticker"])["p_sq"]
    assert all(row[4] == f"{p_sq[(row[0], row[1])]:.4f}" for row in rows if p_sq[(row[0], row[1])] >= 1e-4)

    synthetic = pd.read_csv(out / "synthetic.csv")
    fitted = synthetic.dropna(subset=["car_synthetic"])
    assert len(fitted) and fitted["ticker"].str.endswith(".HK").all()
    hk = headline[headline["ticker"].str.endswith(".HK")]
    assert set(zip(fitted["event_id"], fitted["ticker"], strict=True)) == set(
        zip(hk["event_id"], hk["ticker"], strict=True)
    )
    header, rows = _section_table(md, "Synthetic control")
    assert {row[1] for row in rows} == set(hk["ticker"]) and "p (conformal)" in header

    placebo = pd.read_csv(out / "placebo.csv")
    cells = placebo[(placebo["statistic"] == "caar") & (placebo["window_start"] == -1) & (placebo["window_end"] == 1)]
    assert set(car["event_id"]) | {"all"} == set(cells["group"])
    assert (cells["n_draws"] == 1000).all() and cells["p_placebo"].between(1 / 1001 - 1e-9, 1).all()
    header, rows = _section_table(md, "Placebo dates")
    shown = {row[0]: row[header.index("placebo p")] for row in rows}
    for group, p in zip(cells["group"], cells["p_placebo"], strict=True):
        assert shown["all events" if group == "all" else group] == f"{p:.4f}"

    events = pd.read_csv(seed.run.cwd / "events.csv")
    pooled = pd.read_csv(out / "firm_events.csv")
    pooled = pooled.loc[pooled["pooled"], ["event_id", "ticker"]]
    frame = headline.merge(pooled, on=["event_id", "ticker"]).merge(events[["event_id", "date", "category"]])
    levels = sorted(frame["category"].unique())
    x = np.column_stack([np.ones(len(frame))] + [(frame["category"] == c).to_numpy(float) for c in levels[1:]])
    groups = pd.factorize(frame["date"])[0]
    expected = sm.OLS(frame["car"].to_numpy(), x).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    regression = pd.read_csv(out / "regression.csv")
    np.testing.assert_allclose(regression["estimate"], expected.params, rtol=1e-8)  # car.csv holds 10 digits
    np.testing.assert_allclose(regression["se"], expected.bse, rtol=1e-8)
    assert (regression["n_clusters"].astype(str) == str(groups.max() + 1)).all()
    assert "clustered by event_date" in md[md.index("## Cross-sectional regression of CARs") :]
