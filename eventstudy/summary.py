"""One summary behind every view of a study: the study in one sentence, the results at a glance, CARs by firm.

:class:`Summary` is built from the tidy frames of a result only (:meth:`Summary.from_result`); ``str()``
gives one screen of text, :meth:`Summary.as_html` the notebook view and :meth:`Summary.blocks` the opening
of every report (Markdown, HTML, PDF), so all of them show the same numbers, formatted once by the rules of
:mod:`eventstudy.formatting`.

The at-a-glance table has one row per event (date, headline, firm-events and distinct firm-days, the CAAR
of every CAR window in percent with stars, the primary tests) and one per pooled group (``all`` and the
user's groups). The primary tests are chosen by the ``primary`` convention knob (``docs/methods.md`` §6.6):
with ``"auto"`` each row gets BMP t, Kolari-Pynnönen adjusted when its firm-events share calendar dates, and
GRANK t, or the exact Wilcoxon signed-rank test below
:data:`~eventstudy.conventions.PRIMARY_RANK_MIN_N` firm-events.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from eventstudy._frozen import frame_fields
from eventstudy._typing import BoolArray, FloatArray, IntArray, Window
from eventstudy.conventions import POOLING_TEXT, PRIMARY_AUTO, PRIMARY_RANK_MIN_N
from eventstudy.formatting import (
    MISSING,
    STAR_NOTE,
    fmt_date,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_pct,
    group_label,
    hide_paths,
    stars,
)
from eventstudy.inference.base import CROSS_CORRELATION_NOT_COMPUTED, REGISTRY, needs_cross_correlation
from eventstudy.outputs import OutputFormat, table_file
from eventstudy.spec import window_text

if TYPE_CHECKING:  # the report package imports this module: its blocks are imported where they are built
    from eventstudy.report._format import Block, Table

__all__ = [
    "BATTERY_LEVEL",
    "HEADLINE_WINDOW",
    "RETURN_STATISTICS",
    "SummarizableResult",
    "Summary",
    "statistic_text",
]

HEADLINE_WINDOW: Window = (-1, 1)
"""The CAR window whose primary tests the at-a-glance table shows (the first CAR window when absent)."""

RETURN_STATISTICS = frozenset({"bootstrap_caar", "permutation"})
"""Tests whose statistic is a return, shown in percent: ``bootstrap_caar`` (a CAAR or an AAR, ``tests.csv``) and
``permutation`` (a difference of mean CARs, ``group_differences.csv``)."""

BATTERY_LEVEL = 0.05
"""Level at which the at-a-glance table counts the tests of the battery that reject."""

GLANCE_MAX_EVENTS = 30
"""A study with more events shows at a glance only this many: those with the largest |CAAR| at the headline window."""
FIRM_CAR_MAX_ROWS = 100
"""A study with more firm-events lists by firm only this many: those with the largest |CAR| at the headline window."""

GROUP_COLUMNS = ("group", "kind", "date", "headline", "firm_events", "firm_days", "pooled")
CAAR_COLUMNS = ("group", "window_start", "window_end", "n", "caar")
PRIMARY_COLUMNS = (
    "group",
    "window_start",
    "window_end",
    "slot",
    "test",
    "statistic",
    "p_value",
    "distribution",
    "n",
    "reason",
)
BATTERY_COLUMNS = ("group", "window_start", "window_end", "tests", "rejecting")
FIRM_CAR_COLUMNS = (
    "event_id",
    "ticker",
    "day_zero",
    "duplicate_of",
    "overlaps",
    "window_start",
    "window_end",
    "car",
    "p_value",
)
EXCLUSION_SUMMARY_COLUMNS = ("stage", "reason", "firm_events", "events", "tickers")

TEXT_WIDTH = 120
"""Target width of :meth:`Summary.__str__` in characters."""
SCREEN_LINES = 60
"""Height of :meth:`Summary.__str__` in lines (the CARs by firm are cut to fit)."""
TEXT_ID_WIDTH = 24
"""Event ids longer than this are cut (with ``...``) in the text view; the reports show them whole."""

SHORT_LABELS = {
    "bmp_t": "BMP t",
    "kp_bmp_t": "KP-BMP t",
    "grank_t": "GRANK t",
    "grank_z": "GRANK z",
    "wilcoxon": "Wilcoxon",
    "cross_sectional_t": "CS t",
    "patell_z": "Patell z",
    "kp_patell_z": "KP-Patell z",
    "sign": "sign z",
    "generalized_sign": "gen. sign z",
    "bootstrap_caar": "bootstrap CAAR",
    "wild_bootstrap_bmp": "wild-bootstrap BMP",
}
"""Short test labels for the headers of the at-a-glance table (the notes give the full labels)."""


class SummarizableResult(Protocol):
    """The frames and display settings a summary reads (see ``eventstudy.results.StudyResult``)."""

    @property
    def car(self) -> pd.DataFrame:
        """CAR per firm-event and window (``car.csv``)."""
        ...

    @property
    def tests(self) -> pd.DataFrame:
        """Test statistics (``tests.csv``)."""
        ...

    @property
    def firm_events(self) -> pd.DataFrame:
        """The estimated firm-events: event_id, ticker, day_zero, group, duplicate_of, overlaps, pooled."""
        ...

    @property
    def abnormal_returns(self) -> pd.DataFrame:
        """Daily abnormal returns (``abnormal_returns.csv``)."""
        ...

    @property
    def event_days(self) -> pd.DataFrame:
        """The day-0 audit (``event_days.csv``)."""
        ...

    @property
    def exclusions(self) -> pd.DataFrame:
        """What was left out, and why (``exclusions.csv``)."""
        ...

    @property
    def events(self) -> pd.DataFrame:
        """The events (event_id, date, headline, ...)."""
        ...

    @property
    def settings(self) -> Mapping[str, Any]:
        """Every setting as display text (``knob: <name>`` for each convention knob)."""
        ...

    @property
    def title(self) -> str:
        """The study's title."""
        ...


# ----------------------------------------------------------------------------------------------------
# Cell text shared with the test tables of the reports
# ----------------------------------------------------------------------------------------------------


