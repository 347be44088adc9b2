"""Placebo (pseudo-event) p-values of the pooled CAARs (``eventstudy.placebo``, ``docs/methods.md`` §6.4 B3).

The hand computation enumerates every eligible pseudo day 0 of a tiny synthetic study with plain Python loops,
refits each drawn pseudo firm-event with statsmodels OLS and counts the p-value by hand; the rest checks the
seeding, a planted effect, the size under no effect, the exclusions and the command line.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from test_cli import write_prices  # type: ignore[import-not-found]
from test_study import MemoryPrices  # type: ignore[import-not-found]

import eventstudy.placebo as placebo_module
from eventstudy import EventStudy
from eventstudy.data.series import PriceSeries
from eventstudy.errors import InputError
from eventstudy.events import Event
from eventstudy.placebo import PLACEBO_COLUMNS, placebo_p_values
from eventstudy.results import StudyResult

DATES = pd.bdate_range("2021-01-04", periods=160)
ESTIMATION, EVENT, MIN_OBS = (-30, -6), (-2, 2), 20
WINDOWS = [(0, 0), (-1, 1)]


def _prices(seed: int = 3, shock: float = 0.0, rows: dict[str, slice] | None = None) -> MemoryPrices:
    """Market M and tickers A, B, C, D: R = 0.0002 + beta R_M + e; ``shock`` added to the returns on the event rows."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.01, len(DATES))
    out = {"M": PriceSeries("M", DATES, 1000 * np.exp(np.cumsum(market)), source="memory")}
    for symbol, beta in (("A", 1.2), ("B", 0.7), ("C", 1.0), ("D", 0.9)):
        returns = 0.0002 + beta * market + rng.normal(0, 0.015, len(DATES))
        returns[[ROW_E1, ROW_E2]] += shock
        keep = (rows or {}).get(symbol, slice(None))
        prices = 50 * np.cumprod(1 + returns)
        out[symbol] = PriceSeries(symbol, DATES[keep], prices[keep], source="memory")
    return MemoryPrices(out)


ROW_E1, ROW_E2 = 81, 121  # price rows of the two event dates (return rows 80 and 120)


def _event(event_id: str, row: int, tickers: tuple[str, ...]) -> Event:
    date = DATES[row].date()
    return Event(event_id, date, None, "America/New_York", "", "", tickers, ("M",) * len(tickers), "", False)


EVENTS = [_event("e1", ROW_E1, ("A", "B")), _event("e2", ROW_E2, ("A", "C"))]


def _run(prices: MemoryPrices, events: list[Event] = EVENTS, **settings: object) -> StudyResult:
    options: dict[str, object] = dict(
        estimation_window=ESTIMATION,
        event_window=EVENT,
        car_windows=WINDOWS,
        min_estimation_obs=MIN_OBS,
        progress=False,
    )
    return EventStudy(events, prices, **{**options, **settings}).run()  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- p-value rule
def test_p_values_follow_the_stated_rule_against_loops() -> None:
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(40, 3, 2))
    draws[[1, 7], 0, 0] = np.nan
    observed = np.array([[0.5, -1.8], [0.0, np.nan], [2.5, draws[3, 2, 1]]])  # a tie with draw 3
    out = placebo_p_values(observed, draws)
    for g in range(3):
        for c in range(2):
            t = observed[g, c]
            values = [v for v in draws[:, g, c] if np.isfinite(v)]
            n = len(values)
            assert out["n_used"][g, c] == n
            if not np.isfinite(t):
                assert np.isnan(out["p_placebo"][g, c]) and np.isnan(out["percentile"][g, c])
                continue
            assert out["p_placebo"][g, c] == (1 + sum(abs(v) >= abs(t) for v in values)) / (n + 1)
            assert out["p_upper"][g, c] == (1 + sum(v >= t for v in values)) / (n + 1)
            assert out["p_lower"][g, c] == (1 + sum(v <= t for v in values)) / (n + 1)
            assert out["percentile"][g, c] == pytest.approx(100 * sum(v <= t for v in values) / n)
            assert out["mean_placebo"][g, c] == pytest.approx(np.mean(values))
            assert out["sd_placebo"][g, c] == pytest.approx(np.std(values, ddof=1))


