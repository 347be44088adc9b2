"""How numbers and text are written for people: one rule per purpose, shared by figures, reports and simulations.

- numbers: :func:`fmt_num` (fixed decimals), :func:`fmt_pct` (a fraction in percent), :func:`fmt_stat` (a test
  statistic), :func:`fmt_p` (a p-value, bounded below), :func:`fmt_int` (a count), :func:`stars`;
- other cells: :func:`fmt_date`, :func:`fmt_cell` (anything without a column rule), :func:`group_label`;
- event time: :func:`signed_day` (``+1``); windows are written by :func:`eventstudy.spec.window_text`;
- text for matplotlib: :func:`ascii_text` (its fonts have no CJK glyphs);
- file names: :func:`safe_filename` (a fragment) and :func:`figure_stem` (a bounded, collision-free stem).

A missing number prints as :data:`MISSING`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import unicodedata

import numpy as np
import pandas as pd

from eventstudy.spec import window_text

MISSING = "n/a"
"""What a missing number is printed as."""

STAR_LEVELS: tuple[tuple[float, str], ...] = ((0.01, "***"), (0.05, "**"), (0.10, "*"))
STAR_NOTE = "sig: * p < 0.10, ** p < 0.05, *** p < 0.01 (two-sided)."

_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ", "0123456789+-=()ni", strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₜᵢⱼₖₘₙ", "0123456789+-=()aeoxtijkmn", strict=True))
_ASCII_MAP = {
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "--",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2032": "'",
    "\u2033": "''",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u00d7": "x",
    "\u00b7": "*",
    "\u2022": "*",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u2248": "~",
    "\u00b1": "+/-",
    "\u2192": "->",
    "\u2190": "<-",
    "\u221a": "sqrt",
    "\u2211": "sum",
    "\u00b0": " deg",
    "\u00a7": "S",
    "\u20ac": "EUR",
    "\u00a3": "GBP",
    "\u00a5": "JPY",
    "\u3000": " ",
    "\u03b1": "alpha",
    "\u03b2": "beta",
    "\u03b3": "gamma",
    "\u03b4": "delta",
    "\u03b5": "epsilon",
    "\u03c1": "rho",
    "\u03c3": "sigma",
    "\u03c4": "tau",
    "\u03bc": "mu",
    "\u03bd": "nu",
    "\u03a3": "Sigma",
    "\u03a6": "Phi",
    "\u03c6": "phi",
    "\u03c7": "chi",
    "\u0394": "Delta",
    "\u03bb": "lambda",
}


def ascii_text(text: object, placeholder: str = "?") -> str:
    """Transliterate text to printable ASCII for matplotlib (PDF pages and figure labels).

    Matplotlib's default fonts lack CJK glyphs and emit a "Glyph missing" warning for them
    (../shared/docs/ECOSYSTEM.md §7.2). Superscripts become ``^2`` or ``^(-1)``, typographic punctuation its
    ASCII twin, Greek letters their names, accented letters lose the accent, and anything else
    (CJK, emoji) becomes ``placeholder``. Whitespace runs collapse to one space.

    Parameters
    ----------
    text
        Any value; it is converted with ``str`` first.
    placeholder
        Replacement for characters with no ASCII form.

    Returns
    -------
    str
    """
    s = str(text)
    out: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        for table, mark in ((_SUPERSCRIPTS, "^"), (_SUBSCRIPTS, "_")):
            if ch in table:
                j = i
                while j < len(s) and s[j] in table:
                    j += 1
                run = "".join(table[c] for c in s[i:j])
                out.append(mark + (run if len(run) == 1 else f"({run})"))
                i = j
                break
        else:
            if ch.isascii():
                out.append(ch if ch.isprintable() else " ")
            elif ch in _ASCII_MAP:
                out.append(_ASCII_MAP[ch])
            else:
                decomposed = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
                out.append(decomposed if decomposed and decomposed.isascii() else placeholder)
            i += 1
    return re.sub(r"\s+", " ", "".join(out)).strip()


def signed_day(day: int) -> str:
    """Format an event day with an explicit sign for positive days: ``1 -> "+1"``, ``0 -> "0"``."""
    return f"+{day}" if day > 0 else str(day)


def _is_missing(value: object) -> bool:
    """Whether a scalar is None, NaN, NaT or pd.NA (containers are never missing)."""
    if value is None:
        return True
    if isinstance(value, (str, bytes, list, tuple, dict, set, np.ndarray)):
        return False
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _as_float(value: object) -> float:
    """Convert to float; missing or non-numeric values give NaN."""
    if _is_missing(value):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def fmt_num(value: object, dp: int = 3) -> str:
    """Format a number with ``dp`` decimals and an ASCII minus sign.

    Parameters
    ----------
    value
        Any scalar; missing or non-finite values give ``"n/a"``.
    dp
        Number of decimals.

    Returns
    -------
    str
    """
    x = _as_float(value)
    if not math.isfinite(x):
        return MISSING
    text = f"{x:.{dp}f}"
    if text.startswith("-") and float(text) == 0.0:  # "-0.000" -> "0.000"
        text = text[1:]
    return text


def fmt_pct(value: object, dp: int = 2) -> str:
    """Format a return (a fraction) in percent, e.g. ``-0.01234 -> "-1.23%"``.

    Parameters
    ----------
    value
        A return as a fraction; missing values give ``"n/a"``.
    dp
        Decimals of the percentage.

    Returns
    -------
    str
    """
    x = _as_float(value)
    if not math.isfinite(x):
        return MISSING
    return fmt_num(100.0 * x, dp) + "%"


def fmt_stat(value: object) -> str:
    """Format a test statistic (t, z) with 3 decimals."""
    return fmt_num(value, 3)


def fmt_p(value: object) -> str:
    """Format a p-value with 4 decimals; below 0.0001 it prints as ``"<0.0001"``.

    Parameters
    ----------
    value
        A probability; missing values give ``"n/a"``.

    Returns
    -------
    str
    """
    p = _as_float(value)
    if not math.isfinite(p):
        return MISSING
    if p < 0.0001:
        return "<0.0001"
    return f"{p:.4f}"


def stars(value: object) -> str:
    """Significance stars for a two-sided p-value (a presentation layer only; p is always shown too)."""
    p = _as_float(value)
    if not math.isfinite(p):
        return ""
    for level, mark in STAR_LEVELS:
        if p < level:
            return mark
    return ""


def fmt_int(value: object) -> str:
    """Format a count; missing values give ``"n/a"``."""
    x = _as_float(value)
    if not math.isfinite(x):
        return MISSING
    return str(round(x))


def fmt_date(value: object) -> str:
    """Format a date or timestamp: ``YYYY-MM-DD`` at midnight, ISO text otherwise; missing gives ``""``."""
    if _is_missing(value):
        return ""
    if isinstance(value, (pd.Timestamp, np.datetime64, dt.date)):
        ts = pd.Timestamp(value)
        if ts.tz is None and ts == ts.normalize():
            return ts.strftime("%Y-%m-%d")
        return ts.isoformat(sep=" ")
    return str(value)


def fmt_cell(value: object) -> str:
    """Format any cell that has no column-specific rule.

    Floats get 4 decimals, booleans ``yes``/``no``, dates ISO text, windows ``[a, +b]``,
    missing values ``""``; newlines and tabs become spaces.
    """
    if _is_missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return fmt_num(value, 4)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
        return window_text((int(value[0]), int(value[1])))
    if isinstance(value, (pd.Timestamp, np.datetime64, dt.date)):
        return fmt_date(value)
    return re.sub(r"\s+", " ", str(value)).strip()


_PATH_CHAR = r"[^\s/\\;,()\[\]'\"<>|]"
_PATHS = re.compile(
    r"(?:^|(?<=[\s(\[\"'=:,;<]))"
    rf"(?:(?:~|\.{{1,2}})/(?:{_PATH_CHAR}+/)*{_PATH_CHAR}*"  # ~/a, ./a, ../a/b
    rf"|/(?:{_PATH_CHAR}+/)+{_PATH_CHAR}*"  # /a/b (at least two levels)
    rf"|[A-Za-z]:\\(?:{_PATH_CHAR}+\\)*{_PATH_CHAR}*)"  # C:\a\b
)


def hide_paths(text: object) -> str:
    r"""Replace every file-system path in a text by its last component (the file or folder name).

    Reports never show where the files lie on the machine that ran the study: ``csv:/home/me/data/BABA.csv``
    becomes ``csv:BABA.csv`` and ``CSV price files in ../shared/prices (adj_close)`` becomes
    ``CSV price files in prices (adj_close)``.

    Parameters
    ----------
    text
        Any value; converted with ``str``.

    Returns
    -------
    str

    Notes
    -----
    A path is a run of characters without spaces, quotes, brackets, ``;`` ``,`` ``|`` that starts a word
    (at the start, or after a space, ``(``, ``[``, a quote, ``=``, ``:``, ``,``, ``;``, ``<``) and is either
    absolute with at least two levels (``/a/b``), home- or dot-relative (``~/a``, ``./a``, ``../a``) or a
    Windows path (``C:\a``). Ratios such as ``AAR/CAAR`` or ``n/a``, ``+/-`` and URLs (``https://...``) are
    left alone.

    Examples
    --------
    >>> hide_paths("no file /srv/data/curated/MPNGY.csv; add it")
    'no file MPNGY.csv; add it'
    """

    def last(match: re.Match[str]) -> str:
        parts = [p for p in re.split(r"[/\\]", match.group(0)) if p not in ("", ".", "..", "~")]
        return parts[-1] if parts else match.group(0)

    return _PATHS.sub(last, str(text))


def group_label(group: object) -> str:
    """Human label of an aggregation group: ``"all"`` becomes ``"all events"``."""
    return "all events" if str(group) == "all" else str(group)


def safe_filename(text: object) -> str:
    """Make a file-name fragment: characters outside ``[A-Za-z0-9._-]`` (e.g. ``^``, ``=``) become ``_``.

    Non-ASCII letters are transliterated first (:func:`ascii_text`); leading and trailing dots are dropped.
    The fragment is not unique (``"A=X"`` and ``"A_X"`` give the same) and not bounded: name files about
    user-named things with :func:`figure_stem`.
    """
    name = re.sub(r"[^A-Za-z0-9._-]", "_", ascii_text(text, placeholder="_"))
    return name.strip(".") or "_"


FIGURE_STEM_MAX = 80
"""Longest figure file stem in characters (with ``.png`` at most 84, far below the 255 bytes file systems allow)."""


def figure_stem(kind: str, *ids: object) -> str:
    """File stem of a figure about user-named things (event ids, tickers): readable, bounded and collision-free.

    Parameters
    ----------
    kind
        What the figure shows, a short ASCII word starting with a letter (``"car"``, ``"aar"``).
    *ids
        The event id, ticker, ... the figure is about, as given by the user.

    Returns
    -------
    str
        ``<kind>_<slug>_<hash>``: the slug joins :func:`safe_filename` of each id with ``_``, cut so that the
        stem has at most :data:`FIGURE_STEM_MAX` characters; the hash is the first 10 hex digits of the
        SHA-256 of the ids (UTF-8 of the ``repr`` of the tuple of ``str(id)``), so ids that differ anywhere, also
        after the cut, in characters the slug replaces or only in letter case, get different stems. Only
        ``[A-Za-z0-9._-]`` occur and the stem starts with ``kind``: no path separator, no leading dot.

    Examples
    --------
    >>> figure_stem("car", "ant_ipo", "MXN=X")
    'car_ant_ipo_MXN_X_519d20ca58'
    """
    digest = hashlib.sha256(repr(tuple(str(i) for i in ids)).encode("utf-8")).hexdigest()[:10]
    room = FIGURE_STEM_MAX - len(kind) - len(digest) - 2
    slug = "_".join(safe_filename(i) for i in ids)[:room].rstrip("._-")
    return f"{kind}_{slug}_{digest}" if slug else f"{kind}_{digest}"


__all__ = [
    "FIGURE_STEM_MAX",
    "MISSING",
    "STAR_LEVELS",
    "STAR_NOTE",
    "ascii_text",
    "figure_stem",
    "fmt_cell",
    "fmt_date",
    "fmt_int",
    "fmt_num",
    "fmt_p",
    "fmt_pct",
    "fmt_stat",
    "group_label",
    "hide_paths",
    "safe_filename",
    "signed_day",
    "stars",
]
