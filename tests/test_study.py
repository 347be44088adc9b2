"""EventStudy end to end on synthetic prices built in code (an in-memory price source).

Covers the settings validation, the exclusions (insufficient estimation data, a CAR window with a
missing day, a day 0 outside the prices), the convention profile and knobs recorded in the settings, the
profile's return type, the invariance of every firm-event's AR and CAR to the order of the events and to a
ticker appearing in several events (``docs/methods.md`` §9.1: everything is keyed by the event, not the
ticker), shared firm-days and pooling (§3.5: each pooled statistic equals the one of a study built from the
kept firm-events alone), masked estimation rows (counted by hand from the dates), the user's groups and
their difference tests (against scipy on the result's own CARs), event selection and stage messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eventstudy import EventStudy, get_profile
from eventstudy.cli import main
from eventstudy.conventions import Conventions
from eventstudy.data import ReturnsFrame
from eventstudy.data.series import PriceSeries
from eventstudy.errors import DataError, InputError, PriceSourceError, UnknownNameError
from eventstudy.events import Event
from eventstudy.results import StudyResult
from eventstudy.spec import StudySpec, knob_names, resolve_conventions

DATES = pd.bdate_range("2020-01-01", "2021-12-31")
SETTINGS = dict(
    estimation_window=(-120, -11),
    event_window=(-5, 5),
    car_windows=[(0, 0), (-1, 1), (0, 5)],
    min_estimation_obs=60,
    progress=False,
)


def _prices(seed: int = 5) -> dict[str, PriceSeries]:
    """A market index M and tickers A, B, C on every weekday; D lists late; E stops early."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.01, len(DATES))
    out = {"M": PriceSeries("M", DATES, 1000 * np.exp(np.cumsum(market)), source="memory")}
    for symbol, beta in (("A", 1.2), ("B", 0.7), ("C", 1.0), ("D", 0.9), ("E", 1.1)):
        r = 0.0002 + beta * market + rng.normal(0, 0.015, len(DATES))
        prices = 50 * np.exp(np.cumsum(r))
        keep = np.ones(len(DATES), dtype=bool)
        if symbol == "D":
            keep[: DATES.get_loc(pd.Timestamp("2021-03-01")) - 40] = (
                False  # 39 returns before day 0, 29 of them in [-120, -11]
            )
        if symbol == "E":
            keep[DATES.get_loc(pd.Timestamp("2021-03-01")) + 4 :] = False  # last row at day +3
        out[symbol] = PriceSeries(symbol, DATES[keep], prices[keep], source="memory")
    return out


class MemoryPrices:
    """Serves the in-memory series; unknown symbols fail like a real source."""

    description = "synthetic prices (in memory)"

    def __init__(self, series: dict[str, PriceSeries]) -> None:
        self.series = series

    def load(self, symbol: str, start: dt.date, end: dt.date) -> PriceSeries:
        if symbol not in self.series:
            raise PriceSourceError(symbol, "no data", "not in the synthetic set")
        s = self.series[symbol]
        keep = (s.dates >= pd.Timestamp(start)) & (s.dates <= pd.Timestamp(end))
        return PriceSeries(symbol, s.dates[keep], s.values[keep], source=s.source)


def _event(event_id: str, date: str, tickers: tuple[str, ...], category: str = "") -> Event:
    return Event(
        event_id,
        dt.date.fromisoformat(date),
        None,
        "America/New_York",
        "",
        category,
        tickers,
        ("M",) * len(tickers),
        "",
        False,
    )


@pytest.fixture(scope="module")
def prices() -> MemoryPrices:
    return MemoryPrices(_prices())


def _run(events: list[Event], prices: MemoryPrices, **settings: object) -> StudyResult:
    return EventStudy(events, prices, **{**SETTINGS, **settings}).run()  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- validation
class TestSettingsValidation:
    """Bad settings raise InputError naming the parameter, before anything is loaded."""

    @pytest.mark.parametrize(
        ("settings", "parameter"),
        [
            ({"estimation_window": (-120, 0)}, "estimation_window"),  # overlaps the event window
            ({"event_window": (5, -5)}, "event_window"),
            ({"estimation_window": (-120.5, -11)}, "estimation_window"),
            ({"estimation_window": (-120,)}, "estimation_window"),
            ({"car_windows": [(0, 6)]}, "car_windows"),
            ({"car_windows": [(2, 1)]}, "car_windows"),
            ({"car_windows": []}, "car_windows"),
            ({"min_estimation_obs": 4}, "min_estimation_obs"),
            ({"min_estimation_obs": 60.5}, "min_estimation_obs"),
            ({"min_estimation_obs": 111}, "min_estimation_obs"),  # [-120, -11] holds 110 days
            ({"estimation_window": (-5001, -11)}, "estimation_window"),  # beyond MAX_OFFSET = 5,000
            ({"estimation_window": (-100_000, -11)}, "estimation_window"),
            ({"event_window": (-5, 5001)}, "event_window"),
            ({"return_type": "percent"}, "return_type"),
            ({"knobs": {"fec": "maybe"}}, "knobs"),
            ({"knobs": {"resid_ddof": 2}}, "knobs"),
            ({"knobs": {"kp_min_overlap": "many"}}, "knobs"),
        ],
    )
    def test_bad_setting(self, prices: MemoryPrices, settings: dict[str, object], parameter: str) -> None:
        with pytest.raises(InputError) as info:
            EventStudy([_event("e1", "2021-03-01", ("A",))], prices, **{**SETTINGS, **settings})  # type: ignore[arg-type]
        assert info.value.parameter == parameter

    def test_unknown_knob_and_profile_list_the_valid_names(self, prices: MemoryPrices) -> None:
        with pytest.raises(UnknownNameError) as info:
            EventStudy([_event("e1", "2021-03-01", ("A",))], prices, knobs={"fecc": False})
        assert info.value.parameter == "knobs" and "fec_moments" in info.value.valid
        assert set(info.value.valid) == set(knob_names())
        with pytest.raises(UnknownNameError) as profile:
            EventStudy([_event("e1", "2021-03-01", ("A",))], prices, conventions="stata")
        assert "estudy2" in profile.value.valid
        with pytest.raises(UnknownNameError):  # the profile name is not a knob
            resolve_conventions("textbook", {"name": "mine"})

    def test_no_events(self, prices: MemoryPrices) -> None:
        with pytest.raises(InputError):
            EventStudy([], prices)

    def test_limits_themselves_are_allowed(self, prices: MemoryPrices) -> None:
        # 110 = -11 - (-120) + 1 estimation days; offsets of exactly 5,000 trading days
        EventStudy([_event("e1", "2021-03-01", ("A",))], prices, **{**SETTINGS, "min_estimation_obs": 110})  # type: ignore[arg-type]
        spec = StudySpec(estimation_window=(-5000, -11), event_window=(-10, 5000), car_windows=((0, 5000),))
        assert spec.estimation_window == (-5000, -11) and spec.event_window == (-10, 5000)
        assert StudySpec(model="market", min_estimation_obs=5).min_estimation_obs == 5  # k + 3 with k = 2


