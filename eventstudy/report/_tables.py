"""The report's content, built from a study result: the section tables, the figure list and the document.

This module turns the tidy frames of a result into the report's tables (data provenance, settings,
events and the day-0 audit, exclusions, CARs, tests per group, model parameters), lists the figures a
report contains (:func:`figure_specs`, bounded for large studies), and holds :func:`build_document`, which
turns a study result into a flat sequence of blocks (headings, paragraphs, bullet lists, tables, figure
references; :mod:`eventstudy.report._format`). Every cell is formatted by the rules of
:mod:`eventstudy.formatting`; the renderers in :mod:`eventstudy.report.markdown`,
:mod:`eventstudy.report.html` and :mod:`eventstudy.report.pdf` only decide how a block looks; they never
format a number themselves.

The result is duck-typed (:class:`ReportableResult`): any object with the documented tidy frames works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd

from eventstudy import plots
from eventstudy.errors import InputError
from eventstudy.formatting import (
    MISSING,
    STAR_NOTE,
    figure_stem,
    fmt_cell,
    fmt_date,
    fmt_int,
    fmt_p,
    fmt_pct,
    fmt_stat,
    group_label,
    hide_paths,
    signed_day,
    stars,
)
from eventstudy.inference.single_firm import DEFAULT_EXACT_LIMIT
from eventstudy.outputs import OutputFormat, table_file
from eventstudy.report._format import Block, Bullets, FigureRef, FigureSpec, Heading, Paragraph, Table, with_anchors
from eventstudy.spec import window_text
from eventstudy.summary import SHORT_LABELS, SummarizableResult, Summary, statistic_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "HEATMAP_MAX_EVENTS",
    "HEATMAP_MAX_TICKERS",
    "MAX_FIGURE_EVENTS",
    "MAX_FIGURE_FIRM_EVENTS",
    "REPORT_MAX_ROWS",
    "ReportableResult",
    "build_document",
    "car_table",
    "cross_correlation_blocks",
    "cross_correlation_table",
    "day_table",
    "day_tests_table",
    "event_days_table",
    "event_heading",
    "events_table",
    "exclusions_table",
    "figure_notes",
    "figure_specs",
    "group_differences_table",
    "listing_pairs_table",
    "ordered_groups",
    "parameters_table",
    "per_event_figures",
    "placebo_blocks",
    "provenance_table",
    "regression_blocks",
    "render_figure",
    "settings_table",
    "single_firm_blocks",
    "window_tests_table",
]


class ReportableResult(SummarizableResult, Protocol):
    """The attributes of a study result that the reports read (see ``eventstudy.results.StudyResult``).

    Those of :class:`eventstudy.summary.SummarizableResult` (car, tests, abnormal_returns, event_days,
    exclusions, events, settings, title) and these.
    """

    @property
    def car_path(self) -> pd.DataFrame: ...
    @property
    def aar(self) -> pd.DataFrame: ...
    @property
    def parameters(self) -> pd.DataFrame: ...
    @property
    def provenance(self) -> pd.DataFrame: ...
    @property
    def group_differences(self) -> pd.DataFrame: ...
    @property
    def listing_pairs(self) -> pd.DataFrame: ...
    @property
    def pair_notes(self) -> tuple[str, ...]: ...
    @property
    def conventions(self) -> Sequence[str]: ...
    @property
    def adjustment_note(self) -> str: ...


# ----------------------------------------------------------------------------------------------------
# Tables built from the result frames
# ----------------------------------------------------------------------------------------------------

Formatter = Callable[[object], str]

REPORT_MAX_ROWS = 200
"""An appendix table of more rows shows its first ``REPORT_MAX_ROWS`` and says how many are omitted and where
they all are; a large study's report is a summary, its tables hold every number."""


def _frame_table(
    frame: pd.DataFrame,
    spec: Sequence[tuple[str, str, Formatter | None, str]],
    *,
    caption: str = "",
    notes: Iterable[str] = (),
    wrap: Mapping[str, int] | None = None,
    full: str | None = None,
) -> Table:
    """Build a :class:`Table` from the columns of a frame.

    ``spec`` lists ``(column, header, formatter, align)``; columns absent from the frame are skipped,
    and a ``None`` formatter means :func:`fmt_cell`. Every cell passes through :func:`hide_paths`: a report
    names files, never where they lie on the machine. With ``full`` (where the whole table is, e.g.
    ``"parameters.csv"``), a frame of more than :data:`REPORT_MAX_ROWS` rows is cut to its first rows and a
    note says how many are omitted and names ``full``.
    """
    if full is not None and len(frame) > REPORT_MAX_ROWS:
        omitted = len(frame) - REPORT_MAX_ROWS
        notes = (
            *notes,
            f"The first {fmt_int(REPORT_MAX_ROWS)} of {fmt_int(len(frame))} rows ({fmt_int(omitted)} omitted); "
            f"every row: {full}.",
        )
        frame = frame.iloc[:REPORT_MAX_ROWS]
    wrap = dict(wrap or {})
    used = [(col, head, fmt or fmt_cell, al) for col, head, fmt, al in spec if col in frame.columns]
    rows = tuple(
        tuple(hide_paths(fmt(value)) for (_, _, fmt, _), value in zip(used, values, strict=True))
        for values in frame[[c for c, *_ in used]].itertuples(index=False, name=None)
    )
    return Table(
        columns=tuple(h for _, h, _, _ in used),
        rows=rows,
        align=tuple(a for *_, a in used),
        caption=caption,
        notes=tuple(notes),
        wrap=tuple(wrap.get(c, 0) for c, *_ in used),
    )


def provenance_table(result: ReportableResult, output_format: OutputFormat = "auto") -> Table:
    """Tabulate the data source and vintage of every price series."""
    spec = [
        ("symbol", "symbol", None, "l"),
        ("source", "source", None, "l"),
        ("vintage", "vintage", fmt_date, "l"),
        ("price_field", "price field", None, "l"),
        ("first_date", "first date", fmt_date, "l"),
        ("last_date", "last date", fmt_date, "l"),
        ("rows", "rows", fmt_int, "r"),
        ("notes", "notes", None, "l"),
    ]
    frame = result.provenance
    full = table_file("provenance", len(frame), output_format)
    return _frame_table(frame, spec, wrap={"source": 30, "notes": 40}, full=full)


def settings_table(result: ReportableResult) -> Table:
    """Every setting of the study, in the order of ``result.settings`` (paths reduced to their last part)."""
    rows = tuple((fmt_cell(k), hide_paths(fmt_cell(v))) for k, v in result.settings.items())
    return Table(("setting", "value"), rows, ("l", "l"), wrap=(30, 90))


def events_table(result: ReportableResult) -> Table:
    """Tabulate the events with their headlines."""
    spec = [
        ("event_id", "event", None, "l"),
        ("date", "date", fmt_date, "l"),
        ("time", "time", None, "l"),
        ("timezone", "time zone", None, "l"),
        ("time_approximate", "approx. time", None, "l"),
        ("category", "category", None, "l"),
        ("headline", "headline", None, "l"),
    ]
    return _frame_table(result.events, spec, wrap={"event_id": 30, "headline": 60}, full="the events file")