# ---------------------------------------------------------------------------------------------- by hand
def _hand_eligible(
    returns_dates: dict[str, np.ndarray],
    real: dict[str, list[int]],
    members: list[tuple[str, np.datetime64]],
    min_obs: int = MIN_OBS,
) -> list[np.timedelta64]:
    """Eligible shifts of a cluster of events, by plain loops over its candidate dates and its firm-events.

    ``members`` are the cluster's (ticker, real day 0); a candidate date d gives the shift d - (earliest day 0).
    """
    anchor = min(day for _, day in members)
    candidates = sorted({d for t, _ in members for d in returns_dates[t]})
    eligible = []
    for day in candidates:
        shift = day - anchor
        ok = True
        for ticker, day0 in members:
            dates = returns_dates[ticker]
            later = [j for j, d in enumerate(dates) if d >= day0 + shift]
            if not later:
                ok = False
                break
            pos, n = later[0], len(dates)
            est = min(n - 1, pos + ESTIMATION[1]) - max(0, pos + ESTIMATION[0]) + 1
            inside = pos + EVENT[0] >= 0 and pos + EVENT[1] <= n - 1
            if not inside or est < min_obs:
                ok = False
                break
            first, last = dates[pos + EVENT[0]], dates[pos + EVENT[1]]
            for p0 in real[ticker]:
                if first <= dates[p0 + EVENT[1]] and last >= dates[p0 + EVENT[0]]:
                    ok = False
            if not ok:
                break
        if ok:
            eligible.append(shift)
    return eligible


def _hand_cars(prices: MemoryPrices, ticker: str, day: np.datetime64) -> list[float]:
    """CAR of each window of a firm-event with day 0 ``day``: statsmodels OLS of R on [1, R_M] over its estimation rows."""
    own, market = prices.series[ticker], prices.series["M"]
    frame = pd.DataFrame({"p": own.values}, index=own.dates).join(
        pd.DataFrame({"m": market.values}, index=market.dates)
    )
    r = frame["p"].pct_change().to_numpy()[1:]
    m = frame["m"].pct_change().to_numpy()[1:]
    dates = frame.index.to_numpy().astype("datetime64[D]")[1:]
    pos = int(np.searchsorted(dates, day))
    est = slice(max(0, pos + ESTIMATION[0]), pos + ESTIMATION[1] + 1)
    fit = sm.OLS(r[est], sm.add_constant(m[est])).fit()
    ar = r - fit.params[0] - fit.params[1] * m
    return [float(ar[pos + a : pos + b + 1].sum()) for a, b in WINDOWS]


