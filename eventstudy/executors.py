"""Executors: where the chunks of a study run.

An executor maps a function over a sequence of work items and returns the results **in the items'
order**, whatever order they finished in. Every item is evaluated as ``function(item, shared)``: ``shared``
is the large read-only input all items need (e.g. the price table and the study settings), handed to the
executor once so that it can ship it to each worker once rather than once per item.

Results never depend on the executor: the function must be a pure function of its item and ``shared``
(the engine's chunks are; their resampling draws depend only on the seed, the test and the group's
identity, not on which chunk or worker computed them).

:class:`SerialExecutor` runs everything in the calling process, one item after the other (the default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Executor(Protocol):
    """Anything that maps ``function(item, shared)`` over items and returns the results in item order."""

    name: str

    def map(self, function: Callable[[Item, Any], Result], items: Sequence[Item], shared: Any) -> list[Result]:
        """``[function(item, shared) for item in items]``, evaluated wherever the executor runs work."""
        ...


class SerialExecutor:
    """Run every item in the calling process, in order."""

    name = "serial"

    def map(self, function: Callable[[Item, Any], Result], items: Sequence[Item], shared: Any) -> list[Result]:
        """``[function(item, shared) for item in items]``."""
        return [function(item, shared) for item in items]


__all__ = ["Executor", "SerialExecutor"]
