"""Summary: the study in one sentence, the at-a-glance table, the primary tests, the CARs by firm (issue 7).

Every number of the summary is checked against an oracle computed here from the tidy frames (means of
``car``, the distinct (ticker, day 0) pairs of ``event_days``, p-value thresholds written out, scipy's
Wilcoxon), never against the summary's own code.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import eventstudy as es
from eventstudy.conventions import PRIMARY_RANK_MIN_N, Conventions
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.spec import StudySpec
from eventstudy.summary import SCREEN_LINES, primary_cell, statistic_text

SESSIONS = pd.bdate_range("2022-01-03", periods=340)
BIG = [f"B{i:02d}" for i in range(PRIMARY_RANK_MIN_N + 2)]  # an event with enough firm-events for GRANK
SMALL = ["S1", "S2", "S3"]


def _returns(tickers: list[str], seed: int = 7) -> es.ReturnsFrame:
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.01, len(SESSIONS))
    rows = [pd.DataFrame({"date": SESSIONS, "ticker": "MKT", "return": market})]
    for t in tickers:
        noise = rng.normal(0, 0.015, len(SESSIONS))
        rows.append(pd.DataFrame({"date": SESSIONS, "ticker": t, "return": 0.8 * market + noise}))
    return es.ReturnsFrame(pd.concat(rows, ignore_index=True))


def _events(rows: list[tuple[str, int, list[str], str]]) -> tuple[es.Event, ...]:
    return es.events_from_frame(
        pd.DataFrame(
            {
                "event_id": [r[0] for r in rows],
                "date": [SESSIONS[r[1]].strftime("%Y-%m-%d") for r in rows],
                "tickers": [";".join(r[2]) for r in rows],
                "benchmark": "MKT",
                "timezone": "America/New_York",
                "headline": [f"Headline of {r[0]}" for r in rows],
                "category": [r[3] for r in rows],
            }
        )
    )


def _run(events: tuple[es.Event, ...], tickers: list[str], **kwargs: object) -> es.StudyResult:
    return es.EventStudy(
        events,
        _returns(tickers),
        estimation_window=(-250, -11),
        event_window=(-5, 5),
        car_windows=((0, 0), (-1, 1), (-5, 5)),
        progress=False,
        title="summary study",
        **kwargs,  # type: ignore[arg-type]
    ).run()


@pytest.fixture(scope="module")
def shared() -> es.StudyResult:
    """Three events: 'big' (12 tickers), 'small' (3) and 'dup' on the same day as 'small', sharing S1."""
    events = _events(
        [
            ("big", 280, BIG, "policy"),
            ("small", 300, SMALL, "report"),
            ("dup", 300, ["S1", "S4"], "report"),
        ]
    )
    return _run(events, [*BIG, *SMALL, "S4"], groups="category")


@pytest.fixture(scope="module")
def apart() -> es.StudyResult:
    """Four events of one ticker each, far apart in time: no two firm-events share a calendar date."""
    events = _events([(f"e{i}", 270 + 15 * i, [f"T{i}"], "c") for i in range(4)])
    return _run(events, [f"T{i}" for i in range(4)])


def _distinct_pooled(result: es.StudyResult) -> pd.DataFrame:
    """The firm-events of 'all' by hand: the first of each (ticker, day 0) in release order.

    Release order (``docs/methods.md`` §3.5): event date, then time, then event id; these events have no time.
    """
    days = result.event_days[["event_id", "ticker", "day_zero"]]
    dates = result.events.set_index("event_id")["date"]
    estimated = result.car[["event_id", "ticker"]].drop_duplicates().merge(days, on=["event_id", "ticker"])
    estimated = estimated.assign(_d=estimated["event_id"].map(dates)).sort_values(["_d", "event_id"], kind="stable")
    return estimated.drop_duplicates(["ticker", "day_zero"])[["event_id", "ticker"]]


class TestGlanceNumbers:
    def test_event_caar_is_the_mean_car_of_the_event(self, shared: es.StudyResult) -> None:
        glance = shared.summary().glance.set_index("group")
        car = shared.car
        for (event, a, b), mean in car.groupby(["event_id", "window_start", "window_end"])["car"].mean().items():
            label = f"CAAR [{a}, {'+' if b > 0 else ''}{b}]"
            assert glance.loc[event, label] == pytest.approx(mean, rel=1e-12)

    def test_pooled_caar_counts_each_firm_day_once(self, shared: es.StudyResult) -> None:
        summary = shared.summary()
        pooled = _distinct_pooled(shared)
        assert len(pooled) == len(shared.car[["event_id", "ticker"]].drop_duplicates()) - 1  # S1 of 'dup'
        car = shared.car.merge(pooled, on=["event_id", "ticker"])
        caar = summary.caar.set_index(["group", "window_start", "window_end"])
        for (a, b), mean in car.groupby(["window_start", "window_end"])["car"].mean().items():
            assert caar.loc[("all", a, b), "caar"] == pytest.approx(mean, rel=1e-12)
            assert caar.loc[("all", a, b), "n"] == len(pooled)
        # the engine's pooled bootstrap statistic is the same CAAR (a second, independent path)
        boot = shared.tests.query("group == 'all' and scope == 'window' and test == 'bootstrap_caar'")
        for row in boot.itertuples():
            assert caar.loc[("all", row.window_start, row.window_end), "caar"] == pytest.approx(
                row.statistic, rel=1e-12
            )

    def test_firm_events_and_distinct_firm_days(self, shared: es.StudyResult) -> None:
        groups = shared.summary().groups.set_index("group")
        days = shared.event_days.merge(shared.car[["event_id", "ticker"]].drop_duplicates())
        assert groups.loc["all", "firm_events"] == len(days) == len(BIG) + len(SMALL) + 2
        assert groups.loc["all", "firm_days"] == len(days.drop_duplicates(["ticker", "day_zero"])) == len(days) - 1
        assert groups.loc["dup", "firm_events"] == groups.loc["dup", "firm_days"] == 2
        assert groups.loc["all", "pooled"] == len(days) - 1

    def test_user_group_rows(self, shared: es.StudyResult) -> None:
        """A group of the user's (category) is a pooled row over its pooled firm-events."""
        summary = shared.summary()
        labels = [g for g in summary.groups["group"] if g not in ("big", "small", "dup", "all")]
        assert len(labels) == 2 and all("report" in g or "policy" in g for g in labels)
        (report,) = [g for g in labels if "report" in g]
        pooled = _distinct_pooled(shared)
        members = pooled[pooled["event_id"].isin(["small", "dup"])]
        car = shared.car.merge(members, on=["event_id", "ticker"])
        expected = car[(car.window_start == -1) & (car.window_end == 1)]["car"].mean()
        caar = summary.caar.set_index(["group", "window_start", "window_end"])
        assert caar.loc[(report, -1, 1), "caar"] == pytest.approx(expected, rel=1e-12)
        assert summary.groups.set_index("group").loc[report, "kind"] == "pooled"

    def test_dates_and_headlines(self, shared: es.StudyResult) -> None:
        groups = shared.summary().groups.set_index("group")
        assert groups.loc["big", "date"] == pd.Timestamp(SESSIONS[280])
        assert groups.loc["small", "headline"] == "Headline of small"
        assert groups.loc["all", "kind"] == "pooled" and pd.isna(groups.loc["all", "date"])


