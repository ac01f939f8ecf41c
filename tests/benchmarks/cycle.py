"""Benchmark: whole polling cycles (fetch, parse, record, match) with thousands of rules loaded.

    python -m tests.benchmarks.cycle [--feeds 10000] [--rules 5000] [--sample 500]

A local server (its own process, see `tests.benchmarks.poll`) serves N distinct RSS feeds built
from real corpus files; the monitor runs with R generated rules (`tests.benchmarks.match`)
compiled into its matcher. After a priming cycle (every feed new), two cycles are timed: 10% of
the feeds changed (one new item each, the rest answer 304), then every feed changed.
The baseline does the same work sequentially, in the same run: `httpx.Client` GETs with the
feed's validators and `feedparser.parse` of each 200 body. It runs on the first `--sample` feeds
(the same share changed) and its time is extrapolated per feed to N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.match import Matcher

# The parse workers run this module again (multiprocessing imports the main module in each), as
# the daemon's own `monitor` script, which imports nothing: the tools of the benchmark itself
# are imported where they are used, so that the workers' memory is the daemon's.

TARGET_SOME_CHANGED_S = 10.0
TARGET_ALL_CHANGED_S = 60.0
TARGET_RSS_MB = 300.0
RSS_EVERY_S = 0.05


def build_matcher(rules: int, seed: int = 7) -> Matcher:
    """`rules` generated watch rules over the corpus's words, compiled."""
    from monitor.match import compile_rules
    from monitor.models import RuleSet
    from tests.benchmarks.match import load_articles, make_actors, make_rule, vocabulary

    rng = random.Random(seed)
    vocab = vocabulary(load_articles(1000, seed))
    actors = make_actors(vocab, rng)
    ruleset = RuleSet(actors=actors, rules=tuple(make_rule(i, vocab, rng) for i in range(rules)))
    return compile_rules(ruleset)


class PeakRss:
    """Samples, in a thread, the resident memory of this process plus its children (the parser
    pool) but not the feed server, which stands in for the internet."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def current_mb(self) -> float:
        import psutil

        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            if child.pid == self.server_pid:
                continue
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return float(total) / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(RSS_EVERY_S):
            self.peak_mb = max(self.peak_mb, self.current_mb())

    def __enter__(self) -> PeakRss:
        self.peak_mb = self.current_mb()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, self.current_mb())


@dataclass
class Row:
    name: str
    feeds: int
    wall: float
    cpu: float
    rss_mb: float
    new_articles: int
    detail: str
    baseline_wall: float | None = None  # extrapolated to `feeds`
    baseline_cpu: float | None = None
    baseline_detail: str = ""

    @property
    def speed_up(self) -> float:
        return self.baseline_wall / self.wall if self.baseline_wall and self.wall else float("nan")


class SequentialBaseline:
    """A bare loop: conditional GET with httpx.Client, feedparser.parse of each 200 body."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.validators: dict[str, dict[str, str]] = {}

    def cycle(self) -> str:
        import feedparser
        import httpx

        statuses: dict[int, int] = {}
        entries = 0
        with httpx.Client(timeout=30) as client:
            for url in self.urls:
                response = client.get(url, headers=self.validators.get(url, {}))
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code != 200:
                    continue
                entries += len(feedparser.parse(response.content).entries)
                validators = {}
                if "etag" in response.headers:
                    validators["If-None-Match"] = response.headers["etag"]
                if "last-modified" in response.headers:
                    validators["If-Modified-Since"] = response.headers["last-modified"]
                self.validators[url] = validators
        codes = " ".join(f"{code}:{n}" for code, n in sorted(statuses.items()))
        return f"{codes} entries:{entries}"


async def change_feeds(parent: Any, fraction: float, serial: int) -> None:
    parent.send((fraction, serial))
    await asyncio.get_running_loop().run_in_executor(None, parent.recv)


