"""Tests of the coverage and adjusted-price vintage decisions (``eventstudy.data.coverage``).

Expected answers are stated by hand from the dates and amounts written in each test.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from eventstudy.data.coverage import Coverage, FetchRecord, adjustment_drift

SYMBOL = "0700.HK"


def _frame(
    dates: tuple[str, ...],
    adj: list[float],
    *,
    dividends: dict[str, float] | None = None,
    splits: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Rows indexed by date with the columns adjustment_drift reads."""
    index = pd.DatetimeIndex(pd.to_datetime(list(dates)), name="date").as_unit("ns")
    frame = pd.DataFrame({"adj_close": adj, "dividends": 0.0, "splits": 0.0}, index=index)
    for day, amount in (dividends or {}).items():
        frame.loc[pd.Timestamp(day), "dividends"] = amount
    for day, ratio in (splits or {}).items():
        frame.loc[pd.Timestamp(day), "splits"] = ratio
    return frame


class TestCoverage:
    @staticmethod
    def _cov(first: str, last: str, *fetches: tuple[str, str, str]) -> Coverage:
        return Coverage(
            SYMBOL,
            "yahoo",
            dt.date.fromisoformat(first),
            dt.date.fromisoformat(last),
            60,
            fetches[-1][2] if fetches else None,
            tuple(FetchRecord(dt.date.fromisoformat(a), dt.date.fromisoformat(b), c) for a, b, c in fetches),
        )

    @pytest.mark.parametrize(
        ("start", "end", "expected"),
        [
            ("2024-01-01", "2024-03-31", True),  # weekend/holiday slack at both ends
            ("2023-12-20", "2024-03-31", False),  # older rows missing
            ("2024-01-01", "2024-04-30", False),  # newer rows missing
            ("2024-02-01", "2024-02-29", True),  # inside
        ],
    )
    def test_slack(self, start: str, end: str, expected: bool) -> None:
        cov = self._cov("2024-01-02", "2024-03-28", ("2024-01-01", "2024-03-31", "2024-04-02T08:00:00+00:00"))
        assert cov.covers(dt.date.fromisoformat(start), dt.date.fromisoformat(end)) is expected

    def test_history_that_ends_early_is_covered_after_a_later_fetch(self) -> None:
        late = self._cov("2024-01-02", "2024-03-28", ("2024-01-01", "2024-06-30", "2024-07-05T08:00:00+00:00"))
        assert late.covers(dt.date(2024, 1, 1), dt.date(2024, 6, 30))
        early = self._cov("2024-01-02", "2024-03-28", ("2024-01-01", "2024-06-30", "2024-06-01T08:00:00+00:00"))
        assert not early.covers(dt.date(2024, 1, 1), dt.date(2024, 6, 30))

    def test_history_that_starts_late_is_covered_after_an_earlier_request(self) -> None:
        cov = self._cov("2020-06-18", "2020-12-31", ("2019-01-01", "2020-12-31", "2021-01-05T08:00:00+00:00"))
        assert cov.covers(dt.date(2019, 6, 1), dt.date(2020, 12, 31))
        assert not cov.covers(dt.date(2018, 6, 1), dt.date(2020, 12, 31))


class TestAdjustmentDrift:
    DATES = ("2024-01-02", "2024-01-03", "2024-01-04")

    def test_identical(self) -> None:
        assert adjustment_drift(_frame(self.DATES, [1.0, 2.0, 3.0]), _frame(self.DATES, [1.0, 2.0, 3.0])) is None

    def test_relative_tolerance(self) -> None:
        stored = _frame(self.DATES, [100.0, 100.0, 100.0])
        assert adjustment_drift(stored, _frame(self.DATES, [100.0, 100.00005, 100.0])) is None  # 5e-7
        message = adjustment_drift(stored, _frame(self.DATES, [100.0, 100.0002, 100.0]))  # 2e-6
        assert message is not None and "2024-01-03" in message

    def test_new_dividend(self) -> None:
        stored = _frame(self.DATES[:2], [1.0, 2.0])
        new = _frame(self.DATES, [1.0, 2.0, 3.0], dividends={"2024-01-04": 0.5})
        message = adjustment_drift(stored, new)
        assert message is not None and "dividend" in message and "2024-01-04" in message

    def test_known_dividend_is_not_drift(self) -> None:
        stored = _frame(self.DATES, [1.0, 2.0, 3.0], dividends={"2024-01-03": 0.5})
        new = _frame(self.DATES[1:], [2.0, 3.0], dividends={"2024-01-03": 0.5})
        assert adjustment_drift(stored, new) is None

    def test_dividend_before_stored_history_is_not_drift(self) -> None:
        stored = _frame(self.DATES[1:], [2.0, 3.0])
        new = _frame(self.DATES, [0.9, 2.0, 3.0], dividends={"2024-01-02": 0.1})
        assert adjustment_drift(stored, new) is None

    def test_new_split(self) -> None:
        stored = _frame(self.DATES, [1.0, 2.0, 3.0])
        new = _frame(self.DATES, [1.0, 2.0, 3.0], splits={"2024-01-04": 2.0})
        assert adjustment_drift(stored, new) == "new split of 2 on 2024-01-04 not in the store"
