"""Yahoo symbol rules: listing suffix, exchange (calendar), default benchmark and FX symbols.

Every rule that reads meaning out of the spelling of a Yahoo symbol lives here:

- index symbols start with ``^`` (``^HSI``); they have no suffix and are mapped one by one;
- FX symbols end in ``=X`` (``JPY=X``); other symbols containing ``=`` are futures (``CL=F``) and have
  no known exchange;
- an equity symbol ends in ``.<SUFFIX>`` naming its listing (``0700.HK``), and a symbol without a dot is a
  US listing (NYSE, Nasdaq and OTC, e.g. ``BABA``, ``MPNGY``).

The tables, from ``../shared/docs/ECOSYSTEM.md`` §3.1 (symbol -> calendar) and §4 rule 8 (listing -> benchmark):

========================  ====================  ===================
symbol                    exchange (MIC)        default benchmark
========================  ====================  ===================
``.HK``                   XHKG                  ``^HSI``
``.T``                    XTKS                  ``^N225``
``.TW``                   XTAI                  ``^TWII``
``.TWO``                  XTAI (approximation)  ``^TWII``
``.SS``                   XSHG                  none
``.SZ``                   XSHE                  none
``.AS``                   XAMS                  none
``.L``                    XLON                  none
``.PA``                   XPAR                  none
``.DE``                   XFRA                  none
``.TO``                   XTSE                  none
no suffix (US listing)    XNYS                  ``^GSPC``
``=X`` (FX)               ``24/5`` (weekdays)   none
========================  ====================  ===================

Index symbols: ``^HSI`` XHKG; ``^GSPC``, ``^SPX``, ``^IXIC``, ``^DJI``, ``^RUT`` XNYS; ``^N225`` XTKS;
``^TWII`` XTAI; ``^AEX`` XAMS; ``^MXX`` XMEX. ``.AS``/``^AEX`` and ``^MXX`` are marked "suggested, not
checked" in ``../shared/docs/ECOSYSTEM.md`` §3.1. The rows for ``.SZ``, ``.L``, ``.PA``, ``.DE``, ``.TO`` and the
index ``^RUT`` extend that table with the exchange_calendars calendar of the home
exchange (``.DE`` uses the Frankfurt calendar XFRA). Where "none" is shown the user names a benchmark.
"""

from __future__ import annotations

__all__ = [
    "BENCHMARK_BY_SUFFIX",
    "EXCHANGE_BY_INDEX",
    "EXCHANGE_BY_SUFFIX",
    "FX_CALENDAR",
    "US_BENCHMARK",
    "US_EXCHANGE",
    "default_benchmark",
    "describe_default_benchmarks",
    "exchange_for",
    "is_fx",
    "is_index",
    "listing_suffix",
]

#: Name of the exchange_calendars weekday calendar used for FX symbols (``../shared/docs/ECOSYSTEM.md`` §4 rule 9).
FX_CALENDAR = "24/5"

#: Exchange (ISO 10383 MIC, the exchange_calendars name) of each listing suffix (``../shared/docs/ECOSYSTEM.md`` §3.1).
EXCHANGE_BY_SUFFIX: dict[str, str] = {
    "HK": "XHKG",
    "T": "XTKS",
    "TW": "XTAI",
    "TWO": "XTAI",  # Taipei Exchange, approximated by the TWSE calendar
    "SS": "XSHG",
    "SZ": "XSHE",
    "AS": "XAMS",
    "L": "XLON",
    "PA": "XPAR",
    "DE": "XFRA",
    "TO": "XTSE",
}
#: Exchange of a symbol without a suffix: US listings (NYSE, Nasdaq, OTC) share the NYSE calendar.
US_EXCHANGE = "XNYS"
#: Exchange of each index symbol (index symbols carry no suffix; ``../shared/docs/ECOSYSTEM.md`` §3.1).
EXCHANGE_BY_INDEX: dict[str, str] = {
    "^HSI": "XHKG",
    "^GSPC": "XNYS",
    "^SPX": "XNYS",
    "^IXIC": "XNYS",
    "^DJI": "XNYS",
    "^RUT": "XNYS",
    "^N225": "XTKS",
    "^TWII": "XTAI",
    "^AEX": "XAMS",
    "^MXX": "XMEX",
}

#: Local market index of each listing suffix that has a default (``../shared/docs/ECOSYSTEM.md`` §4 rule 8).
BENCHMARK_BY_SUFFIX: dict[str, str] = {
    "HK": "^HSI",
    "TW": "^TWII",
    "TWO": "^TWII",
    "T": "^N225",
}
#: Default benchmark of a symbol without a suffix (a US listing).
US_BENCHMARK = "^GSPC"


def _canonical(symbol: str) -> str:
    """The symbol as Yahoo spells it: surrounding blanks removed, upper case."""
    return symbol.strip().upper()


def is_index(symbol: str) -> bool:
    """Whether a Yahoo symbol is an index (it starts with ``^``, e.g. ``^HSI``).

    Examples
    --------
    >>> is_index("^GSPC"), is_index("BABA")
    (True, False)
    """
    return _canonical(symbol).startswith("^")


