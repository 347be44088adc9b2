"""Tests of ``eventstudy.symbols``: listing suffix, exchange, default benchmark, FX and index symbols.

The expected table is written by hand from ``../shared/docs/ECOSYSTEM.md`` §3.1 (symbol -> calendar) and §4 rule 8
(listing -> benchmark); it is never computed with the module's own tables.
"""

from __future__ import annotations

import exchange_calendars as xcals
import pytest

from eventstudy.symbols import (
    EXCHANGE_BY_INDEX,
    EXCHANGE_BY_SUFFIX,
    default_benchmark,
    describe_default_benchmarks,
    exchange_for,
    is_fx,
    is_index,
    listing_suffix,
)

# symbol -> (listing suffix, exchange, default benchmark, is FX, is index)
EXPECTED: dict[str, tuple[str | None, str | None, str | None, bool, bool]] = {
    "0700.HK": ("HK", "XHKG", "^HSI", False, False),
    "9988.HK": ("HK", "XHKG", "^HSI", False, False),
    "9984.T": ("T", "XTKS", "^N225", False, False),
    "8035.T": ("T", "XTKS", "^N225", False, False),
    "2330.TW": ("TW", "XTAI", "^TWII", False, False),
    "6488.TWO": ("TWO", "XTAI", "^TWII", False, False),
    "600519.SS": ("SS", "XSHG", None, False, False),
    "000001.SZ": ("SZ", "XSHE", None, False, False),
    "PRX.AS": ("AS", "XAMS", None, False, False),
    "HSBA.L": ("L", "XLON", None, False, False),
    "MC.PA": ("PA", "XPAR", None, False, False),
    "SAP.DE": ("DE", "XFRA", None, False, False),
    "RY.TO": ("TO", "XTSE", None, False, False),
    "NPN.JO": ("JO", None, None, False, False),
    "DX-Y.NYB": ("NYB", None, None, False, False),
    "BABA": ("", "XNYS", "^GSPC", False, False),
    "MPNGY": ("", "XNYS", "^GSPC", False, False),
    "TCEHY": ("", "XNYS", "^GSPC", False, False),
    "BRK-B": ("", "XNYS", "^GSPC", False, False),
    "^HSI": (None, "XHKG", None, False, True),
    "^GSPC": (None, "XNYS", None, False, True),
    "^SPX": (None, "XNYS", None, False, True),
    "^IXIC": (None, "XNYS", None, False, True),
    "^DJI": (None, "XNYS", None, False, True),
    "^RUT": (None, "XNYS", None, False, True),
    "^N225": (None, "XTKS", None, False, True),
    "^TWII": (None, "XTAI", None, False, True),
    "^AEX": (None, "XAMS", None, False, True),
    "^MXX": (None, "XMEX", None, False, True),
    "^SOX": (None, None, None, False, True),
    "JPY=X": (None, "24/5", None, True, False),
    "MXN=X": (None, "24/5", None, True, False),
    "CAD=X": (None, "24/5", None, True, False),
    "CL=F": (None, None, None, False, False),
    "": (None, None, None, False, False),
}


@pytest.mark.parametrize(("symbol", "expected"), EXPECTED.items())
def test_symbol_rules(symbol: str, expected: tuple[str | None, str | None, str | None, bool, bool]) -> None:
    suffix, exchange, benchmark, fx, index = expected
    assert listing_suffix(symbol) == suffix
    assert exchange_for(symbol) == exchange
    assert default_benchmark(symbol) == benchmark
    assert is_fx(symbol) is fx
    assert is_index(symbol) is index


@pytest.mark.parametrize(("symbol", "canonical"), [(" 0700.hk ", "0700.HK"), ("jpy=x", "JPY=X"), ("^hsi", "^HSI")])
def test_case_and_blanks_do_not_change_the_rules(symbol: str, canonical: str) -> None:
    assert exchange_for(symbol) == EXPECTED[canonical][1]
    assert default_benchmark(symbol) == EXPECTED[canonical][2]
    assert is_fx(symbol) is EXPECTED[canonical][3]


def test_every_exchange_has_an_exchange_calendar() -> None:
    # XSHE has no calendar in exchange_calendars 4.13.2; eventstudy.calendars serves it with XSHG.
    names = set(xcals.get_calendar_names())
    for mic in {*EXCHANGE_BY_SUFFIX.values(), *EXCHANGE_BY_INDEX.values(), "XNYS", "24/5"} - {"XSHE"}:
        assert mic in names, mic


def test_default_benchmark_rule_text() -> None:
    assert describe_default_benchmarks() == (
        ".HK -> ^HSI, .TW -> ^TWII, .TWO -> ^TWII, .T -> ^N225, no suffix (US listings) -> ^GSPC"
    )
