"""The manifest of an output folder: which files the last report wrote, so the next one can remove its stale ones.

A report writes ``.eventstudy-manifest`` into its folder: one line per file it wrote, with the file's SHA-256
and its path relative to the folder. When a later report writes into the same folder, every file of the old
manifest that the new report did not write again is deleted, but only if it is still the file the tool
wrote (same SHA-256; a file a person edited since is kept) and it lies inside the folder. A file that is not
in the manifest (one the tool never wrote, or wrote before manifests existed) is never deleted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

__all__ = ["MANIFEST_NAME", "read_manifest", "replace_outputs"]

MANIFEST_NAME = ".eventstudy-manifest"
HEADER = "# eventstudy: files written by the last report into this folder (sha256, path); stale ones are removed"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _inside(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` when ``relative`` is a plain relative path without ``..``; else None."""
    rel = PurePosixPath(relative)
    if not relative or rel.is_absolute() or ".." in rel.parts or relative.startswith(("/", "\\")):
        return None
    return folder.joinpath(*rel.parts)


def read_manifest(folder: str | Path) -> dict[str, str]:
    """The files of a folder's manifest: relative POSIX path -> SHA-256 (empty without a readable manifest).

    Lines that are not ``<64 hex digits><two spaces><path>`` are ignored.
    """
    path = Path(folder) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    entries: dict[str, str] = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if sep and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) and name:
            entries[name] = digest
    return entries


def replace_outputs(folder: str | Path, written: Iterable[str | Path]) -> list[Path]:
    """Record the files a report wrote and delete the previous report's files it did not write again.

    Parameters
    ----------
    folder
        The output folder.
    written
        The files this report wrote (inside ``folder``; others are ignored).

    Returns
    -------
    list of pathlib.Path
        The stale files deleted: in the previous manifest, not in ``written``, still a regular file inside
        ``folder`` with the SHA-256 the manifest recorded.
    """
    root = Path(folder)
    resolved_root = root.resolve()
    current: dict[str, Path] = {}
    for item in written:
        path = Path(item)
        try:
            rel = path.resolve().relative_to(resolved_root)
        except ValueError:
            continue
        current[rel.as_posix()] = path
    removed: list[Path] = []
    for name, digest in read_manifest(root).items():
        target = _inside(root, name)
        if name in current or target is None or target.is_symlink() or not target.is_file():
            continue
        if target.resolve().parent != resolved_root.joinpath(*PurePosixPath(name).parts[:-1]):
            continue  # a folder on the way is a link out of the output folder
        if _digest(target) == digest:
            target.unlink()
            removed.append(target)
    lines = [HEADER, *(f"{_digest(path)}  {name}" for name, path in sorted(current.items()))]
    tmp = root / (MANIFEST_NAME + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, root / MANIFEST_NAME)
    return removed
