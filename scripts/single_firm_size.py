#!/usr/bin/env python
"""Size under the null of the single-firm tests on the S&P 500 panel: one firm-event per sample.

The samples are drawn as ``eventstudy simulate`` draws them (:mod:`eventstudy.simulate.engine`): sample s uses
``default_rng(SeedSequence(seed).spawn(R)[s])`` to pick one ticker uniformly and one day 0 uniformly among its
rows whose whole estimation and event windows have returns; its windows are gathered from the wide matrix and
the market model fitted as the study's chunks fit it (:func:`eventstudy.engine.fit_estimable`). No abnormal
return is added. For each sample the script computes, for day 0 and each CAR window, the t-test (P1 / P2,
``docs/methods.md`` §6.1), the SQ p-value and the permutation p-value
(:func:`eventstudy.inference.single_firm.single_firm_pvalues`, B = ``--draws``, seeded by ``--seed`` and the
sample's key), and prints the rejection rate at each level with its Monte Carlo band
alpha +- 1.96 sqrt(alpha (1 - alpha) / R) (``docs/simulation.md``).

Usage::

    python scripts/single_firm_size.py --samples 10000 --seed 1985            # the docs/simulation.md table
    python scripts/single_firm_size.py --samples 10000 --seed 1985 --iid-normal  # the same on iid normal returns
    python scripts/single_firm_size.py --samples 10000 --seed 1985 --end 2019-12-31  # without the 2020 crash
    python scripts/single_firm_size.py --samples 300 --panel PATH --out size.csv

Exit status 2 on bad input (the message names the option), 3 when the panel cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.cli import parse_window
from eventstudy.engine import fit_estimable
from eventstudy.errors import EventStudyError, InputError
from eventstudy.inference.base import two_sided_t
from eventstudy.inference.single_firm import DEFAULT_DRAWS, single_firm_pvalues
from eventstudy.simulate.engine import _Context, _return_panel, _Sampler
from eventstudy.simulate.panel import WidePanel
from eventstudy.simulate.results import SimulationSpec
from eventstudy.spec import StudySpec, window_text

TESTS = ("t", "SQ", "permutation")


def pvalues(panel: WidePanel, study: StudySpec, samples: int, seed: int, draws: int, chunk: int = 2000) -> pd.DataFrame:
    """One row per sample and cell (day 0, each CAR window): p_t, p_sq, p_permutation, with its ticker and day 0."""
    spec = SimulationSpec(study, samples, 1, (0.0,), (0,), (0.05,), seed, chunk)
    sampler = _Sampler.from_mask(panel.eligible(study.estimation_window, study.event_window))
    context = _Context(panel, spec, sampler, np.full(len(panel.tickers), "XNYS", dtype=object))
    seeds = np.random.SeedSequence(seed).spawn(samples)
    frames = []
    for start in range(0, samples, chunk):
        ids = np.arange(start, min(start + chunk, samples), dtype=np.int64)
        drawn = [sampler.draw(np.random.default_rng(seeds[i]), 1) for i in ids]
        tick = np.concatenate([d[0] for d in drawn])
        row0 = np.concatenate([d[1] for d in drawn])
        fitted = fit_estimable(_return_panel(context, ids, tick, row0), study)
        fit, kept = fitted.fit, ids[fitted.kept]
        days = fitted.panel.event_days
        keys = np.array([f"sample {s}" for s in kept], dtype=object)
        tests = single_firm_pvalues(
            fit.abnormal,
            fit.residuals,
            fitted.car_values,
            days,
            study.car_windows,
            keys,
            ("sq", "permutation"),
            seed=seed,
            draws=draws,
        )
        zero = int(np.flatnonzero(days == 0)[0])
        with np.errstate(invalid="ignore"):
            t_day = fit.abnormal[:, zero] / np.sqrt(fit.ar_variance[:, zero])
            t_car = fitted.car_values / np.sqrt(fitted.car_var)
        df = fit.df.astype(np.float64)
        cells = [("day 0", two_sided_t(t_day, df), tests.ar_sq[:, zero], tests.ar_permutation[:, zero])]
        cells += [
            (f"CAR {window_text(w)}", two_sided_t(t_car[:, c], df), tests.car_sq[:, c], tests.car_permutation[:, c])
            for c, w in enumerate(study.car_windows)
        ]
        tickers = np.asarray(panel.tickers, dtype=object)[tick[fitted.kept]]
        for cell, p_t, p_sq, p_perm in cells:
            frames.append(
                pd.DataFrame(
                    {"sample": kept, "ticker": tickers, "cell": cell, "t": p_t, "SQ": p_sq, "permutation": p_perm}
                )
            )
    frame = pd.concat(frames, ignore_index=True)
    order = {cell: i for i, cell in enumerate(dict.fromkeys(frame["cell"]))}  # day 0, then the CAR windows
    return frame.sort_values(
        ["cell", "sample"], key=lambda c: c.map(order) if c.name == "cell" else c, ignore_index=True
    )


def rejection_table(frame: pd.DataFrame, alphas: tuple[float, ...]) -> pd.DataFrame:
    """Rejection rate (p <= alpha) of each test per cell and level, with R and the 95 % Monte Carlo band."""
    rows = []
    for (cell, alpha), group in ((key, frame[frame["cell"] == key[0]]) for key in _cells(frame, alphas)):
        n = len(group)
        half = 1.96 * np.sqrt(alpha * (1 - alpha) / n)
        row = {"cell": cell, "alpha": alpha, "R": n, "band_low": alpha - half, "band_high": alpha + half}
        row.update({test: float((group[test] <= alpha).mean()) for test in TESTS})
        rows.append(row)
    return pd.DataFrame(rows)


def _cells(frame: pd.DataFrame, alphas: tuple[float, ...]) -> list[tuple[str, float]]:
    return [(cell, alpha) for cell in dict.fromkeys(frame["cell"]) for alpha in alphas]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--panel", metavar="DIR", help="S&P panel folder (default: the simulate default)")
    parser.add_argument(
        "--iid-normal",
        action="store_true",
        help="draw from iid normal market-model returns (WidePanel.normal: 500 tickers, 1500 days, seed 3) instead",
    )
    parser.add_argument("--samples", type=int, default=10_000, help="R, one firm-event each (default 10000)")
    parser.add_argument("--seed", type=int, default=1985, help="seed of the draws and the permutations (1985)")
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS, help="B of the permutation test (default 1000)")
    parser.add_argument("--estimation", default="-244:-6", metavar="A:B", help="estimation window (default -244:-6)")
    parser.add_argument("--window", default="-5:5", metavar="A:B", help="event window (default -5:5)")
    parser.add_argument("--car", action="append", metavar="A:B", help="CAR window, repeatable (default -1:1)")
    parser.add_argument("--start", metavar="DATE", help="use only panel returns dated on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--end", metavar="DATE", help="use only panel returns dated on or before DATE (YYYY-MM-DD)")
    parser.add_argument("--out", metavar="PATH", help="write the rejection table to this CSV file")
    args = parser.parse_args(argv)
    try:
        if args.samples < 1:
            raise InputError(f"--samples must be at least 1, got {args.samples}", parameter="--samples")
        study = StudySpec(
            estimation_window=parse_window(args.estimation, "--estimation"),
            event_window=parse_window(args.window, "--window"),
            car_windows=tuple(parse_window(c, "--car") for c in (args.car or ["-1:1"])),
            permutation_draws=args.draws,
        )
        if args.iid_normal:
            panel = WidePanel.normal(500, 1500, seed=3)
        else:
            panel = WidePanel.from_dir(args.panel) if args.panel else WidePanel.from_dir()
        if args.start or args.end:
            panel = panel.between(args.start, args.end)
        table = rejection_table(pvalues(panel, study, args.samples, args.seed, args.draws), (0.01, 0.05, 0.10))
    except EventStudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        print(f"error: cannot read the panel: {error}", file=sys.stderr)
        return 3
    shown = table.assign(**{c: table[c].map(lambda v: f"{100 * v:.2f} %") for c in (*TESTS, "band_low", "band_high")})
    print(shown.to_string(index=False))
    if args.out:
        table.to_csv(Path(args.out), index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
