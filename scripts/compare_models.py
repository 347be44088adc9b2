r"""Compare normal-return models on the 2020-21 seed events (issue 9, item 7; ``docs/models.md``).

Each model runs the same study through the Python API (``EventStudy.from_csv`` with ``CsvPrices``, offline):
the events of ``events.csv`` dated 2020-01-01 to 2021-12-31 on the shared 2019-2021 prices, the default
windows and tests. Factor models (``capm``, ``ff3``, ``ff5``, ``carhart``) read their factors with
:func:`eventstudy.regressors.load_factor_data` from a folder laid out like ``../shared/data/curated/factors``
(each ticker gets its listing region's factors: Asia Pacific ex Japan for ``.HK``, US for US listings; a region
without a file leaves its firm-events excluded with the reason). Nothing is computed here that the study does
not compute: the CARs are ``result.car``, the CAARs and primary tests ``result.summary().caar`` and
``.primary`` (``docs/methods.md`` §6.6), the parameters ``result.parameters``.

Writes to ``--out`` (default ``reports/model_comparison``):

- ``car_by_model.csv``: event_id, ticker, window, model, car, se, t_stat, p_value (one row per firm-event,
  CAR window and model; ``window`` as ``[-1, +1]``);
- ``caar_by_model.csv``: window, group (an event id or ``all``), model, n, caar_pct (the CAAR in percent),
  primary_test, statistic, p_value (the first primary test, the one that sets the report's stars);
- ``parameters_by_model.csv``: event_id, ticker, model, parameter, value (every coefficient and diagnostic);
- ``README.md``: the CAAR tables for [-1, +1] and [0, +1], the firm-events estimated and excluded per model
  with the reasons, the betas side by side for the event with the most firm-events, and the time per model.

Example (the run of ``docs/models.md``)::

    .venv/bin/python scripts/compare_models.py --out reports/model_comparison

Exit status as the ``eventstudy`` command line's: 0 success, 2 bad input (an unknown model, an events file,
an option), 3 no data (no model could estimate anything). Progress on stderr only on a terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eventstudy import CsvPrices, EventStudy
from eventstudy.cli import check_out_dir, stage_printer
from eventstudy.errors import DataError, EventStudyError, InputError
from eventstudy.formatting import fmt_num, fmt_p, hide_paths
from eventstudy.models import get_model
from eventstudy.regressors import load_factor_data
from eventstudy.results import StudyResult
from eventstudy.spec import window_text

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EVENTSTUDY_SHARED_DIR", REPO.parent / "shared"))
DEFAULT_EVENTS = REPO / "events.csv"
DEFAULT_PRICES = SHARED / "data" / "curated" / "window_2019_2021"
DEFAULT_FACTORS = SHARED / "data" / "curated" / "factors"
DEFAULT_OUT = Path("reports") / "model_comparison"
DEFAULT_MODELS = ("market", "ff3", "scholes_williams", "dimson", "trade_to_trade", "garch", "cross_market")
FACTOR_MODELS = ("capm", "ff3", "ff5", "carhart")
"""The models whose factors come from a folder of regional files (``--factors``)."""

SUMMARY_WINDOWS = ((-1, 1), (0, 1))
"""The CAR windows whose CAAR tables the Markdown summary shows."""

SHOWN_PARAMETERS: dict[str, tuple[str, ...]] = {
    "market": ("beta",),
    "ff3": ("beta_mkt", "beta_smb", "beta_hml"),
    "scholes_williams": ("beta", "rho_m"),
    "dimson": ("beta_dimson",),
    "trade_to_trade": ("beta",),
    "garch": ("beta",),
    "cross_market": ("beta", "beta_other"),
}
"""The parameters of each model that the summary's beta table shows (other models: their ``beta*`` columns)."""

BOOKKEEPING = (
    "event_id",
    "ticker",
    "benchmark",
    "model",
    "n_obs",
    "df",
    "regressor_gaps",
    "estimation_start",
    "estimation_end",
    "estimation_window",
    "event_window",
)
"""Columns of ``result.parameters`` that are not estimates (left out of ``parameters_by_model.csv``)."""


@dataclass(frozen=True)
class ModelRun:
    """One model's study: its result (None when nothing could be estimated), the reason, and its wall time."""

    model: str
    result: StudyResult | None
    failure: str
    seconds: float
    factor_gaps: tuple[str, ...] = ()
    """Regions of the study's tickers without factor data, with the reason (factor models)."""


def parse_models(text: str) -> tuple[str, ...]:
    """``"market,ff3"`` -> ``("market", "ff3")``: registered models, each once, in the order given.

    Raises
    ------
    InputError
        An empty list, an unknown model (the message lists the registered ones) or the ``factors`` model
        (its columns are chosen in Python, not here).
    """
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise InputError("give one or more model names, e.g. --models market,ff3", parameter="--models", value=text)
    for name in names:
        try:
            get_model(name)
        except InputError as error:
            raise InputError(error.message, parameter="--models", value=name) from None
    return names


