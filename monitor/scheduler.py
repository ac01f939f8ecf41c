"""The dispatcher: claims due feeds from the store in batches and polls them concurrently.

Feeds are rows with a `next_poll_at`, not one scheduler job each; APScheduler only ticks the
dispatcher (and, in later stages, runs the periodic jobs). A finished poll refills its slot at
once while a backlog remains, so throughput is not bound to the tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from monitor.errors import StoreError
from monitor.models import Feed, PollOutcome, PollStatus
from monitor.unrecorded import UnrecordedPolls

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Poll = Callable[[Feed], Awaitable[PollOutcome]]
OutcomeSink = Callable[[PollOutcome], None]


class ClaimsFeeds(Protocol):
    async def claim_due_feeds(
        self, *, now: datetime, limit: int, lease: timedelta, owner: str
    ) -> list[Feed]: ...

    async def release_claims(self, owner: str, feed_ids: Sequence[str] | None = None) -> int: ...

    async def renew_claims(
        self, owner: str, feed_ids: Sequence[str], *, until: datetime
    ) -> int: ...


@dataclass(frozen=True, slots=True)
class DispatchLimits:
    """How much the dispatcher takes on at once."""

    in_flight: int = 100  # polls running at the same time
    batch: int = 100  # feeds claimed per store round trip
    lease: timedelta = timedelta(minutes=5)  # a crashed replica's claims expire after this
    tick: float = 1.0  # seconds between dispatcher runs when nothing finishes
    # A feed whose poll, and its failure, the store could not record is tried again after this.
    unrecorded_retry: timedelta = timedelta(minutes=1)


class Dispatcher:
    """Claims due feeds into free slots and runs `poll` on each, tracking every task."""

    def __init__(
        self,
        store: ClaimsFeeds,
        poll: Poll,
        *,
        owner: str,
        clock: Callable[[], datetime],
        limits: DispatchLimits = DispatchLimits(),
        on_outcome: OutcomeSink | None = None,
        unrecorded: UnrecordedPolls | None = None,
    ) -> None:
        self._store = store
        self._poll = poll
        self._owner = owner
        self._clock = clock
        self._limits = limits
        self._on_outcome = on_outcome
        self._unrecorded = unrecorded or UnrecordedPolls(clock=clock)
        # Feeds whose poll, and its failure, the store refused to record: their leases are ours
        # still, cut short at the next claim rather than waited out.
        self._unreleased: set[str] = set()
        self._tasks: dict[asyncio.Task[PollOutcome], str] = {}
        self._claiming = asyncio.Lock()
        self._refill: asyncio.Task[int] | None = None
        self._backlog = False
        self._stopped = False
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def dispatch(self) -> int:
        """Claim due feeds until the slots are full or nothing more is due; return how many
        polls were started."""
        started = 0
        async with self._claiming:
            if not await self._release_unrecorded():
                return 0
            while not self._stopped:
                free = self._limits.in_flight - len(self._tasks)
                if free <= 0:
                    self._backlog = True
                    break
                want = min(self._limits.batch, free)
                try:
                    feeds = await self._store.claim_due_feeds(
                        now=self._clock(), limit=want, lease=self._limits.lease, owner=self._owner
                    )
                except StoreError as exc:  # logged once a minute, not a traceback a tick
                    self._unrecorded.failed(exc)
                    break
                for feed in feeds:
                    self._start(feed)
                started += len(feeds)
                if len(feeds) < want:
                    self._backlog = False
                    break
        return started

    async def _release_unrecorded(self) -> bool:
        """Cut the leases of the feeds whose polls could not be recorded short: they are due
        again `unrecorded_retry` from now, not at once (a store that refuses every write would
        make that a busy loop) nor when the lease runs out. False if the store refuses still."""
        polling = set(self._tasks.values())
        feed_ids = sorted(self._unreleased - polling)
        if not feed_ids:
            return True
        until = self._clock() + min(self._limits.unrecorded_retry, self._limits.lease)
        try:
            await self._store.renew_claims(self._owner, feed_ids, until=until)
        except StoreError as exc:
            self._unrecorded.failed(exc)
            return False
        self._unreleased.difference_update(feed_ids)
        return True

    def _start(self, feed: Feed) -> None:
        task = asyncio.create_task(self._run_poll(feed), name=f"poll:{feed.id}")
        self._tasks[task] = feed.id
        self._idle.clear()
        task.add_done_callback(self._finished)

    async def _run_poll(self, feed: Feed) -> PollOutcome:
        try:
            return await self._poll(feed)
        except asyncio.CancelledError:
            # Cancelled polls are retried: give the feed back so it is due again at once.
            await asyncio.shield(self._store.release_claims(self._owner, [feed.id]))
            raise
        except StoreError as exc:
            # Neither the poll nor its failure could be written (the poller has said so).
            self._unreleased.add(feed.id)
            return PollOutcome(feed.id, PollStatus.FAILED, error=f"feed {feed.id}: {exc}")
        except Exception:
            # A bug, not a feed's fault: keep the claim so that the lease's expiry spaces out
            # the retries instead of a hot loop.
            log.exception("feed %s: poll failed unexpectedly", feed.id, extra={"feed_id": feed.id})
            raise

    def _finished(self, task: asyncio.Task[PollOutcome]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and task.exception() is None and self._on_outcome is not None:
            self._on_outcome(task.result())
        if not self._tasks:
            self._idle.set()
        if not self._backlog or self._stopped or (self._refill and not self._refill.done()):
            return
        # Refilled in batches, not a claim per finished poll: a claim is a write transaction.
        limits = self._limits
        free = limits.in_flight - len(self._tasks)
        if free >= max(1, min(limits.batch, limits.in_flight) // 4):
            self._refill = asyncio.create_task(self.dispatch(), name="dispatch-refill")

    async def renew_leases(self) -> int:
        """Extend the leases of the feeds being polled, so that a slow poll never outlives its
        claim (another replica would poll the feed too). Run every third of the lease."""
        feed_ids = sorted(set(self._tasks.values()))
        until = self._clock() + self._limits.lease
        try:
            return await self._store.renew_claims(self._owner, feed_ids, until=until)
        except StoreError as exc:
            self._unrecorded.failed(exc)
            return 0

    def stop_claiming(self) -> None:
        self._stopped = True

    async def wait_idle(self) -> None:
        """Return when no poll is in flight."""
        await self._idle.wait()

    async def run_until_idle(self) -> None:
        """Burst mode (`monitor once`): poll until nothing is due and nothing is in flight."""
        while True:
            started = await self.dispatch()
            if self._refill is not None:
                await self._refill
            if started == 0 and not self._tasks:
                return
            await self.wait_idle()

    async def drain(self, grace: float) -> int:
        """Stop claiming, let in-flight polls finish for up to `grace` seconds, then cancel the
        rest (their feeds are released and polled again on the next start). Returns how many
        were cancelled."""
        self.stop_claiming()
        if self._refill is not None:
            self._refill.cancel()
        pending = list(self._tasks)
        if not pending:
            return 0
        _done, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            log.warning(
                "cancelled %d polls still running after the %.0fs grace period: %s",
                len(late),
                grace,
                ", ".join(sorted(self._tasks.get(t, "?") for t in late)),
            )
            await asyncio.wait(late)
        return len(late)


def create_scheduler(
    dispatcher: Dispatcher, *, tick: float, lease: timedelta | None = None
) -> AsyncIOScheduler:
    """An APScheduler that ticks the dispatcher and renews its leases (every third of `lease`).
    Periodic jobs of later stages join here."""
    # Imported here: only `run` has periodic jobs (`once` drains the dispatcher without them).
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(timezone="UTC")
    if lease is not None:
        scheduler.add_job(
            dispatcher.renew_leases,
            "interval",
            seconds=max(1.0, lease.total_seconds() / 3),
            id="renew-leases",
            max_instances=1,
            coalesce=True,
        )
    scheduler.add_job(
        dispatcher.dispatch,
        "interval",
        seconds=tick,
        id="dispatch",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    return scheduler
