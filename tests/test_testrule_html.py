"""`test-rule --url/--file` on an HTML page: the error `once` gives (not a feed, exit 2), with the
feeds the page advertises; and `monitor.parse.alternates`, which finds them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.parse import advertised_feeds, looks_like_html
from tests.feedserver import Document, FeedServer
from tests.test_cli import monitor

PAGE = b"""<!DOCTYPE HTML>
<html><head><title>World news</title>
<link rel="stylesheet" href="/site.css">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">
<link rel="alternate" type="application/atom+xml; charset=utf-8" href="atom.xml">
<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
<link rel="alternate" type="application/feed+json" href="https://cdn.example.org/feed.json">
</head><body><p>Peace treaty</p></body></html>
"""
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><guid>1</guid><title>Peace treaty</title></item></channel></rss>"
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "rules.yaml").write_text("rules:\n  - id: peace\n    keywords: {any: [peace]}\n")
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "feeds:\n  - id: wire\n    url: https://example.org/feed.xml\n"
        "rules: [rules.yaml]\nnotifiers:\n  - id: console\n    type: console\n"
    )
    return path


async def test_url_of_an_html_page_is_an_error_naming_the_feeds_it_advertises(
    feed_server: FeedServer, config: Path, tmp_path: Path
) -> None:
    url = feed_server.serve("/news/index.html", Document.of(PAGE, content_type="text/html"))
    code, out, err = await monitor("test-rule", "--config", str(config), "--url", url, cwd=tmp_path)
    assert code == 2, out
    assert out == ""
    base = feed_server.url("")
    assert err.strip() == (
        f"error: {url} is an HTML page, not a feed; it advertises: {base}/rss.xml, "
        f"{base}/news/atom.xml, https://cdn.example.org/feed.json"
    )


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"<html><body>Peace</body></html>", "text/html", "is an HTML page, not a feed, and"),
        (b"Peace treaty signed", "text/plain", ": not a feed"),
    ],
    ids=["html-without-feeds", "plain-text"],
)
async def test_url_of_anything_but_a_feed_is_an_error(
    *,
    feed_server: FeedServer,
    config: Path,
    tmp_path: Path,
    body: bytes,
    content_type: str,
    message: str,
) -> None:
    url = feed_server.serve("/page", Document.of(body, content_type=content_type))
    code, out, err = await monitor("test-rule", "--config", str(config), "--url", url, cwd=tmp_path)
    assert code == 2, out
    assert err.startswith(f"error: {url}") and message in err, err


async def test_a_feed_served_as_html_is_still_a_feed(
    feed_server: FeedServer, config: Path, tmp_path: Path
) -> None:
    url = feed_server.serve("/rss", Document.of(RSS, content_type="text/html; charset=utf-8"))
    code, out, err = await monitor("test-rule", "--config", str(config), "--url", url, cwd=tmp_path)
    assert code == 0, err
    assert out.splitlines()[:2] == ["article: Peace treaty", "  match peace (score 2)"]


async def test_file_of_an_html_page_is_an_error_and_a_text_file_an_article(
    config: Path, tmp_path: Path
) -> None:
    page = tmp_path / "saved.html"
    page.write_bytes(PAGE)
    code, out, err = await monitor(
        "test-rule", "--config", str(config), "--file", str(page), cwd=tmp_path
    )
    assert code == 2, out
    # A saved page has no URL to resolve its links against: they are shown as written.
    assert err.strip() == (
        f"error: {page} is an HTML page, not a feed; it advertises: /rss.xml, atom.xml, "
        "https://cdn.example.org/feed.json"
    )
    text = tmp_path / "article.txt"
    text.write_text("Peace treaty signed\nIn Yerevan.")
    code, out, err = await monitor(
        "test-rule", "--config", str(config), "--file", str(text), cwd=tmp_path
    )
    assert code == 0, err
    assert out.splitlines()[:2] == ["article: Peace treaty signed", "  match peace (score 2)"]


# ---- monitor.parse.alternates ------------------------------------------------------------------
def test_links_resolve_against_the_base_href_and_repeats_go() -> None:
    page = (
        b'<html><head><base href="https://example.org/news/">'
        b'<link rel="alternate" type="application/rss+xml" href="rss.xml">'
        b'<LINK REL="Alternate Feed" TYPE="Application/Atom+XML" HREF="/atom.xml"/>'
        b'<link rel="alternate" type="application/rss+xml" href="rss.xml"></head></html>'
    )
    assert advertised_feeds(page, "http://mirror.example.net/a/b.html") == (
        "https://example.org/news/rss.xml",
        "https://example.org/atom.xml",
    )


def test_only_feed_alternates_in_the_head_count() -> None:
    page = (
        b"<html><head>"
        b'<link rel="stylesheet" type="application/rss+xml" href="/style">'
        b'<link rel="alternate" type="text/html" href="/fr/">'
        b'<link rel="alternate" type="application/rss+xml" href="/a\x1b[31m.xml">'
        b'<link rel="alternate" type="application/rss+xml" href="">'
        b'</head><body><link rel="alternate" type="application/rss+xml" href="/late.xml">'
        b"</body></html>"
    )
    assert advertised_feeds(page, "https://example.org/") == ()


@pytest.mark.parametrize(
    ("body", "content_type", "html"),
    [
        (b"<!doctype html><title>x</title>", None, True),
        (b'\xef\xbb\xbf\n<?xml version="1.0"?>\n<!-- c -->\n<html xmlns="x">', None, True),
        (b"whatever", "text/html; charset=utf-8", True),
        (b'<?xml version="1.0"?><rss version="2.0"/>', None, False),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"/>', "application/atom+xml", False),
        (b"Peace treaty\n<html> in a text", None, False),
    ],
    ids=["doctype", "xhtml-after-bom-declaration-comment", "served-as-html", "rss", "atom", "text"],
)
def test_looks_like_html(body: bytes, content_type: str | None, html: bool) -> None:
    assert looks_like_html(body, content_type) is html


async def test_once_on_an_html_page_names_the_feeds_it_advertises(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """The same reading as test-rule's: a site's home page given as a feed's URL fails that
    feed with the links to try, in `once` and in `monitor feeds`."""
    url = feed_server.serve("/news/index.html", Document.of(PAGE, content_type="text/html"))
    (tmp_path / "monitor.yaml").write_text(f"feeds:\n  - id: home\n    url: {url}\n")
    code, out, err = await monitor("once", cwd=tmp_path)
    assert code == 1, err  # its only feed failed
    base = feed_server.url("")
    advertised = f"{base}/rss.xml, {base}/news/atom.xml, https://cdn.example.org/feed.json"
    assert f"an HTML page, not a feed; it advertises: {advertised}" in out
    code, out, err = await monitor("feeds", "--json", cwd=tmp_path)
    [row] = json.loads(out)
    assert row["last_error"].endswith(f"an HTML page, not a feed; it advertises: {advertised}")
