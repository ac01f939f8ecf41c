"""Concurrency limits for fetching: a global cap on exchanges in flight and a cap per host.

One slow or rate-limiting host can then hold at most `per_host` slots, and the others keep
being served. A host's semaphore exists only while someone holds or waits for it, so the
table stays as small as the set of hosts being fetched right now (not all hosts ever seen).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    users: int = 0  # holders and waiters


@dataclass
class HostLimiter:
    """`async with limiter.slot(host):` around each HTTP exchange."""

    global_limit: int
    per_host: int
    _global: asyncio.Semaphore = field(init=False, repr=False)
    _hosts: dict[str, _Host] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.global_limit < 1 or self.per_host < 1:
            raise ValueError("concurrency limits must be at least 1")
        self._global = asyncio.Semaphore(self.global_limit)

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for a slot for `host`, then for a global one, and hold both."""
        key = host.lower()
        entry = self._hosts.get(key)
        if entry is None:
            entry = self._hosts[key] = _Host(asyncio.Semaphore(self.per_host))
        entry.users += 1
        try:
            # The host's slot first: a request queued behind its own host must not sit on
            # one of the global slots that other hosts could use meanwhile.
            async with entry.semaphore, self._global:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._hosts[key]

    def users(self, host: str) -> int:
        """How many tasks hold or wait for a slot for `host`."""
        entry = self._hosts.get(host.lower())
        return entry.users if entry is not None else 0

    @property
    def hosts_tracked(self) -> int:
        """How many hosts have a semaphore now (for tests and metrics)."""
        return len(self._hosts)
