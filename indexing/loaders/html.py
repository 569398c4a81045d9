"""HTML loader: the visible text of one page, as blocks under an h1–h6 heading trail.

Navigation is removed before reading: DocBook's `div.navheader`/`div.navfooter` (PostgreSQL),
Sphinx's sidebar, "related" bar, breadcrumbs, footer buttons and search box (BIND, HAProxy Lua),
anything with role="navigation"/"search", and hidden elements. When the page marks its main content
(role="main", <main>, itemprop="articleBody") only that is read. `<pre>` keeps its line breaks;
list items and table rows are gathered into runs; a `<dt>` term is kept with its description.
A heading inside an admonition (DocBook's `<div class="note"><h3>Note</h3>`, 1,280 chunks of the
shared corpus) is the box's label, not a section: it stays in the text and out of the heading trail,
where it would replace the title of the section the box sits in.
A page nested deeper than libxml2 reads (2,048 levels: unclosed tags) is read again with a simpler
tree builder that has no depth limit; trees are walked in time linear in their depth.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lxml.etree as etree

from indexing.document import Block, LoadedDocument
from indexing.loaders.clean import heading_title, make_blocks
from indexing.loaders.decoding import read_source
from indexing.loaders.heading_trail import HeadingTrail
from indexing.loaders.html_parse import parse_html

_DROP_TAGS = {
    "script", "style", "noscript", "template", "nav", "head", "form", "button", "iframe", "svg",
    "canvas", "select", "textarea", "object", "embed", "audio", "video", "map", "input", "footer",
}
_NAV_CLASSES = {
    "navheader", "navfooter", "sphinxsidebar", "sphinxsidebarwrapper", "related", "headerlink",
    "wy-nav-side", "wy-nav-top", "wy-breadcrumbs", "rst-footer-buttons", "breadcrumb", "breadcrumbs",
    "skip-link", "skiplink", "navbar", "searchbox",
}
_NAV_IDS = {"searchbox", "navbar", "breadcrumbs", "skip-link", "sidebar-nav"}
_NAV_ROLES = {"navigation", "search", "contentinfo"}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "aside", "blockquote", "dl", "dd", "ul", "ol", "table",
    "tbody", "thead", "tfoot", "caption", "figure", "figcaption", "address", "center", "details",
    "summary", "fieldset", "legend", "hr", "body", "html", "header", "hgroup", "menu", "li", "dt", "tr",
}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_ADMONITION_CLASSES = {
    "note", "warning", "tip", "caution", "important", "admonition", "attention", "danger", "hint", "error",
}
_RUN_KINDS = {"li", "row"}
_RUN_CHARS = 1200
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_INLINE_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_LINE_BREAK = "\u2028"  # <br> inside inline text; clean_block turns it into a newline


def _is_navigation(el: etree._Element) -> bool:
    """Page furniture, not documentation: navigation bars, sidebars, search boxes, hidden bits (and a
    <header> without a heading, which `_prune` judges)."""
    if el.tag.lower() in _DROP_TAGS:
        return True
    classes = set((el.get("class") or "").split())
    if classes & _NAV_CLASSES or (el.get("id") or "") in _NAV_IDS:
        return True
    if (el.get("role") or "").lower() in _NAV_ROLES:
        return True
    if el.get("hidden") is not None or (el.get("aria-hidden") or "").lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(el.get("style") or ""))


def _events(root: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """The events of `etree.iterwalk(root, events=("start", "end", "comment", "pi"))`, in linear time
    however deep the nesting. Both lxml shortcuts are quadratic in the depth: `iterwalk` queues the
    "end" events of a run of closing elements all at once and pops them from the front of a list, and
    `root.iter()` releases each element's proxy, which walks up to the nearest ancestor that has one.
    Here the open ancestors stay on a stack (as proxies), so releasing a proxy stops at its parent."""
    yield "start", root
    stack = [root]
    child = next(iter(root), None)
    while stack:
        if child is None:
            el = stack.pop()
            yield "end", el
            child = el.getnext() if stack else None
        elif isinstance(child.tag, str):
            yield "start", child
            stack.append(child)
            child = next(iter(child), None)
        else:
            if child.tag is etree.Comment:
                yield "comment", child
            elif child.tag is etree.PI:
                yield "pi", child
            child = child.getnext()


def _prune(root: etree._Element) -> None:
    """Drop page furniture; a <header> is furniture unless it holds a heading."""
    doomed: list[etree._Element] = []
    headed: list[bool] = []  # per open <header>, innermost last: does it hold a heading (so far)?
    for event, el in _events(root):
        if event not in ("start", "end"):
            continue
        tag = el.tag.lower()
        if event == "start":
            if tag in _HEADINGS:
                i = len(headed) - 1
                while i >= 0 and not headed[i]:  # outer ones are marked already when an inner one is
                    headed[i] = True
                    i -= 1
            if tag == "header":
                headed.append(False)
            elif _is_navigation(el):
                doomed.append(el)
        elif tag == "header" and (not headed.pop() or _is_navigation(el)):
            doomed.append(el)
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()


def _main_content(root: etree._Element) -> etree._Element:
    found = root.xpath('//*[@role="main"] | //main | //*[@itemprop="articleBody"]')
    if found:
        return found[0]
    body = root.find("body")
    return body if body is not None else root


def _title(root: etree._Element) -> str | None:
    node = root.find(".//title")
    return (heading_title(node.text_content()) or None) if node is not None else None


@dataclass
class _Builder:
    """Collects inline text and turns it into blocks as block-level elements open and close."""

    trail: HeadingTrail = field(default_factory=HeadingTrail)
    blocks: list[Block] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    buffer: list[str] = field(default_factory=list)
    pending_terms: list[str] = field(default_factory=list)
    first_heading: str | None = None

    def add(self, text: str | None) -> None:
        if text:
            self.buffer.append(_INLINE_SPACE.sub(" ", text))

    def _take(self) -> str:
        text = "".join(self.buffer).strip()
        self.buffer.clear()
        return text

    def _emit(self, text: str, kind: str, code: bool = False) -> None:
        heading = self.trail.trail()
        if kind in _RUN_KINDS and self.kinds and self.kinds[-1] == kind and self.blocks[-1].heading == heading:
            last = self.blocks[-1]
            if len(last.text) + len(text) < _RUN_CHARS:
                extra = make_blocks(text, page=None, page_label=None, heading=heading)
                if extra:
                    last.text += "\n" + "\n".join(b.text for b in extra)
                return
        new = make_blocks(text, page=None, page_label=None, heading=heading, code=code)
        self.blocks.extend(new)
        self.kinds.extend([kind] * len(new))

    def _release_terms(self) -> str:
        terms = "\n".join(self.pending_terms)
        self.pending_terms.clear()
        return terms

    def flush(self, kind: str = "p") -> None:
        text = self._take()
        if not text:
            return
        if kind == "dt":
            self.pending_terms.append(text)
            return
        terms = self._release_terms()
        self._emit(f"{terms}\n{text}" if terms else text, kind)

    def heading(self, level: int) -> None:
        title = heading_title(self._take())
        if not title:
            return
        if self.pending_terms:
            self._emit(self._release_terms(), "p")
        self.trail.set(level, title)
        self.first_heading = self.first_heading or title
        self._emit(title, "h")

    def pre(self, text: str) -> None:
        self.flush()
        if self.pending_terms:
            self._emit(self._release_terms(), "p")
        if text.strip():
            self._emit(text.strip("\n"), "pre", code=True)

    def finish(self) -> None:
        self.flush()
        if self.pending_terms:
            self._emit(self._release_terms(), "p")


def _is_admonition(el: etree._Element, tag: str) -> bool:
    return tag in ("div", "aside") and bool(set((el.get("class") or "").split()) & _ADMONITION_CLASSES)


def _walk(content: etree._Element, builder: _Builder) -> None:
    """Iterative walk (no recursion limit on deeply nested pages) over start/end events."""
    inside_pre: etree._Element | None = None
    admonitions: list[etree._Element] = []  # open admonition boxes, innermost last
    for event, el in _events(content):
        if inside_pre is not None:
            if event == "end" and el is inside_pre:
                inside_pre = None
                builder.add(el.tail if el is not content else None)
            continue
        if event in ("comment", "pi"):
            builder.add(el.tail)
            continue
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if tag == "pre":
                builder.pre("".join(el.itertext()))
                inside_pre = el
                continue
            if _is_admonition(el, tag):
                admonitions.append(el)
            if tag in _HEADINGS or tag in _BLOCK_TAGS:
                builder.flush()
            elif tag in ("td", "th") and builder.buffer:
                builder.add(" | ")
            elif tag == "br":
                builder.buffer.append(_LINE_BREAK)
            builder.add(el.text)
            continue
        if admonitions and el is admonitions[-1]:
            admonitions.pop()
        if tag in _HEADINGS:
            if admonitions:
                builder.flush()  # the box's label ("Note"): text, not a section
            else:
                builder.heading(_HEADINGS[tag])
        elif tag in ("li", "dt"):
            builder.flush(tag)
        elif tag == "tr":
            builder.flush("row")
        elif tag in _BLOCK_TAGS:
            builder.flush()
        if el is not content:
            builder.add(el.tail)


def load_html(path: Path) -> LoadedDocument:
    """Parse one HTML page into blocks of visible documentation text."""
    root, warnings = parse_html(read_source(path))
    title = _title(root)
    _prune(root)
    builder = _Builder()
    _walk(_main_content(root), builder)
    builder.finish()
    return LoadedDocument(blocks=builder.blocks, title=title or builder.first_heading, pages=0, warnings=warnings)
