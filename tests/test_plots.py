"""Tests of eventstudy.plots: figures are returned (never shown), labelled, in percent, and faithful.

Oracles: the fake result's own frames (what a figure shows must equal them), scipy.stats for the CAAR band
(``t.interval`` with ``sem``), and hand-built cases for the heat map's missing and foreign cells.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PatchCollection, PolyCollection, QuadMesh
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from scipy import stats

from eventstudy import plots
from eventstudy.errors import DataError, InputError

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


def _assert_event_time_axes(ax, *, xlabel: bool = True) -> None:
    if xlabel:
        assert ax.get_xlabel().startswith("Event day")
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    assert ax.yaxis.get_major_formatter().xmax == 1.0
    assert all(float(t).is_integer() for t in ax.get_xticks())
    vlines = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [0, 0]]
    assert vlines and vlines[0].get_linestyle() == "--"
    assert any(list(ln.get_ydata()) == [0, 0] for ln in ax.get_lines())


def _band_points(coll: PolyCollection) -> dict[float, set[float]]:
    """Map x to the y values of the polygon vertices of a fill_between band."""
    points: dict[float, set[float]] = {}
    for path in coll.get_paths():
        for x, y in path.vertices:
            points.setdefault(round(float(x), 9), set()).add(round(float(y), 12))
    return points


def _bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


class TestPlotCar:
    def test_one_ticker_band_equals_frame(self, result: SimpleNamespace) -> None:
        fig = plots.plot_car(result, EVENTS[0], TICKERS[0])
        assert isinstance(fig, Figure)
        (ax,) = fig.axes
        _assert_event_time_axes(ax)
        assert ax.get_ylabel()
        frame = result.car_path
        sel = frame[(frame["event_id"] == EVENTS[0]) & (frame["ticker"] == TICKERS[0])].sort_values("rel_day")
        (band,) = _bands(ax)
        points = _band_points(band)
        for day, lo, hi in zip(sel["rel_day"], sel["ci_low"], sel["ci_high"], strict=True):
            ys = points[float(day)]
            assert round(lo, 12) in ys and round(hi, 12) in ys
        (line,) = [ln for ln in ax.get_lines() if ln.get_label() == TICKERS[0]]
        np.testing.assert_array_equal(line.get_ydata(), sel["car"].to_numpy())
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == [TICKERS[0], "95% confidence band"]

    def test_title_has_date_and_headline(self, result: SimpleNamespace) -> None:
        title = plots.plot_car(result, EVENTS[0], TICKERS[0]).axes[0].get_title()
        lines = title.split("\n")
        assert lines[0].startswith("2020-11-03 - Shanghai exchange suspends Ant Group IPO")
        assert lines[-1] == f"CAR of {TICKERS[0]}, event {EVENTS[0]}"
        assert title.isascii() and all(len(line) <= plots.TITLE_WIDTH for line in lines[:-1])

    def test_small_multiples_one_panel_per_ticker(self, result: SimpleNamespace) -> None:
        fig = plots.plot_car(result, EVENTS[1])
        assert len(fig.axes) == len(TICKERS)
        assert [ax.get_title() for ax in fig.axes] == list(TICKERS)
        first = fig.axes[0]
        for ax in fig.axes:
            assert first.get_shared_x_axes().joined(first, ax) and first.get_shared_y_axes().joined(first, ax)
            _assert_event_time_axes(ax)
            assert len(_bands(ax)) == 1  # one band per panel, never overlapping bands
        frame = result.car_path
        for ax, ticker in zip(fig.axes, TICKERS, strict=True):
            sel = frame[(frame["event_id"] == EVENTS[1]) & (frame["ticker"] == ticker)].sort_values("rel_day")
            points = _band_points(_bands(ax)[0])
            for day, lo, hi in zip(sel["rel_day"], sel["ci_low"], sel["ci_high"], strict=True):
                assert {round(lo, 12), round(hi, 12)} <= points[float(day)]
            (line,) = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == len(sel)]
            np.testing.assert_array_equal(line.get_ydata(), sel["car"].to_numpy())
        suptitle = fig.get_suptitle()
        assert suptitle.startswith("2021-03-12 - Bloomberg: ") and EVENTS[1] in suptitle and suptitle.isascii()

    @pytest.mark.parametrize("n", [3, 5, 8])
    def test_panel_count_equals_tickers(self, n: int) -> None:
        tickers = [f"T{k}.HK" for k in range(n)]
        fig = plots.plot_car(make_fake_result(event_ids=["ev"], tickers=tickers), "ev")
        assert [ax.get_title() for ax in fig.axes] == tickers
        rows = {round(ax.get_position().y0, 6) for ax in fig.axes}
        assert len(rows) == -(-n // 4) and all(len(_bands(ax)) == 1 for ax in fig.axes)
        plots.figure_png(fig)  # lays out without a warning (warnings are errors)

    @pytest.mark.parametrize("n", [2, 7])
    def test_small_multiples_text_does_not_overlap(self, n: int) -> None:
        """The fixed layout leaves room for the longest title, ids and tick labels (boxes from the renderer)."""
        tickers = [f"{k}" + "T" * 60 for k in range(n)]  # ids cut to TEXT_MAX on the panels
        result = make_fake_result(event_ids=["e" * 60], tickers=tickers)
        result.events["headline"] = "A headline " * 30  # wrapped and cut to TITLE_LINES lines
        result.car_path["car"] *= 50  # wide percent tick labels
        result.car_path[["ci_low", "ci_high"]] *= 50
        fig = plots.plot_car(result, "e" * 60)
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
        (title_text,) = [t for t in fig.texts if t.get_text() == fig.get_suptitle()] or [fig._suptitle]
        title = title_text.get_window_extent(renderer)
        page = fig.bbox
        for k, box in enumerate(boxes):
            assert not box.overlaps(title)
            assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0
            assert not any(box.overlaps(other) for other in boxes[k + 1 :])
        assert page.x0 <= title.x0 and title.x1 <= page.x1 and title.y1 <= page.y1

    def test_splits_given_subplot(self, result: SimpleNamespace) -> None:
        fig = Figure()
        ax = fig.add_subplot()
        assert plots.plot_car(result, EVENTS[0], ax=ax) is fig
        assert ax not in fig.axes and len(fig.axes) == len(TICKERS)

    def test_draws_on_subfigure_axes_returns_root(self, result: SimpleNamespace) -> None:
        fig = Figure()
        ax = fig.subfigures(1, 2)[1].add_subplot()
        assert plots.plot_car(result, EVENTS[0], TICKERS[0], ax=ax) is fig
        assert plots.plot_car(result, EVENTS[0], ax=fig.subfigures(1, 2)[0].add_subplot()) is fig

    def test_small_multiples_need_a_subplot(self, result: SimpleNamespace) -> None:
        ax = Figure().add_axes((0.1, 0.1, 0.8, 0.8))
        with pytest.raises(InputError, match="pass ticker=") as info:
            plots.plot_car(result, EVENTS[0], ax=ax)
        assert info.value.parameter == "ax"

    @pytest.mark.parametrize(("event", "ticker", "name"), [("nope", None, "nope"), (EVENTS[0], "0700.HK", "0700.HK")])
    def test_unknown_event_or_ticker(self, result: SimpleNamespace, event: str, ticker: str | None, name: str) -> None:
        with pytest.raises(ValueError, match=name) as info:
            plots.plot_car(result, event, ticker)
        assert info.value.value == name


def _scipy_band(result: SimpleNamespace, members) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95 % t interval of CAR_i(t) over the members, day by day, from scipy (the oracle)."""
    path = result.car_path
    days = sorted(set(path["rel_day"]))
    mean, low, high = [], [], []
    for d in days:
        x = path[(path["rel_day"] == d) & path[["event_id", "ticker"]].apply(tuple, axis=1).isin(members)]["car"]
        lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        mean.append(x.mean())
        low.append(lo)
        high.append(hi)
    return np.array(mean), np.array(low), np.array(high)


