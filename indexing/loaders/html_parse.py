"""Parsing an HTML file into a tree, whatever its encoding and however deep its nesting.

Takes the file's bytes; gives an lxml.html tree and the warnings a reader should see. libxml2 (lxml)
parses leniently and fast, but stops at 2,048 levels of nesting without raising: the tree then holds
only what came before. That cut is read off the parser's error log, and the page is parsed again by
`_StackTreeBuilder` (Python's tokenizer with an explicit stack: no depth limit); if even that fails,
the text lxml did read is kept and the file is reported as partially indexed.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser as _Tokenizer

import lxml.etree as etree
import lxml.html

from indexing.document import LoaderError
from indexing.loaders.decoding import decode_text, sniff_binary

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_VOID_TAGS = {
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input", "keygen",
    "link", "meta", "param", "source", "track", "wbr",
}
_SKELETON_TAGS = {"html", "head", "body"}
_READ_ATTRIBUTES = {"class", "id", "role", "style", "hidden", "aria-hidden", "itemprop"}  # what we look at
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")  # lxml refuses these


def _declared_charset(data: bytes) -> str | None:
    head = data[:4096]
    m = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii") if m else None


def parse_html(data: bytes) -> tuple[etree._Element, list[str]]:
    """Decode (declared charset, else UTF-8, else cp1252/latin-1) and parse leniently."""
    kind = sniff_binary(data)
    if kind:
        raise LoaderError(f"not an HTML file: the file is {kind}")
    text, warning = decode_text(data, _declared_charset(data))
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        raise LoaderError("empty HTML document")
    warnings = [warning] if warning else []
    # huge_tree: libxml2 stops at 256 levels of nesting without it, 2,048 with it. Either way it stops
    # without raising, with a FATAL entry in the error log, and the tree holds only what came before.
    parser = lxml.html.HTMLParser(huge_tree=True)
    try:
        root = lxml.html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise LoaderError(f"HTML could not be parsed ({exc})") from exc
    fatal = [e.message.split(", use XML_PARSE_HUGE")[0] for e in parser.error_log if e.level_name == "FATAL"]
    if not fatal:
        return root, warnings
    try:
        deep = _parse_without_depth_limit(text)
    except Exception as exc:  # the tree libxml2 built is still worth indexing, as partial
        warnings.append(f"partially indexed: the HTML parser stopped early ({fatal[0]}) and the fallback "
                        f"parser failed ({type(exc).__name__}: {str(exc)[:200]}); the rest of the page is missing")
        return root, warnings
    warnings.append(f"the HTML parser stopped early ({fatal[0]}); read again with a simpler parser, all text kept")
    return deep, warnings


class _StackTreeBuilder(_Tokenizer):
    """Builds an lxml.html tree from Python's tokenizer with an explicit stack of open elements, so any
    depth of nesting is read (pages that libxml2 stops reading). Simpler than an HTML5 tree builder:
    void elements, end tags closing the innermost open element of their name, stray end tags ignored,
    html/head/body left to the skeleton, <title> text kept out of the body; no implicit closing (an
    unclosed <p> holds what follows, which the walk still reads as blocks, in order)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: etree._Element = lxml.html.html_parser.makeelement("html", {})
        self.head = etree.SubElement(self.root, "head")
        self.open: list[etree._Element] = [etree.SubElement(self.root, "body")]  # innermost last
        self.open_names: Counter[str] = Counter()  # O(1) test for stray end tags, however deep the stack
        self.closed: etree._Element | None = None  # the element just closed: text after it is its tail
        self.text: list[str] = []
        self.title: list[str] | None = None  # inside <title>

    def _place_text(self) -> None:
        if self.title is not None:
            if self.head.find("title") is None:
                etree.SubElement(self.head, "title").text = _NOT_XML.sub(" ", "".join(self.title))
            self.title = None
        if not self.text:
            return
        text = _NOT_XML.sub(" ", "".join(self.text))
        self.text.clear()
        if self.closed is not None:
            self.closed.tail = (self.closed.tail or "") + text
        else:
            self.open[-1].text = (self.open[-1].text or "") + text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._place_text()
        if tag == "title":
            self.title = []
            return
        if tag in _SKELETON_TAGS:
            return
        kept = {k: _NOT_XML.sub(" ", v or "") for k, v in attrs if k in _READ_ATTRIBUTES}
        try:
            el = etree.SubElement(self.open[-1], tag, kept)
        except ValueError:  # a name lxml refuses: the element's text stays in its parent
            return
        if tag in _VOID_TAGS:
            self.closed = el
        else:
            self.open.append(el)
            self.open_names[tag] += 1
            self.closed = None

    def handle_endtag(self, tag: str) -> None:
        self._place_text()
        if not self.open_names[tag]:
            return
        while True:
            el = self.open.pop()
            self.open_names[el.tag] -= 1
            if el.tag == tag:
                break
        self.closed = el

    def handle_data(self, data: str) -> None:
        (self.title if self.title is not None else self.text).append(data)

    def close(self) -> None:
        super().close()
        self._place_text()


def _parse_without_depth_limit(text: str) -> etree._Element:
    builder = _StackTreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root
