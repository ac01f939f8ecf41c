"""Refuses documents whose declared entities would expand, before any parser sees them.

The lxml fast path reads no DTD, and feedparser hands expat only the "safe" declarations; but
feedparser's loose fallback (sgmllib) expands a declared entity on `&name;`, on `&name ` (no
semicolon) and on `&name_x` (its names stop at the first character outside `[-.A-Za-z0-9]`),
without expat's amplification limit: a 76 KB feed expanded to 131 million characters. So every
general entity declared in the prolog is sized (its references to other entities expanded,
a cycle being endless), and every `&` of the document is charged with the largest entity whose
name a reader may read there, however it ends the name: an upper bound for every reader.
"""

from __future__ import annotations

import math
import re

from monitor.errors import ParseError

# Documents that are not ASCII-compatible, recognised as XML 1.0 Appendix F does.
WIDE_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)
FIRST_ELEMENT = re.compile(rb"<\w")
NAME = rb"[A-Za-z_:\x80-\xff][-.\w:\x80-\xff]*"  # XML 1.0's Name, in UTF-8 bytes
# A general entity with a literal value (external ones are never fetched, so never expanded).
ENTITY_DECLARATION = re.compile(rb"<!ENTITY\s+(" + NAME + rb""")\s+(?:"([^"]*)"|'([^']*)')""")
# In a value, XML's own reference (a loose reader drops a value that holds any).
VALUE_REFERENCE = re.compile(rb"&(" + NAME + rb");")
# In the document, an `&` and the longest run of name characters after it.
REFERENCE_START = re.compile(rb"&([-.\w:\x80-\xff]+)")
# Expansion allowed beyond the document's own size: real feeds declare a few short entities.
MAX_ENTITY_EXPANSION = 1 << 20  # bytes
# More declared entities than any feed needs; the scan's cost grows with their number.
MAX_ENTITIES = 256
ENDLESS = math.inf


def ascii_compatible(body: bytes) -> bytes:
    """The body, or for UTF-16/32 and EBCDIC documents its UTF-8 form (for the checks here)."""
    for marker, encoding in WIDE_ENCODINGS:
        if body.startswith(marker):
            return body.decode(encoding, "replace").encode("utf-8")
    return body


def refuse_entity_expansion(body: bytes, *, feed_id: str, url: str) -> None:
    """ParseError ("refused: ...") if the entities the prolog declares would expand the document
    by more than its own size and `MAX_ENTITY_EXPANSION`. Linear in the body's size."""
    document = ascii_compatible(body)
    first = FIRST_ELEMENT.search(document)
    head = document[: first.start()] if first else document
    if b"<!ENTITY" not in head:
        return
    declared = _declared_entities(head)
    if len(declared) > MAX_ENTITIES:
        raise ParseError(
            f"refused: the document declares {len(declared)} entities (at most {MAX_ENTITIES})",
            feed_id=feed_id,
            url=url,
        )
    sizes = _expanded_sizes(declared)
    bound = max(MAX_ENTITY_EXPANSION, len(document))
    expansion, scanned = _charged(document, len(head), sizes, bound)
    if expansion > bound:
        fold = "endlessly" if expansion == ENDLESS else f"{expansion / scanned:,.0f}-fold"
        raise ParseError(
            f"refused: the document declares entities that expand {fold}",
            feed_id=feed_id,
            url=url,
        )


def _declared_entities(head: bytes) -> dict[bytes, bytes]:
    """Name to literal value of each general entity; the first declaration wins (XML 1.0 §4.2)."""
    declared: dict[bytes, bytes] = {}
    for found in ENTITY_DECLARATION.finditer(head):
        value = found.group(2) if found.group(2) is not None else found.group(3)
        declared.setdefault(found.group(1), value)
    return declared


def _expanded_sizes(declared: dict[bytes, bytes]) -> dict[bytes, float]:
    """Each entity's size once every reference in its value is expanded (ENDLESS in a cycle)."""
    sizes: dict[bytes, float] = {}

    def size(name: bytes, open_names: set[bytes]) -> float:
        known = sizes.get(name)
        if known is not None:
            return known
        if name in open_names:
            return ENDLESS
        open_names.add(name)
        value = declared[name]
        total: float = len(value)
        for found in VALUE_REFERENCE.finditer(value):
            if found.group(1) in declared:
                total += size(found.group(1), open_names)
        open_names.discard(name)
        sizes[name] = total
        return total

    for name in declared:
        size(name, set())
    return sizes


def _charged(
    document: bytes, start: int, sizes: dict[bytes, float], bound: int
) -> tuple[float, int]:
    """What the references after `start` may expand to: each `&` costs the largest declared
    entity whose name a reader may read there (the whole run of name characters, or a prefix
    of it that a character other than a letter or digit ends, as sgmllib's names end); the
    count stops once past `bound`. With the number of bytes read to get there: the N-fold of
    the error is the expansion of those bytes."""
    lengths = sorted({len(name) for name in sizes})
    total: float = 0
    end = len(document)
    for found in REFERENCE_START.finditer(document, start):
        run = found.group(1)
        charge: float = 0
        for length in lengths:
            if length > len(run):
                break
            if length == len(run) or not run[length : length + 1].isalnum():
                charge = max(charge, sizes.get(run[:length], 0))
        total += charge
        if total > bound:
            end = found.end()
            break
    return total, max(1, end - start)
