"""The HTML report's structure (issue 7): a table of contents linking every heading, a page that fits a
1,280 px window, event headings with date and headline, and the notebook view that opens with the glance."""

from __future__ import annotations

import html
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

from eventstudy.report._format import Heading, Paragraph, with_anchors
from eventstudy.report._tables import build_document
from eventstudy.report.html import CSS, notebook_fragment, render_html

_spec = importlib.util.spec_from_file_location("_fake_study_result", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fake)
make_fake_result = _fake.make_fake_result
EVENTS, SCRIPT_HEADLINE, CJK_HEADLINE = _fake.EVENTS, _fake.SCRIPT_HEADLINE, _fake.CJK_HEADLINE


class _Outline(HTMLParser):
    """Collects headings (level, id, text), table-of-contents links, and which tables sit in a scroll box."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[int, str | None, str]] = []
        self.links: list[str] = []
        self.tables_in_scroll: list[bool] = []
        self._heading: tuple[int, str | None] | None = None
        self._text: list[str] = []
        self._divs: list[bool] = []
        self._in_toc = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self._heading, self._text = (int(tag[1]), a.get("id")), []
        elif tag == "nav" and a.get("class") == "toc":
            self._in_toc = True
        elif tag == "a" and self._in_toc:
            self.links.append(str(a.get("href")))
        elif tag == "div":
            self._divs.append(a.get("class") == "scroll")
        elif tag == "table":
            self.tables_in_scroll.append(bool(self._divs) and self._divs[-1])

    def handle_endtag(self, tag: str) -> None:
        if self._heading is not None and re.fullmatch(r"h[1-6]", tag):
            self.headings.append((*self._heading, "".join(self._text)))
            self._heading = None
        elif tag == "nav":
            self._in_toc = False
        elif tag == "div" and self._divs:
            self._divs.pop()

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._text.append(data)


def _outline(page: str) -> _Outline:
    parser = _Outline()
    parser.feed(page)
    return parser


def _page() -> str:
    result = make_fake_result()
    return render_html(build_document(result, []), {}, result.title)


def test_every_heading_has_an_anchor_and_a_contents_link() -> None:
    outline = _outline(_page())
    ids = [i for _, i, _ in outline.headings]
    assert all(i and re.fullmatch(r"[a-z][a-z0-9-]*", i) for i in ids)
    assert len(set(ids)) == len(ids)
    below_title = [f"#{i}" for level, i, _ in outline.headings if level >= 2]
    assert outline.links == below_title  # every section, in document order
    assert len(below_title) > 15


def test_contents_nest_by_level() -> None:
    doc = with_anchors([Heading("T", 1), Heading("A"), Heading("B", 3), Heading("C", 4), Heading("D")])
    page = render_html(doc, {}, "T")
    toc = page[page.index("<nav") : page.index("</nav>")]
    # B inside A's item, C inside B's, D a sibling of A: the <ul>/<li> nesting of an outline
    assert re.sub(r"<a [^>]*>(\w)</a>", r"\1", toc).endswith(
        "<ul><li>A<ul><li>B<ul><li>C</li></ul></li></ul></li><li>D</li></ul>"
    )


def test_hand_made_documents_get_anchors_too() -> None:
    page = render_html([Heading("Title", 1), Heading("Same"), Heading("Same"), Paragraph("x")], {}, "Title")
    assert [i for _, i, _ in _outline(page).headings] == ["title", "same", "same-2"]


def test_event_headings_show_date_and_headline() -> None:
    headings = [text for _, _, text in _outline(_page()).headings]
    assert f"2020-11-03 – {SCRIPT_HEADLINE} ({EVENTS[0]})" in headings  # escaped in the page, text here
    assert f"2021-03-12 – {CJK_HEADLINE} ({EVENTS[1]})" in headings
    assert "All events (pooled)" in headings


def test_fits_a_1280_pixel_window() -> None:
    """The body is at most 1,200 px plus 2 x 1.5 em of padding, and every table scrolls in its own box."""
    body = re.search(r"body \{[^}]*\}", CSS).group(0)
    assert int(re.search(r"max-width: (\d+)px", body).group(1)) + 2 * 1.5 * 16 <= 1280 - 17  # a scrollbar
    assert "box-sizing: border-box" in CSS and "div.scroll { overflow-x: auto" in CSS
    outline = _outline(_page())
    assert outline.tables_in_scroll and all(outline.tables_in_scroll)
    assert "figure img { max-width: 100%" in CSS
    assert "overflow-wrap: anywhere" in CSS  # long unbroken words in paragraphs wrap


def test_glance_first() -> None:
    page = _page()
    positions = [page.index(f">{h}</h") for h in ("Results at a glance", "Cumulative abnormal returns by firm")]
    assert positions[0] < positions[1] < page.index(">Settings</h")
    first_table = page.index("<table")
    assert positions[0] < first_table < positions[1]
    assert html.escape("CAAR [-1, +1]") in page[first_table : positions[1]]


def test_notebook_view_opens_with_the_glance() -> None:
    frag = notebook_fragment(make_fake_result())
    assert frag.index("<table") < frag.index("<details")
    assert frag.index("CAAR [0, 0]") < frag.index("<details")
    summaries = re.findall(r"<summary>([^<]*)</summary>", frag)
    assert summaries[:2] == ["Cumulative abnormal returns by firm (4)", "Exclusions (1 firm-event, 1 reason)"]
    assert "Settings" in summaries and "Statistical conventions" in summaries