class TestNothingEstimated:
    """A study in which no firm-event is left is a DataError counting the exclusions by stage and reason."""

    def test_every_firm_event_excluded(self, prices: MemoryPrices) -> None:
        # D: 29 returns in [-120, -11] (< 60); ZZZ and YYY: not in the price source
        study = EventStudy([_event("e1", "2021-03-01", ("D", "ZZZ", "YYY"))], prices, **SETTINGS)  # type: ignore[arg-type]
        with pytest.raises(DataError) as info:
            study.run()
        lines = str(info.value).splitlines()
        assert lines[0] == "nothing could be estimated: all 3 firm-events were excluded"
        assert lines[1] == "  prices, no data: 2 firm-events (e.g. e1 / ZZZ: ZZZ: no data (not in the synthetic set))"
        assert lines[2] == (
            "  estimation, insufficient estimation data: 1 firm-event (e.g. e1 / D: insufficient estimation data: "
            "29 returns in [-120, -11], minimum 60)"
        )

    def test_benchmark_without_data(self, prices: MemoryPrices) -> None:
        event = Event(
            "e1", dt.date(2021, 3, 1), None, "America/New_York", "", "", ("A", "B"), ("NOPE", "NOPE"), "", False
        )
        with pytest.raises(DataError) as info:
            EventStudy([event], prices, **SETTINGS).run()  # type: ignore[arg-type]
        assert "  prices, benchmark no data: 2 firm-events (e.g. e1 / A: benchmark NOPE: no data" in str(info.value)

    def test_one_estimable_firm_event_is_enough(self, prices: MemoryPrices) -> None:
        result = _run([_event("e1", "2021-03-01", ("A", "D", "ZZZ"))], prices)
        assert result.n_firm_events == 1 and len(result.exclusions) == 2


# ---------------------------------------------------------------------------------------- exclusions
class TestExclusions:
    def setup_method(self) -> None:
        self.result = _run([_event("e1", "2021-03-01", ("A", "D", "E", "ZZZ"))], MemoryPrices(_prices()))
        self.excl = self.result.exclusions.set_index("ticker")

    def test_insufficient_estimation_data(self) -> None:
        row = self.excl.loc["D"]
        assert row["stage"] == "estimation"
        assert row["reason"].startswith("insufficient estimation data: 29 returns in [-120, -11], minimum 60")
        assert "D" not in set(self.result.panel.pairs["ticker"])
        days = self.result.event_days.set_index("ticker")
        assert days.loc["D", "status"] == "excluded"

    def test_car_window_with_a_missing_day(self) -> None:
        # E's prices stop at day +3: its ARs on +4, +5 are missing, never zero-filled
        e_rows = self.result.abnormal_returns[self.result.abnormal_returns["ticker"] == "E"]
        assert e_rows["rel_day"].max() == 3
        e_excl = self.result.exclusions[self.result.exclusions["ticker"] == "E"]
        assert e_excl["stage"].tolist() == ["CAR window [0, +5]"]
        assert "missing" in e_excl["reason"].iloc[0]
        car = self.result.car.set_index(["ticker", "window_start", "window_end"])
        assert np.isnan(car.loc[("E", 0, 5), "car"]) and np.isnan(car.loc[("E", 0, 5), "se"])
        assert np.isfinite(car.loc[("E", -1, 1), "car"])
        # the pooled CAR [0, +5] statistic counts only A
        tests = self.result.tests
        cell = tests[
            (tests.group == "all")
            & (tests.scope == "window")
            & (tests.window_end == 5)
            & (tests.test == "cross_sectional_t")
        ]
        assert cell["n"].tolist() == [1]

    def test_missing_prices_become_exclusions(self) -> None:
        assert self.excl.loc["ZZZ", "stage"] == "prices"
        assert set(self.result.panel.pairs["ticker"]) == {"A", "E"}


