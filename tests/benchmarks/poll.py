"""Benchmark: full polling cycles of N feeds through the real pipeline, against a bare httpx loop.

    python -m tests.benchmarks.poll [--feeds 2000] [--changed 0.1]

A local server (its own process, so it does not share the client's core) serves N distinct RSS
feeds built from real corpus files. After a first, priming cycle (every feed new: parse and
record), two cycles are timed: every feed answering 304, and 10% changed (one new item each).
The baseline does the same conditional GETs with a bare `httpx.AsyncClient` (default transport,
the same concurrency), in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[2]
CORPUS_FEEDS = REPO.parent / "shared" / "corpus" / "feeds" / "real"
FIXTURE_FEEDS = REPO / "tests" / "data" / "feeds"
CONCURRENCY = 100


def feed_templates() -> list[bytes]:
    """RSS 2.0 documents (bodies with <item>) to serve, from the corpus or the test fixtures."""
    folder = CORPUS_FEEDS if CORPUS_FEEDS.is_dir() else FIXTURE_FEEDS
    bodies = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in {".xml", ".rss"} and "MALFORMED" not in path.name:
            body = path.read_bytes()
            if b"<item>" in body and b"<rss" in body[:2000]:
                bodies.append(body)
    if not bodies:
        sys.exit(f"no RSS feeds found under {folder}")
    return bodies


def with_new_item(body: bytes, feed: int, serial: int) -> bytes:
    item = (
        f"<item><title>Breaking {feed}-{serial}</title><guid>bench-{feed}-{serial}</guid>"
        f"<link>https://example.org/{feed}/{serial}</link><description>Peace treaty talks "
        f"resume in Yerevan and Baku ({serial}).</description></item><item>"
    ).encode()
    return body.replace(b"<item>", item, 1)


# ---- the server process ------------------------------------------------------------------
def serve(count: int, conn: Connection) -> None:
    from tests.feedserver import Document, FeedServer

    async def main() -> None:
        templates = feed_templates()
        server = FeedServer()
        for n in range(count):
            server.serve(f"/feed/{n}.xml", Document.of(templates[n % len(templates)]))
        await server.start()
        conn.send(server.port)
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                break
            fraction, serial = command
            for n in range(0, count, max(1, round(1 / fraction))):
                old = server.documents[f"/feed/{n}.xml"]
                server.documents[f"/feed/{n}.xml"] = Document.of(with_new_item(old.body, n, serial))
            conn.send("changed")
        await server.stop()

    asyncio.run(main())


@dataclass
class Measure:
    name: str
    feeds: int
    wall: float
    cpu: float
    rss_mb: float
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.feeds / self.wall if self.wall else 0.0


def cpu_seconds() -> float:
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return total


def peak_rss_mb() -> float:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = 0.0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            children += child.memory_info().rss
    return peak_kb / 1024 + children / 2**20


async def timed(name: str, feeds: int, work: Callable[[], Coroutine[Any, Any, str]]) -> Measure:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    detail = await work()
    return Measure(
        name, feeds, time.perf_counter() - t0, cpu_seconds() - cpu0, peak_rss_mb(), detail
    )


# ---- the baseline: a bare httpx loop -----------------------------------------------------
class Baseline:
    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.etags: dict[str, str] = {}

    async def cycle(self) -> str:
        limit = asyncio.Semaphore(CONCURRENCY)
        statuses: dict[int, int] = {}
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def one(url: str) -> None:
                async with limit:
                    headers = {"If-None-Match": self.etags[url]} if url in self.etags else {}
                    response = await client.get(url, headers=headers)
                    if "etag" in response.headers:
                        self.etags[url] = response.headers["etag"]
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            await asyncio.gather(*(one(url) for url in self.urls))
        return " ".join(f"{code}:{n}" for code, n in sorted(statuses.items()))


# ---- the monitor -------------------------------------------------------------------------
def write_config(folder: Path, urls: list[str]) -> Path:
    lines = ["feeds:"]
    lines += [f"  - id: f{n}\n    url: {url}\n    interval: 1h" for n, url in enumerate(urls)]
    lines += ["notifiers:", "  - id: console", "    type: console"]
    path = folder / "monitor.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def run(args: argparse.Namespace) -> list[tuple[Measure, Measure | None]]:
    from monitor.config import load_config, load_settings
    from monitor.service import Service

    parent, child = mp.get_context("spawn").Pipe()
    server = mp.get_context("spawn").Process(target=serve, args=(args.feeds, child), daemon=True)
    server.start()
    port = parent.recv()
    urls = [f"http://127.0.0.1:{port}/feed/{n}.xml" for n in range(args.feeds)]
    rows: list[tuple[Measure, Measure | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config_path = write_config(Path(tmp), urls)
        settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db")
        service = Service(settings, load_config(settings, config_path))
        baseline = Baseline(urls)
        await service.start()
        try:

            async def monitor_cycle() -> str:
                tally = await service.poll_all()
                return " ".join(f"{s.value}:{n}" for s, n in sorted(tally.outcomes.items())) + (
                    f" recorded:{tally.recorded}"
                )

            rows.append(
                (
                    await timed("first poll (all new)", args.feeds, monitor_cycle),
                    await timed("baseline", args.feeds, baseline.cycle),
                )
            )
            rows.append(
                (
                    await timed("all 304", args.feeds, monitor_cycle),
                    await timed("baseline", args.feeds, baseline.cycle),
                )
            )
            loop = asyncio.get_running_loop()
            parent.send((args.changed, 1))
            await loop.run_in_executor(None, parent.recv)
            # The baseline's ETags must see the change too: it runs after the monitor.
            changed = f"{args.changed:.0%} changed"
            rows.append(
                (
                    await timed(changed, args.feeds, monitor_cycle),
                    await timed("baseline", args.feeds, baseline.cycle),
                )
            )
        finally:
            await service.close()
            parent.send("stop")
            server.join(10)
    return rows


def report(rows: list[tuple[Measure, Measure | None]], feeds: int) -> None:
    print(f"\npoll benchmark: {feeds} feeds, {os.cpu_count()} cores, concurrency {CONCURRENCY}")
    header = f"{'cycle':<22}{'wall s':>8}{'feeds/s':>10}{'CPU s':>8}{'peak RSS MB':>13}"
    header += f"{'baseline feeds/s':>18}{'ratio':>7}  outcomes"
    print(header)
    print("-" * len(header))
    for mine, base in rows:
        ratio = mine.rate / base.rate if base and base.rate else float("nan")
        base_rate = f"{base.rate:>18.0f}" if base else f"{'-':>18}"
        print(
            f"{mine.name:<22}{mine.wall:>8.2f}{mine.rate:>10.0f}{mine.cpu:>8.2f}"
            f"{mine.rss_mb:>13.0f}{base_rate}{ratio:>7.2f}  {mine.detail}"
        )
    print("(ratio > 1: the monitor is faster than the bare httpx loop doing only the HTTP part)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--changed", type=float, default=0.1)
    args = parser.parse_args()
    report(asyncio.run(run(args)), args.feeds)


if __name__ == "__main__":
    main()
