"""Benchmark: alerts from the store to a webhook receiver, through the outbox and the worker.

    python -m tests.benchmarks.deliver [--alerts 10000] [--rate 1000] [--database URL]

The receiver is `tests.webhookreceiver` in its own process (it answers 200 and notes when each
request arrived). Two runs on a fresh SQLite store (or --database):

- burst: every alert is stored at once, then delivered: alerts/s is the worker's capacity;
- steady: alerts are stored in batches of 2% at `--rate` alerts/s, the worker delivering as they
  come: latency is from the alert's transaction committing to the receiver getting it.

The baseline, in the same run, is a bare loop POSTing the same JSON bodies to the same receiver
with the same HTTP client and concurrency, without a store: the ceiling the worker approaches.
Targets: >= 1,000 alerts/s and p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import FeedConfig
from monitor.models import (
    Article,
    FeedStateUpdate,
    FeedStatus,
    OutboxPlan,
    RuleMatch,
    TermHit,
    WebhookOptions,
)
from monitor.notify import DeliveryWorker, WebhookNotifier, create_webhook_client
from monitor.store import Store, open_store

TARGET_RATE = 1000.0
TARGET_P99 = 1.0
CONCURRENCY = 32
FEED = FeedConfig("bench", "http://127.0.0.1:9/feed.xml")
MATCH = RuleMatch("bench", (TermHit("treaty", "title", "A treaty was signed"),), (), 2.0)
PLAN = OutboxPlan(routes={"bench": ("hook",)})


@dataclass(frozen=True)
class Result:
    name: str
    alerts: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.alerts / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Receiver:
    """`python -m tests.webhookreceiver` in a subprocess, writing one line per request."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self._offset = 0
        self._arrived: dict[str, float] = {}

    async def __aenter__(self) -> Receiver:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.webhookreceiver",
            "--port",
            "0",
            "--out",
            str(self.out),
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = (await self.process.stdout.readline()).decode()
        self.port = int(line.rsplit(" ", 1)[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            await self.process.wait()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def arrivals(self) -> dict[str, float]:
        """Alert id (the payload's) -> when it first arrived. Reads only the new lines."""
        if self.out.exists():
            with self.out.open("rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._offset += len(complete)
            for line in complete.splitlines():
                record = json.loads(line)
                body = json.loads(record["body"])
                if "id" in body:
                    self._arrived.setdefault(body["id"], record["at"])
        return self._arrived

    async def wait_for(self, ids: set[str], timeout: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while True:
            arrived = self.arrivals()
            if ids <= arrived.keys():
                return arrived
            if time.monotonic() > deadline:
                missing = len(ids - arrived.keys())
                raise TimeoutError(f"{missing} alerts never arrived")
            await asyncio.sleep(0.2)


def _articles(run: str, start: int, count: int) -> list[Article]:
    return [
        Article(
            feed_id=FEED.id,
            key=f"{run}-{n}",
            url=f"https://news.example/{run}/{n}",
            link=f"https://news.example/{run}/{n}",
            title=f"A treaty was signed, number {n}",
            summary="A treaty was signed.",
            content="",
            summary_text="A treaty was signed.",
            content_text="",
        )
        for n in range(start, start + count)
    ]


async def _store_alerts(store: Store, run: str, start: int, count: int) -> tuple[list[str], float]:
    """Record `count` matching articles in one poll; (alert ids, commit time as time.time())."""
    now = datetime.now(UTC)
    articles = _articles(run, start, count)
    update = FeedStateUpdate(now, now + timedelta(minutes=10), FeedStatus.OK)
    result = await store.record_poll(
        FEED.id,
        update,
        articles,
        matches={a.key: [MATCH] for a in articles},
        plan=PLAN,
    )
    return [alert.id for alert in result.alerts], time.time()


async def _fresh_store(url: str) -> Store:
    store = await open_store(url)
    await store.sync_feeds([FEED], now=datetime.now(UTC))
    first = FeedStateUpdate(datetime.now(UTC), datetime.now(UTC), FeedStatus.OK)
    await store.record_poll(FEED.id, first)
    return store


async def run_worker(
    name: str, url: str, receiver: Receiver, alerts: int, rate: float | None
) -> Result:
    store = await _fresh_store(url)
    client = create_webhook_client("feed-monitor-bench")
    options = WebhookOptions(url=receiver.url(), concurrency=CONCURRENCY)
    worker = DeliveryWorker(store, {"hook": WebhookNotifier("hook", options, client)})
    stored: dict[str, float] = {}
    tag = "burst" if rate is None else "steady"  # article keys: new in each run, one store or two
    try:
        if rate is None:
            ids, at = await _store_alerts(store, tag, 0, alerts)
            stored.update(dict.fromkeys(ids, at))
            started = time.time()
            task = asyncio.create_task(worker.run())
            worker.wake()
        else:
            started = time.time()
            task = asyncio.create_task(worker.run())
            batch = max(1, alerts // 50)
            for index, start in enumerate(range(0, alerts, batch)):
                pause = started + index * batch / rate - time.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                ids, at = await _store_alerts(store, tag, start, min(batch, alerts - start))
                stored.update(dict.fromkeys(ids, at))
                worker.wake()
        arrived = await receiver.wait_for(set(stored), timeout=300)
        worker.stop()
        await task
    finally:
        await client.aclose()
        await store.close()
    last = max(arrived[i] for i in stored)
    latencies = [arrived[i] - stored[i] for i in stored]
    return Result(name, len(stored), last - started, latencies)


async def run_baseline(receiver: Receiver, alerts: int) -> Result:
    """The same bodies POSTed by a bare loop with the same client and concurrency."""
    client = create_webhook_client("feed-monitor-bench")
    slots = asyncio.Semaphore(CONCURRENCY)
    bodies = [
        json.dumps({"id": f"baseline-{n}", "title": f"A treaty was signed, number {n}"}).encode()
        for n in range(alerts)
    ]
    sent: dict[str, float] = {}

    async def post(n: int, body: bytes) -> None:
        async with slots:
            sent[f"baseline-{n}"] = time.time()
            response = await client.post(
                receiver.url(), content=body, headers={"content-type": "application/json"}
            )
            response.raise_for_status()

    started = time.time()
    try:
        await asyncio.gather(*(post(n, body) for n, body in enumerate(bodies)))
    finally:
        await client.aclose()
    arrived = await receiver.wait_for(set(sent), timeout=60)
    last = max(arrived[i] for i in sent)
    return Result(
        "baseline (bare POST loop)", alerts, last - started, [arrived[i] - sent[i] for i in sent]
    )


def print_table(results: list[Result], baseline: Result) -> bool:
    header = ("run", "alerts", "seconds", "alerts/s", "vs base", "p50 ms", "p99 ms")
    print(f"{header[0]:<28} " + " ".join(f"{h:>8}" for h in header[1:]))
    for r in [baseline, *results]:
        print(
            f"{r.name:<28} {r.alerts:>8} {r.seconds:>8.2f} {r.rate:>8.0f} "
            f"{r.rate / baseline.rate:>7.2f}x "
            f"{r.percentile(0.5) * 1000:>8.1f} {r.percentile(0.99) * 1000:>8.1f}"
        )
    print("latency: from the alert's transaction committing (or, for the baseline, the POST")
    print("starting) to the receiver getting it.")
    burst, steady = results
    ok_rate = burst.rate >= TARGET_RATE
    ok_p99 = steady.percentile(0.99) <= TARGET_P99
    print(
        f"capacity {burst.rate:.0f} alerts/s (target >= {TARGET_RATE:.0f}): "
        f"{'met' if ok_rate else 'MISSED'}; "
        f"p99 at {steady.rate:.0f} alerts/s offered {steady.percentile(0.99):.3f} s "
        f"(target <= {TARGET_P99:g} s): {'met' if ok_p99 else 'MISSED'}"
    )
    return ok_rate and ok_p99


async def main_async(args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        async with Receiver(base / "received.jsonl") as receiver:
            baseline = await run_baseline(receiver, args.alerts)
            burst_url = args.database or f"sqlite+aiosqlite:///{base / 'burst.db'}"
            burst = await run_worker(
                "burst (all stored at once)", burst_url, receiver, args.alerts, None
            )
            print("  burst done", file=sys.stderr, flush=True)
            steady_url = args.database or f"sqlite+aiosqlite:///{base / 'steady.db'}"
            steady = await run_worker(
                f"steady ({args.rate:.0f}/s offered)", steady_url, receiver, args.alerts, args.rate
            )
        return print_table([burst, steady], baseline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="alerts/s offered (steady run)")
    parser.add_argument("--database", default=None, help="a store URL instead of a fresh SQLite")
    args = parser.parse_args(argv)
    return 0 if asyncio.run(main_async(args)) else 1


if __name__ == "__main__":
    sys.exit(main())
