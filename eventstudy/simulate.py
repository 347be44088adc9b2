"""Brown-Warner style size and power simulations on a wide return panel (``docs/METHODS.md`` §7).

A simulation draws ``n_samples`` samples of ``n_events`` random (ticker, day 0) pairs from a panel of
daily returns, optionally adds an abnormal return δ to the event-window returns on chosen days, runs
the study engine on every sample (model fit, CARs and their variances, every chosen test) and reports,
for each test, scope and day or CAR window, the share of samples in which the test rejects at level α.

Design:

- each sample is one *group* of the inference engine, so one ``StatTest.compute`` call per test and
  scope evaluates a whole chunk of samples at once (the per-group half of
  :func:`eventstudy.inference.run_tests`; its pooled ``"all"`` group is skipped because it means
  nothing here and costs O(chunk²) for the pairwise Kolari-Pynnönen correlations);
- estimation and event-window returns are gathered straight from the (dates x tickers) matrix with
  numpy fancy indexing into a :class:`~eventstudy.returns.ReturnPanel`;
- the model is fitted with :func:`eventstudy.models.get_model`, CARs and their variances come from
  :meth:`eventstudy.models.ModelFit.cars` and the test inputs are built as in ``EventStudy.run``, so the
  simulation measures exactly what ``eventstudy run`` computes;
- sample s is drawn with its own generator, ``SeedSequence(seed).spawn(n_samples)[s]``, and chunks
  of ``chunk_size`` samples are fixed, so results for a given seed do not depend on the number of
  worker processes (and the first m samples of a longer run equal a run with ``n_samples = m``);
- chunks run in spawned worker processes with one BLAS thread each (:data:`_WORKER_ENVIRONMENT`).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eventstudy._typing import BoolArray, FloatArray, IntArray, Window
from eventstudy.calendars import exchange_for
from eventstudy.conventions import PROFILES, Conventions
from eventstudy.errors import DataError, InputError
from eventstudy.inference import get_tests
from eventstudy.models import get_model
from eventstudy.returns import ReturnPanel, ReturnType
from eventstudy.study import StudySpec, estimable, inference_data, resolve_conventions

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_PANEL = Path("data") / "curated" / "panel_sp500_2010_2020"
"""The S&P 500 panel of ``docs/DATA.md`` §6.2, relative to the shared folder."""

TABLE_COLUMNS = (
    "test", "scope", "window_start", "window_end", "delta", "alpha",
    "rejection_rate", "mc_se", "n_samples", "n_valid", "reason",
)  # fmt: skip
"""Columns of :attr:`SimulationResult.table` (and of ``simulation.csv``)."""


def default_panel_dir() -> Path:
    """``$EVENTSTUDY_SHARED_DIR/data/curated/panel_sp500_2010_2020`` (shared folder default ``../shared``)."""
    return Path(os.environ.get("EVENTSTUDY_SHARED_DIR", Path("..") / "shared")) / DEFAULT_PANEL


# --------------------------------------------------------------------------------------------------
# The panel
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WidePanel:
    """Daily simple returns of many tickers and one benchmark on a common date grid.

    Attributes
    ----------
    dates : (T,) datetime64[ns]
        End date of each return interval.
    tickers : tuple of str
        Column labels.
    returns : (T, n)
        Ticker returns, NaN where either of the two prices bounding the interval is missing.
    market : (T,)
        Benchmark returns over the same intervals.
    market_name
        Benchmark symbol (``^GSPC``).
    source
        Where the data came from (files, or the parameters of a synthetic panel).
    """

    dates: np.ndarray
    tickers: tuple[str, ...]
    returns: FloatArray
    market: FloatArray
    market_name: str = "^GSPC"
    source: str = ""

    def __post_init__(self) -> None:
        # copies, so that making them read-only does not touch the caller's arrays
        dates = np.array(self.dates, dtype="datetime64[ns]")
        returns = np.array(self.returns, dtype=np.float64)
        market = np.array(self.market, dtype=np.float64)
        if returns.ndim != 2 or returns.shape != (len(dates), len(self.tickers)) or market.shape != (len(dates),):
            raise InputError(
                f"a wide panel needs returns of shape (dates, tickers) = ({len(dates)}, {len(self.tickers)}) and a "
                f"market series of length {len(dates)}; got {returns.shape} and {market.shape}",
                parameter="panel",
            )
        if len(dates) > 1 and not (dates[1:] > dates[:-1]).all():
            raise InputError("panel dates must be strictly increasing", parameter="panel")
        for name, value in (("dates", dates), ("returns", returns), ("market", market)):
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        object.__setattr__(self, "tickers", tuple(str(t) for t in self.tickers))

    @classmethod
    def from_prices(cls, prices: pd.DataFrame, market: pd.Series, *, source: str = "") -> WidePanel:
        """Simple returns of every price column and of the market on the price frame's dates.

        A return is P_t / P_{t-1} - 1 between two consecutive rows of the grid and is defined only where
        both prices exist (nothing is filled; ``docs/METHODS.md`` §2.2). The market is reindexed to the
        grid first, so a date it lacks makes both adjacent market returns NaN and keeps those days out
        of every drawn window. Non-positive prices count as missing.
        """
        prices = prices.sort_index()
        index = pd.DatetimeIndex(prices.index)
        values = prices.to_numpy(dtype=np.float64, na_value=np.nan)
        bench = pd.Series(market).sort_index().reindex(index).to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(values > 0, values, np.nan)
            bench = np.where(bench > 0, bench, np.nan)
            returns = values[1:] / values[:-1] - 1.0
            bench_ret = bench[1:] / bench[:-1] - 1.0
        return cls(index.values[1:], tuple(map(str, prices.columns)), returns, bench_ret, str(market.name), source)

    @classmethod
    def from_csv(cls, prices_path: str | Path, market_path: str | Path, market_column: str = "^GSPC") -> WidePanel:
        """Read a wide price file (first column ``Date``, one column per ticker; ``.gz`` is fine) and a market file.

        Raises
        ------
        DataError
            When a file is missing or the market column is absent.
        """
        for path in (prices_path, market_path):
            if not Path(path).is_file():
                raise DataError(f"panel file {path} not found")
        prices = pd.read_csv(prices_path, index_col=0, parse_dates=True)
        market = pd.read_csv(market_path, index_col=0, parse_dates=True)
        if market_column not in market.columns:
            raise DataError(f"{market_path}: no column {market_column!r}; columns are {', '.join(market.columns)}")
        source = f"{Path(prices_path).resolve()} with {market_column} from {Path(market_path).resolve()}"
        return cls.from_prices(prices, market[market_column], source=source)

    @classmethod
    def from_dir(cls, path: str | Path | None = None, market_column: str = "^GSPC") -> WidePanel:
        """Read ``adj_close_wide.csv.gz`` and ``market.csv`` from a folder (default: :func:`default_panel_dir`)."""
        folder = Path(path) if path is not None else default_panel_dir()
        return cls.from_csv(folder / "adj_close_wide.csv.gz", folder / "market.csv", market_column)

    @classmethod
    def normal(
        cls,
        n_tickers: int,
        n_days: int,
        sigma: float = 0.02,
        seed: int = 0,
        *,
        market_sigma: float = 0.01,
        beta: float = 1.0,
        start: str = "2000-01-03",
    ) -> WidePanel:
        """Synthetic panel: R_mt ~ N(0, market_sigma²), R_it = beta R_mt + ε_it with ε_it ~ N(0, sigma²) i.i.d.

        With ``beta = 1`` the market-adjusted abnormal return is exactly ε_it, so a CAR over L days has
        standard deviation sigma √L; this is the setting of the analytic J1 power (``docs/METHODS.md`` §7.1).
        Dates are consecutive business days from ``start``.
        """
        rng = np.random.default_rng(seed)
        market = rng.normal(0.0, market_sigma, n_days)
        returns = beta * market[:, None] + rng.normal(0.0, sigma, (n_days, n_tickers))
        width = len(str(n_tickers - 1))
        tickers = tuple(f"SIM{i:0{width}d}" for i in range(n_tickers))
        dates = pd.bdate_range(start, periods=n_days).values
        source = f"synthetic normal: sigma={sigma}, market_sigma={market_sigma}, beta={beta}, seed={seed}"
        return cls(dates, tickers, returns, market, "MKT", source)

    def eligible(self, estimation_window: Window, event_window: Window) -> BoolArray:
        """(T, n) mask of the rows that can be day 0: every estimation and event-window return present.

        Both the ticker's and the market's returns must exist on each of the windows' rows
        (``docs/DATA.md`` §6.2); days between the two windows, if any, are not required.
        """
        valid = np.isfinite(self.returns) & np.isfinite(self.market)[:, None]
        cum = np.vstack([np.zeros((1, valid.shape[1]), dtype=np.int64), np.cumsum(valid, axis=0)])
        n_rows = len(self.dates)
        out = np.zeros(valid.shape, dtype=bool)
        first = max(0, -min(estimation_window[0], event_window[0]))
        last = n_rows - 1 - max(0, max(estimation_window[1], event_window[1]))
        if last < first:
            return out
        rows = np.arange(first, last + 1)
        ok = np.ones((len(rows), valid.shape[1]), dtype=bool)
        for a, b in (estimation_window, event_window):
            ok &= (cum[rows + b + 1] - cum[rows + a]) == (b - a + 1)
        out[rows] = ok
        return out

    def between(self, start: str | None = None, end: str | None = None) -> WidePanel:
        """The panel restricted to returns dated from ``start`` to ``end`` (inclusive, ISO dates; None = open)."""
        lo = 0 if start is None else int(np.searchsorted(self.dates, np.datetime64(start, "ns"), side="left"))
        hi = len(self.dates) if end is None else int(np.searchsorted(self.dates, np.datetime64(end, "ns"), side="right"))
        note = f"{self.source}; returns dated {start or 'start'} to {end or 'end'}"
        return WidePanel(self.dates[lo:hi], self.tickers, self.returns[lo:hi], self.market[lo:hi], self.market_name, note)

    def describe(self) -> dict[str, str]:
        """Source, size and date range, for reports."""
        first = pd.Timestamp(self.dates[0]).date() if len(self.dates) else "n/a"
        last = pd.Timestamp(self.dates[-1]).date() if len(self.dates) else "n/a"
        return {
            "source": self.source,
            "benchmark": self.market_name,
            "tickers": str(len(self.tickers)),
            "return dates": f"{len(self.dates)} ({first} to {last})",
        }


# --------------------------------------------------------------------------------------------------
# Settings and the per-chunk engine
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationSpec:
    """Validated settings of a simulation; ``study`` carries the study settings (model, windows, tests)."""

    study: StudySpec
    n_samples: int
    n_events: int
    deltas: tuple[float, ...]
    inject_days: tuple[int, ...]
    alphas: tuple[float, ...]
    seed: int
    chunk_size: int

    def describe(self) -> dict[str, str]:
        """Every setting as display strings."""
        out = {
            "samples x events": f"{self.n_samples} x {self.n_events}",
            "abnormal return added (simple returns, R + delta)": ", ".join(_pct(d) for d in self.deltas),
            "on event days": ", ".join(str(d) for d in self.inject_days),
            "levels (two-sided)": ", ".join(_pct(a) for a in self.alphas),
            "seed": f"{self.seed} (sample s uses SeedSequence(seed).spawn(n_samples)[s]; chunks of {self.chunk_size})",
        }
        study = self.study.describe()
        for key in ("model", "estimation_window", "event_window", "car_windows", "return_type", "min_estimation_obs", "conventions", "tests"):
            out[key.replace("_", " ")] = study[key]
        conv = self.study.conventions
        base = PROFILES.get(conv.name.split("+")[0])
        if base is not None and base != conv:
            changed = [f"{k}={v}" for k, v in conv.knobs().items() if k != "name" and getattr(base, k) != v]
            out["knobs changed from the profile"] = ", ".join(changed)
        return out


@dataclass(frozen=True, eq=False)
class _Sampler:
    """Eligible day-0 rows grouped by ticker: ``rows[offsets[j]:offsets[j] + counts[j]]`` for ticker ``tickers[j]``."""

    tickers: IntArray
    counts: IntArray
    offsets: IntArray
    rows: IntArray

    @classmethod
    def from_mask(cls, mask: BoolArray) -> _Sampler:
        _, row_idx = np.nonzero(mask.T)  # ticker-major order, rows ascending within a ticker
        counts_all = mask.sum(axis=0)
        tickers = np.flatnonzero(counts_all > 0)
        counts = counts_all[tickers].astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return cls(tickers.astype(np.int64), counts, offsets, row_idx.astype(np.int64))

    def draw(self, rng: np.random.Generator, n_events: int) -> tuple[IntArray, IntArray]:
        """``n_events`` distinct tickers, uniformly; then one eligible day-0 row per ticker, uniformly."""
        pick = rng.choice(len(self.tickers), size=n_events, replace=False)
        within = np.floor(rng.random(n_events) * self.counts[pick]).astype(np.int64)
        return self.tickers[pick], self.rows[self.offsets[pick] + within]


@dataclass(frozen=True, eq=False)
class _Context:
    panel: WidePanel
    spec: SimulationSpec
    sampler: _Sampler
    markets: np.ndarray  # exchange of every panel column


@dataclass(frozen=True, eq=False)
class _ChunkOutput:
    samples: IntArray
    p_values: FloatArray  # (D, S, C)
    statistics: FloatArray  # (D, S, C)
    reasons: np.ndarray  # (D, S, C) object
    events_used: IntArray  # (D, S)
    draws: pd.DataFrame


def _cells(study: StudySpec) -> pd.DataFrame:
    """(test, scope, window_start, window_end) of every cell, in the column order of ``run_tests``' blocks."""
    days = np.arange(study.event_window[0], study.event_window[1] + 1)
    rows: list[tuple[str, str, int, int]] = []
    for test in get_tests(study.tests):
        for scope in test.scopes:
            spans = [(int(d), int(d)) for d in days] if scope == "day" else list(study.car_windows)
            rows += [(test.name, scope, a, b) for a, b in spans]
    return pd.DataFrame(rows, columns=["test", "scope", "window_start", "window_end"])


