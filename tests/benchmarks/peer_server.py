"""The feeds for `tests.benchmarks.peer`: N distinct RSS documents of about 67 KB, served on
127.0.0.1 from their own process with ETag and Last-Modified (304 when they still match).

Each document is a real corpus feed (`tests.benchmarks.poll.feed_templates`) cut, or padded by
repeating its items, to about the target size at item boundaries. Every item gets its own guid,
`peer-<feed>-<item>`, so no two feeds (nor two items of a feed) share one, and every body, hence
every ETag, is distinct.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections import Counter
from multiprocessing.connection import Connection

from aiohttp import web

from tests.benchmarks.poll import feed_templates
from tests.feedserver import Document, respond_with

ITEM = re.compile(rb"<item[\s>].*?</item>", re.DOTALL)
GUID = re.compile(rb"<guid\b[^>]*/>|<guid\b[^>]*>.*?</guid>", re.DOTALL)
# No charset parameter: the XML declaration names the encoding (the corpus has Latin-1 and
# Windows-1251 feeds), as most real servers of such feeds do.
CONTENT_TYPE = "application/rss+xml"


def build_feeds(count: int, size: int) -> list[bytes]:
    """`count` distinct RSS documents of about `size` bytes each."""
    templates = [t for t in feed_templates() if ITEM.search(t)]
    large = [t for t in templates if len(t) >= size]
    chosen = large or templates  # cut real feeds when there are big enough ones
    return [sized_feed(chosen[n % len(chosen)], n, size) for n in range(count)]


def sized_feed(template: bytes, feed: int, size: int) -> bytes:
    """`template` with its items cut or repeated to about `size` bytes, each with a new guid."""
    matches = list(ITEM.finditer(template))
    items = [match.group() for match in matches]
    head, tail = template[: matches[0].start()], template[matches[-1].end() :]
    chunks: list[bytes] = []
    total = len(head) + len(tail)
    while True:
        item = with_guid(items[len(chunks) % len(items)], f"peer-{feed}-{len(chunks)}")
        # Stop where the size is nearest: add an item only if it undershoots less than it spans.
        if chunks and total + len(item) // 2 > size:
            break
        chunks.append(item)
        total += len(item) + 1
    return head + b"\n".join(chunks) + tail


def with_guid(item: bytes, guid: str) -> bytes:
    tag = b'<guid isPermaLink="false">' + guid.encode() + b"</guid>"
    replaced, count = GUID.subn(tag, item, count=1)
    if count:
        return replaced
    opening_end = item.index(b">") + 1
    return item[:opening_end] + tag + item[opening_end:]


def serve(count: int, size: int, conn: Connection) -> None:
    """Process target: serve the feeds at /feed/<n>.xml until told "stop" (or the pipe closes).

    Sends (port, mean body bytes) once listening; answers "stats" with the response statuses
    counted since the previous "stats".
    """
    asyncio.run(_serve(count, size, conn))


async def _serve(count: int, size: int, conn: Connection) -> None:
    bodies = build_feeds(count, size)
    documents = {
        f"/feed/{n}.xml": Document.of(body, content_type=CONTENT_TYPE)
        for n, body in enumerate(bodies)
    }
    statuses: Counter[int] = Counter()

    async def handle(request: web.Request) -> web.Response:
        document = documents.get(request.path)
        response = web.Response(status=404) if document is None else respond_with(document, request)
        statuses[response.status] += 1
        return response

    app = web.Application()
    app.router.add_get("/feed/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    await web.SockSite(runner, sock).start()
    conn.send((sock.getsockname()[1], sum(map(len, bodies)) / len(bodies)))
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                command = await loop.run_in_executor(None, conn.recv)
            except EOFError:  # the benchmark is gone
                break
            if command == "stop":
                break
            if command == "stats":
                conn.send(dict(statuses))
                statuses.clear()
    finally:
        await runner.cleanup()
