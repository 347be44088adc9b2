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
from eventstudy.errors import DataError

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

    def test_a_window_without_values_is_not_drawn(self, result: SimpleNamespace) -> None:
        result.car.loc[result.car["window_end"] == 0, "car"] = np.nan
        with pytest.raises(DataError, match=r"nothing to draw: every value of the CARs over \[0, 0\] is missing"):
            plots.plot_car_heatmap(result, (0, 0))
        fig = plots.plot_car_heatmap(result, (-1, 1))  # the other windows still draw
        assert len(fig.axes[0].texts) == 3

    def test_largest_rows_and_columns_kept(self) -> None:
        events = [f"ev{i}" for i in range(5)]
        result = make_fake_result(event_ids=events, tickers=["A", "B", "C"])
        sel = result.car[(result.car["window_start"] == -2) & (result.car["window_end"] == 2)]
        biggest = sel.assign(size=sel["car"].abs()).groupby("event_id")["size"].max()
        rows = sorted(biggest.nlargest(2).index, key=events.index)  # two events with the largest |CAR|, in order
        kept = sel[sel["event_id"].isin(rows)]
        cols = sorted(kept.assign(size=kept["car"].abs()).groupby("ticker")["size"].max().nlargest(1).index)
        fig = plots.plot_car_heatmap(result, (-2, 2), max_events=2, max_tickers=1)
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_yticklabels()] == rows
        assert [t.get_text() for t in ax.get_xticklabels()] == cols
        expected = kept.set_index(["event_id", "ticker"]).loc[[(e, cols[0]) for e in rows], "car"].to_numpy()
        np.testing.assert_array_equal(ax.get_images()[0].get_array().ravel(), expected)
        assert ax.get_title() == "CAR over [-2, +2] (largest |CAR|: 2 of 5 events, 1 of 3 tickers)"


class TestNothingToDraw:
    """An empty result (or one without values) gives a clear error, never an empty chart."""

    @staticmethod
    def _empty() -> SimpleNamespace:
        result = make_fake_result()
        for name in ("car", "car_path", "aar"):
            setattr(result, name, getattr(result, name).iloc[0:0])
        return result

    @pytest.mark.parametrize(
        ("draw", "what"),
        [
            (lambda r: plots.plot_car(r, EVENTS[0]), "CAR paths"),
            (lambda r: plots.plot_aar(r), "average abnormal returns"),
            (lambda r: plots.plot_car_heatmap(r), "CARs"),
        ],
    )
    def test_empty_result(self, draw, what: str) -> None:
        with pytest.raises(
            DataError, match=f"nothing to draw: the result has no {what} \\(no firm-event was estimated\\)"
        ):
            draw(self._empty())

    def test_a_path_without_values(self, result: SimpleNamespace) -> None:
        path = result.car_path
        path.loc[(path["event_id"] == EVENTS[0]) & (path["ticker"] == TICKERS[1]), "car"] = np.nan
        with pytest.raises(DataError, match="every value of the CAR path of event 'ant_ipo_suspended', MXN=X"):
            plots.plot_car(result, EVENTS[0], TICKERS[1])
        plots.plot_car(result, EVENTS[0])  # the other ticker of the event still has a path
        result.aar.loc[result.aar["group"] == EVENTS[1], "aar"] = np.nan
        with pytest.raises(DataError, match="average abnormal returns of group 'tencent_next_target'"):
            plots.plot_aar(result, EVENTS[1])


def test_save_figure_is_byte_reproducible(result: SimpleNamespace, tmp_path: Path) -> None:
    a = plots.save_figure(plots.plot_car(result, EVENTS[0]), tmp_path / "a" / "car.png")
    b = plots.save_figure(plots.plot_car(result, EVENTS[0]), tmp_path / "b.png")
    assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a.read_bytes() == b.read_bytes()
    assert b"Software" not in a.read_bytes()


def test_long_ids_are_cut_on_the_figure() -> None:
    long = "event_" + "x" * 300
    result = make_fake_result(event_ids=[long], tickers=["T" * 200])
    for fig in (plots.plot_car(result, long), plots.plot_aar(result, long), plots.plot_car_heatmap(result)):
        ax = fig.axes[0]
        labels = [t.get_text() for t in (*ax.get_xticklabels(), *ax.get_yticklabels()) if t.get_text()]
        assert all(len(x) <= plots.TEXT_MAX for x in labels if "x" in x or "T" in x)
        assert len(ax.get_title()) < 100
        plots.figure_png(fig)  # lays out without a warning (warnings are errors)


def test_text_is_ascii_and_mathtext_safe(result: SimpleNamespace) -> None:
    result.car_path["event_id"] = result.car_path["event_id"].replace(EVENTS[0], "騰訊_$x$_–")
    fig = plots.plot_car(result, "騰訊_$x$_–")
    title = fig.axes[0].get_title()
    assert title.isascii() and "$x$" in title
    plots.figure_png(fig)  # renders without a glyph or mathtext warning (warnings are errors)