def _return_panel(ctx: _Context, sample_ids: IntArray, tick: IntArray, row0: IntArray) -> ReturnPanel:
    """Gather the windows of the drawn firm-events from the wide matrix (all rows are known to be present)."""
    wide, study = ctx.panel, ctx.spec.study
    est_days = np.arange(study.estimation_window[0], study.estimation_window[1] + 1)
    evt_days = np.arange(study.event_window[0], study.event_window[1] + 1)
    est_rows = row0[:, None] + est_days[None, :]
    evt_rows = row0[:, None] + evt_days[None, :]
    day0 = wide.dates[row0]
    n_events = ctx.spec.n_events
    pairs = pd.DataFrame(
        {
            "event_id": [f"{s}:{j}" for s in sample_ids for j in range(n_events)],
            "ticker": np.asarray(wide.tickers, dtype=object)[tick],
            "benchmark": wide.market_name,
            "day_zero": day0,
            "aligned_day_zero": day0,
            "note": "",
        }
    )
    est_market = wide.market[est_rows]
    return ReturnPanel(
        pairs=pairs,
        estimation_days=est_days,
        event_days=evt_days,
        est_returns=wide.returns[est_rows, tick[:, None]],
        est_market=est_market,
        est_dates=wide.dates[est_rows].astype("datetime64[D]"),
        evt_returns=wide.returns[evt_rows, tick[:, None]],
        evt_market=wide.market[evt_rows],
        evt_dates=wide.dates[evt_rows],
        evt_span=np.ones(evt_rows.shape, dtype=np.int64),
        evt_zero_volume=np.zeros(evt_rows.shape, dtype=bool),
        est_bench_own=est_market,  # one date grid: the benchmark's own returns are the paired ones
    )


