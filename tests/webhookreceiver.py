"""A real webhook receiver on 127.0.0.1 for tests: records every request, answers as scripted.

In the test's event loop:

    async with WebhookReceiver() as receiver:
        receiver.script(Reply(500), Reply(500), Reply(429, {"Retry-After": "7"}))
        ...                                   # then 200 for every later request
        received = await receiver.wait_for(3, timeout=5)

In another process (the kill -9 test, benchmarks), answering 200 and appending one JSON line
per request, `{"id": <webhook-id>, "body": <text>, "at": <unix time>}`, to FILE:

    python -m tests.webhookreceiver --port 0 --out FILE   # prints "listening on PORT"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

__all__ = ["Received", "Reply", "Responder", "WebhookReceiver"]


@dataclass(frozen=True)
class Received:
    """One request as it arrived. Header names are lower-case."""

    method: str
    path: str  # with the query string, if any
    headers: dict[str, str]
    body: bytes
    at: float  # time.time()

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get("webhook-id")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """How to answer one request.

    `raw` is written as is on the connection, which is then closed: a malformed or cut answer
    (b"" hangs up without answering). `hang` holds the request until the receiver stops or
    `release` is set, before answering (or, with `raw`, after writing it and before closing).
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    hang: bool = False
    raw: bytes | None = None


Responder = Callable[[Received], Reply]


def _responder(reply: Reply | int | Responder) -> Responder:
    if isinstance(reply, int):
        reply = Reply(reply)
    if isinstance(reply, Reply):
        fixed = reply
        return lambda _: fixed
    return reply


class WebhookReceiver:
    """Answers each request with the next scripted `Reply`, then with `default`."""

    def __init__(self, default: Reply | None = None, port: int = 0) -> None:
        self.default = default or Reply(200, body=b"ok")
        self.requests: list[Received] = []
        self.release = asyncio.Event()  # lets hanging replies finish
        self.port = port
        self._script: deque[Responder] = deque()
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._listeners: list[Callable[[Received], None]] = []

    # ---- set-up and queries ---------------------------------------------------------------
    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *replies: Reply | int | Responder) -> None:
        """Answer the next requests with these, in order: a Reply, a bare status, or a function
        of the request giving the Reply (to echo what arrived, say)."""
        self._script.extend(_responder(r) for r in replies)

    def on_request(self, listener: Callable[[Received], None]) -> None:
        """Call `listener` with every request as it arrives (before it is answered)."""
        self._listeners.append(listener)

    def ids(self) -> list[str | None]:
        return [r.webhook_id for r in self.requests]

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The requests, once at least `count` have arrived (TimeoutError after `timeout`)."""
        await self.wait_until(lambda: len(self.requests) >= count, timeout)
        return list(self.requests)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Return once `predicate()` holds, checked on each arrival."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(predicate)

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- handling ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        received = Received(
            method=request.method,
            path=request.path_qs,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.read(),
            at=time.time(),
        )
        reply = self._script.popleft()(received) if self._script else self.default
        self.requests.append(received)
        for listener in self._listeners:
            listener(received)
        async with self._arrived:
            self._arrived.notify_all()
        if reply.raw is not None and request.transport is not None:
            request.transport.write(reply.raw)
        if reply.hang:
            await self.release.wait()
        if reply.raw is not None and request.transport is not None:
            request.transport.close()
        return web.Response(status=reply.status, headers=dict(reply.headers), body=reply.body)


# ---- standalone: python -m tests.webhookreceiver --port N --out FILE ---------------------------
def _line_writer(out: TextIO) -> Callable[[Received], None]:
    def write(received: Received) -> None:
        line = {
            "id": received.webhook_id,
            "body": received.body.decode("utf-8", errors="replace"),
            "at": received.at,
        }
        # Written before the 200 goes out, and flushed: whoever got a 200 finds its line.
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()

    return write


async def _serve(port: int, out_path: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with out_path.open("a", encoding="utf-8") as out:
        async with WebhookReceiver(port=port) as receiver:
            receiver.on_request(_line_writer(out))
            print(f"listening on {receiver.port}", flush=True)
            await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.out))


if __name__ == "__main__":
    main()