# ---------------------------------------------------------------------------------------- profiles
class TestProfileAndKnobs:
    def test_textbook_defaults_recorded(self, prices: MemoryPrices) -> None:
        result = _run([_event("e1", "2021-03-01", ("A", "B"))], prices)
        settings = result.settings
        assert settings["conventions"] == "textbook"
        assert settings["return_type"] == "simple (default of the textbook profile)"
        for name, _value in Conventions().knobs().items():
            if name != "name":
                assert f"knob: {name}" in settings
        assert settings["knob: fec"] == "on" and settings["knob: alignment"] == "common"
        assert settings["knob: resid_ddof"] == "k" and settings["knob: car_coverage"] == "0.9"

    def test_estudy2_with_a_knob_changed(self, prices: MemoryPrices) -> None:
        result = _run([_event("e1", "2021-03-01", ("A", "B"))], prices, conventions="estudy2", knobs={"fec": False})
        conv = result.spec.conventions
        assert conv.name == "estudy2+custom" and conv.fec is False and conv.resid_ddof == "1"
        settings = result.settings
        assert settings["conventions"] == "estudy2+custom"
        assert settings["knob: fec"] == "off" and settings["forecast-error correction"] == "off"
        assert settings["knob: fec_moments"] == "index_window" and settings["knob: alignment"] == "date"
        np.testing.assert_allclose(result.fit.leverage, 0.0)
        table = result.spec.knob_table()
        assert table.iloc[0].tolist() == ["name", "estudy2+custom"]
        assert set(table["knob"]) == {"name", *knob_names()}

    def test_text_knob_values_are_converted(self) -> None:
        conv = resolve_conventions(
            "textbook",
            {"fec": "OFF", "resid_ddof": 1, "kp_min_overlap": "20", "car_coverage": "0.8", "bmp_reference": "normal"},
        )
        assert (conv.fec, conv.resid_ddof, conv.kp_min_overlap, conv.car_coverage, conv.bmp_reference) == (
            False,
            "1",
            20,
            0.8,
            "normal",
        )
        assert conv.name == "textbook+custom"
        assert resolve_conventions(get_profile("estudy2")) is get_profile("estudy2")

    def test_conventions_value_is_used_as_given(self, prices: MemoryPrices) -> None:
        conv = get_profile("textbook").with_knobs(resid_ddof="0")
        result = _run([_event("e1", "2021-03-01", ("A",))], prices, conventions=conv)
        assert result.spec.conventions is conv and result.settings["residual variance divisor"] == "M"

    def test_return_type_comes_from_the_profile_unless_given(self, prices: MemoryPrices) -> None:
        events = [_event("e1", "2021-03-01", ("A",))]
        log = _run(events, prices, conventions="estudy2")
        simple = _run(events, prices, conventions="estudy2", return_type="simple")
        assert log.spec.return_type == "log" and log.spec.return_type_from_profile
        assert log.settings["return_type"] == "log (default of the estudy2 profile)"
        assert simple.spec.return_type == "simple" and not simple.spec.return_type_from_profile
        assert simple.settings["return_type"] == "simple"
        assert simple.settings["knob: return_type"].startswith("log (profile default; this study uses simple)")
        a = prices.series["A"]
        i0 = a.dates.get_loc(pd.Timestamp("2021-03-01"))
        np.testing.assert_allclose(log.panel.evt_returns[0, 5], np.log(a.values[i0] / a.values[i0 - 1]), rtol=1e-14)
        np.testing.assert_allclose(simple.panel.evt_returns[0, 5], a.values[i0] / a.values[i0 - 1] - 1, rtol=1e-12)
        assert StudySpec().return_type == "simple"
        assert StudySpec(conventions=get_profile("estudy2")).return_type == "log"


# ---------------------------------------------------------------------------------------- invariance
KEYED_EVENTS = [
    _event("e1", "2021-03-01", ("A", "B")),
    _event("e2", "2021-06-01", ("C", "A")),
    _event("e3", "2021-03-01", ("A",)),  # same ticker and day 0 as in e1, another event
    _event("e4", "2021-09-15", ("B", "A", "C")),
]


@pytest.fixture(scope="module")
def forward(prices: MemoryPrices) -> StudyResult:
    return _run(KEYED_EVENTS, prices)


class TestKeyedByEvent:
    """AR and CAR of a firm-event do not depend on the other events of the file (METHODS.md §9.1)."""

    EVENTS = KEYED_EVENTS

    @staticmethod
    def _keyed(result: StudyResult) -> tuple[pd.DataFrame, pd.DataFrame]:
        ar = result.abnormal_returns.set_index(["event_id", "ticker", "rel_day"]).sort_index()
        car = result.car.set_index(["event_id", "ticker", "window_start", "window_end"]).sort_index()
        return ar, car

    def test_order_of_events(self, forward: StudyResult, prices: MemoryPrices) -> None:
        backward = _run(self.EVENTS[::-1], prices)
        for a, b in zip(self._keyed(forward), self._keyed(backward), strict=True):
            pd.testing.assert_frame_equal(a, b)
        tests = ["group", "scope", "window_start", "window_end", "test"]
        fwd = forward.tests.set_index(tests).sort_index()
        bwd = backward.tests.set_index(tests).sort_index()
        # pooled sums run in another order: equal to rounding
        np.testing.assert_allclose(fwd["statistic"], bwd["statistic"], rtol=1e-12)
        np.testing.assert_array_equal(fwd["n"], bwd["n"])

    def test_each_event_alone(self, forward: StudyResult, prices: MemoryPrices) -> None:
        ar_all, car_all = self._keyed(forward)
        for event in self.EVENTS:
            alone = _run([event], prices)
            ar, car = self._keyed(alone)
            pd.testing.assert_frame_equal(ar, ar_all.loc[[event.event_id]])
            pd.testing.assert_frame_equal(car, car_all.loc[[event.event_id]])
            # the per-event statistics of the full run equal the pooled ones of the event alone
            mine = forward.tests[forward.tests.group == event.event_id].drop(columns="group").reset_index(drop=True)
            pooled = alone.tests[alone.tests.group == "all"].drop(columns="group").reset_index(drop=True)
            pd.testing.assert_frame_equal(mine, pooled)

    def test_same_ticker_in_two_events_gives_two_units(self, forward: StudyResult) -> None:
        pairs = forward.panel.pairs
        assert len(pairs) == 8 and (pairs["ticker"] == "A").sum() == 4
        ar, _ = self._keyed(forward)
        np.testing.assert_array_equal(ar.loc[("e1", "A")]["abnormal_return"], ar.loc[("e3", "A")]["abnormal_return"])
        aar = forward.aar.set_index(["group", "rel_day"])
        assert (aar.loc["e1", "n"] == 2).all() and (aar.loc["e3", "n"] == 1).all()
        # e3/A repeats e1/A's (ticker, day 0): counted once in "all" by default, twice under pooling = all
        assert (aar.loc["all", "n"] == 7).all()

    def test_pooling_all_counts_every_firm_event(self, prices: MemoryPrices) -> None:
        every = _run(self.EVENTS, prices, knobs={"pooling": "all"})
        assert (every.aar.set_index(["group", "rel_day"]).loc["all", "n"] == 8).all()