def test_label(test: object) -> str:
    """The registered label of a test (``"kp_bmp_t"`` -> ``"KP-adjusted BMP t"``), or the name itself."""
    found = REGISTRY.get(str(test))
    return found.label if found is not None else str(test)


def short_label(test: object) -> str:
    """A short label for table headers (``"kp_bmp_t"`` -> ``"KP-BMP t"``); :func:`test_label` otherwise."""
    return SHORT_LABELS.get(str(test), test_label(test))


def statistic_text(test: object, statistic: object) -> str:
    """A test statistic in its unit: a return in percent, Wilcoxon's W+ as ``W+ 12``, else 3 decimals.

    Parameters
    ----------
    test
        Registered test name; :data:`RETURN_STATISTICS` are returns (shown with :func:`fmt_pct`).
    statistic
        The value (NaN gives ``"n/a"``).

    Examples
    --------
    >>> statistic_text("bootstrap_caar", -0.0266)
    '-2.66%'
    >>> statistic_text("wilcoxon", 3.0)
    'W+ 3'
    """
    name = str(test)
    if name in RETURN_STATISTICS:
        return fmt_pct(statistic)
    if name == "wilcoxon":
        value = fmt_num(statistic, 1)
        return value if value == MISSING else "W+ " + value.removesuffix(".0")
    return fmt_num(statistic, 3)


def primary_cell(test: object, statistic: object, p_value: object, distribution: object, *, tag: bool) -> str:
    """A primary test as one cell: ``statistic (p-value)``; Wilcoxon adds its reference (``exact``/``normal``).

    With ``tag``, the test's short label comes first (columns that hold more than one test). A missing
    statistic gives ``"n/a"``.

    Examples
    --------
    >>> primary_cell("wilcoxon", 0.0, 0.0625, "exact signed-rank", tag=False)
    'W+ 0 (0.0625, exact)'
    >>> primary_cell("grank_t", -4.6837, 4.7e-06, "t(239)", tag=True)
    'GRANK t -4.684 (<0.0001)'
    """
    text = statistic_text(test, statistic)
    if text == MISSING:
        return MISSING
    if str(test) == "wilcoxon":
        reference = "exact" if str(distribution).startswith("exact") else "normal"
        return f"{text} ({fmt_p(p_value)}, {reference})"
    text = f"{text} ({fmt_p(p_value)})"
    return f"{short_label(test)} {text}" if tag else text


# ----------------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------------


def _windows(frame: pd.DataFrame) -> list[Window]:
    return [(int(a), int(b)) for a, b in frame[["window_start", "window_end"]].drop_duplicates().to_numpy()]


def _top(size: FloatArray, limit: int) -> IntArray:
    """Positions of the ``limit`` largest ``size`` values, ascending (NaN last; ties: the first position first).

    Every position when there are at most ``limit``.
    """
    if len(size) <= limit:
        return np.arange(len(size))
    order = np.argsort(-np.nan_to_num(size, nan=-1.0), kind="stable")
    return np.sort(order[:limit])


def _event_tests_note(untested: int, n_events: int, rule: str) -> str:
    """The note on events without tests of their own (``""`` when there are none)."""
    if not untested:
        return ""
    return (
        f"{fmt_int(untested)} of {fmt_int(n_events)} events have no tests of their own (per-event tests: {rule}); "
        "their firm-events count in the pooled rows, and a single firm-event's own t is in the CARs by firm."
    )


def _firm_events(result: SummarizableResult) -> pd.DataFrame:
    """``result.firm_events`` with day 0 as a date and the text columns without missing values."""
    firm = result.firm_events
    firm["day_zero"] = pd.to_datetime(firm["day_zero"]).dt.normalize()
    for column in ("group", "duplicate_of", "overlaps"):
        firm[column] = firm[column].fillna("").astype(str) if column in firm.columns else ""
    firm["pooled"] = firm["pooled"].astype(bool) if "pooled" in firm.columns else True
    return firm.reset_index(drop=True)


def _pair_positions(firm: pd.DataFrame, frame: pd.DataFrame) -> IntArray:
    """The row of ``firm`` with the (event_id, ticker) of each row of ``frame``; -1 where it has none.

    ``firm`` has one row per firm-event (unique pairs). The text columns are factorized together with
    ``firm``'s and matched as integer keys, so no frame of ``frame``'s length is merged.
    """
    n = len(firm)
    key = np.zeros(n + len(frame), dtype=np.int64)
    missing = np.zeros(n + len(frame), dtype=bool)
    for column in ("event_id", "ticker"):
        codes, labels = pd.factorize(pd.concat([firm[column], frame[column]], ignore_index=True))
        key = key * max(len(labels), 1) + codes
        missing |= codes < 0
    key[missing] = -1
    return np.asarray(pd.Index(key[:n]).get_indexer(pd.Index(key[n:])), dtype=np.int64)