class TestPrimaryTests:
    def test_auto_choice(self, shared: es.StudyResult, apart: es.StudyResult) -> None:
        """KP-BMP where firm-events share dates, else BMP; GRANK from 10 firm-events, else exact Wilcoxon."""
        head = shared.summary().primary.query("window_start == -1 and window_end == 1")
        chosen = head.set_index(["group", "slot"])["test"]
        assert chosen[("big", 1)] == "kp_bmp_t" and chosen[("big", 2)] == "grank_t"
        assert chosen[("small", 1)] == "kp_bmp_t" and chosen[("small", 2)] == "wilcoxon"
        assert chosen[("all", 2)] == "grank_t"
        alone = apart.summary().primary.query("window_start == -1 and window_end == 1").set_index(["group", "slot"])
        assert alone.loc[("all", 1), "test"] == "bmp_t"  # four firm-events, no common calendar date
        assert alone.loc[("all", 2), "test"] == "wilcoxon"

    def test_primary_rows_are_the_tests_rows(self, shared: es.StudyResult) -> None:
        primary = shared.summary().primary
        tests = shared.tests[shared.tests["scope"] == "window"]
        merged = primary.merge(tests, on=["group", "window_start", "window_end", "test"], suffixes=("", "_t"))
        assert len(merged) == len(primary)
        np.testing.assert_array_equal(merged["statistic"], merged["statistic_t"])
        np.testing.assert_array_equal(merged["p_value"], merged["p_value_t"])

    def test_stars_follow_the_first_primary_test(self, shared: es.StudyResult) -> None:
        summary = shared.summary()
        table = summary.glance_table()
        col = table.columns.index("CAAR [-1, +1]")
        tests = shared.tests.query("scope == 'window' and window_start == -1 and window_end == 1")
        primary = summary.primary
        for row, group in zip(table.rows, summary.groups["group"], strict=True):
            mask = (primary["group"] == group) & (primary["slot"] == 1) & (primary["window_start"] == -1)
            first = primary.loc[mask, "test"].iloc[0]
            p = tests.loc[(tests["group"] == group) & (tests["test"] == first), "p_value"].iloc[0]
            expected = "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.10 else ""
            assert re.fullmatch(r"-?\d+\.\d\d%(\**)", row[col]).group(1) == expected

    def test_battery_counts(self, shared: es.StudyResult) -> None:
        battery = shared.summary().battery.set_index(["group", "window_start", "window_end"])
        tests = shared.tests.query("scope == 'window'")
        for (group, a, b), cell in tests.groupby(["group", "window_start", "window_end"]):
            p = cell["p_value"].dropna()
            assert battery.loc[(group, a, b), "tests"] == len(p)
            assert battery.loc[(group, a, b), "rejecting"] == int((p < 0.05).sum())

    def test_knob_names_the_tests_and_wilcoxon_shows_w_plus(self, shared: es.StudyResult) -> None:
        """primary=bmp_t,wilcoxon for every row; the W+ cell equals the rank sum and scipy's exact p-value."""
        events = _events([("small", 300, SMALL, "r"), ("other", 120, ["S4", "S5"], "r")])
        result = _run(events, [*SMALL, "S4", "S5"], knobs={"primary": "bmp_t,wilcoxon"})
        summary = result.summary()
        assert set(summary.primary["test"]) == {"bmp_t", "wilcoxon"}
        cars = result.car.query("event_id == 'small' and window_start == -5 and window_end == 5")["car"].to_numpy()
        ranks = stats.rankdata(np.abs(cars))
        w_plus = ranks[cars > 0].sum()
        exact = stats.wilcoxon(cars, method="exact").pvalue
        cell = summary.primary.query("group == 'small' and slot == 2 and window_start == -5").iloc[0]
        assert cell["statistic"] == pytest.approx(w_plus) and cell["p_value"] == pytest.approx(exact, rel=1e-12)
        text = primary_cell(cell["test"], cell["statistic"], cell["p_value"], cell["distribution"], tag=False)
        assert text == f"W+ {w_plus:g} ({exact:.4f}, exact)"
        assert "Primary tests, chosen with the primary knob: BMP t (bmp_t)" in summary.primary_text()

    def test_a_study_without_kp_tests_says_it_has_no_cross_correlation(self, shared: es.StudyResult) -> None:
        events = _events([("big", 280, BIG, "policy")])
        result = _run(events, BIG, tests=("cross_sectional_t", "patell_z", "bmp_t"))
        line = "Kolari-Pynnönen cross-correlation not computed: no KP test was requested (--tests)."
        assert result.cross_correlation.empty
        assert line in result.summary().glance_table().notes and line in str(result.summary())
        assert not any("cross-correlation not computed" in n for n in shared.summary().glance_table().notes)
        assert len(shared.cross_correlation)

    def test_bad_knob_values(self) -> None:
        for value in ("bmp_t,bmp_t", "a,b,c,d", "BMP t", ""):
            with pytest.raises(InputError) as info:
                Conventions(primary=value)
            assert info.value.parameter == "primary"
        with pytest.raises(UnknownNameError) as unknown:
            StudySpec(conventions=Conventions(primary="bmp_t,no_such_test"))
        assert unknown.value.parameter == "primary" and "grank_t" in unknown.value.valid
        with pytest.raises(UnknownNameError):  # a test that is not run cannot be primary
            StudySpec(conventions=Conventions(primary="grank_t"), tests=("bmp_t",))