# ---------------------------------------------------------------------------------------- command line
def _write_inputs(folder: Path) -> Path:
    series = _prices()
    for symbol in ("A", "B", "M"):
        s = series[symbol]
        frame = pd.DataFrame({"Date": s.dates.strftime("%Y-%m-%d"), "Close": s.values, "Adj Close": s.values})
        frame.to_csv(folder / f"{symbol}.csv", index=False)
    events = folder / "events.csv"
    events.write_text(
        "event_id,date,timezone,tickers,benchmark\ne1,2021-03-01,America/New_York,A;B,M\n", encoding="utf-8"
    )
    return events


class TestCommandLineKnobs:
    def test_unknown_knob_exits_2_listing_the_knobs(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        events = _write_inputs(tmp_path)
        code = main(["run", str(events), "--prices", str(tmp_path), "--quiet", "--knob", "fecc=off"])
        err = capsys.readouterr().err
        assert code == 2 and "--knob" in err and "fec_moments" in err and "Traceback" not in err

    @pytest.mark.parametrize("item", ["fec", "=off", "fec="])
    def test_malformed_knob_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], item: str) -> None:
        events = _write_inputs(tmp_path)
        assert main(["run", str(events), "--prices", str(tmp_path), "--quiet", "--knob", item]) == 2
        assert "NAME=VALUE" in capsys.readouterr().err

    def test_bad_knob_value_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        events = _write_inputs(tmp_path)
        assert main(["run", str(events), "--prices", str(tmp_path), "--quiet", "--knob", "car_variance=full"]) == 2
        assert "car_variance" in capsys.readouterr().err

    def test_run_records_profile_and_knobs(self, tmp_path: Path) -> None:
        events = _write_inputs(tmp_path)
        out = tmp_path / "out"
        code = main(
            [
                "run",
                str(events),
                "--prices",
                str(tmp_path),
                "--quiet",
                "--out",
                str(out),
                "--formats",
                "md",
                "--estimation=-120:-11",
                "--window=-5:5",
                "--car",
                "0:1",
                "--min-obs",
                "60",
                "--conventions",
                "estudy2",
                "--knob",
                "fec=off",
                "--knob",
                "kp_min_overlap=20",
            ]
        )
        assert code == 0
        report = (out / "report.md").read_text(encoding="utf-8")
        assert "estudy2+custom" in report and "knob: kp_min_overlap" in report
        assert "log (default of the estudy2+custom profile)" in report
        parameters = pd.read_csv(out / "parameters.csv")
        assert parameters["ticker"].tolist() == ["A", "B"]


class TestConfounders:
    """Another event of the same ticker inside the estimation window is reported, and kept (METHODS.md §3.5)."""

    def test_event_in_estimation_window_is_noted(self, prices: MemoryPrices) -> None:
        # 2021-03-01 lies inside [-120, -11] trading days of 2021-06-01, not the other way round
        result = _run([_event("early", "2021-03-01", ("A",)), _event("late", "2021-06-01", ("A", "B"))], prices)
        days = result.event_days.set_index(["event_id", "ticker"])
        assert days.loc[("late", "A"), "estimation_confounders"] == "early (day 0 2021-03-01)"
        assert days.loc[("early", "A"), "estimation_confounders"] == ""
        assert days.loc[("late", "B"), "estimation_confounders"] == ""  # another ticker
        assert days.loc[("late", "A"), "status"] == "ok" and days.loc[("late", "A"), "reason"] == ""  # kept
        firm = result.firm_events.set_index(["event_id", "ticker"])
        assert firm.loc[("late", "A"), "estimation_confounders"] == "early (day 0 2021-03-01)"
        assert firm["pooled"].all() and (firm["overlaps"] == "").all()


# ---------------------------------------------------------------------------------------- shared firm-days
def _pooled_rows(result: StudyResult) -> pd.DataFrame:
    """The ``all`` rows of the tests frame, indexed by cell, without the multiple-testing columns."""
    tests = result.tests
    rows = tests[tests.group == "all"].drop(columns=["group", "p_holm", "p_bh"])
    return rows.set_index(["scope", "window_start", "window_end", "test"]).sort_index()


