"""The user's groups of firm-events: by a column of the events file, or from a mapping file.

A :class:`Grouping` puts each firm-event into at most one group with a label ``"<column>=<value>"``
(e.g. ``"category=regulatory"``, ``"listing=HK line"``). The study computes the pooled tests and the
CAAR of every group next to ``"all"`` and the events, and the between-group difference tests of the CARs
(:mod:`eventstudy.inference.groups`); the groups follow the ``pooling`` knob like ``"all"``.

- :func:`group_by` groups by a column: any column of the events file (``category``, ``date``,
  ``timezone``, ...) or a firm-event attribute (``ticker``, ``benchmark``, ``exchange``). An empty value
  forms the group ``"<column>=(none)"``.
- :func:`read_groups` reads a CSV mapping with a header of two columns: ``event_id`` or ``ticker``, then
  the group column, whose name becomes the label prefix (``ticker,listing`` / ``9988.HK,HK line``).
  Firm-events whose id or ticker is not in the file are in no group (they stay in ``"all"``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy._event_validation import COLUMNS
from eventstudy._typing import IntArray
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.events import Event

GROUP_BY_COLUMNS: tuple[str, ...] = (
    *(c for c in COLUMNS if c not in ("tickers", "benchmark")),
    "ticker",
    "benchmark",
    "exchange",
)
"""Columns :func:`group_by` accepts: the events file's (``tickers`` becomes ``ticker``) and ``exchange``."""

MAPPING_KEYS = ("event_id", "ticker")
"""Key columns a groups file may start with."""

EMPTY_VALUE = "(none)"
"""Group value of firm-events with an empty cell in the grouping column."""