class TestUnits:
    def test_statistic_text(self) -> None:
        assert statistic_text("bootstrap_caar", -0.0266) == "-2.66%"  # a return, in percent
        assert statistic_text("wilcoxon", 12.5) == "W+ 12.5"
        assert statistic_text("wilcoxon", 3.0) == "W+ 3"
        assert statistic_text("bmp_t", -1.23456) == "-1.235"
        assert statistic_text("bmp_t", float("nan")) == "n/a"
        assert primary_cell("wilcoxon", 40.0, 0.02, "N(0,1)", tag=False) == "W+ 40 (0.0200, normal)"
        assert primary_cell("grank_t", 2.0, 0.04, "t(239)", tag=True) == "GRANK t 2.000 (0.0400)"


class TestViews:
    def test_text_is_one_screen_and_opens_with_the_glance(self, shared: es.StudyResult) -> None:
        text = str(shared.summary())
        lines = text.splitlines()
        assert len(lines) <= SCREEN_LINES
        assert lines[0] == "summary study"
        assert text.index("Results at a glance") < text.index("Cumulative abnormal returns by firm")
        assert "more rows not shown" not in text and "S4" in text  # all 17 firm-events fit
        short = shared.summary().as_text(lines=45)
        assert len(short.splitlines()) <= 45 and "more rows not shown" in short
        assert str(shared) == text

    def test_sentence(self, shared: es.StudyResult) -> None:
        sentence = shared.summary().sentence
        n = len(BIG) + len(SMALL) + 2
        assert sentence.startswith(f"3 events with estimates: {n} firm-events estimated and 0 excluded, on {n - 1} ")
        assert "market model" in sentence and "textbook" in sentence

    def test_html_opens_with_the_glance(self, shared: es.StudyResult) -> None:
        page = shared._repr_html_()
        assert page.index("<table") < page.index("<details")
        assert page.index("CAAR [-1, +1]") < page.index("<details")
        assert shared.summary().as_html().count("<details") == 2  # CARs by firm, exclusions

    def test_frames_are_handed_out(self, shared: es.StudyResult) -> None:
        summary = shared.summary()
        caar = summary.caar
        caar.loc[0, "caar"] = 99.0
        assert summary.caar.loc[0, "caar"] != 99.0
        assert shared.summary() is summary  # built once

    def test_duplicates_are_flagged_in_the_car_table(self, shared: es.StudyResult) -> None:
        table = shared.summary().car_table()
        rows = {(r[0], r[1]): r[-1] for r in table.rows}
        # 'dup' and 'small' share S1's day 0 and have no time: the smaller id, 'dup', keeps it
        assert rows[("small", "S1")].startswith("same firm-day as dup")
        assert rows[("big", "B00")] == ""


