"""Command line: ``eventstudy run | fetch | days | store ls | simulate``.

Exit status: 0 success (a run with per-event exclusions still succeeds and reports them); 2 bad input
(events file, option, output folder, price file); 3 no usable data at all (nothing could be loaded or
estimated) or an unreadable store; 70 an unexpected error (a bug: the traceback is shown only with
``--debug``); 130 interrupted.

Options are spelled out in full (no abbreviations); a misspelt option gets a "did you mean" hint.
Window options take negative values with a space (``--estimation -250:-11``) as well as with ``=``.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from eventstudy._typing import Window
from eventstudy.errors import EventStudyError, EventStudyWarning, InputError
from eventstudy.executors import EXECUTORS, get_executor
from eventstudy.inference.single_firm import DEFAULT_DRAWS
from eventstudy.models import MODELS
from eventstudy.outputs import LARGE_TABLE_ROWS, OUTPUT_FORMATS
from eventstudy.spec import EVENT_TESTS, EVENT_TESTS_AUTO_LIMIT, PERMUTATION_AUTO_LIMIT, SQ_AUTO_LIMIT

if TYPE_CHECKING:
    import pandas as pd

    from eventstudy.data.series import PriceSource
    from eventstudy.report import ReportFormat

EXIT_BUG = 70

SIGNED_VALUE_OPTIONS = frozenset({"--estimation", "--window", "--car", "--delta"})
"""Options whose value may start with ``-`` (a negative window ``-250:-11`` or a delta ``-0.5%``)."""

_SIGNED_VALUE = re.compile(r"-[0-9.:]")

OPTION_OF_SETTING = {
    "estimation_window": "--estimation",
    "event_window": "--window",
    "car_windows": "--car",
    "min_estimation_obs": "--min-obs",
    "model": "--model",
    "return_type": "--return-type",
    "conventions": "--conventions",
    "knobs": "--knob",
    "primary": "--primary",
    "tests": "--tests",
    "groups": "--groups",
    "chunk_size": "--chunk-size",
    "event_tests": "--event-tests",
    "placebo_draws": "--placebo",
    "placebo_seed": "--placebo-seed",
    "single_firm_tests": "--single-firm",
    "permutation_draws": "--permutation-draws",
    "executor": "--executor",
    "workers": "--workers",
    "scheduler": "--scheduler",
}
"""Command-line option of each :class:`~eventstudy.spec.StudySpec` setting, for error messages."""


def parse_window(text: str, parameter: str) -> Window:
    """Parse ``"A:B"`` (inclusive relative days, e.g. ``-250:-11``) into ``(A, B)``.

    Raises
    ------
    InputError
        Naming ``parameter`` when the text is not two integers with A <= B.
    """
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start, end = int(parts[0]), int(parts[1])
    except ValueError:
        raise InputError(
            f"expected A:B with integers A <= B (e.g. -1:1), got {text!r}", parameter=parameter, value=text
        ) from None
    if start > end:
        raise InputError(f"window start {start} is after its end {end}", parameter=parameter, value=text)
    return start, end


def parse_knobs(items: Sequence[str]) -> dict[str, str]:
    """Parse repeatable ``--knob NAME=VALUE`` options into a dict (values converted later, per knob)."""
    knobs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputError(f"expected NAME=VALUE (e.g. fec=off), got {item!r}", parameter="--knob", value=item)
        knobs[name.strip()] = value.strip()
    return knobs


def _factor_regions(items: Sequence[str]) -> dict[str, str]:
    """Parse repeatable ``--factor-region TICKER=REGION`` options (regions of Ken French's data library)."""
    from eventstudy.data.factors import FRENCH_REGIONS

    regions: dict[str, str] = {}
    for item in items:
        ticker, sep, region = (part.strip() for part in item.partition("="))
        if not sep or not ticker or region not in FRENCH_REGIONS:
            raise InputError(
                f"expected TICKER=REGION with a region among {', '.join(FRENCH_REGIONS)}, got {item!r}",
                parameter="--factor-region",
                value=item,
            )
        regions[ticker] = region
    return regions


def join_signed_values(argv: Sequence[str]) -> list[str]:
    """Glue ``--car -1:1`` into ``--car=-1:1`` for the options of :data:`SIGNED_VALUE_OPTIONS`.

    argparse reads a token starting with ``-`` that is not a plain negative number (``-250:-11``,
    ``-0.5%``) as an option, so ``--estimation -250:-11`` would fail with "expected one argument".
    A value starting with ``-`` and a digit, ``.`` or ``:`` right after one of these options is joined to
    it with ``=``; everything else, and everything after ``--``, is left as it is.

    Examples
    --------
    >>> join_signed_values(["run", "e.csv", "--estimation", "-250:-11", "--car", "0:1"])
    ['run', 'e.csv', '--estimation=-250:-11', '--car', '0:1']
    """
    out: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            out.extend(tokens[i:])
            break
        if token in SIGNED_VALUE_OPTIONS and i + 1 < len(tokens) and _SIGNED_VALUE.match(tokens[i + 1]):
            out.append(f"{token}={tokens[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


class _Parser(argparse.ArgumentParser):
    """argparse with full option names only and a "did you mean" hint for a misspelt option.

    Usage errors exit with status 2 (argparse's own convention), without a traceback. Subcommand
    parsers are of this class too (argparse creates them with the parent's class).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse as argparse does; an unknown ``--option`` close to a known one is a usage error with a hint."""
        parsed, extras = super().parse_known_args(args, namespace)
        known = [name for name in self._option_string_actions if name.startswith("--")]
        for token in extras:
            name = token.split("=", 1)[0]
            if name.startswith("--"):
                # an abbreviation names the options it begins; otherwise the closest spelling
                close = [o for o in known if o.startswith(name)] or difflib.get_close_matches(name, known, 1, 0.6)
                if close:
                    self.error(f"unrecognized option {name}: did you mean {' or '.join(close)}?")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eventstudy`` command."""
    parser = _Parser(prog="eventstudy", description="Event studies of market reactions to dated news.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True)

    def debug_option(p: argparse.ArgumentParser) -> None:
        # accepted after the subcommand too; SUPPRESS keeps a --debug given before it
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of bugs")

    def data_options(p: argparse.ArgumentParser) -> None:
        source = p.add_mutually_exclusive_group()
        source.add_argument(
            "--prices",
            metavar="DIR|FILE.parquet",
            help="folder of Yahoo-layout CSV files <SYMBOL>.csv, or Parquet (a .parquet file or folder): long "
            "date,ticker,adj_close or wide date,<TICKER>,...",
        )
        source.add_argument(
            "--returns",
            metavar="FILE",
            help="long returns date,ticker,return: a CSV file, or Parquet (a .parquet file or folder; wide too)",
        )
        p.add_argument(
            "--offline", action="store_true", help="never use the network; read Yahoo prices from the store only"
        )
        p.add_argument(
            "--store", metavar="PATH", help="SQLite price store (default: user data dir, or $EVENTSTUDY_STORE)"
        )
        p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
        debug_option(p)

    run = sub.add_parser("run", help="run an event study and write the report")
    run.add_argument("events", help="events CSV file")
    run.add_argument("--out", metavar="DIR", help="output folder (default reports/<events file stem>/)")
    run.add_argument("--estimation", default="-250:-11", metavar="A:B", help="estimation window (default -250:-11)")
    run.add_argument("--window", default="-10:10", metavar="A:B", help="event window (default -10:10)")
    run.add_argument(
        "--car", action="append", metavar="A:B", help="CAR window, repeatable (default 0:0 0:1 -1:1 0:5 -5:5)"
    )
    run.add_argument(
        "--model",
        default="market",
        help=f"normal-return model: {' | '.join(MODELS)} (default market); the factor models capm, ff3, ff5 and "
        "carhart need factor data, synthetic needs --donors",
    )
    run.add_argument(
        "--return-type",
        default=None,
        choices=("simple", "log"),
        help="simple or log returns (default: the convention profile's, textbook simple, estudy2 log)",
    )
    run.add_argument("--min-obs", type=int, default=100, help="minimum estimation returns (default 100)")
    run.add_argument("--conventions", default="textbook", help="convention profile: textbook (default) or estudy2")
    run.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one convention knob on top of the profile, repeatable (e.g. fec=off, resid_ddof=1, "
        "kp_min_overlap=20, car_coverage=0.8); booleans take on/off/true/false",
    )
    run.add_argument(
        "--formats",
        default="md,html,pdf",
        help="report formats, comma-separated (md,html,pdf; also xlsx,tex); csv alone: the tables only, no report "
        "and no figures",
    )
    run.add_argument(
        "--output-format",
        default="auto",
        choices=OUTPUT_FORMATS,
        help="tables as CSV, or the per-firm-event tables (abnormal_returns, car, parameters, firm_events, "
        f"event_days, tests) as partitioned Parquet folders <name>.parquet/; auto (default): Parquet for those "
        f"with more than {LARGE_TABLE_ROWS:,} rows",
    )
    run.add_argument(
        "--tests",
        metavar="TEST,...",
        help="aggregate tests to compute, comma-separated (default: every registered test; a few names make a "
        "large study faster)",
    )
    run.add_argument(
        "--event-tests",
        default="auto",
        choices=EVENT_TESTS,
        help="which events get their own rows of tests besides all and the groups: every event, only events of two "
        f"or more firm-events (multi_firm), or none; auto (default): every event up to {EVENT_TESTS_AUTO_LIMIT:,} "
        "events, multi_firm above (a single firm-event's own t is in car and abnormal_returns)",
    )
    run.add_argument(
        "--single-firm",
        default="auto",
        metavar="sq,permutation|none|auto",
        help="single-firm tests of every AR and CAR next to the t-test (p_sq, p_permutation in abnormal_returns and "
        f"car): sq, permutation, both, or none; auto (default): sq up to {SQ_AUTO_LIMIT:,} firm-events, "
        f"permutation up to {PERMUTATION_AUTO_LIMIT:,} (docs/methods.md 6.1)",
    )
    run.add_argument(
        "--permutation-draws",
        type=int,
        default=DEFAULT_DRAWS,
        metavar="B",
        help=f"random subsets of the permutation test where exact enumeration is too large (default {DEFAULT_DRAWS}); "
        "seeded by the seed knob (--knob seed=N)",
    )
    run.add_argument(
        "--chunk-size",
        type=int,
        metavar="N",
        help="firm-events per chunk of the engine, 0 for one chunk (default: eventstudy.engine.DEFAULT_CHUNK_SIZE, "
        "which keeps a chunk's arrays to tens of MB); bounds the memory, never changes a result",
    )
    run.add_argument(
        "--slice-size",
        type=int,
        metavar="N",
        help="run the study in slices of whole tickers of about N firm-events, each loading its own prices and "
        "writing its own Parquet tables (eventstudy.sliced: bounded memory per process, for studies too large for "
        "one; tables only, decomposable tests only, no groups or event selection)",
    )
    run.add_argument(
        "--executor",
        default="serial",
        choices=EXECUTORS,
        help="where the chunks (or the slices of --slice-size) run: serial (default, this process), processes "
        "(--workers processes) or dask (the dask extra); never changes a result",
    )
    run.add_argument(
        "--workers", type=int, metavar="N", help="worker processes of --executor processes (default: one per core)"
    )
    run.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler address of --executor dask (tcp://host:port)"
    )
    run.add_argument(
        "--primary",
        metavar="TEST,...",
        help="primary tests of the at-a-glance table, 1 to 3 test names (the first sets the stars); default auto: "
        "BMP t (KP-adjusted when firm-events share dates) and GRANK t (exact Wilcoxon below 10 firm-events); "
        "the knob primary (docs/methods.md 6.6)",
    )
    run.add_argument("--title", metavar="TEXT", help="title of the reports (default: Event study: <events file>)")
    select = run.add_argument_group("event selection (all filters must pass)")
    select.add_argument(
        "--events", dest="event_ids", metavar="ID,...", action="append", help="event ids to study, repeatable"
    )
    select.add_argument(
        "--from", dest="start", metavar="DATE", help="first event date to study, YYYY-MM-DD (the event's own date)"
    )
    select.add_argument("--to", dest="end", metavar="DATE", help="last event date to study, YYYY-MM-DD")
    select.add_argument("--category", metavar="NAME", action="append", help="category to study, repeatable or A,B")
    grouping = run.add_mutually_exclusive_group()
    grouping.add_argument(
        "--group-by",
        metavar="COLUMN",
        help="groups of firm-events by a column: an events-file column (e.g. category) or ticker, benchmark, exchange",
    )
    grouping.add_argument(
        "--groups", metavar="FILE", help="CSV mapping event_id or ticker to a group (header: ticker,<name>)"
    )
    run.add_argument(
        "--kp-blocks",
        metavar="market|COLUMN|FILE.csv",
        help="blocks for the Kolari-Pynnönen r̄: cross-block correlations count as 0 (Stata KOLBlock); market = one "
        "block per exchange, or a grouping column, or a CSV mapping ticker or event_id to a block (default: none)",
    )
    run.add_argument(
        "--factors",
        metavar="FILE|DIR|french",
        help="factor data of capm, ff3, ff5, carhart: a factor CSV/Parquet file (date + factor columns, percent or "
        "decimal detected), a folder of regional files like ../shared/data/curated/factors, or french (Ken French's "
        "data library, kept in the store; with --offline from the store only)",
    )
    run.add_argument(
        "--factor-region",
        action="append",
        default=[],
        metavar="TICKER=REGION",
        help="use another region's factors for a ticker (repeatable), e.g. BABA=asia_pacific_ex_japan; regions: us, "
        "asia_pacific_ex_japan, japan, europe, developed (default: the ticker's listing)",
    )
    run.add_argument(
        "--extras",
        metavar="A,B",
        help="cross_market: extra regressors (an FX rate such as HKD=X, a sector index such as KWEB) accumulated "
        "between the ticker's closes",
    )
    run.add_argument("--extra-lags", type=int, default=0, metavar="N", help="cross_market: lags of each extra (0)")
    run.add_argument(
        "--orthogonalize",
        action="store_true",
        help="cross_market: replace the benchmark by its residual on the extras (beta keeps its meaning)",
    )
    run.add_argument(
        "--t2t-intercept",
        choices=("per_return", "per_day"),
        default=None,
        help="intercept of the trade-to-trade model: per_return a(n)=1 (default) or per_day a(n)=n",
    )
    run.add_argument(
        "--pairs",
        metavar="FILE",
        help="CSV of listing pairs (header: home,adr[,ratio]), e.g. 0700.HK,TCEHY: the report compares each pair's "
        "CARs event by event (pairs.csv)",
    )
    run.add_argument(
        "--donors",
        metavar="FILE",
        help="wide price CSV of one exchange's donor tickers (Date, then one column per ticker), e.g. "
        "../shared/data/curated/panel_hk_2020_2025/adj_close_wide.csv: a synthetic-control CAR with placebo and "
        "conformal p-values for every firm-event on that exchange (synthetic.csv and the report)",
    )
    run.add_argument(
        "--regress",
        action="append",
        metavar="FORMULA",
        help="cross-sectional regression of one window's CARs on events-file columns, shown in the report and "
        "written to regression.csv, e.g. 'car[-1,1] ~ C(category)' (repeatable; more regressors: eventstudy regress)",
    )
    run.add_argument("--regress-weights", choices=("ols", "wls"), default="ols", help="wls: weights 1/se^2")
    run.add_argument(
        "--regress-cov",
        choices=("HC0", "HC1", "HC2", "HC3", "cluster"),
        default="cluster",
        help="covariance of --regress (default cluster: CRV1 by --regress-cluster)",
    )
    run.add_argument(
        "--regress-cluster",
        action="append",
        choices=("event_date", "event_id", "ticker"),
        help="cluster key of --regress (default event_date; give two for two-way clustering)",
    )
    run.add_argument(
        "--regress-wild-bootstrap",
        type=int,
        default=999,
        metavar="B",
        help="wild cluster bootstrap p of --regress with one-way clusters: all 2^G sign vectors when G <= 12, else B "
        "random ones (default 999; 0: none)",
    )
    run.add_argument(
        "--placebo",
        type=int,
        default=0,
        metavar="B",
        help="placebo p-values of every event's and group's CAAR and primary test: B pseudo day 0s per event from "
        "the firm-events' own price histories (docs/methods.md 6.4 B3; 1000 is usual; placebo.csv and a report "
        "section)",
    )
    run.add_argument("--placebo-seed", type=int, metavar="N", help="seed of the placebo draws (default: the seed knob)")
    data_options(run)

    fetch = sub.add_parser("fetch", help="download the prices an events file needs into the store")
    fetch.add_argument("events", help="events CSV file")
    fetch.add_argument("--estimation", default="-250:-11", metavar="A:B")
    fetch.add_argument("--window", default="-10:10", metavar="A:B")
    fetch.add_argument("--store", metavar="PATH")
    fetch.add_argument("--quiet", action="store_true")
    debug_option(fetch)

    days = sub.add_parser("days", help="print the day 0 of every (event, ticker) from the exchange calendars")
    days.add_argument("events", help="events CSV file")
    debug_option(days)

    regress = sub.add_parser("regress", help="regress a finished run's CARs on event and firm characteristics")
    regress.add_argument("run_dir", metavar="RUN_DIR", help="output folder of 'eventstudy run' (car.csv, ...)")
    regress.add_argument("formula", help="e.g. 'car[-1,1] ~ C(category) + log_mcap' (patsy formula)")
    regress.add_argument("--events", metavar="PATH", help="events CSV file: its columns (category, ...) as regressors")
    regress.add_argument("--data", metavar="PATH", help="CSV of regressors keyed by event_id and/or ticker")
    regress.add_argument("--weights", choices=("ols", "wls"), default="ols", help="wls: weights 1/se^2")
    regress.add_argument("--cov", choices=("HC0", "HC1", "HC2", "HC3", "cluster"), help="default HC1, or cluster")
    regress.add_argument(
        "--cluster", action="append", metavar="KEY", help="event_date, event_id or ticker; twice for two-way"
    )
    regress.add_argument("--wild-bootstrap", type=int, metavar="B", help="wild cluster bootstrap p (one-way)")
    regress.add_argument("--seed", type=int, help="seed of the wild bootstrap's random signs")
    regress.add_argument("--out", metavar="PATH", help="write the coefficient table to this CSV file")
    debug_option(regress)

    store = sub.add_parser("store", help="inspect the price store")
    debug_option(store)
    store_sub = store.add_subparsers(dest="store_command", required=True)
    ls = store_sub.add_parser("ls", help="list the symbols in the store with dates and vintages")
    ls.add_argument("--store", metavar="PATH")
    debug_option(ls)

    sim = sub.add_parser("simulate", help="Brown-Warner size and power simulation on a wide price panel")
    sim.add_argument(
        "--panel",
        metavar="DIR",
        help="folder with adj_close_wide.csv.gz and market.csv "
        "(default ../shared/data/curated/panel_sp500_2010_2020, or under $EVENTSTUDY_SHARED_DIR)",
    )
    sim.add_argument("--market-column", default="^GSPC", help="benchmark column of market.csv (default ^GSPC)")
    sim.add_argument("--start", metavar="DATE", help="use only returns dated on or after DATE (YYYY-MM-DD)")
    sim.add_argument("--end", metavar="DATE", help="use only returns dated on or before DATE (YYYY-MM-DD)")
    sim.add_argument("--samples", type=int, default=250, help="number of samples R (default 250)")
    sim.add_argument("--events", type=int, default=50, help="firm-events per sample N (default 50)")
    sim.add_argument(
        "--delta",
        action="append",
        metavar="D",
        help="abnormal return added, repeatable; 0.005 or 0.5%% (default 0 0.5%% 1%% 2%%)",
    )
    sim.add_argument(
        "--inject-day", action="append", type=int, metavar="T", help="event day receiving delta, repeatable (default 0)"
    )
    sim.add_argument("--estimation", default="-244:-6", metavar="A:B", help="estimation window (default -244:-6)")
    sim.add_argument("--window", default="-5:5", metavar="A:B", help="event window (default -5:5)")
    sim.add_argument("--car", action="append", metavar="A:B", help="CAR window, repeatable (default 0:0 -1:1 -5:5)")
    sim.add_argument("--model", default="market", help="market | constant_mean | market_adjusted")
    sim.add_argument("--conventions", default="textbook", help="convention profile (default textbook)")
    sim.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one convention knob on top of the profile, repeatable (e.g. car_variance=L_s2)",
    )
    sim.add_argument("--tests", metavar="A,B", help="comma-separated test names (default: every registered test)")
    sim.add_argument(
        "--alpha", action="append", type=float, metavar="A", help="test level, repeatable (default 0.01 0.05 0.10)"
    )
    sim.add_argument("--seed", type=int, default=1985, help="random seed (default 1985)")
    sim.add_argument("--workers", type=int, default=2, help="worker processes; 0 runs in this process (default 2)")
    sim.add_argument("--chunk-size", type=int, default=10, help="samples per engine call (default 10)")
    sim.add_argument(
        "--out", metavar="DIR", default="reports/simulation", help="output folder (default reports/simulation)"
    )
    sim.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    debug_option(sim)
    return parser


def _price_source(args: argparse.Namespace) -> PriceSource:
    """The source of ``--prices``/``--returns`` (Parquet by :func:`eventstudy.data.parquet.is_parquet`), else Yahoo."""
    from eventstudy.data import CsvPrices, ReturnsFile, YahooPrices
    from eventstudy.data.parquet import ParquetPrices, is_parquet

    if getattr(args, "prices", None):
        return ParquetPrices(args.prices, kind="price") if is_parquet(args.prices) else CsvPrices(args.prices)
    if getattr(args, "returns", None):
        return ParquetPrices(args.returns, kind="return") if is_parquet(args.returns) else ReturnsFile(args.returns)
    return YahooPrices(store=args.store, offline=getattr(args, "offline", False))


TABLES_ONLY = "csv"
"""The ``--formats`` value that writes the tables only (no report, no figures)."""


def parse_formats(text: str) -> tuple[ReportFormat, ...]:
    """The report formats of ``--formats`` in writing order; ``csv`` (the tables, always written) left out.

    Raises
    ------
    InputError
        Naming ``--formats`` for an unknown format.

    Examples
    --------
    >>> parse_formats("html, md"), parse_formats("csv")
    (('md', 'html'), ())
    """
    from eventstudy.report import FORMATS

    formats = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in (*FORMATS, TABLES_ONLY)]
    if bad:
        raise InputError(
            f"unknown report format {bad[0]!r}; choose from {', '.join((*FORMATS, TABLES_ONLY))} "
            f"({TABLES_ONLY}: the tables only)",
            parameter="--formats",
            value=bad[0],
        )
    return tuple(f for f in FORMATS if f in formats)


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """Comma-separated names (``--tests bmp_t,grank_t``) as a tuple; None when the option is not given."""
    if text is None:
        return None
    return tuple(name.strip() for name in text.split(",") if name.strip())


def check_out_dir(out: Path, parameter: str = "--out", *, inputs: Sequence[Path] = ()) -> None:
    """Refuse, before any work, an output folder that cannot receive the files.

    Parameters
    ----------
    out
        The output folder (it may not exist yet; it is created when the files are written).
    parameter
        Option name for the error message.
    inputs
        Input files the folder must not be (the events file).

    Raises
    ------
    InputError
        Naming ``parameter`` and the path when ``out`` is one of ``inputs``, an existing file, a path
        under a file, or when the folder (or its nearest existing parent) is not writable.
    """
    target = out.resolve()
    for path in inputs:
        if path.resolve() == target:
            raise InputError(
                f"{out} is the events file; give a folder for the results, e.g. reports/{path.stem}",
                parameter=parameter,
                value=str(out),
            )
    if target.exists() and not target.is_dir():
        raise InputError(
            f"{out} is an existing file, not a folder; give a folder for the results",
            parameter=parameter,
            value=str(out),
        )
    existing = next(p for p in (target, *target.parents) if p.exists())
    if not existing.is_dir():
        raise InputError(
            f"{out} lies under the file {existing}, which cannot hold a folder; give another folder",
            parameter=parameter,
            value=str(out),
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot write to {out}: the folder {existing} is read-only; give a writable folder",
            parameter=parameter,
            value=str(out),
        )


def stage_printer(quiet: bool) -> Callable[[str], None] | None:
    """The stage-message callback of ``run``: ``eventstudy: <message>`` on stderr, or None when nobody watches.

    Messages are shown only when stderr is a terminal, ``--quiet`` is not given and the ``CI`` environment
    variable is not set to a true value (``true``, ``1``, ``yes``), so pipes, logs and CI stay clean.
    """
    if quiet or not sys.stderr.isatty() or os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return None
    counting = [False]  # a counter line ("figures 3/16") is open: the next count rewrites it

    def show(message: str) -> None:
        count = _COUNTER.fullmatch(message)
        if count:  # one line per counter, rewritten in place; it ends when the count is complete
            done = count[1] == count[2]
            print(f"\reventstudy: {message}", end="\n" if done else "", file=sys.stderr, flush=True)
            counting[0] = not done
            return
        if counting[0]:
            print(file=sys.stderr)
            counting[0] = False
        print(f"eventstudy: {message}", file=sys.stderr, flush=True)

    return show


_COUNTER = re.compile(r".* (\d+)/(\d+)")
"""A progress message that counts (``"figures 3/16"``): shown on one terminal line that each count rewrites."""


def run_summary(n_firm_events: int, n_events: int, firm_events: pd.DataFrame, exclusions: pd.DataFrame) -> str:
    """The line ``run`` prints at the end: firm-events, pooled firm-days, exclusions by stage.

    Examples
    --------
    >>> import pandas as pd
    >>> firm = pd.DataFrame({"pooled": [True, True, False]})
    >>> excl = pd.DataFrame({"stage": ["prices", "prices", "estimation"]})
    >>> run_summary(3, 2, firm, excl)
    '3 firm-events of 2 events estimated, 2 pooled; 3 exclusions (2 prices, 1 estimation; see exclusions.csv).'
    """
    stages = exclusions["stage"].value_counts(sort=False)
    by_stage = ", ".join(f"{n} {stage}" for stage, n in stages.items())
    return (
        f"{n_firm_events} firm-events of {n_events} events estimated, {int(firm_events['pooled'].sum())} pooled; "
        f"{len(exclusions)} exclusions" + (f" ({by_stage}; see exclusions.csv)." if len(exclusions) else ".")
    )


def _run_sliced(
    args: argparse.Namespace,
    events_path: Path,
    out: Path,
    formats: tuple[str, ...],
    groups: object,
    settings: dict[str, Any],
    say: Callable[[str], None] | None,
) -> int:
    """``run --slice-size N``: the study in slices of whole tickers (:func:`eventstudy.sliced.run_sliced`)."""
    from eventstudy.sliced import run_sliced

    refused = [
        (option, given)
        for option, given in (
            ("--formats", formats),
            ("--groups/--group-by", groups),
            ("--kp-blocks", args.kp_blocks),
            ("--ids", args.event_ids),
            ("--from", args.start),
            ("--to", args.end),
            ("--category", args.category),
        )
        if given
    ]
    if refused:
        option = refused[0][0]
        raise InputError(
            f"a sliced run (--slice-size) writes the tables only, for every event of the file, without groups: "
            f"leave out {option} (use --formats csv for the tables)",
            parameter=option,
        )
    if args.slice_size < 1:
        raise InputError("--slice-size must be a whole number of firm-events >= 1", parameter="--slice-size")
    study = run_sliced(
        events_path,
        _price_source(args),
        out,
        slice_size=args.slice_size,
        executor=get_executor(args.executor, workers=args.workers, address=args.scheduler),
        output_format=args.output_format,
        progress=say,
        **settings,
    )
    if not args.quiet:
        print(study.summary())
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from eventstudy.donors import DonorPanel
    from eventstudy.grouping import group_by, read_groups
    from eventstudy.pairs import read_pairs
    from eventstudy.spec import DEFAULT_CAR_WINDOWS, resolve_conventions
    from eventstudy.study import EventStudy

    cars = tuple(parse_window(c, "--car") for c in args.car) if args.car else DEFAULT_CAR_WINDOWS
    knobs = parse_knobs(args.knob)
    if args.primary:
        knobs["primary"] = args.primary
    conventions = resolve_conventions(args.conventions, knobs, parameter="--knob")
    formats = parse_formats(args.formats)
    tests = parse_names(args.tests)
    if tests is not None and not tests:
        raise InputError("give one or more test names, e.g. --tests bmp_t,grank_t", parameter="--tests", value="")
    events_path = Path(args.events)
    out = Path(args.out) if args.out else Path("reports") / events_path.stem
    check_out_dir(out, inputs=(events_path,))
    groups = read_groups(args.groups) if args.groups else group_by(args.group_by) if args.group_by else None
    say = stage_printer(args.quiet)
    extra: dict[str, object] = {"title": args.title} if args.title else {}
    model: Any = args.model
    if args.extras or args.extra_lags or args.orthogonalize:
        if args.model != "cross_market":
            raise InputError(
                "--extras, --extra-lags and --orthogonalize apply to --model cross_market", parameter="--extras"
            )
        from eventstudy.models import CrossMarket

        extras = parse_names(args.extras) or ()
        model = CrossMarket(extras=extras, extra_lags=args.extra_lags, orthogonalize=args.orthogonalize)
    if args.t2t_intercept is not None:
        if args.model != "trade_to_trade":
            raise InputError(
                "--t2t-intercept applies to --model trade_to_trade",
                parameter="--t2t-intercept",
                value=args.t2t_intercept,
            )
        from eventstudy.models import TradeToTrade

        model = TradeToTrade(intercept_convention=args.t2t_intercept)
    settings: dict[str, Any] = dict(
        model=model,
        estimation_window=parse_window(args.estimation, "--estimation"),
        event_window=parse_window(args.window, "--window"),
        car_windows=cars,
        return_type=args.return_type,
        min_estimation_obs=args.min_obs,
        conventions=conventions,
        tests=tests,
        **({} if args.chunk_size is None else {"chunk_size": args.chunk_size}),
        event_tests=args.event_tests,
        single_firm_tests=args.single_firm,
        permutation_draws=args.permutation_draws,
        **extra,
    )
    if args.placebo_seed is not None and not args.placebo:
        raise InputError("--placebo-seed applies with --placebo B", parameter="--placebo-seed", value=args.placebo_seed)
    if args.placebo:
        settings.update(placebo_draws=args.placebo, placebo_seed=args.placebo_seed)
    pairs = read_pairs(args.pairs) if args.pairs else ()
    donors = DonorPanel.from_csv(args.donors) if args.donors else None
    if args.regress:
        from eventstudy.regression import CarRegression

        if args.regress_wild_bootstrap < 0:
            raise InputError(
                f"--regress-wild-bootstrap takes a number of draws >= 0 (0: no bootstrap), got "
                f"{args.regress_wild_bootstrap}",
                parameter="--regress-wild-bootstrap",
                value=args.regress_wild_bootstrap,
            )

        settings["regressions"] = tuple(
            CarRegression(
                formula,
                weights=args.regress_weights,
                cov=args.regress_cov,
                cluster=tuple(args.regress_cluster or ("event_date",)),
                wild_bootstrap=args.regress_wild_bootstrap or None,
            )
            for formula in args.regress
        )
    if args.slice_size is not None:
        if args.regress:
            raise InputError(
                "--regress is not available with --slice-size; run without it, or regress the finished run's "
                "folder with 'eventstudy regress'",
                parameter="--regress",
                value=args.regress[0],
            )
        if args.factors:
            raise InputError(
                "--factors is not available with --slice-size yet; run without --slice-size",
                parameter="--factors",
                value=args.factors,
            )
        if donors is not None:
            raise InputError(
                "--donors fits synthetic controls per firm-event of the whole study; run without --slice-size",
                parameter="--donors",
                value=args.donors,
            )
        if pairs:
            raise InputError(
                "--pairs compares the legs of a pair within each event, which a sliced run does not hold together; "
                "run without --slice-size",
                parameter="--pairs",
                value=args.pairs,
            )
        return _run_sliced(args, events_path, out, formats, groups, settings, say)
    study = EventStudy.from_csv(
        events_path,
        prices=_price_source(args),
        ids=args.event_ids,
        start=args.start,
        end=args.end,
        categories=args.category,
        groups=groups,
        kp_blocks=args.kp_blocks,
        pairs=pairs,
        donors=donors,
        progress=None if not args.quiet else False,
        executor=get_executor(args.executor, workers=args.workers, address=args.scheduler),
        **settings,
    )
    if args.factors:
        from eventstudy.data.store import PriceStore
        from eventstudy.regressors import load_factor_data

        study.factors = load_factor_data(
            args.factors,
            study.spec.normal_model,
            list(study.pairs()["ticker"]),
            store=PriceStore(args.store) if args.store else None,
            offline=args.offline,
            regions=_factor_regions(args.factor_region),
        )
    elif args.factor_region:
        raise InputError("--factor-region applies to factor models with --factors", parameter="--factor-region")
    if len(study.events) > 100_000:
        # the events are alive until the process ends: keep them out of the cyclic collector's scans (each full
        # collection walked all 10^6 events of a large study, ~5 s of its run); this process is the CLI's own
        gc.freeze()
    result = study.run(progress=say)
    paths = result.write_tables(out, args.output_format)
    report_paths = []
    if formats:  # the report modules (matplotlib, reportlab) are imported only when a report is asked for
        from eventstudy.report import write_report

        report_paths = write_report(result, out, formats=formats, progress=say, output_format=args.output_format)
    paths += report_paths
    if not args.quiet:
        n_events = result.panel.pairs["event_id"].nunique()
        documents = ", ".join(str(p) for p in report_paths if p.parent == out and p.stem == "report")
        print(run_summary(result.n_firm_events, n_events, result.firm_events, result.exclusions))
        print(f"Wrote {len(paths)} files to {out}/ (report: {documents or 'none'})")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from eventstudy.data import YahooPrices
    from eventstudy.study import EventStudy, failure_summary

    prices = YahooPrices(store=args.store, offline=False)
    study = EventStudy.from_csv(
        args.events,
        prices=prices,
        estimation_window=parse_window(args.estimation, "--estimation"),
        event_window=parse_window(args.window, "--window"),
        progress=None if not args.quiet else False,
    )
    loaded, failed = study.load_prices()
    for row in loaded.provenance.itertuples(index=False):
        print(f"{row.symbol:12s} ok      {row.first_date:%Y-%m-%d}..{row.last_date:%Y-%m-%d} {row.rows:6d} rows")
    summary = failure_summary(failed)
    if not loaded.symbols:
        from eventstudy.errors import DataError

        raise DataError("\n  ".join([f"no symbol could be downloaded, {len(failed)} failed:", *summary]))
    if summary:
        print(f"FAILED: {len(failed)} of {len(loaded.symbols) + len(failed)} symbols")
        print("\n".join("  " + line for line in summary))
    return 0


def _cmd_days(args: argparse.Namespace) -> int:
    from eventstudy.events import read_events
    from eventstudy.study import day_zero_table

    table = day_zero_table(read_events(args.events))
    cols = ["event_id", "ticker", "exchange", "event_time_utc", "calendar_day_zero", "rule"]
    with_dates = table[cols].copy()
    with_dates["calendar_day_zero"] = with_dates["calendar_day_zero"].dt.strftime("%Y-%m-%d")
    print(with_dates.to_string(index=False))
    return 0


def _cmd_regress(args: argparse.Namespace) -> int:
    import pandas as pd

    from eventstudy.events import events_to_frame, read_events
    from eventstudy.regression import read_run_cars, regress_cars

    car, events = read_run_cars(args.run_dir)
    if args.events:
        events = events_to_frame(read_events(args.events))
    data = pd.read_csv(args.data, dtype={"event_id": str, "ticker": str}) if args.data else None
    result = regress_cars(
        car,
        args.formula,
        data,
        events=events,
        weights=args.weights,
        cov=args.cov or ("cluster" if args.cluster else "HC1"),
        cluster=tuple(args.cluster or ("event_date",)),
        wild_bootstrap=args.wild_bootstrap,
        seed=args.seed,
    )
    print(result.summary())
    if args.out:
        result.table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    return 0


def _cmd_store_ls(args: argparse.Namespace) -> int:
    from eventstudy.data import PriceStore
    from eventstudy.data.store import default_store_path

    path = Path(args.store) if args.store else default_store_path()
    if not path.exists():
        print(f"store {path} does not exist yet (run `eventstudy fetch EVENTS` to fill it)")
        return 0
    store = PriceStore(path)
    listing = store.listing()
    print(f"store: {path}")
    print(listing.to_string(index=False) if len(listing) else "(empty)")
    failed = store.failed_symbols()
    if failed:
        print(f"no data stored (every download failed; see the fetch log): {', '.join(failed)}")
    return 0


def _parse_delta(text: str) -> float:
    """``"0.005"`` or ``"0.5%"`` -> 0.005; InputError naming ``--delta`` otherwise."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise InputError(
            f"expected a number such as 0.005 or 0.5%, got {text!r}", parameter="--delta", value=text
        ) from None
    return value


def _cmd_simulate(args: argparse.Namespace) -> int:
    from eventstudy.simulate import WidePanel, default_panel_dir, simulate

    knobs = parse_knobs(args.knob)
    check_out_dir(Path(args.out))
    panel = WidePanel.from_dir(args.panel or default_panel_dir(), market_column=args.market_column)
    if args.start or args.end:
        try:
            panel = panel.between(args.start, args.end)
        except ValueError:
            raise InputError(
                f"dates must be YYYY-MM-DD, got {args.start!r} and {args.end!r}", parameter="--start/--end"
            ) from None
    result = simulate(
        panel,
        n_samples=args.samples,
        n_events=args.events,
        deltas=tuple(_parse_delta(d) for d in args.delta) if args.delta else (0.0, 0.005, 0.01, 0.02),
        inject_days=tuple(args.inject_day) if args.inject_day else (0,),
        estimation_window=parse_window(args.estimation, "--estimation"),
        event_window=parse_window(args.window, "--window"),
        car_windows=tuple(parse_window(c, "--car") for c in args.car) if args.car else ((0, 0), (-1, 1), (-5, 5)),
        model=args.model,
        conventions=args.conventions,
        knobs=knobs,
        tests=tuple(t.strip() for t in args.tests.split(",") if t.strip()) if args.tests else None,
        alphas=tuple(args.alpha) if args.alpha else (0.01, 0.05, 0.10),
        seed=args.seed,
        workers=args.workers,
        chunk_size=args.chunk_size,
        progress=False if args.quiet else None,
    )
    paths = result.to_csv(args.out)
    if not args.quiet:
        print(result.to_markdown(alphas=(0.05,)))
        print(
            f"{result.p_values.shape[1]} samples x {result.spec.n_events} events in {result.elapsed:.1f} s "
            f"({result.workers} worker processes); wrote {', '.join(str(p) for p in paths)}"
        )
    return 0


COMMANDS = {
    "run": _cmd_run,
    "fetch": _cmd_fetch,
    "days": _cmd_days,
    "regress": _cmd_regress,
    "simulate": _cmd_simulate,
}


def _as_option(exc: InputError) -> InputError:
    """The error with a study setting's name replaced by its option (``min_estimation_obs`` -> ``--min-obs``)."""
    option = OPTION_OF_SETTING.get(exc.parameter or "")
    if option is None or exc.path is not None:
        return exc
    return InputError(exc.message, parameter=option, value=exc.value)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print the package's warnings as ``eventstudy: warning: ...`` (no source line); others as Python does."""
    if issubclass(category, EventStudyWarning):
        print(f"eventstudy: warning: {message}", file=sys.stderr if file is None else file)
    else:
        warnings._showwarning_orig(message, category, filename, lineno, file, line)  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eventstudy`` console script; returns the exit status.

    Warnings of the package (:class:`~eventstudy.errors.EventStudyWarning`) are shown (never raised) on
    stderr as ``eventstudy: warning: <message>`` while the command runs.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("default", category=EventStudyWarning)
        warnings.showwarning = _show_warning
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(join_signed_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(yfinance|exchange_calendars).*")
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        status = _cmd_store_ls(args) if args.command == "store" else COMMANDS[args.command](args)
        sys.stdout.flush()
        return status
    except BrokenPipeError:  # the reader has gone (`eventstudy days events.csv | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except EventStudyError as exc:
        shown = _as_option(exc) if isinstance(exc, InputError) else exc
        print(f"eventstudy: error: {shown}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("eventstudy: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"eventstudy: internal error: {type(exc).__name__}: {exc}\n"
                "This is a bug; rerun with --debug for the traceback and report it.",
                file=sys.stderr,
            )
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