def event_days_table(result: ReportableResult, output_format: OutputFormat = "auto") -> Table:
    """Tabulate the day-0 audit: how each event timestamp became day 0 for each ticker."""
    spec = [
        ("event_id", "event", None, "l"),
        ("ticker", "ticker", None, "l"),
        ("benchmark", "benchmark", None, "l"),
        ("exchange", "exchange", None, "l"),
        ("event_time_utc", "event time (UTC)", fmt_date, "l"),
        ("event_time_exchange", "event time (exchange)", fmt_date, "l"),
        ("calendar_day_zero", "calendar day 0", fmt_date, "l"),
        ("day_zero", "day 0", fmt_date, "l"),
        ("rule", "rule", None, "l"),
        ("status", "status", None, "l"),
        ("reason", "reason", None, "l"),
    ]
    frame = result.event_days
    return _frame_table(
        frame,
        spec,
        wrap={"event_id": 24, "event_time_utc": 16, "event_time_exchange": 16, "rule": 24, "reason": 30},
        full=table_file("event_days", len(frame), output_format),
    )


def exclusions_table(result: ReportableResult, output_format: OutputFormat = "auto") -> Table:
    """Every exclusion with its stage and reason (zero rows when nothing was excluded)."""
    spec = [
        ("event_id", "event", None, "l"),
        ("ticker", "ticker", None, "l"),
        ("stage", "stage", None, "l"),
        ("reason", "reason", None, "l"),
    ]
    frame = result.exclusions
    full = table_file("exclusions", len(frame), output_format)
    return _frame_table(frame, spec, wrap={"event_id": 30, "reason": 80}, full=full)


CAR_NOTES = (
    "CAR and its standard error in percent; t = CAR / SE, referred to t(df); p-values two-sided.",
    STAR_NOTE,
)


def car_table(result: ReportableResult, event_id: object | None = None) -> Table:
    """Tabulate the CARs of one event (or of all events when ``event_id`` is None).

    Columns: (event,) ticker, window, CAR %, SE %, t, p-value, df, sig.
    """
    frame = result.car
    spec: list[tuple[str, str, Formatter | None, str]] = []
    if event_id is None:
        spec.append(("event_id", "event", None, "l"))
    else:
        frame = frame[frame["event_id"] == event_id]
    frame = frame.assign(
        _window=_windows(frame),
        _sig=[stars(p) for p in frame["p_value"]],
    )
    spec += [
        ("ticker", "ticker", None, "l"),
        ("_window", "window", None, "l"),
        ("car", "CAR", fmt_pct, "r"),
        ("se", "SE", fmt_pct, "r"),
        ("t_stat", "t", fmt_stat, "r"),
        ("p_value", "p-value", fmt_p, "r"),
        ("df", "df", fmt_int, "r"),
        ("_sig", "sig", None, "l"),
    ]
    return _frame_table(frame, spec, notes=CAR_NOTES, wrap={"event_id": 30})


def group_differences_table(result: ReportableResult, window: tuple[int, int] | None = None) -> Table:
    """Between-group difference tests of the CARs (``group_differences.csv``), for one CAR window or all.

    Means, the difference and a statistic that is a return (the permutation test's D) in percent.
    """
    frame = result.group_differences
    if window is not None and len(frame):
        frame = frame[(frame["window_start"] == window[0]) & (frame["window_end"] == window[1])]
    shown = [statistic_text(t, v) for t, v in zip(frame["test"], frame["statistic"], strict=True)]
    spec: list[tuple[str, str, Formatter | None, str]] = [
        ("_window", "window", None, "l"),
        ("group_a", "group a", None, "l"),
        ("group_b", "group b", None, "l"),
        ("n_a", "n a", fmt_int, "r"),
        ("n_b", "n b", fmt_int, "r"),
        ("mean_a", "mean CAR a", fmt_pct, "r"),
        ("mean_b", "mean CAR b", fmt_pct, "r"),
        ("difference", "a - b", fmt_pct, "r"),
        ("test", "test", None, "l"),
        ("_statistic", "statistic", None, "r"),
        ("p_value", "p-value", fmt_p, "r"),
        ("distribution", "distribution", None, "l"),
        ("reason", "note", None, "l"),
    ]
    notes = (
        "Mean CARs and their difference in percent; welch_t: Welch's t; mann_whitney_u: U of group a; "
        "permutation: the difference D of the means (in percent), p-value from the permutations. Two-sided.",
    )
    return _frame_table(frame.assign(_window=_windows(frame), _statistic=shown), spec, notes=notes, wrap={"reason": 40})


PAIR_NOTES = (
    "Each leg on its own day 0. CARs and their difference (home - ADR) in percent. Var(difference) = "
    "Var(CAR home) + Var(CAR ADR) - 2 L c, c the covariance of the two legs' estimation residuals at equal event "
    "time (both present: n common days), the parameter-estimation cross term neglected; t referred to t(df), df the "
    "smaller of the legs' M - k. Two-sided.",
)


def listing_pairs_table(result: ReportableResult, window: tuple[int, int] | None = None) -> Table:
    """Home line versus ADR per event (``pairs.csv``), for one CAR window or all."""
    frame = result.listing_pairs
    if window is not None and len(frame):
        frame = frame[(frame["window_start"] == window[0]) & (frame["window_end"] == window[1])]
    spec: list[tuple[str, str, Formatter | None, str]] = [
        ("event_id", "event", None, "l"),
        ("home", "home", None, "l"),
        ("adr", "ADR", None, "l"),
        ("_window", "window", None, "l"),
        ("home_day_zero", "home day 0", fmt_date, "l"),
        ("adr_day_zero", "ADR day 0", fmt_date, "l"),
        ("car_home", "CAR home", fmt_pct, "r"),
        ("car_adr", "CAR ADR", fmt_pct, "r"),
        ("difference", "home - ADR", fmt_pct, "r"),
        ("t_stat", "t", fmt_stat, "r"),
        ("p_value", "p-value", fmt_p, "r"),
        ("df", "df", fmt_int, "r"),
        ("n_common", "n common", fmt_int, "r"),
    ]
    return _frame_table(frame.assign(_window=_windows(frame)), spec, notes=PAIR_NOTES, wrap={"event_id": 24})


CROSS_CORRELATION_NOTES = (
    "r̄: mean Pearson correlation of the standardized estimation residuals over the pairs of firm-events with at "
    "least kp_min_overlap common calendar dates (pairs: their number); n/a where no pair qualifies (the KP tests "
    "then use r̄ = 0). Scope: every firm-event of the group, one exchange's, one block's, or (blocked): the mean "
    "over all pairs of the group with the cross-block correlations set to 0. KP tests: the r̄ the Kolari-Pynnönen "
    "adjusted Patell and BMP tests use. Exchange and block rows without a qualifying pair are left out, and so "
    "are blocks by market (market=XHKG, ...) of a group that has the same exchange's row. Every row: "
    "cross_correlation.csv.",
)