@pytest.mark.realdata
def test_seed_summary_is_one_screen(shared_dir) -> None:
    """The 2020-21 seed study (34 firm-events; 1,356 lines before issue 7) prints on one screen."""
    repo = Path(__file__).resolve().parents[1]
    study = es.EventStudy.from_csv(
        repo / "events.csv",
        prices=es.CsvPrices(shared_dir / "data" / "curated" / "window_2019_2021"),
        start="2020-01-01",
        end="2021-12-31",
    )
    result = study.run()
    text = str(result.summary())
    assert len(text.splitlines()) <= SCREEN_LINES
    glance = text[text.index("Results at a glance") : text.index("Cumulative abnormal returns by firm")]
    for event in result.car["event_id"].unique():
        assert event[:21] in glance
    assert "all events" in glance and str(shared_dir) not in text


# ----------------------------------------------------------------------------------------------------
# A study with many firm-events: the capped summary against pandas on the result's frames
# ----------------------------------------------------------------------------------------------------
MANY_TICKERS = [f"F{i:02d}" for i in range(60)]
N_ONE, N_MULTI, N_NODATA, N_SHORT = 600, 12, 15, 10
MANY_HEADLINE = (-1, 1)


@pytest.fixture(scope="module")
def many() -> es.StudyResult:
    """637 events: 600 of one firm (random days, so some share a firm-day), 12 of four firms on one day,
    15 of a ticker without data and 10 of a ticker with 60 estimation returns (both excluded); three
    categories as the user's groups."""
    rng = np.random.default_rng(11)
    market = rng.normal(0.0003, 0.01, len(SESSIONS))
    rows = [pd.DataFrame({"date": SESSIONS, "ticker": "MKT", "return": market})]
    for t in MANY_TICKERS:
        noise = rng.normal(0, 0.02, len(SESSIONS))
        rows.append(pd.DataFrame({"date": SESSIONS, "ticker": t, "return": 0.9 * market + noise}))
    late = SESSIONS[250:]
    rows.append(pd.DataFrame({"date": late, "ticker": "SHORT", "return": rng.normal(0, 0.02, len(late))}))
    spec = (
        [(f"one{i:03d}", int(rng.integers(260, 330)), [MANY_TICKERS[i % 60]]) for i in range(N_ONE)]
        + [(f"multi{i:02d}", 262 + 5 * i, list(rng.choice(MANY_TICKERS, 4, replace=False))) for i in range(N_MULTI)]
        + [(f"nodata{i:02d}", 300, ["NODATA"]) for i in range(N_NODATA)]
        + [(f"short{i:02d}", 320, ["SHORT"]) for i in range(N_SHORT)]
    )
    events = _events([(e, day, tickers, ("x", "y", "z")[k % 3]) for k, (e, day, tickers) in enumerate(spec)])
    return es.EventStudy(
        events,
        es.ReturnsFrame(pd.concat(rows, ignore_index=True)),
        estimation_window=(-250, -11),
        event_window=(-5, 5),
        car_windows=((0, 0), (-1, 1), (-5, 5)),
        tests=("bmp_t", "kp_bmp_t", "grank_t", "cross_sectional_t"),
        groups="category",
        progress=False,
    ).run()


