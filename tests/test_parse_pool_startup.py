"""The parser pool costs nothing until something is parsed: no process (nor multiprocessing's
resource tracker) for a run where every feed is unchanged, nor, with `inline_jobs`, for one where
only a few small feeds changed; a close still refuses further work."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from monitor.errors import ParseError
from monitor.parse import FeedParser, parse_feed
from monitor.parse.offload import INLINE_MAX_BYTES
from tests.conftest import REPO
from tests.test_pipeline import rss

FEED_URL = "https://example.org/feed.xml"


def child_processes() -> set[int]:
    return {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}


@pytest.mark.parametrize("use_processes", [True, False], ids=["processes", "threads"])
async def test_a_parser_that_parses_nothing_starts_nothing(use_processes: bool) -> None:
    before = child_processes()
    async with FeedParser(2, use_processes=use_processes) as parser:
        assert parser.pending == 0
    assert child_processes() == before


async def test_the_first_parse_starts_the_pool() -> None:
    body = rss(("ok", "One", "text"))
    before = child_processes()
    async with FeedParser(1) as parser:
        feed = await parser.parse(body, feed_id="f", url=FEED_URL)
        assert child_processes() - before  # its worker (and the fork server, the first time)
    assert [a.title for a in feed.articles] == ["One"]
    with pytest.raises(RuntimeError, match="closed"):
        await parser.parse(body, feed_id="f", url=FEED_URL)


async def test_a_closed_parser_that_never_parsed_refuses_work() -> None:
    parser = FeedParser(1)
    await parser.aclose()
    before = child_processes()
    with pytest.raises(RuntimeError, match="closed"):
        await parser.parse(rss(("a", "A", "text")), feed_id="f", url=FEED_URL)
    assert parser.pending == 0
    assert child_processes() == before


async def test_the_first_small_bodies_are_parsed_in_a_thread() -> None:
    bodies = [rss((f"g{n}", f"Title {n}", "text")) for n in range(4)]
    before = child_processes()
    async with FeedParser(2, inline_jobs=3) as parser:
        inline = [await parser.parse(body, feed_id="f", url=FEED_URL) for body in bodies[:3]]
        assert child_processes() == before  # three feeds changed: no process started
        pooled = await parser.parse(bodies[3], feed_id="f", url=FEED_URL)
        assert child_processes() - before  # the fourth starts the pool
    assert [feed.articles[0].title for feed in (*inline, pooled)] == [
        "Title 0",
        "Title 1",
        "Title 2",
        "Title 3",
    ]
    assert inline[0] == parse_feed(bodies[0], feed_id="f", url=FEED_URL)


async def test_a_large_body_goes_to_the_pool_at_once() -> None:
    filler = "x" * (INLINE_MAX_BYTES + 1)
    large = rss(("big", "Big", filler))
    before = child_processes()
    async with FeedParser(1, inline_jobs=8) as parser:
        feed = await parser.parse(large, feed_id="f", url=FEED_URL)
        assert child_processes() - before
    assert feed.articles[0].title == "Big"


async def test_inline_parsing_keeps_the_errors_of_the_pool() -> None:
    async with FeedParser(1, inline_jobs=2) as parser:
        with pytest.raises(ParseError, match="empty body"):
            await parser.parse(b"  ", feed_id="f", url=FEED_URL)
        with pytest.raises(ParseError):
            await parser.parse(b"<html><body>not a feed</body></html>", feed_id="f", url=FEED_URL)


KILLED_DAEMON = """
import asyncio, os, sys
from monitor.parse import FeedParser
from tests.test_pipeline import rss

async def main() -> None:
    parser = FeedParser(2)
    await parser.parse(rss(("a", "A", "text")), feed_id="f", url="https://example.org/f.xml")
    print("parsed", flush=True)
    await asyncio.Event().wait()

if __name__ == "__main__":  # the fork server imports this module again
    asyncio.run(main())
"""


def test_the_pool_does_not_outlive_a_killed_daemon(tmp_path: Path) -> None:
    script = tmp_path / "daemon.py"
    script.write_text(KILLED_DAEMON)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    daemon = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, env=env, cwd=tmp_path
    )
    try:
        assert daemon.stdout is not None
        assert daemon.stdout.readline() == b"parsed\n"
        pool = psutil.Process(daemon.pid).children(recursive=True)
        assert len(pool) >= 2  # the workers, the fork server, the resource tracker
    finally:
        daemon.kill()  # SIGKILL: no clean-up of its own
        daemon.wait()

    deadline = time.monotonic() + 30
    while alive := [p for p in pool if _running(p)]:
        assert time.monotonic() < deadline, f"outlived the daemon: {[p.cmdline() for p in alive]}"
        time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