class TestPooling:
    """Pooled groups count each (ticker, day 0) once by default (``docs/methods.md`` §3.5)."""

    def test_flags_of_a_duplicate(self, forward: StudyResult) -> None:
        firm = forward.firm_events.set_index(["event_id", "ticker"])
        assert firm.loc[("e3", "A"), "duplicate_of"] == "e1" and not firm.loc[("e3", "A"), "pooled"]
        assert firm.loc[("e1", "A"), "duplicate_of"] == "" and firm.loc[("e1", "A"), "pooled"]
        assert firm["pooled"].sum() == 7
        days = forward.event_days.set_index(["event_id", "ticker"])
        assert days.loc[("e3", "A"), "duplicate_of"] == "e1"
        assert forward.spec.knob_table().set_index("knob").loc["pooling", "value"] == "distinct"

    def test_every_pooled_statistic_equals_a_study_of_the_kept_firm_events(
        self, forward: StudyResult, prices: MemoryPrices
    ) -> None:
        # e3 holds only the duplicate e3/A: a study without e3 has exactly the firm-events "all" keeps
        kept = _run([e for e in KEYED_EVENTS if e.event_id != "e3"], prices, knobs={"pooling": "all"})
        mine, theirs = _pooled_rows(forward), _pooled_rows(kept)
        from eventstudy.inference import REGISTRY

        assert set(mine.index.get_level_values("test")) == set(REGISTRY)
        # the same arithmetic on the same rows in the same order: equal to rounding
        pd.testing.assert_frame_equal(mine, theirs, rtol=1e-12, atol=0)
        aar = forward.aar[forward.aar.group == "all"].reset_index(drop=True)
        pd.testing.assert_frame_equal(aar, kept.aar[kept.aar.group == "all"].reset_index(drop=True), rtol=1e-12)
        cc_mine = forward.cross_correlation.query("group == 'all'").reset_index(drop=True)
        pd.testing.assert_frame_equal(cc_mine, kept.cross_correlation.query("group == 'all'").reset_index(drop=True))
        # each event's own group keeps all its firm-events
        e3 = forward.tests[(forward.tests.group == "e3") & (forward.tests.test == "cross_sectional_t")]
        assert (e3["n"] == 1).all()

    def test_overlapping_windows_are_flagged_and_dropped_on_request(self, prices: MemoryPrices) -> None:
        # A on Monday 2021-03-01 and on Wednesday 2021-03-03 (day +2 of the first, day -2 of the second)
        events = [_event("first", "2021-03-01", ("A", "B")), _event("second", "2021-03-03", ("A",))]
        result = _run(events, prices)
        firm = result.firm_events.set_index(["event_id", "ticker"])
        assert firm.loc[("first", "A"), "overlaps"] == "second (day +2)"
        assert firm.loc[("second", "A"), "overlaps"] == "first (day -2)"
        assert firm.loc[("first", "B"), "overlaps"] == ""
        assert firm["pooled"].all()  # distinct firm-days: both kept by default
        dropped = _run(events, prices, knobs={"pooling": "drop_overlapped"})
        assert dropped.firm_events["pooled"].tolist() == [False, True, False]
        only_b = _run([_event("first", "2021-03-01", ("B",))], prices)
        pd.testing.assert_frame_equal(_pooled_rows(dropped), _pooled_rows(only_b), rtol=1e-12, atol=0)

    def test_no_pooled_firm_event_left(self, prices: MemoryPrices) -> None:
        events = [_event("first", "2021-03-01", ("A", "B")), _event("second", "2021-03-03", ("A", "B"))]
        result = _run(events, prices, knobs={"pooling": "drop_overlapped"}, tests=["cross_sectional_t"])
        pooled = result.tests[result.tests.group == "all"]
        assert pooled["statistic"].isna().all() and (pooled["reason"] == "no firm-event of the group is pooled").all()
        assert result.tests[result.tests.group == "first"]["statistic"].notna().any()

    def test_estudy2_counts_every_firm_event(self, forward: StudyResult, prices: MemoryPrices) -> None:
        result = _run(KEYED_EVENTS, prices, conventions="estudy2")
        assert result.spec.conventions.pooling == "all" and result.firm_events["pooled"].all()


class TestMaskEventWindows:
    def test_rows_inside_another_window_leave_the_fit(self, prices: MemoryPrices) -> None:
        events = [_event("early", "2021-03-01", ("A",)), _event("late", "2021-06-01", ("A", "B"))]
        kept = _run(events, prices)
        masked = _run(events, prices, knobs={"mask_event_windows": "on"})
        # by hand: the estimation dates of late/A that fall between the first and last date of early/A's window
        ar = kept.abnormal_returns
        window = ar[(ar.event_id == "early") & (ar.ticker == "A")]["date"]
        params = kept.parameters.set_index(["event_id", "ticker"])
        start, end = params.loc[("late", "A"), ["estimation_start", "estimation_end"]]
        dates = prices.series["A"].dates
        estimation = dates[(dates >= start) & (dates <= end)]
        inside = int(((estimation >= window.min()) & (estimation <= window.max())).sum())
        assert inside == 11  # [-5, +5]
        n_obs = masked.parameters.set_index(["event_id", "ticker"])["n_obs"]
        assert n_obs[("late", "A")] == params.loc[("late", "A"), "n_obs"] - inside
        assert n_obs[("late", "B")] == params.loc[("late", "B"), "n_obs"]  # another ticker
        assert n_obs[("early", "A")] == params.loc[("early", "A"), "n_obs"]  # late's window is after early's fit
        firm = masked.firm_events.set_index(["event_id", "ticker"])
        assert firm.loc[("late", "A"), "estimation_confounders"] == "early (day 0 2021-03-01, window masked)"


# ---------------------------------------------------------------------------------------- groups
GROUP_EVENTS = [
    _event("r1", "2021-03-01", ("A", "B", "C"), "regulatory"),
    _event("p1", "2021-06-01", ("A", "B"), "policy"),
    _event("r2", "2021-09-15", ("C", "B"), "regulatory"),
    _event("x1", "2021-10-15", ("A",), ""),
]


@pytest.fixture(scope="module")
def grouped(prices: MemoryPrices) -> StudyResult:
    return _run(GROUP_EVENTS, prices, groups="category")


