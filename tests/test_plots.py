"""Tests of eventstudy.plots: figures are returned (never shown), labelled, in percent, and faithful."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from eventstudy import plots

_spec = importlib.util.spec_from_file_location("_fake_study_result", Path(__file__).parent / "report" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
make_fake_result = _fake.make_fake_result
EVENTS, TICKERS = _fake.EVENTS, _fake.TICKERS


@pytest.fixture
def result() -> SimpleNamespace:
    return make_fake_result()


@pytest.fixture(autouse=True)
def _no_pyplot_figures(monkeypatch: pytest.MonkeyPatch):
    """Headless, and no figure may be registered with pyplot's figure manager."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    from matplotlib._pylab_helpers import Gcf

    before = Gcf.get_num_fig_managers()
    yield
    assert Gcf.get_num_fig_managers() == before


def _assert_event_time_axes(ax) -> None:
    assert ax.get_xlabel().startswith("Event day")
    assert ax.get_ylabel()
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    assert ax.yaxis.get_major_formatter().xmax == 1.0
    assert all(float(t).is_integer() for t in ax.get_xticks())
    vlines = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [0, 0]]
    assert vlines and vlines[0].get_linestyle() == "--"
    assert any(list(ln.get_ydata()) == [0, 0] for ln in ax.get_lines())
    assert ax.get_title().isascii()


def _band_points(coll: PolyCollection) -> dict[float, set[float]]:
    """Map x to the y values of the polygon vertices of a fill_between band."""
    points: dict[float, set[float]] = {}
    for path in coll.get_paths():
        for x, y in path.vertices:
            points.setdefault(round(float(x), 9), set()).add(round(float(y), 12))
    return points