def _members(result: es.StudyResult) -> dict[str, pd.DataFrame]:
    """(event_id, ticker) of the firm-events behind each pooled row, by hand: 'all' and each category."""
    pooled = _distinct_pooled(result)
    category = result.events.set_index("event_id")["category"]
    out = {"all": pooled}
    for c in ("x", "y", "z"):
        out[f"category={c}"] = pooled[pooled["event_id"].map(category) == c]
    return out


def _at_headline(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame["window_start"] == MANY_HEADLINE[0]) & (frame["window_end"] == MANY_HEADLINE[1])]


class TestManyFirmEvents:
    def test_rows_are_the_largest_event_caars_then_the_pooled_rows(self, many: es.StudyResult) -> None:
        summary = many.summary()
        caar = _at_headline(many.car).dropna(subset=["car"]).groupby("event_id")["car"].mean().abs()
        top = set(caar.sort_values(ascending=False).index[:30])
        expected = [e for e in many.events["event_id"] if e in top]  # in events-file order
        assert summary.groups["group"].tolist() == [*expected, "all", "category=x", "category=y", "category=z"]
        assert summary.groups["kind"].tolist() == ["event"] * 30 + ["pooled"] * 4
        assert (summary.events_total, summary.firm_events_total) == (N_ONE + N_MULTI, N_ONE + 4 * N_MULTI)

    def test_counts_of_every_row(self, many: es.StudyResult) -> None:
        groups = many.summary().groups.set_index("group")
        days = many.event_days.merge(many.car[["event_id", "ticker"]].drop_duplicates())
        category = many.events.set_index("event_id")["category"]
        members = _members(many)
        for group, row in groups.iterrows():
            if row["kind"] == "event":
                every = days[days["event_id"] == group]
            elif group == "all":
                every = days
            else:
                every = days[days["event_id"].map(category) == str(group).removeprefix("category=")]
            assert row["firm_events"] == len(every), group
            assert row["firm_days"] == len(every.drop_duplicates(["ticker", "day_zero"])), group
            assert row["pooled"] == (len(every) if row["kind"] == "event" else len(members[str(group)])), group
        assert groups.loc["all", "pooled"] < groups.loc["all", "firm_events"]  # shared firm-days counted once

    def test_caar_rows(self, many: es.StudyResult) -> None:
        summary = many.summary()
        members = _members(many)
        car = many.car[np.isfinite(many.car["car"])]
        for row in summary.caar.itertuples():
            window = (car["window_start"] == row.window_start) & (car["window_end"] == row.window_end)
            if row.group in members:
                cars = car[window].merge(members[row.group], on=["event_id", "ticker"])["car"]
            else:
                cars = car.loc[window & (car["event_id"] == row.group), "car"]
            assert row.n == len(cars) > 0
            assert row.caar == pytest.approx(cars.mean(), rel=1e-12, abs=1e-15)  # summation order may differ
        assert len(summary.caar) == 34 * 3

    def test_primary_test_follows_shared_calendar_dates(
        self, many: es.StudyResult, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from eventstudy import summary as summary_module

        monkeypatch.setattr(summary_module, "GLANCE_MAX_EVENTS", 10_000)  # every event a row
        summary = summary_module.Summary.from_result(many)
        ar = many.abnormal_returns
        ar = ar.loc[ar["abnormal_return"].notna(), ["event_id", "ticker", "date"]]
        members = {
            **_members(many),
            **{e: f[["event_id", "ticker"]] for e, f in many.firm_events.groupby("event_id")},
        }
        first = summary.primary[(summary.primary["slot"] == 1) & (summary.primary["window_start"] == -1)]
        first = first.set_index("group")["test"]
        assert len(first) == N_ONE + N_MULTI + 4
        for group, test in first.items():
            dated = ar.merge(members[str(group)], on=["event_id", "ticker"])
            shares = bool((dated.groupby("date").size() >= 2).any())
            assert test == ("kp_bmp_t" if shares else "bmp_t"), group
        assert (first.index.str.startswith("multi") == (first == "kp_bmp_t")).sum() == len(first) - 4
        assert (first[["all", "category=x", "category=y", "category=z"]] == "kp_bmp_t").all()

    def test_exclusions_by_reason(self, many: es.StudyResult) -> None:
        summary = many.summary()
        table = summary.exclusions[["stage", "firm_events", "events", "tickers"]]
        assert table.values.tolist() == [
            ["prices", N_NODATA, N_NODATA, "NODATA"],
            ["estimation", N_SHORT, N_SHORT, "SHORT"],
        ]
        assert summary.exclusion_count() == f"{N_NODATA + N_SHORT} firm-events, 2 reasons"
        days = many.event_days.merge(many.car[["event_id", "ticker"]].drop_duplicates())
        n_days = len(days.drop_duplicates(["ticker", "day_zero"]))
        assert summary.sentence.startswith(
            f"{N_ONE + N_MULTI} of {N_ONE + N_MULTI + N_NODATA + N_SHORT} events with estimates: "
            f"{N_ONE + 4 * N_MULTI} firm-events estimated and {N_NODATA + N_SHORT} excluded, on {n_days} distinct "
        )

    def test_by_firm_rows_are_the_largest_cars(self, many: es.StudyResult) -> None:
        summary = many.summary()
        head = _at_headline(many.car)
        top = head.assign(size=head["car"].abs()).nlargest(100, "size")
        shown = summary.firm_car
        assert set(zip(shown["event_id"], shown["ticker"], strict=True)) == set(
            zip(top["event_id"], top["ticker"], strict=True)
        )
        expected = many.car.merge(top[["event_id", "ticker"]], on=["event_id", "ticker"])
        merged = shown.merge(expected, on=["event_id", "ticker", "window_start", "window_end"], suffixes=("", "_car"))
        assert len(merged) == len(shown) == 300
        np.testing.assert_array_equal(merged["car"], merged["car_car"])
        np.testing.assert_array_equal(merged["p_value"], merged["p_value_car"])
        notes = summary.car_table().notes
        assert any(
            f"100 of {N_ONE + 4 * N_MULTI} firm-events shown ({N_ONE + 4 * N_MULTI - 100} omitted)" in n for n in notes
        )

    def test_rows_are_matched_by_key_not_by_position(self, many: es.StudyResult) -> None:
        """The same summary from frames in another row order (a duck-typed result)."""
        from types import SimpleNamespace

        from eventstudy.summary import Summary

        rng = np.random.default_rng(3)
        names = ("tests", "firm_events", "event_days", "exclusions", "events", "settings", "title")
        shuffled = SimpleNamespace(
            **{name: getattr(many, name) for name in names},
            car=many.car.sample(frac=1.0, random_state=rng),
            abnormal_returns=many.abnormal_returns.sample(frac=1.0, random_state=rng),
        )
        a, b = many.summary(), Summary.from_result(shuffled)
        pd.testing.assert_frame_equal(a.groups, b.groups)
        assert set(a.windows) == set(b.windows)  # in the order of the car rows

        def by_key(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
            return frame.sort_values(keys).reset_index(drop=True)

        keys = ["group", "window_start", "window_end"]
        pd.testing.assert_frame_equal(by_key(a.primary, [*keys, "slot"]), by_key(b.primary, [*keys, "slot"]))
        pd.testing.assert_frame_equal(by_key(a.caar, keys), by_key(b.caar, keys), check_exact=False, rtol=1e-12)
        assert set(zip(a.firm_car["event_id"], a.firm_car["ticker"], a.firm_car["car"], strict=True)) == set(
            zip(b.firm_car["event_id"], b.firm_car["ticker"], b.firm_car["car"], strict=True)
        )
        assert a.sentence == b.sentence