def run_model(
    model: str, events: Path, prices: Path, factors: Path, start: str, end: str, say: Callable[[str], None]
) -> ModelRun:
    """Run the study of ``events`` under ``model``; a study with nothing estimable is recorded, not raised."""
    started = time.perf_counter()
    study = EventStudy.from_csv(events, CsvPrices(prices), start=start, end=end, model=model, progress=False)
    gaps: tuple[str, ...] = ()
    if model in FACTOR_MODELS:
        study.factors = load_factor_data(factors, study.spec.normal_model, list(study.pairs()["ticker"]), offline=True)
        gaps = tuple(f"{region}: {hide_paths(why)}" for region, why in study.factors.unavailable.items())
    try:
        result: StudyResult | None = study.run()
        failure = ""
    except DataError as error:
        result, failure = None, hide_paths(error)
    seconds = time.perf_counter() - started
    say(f"{model}: {seconds:.1f} s, " + (f"{result.n_firm_events} firm-events" if result else failure))
    return ModelRun(model, result, failure, seconds, gaps)


def car_table(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """event_id, ticker, window, model, car, se, t_stat, p_value of every model's ``result.car``."""
    frames = []
    for run in runs:
        if run.result is None:
            continue
        car = run.result.car
        frames.append(
            car.assign(
                window=[window_text((a, b)) for a, b in zip(car["window_start"], car["window_end"], strict=True)],
                model=run.model,
            )[["event_id", "ticker", "window", "model", "car", "se", "t_stat", "p_value"]]
        )
    return pd.concat(frames, ignore_index=True)


def caar_table(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """window, group, model, n, caar_pct, primary_test, statistic, p_value, ordered by window, group, model.

    The CAAR is the study summary's (``Summary.caar``: the mean CAR of the firm-events the group pools) in
    percent; the test is the group's first primary test (``Summary.primary`` slot 1, ``docs/methods.md`` §6.6).
    """
    frames = []
    for run in runs:
        if run.result is None:
            continue
        summary = run.result.summary()
        keys = ["group", "window_start", "window_end"]
        first = summary.primary[summary.primary["slot"] == 1][[*keys, "test", "statistic", "p_value"]]
        frame = summary.caar.merge(first, on=keys, how="left", validate="one_to_one")
        frame["order"] = frame["group"].map({g: i for i, g in enumerate(summary.groups["group"])})
        frames.append(frame.assign(model=run.model, caar_pct=100.0 * frame["caar"]))
    every = pd.concat(frames, ignore_index=True)
    windows = list(dict.fromkeys(zip(every["window_start"], every["window_end"], strict=True)))
    models = [run.model for run in runs]
    every["window_order"] = [windows.index(w) for w in zip(every["window_start"], every["window_end"], strict=True)]
    every["model_order"] = every["model"].map(models.index)
    every = every.sort_values(["window_order", "order", "model_order"], kind="stable")
    every["window"] = [window_text((a, b)) for a, b in zip(every["window_start"], every["window_end"], strict=True)]
    every = every.rename(columns={"test": "primary_test"})
    return every[["window", "group", "model", "n", "caar_pct", "primary_test", "statistic", "p_value"]].reset_index(
        drop=True
    )


def parameter_table(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """event_id, ticker, model, parameter, value: every coefficient and diagnostic of every model, long."""
    frames = []
    for run in runs:
        if run.result is None:
            continue
        params = run.result.parameters
        values = [c for c in params.columns if c not in BOOKKEEPING]
        long = params.melt(id_vars=["event_id", "ticker"], value_vars=values, var_name="parameter")
        frames.append(long.assign(model=run.model))
    every = pd.concat(frames, ignore_index=True)
    return every[["event_id", "ticker", "model", "parameter", "value"]]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    """A Markdown table: the header, an alignment row (``l``/``r`` per column, default left then right), rows."""
    marks = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in marks]
    return ["| " + " | ".join(line) + " |" for line in (header, rule, *rows)]


def caar_section(caar: pd.DataFrame, window: str, models: Sequence[str]) -> list[str]:
    """The CAAR of every group under every model for one window: ``CAAR% (p; n)`` cells."""
    part = caar[caar["window"] == window]
    groups = list(dict.fromkeys(part["group"]))
    cells = {(r.group, r.model): r for r in part.itertuples(index=False)}
    rows = []
    for group in groups:
        row = [str(group)]
        for model in models:
            r = cells.get((group, model))
            row.append("–" if r is None else f"{fmt_num(r.caar_pct, 2)} ({fmt_p(r.p_value)}; {r.n})")
        rows.append(row)
    tests = ", ".join(sorted(set(part["primary_test"].dropna())))
    return [
        f"### CAAR {window}, percent (primary p-value; firm-events)",
        "",
        *markdown_table(["group", *models], rows),
        "",
        f"Primary test behind each p-value: {tests} (the first primary test of `docs/methods.md` §6.6).",
        "",
    ]


def exclusion_section(runs: Sequence[ModelRun]) -> list[str]:
    """Per model: wall time, firm-events estimated and excluded, the exclusions by stage and reason with tickers."""
    rows = []
    reasons = []
    for run in runs:
        reasons += [f"- **{run.model}**, no factor data for the region {gap}" for gap in run.factor_gaps]
        if run.result is None:
            rows.append([run.model, f"{run.seconds:.1f}", "0", "all"])
            reasons.append(f"- **{run.model}**: {run.failure}")
            continue
        rows.append([run.model, f"{run.seconds:.1f}", str(run.result.n_firm_events), str(len(run.result.exclusions))])
        for r in run.result.summary().exclusions.itertuples(index=False):
            reasons.append(f"- **{run.model}**, {r.stage}: {r.reason}: {r.firm_events} firm-events ({r.tickers})")
    return [
        "## Firm-events estimated and excluded",
        "",
        *markdown_table(["model", "seconds", "estimated", "excluded"], rows),
        "",
        "Exclusions by stage and reason (tickers in brackets; `exclusions.csv` of a single-model run has each row):",
        "",
        *reasons,
        "",
    ]


def parameter_section(params: pd.DataFrame, runs: Sequence[ModelRun]) -> list[str]:
    """The betas of every model side by side for the event with the most estimated firm-events."""
    counts = params.drop_duplicates(["event_id", "ticker"]).groupby("event_id", sort=False).size()
    event = str(counts.idxmax())
    part = params[params["event_id"] == event]
    columns: list[tuple[str, str]] = []
    for run in runs:
        if run.result is None:
            continue
        names = SHOWN_PARAMETERS.get(run.model) or tuple(
            c for c in run.result.parameters.columns if c.startswith("beta")
        )
        columns += [(run.model, name) for name in names]
    values = part.set_index(["ticker", "model", "parameter"])["value"]
    tickers = list(dict.fromkeys(part["ticker"]))
    rows = [[ticker, *(fmt_num(values.get((ticker, model, name)), 3) for model, name in columns)] for ticker in tickers]
    return [
        f"## Parameters that differ: `{event}`",
        "",
        "Each firm-event's own estimation window [-250, -11]; every coefficient and diagnostic of every firm-event "
        "is in `parameters_by_model.csv`.",
        "",
        *markdown_table(["ticker", *(f"{model} {name}" for model, name in columns)], rows),
        "",
    ]


def summary_markdown(runs: Sequence[ModelRun], caar: pd.DataFrame, params: pd.DataFrame, command: str) -> str:
    """The README of the comparison folder."""
    models = [run.model for run in runs if run.result is not None]
    lines = [
        "# Model comparison: the 2020-21 seed events",
        "",
        "Written by `scripts/compare_models.py` (`docs/models.md` reads the numbers):",
        "",
        f"    {command}",
        "",
    ]
    for window in SUMMARY_WINDOWS:
        lines += caar_section(caar, window_text(window), models)
    lines += exclusion_section(runs)
    lines += parameter_section(params, runs)
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The script's options (usage errors exit 2, as argparse does)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("events", nargs="?", default=str(DEFAULT_EVENTS), help="events file (default: events.csv)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: reports/model_comparison)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model names")
    parser.add_argument("--prices", default=str(DEFAULT_PRICES), help="folder of <SYMBOL>.csv price files")
    parser.add_argument("--factors", default=str(DEFAULT_FACTORS), help="folder of regional factor files")
    parser.add_argument("--from", dest="start", default="2020-01-01", help="first event date (inclusive)")
    parser.add_argument("--to", dest="end", default="2021-12-31", help="last event date (inclusive)")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run every model, write the tables and the summary; the exit status of the ``eventstudy`` CLI."""
    args = build_parser().parse_args(argv)
    try:
        models = parse_models(args.models)
        events, out = Path(args.events), Path(args.out)
        check_out_dir(out, inputs=(events,))
        say = stage_printer(args.quiet) or (lambda message: None)
        runs = [run_model(m, events, Path(args.prices), Path(args.factors), args.start, args.end, say) for m in models]
        if all(run.result is None for run in runs):
            raise DataError(
                "no model could estimate anything:\n  " + "\n  ".join(f"{r.model}: {r.failure}" for r in runs)
            )
        cars, caar, params = car_table(runs), caar_table(runs), parameter_table(runs)
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in (("car_by_model", cars), ("caar_by_model", caar), ("parameters_by_model", params)):
            frame.to_csv(out / f"{name}.csv", index=False, float_format="%.10g")
        command = "python scripts/compare_models.py " + " ".join(sys.argv[1:] if argv is None else argv)
        (out / "README.md").write_text(summary_markdown(runs, caar, params, hide_paths(command.strip())) + "\n")
    except EventStudyError as error:
        print(f"compare_models: error: {error}", file=sys.stderr)
        return error.exit_code
    if not args.quiet:
        print(f"Wrote car_by_model.csv, caar_by_model.csv, parameters_by_model.csv and README.md to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
