"""EventStudy: the one place that wires events, prices, calendars, returns, models and inference.

Flow of :meth:`EventStudy.run`:

1. one row per (event, ticker) pair with its benchmark;
2. calendar day 0 per pair from the ticker's exchange calendar (:mod:`eventstudy.calendars`);
3. prices of every ticker and benchmark from the price source, as one columnar
   :class:`~eventstudy.data.table.PriceTable` (failures become exclusions);
4. day 0 checked against the observed rows (moved to the next row if the calendar day has none);
5. aligned return arrays (:mod:`eventstudy.returns`: every (ticker, benchmark) pair aligned at once, the
   windows gathered for all firm-events at once), model fit (:mod:`eventstudy.models`), CARs and their
   variances, and the test statistics (:mod:`eventstudy.inference`), all on (events x days) arrays;
6. a frozen :class:`~eventstudy.results.StudyResult`.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from eventstudy._typing import DateLike, IntArray, Window
from eventstudy.calendars import calendar_day_zero, resolve_day_zero
from eventstudy.conventions import Conventions
from eventstudy.data.series import PriceSource, TableSource
from eventstudy.data.table import PROVENANCE_COLUMNS, PriceTable, load_each
from eventstudy.donors import DonorPanel
from eventstudy.engine import (
    DEFAULT_CHUNK_SIZE,
    Estimates,
    FirmEventContext,
    as_chunk_size,
    estimate,
    gathered_tests,
    inference_data,
)
from eventstudy.errors import DataError, InputError, PriceSourceError
from eventstudy.events import Event, event_ticker_pairs, events_to_frame, read_events, select_events, selection_text
from eventstudy.executors import Executor, get_executor
from eventstudy.grouping import Grouping, correlation_blocks, group_by
from eventstudy.inference import (
    TestPartials,
    TestTable,
    finish_tests,
    get_tests,
    join_tables,
    no_cross_correlation,
    run_tests,
)
from eventstudy.inference.groups import GROUP_DIFFERENCE_COLUMNS, group_differences
from eventstudy.inference.single_firm import DEFAULT_DRAWS
from eventstudy.models import NormalReturnModel, with_donors
from eventstudy.pairs import ListingPair
from eventstudy.placebo import PLACEBO_HISTORY_DAYS, run_placebo
from eventstudy.pooling import duplicate_of, precedence
from eventstudy.regression import CarRegression
from eventstudy.regressors import FactorData, FactorLookup
from eventstudy.results import (
    EVENT_DAY_COLUMNS,
    EXCLUSION_COLUMNS,
    FIRM_EVENT_COLUMNS,
    StudyResult,
)
from eventstudy.returns import ReturnPanel, ReturnType
from eventstudy.spec import (
    DEFAULT_CAR_WINDOWS,
    EventTests,
    StudySpec,
    as_single_firm_tests,
    as_window,
    resolve_conventions,
    resolve_event_tests,
    resolve_single_firm_tests,
    window_text,
)


@dataclass(frozen=True, eq=False)
class EventNumbering:
    """The numbering of a study's events inside a larger study that it is a slice of (:mod:`eventstudy.sliced`).

    A study run with a numbering (:meth:`EventStudy.run_slice`) is a slice: nothing estimable in it is not
    an error, since the larger study decides over all its slices.

    Attributes
    ----------
    ids : (E,) object
        Event ids of the slice's events.
    codes : (E,) int64
        Their codes in the larger study (0..n_events-1).
    n_listed : (E,) int64
        Number of tickers of each event in the larger study (all slices).
    positions : (E,) object
        For an event whose tickers the slice holds only some of, the positions of those tickers in the
        event's list in the larger study (a tuple); None for an event held whole.
    n_events
        Number of events of the larger study.
    event_tests
        ``event_tests`` of the larger study, resolved by its number of events.
    """

    ids: np.ndarray
    codes: IntArray
    n_listed: IntArray
    positions: np.ndarray
    n_events: int
    event_tests: Literal["all", "multi_firm", "none"]

    def study_rows(self, events: IntArray, listed_at: np.ndarray) -> IntArray:
        """Keys of firm-events in the larger study's order: event code, then the ticker's place in its list.

        ``events`` index this slice's events, ``listed_at`` is each firm-event's place in its event's ticker
        list here; the key is ``code * 2**20 + place in the larger study's list``.
        """
        place = np.asarray(listed_at, dtype=np.int64).copy()
        given = [p if p is not None else () for p in self.positions]
        lengths = np.fromiter(map(len, given), dtype=np.int64, count=len(given))
        flat = np.fromiter(chain.from_iterable(given), dtype=np.int64, count=int(lengths.sum()))
        cut = lengths[events] > 0  # the firm-events of events split across slices
        place[cut] = flat[(np.cumsum(lengths) - lengths)[events[cut]] + place[cut]]
        return self.codes[events] * (1 << 20) + place

    def check(self, spec: StudySpec) -> None:
        """Raise :class:`InputError` for a setting a slice cannot compute: a grouping or a test needing all rows."""
        if spec.grouping is not None:
            raise InputError(
                "a sliced study does not compute user groups yet; leave out --groups (or run the study in one piece)",
                parameter="groups",
            )
        if spec.placebo_draws:
            raise InputError(
                "a sliced study does not draw placebo dates yet; leave out --placebo (or run the study in one piece)",
                parameter="placebo_draws",
            )
        whole = [test.name for test in get_tests(spec.tests) if not test.decomposable]
        if whole:
            raise InputError(
                f"a sliced study computes only the tests made of per-group sums; {', '.join(whole)} need every "
                "firm-event of a group at once: choose tests with --tests (e.g. "
                "cross_sectional_t,patell_z,bmp_t,j1,j2,brown_warner_1980,brown_warner_1985,sign,generalized_sign,"
                "corrado_rank,cowan_rank,lamb) or run the study in one piece",
                parameter="tests",
                value=whole[0],
            )


@dataclass(frozen=True, eq=False)
class SliceSums:
    """What one slice of a sliced study hands back for the tests (:meth:`EventStudy.run_slice`).

    ``partials``: the per-group sums of the decomposable tests (None without tests); ``event_codes`` and
    ``estimated``: the event codes with estimated firm-events in the slice and how many each.
    """

    partials: TestPartials | None
    event_codes: IntArray
    estimated: IntArray


@dataclass(frozen=True, eq=False)
class _Estimated:
    """The study up to its tests: the audit, the engine's estimates and the numbering of the estimated rows."""

    days: pd.DataFrame
    estimates: Estimates
    excluded: pd.DataFrame
    firm_events: pd.DataFrame
    provenance: pd.DataFrame
    codes: IntArray
    labels: tuple[str, ...]
    group_codes: IntArray
    group_labels: tuple[str, ...]
    event_tests: Literal["all", "multi_firm", "none"]
    per_chunk: tuple[str, ...]
    blocks: tuple[IntArray, tuple[str, ...]] | None = None
    prices: PriceTable | None = None


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return sys.stderr.isatty()


