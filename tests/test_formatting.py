"""Formatting rules for people (eventstudy.formatting): numbers, cells, ASCII text and figure file names."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from eventstudy.formatting import (
    FIGURE_STEM_MAX,
    ascii_text,
    figure_stem,
    fmt_cell,
    fmt_int,
    fmt_p,
    fmt_pct,
    hide_paths,
    safe_filename,
    signed_day,
    stars,
)


@pytest.mark.parametrize(
    ("func", "value", "expected"),
    [
        (fmt_p, 0.01234, "0.0123"),
        (fmt_p, 0.00001, "<0.0001"),
        (fmt_p, 0.0001, "0.0001"),
        (fmt_p, math.nan, "n/a"),
        (fmt_pct, -0.012345, "-1.23%"),
        (fmt_pct, -0.00001, "0.00%"),
        (fmt_pct, None, "n/a"),
        (fmt_int, 238.0, "238"),
        (stars, 0.004, "***"),
        (stars, 0.2, ""),
        (fmt_cell, True, "yes"),
        (fmt_cell, "a\nb", "a b"),
        (fmt_cell, 0.123456, "0.1235"),
        (fmt_cell, (-1, 1), "[-1, +1]"),
        (fmt_cell, (np.int64(0), np.int64(5)), "[0, +5]"),
        (signed_day, 3, "+3"),
        (signed_day, 0, "0"),
        (signed_day, -2, "-2"),
    ],
)
def test_formatting_rules(func, value, expected: str) -> None:
    assert func(value) == expected


def test_one_decimal_percent_as_in_heatmap_cells() -> None:
    assert fmt_pct(0.01234, 1) == "1.2%" and fmt_pct(-0.0004, 1) == "0.0%"  # no "-0.0%"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("s²(L + g'(X'X)⁻¹g)", "s^2(L + g'(X'X)^(-1)g)"), ("騰訊 café – “x”", '?? cafe - "x"'), ("a\nb", "a b")],
)
def test_ascii_text(text: str, expected: str) -> None:
    assert ascii_text(text) == expected


def test_safe_filename() -> None:
    assert safe_filename("MXN=X") == "MXN_X" and safe_filename("^HSI") == "_HSI"
    assert safe_filename("../etc/passwd") == "_etc_passwd"  # ".._etc_passwd" without the leading dots
    assert safe_filename("...") == "_"


ODD_IDS = (  # (event, ticker) pairs that once broke figure file names or could collide
    ("x" * 300, "AAA"),
    ("x" * 299 + "A", "AAA"),
    ("x" * 299 + "B", "AAA"),  # differs from the one above only after the cut
    ("a/b", "T"),
    ("a_b", "T"),  # same slug as "a/b"
    ("A_B", "T"),  # differs from "a_b" only in letter case
    ("../../etc/passwd", ".."),
    ("..", "..."),
    (".hidden", "x\\y"),
    ("騰訊控股", "0700.HK"),
    ("騰訊", "0700.HK"),  # CJK becomes "_": the same slug "__" as the next id
    ("騰騰", "0700.HK"),
    ("", ""),
    ("e" * 5000, "😀" * 100),
)


class TestFigureStem:
    """File stems for figures about user-named events and tickers (issue 6: a 300-character id crashed)."""

    SAFE = re.compile(r"[a-z][A-Za-z0-9._-]*")

    def test_safe_bounded_and_distinct(self) -> None:
        stems = [figure_stem("car", ev, tk) for ev, tk in ODD_IDS]
        for stem in stems:
            assert self.SAFE.fullmatch(stem), stem
            assert len(stem) <= FIGURE_STEM_MAX and len(stem + ".png") <= 100
            assert "/" not in stem and "\\" not in stem and not stem.startswith((".", "-"))
        assert len({s.lower() for s in stems}) == len(stems)  # distinct even on case-insensitive file systems

    def test_readable_and_stable(self) -> None:
        stem = figure_stem("car", "ant_ipo_suspended", "MXN=X")
        assert stem.startswith("car_ant_ipo_suspended_MXN_X_") and len(stem) == len("car_ant_ipo_suspended_MXN_X_") + 10
        assert stem == figure_stem("car", "ant_ipo_suspended", "MXN=X")  # no state: the same ids, the same name
        # the hash tells the parts apart: ("a_b", "c") and ("a", "b_c") have the same slug
        assert figure_stem("car", "a_b", "c") != figure_stem("car", "a", "b_c")
        assert figure_stem("aar", "x" * 300).startswith("aar_xxx")


class TestHidePaths:
    """Reports name files, never where they lie on the machine (issue 7): every path becomes its last part."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "CSV price files in /srv/data/curated/window_2019_2021 (adj_close)",
                "CSV price files in window_2019_2021 (adj_close)",
            ),
            ("csv:/srv/data/curated/9988.HK.csv", "csv:9988.HK.csv"),
            ("no file /srv/data/MPNGY.csv; add it", "no file MPNGY.csv; add it"),
            ("store ~/eventstudy/prices.sqlite (offline)", "store prices.sqlite (offline)"),
            ("returns file ./returns.csv", "returns file returns.csv"),
            ("prices ../shared/data/curated/w", "prices w"),
            (r"returns:C:\Users\me\r.csv", "returns:r.csv"),
            ("folder /srv/data/", "folder data"),
        ],
    )
    def test_paths_become_their_last_part(self, text: str, expected: str) -> None:
        assert hide_paths(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "AAR/CAAR",
            "n/a",
            "+/-",
            "p = (1 + #) / (B + 1)",
            "sd/sqrt(N)",
            "see https://example.com/a/b",
            "1.5/2.0",
            "/tmp",
        ],
    )
    def test_other_slashes_are_kept(self, text: str) -> None:
        assert hide_paths(text) == text