def cross_correlation_table(result: ReportableResult, output_format: OutputFormat = "auto") -> Table:
    """Kolari-Pynnönen r̄ per group, exchange and block (``cross_correlation.csv``; ``docs/methods.md`` §6.2, P10)."""
    frame = getattr(result, "cross_correlation", pd.DataFrame())
    full = table_file("cross_correlation", len(frame), output_format)
    block = frame["block"].astype(str) if "block" in frame.columns else pd.Series("", index=frame.index)
    pooled = (frame["market_scope"] == "all") & (block == "")
    exchange_rows = set(zip(frame["group"], "market=" + frame["market_scope"].astype(str), strict=True))
    repeated = pd.Series([key in exchange_rows for key in zip(frame["group"], block, strict=True)], index=frame.index)
    shown = frame[pooled | frame["in_tests"].astype(bool) | ((frame["n_pairs"] > 0) & ~repeated)]
    scope = np.where(block[shown.index] != "", block[shown.index], shown["market_scope"].astype(str))
    shown = shown.assign(
        _scope=np.where(pooled[shown.index], "all firm-events", scope),
        _used=np.where(shown["in_tests"].astype(bool), "yes", ""),
    )
    spec: list[tuple[str, str, Formatter | None, str]] = [
        ("group", "group", None, "l"),
        ("_scope", "scope", None, "l"),
        ("r_bar", "r̄", fmt_stat, "r"),
        ("n_pairs", "pairs", fmt_int, "r"),
        ("n_firm_events", "firm-events", fmt_int, "r"),
        ("_used", "KP tests", None, "l"),
    ]
    return _frame_table(shown, spec, notes=CROSS_CORRELATION_NOTES, wrap={"group": 30}, full=full)


def cross_correlation_blocks(result: ReportableResult, output_format: OutputFormat = "auto") -> list[Block]:
    """The section on the Kolari-Pynnönen r̄ (none when the study computed no r̄: no KP test was requested)."""
    frame = getattr(result, "cross_correlation", None)
    if not isinstance(frame, pd.DataFrame) or not len(frame):
        return []
    return [
        Heading("Cross-correlation of abnormal returns (Kolari-Pynnönen r̄)"),
        cross_correlation_table(result, output_format),
    ]


def regression_blocks(result: ReportableResult) -> list[Block]:
    """The section on the study's cross-sectional CAR regressions (``EventStudy(regressions=...)``).

    Per regression: a sentence with the sample and estimator, the coefficient table (estimates, standard
    errors and 95 % intervals in percentage points of CAR per unit of the regressor; a factor level against
    the omitted level), then the leverage line; or the reason the regression could not be fitted. No blocks
    when the study asked for none.
    """
    regressions = getattr(result, "regressions", ())
    if not regressions:
        return []
    blocks: list[Block] = [Heading("Cross-sectional regression of CARs")]
    for regression, fit in zip(regressions, result.regression_fits, strict=True):  # type: ignore[attr-defined]
        if isinstance(fit, InputError):
            blocks.append(Paragraph(f"{regression.formula}: not fitted. {hide_paths(str(fit))}"))
            continue
        table, diagnostics = fit.table, fit.diagnostics
        n = int(table["n"].iloc[0])
        reference = (
            "t(G - 1), G the clusters (the smaller count for two-way)"
            if fit.cluster
            else "t(n - k), k the coefficients"
        )
        blocks.append(
            Paragraph(
                f"{regression.formula}: CAR{window_text(fit.window)} of the {fmt_int(n)} pooled firm-events, "
                f"{regression.describe(str(table['n_clusters'].iloc[0]))}; t and p referred to {reference}."
            )
        )
        notes = [
            f"Estimates, standard errors and 95 % intervals in percentage points of CAR{window_text(fit.window)}"
            + _omitted_levels(fit)
            + ".",
            f"Largest leverage {diagnostics['leverage'].max():.3f} (mean k/n = {len(table) / n:.3f}); "
            f"{int((diagnostics['cooks_distance'] > 4 / n).sum())} firm-event(s) with Cook's distance above 4/n "
            "(regression diagnostics in Python: result.regress(...).diagnostics).",
        ]
        if table["p_wild"].notna().any():
            notes.append(
                "p (wild): restricted wild cluster bootstrap with Rademacher signs (Cameron, Gelbach and Miller "
                "2008), the null of each coefficient imposed; with G clusters there are 2^G sign vectors and "
                "opposite vectors give the same |t|, so with few clusters this p-value moves in steps of 2^(1-G)."
            )
        spec: list[tuple[str, str, Formatter | None, str]] = [
            ("_term", "term", None, "l"),
            ("estimate", "estimate", fmt_pct, "r"),
            ("se", "se", fmt_pct, "r"),
            ("t", "t", fmt_stat, "r"),
            ("p", "p-value", fmt_p, "r"),
            ("ci_low", "95 % low", fmt_pct, "r"),
            ("ci_high", "95 % high", fmt_pct, "r"),
            *([("p_wild", "p (wild)", fmt_p, "r")] if table["p_wild"].notna().any() else []),
        ]
        blocks.append(_frame_table(table.assign(_term=[_term_text(t) for t in table["term"]]), spec, notes=notes))
    blocks.append(Paragraph("Coefficient tables: regression.csv."))
    return blocks


def _term_text(term: str) -> str:
    """A patsy term for people: ``C(category)[T.regulatory]`` -> ``category = regulatory``."""
    name, bracket, level = term.partition("[T.")
    if not bracket:
        return "intercept" if term == "Intercept" else term
    if name.startswith("C(") and name.endswith(")"):
        name = name[2:-1].split(",")[0]
    return f"{name} = {level.removesuffix(']')}"


def _omitted_levels(fit: Any) -> str:
    """The clause naming the omitted level of each treatment-coded factor of a fit (``""`` for none)."""
    omitted = [f"{_term_text(name + '[T.x]').split(' = ')[0]} = {level}" for name, level in fit.reference_levels]
    return f"; a factor level is measured against its omitted level ({'; '.join(omitted)})" if omitted else ""


SYNTHETIC_NOTES = (
    "CAR (model): the study model's CAR. CAR (synthetic): the sum over the window of R - Σ_j w_j R_j, the weights "
    "w_j >= 0 summing to one and minimising Σ_t (R_t - Σ_j w_j R_jt)^2 over the estimation-window days (no "
    "intercept, returns not demeaned; scipy nnls with a heavily weighted sum-to-one row). RMSPE: root mean squared "
    "prediction error on those days.",
    "p (placebo): (1 + #{donors d with |CAR_d / RMSPE_d| >= |CAR / RMSPE|}) / (D + 1), each donor treated in turn "
    "with weights fitted from the other donors. p (conformal) and the 95 % interval: Chernozhukov, Wüthrich and Zhu "
    "(2021); under H0 'effect θ on each window day' the weights are refitted on the estimation and window days with "
    "the window's returns less θ, S = |Σ window residuals| / sqrt(L), p(θ) = share of the cyclic shifts of the "
    "residuals in time with S >= the observed S; the interval is {L θ : p(θ) > 0.05} on 401 points of θ within "
    "CAR/L ± 5 RMSPE/sqrt(L), the range doubled up to 3 times while the accepted set reaches its end (the hull of "
    "the set; an end still reached is shown as -inf or +inf).",
)


def synthetic_table_block(result: ReportableResult, window: tuple[int, int] | None) -> Table:
    """Synthetic control per firm-event for one CAR window (``synthetic.csv``), the firm-events that have one."""
    frame = getattr(result, "synthetic", pd.DataFrame())
    frame = frame[frame["reason"].eq("") | frame["car_synthetic"].notna()]
    if window is not None:
        frame = frame[(frame["window_start"] == window[0]) & (frame["window_end"] == window[1])]
    spec: list[tuple[str, str, Formatter | None, str]] = [
        ("event_id", "event", None, "l"),
        ("ticker", "ticker", None, "l"),
        ("_window", "window", None, "l"),
        ("car_model", "CAR (model)", fmt_pct, "r"),
        ("car_synthetic", "CAR (synthetic)", fmt_pct, "r"),
        ("rmspe_pre", "RMSPE", fmt_pct, "r"),
        ("n_donors", "donors", fmt_int, "r"),
        ("p_placebo", "p (placebo)", fmt_p, "r"),
        ("p_conformal", "p (conformal)", fmt_p, "r"),
        ("_interval", "95 % interval", None, "r"),
        ("top_weights", "largest weights", None, "l"),
    ]
    interval = [
        MISSING if np.isnan(low) else f"[{_bound_pct(low)}, {_bound_pct(high)}]"
        for low, high in zip(frame["ci_low"], frame["ci_high"], strict=True)
    ]
    shown = frame.assign(_window=_windows(frame), _interval=interval)
    return _frame_table(shown, spec, notes=SYNTHETIC_NOTES, wrap={"event_id": 24, "top_weights": 40})


