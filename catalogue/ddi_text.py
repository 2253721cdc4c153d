"""Text out of DDI-L elements: multilingual strings, XHTML content.

Every language is kept (``LangText``). Text that holds XHTML is turned into plain text
with its paragraph and line breaks, so nothing from the published markup ever reaches a
page as markup.
"""

from __future__ import annotations

import re

from lxml import etree

from catalogue.model import LangText

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_BLOCKS = frozenset({"p", "div", "br", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5",
                     "h6", "table", "blockquote", "pre", "dd", "dt"})
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def inherited_lang(element: etree._Element) -> str:
    """The element's xml:lang, or the nearest ancestor's (xml:lang is inherited)."""
    node: etree._Element | None = element
    while node is not None:
        lang = node.get(XML_LANG)
        if lang is not None:
            return str(lang)
        node = node.getparent()
    return ""


def element_text(element: etree._Element) -> str:
    """Plain text of an element; XHTML block elements become line breaks."""
    if len(element) == 0:
        return normalise(element.text or "")
    parts: list[str] = []
    _collect(element, parts)
    return normalise("".join(parts))


def _collect(element: etree._Element, parts: list[str]) -> None:
    if element.text:
        parts.append(element.text)
    for child in element:
        if not isinstance(child.tag, str):  # comments, processing instructions
            if child.tail:
                parts.append(child.tail)
            continue
        local = etree.QName(child).localname
        block = local in _BLOCKS
        if block:
            parts.append("\n")
        _collect(child, parts)
        if block:
            parts.append("\n")
        if child.tail:
            parts.append(child.tail)


def normalise(text: str) -> str:
    """Collapse runs of spaces, keep single blank lines between paragraphs."""
    if "\n" not in text and "  " not in text and "\t" not in text and "\r" not in text:
        return text.strip()
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    joined = "\n".join(lines).strip()
    return _BLANK_LINES.sub("\n\n", joined)


def lang_text(holders: list[etree._Element]) -> LangText:
    """Join the texts of several holder elements (``r:String``, ``r:Content``, ``d:Text``)."""
    values: list[tuple[str, str]] = []
    for holder in holders:
        text = element_text(holder)
        if text:
            lang = holder.get(XML_LANG)
            values.append((lang if lang is not None else inherited_lang(holder), text))
    return LangText(tuple(values))
