"""The user's groups (``eventstudy.grouping``): columns, mapping files, labels and their errors.

Expected codes and labels are written by hand for small firm-event tables built here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from eventstudy.errors import InputError, UnknownNameError
from eventstudy.events import Event
from eventstudy.grouping import GROUP_BY_COLUMNS, Grouping, group_by, read_groups

FIRM_EVENTS = pd.DataFrame(
    {
        "event_id": ["e1", "e1", "e2", "e3"],
        "ticker": ["9988.HK", "BABA", "BABA", "JD"],
        "category": ["policy", "policy", "", "regulatory"],
        "exchange": ["XHKG", "XNYS", "XNYS", "XNYS"],
    }
)


def _event(event_id: str, tickers: tuple[str, ...]) -> Event:
    return Event(event_id, dt.date(2021, 3, 1), None, "UTC", "", "", tickers, ("M",) * len(tickers), "", False)


EVENTS = [_event("e1", ("9988.HK", "BABA")), _event("e2", ("BABA",)), _event("e3", ("JD",))]


def test_group_by_a_column_labels_in_order_of_appearance() -> None:
    codes, labels = group_by("category").assign(FIRM_EVENTS)
    assert labels == ("category=policy", "category=(none)", "category=regulatory")
    assert codes.tolist() == [0, 0, 1, 2]
    codes, labels = group_by("exchange").assign(FIRM_EVENTS)
    assert labels == ("exchange=XHKG", "exchange=XNYS") and codes.tolist() == [0, 1, 1, 1]
    assert group_by("tickers").column == "ticker"  # the events-file name of the ticker list


def test_unknown_column_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        group_by("sector")
    assert info.value.parameter == "--group-by" and set(info.value.valid) == set(GROUP_BY_COLUMNS)
    assert "category" in str(info.value) and "exchange" in str(info.value)


def test_read_groups_and_assign(tmp_path: Path) -> None:
    path = tmp_path / "listing.csv"
    path.write_text("\ufeffticker,listing\nBABA,US ADR\n9988.HK,HK line\n\nBABA,US ADR\n", encoding="utf-8")
    grouping = read_groups(path)
    assert (grouping.column, grouping.key, grouping.source) == ("listing", "ticker", "listing.csv")
    assert grouping.mapping == (("BABA", "US ADR"), ("9988.HK", "HK line")) and grouping.lines == (2, 3)
    codes, labels = grouping.assign(FIRM_EVENTS)
    assert labels == ("listing=US ADR", "listing=HK line")  # file order
    assert codes.tolist() == [1, 0, 0, -1]  # JD is in no group
    grouping.check_keys(EVENTS)
    assert grouping.describe() == "listing from listing.csv (2 tickers -> 2 groups)"


def test_restricted_to_selected_events() -> None:
    grouping = Grouping("kind", "event_id", (("e1", "a"), ("e2", "b"), ("e3", "a")), "g.csv", (2, 3, 4))
    kept = grouping.restricted_to(EVENTS[1:])
    assert kept.mapping == (("e2", "b"), ("e3", "a")) and kept.lines == (3, 4)
    with pytest.raises(InputError) as info:
        grouping.check_keys(EVENTS[1:])
    assert (info.value.path, info.value.line, info.value.column, info.value.value) == ("g.csv", 2, "event_id", "e1")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "empty"),
        ("ticker\nBABA\n", 1, "two columns"),
        ("sector,group\nBABA,x\n", 1, "event_id or ticker"),
        ("ticker,listing\n", 1, "no rows"),
        ("ticker,listing\nBABA\n", 2, "two non-empty fields"),
        ("ticker,listing\nBABA,\n", 2, "two non-empty fields"),
        ("ticker,listing\nBABA,a\nBABA,b\n", 3, "mapped twice"),
    ],
)
def test_bad_groups_files(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "groups.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_groups(path)
    assert info.value.path == str(path) and info.value.line == line and fragment in info.value.message


def test_missing_groups_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the groups file"):
        read_groups(tmp_path / "nope.csv")


def test_a_mapping_needs_an_id_or_ticker_key() -> None:
    with pytest.raises(InputError, match="event_id or ticker"):
        Grouping("x", "category", (("a", "b"),))