@dataclass(frozen=True)
class _Layers:
    """Which summary group each firm-event belongs to, one layer at a time (-1: none in that layer).

    Summary groups are numbered as the at-a-glance rows: the events in display order, then ``all``, then
    the user's groups. A firm-event belongs to its event in both views; to ``all`` and its user group for
    every count (``every``) but, in the statistics, only when pooled (``members``, the ``pooling`` knob).
    """

    every: tuple[IntArray, ...]
    members: tuple[IntArray, ...]
    n_groups: int

    @classmethod
    def build(cls, event_group: IntArray, n_events: int, firm: pd.DataFrame, user_groups: Sequence[str]) -> _Layers:
        """Layers of ``firm``; ``event_group`` is the row of each firm-event's event among ``n_events``."""
        all_rows = np.full(len(firm), n_events, dtype=np.int64)
        user = (
            pd.Index(np.asarray(list(user_groups), dtype=object)).get_indexer(pd.Index(firm["group"])).astype(np.int64)
        )
        user = np.where(user >= 0, user + n_events + 1, -1)
        pooled = firm["pooled"].to_numpy(dtype=bool)
        return cls(
            every=(event_group, all_rows, user),
            members=(event_group, np.where(pooled, all_rows, -1), np.where(pooled, user, -1)),
            n_groups=n_events + 1 + len(user_groups),
        )

    def counts(self, layers: tuple[IntArray, ...]) -> IntArray:
        """Firm-events per group."""
        return np.asarray(sum(np.bincount(g[g >= 0], minlength=self.n_groups) for g in layers), dtype=np.int64)

    def distinct(self, layers: tuple[IntArray, ...], codes: IntArray) -> IntArray:
        """Distinct ``codes`` (one per firm-event, >= 0) per group."""
        size = int(codes.max()) + 1 if len(codes) else 1
        out = np.zeros(self.n_groups, dtype=np.int64)
        for g in layers:
            keys = pd.unique(g[g >= 0] * size + codes[g >= 0])
            out += np.bincount(keys // size, minlength=self.n_groups)
        return out

    def shared(self, rows: IntArray, dates: IntArray) -> BoolArray:
        """Per group: whether two of its member firm-events have a row on a common date.

        ``rows`` (firm rows) and ``dates`` (date codes) list the (firm-event, date) pairs with a value.
        """
        n_dates = int(dates.max()) + 1 if len(dates) else 1
        pairs = pd.unique(rows * n_dates + dates)
        rows, dates = pairs // n_dates, pairs % n_dates
        out = np.zeros(self.n_groups, dtype=bool)
        for g in self.members:
            group = g[rows]
            keep = group >= 0
            keys = group[keep] * n_dates + dates[keep]
            out[group[keep][pd.Series(keys).duplicated().to_numpy()]] = True
        return out

    def means(self, values: FloatArray) -> tuple[IntArray, FloatArray]:
        """(n, mean) of the finite values per group and column of ``values`` (firm-events x columns).

        Means are pandas group means over the members in firm-event order (as a group-by of a long frame).
        """
        n_columns = values.shape[1]
        keys, taken = [], []
        for g in self.members:
            rows = np.flatnonzero(g >= 0)
            keys.append((g[rows][:, None] * n_columns + np.arange(n_columns)).ravel())
            taken.append(values[rows].ravel())
        key, value = np.concatenate(keys), np.concatenate(taken)
        finite = np.isfinite(value)
        stats = pd.Series(value[finite]).groupby(key[finite]).agg(["size", "mean"])
        n = np.zeros(self.n_groups * n_columns, dtype=np.int64)
        mean = np.full(self.n_groups * n_columns, np.nan)
        at = stats.index.to_numpy(dtype=np.int64)
        n[at], mean[at] = stats["size"].to_numpy(dtype=np.int64), stats["mean"].to_numpy(dtype=np.float64)
        return n.reshape(self.n_groups, n_columns), mean.reshape(self.n_groups, n_columns)


def _car_matrix(car: pd.DataFrame, positions: IntArray, n_firm: int, windows: Sequence[Window]) -> FloatArray:
    """CAR per firm-event (rows of ``firm``) and window: NaN where ``car`` has no value."""
    out = np.full((n_firm, len(windows)), np.nan)
    starts, ends = car["window_start"].to_numpy(), car["window_end"].to_numpy()
    values = car["car"].to_numpy(dtype=np.float64)
    for k, (a, b) in enumerate(windows):
        at = (starts == a) & (ends == b) & (positions >= 0)
        out[positions[at], k] = values[at]
    return out


def _auto_slots(shares_dates: bool, grank_n: float, present: set[str]) -> list[str]:
    """The ``primary = "auto"`` choice for one group (``docs/methods.md`` §6.6), among the tests run.

    ``grank_n`` is the n of the group's GRANK t at the headline window (NaN without one).
    """
    parametric = [t for t in (("kp_bmp_t", "bmp_t") if shares_dates else ("bmp_t", "kp_bmp_t")) if t in present]
    n = int(grank_n) if np.isfinite(grank_n) else 0
    rank_order = ("grank_t", "wilcoxon") if n >= PRIMARY_RANK_MIN_N else ("wilcoxon", "grank_t")
    rank = [t for t in rank_order if t in present]
    return [*parametric[:1], *rank[:1]]


def _exclusion_summary(exclusions: pd.DataFrame) -> pd.DataFrame:
    """One row per (stage, kind of reason; :func:`eventstudy.results.exclusion_kinds`): counts and tickers."""
    from eventstudy.results import exclusion_kinds

    if not len(exclusions):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EXCLUSION_SUMMARY_COLUMNS})
    codes, kinds = pd.factorize(exclusion_kinds(exclusions["reason"].fillna("")))
    shown = np.asarray([hide_paths(k) for k in kinds], dtype=object)  # once per kind, not per row
    frame = exclusions.assign(
        ticker=exclusions["ticker"].fillna("").astype(str),
        stage=exclusions["stage"].fillna("").astype(str),
        reason=shown[codes],
    )
    out = (
        frame.groupby(["stage", "reason"], sort=False)
        .agg(
            firm_events=("ticker", "size"),
            events=("event_id", "nunique"),
            tickers=("ticker", lambda s: ", ".join(t for t in pd.unique(s) if t)),
        )
        .reset_index()
    )
    return out.sort_values("firm_events", ascending=False, kind="stable").reset_index(drop=True)


