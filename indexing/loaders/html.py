"""HTML loader: the visible text of one page, as blocks under an h1–h6 heading trail.

Navigation is removed before reading: DocBook's `div.navheader`/`div.navfooter` (PostgreSQL),
Sphinx's sidebar, "related" bar, breadcrumbs, footer buttons and search box (BIND, HAProxy Lua),
anything with role="navigation"/"search", and hidden elements. When the page marks its main content
(role="main", <main>, itemprop="articleBody") only that is read. `<pre>` keeps its line breaks;
list items and table rows are gathered into runs; a `<dt>` term is kept with its description.
A heading inside an admonition (DocBook's `<div class="note"><h3>Note</h3>`, 1,280 chunks of the
shared corpus) is the box's label, not a section: it stays in the text and out of the heading trail,
where it would replace the title of the section the box sits in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import lxml.etree as etree
import lxml.html

from indexing.document import Block, LoadedDocument, LoaderError
from indexing.loaders.clean import (
    HeadingTrail,
    decode_text,
    heading_title,
    make_blocks,
    read_source,
    sniff_binary,
)

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
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_LINE_BREAK = "\u2028"  # <br> inside inline text; clean_block turns it into a newline


def _declared_charset(data: bytes) -> str | None:
    head = data[:4096]
    m = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii") if m else None


def _parse(data: bytes) -> tuple[etree._Element, list[str]]:
    """Decode (declared charset, else UTF-8, else cp1252/latin-1) and parse leniently."""
    kind = sniff_binary(data)
    if kind:
        raise LoaderError(f"not an HTML file: the file is {kind}")
    text, warning = decode_text(data, _declared_charset(data))
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        raise LoaderError("empty HTML document")
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise LoaderError(f"HTML could not be parsed ({exc})") from exc
    return root, [warning] if warning else []


def _is_navigation(el: etree._Element) -> bool:
    """Page furniture, not documentation: navigation bars, sidebars, search boxes, hidden bits."""
    tag = el.tag.lower()
    if tag in _DROP_TAGS:
        return True
    if tag == "header" and not any(h.tag in _HEADINGS for h in el.iter() if isinstance(h.tag, str)):
        return True
    classes = set((el.get("class") or "").split())
    if classes & _NAV_CLASSES or (el.get("id") or "") in _NAV_IDS:
        return True
    if (el.get("role") or "").lower() in _NAV_ROLES:
        return True
    if el.get("hidden") is not None or (el.get("aria-hidden") or "").lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(el.get("style") or ""))


def _prune(root: etree._Element) -> None:
    doomed = [el for el in root.iter() if isinstance(el.tag, str) and _is_navigation(el)]
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
    for event, el in etree.iterwalk(content, events=("start", "end", "comment", "pi")):
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
    root, warnings = _parse(read_source(path))
    title = _title(root)
    _prune(root)
    builder = _Builder()
    _walk(_main_content(root), builder)
    builder.finish()
    return LoadedDocument(blocks=builder.blocks, title=title or builder.first_heading, pages=0, warnings=warnings)
