"""Every command line of the README's ``bash`` blocks runs as printed, with the exit status it promises.

Each block is split into commands (comments dropped, ``&&`` chains split, ``\\`` continuations joined).
Setting up the virtual environment (``python3 -m venv``, ``pip install``) and running this suite
(``python -m pytest``) are the steps that got us here and are not rerun; any other program is an error,
so a new kind of command in the README needs a decision here. Every ``eventstudy`` command runs through
the installed console script in a subprocess, from a folder laid out like the repository
(``events.csv``, ``../shared``) with a temporary price store and no network (``tests/conftest.py``):

- ``run``/``fetch`` without ``--prices`` or ``--returns`` go to Yahoo: exit 3 ("no network"), fast;
- everything else exits 0: the offline seed runs (taken from the session's ``seed_reports``), ``regress``
  on a seed run's folder (run where the session's seed runs wrote it), ``days``,
  ``store ls``, ``simulate`` and a run on the user's own returns file, for which the test writes a small
  synthetic ``my_returns.csv`` (the README's placeholder for the user's file).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

_FENCE = re.compile(r"^```(\w*)\s*$")
_SHELL_OPERATORS = {"|", "||", ";", ">", ">>", "<", "&", "(", ")"}


@dataclass(frozen=True)
class ReadmeCommand:
    """One command of a README ``bash`` block: its line number and words (``argv``)."""

    line: int
    argv: tuple[str, ...]

    @property
    def is_eventstudy(self) -> bool:
        return Path(self.argv[0]).name == "eventstudy"

    @property
    def is_setup(self) -> bool:
        """Creating the venv, installing into it, or running this test suite."""
        program = Path(self.argv[0]).name
        rest = self.argv[1:]
        return (program == "python3" and rest[:2] == ("-m", "venv")) or (
            program.startswith("python") and (rest[:3] == ("-m", "pip", "install") or rest[:2] == ("-m", "pytest"))
        )

    @property
    def args(self) -> tuple[str, ...]:
        return self.argv[1:]

    @property
    def expected_status(self) -> int:
        """3 for a Yahoo command (no network in tests), 0 for everything else."""
        online = self.args[:1] in (("run",), ("fetch",)) and not {"--prices", "--returns"} & set(self.args)
        return 3 if online else 0

    @property
    def writes_report(self) -> bool:
        return self.args[:1] == ("simulate",) or (self.args[:1] == ("run",) and self.expected_status == 0)


def readme_commands(text: str) -> list[ReadmeCommand]:
    """Every command of the ``bash`` blocks of a README text, in order."""
    commands: list[ReadmeCommand] = []
    in_bash = False
    pending = ""
    pending_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(raw.strip())
        if fence:
            in_bash = not in_bash and fence.group(1) in ("bash", "sh", "shell", "console")
            continue
        if not in_bash:
            continue
        if not pending:
            pending_line = number
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lexer = shlex.shlex(pending + raw, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        pending = ""
        unsupported = _SHELL_OPERATORS & set(words)
        assert not unsupported, f"README.md:{pending_line}: shell syntax {unsupported} is not handled by this test"
        current: list[str] = []
        for word in [*words, "&&"]:
            if word == "&&":
                if current:
                    commands.append(ReadmeCommand(pending_line, tuple(current)))
                current = []
            else:
                current.append(word)
    return commands


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))
EVENTSTUDY = [c for c in COMMANDS if c.is_eventstudy]


def _param(command: ReadmeCommand) -> object:
    # every command is an end-to-end run of a fresh process (slow); report writers read ../shared
    marks = [pytest.mark.slow, *([pytest.mark.realdata] if command.writes_report else [])]
    return pytest.param(command, marks=marks, id=f"L{command.line}-{'-'.join(command.args[:2])}")


def test_every_readme_command_is_known() -> None:
    unknown = [c for c in COMMANDS if not (c.is_eventstudy or c.is_setup)]
    assert not unknown, f"commands this test does not know how to run: {unknown}"
    assert {c.args[0] for c in EVENTSTUDY} == {"run", "fetch", "days", "store", "simulate", "regress"}
    assert any("-250:-11" in c.args for c in EVENTSTUDY), "the README shows a negative window with a space"


def test_seed_commands_are_the_readme_ones(seed_commands: Mapping[str, tuple[str, ...]]) -> None:
    # tests/conftest.py runs these once per session (seed_reports); they must be the README's first
    # block, word for word
    seed_block = [c for c in COMMANDS if c.line == COMMANDS[0].line]
    assert [c.args for c in seed_block if c.is_eventstudy] == list(seed_commands.values())


def _my_returns(path: Path) -> None:
    """A small long-format returns file standing in for the user's own: SoftBank (9984.T) and ^N225.

    9984.T is in one seed event only (ant_ipo_suspended), so the run estimates one firm-event and its
    report has four figures.
    """
    dates = pd.bdate_range("2019-06-03", "2020-12-31")
    rng = np.random.default_rng(9984)
    market = rng.normal(0.0003, 0.012, len(dates))
    stock = 0.0002 + 1.1 * market + rng.normal(0.0, 0.02, len(dates))
    frame = pd.concat(
        [
            pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "ticker": "^N225", "return": market}),
            pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "ticker": "9984.T", "return": stock}),
        ]
    )
    frame.to_csv(path, index=False)


USER_FILES = {"my_returns.csv": _my_returns}
"""README placeholders for files the user brings, and how the test makes a small one."""


@pytest.mark.parametrize("command", [_param(c) for c in EVENTSTUDY])
def test_readme_command_runs_as_printed(
    command: ReadmeCommand,
    seed_commands: Mapping[str, tuple[str, ...]],
    eventstudy_cli: Callable[..., Any],
    readme_work: Path,
    request: pytest.FixtureRequest,
) -> None:
    seed = [name for name, args in seed_commands.items() if args == command.args]
    if seed:  # the same command as a seed run: its session run (it is not repeated)
        run = request.getfixturevalue("seed_reports")[seed[0]].run
    elif command.args[:1] == ("regress",):  # reads a seed run's folder: run where the session's seed runs wrote
        seed_run = request.getfixturevalue("seed_reports")[Path(command.args[1]).name].run
        run = eventstudy_cli(*command.args, cwd=seed_run.cwd)
    else:
        work = readme_work
        for word in command.args:
            if word in USER_FILES:
                USER_FILES[word](work / word)
        run = eventstudy_cli(*command.args, cwd=work)
    where = f"README.md:{command.line}: eventstudy {' '.join(command.args)}"
    assert run.returncode == command.expected_status, f"{where}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, where
    if command.expected_status == 3:
        assert "no network" in run.stdout + run.stderr, where  # failed for the right reason, not a bad option
        assert run.seconds < 120, f"{where}: took {run.seconds:.0f} s without network"
    if command.args[:1] == ("run",) and command.expected_status == 0:
        out = run.cwd / (command.args[command.args.index("--out") + 1] if "--out" in command.args else "reports/events")
        if "--slice-size" in command.args:  # a sliced run: tables only, per-firm-event tables as Parquet
            assert not (out / "report.md").exists() and "sliced study:" in run.stdout, where
            assert len(pd.read_parquet(out / "car.parquet").dropna(subset=["car"])) > 0, where
            return
        assert (out / "report.md").is_file(), where
        assert len(pd.read_csv(out / "car.csv").dropna(subset=["car"])) > 0, where
