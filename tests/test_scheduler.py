"""The dispatcher on a real store: claims in batches, keeps the slots full, drains on stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.models import Feed, FeedStateUpdate, FeedStatus, PollOutcome, PollStatus
from monitor.scheduler import Dispatcher, DispatchLimits
from monitor.store import Store, open_store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FeedSpec:
    id: str
    url: str
    interval: timedelta = timedelta(minutes=10)
    tags: tuple[str, ...] = ()
    backfill: int = 0
    title: str | None = None
    min_interval: timedelta | None = None
    max_interval: timedelta | None = None


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = await open_store(database_url)
    await store.sync_feeds(
        [FeedSpec(f"f{n:02d}", f"http://127.0.0.1:9/{n}") for n in range(12)], now=NOW
    )
    try:
        yield store
    finally:
        await store.close()


class GatedPoll:
    """A poll at the seam: records the feed as polled once `gate` opens, counting concurrency."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.gate = asyncio.Event()
        self.running = 0
        self.most = 0
        self.polled: list[str] = []
        self.started = asyncio.Condition()

    async def __call__(self, feed: Feed) -> PollOutcome:
        async with self.started:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.notify_all()
        try:
            await self.gate.wait()
            update = FeedStateUpdate(
                polled_at=NOW, next_poll_at=NOW + timedelta(hours=1), status=FeedStatus.OK
            )
            await self.store.record_poll(feed.id, update)
            self.polled.append(feed.id)
            return PollOutcome(feed.id, PollStatus.NOT_MODIFIED)
        finally:
            self.running -= 1

    async def wait_running(self, count: int) -> None:
        async with self.started:
            await asyncio.wait_for(self.started.wait_for(lambda: self.running >= count), 10)


async def test_slots_stay_full_and_every_due_feed_is_polled_once(store: Store) -> None:
    poll = GatedPoll(store)
    outcomes: list[PollOutcome] = []
    dispatcher = Dispatcher(
        store,
        poll,
        owner="a",
        clock=lambda: NOW,
        limits=DispatchLimits(in_flight=3, batch=2),
        on_outcome=outcomes.append,
    )
    run = asyncio.create_task(dispatcher.run_until_idle())
    await poll.wait_running(3)
    assert dispatcher.in_flight == 3
    poll.gate.set()
    await asyncio.wait_for(run, 10)
    assert sorted(poll.polled) == [f"f{n:02d}" for n in range(12)]
    assert poll.most == 3
    assert len(outcomes) == 12
    assert await store.next_due_at(now=NOW) == min(
        s.feed.next_poll_at for s in await store.list_feeds() if s.feed.next_poll_at
    )


async def test_drain_cancels_late_polls_and_releases_their_claims(store: Store) -> None:
    poll = GatedPoll(store)  # the gate never opens: every poll hangs
    dispatcher = Dispatcher(
        store, poll, owner="a", clock=lambda: NOW, limits=DispatchLimits(in_flight=4, batch=4)
    )
    assert await dispatcher.dispatch() == 4
    await poll.wait_running(4)
    cancelled = await dispatcher.drain(grace=0.05)
    assert cancelled == 4 and dispatcher.in_flight == 0
    assert await dispatcher.dispatch() == 0  # stopped: claims nothing more
    # Another replica can take the cancelled feeds over at once, leases released.
    again = await store.claim_due_feeds(now=NOW, limit=100, lease=timedelta(minutes=5), owner="b")
    assert len(again) == 12


async def test_a_poll_that_raises_does_not_stop_the_others(store: Store) -> None:
    polled: list[str] = []

    async def poll(feed: Feed) -> PollOutcome:
        if feed.id == "f03":
            raise RuntimeError("a bug in one poll")
        polled.append(feed.id)
        update = FeedStateUpdate(
            polled_at=NOW, next_poll_at=NOW + timedelta(hours=1), status=FeedStatus.OK
        )
        await store.record_poll(feed.id, update)
        return PollOutcome(feed.id, PollStatus.NOT_MODIFIED)

    dispatcher = Dispatcher(
        store, poll, owner="a", clock=lambda: NOW, limits=DispatchLimits(in_flight=5, batch=5)
    )
    await asyncio.wait_for(dispatcher.run_until_idle(), 10)
    assert len(polled) == 11 and "f03" not in polled


async def test_leases_of_running_polls_are_renewed_so_no_one_else_claims_them(
    store: Store,
) -> None:
    clock = [NOW]
    lease = timedelta(seconds=30)
    poll = GatedPoll(store)  # hangs until the gate opens: a slow poll
    dispatcher = Dispatcher(
        store,
        poll,
        owner="a",
        clock=lambda: clock[0],
        limits=DispatchLimits(in_flight=2, batch=2, lease=lease),
    )
    assert await dispatcher.dispatch() == 2
    await poll.wait_running(2)

    for _ in range(4):  # two minutes of renewals, every 20 s
        clock[0] += timedelta(seconds=20)
        assert await dispatcher.renew_leases() == 2
    later = clock[0] + timedelta(seconds=5)  # the first lease would have ended long ago
    taken = await store.claim_due_feeds(now=later, limit=100, lease=lease, owner="b")
    assert len(taken) == 10  # every feed but the two still being polled by "a"
    assert not {feed.id for feed in taken} & {f"f{n:02d}" for n in range(2)}

    poll.gate.set()
    await dispatcher.drain(grace=5)
    assert await dispatcher.renew_leases() == 0  # nothing in flight, nothing to renew


async def test_finished_polls_are_refilled_in_batches_not_one_claim_each(store: Store) -> None:
    """A claim is a write transaction: with 8 slots and batches of 8, one finished poll leaves
    its slot empty, the second one's finish claims 2 feeds at once."""
    claims: list[int] = []
    claim_due_feeds = store.claim_due_feeds

    async def counted_claim(**kwargs: Any) -> list[Feed]:
        claims.append(kwargs["limit"])
        return await claim_due_feeds(**kwargs)

    store.claim_due_feeds = counted_claim  # type: ignore[method-assign]
    release: dict[str, asyncio.Event] = {}
    finished: asyncio.Queue[str] = asyncio.Queue()
    started: asyncio.Queue[str] = asyncio.Queue()

    async def poll(feed: Feed) -> PollOutcome:
        started.put_nowait(feed.id)
        await release.setdefault(feed.id, asyncio.Event()).wait()
        return PollOutcome(feed.id, PollStatus.NOT_MODIFIED)

    dispatcher = Dispatcher(
        store,
        poll,
        owner="a",
        clock=lambda: NOW,
        limits=DispatchLimits(in_flight=8, batch=8),
        on_outcome=lambda outcome: finished.put_nowait(outcome.feed_id),
    )
    assert await dispatcher.dispatch() == 8
    assert claims == [8]
    first = [await asyncio.wait_for(started.get(), 10) for _ in range(8)]
    assert sorted(first) == [f"f{n:02d}" for n in range(8)]

    release.setdefault("f00", asyncio.Event()).set()
    assert await asyncio.wait_for(finished.get(), 10) == "f00"
    assert dispatcher.in_flight == 7 and claims == [8]  # one free slot: no claim yet

    release.setdefault("f01", asyncio.Event()).set()
    assert await asyncio.wait_for(finished.get(), 10) == "f01"
    refilled = [await asyncio.wait_for(started.get(), 10) for _ in range(2)]
    assert sorted(refilled) == ["f08", "f09"]
    assert claims == [8, 2]
    await dispatcher.drain(grace=0)
