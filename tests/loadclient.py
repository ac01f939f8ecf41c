"""A flood of HTTP clients in a process of its own, so that the test's event loop (which serves
the feeds) is not the one it loads: `python -m tests.loadclient URL --clients 300 --seconds 6`.

Prints "started" once every client is running, then, at the end, one JSON object: how many
answers of each status (and "error" for failed requests)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter

import aiohttp


async def _client(
    session: aiohttp.ClientSession, url: str, until: float, seen: Counter[str]
) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        try:
            async with session.get(url) as response:
                await response.read()
                seen[str(response.status)] += 1
        except (aiohttp.ClientError, TimeoutError):
            seen["error"] += 1


async def flood(url: str, clients: int, seconds: float) -> Counter[str]:
    seen: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        until = asyncio.get_running_loop().time() + seconds
        tasks = [asyncio.create_task(_client(session, url, until, seen)) for _ in range(clients)]
        print("started", flush=True)
        await asyncio.gather(*tasks)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    seen = asyncio.run(flood(args.url, args.clients, args.seconds))
    print(json.dumps(dict(seen)), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