@frame_fields("groups", "caar", "primary", "battery", "firm_car", "exclusions")
@dataclass(frozen=True, eq=False)
class Summary:
    """The summary of a study, from its tidy frames (statsmodels/linearmodels style).

    ``str(summary)`` is one screen of text, :meth:`as_html` the notebook view, :meth:`blocks` the opening
    of every report; :attr:`glance` is the at-a-glance table as numbers (the XLSX sheet).

    Attributes
    ----------
    title
        The study's title.
    sentence
        The study in one sentence: events, firm-events estimated and excluded, distinct firm-days, model,
        convention profile.
    windows
        The CAR windows, in the order of ``car.csv``.
    headline_window
        The window whose primary tests the at-a-glance table shows: :data:`HEADLINE_WINDOW` when it is a
        CAR window, else the first.
    primary_rule
        The ``primary`` knob (``"auto"`` or test names).
    groups
        One row per at-a-glance row: group (event id, ``"all"`` or a user group), kind (``"event"`` or
        ``"pooled"``), date, headline, firm_events (estimated), firm_days (distinct (ticker, day 0)), pooled
        (the firm-events that enter the row's CAAR and tests: all of an event's; for pooled rows those of
        ``firm_events.pooled``, the ``pooling`` knob).
    caar
        group, window_start, window_end, n (firm-events with a CAR in the window), caar (their mean CAR, a
        fraction). Pooled groups follow the ``pooling`` rule (the rows that enter the group's tests).
    primary
        The primary tests of every group and CAR window: group, window, slot (1 drives the stars), test,
        statistic, p_value, distribution, n, reason (rows of ``tests.csv``).
    battery
        group, window, tests (window-scope tests with a p-value) and rejecting (those with p <
        :data:`BATTERY_LEVEL`).
    firm_car
        event_id, ticker, day_zero, window_start, window_end, car, p_value (the single-event t's).
    exclusions
        One row per exclusion stage and reason: stage, reason (tickers, paths and dates taken out),
        firm_events, events, tickers.
    pooling_note
        How many firm-events each pooled row pools when it pools fewer than it has, or ``""``.
    pooling_rule
        The ``pooling`` rule in words (``eventstudy.conventions.POOLING_TEXT``), or ``""``.
    events_total, firm_events_total
        The events and estimated firm-events of the study. Above :data:`GLANCE_MAX_EVENTS` events, ``groups``
        (and ``caar``, ``primary``, ``battery``) hold only the events with the largest |CAAR| at the headline
        window, in events-file order, and the pooled rows; above :data:`FIRM_CAR_MAX_ROWS` firm-events,
        ``firm_car`` holds only those with the largest |CAR| there. The tables say how many are left out.
    car_file, tests_file
        Where every firm-event's CARs and every event's tests are: the tables written with the result
        (``car.csv`` or, for a large study, the Parquet folder ``car.parquet/``;
        :func:`eventstudy.outputs.table_file`).
    cross_correlation_note
        :data:`~eventstudy.inference.base.CROSS_CORRELATION_NOT_COMPUTED` when the study's tests
        (``result.settings["tests"]``) include no Kolari-Pynnönen test, so that it has no r̄ table; else ``""``.
    event_tests_note
        How many estimated events have no test rows of their own, and why (the ``per-event tests`` setting,
        :func:`eventstudy.spec.resolve_event_tests`); ``""`` when every event has them.
    """

    title: str
    sentence: str
    windows: tuple[Window, ...]
    headline_window: Window
    primary_rule: str
    groups: pd.DataFrame
    caar: pd.DataFrame
    primary: pd.DataFrame
    battery: pd.DataFrame
    firm_car: pd.DataFrame
    exclusions: pd.DataFrame
    pooling_note: str = ""
    pooling_rule: str = ""
    events_total: int = 0
    firm_events_total: int = 0
    car_file: str = "car.csv"
    tests_file: str = "tests.csv"
    cross_correlation_note: str = ""
    event_tests_note: str = ""

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_result(cls, result: SummarizableResult, output_format: OutputFormat = "auto") -> Summary:
        """Summarize a study result from its tidy frames (no number is computed twice).

        Parameters
        ----------
        result
            A study result (duck-typed, :class:`SummarizableResult`); the ``primary`` knob is read from
            ``result.settings["knob: primary"]`` (``"auto"`` when absent), the pooling rule from
            ``"knob: pooling"``.
        output_format
            How the tables were written (:func:`eventstudy.outputs.write_tables`), so that the notes name the
            files that hold every row (``car.csv`` or ``car.parquet/``).

        Returns
        -------
        Summary
        """
        settings = dict(result.settings)
        car, tests, events = result.car, result.tests, result.events
        firm = _firm_events(result)
        windows = tuple(_windows(car)) if len(car) else tuple(_windows(tests[tests["scope"] == "window"]))
        headline = HEADLINE_WINDOW if HEADLINE_WINDOW in windows or not windows else windows[0]

        # events in events-file order, then those the file does not list (in firm-event order)
        event_code, event_ids = pd.factorize(firm["event_id"])
        n_events = len(event_ids)
        listed = pd.Index(event_ids).get_indexer(pd.unique(events["event_id"]))
        listed = listed[listed >= 0]
        unlisted = np.ones(n_events, dtype=bool)
        unlisted[listed] = False
        display = np.concatenate([listed, np.flatnonzero(unlisted)]).astype(np.int64)
        event_group = np.empty(n_events, dtype=np.int64)
        event_group[display] = np.arange(n_events)
        named = pd.Index(pd.unique(tests["group"]) if len(tests) else [], dtype=object)
        tested_events = named.isin(event_ids)  # (an Arrow text column's isin is slow for many values)
        user_groups = list(named[~tested_events & (named != "all")])
        layers = _Layers.build(event_group[event_code], n_events, firm, user_groups)

        # counts per group; firm-days: distinct (ticker, day 0)
        ticker_code, _ = pd.factorize(firm["ticker"], use_na_sentinel=False)
        day_code, _ = pd.factorize(firm["day_zero"], use_na_sentinel=False)
        firm_events = layers.counts(layers.every)
        firm_days = layers.distinct(layers.every, ticker_code * max(int(day_code.max(initial=0)) + 1, 1) + day_code)
        pooled = layers.counts(layers.members)

        # CAAR per group and window over the firm-events that enter the group's statistics
        car_rows = _pair_positions(firm, car)
        cars = _car_matrix(car, car_rows, len(firm), windows)
        n_car, caar = layers.means(cars)
        h = windows.index(headline) if headline in windows else None
        excluded = result.exclusions[["event_id", "ticker"]].drop_duplicates()
        sentence = _sentence(
            result,
            settings,
            n_events,
            int(firm_events[n_events]),
            int(firm_days[n_events]),
            int((_pair_positions(firm, excluded) < 0).sum()),
        )

        # a large study: at a glance only the events with the largest |CAAR| (every number stays in the tables)
        size = np.abs(caar[:n_events, h]) if h is not None else np.full(n_events, np.nan)
        shown = _top(size, GLANCE_MAX_EVENTS)
        rows = np.concatenate([shown, np.arange(n_events, layers.n_groups)])
        event_order = list(event_ids[display[shown]])
        order = [*event_order, "all", *user_groups]

        info = events[events["event_id"].isin(event_order)].drop_duplicates("event_id").set_index("event_id")
        n_pooled = len(order) - len(event_order)
        groups = pd.DataFrame(
            {
                "group": order,
                "kind": ["event"] * len(event_order) + ["pooled"] * n_pooled,
                "date": pd.to_datetime(info["date"].reindex(event_order).tolist() + [pd.NaT] * n_pooled)
                if "date" in info
                else pd.NaT,
                "headline": info["headline"].reindex(event_order).fillna("").astype(str).tolist() + [""] * n_pooled
                if "headline" in info
                else "",
                "firm_events": firm_events[rows],
                "firm_days": firm_days[rows],
                "pooled": pooled[rows],
            }
        )
        grid = pd.DataFrame(
            {
                "group": np.repeat(np.asarray(order, dtype=object), len(windows)),
                "window_start": np.tile(np.asarray([a for a, _ in windows], dtype=np.int64), len(order)),
                "window_end": np.tile(np.asarray([b for _, b in windows], dtype=np.int64), len(order)),
            }
        )
        caar_frame = grid.assign(n=n_car[rows].ravel(), caar=caar[rows].ravel())

        # primary tests
        rule = str(settings.get("knob: primary", PRIMARY_AUTO))
        present = set(tests["test"]) if len(tests) else set()
        shown_tests = tests[tests["group"].isin(order)] if len(tests) else tests
        if rule == PRIMARY_AUTO:
            ab = result.abnormal_returns
            ab = ab[ab["abnormal_return"].notna()]
            date_code, _ = pd.factorize(ab["date"])
            dated = date_code >= 0
            ab_rows = _pair_positions(firm, ab)
            keep = dated & (ab_rows >= 0)
            shared = layers.shared(ab_rows[keep], date_code[keep])[rows]
            at = shown_tests[
                (shown_tests["test"] == "grank_t")
                & (shown_tests["window_start"] == headline[0])
                & (shown_tests["window_end"] == headline[1])
            ]
            grank_n = at.groupby("group", sort=False)["n"].max() if len(at) else pd.Series(dtype=np.float64)
            slots = {
                g: _auto_slots(bool(s), float(grank_n.get(g, np.nan)), present)
                for g, s in zip(order, shared, strict=True)
            }
        else:
            slots = {g: [n.strip() for n in rule.split(",")] for g in order}
        chosen = pd.DataFrame(
            [(g, k + 1, name) for g, names in slots.items() for k, name in enumerate(names)],
            columns=["group", "slot", "test"],
        )
        window_tests = shown_tests[shown_tests["scope"] == "window"] if len(tests) else tests
        primary = chosen.merge(grid, on="group").merge(
            window_tests[
                ["group", "window_start", "window_end", "test", "statistic", "p_value", "distribution", "n", "reason"]
            ],
            on=["group", "window_start", "window_end", "test"],
            how="left",
        )
        primary = primary[list(PRIMARY_COLUMNS)]

        # the battery at BATTERY_LEVEL
        finite = window_tests[np.isfinite(window_tests["p_value"].to_numpy(dtype=np.float64))]
        battery = (
            finite.assign(rejecting=finite["p_value"] < BATTERY_LEVEL)
            .groupby(["group", "window_start", "window_end"], sort=False)["rejecting"]
            .agg(tests="size", rejecting="sum")
            .reset_index()
        )
        battery = grid.merge(battery, on=["group", "window_start", "window_end"], how="left")
        battery[["tests", "rejecting"]] = battery[["tests", "rejecting"]].fillna(0).astype(np.int64)

        # by firm: the firm-events with the largest |CAR| at the headline window, each with its car rows
        with_car = np.flatnonzero(np.bincount(car_rows[car_rows >= 0], minlength=len(firm)) > 0)
        size = np.abs(cars[with_car, h]) if h is not None else np.full(len(with_car), np.nan)
        chosen_rows = with_car[_top(size, FIRM_CAR_MAX_ROWS)]
        picked = np.flatnonzero(np.isin(car_rows, chosen_rows))
        picked = picked[np.argsort(car_rows[picked], kind="stable")]
        firm_car = pd.concat(
            [
                firm[["event_id", "ticker", "day_zero", "duplicate_of", "overlaps"]]
                .iloc[car_rows[picked]]
                .reset_index(drop=True),
                car[["window_start", "window_end", "car", "p_value"]].iloc[picked].reset_index(drop=True),
            ],
            axis=1,
        )

        pooling = str(settings.get("knob: pooling", ""))
        shrunk = groups[(groups["kind"] == "pooled") & (groups["pooled"] < groups["firm_events"])]
        pooling_note = ""
        if len(shrunk):
            counts_text = "; ".join(
                f"{group_label(r.group).capitalize()}: {r.pooled} of {r.firm_events} firm-events pooled"
                for r in shrunk.itertuples(index=False)
            )
            pooling_note = f"{counts_text}."
        tested = tuple(name for name in str(settings.get("tests", "")).split(", ") if name in REGISTRY)
        untested = n_events - int(tested_events.sum())

        return cls(
            title=str(result.title),
            sentence=sentence,
            windows=windows,
            headline_window=headline,
            primary_rule=rule,
            groups=groups[list(GROUP_COLUMNS)],
            caar=caar_frame[list(CAAR_COLUMNS)],
            primary=primary,
            battery=battery[list(BATTERY_COLUMNS)],
            firm_car=firm_car[list(FIRM_CAR_COLUMNS)],
            exclusions=_exclusion_summary(result.exclusions),
            pooling_note=pooling_note,
            pooling_rule=POOLING_TEXT.get(pooling, ""),
            events_total=n_events,
            firm_events_total=len(firm),
            car_file=table_file("car", len(car), output_format),
            tests_file=table_file("tests", len(tests), output_format),
            cross_correlation_note=CROSS_CORRELATION_NOT_COMPUTED
            if tested and not needs_cross_correlation(tested)
            else "",
            event_tests_note=_event_tests_note(untested, n_events, settings.get("per-event tests", "")),
        )

    # ------------------------------------------------------------------ numbers
    @property
    def glance(self) -> pd.DataFrame:
        """The at-a-glance table as numbers: one row per event and pooled group.

        Columns: group, kind, date, headline, firm_events, firm_days, pooled; ``CAAR [a, b]`` (a fraction)
        and ``p [a, b]`` (the first primary test's p-value, which sets the stars) per CAR window; for the
        headline window, per primary test k, ``test k``, ``statistic k`` (a return for
        :data:`RETURN_STATISTICS`) and ``p-value k``; ``tests`` and ``rejecting at 5%`` of the battery.
        """
        frame = self.groups
        groups = frame["group"].tolist()
        caar = _lookup(self.caar, ("group", "window_start", "window_end"), "caar")
        first = _lookup(self.primary[self.primary["slot"] == 1], ("group", "window_start", "window_end"), "p_value")
        for a, b in self.windows:
            name = window_text((a, b))
            frame[f"CAAR {name}"] = [caar.get((g, a, b), np.nan) for g in groups]
            frame[f"p {name}"] = [first.get((g, a, b), np.nan) for g in groups]
        head = self._at_headline(self.primary)
        for slot in self._slot_tests():
            cells = head[head["slot"] == slot]
            for column, key in (("test", "test"), ("statistic", "statistic"), ("p-value", "p_value")):
                values = _lookup(cells, ("group",), key)
                frame[f"{column} {slot}"] = [values.get((g,), None if key == "test" else np.nan) for g in groups]
        battery = self._at_headline(self.battery)
        for column, key in (("tests", "tests"), (f"rejecting at {BATTERY_LEVEL:.0%}", "rejecting")):
            values = _lookup(battery, ("group",), key)
            frame[column] = [values.get((g,), 0) for g in groups]
        return frame

    def _at_headline(self, frame: pd.DataFrame) -> pd.DataFrame:
        a, b = self.headline_window
        return frame[(frame["window_start"] == a) & (frame["window_end"] == b)]

    # ------------------------------------------------------------------ tables
    def _slot_tests(self) -> dict[int, list[str]]:
        head = self._at_headline(self.primary)
        return {int(s): list(pd.unique(head.loc[head["slot"] == s, "test"])) for s in sorted(pd.unique(head["slot"]))}

    def _first_labels(self) -> str:
        return " / ".join(test_label(t) for t in self._slot_tests().get(1, []))

    def glance_table(self, *, compact: bool = False) -> Table:
        """The at-a-glance table, formatted.

        Columns: event (id, or the pooled group's label), date, headline, firm-events, firm-days (distinct
        (ticker, day 0)), the CAAR of each CAR window in percent with stars, each primary test at the headline
        window as ``statistic (p-value)``, and the battery (tests rejecting at 5 % / tests with a p-value).
        ``compact`` (the text view) leaves out the headline, cuts long ids, writes ``n`` as ``firm-events
        (firm-days)`` when they differ, and leaves the windows out of the test headers.
        """
        from eventstudy.report._format import Table

        caar = _lookup(self.caar, ("group", "window_start", "window_end"), "caar")
        first = _lookup(self.primary[self.primary["slot"] == 1], ("group", "window_start", "window_end"), "p_value")
        slot_tests = self._slot_tests()
        head = {(r["group"], r["slot"]): r for r in self._at_headline(self.primary).to_dict("records")}
        battery = {r["group"]: r for r in self._at_headline(self.battery).to_dict("records")}
        rows = []
        for g in self.groups.to_dict("records"):
            group = g["group"]
            label = str(group) if g["kind"] == "event" else group_label(group)
            row = [_cut(label) if compact else label, fmt_date(g["date"])]
            if compact:
                n = fmt_int(g["firm_events"])
                row.append(n if g["firm_days"] == g["firm_events"] else f"{n} ({fmt_int(g['firm_days'])})")
            else:
                row += [str(g["headline"]), fmt_int(g["firm_events"]), fmt_int(g["firm_days"])]
            for a, b in self.windows:
                value = float(caar.get((group, a, b), np.nan))
                row.append(fmt_pct(value) + stars(first.get((group, a, b))) if np.isfinite(value) else MISSING)
            for slot, names in slot_tests.items():
                cell = head.get((group, slot))
                row.append(
                    MISSING
                    if cell is None
                    else primary_cell(
                        cell["test"], cell["statistic"], cell["p_value"], cell["distribution"], tag=len(names) > 1
                    )
                )
            counts = battery.get(group)
            row.append(f"{counts['rejecting']}/{counts['tests']}" if counts and counts["tests"] else MISSING)
            rows.append(tuple(row))
        window = "" if compact else f" {window_text(self.headline_window)}"
        columns = ["event", "date"] + (["n"] if compact else ["headline", "firm-events", "firm-days"])
        columns += [("" if compact else "CAAR ") + window_text(w) for w in self.windows]
        columns += [" / ".join(short_label(t) for t in names) + window for names in slot_tests.values()]
        columns.append("battery" + window)
        n_text = len(columns) - len(self.windows) - len(slot_tests) - 1
        align = ("l",) * (n_text - (1 if compact else 2)) + ("r",) * (len(columns) - n_text + (1 if compact else 2))
        wrap = (0,) * (n_text + len(self.windows)) + (26,) * len(slot_tests) + (0,)
        if not compact:
            wrap = (0, 0, 48) + wrap[3:]
        return Table(tuple(columns), tuple(rows), align, notes=self._glance_notes(compact=compact), wrap=wrap)

    def _glance_notes(self, *, compact: bool) -> tuple[str, ...]:
        first = self._first_labels()
        notes = [
            "CAAR: mean CAR of the row's firm-events with a CAR in the window, in percent; "
            + (
                "n = firm-events estimated (in brackets the distinct firm-days (ticker, day 0) when fewer)."
                if compact
                else "firm-days = distinct (ticker, day 0) among the firm-events."
            ),
            f"Stars from {first or 'the first primary test'} of the same row and window; "
            + STAR_NOTE.removeprefix("sig: "),
        ]
        if self.pooling_note:
            notes.append(self.pooling_note + ("" if compact else f" {self.pooling_rule}"))
        n_events = int((self.groups["kind"] == "event").sum())
        if n_events < self.events_total:
            window = window_text(self.headline_window)
            omitted = fmt_int(self.events_total - n_events)
            notes.append(
                f"{fmt_int(n_events)} of {fmt_int(self.events_total)} events shown ({omitted} omitted): those with "
                f"the largest |CAAR| over {window}; every event: {self.car_file} and {self.tests_file}."
            )
        used = {str(t) for names in self._slot_tests().values() for t in names}
        units = []
        if used & RETURN_STATISTICS:
            units.append("a statistic that is a return (event bootstrap CAAR) is in percent")
        if "wilcoxon" in used:
            units.append(
                "W+ is the sum of the ranks of the positive CARs, referred to its exact null distribution when "
                "marked exact"
            )
        notes.append(
            f"Primary tests at {window_text(self.headline_window)}: statistic (two-sided p-value)"
            + (f"; {'; '.join(units)}" if units else "")
            + f". Last column: tests of the battery rejecting at {BATTERY_LEVEL:.0%} / tests with a p-value."
        )
        if self.cross_correlation_note:
            notes.append(f"{self.cross_correlation_note}.")
        if self.event_tests_note:
            notes.append(self.event_tests_note)
        return tuple(notes)

    def primary_text(self) -> str:
        """Which tests are primary, and why (one or two sentences)."""
        if self.primary_rule != PRIMARY_AUTO:
            names = ", ".join(f"{test_label(t)} ({t})" for t in self.primary_rule.split(","))
            return (
                f"Primary tests, chosen with the primary knob: {names}. Every other test is in the appendix and "
                "tests.csv."
            )
        return (
            "Primary tests: BMP t (Boehmer, Musumeci and Poulsen 1991), robust to event-induced variance, in its "
            "Kolari-Pynnönen (2010) adjusted form where the row's firm-events share calendar dates "
            "(cross-correlated abnormal returns); and GRANK t (Kolari and Pynnönen 2011), a rank test robust to "
            f"both, or below {PRIMARY_RANK_MIN_N} firm-events the Wilcoxon signed-rank test with its exact null. "
            "Choose others with --primary (knob primary); every test is in the appendix and tests.csv."
        )

    def battery_note(self) -> str:
        """One line on whether the whole battery agrees with the first primary test at 5 % (headline window)."""
        first = {r["group"]: r for r in self._at_headline(self.primary[self.primary["slot"] == 1]).to_dict("records")}
        battery = {r["group"]: r for r in self._at_headline(self.battery).to_dict("records")}
        window = window_text(self.headline_window)
        odd = []
        for g in self.groups["group"]:
            cell, counts = first.get(g), battery.get(g)
            if cell is None or counts is None or not counts["tests"] or not np.isfinite(cell["p_value"]):
                continue
            rejects = cell["p_value"] < BATTERY_LEVEL
            k, m = int(counts["rejecting"]), int(counts["tests"])
            if (rejects and 2 * k < m) or (not rejects and 2 * k > m):
                odd.append(
                    f"{group_label(g)} ({k} of {m} reject; {test_label(cell['test'])} p = {fmt_p(cell['p_value'])})"
                )
        if not odd:
            return (
                f"The battery agrees: in every row the majority of the tests at {window} takes the first primary "
                f"test's side at {BATTERY_LEVEL:.0%}."
            )
        return (
            f"The battery disagrees with the first primary test at {window} (majority of the tests on the other "
            f"side of {BATTERY_LEVEL:.0%}): " + "; ".join(odd) + "."
        )

    def car_table(self, *, compact: bool = False) -> Table:
        """CARs by firm: one row per firm-event, the CAR of each window in percent with single-event stars.

        A last column flags firm-events that share their (ticker, day 0) with another event's firm-event or
        whose event window holds another event's day 0 of the same ticker (``firm_events.duplicate_of``,
        ``overlaps``): in words in the reports, as ``dup``/``ovl`` in the ``compact`` text view.
        """
        from eventstudy.report._format import Table

        frame = self.firm_car
        columns = ["event", "ticker", "day 0", *(f"CAR {window_text(w)}" for w in self.windows)]
        if not len(frame) or not self.windows:
            return Table(tuple(columns), (), ("l", "l", "l") + ("r",) * len(self.windows))
        cells = [
            fmt_pct(c) + stars(p) if np.isfinite(c) else MISSING
            for c, p in zip(frame["car"].to_numpy(dtype=np.float64), frame["p_value"], strict=True)
        ]
        keys = frame.drop_duplicates(["event_id", "ticker"]).reset_index(drop=True)
        wide = (
            frame.assign(_cell=cells)
            .pivot(index=["event_id", "ticker"], columns=["window_start", "window_end"], values="_cell")
            .reindex(
                index=pd.MultiIndex.from_frame(keys[["event_id", "ticker"]]),
                columns=pd.MultiIndex.from_tuples(self.windows, names=["window_start", "window_end"]),
            )
            .fillna(MISSING)
        )
        if compact:
            flags = [
                " ".join(f for f, on in (("dup", bool(d)), ("ovl", bool(o))) if on)
                for d, o in zip(keys["duplicate_of"], keys["overlaps"], strict=True)
            ]
        else:
            flags = [
                "; ".join(
                    part
                    for part in (f"same firm-day as {d}" if d else "", f"other events in the window: {o}" if o else "")
                    if part
                )
                for d, o in zip(keys["duplicate_of"], keys["overlaps"], strict=True)
            ]
        ids = [_cut(str(e)) if compact else str(e) for e in keys["event_id"]]
        dates = [fmt_date(d) for d in keys["day_zero"]]
        rows = [
            (ev, str(tk), day, *cars, *((flag,) if any(flags) else ()))
            for ev, tk, day, cars, flag in zip(
                ids, keys["ticker"], dates, wide.itertuples(index=False, name=None), flags, strict=True
            )
        ]
        notes = [
            "CAR in percent; stars from the single-event t (exact CAR variance, t(M - k)); "
            + STAR_NOTE.removeprefix("sig: ")
        ]
        if any(flags):
            columns.append("flags" if compact else "shared firm-days")
            notes.append(
                "dup: same (ticker, day 0) as another event's firm-event (the same returns; pooled rows count it "
                "once); ovl: another event's day 0 of the ticker lies in the event window (event_days.csv)."
                if compact
                else "Shared firm-days: a firm-event with the same (ticker, day 0) as an earlier event's has the same "
                "abnormal returns (pooled rows count it once, by the pooling rule); other events whose day 0 lies "
                "in the event window, with their event day, are named (event_days.csv)."
            )
        n_shown = len(keys)
        if n_shown < self.firm_events_total:
            notes.append(
                f"{fmt_int(n_shown)} of {fmt_int(self.firm_events_total)} firm-events shown "
                f"({fmt_int(self.firm_events_total - n_shown)} omitted): those with the largest |CAR| over "
                f"{window_text(self.headline_window)}; every firm-event: {self.car_file}."
            )
        if not compact:
            notes.append(f"Standard errors, t and p-values: the appendix and {self.car_file}.")
        align = ("l", "l", "l") + ("r",) * len(self.windows) + (("l",) if any(flags) else ())
        wrap = (0,) * (3 + len(self.windows)) + ((48,) if any(flags) else ())
        return Table(tuple(columns), tuple(rows), align, notes=tuple(notes), wrap=wrap)

    def exclusion_count(self) -> str:
        """How many firm-events were excluded, for how many reasons (``"38 firm-events, 3 reasons"``)."""
        n = int(self.exclusions["firm_events"].sum()) if len(self.exclusions) else 0
        return f"{_count(n, 'firm-event')}, {_count(len(self.exclusions), 'reason')}"

    def exclusion_lines(self) -> tuple[str, ...]:
        """One line per exclusion stage and reason, with counts and the tickers concerned."""
        lines = []
        for row in self.exclusions.to_dict("records"):
            tickers = [t for t in str(row["tickers"]).split(", ") if t]
            shown = ", ".join(tickers[:6]) + (f" and {len(tickers) - 6} more" if len(tickers) > 6 else "")
            lines.append(
                f"{row['stage']}: {row['reason']} -- {_count(int(row['firm_events']), 'firm-event')} of "
                f"{_count(int(row['events']), 'event')}" + (f" ({shown})" if shown else "")
            )
        return tuple(lines)

    # ------------------------------------------------------------------ views
    def blocks(self) -> list[Block]:
        """The opening of every report: results at a glance, then the CARs by firm (headings included)."""
        from eventstudy.report._format import Heading, Paragraph

        return [
            Heading("Results at a glance"),
            Paragraph(self.sentence),
            self.glance_table(),
            Paragraph(self.primary_text()),
            Paragraph(self.battery_note()),
            Heading("Cumulative abnormal returns by firm"),
            self.car_table() if self.firm_car.shape[0] else Paragraph("No cumulative abnormal returns were computed."),
        ]

    def as_text(self, *, width: int = TEXT_WIDTH, lines: int = SCREEN_LINES) -> str:
        """One screen of text: the sentence, the at-a-glance table and as many CARs by firm as fit.

        Parameters
        ----------
        width
            Target line width; notes wrap to it.
        lines
            Screen height: the CARs by firm are cut (with a note) so that the text has at most this many
            lines whenever the at-a-glance part leaves room for five of them.
        """
        from eventstudy.report._format import text_table_lines

        def wrap(text: str) -> list[str]:
            return textwrap.wrap(text, width) or [""]

        out = [self.title, "=" * len(self.title), *wrap(self.sentence), ""]
        glance = self.glance_table(compact=True)
        out += ["Results at a glance", "-------------------", *text_table_lines(glance)]
        for note in glance.notes:
            out += wrap(note)
        out += wrap(self.battery_note())
        out.append("")
        car = self.car_table(compact=True)
        tail = []
        if len(self.exclusions):
            tail = wrap(f"Exclusions: {self.exclusion_count()} (summary.exclusion_lines(), result.exclusions).")
        out += ["Cumulative abnormal returns by firm", "-----------------------------------"]

        def block(table: Table) -> list[str]:
            return text_table_lines(table) + [line for note in table.notes for line in wrap(note)]

        shown = block(car)
        if len(out) + len(shown) + len(tail) > lines:
            overhead = len(block(car.head(1))) - 1  # header, rule, notes and the "more rows" note
            shown = block(car.head(max(5, lines - len(out) - len(tail) - overhead)))
        out += shown
        out += tail
        return "\n".join(line.rstrip() for line in out).rstrip() + "\n"

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return f"<Summary: {self.title}; {self.sentence}>"

    def as_html(self, figure: bytes | None = None) -> str:
        """The notebook view: the at-a-glance table first, the CARs by firm and the exclusions collapsed.

        Parameters
        ----------
        figure
            PNG bytes of a figure to show (collapsed) after the tables, or None.
        """
        from eventstudy.report.html import summary_html

        return summary_html(self, figure=figure)

    def _repr_html_(self) -> str:
        return self.as_html()