async def run(args: argparse.Namespace) -> list[Row]:
    from monitor.config import load_config, load_settings
    from monitor.service import Service
    from tests.benchmarks.poll import cpu_seconds, serve, write_config

    started = time.perf_counter()
    matcher = build_matcher(args.rules)
    print(
        f"  {args.rules} rules compiled in {time.perf_counter() - started:.1f} s", file=sys.stderr
    )
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve, args=(args.feeds, child), daemon=True)
    server.start()
    port = parent.recv()
    assert server.pid is not None
    urls = [f"http://127.0.0.1:{port}/feed/{n}.xml" for n in range(args.feeds)]
    sample = min(args.sample, args.feeds)
    baseline = SequentialBaseline(urls[:sample])
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db")
        config = load_config(settings, write_config(Path(tmp), urls))
        service = Service(settings, config, matcher=matcher)
        await service.start()
        try:

            async def monitor_cycle(name: str) -> Row:
                with PeakRss(server.pid or 0) as rss:
                    cpu0, t0 = cpu_seconds(), time.perf_counter()
                    tally = await service.poll_all()
                    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
                outcomes = " ".join(f"{s.value}:{n}" for s, n in sorted(tally.outcomes.items()))
                detail = f"{outcomes} alerts:{tally.alerts}"
                print(f"  {name}: {wall:.1f} s", file=sys.stderr, flush=True)
                return Row(name, args.feeds, wall, cpu, rss.peak_mb, tally.recorded, detail)

            async def with_baseline(row: Row) -> Row:
                cpu0, t0 = cpu_seconds(), time.perf_counter()
                row.baseline_detail = await asyncio.to_thread(baseline.cycle)
                scale = args.feeds / sample
                row.baseline_wall = (time.perf_counter() - t0) * scale
                row.baseline_cpu = (cpu_seconds() - cpu0) * scale
                return row

            rows.append(await monitor_cycle("priming (all new)"))
            await asyncio.to_thread(baseline.cycle)  # the baseline's validators, untimed
            await change_feeds(parent, 0.1, 1)
            rows.append(await with_baseline(await monitor_cycle("10% changed")))
            await change_feeds(parent, 1.0, 2)
            rows.append(await with_baseline(await monitor_cycle("all changed")))
        finally:
            await service.close()
            parent.send("stop")
            server.join(10)
    return rows


def report(rows: list[Row], args: argparse.Namespace) -> bool:
    from tests.benchmarks.poll import CONCURRENCY

    sample = min(args.sample, args.feeds)
    print(
        f"\ncycle benchmark: {args.feeds} feeds, {args.rules} rules, {os.cpu_count()} cores, "
        f"concurrency {CONCURRENCY}"
    )
    header = (
        f"{'cycle':<19}{'wall s':>8}{'CPU s':>8}{'feeds/s':>9}{'new/s':>8}{'new':>7}"
        f"{'RSS MB':>8}{'base wall s':>12}{'base CPU s':>11}{'speed-up':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        new_rate = r.new_articles / r.wall if r.wall else 0.0
        base_wall = f"{r.baseline_wall:>12.2f}" if r.baseline_wall is not None else f"{'-':>12}"
        base_cpu = f"{r.baseline_cpu:>11.2f}" if r.baseline_cpu is not None else f"{'-':>11}"
        speed_up = f"{r.speed_up:>8.2f}x" if r.baseline_wall is not None else f"{'-':>9}"
        print(
            f"{r.name:<19}{r.wall:>8.2f}{r.cpu:>8.2f}{r.feeds / r.wall:>9.0f}{new_rate:>8.0f}"
            f"{r.new_articles:>7}{r.rss_mb:>8.0f}{base_wall}{base_cpu}{speed_up}"
        )
    for r in rows:
        baseline = f"; baseline (sample) {r.baseline_detail}" if r.baseline_detail else ""
        print(f"  {r.name}: monitor {r.detail}{baseline}")
    print(
        f"baseline: sequential httpx.Client GET with validators + feedparser.parse of each 200, "
        f"timed on the first {sample} feeds and extrapolated x{args.feeds / sample:g} to "
        f"{args.feeds}; speed-up = baseline wall / monitor wall (> 1: the monitor is faster)."
    )
    print(
        "CPU includes the feed server's process; RSS is the peak of this process plus the "
        "parser pool, sampled every 50 ms, without the feed server."
    )
    peak = max(r.rss_mb for r in rows)
    by_name = {r.name: r for r in rows}
    checks = (
        ("10%-changed cycle wall", by_name["10% changed"].wall, TARGET_SOME_CHANGED_S, "s"),
        ("all-changed cycle wall", by_name["all changed"].wall, TARGET_ALL_CHANGED_S, "s"),
        ("peak RSS", peak, TARGET_RSS_MB, "MB"),
    )
    met = True
    for label, value, target, unit in checks:
        ok = value <= target
        met = met and ok
        verdict = "met" if ok else "MISSED"
        print(f"{label}: {value:.1f} {unit} (target <= {target:g} {unit}): {verdict}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=5_000)
    parser.add_argument("--sample", type=int, default=500, help="feeds the baseline polls")
    args = parser.parse_args(argv)
    return 0 if report(asyncio.run(run(args)), args) else 1


if __name__ == "__main__":
    sys.exit(main())