def _with_delta(base: ReturnPanel, delta: float, inject: FloatArray, return_type: str) -> ReturnPanel:
    """The panel with δ added to the simple event-window returns on the injection days, in the study's return type.

    Under ``return_type="log"`` every return r becomes ln(1 + r) after the injection, so the injected
    simple return R + δ enters as ln(1 + R + δ).
    """
    evt = base.evt_returns + delta * inject[None, :] if delta else base.evt_returns
    if return_type != "log":
        return dataclasses.replace(base, evt_returns=evt) if delta else base
    est_market = np.log1p(base.est_market)
    return dataclasses.replace(
        base,
        est_returns=np.log1p(base.est_returns),
        est_market=est_market,
        evt_returns=np.log1p(evt),
        evt_market=np.log1p(base.evt_market),
        est_bench_own=est_market,
    )


def _run_chunk(ctx: _Context, sample_ids: IntArray, seeds: Sequence[np.random.SeedSequence]) -> _ChunkOutput:
    """Draw the chunk's samples and run the study on them once per δ."""
    spec, study = ctx.spec, ctx.spec.study
    n_events = spec.n_events
    draws = [ctx.sampler.draw(np.random.default_rng(ss), n_events) for ss in seeds]
    tick = np.concatenate([d[0] for d in draws])
    row0 = np.concatenate([d[1] for d in draws])
    groups = np.repeat(np.arange(len(sample_ids), dtype=np.int64), n_events)
    tests = get_tests(study.tests)
    base = _return_panel(ctx, sample_ids, tick, row0)
    inject = np.isin(base.event_days, spec.inject_days).astype(np.float64)
    model = get_model(study.model)
    markets = ctx.markets[tick]

    n_cells = len(_cells(study))
    shape = (len(spec.deltas), len(sample_ids), n_cells)
    p_values = np.full(shape, np.nan)
    statistics = np.full(shape, np.nan)
    reasons = np.full(shape, "", dtype=object)
    used = np.zeros(shape[:2], dtype=np.int64)
    for d, delta in enumerate(spec.deltas):
        panel = _with_delta(base, delta, inject, str(study.return_type))
        fit = model.fit(panel, study.conventions)
        keep = np.flatnonzero(estimable(fit, study.min_estimation_obs))
        if len(keep) < len(panel):
            panel, fit = panel.take(keep), fit.take(keep)
        car_values, car_var = fit.cars(panel.event_days, study.car_windows, study.conventions)  # as EventStudy.run
        data = inference_data(panel, fit, car_values, car_var, study.car_windows, study.conventions, markets[keep])
        used[d] = np.bincount(groups[keep], minlength=len(sample_ids))
        col = 0
        for test in tests:
            for scope in test.scopes:
                block = test.compute(data, scope, groups[keep], len(sample_ids))
                width = block.p_value.shape[1]
                expected = len(panel.event_days) if scope == "day" else len(study.car_windows)
                if block.p_value.shape != (len(sample_ids), expected):
                    raise RuntimeError(
                        f"test {test.name} ({scope}) returned a block of shape {block.p_value.shape}, "
                        f"expected {(len(sample_ids), expected)}"
                    )
                p_values[d, :, col : col + width] = block.p_value
                statistics[d, :, col : col + width] = block.statistic
                reasons[d, :, col : col + width] = block.reason
                col += width
    frame = pd.DataFrame(
        {
            "sample": np.repeat(sample_ids, n_events),
            "event": np.tile(np.arange(n_events), len(sample_ids)),
            "ticker": np.asarray(ctx.panel.tickers, dtype=object)[tick],
            "day_zero": ctx.panel.dates[row0],
        }
    )
    return _ChunkOutput(np.asarray(sample_ids), p_values, statistics, reasons, used, frame)


