"""Shared fixtures.

``shared_dir`` resolves the read-only shared data folder (``$EVENTSTUDY_SHARED_DIR``, default
``<repo>/../shared``). Tests that need it skip with a reason when it is absent, except in CI
(``CI=true``), where a missing folder is a failure: real-data tests must run there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_path() -> Path:
    return Path(os.environ.get("EVENTSTUDY_SHARED_DIR", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder with real data (``docs/DATA.md``); skip locally, fail in CI, when absent."""
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