def _bound_pct(value: float) -> str:
    """An interval end in percent, or -inf / +inf for an open end."""
    return fmt_pct(value) if np.isfinite(value) else ("+inf" if value > 0 else "-inf")


def synthetic_blocks(result: ReportableResult, window: tuple[int, int] | None) -> list[Block]:
    """The section "Synthetic control" (none without donors): the table for ``window`` and the rules in words."""
    donors = getattr(result, "donors", None)
    if donors is None:
        return []
    frame = getattr(result, "synthetic", pd.DataFrame())
    fitted = frame[frame["n_donors"] > 0]
    others = frame.drop_duplicates(["event_id", "ticker"])
    others = others[others["n_donors"].eq(0) & others["reason"].ne("")]
    blocks: list[Block] = [
        Heading("Synthetic control"),
        Paragraph(
            f"A synthetic-control counterfactual for each firm-event on {donors.exchange} from the donor prices "
            f"{donors.name} (Abadie, Diamond and Hainmueller 2010; Acemoglu et al. 2016). The donor pool of a "
            "firm-event: the file's tickers, less the firm itself, less every ticker with its own event in the study "
            "between the firm-event's first estimation date and last event-window date, less every donor with a "
            "missing return on a day used; donor returns run over the same intervals as the firm's returns "
            f"({len(fitted.drop_duplicates(['event_id', 'ticker']))} firm-events fitted)."
        ),
    ]
    if len(fitted):
        blocks.append(synthetic_table_block(result, window))
        blocks.append(Paragraph("Every CAR window: synthetic.csv."))
    if len(others):
        reasons = others["reason"].str.replace(r"^\S+ trades on", "trade on", regex=True).value_counts()
        blocks.append(
            Bullets(tuple(f"{fmt_int(count)} firm-event(s) without one: {reason}" for reason, count in reasons.items()))
        )
    return blocks


SINGLE_FIRM_RULES = (
    "t: AR / SE and CAR / SE referred to t(M - k), which assumes normal abnormal returns (P1, P2).",
    "SQ (Gelbach, Helland and Klick 2013): p = (1 + #{j : |x_j| >= |x|}) / (n + 1), the observed value ranked "
    "among the firm-event's own estimation residuals (an AR; n = M) or among the n sums of L consecutive "
    "residuals (a CAR over L days); no distribution assumed, the smallest attainable p is 1 / (n + 1); for long "
    "windows it rejects too often (the in-sample sums vary less than an out-of-sample CAR: 7 % at 5 % for 11 "
    "days, docs/simulation.md).",
    "Permutation (Nguyen and Wolf 2023 style): pool the M residuals and the L event ARs; p = the share of the "
    "L-subsets of the pool whose sum is at least as far from L times the pool mean as the event ARs' sum, the "
    f"observed subset included; exact over all C(M + L, L) subsets when there are at most {DEFAULT_EXACT_LIMIT:,} "
    "(every single day: p = (number of pool values at least as far from the mean as the AR) / (M + 1)), otherwise "
    "(1 + #{b : |T*_b| >= |T|}) / (B + 1) over B random subsets seeded by the seed and the firm-event.",
)


def single_firm_blocks(result: ReportableResult, window: tuple[int, int]) -> list[Block]:
    """The section "Single-firm tests": each firm-event's CAR over ``window`` and its day 0 AR, three p-values each.

    The t-test, SQ and permutation p-values side by side (``car.csv``, ``abnormal_returns.csv``), with the rule
    of each test; the share of firm-events each test rejects at 5 %; none when no single-firm test ran. A study
    of more than :data:`REPORT_MAX_ROWS` firm-events shows its first rows and names the files.
    """
    car, ar = result.car, result.abnormal_returns
    columns = {"p_sq", "p_permutation"}
    if not (columns <= set(car.columns) and columns <= set(ar.columns)):  # a duck-typed result without them
        return []
    car = car[(car["window_start"] == window[0]) & (car["window_end"] == window[1])]
    if not (car["p_sq"].notna().any() or car["p_permutation"].notna().any()):
        return []
    day0 = ar[ar["rel_day"] == 0][["event_id", "ticker", "abnormal_return", "p_value", "p_sq", "p_permutation"]]
    frame = car.merge(day0, on=["event_id", "ticker"], how="left", suffixes=("", "_ar"))
    spec: list[tuple[str, str, Formatter | None, str]] = [
        ("event_id", "event", None, "l"),
        ("ticker", "ticker", None, "l"),
        ("car", f"CAR {window_text(window)}", fmt_pct, "r"),
        ("p_value", "p (t)", fmt_p, "r"),
        ("p_sq", "p (SQ)", fmt_p, "r"),
        ("p_permutation", "p (perm.)", fmt_p, "r"),
        ("abnormal_return", "AR day 0", fmt_pct, "r"),
        ("p_value_ar", "p (t)", fmt_p, "r"),
        ("p_sq_ar", "p (SQ)", fmt_p, "r"),
        ("p_permutation_ar", "p (perm.)", fmt_p, "r"),
    ]
    exact = frame["permutation_exact"]
    n_exact, n_drawn = int(exact.eq(True).sum()), int(exact.eq(False).sum())
    how = {
        (True, False): "exact for every firm-event",
        (False, True): "from B random subsets for every firm-event",
    }.get(
        (n_drawn == 0, n_exact == 0),
        f"exact for {fmt_int(n_exact)} and from B random subsets for {fmt_int(n_drawn)} of the "
        f"{fmt_int(len(frame))} firm-events",
    )
    permutation = f" Its permutation p-value: {how} (permutation_exact in car.csv)." if n_exact + n_drawn else ""
    notes = (
        "CAR and AR in percent; two-sided p-values. The CAR's SQ reference: sq_reference_n sums in car.csv."
        + permutation,
    )
    rejected = [
        f"{name}: CAR {window_text(window)} {fmt_int(int((car[column] < 0.05).sum()))} of "
        f"{fmt_int(int(car[column].notna().sum()))}, day 0 AR {fmt_int(int((day0[column] < 0.05).sum()))} of "
        f"{fmt_int(int(day0[column].notna().sum()))}"
        for name, column in (("t-test", "p_value"), ("SQ", "p_sq"), ("permutation", "p_permutation"))
    ]
    return [
        Heading("Single-firm tests"),
        Paragraph(
            "Each firm-event's CAR over the headline window and its day 0 AR, tested on its own three ways: the "
            "t-test, and two tests that compare the event with the firm-event's own estimation-window residuals "
            f"and assume no distribution ({result.settings.get('single-firm tests', '')})."
        ),
        Bullets(SINGLE_FIRM_RULES),
        Paragraph("Rejections at 5 %: " + "; ".join(rejected) + "."),
        _frame_table(frame, spec, notes=notes, wrap={"event_id": 24}, full="car.csv, abnormal_returns.csv"),
        Paragraph("Every CAR window and day: car.csv, abnormal_returns.csv (p_sq, p_permutation)."),
    ]


