"""Property tests: the statistics are keyed by event, not by ticker or by file order (METHODS.md §9.1, §9.23).

Every statistic, the resampling p-values included, is invariant to the order of the events file.

Synthetic returns built in code; events are date-only events on NYSE sessions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventstudy as es

SESSIONS = pd.bdate_range("2021-01-04", periods=420)
TICKERS = ("AAA", "BBB", "CCC", "DDD")


def _returns() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    market = rng.normal(0.0003, 0.01, len(SESSIONS))
    frames = [pd.DataFrame({"date": SESSIONS, "ticker": "MKT", "return": market})]
    for j, ticker in enumerate(TICKERS):
        r = 0.0002 * j + (0.6 + 0.2 * j) * market + rng.normal(0, 0.012 + 0.002 * j, len(SESSIONS))
        frames.append(pd.DataFrame({"date": SESSIONS, "ticker": ticker, "return": r}))
    return pd.concat(frames, ignore_index=True)


RETURNS = es.ReturnsFrame(_returns())


def _events(rows: list[tuple[str, int, tuple[str, ...]]]) -> tuple[es.Event, ...]:
    frame = pd.DataFrame(
        {
            "event_id": [r[0] for r in rows],
            "date": [SESSIONS[r[1]].strftime("%Y-%m-%d") for r in rows],
            "timezone": "America/New_York",
            "tickers": [";".join(r[2]) for r in rows],
            "benchmark": "MKT",
        }
    )
    return es.events_from_frame(frame)


def _run(events: tuple[es.Event, ...]) -> es.StudyResult:
    return es.EventStudy(
        events,
        RETURNS,
        estimation_window=(-200, -11),
        event_window=(-5, 5),
        car_windows=((0, 0), (-1, 1)),
        progress=False,
    ).run()


def _keyed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


EVENT_ROWS = st.lists(
    st.tuples(st.integers(260, 400), st.lists(st.sampled_from(TICKERS), min_size=1, max_size=4, unique=True)),
    min_size=2,
    max_size=4,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVENT_ROWS, st.randoms(use_true_random=False))
def test_invariant_to_event_order(rows, rnd) -> None:  # type: ignore[no-untyped-def]
    events = [(f"ev{i}", day, tuple(tickers)) for i, (day, tickers) in enumerate(rows)]
    shuffled = events[:]
    rnd.shuffle(shuffled)
    a, b = _run(_events(events)), _run(_events(shuffled))
    pd.testing.assert_frame_equal(
        _keyed(a.car, ["event_id", "ticker", "window_start"]), _keyed(b.car, ["event_id", "ticker", "window_start"])
    )
    # group statistics: same numbers per (group, test, window); "all" included. The resampling tests too:
    # their draws are seeded by each group's firm-events (event id, ticker), not by the row order.
    keys = ["group", "scope", "test", "window_start", "window_end"]
    ta, tb = _keyed(a.tests, keys), _keyed(b.tests, keys)
    pd.testing.assert_frame_equal(ta, tb, check_exact=False, rtol=1e-9, atol=1e-12)
    resampled = ta["test"].str.contains("bootstrap").to_numpy()
    np.testing.assert_array_equal(ta["p_value"].to_numpy()[resampled], tb["p_value"].to_numpy()[resampled])
    ca = _keyed(a.cross_correlation, ["group", "market_scope"])
    pd.testing.assert_frame_equal(ca, _keyed(b.cross_correlation, ["group", "market_scope"]), rtol=1e-9)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(260, 330),
    st.integers(340, 400),
    st.lists(st.sampled_from(TICKERS), min_size=2, max_size=4, unique=True),
)
def test_same_ticker_in_two_events_is_two_units(day_a: int, day_b: int, tickers: list[str]) -> None:
    """A ticker in two events gives two firm-events; each event's statistics equal its own study's."""
    both = _run(_events([("first", day_a, tuple(tickers)), ("second", day_b, tuple(tickers))]))
    assert len(both.car[both.car.window_start == 0]) == 2 * len(tickers)
    for name, day in (("first", day_a), ("second", day_b)):
        alone = _run(_events([(name, day, tuple(tickers))]))
        mine = both.tests[both.tests.group == name]
        ref = alone.tests[alone.tests.group == name]
        keys = ["scope", "test", "window_start", "window_end"]
        for column in ("statistic", "p_value"):  # resampling included: a group's draws are its own
            np.testing.assert_allclose(
                _keyed(mine, keys)[column].to_numpy(float),
                _keyed(ref, keys)[column].to_numpy(float),
                rtol=1e-9,
                equal_nan=True,
                err_msg=column,
            )
    # the pooled group counts every firm-event: n on day 0 is twice the number of tickers
    pooled = both.tests[
        (both.tests.group == "all")
        & (both.tests.scope == "day")
        & (both.tests.window_start == 0)
        & (both.tests.test == "cross_sectional_t")
    ]
    assert int(pooled["n"].iloc[0]) == 2 * len(tickers)


def test_cross_correlation_frame_matches_pandas_on_the_fit() -> None:
    """``cross_correlation`` (and its CSV) against pandas joins + np.corrcoef on the fit's own residuals."""
    result = _run(_events([("a", 300, TICKERS), ("b", 330, TICKERS[:3])]))
    frame = result.cross_correlation
    assert list(frame.columns) == ["group", "market_scope", "block", "r_bar", "n_pairs", "n_firm_events", "in_tests"]
    assert list(frame.group) == ["all", "a", "b"] and (frame.market_scope == "all").all()  # one market: no split
    assert "cross_correlation" in result.frames()
    pairs, resid, s2 = result.panel.pairs, result.fit.residuals, result.fit.s2
    for group in ("all", "a", "b"):
        rows = np.flatnonzero((pairs.event_id == group).to_numpy() | (group == "all"))
        series = [pd.Series(resid[i] / np.sqrt(s2[i]), index=result.panel.est_dates[i]).dropna() for i in rows]
        rhos = [
            np.corrcoef(*pd.concat([series[x], series[y]], axis=1, join="inner").to_numpy().T)[0, 1]
            for x in range(len(rows))
            for y in range(x + 1, len(rows))
            if len(pd.concat([series[x], series[y]], axis=1, join="inner")) >= 30
        ]
        row = frame[frame.group == group].iloc[0]
        assert row.n_pairs == len(rhos) and row.n_firm_events == len(rows)
        np.testing.assert_allclose(row.r_bar, np.mean(rhos), rtol=1e-10)


def test_duplicate_ticker_events_do_not_cross_join() -> None:
    """Guard against the many-to-many join of METHODS.md §9.1: rows = events x tickers, exactly."""
    result = _run(_events([("a", 300, TICKERS), ("b", 310, TICKERS), ("c", 320, TICKERS[:2])]))
    assert len(result.abnormal_returns) == (4 + 4 + 2) * 11
    assert result.abnormal_returns.groupby(["event_id", "ticker", "rel_day"]).size().max() == 1


@pytest.mark.parametrize("n_tickers", [1, 2])
def test_tiny_cross_sections_give_defined_results(n_tickers: int) -> None:
    result = _run(_events([("solo", 300, TICKERS[:n_tickers])]))
    cs = result.tests[(result.tests.group == "solo") & (result.tests.test == "cross_sectional_t")]
    if n_tickers == 1:
        assert cs["statistic"].isna().all() and cs["reason"].str.contains("at least 2").all()
    else:
        assert cs["statistic"].notna().all()
