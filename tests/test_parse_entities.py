"""Documents whose declared entities would expand are refused before any parser reads them."""

from __future__ import annotations

import re
import time

import pytest

from monitor.errors import ParseError
from monitor.parse import parse_feed
from tests.conftest import DATA

FEED_URL = "https://example.com/feed.xml"


def entity_feed(declarations: str, description: str) -> bytes:
    """An RSS document with an internal DTD subset of `declarations` and one item."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE rss [\n{declarations}\n]>\n'
        '<rss version="2.0"><channel><title>Entities</title><link>https://example.com/</link>'
        f"<item><guid>e-1</guid><title>Entity item</title><description>{description}"
        "</description></item></channel></rss>"
    ).encode()


def semicolonless_bomb(size: int = 76_000) -> bytes:
    """Issue 23's feed: one 2,000-character entity referenced as `&big ` (no semicolon), which
    feedparser's loose parser expands: 76 KB became a 131-million-character summary."""
    declaration = f'<!ENTITY big "{"x" * 2_000}">'
    references = "&big " * ((size - 2_300) // 5)
    return entity_feed(declaration, references)


def parse(body: bytes) -> object:
    return parse_feed(body, feed_id="bomb", url=FEED_URL)


@pytest.mark.parametrize(
    "reference",
    ["&big;", "&big ", "&big_x ", "&big-x ", "&big<", "&big\n"],
    ids=["semicolon", "space", "underscore", "hyphen", "tag", "newline"],
)
def test_references_with_or_without_semicolon_are_counted(reference: str) -> None:
    body = entity_feed(f'<!ENTITY big "{"x" * 2_000}">', (reference * 1_000).replace("<", "&lt;"))
    with pytest.raises(ParseError, match=r"refused: the document declares entities that expand \d"):
        parse(body)


def test_the_semicolonless_bomb_is_refused_fast_with_the_feed_named() -> None:
    body = semicolonless_bomb()
    started = time.monotonic()
    with pytest.raises(ParseError) as refused:
        parse(body)
    assert time.monotonic() - started < 1
    error = refused.value
    assert (error.feed_id, error.url) == ("bomb", FEED_URL)
    assert str(error).startswith(f"feed bomb ({FEED_URL}): refused: ")
    assert re.search(r"expand [\d,]+-fold$", str(error))


def test_a_longer_name_that_only_starts_like_an_entity_costs_nothing() -> None:
    # "&bigger;" and "&bigx " name no declared entity, whatever the reader.
    body = entity_feed(f'<!ENTITY big "{"x" * 2_000}">', "&bigger; &bigx " * 1_000)
    assert parse(body) is not None


def test_nested_entities_are_sized_through_their_references() -> None:
    with pytest.raises(ParseError, match=r"expand [\d,]+-fold"):
        parse((DATA / "feeds" / "entity_bomb.xml").read_bytes())


def test_entities_that_refer_to_each_other_expand_endlessly() -> None:
    body = entity_feed('<!ENTITY a "x&b;">\n<!ENTITY b "y&a;">', "&a;")
    with pytest.raises(ParseError, match="expand endlessly"):
        parse(body)


def test_too_many_declarations_are_refused() -> None:
    declarations = "\n".join(f'<!ENTITY e{n} "{n}">' for n in range(300))
    with pytest.raises(ParseError, match="declares 300 entities"):
        parse(entity_feed(declarations, "&e1;"))


def test_utf16_documents_are_checked_too() -> None:
    body = semicolonless_bomb(20_000).decode().replace('encoding="utf-8"', 'encoding="utf-16"')
    with pytest.raises(ParseError, match="refused"):
        parse(body.encode("utf-16"))


def test_a_few_short_entities_are_read() -> None:
    body = entity_feed(
        '<!ENTITY org "Example Org">\n<!ENTITY nbsp "&#160;">', "&org; and &org; news" * 50
    )
    feed = parse_feed(body, feed_id="ok", url=FEED_URL)
    assert feed.articles[0].summary.startswith("Example Org and Example Org news")


def test_expansion_up_to_the_documents_own_size_is_read() -> None:
    # 1 MiB of expansion is allowed (or, in a larger document, up to its own size).
    small = entity_feed(f'<!ENTITY e "{"y" * 1_000}">', "&e; " * 1_000)
    assert parse_feed(small, feed_id="ok", url=FEED_URL).articles
    with pytest.raises(ParseError):
        parse(entity_feed(f'<!ENTITY e "{"y" * 1_000}">', "&e; " * 1_100))