class TestGroups:
    def test_labels_in_every_frame(self, grouped: StudyResult) -> None:
        labels = ("category=regulatory", "category=policy", "category=(none)")
        assert grouped.pooled_groups == ("all", *labels)
        groups = list(dict.fromkeys(grouped.tests["group"]))
        assert groups == ["all", *labels, "r1", "p1", "r2", "x1"]
        assert list(dict.fromkeys(grouped.aar["group"])) == groups
        assert set(grouped.cross_correlation["group"]) == set(groups)
        firm = grouped.firm_events
        assert firm.loc[firm.event_id == "r2", "group"].unique().tolist() == ["category=regulatory"]
        assert grouped.settings["groups"] == "by category (events-file column)"

    def test_group_statistics_equal_a_study_of_the_group(self, grouped: StudyResult, prices: MemoryPrices) -> None:
        alone = _run([e for e in GROUP_EVENTS if e.category == "regulatory"], prices)
        mine = grouped.tests[grouped.tests.group == "category=regulatory"].assign(group="all")
        pd.testing.assert_frame_equal(
            mine.drop(columns=["p_holm", "p_bh"]).set_index(["scope", "window_start", "window_end", "test"]),
            alone.tests[alone.tests.group == "all"]
            .drop(columns=["p_holm", "p_bh"])
            .set_index(["scope", "window_start", "window_end", "test"]),
            rtol=1e-12,
            atol=0,
        )
        aar = grouped.aar[grouped.aar.group == "category=regulatory"].drop(columns="group").reset_index(drop=True)
        expected = alone.aar[alone.aar.group == "all"].drop(columns="group").reset_index(drop=True)
        pd.testing.assert_frame_equal(aar, expected, rtol=1e-12)

    def test_differences_against_scipy(self, grouped: StudyResult) -> None:
        from scipy import stats

        diff = grouped.group_differences
        car = grouped.car.merge(grouped.firm_events[["event_id", "ticker", "group"]], on=["event_id", "ticker"])
        row = diff[
            (diff.group_a == "category=regulatory")
            & (diff.group_b == "category=policy")
            & (diff.window_start == -1)
            & (diff.test == "welch_t")
        ].iloc[0]
        a = car[(car.group == "category=regulatory") & (car.window_start == -1)]["car"].to_numpy()
        b = car[(car.group == "category=policy") & (car.window_start == -1)]["car"].to_numpy()
        expected = stats.ttest_ind(a, b, equal_var=False)
        assert (row.n_a, row.n_b) == (5, 2)
        assert row.statistic == pytest.approx(expected.statistic, rel=1e-10)
        assert row.p_value == pytest.approx(expected.pvalue, rel=1e-9)
        u = diff[(diff.group_a == "category=regulatory") & (diff.group_b == "category=policy")]
        u = u[(u.window_start == -1) & (u.test == "mann_whitney_u")].iloc[0]
        assert u.p_value == pytest.approx(stats.mannwhitneyu(a, b, method="exact").pvalue, rel=1e-10)

    def test_user_groups_are_their_own_family_across_groups(self, prices: MemoryPrices) -> None:
        result = _run(GROUP_EVENTS, prices, groups="category", knobs={"adjust_family": "events"})
        tests = result.tests
        cell = tests[(tests.test == "cross_sectional_t") & (tests.scope == "window") & (tests.window_end == 1)]
        cell = cell[cell.window_start == -1].set_index("group")
        groups = ["category=regulatory", "category=policy", "category=(none)"]
        events = ["r1", "p1", "r2", "x1"]
        for members in (groups, events):
            p = cell.loc[members, "p_value"].to_numpy()
            # Holm by hand over the family's defined p-values: sorted, scaled by m - j + 1, running max
            defined = np.isfinite(p)
            order = np.argsort(p[defined])
            m = int(defined.sum())
            holm = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[defined][order]))
            expected = np.full(len(p), np.nan)
            expected[np.flatnonzero(defined)[order]] = holm
            np.testing.assert_allclose(cell.loc[members, "p_holm"].to_numpy(), expected, rtol=1e-12)
        assert cell.loc["all", "p_holm"] == cell.loc["all", "p_value"]

    def test_groups_honour_pooling(self, prices: MemoryPrices) -> None:
        # d1/A and r1/A share a firm-day; both date-only on 2021-03-01, so the smaller id, d1, keeps it and
        # category=regulatory loses r1/A (precedence: date, time, event id)
        events = [*GROUP_EVENTS[:2], _event("d1", "2021-03-01", ("A", "E"), "dup")]
        result = _run(events, prices, groups="category")
        tests = result.tests
        cell = (tests.test == "cross_sectional_t") & (tests.scope == "window") & (tests.window_end == 0)
        n = tests[cell & (tests.window_start == 0)].set_index("group")["n"]
        assert (n["category=dup"], n["d1"], n["all"], n["category=regulatory"], n["r1"]) == (2, 2, 6, 2, 3)
        assert result.firm_events.set_index(["event_id", "ticker"]).loc[("r1", "A"), "duplicate_of"] == "d1"

    def test_mapping_by_ticker(self, prices: MemoryPrices, tmp_path: Path) -> None:
        from eventstudy.grouping import read_groups

        path = tmp_path / "groups.csv"
        path.write_text("ticker,listing\nA,one\nB,two\n", encoding="utf-8")
        result = _run(GROUP_EVENTS, prices, groups=read_groups(path))
        assert result.pooled_groups == ("all", "listing=one", "listing=two")
        firm = result.firm_events.set_index(["event_id", "ticker"])
        assert firm.loc[("r1", "C"), "group"] == "" and firm.loc[("p1", "B"), "group"] == "listing=two"
        assert result.settings["groups"] == "listing from groups.csv (2 tickers -> 2 groups)"

    def test_unknown_mapping_key_and_label_clash(self, prices: MemoryPrices, tmp_path: Path) -> None:
        from eventstudy.grouping import read_groups

        path = tmp_path / "groups.csv"
        path.write_text("ticker,listing\nA,one\nQQQ,two\n", encoding="utf-8")
        with pytest.raises(InputError) as info:
            EventStudy(GROUP_EVENTS, prices, groups=read_groups(path), **SETTINGS)  # type: ignore[arg-type]
        assert (info.value.line, info.value.column, info.value.value) == (3, "ticker", "QQQ")
        clash = [_event("category=x", "2021-03-01", ("A",), "x")]
        with pytest.raises(InputError, match="also an event id"):
            _run(clash, prices, groups="category")


