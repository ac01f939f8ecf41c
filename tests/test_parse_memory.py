"""The parser pool's memory bound: workers run under RLIMIT_AS; hostile documents are refused
or fail their own feed, and no worker's resident memory passes 300 MB."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from monitor.config import load_settings
from monitor.errors import ParseError
from monitor.parse import FeedParser
from monitor.parse.offload import DEFAULT_MEMORY_LIMIT
from tests.test_parse_entities import semicolonless_bomb

FEED_URL = "https://example.com/feed.xml"
TARGET_BYTES = 300 * 1000 * 1000  # issue 23: no process over 300 MB for a feed of <= 10 MiB


def worker_processes() -> list[psutil.Process]:
    """Pool workers: forked by the forkserver, which is this process's child."""
    me = os.getpid()
    return [p for p in psutil.Process(me).children(recursive=True) if p.ppid() != me]


def peak_rss(process: psutil.Process) -> int:
    """The process's high-water mark of resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def relative_links_under_a_long_base(size: int) -> bytes:
    """No entity at all: each `<a href=x>` becomes the 60 KB `xml:base` when made absolute
    (6,000-fold), the amplifier the memory limit is for."""
    base = "https://example.com/" + "b" * 60_000 + "/"
    links = "&lt;a href=x&gt;y&lt;/a&gt;" * (size // 27)
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f'<item xml:base="{base}"><guid isPermaLink="false">a</guid><title>Links</title>'
        f"<description>{links}</description></item></channel></rss>"
    ).encode()


def small_feed(guid: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item><guid isPermaLink='false'>{guid}</guid><title>Fine</title></item>"
        "</channel></rss>"
    ).encode()


@pytest.mark.parametrize("size", [76_000, 10 * 1024 * 1024], ids=["76KB", "10MiB"])
async def test_the_semicolonless_bomb_is_refused_in_a_worker_that_stays_small(size: int) -> None:
    body = semicolonless_bomb(size)
    async with FeedParser(1) as parser:
        await parser.parse(small_feed("warm"), feed_id="warm", url=FEED_URL)
        [worker] = worker_processes()
        with pytest.raises(ParseError, match="refused: the document declares entities") as error:
            await parser.parse(body, feed_id="bomb", url=FEED_URL)
        assert (error.value.feed_id, error.value.url) == ("bomb", FEED_URL)
        assert worker_processes() == [worker]  # refused, not crashed
        peak = peak_rss(worker)
    print(f"worker peak RSS after a {size:,}-byte bomb: {peak / 1e6:.0f} MB")
    assert peak < TARGET_BYTES


async def test_a_worker_over_its_memory_limit_fails_that_feed_only() -> None:
    hostile = relative_links_under_a_long_base(2 * 1024 * 1024)
    async with FeedParser(1) as parser:
        await parser.parse(small_feed("warm"), feed_id="warm", url=FEED_URL)
        [worker] = worker_processes()
        bomb = asyncio.ensure_future(parser.parse(hostile, feed_id="links", url=FEED_URL))
        queued = asyncio.ensure_future(parser.parse(small_feed("q"), feed_id="q", url=FEED_URL))
        with pytest.raises(ParseError) as error:
            await bomb
        assert str(error.value) == (
            f"feed links ({FEED_URL}): parse exceeded the parser's memory limit of 256 MiB"
        )
        peak = peak_rss(worker)
        assert [a.key for a in (await queued).articles] == ["q"]  # queued beside it: unharmed
        later = await parser.parse(small_feed("later"), feed_id="later", url=FEED_URL)
        assert [a.key for a in later.articles] == ["later"]
        assert worker not in worker_processes()  # replaced
    print(f"worker peak RSS at its limit: {peak / 1e6:.0f} MB")
    assert peak < TARGET_BYTES


async def test_without_a_limit_the_same_document_grows_past_it() -> None:
    # The test above fails for the limit, not for some other reason.
    hostile = relative_links_under_a_long_base(150_000)  # over 330 MB once resolved
    async with FeedParser(1, memory_limit=None, timeout=60) as parser:
        await parser.parse(small_feed("warm"), feed_id="warm", url=FEED_URL)
        [worker] = worker_processes()
        await parser.parse(hostile, feed_id="links", url=FEED_URL)
        assert peak_rss(worker) > DEFAULT_MEMORY_LIMIT


def test_the_limit_is_a_setting() -> None:
    assert load_settings().parse_memory_limit == DEFAULT_MEMORY_LIMIT == 256 * 1024 * 1024
    assert load_settings(parse_memory_limit=0).parse_memory_limit == 0


async def test_only_bodies_that_cannot_grow_are_parsed_in_the_daemons_thread() -> None:
    grows = relative_links_under_a_long_base(1_000)  # small, but with an xml:base
    async with FeedParser(1, inline_jobs=4) as parser:
        await parser.parse(small_feed("inline"), feed_id="inline", url=FEED_URL)
        assert worker_processes() == []  # parsed in the thread
        await parser.parse(grows, feed_id="links", url=FEED_URL)
        assert len(worker_processes()) == 1  # in a limited worker
