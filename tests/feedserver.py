"""A real HTTP server on 127.0.0.1 for tests: serves feeds with validators and scripted faults.

Runs an aiohttp application in the test's event loop (the poll benchmark runs one in its own
process). Every request is recorded so that tests can assert what the client sent.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import brotli
from aiohttp import web

Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Document:
    """A feed body served with validators; 304 when the client's validators still match."""

    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: datetime | None = None
    encoding: str | None = None  # gzip | br | deflate: compress on the wire
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, body: bytes, **kwargs: object) -> Document:
        """A document with an ETag derived from its body and a fixed Last-Modified."""
        kwargs.setdefault("etag", '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
        kwargs.setdefault("last_modified", datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
        return cls(body, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    at: float


class FeedServer:
    """Routes are paths; each path has a Document, a queue of one-off behaviours, or both."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.scripts: dict[str, deque[Behaviour]] = {}
        self.requests: list[Seen] = []
        self.release = asyncio.Event()  # set to let stalled responses finish
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- set-up -------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, document: Document) -> str:
        self.documents[path] = document
        return self.url(path)

    def serve_file(self, path: str, file: Path, **kwargs: object) -> str:
        return self.serve(path, Document.of(file.read_bytes(), **kwargs))

    def script(self, path: str, *behaviours: Behaviour) -> None:
        """Answer the next requests to `path` with these behaviours, then with its Document."""
        self.scripts.setdefault(path, deque()).extend(behaviours)

    async def wait_for_hits(self, path: str, count: int = 1, timeout: float = 30) -> None:
        """Return once `path` has been requested `count` times (TimeoutError after `timeout`)."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.hits(path)) >= count), timeout
            )

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FeedServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- handling -----------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs if request.query_string else request.path
        loop = asyncio.get_running_loop()
        self.requests.append(Seen(path, dict(request.headers), loop.time()))
        async with self._arrived:
            self._arrived.notify_all()
        queue = self.scripts.get(path)
        if queue:
            return await queue.popleft()(request)
        document = self.documents.get(path)
        if document is None:
            return web.Response(status=404, text="not found")
        return respond_with(document, request)


def respond_with(document: Document, request: web.Request) -> web.Response:
    """200 with the body, or 304 when If-None-Match / If-Modified-Since still match."""
    headers = dict(document.headers)
    if document.etag:
        headers["ETag"] = document.etag
    if document.last_modified:
        headers["Last-Modified"] = format_datetime(document.last_modified, usegmt=True)
    if _not_modified(document, request):
        return web.Response(status=304, headers=headers)
    body = document.body
    if document.encoding == "gzip":
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    elif document.encoding == "br":
        body, headers["Content-Encoding"] = brotli.compress(body), "br"
    elif document.encoding == "deflate":
        import zlib

        body, headers["Content-Encoding"] = zlib.compress(body), "deflate"
    headers["Content-Type"] = document.content_type
    return web.Response(status=200, body=body, headers=headers)


def _not_modified(document: Document, request: web.Request) -> bool:
    # RFC 9110 §13.1.3: If-None-Match takes precedence over If-Modified-Since.
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return document.etag is not None and if_none_match == document.etag
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since and document.last_modified:
        try:
            return document.last_modified <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


# ---- behaviours for FeedServer.script ---------------------------------------------------
def status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Behaviour:
    async def behave(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, headers=headers or {}, body=body)

    return behave


def redirect(code: int, location: str) -> Behaviour:
    return status(code, {"Location": location})


def endless_body(chunk: bytes = b"<rss>" + b"x" * 65536) -> Behaviour:
    """Streams a body that never ends (until the client hangs up)."""

    async def behave(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        try:
            while True:
                await response.write(chunk)
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            raise
        return response  # pragma: no cover

    return behave


def stall_after_headers(server: FeedServer) -> Behaviour:
    """Sends the headers and a first byte, then nothing until `server.release` is set."""

    async def behave(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        await response.write(b"<")
        await server.release.wait()
        return response

    return behave


def trickle(every: float, byte: bytes = b" ") -> Behaviour:
    """Sends the headers, then one byte every `every` seconds, forever: never idle long enough
    for a read timeout, so only a total deadline stops it. (The sleep paces the server.)"""

    async def behave(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        while True:
            await response.write(byte)
            await asyncio.sleep(every)

    return behave


def garbage(data: bytes) -> Behaviour:
    """Writes `data` raw on the connection and closes it: a malformed HTTP response."""

    async def behave(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        assert transport is not None
        transport.write(data)
        transport.close()
        return web.Response()  # never sent: the connection is gone

    return behave


@dataclass
class InFlight:
    """Counts the requests that `held` behaviours are holding, now and at most at once."""

    now: int = 0
    peak: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_until(self, count: int) -> None:
        """Wait until `count` requests are held at once."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.now >= count)

    async def add(self, step: int) -> None:
        async with self.changed:
            self.now += step
            self.peak = max(self.peak, self.now)
            self.changed.notify_all()


def held(server: FeedServer, counter: InFlight, body: bytes = b"<rss/>") -> Behaviour:
    """Holds the request, counted in `counter`, until `server.release` is set; then 200."""

    async def behave(request: web.Request) -> web.StreamResponse:
        await counter.add(+1)
        try:
            await server.release.wait()
        finally:
            await counter.add(-1)
        return web.Response(body=body, content_type="application/rss+xml")

    return behave
