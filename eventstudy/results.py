"""Frozen result objects: arrays and labels in, tidy DataFrames out.

:class:`StudyResult` stores the study's arrays, labels, settings, exclusions and data provenance.
Every view (the tidy frames, ``summary()``, ``_repr_html_``, the reports and ``to_csv``) is derived from
the tidy frames, so no number is computed twice. Frames are built on first access and cached; every read
returns a copy and every array is read-only, so nothing a caller does to what it gets changes a later view
(``eventstudy._frozen``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import special

from eventstudy import _kernels as kn
from eventstudy._frozen import cached_frame, frame_fields, freeze_arrays
from eventstudy._typing import BoolArray, FloatArray, IntArray, Window
from eventstudy.conventions import ADJUST_FAMILY_TEXT, Conventions
from eventstudy.donors import SYNTHETIC_COLUMNS, DonorPanel, OwnEvents, synthetic_table
from eventstudy.errors import InputError
from eventstudy.inference import TestTable
from eventstudy.inference.adjust import adjust_coded
from eventstudy.inference.base import two_sided_t
from eventstudy.inference.single_firm import SingleFirmArrays
from eventstudy.models import ModelFit
from eventstudy.outputs import OutputFormat, write_tables
from eventstudy.pairs import pair_table
from eventstudy.returns import ReturnPanel
from eventstudy.spec import resolve_event_tests, window_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eventstudy.placebo import PlaceboResult
    from eventstudy.regression import CarRegression, RegressionResult
    from eventstudy.report import ReportFormat
    from eventstudy.spec import StudySpec
    from eventstudy.summary import Summary

ABNORMAL_RETURN_COLUMNS = (
    "event_id",
    "ticker",
    "benchmark",
    "date",
    "rel_day",
    "return",
    "benchmark_return",
    "expected_return",
    "abnormal_return",
    "se",
    "t_stat",
    "p_value",
    "p_sq",
    "p_permutation",
    "span",
    "zero_volume",
)
CAR_COLUMNS = (
    "event_id",
    "ticker",
    "window_start",
    "window_end",
    "car",
    "se",
    "t_stat",
    "p_value",
    "df",
    "p_sq",
    "sq_reference_n",
    "p_permutation",
    "permutation_exact",
)
TEST_COLUMNS = (
    "group",
    "scope",
    "window_start",
    "window_end",
    "test",
    "statistic",
    "p_value",
    "distribution",
    "n",
    "reason",
    "p_holm",
    "p_bh",
)
PARAMETER_COLUMNS = (
    "event_id",
    "ticker",
    "benchmark",
    "model",
    "alpha",
    "beta",
    "sigma",
    "n_obs",
    "df",
    "r_squared",
    "estimation_start",
    "estimation_end",
    "estimation_window",
    "event_window",
)
EXCLUSION_COLUMNS = ("event_id", "ticker", "stage", "reason")
FIRM_EVENT_COLUMNS = (
    "event_id",
    "ticker",
    "exchange",
    "day_zero",
    "group",
    "duplicate_of",
    "overlaps",
    "estimation_confounders",
    "pooled",
)
EVENT_DAY_COLUMNS = (
    "event_id",
    "ticker",
    "benchmark",
    "exchange",
    "event_date",
    "timezone",
    "event_time_utc",
    "event_time_exchange",
    "calendar_day_zero",
    "day_zero",
    "rule",
    "status",
    "reason",
    "duplicate_of",
    "overlaps",
    "estimation_confounders",
)


@frame_fields("event_days", "exclusions", "provenance", "events", "firm_events", "group_differences")
@dataclass(frozen=True, eq=False)
class StudyResult:
    """Outcome of :meth:`eventstudy.EventStudy.run`.

    The tidy frames (``abnormal_returns``, ``car``, ``car_path``, ``aar``, ``tests``, ``parameters``,
    ``event_days``, ``exclusions``, ``provenance``, ``events``) each have a fixed column set equal to the
    CSV that :meth:`to_csv` writes.

    The result is immutable: every array it holds (``car_values``, ``car_var``, the arrays of ``panel``,
    ``fit`` and of the test table's blocks) is read-only, and every frame is returned as a new DataFrame on
    each read (cached privately; under pandas' copy-on-write the copy is shallow and costs O(columns)), so
    changing a frame you got never changes ``to_csv``, ``summary()`` or a report.

    Attributes
    ----------
    spec
        The study's settings (windows, model, conventions, data source).
    panel
        Aligned returns of the estimated firm-events (rows in the order of ``panel.pairs``).
    fit
        Model estimates and event-window abnormal returns.

        The (firm-events x estimation days) arrays (``panel.est_returns``, ``est_market``, ``est_dates``,
        ``est_bench_own`` and ``fit.residuals``) are kept only when a requested test reads them or the study
        asked for them (``EventStudy(keep_estimation=True)``); otherwise they have zero columns and
        :attr:`estimation_kept` is False. No frame, report or plot reads them.
    estimation_dates : (N, 2) datetime64[D]
        First and last date of the estimation rows each fit used (NaT: none).
    car_values, car_var : (N, C)
        CARs over ``spec.car_windows`` and their variances.
    test_table
        Aggregated statistics by group.
    event_days
        The day-0 audit table: one row per (event, ticker) of the events file.
    exclusions
        event_id, ticker, stage, reason: everything left out, and why.
    provenance
        symbol, source, vintage, price_field, first_date, last_date, rows, notes.
    events
        The events as a table (event_id, date, time, timezone, time_approximate, headline, category).
    firm_events
        One row per estimated firm-event (rows as ``panel.pairs``): event_id, ticker, exchange, day_zero,
        group (the user's group, ``""`` for none), duplicate_of (event id of the first firm-event with the
        same ticker and day 0, ``""`` for none), overlaps (other events of the ticker whose day 0 lies in
        the event window, ``"<event_id> (day <k>)"``), estimation_confounders (those whose day 0 lies in
        the estimation rows used), pooled (whether it enters ``"all"`` and the user's groups under the
        ``pooling`` knob); ``docs/methods.md`` §3.5.
    regressions
        The cross-sectional CAR regressions the study was asked for (``EventStudy(regressions=...)``): their
        fits are :attr:`regression_fits`, their coefficient tables the frame ``regression``.
    group_differences
        Between-group difference tests of the CARs (:func:`eventstudy.inference.groups.group_differences`);
        no rows without the user's groups.
    donors
        The donor prices of the synthetic controls (``EventStudy(donors=...)``), None without; the frame
        ``synthetic``.
    placebo_result
        The placebo (pseudo-event) p-values (:class:`~eventstudy.placebo.PlaceboResult`), when the study drew
        placebo dates (``placebo_draws``); the frame ``placebo``.
    single_firm
        SQ and permutation p-values of each firm-event's ARs and CARs, rows as ``panel.pairs``
        (:func:`eventstudy.inference.single_firm.single_firm_pvalues`; zero columns for a test not run, None:
        none run); the columns ``p_sq``, ``p_permutation``, ``sq_reference_n`` and ``permutation_exact`` of
        ``abnormal_returns`` and ``car``.
    """

    spec: StudySpec
    panel: ReturnPanel
    fit: ModelFit
    estimation_dates: np.ndarray
    car_values: FloatArray
    car_var: FloatArray
    test_table: TestTable
    event_days: pd.DataFrame
    exclusions: pd.DataFrame
    provenance: pd.DataFrame
    events: pd.DataFrame
    firm_events: pd.DataFrame
    group_differences: pd.DataFrame
    title: str = "Event study"
    warnings: tuple[str, ...] = field(default_factory=tuple)
    donors: DonorPanel | None = None
    regressions: tuple[CarRegression, ...] = ()
    single_firm: SingleFirmArrays | None = None
    placebo_result: PlaceboResult | None = None

    def __post_init__(self) -> None:
        freeze_arrays(self, *(block for _, _, block in self.test_table.blocks))
        if self.single_firm is not None:
            freeze_arrays(self.single_firm)

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> dict[str, str]:
        """Every setting as display strings, in a fixed order."""
        return self.spec.describe()

    @property
    def conventions(self) -> list[str]:
        """Sentences stating each statistical convention used."""
        return self.spec.conventions.describe()

    @property
    def adjustment_note(self) -> str:
        """The multiple-testing family of ``p_holm`` and ``p_bh`` in force, in words (``conventions.adjust_family``)."""
        return ADJUST_FAMILY_TEXT[self.spec.conventions.adjust_family]

    @property
    def estimation_kept(self) -> bool:
        """Whether ``panel`` and ``fit`` hold the (firm-events x estimation days) arrays (else zero columns)."""
        return len(self.panel.estimation_days) > 0

    @property
    def event_tests(self) -> Literal["all", "multi_firm", "none"]:
        """Which events have their own rows in ``tests``: ``"all"``, ``"multi_firm"`` or ``"none"``.

        ``spec.event_tests`` resolved by the number of events of the study (:func:`eventstudy.spec.resolve_event_tests`;
        ``"multi_firm"``: the events of two or more firm-events).
        """
        return resolve_event_tests(self.spec.event_tests, len(self.events))

    @property
    def n_firm_events(self) -> int:
        """Number of (event, ticker) pairs with estimates."""
        return len(self.panel)

    @property
    def pooled_groups(self) -> tuple[str, ...]:
        """Labels of the groups computed on the pooled firm-events: ``"all"``, then the user's groups."""
        return self.test_table.pooled_groups

    # ------------------------------------------------------------------ frames
    @cached_frame
    def abnormal_returns(self) -> pd.DataFrame:
        """Daily returns, expected returns and abnormal returns with the single-event AR t.

        ``se`` = sqrt(s^2 C_t); ``t_stat`` = AR / se ~ t(M - k) (``docs/methods.md`` §6.1, P1); ``p_sq``
        the two-sided SQ p-value of the AR among the firm-event's M estimation residuals, (1 + #{|e_j| >=
        |AR|}) / (M + 1); ``p_permutation`` its exact permutation p-value, #{x in pool : |x - mean| >=
        |AR - mean|} / (M + 1) over the pool of the residuals and the AR (§6.1; NaN where not computable or
        not run: ``spec.single_firm_tests``); ``span`` is the number of the ticker's own rows the return
        covers; ``zero_volume`` flags Volume-0 rows.
        """
        panel, fit = self.panel, self.fit
        n, w = fit.abnormal.shape
        with np.errstate(invalid="ignore"):
            se = np.sqrt(fit.ar_variance)
            t_stat = fit.abnormal / se
        p_value = two_sided_t(t_stat, np.broadcast_to(fit.df[:, None], (n, w)).astype(np.float64))
        present = ~np.isnat(panel.evt_dates)
        rows = np.repeat(np.arange(n), w).reshape(n, w)[present]
        frame = pd.DataFrame(
            {
                "event_id": text_column(self.panel.pairs["event_id"], rows),
                "ticker": text_column(self.panel.pairs["ticker"], rows),
                "benchmark": text_column(self.panel.pairs["benchmark"], rows),
                "date": panel.evt_dates[present],
                "rel_day": np.broadcast_to(panel.event_days, (n, w))[present],
                "return": panel.evt_returns[present],
                "benchmark_return": panel.evt_market[present],
                "expected_return": fit.expected[present],
                "abnormal_return": fit.abnormal[present],
                "se": se[present],
                "t_stat": t_stat[present],
                "p_value": p_value[present],
                "p_sq": self._single_firm_cells("ar_sq", (n, w))[present],
                "p_permutation": self._single_firm_cells("ar_permutation", (n, w))[present],
                "span": panel.evt_span[present],
                "zero_volume": panel.evt_zero_volume[present],
            },
            copy=False,  # one block per column: no 2-D consolidation copy (the frame is handed out as a copy)
        )
        return frame

    @cached_frame
    def car(self) -> pd.DataFrame:
        """CAR per firm-event and window with the exact-variance t ~ t(M - k) (P2) and the single-firm tests.

        ``p_sq``: two-sided SQ p-value of the CAR among the ``sq_reference_n`` sums of L consecutive
        estimation residuals, (1 + #{|S_j| >= |CAR|}) / (n + 1); ``p_permutation``: two-sided permutation
        p-value of the window's L ARs within the pool of residuals and those ARs, exact over all C(M + L, L)
        subsets where ``permutation_exact`` (at most 20,000 subsets), else (1 + #{|T*_b| >= |T|}) / (B + 1) over B
        seeded random subsets (``docs/methods.md`` §6.1). NaN (``sq_reference_n`` and ``permutation_exact``
        missing) where not computable or the test was not run (``spec.single_firm_tests``).
        """
        n, c = self.car_values.shape
        with np.errstate(invalid="ignore"):
            se = np.sqrt(self.car_var)
            t_stat = self.car_values / se
        df = np.broadcast_to(self.fit.df[:, None], (n, c)).astype(np.float64)
        windows = np.array(self.spec.car_windows).reshape(-1, 2)
        return pd.DataFrame(
            {
                "event_id": text_column(self.panel.pairs["event_id"], np.repeat(np.arange(n), c)),
                "ticker": text_column(self.panel.pairs["ticker"], np.repeat(np.arange(n), c)),
                "window_start": np.tile(windows[:, 0], n),
                "window_end": np.tile(windows[:, 1], n),
                "car": self.car_values.ravel(),
                "se": se.ravel(),
                "t_stat": t_stat.ravel(),
                "p_value": two_sided_t(t_stat, df).ravel(),
                "df": self.fit.df.repeat(c),
                "p_sq": self._single_firm_cells("car_sq", (n, c)).ravel(),
                "sq_reference_n": self._single_firm_counts("sq_reference_n", "car_sq", pd.Int64Dtype()),
                "p_permutation": self._single_firm_cells("car_permutation", (n, c)).ravel(),
                "permutation_exact": self._single_firm_counts(
                    "permutation_exact", "car_permutation", pd.BooleanDtype()
                ),
            },
            copy=False,
        )

    def _single_firm_cells(self, name: str, shape: tuple[int, int]) -> FloatArray:
        """The single-firm p-values ``name`` of :attr:`single_firm`, or NaN of ``shape`` for a test not run."""
        values = None if self.single_firm is None else getattr(self.single_firm, name)
        return values if values is not None and values.shape == shape else np.full(shape, np.nan)

    def _single_firm_counts(
        self, name: str, pvalues: str, dtype: pd.Int64Dtype | pd.BooleanDtype
    ) -> pd.api.extensions.ExtensionArray:
        """A per-CAR companion of the p-values ``pvalues`` as a nullable column, missing where they are NaN."""
        n, c = self.car_values.shape
        present = np.isfinite(self._single_firm_cells(pvalues, (n, c))).ravel()
        kind = np.int64 if isinstance(dtype, pd.Int64Dtype) else np.bool_
        values = getattr(self.single_firm, name).ravel() if present.any() else np.zeros(n * c, dtype=kind)
        column: Any = pd.Series(values).astype(dtype).array
        column[~present] = pd.NA
        return column

    @cached_frame
    def car_path(self) -> pd.DataFrame:
        """Cumulative AR from the event-window start with its exact-variance 95 % band (t(M - k))."""
        fit = self.fit
        n, w = fit.abnormal.shape
        days = self.panel.event_days
        cum, var = fit.cars(days, [(int(days[0]), int(d)) for d in days], self.spec.conventions)
        se = np.sqrt(var)
        with np.errstate(invalid="ignore"):
            q = special.stdtrit(np.where(fit.df > 0, fit.df, np.nan), 0.975)[:, None]  # the t quantile, as stats.t.ppf
        frame = pd.DataFrame(
            {
                "event_id": text_column(self.panel.pairs["event_id"], np.repeat(np.arange(n), w)),
                "ticker": text_column(self.panel.pairs["ticker"], np.repeat(np.arange(n), w)),
                "rel_day": np.tile(self.panel.event_days, n),
                "car": cum.ravel(),
                "se": se.ravel(),
                "ci_low": (cum - q * se).ravel(),
                "ci_high": (cum + q * se).ravel(),
            }
        )
        return frame

    @cached_frame
    def aar(self) -> pd.DataFrame:
        """Average abnormal return per group and day, and its cumulation from the event-window start.

        ``caar`` is the running sum of ``aar``. Groups as in ``tests``: ``"all"`` and the user's groups over
        the pooled firm-events (``firm_events.pooled``), then each event id over all its firm-events.
        """
        labels, codes = self._event_codes
        firm = self.firm_events
        pooled = firm["pooled"].to_numpy(dtype=bool)
        user = self.pooled_groups[1:]
        user_codes = firm["group"].map({g: i for i, g in enumerate(user)}).fillna(-1).to_numpy(dtype=np.int64)
        in_user = pooled & (user_codes >= 0)
        groupings: list[tuple[tuple[str, ...], IntArray, BoolArray]] = [
            (("all",), np.zeros(int(pooled.sum()), dtype=np.int64), pooled),
            (user, np.asarray(user_codes[in_user], dtype=np.int64), in_user),
            (labels, np.asarray(codes, dtype=np.int64), np.ones(len(codes), dtype=bool)),
        ]
        frames = []
        for group_labels, group_codes, rows in groupings:
            ar = self.fit.abnormal[rows]
            count, total, _ = kn.group_moments(ar, group_codes, len(group_labels))
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(count > 0, total / count, np.nan)
            g, w = mean.shape
            frames.append(
                pd.DataFrame(
                    {
                        "group": np.repeat(np.array(group_labels, dtype=object), w),
                        "rel_day": np.tile(self.panel.event_days, g),
                        "n": count.ravel(),
                        "aar": mean.ravel(),
                        "caar": np.cumsum(mean, axis=1).ravel(),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    @cached_property
    def _event_codes(self) -> tuple[tuple[str, ...], np.ndarray]:
        codes, labels = pd.factorize(self.panel.pairs["event_id"], sort=False)
        codes = codes.astype(np.int64)
        codes.flags.writeable = False
        return tuple(labels), codes

    @cached_frame
    def tests(self) -> pd.DataFrame:
        """Aggregated test statistics: one row per group, scope, day or window, and test.

        ``p_holm`` and ``p_bh`` are Holm and Benjamini-Hochberg adjusted p-values within the family of
        ``conventions.adjust_family`` (one test and group, across its days or its CAR windows). Built from
        the blocks' arrays: the text columns are their labels gathered by integer code
        (:func:`text_column`) and the Holm/BH families found from the same codes
        (:func:`eventstudy.inference.adjust.adjust_coded`).
        """
        return tests_frame(self.test_table, self.panel.event_days, self.spec.car_windows, self.spec.conventions)

    @cached_frame
    def cross_correlation(self) -> pd.DataFrame:
        """Kolari-Pynnönen r̄ and its number of pairs per group, per market when a group mixes markets, per block.

        Columns group, market_scope (``"all"``, or an exchange such as ``"XHKG"``/``"XNYS"`` when the
        group's firm-events are listed on more than one), block (``""``; with ``kp_blocks`` a block's label,
        or ``"(blocked)"`` for the block-wise r̄ with cross-block correlations 0), r_bar (NaN where no pair
        has ``kp_min_overlap`` common estimation dates), n_pairs, n_firm_events, in_tests (the row whose r̄
        the KP tests use) (``docs/methods.md`` §6.2, P10;
        :func:`eventstudy.inference.clustered.kp_correlation_table`).
        """
        return self.test_table.cross_correlation.copy()

    @cached_frame
    def placebo(self) -> pd.DataFrame:
        """Placebo p-values of the pooled statistics (:mod:`eventstudy.placebo`, ``docs/methods.md`` §6.4 B3).

        Columns :data:`~eventstudy.placebo.PLACEBO_COLUMNS`: per group (event, ``all``, user group), CAR window and
        statistic (``caar`` or a primary test), the observed value, the two-sided placebo p (1 + #{|T*| >= |T|}) /
        (n + 1), the one-sided p's, the percentile and the placebo mean and sd. No rows without placebo dates.
        """
        from eventstudy.placebo import empty_placebo_table

        return empty_placebo_table() if self.placebo_result is None else self.placebo_result.table

    @cached_frame
    def parameters(self) -> pd.DataFrame:
        """Model estimates per firm-event: one column per coefficient, sigma, M, df, R², estimation dates, windows.

        The coefficient columns are the model's names (:meth:`eventstudy.models.NormalReturnModel.coef_names`:
        ``alpha``, ``beta`` for the market model; ``alpha``, ``beta_mkt``, ``beta_smb``, ... for factor
        models), followed by any coefficient the model fixes (market-adjusted: alpha = 0, beta = 1) and the
        model's diagnostics (Scholes-Williams: beta_lag, beta_0, beta_lead, rho_m; Dimson: beta_dimson).
        ``regressor_gaps`` counts estimation days with a return but a missing regressor (models with series
        besides the benchmark, e.g. a factor file without that day), which the fit leaves out.
        """
        fit, pairs = self.fit, self.panel.pairs
        model = self.spec.normal_model
        n = len(pairs)
        coefficients = {name: fit.coef[:, j] for j, name in enumerate(fit.coef_names)}
        coefficients.update({name: np.full(n, value) for name, value in model.fixed_coefficients.items()})
        if fit.diagnostics is not None:
            coefficients.update({name: fit.diagnostics[:, j] for j, name in enumerate(fit.diagnostic_names)})
        gaps = {"regressor_gaps": fit.regressor_gaps} if set(model.series) - {"market"} else {}
        return pd.DataFrame(
            {
                "event_id": pairs["event_id"].to_numpy(),
                "ticker": pairs["ticker"].to_numpy(),
                "benchmark": pairs["benchmark"].to_numpy(),
                "model": fit.model,
                **coefficients,
                "sigma": fit.sigma,
                "n_obs": fit.n_obs,
                "df": fit.df,
                "r_squared": fit.r_squared,
                **gaps,
                "estimation_start": pd.to_datetime(self.estimation_dates[:, 0]),
                "estimation_end": pd.to_datetime(self.estimation_dates[:, 1]),
                "estimation_window": window_text(self.spec.estimation_window),
                "event_window": window_text(self.spec.event_window),
            }
        )

    @cached_frame
    def listing_pairs(self) -> pd.DataFrame:
        """Home line versus ADR per event and CAR window: both CARs, their difference and its t test.

        One row per event in which both legs of a declared pair were estimated (``EventStudy(pairs=...)``),
        each leg on its own day 0; the variance of the difference and its reference distribution are stated in
        :mod:`eventstudy.pairs`. Empty without pairs.
        """
        pairs = self.panel.pairs
        return pair_table(
            self.spec.listing_pairs,
            pairs[["event_id", "ticker", "day_zero"]],
            self.car_values,
            self.car_var,
            self.fit.df,
            self.fit.residuals,
            self.spec.car_windows,
        )

    @cached_frame
    def synthetic(self) -> pd.DataFrame:
        """Synthetic-control CAR per firm-event and CAR window (:func:`eventstudy.donors.synthetic_table`).

        Columns :data:`eventstudy.donors.SYNTHETIC_COLUMNS`: ``car_model`` (the study model's CAR), ``car_synthetic``
        (Σ over the window of R - Σ_j w_j R_j, weights w >= 0 summing to one fitted on the estimation window),
        ``rmspe_pre``, ``rmspe_post``, ``n_pre`` (fit days), ``n_donors``, ``top_weights``, ``p_placebo`` (rank of
        |CAR / RMSPE_pre| among the donors treated in turn), ``p_conformal`` and ``ci_low``/``ci_high`` (Chernozhukov,
        Wüthrich and Zhu 2021, 95 %), ``reason`` (why a firm-event has none, e.g. another exchange); empty
        without donors. ``docs/methods.md`` §6.9.
        """
        if self.donors is None:
            return pd.DataFrame(columns=list(SYNTHETIC_COLUMNS))
        return synthetic_table(
            self.panel,
            self.car_values,
            self.spec.car_windows,
            self.donors,
            OwnEvents.of(self.event_days["ticker"], self.event_days["event_date"]),
            self.spec.resolved_return_type,
            self.spec.min_estimation_obs,
        )

    @property
    def pair_notes(self) -> tuple[str, ...]:
        """Notes of the pair table: each declared pair that no event holds with both legs, and why.

        Also one line per home line studied in US dollars.
        """
        shown = self.listing_pairs
        present = set(zip(shown["home"], shown["adr"], strict=True))
        estimated = set(self.panel.pairs["ticker"])
        excluded = self.exclusions.drop_duplicates("ticker").set_index("ticker")["reason"]
        notes = []
        for pair in self.spec.listing_pairs:
            if (pair.home, pair.adr) in present:
                continue
            missing = [t for t in (pair.home, pair.adr) if t not in estimated]
            reasons = [str(excluded.get(t, f"{t}: not among the events")) for t in missing]
            why = "; ".join(r if r.startswith(t) else f"{t}: {r}" for t, r in zip(missing, reasons, strict=True)) or (
                "the two legs are never in the same event"
            )
            notes.append(f"{pair.home}/{pair.adr}: no event with both legs estimated ({why}).")
        notes.extend(
            f"{home} is studied in US dollars: (1 + R)(1 + R_FX) - 1 with {fx} accumulated between its closes (its "
            "benchmark stays in the local currency)."
            for home, fx in self.spec.in_us_dollars.items()
        )
        return tuple(notes)

    @cached_property
    def regression_fits(self) -> tuple[RegressionResult | InputError, ...]:
        """The fit of each of :attr:`regressions` on the pooled CARs, or the error that stopped it.

        A regression the finished study cannot support (one cluster, fewer firm-events than coefficients) is
        an :class:`~eventstudy.errors.InputError` here, shown in the report, not an exception of the run.
        """
        fits: list[RegressionResult | InputError] = []
        for regression in self.regressions:
            try:
                fits.append(regression.fit(self._pooled_car(), self.events))
            except InputError as error:
                fits.append(error)
        return tuple(fits)

    @cached_frame
    def regression(self) -> pd.DataFrame:
        """Coefficient tables of :attr:`regressions`: formula, estimator, then ``regression.TABLE_COLUMNS``.

        One row per term of each regression that could be fitted (see :attr:`regression_fits` for the others).
        """
        from eventstudy.regression import TABLE_COLUMNS

        tables = [
            fit.table.assign(formula=regression.formula, estimator=regression.describe())
            for regression, fit in zip(self.regressions, self.regression_fits, strict=True)
            if not isinstance(fit, InputError)
        ]
        columns = ["formula", "estimator", *TABLE_COLUMNS]
        return pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)

    def _pooled_car(self) -> pd.DataFrame:
        """The ``car`` rows of the firm-events pooled in ``"all"`` (``firm_events.pooled``)."""
        pooled = self.firm_events["pooled"].to_numpy(dtype=bool).repeat(len(self.spec.car_windows))
        return self.car[pooled]

    # ------------------------------------------------------------------ views
    @cached_property
    def _summary(self) -> Summary:
        from eventstudy.summary import Summary

        return Summary.from_result(self)

    def summary(self) -> Summary:
        """The summary behind every view (:class:`eventstudy.summary.Summary`).

        ``print(result.summary())`` shows one screen: the study in one sentence, the results at a glance (one
        row per event and per pooled group: CAAR per CAR window in percent with stars, the primary tests) and
        the CARs by firm; ``summary.glance`` holds the at-a-glance numbers. Built once, from the tidy frames.
        """
        return self._summary

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        n_events = self.panel.pairs["event_id"].nunique()
        return (
            f"<StudyResult: {n_events} events, {self.n_firm_events} firm-events estimated, "
            f"{len(self.exclusions)} exclusions, model={self.spec.normal_model.name}, "
            f"conventions={self.spec.conventions.name}>"
        )

    def _repr_html_(self) -> str:
        from eventstudy.report.html import notebook_fragment

        return notebook_fragment(self)

    def report(
        self, out_dir: str | Path, formats: str | Iterable[ReportFormat] | None = None, **options: Any
    ) -> list[Path]:
        """Write the report (figures, then MD/HTML/PDF/XLSX/TeX as asked) into a folder.

        Delegates to :func:`eventstudy.report.write_report`; ``options`` are its keyword arguments (``dpi``,
        ``per_event_figures``, ``progress``). ``formats=None`` writes its default formats (md, html, pdf).

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        from eventstudy.report import DEFAULT_FORMATS, write_report

        return write_report(self, out_dir, formats=DEFAULT_FORMATS if formats is None else formats, **options)

    def regress(self, formula: str, data: pd.DataFrame | None = None, **options: Any) -> RegressionResult:
        """Cross-sectional regression of one window's CARs, e.g. ``"car[-1,1] ~ C(category) + log_mcap"``.

        Delegates to :func:`eventstudy.regression.regress_cars` on the pooled firm-events (``firm_events.pooled``)
        with the events table as regressors; ``data`` adds columns keyed by (event_id, ticker), event_id or
        ticker; ``options`` are its keyword arguments (``weights``, ``cov``, ``cluster``, ``window``,
        ``wild_bootstrap``, ``seed``).
        """
        from eventstudy.regression import regress_cars

        return regress_cars(self._pooled_car(), formula, data, events=self.events, **options)

    def plot_car(self, event_id: str, ticker: str | None = None, ax: Any = None) -> Figure:
        """CAR path with its 95 % band for one event (one ticker, or all when ``ticker`` is None)."""
        from eventstudy.plots import plot_car

        return plot_car(self, event_id, ticker=ticker, ax=ax)

    def plot_aar(self, group: str = "all", ax: Any = None) -> Figure:
        """AAR bars and CAAR line for an event id or ``"all"``."""
        from eventstudy.plots import plot_aar

        return plot_aar(self, group=group, ax=ax)

    def plot_car_heatmap(
        self, window: Window = (-1, 1), ax: Any = None, *, max_events: int | None = None, max_tickers: int | None = None
    ) -> Figure:
        """Events x tickers heatmap of CAR over ``window`` (optionally only the largest |CAR| rows and columns)."""
        from eventstudy.plots import plot_car_heatmap

        return plot_car_heatmap(self, window=window, ax=ax, max_events=max_events, max_tickers=max_tickers)

    def frames(self) -> Mapping[str, pd.DataFrame]:
        """The tidy frames by CSV stem, in the order :meth:`to_csv` writes them."""
        return {
            "event_days": self.event_days,
            "parameters": self.parameters,
            "abnormal_returns": self.abnormal_returns,
            "car": self.car,
            "tests": self.tests,
            "cross_correlation": self.cross_correlation,
            "firm_events": self.firm_events,
            "group_differences": self.group_differences,
            **({"pairs": self.listing_pairs} if self.spec.listing_pairs else {}),
            **({"synthetic": self.synthetic} if self.donors is not None else {}),
            **({"regression": self.regression} if self.regressions else {}),
            **({"placebo": self.placebo} if self.placebo_result is not None else {}),
            "exclusions": self.exclusions,
            "provenance": self.provenance,
            "knobs": self.spec.knob_table(),
        }

    def to_csv(self, directory: str | Path) -> list[Path]:
        """Write every tidy frame as ``<name>.csv`` into ``directory`` and return the paths.

        Dates are written ``YYYY-MM-DD``; instants (time-zone aware columns such as ``event_time_utc``) in
        ISO 8601 with their offset, ``Z`` for UTC (``2021-03-15T11:00:00Z``). Same as
        ``write_tables(directory, "csv")``.
        """
        return self.write_tables(directory, "csv")

    def write_tables(self, directory: str | Path, output_format: OutputFormat = "auto") -> list[Path]:
        """Write every tidy frame into ``directory``: CSV, or partitioned Parquet for large per-firm-event tables.

        Parameters
        ----------
        directory
            The output folder, created if missing.
        output_format
            ``"auto"`` (default): the per-firm-event tables (``event_days``, ``parameters``,
            ``abnormal_returns``, ``car``, ``tests``, ``firm_events``) with more than
            :data:`eventstudy.outputs.LARGE_TABLE_ROWS` rows as Parquet folders ``<name>.parquet/``, every
            other table as ``<name>.csv``; ``"parquet"``: those six always as Parquet; ``"csv"``: all as CSV.

        Returns
        -------
        list of pathlib.Path
            One per table, in the order of :meth:`frames` (:func:`eventstudy.outputs.write_tables`).
        """
        return write_tables(self.frames(), directory, output_format)


def tests_frame(
    table: TestTable, event_days: IntArray, car_windows: Sequence[Window], conventions: Conventions
) -> pd.DataFrame:
    """The tidy ``tests`` frame of a :class:`~eventstudy.inference.TestTable` (:attr:`StudyResult.tests`).

    ``event_days`` are the relative days of the day blocks' columns, ``car_windows`` those of the window
    blocks; ``conventions.adjust_family`` sets the families of ``p_holm`` and ``p_bh``.
    """
    windows = np.array(car_windows).reshape(-1, 2)
    test_names = tuple(dict.fromkeys(name for name, _, _ in table.blocks))
    parts: dict[str, list[np.ndarray]] = {key: [] for key in ("group", "scope", "test", "start", "end")}
    for name, scope, block in table.blocks:
        g, d = block.statistic.shape
        parts["group"].append(np.repeat(np.arange(g), d))
        parts["scope"].append(np.full(g * d, int(scope == "window")))
        parts["test"].append(np.full(g * d, test_names.index(name)))
        parts["start"].append(np.tile(event_days if scope == "day" else windows[:, 0], g))
        parts["end"].append(np.tile(event_days if scope == "day" else windows[:, 1], g))
    codes = {key: np.concatenate(values) if values else np.zeros(0, dtype=np.int64) for key, values in parts.items()}
    blocks = [block for _, _, block in table.blocks]

    def cells(values: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([v.ravel() for v in values]) if values else np.zeros(0)

    p_value = cells([b.p_value for b in blocks])
    # group 0 is "all", then the user's groups (pooled), then the event ids (TestTable)
    role = np.where(codes["group"] == 0, 0, np.where(codes["group"] < len(table.pooled_groups), 1, 2))
    keys = {
        "test": codes["test"],
        "group": codes["group"],
        "scope": codes["scope"],
        "window_start": pd.factorize(codes["start"])[0],
        "window_end": pd.factorize(codes["end"])[0],
    }
    holm, bh = adjust_coded(p_value, conventions.adjust_family, keys, role)
    return pd.DataFrame(
        {
            "group": text_column(table.group_labels, codes["group"]),
            "scope": text_column(("day", "window"), codes["scope"]),
            "window_start": codes["start"].astype(np.int64),
            "window_end": codes["end"].astype(np.int64),
            "test": text_column(test_names, codes["test"]),
            "statistic": cells([b.statistic for b in blocks]),
            "p_value": p_value,
            "distribution": text_column(*factorized(cells([b.distribution() for b in blocks]))),
            "n": cells([b.n for b in blocks]).astype(np.int64),
            "reason": text_column(*factorized(cells([b.reason for b in blocks]))),
            "p_holm": holm,
            "p_bh": bh,
        }
    )


def text_column(labels: Sequence[Any] | np.ndarray | pd.Series, codes: IntArray) -> pd.api.extensions.ExtensionArray:
    """The column ``labels[codes]`` in pandas' dtype for those labels, gathered without a Python object per row.

    The labels are converted once (pandas' inferred dtype: the Arrow-backed ``str`` under pandas 3; a pandas
    ``str`` column, such as a column of ``panel.pairs``, is used as it is) and the rows gathered by code
    (:meth:`~pandas.api.extensions.ExtensionArray.take`), so the column equals
    ``pd.Series(numpy.asarray(labels, dtype=object)[codes])`` at the cost of an integer gather.
    """
    if isinstance(labels, pd.Series) and labels.dtype == "str":
        source = labels.array
    else:
        source = pd.Series(np.asarray(labels, dtype=object)).array
    return source.take(np.asarray(codes, dtype=np.intp))


def factorized(values: np.ndarray) -> tuple[np.ndarray, IntArray]:
    """Distinct values (in order of appearance) and the code of each value, for :func:`text_column`."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(uniques, dtype=object), np.asarray(codes, dtype=np.int64)


_SYMBOL_PREFIX = r"^(?:benchmark )?\S+: "


def exclusion_kinds(reasons: pd.Series) -> pd.Series:
    """The kind of each exclusion reason, for counting exclusions by reason.

    The kind is the reason without its leading ``"<symbol>: "`` (``"benchmark <symbol>: "`` becomes
    ``"benchmark "``) and without the details after the first ``":"`` or ``" ("``: ``"MPNGY: no data
    (...)"`` and ``"0700.HK: no data (...)"`` are both ``"no data"``, ``"no prices around day 0: calendar
    day 0 ... is after the last price row ..."`` is ``"no prices around day 0"``.
    """
    text = reasons.astype(str)
    body = text.str.replace(_SYMBOL_PREFIX, "", regex=True).str.split(r":| \(", n=1, regex=True).str[0].str.strip()
    return body.where(~text.str.match(r"benchmark \S+: "), "benchmark " + body)


def nanmin_dates(dates: np.ndarray) -> np.ndarray:
    """Earliest non-NaT date of each row of a (N, L) datetime64[D] array (NaT for an all-NaT row)."""
    filled = np.where(np.isnat(dates), np.datetime64("9999-12-31", "D"), dates)
    out = filled.min(axis=1) if dates.shape[1] else np.full(len(dates), np.datetime64("NaT", "D"))
    return np.where(out == np.datetime64("9999-12-31", "D"), np.datetime64("NaT"), out)


def nanmax_dates(dates: np.ndarray) -> np.ndarray:
    """Latest non-NaT date of each row of a (N, L) datetime64[D] array (NaT for an all-NaT row)."""
    filled = np.where(np.isnat(dates), np.datetime64("0001-01-01", "D"), dates)
    out = filled.max(axis=1) if dates.shape[1] else np.full(len(dates), np.datetime64("NaT", "D"))
    return np.where(out == np.datetime64("0001-01-01", "D"), np.datetime64("NaT"), out)


__all__ = [
    "ABNORMAL_RETURN_COLUMNS",
    "CAR_COLUMNS",
    "EVENT_DAY_COLUMNS",
    "EXCLUSION_COLUMNS",
    "FIRM_EVENT_COLUMNS",
    "PARAMETER_COLUMNS",
    "TEST_COLUMNS",
    "StudyResult",
    "exclusion_kinds",
    "factorized",
    "nanmax_dates",
    "nanmin_dates",
    "tests_frame",
    "text_column",
]