class EventStudy:
    """An event study of dated events on the prices of their tickers.

    Parameters
    ----------
    events
        Events, e.g. from :func:`eventstudy.read_events`.
    prices
        A price source: :class:`~eventstudy.YahooPrices`, :class:`~eventstudy.CsvPrices`,
        :class:`~eventstudy.ReturnsFile` or :class:`~eventstudy.ReturnsFrame`.
    model
        ``"market"`` (default), ``"constant_mean"``, ``"market_adjusted"``, the factor models ``"capm"``,
        ``"ff3"``, ``"ff5"``, ``"carhart"``, or a model object (:mod:`eventstudy.models`, e.g.
        ``FactorModel(factors=("mkt_rf", "smb"))``).
    pairs
        Listing pairs (:class:`~eventstudy.pairs.ListingPair`: home line and ADR) whose CARs the pair table
        compares event by event (``result.listing_pairs``); the study then keeps the estimation residuals.
    donors
        Donor prices of one exchange (:class:`~eventstudy.donors.DonorPanel`, e.g. the Hang Seng panel): every
        firm-event on that exchange gets a synthetic-control CAR with placebo and conformal p-values
        (``result.synthetic``, ``docs/methods.md`` §6.9); the study then keeps the estimation returns. With
        ``model="synthetic"`` they are also the normal-return model's donors (every test then reads the
        synthetic-control ARs; :class:`~eventstudy.models.SyntheticControl`).
    factors
        Factor data of a factor model: a :class:`~eventstudy.regressors.FactorData` (tables by region), or
        one :class:`~eventstudy.data.factors.FactorTable` for every ticker.
    estimation_window, event_window
        Inclusive relative-day windows in trading days; defaults [-250, -11] and [-10, +10].
    car_windows
        CAR windows inside the event window; default [0,0], [0,+1], [-1,+1], [0,+5], [-5,+5].
    return_type
        ``"simple"`` or ``"log"``; None (default) takes the conventions' default (``textbook``: simple,
        ``estudy2``: log). An explicit value wins.
    min_estimation_obs
        Firm-events with fewer estimation returns are excluded ("insufficient estimation data").
    conventions
        A profile name (``"textbook"``, ``"estudy2"``) or a :class:`~eventstudy.conventions.Conventions`
        value (e.g. ``get_profile("textbook").with_knobs(fec=False)``).
    knobs
        Knobs to change on top of the profile, e.g. ``{"fec": False}`` or ``{"resid_ddof": "1"}``; text
        values are converted to the knob's type (:func:`eventstudy.spec.resolve_conventions`). Unknown
        knobs raise :class:`~eventstudy.errors.UnknownNameError` listing the valid ones.
    tests
        Names of the aggregate tests to compute; None (default) computes every registered test
        (``eventstudy.inference.REGISTRY``). Pass a few names for very large pooled groups.
    progress
        Show a progress bar while loading prices; default: only on a terminal.
    title
        Title for reports.
    groups
        The user's groups of firm-events (``docs/methods.md`` §1, §6.7): a column name such as
        ``"category"`` (:func:`eventstudy.grouping.group_by`) or a :class:`~eventstudy.grouping.Grouping`
        (e.g. from :func:`eventstudy.grouping.read_groups`). Each group gets pooled tests and a CAAR next
        to ``"all"``, and every pair of groups the difference tests of ``group_differences``.
    kp_blocks
        Blocks of firm-events for the Kolari-Pynnönen r̄ (``docs/methods.md`` §6.2, P10, variant
        ``kp_blocks``): ``"market"`` (one block per exchange), a grouping column, a ``.csv`` mapping file or a
        :class:`~eventstudy.grouping.Grouping` (:func:`eventstudy.grouping.correlation_blocks`). The KP tests
        then use the block-wise r̄ (cross-block correlations set to 0) and ``result.cross_correlation``
        gains the r̄ of every block and the blocked r̄. None (default): the pooled r̄.
    selection
        The event selection in words, recorded in the settings (:meth:`from_csv` sets it).
    chunk_size
        Firm-events per chunk of the engine (:mod:`eventstudy.engine`); 0 or None: all in one chunk. Bounds
        the memory of the per-firm-event arrays. Not a convention: it never changes a result.
    executor, workers
        Where the chunks run (:func:`eventstudy.executors.get_executor`): ``"serial"`` (default, this
        process), ``"processes"`` (``workers`` processes, default one per core), ``"dask"``, or an
        :class:`~eventstudy.executors.Executor`. Not a convention: it never changes a result.
    regressions
        Cross-sectional CAR regressions (:class:`~eventstudy.regression.CarRegression`, e.g.
        ``CarRegression("car[-1,1] ~ C(category)")``) fitted on the result's pooled CARs with the events
        table as regressors (``result.regressions``) and shown in its report. Each formula is checked
        against the events table and its window against ``car_windows`` here, before any price is read.
    single_firm_tests
        The single-firm tests of every firm-event's ARs and CARs next to the t-test (``docs/methods.md`` §6.1):
        ``"auto"`` (default: the SQ test for studies of up to :data:`~eventstudy.spec.SQ_AUTO_LIMIT` and the
        permutation test for studies of up to :data:`~eventstudy.spec.PERMUTATION_AUTO_LIMIT` (event, ticker)
        pairs), ``"none"``, or names among
        ``"sq"``, ``"permutation"`` (a sequence or comma-separated text).
    permutation_draws
        B, the random subsets of the permutation test where the exact enumeration is too large (default
        1000); the draws are seeded by the conventions' ``seed`` knob and each firm-event's key.
    placebo_draws, placebo_seed
        Placebo p-values of every event's and group's CAAR and primary test (:mod:`eventstudy.placebo`,
        ``docs/methods.md`` §6.4 B3): B pseudo day 0s per event (0, the default: off) drawn with the seed (None:
        the conventions' ``seed`` knob); ``result.placebo``. The prices are then loaded over
        :data:`~eventstudy.placebo.PLACEBO_HISTORY_DAYS` more calendar days on each side.
    keep_estimation
        Keep the (firm-events x estimation days) returns and benchmark returns in ``result.panel`` and the
        residuals in ``result.fit`` even when no requested test reads them. Off by default: a study whose
        tests do not read them (``eventstudy.inference.base.needs_estimation``) returns a panel and fit
        with zero-column estimation arrays (``result.estimation_kept`` is False). Never changes a result.

    Raises
    ------
    InputError
        No events, a setting :class:`~eventstudy.spec.StudySpec` rejects (the error names the setting), an
        unknown grouping column, or a groups-file key that no event has.

    Examples
    --------
    >>> import eventstudy as es                                        # doctest: +SKIP
    >>> study = es.EventStudy.from_csv("events.csv", prices=es.CsvPrices("prices/"))  # doctest: +SKIP
    >>> result = study.run()                                           # doctest: +SKIP
    >>> result.car.head()                                              # doctest: +SKIP
    """

    def __init__(
        self,
        events: Iterable[Event],
        prices: PriceSource,
        *,
        model: str | NormalReturnModel = "market",
        factors: FactorData | FactorLookup | None = None,
        estimation_window: Window = (-250, -11),
        event_window: Window = (-10, 10),
        car_windows: Sequence[Window] = DEFAULT_CAR_WINDOWS,
        return_type: ReturnType | None = None,
        min_estimation_obs: int = 100,
        conventions: str | Conventions = "textbook",
        knobs: Mapping[str, object] | None = None,
        tests: Sequence[str] | None = None,
        progress: bool | None = None,
        title: str | None = None,
        groups: str | Grouping | None = None,
        kp_blocks: str | Grouping | None = None,
        selection: str = "",
        chunk_size: int | None = DEFAULT_CHUNK_SIZE,
        executor: str | Executor = "serial",
        workers: int | None = None,
        keep_estimation: bool = False,
        event_tests: EventTests = "auto",
        pairs: Sequence[ListingPair] = (),
        donors: DonorPanel | None = None,
        placebo_draws: int = 0,
        placebo_seed: int | None = None,
        regressions: Sequence[CarRegression] = (),
        single_firm_tests: str | Sequence[str] = "auto",
        permutation_draws: int = DEFAULT_DRAWS,
    ) -> None:
        self.events = tuple(events)
        if not self.events:
            raise InputError("no events to study")
        self.prices = prices
        grouping = group_by(groups) if isinstance(groups, str) else groups
        if grouping is not None:
            grouping.check_keys(self.events)
        blocks = correlation_blocks(kp_blocks)
        if blocks is not None:
            blocks.check_keys(self.events)
        conv = resolve_conventions(conventions, knobs)
        events = self.events
        model = with_donors(
            model,
            donors,
            lambda: [(ticker, event.date.isoformat()) for event in events for ticker in event.tickers],
            return_type or conv.return_type,
        )
        self.spec = StudySpec(
            model=model,
            estimation_window=as_window(estimation_window),
            event_window=as_window(event_window),
            car_windows=tuple(as_window(w) for w in car_windows),
            return_type=return_type,
            min_estimation_obs=min_estimation_obs,
            conventions=conv,
            tests=None if tests is None else tuple(tests),
            data_source=getattr(prices, "description", type(prices).__name__),
            grouping=grouping,
            correlation_blocks=blocks,
            selection=selection,
            event_tests=event_tests,
            listing_pairs=tuple(pairs),
            placebo_draws=placebo_draws,
            placebo_seed=placebo_seed,
            single_firm_tests=resolve_single_firm_tests(
                as_single_firm_tests(single_firm_tests), sum(len(event.tickers) for event in self.events)
            ),
            permutation_draws=permutation_draws,
        )
        self.progress = progress
        self.title = title or "Event study"
        self.chunk_size = as_chunk_size(chunk_size)
        self.executor = get_executor(executor, workers=workers)
        self.keep_estimation = keep_estimation or bool(pairs)  # the pair table reads the estimation residuals
        self.donors = donors
        if donors is not None:
            self.keep_estimation = True  # the synthetic controls are fitted on the estimation returns
        self.factors = factors if factors is None or isinstance(factors, FactorData) else FactorData(default=factors)
        self.regressions = _checked_regressions(regressions, self.events, self.spec.car_windows)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        prices: PriceSource,
        *,
        ids: str | Iterable[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        categories: str | Iterable[str] | None = None,
        **settings: object,
    ) -> EventStudy:
        """Read and validate an events file, select events, then build the study.

        Parameters
        ----------
        path
            The events CSV file (:func:`eventstudy.read_events`).
        prices
            The price source.
        ids, start, end, categories
            Event selection (:func:`eventstudy.events.select_events`): event ids, first and last event
            date (inclusive), categories; None keeps all. The selection is recorded in the settings.
        **settings
            As in the constructor. A groups mapping (``groups``) is checked against the whole file and
            then restricted to the selected events.

        Raises
        ------
        InputError
            As :func:`read_events` and :func:`~eventstudy.events.select_events` (an unknown id or category,
            or a selection that leaves no event), and as the constructor.
        """
        settings.setdefault("title", f"Event study: {Path(path).name}")
        everything = read_events(path)
        chosen = select_events(everything, ids=ids, start=start, end=end, categories=categories)
        groups = settings.get("groups")
        if isinstance(groups, Grouping):
            groups.check_keys(everything)
            settings["groups"] = groups.restricted_to(chosen)
        if "kp_blocks" in settings:  # a blocks mapping likewise
            blocks = correlation_blocks(settings["kp_blocks"])  # type: ignore[arg-type]
            if blocks is not None:
                blocks.check_keys(everything)
                settings["kp_blocks"] = blocks.restricted_to(chosen)
        settings.setdefault("selection", selection_text(len(everything), len(chosen), ids, start, end, categories))
        return cls(chosen, prices, **settings)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ steps
    def pairs(self) -> pd.DataFrame:
        """One row per (event, ticker): event_id, ticker, benchmark, event_date, event_time_utc, timezone."""
        return event_ticker_pairs(self.events)

    def calendar_day_zero(self) -> pd.DataFrame:
        """Day 0 per (event, ticker) from the exchange calendars alone (no prices needed): :func:`day_zero_table`."""
        return day_zero_table(self.events)

    def date_range(self) -> tuple[dt.date, dt.date]:
        """Calendar-date range of prices needed for all windows (with room for holidays)."""
        dates = pd.to_datetime([e.date for e in self.events])
        lead = int(abs(min(self.spec.estimation_window[0], 0)) * 1.5) + 30
        lag = int(max(self.spec.event_window[1], 0) * 1.5) + 20
        if self.spec.placebo_draws:  # the placebo draws its pseudo day 0s from the histories around the events
            lead, lag = lead + PLACEBO_HISTORY_DAYS, lag + PLACEBO_HISTORY_DAYS
        start = (dates.min() - pd.Timedelta(days=lead)).date()
        end = min((dates.max() + pd.Timedelta(days=lag)).date(), dt.date.today())
        return start, end

    def symbols(self) -> list[str]:
        """Every ticker and benchmark the study needs, in first-use order, then the model's extra series.

        The extra series: the other market's index of the cross-market model, the FX series of home lines studied
        in US dollars.
        """
        symbols = list(dict.fromkeys(chain.from_iterable((*e.tickers, *e.benchmarks) for e in self.events)))
        tickers = list(dict.fromkeys(chain.from_iterable(e.tickers for e in self.events)))
        extra = [*self.spec.normal_model.extra_symbols(tickers), *self.spec.in_us_dollars.values()]
        return list(dict.fromkeys([*symbols, *extra]))

    def load_prices(self) -> tuple[PriceTable, dict[str, PriceSourceError]]:
        """Load every symbol the study needs once, as one columnar table; failures are collected, never raised.

        A source with ``load_table`` (:class:`~eventstudy.data.series.TableSource`: the long-layout sources)
        gives all symbols at once; any other source is asked symbol by symbol
        (:func:`~eventstudy.data.table.load_each`, with a progress bar on a terminal).

        Returns
        -------
        table, failed
            The observed rows of the symbols that loaded, and the error of each symbol that did not.
        """
        start, end = self.date_range()
        symbols = self.symbols()
        if isinstance(self.prices, TableSource):
            return self.prices.load_table(symbols, start, end)
        return load_each(self.prices, symbols, start, end, progress=_show_progress(self.progress))

    # ------------------------------------------------------------------ run
    def run(self, progress: Callable[[str], None] | None = None) -> StudyResult:
        """Run the study and return its frozen result.

        Parameters
        ----------
        progress
            Called with a short message as each stage starts or ends (``"prices: ..."``,
            ``"estimation: ..."``, ``"tests: ..."``); the CLI prints them on a terminal. None: silent.

        Raises
        ------
        DataError
            When no price series at all could be loaded, or when no firm-event at all could be
            estimated (CLI exit 3; the message counts the exclusions by stage and reason, with one
            example each). Anything narrower (a ticker without data, a day 0 outside its prices, too few
            estimation returns, a CAR window with a missing day) becomes an exclusion with a reason.
        """
        say = progress or _silent
        spec = self.spec
        stage = self._estimated(say)
        estimates, labels = stage.estimates, stage.labels
        codes, group_codes, pooled = stage.codes, stage.group_codes, estimates.pooled
        data = inference_data(
            estimates.panel, estimates.fit, estimates.car_values, estimates.car_var, spec.car_windows, spec.conventions
        )
        if stage.blocks is not None:
            data = replace(data, blocks=stage.blocks[0], block_labels=stage.blocks[1])
        event_rows = _tested_event_rows(codes, len(labels), stage.event_tests)
        events = np.unique(codes if event_rows is None else codes[event_rows])
        say(
            f"tests: {len(get_tests(spec.tests))} tests for {1 + len(stage.group_labels) + len(events)} groups "
            f"({len(pooled)} firm-events, {int(pooled.sum())} pooled)"
        )
        tables = []
        if estimates.test_partials is not None:
            tables.append(finish_tests(estimates.test_partials, labels, stage.group_labels, tested_events=events))
        gathered = gathered_tests(spec.tests, stage.per_chunk)
        if gathered:
            tables.append(
                run_tests(
                    data,
                    codes,
                    labels,
                    gathered,
                    pooled=pooled,
                    group_codes=group_codes,
                    group_labels=stage.group_labels,
                    event_rows=event_rows,
                )
            )
        differences = group_differences(
            estimates.car_values,
            np.where(pooled, group_codes, -1),
            stage.group_labels,
            spec.car_windows,
            data.keys,
            spec.conventions,
        )
        result = self._result(stage, join_tables(tables, spec.tests), differences)
        if not spec.placebo_draws:
            return result
        say(f"placebo: {spec.placebo_draws:,} pseudo day 0s per event")
        assert stage.prices is not None  # the price table the study was estimated from
        placebo = run_placebo(
            result,
            stage.prices,
            draws=spec.placebo_draws,
            seed=spec.resolved_placebo_seed,
            factors=self.factors,
            progress=_show_progress(self.progress),
        )
        return replace(result, placebo_result=placebo)

    def run_slice(
        self, numbering: EventNumbering, progress: Callable[[str], None] | None = None
    ) -> tuple[StudyResult, SliceSums]:
        """Run this study as one slice of a larger study (:mod:`eventstudy.sliced`): everything but the tests.

        The events are the larger study's events restricted to some tickers (every firm-event of those
        tickers), numbered by ``numbering``. Returns the result with an empty ``tests`` table and no group
        differences, and the per-group sums of the decomposable tests with the number of estimated
        firm-events per event code, which the larger study merges over its slices.

        A slice in which nothing can be estimated (none of its symbols loaded, or every firm-event
        excluded) is not an error here: its result has no firm-event (``n_firm_events`` 0, empty
        per-firm-event tables) and the exclusions, ``event_days`` audit rows and provenance that the study
        in one piece gives its firm-events and symbols; the larger study raises
        :class:`~eventstudy.errors.DataError` only when no slice estimated anything.

        Raises
        ------
        InputError
            A requested test that is not decomposable, or a grouping (the sliced run computes neither).
        """
        say = progress or _silent
        stage = self._estimated(say, numbering)
        codes = stage.codes
        present, counts = np.unique(codes, return_counts=True)
        no_tests = TestTable(("all",), (), no_cross_correlation(), ("all",))
        result = self._result(stage, no_tests, pd.DataFrame(columns=list(GROUP_DIFFERENCE_COLUMNS)))
        return result, SliceSums(stage.estimates.test_partials, present, counts)

    def _estimated(self, say: Callable[[str], None], numbering: EventNumbering | None = None) -> _Estimated:
        """Prices, day 0, exclusions, the engine (fit, CARs, flags, pooling, per-chunk test sums) and the audit.

        Raises :class:`DataError` when no price series loaded or nothing is estimable, except in a slice
        (``numbering`` given), which then has no estimated firm-event (:meth:`run_slice`).
        """
        spec = self.spec
        days = self.calendar_day_zero()
        symbols = self.symbols()
        say(f"prices: loading {len(symbols)} symbols")
        prices, failed = self.load_prices()
        n_loaded = len(prices.symbols)
        say(f"prices: {n_loaded} of {len(symbols)} symbols loaded" + (f", {len(failed)} failed" if failed else ""))
        if not n_loaded and numbering is None:
            raise DataError(_no_prices_message(failed))
        days = resolve_day_zero(days, prices)
        days["precedence"] = precedence(days["event_id"], days["event_date"], days["event_time_utc"])

        without_prices = _price_exclusions(days, prices, failed)
        kept = ~days.index.isin(without_prices.index)
        usable = days.loc[kept, ["event_id", "ticker", "benchmark", "day_zero"]].reset_index(drop=True)
        per_chunk = tuple(test.name for test in get_tests(spec.tests) if test.decomposable)
        study_rows = None
        if numbering is None:
            codes, labels = pd.factorize(usable["event_id"], sort=False)
            n_events, event_tests = len(labels), resolve_event_tests(spec.event_tests, len(self.events))
            candidates = _tested_event_rows(codes, n_events, event_tests)
        else:
            numbering.check(spec)
            at = pd.Index(numbering.ids).get_indexer(usable["event_id"])
            codes, labels = numbering.codes[at], pd.Index([])
            n_events, event_tests = numbering.n_events, numbering.event_tests
            candidates = _tested_event_rows(codes, n_events, event_tests, listed=numbering.n_listed[at])
            listed_at = days.groupby("event_id", sort=False).cumcount().to_numpy(dtype=np.int64)[kept]
            study_rows = numbering.study_rows(at, listed_at)
        listed = usable.assign(exchange=days.loc[kept, "exchange"].to_numpy())
        group_codes, group_labels = self._groups(listed)
        blocks = self._blocks(listed)
        tested = np.zeros(len(usable), dtype=bool)
        tested[slice(None) if candidates is None else candidates] = True
        context = FirmEventContext.of(
            usable,
            prices,
            _dated_firm_events(days),
            tests=per_chunk,
            event_codes=np.asarray(codes, dtype=np.int64),
            n_events=n_events,
            group_codes=group_codes,
            n_user_groups=len(group_labels),
            tested=tested,
            study_rows=study_rows,
        )
        context = replace(context, rank=days.loc[kept, "precedence"].to_numpy(dtype=np.int64))
        estimates = estimate(
            usable,
            prices,
            spec,
            excluded_before=without_prices,
            context=context,
            executor=self.executor,
            chunk_size=self.chunk_size,
            keep_estimation=self.keep_estimation,
            progress=say,
            allow_empty=numbering is not None,
            factors=self.factors,
        )
        days["duplicate_of"] = duplicate_of(
            days["event_id"], days["ticker"], _audit_day_zero(days), days["precedence"].to_numpy()
        )
        firm_events = self._firm_events(days, estimates.panel, estimates)
        group_codes = group_codes[estimates.rows]
        firm_events["group"] = np.asarray(group_labels + ("",), dtype=object)[group_codes]
        exclusions = [without_prices, *estimates.exclusions]
        excluded = (
            pd.concat([e for e in exclusions if len(e)], ignore_index=True)
            if any(len(e) for e in exclusions)
            else pd.DataFrame(columns=list(EXCLUSION_COLUMNS))
        )
        notes = estimates.panel.pairs[["event_id", "ticker", "note"]]
        return _Estimated(
            days=self._final_status(days, excluded, notes, firm_events),
            estimates=estimates,
            excluded=excluded,
            firm_events=firm_events,
            provenance=_provenance(prices, failed),
            codes=np.asarray(codes, dtype=np.int64)[estimates.rows],
            labels=tuple(labels),
            group_codes=group_codes,
            group_labels=group_labels,
            event_tests=event_tests,
            per_chunk=per_chunk,
            blocks=None if blocks is None else (blocks[0][estimates.rows], blocks[1]),
            prices=prices,
        )

    def _result(self, stage: _Estimated, table: TestTable, differences: pd.DataFrame) -> StudyResult:
        estimates = stage.estimates
        return StudyResult(
            spec=self.spec,
            panel=estimates.panel,
            fit=estimates.fit,
            estimation_dates=estimates.estimation_dates,
            car_values=estimates.car_values,
            car_var=estimates.car_var,
            test_table=table,
            event_days=stage.days[list(EVENT_DAY_COLUMNS)],
            exclusions=stage.excluded[list(EXCLUSION_COLUMNS)].reset_index(drop=True),
            provenance=stage.provenance,
            events=events_to_frame(self.events),
            firm_events=stage.firm_events[list(FIRM_EVENT_COLUMNS)],
            group_differences=differences,
            title=self.title,
            donors=self.donors,
            single_firm=estimates.single_firm,
            regressions=self.regressions,
        )

    def _firm_events(self, days: pd.DataFrame, panel: ReturnPanel, estimates: Estimates) -> pd.DataFrame:
        """The estimated firm-events with their shared-firm-day flags and the pooling decision (§3.5).

        ``duplicate_of`` is the audit's (``days``), from every firm-event of the file with a day 0 (the one
        used, else the calendar's); ``overlaps``, ``estimation_confounders`` and ``pooled`` are the engine's
        (:func:`~eventstudy.pooling.firm_event_flags` against every other firm-event of the same ticker with
        a day 0, and :func:`~eventstudy.pooling.pooled_mask` of the estimated firm-events under the
        ``pooling`` knob).
        """
        pairs = panel.pairs
        audit_key, key = _pair_codes(days, pairs)
        audit = days.set_index(pd.Index(audit_key))
        return pd.DataFrame(
            {
                "event_id": pairs["event_id"].to_numpy(dtype=object),
                "ticker": pairs["ticker"].to_numpy(dtype=object),
                "exchange": audit["exchange"].reindex(key).fillna("").to_numpy(dtype=object),
                "day_zero": pd.to_datetime(pairs["day_zero"]).to_numpy(),
                "group": "",
                "duplicate_of": audit["duplicate_of"].reindex(key).fillna("").to_numpy(dtype=object),
                "overlaps": estimates.overlaps,
                "estimation_confounders": estimates.estimation_confounders,
                "pooled": estimates.pooled,
            }
        )

    def _groups(self, firm_events: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
        """Group code of each firm-event (event_id, ticker, exchange; -1: none) and the group labels."""
        grouping = self.spec.grouping
        if grouping is None:
            return np.full(len(firm_events), -1, dtype=np.int64), ()
        codes, labels = grouping.assign(self._grouping_table(firm_events))
        clash = sorted(set(labels) & ({"all"} | set(firm_events["event_id"])))
        if clash:
            raise InputError(
                f"the group label {clash[0]!r} is also an event id or 'all'; rename the group",
                parameter="groups",
                value=clash[0],
            )
        return codes, labels

    def _blocks(self, firm_events: pd.DataFrame) -> tuple[IntArray, tuple[str, ...]] | None:
        """Kolari-Pynnönen block code of each firm-event (-1: none) and the block labels; None without blocks."""
        blocks = self.spec.correlation_blocks
        return None if blocks is None else blocks.assign(self._grouping_table(firm_events))

    def _grouping_table(self, firm_events: pd.DataFrame) -> pd.DataFrame:
        """The firm-events (event_id, ticker, exchange) with their benchmark and events-file columns."""
        events = events_to_frame(self.events).drop(columns=["tickers", "benchmark"])
        pairs = self.pairs()[["event_id", "ticker", "benchmark"]]
        table = firm_events[["event_id", "ticker", "exchange"]].merge(pairs, on=["event_id", "ticker"], how="left")
        return table.merge(events, on="event_id", how="left")

    @staticmethod
    def _final_status(
        days: pd.DataFrame, excluded: pd.DataFrame, notes: pd.DataFrame, firm_events: pd.DataFrame
    ) -> pd.DataFrame:
        """The day-0 audit: pairs dropped after day 0 marked, notes added, the firm-events' flags joined."""
        days = days.copy()
        late = excluded[excluded["stage"].isin(["returns", "estimation"])]
        moved = notes[notes["note"] != ""]
        key, late_key, moved_key, flag_key = _pair_codes(days, late, moved, firm_events)
        # each pair's row of `late` (-1: none; a pair is excluded at one stage at most)
        at = pd.Index(late_key).get_indexer(pd.Index(key))
        hit = at >= 0
        if hit.any():
            days.loc[hit, "status"] = "excluded"
            days.loc[hit, "reason"] = late["reason"].to_numpy()[at[hit]]
        at = pd.Index(moved_key).get_indexer(pd.Index(key))
        hit = at >= 0
        if hit.any():
            note = moved["note"].to_numpy()[at[hit]]
            days.loc[hit, "reason"] = (days.loc[hit, "reason"].astype(str) + "; " + note).str.strip("; ")
        at = pd.Index(flag_key).get_indexer(pd.Index(key))
        for column in ("overlaps", "estimation_confounders"):
            flag = firm_events[column].to_numpy(dtype=object)
            days[column] = np.where(at >= 0, flag[np.maximum(at, 0)] if len(flag) else "", "").astype(object)
        return days


def _tested_event_rows(
    codes: IntArray, n_events: int, event_tests: str, listed: IntArray | None = None
) -> IntArray | None:
    """Firm-events whose events get their own tests: all (None), those of events of >= 2 firm-events, or none.

    The firm-events of an event are counted in ``codes``, or given per row as ``listed``.
    """
    if event_tests == "all":
        return None
    if event_tests == "none":
        return np.zeros(0, dtype=np.int64)
    counts = np.bincount(codes, minlength=n_events)[codes] if listed is None else listed
    return np.flatnonzero(counts >= 2)


def _checked_regressions(
    regressions: Sequence[CarRegression], events: Sequence[Event], car_windows: Sequence[Window]
) -> tuple[CarRegression, ...]:
    """The study's CAR regressions, each checked against the events table and the CAR windows."""
    chosen = tuple(regressions)
    if not chosen:
        return chosen
    table = events_to_frame(events)
    for regression in chosen:
        if not isinstance(regression, CarRegression):
            raise InputError(
                f"regressions takes CarRegression values, got {type(regression).__name__}", parameter="regressions"
            )
        if regression.window not in car_windows:
            raise InputError(
                f"{regression.formula!r} regresses CAR{window_text(regression.window)}, which is not among the CAR "
                f"windows ({'; '.join(window_text(w) for w in car_windows)}); add it to the CAR windows",
                parameter="regressions",
                value=regression.formula,
            )
        regression.check(table)
    return chosen


def _silent(message: str) -> None:
    """The progress callback of a run nobody watches."""


def _pair_codes(*frames: pd.DataFrame) -> list[IntArray]:
    """An int64 code per (event_id, ticker) row of each frame, equal for equal pairs across the frames.

    Event ids and tickers are factorized once over all the frames (hashing each text once), and a pair's
    code is ``event code * (number of tickers) + ticker code``.
    """
    cut = np.cumsum([len(f) for f in frames])[:-1]
    events, _ = pd.factorize(pd.concat([f["event_id"].astype(str) for f in frames], ignore_index=True))
    tickers, labels = pd.factorize(pd.concat([f["ticker"].astype(str) for f in frames], ignore_index=True))
    codes = events.astype(np.int64) * max(len(labels), 1) + tickers
    return np.split(codes, cut)


def _dated_firm_events(days: pd.DataFrame) -> pd.DataFrame:
    """Every firm-event of the audit with a day 0 (event_id, ticker, day_zero): the flags' sources."""
    day0 = _audit_day_zero(days)
    with_day0 = ~np.isnat(day0)
    return pd.DataFrame(
        {
            "event_id": days["event_id"].to_numpy()[with_day0],
            "ticker": days["ticker"].to_numpy()[with_day0],
            "day_zero": day0[with_day0],
        }
    )


def _audit_day_zero(days: pd.DataFrame) -> np.ndarray:
    """Day 0 of every pair of the audit as datetime64[D]: the one used, else the calendar's (NaT: neither)."""
    used = pd.to_datetime(days["day_zero"]).to_numpy().astype("datetime64[D]")
    calendar = pd.to_datetime(days["calendar_day_zero"]).to_numpy().astype("datetime64[D]")
    return np.where(np.isnat(used), calendar, used)


OUTSIDE_PRICES = "price range"
"""Exclusion stage of a firm-event whose day 0 lies before the first or after the last price row of its ticker."""


def _price_exclusions(days: pd.DataFrame, prices: PriceTable, failed: Mapping[str, PriceSourceError]) -> pd.DataFrame:
    """Exclusions of the pairs without prices; ``days`` gets their status and reason (changed in place).

    A pair is dropped when its ticker could not be loaded (stage ``prices``, the source's reason), when its
    benchmark could not be loaded (stage ``prices``, ``"benchmark <symbol>: ..."``), or when the ticker
    has prices but none around day 0 (stage :data:`OUTSIDE_PRICES`, reason ``"no prices around day 0:
    ..."``), so that a whole period outside the price data reads as one kind of exclusion. The frame's
    index is that of the dropped rows of ``days``.
    """
    symbols = list(failed)
    errors = list(failed.values())
    bench_text = pd.Series(
        [f"benchmark {s}: {e.reason}" for s, e in zip(symbols, errors, strict=True)], index=symbols, dtype=object
    )
    source_text = pd.Series(
        [f"{s}: {e.reason} ({e.detail})" for s, e in zip(symbols, errors, strict=True)], index=symbols, dtype=object
    )
    bench_missing = prices.codes_for(days["benchmark"]) < 0
    ticker_missing = (days["status"] == "no data").to_numpy()
    has_prices = prices.codes_for(days["ticker"]) >= 0
    bench_reason = bench_text.reindex(days["benchmark"].to_numpy()).fillna("").to_numpy(dtype=object)
    only_bench = bench_missing & ~ticker_missing
    days.loc[only_bench, "status"] = "excluded"
    days.loc[only_bench, "reason"] = bench_reason[only_bench]
    failure = source_text.reindex(days["ticker"].to_numpy()).fillna("").to_numpy(dtype=object)
    from_source = ticker_missing & (failure != "")
    days.loc[from_source, "reason"] = failure[from_source]
    dropped = ticker_missing | bench_missing
    outside = ticker_missing & has_prices
    reason = days["reason"].where(days["reason"] != "", "no data")
    reason = reason.where(~outside, "no prices around day 0: " + days["reason"].astype(str))
    return pd.DataFrame(
        {
            "event_id": days.loc[dropped, "event_id"],
            "ticker": days.loc[dropped, "ticker"],
            "stage": np.where(outside[dropped], OUTSIDE_PRICES, "prices"),
            "reason": reason[dropped],
        }
    )


def day_zero_table(events: Iterable[Event]) -> pd.DataFrame:
    """Day 0 per (event, ticker) from the exchange calendars alone, before any price is loaded.

    Parameters
    ----------
    events
        Validated events (e.g. from :func:`eventstudy.read_events`).

    Returns
    -------
    DataFrame
        One row per (event, ticker) pair in file order: the columns of
        :func:`eventstudy.calendars.calendar_day_zero` plus ``benchmark``.
    """
    pairs = event_ticker_pairs(tuple(events))
    table = calendar_day_zero(pairs)  # one row per pair, in the pairs' order
    return table.assign(benchmark=pairs["benchmark"].array)  # as it is: no round trip through Python strings


def failure_summary(failed: Mapping[str, PriceSourceError]) -> list[str]:
    """Failed symbols grouped by reason: one line per reason with a count and up to six symbols, one example each.

    E.g. ``["no network: 36 symbols could not be fetched (9988.HK, BABA, ... and 30 more)",
    "  e.g. could not connect to Yahoo (...)"]``.
    """
    by_reason: dict[str, list[str]] = {}
    for symbol, exc in failed.items():
        by_reason.setdefault(exc.reason, []).append(symbol)
    lines = []
    for reason, symbols in by_reason.items():
        shown = ", ".join(symbols[:6]) + (f" and {len(symbols) - 6} more" if len(symbols) > 6 else "")
        count = f"{len(symbols)} symbol{'s' if len(symbols) > 1 else ''}"
        lines.append(f"{reason}: {count} could not be fetched ({shown})")
        if failed[symbols[0]].detail:
            lines.append(f"  e.g. {failed[symbols[0]].detail}")
    return lines


def _no_prices_message(failed: dict[str, PriceSourceError]) -> str:
    """One readable paragraph for "nothing could be loaded": symbols grouped by reason, one example each."""
    lines = [f"no usable prices for any of the {len(failed)} symbols:"]
    return "\n".join(lines + ["  " + line for line in failure_summary(failed)])


def _provenance(prices: PriceTable, failed: Mapping[str, PriceSourceError]) -> pd.DataFrame:
    """Provenance of every symbol: the table's rows (one per loaded symbol), then one row per failed symbol.

    Columns :data:`~eventstudy.data.table.PROVENANCE_COLUMNS`; a failed symbol has no source, dates or rows
    and its notes give the reason and detail of the failure.
    """
    errors = list(failed.values())
    failures = pd.DataFrame(
        {
            "symbol": list(failed),
            "source": "",
            "vintage": "",
            "price_field": "",
            "first_date": pd.NaT,
            "last_date": pd.NaT,
            "rows": np.zeros(len(errors), dtype=np.int64),
            "notes": [f"{e.reason}: {e.detail}".strip(": ") for e in errors],
        },
        columns=list(PROVENANCE_COLUMNS),
    )
    frames = [f for f in (prices.provenance, failures) if len(f)]
    if not frames:
        return failures
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


__all__ = [
    "OUTSIDE_PRICES",
    "EventStudy",
    "day_zero_table",
    "failure_summary",
    "inference_data",
]
