"""Read-only arrays and frames handed out as copies (eventstudy._frozen)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, replace

import numpy as np
import pandas as pd
import pytest

from eventstudy import _frozen
from eventstudy._frozen import cached_frame, frame_fields, freeze_arrays, handout


@frame_fields("table")
@dataclass(frozen=True, eq=False)
class _Holder:
    values: np.ndarray
    table: pd.DataFrame
    label: str = "x"

    def __post_init__(self) -> None:
        freeze_arrays(self)

    @cached_frame
    def doubled(self) -> pd.DataFrame:
        """Twice the values."""
        self.calls.append(1)
        return pd.DataFrame({"v": 2.0 * self.values})

    @property
    def calls(self) -> list[int]:
        return vars(self).setdefault("_calls", [])


def _holder() -> _Holder:
    return _Holder(np.array([1.0, 2.0, 3.0]), pd.DataFrame({"a": [1.0, 2.0], "b": ["p", "q"]}))


def test_arrays_are_read_only() -> None:
    values = np.array([1.0, 2.0])
    holder = _Holder(values, pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ValueError, match="read-only"):
        holder.values[0] = 9.0
    assert not values.flags.writeable  # the array handed in is flagged, not copied
    with pytest.raises(FrozenInstanceError):
        holder.values = np.zeros(2)  # type: ignore[misc]


@pytest.mark.parametrize("copy_on_write", [True, False])
def test_handout_isolates_the_caller_in_both_pandas_modes(monkeypatch: pytest.MonkeyPatch, copy_on_write: bool) -> None:
    monkeypatch.setattr(_frozen, "COPY_ON_WRITE", copy_on_write)
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["p", "q"]})
    got = handout(frame)
    assert got is not frame
    # pandas 3 copies on write: the shallow copy shares memory until written; pandas 2 needs a deep copy
    assert np.shares_memory(got["a"].to_numpy(), frame["a"].to_numpy()) == copy_on_write
    got.loc[0, "a"] = 99.0
    got.loc[1, "b"] = "changed"
    got["c"] = 1
    assert frame.to_dict("list") == {"a": [1.0, 2.0], "b": ["p", "q"]}


def test_stored_frame_is_copied_in_and_out() -> None:
    given = pd.DataFrame({"a": [1.0, 2.0], "b": ["p", "q"]})
    holder = _Holder(np.zeros(1), given)
    given.loc[0, "a"] = -1.0  # the caller's frame after construction
    first = holder.table
    first.loc[1, "a"] = 99.0
    del first["b"]
    assert holder.table is not first
    assert holder.table.to_dict("list") == {"a": [1.0, 2.0], "b": ["p", "q"]}
    with pytest.raises(FrozenInstanceError):
        holder.table = given  # type: ignore[misc]


def test_replace_keeps_the_frames() -> None:
    holder = _holder()
    other = replace(holder, label="y")
    assert other.table.equals(holder.table) and other.label == "y"


def test_cached_frame_is_computed_once_and_handed_out() -> None:
    holder = _holder()
    first = holder.doubled
    first.loc[0, "v"] = 99.0
    first["w"] = 0
    again = holder.doubled
    assert again["v"].tolist() == [2.0, 4.0, 6.0] and list(again.columns) == ["v"]
    assert holder.calls == [1]
    with pytest.raises(AttributeError):
        holder.doubled = pd.DataFrame()  # type: ignore[misc]
    assert _Holder.doubled.__doc__ == "Twice the values."


def test_frame_fields_checks_the_names() -> None:
    with pytest.raises(TypeError, match="'nope' is not a dataclass field"):

        @frame_fields("nope")
        @dataclass(frozen=True)
        class _Bad:
            table: pd.DataFrame
