"""Command line: ``eventstudy run | fetch | days | store ls | simulate``.

Exit status: 0 success (a run with per-event exclusions still succeeds and reports them); 2 bad input
(events file, option, price file); 3 no usable data at all or an unreadable store; 70 an unexpected
error (a bug: the traceback is shown only with ``--debug``).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from eventstudy._typing import Window
from eventstudy.errors import EventStudyError, EventStudyWarning, InputError

EXIT_BUG = 70


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


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as exit status 2 (argparse's own convention), without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eventstudy`` command."""
    parser = _Parser(prog="eventstudy", description="Event studies of market reactions to dated news.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_options(p: argparse.ArgumentParser) -> None:
        source = p.add_mutually_exclusive_group()
        source.add_argument("--prices", metavar="DIR", help="folder of Yahoo-layout CSV files <SYMBOL>.csv")
        source.add_argument("--returns", metavar="FILE", help="long CSV of returns: date,ticker,return")
        p.add_argument(
            "--offline", action="store_true", help="never use the network; read Yahoo prices from the store only"
        )
        p.add_argument(
            "--store", metavar="PATH", help="SQLite price store (default: user data dir, or $EVENTSTUDY_STORE)"
        )
        p.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    run = sub.add_parser("run", help="run an event study and write the report")
    run.add_argument("events", help="events CSV file")
    run.add_argument("--out", metavar="DIR", help="output folder (default reports/<events file stem>/)")
    run.add_argument("--estimation", default="-250:-11", metavar="A:B", help="estimation window (default -250:-11)")
    run.add_argument("--window", default="-10:10", metavar="A:B", help="event window (default -10:10)")
    run.add_argument(
        "--car", action="append", metavar="A:B", help="CAR window, repeatable (default 0:0 0:1 -1:1 0:5 -5:5)"
    )
    run.add_argument("--model", default="market", help="market | constant_mean | market_adjusted")
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
    run.add_argument("--formats", default="md,html,pdf", help="report formats, comma-separated (md,html,pdf)")
    data_options(run)

    fetch = sub.add_parser("fetch", help="download the prices an events file needs into the store")
    fetch.add_argument("events", help="events CSV file")
    fetch.add_argument("--estimation", default="-250:-11", metavar="A:B")
    fetch.add_argument("--window", default="-10:10", metavar="A:B")
    fetch.add_argument("--store", metavar="PATH")
    fetch.add_argument("--quiet", action="store_true")

    days = sub.add_parser("days", help="print the day 0 of every (event, ticker) from the exchange calendars")
    days.add_argument("events", help="events CSV file")

    store = sub.add_parser("store", help="inspect the price store")
    store_sub = store.add_subparsers(dest="store_command", required=True)
    ls = store_sub.add_parser("ls", help="list the symbols in the store with dates and vintages")
    ls.add_argument("--store", metavar="PATH")

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
    return parser


def _price_source(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from eventstudy.data import CsvPrices, ReturnsFile, YahooPrices

    if getattr(args, "prices", None):
        return CsvPrices(args.prices)
    if getattr(args, "returns", None):
        return ReturnsFile(args.returns)
    return YahooPrices(store=args.store, offline=getattr(args, "offline", False))


def _cmd_run(args: argparse.Namespace) -> int:
    from eventstudy.report import write_report
    from eventstudy.study import DEFAULT_CAR_WINDOWS, EventStudy, resolve_conventions

    cars = tuple(parse_window(c, "--car") for c in args.car) if args.car else DEFAULT_CAR_WINDOWS
    knobs = parse_knobs(args.knob)
    conventions = resolve_conventions(args.conventions, knobs, parameter="--knob")
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    bad = [f for f in formats if f not in ("md", "html", "pdf")]
    if bad:
        raise InputError(
            f"unknown report format {bad[0]!r}; choose from md, html, pdf", parameter="--formats", value=bad[0]
        )
    events_path = Path(args.events)
    study = EventStudy.from_csv(
        events_path,
        prices=_price_source(args),
        model=args.model,
        estimation_window=parse_window(args.estimation, "--estimation"),
        event_window=parse_window(args.window, "--window"),
        car_windows=cars,
        return_type=args.return_type,
        min_estimation_obs=args.min_obs,
        conventions=conventions,
        progress=None if not args.quiet else False,
    )
    result = study.run()
    out = Path(args.out) if args.out else Path("reports") / events_path.stem
    paths = result.to_csv(out)
    paths += write_report(result, out, formats=formats)
    if not args.quiet:
        n_events = result.panel.pairs["event_id"].nunique()
        print(
            f"{result.n_firm_events} firm-events of {n_events} events estimated; "
            f"{len(result.exclusions)} exclusions (see exclusions.csv and the report)."
        )
        print(f"Wrote {len(paths)} files to {out}/ (report: {out / 'report.html'})")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from eventstudy.data import YahooPrices
    from eventstudy.study import EventStudy

    prices = YahooPrices(store=args.store, offline=False)
    study = EventStudy.from_csv(
        args.events,
        prices=prices,
        estimation_window=parse_window(args.estimation, "--estimation"),
        event_window=parse_window(args.window, "--window"),
        progress=None if not args.quiet else False,
    )
    loaded, failed = study.load_prices()
    for symbol, series in loaded.items():
        print(f"{symbol:12s} ok      {series.first_date:%Y-%m-%d}..{series.last_date:%Y-%m-%d} {len(series):6d} rows")
    for symbol, exc in failed.items():
        print(f"{symbol:12s} FAILED  {exc.reason}: {exc.detail}")
    if not loaded:
        from eventstudy.errors import DataError

        raise DataError("no symbol could be downloaded; see the reasons above")
    return 0


def _cmd_days(args: argparse.Namespace) -> int:
    from eventstudy.data.series import PriceSeries
    from eventstudy.events import read_events
    from eventstudy.study import EventStudy

    class _NoPrices:
        description = "none"

        def load(self, symbol: str, start: object, end: object) -> PriceSeries:
            raise NotImplementedError

    study = EventStudy(read_events(args.events), _NoPrices())
    table = study.calendar_day_zero()
    cols = ["event_id", "ticker", "exchange", "event_time_utc", "calendar_day_zero", "rule"]
    with_dates = table[cols].copy()
    with_dates["calendar_day_zero"] = with_dates["calendar_day_zero"].dt.strftime("%Y-%m-%d")
    print(with_dates.to_string(index=False))
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


COMMANDS = {"run": _cmd_run, "fetch": _cmd_fetch, "days": _cmd_days, "simulate": _cmd_simulate}


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
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(yfinance|exchange_calendars).*")
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        if args.command == "store":
            return _cmd_store_ls(args)
        return COMMANDS[args.command](args)
    except EventStudyError as exc:
        print(f"eventstudy: error: {exc}", file=sys.stderr)
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