@dataclass(frozen=True)
class Grouping:
    """How firm-events form the user's groups.

    Attributes
    ----------
    column
        The label prefix: the grouping column, or the group column of the mapping file.
    key
        What a firm-event is looked up by: a :data:`GROUP_BY_COLUMNS` name, or ``"event_id"``/``"ticker"``
        for a mapping.
    mapping
        (key value, group) pairs of a mapping file in file order; None when grouping by a column.
    source
        Where the mapping came from (a file name), for messages and settings.
    lines
        The 1-based line of each mapping row in its file, for messages (None when not from a file).
    """

    column: str
    key: str
    mapping: tuple[tuple[str, str], ...] | None = None
    source: str = ""
    lines: tuple[int, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.mapping is not None and self.key not in MAPPING_KEYS:
            raise InputError(
                f"a group mapping is keyed by event_id or ticker, not {self.key!r}", parameter="groups", value=self.key
            )

    def describe(self) -> str:
        """The grouping in words, for the settings of a report."""
        if self.mapping is None:
            return f"by {self.column} ({'events-file column' if self.column in COLUMNS else 'firm-event'})"
        groups = len({group for _, group in self.mapping})
        return f"{self.column} from {self.source} ({len(self.mapping)} {self.key}s -> {groups} groups)"

    def restricted_to(self, events: Sequence[Event]) -> Grouping:
        """The same grouping with the mapping rows whose key no event has left out (after a selection)."""
        if self.mapping is None:
            return self
        present = _event_keys(events, self.key)
        kept = [i for i, (key, _) in enumerate(self.mapping) if key in present]
        return Grouping(
            self.column,
            self.key,
            tuple(self.mapping[i] for i in kept),
            self.source,
            None if self.lines is None else tuple(self.lines[i] for i in kept),
        )

    def check_keys(self, events: Sequence[Event]) -> None:
        """Raise :class:`InputError` for a mapping key that no event has (a typo), naming file and line."""
        if self.mapping is None:
            return
        present = _event_keys(events, self.key)
        for position, (key, _) in enumerate(self.mapping):
            if key not in present:
                raise InputError(
                    f"{self.key} {key!r} is not in the events file; valid {self.key}s: "
                    + ", ".join(sorted(present)[:20])
                    + (" ..." if len(present) > 20 else ""),
                    path=self.source or None,
                    line=None if self.lines is None else self.lines[position],
                    column=self.key,
                    value=key,
                    parameter=None if self.source else "groups",
                )

    def assign(self, firm_events: pd.DataFrame) -> tuple[IntArray, tuple[str, ...]]:
        """Group code of each firm-event and the group labels, in order of first appearance.

        Parameters
        ----------
        firm_events
            One row per firm-event with ``event_id``, ``ticker`` and the column grouped by.

        Returns
        -------
        codes : (N,) int64
            Index into ``labels``; -1 for a firm-event in no group (not in the mapping).
        labels
            ``"<column>=<value>"`` per group: for a mapping in the order of the file, else in the order of
            first appearance among the firm-events.
        """
        if self.mapping is None:
            values = firm_events[self.key].astype(str).str.strip().replace("", EMPTY_VALUE)
            found, uniques = pd.factorize(values, sort=False)
            return np.asarray(found, dtype=np.int64), tuple(f"{self.column}={v}" for v in uniques)
        lookup = dict(self.mapping)
        values = firm_events[self.key].map(lookup)
        order = list(dict.fromkeys(group for _, group in self.mapping))
        used = [g for g in order if g in set(values.dropna())]
        position = {g: i for i, g in enumerate(used)}
        codes = np.asarray(values.map(position).fillna(-1), dtype=np.int64)
        return codes, tuple(f"{self.column}={g}" for g in used)


def _event_keys(events: Iterable[Event], key: str) -> set[str]:
    events = list(events)
    if key == "event_id":
        return {e.event_id for e in events}
    return {t for e in events for t in e.tickers}


def group_by(column: str) -> Grouping:
    """Group firm-events by a column (:data:`GROUP_BY_COLUMNS`), e.g. ``group_by("category")``.

    Raises
    ------
    UnknownNameError
        A column that is not one of :data:`GROUP_BY_COLUMNS` (parameter ``--group-by``).
    """
    name = str(column).strip()
    if name == "tickers":
        name = "ticker"
    if name not in GROUP_BY_COLUMNS:
        raise UnknownNameError("grouping column", name, GROUP_BY_COLUMNS, parameter="--group-by")
    return Grouping(column=name, key=name)


MARKET_BLOCKS = "market"
"""The built-in Kolari-Pynnönen block choice: one block per exchange of the firm-events' tickers."""


def correlation_blocks(blocks: str | Grouping | None) -> Grouping | None:
    """The Kolari-Pynnönen blocks of a study (``kp_blocks``, CLI ``--kp-blocks``) as a :class:`Grouping`.

    ``"market"`` (:data:`MARKET_BLOCKS`): one block per exchange (labels ``"market=XHKG"``, ...); a
    :data:`GROUP_BY_COLUMNS` name: one block per value of that column (``"category"``, ``"benchmark"``,
    ...); a path ending in ``.csv``: a mapping file as for :func:`read_groups` (``ticker,block`` or
    ``event_id,block``; firm-events it does not list are in no block, so all their pairs count as
    cross-block); a :class:`Grouping` as it is; None or ``"none"``: no blocks (the pooled r̄).

    Raises
    ------
    UnknownNameError
        A name that is neither ``"market"`` nor a grouping column (parameter ``--kp-blocks``).
    InputError
        An unreadable or malformed mapping file (:func:`read_groups`).
    """
    if blocks is None or isinstance(blocks, Grouping):
        return blocks
    name = str(blocks).strip()
    if name == "none":
        return None
    if name == MARKET_BLOCKS:
        return Grouping(column=MARKET_BLOCKS, key="exchange")
    if name.lower().endswith(".csv"):
        if not Path(name).is_file():
            raise InputError(
                f"the blocks file {name} does not exist; give a CSV ticker,<block> or event_id,<block>, 'market' "
                "(one block per exchange) or an events-file column",
                parameter="--kp-blocks",
                path=name,
            )
        return read_groups(name)
    if name == "tickers":
        name = "ticker"
    if name not in GROUP_BY_COLUMNS:
        choices = ("none", MARKET_BLOCKS, *GROUP_BY_COLUMNS, "FILE.csv")
        raise UnknownNameError("block column", name, choices, parameter="--kp-blocks")
    return Grouping(column=name, key=name)


def read_groups(path: str | Path) -> Grouping:
    """Read a groups file: a CSV with the header ``event_id,<name>`` or ``ticker,<name>`` (UTF-8).

    Returns
    -------
    Grouping
        Label prefix ``<name>``, the mapping in file order, the file name as ``source`` and the line of
        each row (for messages about keys that the events file lacks, :meth:`Grouping.check_keys`).

    Raises
    ------
    InputError
        An unreadable or empty file, a header other than two columns starting with ``event_id`` or
        ``ticker``, a row without two fields, an empty key or group, or a key mapped twice; each with
        ``path``, ``line``, ``column`` and ``value``.
    """
    where = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the groups file ({exc.strerror or exc})", path=where) from exc
    except UnicodeDecodeError as exc:
        raise InputError("the groups file is not valid UTF-8", path=where) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    try:
        for record in reader:
            if record and any(cell.strip() for cell in record):
                rows.append((reader.line_num, [cell.strip() for cell in record]))
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", path=where, line=reader.line_num) from exc
    example = "a header such as ticker,listing or event_id,group, then one row per ticker or event"
    if not rows:
        raise InputError(f"the groups file is empty; it needs {example}", path=where, line=1)
    header_line, header = rows[0]
    if len(header) != 2 or header[0] not in MAPPING_KEYS or not header[1]:
        raise InputError(
            f"the header must have two columns, event_id or ticker and then the group name; it needs {example}",
            path=where,
            line=header_line,
            value=",".join(header),
        )
    key, column = header
    mapping: dict[str, str] = {}
    lines: list[int] = []
    for line, record in rows[1:]:
        if len(record) != 2 or not record[0] or not record[1]:
            raise InputError(
                f"expected two non-empty fields ({key},{column}), found {record}",
                path=where,
                line=line,
                column=key if not record or not record[0] else column,
                value=",".join(record),
            )
        if record[0] in mapping and mapping[record[0]] != record[1]:
            raise InputError(
                f"{key} {record[0]!r} is mapped twice ({mapping[record[0]]!r} and {record[1]!r}); keep one row",
                path=where,
                line=line,
                column=key,
                value=record[0],
            )
        if record[0] not in mapping:
            mapping[record[0]] = record[1]
            lines.append(line)
    if not mapping:
        raise InputError(f"the groups file has a header but no rows; it needs {example}", path=where, line=header_line)
    return Grouping(column, key, tuple(mapping.items()), Path(path).name, tuple(lines))


__all__ = [
    "GROUP_BY_COLUMNS",
    "MAPPING_KEYS",
    "MARKET_BLOCKS",
    "Grouping",
    "correlation_blocks",
    "group_by",
    "read_groups",
]