class TestPlotAar:
    def test_bars_line_band_and_n(self, result: SimpleNamespace) -> None:
        fig = plots.plot_aar(result)
        ax = fig.axes[0]
        _assert_event_time_axes(ax)
        sel = result.aar[result.aar["group"] == "all"].sort_values("rel_day")
        heights = [p.get_height() for p in ax.patches]
        np.testing.assert_allclose(heights, sel["aar"], rtol=0, atol=0)  # bars are the frame values
        members = set(zip(result.car_path["event_id"], result.car_path["ticker"], strict=True))
        mean, low, high = _scipy_band(result, members)
        (caar,) = [ln for ln in ax.get_lines() if ln.get_label() == "CAAR"]
        np.testing.assert_allclose(caar.get_ydata(), mean, rtol=1e-12, atol=1e-15)
        # the fake's paths cumulate its ARs without gaps, so the line is also the frame's CAAR
        np.testing.assert_allclose(caar.get_ydata(), sel["caar"], rtol=1e-12, atol=1e-15)
        (band,) = _bands(ax)
        points = _band_points(band)
        for day, lo, hi in zip(sel["rel_day"], low, high, strict=True):
            ys = np.array(sorted(points[float(day)]))
            assert np.isclose(ys, lo, rtol=1e-10).any() and np.isclose(ys, hi, rtol=1e-10).any()
        assert "95% band (cross-sectional)" in [t.get_text() for t in ax.get_legend().get_texts()]
        assert ax.get_title() == f"AAR and CAAR: all events, {len(members)} firm-events"
        assert set(sel["n"]) == {len(members)} and not ax.child_axes  # n is the same every day: the title says it

    def test_pooled_group_uses_pooled_firm_events_only(self, result: SimpleNamespace) -> None:
        dropped = (EVENTS[1], TICKERS[0])  # say a duplicate firm-day, not pooled
        firm = result.firm_events
        firm["pooled"] = [(e, t) != dropped for e, t in zip(firm["event_id"], firm["ticker"], strict=True)]
        members = {(e, t) for e in EVENTS for t in TICKERS} - {dropped}
        mean, low, _ = _scipy_band(result, members)
        ax = plots.plot_aar(result).axes[0]
        (caar,) = [ln for ln in ax.get_lines() if ln.get_label() == "CAAR"]
        np.testing.assert_allclose(caar.get_ydata(), mean, rtol=1e-12)
        points = _band_points(_bands(ax)[0])
        assert np.isclose(sorted(points[0.0]), low[2], rtol=1e-10).any()
        assert ax.get_title().endswith("3 firm-events")
        # an event keeps all its firm-events
        assert plots.plot_aar(result, EVENTS[1]).axes[0].get_title().endswith("2 firm-events")

    def test_user_group_band(self, result: SimpleNamespace) -> None:
        firm = result.firm_events
        firm["group"] = np.where(firm["ticker"] == TICKERS[0], "market=HK", "market=FX")
        aar = result.aar
        result.aar = pd.concat([aar, aar[aar["group"] == "all"].assign(group="market=HK")], ignore_index=True)
        members = {(e, TICKERS[0]) for e in EVENTS}
        mean, _, _ = _scipy_band(result, members)
        ax = plots.plot_aar(result, "market=HK").axes[0]
        (caar,) = [ln for ln in ax.get_lines() if ln.get_label() == "CAAR"]
        np.testing.assert_allclose(caar.get_ydata(), mean, rtol=1e-12)
        assert ax.get_title() == "AAR and CAAR: market=HK, 2 firm-events"

    def test_event_group_with_varying_n(self, result: SimpleNamespace) -> None:
        fig = plots.plot_aar(result, EVENTS[1])
        (top,) = fig.axes[0].child_axes  # n varies across days: a secondary axis gives it day by day
        assert top.get_xlabel().startswith("n ")
        sel = result.aar[result.aar["group"] == EVENTS[1]].sort_values("rel_day")
        assert [t.get_text() for t in top.get_xticklabels()] == [str(n) for n in sel["n"]]
        assert [t.get_text() for t in top.get_xticklabels()][:2] == ["1", "2"]
        title = fig.axes[0].get_title()
        assert title.startswith("2021-03-12 - ") and EVENTS[1] in title

    def test_unknown_group(self, result: SimpleNamespace) -> None:
        with pytest.raises(ValueError, match="all"):
            plots.plot_aar(result, "nope")


