"""Single-firm SQ and permutation p-values in a study's abnormal_returns and car (docs/methods.md §6.1).

Oracle: the p-values recomputed here with plain Python loops from the study's own estimation residuals
(``EventStudy(keep_estimation=True)``): counts over the residuals and over the sums of L consecutive
present residuals for SQ, every subset of the pool listed by ``itertools.combinations`` for the exact
permutation p-values, and the documented generator called row by row (one firm-event and its key at a
time) for the Monte Carlo ones. The synthetic returns have missing rows, so that residuals have gaps.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import eventstudy as es
from eventstudy import spec as spec_module
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.formatting import fmt_p
from eventstudy.inference.base import KEY_SEPARATOR
from eventstudy.inference.single_firm import permutation_pvalues
from eventstudy.report._format import Heading, Table
from eventstudy.report._tables import build_document
from eventstudy.results import ABNORMAL_RETURN_COLUMNS, CAR_COLUMNS
from eventstudy.spec import window_text
from eventstudy.summary import Summary

SESSIONS = pd.bdate_range("2021-01-01", periods=320)
TICKERS = [f"S{i}" for i in range(6)]
CAR_WINDOWS = ((0, 0), (0, 1), (-1, 1), (0, 5))  # L = 1 and 2 exact (C(M + 2, 2) <= 20,000), 3 and 6 drawn
SETTINGS: dict[str, Any] = dict(
    estimation_window=(-140, -11),
    event_window=(-5, 5),
    car_windows=CAR_WINDOWS,
    min_estimation_obs=60,
    progress=False,
    permutation_draws=300,
    knobs={"mask_event_windows": True},  # other events' windows leave gaps in the residuals
)


def _return_rows() -> pd.DataFrame:
    rng = np.random.default_rng(31)
    market = rng.normal(0.0002, 0.01, len(SESSIONS))
    rows = [pd.DataFrame({"date": SESSIONS, "ticker": "MKT", "return": market})]
    for i, ticker in enumerate(TICKERS):
        r = (0.7 + 0.1 * i) * market + rng.standard_t(4, len(SESSIONS)) * 0.012
        keep = rng.random(len(SESSIONS)) > 0.04  # missing rows: returns spanning two sessions
        rows.append(pd.DataFrame({"date": SESSIONS[keep], "ticker": ticker, "return": r[keep]}))
    return pd.concat(rows, ignore_index=True)


def _event_rows() -> list[dict[str, str]]:
    def row(event_id: str, session: int, tickers: list[str]) -> dict[str, str]:
        return {
            "event_id": event_id,
            "date": SESSIONS[session].strftime("%Y-%m-%d"),
            "tickers": ";".join(tickers),
            "benchmark": ";".join(["MKT"] * len(tickers)),
            "timezone": "America/New_York",
        }

    return [row("one", 210, ["S0"]), row("two", 225, ["S1", "S2"]), row("many", 240, TICKERS)]


RETURNS = es.ReturnsFrame(_return_rows(), description="synthetic returns")
EVENTS = es.events_from_frame(pd.DataFrame(_event_rows()))


def _run(**settings: Any) -> es.StudyResult:
    return es.EventStudy(EVENTS, RETURNS, **{**SETTINGS, **settings}).run()


@pytest.fixture(scope="module")
def kept() -> es.StudyResult:
    return _run(keep_estimation=True, chunk_size=0)


def sq_by_hand(x: float, reference: list[float]) -> float:
    if np.isnan(x) or not reference:
        return np.nan
    return (1 + sum(abs(r) >= abs(x) for r in reference)) / (len(reference) + 1)


def window_sums_by_hand(residuals: np.ndarray, length: int) -> list[float]:
    sums = []
    for start in range(len(residuals) - length + 1):
        days = residuals[start : start + length]
        if all(np.isfinite(d) for d in days):
            total = 0.0
            for d in days:
                total += float(d)
            sums.append(total)
    return sums


def permutation_by_hand(event: list[float], residuals: np.ndarray) -> float:
    pool = [float(r) for r in residuals if np.isfinite(r)] + event
    length = len(event)
    centre = length * sum(pool) / len(pool)
    observed = abs(sum(event) - centre)
    hits = total = 0
    for subset in itertools.combinations(pool, length):
        total += 1
        hits += abs(sum(subset) - centre) >= observed * (1 - 1e-12)
    return hits / total


def test_study_pvalues_equal_a_direct_computation(kept: es.StudyResult) -> None:
    residuals, abnormal = kept.fit.residuals, kept.fit.abnormal
    days = kept.panel.event_days
    pairs = kept.panel.pairs
    ar = kept.abnormal_returns.set_index(["event_id", "ticker", "rel_day"])
    car = kept.car.set_index(["event_id", "ticker", "window_start", "window_end"])
    seed = kept.spec.conventions.seed
    checked = {"drawn": 0, "exact": 0}
    for i, (event_id, ticker) in enumerate(zip(pairs["event_id"], pairs["ticker"], strict=True)):
        finite = [float(r) for r in residuals[i] if np.isfinite(r)]
        for d, day in enumerate(days):
            if not np.isfinite(abnormal[i, d]):
                continue
            cell = ar.loc[(event_id, ticker, int(day))]
            assert cell["p_sq"] == pytest.approx(sq_by_hand(abnormal[i, d], finite), abs=1e-15)
            assert cell["p_permutation"] == pytest.approx(
                permutation_by_hand([float(abnormal[i, d])], residuals[i]), abs=1e-15
            )
        for start, end in CAR_WINDOWS:
            length = end - start + 1
            row = car.loc[(event_id, ticker, start, end)]
            sums = window_sums_by_hand(residuals[i], length)
            assert row["sq_reference_n"] == len(sums)
            assert row["p_sq"] == pytest.approx(sq_by_hand(row["car"], sums), abs=1e-15)
            event = [float(v) for v in abnormal[i, (days >= start) & (days <= end)]]
            if row["permutation_exact"]:
                checked["exact"] += 1
                assert row["p_permutation"] == pytest.approx(permutation_by_hand(event, residuals[i]), abs=1e-14)
            else:  # the Monte Carlo branch on this row alone, with its key: nothing of the other rows enters
                checked["drawn"] += 1
                alone = permutation_pvalues(
                    np.array([event]), residuals[i : i + 1], [f"{event_id}{KEY_SEPARATOR}{ticker}"], seed, draws=300
                )
                assert row["p_permutation"] == alone.p_value[0]
    assert checked["exact"] >= 2 * kept.n_firm_events and checked["drawn"] >= 2 * kept.n_firm_events
    assert np.isnan(residuals).any()  # the gaps were exercised


@pytest.mark.parametrize("chunk_size", [1, 7, "N"])
def test_pvalues_do_not_depend_on_chunks_or_kept_residuals(kept: es.StudyResult, chunk_size: int | str) -> None:
    size = kept.n_firm_events if chunk_size == "N" else chunk_size
    got = _run(chunk_size=size, tests=("patell_z",))  # no test reads the residuals: dropped after each chunk
    assert not got.estimation_kept
    for frame in ("abnormal_returns", "car"):
        pd.testing.assert_frame_equal(getattr(got, frame), getattr(kept, frame), check_exact=False, rtol=1e-12)


@pytest.mark.slow
def test_pvalues_do_not_depend_on_the_executor(kept: es.StudyResult) -> None:
    got = _run(chunk_size=2, executor="processes", workers=2)
    pd.testing.assert_frame_equal(got.car, kept.car, check_exact=False, rtol=1e-12)


def test_columns_and_tests_not_run(kept: es.StudyResult) -> None:
    assert tuple(kept.abnormal_returns.columns) == ABNORMAL_RETURN_COLUMNS
    assert tuple(kept.car.columns) == CAR_COLUMNS
    assert kept.spec.single_firm_tests == ("sq", "permutation")  # auto, a small study
    sq_only = _run(single_firm_tests="sq")
    assert sq_only.car["p_permutation"].isna().all() and sq_only.car["permutation_exact"].isna().all()
    pd.testing.assert_series_equal(sq_only.car["p_sq"], kept.car["p_sq"])
    none = _run(single_firm_tests="none")
    for frame, columns in (("abnormal_returns", ["p_sq", "p_permutation"]), ("car", ["p_sq", "p_permutation"])):
        assert getattr(none, frame)[columns].isna().all().all()
    assert none.car["sq_reference_n"].isna().all()
    assert none.settings["single-firm tests"] == "none (only the t-test)"
    assert "B = 300 random subsets" in kept.settings["single-firm tests"]


def test_auto_drops_each_test_above_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec_module, "PERMUTATION_AUTO_LIMIT", 8)  # 9 (event, ticker) pairs
    study = es.EventStudy(EVENTS, RETURNS, **SETTINGS)
    assert study.spec.single_firm_tests == ("sq",)
    monkeypatch.setattr(spec_module, "PERMUTATION_AUTO_LIMIT", 9)
    assert es.EventStudy(EVENTS, RETURNS, **SETTINGS).spec.single_firm_tests == ("sq", "permutation")
    monkeypatch.setattr(spec_module, "SQ_AUTO_LIMIT", 8)
    assert es.EventStudy(EVENTS, RETURNS, **SETTINGS).spec.single_firm_tests == ("permutation",)
    monkeypatch.setattr(spec_module, "PERMUTATION_AUTO_LIMIT", 8)
    none = es.EventStudy(EVENTS, RETURNS, **SETTINGS)
    assert none.spec.single_firm_tests == ()
    assert none.spec.describe()["single-firm tests"] == "none (only the t-test)"
    monkeypatch.undo()
    text = spec_module.StudySpec().single_firm_text()  # "auto", not yet resolved by a study's size
    assert text.startswith("SQ for studies of up to 100,000 firm-events; permutation (")
    assert text.endswith("for studies of up to 5,000 firm-events")


def test_seed_changes_only_the_drawn_pvalues(kept: es.StudyResult) -> None:
    other = _run(knobs={"mask_event_windows": True, "seed": 7})
    drawn = ~kept.car["permutation_exact"].fillna(True).to_numpy(dtype=bool)
    before, after = kept.car["p_permutation"].to_numpy(), other.car["p_permutation"].to_numpy()
    np.testing.assert_array_equal(before[~drawn], after[~drawn])
    assert not np.array_equal(before[drawn], after[drawn])


@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"single_firm_tests": "sq,bootstrap"}, UnknownNameError, "single-firm test 'bootstrap'"),
        ({"permutation_draws": 0}, InputError, "permutation_draws"),
        ({"single_firm_tests": 3}, InputError, "single-firm tests are"),
    ],
)
def test_bad_settings(settings: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        es.EventStudy(EVENTS, RETURNS, **{**SETTINGS, **settings})


def test_cli_options_through_the_console_script(eventstudy_cli: Any, tmp_path: Path) -> None:
    _return_rows().to_csv(tmp_path / "returns.csv", index=False, date_format="%Y-%m-%d")
    pd.DataFrame(_event_rows()).to_csv(tmp_path / "events.csv", index=False)
    common = ["run", "events.csv", "--returns", "returns.csv", "--estimation", "-140:-11", "--window", "-5:5"]
    common += ["--min-obs", "60", "--formats", "csv", "--knob", "mask_event_windows=on"]
    for car in CAR_WINDOWS:
        common += ["--car", f"{car[0]}:{car[1]}"]
    run = eventstudy_cli(*common, "--out", "both", "--permutation-draws", "300", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    got = pd.read_csv(tmp_path / "both" / "car.csv")
    expected = _run()
    np.testing.assert_allclose(got["p_sq"], expected.car["p_sq"], rtol=1e-9)
    np.testing.assert_allclose(got["p_permutation"], expected.car["p_permutation"], rtol=1e-9)
    run = eventstudy_cli(*common, "--out", "sq", "--single-firm", "sq", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert pd.read_csv(tmp_path / "sq" / "car.csv")["p_permutation"].isna().all()
    run = eventstudy_cli(*common, "--out", "bad", "--single-firm", "sq,boot", cwd=tmp_path)
    assert run.returncode == 2 and "--single-firm" in run.stderr and "boot" in run.stderr


def test_report_section_shows_the_three_pvalues_side_by_side(kept: es.StudyResult) -> None:
    summary = Summary.from_result(kept)
    blocks = build_document(kept, figures=[], summary=summary)
    headings = [b.text for b in blocks if isinstance(b, Heading)]
    start = headings.index("Single-firm tests")
    section = blocks[[i for i, b in enumerate(blocks) if isinstance(b, Heading)][start] :]
    table = next(b for b in section if isinstance(b, Table))
    headline = f"CAR {window_text(summary.headline_window)}"
    assert table.columns[:6] == ("event", "ticker", headline, "p (t)", "p (SQ)", "p (perm.)")
    assert len(table.rows) == kept.n_firm_events
    car = kept.car.set_index(["event_id", "ticker", "window_start", "window_end"])
    first = table.rows[0]
    row = car.loc[(first[0], first[1], *summary.headline_window)]
    assert first[4] == fmt_p(row["p_sq"]) and first[5] == fmt_p(row["p_permutation"])
    at_headline = kept.car[
        (kept.car["window_start"] == summary.headline_window[0])
        & (kept.car["window_end"] == summary.headline_window[1])
    ]
    drawn = int(at_headline["permutation_exact"].eq(False).sum())
    assert f"from B random subsets for {drawn} of the {kept.n_firm_events} firm-events" in table.notes[0] or (
        drawn in (0, kept.n_firm_events) and "for every firm-event" in table.notes[0]
    )
    sq_only = build_document(_run(single_firm_tests="sq"), figures=[])
    sq_table = next(b for b in sq_only if isinstance(b, Table) and "p (SQ)" in b.columns)
    assert "permutation p-value" not in sq_table.notes[0]
    none = build_document(_run(single_firm_tests="none"), figures=[])
    assert "Single-firm tests" not in [b.text for b in none if isinstance(b, Heading)]
