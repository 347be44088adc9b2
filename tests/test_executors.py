"""Executors return ``function(item, shared)`` for every item, in the items' order."""

from __future__ import annotations

from eventstudy.executors import SerialExecutor


def _scaled(item: int, shared: dict[str, int]) -> int:
    return item * shared["factor"]


def test_serial_executor_keeps_item_order_and_passes_shared() -> None:
    assert SerialExecutor().map(_scaled, [3, 1, 2], {"factor": 10}) == [30, 10, 20]


def test_serial_executor_with_no_items() -> None:
    assert SerialExecutor().map(_scaled, [], {"factor": 10}) == []
