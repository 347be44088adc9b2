"""Tests of eventstudy.report.manifest: only unchanged files the last report wrote are ever deleted."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from eventstudy.report.manifest import MANIFEST_NAME, read_manifest, replace_outputs


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_records_files_with_their_sha256(tmp_path: Path) -> None:
    a = _write(tmp_path / "report.md", "a")
    b = _write(tmp_path / "figures" / "x.png", "b")
    outside = _write(tmp_path.parent / f"{tmp_path.name}-other.txt", "c")
    assert replace_outputs(tmp_path, [a, b, outside]) == []
    assert read_manifest(tmp_path) == {
        "report.md": hashlib.sha256(b"a").hexdigest(),
        "figures/x.png": hashlib.sha256(b"b").hexdigest(),
    }  # a file outside the folder is never recorded


def test_removes_stale_keeps_rewritten_and_foreign(tmp_path: Path) -> None:
    a = _write(tmp_path / "figures" / "a.png", "a")
    b = _write(tmp_path / "figures" / "b.png", "b")
    replace_outputs(tmp_path, [a, b])
    foreign = _write(tmp_path / "figures" / "mine.png", "mine")
    a = _write(a, "a, second run")
    assert replace_outputs(tmp_path, [a]) == [b]
    assert not b.exists() and a.exists() and foreign.exists()
    assert set(read_manifest(tmp_path)) == {"figures/a.png"}


def test_keeps_a_file_changed_since(tmp_path: Path) -> None:
    a = _write(tmp_path / "report.html", "tool")
    replace_outputs(tmp_path, [a])
    _write(a, "edited by hand")
    assert replace_outputs(tmp_path, []) == []
    assert a.read_text(encoding="utf-8") == "edited by hand"


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/passwd", "figures/../../outside.txt", ""])
def test_entries_pointing_outside_are_ignored(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "out"
    victim = _write(tmp_path / "outside.txt", "keep")
    digest = hashlib.sha256(b"keep").hexdigest()
    _write(folder / MANIFEST_NAME, f"# header\n{digest}  {name}\n")
    assert replace_outputs(folder, []) == []
    assert victim.read_text(encoding="utf-8") == "keep"


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_links_are_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    target = _write(tmp_path / "elsewhere" / "x.png", "x")
    folder.mkdir()
    (folder / "figures").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (folder / "y.png").symlink_to(target)
    digest = hashlib.sha256(b"x").hexdigest()
    _write(folder / MANIFEST_NAME, f"{digest}  figures/x.png\n{digest}  y.png\n")
    assert replace_outputs(folder, []) == []
    assert target.exists() and (folder / "y.png").is_symlink()


def test_malformed_manifest_is_ignored(tmp_path: Path) -> None:
    _write(tmp_path / MANIFEST_NAME, "not a manifest\nabc  report.md\n")
    report = _write(tmp_path / "report.md", "x")
    assert read_manifest(tmp_path) == {}
    assert replace_outputs(tmp_path, []) == [] and report.exists()