# ---------------------------------------------------------------------------------------- selection and misc
class TestFromCsvSelection:
    def test_filters_and_settings(self, tmp_path: Path, prices: MemoryPrices) -> None:
        path = tmp_path / "events.csv"
        path.write_text(
            "event_id,date,timezone,category,tickers,benchmark\n"
            "r1,2021-03-01,America/New_York,regulatory,A;B,M\n"
            "p1,2021-06-01,America/New_York,policy,A,M\n"
            "r2,2021-09-15,America/New_York,regulatory,B,M\n",
            encoding="utf-8",
        )
        study = EventStudy.from_csv(path, prices, start="2021-05-01", categories="regulatory", **SETTINGS)  # type: ignore[arg-type]
        assert [e.event_id for e in study.events] == ["r2"]
        assert study.spec.describe()["events"] == "1 of 3 events: category regulatory; dated from 2021-05-01"
        with pytest.raises(UnknownNameError) as info:
            EventStudy.from_csv(path, prices, ids=["r1", "nope"])
        assert info.value.parameter == "--events" and "p1, r1, r2" in str(info.value)

    def test_groups_file_checked_on_the_whole_file(self, tmp_path: Path, prices: MemoryPrices) -> None:
        from eventstudy.grouping import read_groups

        path = tmp_path / "events.csv"
        path.write_text(
            "event_id,date,timezone,tickers,benchmark\n"
            "r1,2021-03-01,America/New_York,A;B,M\n"
            "p1,2021-06-01,America/New_York,C,M\n",
            encoding="utf-8",
        )
        groups = tmp_path / "groups.csv"
        groups.write_text("event_id,kind\nr1,first\np1,second\n", encoding="utf-8")
        study = EventStudy.from_csv(path, prices, ids="r1", groups=read_groups(groups), **SETTINGS)  # type: ignore[arg-type]
        assert study.spec.grouping is not None and study.spec.grouping.mapping == (("r1", "first"),)


class TestPriceRangeAndTimes:
    def test_day_zero_outside_the_prices_is_its_own_stage(self, prices: MemoryPrices) -> None:
        result = _run([_event("now", "2021-03-01", ("A",)), _event("later", "2023-03-01", ("A", "ZZZ"))], prices)
        excl = result.exclusions.set_index(["event_id", "ticker"])
        assert excl.loc[("later", "A"), "stage"] == "price range"
        assert excl.loc[("later", "A"), "reason"].startswith(
            "no prices around day 0: calendar day 0 2023-03-01 is after"
        )
        assert excl.loc[("later", "ZZZ"), "stage"] == "prices"
        from eventstudy.results import exclusion_kinds

        assert exclusion_kinds(excl["reason"]).tolist() == ["no prices around day 0", "no data"]

    def test_event_time_keeps_its_time_in_the_csv(self, prices: MemoryPrices, tmp_path: Path) -> None:
        timed = Event("t1", dt.date(2021, 3, 1), dt.time(8, 30), "Asia/Hong_Kong", "", "", ("A",), ("M",), "", False)
        result = _run([timed, _event("d1", "2021-06-01", ("A",))], prices)
        result.to_csv(tmp_path)
        days = pd.read_csv(tmp_path / "event_days.csv", keep_default_na=False)
        assert days["event_time_utc"].tolist() == ["2021-03-01T00:30:00Z", ""]
        assert days["calendar_day_zero"].iloc[0] == "2021-03-01"

    def test_progress_messages(self, prices: MemoryPrices) -> None:
        messages: list[str] = []
        EventStudy([_event("e1", "2021-03-01", ("A", "B"))], prices, **SETTINGS).run(progress=messages.append)  # type: ignore[arg-type]
        assert [m.split(":")[0] for m in messages] == ["prices", "prices", "estimation", "tests"]
        assert messages[1] == "prices: 3 of 3 symbols loaded"


# ---------------------------------------------------------------------------------------- loading
def _returns_frame(series: dict[str, PriceSeries]) -> pd.DataFrame:
    """The prices as a long frame of simple returns, date, ticker, return (P_t / P_prev - 1 by hand)."""
    parts = [
        pd.DataFrame({"date": s.dates[1:], "ticker": symbol, "return": s.values[1:] / s.values[:-1] - 1})
        for symbol, s in series.items()
    ]
    return pd.concat(parts, ignore_index=True)


class PerSymbolReturns:
    """The same returns served one symbol at a time (no ``load_table``)."""

    def __init__(self, frame: ReturnsFrame) -> None:
        self.frame = frame
        self.description = frame.description

    def load(self, symbol: str, start: dt.date, end: dt.date) -> PriceSeries:
        return self.frame.load(symbol, start, end)


class TableOnlyReturns(ReturnsFrame):
    """A long source that counts its ``load_table`` calls and refuses per-symbol loads."""

    calls = 0

    def load_table(self, symbols, start, end):  # type: ignore[no-untyped-def]
        TableOnlyReturns.calls += 1
        return super().load_table(symbols, start, end)

    def load(self, symbol, start=None, end=None):  # type: ignore[no-untyped-def]
        raise AssertionError(f"per-symbol load of {symbol} from a table source")


