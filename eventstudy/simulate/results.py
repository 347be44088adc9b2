"""Settings and outcome of a size and power simulation, and their views.

:class:`SimulationSpec` holds the validated settings; :class:`SimulationResult` holds the p-values of
every (δ, sample, cell) and derives from them the tidy rejection-rate table (:data:`TABLE_COLUMNS`), the
placebo-day pooling, the markdown tables and report, the CSV output and the power plot
(:func:`plot_power`). Nothing here draws samples or runs tests (see :mod:`eventstudy.simulate.engine`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from eventstudy._typing import FloatArray, IntArray, Window
from eventstudy.conventions import PROFILES
from eventstudy.formatting import MISSING, fmt_num
from eventstudy.spec import StudySpec, window_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TABLE_COLUMNS = (
    "test", "scope", "window_start", "window_end", "delta", "alpha",
    "rejection_rate", "mc_se", "n_samples", "n_valid", "reason",
)  # fmt: skip
"""Columns of :attr:`SimulationResult.table` (and of ``simulation.csv``)."""


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
        for key in (
            "model",
            "estimation_window",
            "event_window",
            "car_windows",
            "return_type",
            "min_estimation_obs",
            "conventions",
            "tests",
        ):
            out[key.replace("_", " ")] = study[key]
        conv = self.study.conventions
        base = PROFILES.get(conv.name.split("+")[0])
        if base is not None and base != conv:
            changed = [f"{k}={v}" for k, v in conv.knobs().items() if k != "name" and getattr(base, k) != v]
            out["knobs changed from the profile"] = ", ".join(changed)
        return out


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
                    rate = np.where(
                        n_valid > 0, (valid & (np.nan_to_num(p, nan=1.0) < alpha)).sum(axis=0) / n_valid, np.nan
                    )
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
        windows = tuple(self.spec.study.car_windows if windows is None else ((int(w[0]), int(w[1])) for w in windows))
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
                test, scope, start, end = cast(tuple[str, str, int, int], cell_key)
                if scope == "window" and start == end and (test, start) in merged:
                    continue
                where = f"day {start}" if scope == "day" else f"CAR {window_text((int(start), int(end)))}"
                if scope == "day" and (test, start) in merged:
                    where += f" = CAR {window_text((int(start), int(start)))}"
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
        for key, rows in tab[tab["window_start"] == tab["window_end"]].groupby(["test", "window_start"], sort=False):
            test, day = cast(tuple[str, int], key)
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
                values = [_rate_text(r, e) for r, e in zip(rows["rejection_rate"], rows["mc_se"], strict=True)]
                lines.append(f"| {name} | " + " | ".join(values) + f" | {rows['n_valid'].iloc[0]} |")
            lines.append("")
        return "\n".join(lines)


def _top_reason(values: np.ndarray) -> str:
    counts = Counter(str(v) for v in values if v)
    return counts.most_common(1)[0][0] if counts else ""


def _pct(value: float) -> str:
    text = f"{100 * value:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _rate_text(rate: float, se: float) -> str:
    """A rejection rate and its Monte Carlo SE in percent, one decimal: ``"5.2 (0.7)"``; ``"n/a"`` when undefined."""
    return f"{fmt_num(100 * rate, 1)} ({fmt_num(100 * se, 1)})" if np.isfinite(rate) else MISSING


def _cell_text(row: pd.Series, alpha: float) -> str:
    rate, se = row["rejection_rate"], row["mc_se"]
    text = _rate_text(rate, se)
    if not np.isfinite(rate):
        return text
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
    candidates = [("day", d, d) for d in result.spec.inject_days] + [
        ("window", a, b) for a, b in result.spec.study.car_windows
    ]
    panels = [
        p
        for p in candidates
        if ((tab["scope"] == p[0]) & (tab["window_start"] == p[1]) & (tab["window_end"] == p[2])).any()
    ]
    n_cols = min(max(len(panels), 1), 2)
    n_rows = max(1, math.ceil(len(panels) / n_cols))
    tests = list(dict.fromkeys(tab["test"]))
    fig = Figure(figsize=(5.2 * n_cols, 3.6 * n_rows + 0.35 * math.ceil(len(tests) / 4) + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    colours = cast(Any, colormaps["tab20"]).colors
    styles = ("-", "--", ":", "-.")
    markers = ("o", "s", "^", "D", "v", "P")
    handles: dict[str, object] = {}
    for ax, (scope, a, b) in zip(axes, panels, strict=False):
        sub = tab[(tab["scope"] == scope) & (tab["window_start"] == a) & (tab["window_end"] == b)]
        for name, rows in sub.groupby("test", sort=False):
            i = tests.index(str(name))
            rows = rows.sort_values("delta")
            handles[str(name)] = ax.errorbar(
                rows["delta"],
                rows["rejection_rate"],
                yerr=1.96 * rows["mc_se"],
                color=colours[i % len(colours)],
                ls=styles[(i // 10) % len(styles)],
                marker=markers[i % len(markers)],
                ms=3.5,
                lw=1.1,
                capsize=2,
            )
        handles[f"nominal {_pct(alpha)}"] = ax.axhline(alpha, ls="--", color="0.2", lw=0.9)
        ax.set_ylim(0, 1.02)
        ax.set_xticks(sorted(result.spec.deltas))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel(
            f"Abnormal return added on day(s) {', '.join(map(str, result.spec.inject_days))}", parse_math=False
        )
        ax.set_ylabel(f"Rejection rate at {_pct(alpha)} (two-sided)", parse_math=False)
        ax.set_title(f"day {a}" if scope == "day" else f"CAR {window_text((a, b))}", parse_math=False)
        ax.grid(True, lw=0.4, alpha=0.5)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if handles:
        labels = [t for t in tests if t in handles] + [k for k in handles if k not in tests]
        fig.legend(  # type: ignore[call-overload]  # the stubs miss the handles-and-labels form
            [handles[k] for k in labels],
            labels,
            loc="outside lower center",
            ncol=4,
            fontsize="small",
            frameon=False,
        )
    n, m = result.p_values.shape[1], result.spec.n_events
    fig.suptitle(
        f"Power by test: {n} samples x {m} events, {result.spec.study.normal_model.name} model", parse_math=False
    )
    return fig


__all__ = ["TABLE_COLUMNS", "SimulationResult", "SimulationSpec", "plot_power"]