_WORKER: _Context | None = None


def _init_worker(ctx: _Context) -> None:
    global _WORKER
    _WORKER = ctx


def _worker_chunk(sample_ids: IntArray, seeds: Sequence[np.random.SeedSequence]) -> _ChunkOutput:
    assert _WORKER is not None
    return _run_chunk(_WORKER, sample_ids, seeds)


# --------------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Rejection rates of every test over the simulated samples.

    Attributes
    ----------
    spec
        The settings.
    cells : DataFrame
        test, scope, window_start, window_end of each cell (a day has start = end).
    p_values, statistics : (D, S, C)
        Two-sided p-value and statistic per δ, sample and cell (NaN where the test is undefined).
    reasons : (D, S, C) object
        Why a cell is NaN (empty where defined).
    events_used : (D, S)
        Firm-events per sample that passed the estimation checks.
    draws : DataFrame
        sample, event, ticker, day_zero of every drawn firm-event.
    panel_info : dict
        :meth:`WidePanel.describe` of the panel, plus the number of eligible (ticker, day 0) pairs.
    elapsed : float
        Wall time in seconds.
    workers : int
        Worker processes used (results do not depend on it).
    """

    spec: SimulationSpec
    cells: pd.DataFrame
    p_values: FloatArray
    statistics: FloatArray
    reasons: np.ndarray
    events_used: IntArray
    draws: pd.DataFrame
    panel_info: dict[str, str]
    elapsed: float
    workers: int

    def __post_init__(self) -> None:
        for value in (self.p_values, self.statistics, self.reasons, self.events_used):
            value.flags.writeable = False

    @cached_property
    def table(self) -> pd.DataFrame:
        """Tidy rejection rates: one row per cell, δ and α (columns :data:`TABLE_COLUMNS`).

        ``rejection_rate`` is the share of the ``n_valid`` samples with a defined p-value below α;
        ``mc_se`` = sqrt(p (1 - p) / n_valid); ``reason`` is the most frequent reason of the undefined ones.
        """
        frames = []
        n_samples = self.p_values.shape[1]
        for d, delta in enumerate(self.spec.deltas):
            p = self.p_values[d]
            valid = np.isfinite(p)
            n_valid = valid.sum(axis=0)
            why = [_top_reason(self.reasons[d, ~valid[:, c], c]) for c in range(p.shape[1])]
            for alpha in self.spec.alphas:
                with np.errstate(invalid="ignore", divide="ignore"):
                    rate = np.where(n_valid > 0, (valid & (np.nan_to_num(p, nan=1.0) < alpha)).sum(axis=0) / n_valid, np.nan)
                    se = np.sqrt(rate * (1.0 - rate) / n_valid)
                frame = self.cells.copy()
                frame["delta"] = delta
                frame["alpha"] = alpha
                frame["rejection_rate"] = rate
                frame["mc_se"] = se
                frame["n_samples"] = n_samples
                frame["n_valid"] = n_valid
                frame["reason"] = why
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)[list(TABLE_COLUMNS)]

    def placebo_days(self, alphas: Sequence[float] | None = None) -> pd.DataFrame:
        """Rejection rates of the day-scope tests under δ = 0 pooled over the event days that receive no δ.

        Every day of the event window is a placebo day when δ = 0, so the ``(W - len(inject_days)) x R``
        day cells give a sharper size check than day 0 alone. ``mc_se`` treats the days as independent
        (approximately true for daily abnormal returns; tests whose scale is shared across days, e.g. the
        rank tests' S(K), make it slightly optimistic). Empty without a δ = 0 run.

        Returns
        -------
        DataFrame
            test, alpha, rejection_rate, mc_se, n_days, n_valid.
        """
        if 0.0 not in self.spec.deltas:
            return pd.DataFrame(columns=["test", "alpha", "rejection_rate", "mc_se", "n_days", "n_valid"])
        d = self.spec.deltas.index(0.0)
        is_day = (self.cells["scope"] == "day") & ~self.cells["window_start"].isin(self.spec.inject_days)
        rows = []
        for name, idx in self.cells[is_day].groupby("test", sort=False).groups.items():
            p = self.p_values[d][:, np.asarray(idx)]
            valid = np.isfinite(p)
            n = int(valid.sum())
            for alpha in self.spec.alphas if alphas is None else alphas:
                rate = float((valid & (np.nan_to_num(p, nan=1.0) < alpha)).sum() / n) if n else np.nan
                se = math.sqrt(rate * (1 - rate) / n) if n else np.nan
                rows.append((name, alpha, rate, se, len(idx), n))
        return pd.DataFrame(rows, columns=["test", "alpha", "rejection_rate", "mc_se", "n_days", "n_valid"])

    def to_markdown(
        self,
        alphas: Sequence[float] | None = None,
        days: Sequence[int] | None = None,
        windows: Sequence[Window] | None = None,
    ) -> str:
        """Markdown tables of rejection rates, one per α: rows test x cell, columns δ.

        Cells read ``rate (MC SE)`` in percent. Under δ = 0 a ``*`` marks a rate outside the 95 % Monte
        Carlo band α ± 1.96 sqrt(α(1 - α)/R) around the nominal level.

        Parameters
        ----------
        alphas
            Levels to show (default: all simulated).
        days
            Day cells to show (default: the injection days).
        windows
            CAR windows to show (default: all).
        """
        alphas = tuple(self.spec.alphas if alphas is None else alphas)
        days = tuple(self.spec.inject_days if days is None else days)
        windows = tuple(self.spec.study.car_windows if windows is None else (tuple(w) for w in windows))
        tab = self.table
        is_day = tab["scope"] == "day"
        shown = (is_day & tab["window_start"].isin(days)) | (
            ~is_day & pd.Series(list(zip(tab["window_start"], tab["window_end"], strict=True))).isin(windows)
        )
        tab = tab[shown]
        key = ["test", "scope", "window_start", "window_end"]
        merged = self._day_equals_window(tab)
        lines: list[str] = []
        for alpha in alphas:
            sub = tab[np.isclose(tab["alpha"], alpha)]
            if sub.empty:
                continue
            lines.append(f"**α = {_pct(alpha)}** (two-sided): rejection rate in % (Monte Carlo SE)")
            lines.append("")
            header = ["test", "day / CAR window"] + [f"δ = {_pct(d)}" for d in self.spec.deltas] + ["n"]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
            for cell_key, rows in sub.groupby(key, sort=False):
                test, scope, start, end = cell_key
                if scope == "window" and start == end and (test, start) in merged:
                    continue
                where = f"day {start}" if scope == "day" else f"CAR {_fmt_window(int(start), int(end))}"
                if scope == "day" and (test, start) in merged:
                    where += f" = CAR {_fmt_window(int(start), int(start))}"
                values = [_cell_text(r, alpha) for _, r in rows.iterrows()]
                n_valid, n_all = rows["n_valid"].min(), rows["n_samples"].iloc[0]
                n_text = str(n_valid) if n_valid == n_all else f"{n_valid} of {n_all}"
                lines.append("| " + " | ".join([str(test), where, *values, n_text]) + " |")
            lines.append("")
        n = self.p_values.shape[1]
        half = {a: 1.96 * math.sqrt(a * (1 - a) / n) for a in alphas}
        lines.append(
            "`*` under δ = 0: outside the 95 % Monte Carlo band around the nominal level ("
            + "; ".join(f"{_pct(a)}: [{_pct(max(a - h, 0))}, {_pct(a + h)}]" for a, h in half.items())
            + f" for R = {n})."
        )
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()

    @staticmethod
    def _day_equals_window(tab: pd.DataFrame) -> set[tuple[str, int]]:
        """(test, day) pairs whose day cell and one-day CAR window [day, day] have identical rows."""
        out: set[tuple[str, int]] = set()
        cols = ["delta", "alpha", "rejection_rate", "n_valid"]
        for (test, day), rows in tab[tab["window_start"] == tab["window_end"]].groupby(["test", "window_start"], sort=False):
            day_rows = rows[rows["scope"] == "day"][cols].reset_index(drop=True)
            win_rows = rows[rows["scope"] == "window"][cols].reset_index(drop=True)
            if len(day_rows) and day_rows.equals(win_rows):
                out.add((str(test), int(day)))
        return out

    def plot_power(self, alpha: float = 0.05) -> Figure:
        """Rejection rate against δ per test (see :func:`plot_power`)."""
        return plot_power(self, alpha)

    def to_csv(self, out: str | Path) -> list[Path]:
        """Write ``simulation.csv`` (the tidy table), ``simulation.md`` and ``power.png`` to a folder."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / "simulation.csv", folder / "simulation.md"]
        self.table.to_csv(paths[0], index=False)
        paths[1].write_text(self.report_markdown(), encoding="utf-8")
        from eventstudy.plots import save_figure

        paths.append(save_figure(self.plot_power(), folder / "power.png"))
        return paths

    def report_markdown(self) -> str:
        """The settings, the panel, the timing and :meth:`to_markdown`, as one markdown document."""
        lines = ["# Size and power simulation", ""]
        for key, value in {**self.spec.describe(), **self.panel_info}.items():
            lines.append(f"- {key}: {value}")
        lines.append(f"- wall time: {self.elapsed:.1f} s with {self.workers} worker process(es)")
        lines += ["", self.to_markdown()]
        placebo = self.placebo_days()
        if len(placebo):
            alphas = tuple(self.spec.alphas)
            first, last = self.spec.study.event_window
            days = ", ".join(str(d) for d in range(first, last + 1) if d not in self.spec.inject_days)
            lines += [
                f"**Placebo days** (δ = 0, day-scope tests pooled over event days {days}): rejection rate in % (SE)",
                "",
                "| test | " + " | ".join(f"α = {_pct(a)}" for a in alphas) + " | day cells |",
                "|---|" + "---:|" * (len(alphas) + 1),
            ]
            for name, rows in placebo.groupby("test", sort=False):
                values = [f"{100 * r:.1f} ({100 * e:.1f})" if np.isfinite(r) else "n/a" for r, e in zip(rows["rejection_rate"], rows["mc_se"], strict=True)]
                lines.append(f"| {name} | " + " | ".join(values) + f" | {rows['n_valid'].iloc[0]} |")
            lines.append("")
        return "\n".join(lines)


def _top_reason(values: np.ndarray) -> str:
    counts = Counter(str(v) for v in values if v)
    return counts.most_common(1)[0][0] if counts else ""


def _pct(value: float) -> str:
    text = f"{100 * value:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _fmt_window(start: int, end: int) -> str:
    from eventstudy.plots import fmt_window

    return fmt_window(start, end)


def _cell_text(row: pd.Series, alpha: float) -> str:
    rate, se = row["rejection_rate"], row["mc_se"]
    if not np.isfinite(rate):
        return "n/a"
    text = f"{100 * rate:.1f} ({100 * se:.1f})"
    if row["delta"] == 0 and row["n_valid"] > 0:
        half = 1.96 * math.sqrt(alpha * (1 - alpha) / row["n_valid"])
        if abs(rate - alpha) > half:
            text += "*"
    return text


def plot_power(result: SimulationResult, alpha: float = 0.05) -> Figure:
    """Power curves: rejection rate against the injected δ, one panel per injected day and CAR window.

    Each test is one line (colour, line style and marker vary, so two dozen tests stay apart) with
    ±1.96 Monte Carlo SE error bars; a dashed line marks the nominal level. Both axes are in percent and
    the legend sits below the panels.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    tab = result.table[np.isclose(result.table["alpha"], alpha)]
    candidates = [("day", d, d) for d in result.spec.inject_days] + [("window", a, b) for a, b in result.spec.study.car_windows]
    panels = [p for p in candidates if ((tab["scope"] == p[0]) & (tab["window_start"] == p[1]) & (tab["window_end"] == p[2])).any()]
    n_cols = min(max(len(panels), 1), 2)
    n_rows = max(1, math.ceil(len(panels) / n_cols))
    tests = list(dict.fromkeys(tab["test"]))
    fig = Figure(figsize=(5.2 * n_cols, 3.6 * n_rows + 0.35 * math.ceil(len(tests) / 4) + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    colours = colormaps["tab20"].colors
    styles = ("-", "--", ":", "-.")
    markers = ("o", "s", "^", "D", "v", "P")
    handles: dict[str, object] = {}
    for ax, (scope, a, b) in zip(axes, panels, strict=False):
        sub = tab[(tab["scope"] == scope) & (tab["window_start"] == a) & (tab["window_end"] == b)]
        for name, rows in sub.groupby("test", sort=False):
            i = tests.index(str(name))
            rows = rows.sort_values("delta")
            handles[str(name)] = ax.errorbar(
                rows["delta"], rows["rejection_rate"], yerr=1.96 * rows["mc_se"], color=colours[i % len(colours)],
                ls=styles[(i // 10) % len(styles)], marker=markers[i % len(markers)], ms=3.5, lw=1.1, capsize=2,
            )
        handles[f"nominal {_pct(alpha)}"] = ax.axhline(alpha, ls="--", color="0.2", lw=0.9)
        ax.set_ylim(0, 1.02)
        ax.set_xticks(sorted(result.spec.deltas))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel(f"Abnormal return added on day(s) {', '.join(map(str, result.spec.inject_days))}", parse_math=False)
        ax.set_ylabel(f"Rejection rate at {_pct(alpha)} (two-sided)", parse_math=False)
        ax.set_title(f"day {a}" if scope == "day" else f"CAR {_fmt_window(a, b)}", parse_math=False)
        ax.grid(True, lw=0.4, alpha=0.5)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if handles:
        labels = [t for t in tests if t in handles] + [k for k in handles if k not in tests]
        fig.legend([handles[k] for k in labels], labels, loc="outside lower center", ncol=4, fontsize="small", frameon=False)
    n, m = result.p_values.shape[1], result.spec.n_events
    fig.suptitle(f"Power by test: {n} samples x {m} events, {result.spec.study.model} model", parse_math=False)
    return fig


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------


def simulate(
    panel: WidePanel | None = None,
    *,
    n_samples: int = 250,
    n_events: int = 50,
    deltas: Sequence[float] = (0.0, 0.005, 0.01, 0.02),
    inject_days: Sequence[int] = (0,),
    estimation_window: Window = (-244, -6),
    event_window: Window = (-5, 5),
    car_windows: Sequence[Window] = ((0, 0), (-1, 1), (-5, 5)),
    model: str = "market",
    conventions: str | Conventions = "textbook",
    knobs: Mapping[str, object] | None = None,
    return_type: ReturnType | None = None,
    tests: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.01, 0.05, 0.10),
    seed: int = 1985,
    workers: int = 2,
    chunk_size: int = 10,
    min_estimation_obs: int = 100,
    progress: bool | None = None,
) -> SimulationResult:
    """Brown-Warner (1985) style placebo study: rejection rates of every test under H0 and with δ added.

    Parameters
    ----------
    panel
        Returns to draw from; default :meth:`WidePanel.from_dir` on the S&P 500 panel (``docs/DATA.md`` §6.2).
    n_samples, n_events
        R samples of N firm-events each. Within a sample the N tickers are distinct; each ticker's day 0
        is uniform over its rows whose whole estimation and event windows have returns.
    deltas
        Abnormal returns added to the simple returns on ``inject_days`` (R + δ); all δ reuse the same draws.
    inject_days
        Event days that receive δ.
    estimation_window, event_window, car_windows, model, conventions, knobs, tests, min_estimation_obs
        As for :class:`~eventstudy.EventStudy`; ``tests=None`` runs every registered test.
    return_type
        ``"simple"`` or ``"log"``; None takes the conventions' default. δ is always added to the simple
        returns; under ``"log"`` the returns are then transformed to ln(1 + R).
    alphas
        Levels of the two-sided tests.
    seed
        Sample s is drawn with ``default_rng(SeedSequence(seed).spawn(n_samples)[s])``.
    workers
        Worker processes; results are identical for any value.
    chunk_size
        Samples per engine call (fixed, so results do not depend on ``workers``).
    progress
        Progress bar on stderr; default only when stderr is a terminal.

    Returns
    -------
    SimulationResult

    Raises
    ------
    InputError
        Bad settings, or fewer tickers with an eligible day 0 than ``n_events``.

    Notes
    -----
    Monte Carlo SE of a rejection rate p over R samples: sqrt(p (1 - p) / R) (``docs/METHODS.md`` §7.1).
    Under δ = 0 a well-specified test at level α rejects in α ± 1.96 sqrt(α(1 - α)/R) of the runs 95 % of
    the time; §7.2 gates 250 x 50 placebo draws at [3.5 %, 6.5 %] for α = 5 %.

    References
    ----------
    Brown, S. J. and J. B. Warner (1985), "Using daily stock returns", JFE 14(1), 3-31.
    MacKinlay, A. C. (1997), "Event studies in economics and finance", JEL 35(1), 13-39.
    """
    started = time.perf_counter()
    conv = resolve_conventions(conventions, knobs)
    tests = tuple(t.name for t in get_tests(None if tests is None else tuple(tests)))  # fixed before workers start
    study = StudySpec(
        model=model,
        estimation_window=tuple(estimation_window),  # type: ignore[arg-type]
        event_window=tuple(event_window),  # type: ignore[arg-type]
        car_windows=tuple(tuple(w) for w in car_windows),  # type: ignore[misc]
        return_type=return_type,
        min_estimation_obs=min_estimation_obs,
        conventions=conv,
        tests=tests,
    )
    spec = SimulationSpec(
        study=study,
        n_samples=int(n_samples),
        n_events=int(n_events),
        deltas=tuple(float(d) for d in deltas),
        inject_days=tuple(int(d) for d in inject_days),
        alphas=tuple(float(a) for a in alphas),
        seed=int(seed),
        chunk_size=int(chunk_size),
    )
    _validate(spec, workers)
    if panel is None:
        panel = WidePanel.from_dir()
    mask = panel.eligible(study.estimation_window, study.event_window)
    sampler = _Sampler.from_mask(mask)
    if len(sampler.tickers) < spec.n_events:
        raise InputError(
            f"only {len(sampler.tickers)} tickers have a day 0 with complete estimation {study.estimation_window} and "
            f"event {study.event_window} windows; cannot draw {spec.n_events} distinct tickers per sample",
            parameter="n_events",
            value=spec.n_events,
        )
    markets = np.array([exchange_for(t) or "unknown" for t in panel.tickers], dtype=object)
    ctx = _Context(panel, spec, sampler, markets)
    cells = _cells(study)

    seeds = np.random.SeedSequence(spec.seed).spawn(spec.n_samples)
    chunks = [np.arange(s, min(s + spec.chunk_size, spec.n_samples), dtype=np.int64) for s in range(0, spec.n_samples, spec.chunk_size)]
    shape = (len(spec.deltas), spec.n_samples, len(cells))
    p_values = np.full(shape, np.nan)
    statistics = np.full(shape, np.nan)
    reasons = np.full(shape, "", dtype=object)
    used = np.zeros(shape[:2], dtype=np.int64)
    draws: list[pd.DataFrame] = []

    def collect(out: _ChunkOutput) -> None:
        p_values[:, out.samples] = out.p_values
        statistics[:, out.samples] = out.statistics
        reasons[:, out.samples] = out.reasons
        used[:, out.samples] = out.events_used
        draws.append(out.draws)

    n_workers = min(int(workers), len(chunks))
    bar = None
    if progress if progress is not None else sys.stderr.isatty():
        from tqdm.auto import tqdm

        bar = tqdm(total=spec.n_samples, desc="simulate", unit="sample", file=sys.stderr, leave=False)
    try:
        if n_workers == 0:
            for chunk in chunks:
                out = _run_chunk(ctx, chunk, [seeds[i] for i in chunk])
                collect(out)
                if bar is not None:
                    bar.update(len(chunk))
        else:
            with _worker_environment():  # inherited by the spawned workers at start-up
                pool = ProcessPoolExecutor(
                    max_workers=n_workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(ctx,),
                )
                futures = [pool.submit(_worker_chunk, chunk, [seeds[i] for i in chunk]) for chunk in chunks]
            with pool:
                for future in as_completed(futures):
                    out = future.result()
                    collect(out)
                    if bar is not None:
                        bar.update(len(out.samples))
    finally:
        if bar is not None:
            bar.close()

    info = panel.describe()
    info["eligible (ticker, day 0) pairs"] = f"{len(sampler.rows):,} over {len(sampler.tickers)} tickers"
    draw_frame = pd.concat(draws, ignore_index=True).sort_values(["sample", "event"], ignore_index=True)
    return SimulationResult(
        spec=spec,
        cells=cells,
        p_values=p_values,
        statistics=statistics,
        reasons=reasons,
        events_used=used,
        draws=draw_frame,
        panel_info=info,
        elapsed=time.perf_counter() - started,
        workers=n_workers,
    )


_WORKER_ENVIRONMENT = {
    # one BLAS thread per worker: with a multi-threaded BLAS inside each of two workers on two cores, the
    # matrix products of some tests (Kolari-Pynnönen r̄) ran several times slower
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    # glibc malloc: keep freed blocks of up to 32 MB on the heap instead of returning them to the kernel
    # after every test call; this removed ~90 % of the page faults (system time 12 % -> 1 % of CPU time)
    "MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(256 * 1024 * 1024),
}


@contextmanager
def _worker_environment() -> Iterator[None]:
    """Set :data:`_WORKER_ENVIRONMENT` while worker processes start, then restore the caller's values.

    The workers are spawned (fresh interpreters), so BLAS and malloc read these variables when they load;
    the calling process is not affected.
    """
    saved = {name: os.environ.get(name) for name in _WORKER_ENVIRONMENT}
    os.environ.update(_WORKER_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _validate(spec: SimulationSpec, workers: int) -> None:
    checks: list[tuple[bool, str, str, object]] = [
        (spec.n_samples >= 1, "n_samples", "must be at least 1", spec.n_samples),
        (spec.n_events >= 2, "n_events", "must be at least 2", spec.n_events),
        (len(spec.deltas) >= 1 and all(math.isfinite(d) for d in spec.deltas), "deltas", "need at least one finite value", spec.deltas),
        (len(set(spec.deltas)) == len(spec.deltas), "deltas", "must be distinct", spec.deltas),
        (len(spec.alphas) >= 1 and all(0 < a < 1 for a in spec.alphas), "alphas", "must lie strictly between 0 and 1", spec.alphas),
        (spec.chunk_size >= 1, "chunk_size", "must be at least 1", spec.chunk_size),
        (int(workers) >= 0, "workers", "must be 0 (run in this process) or more", workers),
    ]
    window = spec.study.event_window
    checks.append(
        (
            len(spec.inject_days) >= 1 and all(window[0] <= d <= window[1] for d in spec.inject_days),
            "inject_days",
            f"must lie inside the event window {window}",
            spec.inject_days,
        )
    )
    for ok, parameter, message, value in checks:
        if not ok:
            raise InputError(f"{parameter} {message}, got {value!r}", parameter=parameter, value=value)


__all__ = ["TABLE_COLUMNS", "SimulationResult", "SimulationSpec", "WidePanel", "default_panel_dir", "plot_power", "simulate"]