class TestLoadPrices:
    def test_a_per_symbol_source_gives_one_table_and_the_failures(self, prices: MemoryPrices) -> None:
        study = EventStudy([_event("e1", "2021-03-01", ("B", "NOPE", "A"))], prices, **SETTINGS)  # type: ignore[arg-type]
        table, failed = study.load_prices()
        assert table.symbols == ("B", "A", "M")  # the study's first-use order, without the failure
        assert list(failed) == ["NOPE"] and failed["NOPE"].detail == "not in the synthetic set"
        start, end = study.date_range()
        expected = prices.load("A", start, end)
        a = table.series("A")
        np.testing.assert_array_equal(a.values, expected.values)
        assert list(a.dates) == list(expected.dates)

    def test_a_table_source_is_asked_once_and_gives_the_same_study(self) -> None:
        frame = _returns_frame(_prices())
        events = [_event("e1", "2021-03-01", ("A", "B", "NOPE")), _event("e2", "2021-06-01", ("C", "A"))]
        TableOnlyReturns.calls = 0
        by_table = _run(events, TableOnlyReturns(frame, description="returns"))  # type: ignore[arg-type]
        assert TableOnlyReturns.calls == 1
        by_symbol = _run(events, PerSymbolReturns(ReturnsFrame(frame, description="returns")))  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(by_table.car, by_symbol.car)
        pd.testing.assert_frame_equal(by_table.tests, by_symbol.tests)
        pd.testing.assert_frame_equal(by_table.exclusions, by_symbol.exclusions)
        pd.testing.assert_frame_equal(by_table.provenance, by_symbol.provenance)

    def test_provenance_lists_the_loaded_symbols_then_the_failures(self, prices: MemoryPrices) -> None:
        result = _run([_event("e1", "2021-03-01", ("A", "NOPE"))], prices)
        prov = result.provenance
        assert prov["symbol"].tolist() == ["A", "M", "NOPE"]
        start, end = EventStudy([_event("e1", "2021-03-01", ("A",))], prices, **SETTINGS).date_range()  # type: ignore[arg-type]
        in_range = DATES[DATES.slice_indexer(pd.Timestamp(start), pd.Timestamp(end))]
        assert prov["rows"].tolist() == [len(in_range), len(in_range), 0]
        assert prov["first_date"].iloc[0] == in_range[0] and prov["last_date"].iloc[1] == in_range[-1]
        assert prov["source"].tolist() == ["memory", "memory", ""]
        assert prov["notes"].iloc[2] == "no data: not in the synthetic set"
        assert pd.isna(prov["first_date"].iloc[2])


# ---------------------------------------------------------------------------------------- per-event tests
RunCli = Callable[..., Any]
EVENT_TEST_EVENTS = [
    _event("solo", "2021-03-01", ("A",)),
    _event("pair", "2021-04-01", ("A", "B")),
    _event("trio", "2021-05-03", ("A", "B", "C")),
    _event("solo2", "2021-06-01", ("B",)),
]
EVENT_TEST_NAMES = ["cross_sectional_t", "patell_z", "bmp_t", "sign", "bootstrap_caar"]


@pytest.fixture(scope="module")
def every_event(prices: MemoryPrices) -> StudyResult:
    return _run(EVENT_TEST_EVENTS, prices, tests=EVENT_TEST_NAMES, event_tests="all")


class TestEventTests:
    """``event_tests`` drops rows of the tests table and nothing else: what stays is what ``"all"`` computes."""

    @pytest.mark.parametrize(
        ("choice", "groups"), [("multi_firm", {"all", "pair", "trio"}), ("none", {"all"}), ("all", None)]
    )
    def test_rows_kept_equal_those_of_every_event(
        self, prices: MemoryPrices, every_event: StudyResult, choice: str, groups: set[str] | None
    ) -> None:
        result = _run(EVENT_TEST_EVENTS, prices, tests=EVENT_TEST_NAMES, event_tests=choice)
        assert result.event_tests == choice
        expected = every_event.tests
        if groups is not None:
            expected = expected[expected["group"].isin(groups)].reset_index(drop=True)
        assert set(result.tests["group"]) == (groups or {"all", "solo", "pair", "trio", "solo2"})
        pd.testing.assert_frame_equal(result.tests, expected)
        pd.testing.assert_frame_equal(result.car, every_event.car)
        pd.testing.assert_frame_equal(result.abnormal_returns, every_event.abnormal_returns)

    def test_auto_follows_the_number_of_events(self, prices: MemoryPrices, monkeypatch: pytest.MonkeyPatch) -> None:
        import eventstudy.spec as spec

        assert spec.resolve_event_tests("auto", spec.EVENT_TESTS_AUTO_LIMIT) == "all"
        assert spec.resolve_event_tests("auto", spec.EVENT_TESTS_AUTO_LIMIT + 1) == "multi_firm"
        monkeypatch.setattr(spec, "EVENT_TESTS_AUTO_LIMIT", 3)  # 4 events: above the limit
        result = _run(EVENT_TEST_EVENTS, prices, tests=["cross_sectional_t"])
        assert result.event_tests == "multi_firm" and set(result.tests["group"]) == {"all", "pair", "trio"}
        note = result.summary().event_tests_note
        assert note.startswith("2 of 4 events have no tests of their own") and "two or more firm-events" in note

    def test_the_summary_says_nothing_when_every_event_is_tested(self, every_event: StudyResult) -> None:
        assert every_event.summary().event_tests_note == ""
        assert every_event.settings["per-event tests"] == "every event"

    def test_unknown_choice_names_the_parameter(self, prices: MemoryPrices) -> None:
        with pytest.raises(InputError, match="event_tests must be one of auto, all, multi_firm, none") as error:
            _run(EVENT_TEST_EVENTS, prices, event_tests="some")
        assert error.value.parameter == "event_tests"

    def test_command_line_option(self, tmp_path: Path, eventstudy_cli: RunCli) -> None:
        events = _write_inputs(tmp_path)
        args = ["run", str(events), "--prices", str(tmp_path), "--quiet", "--formats", "csv", "--min-obs", "60"]
        args += ["--estimation=-120:-11", "--window=-5:5", "--tests", "cross_sectional_t"]
        done = eventstudy_cli(*args, "--out", str(tmp_path / "none"), "--event-tests", "none")
        assert done.returncode == 0, done.stderr
        assert set(pd.read_csv(tmp_path / "none" / "tests.csv")["group"]) == {"all"}
        bad = eventstudy_cli(*args, "--out", str(tmp_path / "bad"), "--event-tests", "single")
        assert bad.returncode == 2 and "--event-tests" in bad.stderr and "Traceback" not in bad.stderr