def is_fx(symbol: str) -> bool:
    """Whether a Yahoo symbol is an FX rate (it ends in ``=X``, e.g. ``JPY=X``; any case).

    FX bars have no exchange close and a volume that is always 0, so day 0 follows the weekday rule and
    zero-volume rows are never dropped for them.

    Examples
    --------
    >>> is_fx("JPY=X"), is_fx("mxn=x"), is_fx("CL=F"), is_fx("BABA")
    (True, True, False, False)
    """
    return _canonical(symbol).endswith("=X")


def listing_suffix(symbol: str) -> str | None:
    """Return the listing suffix of an equity symbol.

    Parameters
    ----------
    symbol
        A Yahoo symbol.

    Returns
    -------
    str or None
        The upper-case text after the last ``.`` (``"HK"`` for ``"0700.HK"``, ``"NYB"`` for
        ``"DX-Y.NYB"``); ``""`` for a symbol without a dot (a US listing such as ``"BABA"``); ``None`` for
        what is not an equity listing: an empty symbol, an index (``^``), an FX rate or a future (``=``).

    Examples
    --------
    >>> listing_suffix("0700.HK"), listing_suffix("BABA"), listing_suffix("^HSI"), listing_suffix("CL=F")
    ('HK', '', None, None)
    """
    sym = _canonical(symbol)
    if not sym or sym.startswith("^") or "=" in sym:
        return None
    return sym.rsplit(".", 1)[1] if "." in sym else ""


def exchange_for(symbol: str) -> str | None:
    """Return the exchange (calendar) code of a Yahoo symbol.

    Parameters
    ----------
    symbol
        A Yahoo symbol: ``"0700.HK"``, ``"BABA"``, ``"^HSI"``, ``"JPY=X"`` (any case, blanks ignored).

    Returns
    -------
    str or None
        A MIC from :data:`EXCHANGE_BY_SUFFIX` or :data:`EXCHANGE_BY_INDEX`, :data:`US_EXCHANGE` for any
        symbol without a suffix (NYSE, Nasdaq and OTC listings), :data:`FX_CALENDAR` for FX symbols, or
        ``None`` when no calendar is known (index symbols not in the table, unknown suffixes, futures):
        day 0 then comes from the price data themselves.

    Notes
    -----
    The tables are ``../shared/docs/ECOSYSTEM.md`` §3.1 (see the module docstring). exchange_calendars 4.13.2 has no
    Shenzhen calendar; :func:`eventstudy.calendars.get_calendar` serves XSHE with the XSHG calendar.

    Examples
    --------
    >>> exchange_for("0700.HK"), exchange_for("TCEHY"), exchange_for("JPY=X"), exchange_for("DX-Y.NYB")
    ('XHKG', 'XNYS', '24/5', None)
    """
    if is_index(symbol):
        return EXCHANGE_BY_INDEX.get(_canonical(symbol))
    if is_fx(symbol):
        return FX_CALENDAR
    suffix = listing_suffix(symbol)
    if suffix is None:
        return None
    return US_EXCHANGE if suffix == "" else EXCHANGE_BY_SUFFIX.get(suffix)


def default_benchmark(symbol: str) -> str | None:
    """Return the default benchmark index of a symbol, chosen by its listing.

    Parameters
    ----------
    symbol
        A Yahoo symbol such as ``"0700.HK"`` or ``"BABA"``.

    Returns
    -------
    str or None
        The index of :data:`BENCHMARK_BY_SUFFIX` (``^HSI`` for ``.HK``, ``^TWII`` for ``.TW`` and ``.TWO``,
        ``^N225`` for ``.T``), :data:`US_BENCHMARK` for a symbol without a suffix (a US listing), or
        ``None`` for anything else (other suffixes, index, FX and futures symbols): the user must name a
        benchmark.

    Notes
    -----
    The pairing of ``../shared/docs/ECOSYSTEM.md`` §4 rule 8; the market model of ``docs/methods.md`` §4 uses the
    benchmark as the market return.

    Examples
    --------
    >>> default_benchmark("9988.HK"), default_benchmark("BABA"), default_benchmark("PRX.AS")
    ('^HSI', '^GSPC', None)
    """
    suffix = listing_suffix(symbol)
    if suffix is None:
        return None
    return US_BENCHMARK if suffix == "" else BENCHMARK_BY_SUFFIX.get(suffix)


def describe_default_benchmarks() -> str:
    """The default-benchmark rule as one line of text, for error messages.

    Examples
    --------
    >>> describe_default_benchmarks()
    '.HK -> ^HSI, .TW -> ^TWII, .TWO -> ^TWII, .T -> ^N225, no suffix (US listings) -> ^GSPC'
    """
    listed = [f".{suffix} -> {index}" for suffix, index in BENCHMARK_BY_SUFFIX.items()]
    return ", ".join([*listed, f"no suffix (US listings) -> {US_BENCHMARK}"])