def _percentile_text(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    return MISSING if not np.isfinite(number) else f"{number:.1f}"


PLACEBO_TABLE_NOTES = (
    "CAAR and the primary test at the headline window; every CAR window: placebo.csv. Placebo p: the share of "
    "placebo replicates at least as extreme, (1 + #{|T*| >= |T|}) / (B + 1), two-sided; percentile: where the "
    "observed value falls among them. Test p: the primary test's own reference distribution (tests.csv).",
)


def placebo_blocks(result: ReportableResult, summary: Summary) -> list[Block]:
    """The section on the placebo (pseudo-event) p-values (``EventStudy(placebo_draws=B)``, :mod:`eventstudy.placebo`).

    The rule in words; per event and pooled group at the headline window, the CAAR with its placebo p-value and
    percentile next to the primary test (slot 1 of the summary) with its own p-value and its placebo p-value; the
    firm-events left out of the placebo with the reason. No blocks without placebo dates.
    """
    placebo = getattr(result, "placebo_result", None)
    if placebo is None:
        return []
    window = summary.headline_window
    table = placebo.table
    at = table[(table["window_start"] == window[0]) & (table["window_end"] == window[1])]
    caar = at[at["statistic"] == "caar"].set_index("group")
    primary = summary.primary
    primary = primary[
        (primary["slot"] == 1) & (primary["window_start"] == window[0]) & (primary["window_end"] == window[1])
    ].set_index("group")
    tested = at[at["statistic"] != "caar"].set_index(["group", "statistic"])
    events = placebo.events.set_index("event_id")
    test_name = primary["test"].reindex(caar.index)
    keys = list(zip(caar.index, test_name.fillna(""), strict=True))
    frame = pd.DataFrame(
        {
            "group": [group_label(g) for g in caar.index],
            "firm_events": caar["firm_events"].to_numpy(),
            "eligible_dates": events["eligible_dates"].reindex(caar.index).to_numpy(dtype=np.float64),
            "caar": caar["observed"].to_numpy(),
            "p_caar": caar["p_placebo"].to_numpy(),
            "percentile": caar["percentile"].to_numpy(),
            "test": test_name.fillna("").map(lambda t: SHORT_LABELS.get(t, t)).to_numpy(dtype=object),
            "statistic": [
                statistic_text(t, s) for t, s in zip(test_name, primary["statistic"].reindex(caar.index), strict=True)
            ],
            "p_test": primary["p_value"].reindex(caar.index).to_numpy(dtype=np.float64),
            "p_test_placebo": tested["p_placebo"].reindex(keys).to_numpy(dtype=np.float64) if len(tested) else np.nan,
        }
    )
    spec: list[tuple[str, str, Formatter | None, str]] = [
        ("group", "event / group", None, "l"),
        ("firm_events", "firm-events", fmt_int, "r"),
        ("eligible_dates", "eligible shifts", fmt_int, "r"),
        ("caar", f"CAAR{window_text(window)}", fmt_pct, "r"),
        ("p_caar", "placebo p", fmt_p, "r"),
        ("percentile", "percentile", _percentile_text, "r"),
        ("test", "primary test", None, "l"),
        ("statistic", "statistic", None, "r"),
        ("p_test", "test p", fmt_p, "r"),
        ("p_test_placebo", "placebo p of test", fmt_p, "r"),
    ]
    blocks: list[Block] = [
        Heading("Placebo dates"),
        Paragraph(placebo.rule),
        _frame_table(frame, spec, notes=PLACEBO_TABLE_NOTES, wrap={"group": 28}),
    ]
    left_out = placebo.exclusions
    if len(left_out):
        blocks.append(Paragraph(f"Left out of the placebo ({fmt_int(len(left_out))} firm-events):"))
        blocks.append(
            Bullets(
                tuple(
                    hide_paths(f"{row.event_id} / {row.ticker}: {row.reason}")
                    for row in left_out.itertuples(index=False)
                )
            )
        )
    else:
        blocks.append(Paragraph("Every estimated firm-event entered the placebo."))
    shifted = [c for c in pd.unique(placebo.events["cluster"]) if " + " in str(c)]
    if shifted:
        blocks.append(
            Paragraph("Events whose windows overlap, shifted together: " + "; ".join(str(c) for c in shifted) + ".")
        )
    return blocks


def _windows(frame: pd.DataFrame) -> list[str]:
    """The ``window_start``/``window_end`` columns of a frame as window text."""
    return [window_text((int(a), int(b))) for a, b in zip(frame["window_start"], frame["window_end"], strict=True)]


def ordered_groups(frame: pd.DataFrame) -> list[Any]:
    """Return the ``group`` values of a frame in display order: ``"all"`` first, then order of appearance."""
    groups = list(pd.unique(frame["group"])) if "group" in frame.columns else []
    return sorted(groups, key=lambda g: str(g) != "all")


def _long_tests_table(
    result: ReportableResult, group: object, scope: str, caption: str, note: str, day: int | None = None
) -> Table:
    """Tests of one group and scope in long form: one row per test and day (or CAR window).

    With ``day`` given (day scope), only that event day's rows. The notes are ``note`` and the result's
    ``adjustment_note``, which states the multiple-testing family in force (``conventions.adjust_family``).
    """
    tests = result.tests
    frame = tests[(tests["group"] == group) & (tests["scope"] == scope)]
    if day is not None:
        frame = frame[frame["window_start"] == day]
    if scope == "day":
        where = [signed_day(int(d)) for d in frame["window_start"]]
    else:
        where = _windows(frame)
    shown = [statistic_text(t, v) for t, v in zip(frame["test"], frame["statistic"], strict=True)]
    spec = [
        ("test", "test", None, "l"),
        ("_where", scope, None, "r" if scope == "day" else "l"),
        ("_statistic", "statistic", None, "r"),
        ("p_value", "p-value", fmt_p, "r"),
        ("p_holm", "p_holm", fmt_p, "r"),
        ("distribution", "distribution", None, "l"),
        ("n", "n", fmt_int, "r"),
        ("reason", "note", None, "l"),
    ]
    notes = (note, result.adjustment_note)
    return _frame_table(
        frame.assign(_where=where, _statistic=shown), spec, caption=caption, notes=notes, wrap={"reason": 50}
    )


def window_tests_table(result: ReportableResult, group: object) -> Table:
    """Window-scope tests of one group: rows are tests x windows."""
    return _long_tests_table(
        result,
        group,
        "window",
        "Window tests (cumulative abnormal returns)",
        "p-values two-sided, from the distribution shown; n = number of events used. Statistics that are "
        "returns (bootstrap_caar: the CAAR) in percent; wilcoxon: W+, the sum of the ranks of the positive CARs.",
    )


def day_table(result: ReportableResult, group: object) -> Table:
    """Compact day table of one group: AAR, CAAR and each day-scope test as ``statistic (p)``."""
    tests = result.tests
    days = tests[(tests["group"] == group) & (tests["scope"] == "day")]
    aar = result.aar
    aar = aar[aar["group"] == group] if "group" in aar.columns else aar.iloc[0:0]
    present = list(pd.unique(days["test"]))
    test_names = [t for t in CORE_DAY_TESTS if t in present] or present[:3]
    rel_days = sorted({int(d) for d in days["window_start"].tolist()} | {int(d) for d in aar["rel_day"].tolist()})
    day_records: list[dict[Any, Any]] = days.to_dict("records")
    aar_by_day = {int(r["rel_day"]): r for r in aar.to_dict("records")}
    cell = {(int(r["window_start"]), str(r["test"])): r for r in day_records}
    columns = ["day"] + (["n", "AAR", "CAAR"] if len(aar) else []) + test_names
    rows = []
    for d in rel_days:
        row = [signed_day(d)]
        if len(aar):
            a = aar_by_day.get(d)
            row += [fmt_int(a["n"]), fmt_pct(a["aar"]), fmt_pct(a["caar"])] if a is not None else [MISSING] * 3
        for name in test_names:
            r = cell.get((d, name))
            row.append(MISSING if r is None else f"{fmt_stat(r['statistic'])} ({fmt_p(r['p_value'])})")
        rows.append(tuple(row))
    notes = ["AAR and CAAR in percent; n = events with an abnormal return on the day."] if len(aar) else []
    if test_names:
        notes.append("Test cells: statistic (two-sided p-value).")
        if len(present) > len(test_names):
            notes.append(
                f"{len(present) - len(test_names)} more day statistics are in tests.csv"
                + (" and in the table of all day statistics below." if str(group) == "all" else ".")
            )
        dists = []
        for name in test_names:
            values = [fmt_cell(v) for v in pd.unique(days.loc[days["test"] == name, "distribution"])]
            dists.append(f"{name}: {', '.join(v for v in values if v) or MISSING}")
        notes.append("Reference distributions: " + "; ".join(dists) + ".")
        reasons: dict[tuple[str, str], list[int]] = {}
        for r in day_records:
            reason = fmt_cell(r["reason"])
            if reason:
                reasons.setdefault((str(r["test"]), reason), []).append(int(r["window_start"]))
        for (name, reason), ds in reasons.items():
            notes.append(f"{name}, day {', '.join(signed_day(d) for d in sorted(ds))}: {reason}")
    return Table(
        tuple(columns),
        tuple(rows),
        ("r",) * (len(columns)),
        caption="Daily abnormal returns and day tests",
        notes=tuple(notes),
    )


CORE_DAY_TESTS = ("cross_sectional_t", "patell_z", "bmp_t")
"""Day statistics shown in the compact per-group day table; every other one has its own long table."""


def day_tests_table(result: ReportableResult, group: object, day: int | None = None) -> Table:
    """Every day-scope statistic of one group in long form (one row per test and day, or one day only)."""
    return _long_tests_table(
        result,
        group,
        "day",
        "All day statistics" if day is None else f"Day {signed_day(day)} statistics",
        "p-values two-sided, from the distribution shown; n = number of events used.",
        day=day,
    )


def parameters_table(result: ReportableResult, output_format: OutputFormat = "auto") -> Table:
    """Estimated normal-return model parameters per (event, ticker): one column per coefficient of the model."""
    frame = result.parameters
    columns = list(frame.columns)
    coefficients = columns[columns.index("model") + 1 : columns.index("sigma")]
    spec = [
        ("event_id", "event", None, "l"),
        ("ticker", "ticker", None, "l"),
        ("benchmark", "benchmark", None, "l"),
        ("model", "model", None, "l"),
        *((name, name, (lambda v: fmt_pct(v, 3)) if name == "alpha" else fmt_stat, "r") for name in coefficients),
        ("sigma", "sigma", lambda v: fmt_pct(v, 3), "r"),
        ("r_squared", "R2", fmt_stat, "r"),
        ("n_obs", "obs", fmt_int, "r"),
        ("df", "df", fmt_int, "r"),
        *((("regressor_gaps", "days without regressor", fmt_int, "r"),) if "regressor_gaps" in columns else ()),
        ("estimation_start", "estimation start", fmt_date, "l"),
        ("estimation_end", "estimation end", fmt_date, "l"),
        ("estimation_window", "estimation window", None, "l"),
        ("event_window", "event window", None, "l"),
    ]
    notes = ["alpha (daily intercept) and sigma (residual standard deviation) in percent."]
    if "beta_mkt" in columns:
        foreign = sorted({t for t in frame["ticker"] if "." in str(t)})
        notes.append(
            "Factor model on excess returns over the factor file's risk-free rate; Fama-French factors are US-dollar "
            "returns"
            + (
                f", regressed here on returns in the tickers' own currencies ({', '.join(foreign[:8])}"
                + (", ..." if len(foreign) > 8 else "")
                + "): a small mismatch for HKD under the peg, larger for other currencies."
                if foreign
                else "."
            )
        )
    if "regressor_gaps" in columns:
        notes.append(
            "days without regressor: estimation days with a return but no value of a regressor (e.g. no "
            "factor row), left out of the fit."
        )
    return _frame_table(
        frame,
        spec,
        notes=tuple(notes),
        wrap={"event_id": 24, "model": 20},
        full=table_file("parameters", len(frame), output_format),
    )


# ----------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------


MAX_FIGURE_EVENTS = 12
"""A report draws per-event figures (the AAR/CAAR of each event and the CAR of each firm-event) only for
studies with at most this many events and :data:`MAX_FIGURE_FIRM_EVENTS` firm-events: each figure costs
about a second to render, so above that only the summary figures are drawn and the report says how to get
the others."""
MAX_FIGURE_FIRM_EVENTS = 40
"""See :data:`MAX_FIGURE_EVENTS`."""
HEATMAP_MAX_EVENTS = 30
"""Rows of the report's CAR heat map: the events with the largest |CAR| (:func:`eventstudy.plots.plot_car_heatmap`)."""
HEATMAP_MAX_TICKERS = 30
"""Columns of the report's CAR heat map: the tickers with the largest |CAR| among the rows shown."""


def _has_values(frame: pd.DataFrame, keys: list[str], column: str) -> pd.Series:
    """Whether each group of ``keys`` (in order of appearance) has at least one finite ``column`` value.

    Rows with a missing key belong to no group (as in a pandas group-by). The keys are matched as integer
    codes (a group-by of text keys costs seconds at 10^6 rows).
    """
    finite = np.isfinite(frame[column].to_numpy(dtype=np.float64))
    key = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    for name in keys:
        codes, uniques = pd.factorize(frame[name])
        key = key * max(len(uniques), 1) + codes
        missing |= codes < 0
    group, _ = pd.factorize(key[~missing])
    rows = np.flatnonzero(~missing)
    first = np.empty(group.max(initial=-1) + 1, dtype=np.int64)
    first[group[::-1]] = rows[::-1]  # the first row of each group
    firsts = frame[keys].iloc[first]
    index = pd.Index(firsts[keys[0]], name=keys[0]) if len(keys) == 1 else pd.MultiIndex.from_frame(firsts)
    return pd.Series(np.bincount(group, weights=finite[rows], minlength=len(first)) > 0, index=index, name=column)


def _drawable(result: ReportableResult) -> tuple[pd.Series, pd.Series]:
    """Which AAR groups and which (event, ticker) CAR paths have something to draw (boolean Series)."""
    return _has_values(result.aar, ["group"], "aar"), _has_values(result.car_path, ["event_id", "ticker"], "car")


def _per_event(paths: pd.Series) -> bool:
    """Whether the study's CAR paths (``_drawable``) are few enough for per-event figures."""
    return (
        paths.index.get_level_values("event_id").nunique() <= MAX_FIGURE_EVENTS and len(paths) <= MAX_FIGURE_FIRM_EVENTS
    )


def per_event_figures(result: ReportableResult) -> bool:
    """Whether a report draws per-event figures (:data:`MAX_FIGURE_EVENTS`, :data:`MAX_FIGURE_FIRM_EVENTS`)."""
    return _per_event(_has_values(result.car_path, ["event_id", "ticker"], "car"))


def _heatmap_window(result: ReportableResult) -> tuple[int, int] | None:
    """[-1, +1] when it has a finite CAR, else the first CAR window that has one; None without any."""
    windows = _has_values(result.car, ["window_start", "window_end"], "car")
    usable = [(int(a), int(b)) for a, b in windows.index[windows.to_numpy(dtype=bool)]]
    if not usable:
        return None
    return (-1, 1) if (-1, 1) in usable else usable[0]


def figure_specs(result: ReportableResult, per_event: bool | None = None) -> list[FigureSpec]:
    """List the figures of a report, in display order, with unique file names.

    The AAR/CAAR of all events and of each of the user's groups (``result.firm_events.group``; at most
    :data:`MAX_FIGURE_EVENTS` of them) and the CAR heat map (at most :data:`HEATMAP_MAX_EVENTS` x
    :data:`HEATMAP_MAX_TICKERS` cells) first; then, when ``per_event`` (default: :func:`per_event_figures`),
    per event its AAR/CAAR figure and one CAR figure with a panel per ticker in ``result.car_path``. A figure with no
    finite value to draw is left out (:func:`figure_notes` says so). File stems of per-event figures come
    from :func:`eventstudy.formatting.figure_stem`: bounded and collision-free whatever the ids.
    """
    groups, paths = _drawable(result)
    per_event = _per_event(paths) if per_event is None else per_event
    specs: list[FigureSpec] = []
    used: set[str] = set()

    def add(stem: str, kind: Literal["car", "aar", "heatmap"], caption: str, **args: Any) -> None:
        key, n = stem, 2
        while key.lower() in used:  # case-insensitive file systems; hashed stems make this a formality
            key, n = f"{stem}-{n}", n + 1
        used.add(key.lower())
        specs.append(FigureSpec(key, kind, caption, args))

    if groups.get("all", False):
        add("aar_all", "aar", "AAR (bars) and CAAR (line) with its 95% cross-sectional band, all events.", group="all")
    firm = getattr(result, "firm_events", None)  # the user's groups (A's firm_events.group), pooled like "all"
    user = set(pd.unique(firm["group"])) - {""} if isinstance(firm, pd.DataFrame) and "group" in firm.columns else set()
    for g in [g for g, ok in groups.items() if ok and g in user][:MAX_FIGURE_EVENTS]:
        caption = f"AAR and CAAR with its 95% cross-sectional band, group {g} (its pooled firm-events)."
        add(figure_stem("aar", g), "aar", caption, group=g)
    window = _heatmap_window(result)
    if window is not None:
        add(
            f"heatmap_car_{window[0]}_{window[1]}",
            "heatmap",
            f"CAR over {window_text(window)} by event and ticker.",
            window=window,
            max_events=HEATMAP_MAX_EVENTS,
            max_tickers=HEATMAP_MAX_TICKERS,
        )
    if not per_event:
        return specs
    tickers: dict[Any, list[Any]] = {}
    for ev, tk in paths.index[paths.to_numpy(dtype=bool)]:
        tickers.setdefault(ev, []).append(tk)
    event_groups = [g for g, ok in groups.items() if ok and g != "all" and g not in user]
    for ev in dict.fromkeys([*tickers, *event_groups]):
        if ev in event_groups:
            add(figure_stem("aar", ev), "aar", f"AAR and CAAR with its 95% band, event {ev}.", group=ev)
        if ev in tickers:  # one figure per event: a panel per ticker (plots.plot_car without a ticker)
            first, n = tickers[ev][0], len(tickers[ev])
            what = f"each of the {n} tickers (one panel each)" if n > 1 else str(first)
            add(
                figure_stem("car", ev),
                "car",
                f"CAR of {what} around event {ev}, with 95% confidence bands.",
                event_id=ev,
            )
    return specs


def figure_notes(result: ReportableResult, specs: Sequence[FigureSpec]) -> list[str]:
    """Sentences saying which figures a report leaves out, why, and how to draw them.

    Per-event figures above :data:`MAX_FIGURE_EVENTS` / :data:`MAX_FIGURE_FIRM_EVENTS` (or when turned
    off), heat-map rows and columns above its caps, and figures with nothing to draw.
    """
    groups, paths = _drawable(result)
    n_aar = int(groups.drop("all", errors="ignore").sum())
    n_car = paths[paths].index.get_level_values("event_id").nunique() if paths.any() else 0  # one per event
    drawn_aar = sum(1 for s in specs if s.kind == "aar" and str(s.args.get("group")) != "all")
    drawn_car = sum(1 for s in specs if s.kind == "car")
    notes = []
    if drawn_aar < n_aar or drawn_car < n_car:
        n_events = paths.index.get_level_values("event_id").nunique() if len(paths) else 0
        why = (
            f"this study has {n_events} events and {len(paths)} firm-events, more than the {MAX_FIGURE_EVENTS} "
            f"events or {MAX_FIGURE_FIRM_EVENTS} firm-events up to which a report draws the figures of each "
            "event"
            if not _per_event(paths)
            else "they were turned off"
        )
        notes.append(
            f"Per-event figures are left out: {why}. Not drawn: {n_aar - drawn_aar} AAR/CAAR figures (one per "
            f"event) and {n_car - drawn_car} CAR figures (one per event, a panel per ticker). Draw any of them "
            "from the result: "
            "result.plot_aar(event_id), result.plot_car(event_id) or result.plot_car(event_id, ticker); "
            "eventstudy.report.write_report(result, folder, per_event_figures=True) writes them all."
        )
    for spec in specs:
        if spec.kind == "heatmap":
            start, end = spec.args["window"]
            car = result.car
            cells = car[(car["window_start"] == start) & (car["window_end"] == end)]
            n_ev, n_tk = cells["event_id"].nunique(), cells["ticker"].nunique()
            cap_ev, cap_tk = spec.args.get("max_events"), spec.args.get("max_tickers")
            if (cap_ev is not None and n_ev > cap_ev) or (cap_tk is not None and n_tk > cap_tk):
                notes.append(
                    f"The heat map shows the {min(n_ev, cap_ev or n_ev)} events and {min(n_tk, cap_tk or n_tk)} "
                    f"tickers with the largest |CAR| over {window_text((start, end))}, of {n_ev} events and "
                    f"{n_tk} tickers; result.plot_car_heatmap(window) draws them all and car.csv lists every CAR."
                )
    empty_aar = int((~groups.drop("all", errors="ignore")).sum())
    empty_car = int((~paths).sum())
    if empty_aar or empty_car:
        notes.append(
            f"Left out for want of data: {empty_aar} AAR/CAAR figures and {empty_car} CAR panels whose every value is "
            "missing (a missing abnormal return on the first event-window day leaves the whole CAR path missing)."
        )
    return notes


def render_figure(result: Any, spec: FigureSpec) -> Figure:
    """Draw one figure of :func:`figure_specs` with :mod:`eventstudy.plots`."""
    if spec.kind == "car":
        return plots.plot_car(result, **spec.args)
    if spec.kind == "aar":
        return plots.plot_aar(result, **spec.args)
    return plots.plot_car_heatmap(result, **spec.args)


# ----------------------------------------------------------------------------------------------------
# The document
# ----------------------------------------------------------------------------------------------------


def _omitted_events_text(n_shown: int, n_events: int, full: str) -> str:
    """The note of an appendix section cut to the events shown at a glance."""
    return (
        f"The {fmt_int(n_shown)} events shown at a glance ({fmt_int(n_events - n_shown)} of {fmt_int(n_events)} "
        f"omitted); every event: {full}."
    )


def _text_or_none(table: Table, none_text: str) -> Block:
    return table if table.rows else Paragraph(none_text)


def event_heading(result: ReportableResult, event_id: object) -> str:
    """The heading of an event: ``"<date> – <headline> (<event id>)"`` (the id alone when not in ``events``)."""
    events = result.events
    row = events[events["event_id"] == event_id] if "event_id" in events.columns else events.iloc[0:0]
    if not len(row):
        return str(event_id)
    date = fmt_date(row["date"].iloc[0]) if "date" in row.columns else ""
    headline = fmt_cell(row["headline"].iloc[0]) if "headline" in row.columns else ""
    text = " – ".join(part for part in (date, headline) if part)
    return f"{text} ({event_id})" if text else str(event_id)


def _group_heading(result: ReportableResult, group: object) -> str:
    if str(group) == "all":
        return "All events (pooled)"
    events = result.events
    if "event_id" in events.columns and (events["event_id"] == group).any():
        return event_heading(result, group)
    return f"Group: {group_label(group)}"


def build_document(
    result: ReportableResult,
    figures: Sequence[FigureSpec] | None = None,
    summary: Summary | None = None,
    output_format: OutputFormat = "auto",
) -> list[Block]:
    """Turn a result into the ordered blocks of a report, every heading with a unique anchor.

    Order: title; the summary (results at a glance, CARs by firm: :meth:`eventstudy.summary.Summary.blocks`);
    figures; exclusions by reason; settings; statistical conventions; data source and vintage; events and the
    day-0 audit; then the appendix: every exclusion, the CAR tables with standard errors per event, the full
    test battery per group and the model parameters.

    Parameters
    ----------
    result
        A study result (duck-typed, :class:`ReportableResult`).
    figures
        The figures of the report; ``None`` means :func:`figure_specs` of the result.
    summary
        The result's summary; ``None`` builds it (:meth:`eventstudy.summary.Summary.from_result`).
    output_format
        How the tables were written (:func:`eventstudy.outputs.write_tables`): the notes of cut tables name
        the files that hold every row.

    Returns
    -------
    list of Block
    """
    figures = figure_specs(result) if figures is None else figures
    summary = Summary.from_result(result, output_format) if summary is None else summary
    doc: list[Block] = [Heading(str(result.title), 1), *summary.blocks()]
    differences = result.group_differences
    if len(differences):
        doc.append(Heading("Differences between groups"))
        doc.append(group_differences_table(result, summary.headline_window))
        doc.append(Paragraph("Every CAR window: appendix, Differences between groups; group_differences.csv."))
    if len(result.listing_pairs) or result.pair_notes:
        doc.append(Heading("Listing pairs: home line versus ADR"))
        if len(result.listing_pairs):
            doc.append(listing_pairs_table(result, summary.headline_window))
            doc.append(Paragraph("Every CAR window: pairs.csv."))
        doc.extend(Paragraph(hide_paths(note)) for note in result.pair_notes)
    doc.extend(single_firm_blocks(result, summary.headline_window))
    doc.extend(synthetic_blocks(result, summary.headline_window))
    doc.extend(placebo_blocks(result, summary))
    doc.extend(regression_blocks(result))
    doc.extend(cross_correlation_blocks(result, output_format))

    doc.append(Heading("Figures"))
    notes = figure_notes(result, figures)
    if not figures:
        doc.append(Paragraph("No figures." if notes else "No figures: no abnormal return or CAR has a value to draw."))
    doc.extend(Paragraph(note) for note in notes)
    doc.extend(FigureRef(spec) for spec in figures)

    doc.append(Heading("Exclusions"))
    lines = summary.exclusion_lines()
    if lines:
        doc.append(Bullets(lines))
        doc.append(
            Paragraph("Each excluded firm-event with its full reason: appendix, Exclusions in detail; exclusions.csv.")
        )
    else:
        doc.append(Paragraph("None: no event, ticker or window was excluded."))

    doc.append(Heading("Settings"))
    doc.append(_text_or_none(settings_table(result), "No settings were recorded."))
    doc.append(Heading("Statistical conventions"))
    conventions = tuple(fmt_cell(c) for c in result.conventions)
    doc.append(Bullets(conventions) if conventions else Paragraph("No conventions were recorded."))

    doc.append(Heading("Data source and vintage"))
    doc.append(_text_or_none(provenance_table(result, output_format), "No price provenance was recorded."))

    doc.append(Heading("Events and day 0"))
    doc.append(_text_or_none(events_table(result), "No events."))
    doc.append(Heading("Day-0 audit", 3))
    doc.append(
        Paragraph(
            "How each event time became day 0 for each ticker: the event time in UTC and on the "
            "exchange clock, the calendar date of the news, the first trading day that can reflect it, "
            "and the rule applied."
        )
    )
    doc.append(_text_or_none(event_days_table(result, output_format), "No day-0 rows."))

    doc.append(Heading("Appendix"))
    doc.append(Heading("Exclusions in detail", 3))
    doc.append(_text_or_none(exclusions_table(result, output_format), "None: no event, ticker or window was excluded."))

    doc.append(Heading("Cumulative abnormal returns with standard errors", 3))
    car = result.car
    car_events = list(pd.unique(car["event_id"])) if "event_id" in car.columns else []
    shown = set(summary.groups["group"])  # a large study: the events at a glance
    if not car_events:
        doc.append(Paragraph("No cumulative abnormal returns were computed."))
    elif not shown.issuperset(car_events):
        n_all = len(car_events)
        car_events = [e for e in car_events if e in shown]
        doc.append(Paragraph(_omitted_events_text(len(car_events), n_all, summary.car_file)))
    for ev in car_events:
        doc.append(Heading(event_heading(result, ev), 4, anchor=f"car-{ev}"))
        doc.append(car_table(result, ev))

    doc.append(Heading("Test statistics", 3))
    groups = ordered_groups(result.tests)
    if not groups:
        doc.append(Paragraph("No tests were computed."))
    elif not shown.issuperset(groups):
        events = set(result.firm_events["event_id"])
        n_events = sum(1 for g in groups if g in events)
        groups = [g for g in groups if g in shown or g not in events]
        n_shown = sum(1 for g in groups if g in events)
        doc.append(Paragraph(_omitted_events_text(n_shown, n_events, summary.tests_file)))
    for g in groups:
        doc.append(Heading(_group_heading(result, g), 4, anchor=f"tests-{g}"))
        wt = window_tests_table(result, g)
        if wt.rows:
            doc.append(wt)
        dt = day_table(result, g)
        if dt.rows:
            doc.append(dt)
        if str(g) == "all":
            long = day_tests_table(result, g)
            if long.rows:
                doc.append(long)

    if len(differences):
        doc.append(Heading("Differences between groups, every CAR window", 3))
        doc.append(group_differences_table(result))

    doc.append(Heading("Model parameters", 3))
    doc.append(_text_or_none(parameters_table(result, output_format), "No model parameters (no event was estimated)."))
    return with_anchors(doc)
