"""HTML in feed text constructs, cleaned as feedparser cleans it.

feedparser runs two sgmllib passes over HTML values: RelativeURIResolver (absolute URLs,
attributes sorted and re-quoted), then _HTMLSanitizer (unsafe elements and attributes dropped).
`clean_html` does both in one scan for markup whose tokens it can read exactly as sgmllib does,
and calls feedparser's own passes for the rest (scripts, styles, MathML, odd tags, ...).
"""

from __future__ import annotations

import functools
import re
from html.entities import name2codepoint

from feedparser.html import _cp1252
from feedparser.sanitizer import _HTMLSanitizer, _sanitize_html
from feedparser.urls import RelativeURIResolver, make_safe_absolute_uri, resolve_relative_uris

BANG = re.compile(r"<!((?!DOCTYPE|--|\[))", re.IGNORECASE)
SHORT_TAG = re.compile(r"<([^<>\s]+?)\s*/>")
MARKUP_OR_REFERENCE = re.compile(r"[<&]")
TAG_CANDIDATE = re.compile(r"(<[^<>]*>)")
MAX_REMEMBERED_TAG = 2048  # characters: longer tags are cleaned each time
UNQUOTED = r"[-a-zA-Z0-9./:_%#?=&;+,~@!$*()]+"  # a subset of sgmllib's attrfind
ATTRIBUTE = rf"""\s+([a-zA-Z_][-:.a-zA-Z_0-9]*)(?:\s*=\s*("[^"<>]*"|'[^'<>]*'|{UNQUOTED}))?"""
START_TAG = re.compile(rf"<([a-zA-Z][a-zA-Z0-9]*)((?:{ATTRIBUTE})*)\s*/?>")
ATTRIBUTES = re.compile(ATTRIBUTE)
END_TAG = re.compile(r"</([a-zA-Z][a-zA-Z0-9]*)\s*>")
COMMENT_CLOSE = re.compile(r"--\s*>")
CHARREF = re.compile(r"&#([0-9]+|[xX][0-9a-fA-F]+);")
ENTITYREF = re.compile(r"&([a-zA-Z][-.a-zA-Z0-9]*)[^a-zA-Z0-9]")
ENTITY_OR_CHARREF = re.compile(r"&(?:([a-zA-Z][-.a-zA-Z0-9]*)|#([0-9]+))(;?)")
BARE_AMPERSAND = re.compile(r"&(?!#\d+;|#x[0-9a-fA-F]+;|\w+;)")
LITERAL_LT_BEFORE = frozenset(" \t\n\r\f\v0123456789=-")  # "<" then one of these is text
VOID_ELEMENTS = frozenset(_HTMLSanitizer.elements_no_end_tag)
ACCEPTABLE_ELEMENTS = frozenset(_HTMLSanitizer.acceptable_elements)
ACCEPTABLE_ATTRIBUTES = frozenset(_HTMLSanitizer.acceptable_attributes)
REFUSED_ELEMENTS = frozenset({*_HTMLSanitizer.unacceptable_elements_with_end_tag, "math"})
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
XLINK = ("xmlns:xlink", "http://www.w3.org/1999/xlink")
# sgmllib lower-cases names; the sanitizer writes SVG's camel-case ones back.
SVG_ELEMENTS = frozenset(name.lower() for name in _HTMLSanitizer.svg_elements)
SVG_ELEMENT_NAMES = {name.lower(): name for name in _HTMLSanitizer.svg_elements}
SVG_ATTRIBUTES = frozenset(name.lower() for name in _HTMLSanitizer.svg_attributes)
SVG_ATTRIBUTE_NAMES = {name.lower(): name for name in _HTMLSanitizer.svg_attributes}
RELATIVE_URIS = frozenset(RelativeURIResolver.relative_uris)
STYLE_SANITIZER = _HTMLSanitizer("utf-8", "text/html")
SVG_STYLE_SANITIZER = _HTMLSanitizer("utf-8", "text/html")  # inside <svg>, SVG properties pass
SVG_STYLE_SANITIZER.svgOK = 1