class TestPlotCar:
    def test_one_ticker_band_equals_frame(self, result: SimpleNamespace) -> None:
        fig = plots.plot_car(result, EVENTS[0], TICKERS[0])
        assert isinstance(fig, Figure)
        (ax,) = fig.axes
        _assert_event_time_axes(ax)
        frame = result.car_path
        sel = frame[(frame["event_id"] == EVENTS[0]) & (frame["ticker"] == TICKERS[0])].sort_values("rel_day")
        (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
        points = _band_points(band)
        for day, lo, hi in zip(sel["rel_day"], sel["ci_low"], sel["ci_high"], strict=True):
            ys = points[float(day)]
            assert round(lo, 12) in ys and round(hi, 12) in ys
        (line,) = [ln for ln in ax.get_lines() if ln.get_label() == TICKERS[0]]
        np.testing.assert_array_equal(line.get_ydata(), sel["car"].to_numpy())
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == [TICKERS[0], "95% confidence band"]

    def test_all_tickers_one_line_and_band_each(self, result: SimpleNamespace) -> None:
        fig = plots.plot_car(result, EVENTS[1])
        (ax,) = fig.axes
        _assert_event_time_axes(ax)
        assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == len(TICKERS)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == list(TICKERS)

    def test_draws_on_given_axes(self, result: SimpleNamespace) -> None:
        fig = Figure()
        ax = fig.add_subplot()
        assert plots.plot_car(result, EVENTS[0], ax=ax) is fig

    def test_draws_on_subfigure_axes_returns_root(self, result: SimpleNamespace) -> None:
        fig = Figure()
        ax = fig.subfigures(1, 2)[1].add_subplot()
        assert plots.plot_car(result, EVENTS[0], ax=ax) is fig

    @pytest.mark.parametrize(("event", "ticker", "name"), [("nope", None, "nope"), (EVENTS[0], "0700.HK", "0700.HK")])
    def test_unknown_event_or_ticker(self, result: SimpleNamespace, event: str, ticker: str | None, name: str) -> None:
        with pytest.raises(ValueError, match=name) as info:
            plots.plot_car(result, event, ticker)
        assert info.value.value == name


class TestPlotAar:
    def test_bars_line_and_n(self, result: SimpleNamespace) -> None:
        fig = plots.plot_aar(result)
        ax = fig.axes[0]
        _assert_event_time_axes(ax)
        sel = result.aar[result.aar["group"] == "all"].sort_values("rel_day")
        heights = [p.get_height() for p in ax.patches]
        np.testing.assert_allclose(heights, sel["aar"], rtol=0, atol=0)  # bars are the frame values
        (caar,) = [ln for ln in ax.get_lines() if ln.get_label() == "CAAR"]
        np.testing.assert_array_equal(caar.get_ydata(), sel["caar"].to_numpy())
        assert "AAR" in [t.get_text() for t in ax.get_legend().get_texts()]
        top = ax.child_axes[0]
        assert top.get_xlabel().startswith("n ")
        labels = [t.get_text() for t in top.get_xticklabels()]
        assert labels == [str(n) for n in sel["n"]]

    def test_event_group_with_varying_n(self, result: SimpleNamespace) -> None:
        fig = plots.plot_aar(result, EVENTS[1])
        top = fig.axes[0].child_axes[0]
        assert [t.get_text() for t in top.get_xticklabels()][:2] == ["1", "2"]
        assert EVENTS[1] in fig.axes[0].get_title()

    def test_unknown_group(self, result: SimpleNamespace) -> None:
        with pytest.raises(ValueError, match="all"):
            plots.plot_aar(result, "nope")


class TestHeatmap:
    def test_cells_nan_and_labels(self, result: SimpleNamespace) -> None:
        fig = plots.plot_car_heatmap(result, (-1, 1))
        ax = fig.axes[0]
        assert ax.get_xlabel() == "Ticker" and ax.get_ylabel() == "Event"
        (image,) = ax.get_images()
        data = image.get_array()
        car = result.car
        sel = car[(car["window_start"] == -1) & (car["window_end"] == 1)]
        for i, ev in enumerate(EVENTS):
            for j, tk in enumerate(TICKERS):
                value = sel[(sel["event_id"] == ev) & (sel["ticker"] == tk)]["car"].iloc[0]
                if np.isnan(value):
                    assert data.mask[i, j]
                else:
                    assert data[i, j] == value
        norm = image.norm
        assert norm.vmin == -norm.vmax  # centred at zero
        texts = [t.get_text() for t in ax.texts]
        assert len(texts) == 3 and all(t.endswith("%") for t in texts)  # the NaN cell is blank
        cbar_ax = fig.axes[1]
        assert isinstance(cbar_ax.yaxis.get_major_formatter(), PercentFormatter)
        assert cbar_ax.get_ylabel()

    def test_missing_window_names_available(self, result: SimpleNamespace) -> None:
        with pytest.raises(ValueError, match=r"\[-5, \+5\].*available: \[0, 0\], \[-1, \+1\], \[-2, \+2\]"):
            plots.plot_car_heatmap(result, (-5, 5))

    def test_all_nan_window_does_not_warn(self, result: SimpleNamespace) -> None:
        result.car["car"] = np.nan
        fig = plots.plot_car_heatmap(result, (0, 0))
        assert len(fig.axes[0].texts) == 0


def test_save_figure_is_byte_reproducible(result: SimpleNamespace, tmp_path: Path) -> None:
    a = plots.save_figure(plots.plot_car(result, EVENTS[0]), tmp_path / "a" / "car.png")
    b = plots.save_figure(plots.plot_car(result, EVENTS[0]), tmp_path / "b.png")
    assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a.read_bytes() == b.read_bytes()
    assert b"Software" not in a.read_bytes()


def test_text_is_ascii_and_mathtext_safe(result: SimpleNamespace) -> None:
    result.car_path["event_id"] = result.car_path["event_id"].replace(EVENTS[0], "騰訊_$x$_–")
    fig = plots.plot_car(result, "騰訊_$x$_–")
    title = fig.axes[0].get_title()
    assert title.isascii() and "$x$" in title
    plots.figure_png(fig)  # renders without a glyph or mathtext warning (warnings are errors)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("s²(L + g'(X'X)⁻¹g)", "s^2(L + g'(X'X)^(-1)g)"), ("騰訊 café – “x”", '?? cafe - "x"'), ("a\nb", "a b")],
)
def test_ascii_text(text: str, expected: str) -> None:
    assert plots.ascii_text(text) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [((-1, 1), "[-1, +1]"), ((0, 0), "[0, 0]"), (((-10, 10),), "[-10, +10]"), (("[0, +1]",), "[0, +1]")],
)
def test_fmt_window(args: tuple, expected: str) -> None:
    assert plots.fmt_window(*args) == expected
