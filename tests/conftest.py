"""Shared fixtures.

``shared_dir`` resolves the read-only shared data folder (``$EVENTSTUDY_SHARED_DIR``, default
``<repo>/../shared``). Tests that need it skip with a reason when it is absent, except in CI
(``CI=true``), where a missing folder is a failure: real-data tests must run there.

``eventstudy_cli`` runs the installed ``eventstudy`` console script in a subprocess, isolated from the
user's machine: a temporary price store (``EVENTSTUDY_STORE``) and data folder (``XDG_DATA_HOME``), and
every HTTP(S) proxy pointed at a closed local port, so a command that would go to Yahoo fails at once
with "no network" (exit 3) whether or not the machine is online.

The session keeps its exchange calendars in a temporary cache folder of its own (``EVENTSTUDY_CACHE``,
inherited by every console-script subprocess, unless the caller set it), so that no test reads or writes the
user's cache and each calendar is built once per session instead of once per subprocess.

``seed_reports`` runs the README's two seed commands once per test session (each renders some 40
figures and a PDF) and is shared by every test that needs a real seed report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CLOSED_PROXY = "http://127.0.0.1:9"
"""A proxy nobody answers on (the discard port): downloads fail at once with a connection error."""

SEED_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "seed_2020_2021": (
        "run",
        "events.csv",
        "--prices",
        "../shared/data/curated/window_2019_2021",
        "--offline",
        "--from",
        "2020-01-01",
        "--to",
        "2021-12-31",
        "--pairs",
        "pairs.csv",
        "--donors",
        "../shared/data/curated/panel_hk_2020_2025/adj_close_wide.csv",
        "--placebo",
        "1000",
        "--regress",
        "car[-1,1] ~ C(category)",
        "--title",
        "China platform regulation, 2020-21",
        "--out",
        "reports/seed_2020_2021",
    ),
    "seed_2025": (
        "run",
        "events.csv",
        "--prices",
        "../shared/data/curated/window_2023_2025",
        "--offline",
        "--from",
        "2025-01-01",
        "--title",
        "US tariff announcements, 2025",
        "--out",
        "reports/seed_2025",
    ),
}
"""The README's seed commands (arguments after ``eventstudy``); ``tests/test_readme.py`` checks they match."""


_CACHE_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Point ``EVENTSTUDY_CACHE`` at a fresh folder for the session (removed by :func:`pytest_unconfigure`).

    A value set by the caller is kept (``EVENTSTUDY_CACHE=off`` runs the suite without the cache).
    """
    if os.environ.get("EVENTSTUDY_CACHE"):
        return
    config.stash[_CACHE_KEY] = os.environ["EVENTSTUDY_CACHE"] = tempfile.mkdtemp(prefix="eventstudy-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_CACHE_KEY, None)
    if folder is not None:  # the session's own folder, not one the caller set
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("EVENTSTUDY_CACHE", None)


def _shared_path() -> Path:
    return Path(os.environ.get("EVENTSTUDY_SHARED_DIR", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder with real data (``../shared/docs/DATA.md``); skip locally, fail in CI, when absent."""
    path = _shared_path()
    if not (path / "data" / "curated").is_dir():
        message = f"shared data folder not found at {path} (set EVENTSTUDY_SHARED_DIR)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; real-data tests must run in CI")
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def _agg_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def console_script_path() -> Path:
    """The installed ``eventstudy`` console script (:func:`console_script`)."""
    return console_script()


def console_script() -> Path:
    """The ``eventstudy`` console script of this interpreter's environment (the venv's ``bin``)."""
    here = Path(sys.executable).parent / "eventstudy"
    if here.is_file():
        return here
    found = shutil.which("eventstudy")
    if found is None:
        pytest.fail(f"the eventstudy console script is not installed next to {sys.executable} nor on PATH")
    return Path(found)


def readme_workdir(root: Path) -> Path:
    """A working folder laid out like the repository for the README's relative paths.

    ``root/repo`` (returned; the working directory) holds copies of ``events.csv`` and ``pairs.csv``;
    ``root/shared`` links to the shared folder when it exists, so ``../shared/data/...`` resolves as printed
    in the README.
    """
    work = root / "repo"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "events.csv", work / "events.csv")
    shutil.copy2(REPO / "pairs.csv", work / "pairs.csv")
    shared = _shared_path()
    link = root / "shared"
    if shared.is_dir() and not link.exists():
        link.symlink_to(shared, target_is_directory=True)
    return work


def isolated_env(home: Path) -> dict[str, str]:
    """Environment for a subprocess: temporary store and data dir, no network, headless plots."""
    env = dict(os.environ)
    env.update(
        {
            "EVENTSTUDY_STORE": str(home / "store.sqlite"),
            "XDG_DATA_HOME": str(home / "xdg-data"),
            "MPLBACKEND": "Agg",
            "EVENTSTUDY_SHARED_DIR": str(_shared_path()),
            "NO_PROXY": "",
            "no_proxy": "",
        }
    )
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = CLOSED_PROXY
    return env


@dataclass(frozen=True)
class CliRun:
    """One finished run of the console script."""

    args: tuple[str, ...]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _start(args: tuple[str, ...], cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(console_script()), *args],
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], args: tuple[str, ...], cwd: Path, started: float, timeout: float) -> CliRun:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"eventstudy {' '.join(args)} did not finish in {timeout} s\n{err[-2000:]}")
    return CliRun(args, cwd, process.returncode, out, err, time.perf_counter() - started)


RunCli = Callable[..., CliRun]


@pytest.fixture
def eventstudy_cli(tmp_path: Path) -> RunCli:
    """Run ``eventstudy ARGS...`` in a subprocess (cwd: ``tmp_path`` unless given), isolated (module doc).

    Call as ``eventstudy_cli("run", "events.csv", ..., cwd=folder, timeout=300)``.
    """
    home = tmp_path / "_cli_home"
    home.mkdir(exist_ok=True)
    env = isolated_env(home)

    def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> CliRun:
        folder = cwd or tmp_path
        started = time.perf_counter()
        return _finish(_start(tuple(args), folder, env), tuple(args), folder, started, timeout)

    return run


@dataclass(frozen=True)
class SeedReport:
    """A seed study written by the README's command: the run and its output folder."""

    run: CliRun
    out: Path


@pytest.fixture(scope="session")
def seed_commands() -> Mapping[str, tuple[str, ...]]:
    """:data:`SEED_COMMANDS`: the README's seed commands that :func:`seed_reports` runs."""
    return SEED_COMMANDS


@pytest.fixture
def readme_work(tmp_path: Path) -> Path:
    """A fresh :func:`readme_workdir` under ``tmp_path``."""
    return readme_workdir(tmp_path / "readme")


@pytest.fixture(scope="session")
def seed_reports(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, SeedReport]:
    """The README's two seed studies, each run once per session through the console script.

    Both commands of :data:`SEED_COMMANDS` start together (two processes) in a session folder laid out
    by :func:`readme_workdir`; the fixture returns whatever happened (tests assert on exit status and
    files), keyed by the output folder's name.
    """
    root = tmp_path_factory.mktemp("seed")
    work = readme_workdir(root)
    env = isolated_env(root)
    started = time.perf_counter()
    processes = {name: _start(args, work, env) for name, args in SEED_COMMANDS.items()}
    return {
        name: SeedReport(_finish(process, SEED_COMMANDS[name], work, started, 900), work / "reports" / name)
        for name, process in processes.items()
    }
