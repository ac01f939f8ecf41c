"""The daemon's lifecycle: start the stages in order, run until asked to stop, shut down in
reverse order. `run` and `once` are the same code; `once` stops when nothing is due (burst).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime

from monitor.config import MonitorConfig, Settings
from monitor.delivery import Delivery
from monitor.fetch import Fetcher, FetchLimits, Timeouts, create_client
from monitor.match import ArticleText, Matcher, compile_rules
from monitor.models import Article, Feed, PollOutcome, PollStatus, RuleMatch
from monitor.notify.base import Notifier
from monitor.parse import FeedParser
from monitor.pipeline import NewArticlesHook, Poller, utc_now
from monitor.redact import redact_url
from monitor.scheduler import Dispatcher, DispatchLimits, create_scheduler
from monitor.store import Store, open_store

log = logging.getLogger(__name__)


def compile_matcher(config: MonitorConfig) -> Matcher:
    """The config's rules compiled into one matcher; ConfigErrors with file:line if a rule
    cannot be compiled (a bad regex or query)."""
    return compile_rules(config.rules)


def match_articles(
    matcher: Matcher, feed: Feed, articles: Sequence[Article]
) -> Mapping[str, Sequence[RuleMatch]]:
    """Article key -> the rules it matches, for the articles that match any."""
    found: dict[str, Sequence[RuleMatch]] = {}
    for article in articles:
        matches = matcher.match(
            ArticleText.from_article(article), feed_id=feed.id, feed_tags=feed.tags
        )
        if matches:
            found[article.key] = matches
    return found


def replica_id() -> str:
    """Names this process in feed leases: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class PollTally:
    """What a run did, counted by outcome; `monitor once` prints it."""

    outcomes: Counter[PollStatus] = field(default_factory=Counter)
    recorded: int = 0
    new: int = 0
    alerts: int = 0
    failures: list[PollOutcome] = field(default_factory=list)
    deliveries: dict[str, int] = field(default_factory=dict)  # by state, after `once`

    def add(self, outcome: PollOutcome) -> None:
        self.outcomes[outcome.status] += 1
        self.recorded += outcome.recorded
        self.new += len(outcome.new_articles)
        self.alerts += len(outcome.alerts)
        if outcome.status is PollStatus.FAILED:
            self.failures.append(outcome)

    @property
    def polled(self) -> int:
        return sum(self.outcomes.values())


class Service:
    """Owns the store, the HTTP client, the parser pool, the dispatcher and the scheduler."""

    def __init__(
        self,
        settings: Settings,
        config: MonitorConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_new_articles: NewArticlesHook | None = None,
        parse_in_processes: bool = True,
        matcher: Matcher | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.owner = replica_id()
        self.tally = PollTally()
        self._clock = clock
        self._on_new_articles = on_new_articles
        self._parse_in_processes = parse_in_processes
        self.matcher = matcher or compile_matcher(config)
        self._stack = AsyncExitStack()
        self._notifiers = notifiers
        self._store: Store | None = None
        self._dispatcher: Dispatcher | None = None
        self._delivery: Delivery | None = None

    @property
    def store(self) -> Store:
        assert self._store is not None, "Service.start() first"
        return self._store

    @property
    def delivery(self) -> Delivery:
        assert self._delivery is not None, "Service.start() first"
        return self._delivery

    async def start(self) -> None:
        """Open the store, sync the configured feeds, build the pipeline. Fails before any
        poll starts if the store or the config cannot be used."""
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise

    async def _start(self) -> None:
        settings = self.settings
        self._store = await open_store(settings.database_url)
        self._stack.push_async_callback(self._store.close)
        report = await self._store.sync_feeds(self.config.feeds, now=self._clock())
        self._delivery = Delivery(
            self._store, self.config, settings, notifiers=self._notifiers, clock=self._clock
        )
        self._stack.push_async_callback(self._delivery.stop)
        timeouts = Timeouts(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            total=settings.fetch_timeout,
        )
        limits = FetchLimits(
            max_body_bytes=settings.max_body_bytes,
            max_connections=settings.fetch_concurrency,
            per_host=settings.per_host_concurrency,
        )
        client = create_client(user_agent=settings.user_agent, timeouts=timeouts, limits=limits)
        self._stack.push_async_callback(client.aclose)
        parser = FeedParser(use_processes=self._parse_in_processes)
        self._stack.push_async_callback(parser.aclose)
        poller = Poller(
            self._store,
            Fetcher(client, limits=limits, timeouts=timeouts),
            parser,
            owner=self.owner,
            clock=self._clock,
            rng=random.Random(),
            match=lambda feed, articles: match_articles(self.matcher, feed, articles),
            on_new_articles=self._on_new_articles,
            plan=self._delivery.plan,
        )
        self._dispatcher = Dispatcher(
            self._store,
            poller.poll,
            owner=self.owner,
            clock=self._clock,
            limits=DispatchLimits(in_flight=settings.fetch_concurrency),
            on_outcome=self._count,
        )
        log.info(
            "store %s ready: %d feeds (%d added, %d updated, %d disabled)",
            redact_url(settings.database_url),
            len(self.config.feeds),
            len(report.added),
            len(report.updated),
            len(report.disabled),
        )

    async def run(self, stop: asyncio.Event, force: asyncio.Event | None = None) -> None:
        """The daemon: poll until `stop` is set, then drain within the grace period (cut short
        when `force` is set) and close everything."""
        await self.start()
        try:
            dispatcher = self._dispatcher
            assert dispatcher is not None
            scheduler = create_scheduler(dispatcher, tick=DispatchLimits().tick)
            self.delivery.start(scheduler)
            scheduler.start()
            try:
                await dispatcher.dispatch()
                await stop.wait()
                log.info("stopping: no new polls; finishing %d in flight", dispatcher.in_flight)
            finally:
                scheduler.pause()
                await self._drain(force)
                scheduler.shutdown(wait=False)
        finally:
            await self.close()

    async def once(self) -> PollTally:
        """Poll every configured feed once, now, deliver what is due, and return the tally
        (arq's burst mode)."""
        await self.start()
        try:
            tally = await self.poll_all()
            tally.deliveries = await self.delivery.drain()
            return tally
        finally:
            await self.close()

    async def poll_all(self) -> PollTally:
        """Make every feed due now, poll until nothing is due or in flight, and return the
        tally of this cycle alone."""
        assert self._dispatcher is not None, "Service.start() first"
        self.tally = PollTally()
        await self.store.mark_all_due(now=self._clock())
        await self._dispatcher.run_until_idle()
        return self.tally

    async def _drain(self, force: asyncio.Event | None) -> None:
        dispatcher = self._dispatcher
        assert dispatcher is not None
        drain = asyncio.create_task(dispatcher.drain(self.settings.shutdown_grace))
        forced = asyncio.create_task((force or asyncio.Event()).wait())
        await asyncio.wait({drain, forced}, return_when=asyncio.FIRST_COMPLETED)
        if not drain.done():
            log.warning("second signal: cancelling in-flight polls now")
            await dispatcher.drain(0)
            await drain
        forced.cancel()
        await self.store.release_claims(self.owner)

    def _count(self, outcome: PollOutcome) -> None:
        self.tally.add(outcome)
        if self._delivery is not None:
            self._delivery.wake()  # alerts, or an ops notice, may be waiting
        for alert in outcome.alerts:
            log.info(
                "alert: %s: %s",
                alert.rule_id,
                alert.title,
                extra={"rule_id": alert.rule_id, "feed_id": alert.feed_id, "alert_id": alert.id},
            )

    async def close(self) -> None:
        await self._stack.aclose()