LAYOUTS = {
    "apart": (EVENTS, [["e1"], ["e2"]]),  # windows far apart: each event its own shifts
    "overlapping": ([_event("e1", ROW_E1, ("A", "B")), _event("e2", ROW_E1 + 2, ("A", "C"))], [["e1", "e2"]]),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_placebo_p_values_equal_a_hand_count_over_statsmodels_refits(layout: str) -> None:
    events, clusters = LAYOUTS[layout]
    prices = _prices()
    draws = 150
    result = _run(prices, events=events, placebo_draws=draws, placebo_seed=7)
    placebo = result.placebo_result
    assert placebo is not None
    returns_dates = {t: prices.series[t].dates.to_numpy().astype("datetime64[D]")[1:] for t in "ABC"}
    real: dict[str, list[int]] = {t: [] for t in "ABC"}
    for row in result.firm_events.itertuples(index=False):
        real[row.ticker].append(int(np.searchsorted(returns_dates[row.ticker], np.datetime64(row.day_zero, "D"))))
    day0 = {(r.event_id, r.ticker): np.datetime64(r.day_zero, "D") for r in result.firm_events.itertuples()}
    # the eligible shifts of each cluster, enumerated by hand: counts, range and every draw among them
    table_events = placebo.events.set_index("event_id")
    drawn = placebo.draws
    by_draw = drawn.pivot(index="draw", columns="event_id", values="date")
    for cluster in clusters:
        members = [(t, day) for (e, t), day in day0.items() if e in cluster]
        eligible = _hand_eligible(returns_dates, real, members)
        anchor = min(day for _, day in members)
        for e in cluster:
            event_day = min(day for (f, _), day in day0.items() if f == e)
            assert table_events.loc[e, "cluster"] == " + ".join(cluster)
            assert table_events.loc[e, "eligible_dates"] == len(eligible)
            assert table_events.loc[e, "first_date"] == pd.Timestamp(event_day + eligible[0])
            assert table_events.loc[e, "last_date"] == pd.Timestamp(event_day + eligible[-1])
        shifts = by_draw[cluster[0]].to_numpy().astype("datetime64[D]") - anchor
        assert set(shifts) <= set(eligible) and len(set(shifts)) > 0.5 * len(eligible)
        for e in cluster[1:]:  # one shift for the whole cluster: the events keep their calendar distance
            distance = by_draw[e].to_numpy().astype("datetime64[D]") - by_draw[cluster[0]].to_numpy().astype(
                "datetime64[D]"
            )
            assert (distance == min(d for (f, _), d in day0.items() if f == e) - anchor).all()
    # every replicate refitted by hand; CAAR per event and over all; p counted with plain loops
    day0 = {(r.event_id, r.ticker): np.datetime64(r.day_zero, "D") for r in result.firm_events.itertuples()}
    members = {e.event_id: list(e.tickers) for e in events}

    def caars(dates: dict[str, np.datetime64]) -> dict[str, list[float]]:
        cars = {(e, t): _hand_cars(prices, t, dates[e]) for e in ("e1", "e2") for t in members[e]}
        out = {e: list(np.mean([cars[e, t] for t in members[e]], axis=0)) for e in ("e1", "e2")}
        out["all"] = list(np.mean(list(cars.values()), axis=0))
        return out

    observed = {e: list(np.mean([_hand_cars(prices, t, day0[e, t]) for t in members[e]], axis=0)) for e in ("e1", "e2")}
    observed["all"] = list(
        np.mean([_hand_cars(prices, t, day0[e, t]) for e in ("e1", "e2") for t in members[e]], axis=0)
    )
    replicates = [caars({e: np.datetime64(by_draw.loc[b, e], "D") for e in ("e1", "e2")}) for b in by_draw.index]
    table = result.placebo
    caar_rows = table[table["statistic"] == "caar"]
    assert len(caar_rows) == 3 * len(WINDOWS)
    for row in caar_rows.itertuples(index=False):
        c = WINDOWS.index((row.window_start, row.window_end))
        t = observed[row.group][c]
        values = [rep[row.group][c] for rep in replicates]
        assert row.observed == pytest.approx(t, abs=1e-12)
        assert row.n_draws == draws and row.n_used == draws
        assert row.p_placebo == (1 + sum(abs(v) >= abs(t) for v in values)) / (draws + 1)
        assert row.p_upper == (1 + sum(v >= t for v in values)) / (draws + 1)
        assert row.mean_placebo == pytest.approx(np.mean(values), abs=1e-12)
        assert row.sd_placebo == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    # the observed CAARs are the study's own (every firm-event entered), the primary test's observed value its own
    caar = result.summary().caar.set_index(["group", "window_start", "window_end"])["caar"]
    for row in caar_rows.itertuples(index=False):
        assert row.observed == pytest.approx(caar[row.group, row.window_start, row.window_end], abs=1e-14)
    tests = result.tests[result.tests["scope"] == "window"].set_index(["group", "test", "window_start", "window_end"])
    primary = table[table["statistic"] != "caar"]
    assert len(primary) > 0
    for row in primary.itertuples(index=False):
        reported = tests.loc[(row.group, row.statistic, row.window_start, row.window_end), "statistic"]
        assert row.observed == pytest.approx(reported, rel=1e-10, nan_ok=True)
    assert list(table.columns) == list(PLACEBO_COLUMNS)
    assert placebo.exclusions.empty


# ---------------------------------------------------------------------------------------------- seeding
def test_draws_depend_only_on_seed_event_and_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    prices = _prices()
    first = _run(prices, placebo_draws=60, placebo_seed=11)
    again = _run(prices, placebo_draws=60, placebo_seed=11)
    pd.testing.assert_frame_equal(first.placebo, again.placebo)
    monkeypatch.setattr(placebo_module, "CHUNK_FIRM_EVENTS", 7)  # 1 replicate per fit instead of all at once
    chunked = _run(prices, placebo_draws=60, placebo_seed=11)
    pd.testing.assert_frame_equal(first.placebo, chunked.placebo, rtol=1e-12)
    longer = _run(prices, placebo_draws=90, placebo_seed=11).placebo_result
    assert longer is not None and first.placebo_result is not None
    pd.testing.assert_frame_equal(longer.draws[longer.draws["draw"] <= 60], first.placebo_result.draws)
    # an event's draws do not depend on the other events (given its eligible dates: e3 shares no ticker with e1)
    pair = [EVENTS[0], _event("e3", ROW_E2, ("D",))]
    alone = _run(prices, events=EVENTS[:1], placebo_draws=60, placebo_seed=11).placebo_result
    together = _run(prices, events=pair, placebo_draws=60, placebo_seed=11).placebo_result
    assert alone is not None and together is not None
    drawn = together.draws
    pd.testing.assert_frame_equal(alone.draws, drawn[drawn["event_id"] == "e1"].reset_index(drop=True))
    first_draws = first.placebo_result.draws
    other = _run(prices, placebo_draws=60, placebo_seed=12).placebo_result
    assert other is not None and not other.draws["date"].equals(first.placebo_result.draws["date"])
    # the default seed is the conventions' seed knob
    knob = _run(prices, placebo_draws=20, knobs={"seed": 11}).placebo_result
    assert knob is not None and knob.seed == 11
    pd.testing.assert_frame_equal(knob.draws, first_draws[first_draws["draw"] <= 20].reset_index(drop=True))


def test_placebo_off_by_default_and_bad_settings() -> None:
    result = _run(_prices())
    assert result.placebo_result is None and result.placebo.empty
    assert list(result.placebo.columns) == list(PLACEBO_COLUMNS) and "placebo" not in result.frames()
    for bad in (-1, 2.5, True, "100"):
        with pytest.raises(InputError) as info:
            EventStudy(EVENTS, _prices(), placebo_draws=bad)  # type: ignore[arg-type]
        assert info.value.parameter == "placebo_draws"
    with pytest.raises(InputError) as info:
        EventStudy(EVENTS, _prices(), placebo_draws=10, placebo_seed=-3)
    assert info.value.parameter == "placebo_seed"


# ---------------------------------------------------------------------------------------------- exclusions
def test_a_history_that_cannot_hold_a_pseudo_window_is_left_out_with_the_reason() -> None:
    # D trades from price row 58 to 86 only: its real event (return row 80) has 17 estimation returns, but no
    # pseudo day 0 has 15 of them with the event window inside rows 57..85 and clear of its real window
    prices = _prices(rows={"D": slice(58, 87)})
    events = [_event("e1", ROW_E1, ("A", "B", "D"))]
    result = _run(prices, events=events, min_estimation_obs=15, placebo_draws=30, placebo_seed=1)
    assert "D" in set(result.firm_events["ticker"])
    placebo = result.placebo_result
    assert placebo is not None
    assert list(placebo.exclusions["ticker"]) == ["D"]
    assert "no pseudo day 0 in its price history" in placebo.exclusions["reason"].iloc[0]
    row = result.placebo[(result.placebo["group"] == "e1") & (result.placebo["statistic"] == "caar")].iloc[0]
    assert row["firm_events"] == 2  # A and B
    cars = result.car[
        (result.car["ticker"] != "D") & (result.car["window_start"] == 0) & (result.car["window_end"] == 0)
    ]
    assert row["observed"] == pytest.approx(cars["car"].mean(), abs=1e-14)


def test_firm_events_sharing_no_pseudo_day_0_lose_the_one_with_the_fewest_eligible_shifts() -> None:
    # B trades up to price row 90 and C from row 70: each has pseudo day 0s of its own, but none in common
    prices = _prices(rows={"B": slice(0, 91), "C": slice(70, 160)})
    result = _run(prices, events=[_event("e1", 85, ("B", "C", "A"))], min_estimation_obs=8, placebo_draws=50)
    assert set(result.firm_events["ticker"]) == {"A", "B", "C"}
    placebo = result.placebo_result
    assert placebo is not None
    returns_dates = {t: prices.series[t].dates.to_numpy().astype("datetime64[D]")[1:] for t in "ABC"}
    day0 = {r.ticker: np.datetime64(r.day_zero, "D") for r in result.firm_events.itertuples()}
    real = {t: [int(np.searchsorted(returns_dates[t], day0[t]))] for t in "ABC"}
    alone = {t: len(_hand_eligible(returns_dates, real, [(t, day0[t])], min_obs=8)) for t in "ABC"}
    assert alone["B"] > 0 and alone["C"] > 0
    assert not _hand_eligible(returns_dates, real, [(t, day0[t]) for t in "BC"], min_obs=8)
    dropped = min("BC", key=lambda t: alone[t])
    assert list(placebo.exclusions["ticker"]) == [dropped]
    assert "no pseudo day 0 shared with the other firm-events" in placebo.exclusions["reason"].iloc[0]
    kept = [(t, day0[t]) for t in "ABC" if t != dropped]
    assert placebo.events["eligible_dates"].iloc[0] == len(_hand_eligible(returns_dates, real, kept, min_obs=8))


# ---------------------------------------------------------------------------------------------- power and size
def test_a_planted_day_zero_shock_gives_a_small_p() -> None:
    result = _run(_prices(shock=0.08), placebo_draws=199, placebo_seed=5)
    caar = result.placebo[(result.placebo["statistic"] == "caar") & (result.placebo["window_start"] == 0)]
    caar = caar.set_index(["group", "window_end"])
    assert caar.loc[("all", 0), "p_placebo"] == pytest.approx(1 / 200)  # no placebo replicate comes near
    assert caar.loc[("e1", 0), "p_placebo"] < 0.05 and caar.loc[("e2", 0), "p_placebo"] < 0.05
    assert caar.loc[("all", 0), "percentile"] == 100.0


@pytest.mark.slow
def test_size_under_no_effect_is_nominal() -> None:
    """Rejection rate at 5 % of the "all" CAAR[0,0] placebo p over 300 studies without an effect (random event rows)."""
    rng = np.random.default_rng(2024)
    started = time.perf_counter()
    p_values = []
    for r in range(300):
        prices = _prices(seed=100 + r)
        rows = rng.choice(np.arange(40, 150), size=2, replace=False)
        events = [_event("e1", int(rows[0]), ("A", "B")), _event("e2", int(rows[1]), ("C", "D"))]
        result = _run(
            prices, events=events, placebo_draws=99, placebo_seed=r, tests=["bmp_t"], knobs={"primary": "bmp_t"}
        )
        table = result.placebo
        at = table[(table["group"] == "all") & (table["statistic"] == "caar") & (table["window_end"] == 0)]
        p_values.append(float(at["p_placebo"].iloc[0]))
    p = np.asarray(p_values)
    rate = float((p <= 0.05).mean())
    print(f"size at 5 %: {rate:.3f} over {len(p)} studies, mean p {p.mean():.3f}")
    band = 3 * np.sqrt(0.05 * 0.95 / len(p))
    assert abs(rate - 0.05) <= band, (rate, band)
    assert abs(p.mean() - 0.5) < 3 * np.sqrt(1 / 12 / len(p)) + 0.01
    assert time.perf_counter() - started < 600


# ---------------------------------------------------------------------------------------------- command line
def test_cli_run_with_placebo_writes_placebo_csv_and_the_report_section(tmp_path: Path, eventstudy_cli) -> None:  # type: ignore[no-untyped-def]
    events = write_prices(tmp_path / "in")
    out = tmp_path / "out"
    run = eventstudy_cli(
        "run", str(events), "--prices", str(events.parent), "--offline", "--estimation", "-60:-6", "--window", "-3:3",
        "--car", "0:0", "--car", "-1:1", "--min-obs", "30", "--placebo", "40", "--placebo-seed", "3",
        "--formats", "md", "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out / "placebo.csv")
    assert list(table.columns) == list(PLACEBO_COLUMNS)
    assert set(table["group"]) == {"e1", "all"} and (table["n_draws"] == 40).all()
    assert ((table["p_placebo"] > 0) & (table["p_placebo"] <= 1)).all()
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Placebo dates" in report and "B = 40 placebo replicates, seed 3" in report


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (("--placebo", "-5"), "placebo_draws must be a whole number"),
        (("--placebo", "many"), "invalid int value"),
        (("--placebo-seed", "4"), "--placebo-seed applies with --placebo"),
    ],
)
def test_cli_bad_placebo_exits_2(tmp_path: Path, eventstudy_cli, options: tuple[str, ...], needle: str) -> None:  # type: ignore[no-untyped-def]
    events = write_prices(tmp_path / "in")
    run = eventstudy_cli("run", str(events), "--prices", str(events.parent), "--offline", *options, "--out", "x")
    assert run.returncode == 2, run.stderr
    assert needle in run.stderr