def clean_html(markup: str, base: str, content_type: str) -> str:
    """feedparser's `resolve_relative_uris` then `_sanitize_html` of an HTML value."""
    if "<" not in markup and "&" not in markup:
        return markup.strip().replace("\r\n", "\n")
    cleaned = _clean_simple_html(markup, base)
    if cleaned is None:
        resolved = resolve_relative_uris(markup, base, "utf-8", content_type)
        sanitized: str = _sanitize_html(resolved, "utf-8", content_type)
        return sanitized
    return cleaned.strip().replace("\r\n", "\n")


def _clean_simple_html(markup: str, base: str) -> str | None:
    """Both passes in one scan; None for markup outside the subset read here."""
    text = BANG.sub(r"&lt;!\1", markup) if "<!" in markup else markup
    text = SHORT_TAG.sub(_short_tag, text) if "/>" in text else text
    if "&#3" in text:
        text = text.replace("&#39;", "'").replace("&#34;", '"')
    if "<!--" in text:
        return _scanned(text, base)
    # A tag that START_TAG or END_TAG reads has no "<" or ">" inside: splitting at each
    # "<...>" gives the tags, each looked up whole, and the text between them.
    parts = TAG_CANDIDATE.split(text)
    pieces: list[str] = []
    svg = 0  # the sanitizer's svgOK: how many <svg> elements are open
    for index in range(0, len(parts) - 1, 2):
        run = parts[index]
        if "<" in run or "&" in run:
            if not _text_run(run, "<", pieces):
                return None
        elif run:
            pieces.append(run)
        cleaned = _cleaned_tag(parts[index + 1], base, svg > 0)
        if cleaned is None:
            return None
        pieces.append(cleaned[0])
        svg += cleaned[1]
    if not _text_run(parts[-1], "", pieces):
        return None
    return "".join(pieces)


def _text_run(run: str, following: str, pieces: list[str]) -> bool:
    """Text between tags, its references rewritten; False for a "<" that is not text.

    `following` is the text's next character ("<" before a tag, "" at the end), which a
    reference may need to see."""
    text, length = run + following, len(run)
    pos = 0
    while pos < length:
        found = MARKUP_OR_REFERENCE.search(text, pos, length)
        if found is None:
            pieces.append(text[pos:length])
            break
        start = found.start()
        if start > pos:
            pieces.append(text[pos:start])
        if text[start] == "&":
            pos = _reference(text, start, pieces)
            continue
        after = text[start + 1 : start + 2]
        if after and after not in LITERAL_LT_BEFORE:
            return False  # a tag START_TAG or END_TAG does not read
        pieces.append("<")
        pos = start + 1
    return True


def _cleaned_tag(source: str, base: str, in_svg: bool) -> tuple[str, int] | None:
    """A "<...>" as the two passes write it, and the change to the open <svg> count;
    remembered, as tags repeat (but not a long one: the cache must stay small)."""
    if len(source) > MAX_REMEMBERED_TAG:
        return _clean_tag(source, base, in_svg)
    return _remembered_clean_tag(source, base, in_svg)


def _clean_tag(source: str, base: str, in_svg: bool) -> tuple[str, int] | None:
    following = source[1]
    if following == "/":
        found = END_TAG.fullmatch(source)
        return _cleaned_end_tag(found.group(1).lower(), in_svg) if found else None
    if following in LITERAL_LT_BEFORE:
        pieces = ["<"]
        return ("".join(pieces), 0) if _text_run(source[1:], "", pieces) else None
    if START_TAG.fullmatch(source) is None:
        return None
    return _cleaned_start_tag(source, base, in_svg)


_remembered_clean_tag = functools.lru_cache(maxsize=8192)(_clean_tag)


def _scanned(text: str, base: str) -> str | None:
    """`_clean_simple_html` token by token, for text with comments (which may hold "<>")."""
    pieces: list[str] = []
    svg = 0
    pos, length = 0, len(text)
    while pos < length:
        found = MARKUP_OR_REFERENCE.search(text, pos)
        if found is None:
            pieces.append(text[pos:])
            break
        start = found.start()
        if start > pos:
            pieces.append(text[pos:start])
        if text[start] == "&":
            pos = _reference(text, start, pieces)
            continue
        token = _markup(text, start, base, svg)
        if token is None:
            return None
        cleaned, pos, svg = token
        pieces.append(cleaned)
    return "".join(pieces)