def _lookup(frame: pd.DataFrame, keys: Sequence[str], value: str) -> dict[tuple[Any, ...], Any]:
    """``frame[value]`` keyed by the tuple of the ``keys`` columns of each row."""
    return dict(zip(zip(*(frame[k].tolist() for k in keys), strict=True), frame[value].tolist(), strict=True))


def _cut(text: str) -> str:
    """Cut text to :data:`TEXT_ID_WIDTH` characters, ending with ``...`` when cut."""
    return text if len(text) <= TEXT_ID_WIDTH else text[: TEXT_ID_WIDTH - 3] + "..."


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _sentence(
    result: SummarizableResult,
    settings: Mapping[str, Any],
    n_events: int,
    firm_events: int,
    firm_days: int,
    n_excluded: int,
) -> str:
    """The study in one sentence (events, firm-events estimated and excluded, firm-days, model, profile).

    ``n_excluded`` counts the distinct (event, ticker) pairs of the exclusions that were not estimated.
    """
    n_file = int(result.events["event_id"].nunique()) if len(result.events) else n_events
    events = _count(n_events, "event") if n_events == n_file else f"{n_events} of {_count(n_file, 'event')}"
    text = (
        f"{events} with estimates: {_count(firm_events, 'firm-event')} estimated and "
        f"{n_excluded} excluded, on {_count(firm_days, 'distinct firm-day')} (ticker, day 0)"
    )
    model = settings.get("model")
    if model:
        text += f"; {model}"
        if settings.get("estimation_window"):
            text += f", estimation window {settings['estimation_window']}"
    if settings.get("conventions"):
        text += f"; {settings['conventions']} conventions"
    return hide_paths(text) + "."
