"""Group commit: writes submitted while a transaction runs share the next one.

A poll that only moves a feed's state (a 304, an unchanged body, a failure) is one small UPDATE;
a transaction each made the 304 cycle wait on SQLite's single writer and on a round trip to the
database thread per statement. Here the first write goes at once, and every write submitted
while it runs waits for the next transaction, which takes them all: no timer, no added delay when
the load is light, batches as large as the backlog when it is heavy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Runs `flush(items)` on the items submitted concurrently, at most `limit` at a time.

    `flush` returns one result per item, in order; when it raises, every item of its batch gets
    the exception. A submitter that is cancelled while it waits does not take its item back:
    the write happens anyway.
    """

    def __init__(self, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *, limit: int = 500):
        self._flush = flush
        self._limit = limit
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="group-commit")
        return await future

    async def wait_idle(self) -> None:
        """Return once every item submitted so far has been written (or has failed)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._limit]
                del self._pending[: self._limit]
                try:
                    results = await self._flush([item for item, _ in batch])
                except Exception as exc:  # every submitter of the batch hears of it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:
                    for _, future in batch + self._pending:
                        future.cancel()
                    self._pending.clear()
                    raise
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._writer = None