def _short_tag(match: re.Match[str]) -> str:
    tag = match.group(1)
    return f"<{tag} />" if tag in VOID_ELEMENTS else f"<{tag}></{tag}>"


def _reference(text: str, start: int, pieces: list[str]) -> int:
    """sgmllib's reading of "&" and what _BaseHTMLProcessor writes for it."""
    found = CHARREF.match(text, start)
    if found:
        ref = found.group(1).lower()
        value = int(ref[1:], 16) if ref[0] == "x" else int(ref)
        if value in _cp1252:
            pieces.append(f"&#{hex(ord(_cp1252[value]))[1:]};")
        else:
            pieces.append(f"&#{ref};")
        return found.end()
    found = ENTITYREF.match(text, start)
    if found:
        name = found.group(1)
        known = name in name2codepoint or name == "apos"
        pieces.append(f"&{name};" if known else f"&amp;{name}")
        end = found.end()
        return end if text[end - 1] == ";" else end - 1
    pieces.append("&")  # sgmllib's "incomplete" reference: kept as text
    return start + 1


def _markup(text: str, start: int, base: str, svg: int) -> tuple[str, int, int] | None:
    """The tag at `start`: (its cleaned form, the position after it, the open <svg> count), or
    None to give up."""
    following = text[start + 1 : start + 2]
    if not following or following in LITERAL_LT_BEFORE:
        return "<", start + 1, svg
    if following == "!":
        return _comment(text, start, svg)
    if following == "/":
        found = END_TAG.match(text, start)
        cleaned = _cleaned_end_tag(found.group(1).lower(), svg > 0) if found else None
    else:
        found = START_TAG.match(text, start)
        cleaned = _cleaned_tag(found.group(), base, svg > 0) if found else None
    if found is None or cleaned is None:
        return None
    return cleaned[0], found.end(), svg + cleaned[1]


def _cleaned_end_tag(tag: str, in_svg: bool) -> tuple[str, int] | None:
    """What the two passes make of an end tag, and the change to the open <svg> count."""
    if tag in VOID_ELEMENTS or tag in REFUSED_ELEMENTS:
        return None  # the first pass drops a void end tag: text on each side would meet
    if tag in ACCEPTABLE_ELEMENTS:
        return f"</{tag}>", 0
    if in_svg and tag in SVG_ELEMENTS:
        return f"</{SVG_ELEMENT_NAMES.get(tag, tag)}>", -1 if tag == "svg" else 0
    return "", 0


def _cleaned_start_tag(source: str, base: str, in_svg: bool) -> tuple[str, int] | None:
    """What the two passes make of one start tag ("" when dropped), and the change to the open
    <svg> count."""
    found = START_TAG.match(source)
    assert found is not None
    tag = found.group(1).lower()
    if tag in REFUSED_ELEMENTS:
        return None
    if not in_svg and tag != "svg":
        if tag not in ACCEPTABLE_ELEMENTS:
            return "", 0  # dropped, its content kept
        attributes = _second_pass(_resolved_attributes(tag, found.group(2), base))
        if attributes is None:
            return None
        written = _written_attributes(attributes, ACCEPTABLE_ATTRIBUTES, {}, STYLE_SANITIZER)
        return (f"<{tag}{written} />" if tag in VOID_ELEMENTS else f"<{tag}{written}>"), 0
    return _cleaned_svg_start_tag(tag, found.group(2), base, in_svg)