# ---------------------------------------------------------------------------------------------- the seed study
@pytest.mark.realdata
def test_seed_study_placebo(shared_dir: Path) -> None:
    """The 2020-21 seed events (``../shared/data/curated/window_2019_2021``): every event gets a placebo p."""
    from eventstudy.data import CsvPrices

    repo = Path(__file__).resolve().parents[1]
    prices = CsvPrices(shared_dir / "data" / "curated" / "window_2019_2021")
    settings: dict[str, object] = dict(start="2020-01-01", end="2021-12-31", progress=False)
    plain = EventStudy.from_csv(repo / "events.csv", prices, **settings).run()  # type: ignore[arg-type]
    result = EventStudy.from_csv(repo / "events.csv", prices, placebo_draws=200, **settings).run()  # type: ignore[arg-type]
    # the wider price range the placebo loads changes no result of the study
    pd.testing.assert_frame_equal(plain.car, result.car)
    pd.testing.assert_frame_equal(plain.tests, result.tests)
    table = result.placebo
    caar = table[(table["statistic"] == "caar") & (table["window_start"] == -1) & (table["window_end"] == 1)]
    assert set(caar["group"]) == set(result.firm_events["event_id"]) | {"all"}
    assert ((caar["p_placebo"] >= 1 / 201) & (caar["p_placebo"] <= 1)).all() and (caar["n_used"] == 200).all()
    summary = result.summary().caar.set_index(["group", "window_start", "window_end"])["caar"]
    for row in caar.itertuples(index=False):  # every estimated firm-event entered the placebo
        assert row.observed == pytest.approx(summary[row.group, -1, 1], abs=1e-14)
    placebo = result.placebo_result
    assert placebo is not None and placebo.exclusions.empty
    assert (placebo.events["eligible_dates"] >= 100).all()