class TestCaarBand:
    def test_against_scipy(self) -> None:
        rng = np.random.default_rng(7)
        paths = rng.normal(0, 0.02, (6, 4)).cumsum(axis=1)
        paths[2, 3] = np.nan  # a path without its last day: n = 5 there
        n, caar, low, high = plots.caar_band(paths)
        np.testing.assert_array_equal(n, [6, 6, 6, 5])
        for t in range(4):
            x = paths[:, t][np.isfinite(paths[:, t])]
            lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
            assert caar[t] == pytest.approx(x.mean(), rel=1e-12)
            assert (low[t], high[t]) == pytest.approx((lo, hi), rel=1e-12)

    def test_one_path_has_no_band(self) -> None:
        n, caar, low, high = plots.caar_band(np.array([[0.01, np.nan], [np.nan, np.nan]]))
        np.testing.assert_array_equal(n, [1, 0])
        assert caar[0] == 0.01 and np.isnan(caar[1])
        assert np.isnan(low).all() and np.isnan(high).all()


class TestHeatmap:
    def test_cells_missing_and_labels(self, result: SimpleNamespace) -> None:
        fig = plots.plot_car_heatmap(result, (-1, 1))
        ax = fig.axes[0]
        assert ax.get_xlabel() == "Ticker" and ax.get_ylabel() == "Event"
        (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
        data = mesh.get_array().reshape(len(EVENTS), len(TICKERS))
        car = result.car
        sel = car[(car["window_start"] == -1) & (car["window_end"] == 1)]
        for i, ev in enumerate(EVENTS):
            for j, tk in enumerate(TICKERS):
                value = sel[(sel["event_id"] == ev) & (sel["ticker"] == tk)]["car"].iloc[0]
                if np.isnan(value):
                    assert data.mask[i, j]
                else:
                    assert data[i, j] == value
        assert mesh.norm.vmin == -mesh.norm.vmax  # centred at zero
        assert [t.get_text() for t in ax.get_yticklabels()] == [f"2020-11-03  {EVENTS[0]}", f"2021-03-12  {EVENTS[1]}"]
        assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first event at the top
        texts = [t.get_text() for t in ax.texts]
        assert len(texts) == 3 and all(t.endswith("%") for t in texts)  # the NaN cell is blank
        (hatched,) = [c for c in ax.collections if isinstance(c, PatchCollection)]
        assert hatched.get_hatch() == "///"
        (corner,) = [path.vertices.min(axis=0) + 0.5 for path in hatched.get_paths()]
        assert tuple(np.round(corner, 9)) == (1.0, 1.0)  # the NaN cell: event 1 (y), ticker 1 (x)
        legend = fig.legends[0]
        assert [t.get_text() for t in legend.get_texts()] == ["no CAR (excluded or missing)"]
        cbar_ax = fig.axes[1]
        assert isinstance(cbar_ax.yaxis.get_major_formatter(), PercentFormatter)
        assert cbar_ax.get_ylabel()

    def test_ticker_not_in_event_is_blank_not_hatched(self, result: SimpleNamespace) -> None:
        gone = (EVENTS[0], TICKERS[1])
        for name in ("car", "event_days"):
            frame = getattr(result, name)
            keep = [(e, t) != gone for e, t in zip(frame["event_id"], frame["ticker"], strict=True)]
            setattr(result, name, frame[keep].reset_index(drop=True))
        fig = plots.plot_car_heatmap(result, (-1, 1))
        ax = fig.axes[0]
        (hatched,) = [c for c in ax.collections if isinstance(c, PatchCollection)]
        assert len(hatched.get_paths()) == 1  # only the NaN CAR; the foreign cell is not hatched
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert labels == ["no CAR (excluded or missing)", "ticker not in this event"]

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
        dates = {e: "2020-11-03" if e == "ev0" else "2021-03-12" for e in events}
        assert [t.get_text() for t in ax.get_yticklabels()] == [f"{dates[e]}  {e}" for e in rows]
        assert [t.get_text() for t in ax.get_xticklabels()] == cols
        expected = kept.set_index(["event_id", "ticker"]).loc[[(e, cols[0]) for e in rows], "car"].to_numpy()
        (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
        np.testing.assert_array_equal(mesh.get_array().ravel(), expected)
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
        fig = plots.plot_car(result, EVENTS[0])  # the other ticker still has a path: one panel, no empty one
        assert [ax.get_title().split("\n")[-1] for ax in fig.axes] == [f"CAR of {TICKERS[0]}, event {EVENTS[0]}"]
        result.aar.loc[result.aar["group"] == EVENTS[1], "aar"] = np.nan
        with pytest.raises(DataError, match="average abnormal returns of group 'tencent_next_target'"):
            plots.plot_aar(result, EVENTS[1])


class TestFiles:
    def test_png_is_byte_reproducible(self, result: SimpleNamespace, tmp_path: Path) -> None:
        a = plots.save_figure(plots.plot_car(result, EVENTS[0]), tmp_path / "a" / "car.png")
        b = plots.save_figure(plots.plot_car(result, EVENTS[0]), tmp_path / "b.png")
        assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert a.read_bytes() == b.read_bytes()
        assert b"Software" not in a.read_bytes()

    def test_png_resolution(self, result: SimpleNamespace) -> None:
        from PIL import Image

        fig = plots.plot_aar(result)
        image = Image.open(io.BytesIO(plots.figure_png(fig)))
        assert plots.DPI >= 150
        assert image.size == (round(fig.get_figwidth() * plots.DPI), round(fig.get_figheight() * plots.DPI))

    @pytest.mark.parametrize(("suffix", "magic"), [(".pdf", b"%PDF-"), (".svg", b"<?xml")])
    def test_vector_files_are_byte_reproducible(self, result: SimpleNamespace, tmp_path: Path, suffix, magic) -> None:
        a = plots.save_figure(plots.plot_car_heatmap(result), tmp_path / f"a{suffix}").read_bytes()
        b = plots.save_figure(plots.plot_car_heatmap(result), tmp_path / f"b{suffix}").read_bytes()
        assert a.startswith(magic) and a == b
        assert b"CreationDate" not in a and b"<dc:date>" not in a

    def test_pdf_is_vector(self, result: SimpleNamespace) -> None:
        from pypdf import PdfReader

        page = PdfReader(io.BytesIO(plots.figure_pdf(plots.plot_aar(result)))).pages[0]
        assert not page.images  # lines, areas and glyphs are paths: no raster image inside
        assert "CAAR" in page.extract_text()

    def test_unknown_suffix(self, result: SimpleNamespace, tmp_path: Path) -> None:
        with pytest.raises(InputError, match=r"\.png, \.pdf or \.svg") as info:
            plots.save_figure(plots.plot_aar(result), tmp_path / "a.jpg")
        assert info.value.parameter == "path"


def test_long_ids_are_cut_on_the_figure() -> None:
    long = "event_" + "x" * 300
    result = make_fake_result(event_ids=[long], tickers=["T" * 200])
    for fig in (plots.plot_car(result, long), plots.plot_aar(result, long), plots.plot_car_heatmap(result)):
        ax = fig.axes[0]
        labels = [t.get_text() for t in (*ax.get_xticklabels(), *ax.get_yticklabels()) if t.get_text()]
        assert all(len(x.split("  ")[-1]) <= plots.TEXT_MAX for x in labels if "x" in x or "T" in x)
        assert all(len(line) < 100 for line in ax.get_title().split("\n"))
        plots.figure_png(fig)  # lays out without a warning (warnings are errors)


def test_text_is_ascii_and_mathtext_safe(result: SimpleNamespace) -> None:
    result.car_path["event_id"] = result.car_path["event_id"].replace(EVENTS[0], "騰訊_$x$_–")
    fig = plots.plot_car(result, "騰訊_$x$_–", TICKERS[0])
    title = fig.axes[0].get_title()
    assert title.isascii() and "$x$" in title
    plots.figure_png(fig)  # renders without a glyph or mathtext warning (warnings are errors)
    fig = plots.plot_car(result, "騰訊_$x$_–")  # small multiples: the same for the figure title
    assert fig.get_suptitle().isascii() and "$x$" in fig.get_suptitle()
    plots.figure_png(fig)


def test_cjk_headline_is_transliterated(result: SimpleNamespace) -> None:
    fig = plots.plot_car(result, EVENTS[1])  # its headline has CJK characters
    assert fig.get_suptitle().isascii() and "(Tencent)" in fig.get_suptitle()
    plots.figure_png(fig)  # no missing-glyph warning


def test_heatmap_of_many_events_keeps_the_largest_before_the_grid() -> None:
    # 60 events of 3 tickers each among 20: the 10 events of largest max |CAR| (pandas below), in file order
    rng = np.random.default_rng(0)
    rows = [
        (f"e{e}", f"T{t}", -1, 1, rng.normal() if rng.random() > 0.1 else np.nan)
        for e in range(60)
        for t in rng.choice(20, 3, replace=False)
    ]
    car = pd.DataFrame(rows, columns=["event_id", "ticker", "window_start", "window_end", "car"])
    fig = plots.plot_car_heatmap(SimpleNamespace(car=car), max_events=10, max_tickers=8)
    ax = fig.axes[0]
    score = car.assign(size=car["car"].abs()).groupby("event_id", sort=False)["size"].max()
    expected = [e for e in pd.unique(car["event_id"]) if e in set(score.nlargest(10).index)]
    assert [t.get_text().split()[-1] for t in ax.get_yticklabels()] == expected
    assert "10 of 60 events" in ax.get_title() and "8 of 20 tickers" in ax.get_title()
