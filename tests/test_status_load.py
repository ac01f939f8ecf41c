"""300 clients flooding the status API of a running daemon: its polls keep their pace, health and
readiness keep answering, and the excess requests get 429."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

import httpx

from tests.conftest import fresh_postgres_database
from tests.daemon import Daemon
from tests.feedserver import Document, FeedServer
from tests.test_pipeline import rss
from tests.test_service_run import samples

FEEDS = 8  # every 1 s: enough polls in a few seconds to compare rates
CLIENTS = 300
QUIET_SECONDS = 6.0
LOADED_SECONDS = 6.0
REPO = Path(__file__).resolve().parent.parent


def write_config(folder: Path, urls: list[str]) -> None:
    lines = ["feeds:"]
    for index, url in enumerate(urls):
        lines += [f"  - id: f{index}", f"    url: {url}", "    interval: 1s", "    backfill: 15"]
    lines += ["rules: [rules.yaml]", "notifiers:", "  - id: screen", "    type: console"]
    (folder / "rules.yaml").write_text("rules:\n  - id: treaty\n    keywords: {any: [treaty]}\n")
    (folder / "monitor.yaml").write_text("\n".join(lines) + "\n")


def polls_between(server: FeedServer, start: float, end: float) -> int:
    return sum(1 for seen in server.requests if start <= seen.at < end)


async def outbox_drained(daemon: Daemon, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while True:
            metrics = samples((await daemon.get("/metrics")).text)
            if metrics[("monitor_outbox_pending", ())] == 0:
                return
            await asyncio.sleep(0.1)


async def probe(daemon: Daemon, until: float, answers: list[tuple[str, int | str]]) -> None:
    """/healthz and /readyz every 0.2 s until `until` (event-loop time)."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=daemon.status_url, timeout=5) as client:
        while loop.time() < until:
            for path in ("/healthz", "/readyz"):
                try:
                    answers.append((path, (await client.get(path)).status_code))
                except httpx.HTTPError as exc:
                    answers.append((path, type(exc).__name__))
            await asyncio.sleep(0.2)  # pacing the probes, not waiting for a state


async def test_an_api_flood_leaves_polling_and_health_alone(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    urls = [
        feed_server.serve(
            f"/f{i}.xml",
            Document.of(rss(*[(f"n{i}-{j}", f"Treaty {j}", "treaty") for j in range(15)])),
        )
        for i in range(FEEDS)
    ]
    write_config(tmp_path, urls)
    loop = asyncio.get_running_loop()

    # PostgreSQL: polls share the daemon's connection pool there (on a SQLite file they have a
    # writer thread of their own), which an unbounded API exhausted.
    async with (
        fresh_postgres_database() as database,
        await Daemon.start(tmp_path, {"MONITOR_DATABASE_URL": database}) as daemon,
    ):
        for i in range(FEEDS):
            await feed_server.wait_for_hits(f"/f{i}.xml", count=2)  # past the first, alerting poll
        await outbox_drained(daemon)  # the first polls' 120 alerts delivered: a steady state
        quiet_start = loop.time()
        await asyncio.sleep(QUIET_SECONDS)  # the window measured, not a synchronisation
        quiet = polls_between(feed_server, quiet_start, loop.time()) / QUIET_SECONDS

        flood = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.loadclient",
            daemon.status_url + "/api/alerts",
            "--clients",
            str(CLIENTS),
            "--seconds",
            str(LOADED_SECONDS),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            # What is measured is whether the API starves the daemon's own work (its connection
            # pool, its event loop), as it did (5 polls/s to 0), not how the 2 cores are shared
            # with the flood's own process: that one runs at the lowest priority.
            preexec_fn=lambda: os.nice(19),
        )
        try:
            assert flood.stdout is not None
            assert (await asyncio.wait_for(flood.stdout.readline(), 20)).strip() == b"started"
            loaded_start = loop.time()
            answers: list[tuple[str, int | str]] = []
            await probe(daemon, loaded_start + LOADED_SECONDS - 0.5, answers)
            loaded = polls_between(feed_server, loaded_start, loop.time()) / (
                loop.time() - loaded_start
            )
            out, _ = await asyncio.wait_for(flood.communicate(), 30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                flood.kill()
            await flood.wait()
        counts = json.loads(out.decode().strip().splitlines()[-1])

    print(f"polls/s quiet {quiet:.2f}, loaded {loaded:.2f}; API answers {counts}")
    assert counts.get("429", 0) > 0, counts  # the excess was refused ...
    assert counts.get("200", 0) > 0, counts  # ... and the rest served
    assert set(counts) <= {"200", "429"}, counts
    assert answers and {status for _, status in answers} == {200}, answers
    assert loaded >= 0.8 * quiet, (quiet, loaded)