def _cleaned_svg_start_tag(
    tag: str, source: str, base: str, in_svg: bool
) -> tuple[str, int] | None:
    """The sanitizer's SVG branch: inside <svg>, or at an <svg> start tag."""
    attributes = _second_pass(_resolved_attributes(tag, source, base))
    if attributes is None:
        return None
    opens = 0
    if tag == "svg":
        xmlns = dict(attributes).get("xmlns")
        if not xmlns:  # HTML5 inline SVG: the sanitizer adds the namespace
            attributes.append(("xmlns", SVG_NAMESPACE))
        opens = int(not xmlns or xmlns == SVG_NAMESPACE)
    if not (in_svg or opens):
        return "", 0  # an <svg> in another namespace: dropped like any unknown element
    if tag in SVG_ELEMENTS:
        acceptable, names, tag = (
            SVG_ATTRIBUTES,
            SVG_ATTRIBUTE_NAMES,
            SVG_ELEMENT_NAMES.get(tag, tag),
        )
    elif tag in ACCEPTABLE_ELEMENTS:
        acceptable, names = ACCEPTABLE_ATTRIBUTES, {}
    else:
        return "", opens
    if any(key.startswith("xlink:") for key, _ in attributes) and XLINK not in attributes:
        attributes.append(XLINK)
    normalized = sorted(
        (key, value.lower() if key in ("rel", "type") and value else value)
        for key, value in dict(attributes).items()
    )
    written = _written_attributes(normalized, acceptable, names, SVG_STYLE_SANITIZER)
    return (f"<{tag}{written} />" if tag in VOID_ELEMENTS else f"<{tag}{written}>"), opens


def _comment(text: str, start: int, svg: int) -> tuple[str, int, int] | None:
    """A closed comment is kept by both passes (`<!--x-- >` written as `<!--x-->`)."""
    if not text.startswith("<!--", start):
        return None
    close = COMMENT_CLOSE.search(text, start + 4)
    if close is None:
        return None
    comment = text[start + 4 : close.start()]
    if "<![CDATA[" in comment:
        return None  # _sanitize_html escapes that even inside a comment
    return f"<!--{comment}-->", close.end(), svg


def _resolved_attributes(tag: str, source: str, base: str) -> list[tuple[str, str]]:
    """The first pass: sgmllib's attribute values, sorted, URLs made absolute, then escaped."""
    named: dict[str, str] = {}
    for found in ATTRIBUTES.finditer(source):
        name, value = found.group(1), found.group(2)
        if value is None:
            value = name
        else:
            if value[:1] in ("'", '"') and value[:1] == value[-1:]:
                value = value[1:-1]
            if "&" in value:
                value = ENTITY_OR_CHARREF.sub(_convert_reference, value)
        named[name.lower()] = value
    attributes = sorted(
        (key, value.lower() if key in ("rel", "type") and value else value)
        for key, value in named.items()
    )
    return [
        (
            key,
            _escape_attribute(
                ((tag, key) in RELATIVE_URIS and _safe_uri(base, value.strip())) or value
            ),
        )
        for key, value in attributes
    ]


def _second_pass(attributes: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """The first pass's attributes as the second pass reads them back."""
    read: list[tuple[str, str]] = []
    for key, escaped in attributes:
        if "&#34;" in escaped:
            return None  # the second pass would read a quote inside the value
        value = escaped.replace("&#39;", "'")
        if "&" in value:
            value = ENTITY_OR_CHARREF.sub(_convert_reference, value)
        read.append((key, value))
    return read


def _written_attributes(
    attributes: list[tuple[str, str]],
    acceptable: frozenset[str],
    names: dict[str, str],
    style_sanitizer: _HTMLSanitizer,
) -> str:
    """The sanitizer's choice: only acceptable attributes (SVG's in their camel case), safe
    URLs and styles."""
    written: list[str] = []
    for name, read in attributes:
        value = read
        if name == "style" and name in acceptable:
            value = style_sanitizer.sanitize_style(value)
            if not value:
                continue
        elif name not in acceptable:
            continue
        key = names.get(name, name)
        if key == "href":
            value = _safe_uri(value)
        written.append(f' {key}="{_escape_attribute(value)}"')
    return "".join(written)


def _convert_reference(found: re.Match[str]) -> str:
    """sgmllib's `_convert_ref` as _BaseHTMLProcessor configures it."""
    if found.group(2):
        return f"&#{found.group(2)};"
    if found.group(3):
        return f"&{found.group(1)};"
    return f"&{found.group(1)}"


def _escape_attribute(value: str) -> str:
    value = value.replace(">", "&gt;").replace("<", "&lt;").replace('"', "&quot;")
    return BARE_AMPERSAND.sub("&amp;", value) if "&" in value else value


@functools.lru_cache(maxsize=4096)
def _safe_uri(base: str, url: str | None = None) -> str:
    """feedparser's `make_safe_absolute_uri`, remembered."""
    safe: str = make_safe_absolute_uri(base, url)
    return safe
